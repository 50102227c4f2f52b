/* What the files of the architecture registry share: a growing tensor list
 * and the per-family generators (arch-*.c) that fill it from hyperparameters.
 * Names and shapes follow llama.cpp's GGUF conversion (llama-arch.cpp tensor
 * names, llama-model.cpp load_tensors shapes); ne[0] is the input dimension. */
#ifndef TL_MODEL_REGISTRY_INT_H
#define TL_MODEL_REGISTRY_INT_H

#include <stdint.h>

#include "tailor/model.h"

typedef struct tl__tlist {
  tl_tensor_desc *v;
  size_t n, cap;
  tl_status st; /* sticky: TL_ENOMEM after a failed append */
} tl__tlist;

/* Appends an F32 tensor of n_dims dimensions (ne0, ne1, ne2; unused ones
 * ignored) named by the printf-style format. */
void tl__tlist_add(tl__tlist *l, tl_tensor_role role, int32_t layer, uint32_t n_dims, int64_t ne0,
                   int64_t ne1, int64_t ne2, const char *fmt, ...) __attribute__((format(printf, 8, 9)));

#define T1(l, role, il, a, ...) tl__tlist_add(l, role, il, 1, a, 1, 1, __VA_ARGS__)
#define T2(l, role, il, a, b, ...) tl__tlist_add(l, role, il, 2, a, b, 1, __VA_ARGS__)
#define T3(l, role, il, a, b, c, ...) tl__tlist_add(l, role, il, 3, a, b, c, __VA_ARGS__)

/* Shared pieces: token embedding, final norm and (untied) output head. */
void tl__arch_embd_output(tl__tlist *l, const tl_hparams *hp);
/* Routed experts of layer il (router, stacked gate/up/down). */
void tl__arch_moe_experts(tl__tlist *l, const tl_hparams *hp, int32_t il, uint32_t n_ff_exp);
/* A dense SwiGLU feed-forward of width n_ff. */
void tl__arch_ffn_dense(tl__tlist *l, const tl_hparams *hp, int32_t il, uint32_t n_ff);

/* Per-family generators. */
void tl__arch_llama_tensors(tl__tlist *l, const tl_hparams *hp);  /* llama, qwen2/3, qwen2moe, qwen3moe */
void tl__arch_gemma_tensors(tl__tlist *l, const tl_hparams *hp);  /* gemma2, gemma3 */
void tl__arch_phi3_tensors(tl__tlist *l, const tl_hparams *hp);
void tl__arch_deepseek2_tensors(tl__tlist *l, const tl_hparams *hp);
void tl__arch_gpt_oss_tensors(tl__tlist *l, const tl_hparams *hp);
void tl__arch_bert_tensors(tl__tlist *l, const tl_hparams *hp);

#endif
