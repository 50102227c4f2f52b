/* Settings resolution: every setting's default path, every override source,
 * invalid overrides (malformed, out of range, impossible combinations), the
 * memory step-down order, determinism, the hash, replay of an emitted config,
 * and the emitters flag by flag. Table-driven: a case is a row. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tailor/config.h"
#include "tailor/hooks.h"

#define GIB (1024ull * 1024 * 1024)

/* ---- fixtures ---- */

/* An 8B-class llama: 32 layers, GQA 32/8, context 131072. */
static void model_llama8b(tl_model_desc *m)
{
  memset(m, 0, sizeof *m);
  snprintf(m->name, sizeof m->name, "Llama-3.1-8B-Instruct");
  snprintf(m->source, sizeof m->source, "llama-3.1-8b-instruct");
  m->hp.arch = TL_ARCH_LLAMA;
  snprintf(m->hp.arch_name, sizeof m->hp.arch_name, "llama");
  m->hp.n_layer = 32;
  m->hp.n_embd = 4096;
  m->hp.n_head = 32;
  m->hp.n_head_kv = 8;
  m->hp.head_dim_k = m->hp.head_dim_v = 128;
  m->hp.n_ff = 14336;
  m->hp.n_vocab = 128256;
  m->hp.n_ctx_train = 131072;
  m->n_params = 8030261248ull;
  m->ftype = TL_FTYPE_Q4_K_M;
  m->ftype_known = true;
}

static void model_moe(tl_model_desc *m)
{
  model_llama8b(m);
  snprintf(m->name, sizeof m->name, "Mixtral-8x7B");
  m->hp.n_expert = 8;
  m->hp.n_expert_used = 2;
  m->hp.n_ctx_train = 32768;
  m->n_params = 46702792704ull;
}

static void hw_cpu(tl_hw *hw)
{
  memset(hw, 0, sizeof *hw);
  snprintf(hw->platform_id, sizeof hw->platform_id, "cpu_x86_avx512_64gb");
  hw->cpu.cores = 8;
  hw->cpu.perf_cores = 8;
  hw->cpu.threads = 16;
  hw->cpu.numa_nodes = 1;
  hw->mem.total = 64 * GIB;
  hw->mem.usable = 60 * GIB;
}

static void hw_numa(tl_hw *hw)
{
  hw_cpu(hw);
  hw->cpu.cores = hw->cpu.perf_cores = 32;
  hw->cpu.threads = 64;
  hw->cpu.numa_nodes = 2;
}

static void hw_hybrid(tl_hw *hw)
{
  hw_cpu(hw);
  hw->cpu.cores = 14;
  hw->cpu.perf_cores = 6;
  hw->cpu.eff_cores = 8;
  hw->cpu.threads = 20;
}

static void add_gpu(tl_hw *hw, const char *name, uint64_t vram_free)
{
  tl_gpu *g = &hw->gpus[hw->n_gpus++];
  memset(g, 0, sizeof *g);
  g->vendor = TL_GPU_NVIDIA;
  snprintf(g->name, sizeof g->name, "%s", name);
  g->vram_total = vram_free;
  g->vram_free = vram_free;
}

static void hw_h100(tl_hw *hw)
{
  hw_cpu(hw);
  snprintf(hw->platform_id, sizeof hw->platform_id, "nvidia_h100_80gb_x1");
  add_gpu(hw, "NVIDIA H100 80GB HBM3", 80 * GIB);
}

static void hw_2gpu(tl_hw *hw)
{
  hw_cpu(hw);
  add_gpu(hw, "NVIDIA GeForce RTX 4090", 24 * GIB);
  add_gpu(hw, "NVIDIA GeForce RTX 4090", 12 * GIB);
}

/* A memory model good enough to exercise the resolver: weights by mixture
 * bits per weight, KV f16 = 128 KiB per token for the 8B shape. */
static tl_status fake_fit(const tl_config_probe *p, tl_config_fit *out, void *ud)
{
  const tl_hw *hw = ud;
  double bpw = 4.9; /* q4_k_m */
  if (p->quant_set) {
    switch (p->quant) {
    case TL_FTYPE_F16:
      bpw = 16;
      break;
    case TL_FTYPE_Q8_0:
      bpw = 8.5;
      break;
    case TL_FTYPE_Q6_K:
      bpw = 6.6;
      break;
    case TL_FTYPE_Q5_K_M:
      bpw = 5.7;
      break;
    case TL_FTYPE_Q3_K_M:
      bpw = 3.9;
      break;
    default:
      break;
    }
  }
  double weights = 8.03e9 * bpw / 8;
  double kv_tok = 131072.0 * (p->kv_type == TL_QTYPE_Q8_0 ? 0.53125 : 1.0);
  double kv = kv_tok * p->ctx_size * p->parallel;
  double need = weights + kv + 0.5 * GIB;
  out->required_host = (uint64_t)need;
  out->available_host = hw->mem.usable;
  out->fits = need <= (double)hw->mem.usable;
  out->max_gpu_layers = 0;
  return TL_OK;
}

