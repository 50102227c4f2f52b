/* Kernel benchmark: memory read bandwidth, matrix-vector throughput (decode)
 * per weight type as GB/s of weights streamed and as a fraction of the
 * bandwidth measured in the same run, and matrix-matrix GFLOP/s (prefill,
 * M = 128). Weight sets are larger than the last-level cache and rotated, so
 * every matvec reads its weights from memory. Prints a Markdown table.
 *
 *   bench-kernels [--reps R] [--threads 1,2] [--set-mib 384] [--types q4_K,q8_0]
 *                 [--no-gemm] [--cpu-time] [--shape NxK]
 * The kernels are the best this CPU has, or TAILOR_CPU_ISA=scalar|avx2|avx512|amx. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/cpu/kernels.h"

/* --cpu-time: measure process CPU time instead of wall time, to see what a
 * kernel does per CPU second on a loaded machine (meaningful for 1 thread). */
static clockid_t bench_clock = CLOCK_MONOTONIC;

static double now(void)
{
  struct timespec ts;
  clock_gettime(bench_clock, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

typedef struct stat3 {
  double med, lo, hi;
} stat3;

static stat3 stats(double *v, int n)
{
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  stat3 s = {n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]), v[0], v[n - 1]};
  return s;
}

/* ---- memory read bandwidth ---- */

typedef struct read_ctx {
  const char *buf;
  size_t bytes;
  uint64_t sink[64];
} read_ctx;

__attribute__((target("avx2"))) static uint64_t read_range(const char *p, size_t n)
{
  typedef long long v4 __attribute__((vector_size(32)));
  v4 a = {0}, b = {0}, c = {0}, d = {0};
  for (size_t i = 0; i + 128 <= n; i += 128) {
    a ^= *(const v4 *)(p + i);
    b ^= *(const v4 *)(p + i + 32);
    c ^= *(const v4 *)(p + i + 64);
    d ^= *(const v4 *)(p + i + 96);
  }
  a ^= b ^ c ^ d;
  return (uint64_t)(a[0] ^ a[1] ^ a[2] ^ a[3]);
}

static void read_task(void *p, int ith, int nth)
{
  read_ctx *c = p;
  size_t per = c->bytes / (size_t)nth / 4096 * 4096;
  c->sink[ith * 8] = read_range(c->buf + per * (size_t)ith, per);
}

static double bandwidth(tl__threadpool *tp, const char *buf, size_t bytes)
{
  read_ctx c = {.buf = buf, .bytes = bytes};
  tl__threadpool_run(tp, read_task, &c); /* warm-up */
  double best = 0;
  for (int r = 0; r < 3; r++) {
    double t0 = now();
    tl__threadpool_run(tp, read_task, &c);
    double gbs = (double)bytes / (now() - t0) / 1e9;
    best = gbs > best ? gbs : best;
  }
  return best;
}

/* ---- thread pool round trip ---- */

static void empty_task(void *p, int ith, int nth)
{
  (void)p, (void)ith, (void)nth;
}

/* Microseconds per tl__threadpool_run of an empty task, back to back (the
 * case of a decode step's many small ops). */
static double pool_roundtrip_us(tl__threadpool *tp)
{
  const int n = 20000;
  for (int i = 0; i < 1000; i++)
    tl__threadpool_run(tp, empty_task, NULL);
  double t0 = now();
  for (int i = 0; i < n; i++)
    tl__threadpool_run(tp, empty_task, NULL);
  return (now() - t0) / n * 1e6;
}

/* ---- matvec over a rotating set of matrices ---- */

typedef struct wset {
  tl_qtype t;
  int64_t n, k;
  size_t mat_bytes;
  int count;
  char *mem;
} wset;

static void wset_make(wset *s, tl_qtype t, int64_t n, int64_t k, size_t set_bytes)
{
  s->t = t;
  s->n = n;
  s->k = k;
  s->mat_bytes = tl__row_bytes(t, k) * (size_t)n;
  s->count = (int)((set_bytes + s->mat_bytes - 1) / s->mat_bytes);
  if (s->count < 2)
    s->count = 2;
  s->mem = aligned_alloc(64, s->mat_bytes * (size_t)s->count);
  /* one matrix of quantized random rows (a few distinct rows repeated:
   * the reference K-quant search is slow), copied to the others */
  float *row = malloc((size_t)k * sizeof *row);
  const size_t rb = tl__row_bytes(t, k);
  uint64_t st = 12345;
  for (int64_t j = 0; j < n; j++) {
    if (j < 8) {
      for (int64_t i = 0; i < k; i++) {
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        row[i] = (float)((double)(st >> 11) / 9007199254740992.0 - 0.5);
      }
      tl__quantize_row(t, row, s->mem + (size_t)j * rb, k);
    } else {
      memcpy(s->mem + (size_t)j * rb, s->mem + (size_t)(j % 8) * rb, rb);
    }
  }
  for (int c = 1; c < s->count; c++)
    memcpy(s->mem + (size_t)c * s->mat_bytes, s->mem, s->mat_bytes);
  free(row);
}

