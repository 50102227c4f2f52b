/* Tests of the inference engine: reference logits and greedy token paths of
 * the fixture cases in tests/data/engine/<case>/case.txt and of the Hugging
 * Face reference models tests/data/engine/<name>/config.json (a new
 * reference model is a new directory, see tests/data/engine/README.md), agreement
 * between thread counts, between prefill batches and token-by-token
 * evaluation, the q8_0 KV cache, memory accounting, the no-allocation
 * guarantee of evaluation, and load errors. */
#include "harness.h"

#include <jansson.h>

#include <dirent.h>
#include <unistd.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cpu/kernels.h"
#include "tailor/convert.h"
#include "tailor/quant.h"
#include "tailor/tailor.h"
#include "tailor/tokenizer.h"

/* ---- fixture cases ---- */

typedef struct fixture {
  char dir[512];
  char model[1024];     /* path of the GGUF */
  int32_t tokens[256];  /* the prompt */
  int n_tokens;
  char logits[1024];    /* expected logits file, "" if none */
  double tol;           /* absolute tolerance on logits */
  char greedy[1024];    /* expected greedy continuation ids, "" if none */
  int n_greedy;
  char text[1024];      /* expected text of the greedy continuation, "" if none */
  bool relative;        /* tol is relative to the row's largest |reference logit| */
  tl_qtype kv_greedy;   /* KV cache type of the greedy check */
  int q8_kv_min;        /* greedy tokens a q8_0 KV cache must keep; -1: the default */
  bool hf;              /* a Hugging Face directory (dir), converted into model */
} fixture;

static void join(char *out, size_t cap, const char *dir, const char *rel)
{
  snprintf(out, cap, "%s/%s", dir, rel);
}

static void trim(char *s)
{
  size_t n = strlen(s);
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r'))
    s[--n] = '\0';
}

/* Parses case.txt: "key = value" lines; # comments. */
static void fixture_load(const char *dir, fixture *f)
{
  memset(f, 0, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "%s", dir);
  f->tol = 1e-4;
  f->kv_greedy = TL_QTYPE_F16;
  f->q8_kv_min = -1;
  char path[1024];
  join(path, sizeof path, dir, "case.txt");
  size_t len;
  char *txt = th_read_file(path, &len);
  assert_non_null(txt);
  for (char *line = strtok(txt, "\n"); line; line = strtok(NULL, "\n")) {
    if (line[0] == '#')
      continue;
    char *eq = strchr(line, '=');
    if (!eq)
      continue;
    *eq = '\0';
    char *key = line, *val = eq + 1;
    trim(key);
    while (*val == ' ')
      val++;
    trim(val);
    if (!strcmp(key, "model")) {
      join(f->model, sizeof f->model, dir, val);
    } else if (!strcmp(key, "tokens")) {
      for (char *p = val; *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p)
          break;
        f->tokens[f->n_tokens++] = (int32_t)v;
        p = end;
      }
    } else if (!strcmp(key, "logits")) {
      join(f->logits, sizeof f->logits, dir, val);
    } else if (!strcmp(key, "tolerance")) {
      f->tol = strtod(val, NULL);
    } else if (!strcmp(key, "greedy")) {
      join(f->greedy, sizeof f->greedy, dir, val);
    } else if (!strcmp(key, "n_greedy")) {
      f->n_greedy = atoi(val);
    } else if (!strcmp(key, "text")) {
      join(f->text, sizeof f->text, dir, val);
    } else {
      fail_msg("%s: unknown key '%s'", path, key);
    }
  }
  free(txt);
  assert_true(f->model[0] && f->n_tokens > 0);
}

/* Reads whitespace-separated numbers; returns the count (at most cap). */
static size_t read_numbers(const char *path, double *out, size_t cap)
{
  size_t len, n = 0;
  char *txt = th_read_file(path, &len);
  if (!txt)
    fail_msg("cannot read %s", path);
  for (char *p = txt; n < cap;) {
    char *end;
    double v = strtod(p, &end);
    if (end == p)
      break;
    out[n++] = v;
    p = end;
  }
  free(txt);
  return n;
}

/* A Hugging Face reference model (tests/data/engine/README.md): the
 * directory converted to an F32 GGUF by tl_convert, tokens.txt, logits.txt
 * (every position), greedy.txt (16 ids, then the smallest top-1/top-2 gap).
 * Each check runs on the converted file and on the directory loaded directly.
 * Tolerance 1e-4 relative to each row's largest |logit|, also for the MoE
 * models whose reference is float32 (meta.json reference_dtype; measured
 * 1.0e-6 mixtral, 9.1e-7 qwen3moe, 2.8e-7 .. 7.5e-7 the float64 ones). The greedy
 * gaps go down to 2.7e-3, less than an F16 cache moves the logits (about
 * 3e-3 here), so the greedy path is checked with an F32 cache, and a q8_0
 * cache is only reported. */
