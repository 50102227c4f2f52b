/* In-situ quantization: the engine quantizes unquantized weights while
 * loading. Logits stay close to the unquantized model's, the weights'
 * memory shrinks to the quantized size, rows that fit no block stay as
 * stored, and a type the engine cannot make is refused. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tailor/engine.h"

static const int32_t tokens[] = {1, 5, 17, 42, 100, 7, 63, 200, 31, 9, 128, 77};
#define N_TOK (sizeof tokens / sizeof tokens[0])

static tl_engine *load(const char *path, tl_qtype isq)
{
  tl_engine_params p;
  tl_engine_params_init(&p);
  p.n_ctx = 64;
  p.n_threads = 2;
  p.logits_all = true;
  p.kv_type = TL_QTYPE_F32;
  p.isq = isq;
  tl_engine *e = NULL;
  tl_error err;
  if (tl_engine_load(path, &p, &e, &err))
    fail_msg("%s: %s", path, err.message);
  return e;
}

/* max |a - b| over all positions, relative to max |b| of the row */
static double compare(tl_engine *a, tl_engine *b, uint32_t n_vocab)
{
  double worst = 0;
  for (uint32_t i = 0; i < N_TOK; i++) {
    const float *la = tl_engine_logits(a, (int32_t)i), *lb = tl_engine_logits(b, (int32_t)i);
    double scale = 0, d = 0;
    for (uint32_t v = 0; v < n_vocab; v++) {
      scale = fmax(scale, fabs(lb[v]));
      d = fmax(d, fabs((double)la[v] - lb[v]));
    }
    worst = fmax(worst, d / scale);
  }
  return worst;
}

static void run_case(const char *model, tl_qtype isq, double bound)
{
  const char *path = th_data_path(model);
  tl_engine *ref = load(path, TL_QTYPE_F32), *q = load(path, isq);
  tl_error err;
  assert_int_equal(tl_engine_eval(ref, tokens, N_TOK, &err), TL_OK);
  assert_int_equal(tl_engine_eval(q, tokens, N_TOK, &err), TL_OK);
  double rel = compare(q, ref, tl_engine_hparams(ref)->n_vocab);
  tl_engine_mem mr, mq;
  tl_engine_memory(ref, &mr);
  tl_engine_memory(q, &mq);
  print_message("%s isq %d: max relative logit error %.4f; weights %llu -> %llu bytes\n", model,
                (int)isq, rel, (unsigned long long)mr.weights, (unsigned long long)mq.weights);
  if (!(rel < bound))
    fail_msg("%s: logits differ by %g (bound %g)", model, rel, bound);
  assert_true(rel > 0); /* the weights really changed */
  assert_true(mq.weights < mr.weights);
  tl_engine_free(ref);
  tl_engine_free(q);
}

/* Bounds: the Q8_0 quantizer's relative error on these random weights is
 * about 0.5% per weight (docs/convert.md), which the two layers amplify to a
 * few percent of the largest logit; measured 0.03-0.09 for Q8_0 weights in
 * test-engine. */
static void test_q8_0_llama_dir(void **state)
{
  (void)state;
  run_case("engine/llama", TL_QTYPE_Q8_0, 0.15);
}

static void test_q8_0_qwen3_dir(void **state)
{
  (void)state;
  run_case("engine/qwen3", TL_QTYPE_Q8_0, 0.15);
}

/* 64-wide rows fit no 256-element K-quant block: they fall back to Q8_0, so
 * the result equals the Q8_0 run exactly. */
static void test_k_quant_falls_back(void **state)
{
  (void)state;
  const char *path = th_data_path("engine/llama");
  tl_engine *a = load(path, TL_QTYPE_Q4_K), *b = load(path, TL_QTYPE_Q8_0);
  tl_error err;
  assert_int_equal(tl_engine_eval(a, tokens, N_TOK, &err), TL_OK);
  assert_int_equal(tl_engine_eval(b, tokens, N_TOK, &err), TL_OK);
  assert_true(compare(a, b, tl_engine_hparams(a)->n_vocab) == 0);
  tl_engine_free(a);
  tl_engine_free(b);
}

/* stories260K (F32 GGUF): 172-wide FFN rows fit no block and stay F32; the
 * rest is quantized, and the greedy text from BOS keeps its first tokens. */
static void test_stories_gguf(void **state)
{
  (void)state;
  const char *path = th_data_path("models/stories260K.gguf");
  tl_engine *ref = load(path, TL_QTYPE_F32), *q = load(path, TL_QTYPE_Q8_0);
  tl_error err;
  int32_t a = 1, b = 1;
  int same = 0;
  for (int i = 0; i < 20; i++) {
    assert_int_equal(tl_engine_eval(ref, &a, 1, &err), TL_OK);
    assert_int_equal(tl_engine_eval(q, &b, 1, &err), TL_OK);
    const float *la = tl_engine_logits(ref, -1), *lb = tl_engine_logits(q, -1);
    int32_t na = 0, nb = 0;
    for (uint32_t v = 1; v < tl_engine_hparams(ref)->n_vocab; v++) {
      na = la[v] > la[na] ? (int32_t)v : na;
      nb = lb[v] > lb[nb] ? (int32_t)v : nb;
    }
    if (na != nb)
      break;
    same++;
    a = na;
    b = nb;
  }
  print_message("stories260K Q8_0 ISQ: %d of 20 greedy tokens as F32\n", same);
  assert_true(same >= 10);
  tl_engine_mem mr, mq;
  tl_engine_memory(ref, &mr);
  tl_engine_memory(q, &mq);
  assert_true(mq.weights < mr.weights);
  tl_engine_free(ref);
  tl_engine_free(q);
}

static void test_unsupported_type(void **state)
{
  (void)state;
  tl_engine_params p;
  tl_engine_params_init(&p);
  p.isq = TL_QTYPE_Q2_K;
  tl_engine *e = NULL;
  tl_error err;
  assert_int_equal(tl_engine_load(th_data_path("engine/llama"), &p, &e, &err), TL_ECONFIG);
  assert_non_null(strstr(err.message, "in-situ quantization to"));
  assert_null(e);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_q8_0_llama_dir),   cmocka_unit_test(test_q8_0_qwen3_dir),
      cmocka_unit_test(test_k_quant_falls_back), cmocka_unit_test(test_stories_gguf),
      cmocka_unit_test(test_unsupported_type),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
