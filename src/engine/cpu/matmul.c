/* Matrix multiply Y[m][n] = sum_k W[n][k] * X[m][k] for any weight type.
 * X is first quantized into the weight type's activation format (in the
 * caller's scratch), then the output is split across the pool's threads by
 * ranges of W rows. Decode (m = 1) streams each thread's W rows once at memory
 * bandwidth; prefill (m > 1) walks W in groups of TL__TILE_MAX_W rows and, for
 * each group, all X rows in groups of TL__TILE_MAX_X, so every weight block is
 * read from memory once and reused from cache across the activation rows. */
#include <stdatomic.h>

#include "engine/cpu/internal.h"

/* Software prefetch distance of the matvec, in bytes of W ahead of the
 * segment being computed. Measured on the 2-core Xeon (AMX) here, 1 thread,
 * CPU time, Q4_K 8192x2048: none 6.7 GB/s, 8 KiB ahead 9+ GB/s. */
#define PREFETCH_AHEAD 8192

/* A matvec reading less than this many bytes of W runs on the calling
 * thread alone (tiny models, small projections): about the work of a
 * microsecond, the order of a pool wake-up. */
#define SMALL_MATVEC_BYTES 32768

size_t tl__cpu_act_row_bytes(tl_qtype wtype, int64_t k)
{
  const tl__qtype_traits *tr = tl__qtype_traits_get(wtype);
  return tr ? tl__row_bytes(tr->vec_dot_type, k) : 0;
}

size_t tl__amx_scratch_bytes(int64_t m, int64_t k)
{
  const size_t m16 = (size_t)((m + 15) / 16 * 16), m32 = (size_t)((m + 31) / 32 * 32);
  /* int8 X in VNNI tiles, then per 32-block scale and scaled sum per row */
  const size_t i8 = m16 * (size_t)k + 2 * m16 * (size_t)(k / 32) * sizeof(float) + 128;
  const size_t bf16 = m32 * (size_t)k * 2 + 128; /* bf16 X in pair tiles */
  return i8 > bf16 ? i8 : bf16;
}

size_t tl__cpu_matmul_scratch_bytes(tl_qtype wtype, int64_t m, int64_t k)
{
  const tl__qtype_traits *tr = tl__qtype_traits_get(wtype);
  if (!tr || tr->vec_dot_type == TL_QTYPE_F32)
    return 0; /* float activations are read in place */
  size_t bytes = (size_t)m * tl__cpu_act_row_bytes(wtype, k);
  if (m > 1) { /* room for the AMX layout on any machine */
    size_t amx = tl__amx_scratch_bytes(m, k);
    bytes = amx > bytes ? amx : bytes;
  }
  return bytes;
}

typedef struct mm_ctx {
  const tl__matmul_args *a;
  const tl__cpu_kernels *kern;
  tl__quantize_fn quant;
  const char *xq;   /* quantized X */
  size_t xq_stride; /* bytes */
  size_t act_row;   /* bytes of one quantized row */
  int64_t chunk;    /* W rows per work item */
  int64_t seg_elems;          /* matvec: elements per row segment */
  size_t seg_wbytes;          /* bytes of W per segment */
  int64_t blk_elems, act_blk_elems;
  size_t blk_bytes, act_blk_bytes;
  _Atomic int64_t next; /* next work item: threads take items until none is left */
} mm_ctx;

static void quantize_task(void *p, int ith, int nth)
{
  const mm_ctx *c = p;
  const tl__matmul_args *a = c->a;
  for (int64_t i = ith; i < a->m; i += nth)
    c->quant(a->x + (size_t)i * a->x_stride, (char *)a->scratch + (size_t)i * c->act_row, a->k);
}

/* Work is handed out in chunks of W rows through an atomic counter, so a
 * thread that was descheduled (shared cores) or is slower does less of it;
 * chunks are long enough to keep the hardware prefetchers streaming. */
static void matvec_task(void *p, int ith, int nth)
{
  (void)ith, (void)nth;
  mm_ctx *c = p;
  const tl__matmul_args *a = c->a;
  const tl__vec_dot_fn dot = c->kern->vec_dot[a->wtype];
  const char *w = (const char *)a->w;
  for (;;) {
    const int64_t lo = atomic_fetch_add_explicit(&c->next, 1, memory_order_relaxed) * c->chunk;
    if (lo >= a->n)
      break;
    const int64_t hi = lo + c->chunk < a->n ? lo + c->chunk : a->n;
    for (int64_t j = lo; j < hi; j++) {
      const char *row = w + (size_t)j * a->w_stride;
      float sum = 0.0f;
      /* Rows are walked in segments of about 2 KiB; before each, the lines
       * PREFETCH_AHEAD bytes further are requested (into L2), so memory
       * traffic overlaps the arithmetic instead of alternating with it. */
      for (int64_t e = 0; e < a->k; e += c->seg_elems) {
        const int64_t ne = a->k - e < c->seg_elems ? a->k - e : c->seg_elems;
        const size_t off = (size_t)(e / c->blk_elems) * c->blk_bytes;
        const char *pf = row + off + PREFETCH_AHEAD;
        for (size_t o = 0; o < c->seg_wbytes; o += 64)
          __builtin_prefetch(pf + o, 0, 2);
        sum += dot(ne, row + off, c->xq + (size_t)(e / c->act_blk_elems) * c->act_blk_bytes);
      }
      a->y[j] = sum;
    }
  }
}

