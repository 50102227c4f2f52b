/* Phi-3 (GGUF arch "phi3"): a llama-shaped decoder with NeoX RoPE whose
 * checkpoint fuses q, k, v into attn_qkv and gate, up into ffn_up (gate rows
 * first, as Phi3MLP chunks them). The fused tensors are bound as views of
 * consecutive rows, so the forward pass multiplies them in place. LongRoPE
 * (Phi-3 128k) needs per-pair factors the engine's RoPE does not apply yet:
 * refused. */
#include "base/error-int.h"
#include "engine/model-decoder.h"

tl_status tl__phi3_load(const tl_gguf *g, tl__model *m, tl_error *err)
{
  tl_hparams *hp = &m->hp;
  tl_status st = tl__decoder_hparams(g, hp, err);
  if (st)
    return st;
  if (hp->rope_scaling == TL_ROPE_SCALING_LONGROPE)
    return tl__error_set(err, TL_EUNSUPPORTED, "engine: phi3 with LongRoPE scaling is not "
                         "supported");
  if ((st = tl__decoder_bind_model(g, m, err)))
    return st;
  for (uint32_t il = 0; il < hp->n_layer && st == TL_OK; il++)
    if (!(st = tl__decoder_bind_attn(g, hp, il, &m->layers[il], err)))
      st = tl__decoder_bind_ffn(g, hp, il, &m->layers[il], err);
  if (st)
    tl__model_unload(m);
  return st;
}
