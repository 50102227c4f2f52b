/* Tests of tune: the candidate ladder (general and Apple), quality tiers,
 * fit status, the recommendation per profile and with --quant, the device
 * split of hybrids, copy-paste commands per runtime, and the program's
 * exit code 3 when nothing fits. */
#include "plan-fixtures.h"

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

static void test_ladder_and_tiers(void **state)
{
  (void)state;
  tl_hw *hw = malloc(sizeof *hw);
  assert_non_null(hw);
  describe(hw, "RTX 4090", 1, 64);
  tl_ftype f[16];
  size_t n = tl_tune_ftypes(hw, f, 16);
  static const tl_ftype general[] = {TL_FTYPE_BF16, TL_FTYPE_Q8_0, TL_FTYPE_Q6_K, TL_FTYPE_Q5_K_M,
                                     TL_FTYPE_Q4_K_M, TL_FTYPE_Q3_K_M, TL_FTYPE_Q2_K};
  assert_int_equal(n, 7);
  for (size_t i = 0; i < n; i++)
    assert_int_equal(f[i], general[i]);
  describe(hw, "M3 Max", 1, 64);
  n = tl_tune_ftypes(hw, f, 16);
  assert_int_equal(n, 6); /* BF16 and 8/6/4/3/2-bit */
  assert_int_equal(tl_tune_ftypes(hw, f, 2), 2);
  free(hw);
  assert_int_equal(tl_ftype_quality_tier(TL_FTYPE_BF16), TL_TIER_BASELINE);
  assert_int_equal(tl_ftype_quality_tier(TL_FTYPE_Q8_0), TL_TIER_NEAR_LOSSLESS);
  assert_int_equal(tl_ftype_quality_tier(TL_FTYPE_Q6_K), TL_TIER_NEAR_LOSSLESS);
  assert_int_equal(tl_ftype_quality_tier(TL_FTYPE_Q5_K_M), TL_TIER_GOOD);
  assert_int_equal(tl_ftype_quality_tier(TL_FTYPE_Q4_K_M), TL_TIER_GOOD);
  assert_int_equal(tl_ftype_quality_tier(TL_FTYPE_Q3_K_M), TL_TIER_ACCEPTABLE);
  assert_int_equal(tl_ftype_quality_tier(TL_FTYPE_Q2_K), TL_TIER_DEGRADED);
  tl_tune_profile p;
  assert_int_equal(tl_tune_profile_parse("FAST", &p), TL_OK);
  assert_int_equal(p, TL_PROFILE_FAST);
  assert_int_equal(tl_tune_profile_parse("turbo", &p), TL_EINVAL);
}

/* A result with hand-set plans: which candidate each profile picks. */
static void set_candidate(tl_tune_result *r, size_t i, tl_ftype f, bool fits, tl_run_mode mode)
{
  tl_tune_candidate *c = &r->candidates[i];
  memset(c, 0, sizeof *c);
  c->ftype = f;
  c->plan.fits = fits;
  c->plan.mode = mode;
  c->plan.n_devices = 2;
}

