/* The hardware JSON form (round trip, hand-written files, errors), machines
 * described by presets, and the GPU spec table (schema of data/gpus.json,
 * loose name lookup, suggestions). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/embedded-int.h"
#include "harness.h"
#include "tailor/tailor.h"

#define GiB (1024.0 * 1024.0 * 1024.0)

static char *to_json(const tl_hw *hw)
{
  char *s = NULL;
  tl_error err;
  tl_status st = tl_hw_to_json(hw, &s, &err);
  if (st != TL_OK)
    fprintf(stderr, "to_json: %s\n", err.message);
  assert_int_equal(st, TL_OK);
  return s;
}

/* to_json -> from_json -> to_json gives the same text, and the structs agree. */
static void round_trip(const tl_hw *hw)
{
  char *a = to_json(hw);
  tl_hw *back = calloc(1, sizeof *back);
  tl_error err;
  tl_status st = tl_hw_from_json(a, strlen(a), back, &err);
  if (st != TL_OK)
    fprintf(stderr, "from_json: %s\n", err.message);
  assert_int_equal(st, TL_OK);
  char *b = to_json(back);
  assert_string_equal(a, b);
  assert_int_equal(back->described, hw->described);
  assert_string_equal(back->platform_id, hw->platform_id);
  assert_int_equal(back->cpu.isa, hw->cpu.isa);
  assert_true(back->cpu.flops_f32 == hw->cpu.flops_f32);
  assert_int_equal(back->mem.total, hw->mem.total);
  assert_int_equal(back->mem.usable, hw->mem.usable);
  assert_int_equal(back->mem.limit_source, hw->mem.limit_source);
  assert_true(back->mem.bandwidth == hw->mem.bandwidth);
  assert_int_equal(back->n_gpus, hw->n_gpus);
  for (size_t i = 0; i < hw->n_gpus; i++) {
    assert_memory_equal(&back->gpus[i], &hw->gpus[i], sizeof hw->gpus[i]);
  }
  assert_int_equal(back->n_warnings, hw->n_warnings);
  assert_int_equal(back->n_notes, hw->n_notes);
  tl_free(a);
  tl_free(b);
  free(back);
}

static void test_round_trip_probed(void **state)
{
  (void)state;
  static const char *const cases[] = {
      "xeon-2s",           "intel-hybrid-laptop", "amd-desktop-radeon", "arm64-server",
      "container-cgroup2", "container-cgroup1",   "malformed",          "missing"};
  tl_hw *hw = calloc(1, sizeof *hw);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char rel[128];
    snprintf(rel, sizeof rel, "hw/%s/root", cases[i]);
    tl_hw_probe_opts opts = {.sysroot = th_data_path(rel)};
    assert_int_equal(tl_hw_probe(hw, &opts, NULL), TL_OK);
    round_trip(hw);
  }
  tl_hw_probe_opts live = {.skip_gpus = true};
  assert_int_equal(tl_hw_probe(hw, &live, NULL), TL_OK);
  round_trip(hw);
  free(hw);
}

static void test_round_trip_described(void **state)
{
  (void)state;
  static const tl_hw_preset presets[] = {
      {"RTX 4090", 2, 64, 16, 0}, {"H100", 8, 2048, 112, 0},
      {"M3 Max", 0, 0, 0, 0},     {"Imaginary Accelerator 7", 1, 0, 0, 48},
      {NULL, 0, 32, 8, 0},
  };
  tl_hw *hw = calloc(1, sizeof *hw);
  for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
    assert_int_equal(tl_hw_describe(&presets[i], hw, NULL), TL_OK);
    round_trip(hw);
  }
  free(hw);
}

