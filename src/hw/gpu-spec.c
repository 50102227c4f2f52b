/* The GPU specification table: data/gpus.json (embedded at build time),
 * parsed once into a fixed static table, looked up by id or loosely by name.
 * Used to fill figures a probe cannot read and to describe machines. The
 * table's fields and units are documented in docs/probe.md. */
#include <ctype.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/embedded-int.h"
#include "base/error-int.h"
#include "hw/internal.h"

#define MAX_SPECS 256
#define MAX_ALIASES 6
#define MAX_PCI 4

typedef struct spec {
  char id[64], name[128], vendor[16], arch[32], source[256];
  char aliases[MAX_ALIASES][64];
  int n_aliases;
  int cc_major, cc_minor;
  unsigned units;
  double vram_gib, bandwidth_gbs, fp16_tflops, bf16_tflops, int8_tops;
  bool unified;
  unsigned pci[MAX_PCI];
  int n_pci;
} spec;

static spec g_specs[MAX_SPECS];
static size_t g_n_specs;
static bool g_load_failed;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void copy_str(char *dst, size_t n, json_t *v)
{
  const char *s = json_is_string(v) ? json_string_value(v) : "";
  snprintf(dst, n, "%s", s);
}

static double num(json_t *v)
{
  return json_is_number(v) ? json_number_value(v) : 0.0;
}

static void load(void)
{
  size_t n;
  const char *text = tl__embedded_find("gpus.json", &n);
  json_error_t jerr;
  json_t *root = text ? json_loadb(text, n, 0, &jerr) : NULL;
  json_t *arr = root ? json_object_get(root, "gpus") : NULL;
  if (!json_is_array(arr)) {
    g_load_failed = true;
    json_decref(root);
    return;
  }
  size_t i;
  json_t *e;
  json_array_foreach(arr, i, e)
  {
    if (g_n_specs >= MAX_SPECS)
      break;
    spec *s = &g_specs[g_n_specs];
    memset(s, 0, sizeof *s);
    copy_str(s->id, sizeof s->id, json_object_get(e, "id"));
    copy_str(s->name, sizeof s->name, json_object_get(e, "name"));
    copy_str(s->vendor, sizeof s->vendor, json_object_get(e, "vendor"));
    copy_str(s->arch, sizeof s->arch, json_object_get(e, "arch"));
    copy_str(s->source, sizeof s->source, json_object_get(e, "source"));
    json_t *al = json_object_get(e, "aliases"), *a;
    size_t k;
    json_array_foreach(al, k, a)
    {
      if (s->n_aliases < MAX_ALIASES)
        copy_str(s->aliases[s->n_aliases++], sizeof s->aliases[0], a);
    }
    json_t *pci = json_object_get(e, "pci_device_ids");
    json_array_foreach(pci, k, a)
    {
      if (s->n_pci < MAX_PCI && json_is_string(a))
        s->pci[s->n_pci++] = (unsigned)strtoul(json_string_value(a), NULL, 16);
    }
    const char *cc = json_string_value(json_object_get(e, "compute_capability"));
    if (cc)
      sscanf(cc, "%d.%d", &s->cc_major, &s->cc_minor);
    s->units = (unsigned)num(json_object_get(e, "units"));
    s->vram_gib = num(json_object_get(e, "vram_gib"));
    s->bandwidth_gbs = num(json_object_get(e, "bandwidth_gbs"));
    s->fp16_tflops = num(json_object_get(e, "fp16_tflops"));
    s->bf16_tflops = num(json_object_get(e, "bf16_tflops"));
    s->int8_tops = num(json_object_get(e, "int8_tops"));
    s->unified = json_is_true(json_object_get(e, "unified"));
    if (s->id[0] && s->name[0])
      g_n_specs++;
  }
  json_decref(root);
}

static bool table(void)
{
  pthread_once(&g_once, load);
  return !g_load_failed && g_n_specs > 0;
}

/* ---- name matching -------------------------------------------------------- */

#define MAX_TOK 16

typedef struct toks {
  char t[MAX_TOK][24];
  int n;
} toks;

static bool stopword(const char *w)
{
  static const char *const words[] = {"nvidia",  "geforce",  "amd",      "radeon", "intel",
                                      "apple",   "tesla",    "graphics", "gpu",    "generation",
                                      "edition", "instinct", "arc",      "chip"};
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
    if (strcmp(w, words[i]) == 0)
      return true;
  return false;
}

static void tokenize(const char *s, toks *out)
{
  out->n = 0;
  while (*s) {
    while (*s && !isalnum((unsigned char)*s))
      s++;
    char w[24];
    size_t n = 0;
    while (*s && isalnum((unsigned char)*s)) {
      if (n + 1 < sizeof w)
        w[n++] = (char)tolower((unsigned char)*s);
      s++;
    }
    w[n] = '\0';
    if (n && !stopword(w) && out->n < MAX_TOK)
      memcpy(out->t[out->n++], w, n + 1);
  }
}