/* ---- the case table ---- */

typedef struct ov {
  tl_setting_source src;
  const char *key; /* setting key */
  const char *value;
} ov;

typedef struct expect {
  const char *key;
  const char *value;
  tl_setting_source src;
  const char *source_key; /* NULL: not checked */
} expect;

typedef enum { HW_CPU, HW_NUMA, HW_HYBRID, HW_H100, HW_2GPU, HW_H100_DESCRIBED } hwkind;
typedef enum { M_DENSE, M_MOE, M_TINY } modelkind;

typedef struct tcase {
  const char *name;
  hwkind hw;
  modelkind model;
  const char *preset;
  bool catalog, unquantized, with_fit;
  ov ovs[4];
  tl_status status;
  const char *err_has; /* substring of the error message */
  expect ex[6];
} tcase;

#define CLI TL_SETSRC_CLI
#define ENV TL_SETSRC_ENV
#define CFG TL_SETSRC_CONFIG_FILE
#define DEF TL_SETSRC_DEFAULT
#define MOD TL_SETSRC_MODEL_METADATA
#define HWC TL_SETSRC_HARDWARE_CAPABILITY
#define MEM TL_SETSRC_MEMORY_PROFILE
#define WLP TL_SETSRC_WORKLOAD_PRESET
#define CMP TL_SETSRC_COMPILED_FEATURE

