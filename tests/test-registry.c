/* Tests of the architecture registry: tensor lists and parameter counts of
 * real models from their published config.json (tests/data/hf/configs, with
 * the published counts and sources in expected.json), KV-cache geometry and
 * bytes per token derived by hand, tensor shapes llama.cpp expects, roles by
 * name, the fallback from a parameter count, and config.json errors. */
#include "harness.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tailor/gguf.h"
#include "tailor/model.h"
#include "tailor/quant.h"

static tl_hparams *load_config(const char *name)
{
  char rel[256];
  snprintf(rel, sizeof rel, "hf/configs/%s", name);
  size_t len;
  char *text = th_read_file(th_data_path(rel), &len);
  assert_non_null(text);
  tl_hparams *hp = calloc(1, sizeof *hp);
  tl_error err;
  tl_status st = tl_hparams_from_hf_config(text, len, hp, &err);
  if (st != TL_OK)
    fail_msg("%s: %s", name, err.message);
  free(text);
  return hp;
}

static tl_model_desc *desc_of(const tl_hparams *hp, tl_ftype ft)
{
  tl_model_desc *m = NULL;
  tl_error err;
  if (tl_model_desc_from_hparams(hp, ft, &m, &err) != TL_OK)
    fail_msg("desc: %s", err.message);
  return m;
}

static const tl_tensor_desc *find(const tl_model_desc *m, const char *name)
{
  for (size_t i = 0; i < m->n_tensors; i++)
    if (strcmp(m->tensors[i].name, name) == 0)
      return &m->tensors[i];
  fail_msg("no tensor %s", name);
  return NULL;
}

static void check_shape(const tl_model_desc *m, const char *name, uint32_t nd, int64_t a, int64_t b, int64_t c)
{
  const tl_tensor_desc *t = find(m, name);
  if (t->n_dims != nd || t->ne[0] != a || (nd > 1 && t->ne[1] != b) || (nd > 2 && t->ne[2] != c))
    fail_msg("%s: got %u dims [%lld, %lld, %lld], want %u [%lld, %lld, %lld]", name, t->n_dims,
             (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2], nd, (long long)a, (long long)b,
             (long long)c);
}

static bool within(double got, double want, double tol) { return fabs(got - want) <= tol * want; }

/* Every row of expected.json: parameter counts (exact or within tolerance),
 * active counts for MoE, tensor counts and KV bytes per token. */
static void test_published_counts(void **state)
{
  (void)state;
  json_error_t jerr;
  json_t *root = json_load_file(th_data_path("hf/configs/expected.json"), 0, &jerr);
  assert_non_null(root);
  json_t *models = json_object_get(root, "models");
  assert_true(json_array_size(models) >= 12);
  size_t i;
  json_t *row;
  json_array_foreach(models, i, row)
  {
    const char *cfg = json_string_value(json_object_get(row, "config"));
    tl_hparams *hp = load_config(cfg);
    tl_model_desc *m = desc_of(hp, TL_FTYPE_F16);
    double want = (double)json_integer_value(json_object_get(row, "params"));
    double tol = json_is_number(json_object_get(row, "tolerance")) ? json_number_value(json_object_get(row, "tolerance")) : 0;
    if (json_is_true(json_object_get(row, "exact"))) {
      if ((double)m->n_params != want)
        fail_msg("%s: params %llu, published %.0f", cfg, (unsigned long long)m->n_params, want);
    } else if (!within((double)m->n_params, want, tol)) {
      fail_msg("%s: params %llu, published %.0f (tolerance %g)", cfg, (unsigned long long)m->n_params, want, tol);
    }
    json_t *act = json_object_get(row, "active");
    if (act) {
      double a = (double)json_integer_value(act);
      double got = (double)m->n_params_active;
      if (json_is_true(json_object_get(row, "active_excludes_token_embd")))
        got -= (double)m->n_params_token_embd;
      if (!within(got, a, tol))
        fail_msg("%s: active %.0f, published %.0f (tolerance %g)", cfg, got, a, tol);
      assert_true(m->n_params_active < m->n_params);
    } else {
      assert_int_equal(m->n_params_active, m->n_params);
    }
    json_t *nt = json_object_get(row, "tensors");
    if (nt)
      assert_int_equal(m->n_tensors, json_integer_value(nt));
    static const struct {
      const char *key;
      tl_qtype type;
    } kv[] = {{"kv_f16", TL_QTYPE_F16}, {"kv_q8_0", TL_QTYPE_Q8_0}, {"kv_q4_0", TL_QTYPE_Q4_0}};
    for (size_t k = 0; k < 3; k++) {
      json_t *v = json_object_get(row, kv[k].key);
      if (v && tl_kv_bytes_per_token(hp, kv[k].type) != (uint64_t)json_integer_value(v))
        fail_msg("%s: %s %llu, by hand %lld", cfg, kv[k].key,
                 (unsigned long long)tl_kv_bytes_per_token(hp, kv[k].type), (long long)json_integer_value(v));
    }
    /* F32 is twice F16 */
    assert_int_equal(tl_kv_bytes_per_token(hp, TL_QTYPE_F32), 2 * tl_kv_bytes_per_token(hp, TL_QTYPE_F16));
    /* every tensor's bytes agree with its type and shape; the sum is the weight bytes */
    uint64_t sum = 0;
    for (size_t t = 0; t < m->n_tensors; t++)
      sum += m->tensors[t].bytes;
    assert_int_equal(sum, m->weight_bytes);
    tl_model_desc_free(m);
    free(hp);
  }
  json_decref(root);
}

