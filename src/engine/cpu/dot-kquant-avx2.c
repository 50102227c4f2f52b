/* AVX2 kernels of the K-quant family: Q4_K, Q5_K and Q6_K weights dotted
 * with Q8_K activations, and the Q8_K activation quantizer (bit-identical to
 * the reference). Per super-block the integer sums are formed with
 * maddubs/madd (sub-block scales applied as int16), converted to float once;
 * the mins (Q4_K/Q5_K) and the -32 offset (Q6_K) go through the activation
 * block sums (bsums). */
#include "engine/cpu/internal.h"
#include "engine/cpu/simd-x86.h"

/* The 8 six-bit scales and mins of a Q4_K/Q5_K block as bytes. */
static inline void unpack_scales_mins(const uint8_t *q, uint8_t sc[8], uint8_t m[8])
{
  uint32_t u0, u1, u2;
  memcpy(&u0, q, 4);
  memcpy(&u1, q + 4, 4);
  memcpy(&u2, q + 8, 4);
  const uint32_t s_lo = u0 & 0x3f3f3f3fu, m_lo = u1 & 0x3f3f3f3fu;
  const uint32_t s_hi = (u2 & 0x0f0f0f0fu) | (((u0 >> 6) & 0x03030303u) << 4);
  const uint32_t m_hi = ((u2 >> 4) & 0x0f0f0f0fu) | (((u1 >> 6) & 0x03030303u) << 4);
  memcpy(sc, &s_lo, 4);
  memcpy(sc + 4, &s_hi, 4);
  memcpy(m, &m_lo, 4);
  memcpy(m + 4, &m_hi, 4);
}

/* sum_j m[j] * (bsums[2j] + bsums[2j+1]) as 8 int32 lanes. */
static inline __m256i mins_dot_bsums(const uint8_t m[8], const int16_t *bsums)
{
  __m128i mb = _mm_loadl_epi64((const __m128i *)m);
  mb = _mm_shuffle_epi8(mb, _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7));
  return _mm256_madd_epi16(_mm256_cvtepu8_epi16(mb), _mm256_loadu_si256((const __m256i *)bsums));
}

static float dot_q4_K(int64_t n, const void *w, const void *x)
{
  const tl__block_q4_K *a = w;
  const tl__block_q8_K *b = x;
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / TL_QK_K; i++) {
    uint8_t sc[8], m[8];
    unpack_scales_mins(a[i].scales, sc, m);
    const float dd = b[i].d * tl__fp16_load(&a[i].d);
    const float dm = b[i].d * tl__fp16_load(&a[i].dmin);
    accm = _mm256_fmadd_ps(_mm256_set1_ps(dm), _mm256_cvtepi32_ps(mins_dot_bsums(m, b[i].bsums)), accm);
    const uint8_t *q4 = a[i].qs;
    const int8_t *q8 = b[i].qs;
    __m256i sumi = _mm256_setzero_si256();
    for (int c = 0; c < 4; c++, q4 += 32, q8 += 64) {
      const __m256i bytes = _mm256_loadu_si256((const __m256i *)q4);
      const __m256i lo = _mm256_and_si256(bytes, m4);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), m4);
      const __m256i p0 = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)q8));
      const __m256i p1 = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(q8 + 32)));
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p0, _mm256_set1_epi16(sc[2 * c])));
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p1, _mm256_set1_epi16(sc[2 * c + 1])));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(dd), _mm256_cvtepi32_ps(sumi), acc);
  }
  return tl__hsum256_ps(acc) - tl__hsum256_ps(accm);
}

static float dot_q5_K(int64_t n, const void *w, const void *x)
{
  const tl__block_q5_K *a = w;
  const tl__block_q8_K *b = x;
  const __m256i m4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
  __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / TL_QK_K; i++) {
    uint8_t sc[8], m[8];
    unpack_scales_mins(a[i].scales, sc, m);
    const float dd = b[i].d * tl__fp16_load(&a[i].d);
    const float dm = b[i].d * tl__fp16_load(&a[i].dmin);
    accm = _mm256_fmadd_ps(_mm256_set1_ps(dm), _mm256_cvtepi32_ps(mins_dot_bsums(m, b[i].bsums)), accm);
    const uint8_t *ql = a[i].qs;
    const int8_t *q8 = b[i].qs;
    __m256i hb = _mm256_loadu_si256((const __m256i *)a[i].qh);
    __m256i sumi = _mm256_setzero_si256();
    for (int c = 0; c < 4; c++, ql += 32, q8 += 64) {
      const __m256i bytes = _mm256_loadu_si256((const __m256i *)ql);
      const __m256i h0 = _mm256_slli_epi16(_mm256_and_si256(hb, one), 4);
      const __m256i h1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 1), one), 4);
      hb = _mm256_srli_epi16(hb, 2);
      const __m256i lo = _mm256_or_si256(_mm256_and_si256(bytes, m4), h0);
      const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bytes, 4), m4), h1);
      const __m256i p0 = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)q8));
      const __m256i p1 = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(q8 + 32)));
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p0, _mm256_set1_epi16(sc[2 * c])));
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p1, _mm256_set1_epi16(sc[2 * c + 1])));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(dd), _mm256_cvtepi32_ps(sumi), acc);
  }
  return tl__hsum256_ps(acc) - tl__hsum256_ps(accm);
}

static inline __m256i scale_pair(const int8_t *sc)
{
  return _mm256_set_m128i(_mm_set1_epi16(sc[1]), _mm_set1_epi16(sc[0]));
}

