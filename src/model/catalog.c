/* The model catalog: parsing and strictly validating models.json documents
 * (schema version 1, docs/models.md), overlaying documents by id, lookup,
 * and descriptions predicted from an entry through the registry. Each entry's
 * config is read by the same code as a Hugging Face config.json. */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/alloc-int.h"
#include "base/embedded-int.h"
#include "base/error-int.h"
#include "base/log-int.h"
#include "tailor/catalog.h"

#define CATALOG_FILE_MAX (64ull << 20)
#define CATALOG_ID_MAX 63

struct tl_catalog {
  tl_catalog_entry **v; /* owned entries */
  size_t n, cap;
};

static const char *const known_tags[] = {"general", "coding", "reasoning", "chat", "multimodal", "embedding"};

static void entry_free(tl_catalog_entry *e)
{
  if (!e)
    return;
  char **strs[] = {(char **)&e->id,           (char **)&e->name,          (char **)&e->hf_repo,
                   (char **)&e->family,       (char **)&e->arch,          (char **)&e->params_source,
                   (char **)&e->license,      (char **)&e->release_date,  (char **)&e->quality_benchmark,
                   (char **)&e->quality_source, (char **)&e->config_json, (char **)&e->source,
                   (char **)&e->origin};
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
    tl__free(*strs[i]);
  for (size_t i = 0; e->tags && i < e->n_tags; i++)
    tl__free((char *)e->tags[i]);
  tl__free((void *)e->tags);
  tl__free(e);
}

tl_status tl_catalog_create(tl_catalog **out, tl_error *err)
{
  tl_catalog *c = tl__calloc(1, sizeof *c);
  if (!c)
    return tl__error_set(err, TL_ENOMEM, "catalog: out of memory");
  *out = c;
  return TL_OK;
}

void tl_catalog_free(tl_catalog *c)
{
  if (!c)
    return;
  for (size_t i = 0; i < c->n; i++)
    entry_free(c->v[i]);
  tl__free(c->v);
  tl__free(c);
}

size_t tl_catalog_count(const tl_catalog *c) { return c ? c->n : 0; }

const tl_catalog_entry *tl_catalog_at(const tl_catalog *c, size_t i) { return c && i < c->n ? c->v[i] : NULL; }

const tl_catalog_entry *tl_catalog_find(const tl_catalog *c, const char *id)
{
  for (size_t i = 0; c && id && i < c->n; i++)
    if (strcmp(c->v[i]->id, id) == 0)
      return c->v[i];
  return NULL;
}

/* ---- validation ------------------------------------------------------------- */

typedef struct vctx {
  const char *origin;
  const char *id; /* current entry id or "#index" */
  tl_error *err;
  tl_status st;
} vctx;

#define VFAIL(c, key, ...)                                                                                   \
  do {                                                                                                       \
    if ((c)->st == TL_OK) {                                                                                  \
      char m_[512];                                                                                          \
      snprintf(m_, sizeof m_, __VA_ARGS__);                                                                  \
      (c)->st = tl__error_set((c)->err, TL_EFORMAT, "catalog: %s: entry '%s': key '%s': %s", (c)->origin,    \
                              (c)->id, key, m_);                                                             \
    }                                                                                                        \
  } while (0)

/* Parameters of a ViT vision tower (SigLIP, CLIP: transformers SiglipVisionModel)
 * with a linear projector to the text width: per layer q/k/v/o with biases,
 * two LayerNorms and a two-matrix MLP with biases; patch and position
 * embeddings; a final LayerNorm; the projector (gemma3: mm_input_projection
 * [vision, text] and its RMSNorm). Other vision configs give 0. */
