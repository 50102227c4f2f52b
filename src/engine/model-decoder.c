/* The generic decoder forward pass of the families beyond llama's own
 * (Mixtral and Qwen3-MoE experts, Gemma 3, Phi-3), and the binding helpers
 * their loaders share. One pre-norm block shape covers them:
 *   x += [post_attention_norm] attention(rmsnorm(x) * attn_norm)
 *   x += [post_ffw_norm] ffn(rmsnorm(x) * ffn_norm)
 * where attention may have q/k norms, a sliding window with its own RoPE
 * base and a scale other than 1/sqrt(head_dim), and ffn is SwiGLU, GeGLU or
 * routed experts. Tensor names and shapes follow llama.cpp's GGUF layout
 * (gguf-py/gguf/constants.py); every op goes through the backend's table. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "engine/cpu/kernels.h"
#include "engine/model-decoder.h"
#include "tailor/quant.h"

/* ---- hyperparameters ---- */

tl_status tl__decoder_hparams(const tl_gguf *g, tl_hparams *hp, tl_error *err)
{
  tl_status st = tl_hparams_from_gguf(g, hp, err);
  if (st)
    return st;
  int64_t ti = tl_gguf_find_tensor(g, "token_embd.weight");
  if (ti < 0)
    return tl__error_set(err, TL_EFORMAT, "engine: tensor 'token_embd.weight' is missing");
  const tl_gguf_tensor *te = tl_gguf_tensor_at(g, (size_t)ti);
  if (te->ne[1] <= 0 || te->ne[1] > INT32_MAX)
    return tl__error_set(err, TL_EFORMAT, "engine: token_embd.weight has %lld rows",
                         (long long)te->ne[1]);
  hp->n_vocab = (uint32_t)te->ne[1];
  if (hp->n_head == 0 || hp->n_head_kv == 0 || hp->n_head % hp->n_head_kv)
    return tl__error_set(err, TL_EFORMAT, "engine: %u heads are not a multiple of %u KV heads",
                         hp->n_head, hp->n_head_kv);
  for (uint32_t il = 0; il < hp->n_layer; il++)
    if (tl_hparams_n_head(hp, il) != hp->n_head || tl_hparams_n_head_kv(hp, il) != hp->n_head_kv ||
        tl_hparams_n_ff(hp, il) != hp->n_ff)
      return tl__error_set(err, TL_EUNSUPPORTED, "engine: layer %u has its own head or FFN "
                           "sizes; the engine runs equal layers", il);
  return TL_OK;
}

/* ---- weights ---- */

tl_status tl__decoder_bind_model(const tl_gguf *g, tl__model *m, tl_error *err)
{
  const tl_hparams *hp = &m->hp;
  tl_status st;
  if ((st = tl__weights_matrix(g, "token_embd.weight", hp->n_embd, hp->n_vocab, &m->tok_embd, err)) ||
      (st = tl__weights_vector(g, "output_norm.weight", hp->n_embd, true, &m->output_norm, err)))
    return st;
  if (tl_gguf_find_tensor(g, "output.weight") < 0)
    m->output = m->tok_embd;
  else if ((st = tl__weights_matrix(g, "output.weight", hp->n_embd, hp->n_vocab, &m->output, err)))
    return st;
  if ((st = tl__weights_vector(g, "rope_freqs.weight", hp->n_rot / 2, false, &m->rope_freqs, err)))
    return st;
  m->layers = tl__calloc(hp->n_layer, sizeof *m->layers);
  if (!m->layers)
    return tl__error_set(err, TL_ENOMEM, "engine: out of memory for %u layers", hp->n_layer);
  for (size_t i = 0; i < tl_gguf_n_tensors(g); i++)
    m->tensor_bytes += tl_gguf_tensor_at(g, i)->bytes;
  m->forward = tl__decoder_forward;
  return TL_OK;
}

#define NAME(suffix) (snprintf(nm, sizeof nm, "blk.%u." suffix, il), nm)

/* Rows [r0, r0 + rows) of a bound matrix, as a matrix of their own. */
static tl__weight rows_view(const tl__weight *w, int64_t r0, int64_t rows)
{
  tl__weight v = *w;
  v.data = (const uint8_t *)w->data + (size_t)r0 * w->row_bytes;
  v.ne1 = rows;
  return v;
}

