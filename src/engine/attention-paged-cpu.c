/* Attention for a batch of several sequences in the block-paged KV cache, on
 * the CPU: token i of the batch attends, causally, to positions 0 .. pos[i]
 * of its own sequence, whose rows are found through the sequence's block
 * table. The arithmetic is attention-cpu.c's (one K/V slice converted per KV
 * head and shared by its query group, threads over (KV head, token)). */
#include <string.h>

#include "engine/backend-cpu.h"
#include "engine/engine-int.h"
#include "tailor/quant.h"

/* Rows of the pool (the stride of a transposed V row). */
static inline uint32_t n_ctx_pool(const tl__kv *kv) { return kv->n_ctx; }

static inline uint32_t row_of(const tl__kv_map *map, uint32_t i, uint32_t p)
{
  return map->table[i][p / map->block_size] * map->block_size + p % map->block_size;
}

static void store_row(const tl__cpu *c, tl_qtype t, const float *src, uint8_t *dst, uint32_t n)
{
  if (t == TL_QTYPE_F32)
    memcpy(dst, src, n * sizeof *src);
  else if (t == TL_QTYPE_F16)
    c->k->f32_to_fp16(src, (tl__fp16 *)dst, n);
  else
    tl__quantize_row(t, src, dst, n);
}

void tl__cpu_kv_store_paged(tl__backend *b, tl__kv *kv, uint32_t layer, const tl__kv_map *map,
                            uint32_t m, const float *k, const float *v)
{
  const tl__cpu *c = b->impl;
  for (uint32_t i = 0; i < m; i++) {
    uint32_t r = row_of(map, i, (uint32_t)map->pos[i]);
    store_row(c, kv->type, k + (size_t)i * kv->n_embd_k, tl__kv_k_row(kv, layer, r), kv->n_embd_k);
    const float *vi = v + (size_t)i * kv->n_embd_v;
    if (!kv->v_trans) {
      store_row(c, kv->type, vi, tl__kv_v_row(kv, layer, r), kv->n_embd_v);
    } else if (kv->type == TL_QTYPE_F16) {
      for (uint32_t d = 0; d < kv->n_embd_v; d++)
        ((tl__fp16 *)tl__kv_vt_row(kv, layer, d))[r] = tl__f32_to_fp16(vi[d]);
    } else {
      for (uint32_t d = 0; d < kv->n_embd_v; d++)
        ((float *)tl__kv_vt_row(kv, layer, d))[r] = vi[d];
    }
  }
}

typedef struct patt_job {
  tl__cpu *c;
  const tl__kv *kv;
  uint32_t layer;
  const tl__attn_shape *s;
  const tl__kv_map *map;
  const float *q;
  uint32_t m;
  float *out;
} patt_job;

