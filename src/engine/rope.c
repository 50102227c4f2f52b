/* Rotary position embedding (Su et al., "RoFormer", 2021): the per-pair
 * frequency table, built once from the GGUF hyperparameters, and the
 * rotation of a batch of heads. Both pairings (normal: adjacent elements, as
 * llama; NeoX: the two halves, as qwen2/3) and the context-extension schemes
 * llama.cpp reads from GGUF: linear interpolation, YaRN (Peng et al. 2023,
 * with ggml's correction-dimension ramp), Llama 3 frequency smoothing (Meta's
 * reference `apply_scaling`) and per-pair divisors from a rope_freqs tensor. */
#include <math.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "engine/engine-int.h"

#define ROPE_MAX_PAIRS 512

/* ggml_rope_yarn_corr_dim: the dimension whose wavelength makes n_rot_turns
 * turns over the original context. */
static double yarn_corr_dim(uint32_t n_dims, uint32_t n_ctx_orig, double turns, double base)
{
  return n_dims * log(n_ctx_orig / (turns * 2 * M_PI)) / (2 * log(base));
}

tl_status tl__rope_init(tl__rope *r, const tl_hparams *hp, const float *rope_freqs, tl_error *err)
{
  uint32_t n_rot = hp->n_rot, pairs = n_rot / 2;
  if (n_rot == 0 || n_rot % 2 || n_rot > hp->head_dim_k || pairs > ROPE_MAX_PAIRS)
    return tl__error_set(err, TL_EFORMAT, "engine: rope dimension count %u is not an even number "
                         "up to the head size %u", n_rot, hp->head_dim_k);
  if (!(hp->rope_theta > 0))
    return tl__error_set(err, TL_EFORMAT, "engine: rope base %g is not positive",
                         (double)hp->rope_theta);
  r->style = hp->rope_type;
  r->n_rot = n_rot;
  r->mscale = 1.0f;
  r->freq = tl__malloc_array(pairs, sizeof *r->freq);
  if (!r->freq)
    return tl__error_set(err, TL_ENOMEM, "engine: out of memory for the rope table");

  double factor = hp->rope_scale_factor > 0 ? hp->rope_scale_factor : 1.0;
  uint32_t orig = hp->rope_orig_ctx ? hp->rope_orig_ctx : hp->n_ctx_train;
  double lo_dim = 0, hi_dim = 0;
  if (hp->rope_scaling == TL_ROPE_SCALING_YARN) {
    double beta_fast = hp->yarn_beta_fast > 0 ? hp->yarn_beta_fast : 32.0;
    double beta_slow = hp->yarn_beta_slow > 0 ? hp->yarn_beta_slow : 1.0;
    lo_dim = floor(yarn_corr_dim(n_rot, orig, beta_fast, hp->rope_theta));
    hi_dim = ceil(yarn_corr_dim(n_rot, orig, beta_slow, hp->rope_theta));
    lo_dim = lo_dim < 0 ? 0 : lo_dim;
    hi_dim = hi_dim > n_rot - 1 ? n_rot - 1 : hi_dim;
    double attn = hp->yarn_attn_factor > 0 ? hp->yarn_attn_factor : 1.0;
    r->mscale = (float)(attn * (1.0 + 0.1 * log(factor)));
  }

  for (uint32_t i = 0; i < pairs; i++) {
    double f = pow(hp->rope_theta, -2.0 * i / n_rot);
    switch (hp->rope_scaling) {
    case TL_ROPE_SCALING_LINEAR:
      f /= factor;
      break;
    case TL_ROPE_SCALING_YARN: {
      /* ggml: theta = interp * (1 - mix) + extrap * mix, with mix the ramp
       * between the correction dims; linear in the position, so folded here. */
      double y = (i - lo_dim) / fmax(0.001, hi_dim - lo_dim);
      double mix = 1.0 - fmin(1.0, fmax(0.0, y));
      f = f / factor * (1.0 - mix) + f * mix;
      break;
    }
    case TL_ROPE_SCALING_LLAMA3: {
      double lo = hp->rope_low_freq_factor > 0 ? hp->rope_low_freq_factor : 1.0;
      double hi = hp->rope_high_freq_factor > 0 ? hp->rope_high_freq_factor : 4.0;
      double wavelen = 2 * M_PI / f;
      if (wavelen > orig / lo) {
        f /= factor;
      } else if (wavelen >= orig / hi) {
        double smooth = (orig / wavelen - lo) / (hi - lo);
        f = (1 - smooth) * f / factor + smooth * f;
      }
      break;
    }
    default:
      break;
    }
    if (rope_freqs && hp->rope_scaling != TL_ROPE_SCALING_LLAMA3)
      f /= rope_freqs[i];
    r->freq[i] = f;
  }
  return TL_OK;
}

void tl__rope_deinit(tl__rope *r)
{
  tl__free(r->freq);
  r->freq = NULL;
}

void tl__rope_apply(const tl__rope *r, float *x, uint32_t m, uint32_t n_head, uint32_t head_dim,
                    const int32_t *pos)
{
  uint32_t pairs = r->n_rot / 2;
  float cs[ROPE_MAX_PAIRS], sn[ROPE_MAX_PAIRS];
  for (uint32_t t = 0; t < m; t++) {
    for (uint32_t i = 0; i < pairs; i++) {
      double a = (double)pos[t] * r->freq[i];
      cs[i] = (float)cos(a) * r->mscale;
      sn[i] = (float)sin(a) * r->mscale;
    }
    for (uint32_t h = 0; h < n_head; h++) {
      float *v = x + ((size_t)t * n_head + h) * head_dim;
      /* normal pairs (2i, 2i+1); NeoX pairs (i, i + n_rot/2) */
      uint32_t stride = r->style == TL_ROPE_NEOX ? 1 : 2, other = r->style == TL_ROPE_NEOX ? pairs : 1;
      for (uint32_t i = 0; i < pairs; i++) {
        float *a = v + i * stride, *b = a + other;
        float x0 = *a, x1 = *b;
        *a = x0 * cs[i] - x1 * sn[i];
        *b = x0 * sn[i] + x1 * cs[i];
      }
    }
  }
}
