/* GGUF metadata of a converted model: general.* and the architecture keys,
 * named and typed as llama.cpp's converter writes them (gguf-py/gguf/
 * constants.py Keys; convert_hf_to_gguf.py TextModel / LlamaModel /
 * Qwen2MoeModel / Qwen3MoeModel / Gemma3Model / Phi3MiniModel
 * set_gguf_parameters). Also the config.json facts tl_hparams_from_hf_config
 * does not read: transformers 5 writes rope settings as `rope_parameters`
 * (gemma3: one entry per layer type) instead of rope_theta / rope_scaling. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/error-int.h"
#include "model/convert-int.h"

/* config.json root, or its text_config when it has one (multimodal wrappers). */
static json_t *get(json_t *root, const char *key)
{
  json_t *tc = json_object_get(root, "text_config");
  json_t *v = json_is_object(tc) ? json_object_get(tc, key) : NULL;
  if (!v || json_is_null(v))
    v = json_object_get(root, key);
  return v && !json_is_null(v) ? v : NULL;
}

static double num(json_t *o, const char *key, double dflt)
{
  json_t *v = o ? json_object_get(o, key) : NULL;
  return v && json_is_number(v) ? json_number_value(v) : dflt;
}

static void read_rope(json_t *rp, tl_hparams *hp)
{
  const char *type = json_string_value(json_object_get(rp, "rope_type"));
  if (!type)
    type = json_string_value(json_object_get(rp, "type"));
  if (hp->rope_scaling == TL_ROPE_SCALING_NONE && type) {
    if (!strcmp(type, "linear"))
      hp->rope_scaling = TL_ROPE_SCALING_LINEAR;
    else if (!strcmp(type, "yarn"))
      hp->rope_scaling = TL_ROPE_SCALING_YARN;
    else if (!strcmp(type, "llama3"))
      hp->rope_scaling = TL_ROPE_SCALING_LLAMA3;
    else if (!strcmp(type, "longrope") || !strcmp(type, "su"))
      hp->rope_scaling = TL_ROPE_SCALING_LONGROPE;
  }
  if (hp->rope_scaling != TL_ROPE_SCALING_NONE) {
    if (hp->rope_scale_factor == 0)
      hp->rope_scale_factor = (float)num(rp, "factor", 0);
    if (hp->rope_orig_ctx == 0)
      hp->rope_orig_ctx = (uint32_t)num(rp, "original_max_position_embeddings", 0);
    if (hp->rope_low_freq_factor == 0)
      hp->rope_low_freq_factor = (float)num(rp, "low_freq_factor", 0);
    if (hp->rope_high_freq_factor == 0)
      hp->rope_high_freq_factor = (float)num(rp, "high_freq_factor", 0);
    if (hp->yarn_beta_fast == 0)
      hp->yarn_beta_fast = (float)num(rp, "beta_fast", 0);
    if (hp->yarn_beta_slow == 0)
      hp->yarn_beta_slow = (float)num(rp, "beta_slow", 0);
  }
}

