/* Tests of the sampler: each filter and penalty on hand-made logits, the
 * greedy path, seeded reproducibility and the drawn distribution. */
#include "harness.h"

#include <math.h>
#include <string.h>

#include "tailor/tailor.h"

static tl_sampler_params plain(void)
{
  tl_sampler_params p;
  tl_sampler_params_init(&p);
  p.temp = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.seed = 1234;
  return p;
}

static tl_sampler *make(const tl_sampler_params *p, uint32_t n)
{
  tl_sampler *s = NULL;
  tl_error err;
  assert_int_equal(tl_sampler_create(p, n, &s, &err), TL_OK);
  return s;
}

/* Counts how often each of n ids is drawn in `draws` samples. */
static void histogram(tl_sampler *s, const float *logits, int n, int draws, int *hist)
{
  memset(hist, 0, (size_t)n * sizeof *hist);
  for (int i = 0; i < draws; i++) {
    int32_t t = tl_sampler_sample(s, logits);
    assert_true(t >= 0 && t < n);
    hist[t]++;
  }
}

/* Logits whose softmax is exactly the given probabilities. */
static void logits_of(const float *probs, int n, float *out)
{
  for (int i = 0; i < n; i++)
    out[i] = logf(probs[i]);
}

static void test_greedy(void **state)
{
  (void)state;
  tl_sampler_params p = plain();
  p.temp = 0.0f;
  tl_sampler *s = make(&p, 5);
  const float l[5] = {0.1f, 3.0f, -2.0f, 3.0f, 2.9f};
  assert_int_equal(tl_sampler_sample(s, l), 1); /* ties go to the lower id */
  tl_sampler_free(s);
}

static void test_seed_reproducible(void **state)
{
  (void)state;
  const float probs[6] = {0.3f, 0.25f, 0.2f, 0.1f, 0.1f, 0.05f};
  float l[6];
  logits_of(probs, 6, l);
  tl_sampler_params p = plain();
  tl_sampler *a = make(&p, 6), *b = make(&p, 6);
  p.seed = 99;
  tl_sampler *c = make(&p, 6);
  int32_t sa[200], sb[200], sc[200];
  for (int i = 0; i < 200; i++) {
    sa[i] = tl_sampler_sample(a, l);
    sb[i] = tl_sampler_sample(b, l);
    sc[i] = tl_sampler_sample(c, l);
  }
  assert_memory_equal(sa, sb, sizeof sa);
  assert_true(memcmp(sa, sc, sizeof sa) != 0);
  /* reset restarts the same sequence */
  tl_sampler_reset(a);
  for (int i = 0; i < 200; i++)
    assert_int_equal(tl_sampler_sample(a, l), sa[i]);
  tl_sampler_free(a);
  tl_sampler_free(b);
  tl_sampler_free(c);
}

static void test_distribution(void **state)
{
  (void)state;
  const float probs[3] = {0.7f, 0.2f, 0.1f};
  float l[3];
  logits_of(probs, 3, l);
  tl_sampler_params p = plain();
  tl_sampler *s = make(&p, 3);
  int hist[3];
  histogram(s, l, 3, 20000, hist);
  for (int i = 0; i < 3; i++)
    assert_true(fabs(hist[i] / 20000.0 - probs[i]) < 0.02);
  tl_sampler_free(s);
}

static void test_top_k(void **state)
{
  (void)state;
  const float probs[5] = {0.1f, 0.3f, 0.2f, 0.25f, 0.15f};
  float l[5];
  logits_of(probs, 5, l);
  tl_sampler_params p = plain();
  p.top_k = 2;
  tl_sampler *s = make(&p, 5);
  int hist[5];
  histogram(s, l, 5, 2000, hist);
  assert_int_equal(hist[0] + hist[2] + hist[4], 0);
  assert_true(hist[1] > 0 && hist[3] > 0);
  tl_sampler_free(s);
  p.top_k = 1;
  p.temp = 5.0f;
  s = make(&p, 5);
  histogram(s, l, 5, 200, hist);
  assert_int_equal(hist[1], 200);
  tl_sampler_free(s);
}

static void test_top_p(void **state)
{
  (void)state;
  const float probs[4] = {0.15f, 0.5f, 0.05f, 0.3f};
  float l[4];
  logits_of(probs, 4, l);
  tl_sampler_params p = plain();
  p.top_p = 0.7f; /* 0.5 + 0.3 = 0.8 >= 0.7: keep two */
  tl_sampler *s = make(&p, 4);
  int hist[4];
  histogram(s, l, 4, 2000, hist);
  assert_int_equal(hist[0] + hist[2], 0);
  assert_true(hist[1] > 0 && hist[3] > 0);
  tl_sampler_free(s);
  p.top_p = 0.45f; /* the best alone reaches it */
  s = make(&p, 4);
  histogram(s, l, 4, 200, hist);
  assert_int_equal(hist[1], 200);
  tl_sampler_free(s);
}

static void test_min_p(void **state)
{
  (void)state;
  const float probs[4] = {0.15f, 0.5f, 0.05f, 0.3f};
  float l[4];
  logits_of(probs, 4, l);
  tl_sampler_params p = plain();
  p.min_p = 0.5f; /* keep p >= 0.25 */
  tl_sampler *s = make(&p, 4);
  int hist[4];
  histogram(s, l, 4, 2000, hist);
  assert_int_equal(hist[0] + hist[2], 0);
  assert_true(hist[1] > 0 && hist[3] > 0);
  tl_sampler_free(s);
  p.min_p = 0.25f; /* keep p >= 0.125: three */
  s = make(&p, 4);
  histogram(s, l, 4, 4000, hist);
  assert_int_equal(hist[2], 0);
  assert_true(hist[0] > 0 && hist[1] > 0 && hist[3] > 0);
  tl_sampler_free(s);
}