static bool has_tok(const toks *a, const char *w)
{
  for (int i = 0; i < a->n; i++)
    if (strcmp(a->t[i], w) == 0)
      return true;
  return false;
}

static bool subset(const toks *a, const toks *b)
{
  for (int i = 0; i < a->n; i++)
    if (!has_tok(b, a->t[i]))
      return false;
  return true;
}

static bool shares_model_number(const toks *q, const toks *c)
{
  for (int i = 0; i < q->n; i++)
    if (strpbrk(q->t[i], "0123456789") && has_tok(c, q->t[i]))
      return true;
  return false;
}

/* Lower is better; -1 = no match. Query tokens all in the candidate: extra
 * candidate tokens count; the candidate's tokens all in the query (a longer
 * driver name such as "... OAM"): 10 + extra query tokens. A model number
 * must be shared so that "RTX" alone matches nothing. */
static int match_score(const toks *q, const char *cand)
{
  toks c;
  tokenize(cand, &c);
  if (!q->n || !c.n || !shares_model_number(q, &c))
    return -1;
  if (subset(q, &c))
    return c.n - q->n;
  if (subset(&c, q))
    return 10 + q->n - c.n;
  return -1;
}

static const spec *find(const char *query)
{
  if (!table() || !query)
    return NULL;
  for (size_t i = 0; i < g_n_specs; i++)
    if (strcasecmp(g_specs[i].id, query) == 0)
      return &g_specs[i];
  toks q;
  tokenize(query, &q);
  const spec *best = NULL;
  int best_score = 1 << 30;
  for (size_t i = 0; i < g_n_specs; i++) {
    const spec *s = &g_specs[i];
    int sc = match_score(&q, s->name);
    for (int a = 0; a < s->n_aliases; a++) {
      int sa = match_score(&q, s->aliases[a]);
      if (sa >= 0 && (sc < 0 || sa < sc))
        sc = sa;
    }
    if (sc >= 0 && sc < best_score) {
      best_score = sc;
      best = s;
    }
  }
  return best;
}

static tl_gpu_vendor vendor_of(const char *v)
{
  if (!strcmp(v, "nvidia"))
    return TL_GPU_NVIDIA;
  if (!strcmp(v, "amd"))
    return TL_GPU_AMD;
  if (!strcmp(v, "intel"))
    return TL_GPU_INTEL;
  if (!strcmp(v, "apple"))
    return TL_GPU_APPLE;
  return TL_GPU_OTHER;
}

static void to_gpu(const spec *s, tl_gpu *g)
{
  memset(g, 0, sizeof *g);
  g->vendor = vendor_of(s->vendor);
  snprintf(g->name, sizeof g->name, "%s", s->name);
  snprintf(g->spec_id, sizeof g->spec_id, "%s", s->id);
  snprintf(g->arch, sizeof g->arch, "%s", s->arch);
  g->cc_major = s->cc_major;
  g->cc_minor = s->cc_minor;
  g->sm_count = s->units;
  g->vram_total = (uint64_t)(s->vram_gib * TL__GIB);
  g->vram_free = g->vram_total;
  g->unified = s->unified;
  g->bandwidth = s->bandwidth_gbs * 1e9;
  g->bandwidth_source = TL_SRC_SPEC;
  g->fp16_flops = s->fp16_tflops * 1e12;
  g->bf16_flops = s->bf16_tflops * 1e12;
  g->int8_ops = s->int8_tops * 1e12;
  g->flops_source = TL_SRC_SPEC;
}

/* ---- suggestions (edit distance on the normalised names) -------------------- */

static void normalised(const char *s, char *out, size_t n)
{
  toks t;
  tokenize(s, &t);
  out[0] = '\0';
  size_t len = 0;
  for (int i = 0; i < t.n; i++)
    len += (size_t)snprintf(out + len, len < n ? n - len : 0, "%s%s", i ? " " : "", t.t[i]);
}

