/* The user catalog: where it lives, loading it over the embedded catalog, and
 * filling it from the Hugging Face Hub (`tailor catalog update`). An entry is
 * built from the Hub API's model info (GET /api/models/{repo}: cardData,
 * tags, pipeline_tag, createdAt, safetensors; huggingface_hub ModelInfo), the
 * repository's config.json, and its safetensors headers read with Range
 * requests (model.safetensors, or every shard named by
 * model.safetensors.index.json), which give exact parameter counts. The file
 * is replaced atomically (temporary file + rename); it is never half written. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "model/hf-int.h"
#include "model/hub-int.h"
#include "tailor/catalog.h"

/* Response limits. config.json files are a few kB (DeepSeek-V3's is 1.7 kB);
 * model info with its file list and card data stays well under 16 MiB; the
 * largest indexes (DeepSeek-V3, 91k tensors) are about 9 MB. */
#define LIMIT_CONFIG (1u << 20)
#define LIMIT_INFO (16u << 20)
#define LIMIT_LIST (16u << 20)
#define LIMIT_INDEX (64u << 20)
#define MAX_SHARDS 4096
#define MAX_REPO 96 /* the Hub's limit on a repository name */

/* ---- where the user catalog lives -------------------------------------------------- */

tl_status tl_catalog_user_path(char *buf, size_t n, tl_error *err)
{
  const char *dir = getenv("TAILOR_CACHE_DIR");
  int w;
  if (dir && !strcmp(dir, "none"))
    return tl__error_set(err, TL_ENOTFOUND, "catalog: the user catalog is off (TAILOR_CACHE_DIR=none)");
  if (dir && *dir) {
    w = snprintf(buf, n, "%s/catalog.json", dir);
  } else if ((dir = getenv("XDG_CACHE_HOME")) && dir[0] == '/') {
    w = snprintf(buf, n, "%s/tailor/catalog.json", dir);
  } else if ((dir = getenv("HOME")) && *dir) {
    w = snprintf(buf, n, "%s/.cache/tailor/catalog.json", dir);
  } else {
    return tl__error_set(err, TL_ENOTFOUND, "catalog: no user catalog: neither TAILOR_CACHE_DIR, XDG_CACHE_HOME nor "
                                            "HOME is set");
  }
  if (w < 0 || (size_t)w >= n)
    return tl__error_set(err, TL_ELIMIT, "catalog: the user catalog path under '%s' is too long", dir);
  return TL_OK;
}

tl_status tl_catalog_load_user(tl_catalog **out, tl_error *err)
{
  tl_catalog *c = NULL;
  tl_status st = tl_catalog_load_default(&c, err);
  if (st != TL_OK)
    return st;
  char path[4096];
  struct stat sb;
  if (tl_catalog_user_path(path, sizeof path, NULL) == TL_OK && stat(path, &sb) == 0) {
    st = tl_catalog_add_file(c, path, err);
    if (st != TL_OK) {
      tl__error_prefix(err, "user catalog (fix or remove it, or set TAILOR_CACHE_DIR=none)");
      tl_catalog_free(c);
      return st;
    }
  }
  *out = c;
  return TL_OK;
}

/* ---- small helpers ----------------------------------------------------------------- */

static void jfree(void *p)
{
  json_malloc_t jm;
  json_free_t jf;
  json_get_alloc_funcs(&jm, &jf);
  jf(p);
}

/* owner/name with the Hub's characters: letters, digits, '-', '_', '.';
 * neither part starts with '.' nor holds "..". */
