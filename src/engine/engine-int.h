/* What the engine's files share: the model (hyperparameters and weight views
 * into the mapping), the KV cache, RoPE tables, the forward-pass scratch, and
 * the engine object itself. Never included from outside src/engine/. */
#ifndef TL_ENGINE_ENGINE_INT_H
#define TL_ENGINE_ENGINE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/backend.h"
#include "tailor/engine.h"
#include "tailor/gguf.h"

/* ---- weights (weights.c) ---- */

/* One transformer block. Shapes are (rows, columns) = (ne1, ne0). */
typedef struct tl__layer {
  const float *attn_norm; /* (dim) */
  tl__weight wq;          /* (n_head * head_dim_k, dim) */
  tl__weight wk;          /* (n_head_kv * head_dim_k, dim) */
  tl__weight wv;          /* (n_head_kv * head_dim_v, dim) */
  const float *bq;        /* (n_head * head_dim_k) qwen2 only, else NULL */
  const float *bk;        /* (n_head_kv * head_dim_k) */
  const float *bv;        /* (n_head_kv * head_dim_v) */
  const float *q_norm;    /* (head_dim_k) qwen3 only, else NULL */
  const float *k_norm;    /* (head_dim_k) */
  tl__weight wo;          /* (dim, n_head * head_dim_v) */
  const float *ffn_norm;  /* (dim) */
  tl__weight w_gate;      /* (n_ff, dim) */
  tl__weight w_up;        /* (n_ff, dim) */
  tl__weight w_down;      /* (dim, n_ff) */
  /* Other families (model-decoder.c); NULL / data NULL when absent. phi3's
   * fused attn_qkv and ffn_up are seen as wq/wk/wv and w_gate/w_up views of
   * consecutive rows. */
  const float *attn_post_norm; /* (dim) gemma3: on the attention output */
  const float *ffn_post_norm;  /* (dim) gemma3: on the FFN output */
  tl__weight gate_inp;    /* (n_expert, dim) MoE router */
  tl__weight *experts;    /* (n_expert, 3): each expert's gate (n_ff_exp, dim), up
                           * (n_ff_exp, dim), down (dim, n_ff_exp); views into the
                           * stacked ffn_*_exps or the per-expert tensors */
  tl__weight exp_gate, exp_up, exp_down; /* expert 0's, for sizing scratch */
} tl__layer;

typedef struct tl__model tl__model;
typedef struct tl__state tl__state;

/* A family's forward pass; see tl__llama_forward for the contract. */
typedef void (*tl__forward_fn)(const tl__model *m, tl__backend *b, tl__state *st, tl__kv *kv,
                               const tl__rope *rope, const int32_t *tokens, uint32_t n,
                               uint32_t pos0, float *logits, bool all);

struct tl__model {
  tl_hparams hp;
  tl__weight tok_embd;      /* (n_vocab, dim) */
  const float *output_norm; /* (dim) */
  tl__weight output;        /* (n_vocab, dim); token_embd when tied */
  const float *rope_freqs;  /* (n_rot/2) per-pair frequency divisors (Llama 3.1 files), or NULL */
  tl__layer *layers;        /* (n_layer) */
  uint64_t tensor_bytes;    /* every tensor of the file */
  tl__forward_fn forward;   /* the family's forward pass */
  tl__rope rope_swa;        /* sliding-window layers' RoPE (gemma3); freq NULL when unused */
  float attn_scale;         /* q.k scale; 0: 1/sqrt(head_dim_k) */
  float embd_scale;         /* token embeddings are multiplied by it (gemma: sqrt(dim)); 0: none */
  bool moe_norm;            /* the chosen experts' weights are renormalised to sum 1 */
};

/* A 2-D weight view of the named tensor, checked: present, a type the CPU
 * kernels multiply, shape (ne1, ne0). TL_EFORMAT / TL_EUNSUPPORTED naming it. */
tl_status tl__weights_matrix(const tl_gguf *g, const char *name, int64_t ne0, int64_t ne1,
                             tl__weight *out, tl_error *err);
/* An F32 vector of n elements; optional ones give NULL when absent. */
tl_status tl__weights_vector(const tl_gguf *g, const char *name, int64_t n, bool required,
                             const float **out, tl_error *err);

/* ---- model families ---- */

