/* tune: one plan per quantization candidate of one model, a quality tier and
 * fit status for each, and the recommendation: the first of the profile's
 * preferred list that fits entirely (on GPU, or on a machine without one),
 * else the first of that list that fits as a hybrid, else any that fits. The plans themselves come from
 * tl_plan_estimate on the model re-typed to each candidate, so tune shows
 * exactly the figures fit shows for the same inputs. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "internal.h"
#include "tailor/quant.h"

static const char *const profile_names[] = {"balanced", "quality", "fast"};
static const char *const tier_names[] = {"Baseline", "NearLossless", "Good", "Acceptable", "Degraded"};
static const char *const status_names[] = {"Fits", "Hybrid", "TooLarge"};

tl_status tl_tune_profile_parse(const char *s, tl_tune_profile *out)
{
  for (size_t i = 0; s && i < 3; i++)
    if (strcasecmp(s, profile_names[i]) == 0) {
      *out = (tl_tune_profile)i;
      return TL_OK;
    }
  return TL_EINVAL;
}

const char *tl_tune_profile_name(tl_tune_profile p) { return (unsigned)p < 3 ? profile_names[p] : "unknown"; }
const char *tl_quality_tier_name(tl_quality_tier t) { return (unsigned)t < 5 ? tier_names[t] : "unknown"; }
const char *tl_tune_status_name(tl_tune_status s) { return (unsigned)s < 3 ? status_names[s] : "unknown"; }

tl_quality_tier tl_ftype_quality_tier(tl_ftype f)
{
  switch (f) {
  case TL_FTYPE_ALL_F32: case TL_FTYPE_F16: case TL_FTYPE_BF16:
    return TL_TIER_BASELINE;
  case TL_FTYPE_Q8_0: case TL_FTYPE_Q6_K:
    return TL_TIER_NEAR_LOSSLESS;
  case TL_FTYPE_Q5_K_M: case TL_FTYPE_Q5_K_S: case TL_FTYPE_Q5_0: case TL_FTYPE_Q5_1:
  case TL_FTYPE_Q4_K_M: case TL_FTYPE_Q4_K_S: case TL_FTYPE_Q4_0: case TL_FTYPE_Q4_1:
  case TL_FTYPE_IQ4_XS: case TL_FTYPE_IQ4_NL: case TL_FTYPE_MXFP4_MOE:
    return TL_TIER_GOOD;
  case TL_FTYPE_Q3_K_S: case TL_FTYPE_Q3_K_M: case TL_FTYPE_Q3_K_L: case TL_FTYPE_IQ3_XS:
  case TL_FTYPE_IQ3_XXS: case TL_FTYPE_IQ3_S: case TL_FTYPE_IQ3_M:
    return TL_TIER_ACCEPTABLE;
  default:
    return TL_TIER_DEGRADED;
  }
}

static bool is_apple(const tl_hw *hw)
{
  for (size_t i = 0; i < hw->n_gpus; i++)
    if (hw->gpus[i].vendor == TL_GPU_APPLE)
      return true;
  return false;
}

size_t tl_tune_ftypes(const tl_hw *hw, tl_ftype *out, size_t max)
{
  /* Apple: the 8/6/4/3/2-bit ladder (MLX-style bit widths map to these mixtures) */
  static const tl_ftype general[] = {TL_FTYPE_BF16, TL_FTYPE_Q8_0, TL_FTYPE_Q6_K, TL_FTYPE_Q5_K_M,
                                     TL_FTYPE_Q4_K_M, TL_FTYPE_Q3_K_M, TL_FTYPE_Q2_K};
  static const tl_ftype apple[] = {TL_FTYPE_BF16, TL_FTYPE_Q8_0, TL_FTYPE_Q6_K, TL_FTYPE_Q4_K_M,
                                   TL_FTYPE_Q3_K_M, TL_FTYPE_Q2_K};
  const tl_ftype *src = hw && is_apple(hw) ? apple : general;
  size_t n = hw && is_apple(hw) ? sizeof apple / sizeof apple[0] : sizeof general / sizeof general[0];
  size_t k = 0;
  for (; k < n && k < max; k++)
    out[k] = src[k];
  return k;
}

/* Preferred order per profile. */
static const tl_ftype pref_balanced[] = {TL_FTYPE_Q4_K_M, TL_FTYPE_Q5_K_M, TL_FTYPE_Q6_K, TL_FTYPE_Q3_K_M,
                                         TL_FTYPE_Q8_0, TL_FTYPE_Q2_K, TL_FTYPE_BF16};