static bool valid_repo(const char *s)
{
  const char *slash = strchr(s, '/');
  if (!slash || strchr(slash + 1, '/') || slash == s || !slash[1] || strlen(s) > 2 * MAX_REPO || strstr(s, ".."))
    return false;
  if (s[0] == '.' || slash[1] == '.')
    return false;
  for (const char *p = s; *p; p++)
    if (p != slash && !(isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.'))
      return false;
  return true;
}

/* A file name inside the repository as an index names it. */
static bool valid_file(const char *s)
{
  size_t n = strlen(s);
  if (n == 0 || n > 255 || s[0] == '.')
    return false;
  for (const char *p = s; *p; p++)
    if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.'))
      return false;
  return true;
}

static tl_status parse_json(const tl__hub_resp *r, const char *what, const char *repo, bool want_array, json_t **out,
                            tl_error *err)
{
  json_error_t jerr;
  json_t *v = json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, &jerr);
  if (!v && (json_error_code(&jerr) == json_error_out_of_memory || jerr.text[0] == '\0'))
    return tl__error_set(err, TL_ENOMEM, "hub: out of memory");
  if (!v)
    return tl__error_set(err, TL_EFORMAT, "hub: %s of '%s' is not valid JSON (line %d): %s", what, repo, jerr.line,
                         jerr.text);
  if (want_array ? !json_is_array(v) : !json_is_object(v)) {
    json_decref(v);
    return tl__error_set(err, TL_EFORMAT, "hub: %s of '%s' is not a JSON %s", what, repo,
                         want_array ? "array" : "object");
  }
  *out = v;
  return TL_OK;
}

/* GET a JSON document. */
static tl_status get_json(tl__hub *h, tl__hub_kind kind, const char *path, const char *repo, const char *what,
                          size_t max, bool want_array, json_t **out, tl_error *err)
{
  tl__hub_resp r = {0};
  tl_status st = tl__hub_get(h, kind, path, repo, what, max, 0, 0, &r, err);
  if (st == TL_OK)
    st = parse_json(&r, what, repo, want_array, out, err);
  tl__free(r.body);
  return st;
}

/* ---- trending ------------------------------------------------------------------------- */

void tl_hub_repos_free(char **repos, size_t n)
{
  for (size_t i = 0; repos && i < n; i++)
    tl__free(repos[i]);
  tl__free(repos);
}

tl_status tl_hub_list_trending(const tl_hub_options *o, uint32_t n, char ***out, size_t *n_out, tl_error *err)
{
  if (n < 1 || n > 100)
    return tl__error_set(err, TL_EINVAL, "hub: --trending takes 1..100 models, not %u", n);
  tl__hub *h = NULL;
  tl_status st = tl__hub_open(&h, o, err);
  if (st != TL_OK)
    return st;
  char path[256];
  snprintf(path, sizeof path, "/api/models?pipeline_tag=text-generation&sort=trendingScore&limit=%u", n);
  json_t *arr = NULL;
  st = get_json(h, TL__HUB_LIST, path, "trending", "the model list", LIMIT_LIST, true, &arr, err);
  tl__hub_close(h);
  if (st != TL_OK)
    return st;
  size_t m = json_array_size(arr), k = 0;
  char **v = tl__calloc(m ? m : 1, sizeof *v);
  if (!v) {
    json_decref(arr);
    return tl__error_set(err, TL_ENOMEM, "hub: out of memory");
  }
  for (size_t i = 0; i < m && k < n; i++) {
    json_t *e = json_array_get(arr, i);
    const char *id = json_string_value(json_object_get(e, "id"));
    if (!id)
      id = json_string_value(json_object_get(e, "modelId"));
    if (!id || !valid_repo(id)) {
      st = tl__error_set(err, TL_EFORMAT, "hub: the model list's entry #%zu has no repository id 'owner/name'", i);
      break;
    }
    if (!(v[k++] = tl__strdup(id))) {
      st = tl__error_set(err, TL_ENOMEM, "hub: out of memory");
      break;
    }
  }
  json_decref(arr);
  if (st != TL_OK) {
    tl_hub_repos_free(v, k);
    return st;
  }
  *out = v;
  *n_out = k;
  return TL_OK;
}

/* ---- safetensors headers over HTTP ---------------------------------------------------- */

/* Reads the header of repo's `file` with two Range requests (bytes 0-7, the
 * little-endian header length N; then bytes 8..8+N-1) and appends its tensors. */
static tl_status fetch_header(tl__hub *h, const char *repo, const char *file, tl__st_list *l, tl_error *err)
{
  char path[512], what[320];
  snprintf(path, sizeof path, "/%s/resolve/main/%s", repo, file);
  snprintf(what, sizeof what, "the header of %s", file);
  tl__hub_resp r = {0};
  tl_status st = tl__hub_get(h, TL__HUB_FILE, path, repo, what, 8, 0, 8, &r, err);
  if (st != TL_OK)
    return st;
  uint64_t n = 0;
  for (int i = 7; i >= 0; i--)
    n = n << 8 | (unsigned char)r.body[i];
  uint64_t size = r.full_size;
  tl__free(r.body);
  if (n > TL_SAFETENSORS_MAX_HEADER)
    return tl__error_set(err, TL_ELIMIT, "hub: '%s' %s: header length %llu exceeds the limit of %llu bytes", repo, file,
                         (unsigned long long)n, (unsigned long long)TL_SAFETENSORS_MAX_HEADER);
  if (n < 2 || (size && n > size - 8))
    return tl__error_set(err, TL_EFORMAT, "hub: '%s' %s: header length %llu does not fit a file of %llu bytes", repo,
                         file, (unsigned long long)n, (unsigned long long)size);
  r = (tl__hub_resp){0};
  st = tl__hub_get(h, TL__HUB_FILE, path, repo, what, (size_t)n, 8, n, &r, err);
  if (st != TL_OK)
    return st;
  char origin[512];
  snprintf(origin, sizeof origin, "%s/%s", repo, file);
  /* a server that gives no Content-Range leaves the data section unchecked */
  st = tl__safetensors_parse(r.body, n, size ? size : UINT64_MAX, origin, l, err);
  tl__free(r.body);
  return st;
}

static tl_status fetch_sharded(tl__hub *h, const char *repo, tl__st_list *l, uint32_t *n_files, tl_error *err)
{
  char path[512];
  snprintf(path, sizeof path, "/%s/resolve/main/model.safetensors.index.json", repo);
  json_t *root = NULL;
  tl_status st = get_json(h, TL__HUB_FILE, path, repo, "model.safetensors.index.json", LIMIT_INDEX, false, &root, err);
  if (st != TL_OK)
    return st;
  json_t *map = json_object_get(root, "weight_map");
  json_t *seen = json_object(), *order = json_array();
  const char *tname;
  json_t *v;
  if (!seen || !order) {
    st = tl__error_set(err, TL_ENOMEM, "hub: out of memory");
    goto done;
  }
  if (!json_is_object(map) || json_object_size(map) == 0) {
    st = tl__error_set(err, TL_EFORMAT, "hub: model.safetensors.index.json of '%s' has no 'weight_map' object", repo);
    goto done;
  }
  json_object_foreach(map, tname, v)
  {
    if (!json_is_string(v) || !valid_file(json_string_value(v))) {
      st = tl__error_set(err, TL_EFORMAT, "hub: '%s': weight_map entry '%s' does not name a file of the repository",
                         repo, tname);
      goto done;
    }
    if (!json_object_get(seen, json_string_value(v))) {
      if (json_array_size(order) >= MAX_SHARDS) {
        st = tl__error_set(err, TL_ELIMIT, "hub: '%s': the index names more than %d shards", repo, MAX_SHARDS);
        goto done;
      }
      json_object_set_new(seen, json_string_value(v), json_true());
      json_array_append(order, v);
    }
  }
  size_t i;
  json_array_foreach(order, i, v)
  {
    size_t first = l->n;
    st = fetch_header(h, repo, json_string_value(v), l, err);
    if (st != TL_OK)
      goto done;
    (*n_files)++;
    for (size_t k = first; k < l->n; k++) {
      json_t *f = json_object_get(map, l->v[k].name);
      if (!f || strcmp(json_string_value(f), json_string_value(v)) != 0) {
        st = tl__error_set(err, TL_EFORMAT, "hub: '%s': tensor '%s' in %s is not mapped to that file by the index",
                           repo, l->v[k].name, json_string_value(v));
        goto done;
      }
    }
  }
  if (l->n != json_object_size(map))
    st = tl__error_set(err, TL_EFORMAT, "hub: '%s': the index maps %zu tensors, the shards hold %zu", repo,
                       json_object_size(map), l->n);
done:
  json_decref(seen);
  json_decref(order);
  json_decref(root);
  return st;
}

/* ---- one entry ------------------------------------------------------------------------ */

static bool has_sibling(json_t *info, const char *name)
{
  json_t *sib = json_object_get(info, "siblings"), *s;
  size_t i;
  json_array_foreach(sib, i, s)
  {
    const char *f = json_string_value(json_object_get(s, "rfilename"));
    if (f && !strcmp(f, name))
      return true;
  }
  return false;
}

static bool has_hub_tag(json_t *info, const char *tag)
{
  json_t *tags = json_object_get(info, "tags"), *t;
  size_t i;
  json_array_foreach(tags, i, t)
  {
    if (json_is_string(t) && !strcmp(json_string_value(t), tag))
      return true;
  }
  return false;
}

/* The license: cardData.license (its license_name when "other"), else the
 * Hub's "license:..." tag. */
static const char *license_of(json_t *info)
{
  json_t *card = json_object_get(info, "cardData");
  const char *lic = json_string_value(json_object_get(card, "license"));
  if (lic && !strcmp(lic, "other") && json_string_value(json_object_get(card, "license_name")))
    lic = json_string_value(json_object_get(card, "license_name"));
  if (lic && *lic)
    return lic;
  json_t *tags = json_object_get(info, "tags"), *t;
  size_t i;
  json_array_foreach(tags, i, t)
  {
    const char *s = json_string_value(t);
    if (s && !strncmp(s, "license:", 8) && s[8])
      return s + 8;
  }
  return "unknown";
}

/* The catalog's tags from the Hub's pipeline_tag and tags. */
static json_t *tags_of(json_t *info, const char *repo)
{
  const char *pipe = json_string_value(json_object_get(info, "pipeline_tag"));
  json_t *a = json_array();
  bool text = pipe && (!strcmp(pipe, "text-generation") || !strcmp(pipe, "text2text-generation"));
  bool mm = pipe && (!strcmp(pipe, "image-text-to-text") || !strcmp(pipe, "any-to-any") ||
                     !strcmp(pipe, "visual-question-answering"));
  bool emb = (pipe && (!strcmp(pipe, "feature-extraction") || !strcmp(pipe, "sentence-similarity"))) ||
             has_hub_tag(info, "sentence-transformers");
  char lower[256];
  size_t i = 0;
  for (; repo[i] && i + 1 < sizeof lower; i++)
    lower[i] = (char)tolower((unsigned char)repo[i]);
  lower[i] = '\0';
  if (text || mm)
    json_array_append_new(a, json_string("general"));
  if (has_hub_tag(info, "code") || strstr(lower, "coder"))
    json_array_append_new(a, json_string("coding"));
  if (has_hub_tag(info, "reasoning"))
    json_array_append_new(a, json_string("reasoning"));
  if (has_hub_tag(info, "conversational"))
    json_array_append_new(a, json_string("chat"));
  if (mm)
    json_array_append_new(a, json_string("multimodal"));
  if (emb)
    json_array_append_new(a, json_string("embedding"));
  return a;
}

/* YYYY-MM-DD from an ISO 8601 time ("2025-04-27T03:40:08.000Z"). */
static bool date_of(const char *iso, char out[11])
{
  if (!iso || strlen(iso) < 10)
    return false;
  for (int i = 0; i < 10; i++)
    if ((i == 4 || i == 7) ? iso[i] != '-' : !isdigit((unsigned char)iso[i]))
      return false;
  memcpy(out, iso, 10);
  out[10] = '\0';
  return true;
}

static uint32_t config_context(json_t *cfg)
{
  static const char *const keys[] = {"max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"};
  json_t *objs[2] = {json_object_get(cfg, "text_config"), cfg};
  for (int o = 0; o < 2; o++)
    for (size_t k = 0; objs[o] && k < sizeof keys / sizeof keys[0]; k++) {
      json_t *v = json_object_get(objs[o], keys[k]);
      if (json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) <= 100000000)
        return (uint32_t)json_integer_value(v);
    }
  return 0;
}

