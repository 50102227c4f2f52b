/* AVX-512 (BW + VNNI) kernels of the K-quant family for the decode path:
 * Q4_K, Q5_K and Q6_K weights with Q8_K activations. A 64-element chunk of
 * quants fills one zmm in the activation order, maddubs forms int16 pairs,
 * and vpdpwssd multiplies them by the sub-block scales (int16 lanes picked
 * with vpermw) and accumulates in int32: two instructions per 64 elements
 * after unpacking, one float multiply-add per super-block. */
#include "engine/cpu/internal.h"
#include "engine/cpu/simd-x86.h"

/* The 8 six-bit scales (low 8 bytes) and mins (high 8 bytes) of a Q4_K/Q5_K
 * block, built in registers (no store-to-load round trip). */
static inline __m128i unpack_scales_mins(const uint8_t *q)
{
  uint32_t u0, u1, u2;
  memcpy(&u0, q, 4);
  memcpy(&u1, q + 4, 4);
  memcpy(&u2, q + 8, 4);
  const uint32_t s_lo = u0 & 0x3f3f3f3fu, m_lo = u1 & 0x3f3f3f3fu;
  const uint32_t s_hi = (u2 & 0x0f0f0f0fu) | (((u0 >> 6) & 0x03030303u) << 4);
  const uint32_t m_hi = ((u2 >> 4) & 0x0f0f0f0fu) | (((u1 >> 6) & 0x03030303u) << 4);
  return _mm_set_epi32((int)m_hi, (int)m_lo, (int)s_hi, (int)s_lo);
}

/* 32 int16 lanes: lanes 0-15 = s[2c], 16-31 = s[2c+1] (32-element sub-blocks) */
static inline __m512i scales_q45(__m512i s16, int c)
{
  const __m512i idx = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi16((short)(2 * c))),
                                         _mm256_set1_epi16((short)(2 * c + 1)), 1);
  return _mm512_permutexvar_epi16(idx, s16);
}

static inline float dot_q45_K(int64_t n, const void *w, const void *x, const bool five)
{
  const tl__block_q8_K *b = x;
  const size_t bsz = five ? sizeof(tl__block_q5_K) : sizeof(tl__block_q4_K);
  __m512 acc = _mm512_setzero_ps();
  __m256 accm = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / TL_QK_K; i++) {
    const char *blk = (const char *)w + (size_t)i * bsz;
    const tl__block_q4_K *b4 = (const tl__block_q4_K *)blk;
    const tl__block_q5_K *b5 = (const tl__block_q5_K *)blk;
    const __m128i scm = unpack_scales_mins(five ? b5->scales : b4->scales);
    const uint8_t *qs = five ? b5->qs : b4->qs;
    const float dd = b[i].d * tl__fp16_load(five ? &b5->d : &b4->d);
    const float dm = b[i].d * tl__fp16_load(five ? &b5->dmin : &b4->dmin);
    /* mins: sum_j m[j] * (bsums[2j] + bsums[2j+1]) */
    const __m128i mb = _mm_shuffle_epi8(scm, _mm_setr_epi8(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15));
    const __m256i mp = _mm256_madd_epi16(_mm256_cvtepu8_epi16(mb), _mm256_loadu_si256((const __m256i *)b[i].bsums));
    accm = _mm256_fmadd_ps(_mm256_set1_ps(dm), _mm256_cvtepi32_ps(mp), accm);
    const __m512i s16 = _mm512_castsi128_si512(_mm_cvtepu8_epi16(scm));
    /* chunk c: the 32 bytes in both halves of a zmm, the upper half shifted
     * right by 4 (high nibbles), so one load-broadcast and one variable
     * shift give [low nibbles | high nibbles] in activation order */
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512i shift4 = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(4), 1);
    __m512i hz = five ? _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)b5->qh)) : _mm512_setzero_si512();
    const __m512i shift1 = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(1), 1);
    __m512i sumi = _mm512_setzero_si512(), sumi2 = _mm512_setzero_si512(); /* two chains */
    for (int c = 0; c < 4; c++) {
      const __m512i v = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(qs + 32 * c)));
      __m512i q = _mm512_and_si512(_mm512_srlv_epi16(v, shift4), m4);
      if (five) {
        /* fifth bit: bit 2c of qh for the low half, bit 2c+1 for the high half */
        const __m512i hbits = _mm512_and_si512(_mm512_srlv_epi16(hz, shift1), _mm512_set1_epi8(1));
        q = _mm512_or_si512(q, _mm512_slli_epi16(hbits, 4));
        hz = _mm512_srli_epi16(hz, 2);
      }
      const __m512i p = _mm512_maddubs_epi16(q, _mm512_loadu_si512((const void *)(b[i].qs + 64 * c)));
      if (c % 2)
        sumi2 = _mm512_dpwssd_epi32(sumi2, p, scales_q45(s16, c));
      else
        sumi = _mm512_dpwssd_epi32(sumi, p, scales_q45(s16, c));
    }
    acc = _mm512_fmadd_ps(_mm512_set1_ps(dd), _mm512_cvtepi32_ps(_mm512_add_epi32(sumi, sumi2)), acc);
  }
  return _mm512_reduce_add_ps(acc) - tl__hsum256_ps(accm);
}