static void fixture_from_hf(const char *dir, const char *name, fixture *f)
{
  memset(f, 0, sizeof *f);
  snprintf(f->dir, sizeof f->dir, "%s", dir);
  snprintf(f->model, sizeof f->model, "%s/engine-%s.gguf", th_tmpdir(), name);
  tl_convert_params cp = {.input_dir = dir, .output_path = f->model, .ftype = TL_FTYPE_ALL_F32,
                          .n_threads = 1};
  tl_error err;
  tl_error_clear(&err);
  if (tl_convert(&cp, NULL, &err))
    fail_msg("%s: convert: %s", dir, err.message);
  char path[1024];
  double toks[256];
  join(path, sizeof path, dir, "tokens.txt");
  size_t n = read_numbers(path, toks, 256);
  for (size_t i = 0; i < n; i++)
    f->tokens[f->n_tokens++] = (int32_t)toks[i];
  join(f->logits, sizeof f->logits, dir, "logits.txt");
  join(f->greedy, sizeof f->greedy, dir, "greedy.txt");
  f->relative = true;
  f->tol = 1e-4;
  f->kv_greedy = TL_QTYPE_F32;
  f->q8_kv_min = 0;
  f->hf = true;
  assert_true(f->n_tokens > 0);
}

static tl_engine *load(const char *model, uint32_t threads, uint32_t n_ctx, uint32_t ubatch,
                       tl_qtype kv, bool all)
{
  tl_engine_params p;
  tl_engine_params_init(&p);
  p.n_threads = threads;
  p.n_ctx = n_ctx;
  p.n_ubatch = ubatch;
  p.kv_type = kv;
  p.logits_all = all;
  tl_engine *e = NULL;
  tl_error err;
  tl_error_clear(&err);
  tl_status st = tl_engine_load(model, &p, &e, &err);
  if (st)
    fail_msg("load %s: %s", model, err.message);
  return e;
}

static int32_t argmax(const float *l, uint32_t n)
{
  int32_t b = 0;
  for (uint32_t i = 1; i < n; i++)
    if (l[i] > l[b])
      b = (int32_t)i;
  return b;
}

/* Greedy decoding: evaluates the prompt, then n tokens one at a time. */
static void greedy(tl_engine *e, const fixture *f, int32_t *out, int n)
{
  tl_error err;
  assert_int_equal(tl_engine_eval(e, f->tokens, (uint32_t)f->n_tokens, &err), TL_OK);
  uint32_t nv = tl_engine_hparams(e)->n_vocab;
  for (int i = 0; i < n; i++) {
    out[i] = argmax(tl_engine_logits(e, -1), nv);
    if (i + 1 < n)
      assert_int_equal(tl_engine_eval(e, &out[i], 1, &err), TL_OK);
  }
}

typedef void (*case_fn)(const fixture *f);

static void each_case(case_fn fn)
{
  const char *root = th_data_path("engine");
  char rootbuf[512];
  snprintf(rootbuf, sizeof rootbuf, "%s", root);
  DIR *d = opendir(rootbuf);
  assert_non_null(d);
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.')
      continue;
    char dir[1024], cf[1100], hf[1100];
    snprintf(dir, sizeof dir, "%s/%s", rootbuf, de->d_name);
    snprintf(cf, sizeof cf, "%s/case.txt", dir);
    snprintf(hf, sizeof hf, "%s/config.json", dir);
    fixture f;
    if (access(cf, R_OK) == 0)
      fixture_load(dir, &f);
    else if (access(hf, R_OK) == 0)
      fixture_from_hf(dir, de->d_name, &f);
    else
      continue;
    print_message("case %s\n", de->d_name);
    fn(&f);
    if (access(hf, R_OK) == 0 && access(cf, R_OK) != 0) {
      /* the same checks on the directory itself, loaded without a GGUF */
      snprintf(f.model, sizeof f.model, "%s", dir);
      print_message("case %s (directory)\n", de->d_name);
      fn(&f);
    }
    n++;
  }
  closedir(d);
  assert_true(n > 0);
}

/* ---- per-case checks ---- */

/* The last prompt token's logits (or every position's, when the file has
 * n_tokens rows) match the reference. */
static void check_logits(const fixture *f)
{
  if (!f->logits[0])
    return;
  tl_engine *e = load(f->model, 2, 256, 512, TL_QTYPE_F32, true);
  uint32_t nv = tl_engine_hparams(e)->n_vocab;
  size_t cap = (size_t)nv * f->n_tokens;
  double *want = malloc(cap * sizeof *want);
  size_t n = read_numbers(f->logits, want, cap);
  assert_true(n == nv || n == cap);
  tl_error err;
  assert_int_equal(tl_engine_eval(e, f->tokens, (uint32_t)f->n_tokens, &err), TL_OK);
  int first = n == nv ? f->n_tokens - 1 : 0;
  double worst = 0;
  for (int t = first; t < f->n_tokens; t++) {
    const float *got = tl_engine_logits(e, t);
    const double *w = want + (size_t)(t - first) * nv;
    double unit = 1; /* the scale a relative tolerance refers to */
    if (f->relative) {
      unit = 0;
      for (uint32_t i = 0; i < nv; i++)
        unit = fmax(unit, fabs(w[i]));
    }
    for (uint32_t i = 0; i < nv; i++) {
      double d = fabs(got[i] - w[i]) / unit;
      worst = d > worst ? d : worst;
      if (d > f->tol)
        fail_msg("%s: token %d logit %u: got %.6f, want %.6f", f->dir, t, i, got[i], w[i]);
    }
  }
  print_message("  logits: max %s diff %.2e (tolerance %.0e)\n", f->relative ? "relative" : "abs",
                worst, f->tol);
  free(want);
  tl_engine_free(e);
}

