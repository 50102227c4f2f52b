/* Speed of the CUDA kernels (bench/README.md, "CUDA kernels"):
 *   1. device-to-device copy bandwidth (bytes read + written), the ceiling;
 *   2. decode matrix-vector products per weight type on the Llama 3.2 1B and
 *      Llama 3.1 8B layer shapes: GB/s of weight read, against the copy;
 *   3. prefill products (512 rows, F16 tiles + cuBLAS): TFLOP/s;
 *   4. a whole decode step of the 8B shape in Q4_K (output Q6_K) made of the
 *      kernels and replayed as one CUDA graph: ms per token and tok/s.
 * Weights are random valid blocks generated on the device; each timed
 * launch reads a different copy of the weight where it would fit in L2.
 * Usage: bench-cuda [--quick]  (quick: fewer shapes, for a smoke run). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef TAILOR_CUDA_KERNELS
int main(void)
{
  printf("bench-cuda: built without CUDA\n");
  return 0;
}
#else

#include "engine/cpu/kernels.h"
#include "engine/cuda/cuda-kernels.h"

static tl__cuda *cu;

#define CHECK(call)                                                                                \
  do {                                                                                             \
    tl_status st_ = (call);                                                                        \
    if (st_ != TL_OK) {                                                                            \
      fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call,                        \
              tl__cuda_last_error(cu));                                                            \
      exit(1);                                                                                     \
    }                                                                                              \
  } while (0)

static void *dmalloc(size_t bytes)
{
  void *p = tl__cuda_malloc(cu, bytes);
  if (!p) {
    fprintf(stderr, "out of device memory (%zu bytes): %s\n", bytes, tl__cuda_last_error(cu));
    exit(1);
  }
  return p;
}

static int cmp_float(const void *a, const void *b)
{
  float x = *(const float *)a, y = *(const float *)b;
  return x < y ? -1 : x > y;
}

/* Median of reps timings of fn, after one untimed warm-up run. */
static float median_ms(void (*fn)(void *), void *ctx, int reps)
{
  float t[64], ms;
  if (reps > 64)
    reps = 64;
  CHECK(tl__cuda_time(cu, fn, ctx, &ms));
  for (int i = 0; i < reps; i++)
    CHECK(tl__cuda_time(cu, fn, ctx, &t[i]));
  qsort(t, (size_t)reps, sizeof t[0], cmp_float);
  return t[reps / 2];
}

/* ---- 1. copy bandwidth ---- */

typedef struct copy_job {
  void *a, *b;
  size_t bytes;
} copy_job;

static void run_copy(void *p)
{
  copy_job *j = p;
  CHECK(tl__cuda_copy_d2d(cu, j->b, j->a, j->bytes));
}

static double copy_bandwidth(void)
{
  copy_job j = {.bytes = (size_t)1 << 30};
  j.a = dmalloc(j.bytes);
  j.b = dmalloc(j.bytes);
  CHECK(tl__cuda_fill_uniform(cu, j.a, j.bytes / 4, -1.0f, 1.0f, 1));
  float ms = median_ms(run_copy, &j, 11);
  tl__cuda_mfree(cu, j.a);
  tl__cuda_mfree(cu, j.b);
  return 2.0 * (double)j.bytes / (ms * 1e-3) / 1e9;
}

/* ---- 2. matrix-vector products ---- */

typedef struct graph_job {
  tl__cuda_graph *g;
} graph_job;

static void run_graph(void *p)
{
  CHECK(tl__cuda_graph_launch(cu, ((graph_job *)p)->g));
}

#define MAX_COPIES 256

/* GB/s of weight read by tl__cuda_matvec for an n x k weight of type t and
 * m activation rows; *us gets the time of one product. */