static void test_describe(void **state)
{
  (void)state;
  tl_hw *hw = calloc(1, sizeof *hw);
  tl_error err;
  tl_hw_preset p = {"RTX 4090", 2, 0, 0, 0};
  assert_int_equal(tl_hw_describe(&p, hw, &err), TL_OK);
  assert_true(hw->described);
  assert_int_equal(hw->n_gpus, 2);
  assert_string_equal(hw->gpus[1].spec_id, "nvidia-rtx-4090");
  assert_int_equal(hw->gpus[1].index, 1);
  assert_int_equal(hw->mem.total, (uint64_t)(96 * GiB)); /* 2 x 2 x 24 GiB rounded up to 16 */
  assert_int_equal(hw->mem.limit_source, TL_MEM_LIMIT_NONE);
  assert_int_equal(hw->cpu.cores, 16);
  assert_string_equal(hw->backend, "cuda");
  assert_string_equal(hw->platform_id, "nvidia_rtx_4090_24gb_x2");
  bool said_ram = false, said_cores = false;
  for (size_t i = 0; i < hw->n_notes; i++) {
    said_ram |= strstr(hw->notes[i], "RAM not given") != NULL;
    said_cores |= strstr(hw->notes[i], "CPU cores not given") != NULL;
  }
  assert_true(said_ram && said_cores);

  tl_hw_preset q = {"4090", 0, 64, 24, 0};
  assert_int_equal(tl_hw_describe(&q, hw, &err), TL_OK);
  assert_int_equal(hw->n_gpus, 1);
  assert_int_equal(hw->mem.total, (uint64_t)(64 * GiB));
  assert_int_equal(hw->mem.limit_source, TL_MEM_LIMIT_DESCRIBED);
  assert_int_equal(hw->mem.usable, (uint64_t)(64 * GiB));
  assert_int_equal(hw->cpu.cores, 24);

  tl_hw_preset m = {"M3 Max", 0, 64, 0, 0};
  assert_int_equal(tl_hw_describe(&m, hw, &err), TL_OK);
  assert_string_equal(hw->backend, "metal");
  assert_true(hw->gpus[0].unified);
  assert_int_equal(hw->gpus[0].vram_total, (uint64_t)(64 * GiB));
  assert_true(hw->mem.bandwidth == 400e9);
  assert_int_equal(hw->mem.bandwidth_source, TL_SRC_SPEC);
  assert_string_equal(hw->platform_id, "apple_m3_max_64gb");

  tl_hw_preset u = {"Imaginary Accelerator 7", 1, 0, 0, 48};
  assert_int_equal(tl_hw_describe(&u, hw, &err), TL_OK);
  assert_int_equal(hw->gpus[0].vram_total, (uint64_t)(48 * GiB));
  assert_true(hw->gpus[0].bandwidth == 0);
  assert_int_equal(hw->gpus[0].bandwidth_source, TL_SRC_UNKNOWN);

  tl_hw_preset cpu_only = {NULL, 0, 0, 0, 0};
  assert_int_equal(tl_hw_describe(&cpu_only, hw, &err), TL_OK);
  assert_int_equal(hw->mem.total, (uint64_t)(32 * GiB));
  assert_string_equal(hw->backend, "cpu");
  free(hw);
}