static const tcase cases[] = {
    /* default paths, one per setting */
    {"defaults on a CPU machine", HW_CPU, M_DENSE, "default", false, false, false, {{0}}, TL_OK, NULL,
     {{"backend", "cpu", DEF, ""},
      {"quant", "file", DEF, ""},
      {"isq", "none", DEF, ""},
      {"gpu_layers", "0", DEF, ""},
      {"mmap", "true", DEF, ""},
      {"mlock", "false", DEF, ""}}},
    {"threads from physical performance cores", HW_CPU, M_DENSE, "default", false, false, false,
     {{0}}, TL_OK, NULL,
     {{"threads", "8", HWC, "cpu.perf_cores"},
      {"threads_batch", "8", HWC, "cpu.perf_cores"},
      {"batch_size", "2048", DEF, ""},
      {"ubatch_size", "512", DEF, ""},
      {"kv_type", "f16", DEF, ""},
      {"flash_attn", "false", DEF, ""}}},
    {"hybrid CPU: performance cores only", HW_HYBRID, M_DENSE, "default", false, false, false,
     {{0}}, TL_OK, NULL, {{"threads", "6", HWC, NULL}, {"threads_batch", "6", HWC, NULL}}},
    {"a tiny model is not split across threads", HW_CPU, M_TINY, "default", false, false, false,
     {{0}}, TL_OK, NULL, {{"threads", "1", HWC, NULL}, {"threads_batch", "1", HWC, NULL}}},
    {"NUMA: decode threads of one node", HW_NUMA, M_DENSE, "default", false, false, false, {{0}},
     TL_OK, NULL, {{"threads", "16", HWC, NULL}, {"threads_batch", "32", HWC, NULL}}},
    {"context from the workload's length classes", HW_CPU, M_DENSE, "default", false, false,
     false, {{0}}, TL_OK, NULL,
     {{"ctx_size", "8192", WLP, "default"},
      {"parallel", "1", DEF, ""},
      {"kv_block_size", "16", DEF, ""},
      {"kv_blocks", "512", MEM, "ctx_size*parallel"},
      {"max_batched_tokens", "512", DEF, ""},
      {"prefix_cache", "false", DEF, ""}}},
    {"long-context preset takes the model's maximum", HW_CPU, M_DENSE, "long-context", false,
     false, false, {{0}}, TL_OK, NULL, {{"ctx_size", "131072", WLP, "long-context"}}},
    {"server preset: slots, prefix cache, chunked prefill", HW_CPU, M_DENSE, "server", false,
     false, false, {{0}}, TL_OK, NULL,
     {{"parallel", "4", WLP, "server"},
      {"prefix_cache", "true", WLP, "server"},
      {"admission", "chunked", WLP, "server"},
      {"kv_blocks", "2048", MEM, NULL},
      {"attn_path", "materialized", DEF, ""}}},
    {"coding sampling", HW_CPU, M_DENSE, "coding", false, false, false, {{0}}, TL_OK, NULL,
     {{"temperature", "0.2", WLP, "coding"},
      {"top_k", "40", WLP, NULL},
      {"top_p", "0.95", WLP, NULL},
      {"min_p", "0.05", WLP, NULL},
      {"repeat_penalty", "1", DEF, ""}}},
    {"reasoning sampling", HW_CPU, M_DENSE, "reasoning", false, false, false, {{0}}, TL_OK, NULL,
     {{"temperature", "0.6", WLP, NULL}, {"top_k", "20", WLP, NULL}, {"min_p", "0", WLP, NULL}}},
    {"catalog model starts at q4_k_m", HW_CPU, M_DENSE, "default", true, false, false, {{0}},
     TL_OK, NULL, {{"quant", "q4_k_m", WLP, "default"}}},
    {"quality preset picks q8_0", HW_CPU, M_DENSE, "quality", true, false, false, {{0}}, TL_OK,
     NULL, {{"quant", "q8_0", WLP, "quality"}}},
    {"unquantized source gets an ISQ target", HW_CPU, M_DENSE, "default", false, true, false,
     {{0}}, TL_OK, NULL, {{"isq", "q4_k", WLP, "default"}}},
    {"GPU machine without a CUDA build falls back to the CPU", HW_H100, M_DENSE, "default", false,
     false, false, {{0}}, TL_OK, NULL,
     {{"backend", "cpu", CMP, "build"},
      {"gpu_layers", "0", CMP, "build"},
      {"flash_attn", "false", CMP, "build"},
      {"attn_path", "materialized", CMP, "build"}}},
    {"a described GPU machine is planned with its backend", HW_H100_DESCRIBED, M_DENSE, "default",
     false, false, false, {{0}}, TL_OK, NULL,
     {{"backend", "cuda", HWC, "gpus"},
      {"gpu_layers", "33", HWC, "gpus"},
      {"flash_attn", "true", HWC, "gpus"},
      {"attn_path", "flash", HWC, "gpus"}}},
    {"flash attention off on a GPU: the materialized path", HW_H100_DESCRIBED, M_DENSE, "default",
     false, false, false, {{CLI, "flash_attn", "false"}}, TL_OK, NULL,
     {{"flash_attn", "false", CLI, "--flash-attn"}, {"attn_path", "materialized", CMP, NULL}}},
    {"quantized KV on CUDA needs flash attention", HW_H100_DESCRIBED, M_DENSE, "default", false,
     false, false, {{CLI, "flash_attn", "false"}, {CLI, "kv_type", "q8_0"}}, TL_ECONFIG,
     "kv_type (--kv-type): a q8_0 KV cache on cuda needs flash_attn on", {{0}}},
    {"backend cpu on a GPU machine keeps layers off the GPU", HW_H100_DESCRIBED, M_DENSE,
     "default", false, false, false, {{CLI, "backend", "cpu"}}, TL_OK, NULL,
     {{"backend", "cpu", CLI, NULL}, {"gpu_layers", "0", CMP, "backend"},
      {"flash_attn", "false", CMP, "backend"}}},
    {"no tensor split without a GPU backend", HW_2GPU, M_DENSE, "default", false, false, false,
     {{0}}, TL_OK, NULL, {{"tensor_split", "", CMP, "build"}}},
    /* every override source, with its source key */
    {"cli override", HW_CPU, M_DENSE, "default", false, false, false,
     {{CLI, "ctx_size", "2048"}}, TL_OK, NULL,
     {{"ctx_size", "2048", CLI, "--ctx-size"}, {"kv_blocks", "128", MEM, NULL}}},
    {"env override", HW_CPU, M_DENSE, "default", false, false, false,
     {{ENV, "kv_blocks", "1024"}}, TL_OK, NULL, {{"kv_blocks", "1024", ENV, "TAILOR_KV_BLOCKS"}}},
    {"config file override", HW_CPU, M_DENSE, "default", false, false, false,
     {{CFG, "threads", "3"}}, TL_OK, NULL, {{"threads", "3", CFG, "cfg.json:entries.threads"}}},
    {"cli beats env beats config file", HW_CPU, M_DENSE, "default", false, false, false,
     {{CFG, "threads", "3"}, {ENV, "threads", "5"}, {CLI, "threads", "7"}}, TL_OK, NULL,
     {{"threads", "7", CLI, "--threads"}}},
    {"env beats config file", HW_CPU, M_DENSE, "default", false, false, false,
     {{ENV, "top_k", "5"}, {CFG, "top_k", "9"}}, TL_OK, NULL, {{"top_k", "5", ENV, NULL}}},
    {"boolean spellings are canonical", HW_CPU, M_DENSE, "default", false, false, false,
     {{CLI, "mlock", "on"}, {ENV, "mmap", "No"}}, TL_OK, NULL,
     {{"mlock", "true", CLI, NULL}, {"mmap", "false", ENV, NULL}}},
    {"kv type q8_0 on the CPU engine", HW_CPU, M_DENSE, "default", false, false, false,
     {{CLI, "kv_type", "Q8_0"}}, TL_OK, NULL, {{"kv_type", "q8_0", CLI, NULL}}},
    {"user prefix cache and admission", HW_CPU, M_DENSE, "default", false, false, false,
     {{CLI, "prefix_cache", "true"}, {CLI, "admission", "chunked"}}, TL_OK, NULL,
     {{"prefix_cache", "true", CLI, NULL}, {"admission", "chunked", CLI, NULL}}},
    /* malformed values */
    {"malformed boolean", HW_CPU, M_DENSE, "default", false, false, false,
     {{CLI, "mlock", "maybe"}}, TL_ECONFIG, "mlock (--mlock): 'maybe' is not a boolean", {{0}}},
    {"negative count", HW_CPU, M_DENSE, "default", false, false, false, {{CLI, "threads", "-3"}},
     TL_ECONFIG, "threads (--threads): '-3' is out of range", {{0}}},
    {"not a number", HW_CPU, M_DENSE, "default", false, false, false,
     {{ENV, "ctx_size", "4k"}}, TL_ECONFIG, "ctx_size (TAILOR_CTX_SIZE): '4k' is not a whole number",
     {{0}}},
    {"unknown enum", HW_CPU, M_DENSE, "default", false, false, false,
     {{CLI, "kv_type", "q5_1"}}, TL_ECONFIG, "kv_type (--kv-type): 'q5_1' is not one of", {{0}}},
    {"float out of range", HW_CPU, M_DENSE, "default", false, false, false,
     {{CLI, "top_p", "1.5"}}, TL_ECONFIG, "top_p (--top-p): '1.5' is out of range", {{0}}},
    {"malformed float", HW_CPU, M_DENSE, "default", false, false, false,
     {{CFG, "temperature", "hot"}}, TL_ECONFIG, "temperature (cfg.json:entries.temperature)",
     {{0}}},
    {"bad tensor split", HW_CPU, M_DENSE, "default", false, false, false,
     {{CLI, "tensor_split", "1,,2"}}, TL_ECONFIG, "tensor_split (--tensor-split)", {{0}}},
    /* impossible combinations */
    {"flash attention on the CPU engine", HW_CPU, M_DENSE, "default", false, false, false,
     {{CLI, "flash_attn", "true"}}, TL_ECONFIG,
     "flash_attn (--flash-attn): the cpu backend has no fused attention path", {{0}}},
    {"KV dtype the backend cannot use", HW_CPU, M_DENSE, "default", false, false, false,
     {{CLI, "kv_type", "q4_0"}}, TL_ECONFIG, "kv_type (--kv-type): the cpu backend cannot store a "
     "q4_0 KV cache", {{0}}},
    {"context above the model's maximum", HW_CPU, M_DENSE, "default", false, false, false,
     {{CLI, "ctx_size", "200000"}}, TL_ECONFIG, "above the model's maximum context of 131072",
     {{0}}},
    {"KV capacity below the context", HW_CPU, M_DENSE, "default", false, false, false,
     {{ENV, "kv_blocks", "10"}}, TL_ECONFIG, "kv_blocks (TAILOR_KV_BLOCKS): KV capacity of 160 "
     "tokens", {{0}}},
    {"max batched tokens below the sequences", HW_CPU, M_DENSE, "server", false, false, false,
     {{CLI, "max_batched_tokens", "2"}}, TL_ECONFIG,
     "max_batched_tokens (--max-batched-tokens): 2 tokens per step cannot advance 4", {{0}}},
    {"GPU layers on a machine without a GPU", HW_CPU, M_DENSE, "default", false, false, false,
     {{CLI, "gpu_layers", "20"}}, TL_ECONFIG, "gpu_layers (--gpu-layers): 20 layers requested on "
     "a GPU, but this machine has no GPU", {{0}}},
    {"a compiled-out backend", HW_H100, M_DENSE, "default", false, false, false,
     {{CLI, "backend", "cuda"}}, TL_ECONFIG, "backend (--backend): 'cuda' is not compiled into "
     "this build", {{0}}},
    {"micro-batch above the batch", HW_CPU, M_DENSE, "default", false, false, false,
     {{CLI, "ubatch_size", "4096"}}, TL_ECONFIG, "ubatch_size (--ubatch-size): micro-batch 4096 "
     "is larger than the batch 2048", {{0}}},
    {"ISQ on an already quantized source", HW_CPU, M_DENSE, "default", false, false, false,
     {{CLI, "isq", "q8_0"}}, TL_ECONFIG, "isq (--isq): the source is already quantized", {{0}}},
    {"expert offload on a dense model", HW_2GPU, M_DENSE, "default", false, false, false,
     {{CLI, "moe_offload", "true"}}, TL_ECONFIG, "moe_offload (--cpu-moe): the model has no "
     "experts", {{0}}},
    {"too many GPU layers for the model", HW_CPU, M_DENSE, "default", false, false, false,
     {{CLI, "gpu_layers", "40"}}, TL_ECONFIG, "gpu_layers", {{0}}},
    {"a quantization for a fixed file", HW_CPU, M_DENSE, "default", false, false, false,
     {{CLI, "quant", "q8_0"}}, TL_ECONFIG, "quant (--quant): the source's weights are fixed",
     {{0}}},
    /* memory: the step-down order */
    {"memory: quantization steps down first", HW_CPU, M_DENSE, "quality", true, false, true,
     {{0}}, TL_OK, NULL, {{"quant", "q8_0", WLP, NULL}}},
};

