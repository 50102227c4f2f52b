/* NEON kernels of the float weight types: F32 and F16 weights with F32
 * activations, BF16 weights with BF16 activations (widened by a shift). */
#include "engine/cpu/internal.h"
#include "engine/cpu/simd-neon.h"

static inline float32x4_t load_f32(const float *p)
{
  return vld1q_f32(p);
}

static inline float32x4_t load_f16(const tl__fp16 *p)
{
  return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
}

static inline float32x4_t load_bf16(const tl__bf16 *p)
{
  return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16));
}

#define FLOAT_DOT(NAME, WT, XT, LOADW, LOADX, TOF_W, TOF_X)          \
  static float NAME(int64_t n, const void *w, const void *x)        \
  {                                                                 \
    const WT *a = w;                                                \
    const XT *b = x;                                                \
    float32x4_t s0 = vdupq_n_f32(0), s1 = s0, s2 = s0, s3 = s0;     \
    int64_t i = 0;                                                  \
    for (; i + 16 <= n; i += 16) {                                  \
      s0 = vfmaq_f32(s0, LOADW(a + i), LOADX(b + i));               \
      s1 = vfmaq_f32(s1, LOADW(a + i + 4), LOADX(b + i + 4));       \
      s2 = vfmaq_f32(s2, LOADW(a + i + 8), LOADX(b + i + 8));       \
      s3 = vfmaq_f32(s3, LOADW(a + i + 12), LOADX(b + i + 12));     \
    }                                                               \
    for (; i + 4 <= n; i += 4)                                      \
      s0 = vfmaq_f32(s0, LOADW(a + i), LOADX(b + i));               \
    float s = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3))); \
    for (; i < n; i++)                                              \
      s += TOF_W(a[i]) * TOF_X(b[i]);                               \
    return s;                                                       \
  }

#define ID(v) (v)
FLOAT_DOT(dot_f32, float, float, load_f32, load_f32, ID, ID)
FLOAT_DOT(dot_f16, tl__fp16, float, load_f16, load_f32, tl__fp16_to_f32, ID)
FLOAT_DOT(dot_bf16, tl__bf16, tl__bf16, load_bf16, load_bf16, tl__bf16_to_f32, tl__bf16_to_f32)

TL__DEFINE_TILE_FROM_DOT(tile_f32, dot_f32)
TL__DEFINE_TILE_FROM_DOT(tile_f16, dot_f16)
TL__DEFINE_TILE_FROM_DOT(tile_bf16, dot_bf16)

void tl__cpu_fill_float_neon(tl__cpu_kernels *k)
{
  k->vec_dot[TL_QTYPE_F32] = dot_f32;
  k->vec_dot[TL_QTYPE_F16] = dot_f16;
  k->vec_dot[TL_QTYPE_BF16] = dot_bf16;
  k->vec_dot_tile[TL_QTYPE_F32] = tile_f32;
  k->vec_dot_tile[TL_QTYPE_F16] = tile_f16;
  k->vec_dot_tile[TL_QTYPE_BF16] = tile_bf16;
}