static double matvec_gbs(tl_qtype t, int64_t n, int64_t k, uint32_t m, double *us)
{
  const size_t row_bytes = tl__row_bytes(t, k), bytes = row_bytes * (size_t)n;
  /* enough copies that one pass reads 512 MiB (ten times the H100's L2) */
  int copies = (int)((((size_t)512 << 20) + bytes - 1) / bytes);
  if (copies > MAX_COPIES)
    copies = MAX_COPIES;
  uint8_t *w = dmalloc(bytes * copies);
  tl__cuda_weight dw[MAX_COPIES];
  for (int c = 0; c < copies; c++) {
    dw[c] = (tl__cuda_weight){.type = t, .data = w + bytes * c, .ne0 = k, .ne1 = n, .row_bytes = row_bytes};
    CHECK(tl__cuda_fill_random(cu, &dw[c], 1000 + (uint64_t)c));
  }
  float *x = dmalloc(sizeof(float) * m * k), *y = dmalloc(sizeof(float) * m * n);
  void *xq = dmalloc(tl__cuda_act_bytes((int64_t)m * k));
  CHECK(tl__cuda_fill_uniform(cu, x, (size_t)m * k, -1.0f, 1.0f, 7));
  CHECK(tl__cuda_quantize_act(cu, x, (int64_t)m * k, xq));
  CHECK(tl__cuda_sync(cu));
  int launches = copies;
  while (launches < 32)
    launches += copies;
  graph_job j;
  CHECK(tl__cuda_graph_begin(cu));
  for (int i = 0; i < launches; i++)
    CHECK(tl__cuda_matvec(cu, &dw[i % copies], x, xq, m, y, false));
  CHECK(tl__cuda_graph_end(cu, &j.g));
  float ms = median_ms(run_graph, &j, 9);
  tl__cuda_graph_free(j.g);
  tl__cuda_mfree(cu, w);
  tl__cuda_mfree(cu, x);
  tl__cuda_mfree(cu, y);
  tl__cuda_mfree(cu, xq);
  double s = ms * 1e-3 / launches;
  *us = s * 1e6;
  return (double)bytes / s / 1e9;
}

/* ---- 3. prefill products ---- */

typedef struct mm_job {
  tl__cuda_weight w;
  float *x, *y;
  uint32_t m;
} mm_job;

static void run_mm(void *p)
{
  mm_job *j = p;
  CHECK(tl__cuda_matmul(cu, &j->w, j->x, j->m, j->y, false));
}

static double matmul_tflops(tl_qtype t, int64_t n, int64_t k, uint32_t m, double *ms_out)
{
  mm_job j = {.m = m};
  j.w = (tl__cuda_weight){.type = t, .ne0 = k, .ne1 = n, .row_bytes = tl__row_bytes(t, k)};
  j.w.data = dmalloc(j.w.row_bytes * n);
  CHECK(tl__cuda_fill_random(cu, &j.w, 5));
  j.x = dmalloc(sizeof(float) * m * k);
  j.y = dmalloc(sizeof(float) * m * n);
  CHECK(tl__cuda_fill_uniform(cu, j.x, (size_t)m * k, -1.0f, 1.0f, 9));
  float ms = median_ms(run_mm, &j, 9);
  tl__cuda_mfree(cu, (void *)j.w.data);
  tl__cuda_mfree(cu, j.x);
  tl__cuda_mfree(cu, j.y);
  *ms_out = ms;
  return 2.0 * (double)m * n * k / (ms * 1e-3) / 1e12;
}

/* ---- 4. a decode step of the 8B shape ---- */

enum { L_Q, L_K, L_V, L_O, L_GATE, L_UP, L_DOWN, L_N };

typedef struct model {
  int n_layer, dim, n_head, n_kv, hd, ff, vocab, n_ctx;
  tl__cuda_weight lw[32][L_N], out, embd;
  float *attn_norm[32], *ffn_norm[32], *out_norm;
  tl__cuda_kv_layer kv[32];
  double *freq;
  /* activations */
  float *x, *xb, *q, *k, *v, *att, *gate, *up, *logits;
  void *xq, *xq_ff;
  int32_t *token, *pos;
  size_t weight_bytes; /* read per token */
} model;

static void weight_alloc(model *md, tl__cuda_weight *w, tl_qtype t, int64_t n, int64_t k,
                         uint64_t seed, bool counted)
{
  *w = (tl__cuda_weight){.type = t, .ne0 = k, .ne1 = n, .row_bytes = tl__row_bytes(t, k)};
  w->data = dmalloc(w->row_bytes * n);
  CHECK(tl__cuda_fill_random(cu, w, seed));
  if (counted)
    md->weight_bytes += w->row_bytes * n;
}

