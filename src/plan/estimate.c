/* tl_plan_estimate: resolves settings with the runtime's defaults, places
 * the model (placement.c or runtime-vllm.c), sums memory, finds the largest
 * context that fits, and runs the speed model, fit assessment and scores.
 * Also the names and parsers of the plan enums. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "internal.h"

void tl_plan_settings_init(tl_plan_settings *s)
{
  memset(s, 0, sizeof *s);
  s->runtime = TL_RUNTIME_TAILOR;
  s->kv_type_k = TL_QTYPE_F16;
  s->kv_type_v = TL_QTYPE_F16;
  s->flash_attn = -1;
  s->mode = -1;
  s->n_gpu_layers = -1;
  s->quality_benchmark = -1;
  s->use_case = TL_USE_GENERAL;
}

const tl__runtime *tl__runtime_get(tl_runtime id)
{
  switch (id) {
  case TL_RUNTIME_TAILOR: return &tl__runtime_tailor;
  case TL_RUNTIME_LLAMACPP: return &tl__runtime_llamacpp;
  case TL_RUNTIME_VLLM: return &tl__runtime_vllm;
  case TL_RUNTIME_OLLAMA: return &tl__runtime_ollama;
  default: return NULL;
  }
}

static void sum_up(const tl__runtime *rt, const tl__pmodel *pm, tl_plan *p)
{
  memset(p->bytes, 0, sizeof p->bytes);
  p->required = p->available = p->gpu_required = p->gpu_available = p->spill_bytes = 0;
  p->utilisation = 0;
  for (size_t d = 0; d < p->n_devices; d++) {
    const tl_plan_device *dev = &p->devices[d];
    if (dev->used == 0 && d != 0)
      continue;
    for (int c = 0; c < TL_MEM_COUNT; c++)
      p->bytes[c] += dev->bytes[c];
    p->required += dev->used;
    if (!dev->unified)
      p->available += dev->available; /* a unified GPU's share is part of the host's pool */
    if (d > 0) {
      p->gpu_required += dev->used;
      p->gpu_available += dev->available;
    }
    uint64_t used = d == 0 ? tl__pool_used(p) : dev->used;
    double u = dev->available ? (double)used / (double)dev->available : (used ? 1e9 : 0);
    if (u > p->utilisation)
      p->utilisation = u;
  }
  if (p->n_devices > 1) {
    uint64_t spill = 0;
    for (uint32_t l = 0; l < pm->n_layer; l++) {
      if (p->layer_device[l] == 0)
        spill += pm->layer_bytes[l];
      if (p->expert_device[l] == 0)
        spill += pm->expert_bytes[l];
    }
    if (p->output_device == 0)
      spill += pm->tied ? 0 : pm->output_bytes;
    p->spill_bytes = spill;
  }
  uint64_t kv = 0;
  tl_plan_settings one = p->settings;
  one.n_parallel = 1;
  for (uint32_t l = 0; l < pm->n_layer; l++)
    kv += rt->kv_cells(&one, &pm->kv[l]) * pm->kv_cell_bytes[l];
  p->kv_bytes_per_token = one.n_ctx ? kv / one.n_ctx : 0;
}

tl_status tl__plan_place(const tl__pmodel *pm, const tl_hw *hw, const tl_plan_settings *resolved,
                         tl_plan *p, tl_error *err)
{
  const tl__runtime *rt = tl__runtime_get(resolved->runtime);
  p->settings = *resolved;
  p->n_layer = pm->n_layer;
  p->n_notes = 0;
  p->n_cpu_moe_layers = 0;
  p->n_gpu_layers = 0;
  tl_status st = resolved->runtime == TL_RUNTIME_VLLM ? tl__place_vllm(pm, hw, p, err)
                                                       : tl__place_layers(rt, pm, hw, p, err);
  if (st != TL_OK)
    return st;
  sum_up(rt, pm, p);
  return TL_OK;
}