static void test_choose(void **state)
{
  (void)state;
  tl_tune_result *r = calloc(1, sizeof *r);
  assert_non_null(r);
  static const tl_ftype ladder[] = {TL_FTYPE_BF16, TL_FTYPE_Q8_0, TL_FTYPE_Q6_K, TL_FTYPE_Q5_K_M,
                                    TL_FTYPE_Q4_K_M, TL_FTYPE_Q3_K_M, TL_FTYPE_Q2_K};
  /* everything fits on the GPU */
  r->n_candidates = 7;
  for (size_t i = 0; i < 7; i++)
    set_candidate(r, i, ladder[i], true, TL_RUN_GPU);
  tl_tune_choose(r, TL_PROFILE_BALANCED, (tl_ftype)-1);
  assert_int_equal(r->candidates[r->recommended].ftype, TL_FTYPE_Q4_K_M);
  tl_tune_choose(r, TL_PROFILE_QUALITY, (tl_ftype)-1);
  assert_int_equal(r->candidates[r->recommended].ftype, TL_FTYPE_BF16);
  tl_tune_choose(r, TL_PROFILE_FAST, (tl_ftype)-1);
  assert_int_equal(r->candidates[r->recommended].ftype, TL_FTYPE_Q4_K_M);
  assert_true(r->candidates[r->recommended].recommended);
  /* only Q3_K_M and Q2_K fit on the GPU, Q4_K_M and up only as hybrids */
  for (size_t i = 0; i < 5; i++)
    set_candidate(r, i, ladder[i], true, TL_RUN_CPU_OFFLOAD);
  tl_tune_choose(r, TL_PROFILE_BALANCED, (tl_ftype)-1);
  assert_int_equal(r->candidates[r->recommended].ftype, TL_FTYPE_Q3_K_M);
  assert_int_equal(r->candidates[0].status, TL_TUNE_HYBRID);
  assert_int_equal(r->candidates[5].status, TL_TUNE_FITS);
  /* --quant wins when it fits at all */
  tl_tune_choose(r, TL_PROFILE_BALANCED, TL_FTYPE_Q8_0);
  assert_int_equal(r->candidates[r->recommended].ftype, TL_FTYPE_Q8_0);
  /* nothing on the GPU alone: the profile's order among hybrids */
  for (size_t i = 0; i < 7; i++)
    set_candidate(r, i, ladder[i], i >= 3, TL_RUN_CPU_OFFLOAD);
  tl_tune_choose(r, TL_PROFILE_BALANCED, (tl_ftype)-1);
  assert_int_equal(r->candidates[r->recommended].ftype, TL_FTYPE_Q4_K_M);
  tl_tune_choose(r, TL_PROFILE_QUALITY, (tl_ftype)-1);
  assert_int_equal(r->candidates[r->recommended].ftype, TL_FTYPE_Q5_K_M);
  assert_int_equal(r->candidates[0].status, TL_TUNE_TOO_LARGE);
  /* nothing at all */
  for (size_t i = 0; i < 7; i++)
    set_candidate(r, i, ladder[i], false, TL_RUN_CPU_OFFLOAD);
  tl_tune_choose(r, TL_PROFILE_BALANCED, (tl_ftype)-1);
  assert_int_equal(r->recommended, -1);
  free(r);
}

/* Llama 3.1 70B on one RTX 4090 with 128 GiB of RAM: the big mixtures are
 * hybrids with a layer split, the 2-bit one fits on neither alone; the
 * commands carry the plan's figures. */