static void model_init(model *md, int n_ctx)
{
  memset(md, 0, sizeof *md);
  md->n_layer = 32, md->dim = 4096, md->n_head = 32, md->n_kv = 8, md->hd = 128;
  md->ff = 14336, md->vocab = 128256, md->n_ctx = n_ctx;
  const int kvd = md->n_kv * md->hd;
  for (int l = 0; l < md->n_layer; l++) {
    const int64_t shape[L_N][2] = {{md->dim, md->dim}, {kvd, md->dim}, {kvd, md->dim},
                                   {md->dim, md->dim}, {md->ff, md->dim}, {md->ff, md->dim},
                                   {md->dim, md->ff}};
    for (int i = 0; i < L_N; i++)
      weight_alloc(md, &md->lw[l][i], TL_QTYPE_Q4_K, shape[i][0], shape[i][1], 100 * l + i, true);
    md->attn_norm[l] = dmalloc(4 * md->dim);
    md->ffn_norm[l] = dmalloc(4 * md->dim);
    CHECK(tl__cuda_fill_uniform(cu, md->attn_norm[l], md->dim, 0.5f, 1.5f, 3 * l));
    CHECK(tl__cuda_fill_uniform(cu, md->ffn_norm[l], md->dim, 0.5f, 1.5f, 3 * l + 1));
    md->kv[l].row = kvd;
    md->kv[l].k = dmalloc((size_t)n_ctx * kvd * 2);
    md->kv[l].v = dmalloc((size_t)n_ctx * kvd * 2);
    /* a filled past: random keys and values at every position */
    float *tmp = dmalloc((size_t)n_ctx * kvd * 4);
    CHECK(tl__cuda_fill_uniform(cu, tmp, (size_t)n_ctx * kvd, -1.0f, 1.0f, 77 + l));
    CHECK(tl__cuda_kv_store(cu, &md->kv[l], 0, n_ctx, tmp, tmp));
    CHECK(tl__cuda_sync(cu));
    tl__cuda_mfree(cu, tmp);
  }
  weight_alloc(md, &md->out, TL_QTYPE_Q6_K, md->vocab, md->dim, 9999, true);
  weight_alloc(md, &md->embd, TL_QTYPE_Q4_K, md->vocab, md->dim, 9998, false);
  md->weight_bytes += md->embd.row_bytes; /* one row per token */
  md->out_norm = dmalloc(4 * md->dim);
  CHECK(tl__cuda_fill_uniform(cu, md->out_norm, md->dim, 0.5f, 1.5f, 5));
  double freq[64];
  for (int i = 0; i < md->hd / 2; i++)
    freq[i] = pow(500000.0, -2.0 * i / md->hd);
  md->freq = dmalloc(sizeof freq);
  CHECK(tl__cuda_copy(cu, md->freq, freq, sizeof freq, true));
  md->x = dmalloc(4 * md->dim);
  md->xb = dmalloc(4 * md->dim);
  md->q = dmalloc(4 * md->dim);
  md->k = dmalloc(4 * kvd);
  md->v = dmalloc(4 * kvd);
  md->att = dmalloc(4 * md->dim);
  md->gate = dmalloc(4 * md->ff);
  md->up = dmalloc(4 * md->ff);
  md->logits = dmalloc(4 * (size_t)md->vocab);
  md->xq = dmalloc(tl__cuda_act_bytes(md->dim));
  md->xq_ff = dmalloc(tl__cuda_act_bytes(md->ff));
  md->token = dmalloc(4);
  md->pos = dmalloc(4);
  int32_t tok = 128000;
  CHECK(tl__cuda_copy(cu, md->token, &tok, 4, true));
  CHECK(tl__cuda_sync(cu));
}

static void model_free(model *md)
{
  for (int l = 0; l < md->n_layer; l++) {
    for (int i = 0; i < L_N; i++)
      tl__cuda_mfree(cu, (void *)md->lw[l][i].data);
    tl__cuda_mfree(cu, md->attn_norm[l]);
    tl__cuda_mfree(cu, md->ffn_norm[l]);
    tl__cuda_mfree(cu, md->kv[l].k);
    tl__cuda_mfree(cu, md->kv[l].v);
  }
  void *p[] = {(void *)md->out.data, (void *)md->embd.data, md->out_norm, md->freq, md->x, md->xb,
               md->q, md->k, md->v, md->att, md->gate, md->up, md->logits, md->xq, md->xq_ff,
               md->token, md->pos};
  for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
    tl__cuda_mfree(cu, p[i]);
}

