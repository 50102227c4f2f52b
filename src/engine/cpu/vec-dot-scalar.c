/* Scalar dot products of a weight row with a quantized activation row, one
 * per weight type: the reference every SIMD kernel is compared with. Integer
 * sums per (sub-)block, scaled in float. Weight/activation pairs:
 * F32.F32, F16.F32, BF16.BF16, Q8_0.Q8_0, Q4_0.Q8_0, Q4_K/Q5_K/Q6_K.Q8_K. */
#include "engine/cpu/internal.h"

float tl__dot_f32_scalar(int64_t n, const void *w, const void *x)
{
  const float *a = w, *b = x;
  double s = 0; /* reference: accumulate in double */
  for (int64_t i = 0; i < n; i++)
    s += (double)a[i] * b[i];
  return (float)s;
}

float tl__dot_f16_scalar(int64_t n, const void *w, const void *x)
{
  const tl__fp16 *a = w;
  const float *b = x;
  double s = 0;
  for (int64_t i = 0; i < n; i++)
    s += (double)tl__fp16_to_f32(a[i]) * b[i];
  return (float)s;
}

float tl__dot_bf16_scalar(int64_t n, const void *w, const void *x)
{
  const tl__bf16 *a = w, *b = x;
  double s = 0;
  for (int64_t i = 0; i < n; i++)
    s += (double)tl__bf16_to_f32(a[i]) * tl__bf16_to_f32(b[i]);
  return (float)s;
}

float tl__dot_q8_0_scalar(int64_t n, const void *w, const void *x)
{
  const tl__block_q8_0 *a = w, *b = x;
  float s = 0;
  for (int64_t i = 0; i < n / TL_QK8_0; i++) {
    int sum = 0;
    for (int j = 0; j < TL_QK8_0; j++)
      sum += a[i].qs[j] * b[i].qs[j];
    s += (float)sum * (tl__fp16_to_f32(a[i].d) * tl__fp16_to_f32(b[i].d));
  }
  return s;
}

float tl__dot_q4_0_scalar(int64_t n, const void *w, const void *x)
{
  const tl__block_q4_0 *a = w;
  const tl__block_q8_0 *b = x;
  float s = 0;
  for (int64_t i = 0; i < n / TL_QK4_0; i++) {
    int sum = 0;
    for (int j = 0; j < TL_QK4_0 / 2; j++) {
      sum += ((a[i].qs[j] & 0xF) - 8) * b[i].qs[j];
      sum += ((a[i].qs[j] >> 4) - 8) * b[i].qs[j + TL_QK4_0 / 2];
    }
    s += (float)sum * (tl__fp16_to_f32(a[i].d) * tl__fp16_to_f32(b[i].d));
  }
  return s;
}

float tl__dot_q4_K_scalar(int64_t n, const void *w, const void *x)
{
  const tl__block_q4_K *a = w;
  const tl__block_q8_K *b = x;
  float s = 0;
  for (int64_t i = 0; i < n / TL_QK_K; i++) {
    const uint8_t *q4 = a[i].qs;
    const int8_t *q8 = b[i].qs;
    int sumi = 0, summ = 0;
    for (int c = 0; c < 4; c++, q4 += 32, q8 += 64) {
      uint8_t sc1, m1, sc2, m2;
      tl__kquant_scale_min(2 * c, a[i].scales, &sc1, &m1);
      tl__kquant_scale_min(2 * c + 1, a[i].scales, &sc2, &m2);
      int s1 = 0, s2 = 0;
      for (int l = 0; l < 32; l++) {
        s1 += (q4[l] & 0xF) * q8[l];
        s2 += (q4[l] >> 4) * q8[l + 32];
      }
      sumi += sc1 * s1 + sc2 * s2;
      summ += m1 * (b[i].bsums[4 * c] + b[i].bsums[4 * c + 1]) +
              m2 * (b[i].bsums[4 * c + 2] + b[i].bsums[4 * c + 3]);
    }
    s += b[i].d * (tl__fp16_to_f32(a[i].d) * (float)sumi - tl__fp16_to_f32(a[i].dmin) * (float)summ);
  }
  return s;
}

float tl__dot_q5_K_scalar(int64_t n, const void *w, const void *x)
{
  const tl__block_q5_K *a = w;
  const tl__block_q8_K *b = x;
  float s = 0;
  for (int64_t i = 0; i < n / TL_QK_K; i++) {
    const uint8_t *ql = a[i].qs, *qh = a[i].qh;
    const int8_t *q8 = b[i].qs;
    int sumi = 0, summ = 0;
    for (int c = 0; c < 4; c++, ql += 32, q8 += 64) {
      uint8_t sc1, m1, sc2, m2;
      tl__kquant_scale_min(2 * c, a[i].scales, &sc1, &m1);
      tl__kquant_scale_min(2 * c + 1, a[i].scales, &sc2, &m2);
      int s1 = 0, s2 = 0;
      for (int l = 0; l < 32; l++) {
        s1 += ((ql[l] & 0xF) | (((qh[l] >> (2 * c)) & 1) << 4)) * q8[l];
        s2 += ((ql[l] >> 4) | (((qh[l] >> (2 * c + 1)) & 1) << 4)) * q8[l + 32];
      }
      sumi += sc1 * s1 + sc2 * s2;
      summ += m1 * (b[i].bsums[4 * c] + b[i].bsums[4 * c + 1]) +
              m2 * (b[i].bsums[4 * c + 2] + b[i].bsums[4 * c + 3]);
    }
    s += b[i].d * (tl__fp16_to_f32(a[i].d) * (float)sumi - tl__fp16_to_f32(a[i].dmin) * (float)summ);
  }
  return s;
}

float tl__dot_q6_K_scalar(int64_t n, const void *w, const void *x)
{
  const tl__block_q6_K *a = w;
  const tl__block_q8_K *b = x;
  float s = 0;
  for (int64_t i = 0; i < n / TL_QK_K; i++) {
    const uint8_t *ql = a[i].ql, *qh = a[i].qh;
    const int8_t *q8 = b[i].qs, *sc = a[i].scales;
    int sumi = 0;
    for (int h = 0; h < 2; h++, ql += 64, qh += 32, q8 += 128, sc += 8) {
      int sub[8] = {0};
      for (int l = 0; l < 32; l++) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        sub[is + 0] += q1 * q8[l];
        sub[is + 2] += q2 * q8[l + 32];
        sub[is + 4] += q3 * q8[l + 64];
        sub[is + 6] += q4 * q8[l + 96];
      }
      for (int j = 0; j < 8; j++)
        sumi += sc[j] * sub[j];
    }
    s += b[i].d * tl__fp16_to_f32(a[i].d) * (float)sumi;
  }
  return s;
}
