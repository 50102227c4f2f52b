/* Mixture-of-experts decoders: Mixtral (GGUF arch "llama" with
 * expert_count; Jiang et al. 2024) and Qwen3-MoE (arch "qwen3moe": q/k
 * RMSNorm, experts of expert_feed_forward_length). Each token's router
 * logits (ffn_gate_inp) are softmaxed over all experts, the
 * expert_used_count largest kept and renormalised to sum 1 (Mixtral always;
 * Qwen3-MoE with norm_topk_prob, which llama.cpp's qwen3moe graph assumes;
 * a file may say otherwise with `<arch>.expert_weights_norm`), and the
 * chosen SwiGLU experts' outputs summed with those weights. Stacked expert
 * tensors ffn_{gate,up,down}_exps as llama.cpp's converter writes them. */
#include <stdio.h>

#include "base/error-int.h"
#include "engine/model-decoder.h"

tl_status tl__moe_load(const tl_gguf *g, tl__model *m, tl_error *err)
{
  tl_hparams *hp = &m->hp;
  tl_status st = tl__decoder_hparams(g, hp, err);
  if (st)
    return st;
  if (hp->n_expert == 0 || hp->n_expert_shared > 0 || hp->n_layer_dense_lead > 0 ||
      hp->moe_every > 1)
    return tl__error_set(err, TL_EUNSUPPORTED, "engine: %s with %u experts (%u shared, %u dense "
                         "leading layers) is not supported", hp->arch_name, hp->n_expert,
                         hp->n_expert_shared, hp->n_layer_dense_lead);
  char k[96];
  bool norm = true;
  snprintf(k, sizeof k, "%s.expert_weights_norm", hp->arch_name);
  int64_t ki = tl_gguf_find_kv(g, k);
  if (ki >= 0 && tl_gguf_kv_type(g, (size_t)ki) == TL_GGUF_BOOL) {
    uint64_t v = 1;
    tl_gguf_kv_u64(g, (size_t)ki, &v);
    norm = v != 0;
  }
  m->moe_norm = norm;
  if ((st = tl__decoder_bind_model(g, m, err)))
    return st;
  for (uint32_t il = 0; il < hp->n_layer && st == TL_OK; il++) {
    tl__layer *L = &m->layers[il];
    if (!(st = tl__decoder_bind_attn(g, hp, il, L, err)))
      st = tl_hparams_layer_is_moe(hp, il) ? tl__decoder_bind_moe(g, hp, il, L, err)
                                           : tl__decoder_bind_ffn(g, hp, il, L, err);
  }
  if (st)
    tl__model_unload(m);
  return st;
}