/* One token at position pos: the llama forward pass of docs/engine.md, the
 * greedy token written back to md->token for the next step. */
static void decode_step(model *md, uint32_t pos)
{
  const float scale = 1.0f / sqrtf((float)md->hd), eps = 1e-5f;
  CHECK(tl__cuda_embedding(cu, &md->embd, md->token, 1, md->x));
  for (int l = 0; l < md->n_layer; l++) {
    tl__cuda_weight *w = md->lw[l];
    CHECK(tl__cuda_rmsnorm(cu, md->xb, md->x, md->attn_norm[l], 1, md->dim, eps, md->xq));
    float *qkv[3] = {md->q, md->k, md->v};
    CHECK(tl__cuda_matvec_multi(cu, &w[L_Q], 3, md->xb, md->xq, 1, qkv, false));
    CHECK(tl__cuda_rope_qk_store(cu, md->q, md->k, md->v, 1, md->n_head, md->n_kv, md->hd, md->pos,
                                 md->freq, md->hd, false, 1.0f, &md->kv[l], pos));
    CHECK(tl__cuda_attention(cu, &md->kv[l], md->q, 1, pos, md->n_head, md->n_kv, md->hd, scale,
                             md->att, md->xq));
    CHECK(tl__cuda_matvec(cu, &w[L_O], md->att, md->xq, 1, md->x, true));
    CHECK(tl__cuda_rmsnorm(cu, md->xb, md->x, md->ffn_norm[l], 1, md->dim, eps, md->xq));
    float *gu[2] = {md->gate, md->up};
    CHECK(tl__cuda_matvec_multi(cu, &w[L_GATE], 2, md->xb, md->xq, 1, gu, false));
    CHECK(tl__cuda_swiglu(cu, md->gate, md->gate, md->up, md->ff, md->xq_ff));
    CHECK(tl__cuda_matvec(cu, &w[L_DOWN], md->gate, md->xq_ff, 1, md->x, true));
  }
  CHECK(tl__cuda_rmsnorm(cu, md->xb, md->x, md->out_norm, 1, md->dim, 1e-5f, md->xq));
  CHECK(tl__cuda_matvec(cu, &md->out, md->xb, md->xq, 1, md->logits, false));
  CHECK(tl__cuda_argmax(cu, md->logits, md->vocab, md->token));
}

typedef struct step_job {
  model *md;
  uint32_t pos;
  int n;
} step_job;

static void run_steps(void *p)
{
  step_job *j = p;
  for (int i = 0; i < j->n; i++)
    decode_step(j->md, j->pos);
}

typedef struct graph_steps {
  tl__cuda_graph *g;
  int n;
} graph_steps;

static void run_graph_steps(void *p)
{
  graph_steps *j = p;
  for (int i = 0; i < j->n; i++)
    CHECK(tl__cuda_graph_launch(cu, j->g));
}

static void bench_decode(model *md, uint32_t ctx, double copy_gbs)
{
  const uint32_t pos = ctx - 1;
  CHECK(tl__cuda_copy(cu, md->pos, &pos, 4, true));
  step_job sj = {md, pos, 10};
  float ms_stream = median_ms(run_steps, &sj, 5) / sj.n;
  graph_steps gj = {NULL, 20};
  CHECK(tl__cuda_sync(cu));
  CHECK(tl__cuda_graph_begin(cu));
  decode_step(md, pos);
  CHECK(tl__cuda_graph_end(cu, &gj.g));
  float ms_graph = median_ms(run_graph_steps, &gj, 7) / gj.n;
  tl__cuda_graph_free(gj.g);
  const double gb = (double)md->weight_bytes / 1e9;
  const size_t kv_bytes = (size_t)md->n_layer * ctx * md->kv[0].row * 2 * 2;
  printf("| 8B-Q4_K decode step, context %5u | %7.3f | %7.1f | %7.3f | %7.1f | %6.0f | %4.2f |\n", ctx,
         ms_stream, 1e3 / ms_stream, ms_graph, 1e3 / ms_graph,
         (gb + kv_bytes / 1e9) / (ms_graph * 1e-3), (gb + kv_bytes / 1e9) / (ms_graph * 1e-3) / copy_gbs);
}