/* Reads general.architecture and loads the family's weights and forward
 * pass (model.c). TL_EUNSUPPORTED naming the architecture otherwise. */
tl_status tl__model_load(const tl_gguf *g, tl__model *m, tl_error *err);
void tl__model_unload(tl__model *m);
tl_status tl__moe_load(const tl_gguf *g, tl__model *m, tl_error *err);   /* model-moe.c */
tl_status tl__gemma_load(const tl_gguf *g, tl__model *m, tl_error *err); /* model-gemma.c */
tl_status tl__phi3_load(const tl_gguf *g, tl__model *m, tl_error *err);  /* model-phi3.c */


/* Reads the hyperparameters of a llama/qwen2/qwen3 GGUF and binds every
 * weight. TL_EUNSUPPORTED for other architectures. */
tl_status tl__llama_load(const tl_gguf *g, tl__model *m, tl_error *err);
void tl__llama_unload(tl__model *m);

/* Forward-pass scratch for up to n_ubatch tokens (allocated through the backend). */
struct tl__state {
  uint32_t n_ubatch;
  float *x;      /* (n_ubatch, dim) residual stream */
  float *xb;     /* (n_ubatch, dim) normed input / projection output */
  float *q;      /* (n_ubatch, n_head * head_dim_k) */
  float *k;      /* (n_ubatch, n_head_kv * head_dim_k) */
  float *v;      /* (n_ubatch, n_head_kv * head_dim_v) */
  float *att;    /* (n_ubatch, n_head * head_dim_v) attention output */
  float *hb;     /* (n_ubatch, n_ff) gate, then silu(gate) * up */
  float *hb2;    /* (n_ubatch, n_ff) up */
  int32_t *pos;  /* (n_ubatch) positions of the tokens (host memory) */
  const tl__kv_map *map; /* tokens of several sequences in the paged cache (batch.c), or NULL */
  /* MoE (allocated by tl__state_init_extra when the model has experts). */
  float *router;    /* (n_ubatch, n_expert) router logits */
  int32_t *sel;     /* (n_ubatch, n_expert_used) chosen experts (host memory) */
  float *sel_w;     /* (n_ubatch, n_expert_used) their weights (host memory) */
  int32_t *rows;    /* (n_ubatch) tokens routed to one expert (host memory) */
  float *rows_w;    /* (n_ubatch) their weights (host memory) */
  float *ex;        /* (n_ubatch, dim) gathered inputs of one expert */
  float *eh, *eh2;  /* (n_ubatch, n_ff_exp) one expert's gate and up */
  float *ey;        /* (n_ubatch, dim) one expert's outputs */
  float *esum;      /* (n_ubatch, dim) the weighted sum of the experts' outputs */
};

tl_status tl__state_init(tl__state *st, tl__backend *b, const tl_hparams *hp, uint32_t n_ubatch,
                         tl_error *err);
void tl__state_deinit(tl__state *st, tl__backend *b);
/* The MoE buffers above (model-decoder.c); called by tl__state_init/deinit. */
tl_status tl__state_init_extra(tl__state *st, tl__backend *b, const tl_hparams *hp,
                               uint32_t n_ubatch, tl_error *err);
void tl__state_deinit_extra(tl__state *st, tl__backend *b);

/* ---- KV cache (kv-cache.c) ---- */

struct tl__kv {
  tl_qtype type;          /* F16 or Q8_0 */
  uint32_t n_ctx, n_layer;
  uint32_t n_embd_k, n_embd_v; /* elements per token and layer */
  size_t row_k, row_v;    /* bytes per token and layer */
  uint8_t *k;             /* (n_layer, n_ctx, row_k) */
  uint8_t *v;             /* (n_layer, n_ctx, row_v), or transposed: (n_layer, n_embd_v, n_ctx) */
  bool v_trans;           /* V stored transposed (F16, F32): each value dimension
                           * contiguous over positions, so P·V is a row-dot product */
  size_t v_elem;          /* bytes per V element when transposed */
  uint64_t bytes;         /* k and v together */
  /* The vectorised f16 row conversion of the CPU kernels. */
  void (*fp16_to_f32)(const uint16_t *src, float *dst, int64_t n);
};

tl_status tl__kv_init(tl__kv *kv, const tl_hparams *hp, tl_qtype type, uint32_t n_ctx,
                      tl_error *err);
