/* Causal grouped-query attention over the KV cache on the CPU (Vaswani et
 * al. 2017; GQA: Ainslie et al. 2023). The work is split over (KV head,
 * query token) pairs on the thread pool: each cached key and value slice of
 * a KV head is converted to floats once and used by every query head of its
 * group. Scores are kept for the whole visible context (no tiling), in
 * scratch sized at creation. */
#include "engine/backend-cpu.h"
#include "engine/engine-int.h"

size_t tl__cpu_attention_scratch(const tl__attn_shape *s, uint32_t n_ctx)
{
  uint32_t n_rep = s->n_head / s->n_head_kv;
  size_t row = (size_t)s->n_head_kv * (s->head_dim_k > s->head_dim_v ? s->head_dim_k : s->head_dim_v);
  /* scores (n_rep, n_ctx), one K or V slice, one whole row for block types
   * (or the Q8_0 queries, fewer bytes than n_rep * head_dim floats) */
  size_t qq = (size_t)n_rep * s->head_dim_k;
  return (size_t)n_rep * n_ctx + s->head_dim_k + s->head_dim_v + (row > qq ? row : qq) + 64;
}

typedef struct att_job {
  tl__cpu *c;
  const tl__kv *kv;
  uint32_t layer;
  const tl__attn_shape *s;
  const float *q;
  uint32_t m, pos0;
  float *out;
} att_job;

