/* Quantization block layouts of the weight and activation formats the engine
 * reads: the bit layouts of GGML (ggml-common.h: block_q4_0, block_q8_0,
 * block_q4_K, block_q5_K, block_q6_K, block_q8_K), so GGUF tensor data is used
 * in place. Defined once here; compiles as C and as CUDA. fp16 and bf16 values
 * are stored as raw uint16_t bit patterns (IEEE binary16, bfloat16). */
#ifndef TL_ENGINE_QUANT_BLOCKS_H
#define TL_ENGINE_QUANT_BLOCKS_H

#include <stdint.h>

#ifdef __cplusplus
#define TL__STATIC_ASSERT(c, m) static_assert(c, m)
#else
#define TL__STATIC_ASSERT(c, m) _Static_assert(c, m)
#endif

typedef uint16_t tl__fp16; /* IEEE 754 binary16 bits */
typedef uint16_t tl__bf16; /* bfloat16 bits (upper half of a binary32) */

#define TL_QK4_0 32  /* elements per Q4_0 block */
#define TL_QK8_0 32  /* elements per Q8_0 block */
#define TL_QK_K 256  /* elements per K-quant super-block */
#define TL_K_SCALE_SIZE 12 /* bytes of packed 6-bit scales and mins (Q4_K, Q5_K) */

/* Q4_0: x = d * (q - 8), q in 0..15. qs[j] holds element j in its low nibble
 * and element j + 16 in its high nibble. */
typedef struct tl__block_q4_0 {
  tl__fp16 d;
  uint8_t qs[TL_QK4_0 / 2];
} tl__block_q4_0;
TL__STATIC_ASSERT(sizeof(tl__block_q4_0) == 18, "Q4_0 block is 18 bytes");

/* Q8_0: x = d * q, q in -127..127. Also the activation format paired with
 * Q8_0 and Q4_0 weights. */
typedef struct tl__block_q8_0 {
  tl__fp16 d;
  int8_t qs[TL_QK8_0];
} tl__block_q8_0;
TL__STATIC_ASSERT(sizeof(tl__block_q8_0) == 34, "Q8_0 block is 34 bytes");

/* Q4_K: 8 sub-blocks of 32. Sub-block j has a 6-bit scale sc_j and 6-bit min
 * m_j packed in scales[12] (see tl__kquant_scale_min); x = d*sc_j*q - dmin*m_j,
 * q in 0..15. qs: for each 64-element chunk c, 32 bytes whose low nibbles are
 * elements 64c..64c+31 and high nibbles 64c+32..64c+63. */
typedef struct tl__block_q4_K {
  tl__fp16 d;    /* super-block scale of the quantized scales */
  tl__fp16 dmin; /* super-block scale of the quantized mins */
  uint8_t scales[TL_K_SCALE_SIZE];
  uint8_t qs[TL_QK_K / 2];
} tl__block_q4_K;
TL__STATIC_ASSERT(sizeof(tl__block_q4_K) == 144, "Q4_K block is 144 bytes");

/* Q5_K: as Q4_K with a fifth bit per element: for chunk c (64 elements), bit
 * 2c of qh[l] is the high bit of element 64c + l and bit 2c+1 that of
 * element 64c + 32 + l. q in 0..31. */
typedef struct tl__block_q5_K {
  tl__fp16 d;
  tl__fp16 dmin;
  uint8_t scales[TL_K_SCALE_SIZE];
  uint8_t qh[TL_QK_K / 8];
  uint8_t qs[TL_QK_K / 2];
} tl__block_q5_K;
TL__STATIC_ASSERT(sizeof(tl__block_q5_K) == 176, "Q5_K block is 176 bytes");

/* Q6_K: 16 sub-blocks of 16 with signed 8-bit scales; x = d*scales[s]*(q-32),
 * q in 0..63. For each half h (128 elements): ql[64h + l] holds elements
 * 128h+l (low nibble) and 128h+64+l (high nibble), ql[64h + 32 + l] holds
 * 128h+32+l and 128h+96+l; qh[32h + l] holds the top two bits of elements
 * 128h + l, +32, +64, +96 in bits 0-1, 2-3, 4-5, 6-7. */
typedef struct tl__block_q6_K {
  uint8_t ql[TL_QK_K / 2];
  uint8_t qh[TL_QK_K / 4];
  int8_t scales[TL_QK_K / 16];
  tl__fp16 d;
} tl__block_q6_K;
TL__STATIC_ASSERT(sizeof(tl__block_q6_K) == 210, "Q6_K block is 210 bytes");

/* Q8_K: the activation format paired with K-quant weights. x = d * q;
 * bsums[i] is the sum of qs[16i .. 16i+15]. */
typedef struct tl__block_q8_K {
  float d;
  int8_t qs[TL_QK_K];
  int16_t bsums[TL_QK_K / 16];
} tl__block_q8_K;
TL__STATIC_ASSERT(sizeof(tl__block_q8_K) == 292, "Q8_K block is 292 bytes");

#endif
