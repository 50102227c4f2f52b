/* Hardware probing from recorded sysroots (tests/data/hw/<case>/root): the
 * probe output (as JSON) must match tests/data/hw/<case>/expected.json. A
 * new machine is a new directory. Also the file helpers' parsers. */
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "hw/internal.h"
#include "tailor/tailor.h"

/* "gpus.0.arch" -> the value in doc, or NULL */
static json_t *at_path(json_t *doc, const char *path)
{
  char buf[256];
  snprintf(buf, sizeof buf, "%s", path);
  json_t *cur = doc;
  for (char *tok = strtok(buf, "."); tok && cur; tok = strtok(NULL, ".")) {
    if (json_is_array(cur))
      cur = json_array_get(cur, (size_t)atoi(tok));
    else
      cur = json_object_get(cur, tok);
  }
  return cur;
}

static bool contains(json_t *actual, const char *needle)
{
  if (json_is_string(actual))
    return strstr(json_string_value(actual), needle) != NULL;
  size_t i;
  json_t *v;
  json_array_foreach(actual, i, v)
  {
    if (json_is_string(v) && strstr(json_string_value(v), needle))
      return true;
  }
  return false;
}

/* Checks every key of expected against doc; prints each mismatch. Returns
 * the number of mismatches. */
static int compare_expected(const char *name, json_t *doc, json_t *expected)
{
  int bad = 0;
  const char *key;
  json_t *want;
  json_object_foreach(expected, key, want)
  {
    char path[256];
    size_t kl = strlen(key);
    bool sub = kl && key[kl - 1] == '~';
    snprintf(path, sizeof path, "%.*s", (int)(sub ? kl - 1 : kl), key);
    json_t *got = at_path(doc, path);
    char *gs = got ? json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    char *ws = json_dumps(want, JSON_ENCODE_ANY | JSON_COMPACT);
    bool ok;
    if (sub) {
      ok = got != NULL;
      size_t i;
      json_t *n;
      json_array_foreach(want, i, n)
      {
        ok = ok && contains(got, json_string_value(n));
      }
    } else if (json_is_number(want)) {
      double w = json_number_value(want),
             g = got && json_is_number(got) ? json_number_value(got) : NAN;
      ok = fabs(g - w) <= 1e-9 * fabs(w) + 1e-9;
    } else {
      ok = got && json_equal(got, want);
    }
    if (!ok) {
      fprintf(stderr, "%s: %s: expected %s, got %s\n", name, key, ws, gs ? gs : "(absent)");
      bad++;
    }
    free(gs);
    free(ws);
  }
  return bad;
}

static void test_sysroot_cases(void **state)
{
  (void)state;
  const char *dir = th_data_path("hw");
  char base[4096];
  snprintf(base, sizeof base, "%s", dir);
  DIR *d = opendir(base);
  assert_non_null(d);
  struct dirent *e;
  int cases = 0, bad = 0;
  tl_hw *hw = calloc(1, sizeof *hw);
  while ((e = readdir(d)) != NULL) {
    char exp_path[4600], root[4600];
    snprintf(exp_path, sizeof exp_path, "%s/%s/expected.json", base, e->d_name);
    snprintf(root, sizeof root, "%s/%s/root", base, e->d_name);
    json_error_t jerr;
    json_t *expected = json_load_file(exp_path, 0, &jerr);
    if (!expected)
      continue;
    tl_hw_probe_opts opts = {.sysroot = root};
    tl_error err;
    assert_int_equal(tl_hw_probe(hw, &opts, &err), TL_OK);
    char *text = NULL;
    assert_int_equal(tl_hw_to_json(hw, &text, &err), TL_OK);
    json_t *doc = json_loads(text, 0, &jerr);
    assert_non_null(doc);
    int b = compare_expected(e->d_name, doc, expected);
    if (b)
      fprintf(stderr, "%s: probe output:\n%s\n", e->d_name, text);
    bad += b;
    cases++;
    json_decref(doc);
    json_decref(expected);
    tl_free(text);
  }
  closedir(d);
  free(hw);
  assert_true(cases >= 9);
  assert_int_equal(bad, 0);
}

/* A warning names the file once, and tl__warn logs it. */
static int g_logged;
static void count_log(tl_log_level level, const char *msg, void *ud)
{
  (void)ud;
  if (level == TL_LOG_WARN && strstr(msg, "/proc/meminfo"))
    g_logged++;
}

static void test_warning_logged_once_per_file(void **state)
{
  (void)state;
  tl_hw *hw = calloc(1, sizeof *hw);
  tl_set_log(count_log, NULL, TL_LOG_DEBUG);
  g_logged = 0;
  tl_hw_probe_opts opts = {.sysroot = th_data_path("hw/malformed/root")};
  assert_int_equal(tl_hw_probe(hw, &opts, NULL), TL_OK);
  tl_set_log(NULL, NULL, TL_LOG_WARN);
  int n = 0;
  for (size_t i = 0; i < hw->n_warnings; i++)
    n += strstr(hw->warnings[i], "/proc/meminfo") != NULL;
  assert_int_equal(n, 1);
  assert_int_equal(g_logged, 1);
  /* what could be read is still there */
  assert_int_equal(hw->cpu.threads, 4);
  assert_true(hw->cpu.isa & TL_ISA_AVX2);
  free(hw);
}

static void test_sysroot_from_env(void **state)
{
  (void)state;
  tl_hw *hw = calloc(1, sizeof *hw);
  setenv("TAILOR_SYSROOT", th_data_path("hw/xeon-2s/root"), 1);
  assert_int_equal(tl_hw_probe(hw, NULL, NULL), TL_OK);
  unsetenv("TAILOR_SYSROOT");
  assert_int_equal(hw->cpu.sockets, 2);
  assert_string_equal(hw->hostname, "xeon-2s");
  free(hw);
}

static void test_live_probe(void **state)
{
  (void)state;
  tl_hw *hw = calloc(1, sizeof *hw);
  tl_hw_probe_opts opts = {.skip_gpus = true};
  assert_int_equal(tl_hw_probe(hw, &opts, NULL), TL_OK);
  assert_true(hw->cpu.threads >= 1);
  assert_true(hw->cpu.cores >= 1 && hw->cpu.cores <= hw->cpu.threads);
  assert_true(hw->mem.total > 0);
  assert_true(hw->mem.usable <= hw->mem.total);
  assert_true(hw->platform_id[0] != '\0');
  assert_false(hw->described);
  assert_int_equal(tl_hw_probe(NULL, NULL, NULL), TL_EINVAL);
  free(hw);
}

static void test_cpulist(void **state)
{
  (void)state;
  static const struct {
    const char *in;
    int count;
  } rows[] = {
      {"0-3\n", 4}, {"0", 1},   {"0-3,8,10-11", 7}, {"", 0},       {"\n", 0},     {"3-1", -1},
      {"a", -1},    {"0-", -1}, {"0,,1", -1},       {"99999", -1}, {"1-2 x", -1},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    uint8_t bits[1024] = {0};
    int got = tl__hw_parse_cpulist(rows[i].in, bits, 8192);
    if (got != rows[i].count)
      fprintf(stderr, "cpulist '%s': expected %d, got %d\n", rows[i].in, rows[i].count, got);
    assert_int_equal(got, rows[i].count);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sysroot_cases),    cmocka_unit_test(test_warning_logged_once_per_file),
      cmocka_unit_test(test_sysroot_from_env), cmocka_unit_test(test_live_probe),
      cmocka_unit_test(test_cpulist),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
