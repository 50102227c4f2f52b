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

/* ---- file-type mixtures ---- */

/* llama-quantize's short name ("Q4_K_M", "F16", "MXFP4_MOE"), or "invalid". */
const char *tl_ftype_name(tl_ftype f);
/* True when f is a file type llama.cpp can produce today (ids removed
 * upstream, such as 4 = Q4_1_SOME_F16, are invalid). */
bool tl_ftype_valid(tl_ftype f);
/* Parses a short name case-insensitively; "Q3_K", "Q4_K", "Q5_K" are the
 * _M mixtures, as in llama-quantize. TL_EINVAL when unknown. */
tl_status tl_ftype_parse(const char *name, tl_ftype *out, tl_error *err);
/* The type most tensors get (llama_ftype_get_default_type). */
tl_qtype tl_ftype_default_type(tl_ftype f);

/* What the mixture rule needs to know about the model, and the counters it
 * advances as tensors are visited. Fill the model fields, then call
 * tl_mixture_ctx_begin with every tensor name before the first
 * tl_mixture_tensor_type call. */
typedef struct tl_mixture_ctx {
  /* model */
  char arch[32];          /* general.architecture ("llama", "falcon" ...) */
  uint32_t n_layer;       /* block_count */
  uint32_t n_expert;      /* expert_count, 0 = dense */
  uint32_t n_head;        /* attention.head_count */
  uint32_t n_head_kv;     /* attention.head_count_kv (GQA when < n_head) */
  bool has_imatrix;       /* an importance matrix is supplied */
  bool is_70b;            /* llama.cpp's LLM_TYPE_70B (attn_v gets more bits); set
                           * by tl_mixture_ctx_begin for the known cases */
  /* derived by tl_mixture_ctx_begin */
  bool has_output;        /* an "output.weight" tensor exists (else tied) */
  int n_attention_wv;     /* attn_v / attn_qkv / attn_kv_b tensors */
  /* counters advanced by tl_mixture_tensor_type */
  int i_attention_wv;
  int i_ffn_down, i_ffn_gate, i_ffn_up;
  int n_fallback;         /* tensors that needed a fallback type */
} tl_mixture_ctx;

/* Resets the counters and derives has_output and n_attention_wv from the
 * names of all tensors of the model, and is_70b from arch and n_layer where
 * llama.cpp's loader names the size 70B: llama with 80 layers and GQA, qwen2
 * and deci with 80, jais2 with 68 (llama-model.cpp). */
void tl_mixture_ctx_begin(tl_mixture_ctx *ctx, const char *const *names, size_t n);

/* The type llama-quantize gives one tensor under mixture ftype, where
 * src_type is the tensor's type in the unquantized source (it keeps that type
 * when the rule does not quantize it: norms, 1-D tensors, routers ...).
 * ne has 4 entries (unused ones 1). Tensors must be visited in llama.cpp's
 * order (tl_mixture_order), as the per-layer rules count them.
 * TL_EUNSUPPORTED when llama.cpp would refuse (no fallback type fits ne[0]),
 * TL_EINVAL for an invalid ftype or malformed name (named in err). */
tl_status tl_mixture_tensor_type(tl_ftype ftype, tl_mixture_ctx *ctx, const char *tensor_name,
                                 const int64_t ne[4], tl_qtype src_type, tl_qtype *out,
                                 tl_error *err);

/* Sorts idx[0..n-1] (indices into names) into llama.cpp's visiting order:
 * by the layer number in "blk.N." (tensors without one first), then by name
 * bytewise. */
void tl_mixture_order(const char *const *names, size_t *idx, size_t n);

/* One tensor of a model for tl_mixture_assign. */
typedef struct tl_mixture_tensor {
  const char *name;
  int64_t ne[4];          /* unused dimensions 1 */
  tl_qtype src_type;      /* type in the unquantized source */
  tl_qtype type;          /* out: the mixture's type */
  uint64_t bytes;         /* out: tl_tensor_bytes at that type */
} tl_mixture_tensor;

/* Applies mixture ftype to all n tensors of a model: begins ctx, visits them
 * in llama.cpp's order and fills each type and bytes. Allocates a scratch
 * index (TL_ENOMEM). Other errors as tl_mixture_tensor_type. */
tl_status tl_mixture_assign(tl_ftype ftype, tl_mixture_ctx *ctx, tl_mixture_tensor *tensors,
                            size_t n, tl_error *err);

/* Types every tensor of a model description by mixture ftype: the context
 * comes from m->hp (arch_name, n_layer, n_expert, n_head, n_head_kv), each
 * tensor's current type is taken as its source type, and type and bytes are
 * overwritten (weight_bytes is not recomputed). Errors as tl_mixture_assign;
 * m is unchanged on error. */
tl_status tl_mixture_apply(tl_ftype ftype, tl_model_desc *m, bool has_imatrix, tl_error *err);

#ifdef __cplusplus
}
#endif
#endif