static void build(const tcase *tc, tl_model_desc *m, tl_hw *hw)
{
  if (tc->model == M_MOE)
    model_moe(m);
  else
    model_llama8b(m);
  if (tc->model == M_TINY)
    m->weight_bytes = 12u << 20; /* 12 MiB: one thread's worth */
  switch (tc->hw) {
  case HW_CPU:
    hw_cpu(hw);
    break;
  case HW_NUMA:
    hw_numa(hw);
    break;
  case HW_HYBRID:
    hw_hybrid(hw);
    break;
  case HW_H100:
    hw_h100(hw);
    break;
  case HW_2GPU:
    hw_2gpu(hw);
    break;
  case HW_H100_DESCRIBED:
    hw_h100(hw);
    hw->described = true;
    break;
  }
}

static const char *src_key_for(tl_setting_source src, tl_setting_id id, char *buf, size_t cap)
{
  if (src == TL_SETSRC_CLI)
    snprintf(buf, cap, "%s", tl_setting_cli(id));
  else if (src == TL_SETSRC_ENV)
    snprintf(buf, cap, "%s", tl_setting_env(id));
  else
    snprintf(buf, cap, "cfg.json:entries.%s", tl_setting_key(id));
  return buf;
}

static tl_status resolve_case(const tcase *tc, tl_config **out, tl_error *err, tl_hw *hw,
                              tl_model_desc *m)
{
  build(tc, m, hw);
  tl_config_inputs in;
  memset(&in, 0, sizeof in);
  in.model = m;
  in.hw = hw;
  assert_int_equal(tl_workload_preset(tc->preset, &in.workload, NULL), TL_OK);
  in.catalog_source = tc->catalog;
  in.unquantized_source = tc->unquantized;
  if (tc->with_fit) {
    in.fit = fake_fit;
    in.fit_ud = hw;
  }
  tl_override ovs[4];
  size_t n = 0;
  for (int i = 0; i < 4 && tc->ovs[i].key; i++) {
    memset(&ovs[n], 0, sizeof ovs[n]);
    assert_true(tl_setting_lookup(tc->ovs[i].key, &ovs[n].id));
    ovs[n].source = tc->ovs[i].src;
    src_key_for(tc->ovs[i].src, ovs[n].id, ovs[n].source_key, sizeof ovs[n].source_key);
    snprintf(ovs[n].value, sizeof ovs[n].value, "%s", tc->ovs[i].value);
    n++;
  }
  in.overrides = ovs;
  in.n_overrides = n;
  return tl_config_resolve(&in, out, err);
}

