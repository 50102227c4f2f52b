/* Reference quantizers of the 32-element block formats Q8_0 and Q4_0 (GGML's
 * quantize_row_q8_0_ref / quantize_row_q4_0_ref rules, so files match what
 * llama.cpp writes). Q8_0 rounds half away from zero (roundf); the SIMD
 * activation quantizers reproduce these bits exactly. */
#include "engine/cpu/internal.h"

void tl__quantize_q8_0_ref(const float *x, void *dst, int64_t n)
{
  tl__block_q8_0 *y = dst;
  for (int64_t b = 0; b < n / TL_QK8_0; b++, x += TL_QK8_0) {
    float amax = 0.0f;
    for (int j = 0; j < TL_QK8_0; j++)
      amax = fmaxf(amax, fabsf(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = tl__f32_to_fp16(d);
    for (int j = 0; j < TL_QK8_0; j++)
      y[b].qs[j] = (int8_t)roundf(x[j] * id);
  }
}

void tl__quantize_q4_0_ref(const float *x, void *dst, int64_t n)
{
  tl__block_q4_0 *y = dst;
  for (int64_t b = 0; b < n / TL_QK4_0; b++, x += TL_QK4_0) {
    /* the signed value of largest magnitude maps to -8 */
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < TL_QK4_0; j++) {
      if (amax < fabsf(x[j])) {
        amax = fabsf(x[j]);
        max = x[j];
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = tl__f32_to_fp16(d);
    for (int j = 0; j < TL_QK4_0 / 2; j++) {
      int q0 = (int)(int8_t)(x[j] * id + 8.5f);
      int q1 = (int)(int8_t)(x[j + TL_QK4_0 / 2] * id + 8.5f);
      q0 = q0 < 15 ? q0 : 15;
      q1 = q1 < 15 ? q1 : 15;
      y[b].qs[j] = (uint8_t)(q0 | (q1 << 4));
    }
  }
}