static uint64_t vision_params(json_t *cfg, uint32_t text_embd)
{
  json_t *vc = json_object_get(cfg, "vision_config");
  const char *mt = json_string_value(json_object_get(vc, "model_type"));
  if (!vc || !mt || (strcmp(mt, "siglip_vision_model") && strcmp(mt, "clip_vision_model")))
    return 0;
  json_int_t h = json_integer_value(json_object_get(vc, "hidden_size"));
  json_int_t ff = json_integer_value(json_object_get(vc, "intermediate_size"));
  json_int_t nl = json_integer_value(json_object_get(vc, "num_hidden_layers"));
  json_int_t p = json_integer_value(json_object_get(vc, "patch_size"));
  json_int_t img = json_integer_value(json_object_get(vc, "image_size"));
  json_int_t ch = json_is_integer(json_object_get(vc, "num_channels")) ? json_integer_value(json_object_get(vc, "num_channels")) : 3;
  if (h <= 0 || ff <= 0 || nl <= 0 || p <= 0 || img <= 0 || h > 65536 || ff > 1 << 20 || nl > 1024 || img > 65536)
    return 0;
  uint64_t H = (uint64_t)h, F = (uint64_t)ff;
  uint64_t layer = 4 * (H * H + H) + 2 * H * F + F + H + 4 * H;
  uint64_t patches = (uint64_t)(img / p) * (uint64_t)(img / p);
  return (uint64_t)nl * layer + (uint64_t)ch * (uint64_t)p * (uint64_t)p * H + H + patches * H + 2 * H +
         H * text_embd + H;
}

static char *req_str(vctx *c, json_t *o, const char *key, bool required)
{
  json_t *v = json_object_get(o, key);
  if (!v) {
    if (required)
      VFAIL(c, key, "missing");
    return NULL;
  }
  if (!json_is_string(v) || json_string_length(v) == 0) {
    VFAIL(c, key, "must be a non-empty string");
    return NULL;
  }
  char *s = tl__strdup(json_string_value(v));
  if (!s && c->st == TL_OK)
    c->st = tl__error_set(c->err, TL_ENOMEM, "catalog: out of memory");
  return s;
}

static uint64_t req_uint(vctx *c, json_t *o, const char *key, uint64_t max)
{
  json_t *v = json_object_get(o, key);
  if (!v) {
    VFAIL(c, key, "missing");
    return 0;
  }
  if (!json_is_integer(v) || json_integer_value(v) <= 0 || (uint64_t)json_integer_value(v) > max) {
    VFAIL(c, key, "must be a positive integer (at most %llu)", (unsigned long long)max);
    return 0;
  }
  return (uint64_t)json_integer_value(v);
}

static bool valid_id(const char *s)
{
  size_t n = strlen(s);
  if (n == 0 || n > CATALOG_ID_MAX)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-' || s[i] == '.' ||
          s[i] == '_'))
      return false;
  return true;
}

static bool valid_date(const char *s)
{
  if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
    return false;
  for (int i = 0; i < 10; i++)
    if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
      return false;
  int mo = (s[5] - '0') * 10 + (s[6] - '0'), d = (s[8] - '0') * 10 + (s[9] - '0');
  return mo >= 1 && mo <= 12 && d >= 1 && d <= 31;
}

static const char *const entry_keys[] = {"id",      "name",         "hf_repo",        "family",  "arch",
                                         "params_total", "params_active", "params_source", "context_length",
                                         "license", "release_date", "tags",           "quality", "config",
                                         "source"};

