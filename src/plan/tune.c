/* tune: one plan per quantization candidate of one model, a quality tier and
 * fit status for each, and the recommendation: the first of the profile's
 * preferred list that fits entirely (on GPU, or on a machine without one),
 * else the first that fits at all. The plans themselves come from
 * tl_plan_estimate on the model re-typed to each candidate, so tune shows
 * exactly the figures fit shows for the same inputs. */
#include <string.h>
#include <strings.h>

#include "internal.h"

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
    for (size_t k = 0; k < np && r->recommended < 0; k++)
      for (size_t i = 0; i < r->n_candidates; i++)
        if (r->candidates[i].ftype == pref[k] && r->candidates[i].status == TL_TUNE_FITS) {
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
