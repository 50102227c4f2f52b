/* Row quantizers for the conversion: the engine's (tl__quantize_row: F32,
 * F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K) plus Q4_1, Q5_0 and Q5_1, which
 * the mixture rule gives as fallbacks (Q4_K -> Q5_0, Q5_K -> Q5_1 for rows
 * that are not a multiple of 256) and which the engine does not run.
 * Layouts and rounding follow GGML's reference quantizers
 * (ggml-quants.c quantize_row_q4_1_ref / q5_0_ref / q5_1_ref). */
#include <math.h>
#include <string.h>

#include "engine/cpu/kernels.h"
#include "model/convert-int.h"

#define QK 32

/* Q4_1: x = d * q + m, q in 0..15 (20 bytes per 32). */
typedef struct block_q4_1 {
  tl__fp16 d, m;
  uint8_t qs[QK / 2];
} block_q4_1;
/* Q5_0: x = d * (q - 16), q in 0..31; bit 4 of element j in bit j of qh (22 bytes). */
typedef struct block_q5_0 {
  tl__fp16 d;
  uint8_t qh[4];
  uint8_t qs[QK / 2];
} block_q5_0;
/* Q5_1: x = d * q + m, q in 0..31 (24 bytes). */
typedef struct block_q5_1 {
  tl__fp16 d, m;
  uint8_t qh[4];
  uint8_t qs[QK / 2];
} block_q5_1;
TL__STATIC_ASSERT(sizeof(block_q4_1) == 20, "Q4_1 block is 20 bytes");
TL__STATIC_ASSERT(sizeof(block_q5_0) == 22, "Q5_0 block is 22 bytes");
TL__STATIC_ASSERT(sizeof(block_q5_1) == 24, "Q5_1 block is 24 bytes");

static void min_max(const float *x, float *mn, float *mx)
{
  float a = INFINITY, b = -INFINITY;
  for (int j = 0; j < QK; j++) {
    a = x[j] < a ? x[j] : a;
    b = x[j] > b ? x[j] : b;
  }
  *mn = a;
  *mx = b;
}