/* Builds the entry of repo from its model info, config.json text and
 * safetensors tensors (it->n_files files; none: the Hub's safetensors.total)
 * into *out, a models.json entry object that passed the catalog's checks. */
static tl_status build_entry(const char *endpoint, const char *repo, json_t *info, const char *cfg_text, size_t cfg_len,
                             const tl__st_list *lp, tl_catalog_update_item *it, json_t **out, tl_error *err)
{
  if (!valid_repo(repo))
    return tl__error_set(err, TL_EINVAL, "hub: '%s' is not a Hugging Face repository id (owner/name)", repo);
  const char *name = strchr(repo, '/') + 1;
  if (strlen(name) > 63)
    return tl__error_set(err, TL_ELIMIT, "hub: '%s': the name is longer than a catalog id may be (63)", repo);
  for (size_t i = 0; name[i]; i++)
    it->id[i] = (char)tolower((unsigned char)name[i]);
  json_t *cfg = NULL, *e = NULL;
  const tl__st_list l = *lp;
  tl__hub_resp cr = {.body = (char *)cfg_text, .len = cfg_len};
  tl_status st;
  if ((st = parse_json(&cr, "config.json", repo, false, &cfg, err)) != TL_OK)
    return st;
  tl_hparams hp;
  memset(&hp, 0, sizeof hp);
  tl_error herr;
  tl_error_clear(&herr);
  tl_status hs = tl_hparams_from_hf_config(cfg_text, cfg_len, &hp, &herr);
  if (hs == TL_ENOMEM) {
    st = tl__error_set(err, TL_ENOMEM, "hub: out of memory");
    goto done;
  }
  it->in_registry = hs == TL_OK;
  const char *mt = json_string_value(json_object_get(cfg, "model_type"));
  if (hs == TL_OK)
    snprintf(it->arch, sizeof it->arch, "%s", tl_arch_name(hp.arch));
  else
    snprintf(it->arch, sizeof it->arch, "%s", mt && *mt ? mt : "unknown");
  for (char *p = it->arch; *p; p++)
    *p = (char)tolower((unsigned char)*p);

  /* parameters: the safetensors headers, else the Hub's own count */
  json_t *hub_st = json_object_get(info, "safetensors");
  json_t *hub_total = json_object_get(hub_st, "total");
  if (json_is_integer(hub_total) && json_integer_value(hub_total) > 0)
    it->hub_params_total = (uint64_t)json_integer_value(hub_total);
  char psrc[1024];
  if (l.n > 0) {
    /* routed experts (".experts." tensors, one per expert or stacked) count
     * num_experts_per_tok / num_experts of their elements as active; scaled
     * once over their sum, so per-expert tensors lose nothing to rounding */
    uint64_t total = 0, routed = 0;
    for (size_t i = 0; i < l.n; i++) {
      const tl_tensor_desc *t = &l.v[i];
      uint64_t ne = 1;
      for (uint32_t d = 0; d < t->n_dims && d < 4; d++)
        ne *= (uint64_t)t->ne[d];
      total += ne;
      if (t->role == TL_ROLE_FFN_GATE_EXPS || t->role == TL_ROLE_FFN_UP_EXPS || t->role == TL_ROLE_FFN_DOWN_EXPS)
        routed += ne;
    }
    it->params_total = total;
    it->params_active = total;
    if (hs == TL_OK && hp.n_expert > 0 && hp.n_expert_used <= hp.n_expert)
      it->params_active = total - routed + routed * hp.n_expert_used / hp.n_expert;
    snprintf(psrc, sizeof psrc, "%s/%s (safetensors headers: %zu tensors in %u file%s)", endpoint, repo, l.n,
             it->n_files, it->n_files == 1 ? "" : "s");
  } else if (it->hub_params_total) {
    it->params_total = it->params_active = it->hub_params_total;
    snprintf(psrc, sizeof psrc, "%s/api/models/%s (safetensors.total; the repository has no model.safetensors)",
             endpoint, repo);
  } else {
    st = tl__error_set(err, TL_EUNSUPPORTED, "hub: '%s' has no safetensors weights to count parameters from", repo);
    goto done;
  }

  it->context_length = hs == TL_OK && hp.n_ctx_train ? hp.n_ctx_train : config_context(cfg);
  if (it->context_length == 0) {
    st = tl__error_set(err, TL_EFORMAT, "hub: config.json of '%s' states no context length (max_position_embeddings)",
                       repo);
    goto done;
  }
  char date[11];
  if (!date_of(json_string_value(json_object_get(info, "createdAt")), date) &&
      !date_of(json_string_value(json_object_get(info, "lastModified")), date)) {
    st = tl__error_set(err, TL_EFORMAT, "hub: the model info of '%s' has no createdAt date", repo);
    goto done;
  }
  char src[1024];
  snprintf(src, sizeof src, "%s/%s/resolve/main/config.json", endpoint, repo);
  e = json_object();
  if (!e) {
    st = tl__error_set(err, TL_ENOMEM, "hub: out of memory");
    goto done;
  }
  json_object_set_new(e, "id", json_string(it->id));
  json_object_set_new(e, "name", json_string(name));
  json_object_set_new(e, "hf_repo", json_string(repo));
  json_object_set_new(e, "family", json_string(mt && *mt ? mt : it->arch));
  json_object_set_new(e, "arch", json_string(it->arch));
  json_object_set_new(e, "params_total", json_integer((json_int_t)it->params_total));
  json_object_set_new(e, "params_active", json_integer((json_int_t)it->params_active));
  json_object_set_new(e, "params_source", json_string(psrc));
  json_object_set_new(e, "context_length", json_integer(it->context_length));
  json_object_set_new(e, "license", json_string(license_of(info)));
  json_object_set_new(e, "release_date", json_string(date));
  json_object_set_new(e, "tags", tags_of(info, repo));
  json_object_set(e, "config", cfg);
  json_object_set_new(e, "source", json_string(src));
  if (json_object_size(e) != 14) {
    st = tl__error_set(err, TL_ENOMEM, "hub: out of memory");
    goto done;
  }

  /* the entry must pass the catalog's own validation before it is kept */
  json_t *doc = json_pack("{s:i, s:[O]}", "schema_version", 1, "models", e);
  char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
  json_decref(doc);
  tl_catalog *scratch = NULL;
  if (!text || tl_catalog_create(&scratch, err) != TL_OK) {
    jfree(text);
    st = tl__error_set(err, TL_ENOMEM, "hub: out of memory");
    goto done;
  }
  char origin[160];
  snprintf(origin, sizeof origin, "hub:%s", repo);
  st = tl_catalog_add_json(scratch, text, strlen(text), origin, err);
  tl_catalog_free(scratch);
  jfree(text);
  if (st != TL_OK)
    goto done;
  *out = e;
  e = NULL;
done:
  json_decref(cfg);
  json_decref(e);
  return st;
}