static void patt_task(const patt_job *j, uint32_t g, uint32_t i, float *scratch)
{
  const tl__attn_shape *s = j->s;
  const tl__cpu_kernels *k = j->c->k;
  const tl__kv *kv = j->kv;
  uint32_t n_rep = s->n_head / s->n_head_kv, hk = s->head_dim_k, hv = s->head_dim_v;
  uint32_t n_ctx = j->c->n_ctx, n_keys = (uint32_t)j->map->pos[i] + 1;
  float *scores = scratch;                       /* (n_rep, n_ctx) */
  float *slice = scores + (size_t)n_rep * n_ctx; /* (max(hk, hv)) */
  float *tmp = slice + (hk > hv ? hk : hv);      /* (row) */
  const float *qi = j->q + (size_t)i * s->n_head * hk; /* (n_head, hk) */
  float *oi = j->out + (size_t)i * s->n_head * hv;     /* (n_head, hv) */

  const float *qg = qi + (size_t)g * n_rep * hk; /* (n_rep, hk) the group's query heads */
  tl__vec_dot_tile_fn tile = kv->type == TL_QTYPE_F16 || kv->type == TL_QTYPE_F32
                                 ? k->vec_dot_tile[kv->type] : NULL;
  if (tile) {
    /* Keys of one block are consecutive rows: tiles never cross a block. */
    size_t esz = kv->type == TL_QTYPE_F16 ? 2 : 4;
    uint32_t bs = j->map->block_size;
    for (uint32_t t = 0; t < n_keys;) {
      uint32_t nw = n_keys - t, left = bs - t % bs;
      nw = nw < left ? nw : left;
      nw = nw < TL__TILE_MAX_W ? nw : TL__TILE_MAX_W;
      const uint8_t *w = tl__kv_k_row(kv, j->layer, row_of(j->map, i, t)) + (size_t)g * hk * esz;
      for (uint32_t r = 0; r < n_rep; r += TL__TILE_MAX_X) {
        int nx = n_rep - r < TL__TILE_MAX_X ? (int)(n_rep - r) : TL__TILE_MAX_X;
        tile(hk, w, kv->row_k, (int)nw, qg + (size_t)r * hk, hk * sizeof(float), nx,
             scores + (size_t)r * n_ctx + t, n_ctx);
      }
      t += nw;
    }
  } else if (kv->type == TL_QTYPE_Q8_0 && hk % 32 == 0) {
    /* Q8_0 keys against the queries quantized to Q8_0 once, as
     * attention-cpu.c scores them, tiles within a block. */
    size_t qrow = tl__row_bytes(TL_QTYPE_Q8_0, hk);
    uint8_t *qq = (uint8_t *)tmp; /* (n_rep, qrow) */
    for (uint32_t r = 0; r < n_rep; r++)
      tl__quantize_activation(TL_QTYPE_Q8_0, qg + (size_t)r * hk, qq + r * qrow, hk);
    tl__vec_dot_tile_fn qtile = k->vec_dot_tile[TL_QTYPE_Q8_0];
    uint32_t bs = j->map->block_size;
    for (uint32_t t = 0; t < n_keys;) {
      uint32_t nw = n_keys - t, left = bs - t % bs;
      nw = nw < left ? nw : left;
      nw = nw < TL__TILE_MAX_W ? nw : TL__TILE_MAX_W;
      const uint8_t *w = tl__kv_k_row(kv, j->layer, row_of(j->map, i, t)) + (size_t)g * qrow;
      for (uint32_t r = 0; r < n_rep; r += TL__TILE_MAX_X) {
        int nx = n_rep - r < TL__TILE_MAX_X ? (int)(n_rep - r) : TL__TILE_MAX_X;
        qtile(hk, w, kv->row_k, (int)nw, qq + r * qrow, qrow, nx, scores + (size_t)r * n_ctx + t,
              n_ctx);
      }
      t += nw;
    }
  } else {
    for (uint32_t t = 0; t < n_keys; t++) {
      const float *kt =
          tl__kv_slice(kv, tl__kv_k_row(kv, j->layer, row_of(j->map, i, t)), g * hk, hk, slice, tmp);
      for (uint32_t r = 0; r < n_rep; r++)
        scores[(size_t)r * n_ctx + t] = k->dot_f32(qg + (size_t)r * hk, kt, hk);
    }
  }
  for (uint32_t r = 0; r < n_rep; r++) {
    k->scale(scores + (size_t)r * n_ctx, s->scale, n_keys);
    k->softmax(scores + (size_t)r * n_ctx, n_keys);
    memset(oi + (size_t)(g * n_rep + r) * hv, 0, hv * sizeof(float));
  }
  if (kv->v_trans) {
    /* Transposed V: within a block the positions of a value dimension are
     * contiguous, so each block is tiles of (value dims x query heads) whose
     * sums are added up over the blocks. */
    float *og = oi + (size_t)g * n_rep * hv; /* (n_rep, hv) */
    tl__vec_dot_tile_fn vtile = k->vec_dot_tile[kv->type];
    uint32_t bs = j->map->block_size;
    float part[TL__TILE_MAX_X * TL__TILE_MAX_W];
    for (uint32_t t0 = 0; t0 < n_keys; t0 += bs) {
      uint32_t nk = n_keys - t0 < bs ? n_keys - t0 : bs;
      size_t col = (size_t)row_of(j->map, i, t0) * kv->v_elem;
      for (uint32_t d = 0; d < hv; d += TL__TILE_MAX_W) {
        int nw = hv - d < TL__TILE_MAX_W ? (int)(hv - d) : TL__TILE_MAX_W;
        const uint8_t *w = tl__kv_vt_row(kv, j->layer, g * hv + d) + col;
        for (uint32_t r = 0; r < n_rep; r += TL__TILE_MAX_X) {
          int nx = n_rep - r < TL__TILE_MAX_X ? (int)(n_rep - r) : TL__TILE_MAX_X;
          vtile(nk, w, (size_t)n_ctx_pool(kv) * kv->v_elem, nw, scores + (size_t)r * n_ctx + t0,
                n_ctx * sizeof(float), nx, part, TL__TILE_MAX_W);
          for (int x = 0; x < nx; x++)
            for (int y = 0; y < nw; y++)
              og[(size_t)(r + (uint32_t)x) * hv + d + (uint32_t)y] += part[x * TL__TILE_MAX_W + y];
        }
      }
    }
    return;
  }
  for (uint32_t t = 0; t < n_keys; t++) {
    const float *vt = tl__kv_slice(kv, tl__kv_v_row(kv, j->layer, row_of(j->map, i, t)), g * hv,
                                   hv, slice, tmp);
    for (uint32_t r = 0; r < n_rep; r++)
      k->axpy(oi + (size_t)(g * n_rep + r) * hv, scores[(size_t)r * n_ctx + t], vt, hv);
  }
}

static void patt_worker(void *ctx, int ith, int nth)
{
  const patt_job *j = ctx;
  float *scratch = j->c->att_scratch + (size_t)ith * j->c->att_stride;
  uint32_t n_tasks = j->s->n_head_kv * j->m;
  for (uint32_t task = (uint32_t)ith; task < n_tasks; task += (uint32_t)nth)
    patt_task(j, task % j->s->n_head_kv, task / j->s->n_head_kv, scratch);
}

void tl__cpu_attention_paged(tl__backend *b, const tl__kv *kv, uint32_t layer,
                             const tl__attn_shape *s, const tl__kv_map *map, const float *q,
                             uint32_t m, float *out)
{
  patt_job j = {b->impl, kv, layer, s, map, q, m, out};
  tl__threadpool_run(j.c->pool, patt_worker, &j);
}
