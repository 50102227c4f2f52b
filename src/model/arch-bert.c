/* Tensor list of bert (BERT-style embedding models: BGE, MiniLM, E5): token,
 * token-type and absolute position embeddings with a LayerNorm, and post-norm
 * encoder blocks with biases everywhere. No output head and no KV cache.
 * Shapes as llama.cpp llama-model.cpp load_tensors (LLM_ARCH_BERT). */
#include "model/registry-int.h"

void tl__arch_bert_tensors(tl__tlist *l, const tl_hparams *hp)
{
  int64_t e = hp->n_embd;
  T2(l, TL_ROLE_TOKEN_EMBD, -1, e, hp->n_vocab, "token_embd.weight");
  T2(l, TL_ROLE_OTHER, -1, e, hp->n_token_types, "token_types.weight");
  T2(l, TL_ROLE_OTHER, -1, e, hp->n_ctx_train, "position_embd.weight");
  T1(l, TL_ROLE_NORM_OTHER, -1, e, "token_embd_norm.weight");
  T1(l, TL_ROLE_NORM_OTHER, -1, e, "token_embd_norm.bias");
  for (int32_t il = 0; il < (int32_t)hp->n_layer; il++) {
    int64_t nh = tl_hparams_n_head(hp, (uint32_t)il), nkv = tl_hparams_n_head_kv(hp, (uint32_t)il);
    int64_t hk = hp->head_dim_k, hv = hp->head_dim_v, ff = tl_hparams_n_ff(hp, (uint32_t)il);
    T2(l, TL_ROLE_ATTN_Q, il, e, nh * hk, "blk.%d.attn_q.weight", il);
    T1(l, TL_ROLE_ATTN_BIAS, il, nh * hk, "blk.%d.attn_q.bias", il);
    T2(l, TL_ROLE_ATTN_K, il, e, nkv * hk, "blk.%d.attn_k.weight", il);
    T1(l, TL_ROLE_ATTN_BIAS, il, nkv * hk, "blk.%d.attn_k.bias", il);
    T2(l, TL_ROLE_ATTN_V, il, e, nkv * hv, "blk.%d.attn_v.weight", il);
    T1(l, TL_ROLE_ATTN_BIAS, il, nkv * hv, "blk.%d.attn_v.bias", il);
    T2(l, TL_ROLE_ATTN_OUTPUT, il, nh * hv, e, "blk.%d.attn_output.weight", il);
    T1(l, TL_ROLE_ATTN_BIAS, il, e, "blk.%d.attn_output.bias", il);
    T1(l, TL_ROLE_NORM_OTHER, il, e, "blk.%d.attn_output_norm.weight", il);
    T1(l, TL_ROLE_NORM_OTHER, il, e, "blk.%d.attn_output_norm.bias", il);
    T2(l, TL_ROLE_FFN_UP, il, e, ff, "blk.%d.ffn_up.weight", il);
    T1(l, TL_ROLE_OTHER, il, ff, "blk.%d.ffn_up.bias", il);
    T2(l, TL_ROLE_FFN_DOWN, il, ff, e, "blk.%d.ffn_down.weight", il);
    T1(l, TL_ROLE_OTHER, il, e, "blk.%d.ffn_down.bias", il);
    T1(l, TL_ROLE_NORM_OTHER, il, e, "blk.%d.layer_output_norm.weight", il);
    T1(l, TL_ROLE_NORM_OTHER, il, e, "blk.%d.layer_output_norm.bias", il);
  }
}
