/* Tensor list of phi3 (Phi-3, Phi-3.5, Phi-4-mini): q, k and v fused in one
 * attn_qkv, gate and up fused in one ffn_up of width 2 * n_ff, and LongRoPE
 * factor tensors for the long-context variants. Shapes as llama.cpp
 * llama-model.cpp load_tensors (LLM_ARCH_PHI3). */
#include "model/registry-int.h"

void tl__arch_phi3_tensors(tl__tlist *l, const tl_hparams *hp)
{
  tl__arch_embd_output(l, hp);
  if (hp->has_rope_factors && hp->rope_scaling == TL_ROPE_SCALING_LONGROPE) {
    T1(l, TL_ROLE_OTHER, -1, hp->n_rot / 2, "rope_factors_long.weight");
    T1(l, TL_ROLE_OTHER, -1, hp->n_rot / 2, "rope_factors_short.weight");
  }
  int64_t e = hp->n_embd, hk = hp->head_dim_k, hv = hp->head_dim_v;
  for (int32_t il = 0; il < (int32_t)hp->n_layer; il++) {
    int64_t nh = tl_hparams_n_head(hp, (uint32_t)il), nkv = tl_hparams_n_head_kv(hp, (uint32_t)il);
    int64_t ff = tl_hparams_n_ff(hp, (uint32_t)il);
    T1(l, TL_ROLE_ATTN_NORM, il, e, "blk.%d.attn_norm.weight", il);
    T2(l, TL_ROLE_ATTN_QKV, il, e, nh * hk + nkv * hk + nkv * hv, "blk.%d.attn_qkv.weight", il);
    T2(l, TL_ROLE_ATTN_OUTPUT, il, nh * hv, e, "blk.%d.attn_output.weight", il);
    T1(l, TL_ROLE_FFN_NORM, il, e, "blk.%d.ffn_norm.weight", il);
    T2(l, TL_ROLE_FFN_DOWN, il, ff, e, "blk.%d.ffn_down.weight", il);
    T2(l, TL_ROLE_FFN_GATE_UP, il, e, 2 * ff, "blk.%d.ffn_up.weight", il);
  }
}
