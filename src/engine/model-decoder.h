/* What the loaders of the other families (model-moe.c, model-gemma.c,
 * model-phi3.c) share with the generic decoder forward pass of
 * model-decoder.c: reading hyperparameters with the model module's GGUF
 * reader, binding the common tensors, and the per-layer pieces. Never
 * included from outside src/engine/. */
#ifndef TL_ENGINE_MODEL_DECODER_H
#define TL_ENGINE_MODEL_DECODER_H

#include "engine/engine-int.h"

/* Hyperparameters by tl_hparams_from_gguf, n_vocab from token_embd's rows,
 * and the checks the forward pass relies on (equal heads per layer, heads a
 * multiple of KV heads). */
tl_status tl__decoder_hparams(const tl_gguf *g, tl_hparams *hp, tl_error *err);
/* token_embd, output_norm, output (or tied), rope_freqs, the layer array,
 * tensor_bytes, and the generic forward pass. */
tl_status tl__decoder_bind_model(const tl_gguf *g, tl__model *m, tl_error *err);
/* attn_norm, q/k/v (separate or phi3's fused attn_qkv), attn_output,
 * optional q/k/v biases, q/k norms when hp->qk_norm. */
tl_status tl__decoder_bind_attn(const tl_gguf *g, const tl_hparams *hp, uint32_t il, tl__layer *L,
                                tl_error *err);
/* ffn_norm and the dense FFN: ffn_gate/ffn_up/ffn_down, or phi3's fused
 * ffn_up of 2 n_ff rows (gate first) when there is no ffn_gate. */
tl_status tl__decoder_bind_ffn(const tl_gguf *g, const tl_hparams *hp, uint32_t il, tl__layer *L,
                               tl_error *err);
/* ffn_norm, the router ffn_gate_inp and the stacked experts ffn_{gate,up,down}_exps. */
tl_status tl__decoder_bind_moe(const tl_gguf *g, const tl_hparams *hp, uint32_t il, tl__layer *L,
                               tl_error *err);

/* The forward pass of every family but llama's own (tl__llama_forward): a
 * pre-norm decoder whose layers may have post-norms (gemma3), sliding
 * windows with their own RoPE, a GeGLU or SwiGLU FFN or routed experts. */
void tl__decoder_forward(const tl__model *m, tl__backend *b, tl__state *s, tl__kv *kv,
                         const tl__rope *rope, const int32_t *tokens, uint32_t n, uint32_t pos0,
                         float *logits, bool all);

#endif