/* Fetches repo's model info, config.json and safetensors headers and builds its entry. */
static tl_status fetch_entry(tl__hub *h, const char *repo, tl_catalog_update_item *it, json_t **out, tl_error *err)
{
  if (!valid_repo(repo))
    return tl__error_set(err, TL_EINVAL, "hub: '%s' is not a Hugging Face repository id (owner/name)", repo);
  char path[512];
  json_t *info = NULL;
  tl__hub_resp cr = {0};
  tl__st_list l = {0};
  tl_status st;
  snprintf(path, sizeof path, "/api/models/%s", repo);
  if ((st = get_json(h, TL__HUB_MODEL, path, repo, "the model info", LIMIT_INFO, false, &info, err)) != TL_OK)
    goto done;
  snprintf(path, sizeof path, "/%s/resolve/main/config.json", repo);
  if ((st = tl__hub_get(h, TL__HUB_FILE, path, repo, "config.json", LIMIT_CONFIG, 0, 0, &cr, err)) != TL_OK)
    goto done;
  /* a config.json that is not JSON fails before any weights are asked for */
  json_t *probe = NULL;
  if ((st = parse_json(&cr, "config.json", repo, false, &probe, err)) != TL_OK)
    goto done;
  json_decref(probe);
  bool listed = json_is_array(json_object_get(info, "siblings"));
  bool sharded = listed ? has_sibling(info, "model.safetensors.index.json") : true;
  bool single = listed ? has_sibling(info, "model.safetensors") : true;
  if (sharded) {
    st = fetch_sharded(h, repo, &l, &it->n_files, err);
    if (st == TL_ENOTFOUND && !listed && single) { /* no index: try the single file */
      tl_error_clear(err);
      st = TL_OK;
      sharded = false;
    }
    if (st != TL_OK)
      goto done;
  }
  if (!sharded && single) {
    if ((st = fetch_header(h, repo, "model.safetensors", &l, err)) != TL_OK)
      goto done;
    it->n_files = 1;
  }
  st = build_entry(tl__hub_endpoint(h), repo, info, cr.body, cr.len, &l, it, out, err);
done:
  tl__free(l.v);
  tl__free(cr.body);
  json_decref(info);
  return st;
}

