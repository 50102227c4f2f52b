/* Tests of the memory model and placement: weights, KV cache and compute
 * buffers pinned to llama.cpp's own figures (tests/data/plan/
 * llamacpp-reference.json, copied from bench/reference-llamacpp.md
 * with the source line of each), KV bytes derived by hand for dense GQA,
 * sliding-window (gemma3) and MLA + MoE (deepseek) architectures, and the
 * placement modes: full GPU, partial offload, MoE expert offload, several
 * GPUs, unified memory, vLLM. */
#include "plan-fixtures.h"

#include <math.h>

/* ---- llama.cpp reference figures ---- */

/* Weights exact, KV exact, compute buffer exact, total within 5% of the sum
 * llama.cpp reported. The arithmetic, for 1B-Q8_0 (16 layers, d 2048, 8 KV
 * heads x 64, vocab 128256, tied, Q8_0 = 34 bytes per 32):
 *   token_embd 2048 x 128256 x 34/32              = 279,085,056
 *   per layer (q 2048x2048, k,v 2048x512, o 2048x2048, 3 x 2048x8192)
 *     60,817,408 elements x 34/32 = 64,618,496 + norms 2 x 8192 = 64,634,880
 *   16 layers = 1,034,158,080; output_norm 8,192; rope_freqs 32 x 4 = 128
 *   total 1,313,251,456 (the reference's "weight bytes read per token")
 *   KV: 16 layers x 2048 cells x (512 K + 512 V) x 2 bytes = 67,108,864 = 64 MiB
 *   compute: logits 128256 x 512 x 4 + 2 x 2048 x 512 x 4 = 271,056,896 = 258.5 MiB
 * 0.6B-Q8_0: KV 28 x 2048 x (1024 + 1024) x 2 = 234,881,024 = 224 MiB;
 *   compute (151936 + 2 x 1024) x 512 x 4 = 315,359,232 = 300.75 MiB. */
static void test_reference_memory(void **state)
{
  (void)state;
  json_t *root = reference();
  json_t *rows = json_object_get(root, "memory");
  size_t i;
  json_t *row;
  json_array_foreach(rows, i, row)
  {
    const char *name = json_string_value(json_object_get(row, "model"));
    tl_model_desc *m = reference_model(root, name);
    tl_hw hw;
    hw_cpu(&hw, 64 * GIB);
    tl_plan_settings s;
    tl_plan_settings_init(&s);
    s.runtime = TL_RUNTIME_LLAMACPP;
    s.n_ctx = (uint32_t)json_integer_value(json_object_get(row, "n_ctx"));
    tl_plan *p = estimate(m, &hw, &s);
    print_message("%s: weights %.2f MiB kv %.2f MiB compute %.2f MiB\n", name, p->bytes[TL_MEM_WEIGHTS] / MIB,
                  p->bytes[TL_MEM_KV] / MIB, p->bytes[TL_MEM_COMPUTE] / MIB);
    assert_int_equal(p->mode, TL_RUN_CPU_ONLY);
    assert_int_equal(p->bytes[TL_MEM_WEIGHTS], (uint64_t)json_integer_value(json_object_get(row, "weight_bytes")));
    assert_int_equal(p->bytes[TL_MEM_KV], (uint64_t)(json_number_value(json_object_get(row, "kv_mib")) * MIB));
    assert_int_equal(p->bytes[TL_MEM_COMPUTE],
                     (uint64_t)(json_number_value(json_object_get(row, "compute_mib")) * MIB));
    double ref = (json_number_value(json_object_get(row, "weights_mib")) +
                  json_number_value(json_object_get(row, "kv_mib")) +
                  json_number_value(json_object_get(row, "compute_mib"))) * MIB;
    double got = (double)(p->bytes[TL_MEM_WEIGHTS] + p->bytes[TL_MEM_KV] + p->bytes[TL_MEM_COMPUTE]);
    assert_true(fabs(got - ref) / ref < 0.05);
    /* with the runtime's own overhead the whole is still within 5% */
    assert_true(fabs((double)p->required - ref) / ref < 0.05);
    free(p);
    free_model(m);
  }
  json_decref(root);
}

