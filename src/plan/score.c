/* Scores 0-100 of a plan: quality (a published benchmark figure when the
 * catalog has one, else a parameter-tier heuristic with family and
 * quantization adjustments), speed (log scale of decode tok/s; prefill for
 * embedding models), fit (from the level and how full memory is), context
 * (log scale of the largest context that fits), and the composite weighted
 * per use case. Every constant here is a judgement documented in
 * docs/plan.md, not a measurement. */
#include <math.h>
#include <string.h>

#include "internal.h"

/* [quality, speed, fit, context] per use case (the issue "Plans"). */
static const double use_weights[TL_USE_COUNT][4] = {
    [TL_USE_GENERAL] = {0.45, 0.30, 0.15, 0.10},   [TL_USE_CODING] = {0.50, 0.20, 0.15, 0.15},
    [TL_USE_REASONING] = {0.55, 0.15, 0.15, 0.15}, [TL_USE_CHAT] = {0.40, 0.35, 0.15, 0.10},
    [TL_USE_MULTIMODAL] = {0.50, 0.20, 0.15, 0.15}, [TL_USE_EMBEDDING] = {0.30, 0.40, 0.20, 0.10},
};

void tl_use_case_weights(tl_use_case u, double w[4])
{
  if ((unsigned)u >= TL_USE_COUNT)
    u = TL_USE_GENERAL;
  memcpy(w, use_weights[u], sizeof use_weights[u]);
}

/* Parameter tiers: score at a parameter count (effective for MoE), linear in
 * log10(params) between the points. */
static const struct {
  double params, score;
} tiers[] = {
    {0.1e9, 15}, {0.5e9, 30}, {1e9, 38}, {3e9, 50}, {8e9, 60}, {14e9, 67},
    {32e9, 74},  {70e9, 80},  {200e9, 86}, {700e9, 90},
};

/* Newer families score above their parameter tier. */
static const struct {
  const char *family;
  double bonus;
} families[] = {
    {"qwen3", 4}, {"qwen2.5", 2}, {"gemma3", 3}, {"gemma2", 1}, {"llama3.3", 2}, {"llama3.1", 1},
    {"llama3.2", 1}, {"deepseek", 4}, {"gpt-oss", 4}, {"phi4", 3}, {"phi3", 0}, {"mistral", 0},
    {"llama2", -6}, {"tinyllama", -6},
};

double tl__quality_base(const tl_model_desc *m, const tl_plan_settings *s)
{
  if (s->quality_benchmark >= 0)
    return s->quality_benchmark > 100 ? 100 : s->quality_benchmark;
  double total = (double)(m->n_params ? m->n_params : m->hp.n_params_hint);
  double active = (double)(m->n_params_active ? m->n_params_active : total);
  /* MoE: quality tracks the geometric mean of total and active parameters */
  double eff = active < total ? sqrt(total * active) : total;
  double q;
  size_t n = sizeof tiers / sizeof tiers[0];
  if (eff <= tiers[0].params) {
    q = tiers[0].score;
  } else if (eff >= tiers[n - 1].params) {
    q = tiers[n - 1].score;
  } else {
    size_t i = 1;
    while (tiers[i].params < eff)
      i++;
    double t = (log10(eff) - log10(tiers[i - 1].params)) / (log10(tiers[i].params) - log10(tiers[i - 1].params));
    q = tiers[i - 1].score + t * (tiers[i].score - tiers[i - 1].score);
  }
  /* Recency: at a fixed size, newer models are better (capability per
   * parameter has roughly doubled every few months: Xiao et al. 2024,
   * "Densing Law of LLMs", arXiv:2412.04315). 3 points a year either side of
   * 2024.0, at most 6; a judgement, like the tiers, documented in docs/plan.md. */
  if (s->release_year > 0) {
    double r = 3.0 * (s->release_year - 2024.0);
    q += r > 6 ? 6 : r < -6 ? -6 : r;
  }
  const char *fam = s->family[0] ? s->family : m->hp.arch_name;
  for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
    if (strncmp(fam, families[i].family, strlen(families[i].family)) == 0) {
      q += families[i].bonus;
      break;
    }
  return q < 0 ? 0 : q > 100 ? 100 : q;
}

