/* Tensor element types and file-type mixtures: the facts that make a model's
 * bytes follow from its tensor shapes. The type table gives, for every GGML
 * type, its name, block size and bytes per block (ggml/src/ggml-common.h).
 * The mixture rule says which type each tensor gets under a llama.cpp
 * file type (src/llama-quant.cpp), so a quantized model's size can be
 * predicted exactly before any weight is read. */
#ifndef TAILOR_QUANT_H
#define TAILOR_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tailor/error.h"
#include "tailor/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- element types ---- */

/* Static facts about one tensor element type. */
typedef struct tl_qtype_info {
  const char *name;      /* GGML's name: "f32", "q4_K", "iq2_xxs" ... */
  uint32_t block_size;   /* elements per block (1 for plain types) */
  uint32_t block_bytes;  /* bytes per block */
  bool quantized;        /* block-quantized (GGML's is_quantized) */
} tl_qtype_info;

/* True when t is a type id GGUF files may carry (removed ids are invalid). */
bool tl_qtype_valid(tl_qtype t);
/* The type's facts, or NULL for an invalid id. */
const tl_qtype_info *tl_qtype_get(tl_qtype t);
/* GGML's name of the type, or "invalid". */
const char *tl_qtype_name(tl_qtype t);
/* Parses a type name, case-insensitively ("Q4_K", "q4_k", "bf16").
 * TL_EINVAL (naming the text) when it names no type. */
tl_status tl_qtype_parse(const char *name, tl_qtype *out, tl_error *err);
/* Bytes of one row of n elements; 0 when n is not a multiple of the block
 * size, the type is invalid, or the result overflows. */
uint64_t tl_qtype_row_bytes(tl_qtype t, int64_t n);
/* Bytes of a tensor of the given shape (ne[0] contiguous, n_dims in 1..4);
 * 0 when ne[0] is not a multiple of the block size, a dimension is not
 * positive, the type is invalid, or the result overflows uint64_t. */
uint64_t tl_tensor_bytes(tl_qtype t, const int64_t *ne, uint32_t n_dims);

#ifdef __cplusplus
}
#endif
#endif
