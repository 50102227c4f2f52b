/* Scalar conversions between binary32 and the 16-bit float formats (IEEE
 * binary16, bfloat16), exact in both directions with round-to-nearest-even.
 * Row conversions with F16C/AVX-512 live in the SIMD vector-op files. */
#include "engine/cpu/internal.h"

static inline uint32_t f32_bits(float f)
{
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

static inline float bits_f32(uint32_t u)
{
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

float tl__fp16_to_f32(tl__fp16 h)
{
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t man = h & 0x3ff;
  if (exp == 0x1f) /* inf / NaN */
    return bits_f32(sign | 0x7f800000u | (man << 13));
  if (exp == 0) {
    if (man == 0)
      return bits_f32(sign);
    /* subnormal: man * 2^-24, exact in binary32 */
    float v = (float)man * 0x1p-24f;
    return sign ? -v : v;
  }
  return bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

tl__fp16 tl__f32_to_fp16(float f)
{
  uint32_t u = f32_bits(f);
  uint32_t sign = (u >> 16) & 0x8000;
  uint32_t absu = u & 0x7fffffffu;
  if (absu > 0x7f800000u) /* NaN: keep it quiet and non-zero */
    return (tl__fp16)(sign | 0x7e00 | ((absu >> 13) & 0x3ff));
  if (absu >= 0x477ff000u) /* rounds to >= 65520: inf */
    return (tl__fp16)(sign | 0x7c00);
  if (absu < 0x38800000u) {
    /* result subnormal or zero: value / 2^-24 rounded to nearest even */
    float a = bits_f32(absu);
    float s = a * 0x1p24f; /* exact scaling, < 1024 */
    int q = tl__nearest_int(s);
    return (tl__fp16)(sign | (uint32_t)q);
  }
  /* normal: rebias exponent, round mantissa from 23 to 10 bits */
  uint32_t r = absu - (112u << 23);
  uint32_t lsb = (r >> 13) & 1;
  r += 0xfffu + lsb;
  return (tl__fp16)(sign | (r >> 13));
}

float tl__bf16_to_f32(tl__bf16 h)
{
  return bits_f32((uint32_t)h << 16);
}

tl__bf16 tl__f32_to_bf16(float f)
{
  uint32_t u = f32_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: quiet */
    return (tl__bf16)((u >> 16) | 64);
  u += 0x7fffu + ((u >> 16) & 1);
  return (tl__bf16)(u >> 16);
}

void tl__quantize_f32_copy(const float *x, void *dst, int64_t n)
{
  memcpy(dst, x, (size_t)n * sizeof(float));
}

void tl__quantize_f16_ref(const float *x, void *dst, int64_t n)
{
  tl__fp16 *y = dst;
  for (int64_t i = 0; i < n; i++)
    y[i] = tl__f32_to_fp16(x[i]);
}

void tl__quantize_bf16_ref(const float *x, void *dst, int64_t n)
{
  tl__bf16 *y = dst;
  for (int64_t i = 0; i < n; i++)
    y[i] = tl__f32_to_bf16(x[i]);
}