static void test_shapes(void **state)
{
  (void)state;
  tl_hparams *hp = load_config("llama-3.1-8b.json");
  tl_model_desc *m = desc_of(hp, TL_FTYPE_F16);
  check_shape(m, "token_embd.weight", 2, 4096, 128256, 1);
  check_shape(m, "output.weight", 2, 4096, 128256, 1);
  check_shape(m, "rope_freqs.weight", 1, 64, 1, 1);
  check_shape(m, "blk.31.attn_k.weight", 2, 4096, 1024, 1);
  check_shape(m, "blk.0.ffn_down.weight", 2, 14336, 4096, 1);
  assert_int_equal(find(m, "blk.0.attn_q.weight")->type, TL_QTYPE_F16);
  assert_int_equal(find(m, "blk.0.attn_norm.weight")->type, TL_QTYPE_F32);
  assert_int_equal(find(m, "blk.7.ffn_up.weight")->layer, 7);
  assert_int_equal(find(m, "output_norm.weight")->layer, -1);
  tl_model_desc_free(m);
  free(hp);

  hp = load_config("llama-3.2-1b.json"); /* tied: no output.weight */
  m = desc_of(hp, TL_FTYPE_F16);
  for (size_t i = 0; i < m->n_tensors; i++)
    assert_string_not_equal(m->tensors[i].name, "output.weight");
  assert_int_equal(m->n_params_token_embd, 0);
  tl_model_desc_free(m);
  free(hp);

  hp = load_config("mixtral-8x7b.json");
  m = desc_of(hp, TL_FTYPE_F16);
  check_shape(m, "blk.0.ffn_gate_inp.weight", 2, 4096, 8, 1);
  check_shape(m, "blk.0.ffn_gate_exps.weight", 3, 4096, 14336, 8);
  check_shape(m, "blk.0.ffn_down_exps.weight", 3, 14336, 4096, 8);
  assert_int_equal(find(m, "blk.0.ffn_up_exps.weight")->role, TL_ROLE_FFN_UP_EXPS);
  tl_model_desc_free(m);
  free(hp);

  hp = load_config("qwen2.5-7b.json");
  m = desc_of(hp, TL_FTYPE_F16);
  check_shape(m, "blk.0.attn_k.bias", 1, 512, 1, 1);
  check_shape(m, "blk.0.attn_q.bias", 1, 3584, 1, 1);
  assert_int_equal(hp->n_swa, 0); /* use_sliding_window false */
  tl_model_desc_free(m);
  free(hp);

  hp = load_config("qwen1.5-moe-a2.7b.json");
  m = desc_of(hp, TL_FTYPE_F16);
  check_shape(m, "blk.3.ffn_gate_inp_shexp.weight", 1, 2048, 1, 1);
  check_shape(m, "blk.3.ffn_down_shexp.weight", 2, 5632, 2048, 1);
  check_shape(m, "blk.3.ffn_up_exps.weight", 3, 2048, 1408, 60);
  tl_model_desc_free(m);
  free(hp);

  hp = load_config("qwen3-8b.json");
  m = desc_of(hp, TL_FTYPE_F16);
  check_shape(m, "blk.0.attn_q_norm.weight", 1, 128, 1, 1);
  check_shape(m, "blk.0.attn_k_norm.weight", 1, 128, 1, 1);
  tl_model_desc_free(m);
  free(hp);

  hp = load_config("gemma-3-27b.json");
  assert_int_equal(hp->n_layer, 62);
  assert_int_equal(hp->n_vocab, 262208); /* Gemma3TextConfig default */
  assert_true(hp->tied_embeddings);
  m = desc_of(hp, TL_FTYPE_F16);
  check_shape(m, "blk.0.attn_q.weight", 2, 5376, 4096, 1);
  check_shape(m, "blk.0.attn_output.weight", 2, 4096, 5376, 1);
  check_shape(m, "blk.0.attn_q_norm.weight", 1, 128, 1, 1);
  check_shape(m, "blk.61.post_ffw_norm.weight", 1, 5376, 1, 1);
  check_shape(m, "blk.61.post_attention_norm.weight", 1, 5376, 1, 1);
  tl_model_desc_free(m);
  free(hp);

  hp = load_config("phi-3-mini-4k.json");
  assert_int_equal(hp->n_swa, 0); /* llama.cpp disables Phi-3 SWA */
  m = desc_of(hp, TL_FTYPE_F16);
  check_shape(m, "blk.0.attn_qkv.weight", 2, 3072, 9216, 1);
  check_shape(m, "blk.0.ffn_up.weight", 2, 3072, 16384, 1);
  assert_int_equal(find(m, "blk.0.ffn_up.weight")->role, TL_ROLE_FFN_GATE_UP);
  tl_model_desc_free(m);
  free(hp);

  hp = load_config("deepseek-v3.json");
  assert_true(hp->expert_probs_bias);
  m = desc_of(hp, TL_FTYPE_F16);
  check_shape(m, "blk.0.attn_q_a.weight", 2, 7168, 1536, 1);
  check_shape(m, "blk.0.attn_q_b.weight", 2, 1536, 128 * 192, 1);
  check_shape(m, "blk.0.attn_kv_a_mqa.weight", 2, 7168, 576, 1);
  check_shape(m, "blk.0.attn_k_b.weight", 3, 128, 512, 128);
  check_shape(m, "blk.0.attn_v_b.weight", 3, 512, 128, 128);
  check_shape(m, "blk.0.attn_output.weight", 2, 128 * 128, 7168, 1);
  check_shape(m, "blk.2.ffn_gate.weight", 2, 7168, 18432, 1); /* dense lead layers 0..2 */
  check_shape(m, "blk.3.ffn_gate_exps.weight", 3, 7168, 2048, 256);
  check_shape(m, "blk.3.ffn_gate_shexp.weight", 2, 7168, 2048, 1);
  check_shape(m, "blk.3.exp_probs_b.bias", 1, 256, 1, 1);
  tl_model_desc_free(m);
  free(hp);

  { /* DeepseekV3Config defaults topk_method to noaux_tc: the router bias exists */
    static const char v3[] = "{\"model_type\":\"deepseek_v3\",\"hidden_size\":256,\"num_hidden_layers\":2,"
                             "\"num_attention_heads\":4,\"vocab_size\":100,\"kv_lora_rank\":64,\"qk_rope_head_dim\":32,"
                             "\"qk_nope_head_dim\":32,\"v_head_dim\":32,\"n_routed_experts\":4,\"num_experts_per_tok\":2,"
                             "\"moe_intermediate_size\":256,\"intermediate_size\":512}";
    tl_hparams h3;
    tl_error e3;
    assert_int_equal(tl_hparams_from_hf_config(v3, strlen(v3), &h3, &e3), TL_OK);
    assert_true(h3.expert_probs_bias);
  }

  hp = load_config("deepseek-v2-lite.json"); /* no q compression */
  assert_false(hp->expert_probs_bias);
  m = desc_of(hp, TL_FTYPE_F16);
  check_shape(m, "blk.0.attn_q.weight", 2, 2048, 16 * 192, 1);
  check_shape(m, "blk.1.ffn_gate_shexp.weight", 2, 2048, 2816, 1);
  tl_model_desc_free(m);
  hp->mla_split_kv_b = false; /* the layout of files converted before 2025-04 */
  m = desc_of(hp, TL_FTYPE_F16);
  check_shape(m, "blk.0.attn_kv_b.weight", 2, 512, 16 * 256, 1);
  tl_model_desc_free(m);
  free(hp);

  hp = load_config("gpt-oss-20b.json");
  m = desc_of(hp, TL_FTYPE_F16);
  check_shape(m, "blk.0.attn_sinks.weight", 1, 64, 1, 1);
  check_shape(m, "blk.0.attn_q.weight", 2, 2880, 4096, 1);
  check_shape(m, "blk.0.attn_output.bias", 1, 2880, 1, 1);
  check_shape(m, "blk.0.ffn_gate_exps.weight", 3, 2880, 2880, 32);
  check_shape(m, "blk.0.ffn_down_exps.bias", 2, 2880, 32, 1);
  check_shape(m, "blk.0.post_attention_norm.weight", 1, 2880, 1, 1);
  tl_model_desc_free(m);
  free(hp);

  hp = load_config("bge-small-en-v1.5.json");
  m = desc_of(hp, TL_FTYPE_F16);
  check_shape(m, "position_embd.weight", 2, 384, 512, 1);
  check_shape(m, "token_types.weight", 2, 384, 2, 1);
  check_shape(m, "blk.11.ffn_up.bias", 1, 1536, 1, 1);
  tl_model_desc_free(m);
  free(hp);
}

