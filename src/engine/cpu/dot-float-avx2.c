/* AVX2 kernels of the float weight types: F32 and F16 (F16C) weights with
 * F32 activations, BF16 weights with BF16 activations (widened to F32 by a
 * shift), and the BF16 activation quantizer (bit-identical to the reference).
 * Four accumulators of 8 lanes hide the FMA latency. */
#include "engine/cpu/internal.h"
#include "engine/cpu/simd-x86.h"

static inline __m256 load_bf16x8(const tl__bf16 *p)
{
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}

#define FLOAT_DOT(NAME, WT, XT, LOADW, LOADX, TOF_W, TOF_X)                               \
  static float NAME(int64_t n, const void *w, const void *x)                             \
  {                                                                                      \
    const WT *a = w;                                                                     \
    const XT *b = x;                                                                     \
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;                          \
    int64_t i = 0;                                                                       \
    for (; i + 32 <= n; i += 32) {                                                       \
      s0 = _mm256_fmadd_ps(LOADW(a + i), LOADX(b + i), s0);                              \
      s1 = _mm256_fmadd_ps(LOADW(a + i + 8), LOADX(b + i + 8), s1);                      \
      s2 = _mm256_fmadd_ps(LOADW(a + i + 16), LOADX(b + i + 16), s2);                    \
      s3 = _mm256_fmadd_ps(LOADW(a + i + 24), LOADX(b + i + 24), s3);                    \
    }                                                                                    \
    for (; i + 8 <= n; i += 8)                                                           \
      s0 = _mm256_fmadd_ps(LOADW(a + i), LOADX(b + i), s0);                              \
    float s = tl__hsum256_ps(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3))); \
    for (; i < n; i++)                                                                   \
      s += TOF_W(a[i]) * TOF_X(b[i]);                                                    \
    return s;                                                                            \
  }

#define LOAD_F32(p) _mm256_loadu_ps(p)
#define LOAD_F16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
#define ID(v) (v)

FLOAT_DOT(dot_f32, float, float, LOAD_F32, LOAD_F32, ID, ID)
FLOAT_DOT(dot_f16, tl__fp16, float, LOAD_F16, LOAD_F32, tl__fp16_to_f32, ID)
FLOAT_DOT(dot_bf16, tl__bf16, tl__bf16, load_bf16x8, load_bf16x8, tl__bf16_to_f32, tl__bf16_to_f32)

/* Round-to-nearest-even to bf16 of 8 floats; NaN stays a quiet NaN. */
static inline __m128i f32_to_bf16x8(__m256 v)
{
  const __m256i u = _mm256_castps_si256(v);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  const __m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), lsb), 16);
  const __m256i nanv = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(64));
  const __m256i isnan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)),
                                           _mm256_set1_epi32(0x7f800000));
  const __m256i res = _mm256_blendv_epi8(r, nanv, isnan);
  const __m256i packed = _mm256_packus_epi32(res, res); /* values <= 0xffff */
  return _mm256_castsi256_si128(_mm256_permute4x64_epi64(packed, 0x08));
}

static void quantize_bf16(const float *x, void *dst, int64_t n)
{
  tl__bf16 *y = dst;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128((__m128i *)(y + i), f32_to_bf16x8(_mm256_loadu_ps(x + i)));
  for (; i < n; i++)
    y[i] = tl__f32_to_bf16(x[i]);
}

TL__DEFINE_TILE_FROM_DOT(tile_f32, dot_f32)
TL__DEFINE_TILE_FROM_DOT(tile_f16, dot_f16)
TL__DEFINE_TILE_FROM_DOT(tile_bf16, dot_bf16)

void tl__cpu_fill_float_avx2(tl__cpu_kernels *k)
{
  k->vec_dot[TL_QTYPE_F32] = dot_f32;
  k->vec_dot[TL_QTYPE_F16] = dot_f16;
  k->vec_dot[TL_QTYPE_BF16] = dot_bf16;
  k->vec_dot_tile[TL_QTYPE_F32] = tile_f32;
  k->vec_dot_tile[TL_QTYPE_F16] = tile_f16;
  k->vec_dot_tile[TL_QTYPE_BF16] = tile_bf16;
  k->quantize_act[TL_QTYPE_BF16] = quantize_bf16;
}
