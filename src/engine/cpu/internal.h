/* What the files of the CPU kernel area share: the scalar kernels (the
 * reference every SIMD kernel is tested against), the functions that fill a
 * kernel table per ISA, and helpers of the quantizers. Never included from
 * outside src/engine/cpu. */
#ifndef TL_ENGINE_CPU_INTERNAL_H
#define TL_ENGINE_CPU_INTERNAL_H

#include <math.h>
#include <string.h>

#include "engine/cpu/kernels.h"

/* Fill a table: scalar sets every entry; the others override what they
 * specialise, so a table is built scalar -> avx2 -> avx512. */
void tl__cpu_fill_scalar(tl__cpu_kernels *k);
void tl__cpu_fill_avx2(tl__cpu_kernels *k);
void tl__cpu_fill_avx512(tl__cpu_kernels *k);
void tl__cpu_fill_neon(tl__cpu_kernels *k);
void tl__cpu_fill_amx(tl__cpu_kernels *k);
/* True when the CPU has AMX-TILE and AMX-INT8 and the OS granted their use
 * to this process (Linux: arch_prctl ARCH_REQ_XCOMP_PERM). Asks once. */
bool tl__cpu_amx_usable(void);
/* Scratch bytes the AMX prefill path needs for m rows of k activations. */
size_t tl__amx_scratch_bytes(int64_t m, int64_t k);

/* Per-family parts of the SIMD tables (dot-*-avx2.c, dot-*-avx512.c). */
void tl__cpu_fill_q8_avx2(tl__cpu_kernels *k);
void tl__cpu_fill_kquant_avx2(tl__cpu_kernels *k);
void tl__cpu_fill_float_avx2(tl__cpu_kernels *k);
void tl__cpu_fill_kquant_avx512(tl__cpu_kernels *k);
void tl__cpu_fill_q8_neon(tl__cpu_kernels *k);
void tl__cpu_fill_kquant_neon(tl__cpu_kernels *k);
void tl__cpu_fill_float_neon(tl__cpu_kernels *k);

/* Reference quantizers (quantize-block32.c, quantize-kquant.c, fp16.c). */
void tl__quantize_q8_0_ref(const float *x, void *dst, int64_t n);
void tl__quantize_q4_0_ref(const float *x, void *dst, int64_t n);
void tl__quantize_q8_K_ref(const float *x, void *dst, int64_t n);
void tl__quantize_q4_K_ref(const float *x, void *dst, int64_t n);
void tl__quantize_q5_K_ref(const float *x, void *dst, int64_t n);
void tl__quantize_q6_K_ref(const float *x, void *dst, int64_t n);
void tl__quantize_f32_copy(const float *x, void *dst, int64_t n);
void tl__quantize_f16_ref(const float *x, void *dst, int64_t n);
void tl__quantize_bf16_ref(const float *x, void *dst, int64_t n);

/* Unpacks the 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K block. */
static inline void tl__kquant_scale_min(int j, const uint8_t *q, uint8_t *sc, uint8_t *m)
{
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

/* Round to nearest, ties to even, for |f| <= 4194303 (the float trick GGML's
 * quantizers use; equal to lrintf in the default rounding mode). */
static inline int tl__nearest_int(float f)
{
  float v = f + 12582912.f;
  int32_t i;
  memcpy(&i, &v, sizeof i);
  return (i & 0x007fffff) - 0x00400000;
}

/* Scalar dot kernels (vec-dot-scalar.c), by weight type. */
float tl__dot_f32_scalar(int64_t n, const void *w, const void *x);
float tl__dot_f16_scalar(int64_t n, const void *w, const void *x);
float tl__dot_bf16_scalar(int64_t n, const void *w, const void *x);
float tl__dot_q8_0_scalar(int64_t n, const void *w, const void *x);
float tl__dot_q4_0_scalar(int64_t n, const void *w, const void *x);
float tl__dot_q4_K_scalar(int64_t n, const void *w, const void *x);
float tl__dot_q5_K_scalar(int64_t n, const void *w, const void *x);
float tl__dot_q6_K_scalar(int64_t n, const void *w, const void *x);

/* Defines `static void NAME(...)`, a tl__vec_dot_tile_fn that calls DOT per
 * (weight row, activation row) pair; for kernels without a register tile. */
#define TL__DEFINE_TILE_FROM_DOT(NAME, DOT)                                              \
  static void NAME(int64_t n, const void *w, size_t w_stride, int nw, const void *x,     \
                   size_t x_stride, int nx, float *y, size_t y_stride)                   \
  {                                                                                      \
    for (int i = 0; i < nx; i++)                                                         \
      for (int j = 0; j < nw; j++)                                                       \
        y[(size_t)i * y_stride + (size_t)j] =                                            \
            DOT(n, (const char *)w + (size_t)j * w_stride, (const char *)x + (size_t)i * x_stride); \
  }

#endif