static float dot_q6_K(int64_t n, const void *w, const void *x)
{
  const tl__block_q6_K *a = w;
  const tl__block_q8_K *b = x;
  const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(3);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / TL_QK_K; i++) {
    const float dd = b[i].d * tl__fp16_load(&a[i].d);
    /* the -32 offset: 32 * sum_j sc[j] * bsums[j] */
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)a[i].scales));
    __m256i sumi = _mm256_slli_epi32(
        _mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)b[i].bsums)), 5);
    sumi = _mm256_sub_epi32(_mm256_setzero_si256(), sumi);
    const uint8_t *ql = a[i].ql, *qh = a[i].qh;
    const int8_t *q8 = b[i].qs, *sc = a[i].scales;
    for (int h = 0; h < 2; h++, ql += 64, qh += 32, q8 += 128, sc += 8) {
      const __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
      const __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
      const __m256i hh = _mm256_loadu_si256((const __m256i *)qh);
      const __m256i q1 = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hh, m2), 4));
      const __m256i q2 = _mm256_or_si256(_mm256_and_si256(l1, m4),
                                         _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 2), m2), 4));
      const __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                         _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 4), m2), 4));
      const __m256i q4 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                         _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 6), m2), 4));
      const __m256i p1 = _mm256_maddubs_epi16(q1, _mm256_loadu_si256((const __m256i *)q8));
      const __m256i p2 = _mm256_maddubs_epi16(q2, _mm256_loadu_si256((const __m256i *)(q8 + 32)));
      const __m256i p3 = _mm256_maddubs_epi16(q3, _mm256_loadu_si256((const __m256i *)(q8 + 64)));
      const __m256i p4 = _mm256_maddubs_epi16(q4, _mm256_loadu_si256((const __m256i *)(q8 + 96)));
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p1, scale_pair(sc + 0)));
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p2, scale_pair(sc + 2)));
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p3, scale_pair(sc + 4)));
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p4, scale_pair(sc + 6)));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(dd), _mm256_cvtepi32_ps(sumi), acc);
  }
  return tl__hsum256_ps(acc);
}

static void quantize_q8_K(const float *x, void *dst, int64_t n)
{
  tl__block_q8_K *y = dst;
  const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  for (int64_t b = 0; b < n / TL_QK_K; b++, x += TL_QK_K) {
    __m256 m = _mm256_setzero_ps();
    for (int j = 0; j < TL_QK_K; j += 8)
      m = _mm256_max_ps(m, _mm256_and_ps(_mm256_loadu_ps(x + j), absmask));
    const float amax = tl__hmax256_ps(m);
    if (amax == 0.0f) {
      memset(&y[b], 0, sizeof y[b]);
      continue;
    }
    float max = 0;
    for (int j = 0; j < TL_QK_K; j++) /* the first element reaching amax, as the reference */
      if (fabsf(x[j]) == amax) {
        max = x[j];
        break;
      }
    const float iscale = -127.f / max;
    const __m256 vs = _mm256_set1_ps(iscale);
    const __m256i hi = _mm256_set1_epi32(127);
    for (int j = 0; j < TL_QK_K; j += 32) {
      __m256i i0 = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j), vs)), hi);
      __m256i i1 = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j + 8), vs)), hi);
      __m256i i2 = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j + 16), vs)), hi);
      __m256i i3 = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j + 24), vs)), hi);
      const __m256i q = tl__pack_i32_i8_avx2(i0, i1, i2, i3);
      _mm256_storeu_si256((__m256i *)(y[b].qs + j), q);
      /* bsums of the two 16-element groups */
      const __m256i s16 = _mm256_maddubs_epi16(_mm256_set1_epi8(1), q);
      const __m256i s32 = _mm256_madd_epi16(s16, _mm256_set1_epi16(1)); /* 8 sums of 4 */
      const __m128i lo = _mm256_castsi256_si128(s32), up = _mm256_extracti128_si256(s32, 1);
      const __m128i t = _mm_hadd_epi32(lo, up);  /* sums of 8: g0a g0b g1a g1b */
      const __m128i u = _mm_hadd_epi32(t, t);    /* g0 g1 g0 g1 */
      y[b].bsums[j / 16] = (int16_t)_mm_cvtsi128_si32(u);
      y[b].bsums[j / 16 + 1] = (int16_t)_mm_extract_epi32(u, 1);
    }
    y[b].d = 1 / iscale;
  }
}

TL__DEFINE_TILE_FROM_DOT(tile_q4_K, dot_q4_K)
TL__DEFINE_TILE_FROM_DOT(tile_q5_K, dot_q5_K)
TL__DEFINE_TILE_FROM_DOT(tile_q6_K, dot_q6_K)

void tl__cpu_fill_kquant_avx2(tl__cpu_kernels *k)
{
  k->vec_dot[TL_QTYPE_Q4_K] = dot_q4_K;
  k->vec_dot[TL_QTYPE_Q5_K] = dot_q5_K;
  k->vec_dot[TL_QTYPE_Q6_K] = dot_q6_K;
  k->vec_dot_tile[TL_QTYPE_Q4_K] = tile_q4_K;
  k->vec_dot_tile[TL_QTYPE_Q5_K] = tile_q5_K;
  k->vec_dot_tile[TL_QTYPE_Q6_K] = tile_q6_K;
  k->quantize_act[TL_QTYPE_Q8_K] = quantize_q8_K;
}