static tl_status check_settings(const tl_model_desc *m, const tl_plan_settings *s, tl_error *err)
{
  if (!tl__runtime_get(s->runtime))
    return tl__error_set(err, TL_EINVAL, "plan: unknown runtime %d", (int)s->runtime);
  if (!tl__kv_type_valid(s->kv_type_k) || !tl__kv_type_valid(s->kv_type_v))
    return tl__error_set(err, TL_EINVAL, "plan: KV cache type must be f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1 or iq4_nl");
  if (s->kv_type_v != s->kv_type_k && s->kv_type_v != TL_QTYPE_F16 && s->flash_attn == 0 &&
      s->runtime != TL_RUNTIME_VLLM)
    return tl__error_set(err, TL_EINVAL, "plan: a quantized V cache needs flash attention");
  if (s->mode < -1 || s->mode >= TL_RUN_COUNT)
    return tl__error_set(err, TL_EINVAL, "plan: run mode %d out of range", s->mode);
  if (s->n_ctx > (1u << 24))
    return tl__error_set(err, TL_ERANGE, "plan: context %u is larger than 16M tokens", s->n_ctx);
  if (s->n_parallel > 4096)
    return tl__error_set(err, TL_ERANGE, "plan: %u parallel sequences (at most 4096)", s->n_parallel);
  if (s->gpu_memory_utilization < 0 || s->gpu_memory_utilization > 1)
    return tl__error_set(err, TL_ERANGE, "plan: gpu_memory_utilization %g outside (0, 1]", s->gpu_memory_utilization);
  if (s->use_case < 0 || s->use_case >= TL_USE_COUNT)
    return tl__error_set(err, TL_EINVAL, "plan: use case %d out of range", (int)s->use_case);
  (void)m;
  return TL_OK;
}

/* Largest context per sequence (a multiple of 256, or the model's maximum)
 * that fits with a run mode no worse than the plan's. */