static double matvec_gbs(const wset *s, tl__threadpool *tp, const float *x, float *y, void *scratch,
                         size_t scratch_bytes, double min_seconds)
{
  tl__matmul_args a = {.wtype = s->t, .w_stride = tl__row_bytes(s->t, s->k), .n = s->n, .k = s->k, .m = 1,
                       .x = x, .x_stride = (size_t)s->k, .y = y, .y_stride = (size_t)s->n,
                       .scratch = scratch, .scratch_bytes = scratch_bytes};
  for (int c = 0; c < s->count; c++) { /* warm-up pass */
    a.w = s->mem + (size_t)c * s->mat_bytes;
    tl__cpu_matmul(&a, tp);
  }
  long calls = 0;
  double t0 = now(), t;
  do {
    for (int c = 0; c < s->count; c++, calls++) {
      a.w = s->mem + (size_t)c * s->mat_bytes;
      tl__cpu_matmul(&a, tp);
    }
    t = now() - t0;
  } while (t < min_seconds);
  return (double)calls * (double)s->mat_bytes / t / 1e9;
}

static double gemm_gflops(const wset *s, tl__threadpool *tp, int64_t m, const float *x, float *y, void *scratch,
                          size_t scratch_bytes, double min_seconds)
{
  tl__matmul_args a = {.wtype = s->t, .w = s->mem, .w_stride = tl__row_bytes(s->t, s->k), .n = s->n,
                       .k = s->k, .m = m, .x = x, .x_stride = (size_t)s->k, .y = y, .y_stride = (size_t)s->n,
                       .scratch = scratch, .scratch_bytes = scratch_bytes};
  tl__cpu_matmul(&a, tp);
  long calls = 0;
  double t0 = now(), t;
  do {
    a.w = s->mem + (size_t)(calls % s->count) * s->mat_bytes;
    tl__cpu_matmul(&a, tp);
    calls++;
    t = now() - t0;
  } while (t < min_seconds);
  return 2.0 * (double)m * (double)s->n * (double)s->k * (double)calls / t / 1e9;
}