/* The greedy continuation, detokenized as llama2.c prints it (the first
 * piece's leading space dropped), is the reference text. */
static void check_text(tl_engine *e, const fixture *f, const int32_t *ids, int n)
{
  tl_tokenizer *tk = NULL;
  tl_error err;
  if (tl_tokenizer_from_gguf(tl_engine_gguf(e), &tk, &err))
    fail_msg("%s: tokenizer: %s", f->dir, err.message);
  char *text = NULL;
  size_t len = 0;
  assert_int_equal(tl_tokenizer_decode(tk, ids, (size_t)n, TL_TOK_STRIP_LEADING_SPACE, &text, &len, &err), TL_OK);
  size_t wlen;
  char *want = th_read_file(f->text, &wlen);
  assert_non_null(want);
  if (len != wlen || memcmp(text, want, len) != 0)
    fail_msg("%s: greedy text\n got: [%s]\nwant: [%s]", f->dir, text, want);
  free(want);
  tl_free(text);
  tl_tokenizer_free(tk);
}

static void check_greedy(const fixture *f)
{
  if (!f->greedy[0])
    return;
  double want[1024];
  size_t n = read_numbers(f->greedy, want, 1024);
  int ng = f->n_greedy ? f->n_greedy : (int)n;
  assert_true((size_t)ng <= n);
  int32_t got1[1024], got2[1024];
  for (int threads = 1; threads <= 2; threads++) {
    tl_engine *e = load(f->model, (uint32_t)threads, (uint32_t)(f->n_tokens + ng + 8), 512, f->kv_greedy, false);
    int32_t *got = threads == 1 ? got1 : got2;
    greedy(e, f, got, ng);
    for (int i = 0; i < ng; i++)
      if (got[i] != (int32_t)want[i])
        fail_msg("%s: %d threads: greedy token %d is %d, want %d", f->dir, threads, i, got[i],
                 (int)want[i]);
    if (threads == 1 && f->text[0])
      check_text(e, f, got, ng);
    tl_engine_free(e);
  }
  assert_memory_equal(got1, got2, (size_t)ng * sizeof *got1);
}

/* A prompt evaluated in micro-batches gives the logits of evaluating it one
 * token at a time. */
static void check_batch_vs_single(const fixture *f)
{
  int32_t prompt[64];
  int n = 0;
  for (int i = 0; i < f->n_tokens && n < 64; i++)
    prompt[n++] = f->tokens[i];
  if (f->greedy[0]) {
    double g[64];
    size_t k = read_numbers(f->greedy, g, 64 - (size_t)n);
    for (size_t i = 0; i < k; i++)
      prompt[n++] = (int32_t)g[i];
  }
  tl_engine *one = load(f->model, 2, 128, 512, TL_QTYPE_F16, false);
  uint32_t nv = tl_engine_hparams(one)->n_vocab;
  float *ref = malloc((size_t)n * nv * sizeof *ref);
  tl_error err;
  for (int i = 0; i < n; i++) {
    assert_int_equal(tl_engine_eval(one, &prompt[i], 1, &err), TL_OK);
    memcpy(ref + (size_t)i * nv, tl_engine_logits(one, -1), nv * sizeof *ref);
  }
  tl_engine_free(one);
  const uint32_t ubatches[] = {7, 64};
  for (size_t u = 0; u < 2; u++) {
    tl_engine *b = load(f->model, 2, 128, ubatches[u], TL_QTYPE_F16, true);
    assert_int_equal(tl_engine_eval(b, prompt, (uint32_t)n, &err), TL_OK);
    double worst = 0;
    for (int i = 0; i < n; i++) {
      const float *got = tl_engine_logits(b, i);
      for (uint32_t j = 0; j < nv; j++) {
        double d = fabs(got[j] - ref[(size_t)i * nv + j]);
        worst = d > worst ? d : worst;
      }
    }
    print_message("  batch of %d in ubatches of %u vs one by one: max abs diff %.2e\n", n,
                  ubatches[u], worst);
    assert_true(worst < 1e-4);
    tl_engine_free(b);
  }
  free(ref);
}

/* The q8_0 cache follows the f16 greedy path for at least Q8_KV_MIN_TOKENS
 * tokens (measured on stories260K: the whole 200; see docs/engine.md). */
