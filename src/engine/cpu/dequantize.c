/* Dequantization of one row of any CPU-handled type to floats (scalar; used
 * by tests, by embedding lookups and by the float reference of matmul). The
 * bit layouts are documented in src/engine/quant-blocks.h. */
#include "engine/cpu/internal.h"

static void dequant_q8_0(const tl__block_q8_0 *x, float *y, int64_t nb)
{
  for (int64_t b = 0; b < nb; b++, y += TL_QK8_0) {
    const float d = tl__fp16_to_f32(x[b].d);
    for (int j = 0; j < TL_QK8_0; j++)
      y[j] = d * x[b].qs[j];
  }
}

static void dequant_q4_0(const tl__block_q4_0 *x, float *y, int64_t nb)
{
  for (int64_t b = 0; b < nb; b++, y += TL_QK4_0) {
    const float d = tl__fp16_to_f32(x[b].d);
    for (int j = 0; j < TL_QK4_0 / 2; j++) {
      y[j] = d * ((x[b].qs[j] & 0xF) - 8);
      y[j + TL_QK4_0 / 2] = d * ((x[b].qs[j] >> 4) - 8);
    }
  }
}

static void dequant_q4_K(const tl__block_q4_K *x, float *y, int64_t nb)
{
  for (int64_t b = 0; b < nb; b++) {
    const float d = tl__fp16_to_f32(x[b].d), dmin = tl__fp16_to_f32(x[b].dmin);
    const uint8_t *q = x[b].qs;
    for (int c = 0; c < 4; c++, q += 32) {
      uint8_t sc, m;
      tl__kquant_scale_min(2 * c, x[b].scales, &sc, &m);
      const float d1 = d * sc, m1 = dmin * m;
      tl__kquant_scale_min(2 * c + 1, x[b].scales, &sc, &m);
      const float d2 = d * sc, m2 = dmin * m;
      for (int l = 0; l < 32; l++)
        *y++ = d1 * (q[l] & 0xF) - m1;
      for (int l = 0; l < 32; l++)
        *y++ = d2 * (q[l] >> 4) - m2;
    }
  }
}

static void dequant_q5_K(const tl__block_q5_K *x, float *y, int64_t nb)
{
  for (int64_t b = 0; b < nb; b++) {
    const float d = tl__fp16_to_f32(x[b].d), dmin = tl__fp16_to_f32(x[b].dmin);
    const uint8_t *ql = x[b].qs, *qh = x[b].qh;
    for (int c = 0; c < 4; c++, ql += 32) {
      uint8_t sc, m;
      tl__kquant_scale_min(2 * c, x[b].scales, &sc, &m);
      const float d1 = d * sc, m1 = dmin * m;
      tl__kquant_scale_min(2 * c + 1, x[b].scales, &sc, &m);
      const float d2 = d * sc, m2 = dmin * m;
      const uint8_t u1 = (uint8_t)(1u << (2 * c)), u2 = (uint8_t)(2u << (2 * c));
      for (int l = 0; l < 32; l++)
        *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
      for (int l = 0; l < 32; l++)
        *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
    }
  }
}

static void dequant_q6_K(const tl__block_q6_K *x, float *y, int64_t nb)
{
  for (int64_t b = 0; b < nb; b++) {
    const float d = tl__fp16_to_f32(x[b].d);
    const uint8_t *ql = x[b].ql, *qh = x[b].qh;
    const int8_t *sc = x[b].scales;
    for (int h = 0; h < 2; h++, y += 128, ql += 64, qh += 32, sc += 8) {
      for (int l = 0; l < 32; l++) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * sc[is + 0] * q1;
        y[l + 32] = d * sc[is + 2] * q2;
        y[l + 64] = d * sc[is + 4] * q3;
        y[l + 96] = d * sc[is + 6] * q4;
      }
    }
  }
}

static void dequant_q8_K(const tl__block_q8_K *x, float *y, int64_t nb)
{
  for (int64_t b = 0; b < nb; b++, y += TL_QK_K)
    for (int j = 0; j < TL_QK_K; j++)
      y[j] = x[b].d * x[b].qs[j];
}

void tl__dequantize_row(tl_qtype t, const void *src, float *dst, int64_t n)
{
  switch (t) {
  case TL_QTYPE_F32:
    memcpy(dst, src, (size_t)n * sizeof(float));
    break;
  case TL_QTYPE_F16:
    for (int64_t i = 0; i < n; i++)
      dst[i] = tl__fp16_to_f32(((const tl__fp16 *)src)[i]);
    break;
  case TL_QTYPE_BF16:
    for (int64_t i = 0; i < n; i++)
      dst[i] = tl__bf16_to_f32(((const tl__bf16 *)src)[i]);
    break;
  case TL_QTYPE_Q8_0:
    dequant_q8_0(src, dst, n / TL_QK8_0);
    break;
  case TL_QTYPE_Q4_0:
    dequant_q4_0(src, dst, n / TL_QK4_0);
    break;
  case TL_QTYPE_Q4_K:
    dequant_q4_K(src, dst, n / TL_QK_K);
    break;
  case TL_QTYPE_Q5_K:
    dequant_q5_K(src, dst, n / TL_QK_K);
    break;
  case TL_QTYPE_Q6_K:
    dequant_q6_K(src, dst, n / TL_QK_K);
    break;
  case TL_QTYPE_Q8_K:
    dequant_q8_K(src, dst, n / TL_QK_K);
    break;
  default:
    break; /* not a CPU type: callers check tl__qtype_traits_get first */
  }
}
