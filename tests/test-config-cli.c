/* `tailor config` end to end: exit codes and messages for invalid settings
 * (nothing written), the effective document and trace files, replay of an
 * emitted document to the same hash, environment overrides, and output that
 * is byte-for-byte the same across runs. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

static const char *model(void) { return th_data_path("models/stories260K.gguf"); }

static int run(const char *const *args, char **out, char **err)
{
  return th_run_tailor(args, NULL, out, err);
}

static void test_invalid_values_exit_2_and_write_nothing(void **state)
{
  (void)state;
  const char *dir = th_tmpdir();
  char cfg[4096];
  snprintf(cfg, sizeof cfg, "%s/cfg.json", dir);
  struct {
    const char *flag, *value, *err_has;
  } cases[] = {
      {"--mlock=maybe", NULL, "mlock (--mlock): 'maybe' is not a boolean"},
      {"-t", "-3", "threads (-t): '-3' is out of range"},
      {"--ctx-size", "99999", "above the model's maximum context of 2048"},
      {"--kv-type", "q4_0", "the cpu backend cannot store a q4_0 KV cache"},
      {"--flash-attn", NULL, "the cpu backend has no fused attention path"},
      {"-ngl", "3", "this machine has no GPU"},
      {"--kv-blocks", "4", "KV capacity of 64 tokens"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *out, *err;
    const char *args[] = {"config", model(), "--emit-config", cfg, cases[i].flag, cases[i].value,
                          NULL};
    int rc = run(args, &out, &err);
    if (rc != 2 || !strstr(err, cases[i].err_has))
      fail_msg("%s %s: rc %d, stderr '%s'", cases[i].flag, cases[i].value ? cases[i].value : "",
               rc, err);
    assert_int_not_equal(access(cfg, F_OK), 0);
    free(out);
    free(err);
  }
}

static void test_env_override_and_json(void **state)
{
  (void)state;
  const char *args[] = {"config", model(), "--json", NULL};
  const char *env[] = {"TAILOR_CTX_SIZE=1024", NULL};
  char *out, *err;
  assert_int_equal(th_run_tailor_env(args, env, NULL, &out, &err), 0);
  json_error_t je;
  json_t *doc = json_loads(out, 0, &je);
  assert_non_null(doc);
  json_t *e = json_object_get(json_object_get(doc, "entries"), "ctx_size");
  assert_int_equal(json_integer_value(json_object_get(e, "value")), 1024);
  assert_string_equal(json_string_value(json_object_get(e, "source")), "env");
  assert_string_equal(json_string_value(json_object_get(e, "source_key")), "TAILOR_CTX_SIZE");
  json_decref(doc);
  free(out);
  free(err);
}

static void test_emit_replay_same_hash(void **state)
{
  (void)state;
  const char *dir = th_tmpdir();
  char cfg[4096], trace[4096], cfg2[4096], trace2[4096];
  snprintf(cfg, sizeof cfg, "%s/cfg.json", dir);
  snprintf(trace, sizeof trace, "%s/trace.jsonl", dir);
  snprintf(cfg2, sizeof cfg2, "%s/cfg2.json", dir);
  snprintf(trace2, sizeof trace2, "%s/trace2.jsonl", dir);
  char *out, *err;
  /* a described machine: a probe's free memory changes between runs */
  const char *a1[] = {"config", model(), "--preset", "server", "--emit-config", cfg,
                      "--emit-trace", trace, "-c", "1024", "--gpu", "RTX 4090", NULL};
  assert_int_equal(run(a1, &out, &err), 0);
  free(out);
  free(err);
  /* the same inputs again: byte-identical files */
  const char *a2[] = {"config", model(), "--preset", "server", "--emit-config", cfg2,
                      "--emit-trace", trace2, "-c", "1024", "--gpu", "RTX 4090", NULL};
  assert_int_equal(run(a2, &out, &err), 0);
  free(out);
  free(err);
  char *c1 = th_read_file(cfg, NULL), *c2 = th_read_file(cfg2, NULL);
  char *t1 = th_read_file(trace, NULL), *t2 = th_read_file(trace2, NULL);
  assert_string_equal(c1, c2);
  assert_string_equal(t1, t2);
  /* every trace line is a JSON object naming its setting */
  int lines = 0;
  for (char *p = t1; *p;) {
    char *nl = strchr(p, '\n');
    assert_non_null(nl);
    json_t *o = json_loadb(p, (size_t)(nl - p), 0, NULL);
    assert_non_null(o);
    assert_non_null(json_string_value(json_object_get(o, "setting")));
    json_decref(o);
    lines++;
    p = nl + 1;
  }
  assert_true(lines >= 25);
  /* replay the emitted document: same hash */
  const char *a3[] = {"config", model(), "--config", cfg, "--json", "--gpu", "RTX 4090", NULL};
  assert_int_equal(run(a3, &out, &err), 0);
  json_t *d1 = json_loads(c1, 0, NULL), *d3 = json_loads(out, 0, NULL);
  assert_non_null(d1);
  assert_non_null(d3);
  assert_string_equal(json_string_value(json_object_get(d1, "hash")),
                      json_string_value(json_object_get(d3, "hash")));
  json_t *e = json_object_get(json_object_get(d3, "entries"), "parallel");
  assert_string_equal(json_string_value(json_object_get(e, "source")), "config_file");
  json_decref(d1);
  json_decref(d3);
  free(out);
  free(err);
  free(c1);
  free(c2);
  free(t1);
  free(t2);
}

static void test_bad_config_file(void **state)
{
  (void)state;
  const char *dir = th_tmpdir();
  char cfg[4096];
  snprintf(cfg, sizeof cfg, "%s/bad.json", dir);
  th_write_file(cfg, "{\"entries\": {\"ctx_size\": \"lots\"}}", 33);
  const char *args[] = {"config", model(), "--config", cfg, NULL};
  char *out, *err;
  assert_int_equal(run(args, &out, &err), 2);
  assert_non_null(strstr(err, "ctx_size ("));
  assert_non_null(strstr(err, "bad.json:entries.ctx_size): 'lots' is not a whole number"));
  free(out);
  free(err);
}

static void test_explain_and_emit(void **state)
{
  (void)state;
  char *out, *err;
  const char *a1[] = {"config", model(), "--explain", NULL};
  assert_int_equal(run(a1, &out, &err), 0);
  assert_non_null(strstr(out, "threads"));
  assert_non_null(strstr(out, "from hardware_capability (cpu.perf_cores)"));
  assert_non_null(strstr(out, "why:"));
  free(out);
  free(err);
  const char *a2[] = {"config", model(), "--emit", "llama-server", "-c", "512", NULL};
  assert_int_equal(run(a2, &out, &err), 0);
  assert_non_null(strstr(out, "llama-server -m "));
  assert_non_null(strstr(out, " -c 512 "));
  free(out);
  free(err);
  const char *a3[] = {"config", model(), "--emit", "nope", NULL};
  assert_int_equal(run(a3, &out, &err), 2);
  free(out);
  free(err);
  const char *a4[] = {"config", NULL};
  assert_int_equal(run(a4, &out, &err), 2);
  free(out);
  free(err);
  const char *a5[] = {"config", "/no/such/model.gguf", NULL};
  assert_int_equal(run(a5, &out, &err), 1);
  free(out);
  free(err);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_invalid_values_exit_2_and_write_nothing),
      cmocka_unit_test(test_env_override_and_json),
      cmocka_unit_test(test_emit_replay_same_hash),
      cmocka_unit_test(test_bad_config_file),
      cmocka_unit_test(test_explain_and_emit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