/* Perplexity increase of each mixture on LLaMA-v1-7B as llama.cpp's quantize
 * tool lists it (tools/quantize/quantize.cpp QUANT_OPTIONS), mapped to a
 * factor 1 - 0.25 x increase (Q4_K_M: +0.0535 -> 0.987, Q2_K: +0.8698 ->
 * 0.78); the IQ types and MXFP4, without such a figure there, and Q5_0
 * (its figure recalled, not re-checked) sit between their neighbours. */
double tl__quality_quant_factor(tl_ftype f, bool known)
{
  if (!known)
    return 0.97;
  double ppl;
  switch (f) {
  case TL_FTYPE_ALL_F32: case TL_FTYPE_F16: case TL_FTYPE_BF16: ppl = 0; break;
  case TL_FTYPE_Q8_0: ppl = 0.0004; break;
  case TL_FTYPE_Q6_K: ppl = 0.0044; break;
  case TL_FTYPE_Q5_K_M: ppl = 0.0142; break;
  case TL_FTYPE_Q5_K_S: ppl = 0.0353; break;
  case TL_FTYPE_Q5_1: ppl = 0.0415; break;
  case TL_FTYPE_Q5_0: ppl = 0.0683; break;
  case TL_FTYPE_Q4_K_M: ppl = 0.0535; break;
  case TL_FTYPE_Q4_K_S: ppl = 0.1149; break;
  case TL_FTYPE_IQ4_XS: case TL_FTYPE_IQ4_NL: ppl = 0.08; break;
  case TL_FTYPE_Q4_1: ppl = 0.1846; break;
  case TL_FTYPE_Q4_0: ppl = 0.2499; break;
  case TL_FTYPE_MXFP4_MOE: ppl = 0.10; break;
  case TL_FTYPE_Q3_K_L: ppl = 0.1803; break;
  case TL_FTYPE_Q3_K_M: ppl = 0.2437; break;
  case TL_FTYPE_IQ3_M: case TL_FTYPE_IQ3_S: ppl = 0.30; break;
  case TL_FTYPE_Q3_K_S: ppl = 0.5505; break;
  case TL_FTYPE_IQ3_XS: case TL_FTYPE_IQ3_XXS: ppl = 0.45; break;
  case TL_FTYPE_Q2_K: ppl = 0.8698; break;
  case TL_FTYPE_Q2_K_S: case TL_FTYPE_IQ2_M: case TL_FTYPE_IQ2_S: ppl = 1.0; break;
  case TL_FTYPE_IQ2_XS: case TL_FTYPE_IQ2_XXS: ppl = 1.4; break;
  default: ppl = 2.0; break; /* IQ1, ternary */
  }
  double f_ = 1.0 - 0.25 * ppl;
  return f_ < 0.4 ? 0.4 : f_;
}

static double log_scale(double v, double lo, double hi)
{
  if (v <= lo)
    return 0;
  if (v >= hi)
    return 100;
  return 100.0 * log(v / lo) / log(hi / lo);
}

void tl__score_plan(const tl_model_desc *m, tl_plan *p)
{
  const tl_plan_settings *s = &p->settings;
  p->score_quality = tl__quality_base(m, s) * tl__quality_quant_factor(m->ftype, m->ftype_known);
  /* speed: 1 tok/s -> 0, 100 tok/s -> 100 (reading speed is ~10 tok/s -> 50);
   * embedding models by prompt throughput: 10 -> 0, 10,000 tok/s -> 100 */
  if (s->use_case == TL_USE_EMBEDDING)
    p->score_speed = log_scale(p->prefill_tps, 10, 10000);
  else
    p->score_speed = log_scale(p->decode_tps, 1, 100);
  switch (p->level) {
  case TL_FIT_PERFECT: p->score_fit = 100; break;
  case TL_FIT_GOOD: p->score_fit = 80; break;
  case TL_FIT_MARGINAL: p->score_fit = p->mode == TL_RUN_CPU_OFFLOAD ? 40 : 55; break;
  default: p->score_fit = 0; break;
  }
  /* context: 1K -> 0, 128K -> 100 */
  p->score_context = log_scale(p->n_ctx_max, 1024, 131072);
  double w[4];
  tl_use_case_weights(s->use_case, w);
  p->score = w[0] * p->score_quality + w[1] * p->score_speed + w[2] * p->score_fit + w[3] * p->score_context;
  if (!p->fits)
    p->score *= 0.25; /* a plan that does not fit ranks below every one that does */
}