/* ---- KV by hand ---- */

static uint64_t kv_bytes(const tl_model_desc *m, const tl_plan_settings *s)
{
  uint64_t b = 0;
  assert_int_equal(tl_plan_kv_bytes(m, s, &b, NULL), TL_OK);
  return b;
}

/* Dense GQA, llama 3 8B: 32 layers, 8 KV heads x 128 = 1024 K + 1024 V per token.
 *   f16, 8192: 32 x 8192 x 2048 x 2      = 1,073,741,824 (1 GiB)
 *   q8_0, 8192: 1024 -> 32 blocks x 34 = 1088 bytes; 32 x 8192 x 2 x 1088 = 570,425,344
 *   q4_0: 32 x 18 = 576; 32 x 8192 x 2 x 576 = 301,989,888
 *   1000 tokens: tailor keeps 1000 cells: 32 x 1000 x 4096 = 131,072,000;
 *   llama.cpp pads to 1024: 32 x 1024 x 4096 = 134,217,728
 *   4 sequences of 2048: 32 x 8192 x 4096 = 1 GiB again. */
static void test_kv_dense_gqa(void **state)
{
  (void)state;
  json_t *root = reference();
  tl_model_desc *m = reference_model(root, "8B-Q4_K");
  tl_plan_settings s = settings(TL_RUNTIME_LLAMACPP, 8192);
  assert_int_equal(kv_bytes(m, &s), 1073741824ull);
  s.kv_type_k = s.kv_type_v = TL_QTYPE_Q8_0;
  assert_int_equal(kv_bytes(m, &s), 570425344ull);
  s.kv_type_k = s.kv_type_v = TL_QTYPE_Q4_0;
  assert_int_equal(kv_bytes(m, &s), 301989888ull);
  s = settings(TL_RUNTIME_TAILOR, 1000);
  assert_int_equal(kv_bytes(m, &s), 131072000ull);
  s = settings(TL_RUNTIME_LLAMACPP, 1000);
  assert_int_equal(kv_bytes(m, &s), 134217728ull);
  s = settings(TL_RUNTIME_LLAMACPP, 2048);
  s.n_parallel = 4;
  assert_int_equal(kv_bytes(m, &s), 1073741824ull);
  /* vLLM: blocks of 16 tokens: 1000 -> 1008 cells: 32 x 1008 x 4096 = 132,120,576 */
  s = settings(TL_RUNTIME_VLLM, 1000);
  assert_int_equal(kv_bytes(m, &s), 132120576ull);
  free_model(m);
  json_decref(root);
}

/* Sliding window, gemma3 4B shape (google/gemma-3-4b-it config.json: 34 layers,
 * 4 KV heads x 256, sliding_window 1024, every 6th layer global):
 * global layers 5, 11, 17, 23, 29 (5), sliding 29; per token per layer
 * 4 x 256 x 2 (K, V) x 2 bytes = 4096.
 *   llama.cpp, 8192 ctx, ub 512: global 5 x 8192 x 4096 = 167,772,160;
 *   sliding pad256(1024 + 512) = 1536 cells: 29 x 1536 x 4096 = 182,452,224;
 *   total 350,224,384 (vs 34 x 8192 x 4096 = 1,140,850,688 without the window)
 *   2 sequences: 700,448,768.
 *   1024 ctx: sliding layers hold min(1024, 1536) = 1024: 34 x 1024 x 4096 = 142,606,336. */