static const tl_ftype pref_quality[] = {TL_FTYPE_BF16, TL_FTYPE_F16, TL_FTYPE_Q8_0, TL_FTYPE_Q6_K,
                                        TL_FTYPE_Q5_K_M, TL_FTYPE_Q4_K_M, TL_FTYPE_Q3_K_M, TL_FTYPE_Q2_K};
static const tl_ftype pref_fast[] = {TL_FTYPE_Q4_K_M, TL_FTYPE_Q3_K_M, TL_FTYPE_Q5_K_M, TL_FTYPE_Q2_K,
                                     TL_FTYPE_Q6_K, TL_FTYPE_Q8_0, TL_FTYPE_BF16};

void tl_tune_choose(tl_tune_result *r, tl_tune_profile profile, tl_ftype forced)
{
  r->recommended = -1;
  for (size_t i = 0; i < r->n_candidates; i++) {
    tl_tune_candidate *c = &r->candidates[i];
    c->tier = tl_ftype_quality_tier(c->ftype);
    c->recommended = false;
    c->weight_bytes = c->plan.bytes[TL_MEM_WEIGHTS];
    if (!c->plan.fits)
      c->status = TL_TUNE_TOO_LARGE;
    else if (c->plan.mode == TL_RUN_GPU || (c->plan.mode == TL_RUN_CPU_ONLY && c->plan.n_devices == 1))
      c->status = TL_TUNE_FITS;
    else
      c->status = TL_TUNE_HYBRID;
  }
  if ((int)forced >= 0) {
    for (size_t i = 0; i < r->n_candidates; i++)
      if (r->candidates[i].ftype == forced && r->candidates[i].plan.fits) {
        r->recommended = (int)i;
        break;
      }
  } else {
    const tl_ftype *pref = profile == TL_PROFILE_QUALITY ? pref_quality : profile == TL_PROFILE_FAST ? pref_fast : pref_balanced;
    size_t np = profile == TL_PROFILE_QUALITY ? sizeof pref_quality / sizeof pref_quality[0]
                : profile == TL_PROFILE_FAST ? sizeof pref_fast / sizeof pref_fast[0]
                                             : sizeof pref_balanced / sizeof pref_balanced[0];
    /* first pass: entirely on the GPU (or a CPU-only machine); second pass:
     * hybrids, still in the profile's order; last: anything that fits */
    for (int pass = 0; pass < 2 && r->recommended < 0; pass++)
      for (size_t k = 0; k < np && r->recommended < 0; k++)
        for (size_t i = 0; i < r->n_candidates; i++)
          if (r->candidates[i].ftype == pref[k] && r->candidates[i].plan.fits &&
              (pass == 1 || r->candidates[i].status == TL_TUNE_FITS)) {
            r->recommended = (int)i;
            break;
          }
    for (size_t i = 0; i < r->n_candidates && r->recommended < 0; i++)
      if (r->candidates[i].plan.fits)
        r->recommended = (int)i;
  }
  if (r->recommended >= 0)
    r->candidates[r->recommended].recommended = true;
}

/* m re-typed to ftype: the registry's tensors for m's hyperparameters under
 * the mixture rule (tl_model_desc_from_hparams, the way the model area
 * predicts every mixture), keeping m's name, source, license and catalog id. */
tl_status tl__desc_retype(const tl_model_desc *m, tl_ftype ftype, tl_model_desc **out, tl_error *err)
{
  tl_model_desc *d = NULL;
  tl_status st = tl_model_desc_from_hparams(&m->hp, ftype, &d, err);
  if (st != TL_OK)
    return st;
  d->source_kind = m->source_kind;
  snprintf(d->source, sizeof d->source, "%s", m->source);
  snprintf(d->name, sizeof d->name, "%s", m->name);
  snprintf(d->license, sizeof d->license, "%s", m->license);
  snprintf(d->catalog_id, sizeof d->catalog_id, "%s", m->catalog_id);
  d->has_chat_template = m->has_chat_template;
  d->has_tokenizer = m->has_tokenizer;
  *out = d;
  return TL_OK;
}

static void label_of(const tl_hw *hw, tl_ftype f, char *buf, size_t n)
{
  if (hw && is_apple(hw)) {
    const char *bits = NULL;
    switch (f) {
    case TL_FTYPE_Q8_0: bits = "8-bit"; break;
    case TL_FTYPE_Q6_K: bits = "6-bit"; break;
    case TL_FTYPE_Q4_K_M: bits = "4-bit"; break;
    case TL_FTYPE_Q3_K_M: bits = "3-bit"; break;
    case TL_FTYPE_Q2_K: bits = "2-bit"; break;
    default: break;
    }
    if (bits) {
      snprintf(buf, n, "%s", bits);
      return;
    }
  }
  snprintf(buf, n, "%s", tl_ftype_name(f));
}

