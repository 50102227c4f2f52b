/* The artifacts of a resolved configuration: the effective document (JSON),
 * the decision trace (JSON lines), the explanation for people, and the hash;
 * and the two readers of overrides: a configuration file in the document's
 * schema, and TAILOR_* environment variables. Output is deterministic: keys in
 * a fixed order, numbers in a fixed format. */
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "base/strbuf.h"
#include "config/internal.h"

#define GIB (1024.0 * 1024.0 * 1024.0)
#define CONFIG_SCHEMA_VERSION 1

tl_status tl__config_hash_compute(tl_config *c);

tl_status tl__config_hash_compute(tl_config *c)
{
  tl__sb sb;
  tl__sb_init(&sb);
  for (int i = 0; i < TL_SET_COUNT; i++)
    tl__sb_printf(&sb, "%s=%s\n", tl_setting_key((tl_setting_id)i),
                  c->d[i].set ? c->d[i].value : "");
  if (tl__sb_failed(&sb)) {
    tl__sb_deinit(&sb);
    return TL_ENOMEM;
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  int ok = EVP_Digest(sb.buf, sb.len, md, &n, EVP_sha256(), NULL);
  tl__sb_deinit(&sb);
  if (!ok || n != 32)
    return TL_EINTERNAL;
  for (unsigned i = 0; i < n; i++)
    snprintf(c->hash + 2 * i, 3, "%02x", md[i]);
  return TL_OK;
}

const char *tl_config_hash(const tl_config *c) { return c->hash; }

static json_t *affects_json(tl_setting_id id)
{
  json_t *a = json_array();
  unsigned f = tl_setting_affects(id);
  if (f & TL_AFFECTS_PERFORMANCE)
    json_array_append_new(a, json_string("performance"));
  if (f & TL_AFFECTS_MEMORY)
    json_array_append_new(a, json_string("memory"));
  if (f & TL_AFFECTS_CORRECTNESS)
    json_array_append_new(a, json_string("correctness"));
  return a;
}

/* The value in its JSON type: integers, booleans, numbers, strings; null when unset. */
static json_t *value_json(const tl_config *c, tl_setting_id id)
{
  const tl__decision *d = &c->d[id];
  if (!d->set)
    return json_null();
  const tl__setting_def *def = tl__setting_def_get(id);
  long long i;
  double f;
  switch (def->type) {
  case TL__VT_INT:
    if (sscanf(d->value, "%lld", &i) == 1)
      return json_integer(i);
    break;
  case TL__VT_BOOL:
    return json_boolean(!strcmp(d->value, "true"));
  case TL__VT_FLOAT:
    if (sscanf(d->value, "%lf", &f) == 1)
      return json_real(f);
    break;
  default:
    break;
  }
  return json_string(d->value);
}

static json_t *decision_json(const tl_config *c, tl_setting_id id)
{
  const tl__decision *d = &c->d[id];
  json_t *o = json_object();
  json_object_set_new(o, "setting", json_string(tl_setting_key(id)));
  json_object_set_new(o, "value", value_json(c, id));
  json_object_set_new(o, "source", json_string(tl_setting_source_name(d->source)));
  json_object_set_new(o, "source_key", json_string(d->source_key));
  json_object_set_new(o, "reason", json_string(d->reason));
  json_t *cand = json_array();
  for (int i = 0; i < d->n_candidates; i++)
    json_array_append_new(cand, json_string(d->candidates[i]));
  json_object_set_new(o, "candidates", cand);
  json_t *rej = json_array();
  for (int i = 0; i < d->n_rejected; i++) {
    json_t *x = json_object();
    json_object_set_new(x, "value", json_string(d->rejected[i].value));
    json_object_set_new(x, "reason", json_string(d->rejected[i].reason));
    json_array_append_new(rej, x);
  }
  json_object_set_new(o, "rejected", rej);
  json_t *steps = json_array();
  for (int i = 0; i < d->n_steps; i++) {
    json_t *x = json_object();
    json_object_set_new(x, "source", json_string(tl_setting_source_name(d->steps[i].source)));
    json_object_set_new(x, "source_key", json_string(d->steps[i].source_key));
    json_object_set_new(x, "value", json_string(d->steps[i].value));
    json_object_set_new(x, "reason", json_string(d->steps[i].reason));
    json_array_append_new(steps, x);
  }
  json_object_set_new(o, "steps", steps);
  json_object_set_new(o, "affects", affects_json(id));
  return o;
}

static const size_t DUMP_FLAGS = JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6);

