/* Gemma 3, text (GGUF arch "gemma3"; Gemma Team 2025). Differences from the
 * llama block, as transformers' Gemma3TextModel computes them:
 *  - token embeddings scaled by sqrt(dim);
 *  - RMSNorm by (1 + w): llama.cpp's converter stores w + 1 in the GGUF
 *    (Gemma3Model.modify_tensors), so the plain x / rms(x) * w applies;
 *  - q/k RMSNorm per head; post-attention and post-FFN norms before each
 *    residual add;
 *  - GeGLU FFN with the tanh GELU (gelu_pytorch_tanh);
 *  - sliding-window layers (attention.sliding_window; the layer pattern from
 *    attention.sliding_window_pattern, else every 6th layer global as
 *    llama.cpp's set_swa_pattern(6)) with their own RoPE base
 *    (rope.freq_base_swa, else 10000 as llama.cpp's gemma3 loader), no scaling;
 *  - q.k scale 1/sqrt(query_pre_attn_scalar): llama.cpp derives it as
 *    1/sqrt(head_dim), or 1/sqrt(dim / n_head) for the 62-layer 27B;
 *  - final logit soft-capping when final_logit_softcapping is set. */
#include <math.h>
#include <stdio.h>

#include "base/error-int.h"
#include "engine/model-decoder.h"

tl_status tl__gemma_load(const tl_gguf *g, tl__model *m, tl_error *err)
{
  tl_hparams *hp = &m->hp;
  tl_status st = tl__decoder_hparams(g, hp, err);
  if (st)
    return st;
  m->embd_scale = sqrtf((float)hp->n_embd);
  m->attn_scale = hp->n_layer == 62 ? 1.0f / sqrtf((float)(hp->n_embd / hp->n_head))
                                    : 1.0f / sqrtf((float)hp->head_dim_k);
  if (hp->n_swa > 0) {
    tl_hparams local = *hp;
    local.rope_theta = hp->rope_theta_swa > 0 ? hp->rope_theta_swa : 10000.0f;
    local.rope_scaling = TL_ROPE_SCALING_NONE;
    local.rope_scale_factor = 0;
    if ((st = tl__rope_init(&m->rope_swa, &local, NULL, err)))
      return st;
  }
  if ((st = tl__decoder_bind_model(g, m, err))) {
    tl__model_unload(m);
    return st;
  }
  char nm[TL_TENSOR_NAME_MAX];
  for (uint32_t il = 0; il < hp->n_layer && st == TL_OK; il++) {
    tl__layer *L = &m->layers[il];
    if ((st = tl__decoder_bind_attn(g, hp, il, L, err)) ||
        (st = tl__decoder_bind_ffn(g, hp, il, L, err)))
      break;
    snprintf(nm, sizeof nm, "blk.%u.post_attention_norm.weight", il);
    if ((st = tl__weights_vector(g, nm, hp->n_embd, true, &L->attn_post_norm, err)))
      break;
    snprintf(nm, sizeof nm, "blk.%u.post_ffw_norm.weight", il);
    st = tl__weights_vector(g, nm, hp->n_embd, true, &L->ffn_post_norm, err);
  }
  if (st)
    tl__model_unload(m);
  return st;
}