#define Q8_KV_MIN_TOKENS 100

/* With a Q8_0 KV cache the logits stay within Q8_KV_LOGIT_TOL of the
 * reference. Measured: stories260K 0.031; the random-weight cases, whose
 * logits reach 10 to 15, 0.16 to 0.29 (llama-hd32-tiny, scored with Q8_0
 * queries through the kernels' tile: 0.29; the same through dequantized keys:
 * 0.31). A wrong head or block offset gives errors of the logits' own size. */
#define Q8_KV_LOGIT_TOL 0.6

static void check_kv_q8_logits(const fixture *f)
{
  tl_engine *e = load(f->model, 2, 256, 512, TL_QTYPE_Q8_0, true);
  uint32_t nv = tl_engine_hparams(e)->n_vocab;
  size_t cap = (size_t)nv * f->n_tokens;
  double *want = malloc(cap * sizeof *want);
  size_t n = read_numbers(f->logits, want, cap);
  tl_error err;
  assert_int_equal(tl_engine_eval(e, f->tokens, (uint32_t)f->n_tokens, &err), TL_OK);
  int first = n == nv ? f->n_tokens - 1 : 0;
  double worst = 0;
  for (int t = first; t < f->n_tokens; t++) {
    const float *got = tl_engine_logits(e, t);
    for (uint32_t i = 0; i < nv; i++)
      worst = fmax(worst, fabs(got[i] - want[(size_t)(t - first) * nv + i]));
  }
  print_message("  q8_0 KV cache: logits max abs diff %.4f\n", worst);
  assert_true(worst < Q8_KV_LOGIT_TOL);
  free(want);
  tl_engine_free(e);
}

static void check_kv_q8(const fixture *f)
{
  if (f->logits[0]) {
    tl_engine *probe = load(f->model, 1, 16, 16, TL_QTYPE_F16, false);
    const tl_hparams *hp = tl_engine_hparams(probe);
    bool q8_rows = (hp->n_head_kv * hp->head_dim_k) % 32 == 0;
    tl_engine_free(probe);
    if (q8_rows)
      check_kv_q8_logits(f);
  }
  if (!f->greedy[0])
    return;
  double want[1024];
  size_t n = read_numbers(f->greedy, want, 1024);
  int ng = f->n_greedy ? f->n_greedy : (int)n;
  int32_t got[1024];
  tl_engine *e = load(f->model, 2, (uint32_t)(f->n_tokens + ng + 8), 512, TL_QTYPE_Q8_0, false);
  greedy(e, f, got, ng);
  int same = 0;
  while (same < ng && got[same] == (int32_t)want[same])
    same++;
  print_message("  q8_0 KV cache: first %d of %d greedy tokens match\n", same, ng);
  int need = f->q8_kv_min >= 0 ? f->q8_kv_min : Q8_KV_MIN_TOKENS;
  assert_true(same >= (ng < need ? ng : need));
  tl_engine_free(e);
}

static void test_case_logits(void **state)
{
  (void)state;
  each_case(check_logits);
}
static void test_case_greedy(void **state)
{
  (void)state;
  each_case(check_greedy);
}
static void test_case_batch_vs_single(void **state)
{
  (void)state;
  each_case(check_batch_vs_single);
}
static void test_case_kv_q8(void **state)
{
  (void)state;
  each_case(check_kv_q8);
}

/* A Hugging Face reference model converted with Q8_0 weights (llama.cpp's
 * mixture: F32 norms and routers) runs every family's quantized path (row
 * views of phi3's fused tensors, expert strides): its logits stay within
 * Q8_0_REL of the reference, relative to the row's largest |logit|
 * (measured: llama 8.9e-2, llama3 7.2e-2, qwen2 5.6e-2, mixtral 5.2e-2,
 * phi3 4.6e-2, qwen3 3.7e-2, gemma3 2.4e-2: the random weights of
 * initializer range 0.15 make 8-bit rounding show; a wrong row or expert
 * stride gives errors of order 1). Q8_0 the converter refuses (qwen3moe's
 * expert rows, as llama-quantize) is skipped. */
#define Q8_0_REL 0.15

