/* Temporary stand-in for tailor/quant.h (the quantization type table and the
 * mixture rule), used by the model area until that header is merged. Block
 * sizes and byte sizes are GGML's (ggml.c, type_traits). */
#ifndef TL_MODEL_QUANT_SHIM_INT_H
#define TL_MODEL_QUANT_SHIM_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "tailor/model.h"

static inline bool shim_qtype_block(tl_qtype t, uint32_t *blck, uint32_t *size)
{
  static const struct {
    uint8_t blck_log2; /* block elements = 1 << blck_log2 */
    uint16_t size;
  } tab[TL_QTYPE_COUNT] = {
      [TL_QTYPE_F32] = {0, 4},      [TL_QTYPE_F16] = {0, 2},      [TL_QTYPE_Q4_0] = {5, 18},
      [TL_QTYPE_Q4_1] = {5, 20},    [TL_QTYPE_Q5_0] = {5, 22},    [TL_QTYPE_Q5_1] = {5, 24},
      [TL_QTYPE_Q8_0] = {5, 34},    [TL_QTYPE_Q8_1] = {5, 36},    [TL_QTYPE_Q2_K] = {8, 84},
      [TL_QTYPE_Q3_K] = {8, 110},   [TL_QTYPE_Q4_K] = {8, 144},   [TL_QTYPE_Q5_K] = {8, 176},
      [TL_QTYPE_Q6_K] = {8, 210},   [TL_QTYPE_Q8_K] = {8, 292},   [TL_QTYPE_IQ2_XXS] = {8, 66},
      [TL_QTYPE_IQ2_XS] = {8, 74},  [TL_QTYPE_IQ3_XXS] = {8, 98}, [TL_QTYPE_IQ1_S] = {8, 50},
      [TL_QTYPE_IQ4_NL] = {5, 18},  [TL_QTYPE_IQ3_S] = {8, 110},  [TL_QTYPE_IQ2_S] = {8, 82},
      [TL_QTYPE_IQ4_XS] = {8, 136}, [TL_QTYPE_I8] = {0, 1},       [TL_QTYPE_I16] = {0, 2},
      [TL_QTYPE_I32] = {0, 4},      [TL_QTYPE_I64] = {0, 8},      [TL_QTYPE_F64] = {0, 8},
      [TL_QTYPE_IQ1_M] = {8, 56},   [TL_QTYPE_BF16] = {0, 2},     [TL_QTYPE_TQ1_0] = {8, 54},
      [TL_QTYPE_TQ2_0] = {8, 66},   [TL_QTYPE_MXFP4] = {5, 17},
  };
  if ((unsigned)t >= TL_QTYPE_COUNT || tab[t].size == 0)
    return false;
  *blck = 1u << tab[t].blck_log2;
  *size = tab[t].size;
  return true;
}

/* Bytes of n elements (n a multiple of the block size; rounded up otherwise). */
static inline uint64_t shim_row_bytes(tl_qtype t, uint64_t n)
{
  uint32_t b, s;
  if (!shim_qtype_block(t, &b, &s))
    return 0;
  return (n + b - 1) / b * s;
}

static inline uint64_t shim_tensor_bytes(tl_qtype t, const int64_t ne[4], uint32_t n_dims)
{
  uint64_t rows = 1;
  for (uint32_t d = 1; d < n_dims; d++)
    rows *= (uint64_t)ne[d];
  return shim_row_bytes(t, (uint64_t)ne[0]) * rows;
}

/* The base weight type of a mixture; 1-D tensors stay F32. */
static inline tl_qtype shim_mixture_tensor_type(tl_ftype f, const tl_tensor_desc *t)
{
  if (t->n_dims < 2)
    return TL_QTYPE_F32;
  tl_qtype q;
  switch (f) {
  case TL_FTYPE_ALL_F32: return TL_QTYPE_F32;
  case TL_FTYPE_F16: return TL_QTYPE_F16;
  case TL_FTYPE_BF16: return TL_QTYPE_BF16;
  case TL_FTYPE_Q4_0: q = TL_QTYPE_Q4_0; break;
  case TL_FTYPE_Q4_1: q = TL_QTYPE_Q4_1; break;
  case TL_FTYPE_Q5_0: q = TL_QTYPE_Q5_0; break;
  case TL_FTYPE_Q5_1: q = TL_QTYPE_Q5_1; break;
  case TL_FTYPE_Q8_0: q = TL_QTYPE_Q8_0; break;
  case TL_FTYPE_Q2_K: case TL_FTYPE_Q2_K_S: q = TL_QTYPE_Q2_K; break;
  case TL_FTYPE_Q3_K_S: case TL_FTYPE_Q3_K_M: case TL_FTYPE_Q3_K_L: q = TL_QTYPE_Q3_K; break;
  case TL_FTYPE_Q4_K_S: case TL_FTYPE_Q4_K_M: q = TL_QTYPE_Q4_K; break;
  case TL_FTYPE_Q5_K_S: case TL_FTYPE_Q5_K_M: q = TL_QTYPE_Q5_K; break;
  case TL_FTYPE_Q6_K: q = TL_QTYPE_Q6_K; break;
  case TL_FTYPE_MXFP4_MOE: q = TL_QTYPE_MXFP4; break;
  default: q = TL_QTYPE_Q8_0; break;
  }
  uint32_t b, s;
  shim_qtype_block(q, &b, &s);
  if (t->ne[0] % b != 0)
    return t->ne[0] % 32 == 0 ? TL_QTYPE_Q8_0 : TL_QTYPE_F16;
  return q;
}

#endif