tl_status tl__decoder_bind_attn(const tl_gguf *g, const tl_hparams *hp, uint32_t il, tl__layer *L,
                                tl_error *err)
{
  int64_t d = hp->n_embd, nq = (int64_t)hp->n_head * hp->head_dim_k,
          nk = (int64_t)hp->n_head_kv * hp->head_dim_k, nv = (int64_t)hp->n_head_kv * hp->head_dim_v,
          no = (int64_t)hp->n_head * hp->head_dim_v;
  char nm[TL_TENSOR_NAME_MAX];
  tl_status st;
  if ((st = tl__weights_vector(g, NAME("attn_norm.weight"), d, true, &L->attn_norm, err)) ||
      (st = tl__weights_matrix(g, NAME("attn_output.weight"), no, d, &L->wo, err)))
    return st;
  if (tl_gguf_find_tensor(g, NAME("attn_qkv.weight")) >= 0) {
    tl__weight qkv;
    if ((st = tl__weights_matrix(g, nm, d, nq + nk + nv, &qkv, err)))
      return st;
    L->wq = rows_view(&qkv, 0, nq);
    L->wk = rows_view(&qkv, nq, nk);
    L->wv = rows_view(&qkv, nq + nk, nv);
  } else if ((st = tl__weights_matrix(g, NAME("attn_q.weight"), d, nq, &L->wq, err)) ||
             (st = tl__weights_matrix(g, NAME("attn_k.weight"), d, nk, &L->wk, err)) ||
             (st = tl__weights_matrix(g, NAME("attn_v.weight"), d, nv, &L->wv, err))) {
    return st;
  }
  if ((st = tl__weights_vector(g, NAME("attn_q.bias"), nq, false, &L->bq, err)) ||
      (st = tl__weights_vector(g, NAME("attn_k.bias"), nk, L->bq != NULL, &L->bk, err)) ||
      (st = tl__weights_vector(g, NAME("attn_v.bias"), nv, L->bq != NULL, &L->bv, err)))
    return st;
  if (hp->qk_norm &&
      ((st = tl__weights_vector(g, NAME("attn_q_norm.weight"), hp->head_dim_k, true, &L->q_norm, err)) ||
       (st = tl__weights_vector(g, NAME("attn_k_norm.weight"), hp->head_dim_k, true, &L->k_norm, err))))
    return st;
  return TL_OK;
}

tl_status tl__decoder_bind_ffn(const tl_gguf *g, const tl_hparams *hp, uint32_t il, tl__layer *L,
                               tl_error *err)
{
  int64_t d = hp->n_embd, ff = hp->n_ff;
  char nm[TL_TENSOR_NAME_MAX];
  tl_status st;
  if ((st = tl__weights_vector(g, NAME("ffn_norm.weight"), d, true, &L->ffn_norm, err)) ||
      (st = tl__weights_matrix(g, NAME("ffn_down.weight"), ff, d, &L->w_down, err)))
    return st;
  if (tl_gguf_find_tensor(g, NAME("ffn_gate.weight")) < 0) { /* phi3: gate rows, then up rows */
    tl__weight gu;
    if ((st = tl__weights_matrix(g, NAME("ffn_up.weight"), d, 2 * ff, &gu, err)))
      return st;
    L->w_gate = rows_view(&gu, 0, ff);
    L->w_up = rows_view(&gu, ff, ff);
    return TL_OK;
  }
  if ((st = tl__weights_matrix(g, NAME("ffn_gate.weight"), d, ff, &L->w_gate, err)) ||
      (st = tl__weights_matrix(g, NAME("ffn_up.weight"), d, ff, &L->w_up, err)))
    return st;
  return TL_OK;
}

/* The n_expert matrices (ne1 rows of ne0) of one kind: views into the
 * stacked tensor blk.il.<kind>_exps [ne0, ne1, n_expert] (expert e starts
 * e * ne1 rows further on), or, when that is absent, the per-expert tensors
 * blk.il.<kind>.E.weight of early Mixtral GGUFs (llama.cpp still reads them).
 * out[3 * e] for each expert e. */