tl_status tl__cv_hparams_fixup(const char *text, size_t len, tl_hparams *hp, tl_error *err)
{
  json_t *root = json_loadb(text, len, 0, NULL);
  if (!root)
    return tl__error_set(err, TL_EFORMAT, "convert: config.json is not valid JSON");
  json_t *rp = get(root, "rope_parameters");
  if (json_is_object(rp)) {
    json_t *full = json_object_get(rp, "full_attention"),
           *slide = json_object_get(rp, "sliding_attention");
    if (json_is_object(full) || json_is_object(slide)) {
      /* per layer type (gemma3): the global layers' base is rope.freq_base */
      if (json_is_object(full)) {
        hp->rope_theta = (float)num(full, "rope_theta", hp->rope_theta);
        read_rope(full, hp);
      }
      if (json_is_object(slide))
        hp->rope_theta_swa = (float)num(slide, "rope_theta", hp->rope_theta_swa);
    } else {
      if (!get(root, "rope_theta"))
        hp->rope_theta = (float)num(rp, "rope_theta", hp->rope_theta);
      read_rope(rp, hp);
      double prf = num(rp, "partial_rotary_factor", 0);
      if (prf > 0 && prf < 1 && hp->head_dim_k) {
        hp->n_rot = (uint32_t)(hp->head_dim_k * prf);
      }
    }
  }
  if (hp->rope_scaling == TL_ROPE_SCALING_LONGROPE && hp->rope_orig_ctx == 0)
    hp->rope_orig_ctx = (uint32_t)num(json_is_object(json_object_get(root, "text_config"))
                                          ? json_object_get(root, "text_config")
                                          : root,
                                      "original_max_position_embeddings", 0);
  json_decref(root);
  tl_status st = tl_hparams_finalize(hp, err);
  if (st != TL_OK)
    tl__error_prefix(err, "convert");
  return st;
}

typedef struct kw {
  tl_gguf_writer *w;
  const char *arch;
  tl_error *err;
  tl_status st;
} kw;

static void u32(kw *k, const char *key, uint32_t v)
{
  char full[160];
  if (k->st != TL_OK)
    return;
  snprintf(full, sizeof full, "%s.%s", k->arch, key);
  k->st = tl_gguf_writer_set_u32(k->w, full, v, k->err);
}

static void f32(kw *k, const char *key, float v)
{
  char full[160];
  if (k->st != TL_OK)
    return;
  snprintf(full, sizeof full, "%s.%s", k->arch, key);
  k->st = tl_gguf_writer_set_f32(k->w, full, v, k->err);
}

static void str(kw *k, const char *key, const char *v)
{
  char full[160];
  if (k->st != TL_OK)
    return;
  snprintf(full, sizeof full, "%s.%s", k->arch, key);
  k->st = tl_gguf_writer_set_str(k->w, full, v, strlen(v), k->err);
}

