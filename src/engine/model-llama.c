/* The llama family forward pass: Llama 2/3.x, Mistral, SmolLM, TinyLlama and
 * llama2.c models (GGUF arch "llama"), Qwen2 (q/k/v biases, NeoX RoPE) and
 * Qwen3 (per-head RMSNorm of q and k, NeoX RoPE). Pre-norm decoder blocks:
 * RMSNorm, grouped-query attention with RoPE, residual, RMSNorm, SwiGLU FFN,
 * residual. Hyperparameter keys and tensor names follow llama.cpp's GGUF
 * conventions (gguf-py/gguf/constants.py). Every op goes through the
 * backend's table. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "engine/engine-int.h"

/* ---- hyperparameters ---- */

static bool key_u32(const tl_gguf *g, const char *arch, const char *key, uint32_t *out)
{
  char k[128];
  snprintf(k, sizeof k, "%s.%s", arch, key);
  return tl_gguf_get_u32(g, k, out);
}

static bool key_f32(const tl_gguf *g, const char *arch, const char *key, float *out)
{
  char k[128];
  snprintf(k, sizeof k, "%s.%s", arch, key);
  return tl_gguf_get_f32(g, k, out);
}

static tl_status need_u32(const tl_gguf *g, const char *arch, const char *key, uint32_t *out,
                          tl_error *err)
{
  if (!key_u32(g, arch, key, out) || *out == 0)
    return tl__error_set(err, TL_EFORMAT, "engine: key '%s.%s' is missing or zero", arch, key);
  return TL_OK;
}

static tl_status read_hparams(const tl_gguf *g, tl_hparams *hp, tl_error *err)
{
  const char *s;
  size_t n;
  memset(hp, 0, sizeof *hp);
  if (!tl_gguf_get_str(g, "general.architecture", &s, &n) || n >= sizeof hp->arch_name)
    return tl__error_set(err, TL_EFORMAT, "engine: key 'general.architecture' is missing");
  memcpy(hp->arch_name, s, n);
  hp->arch_name[n] = '\0';
  const char *a = hp->arch_name;
  if (!strcmp(a, "llama")) {
    hp->arch = TL_ARCH_LLAMA;
    hp->rope_type = TL_ROPE_NORMAL;
  } else if (!strcmp(a, "qwen2")) {
    hp->arch = TL_ARCH_QWEN2;
    hp->rope_type = TL_ROPE_NEOX;
    hp->attn_bias = true;
  } else if (!strcmp(a, "qwen3")) {
    hp->arch = TL_ARCH_QWEN3;
    hp->rope_type = TL_ROPE_NEOX;
    hp->qk_norm = true;
  } else {
    return tl__error_set(err, TL_EUNSUPPORTED, "engine: architecture '%s' is not supported "
                         "(llama, qwen2, qwen3)", a);
  }
  tl_status st;
  if ((st = need_u32(g, a, "block_count", &hp->n_layer, err)) ||
      (st = need_u32(g, a, "embedding_length", &hp->n_embd, err)) ||
      (st = need_u32(g, a, "feed_forward_length", &hp->n_ff, err)) ||
      (st = need_u32(g, a, "attention.head_count", &hp->n_head, err)))
    return st;
  if (hp->n_layer > TL_MAX_LAYERS)
    return tl__error_set(err, TL_EFORMAT, "engine: %u layers, more than %u", hp->n_layer,
                         TL_MAX_LAYERS);
  hp->n_head_kv = hp->n_head;
  key_u32(g, a, "attention.head_count_kv", &hp->n_head_kv);
  if (hp->n_head_kv == 0 || hp->n_head % hp->n_head_kv)
    return tl__error_set(err, TL_EFORMAT, "engine: %u heads are not a multiple of %u KV heads",
                         hp->n_head, hp->n_head_kv);
  hp->head_dim_k = hp->n_embd / hp->n_head;
  key_u32(g, a, "attention.key_length", &hp->head_dim_k);
  hp->head_dim_v = hp->head_dim_k;
  key_u32(g, a, "attention.value_length", &hp->head_dim_v);
  hp->n_rot = hp->head_dim_k;
  key_u32(g, a, "rope.dimension_count", &hp->n_rot);
  hp->n_ctx_train = 2048;
  key_u32(g, a, "context_length", &hp->n_ctx_train);
  hp->norm_eps = 1e-5f;
  key_f32(g, a, "attention.layer_norm_rms_epsilon", &hp->norm_eps);
  hp->rope_theta = 10000.0f;
  key_f32(g, a, "rope.freq_base", &hp->rope_theta);

  /* RoPE scaling: rope.scaling.type is "none", "linear", "yarn" or
   * "llama3"; older files give rope.scale_linear. */
  char k[128];
  snprintf(k, sizeof k, "%s.rope.scaling.type", a);
  float f;
  if (key_f32(g, a, "rope.scale_linear", &f) && f > 0 && f != 1.0f) {
    hp->rope_scaling = TL_ROPE_SCALING_LINEAR;
    hp->rope_scale_factor = f;
  }
  if (tl_gguf_get_str(g, k, &s, &n)) {
    if (n == 6 && !memcmp(s, "linear", 6))
      hp->rope_scaling = TL_ROPE_SCALING_LINEAR;
    else if (n == 4 && !memcmp(s, "yarn", 4))
      hp->rope_scaling = TL_ROPE_SCALING_YARN;
    else if (n == 6 && !memcmp(s, "llama3", 6))
      hp->rope_scaling = TL_ROPE_SCALING_LLAMA3;
    else if (!(n == 4 && !memcmp(s, "none", 4)))
      return tl__error_set(err, TL_EUNSUPPORTED, "engine: rope scaling '%.*s' is not supported",
                           (int)n, s);
  }
  key_f32(g, a, "rope.scaling.factor", &hp->rope_scale_factor);
  key_u32(g, a, "rope.scaling.original_context_length", &hp->rope_orig_ctx);
  key_f32(g, a, "rope.scaling.yarn_beta_fast", &hp->yarn_beta_fast);
  key_f32(g, a, "rope.scaling.yarn_beta_slow", &hp->yarn_beta_slow);
  key_f32(g, a, "rope.scaling.yarn_attn_factor", &hp->yarn_attn_factor);
  key_f32(g, a, "rope.scaling.low_freq_factor", &hp->rope_low_freq_factor);
  key_f32(g, a, "rope.scaling.high_freq_factor", &hp->rope_high_freq_factor);
  if (hp->rope_scaling != TL_ROPE_SCALING_NONE && !(hp->rope_scale_factor > 0))
    return tl__error_set(err, TL_EFORMAT, "engine: rope scaling without a positive "
                         "'%s.rope.scaling.factor'", a);
  return TL_OK;
}

