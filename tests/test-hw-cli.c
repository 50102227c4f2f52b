/* `tailor probe` end to end: JSON that parses, text, exit codes, the shared
 * hardware options (described machines, --hardware files) and bad usage. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static json_t *run_json(const char *const *args, const char *const *env, int want_rc)
{
  char *out = NULL, *err = NULL;
  int rc = th_run_tailor_env(args, env, NULL, &out, &err);
  if (rc != want_rc)
    fprintf(stderr, "exit %d (want %d)\nstdout:\n%s\nstderr:\n%s\n", rc, want_rc, out, err);
  assert_int_equal(rc, want_rc);
  json_error_t jerr;
  json_t *doc = json_loads(out, 0, &jerr);
  if (!doc)
    fprintf(stderr, "not JSON (%s):\n%s\n", jerr.text, out);
  assert_non_null(doc);
  free(out);
  free(err);
  return doc;
}

static void test_probe_json(void **state)
{
  (void)state;
  const char *args[] = {"probe", "--json", NULL};
  json_t *doc = run_json(args, NULL, 0);
  assert_int_equal(json_integer_value(json_object_get(doc, "schema_version")), 1);
  assert_string_equal(json_string_value(json_object_get(doc, "schema")), "tailor.hardware");
  json_t *cpu = json_object_get(doc, "cpu");
  assert_true(json_integer_value(json_object_get(cpu, "threads")) >= 1);
  assert_true(json_integer_value(json_object_get(json_object_get(doc, "memory"), "total_bytes")) >
              0);
  assert_true(json_is_array(json_object_get(doc, "gpus")));
  assert_true(json_is_string(json_object_get(doc, "platform_id")));
  json_decref(doc);
}

static void test_probe_text(void **state)
{
  (void)state;
  const char *args[] = {"probe", NULL};
  char *out = NULL, *err = NULL;
  assert_int_equal(th_run_tailor(args, NULL, &out, &err), 0);
  static const char *const lines[] = {
      "Hardware profile (probed)", "Platform ID", "CPU", "Memory", "Usable", "Capabilities", "GiB"};
  for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
    if (!strstr(out, lines[i]))
      fprintf(stderr, "missing '%s' in:\n%s\n", lines[i], out);
    assert_non_null(strstr(out, lines[i]));
  }
  free(out);
  free(err);
}

static void test_probe_sysroot_and_fake_nvml(void **state)
{
  (void)state;
  static char sysroot[4200], lib[4200];
  snprintf(sysroot, sizeof sysroot, "TAILOR_SYSROOT=%s", th_data_path("hw/xeon-2s/root"));
  const char *args[] = {"probe", "--json", NULL};
  const char *env[] = {sysroot, NULL};
  json_t *doc = run_json(args, env, 0);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "cpu"), "sockets")), 2);
  json_decref(doc);

  const char *fake = getenv("TAILOR_FAKE_NVML");
  assert_non_null(fake);
  snprintf(lib, sizeof lib, "TAILOR_NVML_LIB=%s", fake);
  const char *env2[] = {lib, "FAKE_NVML_GPUS=2", NULL};
  const char *targs[] = {"probe", NULL};
  char *out = NULL, *err = NULL;
  assert_int_equal(th_run_tailor_env(targs, env2, NULL, &out, &err), 0);
  assert_non_null(strstr(out, "GPUs (2)"));
  assert_non_null(strstr(out, "NVIDIA H100 80GB HBM3"));
  assert_non_null(strstr(out, "3352 GB/s (probed)"));
  assert_non_null(strstr(out, "(spec)"));
  assert_non_null(strstr(out, "Backend         cuda"));
  free(out);
  free(err);
}

static void test_described(void **state)
{
  (void)state;
  const char *args[] = {"probe", "--gpu", "RTX 4090",       "--gpus", "2",
                        "--ram", "64",    "--cpu-cores=16", "--json", NULL};
  json_t *doc = run_json(args, NULL, 0);
  assert_true(json_is_true(json_object_get(doc, "described")));
  assert_int_equal(json_array_size(json_object_get(doc, "gpus")), 2);
  assert_string_equal(json_string_value(json_object_get(doc, "platform_id")),
                      "nvidia_rtx_4090_24gb_x2");
  assert_int_equal(
      json_integer_value(json_object_get(json_object_get(doc, "memory"), "total_bytes")),
      64ll << 30);

  /* the JSON written is a --hardware file that reads back the same */
  char *text = json_dumps(doc, JSON_INDENT(2));
  char path[4200];
  snprintf(path, sizeof path, "%s/machine.json", th_tmpdir());
  assert_int_equal(th_write_file(path, text, strlen(text)), 0);
  const char *args2[] = {"probe", "--hardware", path, "--json", NULL};
  json_t *doc2 = run_json(args2, NULL, 0);
  assert_true(json_equal(doc, doc2));
  free(text);
  json_decref(doc);
  json_decref(doc2);

  /* an unknown GPU is described when its memory is given */
  const char *args3[] = {"probe", "--gpu", "Prototype Z1", "--vram", "48", "--json", NULL};
  json_t *doc3 = run_json(args3, NULL, 0);
  json_t *g = json_array_get(json_object_get(doc3, "gpus"), 0);
  assert_int_equal(json_integer_value(json_object_get(g, "vram_total_bytes")), 48ll << 30);
  json_decref(doc3);
}

