/* NEON kernels of the K-quant family: Q4_K, Q5_K, Q6_K weights with Q8_K
 * activations (per sub-block integer sums, scaled in integers, one float
 * multiply per super-block), and the Q8_K activation quantizer (vcvtnq
 * rounds to nearest even like the reference). */
#include "engine/cpu/internal.h"
#include "engine/cpu/simd-neon.h"

/* sum over 32 bytes: a0|a1 (unsigned 0..31 as int8) times q8[0..31] */
static inline int32_t dot32(int8x16_t a0, int8x16_t a1, const int8_t *q8)
{
  int32x4_t s = tl__dot16_neon(vdupq_n_s32(0), a0, vld1q_s8(q8));
  s = tl__dot16_neon(s, a1, vld1q_s8(q8 + 16));
  return vaddvq_s32(s);
}

static float dot_q45_K(int64_t n, const void *w, const void *x, int five)
{
  const tl__block_q8_K *b = x;
  const uint8x16_t m4 = vdupq_n_u8(0x0F), one = vdupq_n_u8(1);
  float s = 0;
  const size_t bsz = five ? sizeof(tl__block_q5_K) : sizeof(tl__block_q4_K);
  for (int64_t i = 0; i < n / TL_QK_K; i++) {
    const char *blk = (const char *)w + (size_t)i * bsz;
    const tl__block_q4_K *b4 = (const tl__block_q4_K *)blk;
    const tl__block_q5_K *b5 = (const tl__block_q5_K *)blk;
    const uint8_t *scales = five ? b5->scales : b4->scales, *qs = five ? b5->qs : b4->qs;
    const float d = tl__fp16_load_neon(five ? &b5->d : &b4->d), dmin = tl__fp16_load_neon(five ? &b5->dmin : &b4->dmin);
    uint8x16_t h0 = five ? vld1q_u8(b5->qh) : vdupq_n_u8(0), h1 = five ? vld1q_u8(b5->qh + 16) : vdupq_n_u8(0);
    const int8_t *q8 = b[i].qs;
    int32_t sumi = 0, summ = 0;
    for (int c = 0; c < 4; c++, qs += 32, q8 += 64) {
      uint8_t sc1, m1, sc2, m2;
      tl__kquant_scale_min(2 * c, scales, &sc1, &m1);
      tl__kquant_scale_min(2 * c + 1, scales, &sc2, &m2);
      const uint8x16_t v0 = vld1q_u8(qs), v1 = vld1q_u8(qs + 16);
      uint8x16_t l0 = vandq_u8(v0, m4), l1 = vandq_u8(v1, m4);
      uint8x16_t u0 = vshrq_n_u8(v0, 4), u1 = vshrq_n_u8(v1, 4);
      if (five) {
        l0 = vorrq_u8(l0, vshlq_n_u8(vandq_u8(h0, one), 4));
        l1 = vorrq_u8(l1, vshlq_n_u8(vandq_u8(h1, one), 4));
        u0 = vorrq_u8(u0, vshlq_n_u8(vandq_u8(vshrq_n_u8(h0, 1), one), 4));
        u1 = vorrq_u8(u1, vshlq_n_u8(vandq_u8(vshrq_n_u8(h1, 1), one), 4));
        h0 = vshrq_n_u8(h0, 2);
        h1 = vshrq_n_u8(h1, 2);
      }
      sumi += sc1 * dot32(vreinterpretq_s8_u8(l0), vreinterpretq_s8_u8(l1), q8);
      sumi += sc2 * dot32(vreinterpretq_s8_u8(u0), vreinterpretq_s8_u8(u1), q8 + 32);
      summ += m1 * (b[i].bsums[4 * c] + b[i].bsums[4 * c + 1]) + m2 * (b[i].bsums[4 * c + 2] + b[i].bsums[4 * c + 3]);
    }
    s += b[i].d * (d * (float)sumi - dmin * (float)summ);
  }
  return s;
}

static float dot_q4_K(int64_t n, const void *w, const void *x)
{
  return dot_q45_K(n, w, x, 0);
}

static float dot_q5_K(int64_t n, const void *w, const void *x)
{
  return dot_q45_K(n, w, x, 1);
}