/* ---- weights ---- */

static tl_status bind_layer(const tl_gguf *g, const tl_hparams *hp, uint32_t il, tl__layer *L,
                            tl_error *err)
{
  int64_t d = hp->n_embd, nq = (int64_t)hp->n_head * hp->head_dim_k,
          nk = (int64_t)hp->n_head_kv * hp->head_dim_k, nv = (int64_t)hp->n_head_kv * hp->head_dim_v,
          no = (int64_t)hp->n_head * hp->head_dim_v, ff = hp->n_ff;
  char nm[TL_TENSOR_NAME_MAX];
  tl_status st = TL_OK;
#define NAME(suffix) (snprintf(nm, sizeof nm, "blk.%u." suffix, il), nm)
  if ((st = tl__weights_vector(g, NAME("attn_norm.weight"), d, true, &L->attn_norm, err)) ||
      (st = tl__weights_matrix(g, NAME("attn_q.weight"), d, nq, &L->wq, err)) ||
      (st = tl__weights_matrix(g, NAME("attn_k.weight"), d, nk, &L->wk, err)) ||
      (st = tl__weights_matrix(g, NAME("attn_v.weight"), d, nv, &L->wv, err)) ||
      (st = tl__weights_matrix(g, NAME("attn_output.weight"), no, d, &L->wo, err)) ||
      (st = tl__weights_vector(g, NAME("ffn_norm.weight"), d, true, &L->ffn_norm, err)) ||
      (st = tl__weights_matrix(g, NAME("ffn_gate.weight"), d, ff, &L->w_gate, err)) ||
      (st = tl__weights_matrix(g, NAME("ffn_up.weight"), d, ff, &L->w_up, err)) ||
      (st = tl__weights_matrix(g, NAME("ffn_down.weight"), ff, d, &L->w_down, err)))
    return st;
  /* qwen2 has q/k/v biases; llama files may carry them too (optional there). */
  bool bias = hp->attn_bias;
  if ((st = tl__weights_vector(g, NAME("attn_q.bias"), nq, bias, &L->bq, err)) ||
      (st = tl__weights_vector(g, NAME("attn_k.bias"), nk, bias, &L->bk, err)) ||
      (st = tl__weights_vector(g, NAME("attn_v.bias"), nv, bias, &L->bv, err)))
    return st;
  if (hp->qk_norm &&
      ((st = tl__weights_vector(g, NAME("attn_q_norm.weight"), hp->head_dim_k, true, &L->q_norm, err)) ||
       (st = tl__weights_vector(g, NAME("attn_k_norm.weight"), hp->head_dim_k, true, &L->k_norm, err))))
    return st;
#undef NAME
  return TL_OK;
}