static void test_kv_swa_gemma3(void **state)
{
  (void)state;
  tl_model_desc *m = calloc(1, sizeof *m);
  assert_non_null(m);
  tl_hparams *hp = &m->hp;
  hp->arch = TL_ARCH_GEMMA3;
  snprintf(hp->arch_name, sizeof hp->arch_name, "gemma3");
  hp->n_layer = 34;
  hp->n_embd = 2560;
  hp->n_head = 8;
  hp->n_head_kv = 4;
  hp->head_dim_k = hp->head_dim_v = 256;
  hp->n_ff = 10240;
  hp->n_vocab = 262208;
  hp->n_ctx_train = 131072;
  hp->n_swa = 1024;
  hp->swa_pattern = 6;
  hp->qk_norm = true;
  hp->norm_eps = 1e-6f;
  hp->rope_theta = 1000000;
  assert_int_equal(tl_hparams_finalize(hp, NULL), TL_OK);
  tl_plan_settings s = settings(TL_RUNTIME_LLAMACPP, 8192);
  assert_int_equal(kv_bytes(m, &s), 350224384ull);
  s.n_parallel = 2;
  assert_int_equal(kv_bytes(m, &s), 700448768ull);
  s = settings(TL_RUNTIME_TAILOR, 8192); /* ring of 1024 + 512 cells, unpadded: same 1536 */
  assert_int_equal(kv_bytes(m, &s), 350224384ull);
  s = settings(TL_RUNTIME_LLAMACPP, 1024);
  assert_int_equal(kv_bytes(m, &s), 142606336ull);
  free(m);
}

/* DeepSeek-V3 shape (deepseek-ai/DeepSeek-V3 config.json): 61 layers, 3 dense,
 * 256 routed experts (8 used) of 2048, 1 shared, kv_lora_rank 512,
 * qk_rope_head_dim 64, d 7168, 128 heads, q_lora_rank 1536.
 * MLA caches the latent: 512 + 64 = 576 elements per token per layer, no V.
 *   f16, 4096 ctx: 61 x 4096 x 576 x 2 = 287,834,112
 *   q8_0: 576 -> 18 blocks x 34 = 612; 61 x 4096 x 612 = 152,911,872
 * Weights read per token: the routed experts of a layer are 3 tensors
 * 7168 x 2048 x 256; at BF16 that is 22,548,578,304 bytes per MoE layer, of
 * which 8/256 are read: 58 MoE layers skip 58 x 22,548,578,304 x 248/256;
 * the untied token_embd (7168 x 129280 x 2 = 1,853,358,080) is a lookup. */