static void put_qh(uint8_t qh[4], uint32_t v)
{
  for (int i = 0; i < 4; i++)
    qh[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_qh(const uint8_t qh[4])
{
  return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
}

static void q4_1(const float *x, block_q4_1 *y, int64_t nb)
{
  for (int64_t i = 0; i < nb; i++, x += QK) {
    float mn, mx;
    min_max(x, &mn, &mx);
    float d = (mx - mn) / 15, id = d ? 1.0f / d : 0.0f;
    y[i].d = tl__f32_to_fp16(d);
    y[i].m = tl__f32_to_fp16(mn);
    for (int j = 0; j < QK / 2; j++) {
      int a = (int)(int8_t)((x[j] - mn) * id + 0.5f),
          b = (int)(int8_t)((x[QK / 2 + j] - mn) * id + 0.5f);
      a = a > 15 ? 15 : a;
      b = b > 15 ? 15 : b;
      y[i].qs[j] = (uint8_t)(a | b << 4);
    }
  }
}

static void q5_0(const float *x, block_q5_0 *y, int64_t nb)
{
  for (int64_t i = 0; i < nb; i++, x += QK) {
    float amax = 0, max = 0;
    for (int j = 0; j < QK; j++)
      if (fabsf(x[j]) > amax) {
        amax = fabsf(x[j]);
        max = x[j];
      }
    float d = max / -16, id = d ? 1.0f / d : 0.0f;
    y[i].d = tl__f32_to_fp16(d);
    uint32_t qh = 0;
    for (int j = 0; j < QK / 2; j++) {
      int a = (int)(int8_t)(x[j] * id + 16.5f), b = (int)(int8_t)(x[QK / 2 + j] * id + 16.5f);
      a = a > 31 ? 31 : a;
      b = b > 31 ? 31 : b;
      y[i].qs[j] = (uint8_t)((a & 0xf) | (b & 0xf) << 4);
      qh |= (uint32_t)((a & 0x10) >> 4) << j;
      qh |= (uint32_t)((b & 0x10) >> 4) << (j + QK / 2);
    }
    put_qh(y[i].qh, qh);
  }
}

static void q5_1(const float *x, block_q5_1 *y, int64_t nb)
{
  for (int64_t i = 0; i < nb; i++, x += QK) {
    float mn, mx;
    min_max(x, &mn, &mx);
    float d = (mx - mn) / 31, id = d ? 1.0f / d : 0.0f;
    y[i].d = tl__f32_to_fp16(d);
    y[i].m = tl__f32_to_fp16(mn);
    uint32_t qh = 0;
    for (int j = 0; j < QK / 2; j++) {
      int a = (int)(uint8_t)((x[j] - mn) * id + 0.5f),
          b = (int)(uint8_t)((x[QK / 2 + j] - mn) * id + 0.5f);
      y[i].qs[j] = (uint8_t)((a & 0xf) | (b & 0xf) << 4);
      qh |= (uint32_t)((a & 0x10) >> 4) << j;
      qh |= (uint32_t)((b & 0x10) >> 4) << (j + QK / 2);
    }
    put_qh(y[i].qh, qh);
  }
}

bool tl__cv_qtype_supported(tl_qtype t)
{
  switch (t) {
  case TL_QTYPE_Q4_1:
  case TL_QTYPE_Q5_0:
  case TL_QTYPE_Q5_1:
    return true;
  case TL_QTYPE_Q8_K: /* an activation format, never a weight */
    return false;
  default:
    return tl__qtype_traits_get(t) != NULL;
  }
}

size_t tl__cv_quantize_row(tl_qtype t, const float *src, void *dst, int64_t n)
{
  switch (t) {
  case TL_QTYPE_Q4_1:
    q4_1(src, dst, n / QK);
    return (size_t)(n / QK) * sizeof(block_q4_1);
  case TL_QTYPE_Q5_0:
    q5_0(src, dst, n / QK);
    return (size_t)(n / QK) * sizeof(block_q5_0);
  case TL_QTYPE_Q5_1:
    q5_1(src, dst, n / QK);
    return (size_t)(n / QK) * sizeof(block_q5_1);
  default:
    return tl__quantize_row(t, src, dst, n);
  }
}

void tl__cv_dequantize_row(tl_qtype t, const void *src, float *dst, int64_t n)
{
  int64_t nb = n / QK;
  if (t == TL_QTYPE_Q4_1) {
    const block_q4_1 *b = src;
    for (int64_t i = 0; i < nb; i++) {
      float d = tl__fp16_to_f32(b[i].d), m = tl__fp16_to_f32(b[i].m);
      for (int j = 0; j < QK / 2; j++) {
        dst[i * QK + j] = (float)(b[i].qs[j] & 0xf) * d + m;
        dst[i * QK + QK / 2 + j] = (float)(b[i].qs[j] >> 4) * d + m;
      }
    }
  } else if (t == TL_QTYPE_Q5_0 || t == TL_QTYPE_Q5_1) {
    for (int64_t i = 0; i < nb; i++) {
      float d, m = 0;
      const uint8_t *qs, *qhb;
      if (t == TL_QTYPE_Q5_0) {
        const block_q5_0 *b = (const block_q5_0 *)src + i;
        d = tl__fp16_to_f32(b->d);
        qs = b->qs;
        qhb = b->qh;
      } else {
        const block_q5_1 *b = (const block_q5_1 *)src + i;
        d = tl__fp16_to_f32(b->d);
        m = tl__fp16_to_f32(b->m);
        qs = b->qs;
        qhb = b->qh;
      }
      uint32_t qh = get_qh(qhb);
      int off = t == TL_QTYPE_Q5_0 ? 16 : 0;
      for (int j = 0; j < QK / 2; j++) {
        int a = (qs[j] & 0xf) | (int)((qh >> j) & 1) << 4;
        int b = (qs[j] >> 4) | (int)((qh >> (j + QK / 2)) & 1) << 4;
        dst[i * QK + j] = (float)(a - off) * d + m;
        dst[i * QK + QK / 2 + j] = (float)(b - off) * d + m;
      }
    }
  } else {
    tl__dequantize_row(t, src, dst, n);
  }
}
