/* Engine speed on one model, measured the way llama-bench measures: prefill
 * of P prompt tokens in one batch (pp), and decode of N tokens one at a time
 * from an empty cache (tg); repeated R times, median and range reported.
 * The memory read bandwidth is measured in the same run (a multi-threaded
 * read of a 1 GiB buffer), so decode can be stated as a fraction of the
 * bandwidth limit: decode tok/s x weight bytes read per token / bandwidth.
 * Optionally compares with a reference figure (llama.cpp, bench/README.md).
 *
 *   bench-engine MODEL.gguf [-t THREADS] [-p 128] [-n 32] [-r 5]
 *                [--ref-pp TOKS] [--ref-tg TOKS] [--json]
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <time.h>

#include "tailor/engine.h"
#include "tailor/gguf.h"
#include "tailor/quant.h"

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ---- memory bandwidth: each thread sums its slice of a large buffer ---- */

typedef struct bw_job {
  const uint64_t *p;
  size_t n;
  uint64_t sum;
} bw_job;

static void *bw_thread(void *arg)
{
  bw_job *j = arg;
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (size_t i = 0; i + 4 <= j->n; i += 4) {
    s0 += j->p[i];
    s1 += j->p[i + 1];
    s2 += j->p[i + 2];
    s3 += j->p[i + 3];
  }
  j->sum = s0 + s1 + s2 + s3;
  return NULL;
}

/* Bytes/s reading 1 GiB with n threads; median of 5 passes. */
static double measure_bandwidth(int n_threads)
{
  size_t bytes = 1ull << 30, words = bytes / 8;
  uint64_t *buf = malloc(bytes);
  if (!buf)
    return 0;
  for (size_t i = 0; i < words; i++)
    buf[i] = i * 0x9E3779B97F4A7C15ull;
  double r[5];
  volatile uint64_t sink = 0;
  for (int pass = 0; pass < 5; pass++) {
    pthread_t th[64];
    bw_job jobs[64];
    size_t per = words / (size_t)n_threads;
    double t0 = now();
    for (int t = 0; t < n_threads; t++) {
      jobs[t] = (bw_job){buf + per * (size_t)t, per, 0};
      pthread_create(&th[t], NULL, bw_thread, &jobs[t]);
    }
    for (int t = 0; t < n_threads; t++) {
      pthread_join(th[t], NULL);
      sink += jobs[t].sum;
    }
    r[pass] = (double)(per * (size_t)n_threads * 8) / (now() - t0);
  }
  (void)sink;
  free(buf);
  return median(r, 5);
}

/* Weight bytes one decoded token reads: every tensor, except that an untied
 * token_embd contributes one row (a tied one is read whole as the output). */
static uint64_t weight_read_bytes(const char *path)
{
  tl_gguf *g = NULL;
  if (tl_gguf_open(path, &g, NULL))
    return 0;
  bool tied = tl_gguf_find_tensor(g, "output.weight") < 0;
  uint64_t total = 0;
  for (size_t i = 0; i < tl_gguf_n_tensors(g); i++) {
    const tl_gguf_tensor *t = tl_gguf_tensor_at(g, i);
    if (!strcmp(t->name, "token_embd.weight") && !tied)
      total += tl_qtype_row_bytes(t->type, t->ne[0]);
    else
      total += t->bytes;
  }
  tl_gguf_close(g);
  return total;
}

static uint64_t file_bytes(const char *path)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    return 0;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fclose(f);
  return n > 0 ? (uint64_t)n : 0;
}