static void test_kv_geometry(void **state)
{
  (void)state;
  tl_kv_layer kv[TL_MAX_LAYERS];
  tl_error err;

  tl_hparams *hp = load_config("gemma-3-27b.json"); /* 5 local : 1 global */
  assert_int_equal(tl_kv_geometry(hp, kv, &err), TL_OK);
  unsigned swa = 0;
  for (uint32_t i = 0; i < hp->n_layer; i++) {
    assert_int_equal(kv[i].n_embd_k, 16 * 128);
    assert_int_equal(kv[i].window, (i % 6 == 5) ? 0 : 1024);
    swa += kv[i].window != 0;
  }
  assert_int_equal(swa, 52);
  free(hp);

  hp = load_config("gemma-2-9b.json"); /* alternating, even layers slide */
  assert_int_equal(tl_kv_geometry(hp, kv, &err), TL_OK);
  assert_int_equal(kv[0].window, 4096);
  assert_int_equal(kv[1].window, 0);
  assert_int_equal(kv[41].window, 0);
  free(hp);

  hp = load_config("gpt-oss-20b.json"); /* layer_types: sliding first */
  assert_int_equal(tl_kv_geometry(hp, kv, &err), TL_OK);
  assert_int_equal(kv[0].window, 128);
  assert_int_equal(kv[1].window, 0);
  assert_int_equal(kv[0].n_embd_k, 8 * 64);
  free(hp);

  hp = load_config("deepseek-v3.json");
  assert_int_equal(tl_kv_geometry(hp, kv, &err), TL_OK);
  for (uint32_t i = 0; i < hp->n_layer; i++) {
    assert_true(kv[i].mla);
    assert_int_equal(kv[i].n_embd_k, 512 + 64);
    assert_int_equal(kv[i].n_embd_v, 0);
  }
  free(hp);

  hp = load_config("mistral-7b-v0.1.json"); /* no SWA in llama.cpp's llama */
  assert_int_equal(tl_kv_geometry(hp, kv, &err), TL_OK);
  assert_int_equal(kv[0].window, 0);
  free(hp);

  tl_hparams bad = {0};
  assert_int_equal(tl_kv_geometry(&bad, kv, &err), TL_EINVAL);
}

