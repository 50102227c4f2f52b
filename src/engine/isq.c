/* In-situ quantization: while the engine loads, unquantized weights (F32,
 * F16, BF16) are quantized to a chosen type, tensor by tensor, rows split
 * over threads, each copy allocated once; the source pages of a tensor are
 * released as soon as it is done, so peak memory stays near the quantized
 * size. The token embedding stays as stored (it is read a row at a time);
 * a tied output gets its own quantized copy. Source pages are released only
 * when they are file-backed (a GGUF mapping): a directory's view may hold
 * copies in anonymous memory, which must not be dropped. Rows whose length is not a
 * multiple of the type's block fall back to Q8_0 (blocks of 32), or stay as
 * stored. Round-to-nearest quantizers of src/engine/cpu (no importance matrix). */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "engine/cpu/kernels.h"
#include "engine/engine-int.h"
#include "tailor/quant.h"

typedef struct isq_job {
  const tl__weight *src;
  tl_qtype type;
  uint8_t *dst;
  size_t dst_row;
  float *rows; /* per thread: one f32 row */
} isq_job;

static void isq_task(void *ctx, int ith, int nth)
{
  isq_job *j = ctx;
  float *f = j->rows + (size_t)ith * (size_t)j->src->ne0;
  for (int64_t r = ith; r < j->src->ne1; r += nth) {
    const uint8_t *row = (const uint8_t *)j->src->data + (size_t)r * j->src->row_bytes;
    tl__dequantize_row(j->src->type, row, f, j->src->ne0);
    tl__quantize_row(j->type, f, j->dst + (size_t)r * j->dst_row, j->src->ne0);
  }
}

static bool unquantized(tl_qtype t)
{
  return t == TL_QTYPE_F32 || t == TL_QTYPE_F16 || t == TL_QTYPE_BF16;
}