static tl_catalog_entry *parse_entry(vctx *c, json_t *o)
{
  tl_catalog_entry *e = tl__calloc(1, sizeof *e);
  if (!e) {
    c->st = tl__error_set(c->err, TL_ENOMEM, "catalog: out of memory");
    return NULL;
  }
  e->id = req_str(c, o, "id", true);
  if (c->st != TL_OK)
    goto fail;
  if (!valid_id(e->id)) {
    VFAIL(c, "id", "'%s' must be 1..%d characters of a-z, 0-9, '-', '.', '_'", e->id, CATALOG_ID_MAX);
    goto fail;
  }
  c->id = e->id;
  const char *k;
  json_t *v;
  json_object_foreach(o, k, v)
  {
    bool known = k[0] == '_';
    for (size_t i = 0; !known && i < sizeof entry_keys / sizeof entry_keys[0]; i++)
      known = strcmp(k, entry_keys[i]) == 0;
    if (!known)
      tl__warn("catalog: %s: entry '%s': unknown key '%s' ignored", c->origin, e->id, k);
  }
  e->name = req_str(c, o, "name", true);
  e->hf_repo = req_str(c, o, "hf_repo", true);
  e->family = req_str(c, o, "family", true);
  e->arch = req_str(c, o, "arch", true);
  e->params_source = req_str(c, o, "params_source", true);
  e->license = req_str(c, o, "license", true);
  e->release_date = req_str(c, o, "release_date", true);
  e->source = req_str(c, o, "source", true);
  e->params_total = req_uint(c, o, "params_total", 100000000000000ull);
  e->params_active = req_uint(c, o, "params_active", 100000000000000ull);
  e->context_length = (uint32_t)req_uint(c, o, "context_length", 100000000ull);
  if (c->st != TL_OK)
    goto fail;
  if (e->params_active > e->params_total)
    VFAIL(c, "params_active", "%llu exceeds params_total %llu", (unsigned long long)e->params_active,
          (unsigned long long)e->params_total);
  if (!valid_date(e->release_date))
    VFAIL(c, "release_date", "'%s' is not YYYY-MM-DD", e->release_date);
  json_t *tags = json_object_get(o, "tags");
  if (!json_is_array(tags)) {
    VFAIL(c, "tags", "must be an array of strings");
    e->n_tags = 0;
  } else {
    e->n_tags = json_array_size(tags);
    char **tv = tl__calloc(e->n_tags ? e->n_tags : 1, sizeof *tv);
    e->tags = (const char *const *)tv;
    if (!tv && c->st == TL_OK)
      c->st = tl__error_set(c->err, TL_ENOMEM, "catalog: out of memory");
    for (size_t i = 0; tv && i < e->n_tags && c->st == TL_OK; i++) {
      const char *t = json_string_value(json_array_get(tags, i));
      bool ok = false;
      for (size_t j = 0; t && j < sizeof known_tags / sizeof known_tags[0]; j++)
        ok = ok || strcmp(t, known_tags[j]) == 0;
      if (!ok)
        VFAIL(c, "tags", "element %zu '%s' is not one of general, coding, reasoning, chat, multimodal, embedding", i,
              t ? t : "(not a string)");
      else if (!(tv[i] = tl__strdup(t)))
        c->st = tl__error_set(c->err, TL_ENOMEM, "catalog: out of memory");
    }
  }
  json_t *q = json_object_get(o, "quality");
  if (q && c->st == TL_OK) {
    if (!json_is_object(q)) {
      VFAIL(c, "quality", "must be an object {benchmark, score, source}");
    } else {
      e->has_quality = true;
      e->quality_benchmark = req_str(c, q, "benchmark", true);
      e->quality_source = req_str(c, q, "source", true);
      json_t *s = json_object_get(q, "score");
      if (!json_is_number(s))
        VFAIL(c, "quality.score", "must be a number");
      else
        e->quality_score = json_number_value(s);
    }
  }
  json_t *cfg = json_object_get(o, "config");
  if (!json_is_object(cfg)) {
    VFAIL(c, "config", "must be the model's config.json object");
    goto fail;
  }
  if (c->st != TL_OK)
    goto fail;
  e->config_json = json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS);
  if (!e->config_json) {
    c->st = tl__error_set(c->err, TL_ENOMEM, "catalog: out of memory");
    goto fail;
  }
  /* json_dumps allocates through jansson's functions, which may not be ours */
  char *copy = tl__strdup(e->config_json);
  json_malloc_t jm;
  json_free_t jf;
  json_get_alloc_funcs(&jm, &jf);
  jf((char *)e->config_json);
  e->config_json = copy;
  if (!copy) {
    c->st = tl__error_set(c->err, TL_ENOMEM, "catalog: out of memory");
    goto fail;
  }
  tl_error herr;
  tl_error_clear(&herr);
  tl_status hs = tl_hparams_from_hf_config(e->config_json, strlen(e->config_json), &e->hp, &herr);
  tl_arch declared = tl_arch_from_name(e->arch);
  if (hs == TL_OK && declared == TL_ARCH_UNKNOWN) {
    /* a GGUF architecture outside the registry whose config resembles a
     * registry family (an encoder variant, say): its tensors differ, so it
     * is shaped from the parameter count like any other unknown one */
    e->in_registry = false;
  } else if (hs == TL_OK) {
    e->in_registry = true;
    if (declared != e->hp.arch)
      VFAIL(c, "arch", "'%s' does not match the config's architecture '%s'", e->arch, tl_arch_name(e->hp.arch));
  } else if (hs == TL_EUNSUPPORTED && tl_arch_from_name(e->arch) == TL_ARCH_UNKNOWN) {
    e->in_registry = false; /* shaped from params_total */
  } else if (hs == TL_ENOMEM) {
    c->st = tl__error_set(c->err, TL_ENOMEM, "catalog: out of memory");
  } else {
    VFAIL(c, "config", "%s", herr.message);
  }
  if (c->st != TL_OK)
    goto fail;
  if (e->in_registry)
    e->params_vision = vision_params(cfg, e->hp.n_embd);
  return e;
