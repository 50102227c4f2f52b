/* Tensor list of gpt-oss (GGUF arch "gpt-oss"; llama.cpp LLM_ARCH_OPENAI_MOE):
 * attention with biases and per-head sinks, a norm after attention, routed
 * experts with biases (stored MXFP4 in the published files); sliding window
 * on even layers (tl_hparams_finalize). Shapes as llama.cpp llama-model.cpp. */
#include "model/registry-int.h"

void tl__arch_gpt_oss_tensors(tl__tlist *l, const tl_hparams *hp)
{
  tl__arch_embd_output(l, hp);
  int64_t e = hp->n_embd, hd = hp->head_dim_k, nh = hp->n_head, nkv = hp->n_head_kv;
  int64_t ne = hp->n_expert, f = hp->n_ff_exp;
  for (int32_t il = 0; il < (int32_t)hp->n_layer; il++) {
    T1(l, TL_ROLE_ATTN_NORM, il, e, "blk.%d.attn_norm.weight", il);
    T1(l, TL_ROLE_NORM_OTHER, il, e, "blk.%d.post_attention_norm.weight", il);
    T2(l, TL_ROLE_ATTN_Q, il, e, nh * hd, "blk.%d.attn_q.weight", il);
    T1(l, TL_ROLE_ATTN_BIAS, il, nh * hd, "blk.%d.attn_q.bias", il);
    T2(l, TL_ROLE_ATTN_K, il, e, nkv * hd, "blk.%d.attn_k.weight", il);
    T1(l, TL_ROLE_ATTN_BIAS, il, nkv * hd, "blk.%d.attn_k.bias", il);
    T2(l, TL_ROLE_ATTN_V, il, e, nkv * hd, "blk.%d.attn_v.weight", il);
    T1(l, TL_ROLE_ATTN_BIAS, il, nkv * hd, "blk.%d.attn_v.bias", il);
    T2(l, TL_ROLE_ATTN_OUTPUT, il, nh * hd, e, "blk.%d.attn_output.weight", il);
    T1(l, TL_ROLE_ATTN_BIAS, il, e, "blk.%d.attn_output.bias", il);
    T1(l, TL_ROLE_OTHER, il, nh, "blk.%d.attn_sinks.weight", il);
    tl__arch_moe_experts(l, hp, il, (uint32_t)f);
    T1(l, TL_ROLE_FFN_EXP_BIAS, il, ne, "blk.%d.ffn_gate_inp.bias", il);
    T2(l, TL_ROLE_FFN_EXP_BIAS, il, f, ne, "blk.%d.ffn_gate_exps.bias", il);
    T2(l, TL_ROLE_FFN_EXP_BIAS, il, e, ne, "blk.%d.ffn_down_exps.bias", il);
    T2(l, TL_ROLE_FFN_EXP_BIAS, il, f, ne, "blk.%d.ffn_up_exps.bias", il);
  }
}