static tl_status dump(json_t *root, size_t flags, char **out, tl_error *err)
{
  if (!root)
    return tl__error_set(err, TL_ENOMEM, "config: out of memory");
  char *s = json_dumps(root, flags);
  json_decref(root);
  if (!s)
    return tl__error_set(err, TL_ENOMEM, "config: out of memory");
  /* json_dumps allocates through the hook set in tl_set_allocator (or malloc
   * by default); hand back a tl__ allocation so callers free with tl_free. */
  char *copy = tl__strdup(s);
  json_free_t jfree;
  json_get_alloc_funcs(NULL, &jfree);
  jfree(s);
  if (!copy)
    return tl__error_set(err, TL_ENOMEM, "config: out of memory");
  *out = copy;
  return TL_OK;
}

tl_status tl_config_to_json(const tl_config *c, char **out, tl_error *err)
{
  json_t *root = json_object();
  json_object_set_new(root, "schema_version", json_integer(CONFIG_SCHEMA_VERSION));
  char hash[80];
  snprintf(hash, sizeof hash, "sha256:%s", c->hash);
  json_object_set_new(root, "hash", json_string(hash));
  json_t *entries = json_object();
  for (int i = 0; i < TL_SET_COUNT; i++) {
    tl_setting_id id = (tl_setting_id)i;
    json_t *e = json_object();
    json_object_set_new(e, "value", value_json(c, id));
    json_object_set_new(e, "source", json_string(tl_setting_source_name(c->d[i].source)));
    json_object_set_new(e, "source_key", json_string(c->d[i].source_key));
    json_object_set_new(e, "affects", affects_json(id));
    json_object_set_new(entries, tl_setting_key(id), e);
  }
  json_object_set_new(root, "entries", entries);

  json_t *model = json_object();
  json_object_set_new(model, "name", json_string(c->model_name));
  json_object_set_new(model, "source", json_string(c->model_source));
  json_object_set_new(model, "architecture", json_string(c->model_arch));
  json_object_set_new(model, "layers", json_integer(c->model_n_layer));
  json_object_set_new(model, "context_length", json_integer(c->model_ctx_train));
  json_object_set_new(model, "parameters", json_integer((json_int_t)c->model_params));
  json_object_set_new(model, "moe", json_boolean(c->model_moe));
  json_object_set_new(root, "model", model);

  json_t *hw = json_object();
  json_object_set_new(hw, "platform_id", json_string(c->hw_platform));
  json_object_set_new(hw, "cpu_cores", json_integer(c->hw_cores));
  json_object_set_new(hw, "cpu_threads", json_integer(c->hw_threads));
  json_object_set_new(hw, "gpus", json_integer((json_int_t)c->hw_gpus));
  json_object_set_new(hw, "vram_free_bytes", json_integer((json_int_t)c->hw_vram_free));
  json_object_set_new(hw, "ram_usable_bytes", json_integer((json_int_t)c->hw_ram_usable));
  json_t *caps = json_array();
  for (int b = 0; b < TL__BACKEND_COUNT; b++) {
    const tl__backend_caps *k = tl__backend_caps_get((tl__backend)b);
    if (k->compiled)
      json_array_append_new(caps, json_string(k->name));
  }
  json_object_set_new(hw, "compiled_backends", caps);
  json_object_set_new(root, "hardware", hw);

  const tl_workload *w = &c->workload;
  json_t *wl = json_object();
  json_object_set_new(wl, "preset", json_string(w->preset));
  json_object_set_new(wl, "use_case", json_string(tl_workload_use_name(w->use_case)));
  json_object_set_new(wl, "mode", json_string(tl_serving_mode_name(w->mode)));
  json_object_set_new(wl, "concurrency", json_integer(w->concurrency));
  json_object_set_new(wl, "prompt_length", json_string(tl_length_class_name(w->prompt_len)));
  json_object_set_new(wl, "output_length", json_string(tl_length_class_name(w->output_len)));
  json_object_set_new(wl, "priority", json_string(tl_priority_name(w->priority)));
  json_object_set_new(root, "workload", wl);

  json_t *mem = json_object();
  json_object_set_new(mem, "checked", json_boolean(c->fit_checked));
  if (c->fit_checked) {
    json_object_set_new(mem, "fits", json_boolean(c->fit.fits));
    json_object_set_new(mem, "required_gpu_bytes", json_integer((json_int_t)c->fit.required_gpu));
    json_object_set_new(mem, "available_gpu_bytes",
                        json_integer((json_int_t)c->fit.available_gpu));
    json_object_set_new(mem, "required_host_bytes",
                        json_integer((json_int_t)c->fit.required_host));
    json_object_set_new(mem, "available_host_bytes",
                        json_integer((json_int_t)c->fit.available_host));
  }
  json_object_set_new(root, "memory", mem);

  json_t *decisions = json_array();
  for (int i = 0; i < TL_SET_COUNT; i++)
    json_array_append_new(decisions, decision_json(c, (tl_setting_id)i));
  json_object_set_new(root, "decisions", decisions);
  return dump(root, DUMP_FLAGS | JSON_INDENT(2), out, err);
}