int main(int argc, char **argv)
{
  const bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (tl__cuda_device_count() == 0) {
    printf("bench-cuda: no CUDA device\n");
    return 0;
  }
  tl_error err = {0};
  if (tl__cuda_create(0, (size_t)256 << 20, &cu, &err) != TL_OK) {
    fprintf(stderr, "bench-cuda: %s\n", err.message);
    return 1;
  }
  printf("device: %s, %d multiprocessors\n\n", tl__cuda_device_name(cu), tl__cuda_sm_count(cu));

  const double copy = copy_bandwidth();
  printf("device-to-device copy (1 GiB, bytes read + written): %.0f GB/s\n\n", copy);

  const tl_qtype types[] = {TL_QTYPE_Q4_K, TL_QTYPE_Q5_K, TL_QTYPE_Q6_K, TL_QTYPE_Q8_0,
                            TL_QTYPE_Q4_0, TL_QTYPE_F16, TL_QTYPE_BF16};
  const int64_t shapes[][2] = {{2048, 2048}, {512, 2048},  {8192, 2048},  {2048, 8192},
                               {4096, 4096}, {1024, 4096}, {14336, 4096}, {4096, 14336},
                               {128256, 2048}, {128256, 4096}};
  const int n_shapes = quick ? 3 : 10, n_types = quick ? 2 : 7;
  printf("decode matvec, m = 1: GB/s of weight read (fraction of the copy bandwidth), us per product\n\n");
  printf("| rows x cols |");
  for (int t = 0; t < n_types; t++)
    printf(" %s |", tl__qtype_traits_get(types[t])->name);
  printf("\n|---|");
  for (int t = 0; t < n_types; t++)
    printf("---|");
  printf("\n");
  for (int s = 0; s < n_shapes; s++) {
    printf("| %lld x %lld |", (long long)shapes[s][0], (long long)shapes[s][1]);
    for (int t = 0; t < n_types; t++) {
      double us;
      double gbs = matvec_gbs(types[t], shapes[s][0], shapes[s][1], 1, &us);
      printf(" %.0f (%.2f) %.1f us |", gbs, gbs / copy, us);
      fflush(stdout);
    }
    printf("\n");
  }
  printf("\nbatched matvec, Q4_K, 8B shapes: GB/s of weight read (us per product)\n\n");
  printf("| rows x cols | m=1 | m=2 | m=4 | m=8 |\n|---|---|---|---|---|\n");
  for (int s = 4; s < (quick ? 5 : 8); s++) {
    printf("| %lld x %lld |", (long long)shapes[s][0], (long long)shapes[s][1]);
    const uint32_t ms[] = {1, 2, 4, 8};
    for (int i = 0; i < 4; i++) {
      double us;
      double gbs = matvec_gbs(TL_QTYPE_Q4_K, shapes[s][0], shapes[s][1], ms[i], &us);
      printf(" %.0f (%.1f us) |", gbs, us);
    }
    printf("\n");
    fflush(stdout);
  }

  printf("\nprefill matmul, m = 512 (F16 tiles + cuBLAS): TFLOP/s (ms)\n\n| rows x cols | q4_K | q8_0 | f16 |\n|---|---|---|---|\n");
  for (int s = 4; s < 8; s++) {
    printf("| %lld x %lld |", (long long)shapes[s][0], (long long)shapes[s][1]);
    const tl_qtype mt[] = {TL_QTYPE_Q4_K, TL_QTYPE_Q8_0, TL_QTYPE_F16};
    for (int i = 0; i < 3; i++) {
      double ms;
      double tf = matmul_tflops(mt[i], shapes[s][0], shapes[s][1], 512, &ms);
      printf(" %.0f (%.3f) |", tf, ms);
    }
    printf("\n");
    fflush(stdout);
  }

  printf("\nwhole decode step, 8B shape (32 layers, Q4_K, output Q6_K), greedy token on the device\n\n");
  model md;
  const uint32_t ctxs[] = {256, 1024, 4096};
  model_init(&md, 4096);
  printf("weights read per token: %.3f GB\n\n", md.weight_bytes / 1e9);
  printf("| step | stream ms | stream tok/s | graph ms | graph tok/s | GB/s (weights+KV) | of copy |\n|---|---|---|---|---|---|---|\n");
  for (int i = 0; i < (quick ? 1 : 3); i++)
    bench_decode(&md, ctxs[i], copy);
  model_free(&md);
  tl__cuda_free(cu);
  return 0;
}
#endif