/* A GGUF file of that mixture is planned as it is; a catalog prediction or
 * a Hugging Face directory is re-typed, exactly as fit re-types it. */
static bool own_mixture(const tl_model_desc *m, tl_ftype f)
{
  return m->source_kind == TL_SOURCE_GGUF && m->ftype_known && m->ftype == f && m->n_tensors > 0;
}

/* One command per runtime for the recommended mixture, each from that
 * runtime's own plan at the asked context, or the largest that fits. */
static tl_status fill_commands(const tl_model_desc *m, const tl_hw *hw, const tl_plan_settings *s,
                               tl_tune_result *out, tl_error *err)
{
  const tl_tune_candidate *c = &out->candidates[out->recommended];
  tl_model_desc *d = NULL;
  const tl_model_desc *use = m;
  if (!own_mixture(m, c->ftype)) {
    tl_status st = tl__desc_retype(m, c->ftype, &d, err);
    if (st != TL_OK)
      return st;
    use = d;
  }
  tl_plan *p = tl__malloc(sizeof *p);
  if (!p) {
    tl_model_desc_free(d);
    return tl__error_set(err, TL_ENOMEM, "tune: out of memory");
  }
  tl_status st = TL_OK;
  for (int k = 0; k < TL_RUNTIME_COUNT && st == TL_OK; k++) {
    tl_plan_settings sk;
    if (s)
      sk = *s;
    else
      tl_plan_settings_init(&sk);
    sk.runtime = (tl_runtime)k;
    if (k == TL_RUNTIME_VLLM) {
      sk.n_gpu_layers = -1;
      sk.mode = -1;
    }
    st = tl_plan_estimate(use, hw, &sk, p, err);
    if (st == TL_OK && !p->fits && p->n_ctx_max > 0) {
      sk.n_ctx = p->n_ctx_max;
      st = tl_plan_estimate(use, hw, &sk, p, err);
    }
    if (st == TL_OK && p->fits)
      st = tl_plan_command(p, use, m->source, out->commands[k], sizeof out->commands[k], err);
  }
  tl__free(p);
  tl_model_desc_free(d);
  return st;
}

tl_status tl_tune_model(const tl_model_desc *m, const tl_hw *hw, const tl_plan_settings *s,
                        tl_tune_profile profile, tl_ftype forced, tl_tune_result *out, tl_error *err)
{
  if (!m || !hw || !out)
    return tl__error_set(err, TL_EINVAL, "tune: NULL argument");
  tl_ftype ft[TL_TUNE_MAX_CANDIDATES];
  size_t n = tl_tune_ftypes(hw, ft, TL_TUNE_MAX_CANDIDATES - 1);
  if ((int)forced >= 0) {
    bool present = false;
    for (size_t i = 0; i < n; i++)
      present |= ft[i] == forced;
    if (!present)
      ft[n++] = forced;
  }
  memset(out, 0, sizeof *out);
  out->recommended = -1;
  tl_status last = TL_OK;
  tl_error last_err = {0};
  for (size_t i = 0; i < n; i++) {
    tl_model_desc *d = NULL;
    const tl_model_desc *use = m;
    if (!own_mixture(m, ft[i])) {
      tl_status st = tl__desc_retype(m, ft[i], &d, &last_err);
      if (st == TL_ENOMEM)
        return tl__error_set(err, st, "tune: out of memory");
      if (st != TL_OK) {
        last = st;
        continue;
      }
      use = d;
    }
    tl_tune_candidate *c = &out->candidates[out->n_candidates];
    memset(c, 0, sizeof *c);
    c->ftype = ft[i];
    label_of(hw, ft[i], c->label, sizeof c->label);
    tl_fit_row row;
    tl_status st = tl_fit_model(use, hw, s, &row, &last_err);
    tl_model_desc_free(d);
    if (st == TL_ENOMEM)
      return tl__error_set(err, st, "tune: out of memory");
    if (st != TL_OK) {
      last = st;
      continue;
    }
    c->plan = row.plan;
    c->ctx_is_model_max = m->hp.n_ctx_train && c->plan.n_ctx_max >= m->hp.n_ctx_train;
    out->n_candidates++;
  }
  if (out->n_candidates == 0)
    return tl__error_set(err, last != TL_OK ? last : TL_EINVAL, "tune: no candidate could be planned: %s",
                         last_err.message);
  tl_tune_choose(out, profile, forced);
  if (out->recommended >= 0)
    return fill_commands(m, hw, s, out, err);
  return TL_OK;
}