tl_status tl__catalog_entry_from_hub(const char *endpoint, const char *repo, const char *info_text, size_t info_len,
                                     const char *cfg_text, size_t cfg_len, const tl_tensor_desc *tensors, size_t n,
                                     tl_catalog_update_item *it, char **entry_json, tl_error *err)
{
  tl__hub_resp ir = {.body = (char *)info_text, .len = info_len};
  json_t *info = NULL, *e = NULL;
  tl_status st = parse_json(&ir, "the model info", repo, false, &info, err);
  if (st != TL_OK)
    return st;
  tl__st_list l = {.v = (tl_tensor_desc *)tensors, .n = n, .cap = n};
  st = build_entry(endpoint, repo, info, cfg_text, cfg_len, &l, it, &e, err);
  json_decref(info);
  if (st != TL_OK)
    return st;
  char *text = json_dumps(e, JSON_COMPACT);
  json_decref(e);
  *entry_json = text ? tl__strdup(text) : NULL;
  jfree(text);
  return *entry_json ? TL_OK : tl__error_set(err, TL_ENOMEM, "hub: out of memory");
}

/* ---- the file ------------------------------------------------------------------------- */

static tl_status mkdirs(char *dir, tl_error *err)
{
  for (char *p = dir + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    int rc = mkdir(dir, 0700);
    *p = '/';
    if (rc != 0 && errno != EEXIST)
      return tl__error_errno(err, TL_EIO, errno, "catalog: cannot create '%.*s'", (int)(p - dir), dir);
  }
  if (mkdir(dir, 0700) != 0 && errno != EEXIST)
    return tl__error_errno(err, TL_EIO, errno, "catalog: cannot create '%s'", dir);
  return TL_OK;
}