static float dot_q6_K(int64_t n, const void *w, const void *x)
{
  const tl__block_q6_K *a = w;
  const tl__block_q8_K *b = x;
  const uint8x16_t m4 = vdupq_n_u8(0x0F), m2 = vdupq_n_u8(3);
  const int8x16_t off = vdupq_n_s8(32);
  float s = 0;
  for (int64_t i = 0; i < n / TL_QK_K; i++) {
    const uint8_t *ql = a[i].ql, *qh = a[i].qh;
    const int8_t *q8 = b[i].qs, *sc = a[i].scales;
    int32_t sumi = 0;
    for (int h = 0; h < 2; h++, ql += 64, qh += 32, q8 += 128, sc += 8) {
      for (int half = 0; half < 2; half++) { /* l = 16*half .. 16*half+15 */
        const uint8x16_t l0 = vld1q_u8(ql + 16 * half), l1 = vld1q_u8(ql + 32 + 16 * half);
        const uint8x16_t hh = vld1q_u8(qh + 16 * half);
        const int8x16_t q1 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vandq_u8(l0, m4), vshlq_n_u8(vandq_u8(hh, m2), 4))), off);
        const int8x16_t q2 = vsubq_s8(
            vreinterpretq_s8_u8(vorrq_u8(vandq_u8(l1, m4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hh, 2), m2), 4))), off);
        const int8x16_t q3 = vsubq_s8(
            vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(l0, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hh, 4), m2), 4))), off);
        const int8x16_t q4 = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(l1, 4), vshlq_n_u8(vshrq_n_u8(hh, 6), 4))), off);
        const int o = 16 * half;
        sumi += sc[half + 0] * vaddvq_s32(tl__dot16_neon(vdupq_n_s32(0), q1, vld1q_s8(q8 + o)));
        sumi += sc[half + 2] * vaddvq_s32(tl__dot16_neon(vdupq_n_s32(0), q2, vld1q_s8(q8 + 32 + o)));
        sumi += sc[half + 4] * vaddvq_s32(tl__dot16_neon(vdupq_n_s32(0), q3, vld1q_s8(q8 + 64 + o)));
        sumi += sc[half + 6] * vaddvq_s32(tl__dot16_neon(vdupq_n_s32(0), q4, vld1q_s8(q8 + 96 + o)));
      }
    }
    s += b[i].d * tl__fp16_load_neon(&a[i].d) * (float)sumi;
  }
  return s;
}

static void quantize_q8_K(const float *x, void *dst, int64_t n)
{
  tl__block_q8_K *y = dst;
  for (int64_t b = 0; b < n / TL_QK_K; b++, x += TL_QK_K) {
    float32x4_t m = vdupq_n_f32(0.0f);
    for (int j = 0; j < TL_QK_K; j += 4)
      m = vmaxq_f32(m, vabsq_f32(vld1q_f32(x + j)));
    const float amax = vmaxvq_f32(m);
    if (amax == 0.0f) {
      memset(&y[b], 0, sizeof y[b]);
      continue;
    }
    float max = 0;
    for (int j = 0; j < TL_QK_K; j++)
      if (fabsf(x[j]) == amax) {
        max = x[j];
        break;
      }
    const float iscale = -127.f / max;
    const int32x4_t hi = vdupq_n_s32(127);
    for (int j = 0; j < TL_QK_K; j += 8) {
      const int32x4_t i0 = vminq_s32(vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + j), iscale)), hi);
      const int32x4_t i1 = vminq_s32(vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + j + 4), iscale)), hi);
      vst1_s8(y[b].qs + j, vqmovn_s16(vcombine_s16(vqmovn_s32(i0), vqmovn_s32(i1))));
    }
    for (int j = 0; j < TL_QK_K / 16; j++)
      y[b].bsums[j] = (int16_t)vaddlvq_s8(vld1q_s8(y[b].qs + 16 * j));
    y[b].d = 1 / iscale;
  }
}

TL__DEFINE_TILE_FROM_DOT(tile_q4_K, dot_q4_K)
TL__DEFINE_TILE_FROM_DOT(tile_q5_K, dot_q5_K)
TL__DEFINE_TILE_FROM_DOT(tile_q6_K, dot_q6_K)

void tl__cpu_fill_kquant_neon(tl__cpu_kernels *k)
{
  k->vec_dot[TL_QTYPE_Q4_K] = dot_q4_K;
  k->vec_dot[TL_QTYPE_Q5_K] = dot_q5_K;
  k->vec_dot[TL_QTYPE_Q6_K] = dot_q6_K;
  k->vec_dot_tile[TL_QTYPE_Q4_K] = tile_q4_K;
  k->vec_dot_tile[TL_QTYPE_Q5_K] = tile_q5_K;
  k->vec_dot_tile[TL_QTYPE_Q6_K] = tile_q6_K;
  k->quantize_act[TL_QTYPE_Q8_K] = quantize_q8_K;
}
