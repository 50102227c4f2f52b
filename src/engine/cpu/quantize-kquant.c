/* Reference quantizers of the K-quant super-block formats: Q4_K and Q5_K
 * (per 32-element sub-block a scale and a min found by a weighted
 * least-squares search over candidate scales), Q6_K (per 16-element sub-block
 * a signed scale found by a search around the absolute maximum) and Q8_K
 * (activations). The search rules and constants are those of GGML's
 * make_qkx2_quants / make_qx_quants (ggml-quants.c) without an importance
 * matrix, so results match llama.cpp's reference quantization. */
#include "engine/cpu/internal.h"

#define GROUP_MAX_EPS 1e-15f /* GGML: below this a group is all zero */

static inline int clampi(int v, int lo, int hi)
{
  return v < lo ? lo : v > hi ? hi : v;
}

/* Quantizes x[0..n-1] to L in 0..nmax as x ~ scale*L - min (min >= 0 is
 * returned in *the_min) minimising sum w*(err)^2; tries nstep+1 scales
 * around nmax/(max-min) offset by rmin + rdelta*i. Returns the scale. */
static float make_qkx2_quants(int n, int nmax, const float *x, const float *weights, uint8_t *L,
                              float *the_min, uint8_t *Laux, float rmin, float rdelta, int nstep)
{
  float min = x[0], max = x[0];
  float sum_w = weights[0], sum_x = sum_w * x[0];
  for (int i = 1; i < n; i++) {
    if (x[i] < min)
      min = x[i];
    if (x[i] > max)
      max = x[i];
    sum_w += weights[i];
    sum_x += weights[i] * x[i];
  }
  if (min > 0)
    min = 0;
  if (max == min) {
    for (int i = 0; i < n; i++)
      L[i] = 0;
    *the_min = -min;
    return 0.0f;
  }
  float iscale = nmax / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; i++) {
    int l = clampi(tl__nearest_int(iscale * (x[i] - min)), 0, nmax);
    L[i] = (uint8_t)l;
    float diff = scale * L[i] + min - x[i];
    best_error += weights[i] * diff * diff;
  }
  for (int is = 0; is <= nstep; is++) {
    iscale = (rmin + rdelta * is + nmax) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; i++) {
      int l = clampi(tl__nearest_int(iscale * (x[i] - min)), 0, nmax);
      Laux[i] = (uint8_t)l;
      float w = weights[i];
      sum_l += w * l;
      sum_l2 += w * l * l;
      sum_xl += w * l * x[i];
    }
    float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float cur_error = 0;
      for (int i = 0; i < n; i++) {
        float diff = this_scale * Laux[i] + this_min - x[i];
        cur_error += weights[i] * diff * diff;
      }
      if (cur_error < best_error) {
        memcpy(L, Laux, (size_t)n);
        best_error = cur_error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

/* Symmetric quantization of x to L in 0..2*nmax-1 (value L - nmax) with
 * weights x^2, trying 18 scales around -nmax/max. Returns the scale. */
static float make_qx_quants(int n, int nmax, const float *x, int8_t *L)
{
  float max = 0, amax = 0;
  for (int i = 0; i < n; i++) {
    float ax = fabsf(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < GROUP_MAX_EPS) {
    for (int i = 0; i < n; i++)
      L[i] = 0;
    return 0.0f;
  }
  float iscale = -nmax / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; i++) {
    int l = clampi(tl__nearest_int(iscale * x[i]), -nmax, nmax - 1);
    L[i] = (int8_t)(l + nmax);
    float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; is++) {
    if (is == 0)
      continue;
    iscale = -(nmax + 0.1f * is) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; i++) {
      int l = clampi(tl__nearest_int(iscale * x[i]), -nmax, nmax - 1);
      float w = x[i] * x[i];
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; i++) {
        int l = clampi(tl__nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)(nmax + l);
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

/* Scale/min search of the eight 32-element sub-blocks of a Q4_K/Q5_K
 * super-block; writes d, dmin and the packed 6-bit scales/mins, and the
 * final quants L (0..nmax) recomputed with the stored (rounded) scales. */
static void kquant_scales_mins(const float *x, int nmax, float rmin, int nstep, tl__fp16 *d_out,
                               tl__fp16 *dmin_out, uint8_t *packed, uint8_t *L)
{
  float scales[TL_QK_K / 32], mins[TL_QK_K / 32], weights[32];
  uint8_t Laux[32];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < TL_QK_K / 32; j++) {
    const float *xs = x + 32 * j;
    float sum_x2 = 0;
    for (int l = 0; l < 32; l++)
      sum_x2 += xs[l] * xs[l];
    float av_x = sqrtf(sum_x2 / 32);
    for (int l = 0; l < 32; l++)
      weights[l] = av_x + fabsf(xs[l]);
    scales[j] = make_qkx2_quants(32, nmax, xs, weights, L + 32 * j, &mins[j], Laux, rmin, 0.1f, nstep);
    if (scales[j] > max_scale)
      max_scale = scales[j];
    if (mins[j] > max_min)
      max_min = mins[j];
  }
  float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  memset(packed, 0, TL_K_SCALE_SIZE);
  for (int j = 0; j < TL_QK_K / 32; j++) {
    int ls = tl__nearest_int(inv_scale * scales[j]);
    int lm = tl__nearest_int(inv_min * mins[j]);
    ls = ls < 63 ? ls : 63;
    lm = lm < 63 ? lm : 63;
    if (j < 4) {
      packed[j] = (uint8_t)ls;
      packed[j + 4] = (uint8_t)lm;
    } else {
      packed[j + 4] = (uint8_t)((ls & 0xF) | ((lm & 0xF) << 4));
      packed[j - 4] |= (uint8_t)((ls >> 4) << 6);
      packed[j] |= (uint8_t)((lm >> 4) << 6);
    }
  }
  *d_out = tl__f32_to_fp16(max_scale / 63.f);
  *dmin_out = tl__f32_to_fp16(max_min / 63.f);
  const float d = tl__fp16_to_f32(*d_out), dmin = tl__fp16_to_f32(*dmin_out);
  for (int j = 0; j < TL_QK_K / 32; j++) {
    uint8_t sc, m;
    tl__kquant_scale_min(j, packed, &sc, &m);
    const float ds = d * sc;
    if (ds == 0.0f)
      continue;
    const float dm = dmin * m;
    for (int ii = 0; ii < 32; ii++)
      L[32 * j + ii] = (uint8_t)clampi(tl__nearest_int((x[32 * j + ii] + dm) / ds), 0, nmax);
  }
}

void tl__quantize_q4_K_ref(const float *x, void *dst, int64_t n)
{
  tl__block_q4_K *y = dst;
  uint8_t L[TL_QK_K];
  for (int64_t b = 0; b < n / TL_QK_K; b++, x += TL_QK_K) {
    kquant_scales_mins(x, 15, -1.0f, 20, &y[b].d, &y[b].dmin, y[b].scales, L);
    uint8_t *q = y[b].qs;
    for (int j = 0; j < TL_QK_K; j += 64, q += 32)
      for (int l = 0; l < 32; l++)
        q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
  }
}

void tl__quantize_q5_K_ref(const float *x, void *dst, int64_t n)
{
  tl__block_q5_K *y = dst;
  uint8_t L[TL_QK_K];
  for (int64_t b = 0; b < n / TL_QK_K; b++, x += TL_QK_K) {
    kquant_scales_mins(x, 31, -0.5f, 15, &y[b].d, &y[b].dmin, y[b].scales, L);
    uint8_t *qh = y[b].qh, *ql = y[b].qs;
    memset(qh, 0, sizeof y[b].qh);
    uint8_t m1 = 1, m2 = 2;
    for (int c = 0; c < TL_QK_K; c += 64, ql += 32) {
      for (int j = 0; j < 32; j++) {
        int l1 = L[c + j], l2 = L[c + j + 32];
        if (l1 > 15) {
          l1 -= 16;
          qh[j] |= m1;
        }
        if (l2 > 15) {
          l2 -= 16;
          qh[j] |= m2;
        }
        ql[j] = (uint8_t)(l1 | (l2 << 4));
      }
      m1 = (uint8_t)(m1 << 2);
      m2 = (uint8_t)(m2 << 2);
    }
  }
}

void tl__quantize_q6_K_ref(const float *x, void *dst, int64_t n)
{
  tl__block_q6_K *y = dst;
  int8_t L[TL_QK_K];
  float scales[TL_QK_K / 16];
  for (int64_t b = 0; b < n / TL_QK_K; b++, x += TL_QK_K) {
    float max_scale = 0, max_abs_scale = 0;
    for (int ib = 0; ib < TL_QK_K / 16; ib++) {
      scales[ib] = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib);
      float abs_scale = fabsf(scales[ib]);
      if (abs_scale > max_abs_scale) {
        max_abs_scale = abs_scale;
        max_scale = scales[ib];
      }
    }
    if (max_abs_scale < GROUP_MAX_EPS) {
      memset(&y[b], 0, sizeof y[b]);
      continue;
    }
    float iscale = -128.f / max_scale;
    y[b].d = tl__f32_to_fp16(1 / iscale);
    for (int ib = 0; ib < TL_QK_K / 16; ib++) {
      int v = tl__nearest_int(iscale * scales[ib]);
      y[b].scales[ib] = (int8_t)(v < 127 ? v : 127);
    }
    const float d0 = tl__fp16_to_f32(y[b].d);
    for (int j = 0; j < TL_QK_K / 16; j++) {
      const float d = d0 * y[b].scales[j];
      if (d == 0.0f)
        continue;
      for (int ii = 0; ii < 16; ii++)
        L[16 * j + ii] = (int8_t)(clampi(tl__nearest_int(x[16 * j + ii] / d), -32, 31) + 32);
    }
    uint8_t *ql = y[b].ql, *qh = y[b].qh;
    for (int j = 0; j < TL_QK_K; j += 128, ql += 64, qh += 32) {
      for (int l = 0; l < 32; l++) {
        const int q1 = L[j + l] & 0xF, q2 = L[j + l + 32] & 0xF;
        const int q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
        ql[l] = (uint8_t)(q1 | (q3 << 4));
        ql[l + 32] = (uint8_t)(q2 | (q4 << 4));
        qh[l] = (uint8_t)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) |
                          ((L[j + l + 96] >> 4) << 6));
      }
    }
  }
}

void tl__quantize_q8_K_ref(const float *x, void *dst, int64_t n)
{
  tl__block_q8_K *y = dst;
  for (int64_t b = 0; b < n / TL_QK_K; b++, x += TL_QK_K) {
    float max = 0, amax = 0;
    for (int j = 0; j < TL_QK_K; j++) {
      float ax = fabsf(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (amax == 0.0f) {
      memset(&y[b], 0, sizeof y[b]);
      continue;
    }
    /* the signed extreme maps to -127; the opposite side may reach 128, clipped */
    const float iscale = -127.f / max;
    for (int j = 0; j < TL_QK_K; j++) {
      int v = tl__nearest_int(iscale * x[j]);
      y[b].qs[j] = (int8_t)(v < 127 ? v : 127);
    }
    for (int j = 0; j < TL_QK_K / 16; j++) {
      int sum = 0;
      for (int ii = 0; ii < 16; ii++)
        sum += y[b].qs[j * 16 + ii];
      y[b].bsums[j] = (int16_t)sum;
    }
    y[b].d = 1 / iscale;
  }
}