/* Writes text to path through a temporary file in the same directory. */
static tl_status write_atomic(const char *path, const char *text, tl_error *err)
{
  char dir[4096], tmp[4200];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash && slash != dir) {
    *slash = '\0';
    tl_status st = mkdirs(dir, err);
    if (st != TL_OK)
      return st;
  }
  snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
  int fd = mkstemp(tmp);
  if (fd < 0)
    return tl__error_errno(err, TL_EIO, errno, "catalog: cannot create a temporary file next to '%s'", path);
  size_t len = strlen(text), done = 0;
  while (done < len) {
    ssize_t w = write(fd, text + done, len - done);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      int e = errno;
      close(fd);
      unlink(tmp);
      return tl__error_errno(err, TL_EIO, e, "catalog: cannot write '%s'", tmp);
    }
    done += (size_t)w;
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    int e = errno;
    unlink(tmp);
    return tl__error_errno(err, TL_EIO, e, "catalog: cannot write '%s'", tmp);
  }
  if (rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    return tl__error_errno(err, TL_EIO, e, "catalog: cannot rename '%s' to '%s'", tmp, path);
  }
  return TL_OK;
}

/* The existing user catalog as JSON, validated; a fresh document when absent. */
static tl_status read_user(const char *path, json_t **out, tl_error *err)
{
  struct stat sb;
  if (stat(path, &sb) != 0) {
    if (errno != ENOENT)
      return tl__error_errno(err, TL_EIO, errno, "catalog: cannot stat '%s'", path);
    *out = json_pack("{s:i, s:[]}", "schema_version", 1, "models");
    return *out ? TL_OK : tl__error_set(err, TL_ENOMEM, "catalog: out of memory");
  }
  tl_catalog *scratch = NULL;
  tl_status st = tl_catalog_create(&scratch, err);
  if (st != TL_OK)
    return st;
  st = tl_catalog_add_file(scratch, path, err);
  tl_catalog_free(scratch);
  if (st != TL_OK) {
    tl__error_prefix(err, "user catalog left as it is (fix or remove it)");
    return st;
  }
  json_error_t jerr;
  *out = json_load_file(path, 0, &jerr);
  return *out ? TL_OK : tl__error_set(err, TL_EIO, "catalog: cannot read '%s': %s", path, jerr.text);
}