static void matmul_task(void *p, int ith, int nth)
{
  (void)ith, (void)nth;
  mm_ctx *c = p;
  const tl__matmul_args *a = c->a;
  const tl__vec_dot_tile_fn tile = c->kern->vec_dot_tile[a->wtype];
  const char *w = (const char *)a->w;
  for (;;) {
    const int64_t lo = atomic_fetch_add_explicit(&c->next, 1, memory_order_relaxed) * c->chunk;
    if (lo >= a->n)
      break;
    const int64_t hi = lo + c->chunk < a->n ? lo + c->chunk : a->n;
    for (int64_t j = lo; j < hi; j += TL__TILE_MAX_W) {
      const int nw = (int)(hi - j < TL__TILE_MAX_W ? hi - j : TL__TILE_MAX_W);
      for (int64_t i = 0; i < a->m; i += TL__TILE_MAX_X) {
        const int nx = (int)(a->m - i < TL__TILE_MAX_X ? a->m - i : TL__TILE_MAX_X);
        tile(a->k, w + (size_t)j * a->w_stride, a->w_stride, nw, c->xq + (size_t)i * c->xq_stride,
             c->xq_stride, nx, a->y + (size_t)i * a->y_stride + (size_t)j, a->y_stride);
      }
    }
  }
}

/* Rows per work item: about 8 items per thread, at least 16 rows, a
 * multiple of the tile width. */
static int64_t chunk_rows(int64_t n, int nth)
{
  int64_t c = n / ((int64_t)nth * 8);
  c = c < 16 ? 16 : c;
  return (c + TL__TILE_MAX_W - 1) / TL__TILE_MAX_W * TL__TILE_MAX_W;
}

tl_status tl__cpu_matmul(const tl__matmul_args *a, tl__threadpool *tp)
{
  const tl__qtype_traits *tr = tl__qtype_traits_get(a->wtype);
  if (!tr || !tl__qtype_is_weight(a->wtype))
    return TL_EINVAL;
  if (a->k <= 0 || a->k % tr->block_elems != 0 || a->n <= 0 || a->m <= 0)
    return TL_EINVAL;
  if (a->w_stride < tl__row_bytes(a->wtype, a->k) || (a->m > 1 && a->y_stride < (size_t)a->n))
    return TL_EINVAL;
  mm_ctx c = {.a = a, .kern = a->kernels ? a->kernels : tl__cpu_kernels_get()};
  c.act_row = tl__cpu_act_row_bytes(a->wtype, a->k);
  if (c.kern->matmul_big && a->m >= 16 && !a->xq && tl__threadpool_workspace(tp, 0) &&
      c.kern->matmul_big(a, tp, c.kern) == TL_OK)
    return TL_OK;
  if (a->xq) {
    c.xq = a->xq;
    c.xq_stride = a->xq_stride;
  } else if (tr->vec_dot_type == TL_QTYPE_F32) {
    if (a->m > 1 && a->x_stride < (size_t)a->k)
      return TL_EINVAL;
    c.xq = (const char *)a->x;
    c.xq_stride = a->x_stride * sizeof(float);
  } else {
    if (!a->scratch || a->scratch_bytes < tl__cpu_matmul_scratch_bytes(a->wtype, a->m, a->k))
      return TL_EINVAL;
    if (a->m > 1 && a->x_stride < (size_t)a->k)
      return TL_EINVAL;
    c.quant = c.kern->quantize_act[tr->vec_dot_type];
    c.xq = a->scratch;
    c.xq_stride = c.act_row;
    if (a->m == 1)
      quantize_task(&c, 0, 1);
    else
      tl__threadpool_run(tp, quantize_task, &c);
  }
  c.chunk = chunk_rows(a->n, tl__threadpool_size(tp));
  const tl__qtype_traits *at = tl__qtype_traits_get(tr->vec_dot_type);
  c.blk_elems = tr->block_elems, c.blk_bytes = tr->block_bytes;
  c.act_blk_elems = at->block_elems, c.act_blk_bytes = at->block_bytes;
  const int64_t seg_blocks = (int64_t)(2048 / tr->block_bytes) > 0 ? (int64_t)(2048 / tr->block_bytes) : 1;
  c.seg_elems = seg_blocks * tr->block_elems;
  if (c.seg_elems % at->block_elems != 0) /* whole activation blocks per segment */
    c.seg_elems = (c.seg_elems + at->block_elems - 1) / at->block_elems * at->block_elems;
  c.seg_wbytes = (size_t)(c.seg_elems / tr->block_elems) * tr->block_bytes;
  atomic_init(&c.next, 0);
  if (a->m == 1 && (size_t)a->n * tl__row_bytes(a->wtype, a->k) < SMALL_MATVEC_BYTES)
    matvec_task(&c, 0, 1); /* waking the pool costs more than the work */
  else if (a->m == 1)
    tl__threadpool_run_dynamic(tp, matvec_task, &c);
  else
    tl__threadpool_run_dynamic(tp, matmul_task, &c);
  return TL_OK;
}
