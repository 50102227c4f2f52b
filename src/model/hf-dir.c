/* A model description from a Hugging Face model directory: config.json for
 * the hyperparameters, the safetensors headers for every tensor (one
 * model.safetensors, or the shards listed in model.safetensors.index.json),
 * and whether tokenizer.json and a chat template (tokenizer_config.json
 * "chat_template", or chat_template.jinja) are present. Weights are not read. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "model/hf-int.h"
#include "tailor/model.h"

/* config.json and tokenizer_config.json are small; anything larger is not one. */
#define HF_JSON_MAX (64ull << 20)

static bool file_exists(const char *dir, const char *name)
{
  char p[4096];
  struct stat sb;
  snprintf(p, sizeof p, "%s/%s", dir, name);
  return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Reads dir/name whole. TL_ENOTFOUND when absent. */
static tl_status read_small(const char *dir, const char *name, char **out, size_t *len, tl_error *err)
{
  char p[4096];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "rb");
  if (!f)
    return errno == ENOENT ? tl__error_set(err, TL_ENOTFOUND, "hf: '%s' not found", p)
                           : tl__error_errno(err, TL_EIO, errno, "hf: cannot open '%s'", p);
  struct stat sb;
  if (fstat(fileno(f), &sb) != 0 || (uint64_t)sb.st_size > HF_JSON_MAX) {
    fclose(f);
    return tl__error_set(err, TL_ELIMIT, "hf: '%s' is larger than %llu bytes", p, (unsigned long long)HF_JSON_MAX);
  }
  char *buf = tl__malloc((size_t)sb.st_size + 1);
  if (!buf) {
    fclose(f);
    return tl__error_set(err, TL_ENOMEM, "hf: out of memory");
  }
  size_t n = fread(buf, 1, (size_t)sb.st_size, f);
  fclose(f);
  if (n != (size_t)sb.st_size) {
    tl__free(buf);
    return tl__error_set(err, TL_EIO, "hf: short read of '%s'", p);
  }
  buf[n] = '\0';
  *out = buf;
  *len = n;
  return TL_OK;
}

/* A shard name from the index must be a plain file name in the directory. */
static bool safe_name(const char *s)
{
  return s[0] != '\0' && s[0] != '.' && !strchr(s, '/') && !strchr(s, '\\') && strlen(s) < 1024;
}

static tl_status scan_file(const char *dir, const char *name, tl__st_list *l, uint64_t *total, tl_error *err)
{
  char p[4096];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  uint64_t sz = 0;
  tl_status st = tl__safetensors_scan(p, l, &sz, err);
  if (st == TL_OK)
    *total += sz;
  return st;
}

static tl_status scan_sharded(const char *dir, tl__st_list *l, uint64_t *total, tl_error *err)
{
  char *text;
  size_t len;
  tl_status st = read_small(dir, "model.safetensors.index.json", &text, &len, err);
  if (st != TL_OK)
    return st;
  json_error_t jerr;
  json_t *root = json_loadb(text, len, 0, &jerr);
  tl__free(text);
  if (!root && (json_error_code(&jerr) == json_error_out_of_memory || jerr.text[0] == '\0'))
    return tl__error_set(err, TL_ENOMEM, "hf: out of memory");
  if (!root)
    return tl__error_set(err, TL_EFORMAT, "hf: model.safetensors.index.json is not valid JSON (line %d): %s",
                         jerr.line, jerr.text);
  json_t *map = json_object_get(root, "weight_map");
  if (!json_is_object(map) || json_object_size(map) == 0) {
    json_decref(root);
    return tl__error_set(err, TL_EFORMAT, "hf: model.safetensors.index.json has no 'weight_map' object");
  }
  /* the distinct shard files, in first-seen order */
  json_t *seen = json_object();
  json_t *order = json_array();
  const char *tname;
  json_t *v;
  if (!seen || !order) {
    st = tl__error_set(err, TL_ENOMEM, "hf: out of memory");
    goto done;
  }
  json_object_foreach(map, tname, v)
  {
    if (!json_is_string(v) || !safe_name(json_string_value(v))) {
      st = tl__error_set(err, TL_EFORMAT, "hf: weight_map entry '%s' does not name a file in the directory", tname);
      goto done;
    }
    if (!json_object_get(seen, json_string_value(v))) {
      json_object_set_new(seen, json_string_value(v), json_true());
      json_array_append(order, v);
    }
  }
  size_t i;
  json_array_foreach(order, i, v)
  {
    size_t first = l->n;
    st = scan_file(dir, json_string_value(v), l, total, err);
    if (st != TL_OK)
      goto done;
    /* every tensor of a shard must be listed for it, and vice versa (below) */
    for (size_t k = first; k < l->n; k++) {
      json_t *f = json_object_get(map, l->v[k].name);
      if (!f || strcmp(json_string_value(f), json_string_value(v)) != 0) {
        st = tl__error_set(err, TL_EFORMAT, "hf: tensor '%s' in '%s' is not mapped to that file by the index",
                           l->v[k].name, json_string_value(v));
        goto done;
      }
    }
  }
  if (l->n != json_object_size(map))
    st = tl__error_set(err, TL_EFORMAT, "hf: the index maps %zu tensors, the shards hold %zu",
                       json_object_size(map), l->n);
done:
  json_decref(seen);
  json_decref(order);
  json_decref(root);
  return st;
}