static void test_cases(void **state)
{
  (void)state;
  tl_hw *hw = malloc(sizeof *hw);
  tl_model_desc m;
  int failures = 0;
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    const tcase *tc = &cases[k];
    tl_config *c = NULL;
    tl_error err;
    tl_error_clear(&err);
    tl_status st = resolve_case(tc, &c, &err, hw, &m);
    if (st != tc->status) {
      print_error("case '%s': status %s, expected %s (%s)\n", tc->name, tl_status_name(st),
                  tl_status_name(tc->status), err.message);
      failures++;
      tl_config_free(c);
      continue;
    }
    if (st) {
      if (!strstr(err.message, tc->err_has)) {
        print_error("case '%s': error '%s' lacks '%s'\n", tc->name, err.message, tc->err_has);
        failures++;
      }
      continue;
    }
    for (int i = 0; i < 6 && tc->ex[i].key; i++) {
      const expect *e = &tc->ex[i];
      tl_setting_id id;
      assert_true(tl_setting_lookup(e->key, &id));
      const char *got = tl_config_value(c, id);
      if (strcmp(got, e->value) || tl_config_source(c, id) != e->src ||
          (e->source_key && strcmp(tl_config_source_key(c, id), e->source_key))) {
        print_error("case '%s': %s = '%s' from %s (%s), expected '%s' from %s (%s)\n", tc->name,
                    e->key, got, tl_setting_source_name(tl_config_source(c, id)),
                    tl_config_source_key(c, id), e->value, tl_setting_source_name(e->src),
                    e->source_key ? e->source_key : "*");
        failures++;
      }
    }
    tl_config_free(c);
  }
  free(hw);
  assert_int_equal(failures, 0);
  assert_true(sizeof cases / sizeof cases[0] >= 30);
}

/* Memory short: context (after a q8_0 KV cache) steps down before offload,
 * quantization before context; each step is recorded. */