static void test_describe_errors(void **state)
{
  (void)state;
  tl_hw *hw = calloc(1, sizeof *hw);
  tl_error err;
  tl_hw_preset bad_name = {"RTX 4099", 1, 0, 0, 0};
  assert_int_equal(tl_hw_describe(&bad_name, hw, &err), TL_ENOTFOUND);
  assert_non_null(strstr(err.message, "RTX 4099"));
  assert_non_null(strstr(err.message, "nvidia-rtx-4090")); /* close match listed */
  static const tl_hw_preset bad[] = {
      {NULL, 2, 0, 0, 0},     /* a count without a GPU */
      {NULL, 0, 0, 0, 24},    /* VRAM without a GPU */
      {"H100", 65, 0, 0, 0},  /* too many */
      {"H100", 1, -1, 0, 0},  /* negative RAM */
      {"H100", 1, NAN, 0, 0}, /* not a number */
      {"H100", 1, 0, 0, 1e9}, /* absurd VRAM */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(tl_hw_describe(&bad[i], hw, &err), TL_EINVAL);
  assert_int_equal(tl_hw_describe(NULL, hw, &err), TL_EINVAL);
  free(hw);
}

static void test_from_json_hand_written(void **state)
{
  (void)state;
  const char *doc =
      "{\"schema_version\": 1,\n"
      " \"cpu\": {\"cores\": 32, \"isa\": [\"avx2\", \"fma\"], \"max_mhz\": 3000},\n"
      " \"memory\": {\"total_bytes\": 137438953472},\n"
      " \"gpus\": [{\"name\": \"RTX 4090\"}, {\"spec_id\": \"nvidia-rtx-3090\"},\n"
      "          {\"name\": \"Custom\", \"vendor\": \"amd\", \"vram_total_bytes\": 1073741824,\n"
      "           \"bandwidth_bytes_per_s\": 1e11}]}";
  tl_hw *hw = calloc(1, sizeof *hw);
  tl_error err;
  tl_status st = tl_hw_from_json(doc, strlen(doc), hw, &err);
  if (st != TL_OK)
    fprintf(stderr, "%s\n", err.message);
  assert_int_equal(st, TL_OK);
  assert_true(hw->described);
  assert_int_equal(hw->n_gpus, 3);
  assert_string_equal(hw->gpus[0].spec_id, "nvidia-rtx-4090");
  assert_true(hw->gpus[0].bandwidth == 1008e9);
  assert_int_equal(hw->gpus[1].vram_total, (uint64_t)(24 * GiB));
  assert_int_equal(hw->gpus[2].vendor, TL_GPU_AMD);
  assert_int_equal(hw->gpus[2].bandwidth_source, TL_SRC_DESCRIBED);
  assert_int_equal(hw->gpus[2].index, 2);
  assert_int_equal(hw->cpu.perf_cores, 32);
  assert_true(hw->cpu.flops_f32 == 32 * 3000e6 * 32);
  assert_int_equal(hw->mem.usable, 137438953472ull);
  assert_string_equal(hw->backend, "cuda");
  free(hw);
}

static void test_from_json_errors(void **state)
{
  (void)state;
  static const struct {
    const char *doc;
    tl_status st;
    const char *msg;
  } rows[] = {
      {"", TL_EFORMAT, "line"},
      {"[1,2]", TL_EFORMAT, "must be an object"},
      {"{}", TL_EFORMAT, "schema_version"},
      {"{\"schema_version\": 2}", TL_EUNSUPPORTED, "schema_version 2"},
      {"{\"schema_version\": 1, \"cpu\": {\"cores\": \"many\"}}", TL_EFORMAT, "cpu.cores"},
      {"{\"schema_version\": 1, \"cpu\": {\"isa\": [\"avx9000\"]}}", TL_EFORMAT, "avx9000"},
      {"{\"schema_version\": 1, \"memory\": {\"total_bytes\": -1}}", TL_EFORMAT,
       "memory.total_bytes"},
      {"{\"schema_version\": 1, \"memory\": {\"limit_source\": \"moon\"}}", TL_EFORMAT,
       "memory.limit_source"},
      {"{\"schema_version\": 1, \"gpus\": {}}", TL_EFORMAT, "gpus must be an array"},
      {"{\"schema_version\": 1, \"gpus\": [{\"name\": \"Nothing 0\"}]}", TL_EFORMAT,
       "no spec for 'Nothing 0'"},
      {"{\"schema_version\": 1, \"gpus\": [{\"vendor\": \"nvidia\"}]}", TL_EFORMAT,
       "vram_total_bytes"},
      {"{\"schema_version\": 1, \"gpus\": [{\"name\": \"H100\", \"compute_capability\": "
       "\"nine\"}]}",
       TL_EFORMAT, "compute_capability"},
      {"{\"schema_version\": 1, \"schema_version\": 1}", TL_EFORMAT, "duplicate"},
  };
  tl_hw *hw = calloc(1, sizeof *hw);
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    tl_error err;
    tl_status st = tl_hw_from_json(rows[i].doc, strlen(rows[i].doc), hw, &err);
    if (st != rows[i].st || !strstr(err.message, rows[i].msg))
      fprintf(stderr, "row %zu: status %d, message '%s'\n", i, st, err.message);
    assert_int_equal(st, rows[i].st);
    assert_non_null(strstr(err.message, rows[i].msg));
  }
  free(hw);
}

/* Every allocation in to_json may fail: the call reports TL_ENOMEM (or
 * succeeds) and leaks nothing. (from_json is not run here: the system
 * jansson's json_loadb crashes when an allocation inside its lexer fails.) */
static void test_json_alloc_failures(void **state)
{
  (void)state;
  tl_hw *hw = calloc(1, sizeof *hw), *back = calloc(1, sizeof *back);
  tl_hw_preset p = {"H100", 2, 256, 32, 0};
  assert_int_equal(tl_hw_describe(&p, hw, NULL), TL_OK);
  char *ref = to_json(hw);
  for (uint64_t n = 1; n < 2000; n++) {
    th_alloc_install(n);
    char *s = NULL;
    tl_status st = tl_hw_to_json(hw, &s, NULL);
    uint64_t made = th_alloc_count();
    tl_free(s);
    int64_t live = th_alloc_live();
    th_alloc_uninstall();
    assert_true(st == TL_OK || st == TL_ENOMEM);
    assert_int_equal(live, 0);
    if (made < n)
      break; /* every allocation has been failed once */
  }
  tl_free(ref);
  free(hw);
  free(back);
}

