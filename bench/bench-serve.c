/* Aggregate decode throughput of `tailor serve` at several concurrent
 * streams: an in-process server (public API) on an ephemeral port, N client
 * threads each streaming one completion of T tokens over HTTP, a fresh
 * server per run. Reports, per N: the completion tokens of all streams over
 * the wall time of the run, and the server's own decode rate (tokens per
 * second of engine steps that only decoded, from /metrics); medians and
 * ranges over the repetitions, and the ratio to one stream.
 *
 * With --engine, the same without HTTP (for models without a tokenizer, such
 * as bench/make-bench-model's): N sequences prefilled with 16 tokens, then
 * TOKENS decode steps of tl_engine_batch_eval with one token of each, as the
 * server's engine thread runs them.
 *
 *   bench-serve MODEL.gguf [--engine] [-t THREADS] [-n TOKENS] [-r REPS] [-s 1,4,16] */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tailor/server.h"

static double now_s(void);

static int argmax(const float *l, uint32_t n)
{
  int b = 0;
  for (uint32_t i = 1; i < n; i++)
    if (l[i] > l[b])
      b = (int)i;
  return b;
}

/* Decode tok/s of n sequences stepping together (one batch per step). */
static double engine_run(tl_engine *e, int n, int tokens)
{
  uint32_t nv = tl_engine_hparams(e)->n_vocab;
  tl_engine_batch_entry en[16 * 64];
  tl_engine_batch b = {en, 0};
  tl_error err;
  for (int s = 0; s < 64; s++)
    tl_engine_seq_remove(e, s);
  for (int s = 0; s < n; s++)
    for (uint32_t i = 0; i < 16; i++)
      en[b.n++] = (tl_engine_batch_entry){(int32_t)(1 + (i * 7 + (uint32_t)s * 13) % (nv - 1)),
                                          s, i, i == 15};
  if (tl_engine_batch_eval(e, &b, &err)) {
    fprintf(stderr, "bench-serve: %s\n", err.message);
    exit(1);
  }
  int last[64];
  for (int s = 0; s < n; s++)
    last[s] = argmax(tl_engine_batch_logits(e, (uint32_t)(s * 16 + 15)), nv);
  double t0 = now_s();
  for (int t = 0; t < tokens; t++) {
    b.n = 0;
    for (int s = 0; s < n; s++)
      en[b.n++] = (tl_engine_batch_entry){last[s], s, 16 + (uint32_t)t, true};
    if (tl_engine_batch_eval(e, &b, &err)) {
      fprintf(stderr, "bench-serve: %s\n", err.message);
      exit(1);
    }
    for (int s = 0; s < n; s++)
      last[s] = argmax(tl_engine_batch_logits(e, (uint32_t)s), nv);
  }
  return (double)n * tokens / (now_s() - t0);
}

typedef struct buf {
  char *p;
  size_t n;
} buf;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
  buf *b = ud;
  char *q = realloc(b->p, b->n + sz * n + 1);
  if (!q)
    return 0;
  memcpy(q + b->n, p, sz * n);
  b->p = q;
  b->n += sz * n;
  b->p[b->n] = '\0';
  return sz * n;
}

static char *get(unsigned port, const char *path, const char *body)
{
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
  buf b = {calloc(1, 1), 0};
  CURL *c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  if (body)
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
  curl_easy_perform(c);
  curl_easy_cleanup(c);
  return b.p;
}

typedef struct client {
  unsigned port;
  int id, tokens;
  long completion; /* tokens the server reported */
} client;

