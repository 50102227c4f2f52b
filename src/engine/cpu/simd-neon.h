/* Small AArch64 Advanced SIMD helpers shared by the -neon.c kernel files.
 * Baseline ARMv8.0 only (no dot-product extension), so the build needs no
 * extra flags: int8 products go through vmull_s8 + vpadalq_s16. */
#ifndef TL_ENGINE_CPU_SIMD_NEON_H
#define TL_ENGINE_CPU_SIMD_NEON_H

#include <arm_neon.h>

/* acc += pairwise sums of a*b for 16 int8 lanes (4 int32 lanes out). */
static inline int32x4_t tl__dot16_neon(int32x4_t acc, int8x16_t a, int8x16_t b)
{
  const int16x8_t lo = vmull_s8(vget_low_s8(a), vget_low_s8(b));
  const int16x8_t hi = vmull_s8(vget_high_s8(a), vget_high_s8(b));
  return vpadalq_s16(vpadalq_s16(acc, lo), hi);
}

static inline float tl__fp16_load_neon(const uint16_t *h)
{
  return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(*h))), 0);
}

/* e^x for 4 floats (Cephes expf reduction and polynomial), x clamped to
 * [-87.3, 88.7]. */
static inline float32x4_t tl__exp_neon(float32x4_t x)
{
  x = vminq_f32(vmaxq_f32(x, vdupq_n_f32(-87.3f)), vdupq_n_f32(88.7f));
  const float32x4_t n = vrndnq_f32(vmulq_n_f32(x, 1.44269504088896341f));
  float32x4_t r = vfmsq_n_f32(x, n, 0.693359375f);
  r = vfmsq_n_f32(r, n, -2.12194440e-4f);
  float32x4_t p = vdupq_n_f32(1.9875691500E-4f);
  p = vfmaq_f32(vdupq_n_f32(1.3981999507E-3f), p, r);
  p = vfmaq_f32(vdupq_n_f32(8.3334519073E-3f), p, r);
  p = vfmaq_f32(vdupq_n_f32(4.1665795894E-2f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.6666665459E-1f), p, r);
  p = vfmaq_f32(vdupq_n_f32(5.0000001201E-1f), p, r);
  p = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.0f)), p, vmulq_f32(r, r));
  const int32x4_t ni = vcvtq_s32_f32(n);
  const int32x4_t h = vshrq_n_s32(ni, 1);
  const float32x4_t s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(h, vdupq_n_s32(127)), 23));
  const float32x4_t s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(vsubq_s32(ni, h), vdupq_n_s32(127)), 23));
  return vmulq_f32(vmulq_f32(p, s1), s2);
}

#endif