static void test_mla_moe_deepseek(void **state)
{
  (void)state;
  tl_hparams hp;
  memset(&hp, 0, sizeof hp);
  hp.arch = TL_ARCH_DEEPSEEK2;
  snprintf(hp.arch_name, sizeof hp.arch_name, "deepseek2");
  hp.n_layer = 61;
  hp.n_embd = 7168;
  hp.n_ff = 18432;
  hp.n_head = 128;
  hp.n_head_kv = 128;
  hp.n_vocab = 129280;
  hp.n_ctx_train = 163840;
  hp.n_expert = 256;
  hp.n_expert_used = 8;
  hp.n_ff_exp = 2048;
  hp.n_expert_shared = 1;
  hp.n_ff_shexp = 2048;
  hp.n_layer_dense_lead = 3;
  hp.q_lora_rank = 1536;
  hp.kv_lora_rank = 512;
  hp.qk_rope_head_dim = 64;
  hp.qk_nope_head_dim = 128;
  hp.v_head_dim = 128;
  hp.head_dim_k = 192;
  hp.head_dim_v = 128;
  hp.norm_eps = 1e-6f;
  hp.rope_theta = 10000;
  assert_int_equal(tl_hparams_finalize(&hp, NULL), TL_OK);
  tl_model_desc *m = NULL;
  assert_int_equal(tl_model_desc_from_hparams(&hp, TL_FTYPE_BF16, &m, NULL), TL_OK);

  tl_plan_settings s = settings(TL_RUNTIME_LLAMACPP, 4096);
  assert_int_equal(kv_bytes(m, &s), 287834112ull);
  s.kv_type_k = s.kv_type_v = TL_QTYPE_Q8_0;
  assert_int_equal(kv_bytes(m, &s), 152911872ull);

  /* 8 x H200-like GPUs (141 GB) cannot hold 1.3 TB of BF16; with 2 TiB of RAM
   * the experts go to system RAM and the rest stays on the GPUs */
  tl_hw hw;
  hw_cpu(&hw, 2048 * GIB);
  for (int g = 0; g < 8; g++)
    hw_add_gpu(&hw, "H200", 141ull * 1000 * 1000 * 1000, 4.8e12, false);
  s = settings(TL_RUNTIME_LLAMACPP, 4096);
  tl_plan *p = estimate(m, &hw, &s);
  uint64_t per_layer = 3ull * 7168 * 2048 * 256 * 2;
  uint64_t skipped = 58 * per_layer / 256 * 248;
  uint64_t token_embd = 7168ull * 129280 * 2; /* a lookup: one row per token, not counted */
  assert_int_equal(p->read_bytes_per_token, m->weight_bytes - skipped - token_embd);
  assert_int_equal(p->mode, TL_RUN_MOE_OFFLOAD);
  assert_true(p->fits);
  assert_true(p->n_cpu_moe_layers > 0 && p->n_cpu_moe_layers <= 58);
  for (size_t d = 1; d < p->n_devices; d++)
    assert_true(p->devices[d].used <= p->devices[d].available);
  /* the experts of the first layers are on the host, attention on GPUs */
  assert_int_equal(p->expert_device[3], 0);
  assert_true(p->layer_device[3] > 0);
  bool noted = false;
  for (size_t i = 0; i < p->n_notes; i++)
    if (strstr(p->notes[i], "MoE: 8/256 experts active"))
      noted = true;
  assert_true(noted);
  free(p);
  tl_model_desc_free(m);
}

/* ---- placement ---- */

static void test_placement_modes(void **state)
{
  (void)state;
  json_t *root = reference();
  tl_model_desc *m = reference_model(root, "8B-Q4_K");
  tl_plan_settings s = settings(TL_RUNTIME_LLAMACPP, 8192);

  /* 24 GB GPU: everything on it; token_embd stays in system RAM */
  tl_hw hw;
  hw_cpu(&hw, 32 * GIB);
  hw_add_gpu(&hw, "RTX 4090", 24 * GIB, 1.008e12, false);
  tl_plan *p = estimate(m, &hw, &s);
  assert_int_equal(p->mode, TL_RUN_GPU);
  assert_int_equal(p->level, TL_FIT_PERFECT);
  assert_int_equal(p->n_gpu_layers, 32);
  assert_int_equal(p->embd_device, 0);
  assert_int_equal(p->output_device, 1);
  assert_int_equal(p->devices[1].bytes[TL_MEM_KV], 1073741824ull);
  /* GPU weights: everything but token_embd (Q4_K 4096 x 128256 -> 295,501,824) */
  assert_int_equal(p->devices[1].bytes[TL_MEM_WEIGHTS], m->weight_bytes - 295501824ull);
  assert_int_equal(p->devices[0].bytes[TL_MEM_WEIGHTS], 295501824ull);
  free(p);

  /* 4 GiB GPU: some layers, the rest on the CPU */
  hw.gpus[0].vram_total = hw.gpus[0].vram_free = 4 * GIB;
  p = estimate(m, &hw, &s);
  assert_int_equal(p->mode, TL_RUN_CPU_OFFLOAD);
  assert_true(p->n_gpu_layers > 0 && p->n_gpu_layers < 32);
  assert_true(p->devices[1].used <= p->devices[1].available);
  assert_int_equal(p->level, TL_FIT_MARGINAL);
  assert_true(p->spill_bytes > 0);
  /* the GPU layers are the last ones (llama.cpp -ngl) */
  assert_true(p->layer_device[31] == 1 && p->layer_device[0] == 0);
  free(p);

  /* forced CPU */
  s.mode = TL_RUN_CPU_ONLY;
  p = estimate(m, &hw, &s);
  assert_int_equal(p->mode, TL_RUN_CPU_ONLY);
  assert_int_equal(p->gpu_required, 0);
  free(p);
  s.mode = -1;

  /* explicit -ngl 10 */
  s.n_gpu_layers = 10;
  p = estimate(m, &hw, &s);
  assert_int_equal(p->n_gpu_layers, 10);
  assert_int_equal(p->devices[1].n_layers, 10);
  assert_int_equal(p->devices[1].layer_first, 22);
  free(p);
  s.n_gpu_layers = -1;

  /* two 3 GiB GPUs share the layers by what each can hold */
  hw.n_gpus = 0;
  hw_add_gpu(&hw, "A", 3 * GIB, 0.5e12, false);
  hw_add_gpu(&hw, "B", 3 * GIB, 0.5e12, false);
  s.n_ctx = 2048;
  p = estimate(m, &hw, &s);
  assert_true(p->devices[1].n_layers > 0 && p->devices[2].n_layers > 0);
  assert_true(p->devices[1].used <= p->devices[1].available);
  assert_true(p->devices[2].used <= p->devices[2].available);
  free(p);

  /* nothing fits: 2 GiB of RAM, no GPU */
  hw_cpu(&hw, 2 * GIB);
  p = estimate(m, &hw, &s);
  assert_false(p->fits);
  assert_int_equal(p->level, TL_FIT_TOO_TIGHT);
  assert_true(strstr(p->notes[0], "does not fit") != NULL);
  free(p);
  free_model(m);
  json_decref(root);
}