static void check_q8_0_weights(const fixture *f)
{
  if (!f->hf || strcmp(f->model + strlen(f->model) - 5, ".gguf"))
    return; /* once per model: the converted pass */
  char out[1100];
  snprintf(out, sizeof out, "%s-q8_0.gguf", f->model);
  tl_convert_params cp = {.input_dir = f->dir, .output_path = out, .ftype = TL_FTYPE_Q8_0};
  tl_error err;
  tl_error_clear(&err);
  tl_status st = tl_convert(&cp, NULL, &err);
  if (st == TL_EUNSUPPORTED) {
    print_message("  q8_0 weights: not converted (%s)\n", err.message);
    return;
  }
  assert_int_equal(st, TL_OK);
  tl_engine *e = load(out, 2, 64, 512, TL_QTYPE_F32, true);
  uint32_t nv = tl_engine_hparams(e)->n_vocab;
  size_t cap = (size_t)nv * f->n_tokens;
  double *want = malloc(cap * sizeof *want);
  assert_int_equal(read_numbers(f->logits, want, cap), cap);
  assert_int_equal(tl_engine_eval(e, f->tokens, (uint32_t)f->n_tokens, &err), TL_OK);
  double worst = 0;
  for (int t = 0; t < f->n_tokens; t++) {
    const float *got = tl_engine_logits(e, t);
    const double *w = want + (size_t)t * nv;
    double unit = 0, d = 0;
    for (uint32_t i = 0; i < nv; i++)
      unit = fmax(unit, fabs(w[i]));
    for (uint32_t i = 0; i < nv; i++)
      d = fmax(d, fabs(got[i] - w[i]) / unit);
    worst = fmax(worst, d);
  }
  print_message("  q8_0 weights: logits max relative diff %.2e (bound %.2g)\n", worst, Q8_0_REL);
  assert_true(worst < Q8_0_REL);
  free(want);
  tl_engine_free(e);
  unlink(out);
}

static void test_case_q8_0_weights(void **state)
{
  (void)state;
  each_case(check_q8_0_weights);
}

/* ---- engine-wide properties on the shipped model ---- */

static const char *stories(void) { return th_data_path("models/stories260K.gguf"); }

static void test_memory_accounting(void **state)
{
  (void)state;
  tl_engine *e = load(stories(), 2, 512, 64, TL_QTYPE_F16, false);
  tl_engine_mem m;
  tl_engine_memory(e, &m);
  const tl_hparams *hp = tl_engine_hparams(e);
  /* stories260K: 5 layers, 4 KV heads of 8: f16 rows of 32 elements */
  assert_int_equal(hp->n_layer, 5);
  assert_int_equal(m.kv_cache, 5ull * 512 * 2 * (32 * 2));
  uint64_t tensors = 0;
  const tl_gguf *g = tl_engine_gguf(e);
  for (size_t i = 0; i < tl_gguf_n_tensors(g); i++)
    tensors += tl_gguf_tensor_at(g, i)->bytes;
  assert_int_equal(m.weights, tensors);
  assert_true(m.compute > 0 && m.overhead > 0);
  assert_true(m.weights + m.overhead >= tl_gguf_file_size(g));
  assert_int_equal(m.total, m.weights + m.kv_cache + m.compute + m.overhead);
  tl_engine_free(e);

  e = load(stories(), 2, 512, 64, TL_QTYPE_Q8_0, false);
  tl_engine_memory(e, &m);
  assert_int_equal(m.kv_cache, 5ull * 512 * 2 * 34); /* one q8_0 block of 32 per row */
  tl_engine_free(e);
}

static void test_eval_allocates_nothing(void **state)
{
  (void)state;
  tl_engine *e = load(stories(), 2, 128, 16, TL_QTYPE_F16, false);
  int32_t prompt[40];
  for (int i = 0; i < 40; i++)
    prompt[i] = 1 + i * 7;
  tl_error err;
  th_alloc_install(0);
  assert_int_equal(tl_engine_eval(e, prompt, 40, &err), TL_OK);
  for (int i = 0; i < 20; i++) {
    int32_t t = argmax(tl_engine_logits(e, -1), tl_engine_hparams(e)->n_vocab);
    assert_int_equal(tl_engine_eval(e, &t, 1, &err), TL_OK);
  }
  assert_int_equal(th_alloc_count(), 0);
  th_alloc_uninstall();
  tl_engine_free(e);
}

static void test_truncate_replays(void **state)
{
  (void)state;
  tl_engine *e = load(stories(), 1, 64, 64, TL_QTYPE_F16, false);
  uint32_t nv = tl_engine_hparams(e)->n_vocab;
  int32_t p[5] = {1, 403, 407, 261, 378};
  tl_error err;
  assert_int_equal(tl_engine_eval(e, p, 5, &err), TL_OK);
  float *a = malloc(nv * sizeof *a);
  memcpy(a, tl_engine_logits(e, -1), nv * sizeof *a);
  assert_null(tl_engine_logits(e, 0)); /* only the last without logits_all */
  tl_engine_kv_truncate(e, 3);
  assert_int_equal(tl_engine_n_past(e), 3);
  assert_int_equal(tl_engine_eval(e, p + 3, 2, &err), TL_OK);
  const float *b = tl_engine_logits(e, -1);
  for (uint32_t i = 0; i < nv; i++) /* batches of 5 and of 2 round differently */
    assert_true(fabsf(a[i] - b[i]) < 1e-4f);
  free(a);
  tl_engine_free(e);
}

