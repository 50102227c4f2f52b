/* The JSON forms of plans, fit rows and tune results (docs/json.md, "plan").
 * Bytes are integers, speeds tokens/s, times seconds; names are the ones of
 * tl_runtime_name, tl_run_mode_name, tl_fit_level_name, tl_mem_cat_name. */
#include <string.h>

#include <jansson.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "internal.h"
#include "tailor/quant.h"

static void set(json_t *o, const char *k, json_t *v) { json_object_set_new(o, k, v ? v : json_null()); }

static json_t *u64(uint64_t v) { return json_integer((json_int_t)v); }

static json_t *categories(const uint64_t *b)
{
  json_t *o = json_object();
  for (int c = 0; c < TL_MEM_COUNT; c++)
    set(o, tl_mem_cat_name((tl_mem_cat)c), u64(b[c]));
  return o;
}

static json_t *plan_json(const tl_plan *p)
{
  const tl_plan_settings *s = &p->settings;
  json_t *o = json_object();
  set(o, "runtime", json_string(tl_runtime_name(s->runtime)));
  set(o, "mode", json_string(tl_run_mode_name(p->mode)));
  set(o, "fits", json_boolean(p->fits));
  set(o, "fit_level", json_string(tl_fit_level_name(p->level)));
  set(o, "utilisation", json_real(p->utilisation));
  json_t *st = json_object();
  set(st, "n_ctx", u64(s->n_ctx));
  set(st, "n_parallel", u64(s->n_parallel));
  set(st, "n_batch", u64(s->n_batch));
  set(st, "n_ubatch", u64(s->n_ubatch));
  set(st, "kv_type_k", json_string(tl_qtype_name(s->kv_type_k)));
  set(st, "kv_type_v", json_string(tl_qtype_name(s->kv_type_v)));
  set(st, "flash_attn", json_boolean(s->flash_attn > 0));
  set(st, "concurrency", u64(s->concurrency));
  set(st, "decode_at", u64(s->decode_at));
  set(st, "use_case", json_string(tl_use_case_name(s->use_case)));
  if (s->runtime == TL_RUNTIME_VLLM) {
    set(st, "tensor_parallel", u64(s->tensor_parallel));
    set(st, "gpu_memory_utilization", json_real(s->gpu_memory_utilization));
  }
  set(o, "settings", st);
  json_t *mem = json_object();
  set(mem, "required", u64(p->required));
  set(mem, "available", u64(p->available));
  set(mem, "gpu_required", u64(p->gpu_required));
  set(mem, "gpu_available", u64(p->gpu_available));
  set(mem, "spill", u64(p->spill_bytes));
  set(mem, "kv_bytes_per_token", u64(p->kv_bytes_per_token));
  set(mem, "by_category", categories(p->bytes));
  set(o, "memory", mem);
  set(o, "context_max", u64(p->n_ctx_max));
  json_t *pl = json_object();
  set(pl, "n_gpu_layers", u64(p->n_gpu_layers));
  set(pl, "n_cpu_moe_layers", u64(p->n_cpu_moe_layers));
  set(pl, "embd_device", json_integer(p->embd_device));
  set(pl, "output_device", json_integer(p->output_device));
  set(o, "placement", pl);
  json_t *devs = json_array();
  for (size_t d = 0; d < p->n_devices; d++) {
    const tl_plan_device *dv = &p->devices[d];
    json_t *j = json_object();
    set(j, "name", json_string(dv->name));
    set(j, "kind", json_string(dv->gpu < 0 ? "host" : "gpu"));
    if (dv->gpu >= 0)
      set(j, "gpu", json_integer(dv->gpu));
    set(j, "unified", json_boolean(dv->unified));
    set(j, "available", u64(dv->available));
    set(j, "headroom", u64(dv->headroom));
    set(j, "used", u64(dv->used));
    set(j, "bytes", categories(dv->bytes));
    set(j, "layer_first", u64(dv->layer_first));
    set(j, "n_layers", u64(dv->n_layers));
    set(j, "n_expert_layers", u64(dv->n_expert_layers));
    set(j, "read_bytes", u64(dv->read_bytes));
    set(j, "kv_read_bytes", u64(dv->kv_read_bytes));
    set(j, "bandwidth", json_real(dv->bandwidth));
    set(j, "decode_s", json_real(dv->decode_s));
    json_array_append_new(devs, j);
  }
  set(o, "devices", devs);
  json_t *sp = json_object();
  set(sp, "decode_tps", json_real(p->decode_tps));
  set(sp, "decode_tps_full_context", json_real(p->decode_tps_full));
  set(sp, "prefill_tps", json_real(p->prefill_tps));
  set(sp, "throughput_tps", json_real(p->throughput_tps));
  set(sp, "read_bytes_per_token", u64(p->read_bytes_per_token));
  set(sp, "flops_per_token", json_real(p->flops_per_token));
  set(o, "speed", sp);
  json_t *sc = json_object();
  set(sc, "quality", json_real(p->score_quality));
  set(sc, "speed", json_real(p->score_speed));
  set(sc, "fit", json_real(p->score_fit));
  set(sc, "context", json_real(p->score_context));
  set(sc, "composite", json_real(p->score));
  set(o, "scores", sc);
  json_t *notes = json_array();
  for (size_t i = 0; i < p->n_notes; i++)
    json_array_append_new(notes, json_string(p->notes[i]));
  set(o, "notes", notes);
  return o;
}