static int edit_distance(const char *a, const char *b)
{
  size_t la = strlen(a), lb = strlen(b);
  if (la > 120 || lb > 120)
    return 1000;
  int row[121];
  for (size_t j = 0; j <= lb; j++)
    row[j] = (int)j;
  for (size_t i = 1; i <= la; i++) {
    int prev = row[0];
    row[0] = (int)i;
    for (size_t j = 1; j <= lb; j++) {
      int cur = row[j];
      int sub = prev + (a[i - 1] != b[j - 1]);
      int del = row[j] + 1, ins = row[j - 1] + 1;
      row[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
      prev = cur;
    }
  }
  return row[lb];
}

size_t tl_gpu_spec_suggest(const char *name, const char **ids, size_t max)
{
  if (!table() || !name || !max)
    return 0;
  char q[128];
  normalised(name, q, sizeof q);
  int dist[MAX_SPECS];
  size_t order[MAX_SPECS];
  for (size_t i = 0; i < g_n_specs; i++) {
    char c[128];
    normalised(g_specs[i].name, c, sizeof c);
    int d = edit_distance(q, c);
    /* a substring hit ("409" in "rtx 4090") is a strong hint */
    if (q[0] && strstr(c, q))
      d = d / 4;
    for (int a = 0; a < g_specs[i].n_aliases; a++) {
      normalised(g_specs[i].aliases[a], c, sizeof c);
      int da = edit_distance(q, c);
      if (q[0] && strstr(c, q))
        da /= 4;
      if (da < d)
        d = da;
    }
    dist[i] = d;
    order[i] = i;
  }
  for (size_t i = 1; i < g_n_specs; i++)
    for (size_t j = i; j > 0 && dist[order[j - 1]] > dist[order[j]]; j--) {
      size_t t = order[j];
      order[j] = order[j - 1];
      order[j - 1] = t;
    }
  size_t n = 0;
  for (; n < max && n < g_n_specs; n++)
    ids[n] = g_specs[order[n]].id;
  return n;
}

/* ---- public ----------------------------------------------------------------- */

tl_status tl_gpu_spec_find(const char *name_or_id, tl_gpu *out, tl_error *err)
{
  if (!name_or_id || !out)
    return tl__error_set(err, TL_EINVAL, "gpu spec: name and out must not be NULL");
  if (!table())
    return tl__error_set(err, TL_EINTERNAL,
                         "gpu spec: the embedded gpus.json is missing or malformed");
  const spec *s = find(name_or_id);
  if (!s) {
    const char *ids[5];
    size_t n = tl_gpu_spec_suggest(name_or_id, ids, 5);
    char list[512] = "";
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
      const spec *c = find(ids[i]);
      len += (size_t)snprintf(list + len, len < sizeof list ? sizeof list - len : 0,
                              "%s\"%s\" (%s)", i ? ", " : "", c ? c->name : ids[i], ids[i]);
    }
    return tl__error_set(err, TL_ENOTFOUND, "gpu spec: no GPU named \"%s\"; close matches: %s",
                         name_or_id, list);
  }
  to_gpu(s, out);
  return TL_OK;
}

size_t tl_gpu_spec_count(void)
{
  return table() ? g_n_specs : 0;
}

tl_status tl_gpu_spec_get(size_t i, tl_gpu *out, tl_error *err)
{
  if (!out)
    return tl__error_set(err, TL_EINVAL, "gpu spec: out must not be NULL");
  if (!table() || i >= g_n_specs)
    return tl__error_set(err, TL_ERANGE, "gpu spec: index %zu out of range (%zu entries)", i,
                         tl_gpu_spec_count());
  to_gpu(&g_specs[i], out);
  return TL_OK;
}

const char *tl_gpu_spec_source(const char *id)
{
  if (!table() || !id)
    return NULL;
  for (size_t i = 0; i < g_n_specs; i++)
    if (strcmp(g_specs[i].id, id) == 0)
      return g_specs[i].source;
  return NULL;
}

bool tl__hw_gpu_fill_from_spec(tl_gpu *g)
{
  const spec *s = g->spec_id[0] ? find(g->spec_id) : NULL;
  if (!s)
    s = find(g->name);
  if (!s)
    return false;
  tl_gpu sp;
  to_gpu(s, &sp);
  snprintf(g->spec_id, sizeof g->spec_id, "%s", s->id);
  if (!g->arch[0])
    snprintf(g->arch, sizeof g->arch, "%s", sp.arch);
  if (!g->cc_major && sp.cc_major) {
    g->cc_major = sp.cc_major;
    g->cc_minor = sp.cc_minor;
  }
  if (!g->sm_count)
    g->sm_count = sp.sm_count;
  if (!g->vram_total) {
    g->vram_total = sp.vram_total;
    if (!g->vram_free)
      g->vram_free = sp.vram_total;
  }
  if (sp.unified)
    g->unified = true;
  if (g->bandwidth <= 0) {
    g->bandwidth = sp.bandwidth;
    g->bandwidth_source = TL_SRC_SPEC;
  }
  if (g->fp16_flops <= 0 && g->bf16_flops <= 0 && g->int8_ops <= 0) {
    g->fp16_flops = sp.fp16_flops;
    g->bf16_flops = sp.bf16_flops;
    g->int8_ops = sp.int8_ops;
    g->flops_source = TL_SRC_SPEC;
  }
  return true;
}

bool tl__hw_gpu_spec_by_pci(const char *vendor, unsigned dev, tl_gpu *out)
{
  if (!table())
    return false;
  for (size_t i = 0; i < g_n_specs; i++) {
    const spec *s = &g_specs[i];
    if (strcmp(s->vendor, vendor) != 0)
      continue;
    for (int k = 0; k < s->n_pci; k++)
      if (s->pci[k] == dev) {
        to_gpu(s, out);
        return true;
      }
  }
  return false;
}