static void test_spec_table_schema(void **state)
{
  (void)state;
  size_t n = 0;
  const char *text = tl__embedded_find("gpus.json", &n);
  assert_non_null(text);
  json_error_t jerr;
  json_t *root = json_loadb(text, n, JSON_REJECT_DUPLICATES, &jerr);
  assert_non_null(root);
  assert_int_equal(json_integer_value(json_object_get(root, "schema_version")), 1);
  json_t *gpus = json_object_get(root, "gpus");
  assert_true(json_array_size(gpus) >= 80);
  assert_int_equal(tl_gpu_spec_count(), json_array_size(gpus));
  size_t i;
  json_t *e;
  int vendors[5] = {0};
  json_array_foreach(gpus, i, e)
  {
    const char *id = json_string_value(json_object_get(e, "id"));
    const char *src = json_string_value(json_object_get(e, "source"));
    if (!id || !src || strncmp(src, "https://", 8) != 0)
      fprintf(stderr, "entry %zu (%s): bad id or source\n", i, id ? id : "?");
    assert_non_null(id);
    assert_non_null(src);
    assert_true(strncmp(src, "https://", 8) == 0);
    assert_non_null(json_string_value(json_object_get(e, "name")));
    assert_non_null(json_string_value(json_object_get(e, "arch")));
    assert_true(json_is_boolean(json_object_get(e, "unified")));
    static const char *const positive[] = {"vram_gib", "bandwidth_gbs", "fp16_tflops"};
    for (size_t k = 0; k < 3; k++) {
      json_t *v = json_object_get(e, positive[k]);
      if (!json_is_number(v) || json_number_value(v) <= 0)
        fprintf(stderr, "%s: %s must be a positive number\n", id, positive[k]);
      assert_true(json_is_number(v) && json_number_value(v) > 0);
    }
    static const char *const optional[] = {"bf16_tflops",
                                           "int8_tops"}; /* null: not supported/published */
    for (size_t k = 0; k < 2; k++) {
      json_t *v = json_object_get(e, optional[k]);
      assert_true(json_is_null(v) || (json_is_number(v) && json_number_value(v) > 0));
    }
    /* dense tensor rates never exceed 8x... and bandwidth is sane */
    assert_true(json_number_value(json_object_get(e, "bandwidth_gbs")) < 20000);
    const char *v = json_string_value(json_object_get(e, "vendor"));
    vendors[!strcmp(v, "nvidia")  ? 0
            : !strcmp(v, "amd")   ? 1
            : !strcmp(v, "intel") ? 2
            : !strcmp(v, "apple") ? 3
                                  : 4]++;
    tl_gpu g;
    assert_int_equal(tl_gpu_spec_get(i, &g, NULL), TL_OK);
    assert_string_equal(g.spec_id, id);
    assert_string_equal(tl_gpu_spec_source(id), src);
    /* every entry is found by its own name */
    tl_gpu f;
    assert_int_equal(tl_gpu_spec_find(g.name, &f, NULL), TL_OK);
    if (strcmp(f.spec_id, id) != 0)
      fprintf(stderr, "'%s' finds %s, not %s\n", g.name, f.spec_id, id);
    assert_string_equal(f.spec_id, id);
  }
  assert_true(vendors[0] >= 40 && vendors[1] >= 10 && vendors[2] >= 4 && vendors[3] >= 12);
  assert_int_equal(vendors[4], 0);
  assert_int_equal(tl_gpu_spec_get(i, &(tl_gpu){0}, NULL), TL_ERANGE);
  json_decref(root);
}

