/* NEON kernels of the 32-element block family: Q8_0 and Q4_0 weights with
 * Q8_0 activations, and the Q8_0 activation quantizer (vrndaq rounds half
 * away from zero like roundf, so it is bit-identical to the reference). */
#include "engine/cpu/internal.h"
#include "engine/cpu/simd-neon.h"

static float dot_q8_0(int64_t n, const void *w, const void *x)
{
  const tl__block_q8_0 *a = w, *b = x;
  float32x4_t acc = vdupq_n_f32(0.0f);
  for (int64_t i = 0; i < n / TL_QK8_0; i++) {
    int32x4_t s = tl__dot16_neon(vdupq_n_s32(0), vld1q_s8(a[i].qs), vld1q_s8(b[i].qs));
    s = tl__dot16_neon(s, vld1q_s8(a[i].qs + 16), vld1q_s8(b[i].qs + 16));
    acc = vmlaq_n_f32(acc, vcvtq_f32_s32(s), tl__fp16_load_neon(&a[i].d) * tl__fp16_load_neon(&b[i].d));
  }
  return vaddvq_f32(acc);
}

static float dot_q4_0(int64_t n, const void *w, const void *x)
{
  const tl__block_q4_0 *a = w;
  const tl__block_q8_0 *b = x;
  const uint8x16_t m4 = vdupq_n_u8(0x0F);
  const int8x16_t eight = vdupq_n_s8(8);
  float32x4_t acc = vdupq_n_f32(0.0f);
  for (int64_t i = 0; i < n / TL_QK4_0; i++) {
    const uint8x16_t v = vld1q_u8(a[i].qs);
    const int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(v, m4)), eight);
    const int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(v, 4)), eight);
    int32x4_t s = tl__dot16_neon(vdupq_n_s32(0), lo, vld1q_s8(b[i].qs));
    s = tl__dot16_neon(s, hi, vld1q_s8(b[i].qs + 16));
    acc = vmlaq_n_f32(acc, vcvtq_f32_s32(s), tl__fp16_load_neon(&a[i].d) * tl__fp16_load_neon(&b[i].d));
  }
  return vaddvq_f32(acc);
}

static void quantize_q8_0(const float *x, void *dst, int64_t n)
{
  tl__block_q8_0 *y = dst;
  for (int64_t b = 0; b < n / TL_QK8_0; b++, x += TL_QK8_0) {
    float32x4_t v[8];
    float32x4_t m = vdupq_n_f32(0.0f);
    for (int j = 0; j < 8; j++) {
      v[j] = vld1q_f32(x + 4 * j);
      m = vmaxq_f32(m, vabsq_f32(v[j]));
    }
    const float amax = vmaxvq_f32(m);
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = tl__f32_to_fp16(d);
    for (int j = 0; j < 8; j += 2) {
      const int32x4_t i0 = vcvtq_s32_f32(vrndaq_f32(vmulq_n_f32(v[j], id)));
      const int32x4_t i1 = vcvtq_s32_f32(vrndaq_f32(vmulq_n_f32(v[j + 1], id)));
      const int16x8_t s16 = vcombine_s16(vqmovn_s32(i0), vqmovn_s32(i1));
      vst1_s8(y[b].qs + 4 * j, vqmovn_s16(s16));
    }
  }
}

TL__DEFINE_TILE_FROM_DOT(tile_q8_0, dot_q8_0)
TL__DEFINE_TILE_FROM_DOT(tile_q4_0, dot_q4_0)

void tl__cpu_fill_q8_neon(tl__cpu_kernels *k)
{
  k->vec_dot[TL_QTYPE_Q8_0] = dot_q8_0;
  k->vec_dot[TL_QTYPE_Q4_0] = dot_q4_0;
  k->vec_dot_tile[TL_QTYPE_Q8_0] = tile_q8_0;
  k->vec_dot_tile[TL_QTYPE_Q4_0] = tile_q4_0;
  k->quantize_act[TL_QTYPE_Q8_0] = quantize_q8_0;
}