static void test_unified_memory(void **state)
{
  (void)state;
  json_t *root = reference();
  tl_model_desc *m = reference_model(root, "8B-Q4_K");
  tl_hw hw;
  hw_cpu(&hw, 64 * GIB);
  hw_add_gpu(&hw, "Apple M3 Max", 48 * GIB, 400e9, true);
  tl_plan_settings s = settings(TL_RUNTIME_LLAMACPP, 8192);
  tl_plan *p = estimate(m, &hw, &s);
  assert_int_equal(p->mode, TL_RUN_GPU);
  /* one pool: the GPU maps up to its share; host and GPU together fit in RAM */
  assert_int_equal(p->devices[1].available, 48 * GIB);
  assert_int_equal(p->devices[0].available, 64 * GIB - p->devices[0].headroom);
  assert_int_equal(p->devices[1].bytes[TL_MEM_OVERHEAD], 0);
  assert_int_equal(p->available, p->devices[0].available);
  free(p);
  /* a share as large as all of RAM (a described Mac) still leaves the host its part */
  hw.gpus[0].vram_total = hw.gpus[0].vram_free = 64 * GIB;
  p = estimate(m, &hw, &s);
  assert_true(p->fits);
  assert_int_equal(p->mode, TL_RUN_GPU);
  /* a pool too small for both fails even though the GPU share alone would hold the layers */
  free(p);
  hw.mem.usable = hw.mem.available = hw.mem.total = 6 * GIB;
  hw.gpus[0].vram_total = hw.gpus[0].vram_free = 5 * GIB;
  p = estimate(m, &hw, &s);
  assert_false(p->fits);
  free(p);
  free_model(m);
  json_decref(root);
}