static void test_f16_model_runs(void **state)
{
  (void)state;
  tl_engine *e = load(th_data_path("gguf/llama-2-tiny-random.gguf"), 2, 64, 8, TL_QTYPE_F16, true);
  const tl_hparams *hp = tl_engine_hparams(e);
  assert_int_equal(hp->n_vocab, 32000);
  int32_t p[12] = {1, 15043, 3186, 29892, 920, 526, 366, 29973, 306, 626, 2691, 29889};
  tl_error err;
  assert_int_equal(tl_engine_eval(e, p, 12, &err), TL_OK);
  for (int i = 0; i < 12; i++) {
    const float *l = tl_engine_logits(e, i);
    for (uint32_t j = 0; j < hp->n_vocab; j++)
      assert_true(isfinite(l[j]));
  }
  tl_engine_free(e);
}

static void test_errors(void **state)
{
  (void)state;
  tl_engine *e = NULL;
  tl_error err;
  tl_engine_params p;
  tl_engine_params_init(&p);
  assert_int_equal(tl_engine_load(th_data_path("models/none.gguf"), &p, &e, &err), TL_ENOTFOUND);
  assert_null(e);
  /* a directory without config.json */
  assert_int_equal(tl_engine_load(th_tmpdir(), &p, &e, &err), TL_ENOTFOUND);
  assert_non_null(strstr(err.message, "config.json"));
  assert_null(e);
  /* parser fixture: arch llama without the hyperparameters */
  assert_int_equal(tl_engine_load(th_data_path("gguf/test-le-v3.gguf"), &p, &e, &err), TL_EFORMAT);
  assert_non_null(strstr(err.message, "llama."));
  p.kv_type = TL_QTYPE_Q4_K;
  assert_int_equal(tl_engine_load(stories(), &p, &e, &err), TL_ECONFIG);
  tl_engine_params_init(&p);
  p.n_ctx = 8;
  assert_int_equal(tl_engine_load(stories(), &p, &e, &err), TL_OK);
  int32_t toks[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  assert_int_equal(tl_engine_eval(e, toks, 9, &err), TL_EINVAL); /* more than n_batch (= n_ctx) */
  assert_int_equal(tl_engine_eval(e, toks, 8, &err), TL_OK);
  assert_int_equal(tl_engine_eval(e, toks, 1, &err), TL_ELIMIT);
  tl_engine_kv_truncate(e, 0);
  int32_t bad = 512;
  assert_int_equal(tl_engine_eval(e, &bad, 1, &err), TL_EINVAL);
  tl_engine_free(e);
  tl_engine_free(NULL);
}

/* Every allocation of a load fails in turn; each failure is reported and
 * leaks nothing. jansson (config.json of a directory) allocates outside the
 * injection, as in test-convert: its 2.14 parser mishandles a failing
 * allocation. */
static void load_alloc_failures(const char *model)
{
  tl_engine_params p;
  tl_engine_params_init(&p);
  p.n_threads = 1;
  p.n_ctx = 32;
  th_alloc_install(0);
  json_set_alloc_funcs(malloc, free);
  tl_engine *e = NULL;
  assert_int_equal(tl_engine_load(model, &p, &e, NULL), TL_OK);
  uint64_t n = th_alloc_count();
  print_message("  %llu allocations in a load of %s\n", (unsigned long long)n, model);
  tl_engine_free(e);
  th_alloc_uninstall();
  for (uint64_t i = 1; i <= n; i++) {
    th_alloc_install(i);
    json_set_alloc_funcs(malloc, free);
    e = NULL;
    tl_status st = tl_engine_load(model, &p, &e, NULL);
    if (st == TL_OK)
      fail_msg("%s: load succeeded with allocation %llu failing", model, (unsigned long long)i);
    assert_null(e);
    assert_int_equal(th_alloc_live(), 0);
    th_alloc_uninstall();
  }
}

static void test_load_alloc_failures(void **state)
{
  (void)state;
  load_alloc_failures(stories());
  /* the other families' loaders, from a GGUF and from a directory */
  static const char *const dirs[] = {"engine/gemma3", "engine/mixtral", "engine/phi3"};
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
    char dir[1024], out[1024];
    snprintf(dir, sizeof dir, "%s", th_data_path(dirs[i]));
    snprintf(out, sizeof out, "%s/alloc-%zu.gguf", th_tmpdir(), i);
    tl_convert_params cp = {.input_dir = dir, .output_path = out, .ftype = TL_FTYPE_ALL_F32};
    assert_int_equal(tl_convert(&cp, NULL, NULL), TL_OK);
    load_alloc_failures(out);
    load_alloc_failures(dir);
  }
}

/* ---- quantized weights ---- */

/* Writes a copy of stories260K whose matrices with rows of a multiple of 32
 * are quantized to type t (the FFN down projection, rows of 172, stays f32),
 * with the hyperparameter keys only. */
static void write_stories_variant(const char *out, tl_qtype t, const char *drop, const char *reshape);

static void write_quantized_stories(const char *out, tl_qtype t)
{
  write_stories_variant(out, t, NULL, NULL);
}

/* As above; the tensor named drop is left out and the one named reshape has
 * its two dimensions swapped. */