static void test_exit_codes(void **state)
{
  (void)state;
  static const struct {
    const char *args[8];
    int rc;
    const char *err;
  } rows[] = {
      {{"probe", "--bogus"}, 2, "unknown option '--bogus'"},
      {{"probe", "--gpus", "0", "--gpu", "H100"}, 2, "--gpus"},
      {{"probe", "--gpus", "two", "--gpu", "H100"}, 2, "--gpus"},
      {{"probe", "--gpus", "2"}, 2, "--gpus needs --gpu"},
      {{"probe", "--vram", "24"}, 2, "--vram needs --gpu"},
      {{"probe", "--ram", "-5"}, 2, "--ram"},
      {{"probe", "--ram", "lots"}, 2, "--ram"},
      {{"probe", "--cpu-cores", "0"}, 2, "--cpu-cores"},
      {{"probe", "--gpu"}, 2, "--gpu needs a value"},
      {{"probe", "--gpu", "RTX 4099"}, 2, "close matches"},
      {{"probe", "--gpu", "H100", "--measure"}, 2, "--measure"},
      {{"probe", "--hardware", "/nonexistent/machine.json"}, 1, "cannot read"},
      {{"probe", "--hardware", "x.json", "--gpu", "H100"}, 2, "cannot be combined"},
      {{"probe", "--help"}, 0, ""},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    char *out = NULL, *err = NULL;
    int rc = th_run_tailor(rows[i].args, NULL, &out, &err);
    if (rc != rows[i].rc || !strstr(err, rows[i].err))
      fprintf(stderr, "row %zu: exit %d, stderr: %s\n", i, rc, err);
    assert_int_equal(rc, rows[i].rc);
    assert_non_null(strstr(err, rows[i].err));
    free(out);
    free(err);
  }
}

static void test_bad_hardware_file(void **state)
{
  (void)state;
  char path[4200];
  snprintf(path, sizeof path, "%s/bad.json", th_tmpdir());
  const char *doc = "{\"schema_version\": 1, \"cpu\": {\"cores\": \"many\"}}";
  assert_int_equal(th_write_file(path, doc, strlen(doc)), 0);
  const char *args[] = {"probe", "--hardware", path, NULL};
  char *out = NULL, *err = NULL;
  assert_int_equal(th_run_tailor(args, NULL, &out, &err), 1);
  assert_non_null(strstr(err, "cpu.cores"));
  free(out);
  free(err);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_probe_json),
      cmocka_unit_test(test_probe_text),
      cmocka_unit_test(test_probe_sysroot_and_fake_nvml),
      cmocka_unit_test(test_described),
      cmocka_unit_test(test_exit_codes),
      cmocka_unit_test(test_bad_hardware_file),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
