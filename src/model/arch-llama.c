/* Tensor lists of the llama-shaped decoders: llama (Llama 2/3.x, Mistral,
 * Mixtral with expert_count), qwen2 (q/k/v bias), qwen2moe (routed experts
 * plus a gated shared expert), qwen3 (per-head q/k RMSNorm) and qwen3moe.
 * Shapes as llama.cpp llama-model.cpp load_tensors creates them. */
#include "model/registry-int.h"

static void attention(tl__tlist *l, const tl_hparams *hp, int32_t il)
{
  int64_t e = hp->n_embd, hk = hp->head_dim_k, hv = hp->head_dim_v;
  int64_t nh = tl_hparams_n_head(hp, (uint32_t)il), nkv = tl_hparams_n_head_kv(hp, (uint32_t)il);
  T2(l, TL_ROLE_ATTN_Q, il, e, nh * hk, "blk.%d.attn_q.weight", il);
  T2(l, TL_ROLE_ATTN_K, il, e, nkv * hk, "blk.%d.attn_k.weight", il);
  T2(l, TL_ROLE_ATTN_V, il, e, nkv * hv, "blk.%d.attn_v.weight", il);
  if (hp->attn_bias) {
    T1(l, TL_ROLE_ATTN_BIAS, il, nh * hk, "blk.%d.attn_q.bias", il);
    T1(l, TL_ROLE_ATTN_BIAS, il, nkv * hk, "blk.%d.attn_k.bias", il);
    T1(l, TL_ROLE_ATTN_BIAS, il, nkv * hv, "blk.%d.attn_v.bias", il);
  }
  T2(l, TL_ROLE_ATTN_OUTPUT, il, nh * hv, e, "blk.%d.attn_output.weight", il);
  if (hp->qk_norm) {
    T1(l, TL_ROLE_ATTN_Q_NORM, il, hk, "blk.%d.attn_q_norm.weight", il);
    T1(l, TL_ROLE_ATTN_K_NORM, il, hk, "blk.%d.attn_k_norm.weight", il);
  }
}

void tl__arch_llama_tensors(tl__tlist *l, const tl_hparams *hp)
{
  tl__arch_embd_output(l, hp);
  /* Llama 3.1+ rope scaling is stored as per-dimension frequency factors. */
  if (hp->has_rope_factors && hp->rope_scaling == TL_ROPE_SCALING_LLAMA3)
    T1(l, TL_ROLE_OTHER, -1, hp->n_rot / 2, "rope_freqs.weight");
  for (int32_t il = 0; il < (int32_t)hp->n_layer; il++) {
    T1(l, TL_ROLE_ATTN_NORM, il, hp->n_embd, "blk.%d.attn_norm.weight", il);
    attention(l, hp, il);
    T1(l, TL_ROLE_FFN_NORM, il, hp->n_embd, "blk.%d.ffn_norm.weight", il);
    if (!tl_hparams_layer_is_moe(hp, (uint32_t)il)) {
      tl__arch_ffn_dense(l, hp, il, tl_hparams_n_ff(hp, (uint32_t)il));
      continue;
    }
    tl__arch_moe_experts(l, hp, il, hp->n_ff_exp);
    if (hp->arch == TL_ARCH_QWEN2MOE && hp->n_ff_shexp > 0) {
      int64_t e = hp->n_embd, f = hp->n_ff_shexp;
      T1(l, TL_ROLE_FFN_SHEXP, il, e, "blk.%d.ffn_gate_inp_shexp.weight", il);
      T2(l, TL_ROLE_FFN_SHEXP, il, e, f, "blk.%d.ffn_gate_shexp.weight", il);
      T2(l, TL_ROLE_FFN_SHEXP, il, f, e, "blk.%d.ffn_down_shexp.weight", il);
      T2(l, TL_ROLE_FFN_SHEXP, il, e, f, "blk.%d.ffn_up_shexp.weight", il);
    }
  }
}
