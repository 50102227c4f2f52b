/* Tests of fit levels, notes, scores, ranking, the catalog run of `tailor fit`,
 * and the agreement of fit and tune: the same inputs give the same figures
 * through tl_fit_catalog and tl_tune_model, and through `tailor fit --json`
 * and `tailor tune --json`. */
#include "plan-fixtures.h"

#include <math.h>
#include <sys/stat.h>

/* The GPU bytes of the 8B model fully on one GPU at 8192 tokens. */
static uint64_t gpu_need(const tl_model_desc *m, tl_plan_settings *s)
{
  tl_hw hw;
  hw_cpu(&hw, 64 * GIB);
  hw_add_gpu(&hw, "big", 1000 * GIB, 1e12, false);
  tl_plan *p = estimate(m, &hw, s);
  uint64_t u = p->devices[1].used;
  free(p);
  return u;
}

/* Perfect <= 80% on GPU, Good <= 90%, Marginal above or spilled, TooTight
 * when it does not fit. */
static void test_fit_levels(void **state)
{
  (void)state;
  json_t *root = reference();
  tl_model_desc *m = reference_model(root, "8B-Q4_K");
  tl_plan_settings s = settings(TL_RUNTIME_LLAMACPP, 8192);
  uint64_t need = gpu_need(m, &s);
  static const struct {
    double util;
    tl_fit_level level;
    tl_run_mode mode;
  } cases[] = {
      {0.50, TL_FIT_PERFECT, TL_RUN_GPU},  {0.79, TL_FIT_PERFECT, TL_RUN_GPU}, {0.81, TL_FIT_GOOD, TL_RUN_GPU},
      {0.89, TL_FIT_GOOD, TL_RUN_GPU},     {0.95, TL_FIT_MARGINAL, TL_RUN_GPU},
      {1.30, TL_FIT_MARGINAL, TL_RUN_CPU_OFFLOAD},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tl_hw hw;
    hw_cpu(&hw, 64 * GIB);
    hw_add_gpu(&hw, "gpu", (uint64_t)((double)need / cases[i].util), 1e12, false);
    tl_plan *p = estimate(m, &hw, &s);
    print_message("util %.2f -> %s %s (%.3f)\n", cases[i].util, tl_fit_level_name(p->level),
                  tl_run_mode_name(p->mode), p->utilisation);
    assert_int_equal(p->mode, cases[i].mode);
    assert_int_equal(p->level, cases[i].level);
    free(p);
  }
  /* no GPU: the CPU alone is Perfect when roomy */
  tl_hw hw;
  hw_cpu(&hw, 64 * GIB);
  tl_plan *p = estimate(m, &hw, &s);
  assert_int_equal(p->level, TL_FIT_PERFECT);
  assert_int_equal(p->mode, TL_RUN_CPU_ONLY);
  free(p);
  free_model(m);
  json_decref(root);
}

static void test_scores(void **state)
{
  (void)state;
  static const double want[TL_USE_COUNT][4] = {
      {0.45, 0.30, 0.15, 0.10}, {0.50, 0.20, 0.15, 0.15}, {0.55, 0.15, 0.15, 0.15},
      {0.40, 0.35, 0.15, 0.10}, {0.50, 0.20, 0.15, 0.15}, {0.30, 0.40, 0.20, 0.10},
  };
  for (int u = 0; u < TL_USE_COUNT; u++) {
    double w[4];
    tl_use_case_weights((tl_use_case)u, w);
    for (int k = 0; k < 4; k++)
      assert_true(w[k] == want[u][k]);
    assert_true(fabs(w[0] + w[1] + w[2] + w[3] - 1.0) < 1e-12);
  }
  json_t *root = reference();
  tl_model_desc *m = reference_model(root, "8B-Q4_K");
  tl_hw hw;
  hw_cpu(&hw, 64 * GIB);
  hw_add_gpu(&hw, "RTX 4090", 24 * GIB, 1.008e12, false);
  tl_plan_settings s = settings(TL_RUNTIME_TAILOR, 8192);
  s.use_case = TL_USE_CODING;
  tl_plan *p = estimate(m, &hw, &s);
  double w[4];
  tl_use_case_weights(TL_USE_CODING, w);
  double composite = w[0] * p->score_quality + w[1] * p->score_speed + w[2] * p->score_fit + w[3] * p->score_context;
  assert_true(fabs(p->score - composite) < 1e-9);
  assert_true(p->score_fit == 100);
  /* a published benchmark figure replaces the heuristic */
  double heuristic = p->score_quality;
  s.quality_benchmark = 50;
  tl_plan *q = estimate(m, &hw, &s);
  assert_true(q->score_quality <= 50 && q->score_quality > 45);
  assert_true(q->score_quality != heuristic);
  free(q);
  /* lower quantizations score lower on quality */
  m->ftype_known = true;
  m->ftype = TL_FTYPE_Q8_0;
  s.quality_benchmark = -1;
  tl_plan *a = estimate(m, &hw, &s);
  m->ftype = TL_FTYPE_Q4_K_M;
  tl_plan *b = estimate(m, &hw, &s);
  m->ftype = TL_FTYPE_Q2_K;
  tl_plan *c = estimate(m, &hw, &s);
  assert_true(a->score_quality > b->score_quality && b->score_quality > c->score_quality);
  free(a);
  free(b);
  free(c);
  free(p);
  free_model(m);
  json_decref(root);
}