static void write_stories_variant(const char *out, tl_qtype t, const char *drop, const char *reshape)
{
  tl_gguf *g = NULL;
  tl_error err;
  assert_int_equal(tl_gguf_open(stories(), &g, &err), TL_OK);
  tl_gguf_writer *w = NULL;
  assert_int_equal(tl_gguf_writer_create(&w, &err), TL_OK);
  for (size_t i = 0; i < tl_gguf_n_kv(g); i++) {
    const char *key = tl_gguf_kv_key(g, i);
    uint64_t u;
    double d;
    const char *s;
    size_t n;
    if (!strncmp(key, "llama.", 6) && tl_gguf_kv_type(g, i) == TL_GGUF_FLOAT32 && tl_gguf_kv_f64(g, i, &d))
      assert_int_equal(tl_gguf_writer_set_f32(w, key, (float)d, &err), TL_OK);
    else if (!strncmp(key, "llama.", 6) && tl_gguf_kv_u64(g, i, &u))
      assert_int_equal(tl_gguf_writer_set_u32(w, key, (uint32_t)u, &err), TL_OK);
    else if (!strcmp(key, "general.architecture") && tl_gguf_kv_str(g, i, &s, &n))
      assert_int_equal(tl_gguf_writer_set_str(w, key, s, n, &err), TL_OK);
  }
  size_t nt = tl_gguf_n_tensors(g);
  void **bufs = calloc(nt, sizeof *bufs);
  for (size_t i = 0; i < nt; i++) {
    const tl_gguf_tensor *ti = tl_gguf_tensor_at(g, i);
    if (drop && !strcmp(ti->name, drop))
      continue;
    tl_qtype ty = ti->n_dims == 2 && ti->ne[0] % 32 == 0 ? t : TL_QTYPE_F32;
    int64_t ne[4] = {ti->ne[0], ti->ne[1], 1, 1};
    if (reshape && !strcmp(ti->name, reshape)) {
      ne[0] = ti->ne[1];
      ne[1] = ti->ne[0];
    }
    size_t rb = tl__row_bytes(ty, ti->ne[0]);
    bufs[i] = malloc(rb * (size_t)ti->ne[1]);
    for (int64_t r = 0; r < ti->ne[1]; r++)
      tl__quantize_row(ty, (const float *)ti->data + r * ti->ne[0], (uint8_t *)bufs[i] + r * rb, ti->ne[0]);
    assert_int_equal(tl_gguf_writer_add_tensor(w, ti->name, ty, ne, ti->n_dims, bufs[i], &err), TL_OK);
  }
  if (tl_gguf_writer_write(w, out, &err))
    fail_msg("write %s: %s", out, err.message);
  tl_gguf_writer_free(w);
  for (size_t i = 0; i < nt; i++)
    free(bufs[i]);
  free(bufs);
  tl_gguf_close(g);
}

/* Quantized weights go through the kernels' quantized dot products: the
 * logits stay near the f32 model's (largest logit about 17) and greedy
 * decoding follows its path for a while. Measured: Q8_0 max abs diff 0.215
 * and 114 of 200 tokens (71 with the scalar kernels, which round
 * differently); Q4_0 2.16 and 27 tokens. The bounds leave room. */
static void test_quantized_weights(void **state)
{
  (void)state;
  const struct {
    tl_qtype t;
    double tol;
    int min_same;
  } cases[] = {{TL_QTYPE_Q8_0, 0.5, 50}, {TL_QTYPE_Q4_0, 4.0, 10}};
  double ref_logits[512], want[256];
  assert_int_equal(read_numbers(th_data_path("models/stories260K.logits-pos0.txt"), ref_logits, 512), 512);
  assert_int_equal(read_numbers(th_data_path("models/stories260K.greedy.tokens.txt"), want, 256), 200);
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    char path[1024];
    snprintf(path, sizeof path, "%s/stories260K-%s.gguf", th_tmpdir(), tl_qtype_name(cases[c].t));
    write_quantized_stories(path, cases[c].t);
    tl_engine *e = load(path, 2, 256, 64, TL_QTYPE_F16, false);
    fixture f = {.n_tokens = 1};
    f.tokens[0] = 1;
    tl_error err;
    assert_int_equal(tl_engine_eval(e, f.tokens, 1, &err), TL_OK);
    double worst = 0;
    const float *l = tl_engine_logits(e, -1);
    for (int i = 0; i < 512; i++)
      worst = fmax(worst, fabs(l[i] - ref_logits[i]));
    tl_engine_kv_truncate(e, 0);
    int32_t got[200];
    greedy(e, &f, got, 200);
    int same = 0;
    while (same < 200 && got[same] == (int32_t)want[same])
      same++;
    print_message("  %s weights: logits max abs diff %.3f, greedy %d of 200 tokens\n",
                  tl_qtype_name(cases[c].t), worst, same);
    assert_true(worst < cases[c].tol);
    assert_true(same >= cases[c].min_same);
    tl_engine_free(e);
  }
}

