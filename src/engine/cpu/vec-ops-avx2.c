/* AVX2 + FMA + F16C forward-pass helpers, and the AVX2 kernel table (the
 * scalar table with every entry this ISA specialises replaced). */
#include "engine/cpu/internal.h"
#include "engine/cpu/simd-x86.h"

static float sum_sq(const float *x, int64_t n)
{
  __m256 s0 = _mm256_setzero_ps(), s1 = s0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
    s0 = _mm256_fmadd_ps(a, a, s0);
    s1 = _mm256_fmadd_ps(b, b, s1);
  }
  float s = tl__hsum256_ps(_mm256_add_ps(s0, s1));
  for (; i < n; i++)
    s += x[i] * x[i];
  return s;
}

static void rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps)
{
  const float r = 1.0f / sqrtf(sum_sq(x, n) / (float)n + eps);
  const __m256 vr = _mm256_set1_ps(r);
  int64_t i = 0;
  if (w) {
    for (; i + 8 <= n; i += 8)
      _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vr), _mm256_loadu_ps(w + i)));
    for (; i < n; i++)
      y[i] = x[i] * r * w[i];
  } else {
    for (; i + 8 <= n; i += 8)
      _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vr));
    for (; i < n; i++)
      y[i] = x[i] * r;
  }
}

static float softmax(float *x, int64_t n)
{
  __m256 vm = _mm256_set1_ps(-INFINITY);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    vm = _mm256_max_ps(vm, _mm256_loadu_ps(x + i));
  float max = tl__hmax256_ps(vm);
  for (; i < n; i++)
    max = x[i] > max ? x[i] : max;
  const __m256 vmax = _mm256_set1_ps(max);
  __m256 vs = _mm256_setzero_ps();
  for (i = 0; i + 8 <= n; i += 8) {
    const __m256 e = tl__exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), vmax));
    _mm256_storeu_ps(x + i, e);
    vs = _mm256_add_ps(vs, e);
  }
  float sum = tl__hsum256_ps(vs);
  for (; i < n; i++) {
    x[i] = expf(x[i] - max);
    sum += x[i];
  }
  const float inv = sum > 0 ? 1.0f / sum : 0.0f;
  const __m256 vinv = _mm256_set1_ps(inv);
  for (i = 0; i + 8 <= n; i += 8)
    _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vinv));
  for (; i < n; i++)
    x[i] *= inv;
  return sum;
}

static void silu_mul(float *y, const float *g, const float *u, int64_t n)
{
  const __m256 one = _mm256_set1_ps(1.0f), neg = _mm256_set1_ps(-0.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 vg = _mm256_loadu_ps(g + i);
    const __m256 e = tl__exp_avx2(_mm256_xor_ps(vg, neg));
    const __m256 s = _mm256_div_ps(vg, _mm256_add_ps(one, e));
    _mm256_storeu_ps(y + i, _mm256_mul_ps(s, _mm256_loadu_ps(u + i)));
  }
  for (; i < n; i++)
    y[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

static void axpy(float *y, float a, const float *x, int64_t n)
{
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; i++)
    y[i] += a * x[i];
}

static float dot_f32(const float *a, const float *b, int64_t n)
{
  return tl__cpu_kernels_for(TL__ISA_AVX2)->vec_dot[TL_QTYPE_F32](n, a, b);
}

static void scale(float *y, float a, int64_t n)
{
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_mul_ps(va, _mm256_loadu_ps(y + i)));
  for (; i < n; i++)
    y[i] *= a;
}

static void add(float *y, const float *a, const float *b, int64_t n)
{
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
  for (; i < n; i++)
    y[i] = a[i] + b[i];
}

static void fp16_to_f32(const tl__fp16 *src, float *dst, int64_t n)
{
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
  for (; i < n; i++)
    dst[i] = tl__fp16_to_f32(src[i]);
}

static void f32_to_fp16(const float *src, tl__fp16 *dst, int64_t n)
{
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; i++)
    dst[i] = tl__f32_to_fp16(src[i]);
}

static void bf16_to_f32(const tl__bf16 *src, float *dst, int64_t n)
{
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(
                                  _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(src + i))), 16)));
  for (; i < n; i++)
    dst[i] = tl__bf16_to_f32(src[i]);
}

void tl__cpu_fill_avx2(tl__cpu_kernels *k)
{
  k->isa = TL__ISA_AVX2;
  k->name = "avx2";
  tl__cpu_fill_q8_avx2(k);
  tl__cpu_fill_kquant_avx2(k);
  tl__cpu_fill_float_avx2(k);
  k->rmsnorm = rmsnorm;
  k->softmax = softmax;
  k->silu_mul = silu_mul;
  k->axpy = axpy;
  k->dot_f32 = dot_f32;
  k->scale = scale;
  k->add = add;
  k->fp16_to_f32 = fp16_to_f32;
  k->f32_to_fp16 = f32_to_fp16;
  k->bf16_to_f32 = bf16_to_f32;
}
