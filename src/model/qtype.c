/* The tensor element type table: name, block size and bytes per block of
 * every GGML type a GGUF file may carry, and size arithmetic over shapes.
 * Block layouts from ggml-org/llama.cpp ggml/src/ggml-common.h (commit
 * 01243c587feceaa5d6a6c2305535ef2f549c48b8), where each block struct is
 * followed by a static_assert of its size; names from ggml.c type_traits. */
#include "tailor/quant.h"

#include <strings.h>

#include "base/error-int.h"

#define QK_K 256 /* super-block of the K, IQ and TQ types */

/* Bytes per block, spelled out from each struct's fields so the sum can be
 * checked against ggml-common.h by eye. */
static const tl_qtype_info TABLE[TL_QTYPE_COUNT] = {
  [TL_QTYPE_F32] = {"f32", 1, 4, false},
  [TL_QTYPE_F16] = {"f16", 1, 2, false},
  [TL_QTYPE_Q4_0] = {"q4_0", 32, 2 + 16, true},          /* d, qs[16] */
  [TL_QTYPE_Q4_1] = {"q4_1", 32, 2 + 2 + 16, true},      /* d, m, qs[16] */
  [TL_QTYPE_Q5_0] = {"q5_0", 32, 2 + 4 + 16, true},      /* d, qh[4], qs[16] */
  [TL_QTYPE_Q5_1] = {"q5_1", 32, 2 + 2 + 4 + 16, true},  /* d, m, qh[4], qs[16] */
  [TL_QTYPE_Q8_0] = {"q8_0", 32, 2 + 32, true},          /* d, qs[32] */
  [TL_QTYPE_Q8_1] = {"q8_1", 32, 2 + 2 + 32, true},      /* d, s, qs[32] */
  [TL_QTYPE_Q2_K] = {"q2_K", QK_K, 16 + 64 + 2 + 2, true},        /* scales, qs, d, dmin */
  [TL_QTYPE_Q3_K] = {"q3_K", QK_K, 32 + 64 + 12 + 2, true},       /* hmask, qs, scales, d */
  [TL_QTYPE_Q4_K] = {"q4_K", QK_K, 2 + 2 + 12 + 128, true},       /* d, dmin, scales, qs */
  [TL_QTYPE_Q5_K] = {"q5_K", QK_K, 2 + 2 + 12 + 32 + 128, true},  /* d, dmin, scales, qh, qs */
  [TL_QTYPE_Q6_K] = {"q6_K", QK_K, 128 + 64 + 16 + 2, true},      /* ql, qh, scales, d */
  [TL_QTYPE_Q8_K] = {"q8_K", QK_K, 4 + 256 + 16 * 2, true},       /* float d, qs, bsums */
  [TL_QTYPE_IQ2_XXS] = {"iq2_xxs", QK_K, 2 + 32 * 2, true},       /* d, u16 qs[32] */
  [TL_QTYPE_IQ2_XS] = {"iq2_xs", QK_K, 2 + 32 * 2 + 8, true},     /* d, u16 qs[32], scales[8] */
  [TL_QTYPE_IQ3_XXS] = {"iq3_xxs", QK_K, 2 + 96, true},           /* d, qs[96] */
  [TL_QTYPE_IQ1_S] = {"iq1_s", QK_K, 2 + 32 + 8 * 2, true},       /* d, qs[32], u16 qh[8] */
  [TL_QTYPE_IQ4_NL] = {"iq4_nl", 32, 2 + 16, true},               /* d, qs[16] */
  [TL_QTYPE_IQ3_S] = {"iq3_s", QK_K, 2 + 64 + 8 + 32 + 4, true},  /* d, qs, qh, signs, scales */
  [TL_QTYPE_IQ2_S] = {"iq2_s", QK_K, 2 + 64 + 8 + 8, true},       /* d, qs, qh, scales */
  [TL_QTYPE_IQ4_XS] = {"iq4_xs", QK_K, 2 + 2 + 4 + 128, true},    /* d, scales_h, scales_l, qs */
  [TL_QTYPE_I8] = {"i8", 1, 1, false},
  [TL_QTYPE_I16] = {"i16", 1, 2, false},
  [TL_QTYPE_I32] = {"i32", 1, 4, false},
  [TL_QTYPE_I64] = {"i64", 1, 8, false},
  [TL_QTYPE_F64] = {"f64", 1, 8, false},
  [TL_QTYPE_IQ1_M] = {"iq1_m", QK_K, 32 + 16 + 8, true},          /* qs, qh, scales */
  [TL_QTYPE_BF16] = {"bf16", 1, 2, false},
  [TL_QTYPE_TQ1_0] = {"tq1_0", QK_K, 48 + 4 + 2, true},           /* qs[(256-16)/5], qh[4], d */
  [TL_QTYPE_TQ2_0] = {"tq2_0", QK_K, 64 + 2, true},               /* qs[64], d */
  [TL_QTYPE_MXFP4] = {"mxfp4", 32, 1 + 16, true},                 /* e (E8M0), qs[16] */
};

_Static_assert(TL_QTYPE_COUNT == 40, "type table covers ids 0..39");

bool tl_qtype_valid(tl_qtype t)
{
  return (unsigned)t < TL_QTYPE_COUNT && TABLE[t].name != NULL;
}

const tl_qtype_info *tl_qtype_get(tl_qtype t)
{
  return tl_qtype_valid(t) ? &TABLE[t] : NULL;
}

const char *tl_qtype_name(tl_qtype t)
{
  return tl_qtype_valid(t) ? TABLE[t].name : "invalid";
}

tl_status tl_qtype_parse(const char *name, tl_qtype *out, tl_error *err)
{
  if (name != NULL) {
    for (int t = 0; t < TL_QTYPE_COUNT; t++) {
      if (TABLE[t].name != NULL && strcasecmp(TABLE[t].name, name) == 0) {
        *out = (tl_qtype)t;
        return TL_OK;
      }
    }
  }
  return tl__error_set(err, TL_EINVAL, "unknown tensor type '%s'", name ? name : "(null)");
}

uint64_t tl_qtype_row_bytes(tl_qtype t, int64_t n)
{
  const tl_qtype_info *q = tl_qtype_get(t);
  if (q == NULL || n <= 0 || n % q->block_size != 0)
    return 0;
  uint64_t blocks = (uint64_t)n / q->block_size;
  if (blocks > UINT64_MAX / q->block_bytes)
    return 0;
  return blocks * q->block_bytes;
}

uint64_t tl_tensor_bytes(tl_qtype t, const int64_t *ne, uint32_t n_dims)
{
  if (ne == NULL || n_dims < 1 || n_dims > 4)
    return 0;
  uint64_t bytes = tl_qtype_row_bytes(t, ne[0]);
  if (bytes == 0)
    return 0;
  for (uint32_t d = 1; d < n_dims; d++) {
    if (ne[d] <= 0 || bytes > UINT64_MAX / (uint64_t)ne[d])
      return 0;
    bytes *= (uint64_t)ne[d];
  }
  return bytes;
}