static void test_vllm(void **state)
{
  (void)state;
  json_t *root = reference();
  tl_model_desc *m = reference_model(root, "8B-Q4_K");
  tl_hw hw;
  hw_cpu(&hw, 256 * GIB);
  hw_add_gpu(&hw, "H100", 80 * GIB, 3.352e12, false);
  tl_plan_settings s = settings(TL_RUNTIME_VLLM, 8192);
  tl_plan *p = estimate(m, &hw, &s);
  assert_true(p->fits);
  assert_int_equal(p->mode, TL_RUN_GPU);
  assert_int_equal(p->settings.tensor_parallel, 1);
  /* the budget is 90% of 80 GiB */
  assert_int_equal(p->devices[1].available, (uint64_t)(80.0 * GIB * 0.9));
  assert_int_equal(p->devices[1].bytes[TL_MEM_WEIGHTS], m->weight_bytes);
  assert_int_equal(p->devices[1].bytes[TL_MEM_KV], 1073741824ull);
  free(p);
  /* no GPU: vLLM does not fit */
  hw.n_gpus = 0;
  p = estimate(m, &hw, &s);
  assert_false(p->fits);
  free(p);
  /* two GPUs: tensor parallel 2 halves weights and KV per GPU */
  hw_add_gpu(&hw, "H100", 80 * GIB, 3.352e12, false);
  hw_add_gpu(&hw, "H100", 80 * GIB, 3.352e12, false);
  p = estimate(m, &hw, &s);
  assert_int_equal(p->settings.tensor_parallel, 2);
  assert_int_equal(p->devices[2].bytes[TL_MEM_KV], 1073741824ull / 2);
  free(p);
  free_model(m);
  json_decref(root);
}

/* A quantized cache adds an f16 scratch of one layer's K and V on each device
 * holding layers: 8B at 8192, q8_0: 570,425,344 + 8192 x 2048 x 2 = 33,554,432. */
static void test_kv_quant_scratch(void **state)
{
  (void)state;
  json_t *root = reference();
  tl_model_desc *m = reference_model(root, "8B-Q4_K");
  tl_hw hw;
  hw_cpu(&hw, 64 * GIB);
  tl_plan_settings s = settings(TL_RUNTIME_LLAMACPP, 8192);
  s.kv_type_k = s.kv_type_v = TL_QTYPE_Q8_0;
  tl_plan *p = estimate(m, &hw, &s);
  assert_int_equal(p->bytes[TL_MEM_KV], 570425344ull + 33554432ull);
  free(p);
  free_model(m);
  json_decref(root);
}

/* Ollama: num_ctx 4096 and flash attention off by default. 1B llama:
 *   KV 16 x 4096 x 1024 x 2 = 134,217,728 (128 MiB)
 *   compute without flash attention: scores and softmax [4096, 512, 32] f32
 *   twice + Q and residual: 8 x 512 x 32 x 4096 + 4 x 512 x (2048 + 2048)
 *   = 536,870,912 + 8,388,608 = 545,259,520, above the output phase (258.5 MiB). */
static void test_ollama_defaults(void **state)
{
  (void)state;
  json_t *root = reference();
  tl_model_desc *m = reference_model(root, "1B-Q8_0");
  tl_hw hw;
  hw_cpu(&hw, 64 * GIB);
  tl_plan_settings s = settings(TL_RUNTIME_OLLAMA, 0);
  tl_plan *p = estimate(m, &hw, &s);
  assert_int_equal(p->settings.n_ctx, 4096);
  assert_int_equal(p->settings.flash_attn, 0);
  assert_int_equal(p->bytes[TL_MEM_KV], 134217728ull);
  assert_int_equal(p->devices[0].bytes[TL_MEM_COMPUTE], 545259520ull);
  free(p);
  /* a probe that could not read `usable` falls back to what is available */
  hw.mem.usable = 0;
  p = estimate(m, &hw, &s);
  assert_true(p->fits);
  free(p);
  free_model(m);
  json_decref(root);
}

/* The built-in engine allocates what the tailor runtime's plan says: the
 * shipped stories260K model (5 layers, 4 KV heads x 8, f16) at 256 tokens:
 * weights are the tensor bytes (1,171,200), the cache 5 x 256 x (32 + 32) x 2
 * = 163,840 bytes, both exact; the compute scratch is the runtime's model of
 * the engine's buffers (one thread here), within a quarter. */