static void test_memory_step_down(void **state)
{
  (void)state;
  tl_hw *hw = malloc(sizeof *hw);
  tl_model_desc m;
  model_llama8b(&m);
  hw_cpu(hw);
  hw->mem.usable = 9 * GIB; /* q8_0 weights alone are 8.0 GiB */
  tl_config_inputs in;
  memset(&in, 0, sizeof in);
  in.model = &m;
  in.hw = hw;
  tl_workload_preset("long-context", &in.workload, NULL);
  in.catalog_source = true;
  in.fit = fake_fit;
  in.fit_ud = hw;
  tl_config *c = NULL;
  tl_error err;
  assert_int_equal(tl_config_resolve(&in, &c, &err), TL_OK);
  {
    char *x = NULL;
    tl_config_explain(c, &x, NULL);
    if (getenv("SHOW"))
      printf("%s", x);
    tl_free(x);
  }
  /* quantization stepped down from q4_k_m to q3_k_m (still not enough at 131072 ctx) */
  assert_string_equal(tl_config_value(c, TL_SET_QUANT), "q3_k_m");
  assert_int_equal(tl_config_source(c, TL_SET_QUANT), TL_SETSRC_MEMORY_PROFILE);
  /* then the KV cache went to q8_0, then the context halved until it fitted */
  assert_string_equal(tl_config_value(c, TL_SET_KV_TYPE), "q8_0");
  assert_int_equal(tl_config_source(c, TL_SET_KV_TYPE), TL_SETSRC_MEMORY_PROFILE);
  int64_t ctx = 0;
  assert_true(tl_config_int(c, TL_SET_CTX_SIZE, &ctx));
  assert_int_equal(ctx, 65536);
  assert_int_equal(tl_config_source(c, TL_SET_CTX_SIZE), TL_SETSRC_MEMORY_PROFILE);
  char *trace = NULL;
  assert_int_equal(tl_config_trace_jsonl(c, &trace, NULL), TL_OK);
  assert_non_null(strstr(trace, "\"stepped down: halved the context to fit\""));
  assert_non_null(strstr(trace, "\"rejected\":[{\"value\":\"q4_k_m\""));
  tl_free(trace);
  tl_config_free(c);

  /* a pinned context is never stepped down: the resolver fails naming the need */
  tl_override o = {TL_SET_CTX_SIZE, TL_SETSRC_CLI, "--ctx-size", "131072"};
  in.overrides = &o;
  in.n_overrides = 1;
  assert_int_equal(tl_config_resolve(&in, &c, &err), TL_ENOFIT);
  assert_non_null(strstr(err.message, "needs"));
  free(hw);
}

static tl_config *resolve_default(tl_hw *hw, tl_model_desc *m, const tl_override *ovs, size_t n)
{
  tl_config_inputs in;
  memset(&in, 0, sizeof in);
  in.model = m;
  in.hw = hw;
  tl_workload_preset("server", &in.workload, NULL);
  in.overrides = ovs;
  in.n_overrides = n;
  tl_config *c = NULL;
  tl_error err;
  tl_status st = tl_config_resolve(&in, &c, &err);
  if (st)
    print_error("resolve: %s\n", err.message);
  assert_int_equal(st, TL_OK);
  return c;
}

static void test_deterministic_and_replay(void **state)
{
  (void)state;
  tl_hw *hw = malloc(sizeof *hw);
  tl_model_desc m;
  model_llama8b(&m);
  hw_hybrid(hw);
  tl_config *a = resolve_default(hw, &m, NULL, 0);
  tl_config *b = resolve_default(hw, &m, NULL, 0);
  char *ja, *jb, *ta, *tb;
  assert_int_equal(tl_config_to_json(a, &ja, NULL), TL_OK);
  assert_int_equal(tl_config_to_json(b, &jb, NULL), TL_OK);
  assert_string_equal(ja, jb);
  assert_int_equal(tl_config_trace_jsonl(a, &ta, NULL), TL_OK);
  assert_int_equal(tl_config_trace_jsonl(b, &tb, NULL), TL_OK);
  assert_string_equal(ta, tb);
  assert_string_equal(tl_config_hash(a), tl_config_hash(b));
  assert_int_equal(strlen(tl_config_hash(a)), 64);

  /* replay: the emitted document as a config file gives the same hash */
  tl_override *ovs = NULL;
  size_t n = 0;
  assert_int_equal(tl_config_file_parse(ja, strlen(ja), "effective.json", &ovs, &n, NULL), TL_OK);
  assert_true(n >= TL_SET_COUNT - 1);
  tl_config *r = resolve_default(hw, &m, ovs, n);
  assert_string_equal(tl_config_hash(r), tl_config_hash(a));
  assert_int_equal(tl_config_source(r, TL_SET_CTX_SIZE), TL_SETSRC_CONFIG_FILE);

  /* an edited value changes the hash */
  char *edited = strdup(ja);
  char *p = strstr(edited, "\"ctx_size\": {\n      \"value\": 8192");
  assert_non_null(p);
  memcpy(strstr(p, "8192"), "4096", 4);
  tl_free(ovs);
  assert_int_equal(tl_config_file_parse(edited, strlen(edited), "e.json", &ovs, &n, NULL), TL_OK);
  tl_config *e = resolve_default(hw, &m, ovs, n);
  assert_string_not_equal(tl_config_hash(e), tl_config_hash(a));
  assert_string_equal(tl_config_value(e, TL_SET_CTX_SIZE), "4096");
  free(edited);
  tl_free(ovs);
  tl_free(ja);
  tl_free(jb);
  tl_free(ta);
  tl_free(tb);
  tl_config_free(a);
  tl_config_free(b);
  tl_config_free(r);
  tl_config_free(e);
  free(hw);
}