int main(int argc, char **argv)
{
  int reps = 5, no_gemm = 0;
  int64_t shape_n = 0, shape_k = 0;
  int threads[4] = {1, 2}, n_threads = 2;
  size_t set_mib = 384;
  const char *types_arg = "f32,f16,bf16,q8_0,q4_0,q4_K,q5_K,q6_K";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--reps") && i + 1 < argc)
      reps = (int)strtol(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--set-mib") && i + 1 < argc)
      set_mib = (size_t)strtoul(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--types") && i + 1 < argc)
      types_arg = argv[++i];
    else if (!strcmp(argv[i], "--no-gemm"))
      no_gemm = 1;
    else if (!strcmp(argv[i], "--shape") && i + 1 < argc) { /* NxK for both rows of the table, e.g. in-cache */
      char *e;
      shape_n = strtoll(argv[++i], &e, 10);
      shape_k = *e == 'x' ? strtoll(e + 1, NULL, 10) : 0;
      if (shape_n <= 0 || shape_k <= 0 || shape_k % 256 != 0 || shape_k > 8192 || shape_n > 8192) {
        fprintf(stderr, "--shape NxK: N <= 8192, K a multiple of 256 up to 8192\n");
        return 2;
      }
    } else if (!strcmp(argv[i], "--cpu-time"))
      bench_clock = CLOCK_PROCESS_CPUTIME_ID;
    else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
      n_threads = 0;
      for (char *p = argv[++i]; *p && n_threads < 4;) {
        threads[n_threads++] = (int)strtol(p, &p, 10);
        if (*p == ',')
          p++;
      }
    } else {
      fprintf(stderr, "usage: %s [--reps R] [--threads 1,2] [--set-mib MiB] [--types a,b] [--no-gemm]\n", argv[0]);
      return 2;
    }
  }
  if (reps < 1 || reps > 100)
    reps = 5;
  static const tl_qtype all[] = {TL_QTYPE_F32, TL_QTYPE_F16, TL_QTYPE_BF16, TL_QTYPE_Q8_0,
                                 TL_QTYPE_Q4_0, TL_QTYPE_Q4_K, TL_QTYPE_Q5_K, TL_QTYPE_Q6_K};
  tl_qtype types[8];
  int n_types = 0;
  for (size_t i = 0; i < 8; i++) {
    const char *name = tl__qtype_traits_get(all[i])->name;
    const char *p = strstr(types_arg, name);
    if (p && (p == types_arg || p[-1] == ',') && (p[strlen(name)] == ',' || p[strlen(name)] == 0))
      types[n_types++] = all[i];
  }
  printf("kernels: %s; reps %d; weight set per shape >= %zu MiB (rotated); %s time\n", tl__cpu_kernels_get()->name,
         reps, set_mib, bench_clock == CLOCK_MONOTONIC ? "wall" : "CPU");

  const size_t bw_bytes = (size_t)1 << 30;
  char *bw_buf = aligned_alloc(4096, bw_bytes);
  memset(bw_buf, 1, bw_bytes);
  tl__threadpool *pools[4] = {0};
  for (int t = 0; t < n_threads; t++)
    if (tl__threadpool_create(threads[t], false, &pools[t], NULL) != TL_OK)
      return 1;

  int64_t shapes[2][2] = {{2048, 8192}, {8192, 2048}}; /* n (rows), k */
  if (shape_n > 0)
    shapes[0][0] = shapes[1][0] = shape_n, shapes[0][1] = shapes[1][1] = shape_k;
  const int64_t kmax = 8192, nmax = 8192, mg = 128;
  float *x = malloc((size_t)(mg * kmax) * sizeof *x), *y = malloc((size_t)(mg * nmax) * sizeof *y);
  for (int64_t i = 0; i < mg * kmax; i++)
    x[i] = (float)((i * 7919) % 2001 - 1000) / 1000.0f;
  size_t scratch_bytes = tl__cpu_matmul_scratch_bytes(TL_QTYPE_F32, mg, kmax);
  for (int i = 0; i < n_types; i++) {
    size_t b = tl__cpu_matmul_scratch_bytes(types[i], mg, kmax);
    scratch_bytes = b > scratch_bytes ? b : scratch_bytes;
  }
  void *scratch = aligned_alloc(64, scratch_bytes + 64);

  /* bandwidth per thread count, measured once per repetition next to the kernels */
  double *bw = calloc((size_t)(n_threads * reps), sizeof *bw);
  double *res = calloc((size_t)(n_types * 2 * n_threads * reps), sizeof *res);
  double *gf = calloc((size_t)(n_types * n_threads * reps), sizeof *gf);
  for (int ti = 0; ti < n_types; ti++) {
    for (int sh = 0; sh < 2; sh++) {
      wset s;
      wset_make(&s, types[ti], shapes[sh][0], shapes[sh][1], set_mib << 20);
      for (int r = 0; r < reps; r++) {
        for (int t = 0; t < n_threads; t++) {
          if (ti == 0 && sh == 0)
            bw[t * reps + r] = bandwidth(pools[t], bw_buf, bw_bytes);
          res[((ti * 2 + sh) * n_threads + t) * reps + r] =
              matvec_gbs(&s, pools[t], x, y, scratch, scratch_bytes, 0.4);
          if (sh == 1 && !no_gemm) /* prefill: 128 rows x (8192 x 2048) */
            gf[(ti * n_threads + t) * reps + r] = gemm_gflops(&s, pools[t], mg, x, y, scratch, scratch_bytes, 0.5);
        }
      }
      free(s.mem);
    }
  }

  printf("\n| threads | read bandwidth GB/s | empty pool run us |\n|---|---|---|\n");
  stat3 bws[4];
  for (int t = 0; t < n_threads; t++) {
    bws[t] = stats(bw + t * reps, reps);
    printf("| %d | %.1f [%.1f-%.1f] | %.2f |\n", threads[t], bws[t].med, bws[t].lo, bws[t].hi,
           pool_roundtrip_us(pools[t]));
  }
  printf("\n| type | shape (rows x k) | threads | matvec GB/s | of bandwidth |%s\n|---|---|---|---|---|%s\n",
         no_gemm ? "" : " GEMM M=128 GFLOP/s |", no_gemm ? "" : "---|");
  for (int ti = 0; ti < n_types; ti++)
    for (int sh = 0; sh < 2; sh++)
      for (int t = 0; t < n_threads; t++) {
        stat3 m = stats(res + ((ti * 2 + sh) * n_threads + t) * reps, reps);
        printf("| %s | %lldx%lld | %d | %.1f [%.1f-%.1f] | %.2f |", tl__qtype_traits_get(types[ti])->name,
               (long long)shapes[sh][0], (long long)shapes[sh][1], threads[t], m.med, m.lo, m.hi,
               m.med / bws[t].med);
        if (!no_gemm) {
          if (sh == 1) {
            stat3 g = stats(gf + (ti * n_threads + t) * reps, reps);
            printf(" %.1f [%.1f-%.1f] |", g.med, g.lo, g.hi);
          } else {
            printf(" |");
          }
        }
        printf("\n");
      }
  for (int t = 0; t < n_threads; t++)
    tl__threadpool_free(pools[t]);
  free(bw_buf), free(x), free(y), free(scratch), free(bw), free(res), free(gf);
  return 0;
}