/* Lets the kernel drop the source pages of a mapped tensor we no longer read. */
static void release(const void *data, size_t bytes)
{
  long page = sysconf(_SC_PAGESIZE);
  if (page <= 0)
    return;
  uintptr_t a = ((uintptr_t)data + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
  uintptr_t b = ((uintptr_t)data + bytes) & ~((uintptr_t)page - 1);
  if (b > a)
    madvise((void *)a, b - a, MADV_DONTNEED);
}

typedef struct isq_state {
  tl_qtype type;
  bool release;  /* the weights are file-backed pages that can be dropped */
  tl__threadpool *tp;
  float *rows;
  tl__isq *out;
  tl_engine_isq_progress progress;
  void *ud;
  uint64_t total, done;
} isq_state;

static tl_status quantize_weight(isq_state *s, tl__weight *w, bool keep_source, tl_error *err)
{
  if (!w->data || !unquantized(w->type))
    return TL_OK;
  tl_qtype t = s->type;
  if (w->ne0 % (int64_t)tl_qtype_get(t)->block_size != 0)
    t = TL_QTYPE_Q8_0;
  if (w->ne0 % (int64_t)tl_qtype_get(t)->block_size != 0)
    return TL_OK;
  size_t row = tl_qtype_row_bytes(t, w->ne0);
  size_t bytes = row * (size_t)w->ne1;
  if (s->out->n == s->out->cap) {
    size_t cap = s->out->cap ? s->out->cap * 2 : 64;
    void **b = tl__realloc(s->out->bufs, cap * sizeof *b);
    if (!b)
      return tl__error_set(err, TL_ENOMEM, "engine: out of memory quantizing '%s'", w->name);
    s->out->bufs = b;
    s->out->cap = cap;
  }
  uint8_t *dst = tl__aligned_malloc(64, bytes ? bytes : 64);
  if (!dst)
    return tl__error_set(err, TL_ENOMEM, "engine: out of memory for %zu bytes quantizing '%s'",
                         bytes, w->name);
  s->out->bufs[s->out->n++] = dst;
  isq_job j = {w, t, dst, row, s->rows};
  tl__threadpool_run(s->tp, isq_task, &j);
  uint64_t src_bytes = (uint64_t)w->row_bytes * (uint64_t)w->ne1;
  if (!keep_source && s->release)
    release(w->data, src_bytes);
  s->out->src_bytes += keep_source ? 0 : src_bytes;
  s->out->bytes += bytes;
  s->out->n_tensors++;
  w->data = dst;
  w->type = t;
  w->row_bytes = row;
  s->done += src_bytes;
  if (s->progress)
    s->progress(s->done, s->total, s->ud);
  return TL_OK;
}

static uint64_t weight_bytes(const tl__weight *w)
{
  return w->data && unquantized(w->type) ? (uint64_t)w->row_bytes * (uint64_t)w->ne1 : 0;
}

tl_status tl__isq_apply(tl__model *m, tl_qtype type, uint32_t n_threads, bool file_backed,
                        tl_engine_isq_progress progress, void *ud, tl__isq *out, tl_error *err)
{
  memset(out, 0, sizeof *out);
  if (type != TL_QTYPE_Q8_0 && type != TL_QTYPE_Q4_0 && type != TL_QTYPE_Q4_K &&
      type != TL_QTYPE_Q5_K && type != TL_QTYPE_Q6_K)
    return tl__error_set(err, TL_ECONFIG,
                         "engine: in-situ quantization to %s is not available (Q8_0, Q6_K, "
                         "Q5_K, Q4_K, Q4_0)", tl_qtype_name(type));
  isq_state s = {.type = type, .release = file_backed, .out = out, .progress = progress, .ud = ud};
  uint32_t nl = m->hp.n_layer, ne = m->hp.n_expert;
  for (uint32_t il = 0; il < nl; il++) {
    tl__layer *L = &m->layers[il];
    tl__weight *ws[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
    for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++)
      s.total += weight_bytes(ws[i]);
    for (uint32_t e = 0; L->experts && e < 3 * ne; e++)
      s.total += weight_bytes(&L->experts[e]);
  }
  s.total += weight_bytes(&m->output);
  tl_status st = tl__threadpool_create((int)(n_threads ? n_threads : 1), false, &s.tp, err);
  if (st)
    return st;
  int64_t widest = m->output.ne0 > m->hp.n_ff ? m->output.ne0 : m->hp.n_ff;
  if (m->hp.n_ff_exp > widest)
    widest = m->hp.n_ff_exp;
  s.rows = tl__malloc_array((size_t)(n_threads ? n_threads : 1) * (size_t)(widest + 256),
                            sizeof(float));
  if (!s.rows) {
    tl__threadpool_free(s.tp);
    return tl__error_set(err, TL_ENOMEM, "engine: out of memory for quantization rows");
  }
  /* the output first: a tied output shares token_embd's pages, which stay */
  bool tied = m->output.data == m->tok_embd.data;
  st = quantize_weight(&s, &m->output, tied, err);
  for (uint32_t il = 0; il < nl && !st; il++) {
    tl__layer *L = &m->layers[il];
    tl__weight *ws[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
    for (size_t i = 0; i < sizeof ws / sizeof ws[0] && !st; i++)
      st = quantize_weight(&s, ws[i], false, err);
    for (uint32_t e = 0; L->experts && e < 3 * ne && !st; e++)
      st = quantize_weight(&s, &L->experts[e], false, err);
    if (!st && L->experts && ne) {
      L->exp_gate = L->experts[0];
      L->exp_up = L->experts[1];
      L->exp_down = L->experts[2];
    }
  }
  tl__free(s.rows);
  tl__threadpool_free(s.tp);
  return st;
}

void tl__isq_free(tl__isq *q)
{
  for (size_t i = 0; i < q->n; i++)
    tl__aligned_free(q->bufs[i]);
  tl__free(q->bufs);
  memset(q, 0, sizeof *q);
}
