/* Hyperparameters from a Hugging Face config.json: the transformers key names
 * of each family (LlamaConfig, Qwen2Config, Gemma3TextConfig, Phi3Config,
 * DeepseekV3Config, GptOssConfig, BertConfig ...), including the nested
 * text_config of multimodal wrappers, mapped to the GGUF-named tl_hparams.
 * Defaults for keys a config leaves out are the transformers class defaults,
 * where the family relies on them. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "tailor/model.h"

typedef struct cfg {
  json_t *text; /* text_config, or NULL */
  json_t *top;
  tl_error *err;
  tl_status st;
} cfg;

/* The value of key, text_config first; NULL when absent or null. */
static json_t *get(cfg *c, const char *key)
{
  json_t *v = c->text ? json_object_get(c->text, key) : NULL;
  if (!v || json_is_null(v))
    v = json_object_get(c->top, key);
  return v && !json_is_null(v) ? v : NULL;
}

static bool get_u32(cfg *c, const char *key, uint32_t *out)
{
  json_t *v = get(c, key);
  if (!v || c->st != TL_OK)
    return false;
  double d;
  if (json_is_integer(v))
    d = (double)json_integer_value(v);
  else if (json_is_real(v))
    d = json_real_value(v);
  else {
    c->st = tl__error_set(c->err, TL_EFORMAT, "hf-config: '%s' is not a number", key);
    return false;
  }
  if (d < 0 || d > 4294967295.0 || d != floor(d)) {
    c->st = tl__error_set(c->err, TL_EFORMAT, "hf-config: '%s' = %g is not a non-negative integer", key, d);
    return false;
  }
  *out = (uint32_t)d;
  return true;
}

static bool get_f32(cfg *c, const char *key, float *out)
{
  json_t *v = get(c, key);
  if (!v || c->st != TL_OK)
    return false;
  if (!json_is_number(v)) {
    c->st = tl__error_set(c->err, TL_EFORMAT, "hf-config: '%s' is not a number", key);
    return false;
  }
  *out = (float)json_number_value(v);
  return true;
}

static bool get_bool(cfg *c, const char *key, bool *out)
{
  json_t *v = get(c, key);
  if (!v || c->st != TL_OK)
    return false;
  if (!json_is_boolean(v)) {
    c->st = tl__error_set(c->err, TL_EFORMAT, "hf-config: '%s' is not true or false", key);
    return false;
  }
  *out = json_is_true(v);
  return true;
}

static const char *get_str(cfg *c, const char *key)
{
  json_t *v = get(c, key);
  return v && json_is_string(v) ? json_string_value(v) : NULL;
}

static const struct {
  const char *model_type;
  const char *architecture; /* the *ForCausalLM class, for configs without model_type */
  tl_arch arch;
} type_map[] = {
    {"llama", "LlamaForCausalLM", TL_ARCH_LLAMA},
    {"mistral", "MistralForCausalLM", TL_ARCH_LLAMA},
    {"mixtral", "MixtralForCausalLM", TL_ARCH_LLAMA},
    {"qwen2", "Qwen2ForCausalLM", TL_ARCH_QWEN2},
    {"qwen2_moe", "Qwen2MoeForCausalLM", TL_ARCH_QWEN2MOE},
    {"qwen3", "Qwen3ForCausalLM", TL_ARCH_QWEN3},
    {"qwen3_moe", "Qwen3MoeForCausalLM", TL_ARCH_QWEN3MOE},
    {"gemma2", "Gemma2ForCausalLM", TL_ARCH_GEMMA2},
    {"gemma3", "Gemma3ForConditionalGeneration", TL_ARCH_GEMMA3},
    {"gemma3_text", "Gemma3ForCausalLM", TL_ARCH_GEMMA3},
    {"phi3", "Phi3ForCausalLM", TL_ARCH_PHI3},
    {"deepseek_v2", "DeepseekV2ForCausalLM", TL_ARCH_DEEPSEEK2},
    {"deepseek_v3", "DeepseekV3ForCausalLM", TL_ARCH_DEEPSEEK2},
    {"gpt_oss", "GptOssForCausalLM", TL_ARCH_GPT_OSS},
    {"bert", "BertModel", TL_ARCH_BERT},
    {"xlm-roberta", "XLMRobertaModel", TL_ARCH_BERT}, /* llama.cpp converts it to bert */
    {"internlm3", "InternLM3ForCausalLM", TL_ARCH_LLAMA}, /* converted to llama */
};

