/* The CPU implementation of the engine's ops table. Matrix products and the
 * vector helpers are the CPU kernels' (cpu/kernels.h, SIMD chosen at run
 * time); this file only shapes the calls. One thread pool, created here, runs
 * every parallel op; all scratch is allocated at creation. */
#include <assert.h>
#include <string.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "engine/backend-cpu.h"
#include "engine/engine-int.h"

static tl__cpu *cpu_of(tl__backend *b) { return b->impl; }

/* Activations are 64-byte aligned; a size header in front records the bytes
 * for the compute count. */
static void *cpu_alloc(tl__backend *b, size_t bytes)
{
  uint8_t *p = tl__aligned_malloc(64, bytes + 64);
  if (!p)
    return NULL;
  memcpy(p, &bytes, sizeof bytes);
  b->bytes_alloc += bytes + 64;
  return p + 64;
}

static void cpu_free(tl__backend *b, void *ptr)
{
  if (!ptr)
    return;
  uint8_t *p = (uint8_t *)ptr - 64;
  size_t bytes;
  memcpy(&bytes, p, sizeof bytes);
  b->bytes_alloc -= bytes + 64;
  tl__aligned_free(p);
}

static void cpu_matmul(tl__backend *b, const tl__weight *w, const float *x, float *y, uint32_t m)
{
  tl__cpu *c = cpu_of(b);
  tl__matmul_args a = {
      .wtype = w->type,
      .w = w->data,
      .w_stride = w->row_bytes,
      .n = w->ne1,
      .k = w->ne0,
      .m = m,
      .x = x,
      .x_stride = (size_t)w->ne0,
      .y = y,
      .y_stride = (size_t)w->ne1,
      .scratch = c->mm_scratch,
      .scratch_bytes = c->mm_scratch_bytes,
      .kernels = c->k,
  };
  /* Shapes and scratch were validated at load; a failure here is a bug. */
  tl_status st = tl__cpu_matmul(&a, c->pool);
  assert(st == TL_OK);
  (void)st;
}

static void cpu_embedding(tl__backend *b, const tl__weight *w, const int32_t *tokens, uint32_t m,
                          float *out)
{
  (void)b;
  for (uint32_t i = 0; i < m; i++)
    tl__dequantize_row(w->type, (const uint8_t *)w->data + (size_t)tokens[i] * w->row_bytes,
                       out + (size_t)i * w->ne0, w->ne0);
}

static void cpu_rmsnorm(tl__backend *b, float *out, const float *x, const float *w, uint32_t m,
                        uint32_t n, float eps)
{
  tl__cpu *c = cpu_of(b);
  for (uint32_t i = 0; i < m; i++)
    c->k->rmsnorm(out + (size_t)i * n, x + (size_t)i * n, w, n, eps);
}

static void cpu_add(tl__backend *b, float *y, const float *x, size_t n)
{
  cpu_of(b)->k->add(y, y, x, (int64_t)n);
}

static void cpu_add_bias(tl__backend *b, float *y, const float *bias, uint32_t m, uint32_t n)
{
  tl__cpu *c = cpu_of(b);
  for (uint32_t i = 0; i < m; i++)
    c->k->add(y + (size_t)i * n, y + (size_t)i * n, bias, n);
}

static void cpu_swiglu(tl__backend *b, float *out, const float *gate, const float *up, size_t n)
{
  cpu_of(b)->k->silu_mul(out, gate, up, (int64_t)n);
}

static void cpu_rope(tl__backend *b, const tl__rope *r, float *x, uint32_t m, uint32_t n_head,
                     uint32_t head_dim, const int32_t *pos)
{
  (void)b;
  tl__rope_apply(r, x, m, n_head, head_dim, pos);
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

static void cpu_kv_store(tl__backend *b, tl__kv *kv, uint32_t layer, uint32_t pos0, uint32_t m,
                         const float *k, const float *v)
{
  tl__cpu *c = cpu_of(b);
  for (uint32_t i = 0; i < m; i++) {
    store_row(c, kv->type, k + (size_t)i * kv->n_embd_k, tl__kv_k_row(kv, layer, pos0 + i),
              kv->n_embd_k);
    const float *vi = v + (size_t)i * kv->n_embd_v;
    if (!kv->v_trans) {
      store_row(c, kv->type, vi, tl__kv_v_row(kv, layer, pos0 + i), kv->n_embd_v);
    } else if (kv->type == TL_QTYPE_F16) {
      for (uint32_t d = 0; d < kv->n_embd_v; d++)
        ((tl__fp16 *)tl__kv_vt_row(kv, layer, d))[pos0 + i] = tl__f32_to_fp16(vi[d]);
    } else {
      for (uint32_t d = 0; d < kv->n_embd_v; d++)
        ((float *)tl__kv_vt_row(kv, layer, d))[pos0 + i] = vi[d];
    }
  }
}

static const tl__backend_ops cpu_ops = {
    .name = "cpu",
    .alloc = cpu_alloc,
    .free = cpu_free,
    .matmul = cpu_matmul,
    .embedding = cpu_embedding,
    .rmsnorm = cpu_rmsnorm,
    .add = cpu_add,
    .add_bias = cpu_add_bias,
    .swiglu = cpu_swiglu,
    .rope = cpu_rope,
    .kv_store = cpu_kv_store,
    .attention = tl__cpu_attention,
    .kv_store_paged = tl__cpu_kv_store_paged,
    .attention_paged = tl__cpu_attention_paged,
};

tl_status tl__backend_cpu_create(uint32_t n_threads, uint32_t n_ctx, const tl__attn_shape *s,
                                 size_t matmul_scratch, tl__backend **out, tl_error *err)
{
  tl__backend *b = tl__calloc(1, sizeof *b);
  tl__cpu *c = tl__calloc(1, sizeof *c);
  if (!b || !c) {
    tl__free(b);
    tl__free(c);
    return tl__error_set(err, TL_ENOMEM, "engine: out of memory for the CPU backend");
  }
  b->ops = &cpu_ops;
  b->impl = c;
  c->k = tl__cpu_kernels_get();
  c->n_threads = n_threads;
  c->n_ctx = n_ctx;
  tl_status st = tl__threadpool_create((int)n_threads, false, &c->pool, err);
  if (st) {
    tl__backend_cpu_free(b);
    return st;
  }
  /* Each pool thread owns a workspace the kernels use: compute memory too. */
  b->bytes_alloc += (uint64_t)n_threads * TL__THREAD_WORKSPACE;
  c->mm_scratch_bytes = matmul_scratch;
  c->mm_scratch = cpu_alloc(b, matmul_scratch);
  c->att_stride = (tl__cpu_attention_scratch(s, n_ctx) + 15) & ~(size_t)15;
  c->att_scratch = cpu_alloc(b, c->att_stride * n_threads * sizeof(float));
  if (!c->mm_scratch || !c->att_scratch) {
    size_t bytes = matmul_scratch + c->att_stride * n_threads * sizeof(float);
    tl__backend_cpu_free(b);
    return tl__error_set(err, TL_ENOMEM, "engine: out of memory for %zu bytes of CPU scratch",
                         bytes);
  }
  *out = b;
  return TL_OK;
}

void tl__backend_cpu_free(tl__backend *b)
{
  if (!b)
    return;
  tl__cpu *c = b->impl;
  if (c) {
    if (c->pool)
      b->bytes_alloc -= (uint64_t)c->n_threads * TL__THREAD_WORKSPACE;
    tl__threadpool_free(c->pool);
    cpu_free(b, c->mm_scratch);
    cpu_free(b, c->att_scratch);
    tl__free(c);
  }
  tl__free(b);
}