fail:
  entry_free(e);
  return NULL;
}

static int cmp_entry(const void *a, const void *b)
{
  return strcmp((*(tl_catalog_entry *const *)a)->id, (*(tl_catalog_entry *const *)b)->id);
}

tl_status tl_catalog_add_json(tl_catalog *cat, const char *text, size_t len, const char *origin, tl_error *err)
{
  json_error_t jerr;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!root && (json_error_code(&jerr) == json_error_out_of_memory || jerr.text[0] == '\0'))
    return tl__error_set(err, TL_ENOMEM, "catalog: out of memory");
  if (!root)
    return tl__error_set(err, TL_EFORMAT, "catalog: %s: invalid JSON at line %d: %s", origin, jerr.line, jerr.text);
  tl_status st = TL_OK;
  tl_catalog_entry **fresh = NULL;
  size_t n = 0;
  json_t *ver = json_object_get(root, "schema_version");
  json_t *models = json_object_get(root, "models");
  if (!json_is_object(root) || !json_is_integer(ver) || json_integer_value(ver) != 1) {
    st = tl__error_set(err, TL_EFORMAT, "catalog: %s: key 'schema_version' must be 1", origin);
    goto done;
  }
  if (!json_is_array(models)) {
    st = tl__error_set(err, TL_EFORMAT, "catalog: %s: key 'models' must be an array", origin);
    goto done;
  }
  size_t count = json_array_size(models);
  fresh = tl__calloc(count ? count : 1, sizeof *fresh);
  if (!fresh) {
    st = tl__error_set(err, TL_ENOMEM, "catalog: out of memory");
    goto done;
  }
  for (size_t i = 0; i < count; i++) {
    char idx[32];
    snprintf(idx, sizeof idx, "#%zu", i);
    vctx c = {.origin = origin, .id = idx, .err = err, .st = TL_OK};
    json_t *o = json_array_get(models, i);
    if (!json_is_object(o)) {
      st = tl__error_set(err, TL_EFORMAT, "catalog: %s: entry #%zu is not an object", origin, i);
      goto done;
    }
    tl_catalog_entry *e = parse_entry(&c, o);
    if (!e) {
      st = c.st;
      goto done;
    }
    e->origin = tl__strdup(origin);
    fresh[n++] = e;
    if (!e->origin) {
      st = tl__error_set(err, TL_ENOMEM, "catalog: out of memory");
      goto done;
    }
    for (size_t j = 0; j + 1 < n; j++)
      if (strcmp(fresh[j]->id, e->id) == 0) {
        st = tl__error_set(err, TL_EFORMAT, "catalog: %s: entry '%s': key 'id': duplicate id", origin, e->id);
        goto done;
      }
  }
  qsort(fresh, n, sizeof *fresh, cmp_entry);
  /* merge: replace same ids in place, append the rest */
  size_t need = cat->n + n;
  if (need > cat->cap) {
    tl_catalog_entry **v = tl__realloc(cat->v, need * sizeof *v);
    if (!v) {
      st = tl__error_set(err, TL_ENOMEM, "catalog: out of memory");
      goto done;
    }
    cat->v = v;
    cat->cap = need;
  }
  for (size_t i = 0; i < n; i++) {
    size_t j = 0;
    while (j < cat->n && strcmp(cat->v[j]->id, fresh[i]->id) != 0)
      j++;
    if (j < cat->n) {
      entry_free(cat->v[j]);
      cat->v[j] = fresh[i];
    } else {
      cat->v[cat->n++] = fresh[i];
    }
    fresh[i] = NULL;
  }
  n = 0;
done:
  for (size_t i = 0; fresh && i < n; i++)
    entry_free(fresh[i]);
  tl__free(fresh);
  json_decref(root);
  return st;
}

