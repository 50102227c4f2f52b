/* NVIDIA GPUs through the real dlopen path of src/hw/gpu-nvml.c, against the
 * fake libnvidia-ml built by tests/cmake/hw.cmake ($TAILOR_FAKE_NVML):
 * 1, 2 (mixed) and 8 GPUs, a missing library, and NVML calls that fail. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tailor/tailor.h"

static tl_hw *probe_with(const char *gpus, const char *names, const char *fail)
{
  const char *lib = getenv("TAILOR_FAKE_NVML");
  assert_non_null(lib);
  setenv("TAILOR_NVML_LIB", lib, 1);
  if (gpus)
    setenv("FAKE_NVML_GPUS", gpus, 1);
  else
    unsetenv("FAKE_NVML_GPUS");
  if (names)
    setenv("FAKE_NVML_NAMES", names, 1);
  else
    unsetenv("FAKE_NVML_NAMES");
  if (fail)
    setenv("FAKE_NVML_FAIL", fail, 1);
  else
    unsetenv("FAKE_NVML_FAIL");
  tl_hw *hw = calloc(1, sizeof *hw);
  assert_int_equal(tl_hw_probe(hw, NULL, NULL), TL_OK);
  return hw;
}

static size_t nvidia_count(const tl_hw *hw)
{
  size_t n = 0;
  for (size_t i = 0; i < hw->n_gpus; i++)
    n += hw->gpus[i].vendor == TL_GPU_NVIDIA;
  return n;
}

static bool has_warning(const tl_hw *hw, const char *needle)
{
  for (size_t i = 0; i < hw->n_warnings; i++)
    if (strstr(hw->warnings[i], needle))
      return true;
  return false;
}

static void test_one_h100(void **state)
{
  (void)state;
  tl_hw *hw = probe_with("1", NULL, NULL);
  assert_int_equal(nvidia_count(hw), 1);
  const tl_gpu *g = &hw->gpus[0];
  assert_string_equal(g->name, "NVIDIA H100 80GB HBM3");
  assert_string_equal(g->spec_id, "nvidia-h100-sxm");
  assert_string_equal(g->arch, "sm_90");
  assert_int_equal(g->cc_major, 9);
  assert_int_equal(g->cc_minor, 0);
  assert_int_equal(g->sm_count, 132); /* 16896 cores / 128 per SM */
  assert_int_equal(g->vram_total, 85520809984ull);
  assert_int_equal(g->vram_free, 85520809984ull - (1ull << 30));
  /* 2619 MHz x 2 x 5120 bit / 8 */
  assert_true(fabs(g->bandwidth - 2619e6 * 2 * 5120 / 8) < 1);
  assert_int_equal(g->bandwidth_source, TL_SRC_PROBED);
  assert_int_equal(g->flops_source, TL_SRC_SPEC);
  assert_true(fabs(g->bf16_flops - 989.4e12) < 1e9);
  assert_string_equal(g->driver, "550.54.15");
  assert_string_equal(g->cuda, "12.4");
  assert_int_equal(g->pcie_gen, 5);
  assert_int_equal(g->pcie_width, 16);
  assert_true(fabs(g->power_limit_w - 700) < 1e-9);
  assert_string_equal(hw->backend, "cuda");
  assert_string_equal(hw->platform_id, "nvidia_h100_sxm_80gb_x1");
  assert_int_equal(hw->n_warnings, 0);
  free(hw);
}

static void test_two_mixed(void **state)
{
  (void)state;
  tl_hw *hw = probe_with("2", "NVIDIA GeForce RTX 4090,NVIDIA L4", NULL);
  assert_int_equal(nvidia_count(hw), 2);
  assert_string_equal(hw->gpus[0].spec_id, "nvidia-rtx-4090");
  assert_true(fabs(hw->gpus[0].bandwidth - 1008.096e9) < 1e6); /* 10501 MHz x 2 x 384 / 8 */
  assert_int_equal(hw->gpus[0].bandwidth_source, TL_SRC_PROBED);
  /* the L4 reports no bus width: the spec table fills the bandwidth */
  assert_string_equal(hw->gpus[1].spec_id, "nvidia-l4");
  assert_int_equal(hw->gpus[1].bandwidth_source, TL_SRC_SPEC);
  assert_true(fabs(hw->gpus[1].bandwidth - 300e9) < 1);
  assert_int_equal(hw->gpus[1].index, 1);
  assert_string_equal(hw->platform_id, "nvidia_rtx_4090_24gb_x1+nvidia_l4_22gb_x1");
  free(hw);
}