static float dot_q4_K(int64_t n, const void *w, const void *x)
{
  return dot_q45_K(n, w, x, false);
}

static float dot_q5_K(int64_t n, const void *w, const void *x)
{
  return dot_q45_K(n, w, x, true);
}

static float dot_q6_K(int64_t n, const void *w, const void *x)
{
  const tl__block_q6_K *a = w;
  const tl__block_q8_K *b = x;
  const __m512i m4 = _mm512_set1_epi8(0x0F), m2 = _mm512_set1_epi8(3);
  /* lane j of a 64-element group g uses scale 4g + j/8 */
  __m512i idx[4];
  for (int g = 0; g < 4; g++)
    idx[g] = _mm512_add_epi16(_mm512_set1_epi16((short)(4 * g)),
                              _mm512_srli_epi16(_mm512_set_epi16(31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19,
                                                                 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5,
                                                                 4, 3, 2, 1, 0),
                                                3));
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < n / TL_QK_K; i++) {
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)a[i].scales));
    const __m512i s16 = _mm512_castsi256_si512(sc16);
    /* the -32 offset: 32 * sum_j sc[j] * bsums[j] */
    const __m256i off = _mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)b[i].bsums));
    __m512i sumi = _mm512_castsi256_si512(_mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(off, 5)));
    sumi = _mm512_inserti64x4(sumi, _mm256_setzero_si256(), 1);
    __m512i sumi2 = _mm512_setzero_si512();
    for (int h = 0; h < 2; h++) {
      const __m512i L = _mm512_loadu_si512((const void *)(a[i].ql + 64 * h));
      const __m256i H = _mm256_loadu_si256((const __m256i *)(a[i].qh + 32 * h));
      const __m512i hlo = _mm512_inserti64x4(_mm512_castsi256_si512(H), _mm256_srli_epi16(H, 2), 1);
      const __m512i hhi = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_srli_epi16(H, 4)), _mm256_srli_epi16(H, 6), 1);
      const __m512i qlo = _mm512_or_si512(_mm512_and_si512(L, m4), _mm512_slli_epi16(_mm512_and_si512(hlo, m2), 4));
      const __m512i qhi = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(L, 4), m4),
                                          _mm512_slli_epi16(_mm512_and_si512(hhi, m2), 4));
      const __m512i plo = _mm512_maddubs_epi16(qlo, _mm512_loadu_si512((const void *)(b[i].qs + 128 * h)));
      const __m512i phi = _mm512_maddubs_epi16(qhi, _mm512_loadu_si512((const void *)(b[i].qs + 128 * h + 64)));
      sumi = _mm512_dpwssd_epi32(sumi, plo, _mm512_permutexvar_epi16(idx[2 * h], s16));
      sumi2 = _mm512_dpwssd_epi32(sumi2, phi, _mm512_permutexvar_epi16(idx[2 * h + 1], s16));
    }
    acc = _mm512_fmadd_ps(_mm512_set1_ps(b[i].d * tl__fp16_load(&a[i].d)),
                          _mm512_cvtepi32_ps(_mm512_add_epi32(sumi, sumi2)), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

TL__DEFINE_TILE_FROM_DOT(tile_q4_K, dot_q4_K)
TL__DEFINE_TILE_FROM_DOT(tile_q5_K, dot_q5_K)
TL__DEFINE_TILE_FROM_DOT(tile_q6_K, dot_q6_K)

void tl__cpu_fill_kquant_avx512(tl__cpu_kernels *k)
{
  k->vec_dot[TL_QTYPE_Q4_K] = dot_q4_K;
  k->vec_dot[TL_QTYPE_Q5_K] = dot_q5_K;
  k->vec_dot[TL_QTYPE_Q6_K] = dot_q6_K;
  k->vec_dot_tile[TL_QTYPE_Q4_K] = tile_q4_K;
  k->vec_dot_tile[TL_QTYPE_Q5_K] = tile_q5_K;
  k->vec_dot_tile[TL_QTYPE_Q6_K] = tile_q6_K;
}
