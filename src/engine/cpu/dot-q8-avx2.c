/* AVX2 kernels of the 32-element block family: Q8_0 and Q4_0 weights dotted
 * with Q8_0 activations, and the Q8_0 activation quantizer (bit-identical to
 * the reference). Two blocks per step, two float accumulators. */
#include "engine/cpu/internal.h"
#include "engine/cpu/simd-x86.h"

static inline __m256i load_q4_0(const uint8_t *qs)
{
  const __m128i b = _mm_loadu_si128((const __m128i *)qs);
  const __m256i q = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(b, 4), b), _mm256_set1_epi8(0x0F));
  return _mm256_sub_epi8(q, _mm256_set1_epi8(8));
}

static float dot_q8_0(int64_t n, const void *w, const void *x)
{
  const tl__block_q8_0 *a = w, *b = x;
  const int64_t nb = n / TL_QK8_0;
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 1 < nb; i += 2) {
    const __m256i p0 = tl__dot_i8_avx2(_mm256_loadu_si256((const __m256i *)a[i].qs),
                                       _mm256_loadu_si256((const __m256i *)b[i].qs));
    const __m256i p1 = tl__dot_i8_avx2(_mm256_loadu_si256((const __m256i *)a[i + 1].qs),
                                       _mm256_loadu_si256((const __m256i *)b[i + 1].qs));
    acc0 = _mm256_fmadd_ps(_mm256_set1_ps(tl__fp16_load(&a[i].d) * tl__fp16_load(&b[i].d)),
                           _mm256_cvtepi32_ps(p0), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_set1_ps(tl__fp16_load(&a[i + 1].d) * tl__fp16_load(&b[i + 1].d)),
                           _mm256_cvtepi32_ps(p1), acc1);
  }
  for (; i < nb; i++) {
    const __m256i p0 = tl__dot_i8_avx2(_mm256_loadu_si256((const __m256i *)a[i].qs),
                                       _mm256_loadu_si256((const __m256i *)b[i].qs));
    acc0 = _mm256_fmadd_ps(_mm256_set1_ps(tl__fp16_load(&a[i].d) * tl__fp16_load(&b[i].d)),
                           _mm256_cvtepi32_ps(p0), acc0);
  }
  return tl__hsum256_ps(_mm256_add_ps(acc0, acc1));
}

static float dot_q4_0(int64_t n, const void *w, const void *x)
{
  const tl__block_q4_0 *a = w;
  const tl__block_q8_0 *b = x;
  const int64_t nb = n / TL_QK4_0;
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 1 < nb; i += 2) {
    const __m256i p0 = tl__dot_i8_avx2(load_q4_0(a[i].qs), _mm256_loadu_si256((const __m256i *)b[i].qs));
    const __m256i p1 =
        tl__dot_i8_avx2(load_q4_0(a[i + 1].qs), _mm256_loadu_si256((const __m256i *)b[i + 1].qs));
    acc0 = _mm256_fmadd_ps(_mm256_set1_ps(tl__fp16_load(&a[i].d) * tl__fp16_load(&b[i].d)),
                           _mm256_cvtepi32_ps(p0), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_set1_ps(tl__fp16_load(&a[i + 1].d) * tl__fp16_load(&b[i + 1].d)),
                           _mm256_cvtepi32_ps(p1), acc1);
  }
  for (; i < nb; i++) {
    const __m256i p0 = tl__dot_i8_avx2(load_q4_0(a[i].qs), _mm256_loadu_si256((const __m256i *)b[i].qs));
    acc0 = _mm256_fmadd_ps(_mm256_set1_ps(tl__fp16_load(&a[i].d) * tl__fp16_load(&b[i].d)),
                           _mm256_cvtepi32_ps(p0), acc0);
  }
  return tl__hsum256_ps(_mm256_add_ps(acc0, acc1));
}

static void quantize_q8_0(const float *x, void *dst, int64_t n)
{
  tl__block_q8_0 *y = dst;
  const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  for (int64_t b = 0; b < n / TL_QK8_0; b++, x += TL_QK8_0) {
    __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
    __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
    __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_and_ps(v0, absmask), _mm256_and_ps(v1, absmask)),
                             _mm256_max_ps(_mm256_and_ps(v2, absmask), _mm256_and_ps(v3, absmask)));
    const float amax = tl__hmax256_ps(m);
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = tl__f32_to_fp16(d);
    const __m256 vid = _mm256_set1_ps(id);
    v0 = tl__round_away_avx2(_mm256_mul_ps(v0, vid));
    v1 = tl__round_away_avx2(_mm256_mul_ps(v1, vid));
    v2 = tl__round_away_avx2(_mm256_mul_ps(v2, vid));
    v3 = tl__round_away_avx2(_mm256_mul_ps(v3, vid));
    const __m256i q = tl__pack_i32_i8_avx2(_mm256_cvtps_epi32(v0), _mm256_cvtps_epi32(v1),
                                          _mm256_cvtps_epi32(v2), _mm256_cvtps_epi32(v3));
    _mm256_storeu_si256((__m256i *)y[b].qs, q);
  }
}

TL__DEFINE_TILE_FROM_DOT(tile_q8_0, dot_q8_0)
TL__DEFINE_TILE_FROM_DOT(tile_q4_0, dot_q4_0)

void tl__cpu_fill_q8_avx2(tl__cpu_kernels *k)
{
  k->vec_dot[TL_QTYPE_Q8_0] = dot_q8_0;
  k->vec_dot[TL_QTYPE_Q4_0] = dot_q4_0;
  k->vec_dot_tile[TL_QTYPE_Q8_0] = tile_q8_0;
  k->vec_dot_tile[TL_QTYPE_Q4_0] = tile_q4_0;
  k->quantize_act[TL_QTYPE_Q8_0] = quantize_q8_0;
}