static void fill_row(tl_fit_row *r, const char *id, tl_ftype f, double score, double q, double tps, bool fits,
                     tl_fit_level level)
{
  memset(r, 0, sizeof *r);
  snprintf(r->id, sizeof r->id, "%s", id);
  r->ftype = f;
  r->plan.score = score;
  r->plan.score_quality = q;
  r->plan.decode_tps = tps;
  r->plan.fits = fits;
  r->plan.level = level;
}

static void test_rank(void **state)
{
  (void)state;
  tl_fit_row rows[5];
  fill_row(&rows[0], "a", TL_FTYPE_Q8_0, 60, 80, 10, true, TL_FIT_MARGINAL);
  fill_row(&rows[1], "a", TL_FTYPE_Q4_K_M, 70, 75, 30, true, TL_FIT_PERFECT);
  fill_row(&rows[2], "a", TL_FTYPE_BF16, 20, 82, 0, false, TL_FIT_TOO_TIGHT);
  fill_row(&rows[3], "b", TL_FTYPE_Q4_K_M, 65, 60, 50, true, TL_FIT_GOOD);
  fill_row(&rows[4], "b", TL_FTYPE_Q2_K, 50, 40, 80, true, TL_FIT_PERFECT);
  tl_fit_rank(rows, 5, TL_SORT_SCORE);
  assert_string_equal(rows[0].id, "a");
  assert_int_equal(rows[0].ftype, TL_FTYPE_Q4_K_M);
  assert_true(rows[0].best_quant); /* Good-or-better beats the higher-quality Marginal Q8_0 */
  assert_int_equal(rows[1].ftype, TL_FTYPE_Q4_K_M);
  assert_true(rows[1].best_quant); /* b: highest quality among Good-or-better */
  for (size_t i = 2; i < 5; i++)
    assert_false(rows[i].best_quant);
  tl_fit_rank(rows, 5, TL_SORT_SPEED);
  assert_int_equal(rows[0].ftype, TL_FTYPE_Q2_K);
  assert_int_equal(rows[4].ftype, TL_FTYPE_BF16); /* does not fit: last */
  tl_sort_key k;
  assert_int_equal(tl_sort_key_parse("Quality", &k), TL_OK);
  assert_int_equal(k, TL_SORT_QUALITY);
  assert_int_equal(tl_sort_key_parse("nope", &k), TL_EINVAL);
}

static void describe(tl_hw *hw, const char *gpu, uint32_t n, double ram)
{
  tl_hw_preset pr = {0};
  pr.gpu = gpu;
  pr.n_gpus = n;
  pr.ram_gib = ram;
  tl_error err;
  if (tl_hw_describe(&pr, hw, &err) != TL_OK)
    fail_msg("describe %s: %s", gpu ? gpu : "cpu", err.message);
}

static void same_plan(const tl_plan *a, const tl_plan *b)
{
  assert_int_equal(a->required, b->required);
  assert_int_equal(a->available, b->available);
  for (int c = 0; c < TL_MEM_COUNT; c++)
    assert_int_equal(a->bytes[c], b->bytes[c]);
  assert_int_equal(a->mode, b->mode);
  assert_int_equal(a->level, b->level);
  assert_int_equal(a->n_ctx_max, b->n_ctx_max);
  assert_true(a->decode_tps == b->decode_tps);
  assert_true(a->prefill_tps == b->prefill_tps);
  assert_true(a->score == b->score);
  assert_true(a->score_quality == b->score_quality);
}