static void test_engine_agrees(void **state)
{
  (void)state;
  const char *path = th_data_path("models/stories260K.gguf");
  tl_engine_params ep;
  tl_engine_params_init(&ep);
  ep.n_ctx = 256;
  ep.n_threads = 1;
  tl_engine *e = NULL;
  tl_error err;
  if (tl_engine_load(path, &ep, &e, &err) != TL_OK)
    fail_msg("engine: %s", err.message);
  tl_engine_mem mem;
  tl_engine_memory(e, &mem);
  tl_model_desc *m = NULL;
  assert_int_equal(tl_model_desc_from_gguf(path, &m, &err), TL_OK);
  tl_hw hw;
  hw_cpu(&hw, 8 * GIB);
  tl_plan_settings s = settings(TL_RUNTIME_TAILOR, 256);
  s.n_ubatch = tl_engine_get_params(e)->n_ubatch;
  tl_plan *p = estimate(m, &hw, &s);
  assert_int_equal(p->bytes[TL_MEM_WEIGHTS], mem.weights);
  assert_int_equal(p->bytes[TL_MEM_KV], mem.kv_cache);
  assert_int_equal(mem.kv_cache, 163840);
  double r = (double)p->bytes[TL_MEM_COMPUTE] / (double)mem.compute;
  print_message("compute: plan %llu engine %llu\n", (unsigned long long)p->bytes[TL_MEM_COMPUTE],
                (unsigned long long)mem.compute);
  assert_true(r > 0.75 && r < 1.25);
  free(p);
  tl_model_desc_free(m);
  tl_engine_free(e);
}

static void test_extras_and_errors(void **state)
{
  (void)state;
  json_t *root = reference();
  tl_model_desc *m = reference_model(root, "1B-Q8_0");
  tl_model_desc *draft = reference_model(root, "0.6B-Q8_0");
  tl_hw hw;
  hw_cpu(&hw, 64 * GIB);
  tl_plan_settings s = settings(TL_RUNTIME_LLAMACPP, 2048);
  s.projector_bytes = 100 * 1000 * 1000;
  s.draft = draft;
  tl_plan *p = estimate(m, &hw, &s);
  /* draft weights + its KV at the same context (224 MiB) + the projector */
  assert_int_equal(p->bytes[TL_MEM_EXTRA], 100000000ull + draft->weight_bytes + 234881024ull);
  free(p);

  tl_plan out;
  tl_error err;
  s = settings(TL_RUNTIME_LLAMACPP, 2048);
  s.kv_type_k = TL_QTYPE_Q4_K;
  assert_int_equal(tl_plan_estimate(m, &hw, &s, &out, &err), TL_EINVAL);
  assert_non_null(strstr(err.message, "KV cache type"));
  assert_int_equal(tl_plan_estimate(NULL, &hw, &s, &out, &err), TL_EINVAL);
  s = settings((tl_runtime)42, 0);
  assert_int_equal(tl_plan_estimate(m, &hw, &s, &out, &err), TL_EINVAL);

  /* every allocation failing in turn gives ENOMEM and leaks nothing */
  s = settings(TL_RUNTIME_TAILOR, 2048);
  for (uint64_t k = 1; k <= 3; k++) {
    th_alloc_install(k);
    tl_status st = tl_plan_estimate(m, &hw, &s, &out, NULL);
    int64_t live = th_alloc_live();
    th_alloc_uninstall();
    assert_int_equal(st, TL_ENOMEM);
    assert_int_equal(live, 0);
  }
  free_model(draft);
  free_model(m);
  json_decref(root);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reference_memory), cmocka_unit_test(test_kv_dense_gqa),
      cmocka_unit_test(test_kv_swa_gemma3),    cmocka_unit_test(test_mla_moe_deepseek),
      cmocka_unit_test(test_placement_modes),  cmocka_unit_test(test_unified_memory),
      cmocka_unit_test(test_vllm),             cmocka_unit_test(test_kv_quant_scratch),
      cmocka_unit_test(test_ollama_defaults),  cmocka_unit_test(test_engine_agrees),
      cmocka_unit_test(test_extras_and_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