/* A missing or misshapen tensor is an error that names it. */
static void test_tensor_validation(void **state)
{
  (void)state;
  char path[1024];
  tl_error err;
  tl_engine *e = NULL;
  snprintf(path, sizeof path, "%s/stories-missing.gguf", th_tmpdir());
  write_stories_variant(path, TL_QTYPE_F32, "blk.3.ffn_up.weight", NULL);
  assert_int_equal(tl_engine_load(path, NULL, &e, &err), TL_EFORMAT);
  assert_non_null(strstr(err.message, "'blk.3.ffn_up.weight' is missing"));
  snprintf(path, sizeof path, "%s/stories-shape.gguf", th_tmpdir());
  write_stories_variant(path, TL_QTYPE_F32, NULL, "blk.1.attn_k.weight");
  assert_int_equal(tl_engine_load(path, NULL, &e, &err), TL_EFORMAT);
  assert_non_null(strstr(err.message, "'blk.1.attn_k.weight' has shape [32, 64, 1], expected [64, 32]"));
  assert_null(e);
}

/* ---- tailor run ---- */

static void test_cli_run(void **state)
{
  (void)state;
  char *out, *err;
  const char *model = stories();
  char path[1024];
  snprintf(path, sizeof path, "%s", model);
  const char *greedy[] = {"run", path, "-p", "Once upon a time", "-n", "30", "--temp", "0", "-t", "1", NULL};
  assert_int_equal(th_run_tailor(greedy, NULL, &out, &err), 0);
  size_t wl;
  char *want = th_read_file(th_data_path("models/stories260K.greedy.expected.txt"), &wl);
  assert_true(strncmp(out, want, 60) == 0); /* the prompt echoed, then the reference text */
  assert_non_null(strstr(err, "decode:"));
  assert_non_null(strstr(err, "weights"));
  free(want);
  free(out);
  free(err);

  const char *js[] = {"run", path, "-p", "Once upon a time", "-n", "12", "--seed", "7", "--json", NULL};
  assert_int_equal(th_run_tailor(js, NULL, &out, &err), 0);
  json_error_t je;
  json_t *j = json_loads(out, 0, &je);
  assert_non_null(j);
  assert_int_equal(json_integer_value(json_object_get(j, "n_decode")), 12);
  assert_int_equal(json_integer_value(json_object_get(j, "seed")), 7);
  assert_true(json_integer_value(json_object_get(json_object_get(j, "memory"), "weights")) > 0);
  char *text1 = strdup(json_string_value(json_object_get(j, "text")));
  json_decref(j);
  free(out);
  free(err);
  /* the same seed gives the same text */
  assert_int_equal(th_run_tailor(js, NULL, &out, &err), 0);
  j = json_loads(out, 0, &je);
  assert_string_equal(json_string_value(json_object_get(j, "text")), text1);
  json_decref(j);
  free(text1);
  free(out);
  free(err);
}

static void test_cli_run_errors(void **state)
{
  (void)state;
  char *out, *err;
  char path[1024];
  snprintf(path, sizeof path, "%s", stories());
  const char *bad_temp[] = {"run", path, "--temp", "hot", NULL};
  assert_int_equal(th_run_tailor(bad_temp, NULL, &out, &err), 2);
  free(out);
  free(err);
  const char *bad_kv[] = {"run", path, "--kv-type", "q4_0", NULL};
  assert_int_equal(th_run_tailor(bad_kv, NULL, &out, &err), 2);
  free(out);
  free(err);
  const char *missing[] = {"run", "/nonexistent.gguf", "-n", "1", NULL};
  assert_int_equal(th_run_tailor(missing, NULL, &out, &err), 1);
  free(out);
  free(err);
  /* no chat template in the model: reported, not replaced */
  const char *chat[] = {"run", path, "-i", "-n", "4", NULL};
  assert_int_equal(th_run_tailor(chat, "Hi\n", &out, &err), 1);
  assert_non_null(strstr(err, "--chat-template"));
  free(out);
  free(err);
  const char *chat_named[] = {"run", path, "-i", "-n", "4", "--chat-template", "chatml", "--temp", "0", NULL};
  assert_int_equal(th_run_tailor(chat_named, "Hi\nAnd then?\n", &out, &err), 0);
  assert_non_null(strstr(err, "chat template: chatml"));
  free(out);
  free(err);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_case_logits),
      cmocka_unit_test(test_case_greedy),
      cmocka_unit_test(test_case_batch_vs_single),
      cmocka_unit_test(test_case_kv_q8),
      cmocka_unit_test(test_case_q8_0_weights),
      cmocka_unit_test(test_memory_accounting),
      cmocka_unit_test(test_eval_allocates_nothing),
      cmocka_unit_test(test_truncate_replays),
      cmocka_unit_test(test_f16_model_runs),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_load_alloc_failures),
      cmocka_unit_test(test_quantized_weights),
      cmocka_unit_test(test_tensor_validation),
      cmocka_unit_test(test_cli_run),
      cmocka_unit_test(test_cli_run_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
