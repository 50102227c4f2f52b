/* Temporary stand-in for the mixture rule of tailor/quant.h
 * (tl_mixture_assign), used by the model area until it is merged. */
#ifndef TL_MODEL_QUANT_SHIM_INT_H
#define TL_MODEL_QUANT_SHIM_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "tailor/model.h"
#include "tailor/quant.h"

/* Bytes of n elements (n a multiple of the block size; rounded up otherwise). */
static inline uint64_t shim_row_bytes(tl_qtype t, uint64_t n)
{
  const tl_qtype_info *q = tl_qtype_get(t);
  if (!q)
    return 0;
  return (n + q->block_size - 1) / q->block_size * q->block_bytes;
}

static inline uint64_t shim_tensor_bytes(tl_qtype t, const int64_t ne[4], uint32_t n_dims)
{
  return tl_tensor_bytes(t, ne, n_dims);
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
  uint32_t b = tl_qtype_get(q)->block_size;
  if (t->ne[0] % b != 0)
    return t->ne[0] % 32 == 0 ? TL_QTYPE_Q8_0 : TL_QTYPE_F16;
  return q;
}

#endif