static void *run_client(void *arg)
{
  client *c = arg;
  char body[256];
  snprintf(body, sizeof body, "{\"prompt\": \"Stream %d: once upon a time\", \"max_tokens\": %d, "
           "\"temperature\": 0, \"stream\": true, \"stream_options\": {\"include_usage\": true}}",
           c->id, c->tokens);
  char *out = get(c->port, "/v1/completions", body);
  const char *u = out ? strstr(out, "\"completion_tokens\":") : NULL;
  c->completion = u ? atol(u + 20) : 0;
  free(out);
  return NULL;
}

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
  const char *model = NULL;
  bool engine = false;
  int threads = 2, tokens = 32, reps = 3, streams[8] = {1, 4, 16}, n_streams = 3;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--engine"))
      engine = true;
    else if (!strcmp(argv[i], "-t") && i + 1 < argc)
      threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "-n") && i + 1 < argc)
      tokens = atoi(argv[++i]);
    else if (!strcmp(argv[i], "-r") && i + 1 < argc)
      reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "-s") && i + 1 < argc) {
      n_streams = 0;
      for (char *p = argv[++i]; *p && n_streams < 8; p++) {
        streams[n_streams++] = (int)strtol(p, &p, 10);
        if (!*p)
          break;
      }
    } else
      model = argv[i];
  }
  if (!model || reps < 1 || reps > 32 || tokens < 2) {
    fprintf(stderr, "usage: bench-serve MODEL.gguf [-t THREADS] [-n TOKENS] [-r REPS] [-s 1,4,16]\n");
    return 2;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  int max_n = 1;
  for (int k = 0; k < n_streams; k++)
    max_n = streams[k] > max_n ? streams[k] : max_n;
  if (max_n > 64) {
    fprintf(stderr, "bench-serve: at most 64 streams\n");
    return 2;
  }
  printf("model %s, %d threads, %d tokens per stream, %d runs each%s\n", model, threads, tokens,
         reps, engine ? ", engine only (no HTTP)" : "");
  if (engine) {
    tl_engine_params ep;
    tl_engine_params_init(&ep);
    ep.n_threads = (uint32_t)threads;
    ep.n_ctx = (uint32_t)(16 + tokens) > 256 ? (uint32_t)(16 + tokens) : 256;
    ep.n_seq_max = (uint32_t)max_n;
    tl_engine *e = NULL;
    tl_error err;
    if (tl_engine_load(model, &ep, &e, &err)) {
      fprintf(stderr, "bench-serve: %s\n", err.message);
      return 1;
    }
    printf("%8s %26s %8s\n", "streams", "decode tok/s med [range]", "ratio");
    double base = 0;
    for (int k = 0; k < n_streams; k++) {
      double v[32];
      for (int r = 0; r < reps; r++)
        v[r] = engine_run(e, streams[k], tokens);
      qsort(v, (size_t)reps, sizeof *v, cmp);
      if (k == 0)
        base = v[reps / 2];
      printf("%8d %8.1f [%6.1f - %6.1f] %7.2fx\n", streams[k], v[reps / 2], v[0], v[reps - 1],
             base > 0 ? v[reps / 2] / base : 0);
      fflush(stdout);
    }
    tl_engine_free(e);
    return 0;
  }
  printf("%8s %22s %22s %8s\n", "streams", "wall tok/s med [range]", "decode tok/s med [range]",
         "ratio");
  double base = 0;
  for (int k = 0; k < n_streams; k++) {
    int n = streams[k];
    double wall[32], dec[32];
    for (int r = 0; r < reps; r++) {
      tl_server_params p;
      tl_server_params_init(&p);
      p.port = 0;
      p.queue_max = (uint32_t)max_n;
      p.engine.n_threads = (uint32_t)threads;
      p.engine.n_ctx = 256;
      p.engine.n_seq_max = (uint32_t)max_n;
      tl_server *s = NULL;
      tl_error err;
      if (tl_server_create(&p, &s, &err) || tl_server_start(s, &err) ||
          tl_server_model_load(s, "m", model, &err)) {
        fprintf(stderr, "bench-serve: %s\n", err.message);
        return 1;
      }
      tl_server_set_ready(s);
      unsigned port = tl_server_port(s);
      client cs[64];
      pthread_t th[64];
      double t0 = now_s();
      for (int i = 0; i < n && i < 64; i++) {
        cs[i] = (client){port, i, tokens, 0};
        pthread_create(&th[i], NULL, run_client, &cs[i]);
      }
      long total = 0;
      for (int i = 0; i < n && i < 64; i++) {
        pthread_join(th[i], NULL);
        total += cs[i].completion;
      }
      double dt = now_s() - t0;
      char *m = get(port, "/metrics", NULL);
      const char *d = m ? strstr(m, "\ntailor_decode_tokens_per_second ") : NULL;
      dec[r] = d ? atof(d + 33) : 0;
      free(m);
      wall[r] = total / dt;
      tl_server_free(s);
    }
    qsort(wall, (size_t)reps, sizeof *wall, cmp);
    qsort(dec, (size_t)reps, sizeof *dec, cmp);
    double wm = wall[reps / 2], dm = dec[reps / 2];
    if (k == 0)
      base = dm;
    printf("%8d %8.1f [%5.1f-%5.1f] %8.1f [%5.1f-%5.1f] %7.2fx\n", n, wm, wall[0],
           wall[reps - 1], dm, dec[0], dec[reps - 1], base > 0 ? dm / base : 0);
    fflush(stdout);
  }
  curl_global_cleanup();
  return 0;
}
