/* What tl_engine_load allocates for compute (the "compute" category), from a
 * model description and the engine parameters, without loading: the plan's
 * estimate for tailor's engine calls this, so the estimate and the engine's
 * report agree. It mirrors engine.c (matmul scratch, logits),
 * model-llama.c (tl__state_init), model-decoder.c (tl__state_init_extra) and backend-cpu.c (per-thread workspace and
 * attention scratch; every backend allocation carries 64 bytes of header):
 * change them together (test-run checks the agreement). */
#include <string.h>

#include "engine/backend-cpu.h"
#include "engine/cpu/kernels.h"
#include "engine/engine-size.h"

#define ALLOC_HEADER 64u

static uint64_t alloc_bytes(uint64_t n) { return n + ALLOC_HEADER; }

uint64_t tl__engine_compute_bytes(const tl_model_desc *m, uint32_t n_threads, uint32_t n_ctx,
                                  uint32_t n_ubatch, uint32_t logits_rows)
{
  const tl_hparams *hp = &m->hp;
  uint64_t u = n_ubatch, f = sizeof(float);
  uint32_t hd_k = hp->head_dim_k ? hp->head_dim_k : hp->n_embd / (hp->n_head ? hp->n_head : 1);
  uint32_t hd_v = hp->head_dim_v ? hp->head_dim_v : hd_k;
  /* forward-pass state: x, xb, q, k, v, att, hb, hb2 */
  uint64_t b = alloc_bytes(u * hp->n_embd * f) * 2 + alloc_bytes(u * hp->n_head * hd_k * f) +
               alloc_bytes(u * hp->n_head_kv * hd_k * f) + alloc_bytes(u * hp->n_head_kv * hd_v * f) +
               alloc_bytes(u * hp->n_head * hd_v * f) + alloc_bytes(u * hp->n_ff * f) * 2;
  /* matmul scratch: the largest any projection needs (the output head is
   * token_embd when there is no output.weight) */
  bool has_output = false;
  for (size_t i = 0; i < m->n_tensors; i++)
    has_output |= !strcmp(m->tensors[i].name, "output.weight");
  size_t mm = 0;
  for (size_t i = 0; i < m->n_tensors; i++) {
    const tl_tensor_desc *t = &m->tensors[i];
    if (t->n_dims < 2 || (!strcmp(t->name, "token_embd.weight") && has_output))
      continue;
    size_t s = tl__cpu_matmul_scratch_bytes(t->type, n_ubatch, t->ne[0]);
    mm = s > mm ? s : mm;
  }
  b += alloc_bytes(mm);
  /* MoE (model-decoder.c tl__state_init_extra): router logits, one expert's
   * gathered inputs, outputs and their sum, its gate and up; the routing
   * in host memory */
  if (hp->n_expert > 0)
    b += alloc_bytes(u * hp->n_expert * f) + alloc_bytes(u * hp->n_embd * f) * 3 +
         alloc_bytes(u * hp->n_ff_exp * f) * 2 + u * (hp->n_expert_used + 1) * 8;
  /* per thread: the kernels' workspace and a stride of attention scratch */
  tl__attn_shape shape = {hp->n_head, hp->n_head_kv, hd_k, hd_v, 0, 0};
  uint64_t stride = (tl__cpu_attention_scratch(&shape, n_ctx) + 15) & ~(uint64_t)15;
  b += (uint64_t)n_threads * TL__THREAD_WORKSPACE + alloc_bytes(stride * n_threads * f);
  /* logits */
  b += alloc_bytes((uint64_t)logits_rows * hp->n_vocab * f);
  return b;
}
