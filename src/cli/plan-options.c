/* Parsing of the shared plan options (plan-options.h). */
#include "plan-options.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

void tl_cli_plan_opts_init(tl_cli_plan_opts *o)
{
  memset(o, 0, sizeof *o);
  tl_plan_settings_init(&o->settings);
  tl_efficiency_default(&o->eff);
}

int tl_cli_option_value(const char *name, int argc, char **argv, int *i, const char **val, const char *cmd)
{
  const char *a = argv[*i];
  size_t n = strlen(name);
  if (strncmp(a, name, n) != 0)
    return 0;
  if (a[n] == '=') {
    *val = a + n + 1;
    return 1;
  }
  if (a[n] != '\0')
    return 0;
  if (*i + 1 >= argc)
    return tl_cli_usage_error(cmd, "%s needs a value", name);
  *val = argv[++*i];
  return 1;
}

static bool parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi)
    return false;
  *out = (uint32_t)v;
  return true;
}

bool tl_cli_parse_count(const char *s, uint64_t *out)
{
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || !isfinite(v) || v <= 0)
    return false;
  double mult = 1;
  if (*end == 'k' || *end == 'K')
    mult = 1e3, end++;
  else if (*end == 'm' || *end == 'M')
    mult = 1e6, end++;
  else if (*end == 'b' || *end == 'B' || *end == 'g' || *end == 'G')
    mult = 1e9, end++;
  else if (*end == 't' || *end == 'T')
    mult = 1e12, end++;
  if (*end)
    return false;
  v *= mult;
  if (v > 1e15)
    return false;
  *out = (uint64_t)(v + 0.5);
  return true;
}

void tl_cli_gib(char *buf, size_t n, uint64_t bytes)
{
  double g = (double)bytes / 1073741824.0;
  snprintf(buf, n, g >= 100 ? "%.0f GiB" : "%.1f GiB", g);
}

int tl_cli_plan_parse(tl_cli_plan_opts *o, int argc, char **argv, int *i, const char *cmd)
{
  const char *v = NULL;
  int r;
  tl_plan_settings *s = &o->settings;
  if (!strcmp(argv[*i], "--json")) {
    o->json = true;
    return 1;
  }
  if ((r = tl_cli_option_value("--runtime", argc, argv, i, &v, cmd)) != 0) {
    if (r == 1 && tl_runtime_parse(v, &s->runtime) != TL_OK)
      return tl_cli_usage_error(cmd, "--runtime: '%s' is not one of tailor, llama.cpp, vllm, ollama", v);
    return r;
  }
  if ((r = tl_cli_option_value("--context", argc, argv, i, &v, cmd)) != 0) {
    if (r == 1 && !parse_u32(v, 1, 1u << 24, &s->n_ctx))
      return tl_cli_usage_error(cmd, "--context: '%s' is not a token count from 1 to 16777216", v);
    return r;
  }
  if ((r = tl_cli_option_value("--concurrency", argc, argv, i, &v, cmd)) != 0) {
    if (r == 1 && !parse_u32(v, 1, 4096, &s->n_parallel))
      return tl_cli_usage_error(cmd, "--concurrency: '%s' is not a count from 1 to 4096", v);
    if (r == 1)
      s->concurrency = s->n_parallel;
    return r;
  }
  if ((r = tl_cli_option_value("--use-case", argc, argv, i, &v, cmd)) != 0) {
    if (r == 1 && tl_use_case_parse(v, &s->use_case) != TL_OK)
      return tl_cli_usage_error(cmd, "--use-case: '%s' is not one of general, coding, reasoning, chat, multimodal, embedding", v);
    return r;
  }
  if ((r = tl_cli_option_value("--kv-type", argc, argv, i, &v, cmd)) != 0) {
    if (r == 1) {
      tl_qtype t;
      if (tl_qtype_parse(v, &t, NULL) != TL_OK ||
          !(t == TL_QTYPE_F16 || t == TL_QTYPE_F32 || t == TL_QTYPE_BF16 || t == TL_QTYPE_Q8_0 || t == TL_QTYPE_Q4_0))
        return tl_cli_usage_error(cmd, "--kv-type: '%s' is not one of f16, q8_0, q4_0, bf16, f32", v);
      s->kv_type_k = s->kv_type_v = t;
    }
    return r;
  }
  if ((r = tl_cli_option_value("--calibration", argc, argv, i, &v, cmd)) != 0) {
    if (r == 1)
      o->calibration = v;
    return r;
  }
  if ((r = tl_cli_option_value("--catalog", argc, argv, i, &v, cmd)) != 0) {
    if (r == 1)
      o->catalog_file = v;
    return r;
  }
  return 0;
}

int tl_cli_plan_finish(tl_cli_plan_opts *o, const char *cmd)
{
  if (o->calibration) {
    tl_error err;
    if (tl_efficiency_load(o->calibration, &o->eff, &err) != TL_OK)
      return tl_cli_fail(cmd, "%s", err.message);
  }
  o->settings.eff = &o->eff;
  return TL_EXIT_OK;
}

tl_catalog *tl_cli_plan_catalog(const tl_cli_plan_opts *o, const char *cmd)
{
  tl_catalog *c = NULL;
  tl_error err;
  if (tl_catalog_load_user(&c, &err) != TL_OK) {
    tl_cli_fail(cmd, "catalog: %s", err.message);
    return NULL;
  }
  if (o->catalog_file && tl_catalog_add_file(c, o->catalog_file, &err) != TL_OK) {
    tl_cli_fail(cmd, "%s", err.message);
    tl_catalog_free(c);
    return NULL;
  }
  return c;
}