void tl__kv_deinit(tl__kv *kv);
static inline uint8_t *tl__kv_k_row(const tl__kv *kv, uint32_t layer, uint32_t pos)
{
  return kv->k + ((size_t)layer * kv->n_ctx + pos) * kv->row_k;
}
static inline uint8_t *tl__kv_v_row(const tl__kv *kv, uint32_t layer, uint32_t pos)
{
  return kv->v + ((size_t)layer * kv->n_ctx + pos) * kv->row_v;
}
/* Transposed V: the n_ctx values of dimension d (0 .. n_embd_v-1) of a layer. */
static inline uint8_t *tl__kv_vt_row(const tl__kv *kv, uint32_t layer, uint32_t d)
{
  return kv->v + ((size_t)layer * kv->n_embd_v + d) * kv->n_ctx * kv->v_elem;
}
/* Elements [off, off + n) of a cached row as floats, in dst (n floats) or
 * tmp (one whole row, for block types whose blocks straddle heads). */
const float *tl__kv_slice(const tl__kv *kv, const uint8_t *row, uint32_t off, uint32_t n,
                          float *dst, float *tmp);

/* ---- RoPE (rope.c) ---- */

/* Builds the frequency table from the hyperparameters (theta, scaling type,
 * Llama 3 factors or a rope_freqs tensor). */
tl_status tl__rope_init(tl__rope *r, const tl_hparams *hp, const float *rope_freqs, tl_error *err);
void tl__rope_deinit(tl__rope *r);
/* Rotates x (m tokens of n_head heads of head_dim) at positions pos. */
void tl__rope_apply(const tl__rope *r, float *x, uint32_t m, uint32_t n_head, uint32_t head_dim,
                    const int32_t *pos);

/* ---- the forward pass ---- */

/* Runs m (<= n_ubatch) tokens at positions pos0.. through the model, storing
 * their K/V in the cache. logits: NULL for none, else (m, n_vocab) when all,
 * else (1, n_vocab) for the last token. */
void tl__llama_forward(const tl__model *m, tl__backend *b, tl__state *st, tl__kv *kv,
                       const tl__rope *rope, const int32_t *tokens, uint32_t n, uint32_t pos0,
                       float *logits, bool all);

/* ---- the engine ---- */

/* ---- in-situ quantization (isq.c) ---- */

typedef struct tl__isq {
  void **bufs;          /* the quantized copies */
  size_t n, cap;
  size_t n_tensors;
  uint64_t bytes;       /* bytes of the quantized copies */
  uint64_t src_bytes;   /* bytes of the mapped sources they replace (released) */
} tl__isq;

/* Quantizes the unquantized projection weights of m to type (Q8_0, Q6_K,
 * Q5_K, Q4_K, Q4_0) with n_threads threads, replacing their views. */
tl_status tl__isq_apply(tl__model *m, tl_qtype type, uint32_t n_threads, bool file_backed,
                        tl_engine_isq_progress progress, void *ud, tl__isq *out, tl_error *err);
void tl__isq_free(tl__isq *q);

struct tl_engine {
  tl_engine_params prm;
  tl_gguf *gguf;
  tl__model model;
  tl__rope rope;
  tl__backend *be;
  tl__kv kv;
  tl__state st;
  float *logits;        /* (n_batch or 1, n_vocab) */
  uint32_t n_logits;    /* tokens of the last eval */
  bool logits_all_rows; /* logits[i] is token i of the last eval */
  uint32_t n_past;
  struct tl__paged *paged; /* several sequences in KV blocks (batch.c), or NULL */
  tl__isq isq;             /* in-situ quantized weights */
};

/* ---- several sequences (batch.c, kv-paged.c) ---- */

/* Sets up the block-paged KV cache and the batch scratch when
 * prm.n_seq_max > 0 (the KV cache e->kv then holds kv_blocks * kv_block_size
 * rows). Called by tl_engine_load after the rest is allocated. */
tl_status tl__batch_init(tl_engine *e, tl_error *err);
void tl__batch_deinit(tl_engine *e);
/* tl_engine_eval, tl_engine_n_past and tl_engine_kv_truncate on sequence 0
 * of a paged engine. */
tl_status tl__batch_eval_seq0(tl_engine *e, const int32_t *tokens, uint32_t n, tl_error *err);

#endif