tl_status tl__llama_load(const tl_gguf *g, tl__model *m, tl_error *err)
{
  memset(m, 0, sizeof *m);
  tl_hparams *hp = &m->hp;
  tl_status st = read_hparams(g, hp, err);
  if (st)
    return st;
  int64_t ti = tl_gguf_find_tensor(g, "token_embd.weight");
  if (ti < 0)
    return tl__error_set(err, TL_EFORMAT, "engine: tensor 'token_embd.weight' is missing");
  const tl_gguf_tensor *te = tl_gguf_tensor_at(g, (size_t)ti);
  hp->n_vocab = (uint32_t)te->ne[1];
  if (te->ne[1] <= 0 || te->ne[1] > INT32_MAX)
    return tl__error_set(err, TL_EFORMAT, "engine: token_embd.weight has %lld rows",
                         (long long)te->ne[1]);
  if ((st = tl__weights_matrix(g, "token_embd.weight", hp->n_embd, hp->n_vocab, &m->tok_embd, err)) ||
      (st = tl__weights_vector(g, "output_norm.weight", hp->n_embd, true, &m->output_norm, err)))
    return st;
  hp->tied_embeddings = tl_gguf_find_tensor(g, "output.weight") < 0;
  if (hp->tied_embeddings)
    m->output = m->tok_embd;
  else if ((st = tl__weights_matrix(g, "output.weight", hp->n_embd, hp->n_vocab, &m->output, err)))
    return st;
  if ((st = tl__weights_vector(g, "rope_freqs.weight", hp->n_rot / 2, false, &m->rope_freqs, err)))
    return st;
  m->layers = tl__calloc(hp->n_layer, sizeof *m->layers);
  if (!m->layers)
    return tl__error_set(err, TL_ENOMEM, "engine: out of memory for %u layers", hp->n_layer);
  for (uint32_t il = 0; il < hp->n_layer; il++) {
    if ((st = bind_layer(g, hp, il, &m->layers[il], err))) {
      tl__llama_unload(m);
      return st;
    }
  }
  for (size_t i = 0; i < tl_gguf_n_tensors(g); i++)
    m->tensor_bytes += tl_gguf_tensor_at(g, i)->bytes;
  return TL_OK;
}

void tl__llama_unload(tl__model *m)
{
  tl__free(m->layers);
  m->layers = NULL;
}

/* ---- scratch ---- */

tl_status tl__state_init(tl__state *st, tl__backend *b, const tl_hparams *hp, uint32_t n_ubatch,
                         tl_error *err)
{
  memset(st, 0, sizeof *st);
  size_t u = n_ubatch;
  st->n_ubatch = n_ubatch;
  st->x = b->ops->alloc(b, u * hp->n_embd * sizeof(float));
  st->xb = b->ops->alloc(b, u * hp->n_embd * sizeof(float));
  st->q = b->ops->alloc(b, u * hp->n_head * hp->head_dim_k * sizeof(float));
  st->k = b->ops->alloc(b, u * hp->n_head_kv * hp->head_dim_k * sizeof(float));
  st->v = b->ops->alloc(b, u * hp->n_head_kv * hp->head_dim_v * sizeof(float));
  st->att = b->ops->alloc(b, u * hp->n_head * hp->head_dim_v * sizeof(float));
  st->hb = b->ops->alloc(b, u * hp->n_ff * sizeof(float));
  st->hb2 = b->ops->alloc(b, u * hp->n_ff * sizeof(float));
  st->pos = tl__calloc(u, sizeof(int32_t)); /* host memory: the rope op reads it */
  if (!st->x || !st->xb || !st->q || !st->k || !st->v || !st->att || !st->hb || !st->hb2 ||
      !st->pos) {
    tl__state_deinit(st, b);
    return tl__error_set(err, TL_ENOMEM, "engine: out of memory for scratch of %u tokens",
                         n_ubatch);
  }
  return TL_OK;
}