tl_status tl_config_trace_jsonl(const tl_config *c, char **out, tl_error *err)
{
  tl__sb sb;
  tl__sb_init(&sb);
  for (int i = 0; i < TL_SET_COUNT; i++) {
    char *line = NULL;
    tl_status st = dump(decision_json(c, (tl_setting_id)i), DUMP_FLAGS | JSON_COMPACT, &line, err);
    if (st) {
      tl__sb_deinit(&sb);
      return st;
    }
    tl__sb_puts(&sb, line);
    tl__sb_putc(&sb, '\n');
    tl__free(line);
  }
  char *s = tl__sb_take(&sb);
  if (!s)
    return tl__error_set(err, TL_ENOMEM, "config: out of memory");
  *out = s;
  return TL_OK;
}

tl_status tl_config_explain(const tl_config *c, char **out, tl_error *err)
{
  tl__sb sb;
  tl__sb_init(&sb);
  const tl_workload *w = &c->workload;
  tl__sb_printf(&sb, "Configuration for %s (%s, %u layers) on %s\n",
                c->model_name[0] ? c->model_name : c->model_source, c->model_arch,
                c->model_n_layer, c->hw_platform);
  tl__sb_printf(&sb, "Hash: sha256:%s\n", c->hash);
  tl__sb_printf(&sb,
                "Workload: %s%s%s%s use, %s mode, %u concurrent, %s prompts, %s outputs, %s "
                "priority\n",
                w->preset[0] ? "preset " : "", w->preset[0] ? w->preset : "",
                w->preset[0] ? ": " : "", tl_workload_use_name(w->use_case),
                tl_serving_mode_name(w->mode), w->concurrency, tl_length_class_name(w->prompt_len),
                tl_length_class_name(w->output_len), tl_priority_name(w->priority));
  if (c->fit_checked && c->hw_gpus)
    tl__sb_printf(&sb, "Memory: %.2f GiB of %.2f GiB free GPU memory, %.2f GiB of %.2f GiB "
                       "usable RAM: %s\n",
                  c->fit.required_gpu / GIB, c->fit.available_gpu / GIB,
                  c->fit.required_host / GIB, c->fit.available_host / GIB,
                  c->fit.fits ? "fits" : "does not fit");
  else if (c->fit_checked)
    tl__sb_printf(&sb, "Memory: %.2f GiB of %.2f GiB usable RAM: %s\n",
                  c->fit.required_host / GIB, c->fit.available_host / GIB,
                  c->fit.fits ? "fits" : "does not fit");
  else
    tl__sb_puts(&sb, "Memory: not checked\n");
  tl__sb_puts(&sb, "\n");
  for (int i = 0; i < TL_SET_COUNT; i++) {
    const tl__decision *d = &c->d[i];
    tl_setting_id id = (tl_setting_id)i;
    tl__sb_printf(&sb, "%-19s %-13s from %s", tl_setting_key(id), d->set ? d->value : "(unset)",
                  tl_setting_source_name(d->source));
    if (d->source_key[0])
      tl__sb_printf(&sb, " (%s)", d->source_key);
    tl__sb_putc(&sb, '\n');
    if (d->reason[0])
      tl__sb_printf(&sb, "%-19s   why: %s\n", "", d->reason);
    if (d->n_steps > 1) {
      tl__sb_printf(&sb, "%-19s   path:", "");
      for (int k = 0; k < d->n_steps; k++)
        tl__sb_printf(&sb, "%s %s=%s", k ? " ->" : "", tl_setting_source_name(d->steps[k].source),
                      d->steps[k].value[0] ? d->steps[k].value : "(unset)");
      tl__sb_putc(&sb, '\n');
    }
    for (int k = 0; k < d->n_rejected; k++)
      tl__sb_printf(&sb, "%-19s   rejected %s: %s\n", "", d->rejected[k].value,
                    d->rejected[k].reason);
  }
  char *s = tl__sb_take(&sb);
  if (!s)
    return tl__error_set(err, TL_ENOMEM, "config: out of memory");
  *out = s;
  return TL_OK;
}

/* ---- readers ---- */

typedef struct ovlist {
  tl_override *v;
  size_t n, cap;
} ovlist;