static uint32_t max_context(const tl__pmodel *pm, const tl_hw *hw, const tl_plan *p, tl_plan *tmp)
{
  uint32_t limit = pm->m->hp.n_ctx_train ? pm->m->hp.n_ctx_train : 131072;
  tl_plan_settings s = p->settings;
  /* only modes no worse than the plan's count: placing in the plan's mode
   * finds those (a GPU-resident fit also fits with experts or layers moved) */
  if (p->fits && s.n_gpu_layers < 0)
    s.mode = (int)p->mode;
  if (p->fits && p->settings.n_ctx >= limit)
    return limit; /* fits already at the model's own maximum */
  /* most plans either fit at the maximum or not at all: try that first */
  s.n_ctx = limit;
  if (tl__plan_place(pm, hw, &s, tmp, NULL) == TL_OK && tmp->fits && (!p->fits || tmp->mode <= p->mode))
    return limit;
  /* a plan that fits at n_ctx fits at anything smaller: search above it */
  uint32_t lo = p->fits ? p->settings.n_ctx / 256 + 1 : 1, hi = (limit - 1) / 256, best = p->fits ? p->settings.n_ctx : 0;
  while (lo <= hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    s.n_ctx = mid * 256;
    bool ok = tl__plan_place(pm, hw, &s, tmp, NULL) == TL_OK && tmp->fits &&
              (!p->fits || tmp->mode <= p->mode);
    if (ok) {
      best = s.n_ctx;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return best;
}

tl_status tl_plan_estimate(const tl_model_desc *m, const tl_hw *hw, const tl_plan_settings *s,
                           tl_plan *out, tl_error *err)
{
  if (!m || !hw || !out)
    return tl__error_set(err, TL_EINVAL, "plan: NULL model, hardware or output");
  tl_plan_settings def;
  if (!s) {
    tl_plan_settings_init(&def);
    s = &def;
  }
  tl_status st = check_settings(m, s, err);
  if (st != TL_OK)
    return st;
  tl__pmodel *pm = tl__malloc(sizeof *pm);
  tl_plan *tmp = tl__malloc(sizeof *tmp);
  tl_plan *p = tl__malloc(sizeof *p);
  if (!pm || !tmp || !p) {
    st = tl__error_set(err, TL_ENOMEM, "plan: out of memory");
    goto done;
  }
  memset(p, 0, sizeof *p);
  st = tl__pmodel_init(pm, m, err);
  if (st != TL_OK)
    goto done;
  tl_plan_settings r = *s;
  const tl__runtime *rt = tl__runtime_get(r.runtime);
  rt->resolve(&r, m, hw);
  if (r.concurrency == 0)
    r.concurrency = r.n_parallel;
  if (r.decode_at > r.n_ctx)
    r.decode_at = r.n_ctx;
  tl_efficiency eff;
  if (r.eff)
    eff = *r.eff;
  else
    tl_efficiency_default(&eff);
  tl__pmodel_set_kv_types(pm, r.kv_type_k, r.kv_type_v);
  st = tl__plan_place(pm, hw, &r, p, err);
  if (st != TL_OK)
    goto done;
  p->n_ctx_max = max_context(pm, hw, p, tmp);
  tl__speed_estimate(pm, hw, &eff, p);
  tl__fit_assess(pm, hw, p);
  tl__score_plan(m, p);
  memcpy(out, p, sizeof *p);
done:
  tl__free(pm);
  tl__free(tmp);
  tl__free(p);
  return st;
}

/* ---- names ---- */

static const char *const runtime_names[] = {"tailor", "llama.cpp", "vllm", "ollama"};
static const char *const mode_names[] = {"Gpu", "MoeOffload", "CpuOffload", "CpuOnly"};
static const char *const level_names[] = {"Perfect", "Good", "Marginal", "TooTight"};
static const char *const cat_names[] = {"weights", "kv", "compute", "overhead", "extra"};
static const char *const use_names[] = {"general", "coding", "reasoning", "chat", "multimodal", "embedding"};

#define NAME_OF(arr, v) ((unsigned)(v) < sizeof arr / sizeof arr[0] ? arr[v] : "unknown")

const char *tl_runtime_name(tl_runtime r) { return NAME_OF(runtime_names, r); }
const char *tl_run_mode_name(tl_run_mode m) { return NAME_OF(mode_names, m); }
const char *tl_fit_level_name(tl_fit_level l) { return NAME_OF(level_names, l); }
const char *tl_mem_cat_name(tl_mem_cat c) { return NAME_OF(cat_names, c); }
const char *tl_use_case_name(tl_use_case u) { return NAME_OF(use_names, u); }

static int find_name(const char *const *names, size_t n, const char *s)
{
  for (size_t i = 0; i < n; i++)
    if (strcasecmp(names[i], s) == 0)
      return (int)i;
  return -1;
}

tl_status tl_runtime_parse(const char *s, tl_runtime *out)
{
  int i = s ? find_name(runtime_names, TL_RUNTIME_COUNT, s) : -1;
  if (i < 0 && s && (!strcasecmp(s, "llamacpp") || !strcasecmp(s, "llama-cpp")))
    i = TL_RUNTIME_LLAMACPP;
  if (i < 0)
    return TL_EINVAL;
  *out = (tl_runtime)i;
  return TL_OK;
}

tl_status tl_use_case_parse(const char *s, tl_use_case *out)
{
  int i = s ? find_name(use_names, TL_USE_COUNT, s) : -1;
  if (i < 0)
    return TL_EINVAL;
  *out = (tl_use_case)i;
  return TL_OK;
}

tl_status tl_fit_level_parse(const char *s, tl_fit_level *out)
{
  int i = s ? find_name(level_names, TL_FIT_COUNT, s) : -1;
  if (i < 0 && s && (!strcasecmp(s, "too-tight") || !strcasecmp(s, "too_tight")))
    i = TL_FIT_TOO_TIGHT;
  if (i < 0)
    return TL_EINVAL;
  *out = (tl_fit_level)i;
  return TL_OK;
}