static void test_spec_lookup(void **state)
{
  (void)state;
  static const struct {
    const char *query, *id;
  } rows[] = {
      {"RTX 4090", "nvidia-rtx-4090"},
      {"4090", "nvidia-rtx-4090"},
      {"rtx4090", NULL},
      {"NVIDIA GeForce RTX 4090", "nvidia-rtx-4090"},
      {"3090", "nvidia-rtx-3090"},
      {"3090 Ti", "nvidia-rtx-3090-ti"},
      {"H100", "nvidia-h100-sxm"},
      {"NVIDIA H100 80GB HBM3", "nvidia-h100-sxm"},
      {"NVIDIA H100 PCIe", "nvidia-h100-pcie"},
      {"NVIDIA H100 NVL", "nvidia-h100-nvl"},
      {"NVIDIA A100-SXM4-80GB", "nvidia-a100-sxm-80gb"},
      {"NVIDIA A100-PCIE-40GB", "nvidia-a100-pcie-40gb"},
      {"A100", "nvidia-a100-sxm-80gb"},
      {"Tesla T4", "nvidia-tesla-t4"},
      {"T4", "nvidia-tesla-t4"},
      {"L4", "nvidia-l4"},
      {"L40S", "nvidia-l40s"},
      {"NVIDIA RTX 6000 Ada Generation", "nvidia-rtx-6000-ada"},
      {"RTX PRO 6000", "nvidia-rtx-pro-6000-blackwell"},
      {"NVIDIA RTX A6000", "nvidia-rtx-a6000"},
      {"GH200", "nvidia-gh200-96gb"},
      {"nvidia-b200", "nvidia-b200"},
      {"AMD Instinct MI300X", "amd-mi300x"},
      {"MI300X OAM", "amd-mi300x"},
      {"7900 XTX", "amd-rx-7900-xtx"},
      {"RX 7900 XT", "amd-rx-7900-xt"},
      {"Radeon RX 9070 XT", "amd-rx-9070-xt"},
      {"Arc B580", "intel-arc-b580"},
      {"M3 Max", "apple-m3-max"},
      {"Apple M4 Pro", "apple-m4-pro"},
      {"m1", "apple-m1"},
      {"RTX", NULL},
      {"banana", NULL},
      {"", NULL},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    tl_gpu g;
    tl_error err;
    tl_status st = tl_gpu_spec_find(rows[i].query, &g, &err);
    const char *got = st == TL_OK ? g.spec_id : NULL;
    if ((got == NULL) != (rows[i].id == NULL) || (got && strcmp(got, rows[i].id) != 0))
      fprintf(stderr, "'%s': expected %s, got %s\n", rows[i].query,
              rows[i].id ? rows[i].id : "(none)", got ? got : err.message);
    if (rows[i].id) {
      assert_int_equal(st, TL_OK);
      assert_string_equal(g.spec_id, rows[i].id);
      assert_int_equal(g.bandwidth_source, TL_SRC_SPEC);
    } else {
      assert_int_equal(st, TL_ENOTFOUND);
      assert_non_null(strstr(err.message, "close matches"));
    }
  }
  const char *ids[3];
  assert_int_equal(tl_gpu_spec_suggest("RTX 4089", ids, 3), 3);
  assert_string_equal(ids[0], "nvidia-rtx-4080");
  assert_int_equal(tl_gpu_spec_suggest("H10", ids, 1), 1);
  assert_non_null(strstr(ids[0], "h100"));
}

/* Found by fuzz-hw-json: many distinct GPUs made the platform id longer than
 * its buffer, and the id was written past it. The id is now cut short. */
static void test_long_platform_id(void **state)
{
  (void)state;
  char path[4096];
  snprintf(path, sizeof path, "%s/tests/fuzz/corpus-hw-json/regress-platform-id-overflow.json",
           getenv("TAILOR_SOURCE_DIR") ? getenv("TAILOR_SOURCE_DIR") : ".");
  size_t len = 0;
  char *text = th_read_file(path, &len);
  assert_non_null(text);
  tl_hw *hw = calloc(1, sizeof *hw);
  tl_error err;
  tl_status st = tl_hw_from_json(text, len, hw, &err);
  if (st == TL_OK)
    assert_true(strlen(hw->platform_id) < sizeof hw->platform_id);
  free(hw);
  free(text);
}

int main(void)
{
  tl_gpu_spec_count(); /* parse the table before any allocation-failure test */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip_probed),
      cmocka_unit_test(test_round_trip_described),
      cmocka_unit_test(test_describe),
      cmocka_unit_test(test_describe_errors),
      cmocka_unit_test(test_from_json_hand_written),
      cmocka_unit_test(test_from_json_errors),
      cmocka_unit_test(test_json_alloc_failures),
      cmocka_unit_test(test_spec_table_schema),
      cmocka_unit_test(test_spec_lookup),
      cmocka_unit_test(test_long_platform_id),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