static void att_task(const att_job *j, uint32_t g, uint32_t i, float *scratch)
{
  const tl__attn_shape *s = j->s;
  const tl__cpu_kernels *k = j->c->k;
  const tl__kv *kv = j->kv;
  uint32_t n_rep = s->n_head / s->n_head_kv, hk = s->head_dim_k, hv = s->head_dim_v;
  uint32_t n_ctx = j->c->n_ctx, n_keys = j->pos0 + i + 1;
  /* a sliding window shows the last `window` positions: keys t0 .. n_keys-1,
   * scored at index t - t0 */
  uint32_t t0 = s->window && n_keys > s->window ? n_keys - s->window : 0;
  n_keys -= t0;
  float *scores = scratch;                  /* (n_rep, n_ctx) */
  float *slice = scores + (size_t)n_rep * n_ctx; /* (max(hk, hv)) */
  float *tmp = slice + (hk > hv ? hk : hv);  /* (row) */
  const float *qi = j->q + (size_t)i * s->n_head * hk; /* (n_head, hk) */
  float *oi = j->out + (size_t)i * s->n_head * hv;     /* (n_head, hv) */

  const float *qg = qi + (size_t)g * n_rep * hk; /* (n_rep, hk) the group's query heads */
  tl__vec_dot_tile_fn tile = kv->type == TL_QTYPE_F16 || kv->type == TL_QTYPE_F32
                                 ? k->vec_dot_tile[kv->type] : NULL;
  if (tile) {
    /* Cached F16/F32 keys against the float queries directly, up to 4 keys
     * by 8 heads per call (the kernels' tile). */
    size_t esz = kv->type == TL_QTYPE_F16 ? 2 : 4;
    for (uint32_t t = 0; t < n_keys; t += TL__TILE_MAX_W) {
      int nw = n_keys - t < TL__TILE_MAX_W ? (int)(n_keys - t) : TL__TILE_MAX_W;
      const uint8_t *w = tl__kv_k_row(kv, j->layer, t0 + t) + (size_t)g * hk * esz;
      for (uint32_t r = 0; r < n_rep; r += TL__TILE_MAX_X) {
        int nx = n_rep - r < TL__TILE_MAX_X ? (int)(n_rep - r) : TL__TILE_MAX_X;
        tile(hk, w, kv->row_k, nw, qg + (size_t)r * hk, hk * sizeof(float), nx,
             scores + (size_t)r * n_ctx + t, n_ctx);
      }
    }
  } else if (kv->type == TL_QTYPE_Q8_0 && hk % 32 == 0) {
    /* Q8_0 keys: the queries quantized to Q8_0 once, then the kernels'
     * Q8_0 tile, as llama.cpp scores a quantized cache. */
    size_t qrow = tl__row_bytes(TL_QTYPE_Q8_0, hk);
    uint8_t *qq = (uint8_t *)tmp; /* (n_rep, qrow) */
    for (uint32_t r = 0; r < n_rep; r++)
      tl__quantize_activation(TL_QTYPE_Q8_0, qg + (size_t)r * hk, qq + r * qrow, hk);
    tl__vec_dot_tile_fn qtile = k->vec_dot_tile[TL_QTYPE_Q8_0];
    size_t off = (size_t)g * qrow;
    for (uint32_t t = 0; t < n_keys; t += TL__TILE_MAX_W) {
      int nw = n_keys - t < TL__TILE_MAX_W ? (int)(n_keys - t) : TL__TILE_MAX_W;
      for (uint32_t r = 0; r < n_rep; r += TL__TILE_MAX_X) {
        int nx = n_rep - r < TL__TILE_MAX_X ? (int)(n_rep - r) : TL__TILE_MAX_X;
        qtile(hk, tl__kv_k_row(kv, j->layer, t0 + t) + off, kv->row_k, nw, qq + r * qrow, qrow, nx,
              scores + (size_t)r * n_ctx + t, n_ctx);
      }
    }
  } else {
    for (uint32_t t = 0; t < n_keys; t++) {
      const float *kt = tl__kv_slice(kv, tl__kv_k_row(kv, j->layer, t0 + t), g * hk, hk, slice, tmp);
      for (uint32_t r = 0; r < n_rep; r++)
        scores[(size_t)r * n_ctx + t] = k->dot_f32(qg + (size_t)r * hk, kt, hk);
    }
  }
  for (uint32_t r = 0; r < n_rep; r++) {
    k->scale(scores + (size_t)r * n_ctx, s->scale, n_keys);
    k->softmax(scores + (size_t)r * n_ctx, n_keys);
  }
  float *og = oi + (size_t)g * n_rep * hv; /* (n_rep, hv) the group's outputs */
  if (kv->v_trans) {
    /* out[r][d] = P[r] . Vt[d]: up to 4 value dims by 8 heads per call. */
    tl__vec_dot_tile_fn vtile = k->vec_dot_tile[kv->type];
    for (uint32_t d = 0; d < hv; d += TL__TILE_MAX_W) {
      int nw = hv - d < TL__TILE_MAX_W ? (int)(hv - d) : TL__TILE_MAX_W;
      const uint8_t *w = tl__kv_vt_row(kv, j->layer, g * hv + d) + (size_t)t0 * kv->v_elem;
      for (uint32_t r = 0; r < n_rep; r += TL__TILE_MAX_X) {
        int nx = n_rep - r < TL__TILE_MAX_X ? (int)(n_rep - r) : TL__TILE_MAX_X;
        vtile(n_keys, w, (size_t)n_ctx * kv->v_elem, nw, scores + (size_t)r * n_ctx,
              n_ctx * sizeof(float), nx, og + (size_t)r * hv + d, hv);
      }
    }
    return;
  }
  for (uint32_t r = 0; r < n_rep; r++)
    for (uint32_t d = 0; d < hv; d++)
      og[(size_t)r * hv + d] = 0.0f;
  for (uint32_t t = 0; t < n_keys; t++) {
    const float *vt = tl__kv_slice(kv, tl__kv_v_row(kv, j->layer, t0 + t), g * hv, hv, slice, tmp);
    for (uint32_t r = 0; r < n_rep; r++)
      k->axpy(og + (size_t)r * hv, scores[(size_t)r * n_ctx + t], vt, hv);
  }
}

static void att_worker(void *ctx, int ith, int nth)
{
  const att_job *j = ctx;
  float *scratch = j->c->att_scratch + (size_t)ith * j->c->att_stride;
  uint32_t n_tasks = j->s->n_head_kv * j->m;
  for (uint32_t task = (uint32_t)ith; task < n_tasks; task += (uint32_t)nth)
    att_task(j, task % j->s->n_head_kv, task / j->s->n_head_kv, scratch);
}

void tl__cpu_attention(tl__backend *b, const tl__kv *kv, uint32_t layer, const tl__attn_shape *s,
                       const float *q, uint32_t m, uint32_t pos0, float *out)
{
  att_job j = {b->impl, kv, layer, s, q, m, pos0, out};
  tl__threadpool_run(j.c->pool, att_worker, &j);
}
