/* Fit assessment: the fit level from where the model runs and how full the
 * fullest device is, and the notes that explain a plan in one line each.
 * Levels (docs/plan.md):
 *   Perfect  - every layer on GPU(s) (or a machine without GPU), <= 80% used
 *   Good     - fits with <= 90% used: GPU, MoE expert offload, or CPU alone
 *   Marginal - fits, but > 90% used somewhere, or layers spill to the CPU
 *   TooTight - some device needs more than it has free */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

#define PERFECT_MAX 0.80
#define GOOD_MAX 0.90

void tl__plan_note(tl_plan *p, const char *fmt, ...)
{
  if (p->n_notes >= TL_PLAN_MAX_NOTES)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->notes[p->n_notes++], sizeof p->notes[0], fmt, ap);
  va_end(ap);
}

static double gib(uint64_t b) { return (double)b / (double)TL__GIB; }

static tl_fit_level level_of(const tl_hw *hw, const tl_plan *p)
{
  if (!p->fits)
    return TL_FIT_TOO_TIGHT;
  double u = p->utilisation;
  switch (p->mode) {
  case TL_RUN_GPU:
    return u <= PERFECT_MAX ? TL_FIT_PERFECT : u <= GOOD_MAX ? TL_FIT_GOOD : TL_FIT_MARGINAL;
  case TL_RUN_CPU_ONLY:
    if (hw->n_gpus == 0)
      return u <= PERFECT_MAX ? TL_FIT_PERFECT : u <= GOOD_MAX ? TL_FIT_GOOD : TL_FIT_MARGINAL;
    return u <= GOOD_MAX ? TL_FIT_GOOD : TL_FIT_MARGINAL;
  case TL_RUN_MOE_OFFLOAD:
    return u <= GOOD_MAX ? TL_FIT_GOOD : TL_FIT_MARGINAL;
  default:
    return TL_FIT_MARGINAL;
  }
}

void tl__fit_assess(const tl__pmodel *pm, const tl_hw *hw, tl_plan *p)
{
  const tl_hparams *hp = &pm->m->hp;
  p->level = level_of(hw, p);
  p->n_notes = 0;
  if (!p->fits) {
    for (size_t d = 0; d < p->n_devices; d++) {
      const tl_plan_device *dev = &p->devices[d];
      uint64_t used = d == 0 ? tl__pool_used(p) : dev->used;
      if (used > dev->available) {
        tl__plan_note(p, "does not fit: %s needs %.1f GiB, %.1f GiB free", d ? dev->name : "system RAM",
                      gib(used), gib(dev->available));
        break;
      }
    }
  }
  if (pm->moe)
    tl__plan_note(p, "MoE: %u/%u experts active per token (%.1fB of %.1fB parameters)", hp->n_expert_used,
                  hp->n_expert, (double)pm->m->n_params_active / 1e9, (double)pm->m->n_params / 1e9);
  if (p->mode == TL_RUN_MOE_OFFLOAD) {
    uint64_t b = 0;
    for (uint32_t l = 0; l < pm->n_layer; l++)
      if (p->expert_device[l] == 0)
        b += pm->expert_bytes[l];
    tl__plan_note(p, "MoE offload: routed experts of %u layers in system RAM (%.1f GiB), attention and shared parts on GPU",
                  p->n_cpu_moe_layers, gib(b));
  } else if (p->mode == TL_RUN_CPU_OFFLOAD) {
    tl__plan_note(p, "GPU: insufficient VRAM, spilling %.1f GiB to system RAM (%u of %u layers on GPU)",
                  gib(p->spill_bytes), p->n_gpu_layers, pm->n_layer);
  } else if (p->mode == TL_RUN_CPU_ONLY && hw->n_gpus > 0 && p->settings.runtime != TL_RUNTIME_VLLM) {
    tl__plan_note(p, "GPU: no layer fits in VRAM; runs on the CPU");
  }
  if (p->settings.runtime == TL_RUNTIME_VLLM) {
    if (hw->n_gpus == 0)
      tl__plan_note(p, "vLLM: needs a GPU (its CPU backend is not planned)");
    else
      tl__plan_note(p, "vLLM: takes %.0f%% of VRAM on %u GPU(s); what weights leave holds KV blocks of %u tokens",
                    p->settings.gpu_memory_utilization * 100, p->settings.tensor_parallel, TL__VLLM_BLOCK);
  }
  uint32_t n_swa = 0, window = 0;
  for (uint32_t l = 0; l < pm->n_layer; l++)
    if (pm->kv[l].window) {
      n_swa++;
      window = pm->kv[l].window;
    }
  if (n_swa)
    tl__plan_note(p, "sliding window: %u of %u layers keep only %u tokens of KV", n_swa, pm->n_layer, window);
  if (pm->kv[0].mla)
    tl__plan_note(p, "MLA: latent KV cache, %u elements per token per layer", pm->kv[0].n_embd_k + pm->kv[0].n_embd_v);
  if (hp->n_ctx_train && p->settings.n_ctx > hp->n_ctx_train)
    tl__plan_note(p, "context: %u tokens is more than the model was trained for (%u)", p->settings.n_ctx,
                  hp->n_ctx_train);
  if (p->n_ctx_max && p->n_ctx_max < p->settings.n_ctx)
    tl__plan_note(p, "context: at most %u tokens per sequence fit (asked %u)", p->n_ctx_max, p->settings.n_ctx);
  for (size_t d = 1; d < p->n_devices; d++)
    if (p->devices[d].unified) {
      tl__plan_note(p, "unified memory: the GPU may use %.1f GiB of system RAM", gib(p->devices[d].available));
      break;
    }
}