static void test_roles(void **state)
{
  (void)state;
  static const struct {
    const char *name;
    tl_tensor_role role;
    int32_t layer;
  } cases[] = {
      {"token_embd.weight", TL_ROLE_TOKEN_EMBD, -1},
      {"output.weight", TL_ROLE_OUTPUT, -1},
      {"output_norm.weight", TL_ROLE_OUTPUT_NORM, -1},
      {"blk.0.attn_q.weight", TL_ROLE_ATTN_Q, 0},
      {"blk.12.attn_k.bias", TL_ROLE_ATTN_BIAS, 12},
      {"blk.3.attn_qkv.weight", TL_ROLE_ATTN_QKV, 3},
      {"blk.60.attn_kv_a_mqa.weight", TL_ROLE_ATTN_MLA, 60},
      {"blk.5.ffn_gate_exps.weight", TL_ROLE_FFN_GATE_EXPS, 5},
      {"blk.5.ffn_down_exps.bias", TL_ROLE_FFN_EXP_BIAS, 5},
      {"blk.5.ffn_up_shexp.weight", TL_ROLE_FFN_SHEXP, 5},
      {"blk.5.exp_probs_b.bias", TL_ROLE_FFN_EXP_BIAS, 5},
      {"blk.1.post_ffw_norm.weight", TL_ROLE_NORM_OTHER, 1},
      {"blk.x.attn_q.weight", TL_ROLE_OTHER, -1},
      {"blk.4", TL_ROLE_OTHER, -1},
      {"something.else", TL_ROLE_OTHER, -1},
      {"", TL_ROLE_OTHER, -1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int32_t il = 99;
    tl_tensor_role r = tl_tensor_role_from_name(cases[i].name, &il);
    if (r != cases[i].role || il != cases[i].layer)
      fail_msg("'%s': role %s layer %d, want %s %d", cases[i].name, tl_tensor_role_name(r), il,
               tl_tensor_role_name(cases[i].role), cases[i].layer);
  }
  assert_string_equal(tl_tensor_role_name(TL_ROLE_ATTN_Q), "attn_q");
  assert_int_equal(tl_arch_from_name("gpt-oss"), TL_ARCH_GPT_OSS);
  assert_int_equal(tl_arch_from_name("deepseek2"), TL_ARCH_DEEPSEEK2);
  assert_int_equal(tl_arch_from_name("mamba"), TL_ARCH_UNKNOWN);
  for (int a = 0; a < TL_ARCH_COUNT; a++)
    if (a != TL_ARCH_UNKNOWN)
      assert_int_equal(tl_arch_from_name(tl_arch_name((tl_arch)a)), a);
}

static void test_fallback(void **state)
{
  (void)state;
  static const uint64_t counts[] = {1100000000ull, 7000000000ull, 14000000000ull, 70000000000ull};
  for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
    tl_hparams hp = {0};
    hp.n_params_hint = counts[i];
    tl_model_desc *m = desc_of(&hp, TL_FTYPE_Q8_0);
    if (!within((double)m->n_params, (double)counts[i], 0.1))
      fail_msg("guess for %llu gives %llu", (unsigned long long)counts[i], (unsigned long long)m->n_params);
    assert_int_equal(m->hp.arch, TL_ARCH_UNKNOWN);
    assert_true(tl_kv_bytes_per_token(&m->hp, TL_QTYPE_F16) > 0);
    tl_model_desc_free(m);
  }
  tl_hparams hp = {0};
  tl_error err;
  assert_int_equal(tl_hparams_guess_from_params(10, &hp, &err), TL_EINVAL);
}