static tl_arch arch_of(cfg *c, const char **type_out)
{
  const char *mt = NULL;
  if (c->text) {
    json_t *v = json_object_get(c->text, "model_type");
    mt = v && json_is_string(v) ? json_string_value(v) : NULL;
  }
  if (!mt) {
    json_t *v = json_object_get(c->top, "model_type");
    mt = v && json_is_string(v) ? json_string_value(v) : NULL;
  }
  *type_out = mt;
  for (size_t i = 0; mt && i < sizeof type_map / sizeof type_map[0]; i++)
    if (strcmp(type_map[i].model_type, mt) == 0)
      return type_map[i].arch;
  json_t *archs = json_object_get(c->top, "architectures");
  size_t k;
  json_t *a;
  json_array_foreach(archs, k, a)
  {
    if (!json_is_string(a))
      continue;
    for (size_t i = 0; i < sizeof type_map / sizeof type_map[0]; i++)
      if (strcmp(type_map[i].architecture, json_string_value(a)) == 0) {
        if (!mt)
          *type_out = json_string_value(a);
        return type_map[i].arch;
      }
  }
  return TL_ARCH_UNKNOWN;
}

static void read_rope_scaling(cfg *c, tl_hparams *hp)
{
  json_t *rs = get(c, "rope_scaling");
  if (!rs || !json_is_object(rs))
    return;
  json_t *t = json_object_get(rs, "rope_type");
  if (!t || !json_is_string(t))
    t = json_object_get(rs, "type");
  const char *type = t && json_is_string(t) ? json_string_value(t) : "";
  if (!strcmp(type, "linear"))
    hp->rope_scaling = TL_ROPE_SCALING_LINEAR;
  else if (!strcmp(type, "yarn"))
    hp->rope_scaling = TL_ROPE_SCALING_YARN;
  else if (!strcmp(type, "llama3"))
    hp->rope_scaling = TL_ROPE_SCALING_LLAMA3;
  else if (!strcmp(type, "longrope") || !strcmp(type, "su"))
    hp->rope_scaling = TL_ROPE_SCALING_LONGROPE;
  json_t *v;
  if ((v = json_object_get(rs, "factor")) && json_is_number(v))
    hp->rope_scale_factor = (float)json_number_value(v);
  if ((v = json_object_get(rs, "original_max_position_embeddings")) && json_is_integer(v))
    hp->rope_orig_ctx = (uint32_t)json_integer_value(v);
  if ((v = json_object_get(rs, "low_freq_factor")) && json_is_number(v))
    hp->rope_low_freq_factor = (float)json_number_value(v);
  if ((v = json_object_get(rs, "high_freq_factor")) && json_is_number(v))
    hp->rope_high_freq_factor = (float)json_number_value(v);
  if ((v = json_object_get(rs, "beta_fast")) && json_is_number(v))
    hp->yarn_beta_fast = (float)json_number_value(v);
  if ((v = json_object_get(rs, "beta_slow")) && json_is_number(v))
    hp->yarn_beta_slow = (float)json_number_value(v);
}

static void read_layer_types(cfg *c, tl_hparams *hp)
{
  json_t *lt = get(c, "layer_types");
  if (!lt || !json_is_array(lt) || hp->n_layer == 0)
    return;
  if (json_array_size(lt) < hp->n_layer) {
    c->st = tl__error_set(c->err, TL_EFORMAT, "hf-config: 'layer_types' has %zu entries, expected %u",
                          json_array_size(lt), hp->n_layer);
    return;
  }
  for (uint32_t i = 0; i < hp->n_layer && i < TL_MAX_LAYERS; i++) {
    const char *s = json_string_value(json_array_get(lt, i));
    hp->swa_layer[i] = s && strcmp(s, "sliding_attention") == 0;
  }
  hp->swa_layers_explicit = true;
}