static void test_eight(void **state)
{
  (void)state;
  tl_hw *hw = probe_with("8", "NVIDIA A100-SXM4-80GB", NULL);
  assert_int_equal(nvidia_count(hw), 8);
  for (int i = 0; i < 8; i++) {
    assert_int_equal(hw->gpus[i].index, i);
    assert_string_equal(hw->gpus[i].spec_id, "nvidia-a100-sxm-80gb");
    assert_int_equal(hw->gpus[i].sm_count, 108);
  }
  assert_string_equal(hw->platform_id, "nvidia_a100_sxm_80gb_80gb_x8");
  char caps[512];
  tl_hw_capabilities(hw, caps, sizeof caps);
  assert_non_null(strstr(caps, "cuda sm_80 x8"));
  free(hw);
}

static void test_unknown_model(void **state)
{
  (void)state;
  tl_hw *hw = probe_with("1", "NVIDIA Mystery GPU 9000", NULL);
  assert_int_equal(nvidia_count(hw), 1);
  assert_string_equal(hw->gpus[0].spec_id, "");
  assert_true(hw->gpus[0].bandwidth == 0);
  assert_int_equal(hw->gpus[0].bandwidth_source, TL_SRC_UNKNOWN);
  assert_int_equal(hw->gpus[0].vram_total, 8589934592ull);
  free(hw);
}

static void test_library_missing(void **state)
{
  (void)state;
  setenv("TAILOR_NVML_LIB", "/nonexistent/libnvidia-ml.so.1", 1);
  tl_hw *hw = calloc(1, sizeof *hw);
  assert_int_equal(tl_hw_probe(hw, NULL, NULL), TL_OK);
  assert_int_equal(nvidia_count(hw), 0);
  assert_true(has_warning(hw, "NVML: cannot load /nonexistent/libnvidia-ml.so.1"));
  free(hw);
}

static void test_init_fails(void **state)
{
  (void)state;
  tl_hw *hw = probe_with("2", NULL, "Init");
  assert_int_equal(nvidia_count(hw), 0);
  assert_true(has_warning(hw, "nvmlInit failed: Unknown Error"));
  free(hw);
}

static void test_calls_fail(void **state)
{
  (void)state;
  tl_hw *hw = probe_with("2", NULL, "DeviceGetName,DeviceGetMemoryInfo,SystemGetDriverVersion");
  assert_int_equal(nvidia_count(hw), 2);
  assert_string_equal(hw->gpus[0].name, "NVIDIA GPU 0");
  assert_true(has_warning(hw, "nvmlDeviceGetName(0) failed"));
  assert_true(has_warning(hw, "nvmlDeviceGetMemoryInfo(1) failed"));
  assert_true(has_warning(hw, "nvmlSystemGetDriverVersion failed"));
  assert_string_equal(hw->gpus[0].driver, "");
  /* no name, no memory: nothing is made up */
  assert_int_equal(hw->gpus[0].vram_total, 0);
  assert_string_equal(hw->gpus[0].spec_id, "");
  free(hw);
}

static void test_count_fails(void **state)
{
  (void)state;
  tl_hw *hw = probe_with("4", NULL, "DeviceGetCount");
  assert_int_equal(nvidia_count(hw), 0);
  assert_true(has_warning(hw, "nvmlDeviceGetCount failed"));
  free(hw);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_one_h100),        cmocka_unit_test(test_two_mixed),
      cmocka_unit_test(test_eight),           cmocka_unit_test(test_unknown_model),
      cmocka_unit_test(test_library_missing), cmocka_unit_test(test_init_fails),
      cmocka_unit_test(test_calls_fail),      cmocka_unit_test(test_count_fails),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