static void test_config_errors(void **state)
{
  (void)state;
  static const struct {
    const char *json;
    tl_status st;
    const char *needle;
  } cases[] = {
      {"{", TL_EFORMAT, "invalid JSON"},
      {"[1,2]", TL_EFORMAT, "not a JSON object"},
      {"{\"model_type\": \"mamba\", \"num_hidden_layers\": 2}", TL_EUNSUPPORTED, "mamba"},
      {"{\"model_type\": \"llama\", \"hidden_size\": 64, \"num_attention_heads\": 8, \"vocab_size\": 10}",
       TL_EFORMAT, "num_hidden_layers"},
      {"{\"model_type\": \"llama\", \"num_hidden_layers\": \"two\", \"hidden_size\": 64}", TL_EFORMAT,
       "'num_hidden_layers' is not a number"},
      {"{\"model_type\": \"llama\", \"num_hidden_layers\": -3}", TL_EFORMAT, "non-negative"},
      {"{\"model_type\": \"llama\", \"num_hidden_layers\": 100000, \"hidden_size\": 64, "
       "\"num_attention_heads\": 8, \"vocab_size\": 10}",
       TL_ELIMIT, "exceeds"},
      {"{\"model_type\": \"llama\", \"num_hidden_layers\": 2, \"hidden_size\": 64, \"num_attention_heads\": 8, "
       "\"num_key_value_heads\": 16, \"vocab_size\": 10}",
       TL_EINVAL, "head_count_kv"},
      {"{\"model_type\": \"mixtral\", \"num_hidden_layers\": 2, \"hidden_size\": 64, \"num_attention_heads\": 8, "
       "\"vocab_size\": 10, \"intermediate_size\": 128, \"num_local_experts\": 4, \"num_experts_per_tok\": 9}",
       TL_EINVAL, "expert_used_count"},
      {"{\"model_type\": \"llama\", \"num_hidden_layers\": 2, \"hidden_size\": 64, \"num_attention_heads\": 8, "
       "\"vocab_size\": 10, \"tie_word_embeddings\": 1}",
       TL_EFORMAT, "tie_word_embeddings"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tl_hparams hp;
    tl_error err;
    tl_error_clear(&err);
    tl_status st = tl_hparams_from_hf_config(cases[i].json, strlen(cases[i].json), &hp, &err);
    if (st != cases[i].st || !strstr(err.message, cases[i].needle))
      fail_msg("case %zu: %s '%s', want %s containing '%s'", i, tl_status_name(st), err.message,
               tl_status_name(cases[i].st), cases[i].needle);
  }
}


/* Tiny configs of every family in the registry (real key names, small sizes). */
static const struct {
  const char *name;
  const char *json;
} tiny[] = {
    {"llama", "{\"model_type\":\"llama\",\"hidden_size\":256,\"intermediate_size\":512,\"num_hidden_layers\":3,"
              "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"vocab_size\":320,\"max_position_embeddings\":1024,"
              "\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":8.0,\"low_freq_factor\":1.0,"
              "\"high_freq_factor\":4.0,\"original_max_position_embeddings\":256}}"},
    {"mixtral", "{\"model_type\":\"mixtral\",\"hidden_size\":256,\"intermediate_size\":512,\"num_hidden_layers\":2,"
                "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"vocab_size\":320,\"num_local_experts\":4,"
                "\"num_experts_per_tok\":2}"},
    {"qwen2", "{\"model_type\":\"qwen2\",\"hidden_size\":256,\"intermediate_size\":512,\"num_hidden_layers\":2,"
              "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"vocab_size\":320,\"tie_word_embeddings\":true}"},
    {"qwen2moe", "{\"model_type\":\"qwen2_moe\",\"hidden_size\":256,\"intermediate_size\":512,\"num_hidden_layers\":2,"
                 "\"num_attention_heads\":4,\"num_key_value_heads\":4,\"vocab_size\":320,\"num_experts\":4,"
                 "\"num_experts_per_tok\":2,\"moe_intermediate_size\":256,\"shared_expert_intermediate_size\":512}"},
    {"qwen3", "{\"model_type\":\"qwen3\",\"hidden_size\":256,\"intermediate_size\":512,\"num_hidden_layers\":2,"
              "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"head_dim\":128,\"vocab_size\":320}"},
    {"qwen3moe", "{\"model_type\":\"qwen3_moe\",\"hidden_size\":256,\"intermediate_size\":512,\"num_hidden_layers\":2,"
                 "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"head_dim\":64,\"vocab_size\":320,"
                 "\"num_experts\":8,\"num_experts_per_tok\":2,\"moe_intermediate_size\":256}"},
    {"gemma2", "{\"model_type\":\"gemma2\",\"hidden_size\":256,\"intermediate_size\":512,\"num_hidden_layers\":4,"
               "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"head_dim\":64,\"vocab_size\":320,"
               "\"sliding_window\":64,\"attn_logit_softcapping\":50.0,\"final_logit_softcapping\":30.0}"},
    {"gemma3", "{\"model_type\":\"gemma3\",\"text_config\":{\"model_type\":\"gemma3_text\",\"hidden_size\":256,"
               "\"intermediate_size\":512,\"num_hidden_layers\":7,\"num_attention_heads\":4,\"num_key_value_heads\":1,"
               "\"head_dim\":64,\"vocab_size\":320,\"sliding_window\":32}}"},
    {"phi3", "{\"model_type\":\"phi3\",\"hidden_size\":256,\"intermediate_size\":512,\"num_hidden_layers\":2,"
             "\"num_attention_heads\":4,\"num_key_value_heads\":4,\"vocab_size\":320,\"rope_scaling\":"
             "{\"type\":\"longrope\",\"short_factor\":[1],\"long_factor\":[1]},\"original_max_position_embeddings\":256}"},
    {"deepseek3", "{\"model_type\":\"deepseek_v3\",\"hidden_size\":256,\"intermediate_size\":512,\"num_hidden_layers\":3,"
                  "\"num_attention_heads\":4,\"num_key_value_heads\":4,\"vocab_size\":320,\"q_lora_rank\":128,"
                  "\"kv_lora_rank\":256,\"qk_rope_head_dim\":32,\"qk_nope_head_dim\":64,\"v_head_dim\":64,"
                  "\"n_routed_experts\":8,\"n_shared_experts\":1,\"num_experts_per_tok\":2,\"moe_intermediate_size\":256,"
                  "\"first_k_dense_replace\":1,\"topk_method\":\"noaux_tc\"}"},
    {"deepseek2-lite", "{\"model_type\":\"deepseek_v2\",\"hidden_size\":256,\"intermediate_size\":512,"
                       "\"num_hidden_layers\":2,\"num_attention_heads\":4,\"vocab_size\":320,\"q_lora_rank\":null,"
                       "\"kv_lora_rank\":256,\"qk_rope_head_dim\":32,\"qk_nope_head_dim\":64,\"v_head_dim\":64,"
                       "\"n_routed_experts\":4,\"n_shared_experts\":2,\"num_experts_per_tok\":2,"
                       "\"moe_intermediate_size\":256,\"first_k_dense_replace\":1}"},
    {"gpt-oss", "{\"model_type\":\"gpt_oss\",\"hidden_size\":256,\"intermediate_size\":256,\"num_hidden_layers\":2,"
                "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"head_dim\":64,\"vocab_size\":320,"
                "\"num_local_experts\":4,\"experts_per_token\":2,\"sliding_window\":128}"},
    {"bert", "{\"model_type\":\"bert\",\"architectures\":[\"BertModel\"],\"hidden_size\":256,\"intermediate_size\":512,"
             "\"num_hidden_layers\":2,\"num_attention_heads\":4,\"vocab_size\":320,\"max_position_embeddings\":128,"
             "\"type_vocab_size\":2,\"layer_norm_eps\":1e-12}"},
};

static const tl_ftype roundtrip_ftypes[] = {TL_FTYPE_ALL_F32, TL_FTYPE_F16, TL_FTYPE_BF16, TL_FTYPE_Q8_0,
                                            TL_FTYPE_Q4_0,    TL_FTYPE_Q4_K_M, TL_FTYPE_Q6_K, TL_FTYPE_MXFP4_MOE};

/* For every family and several mixtures: the registry's predicted tensors,
 * written to a GGUF file with the hyperparameters as metadata, read back:
 * the file's tensors are the predicted ones (names, types, shapes, bytes),
 * the hyperparameters survive, and the data section is the predicted tensor
 * bytes with 32-byte alignment padding. */
static void test_gguf_roundtrip(void **state)
{
  (void)state;
  const char *dir = th_tmpdir();
  void *zeros = calloc(1, 8 << 20);
  const size_t n_tiny = sizeof tiny / sizeof tiny[0];
  /* one more round: the llama config with per-layer head and width arrays */
  for (size_t round = 0; round <= n_tiny; round++) {
    size_t a = round < n_tiny ? round : 0;
    for (size_t f = 0; f < sizeof roundtrip_ftypes / sizeof roundtrip_ftypes[0]; f++) {
      tl_hparams *hp = calloc(1, sizeof *hp);
      tl_error err;
      if (tl_hparams_from_hf_config(tiny[a].json, strlen(tiny[a].json), hp, &err) != TL_OK)
        fail_msg("%s: %s", tiny[a].name, err.message);
      if (round == n_tiny) {
        static const uint32_t kv[3] = {2, 1, 4}, ff[3] = {512, 256, 768};
        hp->per_layer_dims = true;
        for (uint32_t l = 0; l < 3; l++) {
          hp->n_head_layer[l] = 4;
          hp->n_head_kv_layer[l] = kv[l];
          hp->n_ff_layer[l] = ff[l];
        }
        assert_int_equal(tl_hparams_finalize(hp, &err), TL_OK);
        assert_int_equal(tl_hparams_n_head_kv(hp, 1), 1);
      }
      tl_model_desc *m = desc_of(hp, roundtrip_ftypes[f]);
      tl_gguf_writer *w;
      assert_int_equal(tl_gguf_writer_create(&w, &err), TL_OK);
      assert_int_equal(tl_hparams_to_gguf(&m->hp, w, &err), TL_OK);
      assert_int_equal(tl_gguf_writer_set_u32(w, "general.file_type", (uint32_t)roundtrip_ftypes[f], &err), TL_OK);
      uint64_t padded = 0;
      for (size_t i = 0; i < m->n_tensors; i++) {
        const tl_tensor_desc *t = &m->tensors[i];
        assert_true(t->bytes > 0 && t->bytes <= (8u << 20));
        if (tl_gguf_writer_add_tensor(w, t->name, t->type, t->ne, t->n_dims, zeros, &err) != TL_OK)
          fail_msg("%s: %s", tiny[a].name, err.message);
        padded += (t->bytes + 31) / 32 * 32;
      }
      char path[4200];
      snprintf(path, sizeof path, "%s/%s-%zu-%d.gguf", dir, tiny[a].name, round, (int)roundtrip_ftypes[f]);
      if (tl_gguf_writer_write(w, path, &err) != TL_OK)
        fail_msg("%s: write: %s", tiny[a].name, err.message);
      tl_gguf_writer_free(w);

      tl_model_desc *r = NULL;
      if (tl_model_desc_from_gguf(path, &r, &err) != TL_OK)
        fail_msg("%s: read back: %s", tiny[a].name, err.message);
      assert_int_equal(r->n_tensors, m->n_tensors);
      for (size_t i = 0; i < m->n_tensors; i++) {
        const tl_tensor_desc *p = &m->tensors[i], *q = &r->tensors[i];
        assert_string_equal(p->name, q->name);
        if (p->type != q->type || p->bytes != q->bytes || memcmp(p->ne, q->ne, sizeof p->ne) != 0 ||
            p->layer != q->layer || p->role != q->role)
          fail_msg("%s %s: predicted %s %llu B role %s, file %s %llu B role %s", tiny[a].name, p->name,
                   tl_qtype_name(p->type), (unsigned long long)p->bytes, tl_tensor_role_name(p->role),
                   tl_qtype_name(q->type), (unsigned long long)q->bytes, tl_tensor_role_name(q->role));
      }
      assert_int_equal(r->weight_bytes, m->weight_bytes);
      assert_int_equal(r->n_params, m->n_params);
      assert_int_equal(r->n_params_active, m->n_params_active);
      assert_true(r->ftype_known);
      assert_int_equal(r->ftype, roundtrip_ftypes[f]);
      /* the data section is exactly the padded tensor bytes */
      tl_gguf *g;
      assert_int_equal(tl_gguf_open(path, &g, &err), TL_OK);
      uint64_t last_end = 0;
      for (size_t i = 0; i < tl_gguf_n_tensors(g); i++) {
        const tl_gguf_tensor *t = tl_gguf_tensor_at(g, i);
        last_end = t->offset + (t->bytes + 31) / 32 * 32;
      }
      assert_int_equal(last_end, padded);
      assert_true(tl_gguf_file_size(g) >= tl_gguf_data_offset(g) + padded - 31);
      tl_gguf_close(g);
      /* hyperparameters survive the trip, so the registry rebuilds the same list */
      const tl_hparams *x = &m->hp, *y = &r->hp;
      assert_int_equal(y->arch, x->arch);
      assert_int_equal(y->n_layer, x->n_layer);
      assert_int_equal(y->n_embd, x->n_embd);
      assert_int_equal(y->n_head, x->n_head);
      assert_int_equal(y->n_head_kv, x->n_head_kv);
      assert_int_equal(y->head_dim_k, x->head_dim_k);
      assert_int_equal(y->head_dim_v, x->head_dim_v);
      assert_int_equal(y->n_vocab, x->n_vocab);
      assert_int_equal(y->n_expert, x->n_expert);
      assert_int_equal(y->n_expert_used, x->n_expert_used);
      assert_int_equal(y->tied_embeddings, x->tied_embeddings);
      assert_int_equal(y->kv_lora_rank, x->kv_lora_rank);
      assert_int_equal(y->expert_probs_bias, x->expert_probs_bias);
      for (uint32_t l = 0; l < x->n_layer; l++) {
        assert_int_equal(tl_hparams_layer_is_swa(y, l), tl_hparams_layer_is_swa(x, l));
        assert_int_equal(tl_hparams_n_head_kv(y, l), tl_hparams_n_head_kv(x, l));
        assert_int_equal(tl_hparams_n_ff(y, l), tl_hparams_n_ff(x, l));
      }
      assert_int_equal(tl_kv_bytes_per_token(y, TL_QTYPE_F16), tl_kv_bytes_per_token(x, TL_QTYPE_F16));
      tl_model_desc *again = desc_of(y, roundtrip_ftypes[f]);
      assert_int_equal(again->n_tensors, m->n_tensors);
      assert_int_equal(again->weight_bytes, m->weight_bytes);
      tl_model_desc_free(again);
      tl_model_desc_free(r);
      tl_model_desc_free(m);
      free(hp);
      remove(path);
    }
  }
  free(zeros);
}

static void test_alloc_failures(void **state)
{
  (void)state;
  tl_hparams *hp = load_config("deepseek-v2-lite.json");
  for (uint64_t n = 1;; n++) {
    th_alloc_install(n);
    tl_model_desc *m = NULL;
    tl_status st = tl_model_desc_from_hparams(hp, TL_FTYPE_Q4_K_M, &m, NULL);
    uint64_t made = th_alloc_count();
    tl_model_desc_free(m);
    assert_int_equal(th_alloc_live(), 0);
    th_alloc_uninstall();
    if (st == TL_OK) {
      assert_true(made < n);
      break;
    }
    assert_int_equal(st, TL_ENOMEM);
  }
  free(hp);
  /* reading a GGUF file */
  for (uint64_t n = 1;; n++) {
    th_alloc_install(n);
    tl_model_desc *m = NULL;
    tl_status st = tl_model_desc_from_gguf(th_data_path("models/stories260K.gguf"), &m, NULL);
    tl_model_desc_free(m);
    assert_int_equal(th_alloc_live(), 0);
    th_alloc_uninstall();
    if (st == TL_OK)
      break;
    assert_int_equal(st, TL_ENOMEM);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_published_counts), cmocka_unit_test(test_shapes),
      cmocka_unit_test(test_kv_geometry),      cmocka_unit_test(test_roles),
      cmocka_unit_test(test_fallback),         cmocka_unit_test(test_config_errors),
      cmocka_unit_test(test_alloc_failures),   cmocka_unit_test(test_gguf_roundtrip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
