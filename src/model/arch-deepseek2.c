/* Tensor list of deepseek2 (DeepSeek V2, V2-Lite, V3, R1): multi-head latent
 * attention, routed experts with shared experts, dense leading layers
 * (first_k_dense_replace) and, for V3, the router's score-correction bias
 * exp_probs_b. The kv_b projection is written split into attn_k_b
 * [qk_nope, kv_lora_rank, n_head] and attn_v_b [kv_lora_rank, v_head, n_head]
 * as llama.cpp's converter does since its MLA support (PR 12801, 2025-04);
 * older files carry one attn_kv_b [kv_lora_rank, n_head * (qk_nope + v_head)]
 * (hp->mla_split_kv_b false). Shapes as llama.cpp llama-model.cpp. */
#include "model/registry-int.h"

void tl__arch_deepseek2_tensors(tl__tlist *l, const tl_hparams *hp)
{
  tl__arch_embd_output(l, hp);
  int64_t e = hp->n_embd, nh = hp->n_head;
  int64_t qk = hp->qk_nope_head_dim + hp->qk_rope_head_dim, vh = hp->v_head_dim;
  int64_t kvr = hp->kv_lora_rank, qr = hp->q_lora_rank;
  for (int32_t il = 0; il < (int32_t)hp->n_layer; il++) {
    T1(l, TL_ROLE_ATTN_NORM, il, e, "blk.%d.attn_norm.weight", il);
    if (qr > 0) {
      T1(l, TL_ROLE_ATTN_MLA, il, qr, "blk.%d.attn_q_a_norm.weight", il);
      T2(l, TL_ROLE_ATTN_MLA, il, e, qr, "blk.%d.attn_q_a.weight", il);
      T2(l, TL_ROLE_ATTN_MLA, il, qr, nh * qk, "blk.%d.attn_q_b.weight", il);
    } else {
      T2(l, TL_ROLE_ATTN_Q, il, e, nh * qk, "blk.%d.attn_q.weight", il);
    }
    T1(l, TL_ROLE_ATTN_MLA, il, kvr, "blk.%d.attn_kv_a_norm.weight", il);
    T2(l, TL_ROLE_ATTN_MLA, il, e, kvr + hp->qk_rope_head_dim, "blk.%d.attn_kv_a_mqa.weight", il);
    if (hp->mla_split_kv_b) {
      T3(l, TL_ROLE_ATTN_MLA, il, hp->qk_nope_head_dim, kvr, nh, "blk.%d.attn_k_b.weight", il);
      T3(l, TL_ROLE_ATTN_MLA, il, kvr, vh, nh, "blk.%d.attn_v_b.weight", il);
    } else {
      T2(l, TL_ROLE_ATTN_MLA, il, kvr, nh * (hp->qk_nope_head_dim + vh), "blk.%d.attn_kv_b.weight", il);
    }
    T2(l, TL_ROLE_ATTN_OUTPUT, il, nh * vh, e, "blk.%d.attn_output.weight", il);
    T1(l, TL_ROLE_FFN_NORM, il, e, "blk.%d.ffn_norm.weight", il);
    if (!tl_hparams_layer_is_moe(hp, (uint32_t)il)) {
      tl__arch_ffn_dense(l, hp, il, tl_hparams_n_ff(hp, (uint32_t)il));
      continue;
    }
    tl__arch_moe_experts(l, hp, il, hp->n_ff_exp);
    if (hp->expert_probs_bias)
      T1(l, TL_ROLE_FFN_EXP_BIAS, il, hp->n_expert, "blk.%d.exp_probs_b.bias", il);
    if (hp->n_expert_shared > 0) {
      int64_t f = hp->n_ff_shexp;
      T2(l, TL_ROLE_FFN_SHEXP, il, e, f, "blk.%d.ffn_gate_shexp.weight", il);
      T2(l, TL_ROLE_FFN_SHEXP, il, f, e, "blk.%d.ffn_down_shexp.weight", il);
      T2(l, TL_ROLE_FFN_SHEXP, il, e, f, "blk.%d.ffn_up_shexp.weight", il);
    }
  }
}
