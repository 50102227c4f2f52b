/* The resolver's memory check through the plan estimator: a candidate
 * configuration becomes plan settings for tailor's engine, and the plan says
 * whether it fits and how many layers would fit on the GPUs. */
#include <string.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "config/internal.h"
#include "tailor/plan.h"

static tl_status estimate(const tl_model_desc *m, const tl_hw *hw, const tl_config_probe *p,
                          int mode, int n_gpu_layers, const tl_efficiency *eff, tl_plan *plan)
{
  tl_plan_settings s;
  tl_plan_settings_init(&s);
  s.runtime = TL_RUNTIME_TAILOR;
  s.n_ctx = p->ctx_size;
  s.n_parallel = p->parallel ? p->parallel : 1;
  s.n_ubatch = p->ubatch;
  s.kv_type_k = s.kv_type_v = p->kv_type;
  s.flash_attn = p->flash_attn ? 1 : 0;
  s.mode = mode;
  s.n_gpu_layers = n_gpu_layers;
  s.eff = eff;
  return tl_plan_estimate(m, hw, &s, plan, NULL);
}

tl_status tl_config_plan_fit(const tl_config_probe *p, tl_config_fit *out, void *ud)
{
  const tl_config_plan_ctx *ctx = ud;
  const tl_hw *hw = ctx->hw;
  const tl_efficiency *eff = ctx->efficiency;
  tl_model_desc *retyped = NULL;
  const tl_model_desc *m = ctx->model;
  tl_status st = TL_OK;
  if (p->quant_set && (!m->ftype_known || m->ftype != p->quant || m->file_bytes == 0)) {
    st = tl_model_desc_from_hparams(&m->hp, p->quant, &retyped, NULL);
    if (st)
      return st;
    m = retyped;
  }
  tl_plan *plan = tl__malloc(sizeof *plan);
  if (!plan) {
    tl_model_desc_free(retyped);
    return TL_ENOMEM;
  }
  int mode, ngl;
  if (hw->n_gpus == 0 || p->gpu_layers == 0) {
    mode = TL_RUN_CPU_ONLY;
    ngl = 0;
  } else if (p->moe_offload) {
    mode = TL_RUN_MOE_OFFLOAD;
    ngl = -1;
  } else if (p->gpu_layers > m->hp.n_layer) {
    mode = TL_RUN_GPU;
    ngl = -1;
  } else {
    mode = TL_RUN_CPU_OFFLOAD;
    ngl = (int)p->gpu_layers;
  }
  st = estimate(m, hw, p, mode, ngl, eff, plan);
  if (!st) {
    memset(out, 0, sizeof *out);
    out->fits = plan->fits;
    out->required_gpu = plan->gpu_required;
    out->available_gpu = plan->gpu_available;
    out->required_host = plan->devices[TL_PLAN_HOST].used;
    out->available_host = plan->devices[TL_PLAN_HOST].available;
    out->max_gpu_layers = plan->n_gpu_layers;
    if (!plan->fits && hw->n_gpus) {
      /* how many layers would fit with the rest on the CPU */
      if (!estimate(m, hw, p, TL_RUN_CPU_OFFLOAD, -1, eff, plan))
        out->max_gpu_layers = plan->n_gpu_layers;
    }
  }
  tl__free(plan);
  tl_model_desc_free(retyped);
  return st;
}
