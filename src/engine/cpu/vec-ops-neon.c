/* AArch64 Advanced SIMD forward-pass helpers and the NEON kernel table (the
 * scalar table with every entry this ISA specialises replaced). Compiled on
 * AArch64 only. */
#include "engine/cpu/internal.h"
#include "engine/cpu/simd-neon.h"

static void rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps)
{
  float32x4_t s0 = vdupq_n_f32(0), s1 = s0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const float32x4_t a = vld1q_f32(x + i), b = vld1q_f32(x + i + 4);
    s0 = vfmaq_f32(s0, a, a);
    s1 = vfmaq_f32(s1, b, b);
  }
  float ss = vaddvq_f32(vaddq_f32(s0, s1));
  for (; i < n; i++)
    ss += x[i] * x[i];
  const float r = 1.0f / sqrtf(ss / (float)n + eps);
  for (i = 0; i + 4 <= n; i += 4) {
    float32x4_t v = vmulq_n_f32(vld1q_f32(x + i), r);
    if (w)
      v = vmulq_f32(v, vld1q_f32(w + i));
    vst1q_f32(y + i, v);
  }
  for (; i < n; i++)
    y[i] = x[i] * r * (w ? w[i] : 1.0f);
}

static float softmax(float *x, int64_t n)
{
  float max = -INFINITY;
  int64_t i = 0;
  if (n >= 4) {
    float32x4_t vm = vld1q_f32(x);
    for (i = 4; i + 4 <= n; i += 4)
      vm = vmaxq_f32(vm, vld1q_f32(x + i));
    max = vmaxvq_f32(vm);
  }
  for (; i < n; i++)
    max = x[i] > max ? x[i] : max;
  float32x4_t vs = vdupq_n_f32(0);
  const float32x4_t vmax = vdupq_n_f32(max);
  for (i = 0; i + 4 <= n; i += 4) {
    const float32x4_t e = tl__exp_neon(vsubq_f32(vld1q_f32(x + i), vmax));
    vst1q_f32(x + i, e);
    vs = vaddq_f32(vs, e);
  }
  float sum = vaddvq_f32(vs);
  for (; i < n; i++) {
    x[i] = expf(x[i] - max);
    sum += x[i];
  }
  const float inv = sum > 0 ? 1.0f / sum : 0.0f;
  for (i = 0; i + 4 <= n; i += 4)
    vst1q_f32(x + i, vmulq_n_f32(vld1q_f32(x + i), inv));
  for (; i < n; i++)
    x[i] *= inv;
  return sum;
}

static void silu_mul(float *y, const float *g, const float *u, int64_t n)
{
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float32x4_t vg = vld1q_f32(g + i);
    const float32x4_t e = tl__exp_neon(vnegq_f32(vg));
    const float32x4_t s = vdivq_f32(vg, vaddq_f32(vdupq_n_f32(1.0f), e));
    vst1q_f32(y + i, vmulq_f32(s, vld1q_f32(u + i)));
  }
  for (; i < n; i++)
    y[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

static void axpy(float *y, float a, const float *x, int64_t n)
{
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), vld1q_f32(x + i), a));
  for (; i < n; i++)
    y[i] += a * x[i];
}

static float dot_f32(const float *a, const float *b, int64_t n)
{
  return tl__cpu_kernels_for(TL__ISA_NEON)->vec_dot[TL_QTYPE_F32](n, a, b);
}

static void scale(float *y, float a, int64_t n)
{
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    vst1q_f32(y + i, vmulq_n_f32(vld1q_f32(y + i), a));
  for (; i < n; i++)
    y[i] *= a;
}

static void add(float *y, const float *a, const float *b, int64_t n)
{
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    vst1q_f32(y + i, vaddq_f32(vld1q_f32(a + i), vld1q_f32(b + i)));
  for (; i < n; i++)
    y[i] = a[i] + b[i];
}

static void fp16_to_f32(const tl__fp16 *src, float *dst, int64_t n)
{
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    vst1q_f32(dst + i, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(src + i))));
  for (; i < n; i++)
    dst[i] = tl__fp16_to_f32(src[i]);
}

static void f32_to_fp16(const float *src, tl__fp16 *dst, int64_t n)
{
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) /* FPCR default: round to nearest even */
    vst1_u16(dst + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(src + i))));
  for (; i < n; i++)
    dst[i] = tl__f32_to_fp16(src[i]);
}

static void bf16_to_f32(const tl__bf16 *src, float *dst, int64_t n)
{
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    vst1q_f32(dst + i, vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(src + i), 16)));
  for (; i < n; i++)
    dst[i] = tl__bf16_to_f32(src[i]);
}

void tl__cpu_fill_neon(tl__cpu_kernels *k)
{
  k->isa = TL__ISA_NEON;
  k->name = "neon";
  tl__cpu_fill_q8_neon(k);
  tl__cpu_fill_kquant_neon(k);
  tl__cpu_fill_float_neon(k);
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