static bool has_chat_template(const char *dir)
{
  if (file_exists(dir, "chat_template.jinja") || file_exists(dir, "chat_template.json"))
    return true;
  char *text;
  size_t len;
  if (read_small(dir, "tokenizer_config.json", &text, &len, NULL) != TL_OK)
    return false;
  json_t *root = json_loadb(text, len, 0, NULL);
  tl__free(text);
  json_t *ct = json_object_get(root, "chat_template");
  bool yes = ct && (json_is_string(ct) || (json_is_array(ct) && json_array_size(ct) > 0));
  json_decref(root);
  return yes;
}

tl_status tl_model_desc_from_hf_dir(const char *dir, tl_model_desc **out, tl_error *err)
{
  struct stat sb;
  if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
    return tl__error_set(err, TL_ENOTFOUND, "hf: '%s' is not a directory", dir);
  tl_model_desc *m = tl__calloc(1, sizeof *m);
  if (!m)
    return tl__error_set(err, TL_ENOMEM, "hf: out of memory");
  m->source_kind = TL_SOURCE_HF_DIR;
  snprintf(m->source, sizeof m->source, "%s", dir);
  const char *base = strrchr(dir, '/');
  base = base && base[1] ? base + 1 : dir;
  snprintf(m->name, sizeof m->name, "%s", base);
  char *text = NULL;
  size_t len = 0;
  tl_status st = read_small(dir, "config.json", &text, &len, err);
  if (st != TL_OK)
    goto fail;
  st = tl_hparams_from_hf_config(text, len, &m->hp, err);
  if (st != TL_OK) {
    tl__error_prefix(err, "hf: '%s/config.json'", dir);
    goto fail;
  }
  json_t *root = json_loadb(text, len, 0, NULL);
  if (!root) { /* it parsed a moment ago */
    st = tl__error_set(err, TL_ENOMEM, "hf: out of memory");
    goto fail;
  }
  const char *dt = json_string_value(json_object_get(root, "torch_dtype"));
  if (!dt)
    dt = json_string_value(json_object_get(root, "dtype"));
  if (dt && !strcmp(dt, "bfloat16"))
    m->ftype = TL_FTYPE_BF16, m->ftype_known = true;
  else if (dt && !strcmp(dt, "float16"))
    m->ftype = TL_FTYPE_F16, m->ftype_known = true;
  else if (dt && !strcmp(dt, "float32"))
    m->ftype = TL_FTYPE_ALL_F32, m->ftype_known = true;
  json_decref(root);
  tl__free(text);
  text = NULL;

  tl__st_list l = {0};
  uint64_t total = 0;
  if (file_exists(dir, "model.safetensors.index.json"))
    st = scan_sharded(dir, &l, &total, err);
  else if (file_exists(dir, "model.safetensors"))
    st = scan_file(dir, "model.safetensors", &l, &total, err);
  else
    st = tl__error_set(err, TL_ENOTFOUND, "hf: '%s' has neither model.safetensors nor model.safetensors.index.json",
                       dir);
  m->tensors = l.v;
  m->n_tensors = l.n;
  if (st != TL_OK)
    goto fail;
  m->file_bytes = total;
  m->has_tokenizer = file_exists(dir, "tokenizer.json") || file_exists(dir, "tokenizer.model");
  m->has_chat_template = has_chat_template(dir);
  tl_model_desc_count(m);
  *out = m;
  return TL_OK;
fail:
  tl__free(text);
  tl_model_desc_free(m);
  return st;
}