static tl_status bind_experts(const tl_gguf *g, uint32_t il, const char *kind, int64_t ne0,
                              int64_t ne1, int64_t n_expert, tl__weight *out, tl_error *err)
{
  char name[TL_TENSOR_NAME_MAX];
  snprintf(name, sizeof name, "blk.%u.%s_exps.weight", il, kind);
  int64_t i = tl_gguf_find_tensor(g, name);
  if (i < 0) {
    char one[TL_TENSOR_NAME_MAX];
    snprintf(one, sizeof one, "blk.%u.%s.0.weight", il, kind);
    if (tl_gguf_find_tensor(g, one) < 0)
      return tl__error_set(err, TL_EFORMAT, "engine: tensor '%s' is missing", name);
    for (int64_t e = 0; e < n_expert; e++) {
      snprintf(one, sizeof one, "blk.%u.%s.%lld.weight", il, kind, (long long)e);
      tl_status st = tl__weights_matrix(g, one, ne0, ne1, &out[3 * e], err);
      if (st)
        return st;
    }
    return TL_OK;
  }
  const tl_gguf_tensor *t = tl_gguf_tensor_at(g, (size_t)i);
  if (!t->data || t->n_dims != 3 || t->ne[0] != ne0 || t->ne[1] != ne1 || t->ne[2] != n_expert)
    return tl__error_set(err, TL_EFORMAT, "engine: tensor '%s' has shape [%lld, %lld, %lld], "
                         "expected [%lld, %lld, %lld]", name, (long long)t->ne[0],
                         (long long)t->ne[1], (long long)t->ne[2], (long long)ne0,
                         (long long)ne1, (long long)n_expert);
  if (!tl__qtype_is_weight(t->type))
    return tl__error_set(err, TL_EUNSUPPORTED, "engine: tensor '%s' has type %s, which the CPU "
                         "kernels do not multiply", name, tl_qtype_name(t->type));
  tl__weight w = {.name = t->name, .data = t->data, .type = t->type, .ne0 = ne0, .ne1 = ne1,
                  .row_bytes = (size_t)tl_qtype_row_bytes(t->type, ne0)};
  for (int64_t e = 0; e < n_expert; e++) {
    out[3 * e] = w;
    out[3 * e].data = (const uint8_t *)t->data + (size_t)e * (size_t)ne1 * w.row_bytes;
  }
  return TL_OK;
}

tl_status tl__decoder_bind_moe(const tl_gguf *g, const tl_hparams *hp, uint32_t il, tl__layer *L,
                               tl_error *err)
{
  int64_t d = hp->n_embd, ff = hp->n_ff_exp, ne = hp->n_expert;
  char nm[TL_TENSOR_NAME_MAX];
  tl_status st;
  if ((st = tl__weights_vector(g, NAME("ffn_norm.weight"), d, true, &L->ffn_norm, err)) ||
      (st = tl__weights_matrix(g, NAME("ffn_gate_inp.weight"), d, ne, &L->gate_inp, err)))
    return st;
  L->experts = tl__calloc((size_t)ne * 3, sizeof *L->experts);
  if (!L->experts)
    return tl__error_set(err, TL_ENOMEM, "engine: out of memory for %lld experts", (long long)ne);
  if ((st = bind_experts(g, il, "ffn_gate", d, ff, ne, L->experts, err)) ||
      (st = bind_experts(g, il, "ffn_up", d, ff, ne, L->experts + 1, err)) ||
      (st = bind_experts(g, il, "ffn_down", ff, d, ne, L->experts + 2, err)))
    return st;
  L->exp_gate = L->experts[0];
  L->exp_up = L->experts[1];
  L->exp_down = L->experts[2];
  return TL_OK;
}

#undef NAME

/* ---- scratch ---- */

tl_status tl__state_init_extra(tl__state *st, tl__backend *b, const tl_hparams *hp,
                               uint32_t n_ubatch, tl_error *err)
{
  if (hp->n_expert == 0)
    return TL_OK;
  size_t u = n_ubatch, k = hp->n_expert_used;
  st->router = b->ops->alloc(b, u * hp->n_expert * sizeof(float));
  st->ex = b->ops->alloc(b, u * hp->n_embd * sizeof(float));
  st->ey = b->ops->alloc(b, u * hp->n_embd * sizeof(float));
  st->esum = b->ops->alloc(b, u * hp->n_embd * sizeof(float));
  st->eh = b->ops->alloc(b, u * hp->n_ff_exp * sizeof(float));
  st->eh2 = b->ops->alloc(b, u * hp->n_ff_exp * sizeof(float));
  /* routing decisions are read by the host to group tokens by expert */
  st->sel = tl__malloc_array(u * k, sizeof *st->sel);
  st->sel_w = tl__malloc_array(u * k, sizeof *st->sel_w);
  st->rows = tl__malloc_array(u, sizeof *st->rows);
  st->rows_w = tl__malloc_array(u, sizeof *st->rows_w);
  if (!st->router || !st->ex || !st->ey || !st->esum || !st->eh || !st->eh2 || !st->sel || !st->sel_w ||
      !st->rows || !st->rows_w) {
    tl__state_deinit_extra(st, b);
    return tl__error_set(err, TL_ENOMEM, "engine: out of memory for expert scratch of %u tokens",
                         n_ubatch);
  }
  return TL_OK;
}