static bool ov_push(ovlist *l, const tl_override *o)
{
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    tl_override *v = tl__realloc(l->v, cap * sizeof *v);
    if (!v)
      return false;
    l->v = v;
    l->cap = cap;
  }
  l->v[l->n++] = *o;
  return true;
}

tl_status tl_config_file_parse(const char *text, size_t len, const char *file_name,
                               tl_override **out, size_t *n, tl_error *err)
{
  json_error_t je;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  if (!root)
    return tl__error_set(err, TL_ECONFIG, "%s: line %d, column %d: %s", file_name, je.line,
                         je.column, je.text);
  tl_status st = TL_OK;
  ovlist l = {0};
  if (!json_is_object(root)) {
    st = tl__error_set(err, TL_ECONFIG, "%s: the document is not a JSON object", file_name);
    goto done;
  }
  json_t *ver = json_object_get(root, "schema_version");
  if (ver && (!json_is_integer(ver) || json_integer_value(ver) != CONFIG_SCHEMA_VERSION)) {
    st = tl__error_set(err, TL_ECONFIG, "%s: schema_version must be %d", file_name,
                       CONFIG_SCHEMA_VERSION);
    goto done;
  }
  json_t *entries = json_object_get(root, "entries");
  if (!json_is_object(entries)) {
    st = tl__error_set(err, TL_ECONFIG, "%s: no \"entries\" object", file_name);
    goto done;
  }
  const char *key;
  json_t *v;
  json_object_foreach(entries, key, v)
  {
    tl_override o;
    memset(&o, 0, sizeof o);
    if (!tl_setting_lookup(key, &o.id) || strcmp(key, tl_setting_key(o.id))) {
      st = tl__error_set(err, TL_ECONFIG, "%s: entries.%s: no such setting", file_name, key);
      goto done;
    }
    o.source = TL_SETSRC_CONFIG_FILE;
    snprintf(o.source_key, sizeof o.source_key, "%s:entries.%s", file_name, key);
    if (json_is_object(v))
      v = json_object_get(v, "value");
    if (!v || json_is_null(v))
      continue; /* unset: nothing to override */
    if (json_is_string(v))
      snprintf(o.value, sizeof o.value, "%s", json_string_value(v));
    else if (json_is_integer(v))
      snprintf(o.value, sizeof o.value, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
      snprintf(o.value, sizeof o.value, "%.17g", json_real_value(v));
    else if (json_is_boolean(v))
      snprintf(o.value, sizeof o.value, "%s", json_is_true(v) ? "true" : "false");
    else {
      st = tl__error_set(err, TL_ECONFIG, "%s: entries.%s: the value must be a string, number "
                         "or boolean", file_name, key);
      goto done;
    }
    if (!ov_push(&l, &o)) {
      st = tl__error_set(err, TL_ENOMEM, "config: out of memory");
      goto done;
    }
  }
done:
  json_decref(root);
  if (st) {
    tl__free(l.v);
    return st;
  }
  *out = l.v;
  *n = l.n;
  return TL_OK;
}

tl_status tl_config_env_collect(char *const *envp, tl_override **out, size_t *n, tl_error *err)
{
  ovlist l = {0};
  for (size_t i = 0; envp && envp[i]; i++) {
    const char *e = envp[i];
    if (strncmp(e, "TAILOR_", 7))
      continue;
    const char *eq = strchr(e, '=');
    if (!eq)
      continue;
    char name[96];
    size_t nl = (size_t)(eq - e);
    if (nl >= sizeof name)
      continue;
    memcpy(name, e, nl);
    name[nl] = '\0';
    tl_setting_id id;
    /* Other TAILOR_* variables (TAILOR_SYSROOT, TAILOR_API_KEY ...) are not settings. */
    if (!tl_setting_lookup(name, &id) || strcmp(name, tl_setting_env(id)))
      continue;
    tl_override o;
    memset(&o, 0, sizeof o);
    o.id = id;
    o.source = TL_SETSRC_ENV;
    snprintf(o.source_key, sizeof o.source_key, "%s", name);
    if (strlen(eq + 1) >= sizeof o.value) {
      tl__free(l.v);
      return tl__error_set(err, TL_ECONFIG, "%s (%s): the value is too long", tl_setting_key(id),
                           name);
    }
    snprintf(o.value, sizeof o.value, "%s", eq + 1);
    if (!ov_push(&l, &o)) {
      tl__free(l.v);
      return tl__error_set(err, TL_ENOMEM, "config: out of memory");
    }
  }
  *out = l.v;
  *n = l.n;
  return TL_OK;
}