/* fit (catalog run) and tune (one model) plan through the same estimator */
static void test_fit_and_tune_agree(void **state)
{
  (void)state;
  tl_catalog *c = NULL;
  assert_int_equal(tl_catalog_load_default(&c, NULL), TL_OK);
  tl_hw *hw = malloc(sizeof *hw);
  assert_non_null(hw);
  describe(hw, "RTX 4090", 1, 64);
  tl_fit_query q;
  tl_fit_query_init(&q);
  q.family = "qwen3";
  q.settings.n_ctx = 8192;
  tl_fit_row *rows = NULL;
  size_t n = 0;
  tl_error err;
  assert_int_equal(tl_fit_catalog(c, hw, &q, TL_SORT_SCORE, &rows, &n, &err), TL_OK);
  assert_true(n > 0);
  const tl_fit_row *fr = NULL;
  for (size_t i = 0; i < n; i++)
    if (!strcmp(rows[i].id, "qwen3-8b") && rows[i].ftype == TL_FTYPE_Q4_K_M)
      fr = &rows[i];
  assert_non_null(fr);
  /* ranked: scores never increase down the list */
  for (size_t i = 1; i < n; i++)
    assert_true(rows[i].plan.score <= rows[i - 1].plan.score);

  tl_model_desc *m = NULL;
  assert_int_equal(tl_model_desc_open("qwen3-8b", c, TL_FTYPE_Q4_K_M, &m, &err), TL_OK);
  tl_plan_settings s = q.settings;
  tl_plan_settings_from_catalog(&s, tl_catalog_find(c, "qwen3-8b"));
  tl_tune_result *r = malloc(sizeof *r);
  assert_non_null(r);
  assert_int_equal(tl_tune_model(m, hw, &s, TL_PROFILE_BALANCED, (tl_ftype)-1, r, &err), TL_OK);
  const tl_tune_candidate *tc = NULL;
  for (size_t i = 0; i < r->n_candidates; i++)
    if (r->candidates[i].ftype == TL_FTYPE_Q4_K_M)
      tc = &r->candidates[i];
  assert_non_null(tc);
  same_plan(&fr->plan, &tc->plan);
  /* a re-typed candidate (Q8_0, not the opened mixture) agrees too */
  for (size_t i = 0; i < n; i++)
    if (!strcmp(rows[i].id, "qwen3-8b") && rows[i].ftype == TL_FTYPE_Q8_0)
      for (size_t k = 0; k < r->n_candidates; k++)
        if (r->candidates[k].ftype == TL_FTYPE_Q8_0)
          same_plan(&rows[i].plan, &r->candidates[k].plan);
  free(r);
  tl_model_desc_free(m);
  tl_free(rows);
  free(hw);
  tl_catalog_free(c);
}

static json_t *find_quant(json_t *arr, const char *list_key, const char *id_key, const char *id, const char *quant)
{
  (void)list_key;
  size_t i;
  json_t *o;
  json_array_foreach(arr, i, o)
  {
    if (id_key && strcmp(json_string_value(json_object_get(o, id_key)), id) != 0)
      continue;
    if (!strcmp(json_string_value(json_object_get(o, "quant")), quant))
      return json_object_get(o, "plan");
  }
  return NULL;
}

/* The same through the program: `tailor fit SRC --json` and `tailor tune SRC --json`. */
static void test_cli_fit_and_tune_agree(void **state)
{
  (void)state;
  const char *fit_args[] = {"fit", "qwen3-8b", "--gpu", "RTX 4090", "--ram", "64", "--context", "8192",
                            "--json", "--limit", "0", NULL};
  const char *tune_args[] = {"tune", "qwen3-8b", "--gpu", "RTX 4090", "--ram", "64", "--context", "8192",
                             "--json", NULL};
  char *out = NULL, *errs = NULL, *out2 = NULL, *errs2 = NULL;
  assert_int_equal(th_run_tailor(fit_args, NULL, &out, &errs), 0);
  assert_int_equal(th_run_tailor(tune_args, NULL, &out2, &errs2), 0);
  json_t *fit = json_loads(out, 0, NULL), *tune = json_loads(out2, 0, NULL);
  assert_non_null(fit);
  assert_non_null(tune);
  json_t *a = find_quant(json_object_get(fit, "rows"), "rows", "id", "qwen3-8b", "Q4_K_M");
  json_t *b = find_quant(json_object_get(tune, "candidates"), "candidates", NULL, NULL, "Q4_K_M");
  assert_non_null(a);
  assert_non_null(b);
  assert_true(json_equal(a, b));
  assert_string_equal(json_string_value(json_object_get(tune, "recommended")), "Q4_K_M");
  json_decref(fit);
  json_decref(tune);
  free(out);
  free(errs);
  free(out2);
  free(errs2);
}