static void test_tune_hybrid_and_commands(void **state)
{
  (void)state;
  tl_catalog *c = NULL;
  assert_int_equal(tl_catalog_load_default(&c, NULL), TL_OK);
  tl_hw *hw = malloc(sizeof *hw);
  assert_non_null(hw);
  describe(hw, "RTX 4090", 1, 128);
  tl_model_desc *m = NULL;
  tl_error err;
  assert_int_equal(tl_model_desc_open("llama-3.1-70b-instruct", c, TL_FTYPE_Q4_K_M, &m, &err), TL_OK);
  tl_plan_settings s = settings(TL_RUNTIME_LLAMACPP, 8192);
  tl_tune_result *r = malloc(sizeof *r);
  assert_non_null(r);
  assert_int_equal(tl_tune_model(m, hw, &s, TL_PROFILE_BALANCED, (tl_ftype)-1, r, &err), TL_OK);
  assert_int_equal(r->n_candidates, 7);
  assert_true(r->recommended >= 0);
  const tl_tune_candidate *q4 = &r->candidates[4];
  assert_int_equal(q4->ftype, TL_FTYPE_Q4_K_M);
  assert_int_equal(q4->status, TL_TUNE_HYBRID);
  assert_int_equal(q4->plan.mode, TL_RUN_CPU_OFFLOAD);
  assert_true(q4->plan.n_gpu_layers > 0 && q4->plan.n_gpu_layers < 80);
  /* sizes fall down the ladder */
  for (size_t i = 1; i < r->n_candidates; i++)
    assert_true(r->candidates[i].weight_bytes < r->candidates[i - 1].weight_bytes);
  const tl_tune_candidate *rec = &r->candidates[r->recommended];
  assert_int_equal(rec->ftype, TL_FTYPE_Q4_K_M);
  char want[64];
  snprintf(want, sizeof want, "-ngl %u", rec->plan.n_gpu_layers);
  const char *ll = r->commands[TL_RUNTIME_LLAMACPP];
  print_message("%s\n%s\n%s\n%s\n", r->commands[0], ll, r->commands[2], r->commands[3]);
  assert_non_null(strstr(ll, "llama-server -m llama-3.1-70b-instruct-"));
  assert_non_null(strstr(ll, "-c 8192"));
  assert_non_null(strstr(ll, want));
  assert_non_null(strstr(ll, "-fa on"));
  assert_non_null(strstr(ll, "--parallel 1"));
  assert_non_null(strstr(r->commands[TL_RUNTIME_TAILOR], "tailor run llama-3.1-70b-instruct-"));
  assert_non_null(strstr(r->commands[TL_RUNTIME_TAILOR], ".gguf -c 8192"));
  assert_non_null(strstr(r->commands[TL_RUNTIME_OLLAMA], "PARAMETER num_ctx 8192"));
  /* vLLM keeps every weight on the GPU: a 70B model does not fit one 4090 */
  assert_string_equal(r->commands[TL_RUNTIME_VLLM], "");
  /* the tailor runtime recommends from its own plan (hybrid split noted in the command) */
  char *json = NULL;
  assert_int_equal(tl_tune_to_json(r, &json, &err), TL_OK);
  json_t *j = json_loads(json, 0, NULL);
  assert_non_null(j);
  assert_int_equal(json_array_size(json_object_get(j, "candidates")), 7);
  assert_true(json_is_string(json_object_get(json_object_get(j, "commands"), "llama.cpp")));
  assert_true(json_is_null(json_object_get(json_object_get(j, "commands"), "vllm")));
  json_decref(j);
  tl_free(json);

  /* 8 x H100: vLLM serves it with tensor parallelism */
  describe(hw, "H100", 8, 1024);
  s = settings(TL_RUNTIME_TAILOR, 8192);
  assert_int_equal(tl_tune_model(m, hw, &s, TL_PROFILE_QUALITY, (tl_ftype)-1, r, &err), TL_OK);
  assert_int_equal(r->candidates[r->recommended].ftype, TL_FTYPE_BF16);
  print_message("%s\n", r->commands[TL_RUNTIME_VLLM]);
  assert_non_null(strstr(r->commands[TL_RUNTIME_VLLM], "vllm serve meta-llama/"));
  assert_non_null(strstr(r->commands[TL_RUNTIME_VLLM], "--tensor-parallel-size 8"));
  assert_non_null(strstr(r->commands[TL_RUNTIME_VLLM], "--max-model-len 8192"));
  free(r);
  tl_model_desc_free(m);
  free(hw);
  tl_catalog_free(c);
}

static void test_cli_nothing_fits(void **state)
{
  (void)state;
  const char *args[] = {"tune", "llama-3.1-70b-instruct", "--ram", "8", NULL};
  char *out = NULL, *errs = NULL;
  assert_int_equal(th_run_tailor(args, NULL, &out, &errs), 3);
  assert_non_null(strstr(errs, "nothing fits"));
  assert_non_null(strstr(out, "TooLarge"));
  assert_non_null(strstr(out, "Warnings:"));
  free(out);
  free(errs);
  const char *args2[] = {"tune", "qwen3-0.6b", "--ram", "8", "--quant", "Q8_0", NULL};
  assert_int_equal(th_run_tailor(args2, NULL, &out, &errs), 0);
  assert_non_null(strstr(out, "Recommended: Q8_0"));
  free(out);
  free(errs);
  const char *args3[] = {"tune", NULL};
  assert_int_equal(th_run_tailor(args3, NULL, &out, &errs), 2);
  free(out);
  free(errs);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ladder_and_tiers),
      cmocka_unit_test(test_choose),
      cmocka_unit_test(test_tune_hybrid_and_commands),
      cmocka_unit_test(test_cli_nothing_fits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