static void test_config_file_errors(void **state)
{
  (void)state;
  tl_override *ovs = NULL;
  size_t n = 0;
  tl_error err;
  const char *bad[][2] = {
      {"{", "line 1"},
      {"[]", "not a JSON object"},
      {"{\"schema_version\": 7, \"entries\": {}}", "schema_version must be 1"},
      {"{\"entries\": 3}", "no \"entries\" object"},
      {"{\"entries\": {\"ctx\": 5}}", "entries.ctx: no such setting"},
      {"{\"entries\": {\"ctx_size\": [1]}}", "must be a string, number or boolean"},
      {"{\"entries\": {\"ctx_size\": 1, \"ctx_size\": 2}}", "duplicate"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    tl_error_clear(&err);
    assert_int_equal(tl_config_file_parse(bad[i][0], strlen(bad[i][0]), "c.json", &ovs, &n, &err),
                     TL_ECONFIG);
    if (!strstr(err.message, bad[i][1]))
      fail_msg("'%s': '%s' lacks '%s'", bad[i][0], err.message, bad[i][1]);
  }
  const char *good = "{\"entries\": {\"ctx_size\": {\"value\": 1024}, \"mlock\": true, "
                     "\"top_p\": 0.5, \"tensor_split\": null, \"kv_type\": \"q8_0\"}}";
  assert_int_equal(tl_config_file_parse(good, strlen(good), "c.json", &ovs, &n, &err), TL_OK);
  assert_int_equal(n, 4);
  assert_string_equal(ovs[0].value, "1024");
  assert_string_equal(ovs[0].source_key, "c.json:entries.ctx_size");
  assert_string_equal(ovs[1].value, "true");
  tl_free(ovs);
}

static void test_env_collect(void **state)
{
  (void)state;
  char *envp[] = {"PATH=/bin", "TAILOR_SYSROOT=/x", "TAILOR_CTX_SIZE=2048",
                  "TAILOR_FLASH_ATTN=off", "TAILOR_KV_BLOCKS", NULL};
  tl_override *ovs = NULL;
  size_t n = 0;
  assert_int_equal(tl_config_env_collect(envp, &ovs, &n, NULL), TL_OK);
  assert_int_equal(n, 2);
  assert_int_equal(ovs[0].id, TL_SET_CTX_SIZE);
  assert_string_equal(ovs[0].source_key, "TAILOR_CTX_SIZE");
  assert_int_equal(ovs[0].source, TL_SETSRC_ENV);
  assert_int_equal(ovs[1].id, TL_SET_FLASH_ATTN);
  tl_free(ovs);
}

static char *emit(tl_config *c, tl_emit_target t, const char *model)
{
  char *s = NULL;
  tl_error err;
  tl_status st = tl_config_emit(c, t, model, &s, &err);
  if (st)
    fail_msg("emit %s: %s", tl_emit_target_name(t), err.message);
  return s;
}

static void assert_has(const char *s, const char *needle)
{
  if (!strstr(s, needle))
    fail_msg("'%s' lacks '%s'", s, needle);
}

static void test_emitters(void **state)
{
  (void)state;
  tl_hw *hw = malloc(sizeof *hw);
  tl_model_desc m;
  model_llama8b(&m);
  hw_cpu(hw);
  tl_override ovs[] = {
      {TL_SET_KV_TYPE, TL_SETSRC_CLI, "--kv-type", "q8_0"},
      {TL_SET_MLOCK, TL_SETSRC_CLI, "--mlock", "true"},
      {TL_SET_MMAP, TL_SETSRC_CLI, "--mmap", "false"},
  };
  tl_config *c = resolve_default(hw, &m, ovs, 3); /* server preset: 4 slots, ctx 8192 */
  char *s = emit(c, TL_EMIT_TAILOR_RUN, "/models/my model.gguf");
  assert_string_equal(s, "tailor run '/models/my model.gguf' -c 8192 -t 8 -b 2048 -ub 512 "
                         "--kv-type q8_0 --temp 0.8 --top-k 40 --top-p 0.95 --min-p 0.05 "
                         "--repeat-penalty 1\n");
  tl_free(s);
  s = emit(c, TL_EMIT_LLAMA_SERVER, "m.gguf");
  assert_string_equal(s, "llama-server -m m.gguf -c 32768 -np 4 -ngl 0 -t 8 -tb 8 -b 2048 "
                         "-ub 512 -ctk q8_0 -ctv q8_0 -fa off --no-mmap --mlock --temp 0.8 "
                         "--top-k 40 --top-p 0.95 --min-p 0.05 --repeat-penalty 1\n");
  tl_free(s);
  s = emit(c, TL_EMIT_LLAMA_CLI, "m.gguf");
  assert_has(s, "llama-cli -m m.gguf -c 8192 -ngl 0 ");
  assert_true(strstr(s, "-np") == NULL);
  tl_free(s);
  s = emit(c, TL_EMIT_OLLAMA_MODELFILE, "llama3.1:8b");
  assert_string_equal(s, "FROM llama3.1:8b\n"
                         "PARAMETER num_ctx 8192\n"
                         "PARAMETER num_gpu 0\n"
                         "PARAMETER num_thread 8\n"
                         "PARAMETER num_batch 2048\n"
                         "PARAMETER temperature 0.8\n"
                         "PARAMETER top_k 40\n"
                         "PARAMETER top_p 0.95\n"
                         "PARAMETER min_p 0.05\n"
                         "PARAMETER repeat_penalty 1\n"
                         "PARAMETER use_mlock true\n"
                         "PARAMETER use_mmap false\n"
                         "# server environment: OLLAMA_FLASH_ATTENTION=0 "
                         "OLLAMA_KV_CACHE_TYPE=q8_0 OLLAMA_NUM_PARALLEL=4\n");
  tl_free(s);
  tl_error err;
  assert_int_equal(tl_config_emit(c, TL_EMIT_VLLM, "meta-llama/Llama-3.1-8B", &s, &err),
                   TL_EUNSUPPORTED);
  assert_has(err.message, "vLLM serves on CUDA or ROCm GPUs");
  tl_config_free(c);
  free(hw);
}

static void test_explain_and_lookup(void **state)
{
  (void)state;
  tl_setting_id id;
  assert_true(tl_setting_lookup("-ngl", &id));
  assert_int_equal(id, TL_SET_GPU_LAYERS);
  assert_true(tl_setting_lookup("TAILOR_KV_BLOCKS", &id));
  assert_int_equal(id, TL_SET_KV_BLOCKS);
  assert_false(tl_setting_lookup("--nope", &id));
  for (int i = 0; i < TL_SET_COUNT; i++) {
    assert_non_null(tl_setting_help((tl_setting_id)i));
    assert_true(tl_setting_affects((tl_setting_id)i) != 0);
  }
  tl_hw *hw = malloc(sizeof *hw);
  tl_model_desc m;
  model_llama8b(&m);
  hw_hybrid(hw);
  tl_config *c = resolve_default(hw, &m, NULL, 0);
  char *s = NULL;
  assert_int_equal(tl_config_explain(c, &s, NULL), TL_OK);
  assert_has(s, "threads             6             from hardware_capability (cpu.perf_cores)");
  assert_has(s, "rejected 20: includes efficiency cores");
  assert_has(s, "path: default=4096 -> workload_preset=8192");
  tl_free(s);
  tl_config_free(c);
  free(hw);
}

static void test_alloc_failures(void **state)
{
  (void)state;
  tl_hw *hw = malloc(sizeof *hw);
  tl_model_desc m;
  model_llama8b(&m);
  hw_cpu(hw);
  tl_config_inputs in;
  memset(&in, 0, sizeof in);
  in.model = &m;
  in.hw = hw;
  tl_workload_preset("default", &in.workload, NULL);
  for (uint64_t n = 1; n < 200; n++) {
    th_alloc_install(n);
    tl_config *c = NULL;
    tl_status st = tl_config_resolve(&in, &c, NULL);
    char *j = NULL;
    if (!st)
      st = tl_config_to_json(c, &j, NULL);
    tl_free(j);
    tl_config_free(c);
    int64_t live = th_alloc_live();
    th_alloc_uninstall();
    assert_true(st == TL_OK || st == TL_ENOMEM);
    assert_int_equal(live, 0);
    if (st == TL_OK && n > th_alloc_count())
      break;
  }
  free(hw);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cases),
      cmocka_unit_test(test_memory_step_down),
      cmocka_unit_test(test_deterministic_and_replay),
      cmocka_unit_test(test_config_file_errors),
      cmocka_unit_test(test_env_collect),
      cmocka_unit_test(test_emitters),
      cmocka_unit_test(test_explain_and_lookup),
      cmocka_unit_test(test_alloc_failures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