static void test_temperature(void **state)
{
  (void)state;
  const float probs[3] = {0.5f, 0.3f, 0.2f};
  float l[3];
  logits_of(probs, 3, l);
  tl_sampler_params p = plain();
  p.temp = 0.05f; /* p(best) = 1 / (1 + 0.6^20 + 0.4^20) > 0.9999 */
  tl_sampler *s = make(&p, 3);
  int hist[3];
  histogram(s, l, 3, 2000, hist);
  assert_int_equal(hist[0], 2000);
  tl_sampler_free(s);
  /* temp 2 flattens: expected p = sqrt(p_i) normalised = 0.415, 0.322, 0.263 */
  p.temp = 2.0f;
  s = make(&p, 3);
  histogram(s, l, 3, 20000, hist);
  double z = sqrt(0.5) + sqrt(0.3) + sqrt(0.2);
  for (int i = 0; i < 3; i++)
    assert_true(fabs(hist[i] / 20000.0 - sqrt(probs[i]) / z) < 0.02);
  tl_sampler_free(s);
}

static void test_repeat_penalty(void **state)
{
  (void)state;
  tl_sampler_params p = plain();
  p.temp = 0.0f;
  p.repeat_penalty = 2.0f;
  tl_sampler *s = make(&p, 3);
  const float pos[3] = {2.0f, 1.9f, -1.0f};
  assert_int_equal(tl_sampler_sample(s, pos), 0);
  tl_sampler_accept(s, 0);
  assert_int_equal(tl_sampler_sample(s, pos), 1); /* 2.0 / 2 = 1.0 < 1.9 */
  const float neg[3] = {-1.0f, -1.5f, -9.0f};
  assert_int_equal(tl_sampler_sample(s, neg), 1); /* -1.0 * 2 = -2.0 < -1.5 */
  tl_sampler_free(s);
}

static void test_presence_frequency(void **state)
{
  (void)state;
  tl_sampler_params p = plain();
  p.temp = 0.0f;
  p.presence_penalty = 0.3f;
  tl_sampler *s = make(&p, 2);
  const float a[2] = {1.0f, 0.8f};
  tl_sampler_accept(s, 0);
  tl_sampler_accept(s, 0);
  assert_int_equal(tl_sampler_sample(s, a), 1); /* once, not per occurrence: 0.7 < 0.8 */
  const float b[2] = {1.0f, 0.65f};
  assert_int_equal(tl_sampler_sample(s, b), 0); /* 0.7 > 0.65 */
  tl_sampler_free(s);

  p.presence_penalty = 0.0f;
  p.frequency_penalty = 0.1f;
  s = make(&p, 2);
  const float c[2] = {1.0f, 0.5f};
  for (int i = 0; i < 3; i++)
    tl_sampler_accept(s, 0);
  assert_int_equal(tl_sampler_sample(s, c), 0); /* 1.0 - 0.3 = 0.7 */
  for (int i = 0; i < 3; i++)
    tl_sampler_accept(s, 0);
  assert_int_equal(tl_sampler_sample(s, c), 1); /* 1.0 - 0.6 = 0.4 */
  tl_sampler_free(s);
}

static void test_penalty_window(void **state)
{
  (void)state;
  tl_sampler_params p = plain();
  p.temp = 0.0f;
  p.repeat_penalty = 10.0f;
  p.repeat_last_n = 2;
  tl_sampler *s = make(&p, 4);
  const float l[4] = {3.0f, 1.0f, 1.0f, 2.0f};
  tl_sampler_accept(s, 0);
  assert_int_equal(tl_sampler_sample(s, l), 3);
  tl_sampler_accept(s, 1);
  tl_sampler_accept(s, 2); /* 0 leaves the window */
  assert_int_equal(tl_sampler_sample(s, l), 0);
  tl_sampler_free(s);
}

static void test_invalid(void **state)
{
  (void)state;
  tl_sampler_params p = plain();
  tl_sampler *s = NULL;
  tl_error err;
  assert_int_equal(tl_sampler_create(&p, 0, &s, &err), TL_EINVAL);
  p.repeat_last_n = -1;
  assert_int_equal(tl_sampler_create(&p, 4, &s, &err), TL_EINVAL);
  assert_null(s);
  tl_sampler_free(NULL);
}

static void test_no_allocation_when_sampling(void **state)
{
  (void)state;
  tl_sampler_params p = plain();
  p.top_k = 3;
  p.repeat_penalty = 1.1f;
  tl_sampler *s = make(&p, 8);
  const float l[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  th_alloc_install(0);
  for (int i = 0; i < 50; i++)
    tl_sampler_accept(s, tl_sampler_sample(s, l));
  assert_int_equal(th_alloc_count(), 0);
  th_alloc_uninstall();
  tl_sampler_free(s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_greedy),
      cmocka_unit_test(test_seed_reproducible),
      cmocka_unit_test(test_distribution),
      cmocka_unit_test(test_top_k),
      cmocka_unit_test(test_top_p),
      cmocka_unit_test(test_min_p),
      cmocka_unit_test(test_temperature),
      cmocka_unit_test(test_repeat_penalty),
      cmocka_unit_test(test_presence_frequency),
      cmocka_unit_test(test_penalty_window),
      cmocka_unit_test(test_invalid),
      cmocka_unit_test(test_no_allocation_when_sampling),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
