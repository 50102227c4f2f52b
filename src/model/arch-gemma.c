/* Tensor lists of gemma2 and gemma3: tied embeddings, norms after attention
 * and after the feed-forward (post_attention_norm, post_ffw_norm), and for
 * gemma3 per-head q/k RMSNorm. The sliding-window layer pattern is set in
 * tl_hparams_finalize. Shapes as llama.cpp llama-model.cpp load_tensors. */
#include "model/registry-int.h"

void tl__arch_gemma_tensors(tl__tlist *l, const tl_hparams *hp)
{
  tl__arch_embd_output(l, hp);
  int64_t e = hp->n_embd, hk = hp->head_dim_k, hv = hp->head_dim_v;
  for (int32_t il = 0; il < (int32_t)hp->n_layer; il++) {
    int64_t nh = tl_hparams_n_head(hp, (uint32_t)il), nkv = tl_hparams_n_head_kv(hp, (uint32_t)il);
    T1(l, TL_ROLE_ATTN_NORM, il, e, "blk.%d.attn_norm.weight", il);
    T2(l, TL_ROLE_ATTN_Q, il, e, nh * hk, "blk.%d.attn_q.weight", il);
    T2(l, TL_ROLE_ATTN_K, il, e, nkv * hk, "blk.%d.attn_k.weight", il);
    T2(l, TL_ROLE_ATTN_V, il, e, nkv * hv, "blk.%d.attn_v.weight", il);
    T2(l, TL_ROLE_ATTN_OUTPUT, il, nh * hv, e, "blk.%d.attn_output.weight", il);
    if (hp->arch == TL_ARCH_GEMMA3 || hp->qk_norm) {
      T1(l, TL_ROLE_ATTN_Q_NORM, il, hk, "blk.%d.attn_q_norm.weight", il);
      T1(l, TL_ROLE_ATTN_K_NORM, il, hk, "blk.%d.attn_k_norm.weight", il);
    }
    T1(l, TL_ROLE_NORM_OTHER, il, e, "blk.%d.post_attention_norm.weight", il);
    T1(l, TL_ROLE_FFN_NORM, il, e, "blk.%d.ffn_norm.weight", il);
    tl__arch_ffn_dense(l, hp, il, tl_hparams_n_ff(hp, (uint32_t)il));
    T1(l, TL_ROLE_NORM_OTHER, il, e, "blk.%d.post_ffw_norm.weight", il);
  }
}