tl_status tl__cv_write_metadata(tl_gguf_writer *w, const tl_hparams *hp, const char *config_json,
                                size_t config_len, const char *name, tl_ftype ftype, tl_error *err)
{
  json_t *root = json_loadb(config_json, config_len, 0, NULL);
  if (!root)
    return tl__error_set(err, TL_EFORMAT, "convert: config.json is not valid JSON");
  const char *arch = tl_arch_name(hp->arch);
  tl_status st = tl_gguf_writer_set_str(w, "general.architecture", arch, strlen(arch), err);
  if (st == TL_OK)
    st = tl_gguf_writer_set_str(w, "general.type", "model", 5, err);
  if (st == TL_OK)
    st = tl_gguf_writer_set_str(w, "general.name", name, strlen(name), err);
  if (st == TL_OK)
    st = tl_gguf_writer_set_u32(w, "general.alignment", 32, err);
  if (st == TL_OK)
    st = tl_gguf_writer_set_u32(w, "general.file_type", (uint32_t)ftype, err);
  if (st == TL_OK)
    st = tl_gguf_writer_set_u32(w, "general.quantization_version", 2, err); /* GGML_QNT_VERSION */
  kw k = {.w = w, .arch = arch, .err = err, .st = st};
  if (hp->arch == TL_ARCH_LLAMA)
    u32(&k, "vocab_size", hp->n_vocab); /* LlamaModel only */
  u32(&k, "context_length", hp->n_ctx_train);
  u32(&k, "embedding_length", hp->n_embd);
  u32(&k, "block_count", hp->n_layer);
  u32(&k, "feed_forward_length", hp->n_ff);
  u32(&k, "attention.head_count", hp->n_head);
  u32(&k, "attention.head_count_kv", hp->n_head_kv);
  f32(&k, "attention.layer_norm_rms_epsilon", hp->norm_eps);
  if (hp->rope_theta > 0)
    f32(&k, "rope.freq_base", hp->rope_theta);
  /* the converter writes key/value lengths when config.json names head_dim (gemma3: always) */
  if (get(root, "head_dim") || hp->arch == TL_ARCH_GEMMA3) {
    u32(&k, "attention.key_length", hp->head_dim_k);
    u32(&k, "attention.value_length", hp->head_dim_v);
  }
  u32(&k, "rope.dimension_count", hp->n_rot);
  switch (hp->rope_scaling) {
  case TL_ROPE_SCALING_LINEAR:
    str(&k, "rope.scaling.type", "linear");
    f32(&k, "rope.scaling.factor", hp->rope_scale_factor);
    break;
  case TL_ROPE_SCALING_YARN:
    str(&k, "rope.scaling.type", "yarn");
    f32(&k, "rope.scaling.factor", hp->rope_scale_factor);
    if (hp->rope_orig_ctx)
      u32(&k, "rope.scaling.original_context_length", hp->rope_orig_ctx);
    break;
  case TL_ROPE_SCALING_LONGROPE: {
    /* Phi3MiniModel: the factors are tensors; the attention factor of the
     * context extension sqrt(1 + ln(s) / ln(original)) for s = context / original > 1 */
    double orig = hp->rope_orig_ctx, scale = orig > 0 ? hp->n_ctx_train / orig : 1.0;
    f32(&k, "rope.scaling.attn_factor",
        scale > 1.0 ? (float)sqrt(1.0 + log(scale) / log(orig)) : 1.0f);
    break;
  }
  case TL_ROPE_SCALING_LLAMA3: /* carried by the rope_freqs tensor */
  case TL_ROPE_SCALING_NONE:
    break;
  }
  if (hp->n_expert > 0) {
    u32(&k, "expert_count", hp->n_expert);
    u32(&k, "expert_used_count", hp->n_expert_used);
    if (hp->arch == TL_ARCH_QWEN3MOE || hp->arch == TL_ARCH_QWEN2MOE)
      u32(&k, "expert_feed_forward_length", hp->n_ff_exp);
    if (hp->arch == TL_ARCH_QWEN2MOE && hp->n_ff_shexp)
      u32(&k, "expert_shared_feed_forward_length", hp->n_ff_shexp);
  }
  if (hp->arch == TL_ARCH_GEMMA3) {
    json_t *pat = get(root, "sliding_window_pattern");
    if (hp->n_swa > 0 && !(pat && json_is_integer(pat) && json_integer_value(pat) == 1))
      u32(&k, "attention.sliding_window", hp->n_swa);
    if (hp->final_softcap > 0)
      f32(&k, "final_logit_softcapping", hp->final_softcap);
    /* layer_types that differ from llama.cpp's rule (every 6th layer global)
     * go in as one bool per layer, the array form llama.cpp reads for
     * attention.sliding_window_pattern */
    bool differs = false;
    uint8_t swa[TL_MAX_LAYERS];
    for (uint32_t i = 0; i < hp->n_layer; i++) {
      swa[i] = hp->swa_layer[i];
      differs |= hp->swa_layer[i] != (i % 6 < 5);
    }
    if (hp->n_swa > 0 && hp->swa_layers_explicit && differs && k.st == TL_OK) {
      char full[160];
      snprintf(full, sizeof full, "%s.attention.sliding_window_pattern", arch);
      k.st = tl_gguf_writer_set_arr(w, full, TL_GGUF_BOOL, swa, hp->n_layer, err);
    }
  }
  if (hp->arch == TL_ARCH_PHI3) {
    json_t *o = get(root, "original_max_position_embeddings");
    if (o && json_is_integer(o))
      u32(&k, "rope.scaling.original_context_length", (uint32_t)json_integer_value(o));
    json_t *sw = get(root, "sliding_window");
    u32(&k, "attention.sliding_window",
        sw && json_is_integer(sw) ? (uint32_t)json_integer_value(sw) : 0);
  }
  json_decref(root);
  return k.st;
}
