/* `tailor run` through the settings resolver: the settings it ran with carry
 * their sources, invalid settings stop it before loading (exit 2), and the
 * memory the engine allocated matches the plan's estimate for the built-in
 * engine within 2%. */
#include "harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static const char *model(void) { return th_data_path("models/stories260K.gguf"); }

static json_t *run_json(const char *const *extra, const char *const *env)
{
  const char *args[32] = {"run", model(), "-p", "Once upon a time", "-n", "16", "--json"};
  size_t n = 7;
  for (size_t i = 0; extra && extra[i]; i++)
    args[n++] = extra[i];
  args[n] = NULL;
  char *out, *err;
  int rc = th_run_tailor_env(args, env, NULL, &out, &err);
  if (rc != 0)
    fail_msg("tailor run: exit %d: %s", rc, err);
  json_t *j = json_loads(out, 0, NULL);
  if (!j)
    fail_msg("tailor run: not JSON: %s", out);
  free(out);
  free(err);
  return j;
}

static const char *setting(json_t *j, const char *key, const char *field)
{
  return json_string_value(json_object_get(json_object_get(json_object_get(j, "settings"), key),
                                           field));
}

static void test_estimate_matches(void **state)
{
  (void)state;
  const char *contexts[] = {"256", "2048", NULL};
  for (int i = 0; contexts[i]; i++) {
    const char *extra[] = {"-c", contexts[i], "--kv-type", i ? "f16" : "q8_0", NULL};
    json_t *j = run_json(extra, NULL);
    json_t *mem = json_object_get(j, "memory"), *est = json_object_get(j, "estimate");
    assert_non_null(mem);
    assert_non_null(est);
    const char *cat[] = {"weights", "kv_cache"};
    for (int k = 0; k < 2; k++)
      assert_int_equal(json_integer_value(json_object_get(mem, cat[k])),
                       json_integer_value(json_object_get(est, cat[k])));
    double m = (double)json_integer_value(json_object_get(mem, "total"));
    double e = (double)json_integer_value(json_object_get(est, "total"));
    if (fabs(m - e) / e > 0.02)
      fail_msg("ctx %s: allocated %.0f bytes, estimated %.0f (%.2f%%)", contexts[i], m, e,
               100 * (m - e) / e);
    json_decref(j);
  }
}

static void test_settings_sources(void **state)
{
  (void)state;
  const char *extra[] = {"--temp", "0", "-c", "512", NULL};
  const char *env[] = {"TAILOR_TOP_K=7", NULL};
  json_t *j = run_json(extra, env);
  assert_string_equal(setting(j, "ctx_size", "value"), "512");
  assert_string_equal(setting(j, "ctx_size", "source"), "cli");
  assert_string_equal(setting(j, "ctx_size", "source_key"), "-c");
  assert_string_equal(setting(j, "top_k", "source"), "env");
  assert_string_equal(setting(j, "threads", "source"), "hardware_capability");
  assert_string_equal(setting(j, "backend", "value"), "cpu");
  assert_int_equal(strlen(json_string_value(json_object_get(j, "config_hash"))), 64);
  /* greedy: the shipped model's documented continuation */
  const char *text = json_string_value(json_object_get(j, "text"));
  assert_non_null(strstr(text, ", there was a little girl named Lily"));
  json_decref(j);
}

static void test_invalid_settings(void **state)
{
  (void)state;
  struct {
    const char *a, *b, *err;
  } cases[] = {
      {"-c", "100000", "above the model's maximum context of 2048"},
      {"--kv-type", "q4_0", "cannot store a q4_0 KV cache"},
      {"-ngl", "2", "this machine has no GPU"},
      {"--mlock=maybe", NULL, "is not a boolean"},
      {"--backend", "cuda", "backend (--backend)"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *args[] = {"run", model(), "-p", "x", cases[i].a, cases[i].b, NULL};
    char *out, *err;
    int rc = th_run_tailor(args, NULL, &out, &err);
    if (rc != 2 || !strstr(err, cases[i].err) || out[0])
      fail_msg("%s %s: exit %d, stdout '%s', stderr '%s'", cases[i].a, cases[i].b ? cases[i].b : "",
               rc, out, err);
    free(out);
    free(err);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_estimate_matches),
      cmocka_unit_test(test_settings_sources),
      cmocka_unit_test(test_invalid_settings),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