void tl__state_deinit(tl__state *st, tl__backend *b)
{
  void *bufs[] = {st->x, st->xb, st->q, st->k, st->v, st->att, st->hb, st->hb2};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
    b->ops->free(b, bufs[i]);
  tl__free(st->pos);
  memset(st, 0, sizeof *st);
}

/* ---- forward ---- */

void tl__llama_forward(const tl__model *m, tl__backend *b, tl__state *s, tl__kv *kv,
                       const tl__rope *rope, const int32_t *tokens, uint32_t n, uint32_t pos0,
                       float *logits, bool all)
{
  const tl_hparams *hp = &m->hp;
  const tl__backend_ops *op = b->ops;
  uint32_t dim = hp->n_embd, hk = hp->head_dim_k, ff = hp->n_ff;
  uint32_t nq = hp->n_head * hk, nk = hp->n_head_kv * hk, nv = hp->n_head_kv * hp->head_dim_v;
  float eps = hp->norm_eps;
  tl__attn_shape shape = {hp->n_head, hp->n_head_kv, hk, hp->head_dim_v, 1.0f / sqrtf((float)hk)};

  if (!s->map) /* several sequences: batch.c filled pos */
    for (uint32_t i = 0; i < n; i++)
      s->pos[i] = (int32_t)(pos0 + i);
  op->embedding(b, &m->tok_embd, tokens, n, s->x);              /* x (n, dim) */

  for (uint32_t il = 0; il < hp->n_layer; il++) {
    const tl__layer *L = &m->layers[il];
    /* attention block */
    op->rmsnorm(b, s->xb, s->x, L->attn_norm, n, dim, eps);      /* xb (n, dim) */
    op->matmul(b, &L->wq, s->xb, s->q, n);                      /* q (n, n_head * hk) */
    op->matmul(b, &L->wk, s->xb, s->k, n);                      /* k (n, n_head_kv * hk) */
    op->matmul(b, &L->wv, s->xb, s->v, n);                      /* v (n, n_head_kv * hv) */
    if (L->bq) {
      op->add_bias(b, s->q, L->bq, n, nq);
      op->add_bias(b, s->k, L->bk, n, nk);
      op->add_bias(b, s->v, L->bv, n, nv);
    }
    if (L->q_norm) {                                            /* per head, qwen3 */
      op->rmsnorm(b, s->q, s->q, L->q_norm, n * hp->n_head, hk, eps);
      op->rmsnorm(b, s->k, s->k, L->k_norm, n * hp->n_head_kv, hk, eps);
    }
    op->rope(b, rope, s->q, n, hp->n_head, hk, s->pos);
    op->rope(b, rope, s->k, n, hp->n_head_kv, hk, s->pos);
    if (s->map) {
      op->kv_store_paged(b, kv, il, s->map, n, s->k, s->v);
      op->attention_paged(b, kv, il, &shape, s->map, s->q, n, s->att);
    } else {
      op->kv_store(b, kv, il, pos0, n, s->k, s->v);
      op->attention(b, kv, il, &shape, s->q, n, pos0, s->att);  /* att (n, n_head * hv) */
    }
    op->matmul(b, &L->wo, s->att, s->xb, n);                    /* xb (n, dim) */
    op->add(b, s->x, s->xb, (size_t)n * dim);                   /* residual */
    /* feed-forward block: down(silu(gate(x)) * up(x)) */
    op->rmsnorm(b, s->xb, s->x, L->ffn_norm, n, dim, eps);
    op->matmul(b, &L->w_gate, s->xb, s->hb, n);                 /* hb (n, ff) */
    op->matmul(b, &L->w_up, s->xb, s->hb2, n);                  /* hb2 (n, ff) */
    op->swiglu(b, s->hb, s->hb, s->hb2, (size_t)n * ff);
    op->matmul(b, &L->w_down, s->hb, s->xb, n);                 /* xb (n, dim) */
    op->add(b, s->x, s->xb, (size_t)n * dim);                   /* residual */
  }

  if (!logits)
    return;
  if (all) {
    op->rmsnorm(b, s->x, s->x, m->output_norm, n, dim, eps);
    op->matmul(b, &m->output, s->x, logits, n);                 /* logits (n, n_vocab) */
  } else {
    float *last = s->x + (size_t)(n - 1) * dim;
    op->rmsnorm(b, last, last, m->output_norm, 1, dim, eps);
    op->matmul(b, &m->output, last, logits, 1);                 /* logits (1, n_vocab) */
  }
}