tl_status tl_hparams_from_hf_config(const char *text, size_t len, tl_hparams *out, tl_error *err)
{
  json_error_t jerr;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!root && (json_error_code(&jerr) == json_error_out_of_memory || jerr.text[0] == '\0'))
    return tl__error_set(err, TL_ENOMEM, "hf-config: out of memory");
  if (!root)
    return tl__error_set(err, TL_EFORMAT, "hf-config: invalid JSON at line %d: %s", jerr.line, jerr.text);
  if (!json_is_object(root)) {
    json_decref(root);
    return tl__error_set(err, TL_EFORMAT, "hf-config: not a JSON object");
  }
  tl_hparams *hp = tl__calloc(1, sizeof *hp);
  if (!hp) {
    json_decref(root);
    return tl__error_set(err, TL_ENOMEM, "hf-config: out of memory");
  }
  cfg c = {.top = root, .err = err, .st = TL_OK};
  json_t *tc = json_object_get(root, "text_config");
  if (tc && json_is_object(tc))
    c.text = tc;
  const char *mt = NULL;
  hp->arch = arch_of(&c, &mt);
  tl_status st = TL_OK;
  if (hp->arch == TL_ARCH_UNKNOWN) {
    st = tl__error_set(err, TL_EUNSUPPORTED, "hf-config: model_type '%s' is not in the architecture registry",
                       mt ? mt : "(none)");
    goto done;
  }
  snprintf(hp->arch_name, sizeof hp->arch_name, "%s", tl_arch_name(hp->arch));
  bool gemma3 = hp->arch == TL_ARCH_GEMMA3, gemma2 = hp->arch == TL_ARCH_GEMMA2;
  /* transformers class defaults the gemma configs rely on */
  if (gemma3) {
    hp->n_vocab = 262208;
    hp->head_dim_k = 256;
    hp->n_swa = 4096;
    hp->n_ctx_train = 131072;
    hp->rope_theta = 1000000.0f;
    hp->rope_theta_swa = 10000.0f;
  } else if (gemma2) {
    hp->n_vocab = 256000;
    hp->head_dim_k = 256;
    hp->n_swa = 4096;
    hp->n_ctx_train = 8192;
  }
  if (!get_u32(&c, "num_hidden_layers", &hp->n_layer))
    get_u32(&c, "n_layer", &hp->n_layer);
  if (!get_u32(&c, "hidden_size", &hp->n_embd))
    get_u32(&c, "d_model", &hp->n_embd);
  get_u32(&c, "intermediate_size", &hp->n_ff);
  get_u32(&c, "num_attention_heads", &hp->n_head);
  get_u32(&c, "num_key_value_heads", &hp->n_head_kv);
  get_u32(&c, "head_dim", &hp->head_dim_k);
  hp->head_dim_v = hp->head_dim_k;
  get_u32(&c, "vocab_size", &hp->n_vocab);
  get_u32(&c, "max_position_embeddings", &hp->n_ctx_train);
  hp->tied_embeddings = gemma2 || gemma3;
  get_bool(&c, "tie_word_embeddings", &hp->tied_embeddings);
  /* A bare decoder (MistralModel, Qwen2Model: embedding models) has no
   * lm_head; its GGUF has no output.weight, like a tied one. */
  const char *cls = json_string_value(json_array_get(json_object_get(root, "architectures"), 0));
  size_t cl = cls ? strlen(cls) : 0;
  if (hp->arch != TL_ARCH_BERT && cl > 5 && strcmp(cls + cl - 5, "Model") == 0)
    hp->tied_embeddings = true;
  hp->attn_bias = hp->arch == TL_ARCH_QWEN2 || hp->arch == TL_ARCH_QWEN2MOE || hp->arch == TL_ARCH_GPT_OSS;
  if (hp->arch == TL_ARCH_LLAMA)
    get_bool(&c, "attention_bias", &hp->attn_bias);
  hp->qk_norm = hp->arch == TL_ARCH_QWEN3 || hp->arch == TL_ARCH_QWEN3MOE || gemma3;
  if (!get_f32(&c, "rms_norm_eps", &hp->norm_eps))
    get_f32(&c, "layer_norm_eps", &hp->norm_eps);
  get_f32(&c, "rope_theta", &hp->rope_theta);
  get_f32(&c, "rope_local_base_freq", &hp->rope_theta_swa);
  hp->rope_type = (hp->arch == TL_ARCH_LLAMA || hp->arch == TL_ARCH_DEEPSEEK2) ? TL_ROPE_NORMAL : TL_ROPE_NEOX;
  read_rope_scaling(&c, hp);
  float prf = 0;
  if (get_f32(&c, "partial_rotary_factor", &prf) && prf > 0 && prf < 1) {
    uint32_t hd = hp->head_dim_k ? hp->head_dim_k : (hp->n_head ? hp->n_embd / hp->n_head : 0);
    hp->n_rot = (uint32_t)(hd * prf);
  }
  /* sliding window: only families that use it (see tl_hparams_finalize) */
  get_u32(&c, "sliding_window", &hp->n_swa);
  get_u32(&c, "sliding_window_pattern", &hp->swa_pattern);
  read_layer_types(&c, hp);
  get_f32(&c, "attn_logit_softcapping", &hp->attn_softcap);
  get_f32(&c, "final_logit_softcapping", &hp->final_softcap);
  /* mixture of experts */
  if (!get_u32(&c, "num_local_experts", &hp->n_expert))
    if (!get_u32(&c, "num_experts", &hp->n_expert))
      get_u32(&c, "n_routed_experts", &hp->n_expert);
  if (!get_u32(&c, "num_experts_per_tok", &hp->n_expert_used))
    get_u32(&c, "experts_per_token", &hp->n_expert_used);
  get_u32(&c, "moe_intermediate_size", &hp->n_ff_exp);
  if (hp->arch == TL_ARCH_GPT_OSS && hp->n_ff_exp == 0)
    hp->n_ff_exp = hp->n_ff; /* gpt-oss names the expert width intermediate_size */
  get_u32(&c, "shared_expert_intermediate_size", &hp->n_ff_shexp);
  get_u32(&c, "n_shared_experts", &hp->n_expert_shared);
  get_u32(&c, "first_k_dense_replace", &hp->n_layer_dense_lead);
  uint32_t step = 0;
  if (get_u32(&c, "decoder_sparse_step", &step) || get_u32(&c, "moe_layer_freq", &step))
    hp->moe_every = step;
  json_t *mlp_only = get(&c, "mlp_only_layers");
  if (mlp_only && json_is_array(mlp_only) && json_array_size(mlp_only) > 0)
    st = tl__error_set(err, TL_EUNSUPPORTED, "hf-config: 'mlp_only_layers' (dense layers among MoE) is not supported");
  /* multi-head latent attention */
  get_u32(&c, "q_lora_rank", &hp->q_lora_rank);
  get_u32(&c, "kv_lora_rank", &hp->kv_lora_rank);
  get_u32(&c, "qk_rope_head_dim", &hp->qk_rope_head_dim);
  get_u32(&c, "qk_nope_head_dim", &hp->qk_nope_head_dim);
  get_u32(&c, "v_head_dim", &hp->v_head_dim);
  if (hp->arch == TL_ARCH_DEEPSEEK2) {
    /* DeepseekV3Config's default topk_method is "noaux_tc" (router score
     * correction bias); DeepseekV2Config's is "greedy" */
    const char *tm = get_str(&c, "topk_method");
    if (!tm)
      tm = mt && strcmp(mt, "deepseek_v3") == 0 ? "noaux_tc" : "greedy";
    hp->expert_probs_bias = strcmp(tm, "noaux_tc") == 0;
    hp->mla_split_kv_b = true;
  }
  get_u32(&c, "type_vocab_size", &hp->n_token_types);
  if (st == TL_OK && c.st != TL_OK)
    st = c.st;
  if (st == TL_OK && hp->n_layer == 0)
    st = tl__error_set(err, TL_EFORMAT, "hf-config: 'num_hidden_layers' is missing");
  if (st == TL_OK && hp->n_embd == 0)
    st = tl__error_set(err, TL_EFORMAT, "hf-config: 'hidden_size' is missing");
  if (st == TL_OK && hp->n_head == 0)
    st = tl__error_set(err, TL_EFORMAT, "hf-config: 'num_attention_heads' is missing");
  if (st == TL_OK && hp->n_vocab == 0)
    st = tl__error_set(err, TL_EFORMAT, "hf-config: 'vocab_size' is missing");
  if (st == TL_OK && hp->n_layer > TL_MAX_LAYERS)
    st = tl__error_set(err, TL_ELIMIT, "hf-config: 'num_hidden_layers' %u exceeds %d", hp->n_layer, TL_MAX_LAYERS);
  if (st == TL_OK) {
    st = tl_hparams_finalize(hp, err);
    if (st != TL_OK)
      tl__error_prefix(err, "hf-config");
  }
done:
  if (st == TL_OK)
    *out = *hp;
  tl__free(hp);
  json_decref(root);
  return st;
}