static tl_status dump(json_t *root, char **out, tl_error *err)
{
  if (!root)
    return tl__error_set(err, TL_ENOMEM, "plan json: out of memory");
  char *s = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(10) | JSON_PRESERVE_ORDER);
  json_decref(root);
  if (!s)
    return tl__error_set(err, TL_ENOMEM, "plan json: out of memory");
  *out = tl__strdup(s);
  json_free_t fr;
  json_get_alloc_funcs(NULL, &fr);
  fr(s);
  if (!*out)
    return tl__error_set(err, TL_ENOMEM, "plan json: out of memory");
  return TL_OK;
}

tl_status tl_plan_to_json(const tl_plan *p, char **out, tl_error *err)
{
  if (!p || !out)
    return tl__error_set(err, TL_EINVAL, "plan json: NULL argument");
  json_t *o = plan_json(p);
  json_t *root = json_object();
  set(root, "schema", json_string("tailor.plan"));
  set(root, "schema_version", json_integer(1));
  json_object_update(root, o);
  json_decref(o);
  return dump(root, out, err);
}

tl_status tl_fit_rows_to_json(const tl_fit_row *rows, size_t n, char **out, tl_error *err)
{
  if ((!rows && n) || !out)
    return tl__error_set(err, TL_EINVAL, "plan json: NULL argument");
  json_t *root = json_object();
  set(root, "schema", json_string("tailor.fit"));
  set(root, "schema_version", json_integer(1));
  json_t *arr = json_array();
  for (size_t i = 0; i < n; i++) {
    const tl_fit_row *r = &rows[i];
    json_t *o = json_object();
    set(o, "rank", u64(i + 1));
    set(o, "id", json_string(r->id));
    set(o, "name", json_string(r->name));
    set(o, "family", json_string(r->family));
    set(o, "license", json_string(r->license));
    set(o, "quant", json_string(tl_ftype_name(r->ftype)));
    set(o, "params", u64(r->n_params));
    set(o, "params_active", u64(r->n_params_active));
    set(o, "context_length", u64(r->n_ctx_train));
    set(o, "best_quant", json_boolean(r->best_quant));
    set(o, "plan", plan_json(&r->plan));
    json_array_append_new(arr, o);
  }
  set(root, "rows", arr);
  return dump(root, out, err);
}

tl_status tl_tune_to_json(const tl_tune_result *r, char **out, tl_error *err)
{
  if (!r || !out)
    return tl__error_set(err, TL_EINVAL, "plan json: NULL argument");
  json_t *root = json_object();
  set(root, "schema", json_string("tailor.tune"));
  set(root, "schema_version", json_integer(1));
  set(root, "recommended", r->recommended >= 0 ? json_string(r->candidates[r->recommended].label) : json_null());
  json_t *arr = json_array();
  for (size_t i = 0; i < r->n_candidates; i++) {
    const tl_tune_candidate *c = &r->candidates[i];
    json_t *o = json_object();
    set(o, "quant", json_string(c->label));
    set(o, "ftype", json_string(tl_ftype_name(c->ftype)));
    set(o, "weight_bytes", u64(c->weight_bytes));
    set(o, "memory_pct", json_real(c->plan.utilisation * 100));
    set(o, "context_max", u64(c->plan.n_ctx_max));
    set(o, "context_is_model_max", json_boolean(c->ctx_is_model_max));
    set(o, "quality_tier", json_string(tl_quality_tier_name(c->tier)));
    set(o, "status", json_string(tl_tune_status_name(c->status)));
    set(o, "recommended", json_boolean(c->recommended));
    set(o, "plan", plan_json(&c->plan));
    json_array_append_new(arr, o);
  }
  set(root, "candidates", arr);
  json_t *cmds = json_object();
  for (int k = 0; k < TL_RUNTIME_COUNT; k++)
    set(cmds, tl_runtime_name((tl_runtime)k), r->commands[k][0] ? json_string(r->commands[k]) : json_null());
  set(root, "commands", cmds);
  return dump(root, out, err);
}