static void test_cli_usage(void **state)
{
  (void)state;
  char *out = NULL, *errs = NULL;
  const char *bad_sort[] = {"fit", "--sort", "colour", NULL};
  assert_int_equal(th_run_tailor(bad_sort, NULL, &out, &errs), 2);
  assert_non_null(strstr(errs, "--sort"));
  free(out);
  free(errs);
  const char *bad_rt[] = {"fit", "--runtime", "tgi", NULL};
  assert_int_equal(th_run_tailor(bad_rt, NULL, &out, &errs), 2);
  free(out);
  free(errs);
  /* filters: only coding models up to 8B, at most Good, on a 4090 */
  const char *filt[] = {"fit", "--gpu", "RTX 4090", "--tag", "coding", "--max-params", "8B", "--fit-level", "good",
                        "--json", "--limit", "0", NULL};
  assert_int_equal(th_run_tailor(filt, NULL, &out, &errs), 0);
  json_t *j = json_loads(out, 0, NULL);
  assert_non_null(j);
  size_t i;
  json_t *row;
  assert_true(json_array_size(json_object_get(j, "rows")) > 0);
  json_array_foreach(json_object_get(j, "rows"), i, row)
  {
    assert_true(json_integer_value(json_object_get(row, "params")) <= 8000000000);
    const char *lvl = json_string_value(json_object_get(json_object_get(row, "plan"), "fit_level"));
    assert_true(!strcmp(lvl, "Perfect") || !strcmp(lvl, "Good"));
  }
  json_decref(j);
  free(out);
  free(errs);
}

/* --local finds GGUF files in the usual caches under $HOME */
static void test_cli_local(void **state)
{
  (void)state;
  const char *home = th_tmpdir();
  char dir[1024], path[1200];
  snprintf(dir, sizeof dir, "%s/.lmstudio", home);
  assert_int_equal(mkdir(dir, 0755), 0);
  snprintf(dir, sizeof dir, "%s/.lmstudio/models", home);
  assert_int_equal(mkdir(dir, 0755), 0);
  snprintf(dir, sizeof dir, "%s/.lmstudio/models/tiny", home);
  assert_int_equal(mkdir(dir, 0755), 0);
  size_t len = 0;
  char *gguf = th_read_file(th_data_path("models/stories260K.gguf"), &len);
  assert_non_null(gguf);
  snprintf(path, sizeof path, "%s/stories260K.gguf", dir);
  assert_int_equal(th_write_file(path, gguf, len), 0);
  free(gguf);
  char env_home[1100];
  snprintf(env_home, sizeof env_home, "HOME=%s", home);
  const char *env[] = {env_home, NULL};
  const char *args[] = {"fit", "--local", "--ram", "8", "--json", NULL};
  char *out = NULL, *errs = NULL;
  int rc = th_run_tailor_env(args, env, NULL, &out, &errs);
  if (rc != 0)
    fail_msg("fit --local: %d: %s", rc, errs);
  json_t *j = json_loads(out, 0, NULL);
  assert_non_null(j);
  json_t *rows = json_object_get(j, "rows");
  assert_int_equal(json_array_size(rows), 1);
  assert_non_null(strstr(json_string_value(json_object_get(json_array_get(rows, 0), "id")), "stories260K.gguf"));
  json_decref(j);
  free(out);
  free(errs);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fit_levels),          cmocka_unit_test(test_scores),
      cmocka_unit_test(test_rank),                cmocka_unit_test(test_fit_and_tune_agree),
      cmocka_unit_test(test_cli_fit_and_tune_agree), cmocka_unit_test(test_cli_usage),
      cmocka_unit_test(test_cli_local),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