int main(int argc, char **argv)
{
  const char *path = NULL;
  int threads = 2, n_prompt = 128, n_gen = 32, reps = 5;
  double ref_pp = 0, ref_tg = 0;
  bool json = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-t") && i + 1 < argc)
      threads = atoi(argv[++i]);
    else if (!strcmp(a, "-p") && i + 1 < argc)
      n_prompt = atoi(argv[++i]);
    else if (!strcmp(a, "-n") && i + 1 < argc)
      n_gen = atoi(argv[++i]);
    else if (!strcmp(a, "-r") && i + 1 < argc)
      reps = atoi(argv[++i]);
    else if (!strcmp(a, "--ref-pp") && i + 1 < argc)
      ref_pp = atof(argv[++i]);
    else if (!strcmp(a, "--ref-tg") && i + 1 < argc)
      ref_tg = atof(argv[++i]);
    else if (!strcmp(a, "--json"))
      json = true;
    else if (a[0] != '-' && !path)
      path = a;
    else {
      fprintf(stderr, "usage: bench-engine MODEL.gguf [-t N] [-p N] [-n N] [-r N] [--ref-pp X] "
                      "[--ref-tg X] [--json]\n");
      return 2;
    }
  }
  if (!path || threads < 1 || threads > 64 || n_prompt < 1 || n_gen < 1 || reps < 1 || reps > 50) {
    fprintf(stderr, "bench-engine: bad arguments (need a model; 1-64 threads; 1-50 repetitions)\n");
    return 2;
  }

  /* in a child process, so this process's peak RSS is the engine's own */
  double bw = 0;
  int fds[2];
  if (pipe(fds) == 0) {
    pid_t pid = fork();
    if (pid == 0) {
      double b = measure_bandwidth(threads);
      ssize_t w = write(fds[1], &b, sizeof b);
      _exit(w == (ssize_t)sizeof b ? 0 : 1);
    }
    if (pid > 0) {
      if (read(fds[0], &bw, sizeof bw) != (ssize_t)sizeof bw)
        bw = 0;
      waitpid(pid, NULL, 0);
    }
    close(fds[0]);
    close(fds[1]);
  }

  tl_engine_params p;
  tl_engine_params_init(&p);
  p.n_threads = (uint32_t)threads;
  p.n_ctx = (uint32_t)(n_prompt > n_gen ? n_prompt : n_gen) + 16;
  p.n_batch = (uint32_t)n_prompt;
  p.n_ubatch = (uint32_t)n_prompt;
  tl_engine *e = NULL;
  tl_error err;
  double t_load = now();
  if (tl_engine_load(path, &p, &e, &err)) {
    fprintf(stderr, "bench-engine: %s\n", err.message);
    return 1;
  }
  t_load = now() - t_load;
  uint32_t n_vocab = tl_engine_hparams(e)->n_vocab;
  int32_t *toks = malloc(sizeof *toks * (size_t)(n_prompt > n_gen ? n_prompt : n_gen));
  uint64_t x = 12345;
  for (int i = 0; i < (n_prompt > n_gen ? n_prompt : n_gen); i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    toks[i] = (int32_t)((x >> 33) % n_vocab);
  }

  /* warm-up: one short prefill and a few decode steps */
  tl_engine_kv_truncate(e, 0);
  if (tl_engine_eval(e, toks, (uint32_t)(n_prompt < 16 ? n_prompt : 16), &err)) {
    fprintf(stderr, "bench-engine: %s\n", err.message);
    return 1;
  }
  for (int i = 0; i < 4; i++)
    tl_engine_eval(e, &toks[i], 1, &err);

  double *pp = calloc((size_t)reps, sizeof *pp), *tg = calloc((size_t)reps, sizeof *tg);
  for (int r = 0; r < reps; r++) {
    /* interleave pp and tg like repeated llama-bench runs */
    tl_engine_kv_truncate(e, 0);
    double t0 = now();
    if (tl_engine_eval(e, toks, (uint32_t)n_prompt, &err)) {
      fprintf(stderr, "bench-engine: %s\n", err.message);
      return 1;
    }
    pp[r] = n_prompt / (now() - t0);
    tl_engine_kv_truncate(e, 0);
    t0 = now();
    for (int i = 0; i < n_gen; i++) {
      if (tl_engine_eval(e, &toks[i], 1, &err)) {
        fprintf(stderr, "bench-engine: %s\n", err.message);
        return 1;
      }
    }
    tg[r] = n_gen / (now() - t0);
  }
  double pp_lo = pp[0], pp_hi = pp[0], tg_lo = tg[0], tg_hi = tg[0];
  for (int r = 1; r < reps; r++) {
    pp_lo = fmin(pp_lo, pp[r]);
    pp_hi = fmax(pp_hi, pp[r]);
    tg_lo = fmin(tg_lo, tg[r]);
    tg_hi = fmax(tg_hi, tg[r]);
  }
  double pp_med = median(pp, reps), tg_med = median(tg, reps);
  uint64_t rb = weight_read_bytes(path);
  double limit = rb ? bw / (double)rb : 0; /* tok/s if decode only streamed the weights */
  tl_engine_mem mem;
  tl_engine_memory(e, &mem);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double rss = (double)ru.ru_maxrss * 1024.0;
  uint64_t fb = file_bytes(path);

  if (json) {
    printf("{\"model\": \"%s\", \"threads\": %d, \"bandwidth_gbs\": %.2f, \"pp\": %d, \"tg\": %d, "
           "\"pp_tps\": %.2f, \"pp_min\": %.2f, \"pp_max\": %.2f, \"tg_tps\": %.2f, \"tg_min\": "
           "%.2f, \"tg_max\": %.2f, \"weight_read_bytes\": %llu, \"decode_bw_fraction\": %.3f, "
           "\"ref_pp\": %.2f, \"ref_tg\": %.2f, \"load_s\": %.3f, \"mem_weights\": %llu, "
           "\"mem_kv\": %llu, \"mem_compute\": %llu, \"mem_overhead\": %llu, \"peak_rss\": %.0f, "
           "\"file_bytes\": %llu}\n",
           path, threads, bw / 1e9, n_prompt, n_gen, pp_med, pp_lo, pp_hi, tg_med, tg_lo, tg_hi,
           (unsigned long long)rb, limit > 0 ? tg_med / limit : 0, ref_pp, ref_tg, t_load,
           (unsigned long long)mem.weights, (unsigned long long)mem.kv_cache,
           (unsigned long long)mem.compute, (unsigned long long)mem.overhead, rss, 
           (unsigned long long)fb);
  } else {
    printf("model         %s\n", path);
    printf("threads       %d\n", threads);
    printf("bandwidth     %.1f GB/s (measured in this run, %d threads)\n", bw / 1e9, threads);
    printf("prefill pp%-3d %.1f tok/s [%.1f-%.1f]", n_prompt, pp_med, pp_lo, pp_hi);
    if (ref_pp > 0)
      printf("  = %.2fx reference %.1f", pp_med / ref_pp, ref_pp);
    printf("\ndecode  tg%-3d %.2f tok/s [%.2f-%.2f]", n_gen, tg_med, tg_lo, tg_hi);
    if (ref_tg > 0)
      printf("  = %.2fx reference %.1f", tg_med / ref_tg, ref_tg);
    printf("\n");
    printf("decode / bandwidth limit  %.2f (%.1f MB read per token, limit %.1f tok/s)\n",
           limit > 0 ? tg_med / limit : 0, rb / 1e6, limit);
    printf("memory        weights %.1f MiB, KV %.1f MiB, compute %.1f MiB, overhead %.1f MiB; "
           "peak RSS %.1f MiB (file %.1f MiB)\n",
           mem.weights / 1048576.0, mem.kv_cache / 1048576.0, mem.compute / 1048576.0,
           mem.overhead / 1048576.0, rss / 1048576.0, fb / 1048576.0);
  }
  free(pp);
  free(tg);
  free(toks);
  tl_engine_free(e);
  return 0;
}