void tl__state_deinit_extra(tl__state *st, tl__backend *b)
{
  void *bufs[] = {st->router, st->ex, st->ey, st->esum, st->eh, st->eh2};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
    b->ops->free(b, bufs[i]);
  tl__free(st->sel);
  tl__free(st->sel_w);
  tl__free(st->rows);
  tl__free(st->rows_w);
  st->router = st->ex = st->ey = st->esum = st->eh = st->eh2 = st->sel_w = st->rows_w = NULL;
  st->sel = st->rows = NULL;
}

/* ---- forward ---- */

/* Attention of layer il on xb (normed, n tokens) into xb (n, dim). */
static void attention(const tl__model *m, tl__backend *b, tl__state *s, tl__kv *kv,
                      const tl__rope *rope, uint32_t il, uint32_t n, uint32_t pos0)
{
  const tl_hparams *hp = &m->hp;
  const tl__backend_ops *op = b->ops;
  const tl__layer *L = &m->layers[il];
  uint32_t hk = hp->head_dim_k, nq = hp->n_head * hk, nk = hp->n_head_kv * hk,
           nv = hp->n_head_kv * hp->head_dim_v;
  bool swa = tl_hparams_layer_is_swa(hp, il);
  tl__attn_shape shape = {hp->n_head, hp->n_head_kv, hk, hp->head_dim_v,
                          m->attn_scale > 0 ? m->attn_scale : 1.0f / sqrtf((float)hk),
                          swa ? hp->n_swa : 0};
  if (swa && m->rope_swa.freq)
    rope = &m->rope_swa;
  op->matmul(b, &L->wq, s->xb, s->q, n);                        /* q (n, n_head * hk) */
  op->matmul(b, &L->wk, s->xb, s->k, n);                        /* k (n, n_head_kv * hk) */
  op->matmul(b, &L->wv, s->xb, s->v, n);                        /* v (n, n_head_kv * hv) */
  if (L->bq) {
    op->add_bias(b, s->q, L->bq, n, nq);
    op->add_bias(b, s->k, L->bk, n, nk);
    op->add_bias(b, s->v, L->bv, n, nv);
  }
  if (L->q_norm) {                                              /* per head */
    op->rmsnorm(b, s->q, s->q, L->q_norm, n * hp->n_head, hk, hp->norm_eps);
    op->rmsnorm(b, s->k, s->k, L->k_norm, n * hp->n_head_kv, hk, hp->norm_eps);
  }
  op->rope(b, rope, s->q, n, hp->n_head, hk, s->pos);
  op->rope(b, rope, s->k, n, hp->n_head_kv, hk, s->pos);
  if (s->map) { /* several sequences (batch.c) */
    op->kv_store_paged(b, kv, il, s->map, n, s->k, s->v);
    op->attention_paged(b, kv, il, &shape, s->map, s->q, n, s->att);
  } else {
    op->kv_store(b, kv, il, pos0, n, s->k, s->v);
    op->attention(b, kv, il, &shape, s->q, n, pos0, s->att);    /* att (n, n_head * hv) */
  }
  op->matmul(b, &L->wo, s->att, s->xb, n);                      /* xb (n, dim) */
}

/* Routed experts on xb (normed, n tokens) into xb (n, dim): each token's
 * n_expert_used experts by the router's softmax, weighted (renormalised
 * when norm), summed. Tokens are grouped by expert so that each expert's
 * matrices are multiplied once per micro-batch. */