tl_status tl_catalog_update(const tl_hub_options *o, const char *path, const char *const *repos, size_t n,
                            tl_catalog_update_item *items, tl_catalog_update_fn progress, void *user, tl_error *err)
{
  char own[4096];
  tl_status st;
  if (!path) {
    if ((st = tl_catalog_user_path(own, sizeof own, err)) != TL_OK)
      return st;
    path = own;
  }
  json_t *root = NULL;
  if ((st = read_user(path, &root, err)) != TL_OK)
    return st;
  tl__hub *h = NULL;
  if ((st = tl__hub_open(&h, o, err)) != TL_OK) {
    json_decref(root);
    return st;
  }
  json_t *models = json_object_get(root, "models");
  size_t added = 0;
  for (size_t i = 0; i < n; i++) {
    tl_catalog_update_item *it = &items[i];
    memset(it, 0, sizeof *it);
    snprintf(it->repo, sizeof it->repo, "%s", repos[i]);
    json_t *e = NULL;
    const tl_error *down = tl__hub_down(h);
    if (down) /* offline: do not wait for each remaining model in turn */
      it->status = tl__error_set(&it->err, down->code, "%s", down->message);
    else
      it->status = fetch_entry(h, repos[i], it, &e, &it->err);
    if (it->status == TL_OK) {
      size_t j;
      json_t *old;
      bool replaced = false;
      json_array_foreach(models, j, old)
      {
        const char *oid = json_string_value(json_object_get(old, "id"));
        if (oid && !strcmp(oid, it->id)) {
          json_array_set(models, j, e);
          replaced = true;
          break;
        }
      }
      if (!replaced)
        json_array_append(models, e);
      json_decref(e);
      added++;
    }
    if (progress)
      progress(it, i, n, user);
  }
  tl__hub_close(h);
  if (added == 0) {
    json_decref(root);
    return TL_OK;
  }
  char *text = json_dumps(root, JSON_INDENT(2));
  json_decref(root);
  if (!text)
    return tl__error_set(err, TL_ENOMEM, "catalog: out of memory");
  /* the merged document is checked whole before it replaces the old file */
  tl_catalog *scratch = NULL;
  st = tl_catalog_create(&scratch, err);
  if (st == TL_OK)
    st = tl_catalog_add_json(scratch, text, strlen(text), path, err);
  tl_catalog_free(scratch);
  if (st == TL_OK) {
    size_t len = strlen(text);
    char *nl = tl__malloc(len + 2);
    if (!nl) {
      st = tl__error_set(err, TL_ENOMEM, "catalog: out of memory");
    } else {
      memcpy(nl, text, len);
      nl[len] = '\n';
      nl[len + 1] = '\0';
      st = write_atomic(path, nl, err);
      tl__free(nl);
    }
  }
  jfree(text);
  return st;
}