tl_status tl_catalog_add_file(tl_catalog *c, const char *path, tl_error *err)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    return tl__error_errno(err, errno == ENOENT ? TL_ENOTFOUND : TL_EIO, errno, "catalog: cannot open '%s'", path);
  struct stat sb;
  if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > CATALOG_FILE_MAX) {
    fclose(f);
    return tl__error_set(err, TL_ELIMIT, "catalog: '%s' is not a regular file of at most %llu bytes", path,
                         (unsigned long long)CATALOG_FILE_MAX);
  }
  char *buf = tl__malloc((size_t)sb.st_size + 1);
  if (!buf) {
    fclose(f);
    return tl__error_set(err, TL_ENOMEM, "catalog: out of memory");
  }
  size_t n = fread(buf, 1, (size_t)sb.st_size, f);
  fclose(f);
  tl_status st = n == (size_t)sb.st_size ? tl_catalog_add_json(c, buf, n, path, err)
                                         : tl__error_set(err, TL_EIO, "catalog: short read of '%s'", path);
  tl__free(buf);
  return st;
}

tl_status tl_catalog_load_default(tl_catalog **out, tl_error *err)
{
  tl_catalog *c = NULL;
  tl_status st = tl_catalog_create(&c, err);
  if (st != TL_OK)
    return st;
  size_t n = 0;
  const char *text = tl__embedded_find("models.json", &n);
  if (text && (st = tl_catalog_add_json(c, text, n, "embedded:models.json", err)) != TL_OK) {
    tl_catalog_free(c);
    return st;
  }
  *out = c;
  return TL_OK;
}

/* ---- descriptions ---------------------------------------------------------------- */

tl_status tl_model_desc_from_catalog(const tl_catalog *c, const char *id, tl_ftype ftype, tl_model_desc **out,
                                     tl_error *err)
{
  const tl_catalog_entry *e = tl_catalog_find(c, id);
  if (!e)
    return tl__error_set(err, TL_ENOTFOUND, "catalog: no model '%s'", id);
  tl_hparams *hp = tl__calloc(1, sizeof *hp);
  if (!hp)
    return tl__error_set(err, TL_ENOMEM, "catalog: out of memory");
  tl_status st = TL_OK;
  if (e->in_registry) {
    *hp = e->hp;
  } else {
    st = tl_hparams_guess_from_params(e->params_total, hp, err);
    snprintf(hp->arch_name, sizeof hp->arch_name, "%s", e->arch);
    hp->n_ctx_train = e->context_length;
  }
  tl_model_desc *m = NULL;
  if (st == TL_OK)
    st = tl_model_desc_from_hparams(hp, ftype, &m, err);
  tl__free(hp);
  if (st != TL_OK) {
    tl__error_prefix(err, "catalog: '%s'", id);
    return st;
  }
  m->source_kind = TL_SOURCE_CATALOG;
  snprintf(m->source, sizeof m->source, "%s", id);
  snprintf(m->name, sizeof m->name, "%s", e->name);
  snprintf(m->license, sizeof m->license, "%s", e->license);
  snprintf(m->catalog_id, sizeof m->catalog_id, "%s", e->id);
  if (!e->in_registry && e->params_active < e->params_total) {
    /* a dense stand-in for an unknown MoE: scale its count by the published ratio */
    m->n_params_active = (uint64_t)((double)m->n_params * (double)e->params_active / (double)e->params_total);
  }
  if (e->context_length > 0 && m->hp.n_ctx_train == 0)
    m->hp.n_ctx_train = e->context_length;
  m->file_bytes_predicted = tl_model_desc_predict_file_bytes(m);
  *out = m;
  return TL_OK;
}

tl_status tl_model_desc_open(const char *src, const tl_catalog *c, tl_ftype ftype, tl_model_desc **out,
                             tl_error *err)
{
  struct stat sb;
  if (stat(src, &sb) == 0) {
    if (S_ISDIR(sb.st_mode))
      return tl_model_desc_from_hf_dir(src, out, err);
    return tl_model_desc_from_gguf(src, out, err);
  }
  tl_catalog *own = NULL;
  if (!c) {
    tl_status st = tl_catalog_load_user(&own, err);
    if (st != TL_OK)
      return st;
    c = own;
  }
  tl_status st;
  if (tl_catalog_find(c, src))
    st = tl_model_desc_from_catalog(c, src, ftype, out, err);
  else if (strchr(src, '/') || strstr(src, ".gguf"))
    st = tl__error_errno(err, TL_ENOTFOUND, ENOENT, "model: cannot open '%s'", src);
  else
    st = tl__error_set(err, TL_ENOTFOUND, "model: '%s' is not a file, a directory or a catalog id", src);
  tl_catalog_free(own);
  return st;
}