static void moe(const tl__model *m, tl__backend *b, tl__state *s, const tl__layer *L, uint32_t n,
                bool norm)
{
  const tl_hparams *hp = &m->hp;
  const tl__backend_ops *op = b->ops;
  uint32_t dim = hp->n_embd, k = hp->n_expert_used, ff = hp->n_ff_exp;
  op->matmul(b, &L->gate_inp, s->xb, s->router, n);              /* router (n, n_expert) */
  op->moe_route(b, s->router, n, hp->n_expert, k, norm, s->sel, s->sel_w);
  op->scale(b, s->esum, 0.0f, (size_t)n * dim);                  /* esum (n, dim) */
  for (uint32_t e = 0; e < hp->n_expert; e++) {
    uint32_t cnt = 0;
    for (uint32_t t = 0; t < n; t++)
      for (uint32_t j = 0; j < k; j++)
        if (s->sel[t * k + j] == (int32_t)e) {
          s->rows[cnt] = (int32_t)t;
          s->rows_w[cnt++] = s->sel_w[t * k + j];
        }
    if (cnt == 0)
      continue;
    const tl__weight *ew = &L->experts[3 * e]; /* gate, up, down */
    op->gather_rows(b, s->ex, s->xb, s->rows, cnt, dim);         /* ex (cnt, dim) */
    op->matmul(b, &ew[0], s->ex, s->eh, cnt);                    /* eh (cnt, ff) */
    op->matmul(b, &ew[1], s->ex, s->eh2, cnt);                   /* eh2 (cnt, ff) */
    op->swiglu(b, s->eh, s->eh, s->eh2, (size_t)cnt * ff);
    op->matmul(b, &ew[2], s->eh, s->ey, cnt);                    /* ey (cnt, dim) */
    op->scatter_add_rows(b, s->esum, s->ey, s->rows, s->rows_w, cnt, dim);
  }
  op->scale(b, s->xb, 0.0f, (size_t)n * dim);
  op->add(b, s->xb, s->esum, (size_t)n * dim);
}

void tl__decoder_forward(const tl__model *m, tl__backend *b, tl__state *s, tl__kv *kv,
                         const tl__rope *rope, const int32_t *tokens, uint32_t n, uint32_t pos0,
                         float *logits, bool all)
{
  const tl_hparams *hp = &m->hp;
  const tl__backend_ops *op = b->ops;
  uint32_t dim = hp->n_embd, ff = hp->n_ff;
  float eps = hp->norm_eps;
  bool gelu = hp->arch == TL_ARCH_GEMMA2 || hp->arch == TL_ARCH_GEMMA3;

  if (!s->map) /* several sequences: batch.c filled pos */
    for (uint32_t i = 0; i < n; i++)
      s->pos[i] = (int32_t)(pos0 + i);
  op->embedding(b, &m->tok_embd, tokens, n, s->x);               /* x (n, dim) */
  if (m->embd_scale > 0)
    op->scale(b, s->x, m->embd_scale, (size_t)n * dim);

  for (uint32_t il = 0; il < hp->n_layer; il++) {
    const tl__layer *L = &m->layers[il];
    op->rmsnorm(b, s->xb, s->x, L->attn_norm, n, dim, eps);
    attention(m, b, s, kv, rope, il, n, pos0);                   /* xb (n, dim) */
    if (L->attn_post_norm)
      op->rmsnorm(b, s->xb, s->xb, L->attn_post_norm, n, dim, eps);
    op->add(b, s->x, s->xb, (size_t)n * dim);                    /* residual */
    op->rmsnorm(b, s->xb, s->x, L->ffn_norm, n, dim, eps);
    if (L->gate_inp.data) {
      moe(m, b, s, L, n, m->moe_norm);
    } else {
      op->matmul(b, &L->w_gate, s->xb, s->hb, n);                /* hb (n, ff) */
      op->matmul(b, &L->w_up, s->xb, s->hb2, n);                 /* hb2 (n, ff) */
      if (gelu)
        op->geglu(b, s->hb, s->hb, s->hb2, (size_t)n * ff);
      else
        op->swiglu(b, s->hb, s->hb, s->hb2, (size_t)n * ff);
      op->matmul(b, &L->w_down, s->hb, s->xb, n);                /* xb (n, dim) */
    }
    if (L->ffn_post_norm)
      op->rmsnorm(b, s->xb, s->xb, L->ffn_post_norm, n, dim, eps);
    op->add(b, s->x, s->xb, (size_t)n * dim);                    /* residual */
  }

  if (!logits)
    return;
  uint32_t rows = all ? n : 1;
  float *h = all ? s->x : s->x + (size_t)(n - 1) * dim;
  op->rmsnorm(b, h, h, m->output_norm, rows, dim, eps);
  op->matmul(b, &m->output, h, logits, rows);                    /* logits (rows, n_vocab) */
  if (hp->final_softcap > 0)
    op->softcap(b, logits, hp->final_softcap, (size_t)rows * hp->n_vocab);
}
