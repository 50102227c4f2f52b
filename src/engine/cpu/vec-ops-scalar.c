/* Scalar forward-pass helpers (rmsnorm, softmax, SwiGLU, axpy, dot, scale,
 * add, fp16/bf16 rows) and the scalar kernel table, which every other ISA's
 * table starts from. */
#include "engine/cpu/internal.h"

static void rmsnorm_scalar(float *y, const float *x, const float *w, int64_t n, float eps)
{
  double ss = 0;
  for (int64_t i = 0; i < n; i++)
    ss += (double)x[i] * x[i];
  const float r = 1.0f / sqrtf((float)(ss / (double)n) + eps);
  for (int64_t i = 0; i < n; i++)
    y[i] = x[i] * r * (w ? w[i] : 1.0f);
}

static float softmax_scalar(float *x, int64_t n)
{
  float max = -INFINITY;
  for (int64_t i = 0; i < n; i++)
    max = x[i] > max ? x[i] : max;
  double sum = 0;
  for (int64_t i = 0; i < n; i++) {
    x[i] = expf(x[i] - max);
    sum += x[i];
  }
  const float inv = sum > 0 ? (float)(1.0 / sum) : 0.0f;
  for (int64_t i = 0; i < n; i++)
    x[i] *= inv;
  return (float)sum;
}

static void silu_mul_scalar(float *y, const float *g, const float *u, int64_t n)
{
  for (int64_t i = 0; i < n; i++)
    y[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

static void axpy_scalar(float *y, float a, const float *x, int64_t n)
{
  for (int64_t i = 0; i < n; i++)
    y[i] += a * x[i];
}

static float dot_f32_scalar(const float *a, const float *b, int64_t n)
{
  return tl__dot_f32_scalar(n, a, b);
}

static void scale_scalar(float *y, float a, int64_t n)
{
  for (int64_t i = 0; i < n; i++)
    y[i] *= a;
}

static void add_scalar(float *y, const float *a, const float *b, int64_t n)
{
  for (int64_t i = 0; i < n; i++)
    y[i] = a[i] + b[i];
}

static void fp16_to_f32_scalar(const tl__fp16 *src, float *dst, int64_t n)
{
  for (int64_t i = 0; i < n; i++)
    dst[i] = tl__fp16_to_f32(src[i]);
}

static void f32_to_fp16_scalar(const float *src, tl__fp16 *dst, int64_t n)
{
  tl__quantize_f16_ref(src, dst, n);
}

static void bf16_to_f32_scalar(const tl__bf16 *src, float *dst, int64_t n)
{
  for (int64_t i = 0; i < n; i++)
    dst[i] = tl__bf16_to_f32(src[i]);
}

TL__DEFINE_TILE_FROM_DOT(tile_f32, tl__dot_f32_scalar)
TL__DEFINE_TILE_FROM_DOT(tile_f16, tl__dot_f16_scalar)
TL__DEFINE_TILE_FROM_DOT(tile_bf16, tl__dot_bf16_scalar)
TL__DEFINE_TILE_FROM_DOT(tile_q8_0, tl__dot_q8_0_scalar)
TL__DEFINE_TILE_FROM_DOT(tile_q4_0, tl__dot_q4_0_scalar)
TL__DEFINE_TILE_FROM_DOT(tile_q4_K, tl__dot_q4_K_scalar)
TL__DEFINE_TILE_FROM_DOT(tile_q5_K, tl__dot_q5_K_scalar)
TL__DEFINE_TILE_FROM_DOT(tile_q6_K, tl__dot_q6_K_scalar)

void tl__cpu_fill_scalar(tl__cpu_kernels *k)
{
  memset(k, 0, sizeof *k);
  k->isa = TL__ISA_SCALAR;
  k->name = "scalar";
  k->vec_dot[TL_QTYPE_F32] = tl__dot_f32_scalar;
  k->vec_dot[TL_QTYPE_F16] = tl__dot_f16_scalar;
  k->vec_dot[TL_QTYPE_BF16] = tl__dot_bf16_scalar;
  k->vec_dot[TL_QTYPE_Q8_0] = tl__dot_q8_0_scalar;
  k->vec_dot[TL_QTYPE_Q4_0] = tl__dot_q4_0_scalar;
  k->vec_dot[TL_QTYPE_Q4_K] = tl__dot_q4_K_scalar;
  k->vec_dot[TL_QTYPE_Q5_K] = tl__dot_q5_K_scalar;
  k->vec_dot[TL_QTYPE_Q6_K] = tl__dot_q6_K_scalar;
  k->vec_dot_tile[TL_QTYPE_F32] = tile_f32;
  k->vec_dot_tile[TL_QTYPE_F16] = tile_f16;
  k->vec_dot_tile[TL_QTYPE_BF16] = tile_bf16;
  k->vec_dot_tile[TL_QTYPE_Q8_0] = tile_q8_0;
  k->vec_dot_tile[TL_QTYPE_Q4_0] = tile_q4_0;
  k->vec_dot_tile[TL_QTYPE_Q4_K] = tile_q4_K;
  k->vec_dot_tile[TL_QTYPE_Q5_K] = tile_q5_K;
  k->vec_dot_tile[TL_QTYPE_Q6_K] = tile_q6_K;
  k->quantize_act[TL_QTYPE_F32] = tl__quantize_f32_copy;
  k->quantize_act[TL_QTYPE_BF16] = tl__quantize_bf16_ref;
  k->quantize_act[TL_QTYPE_Q8_0] = tl__quantize_q8_0_ref;
  k->quantize_act[TL_QTYPE_Q8_K] = tl__quantize_q8_K_ref;
  k->rmsnorm = rmsnorm_scalar;
  k->softmax = softmax_scalar;
  k->silu_mul = silu_mul_scalar;
  k->axpy = axpy_scalar;
  k->dot_f32 = dot_f32_scalar;
  k->scale = scale_scalar;
  k->add = add_scalar;
  k->fp16_to_f32 = fp16_to_f32_scalar;
  k->f32_to_fp16 = f32_to_fp16_scalar;
  k->bf16_to_f32 = bf16_to_f32_scalar;
}
