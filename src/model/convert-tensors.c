/* The conversion plan: for each tensor the registry expects of an
 * architecture (tl_arch_tensors, named and shaped as llama.cpp's converter
 * writes them), the Hugging Face safetensors tensors it is made of and the
 * layout change applied on the way. Facts from llama.cpp convert_hf_to_gguf.py
 * and gguf-py/gguf/tensor_mapping.py:
 *  - llama (Llama, Mistral, Mixtral): q_proj and k_proj rows are permuted
 *    (LlamaModel.permute): within each head the rows [first half | second
 *    half] become interleaved pairs, GGML's "normal" RoPE layout. GGUF row
 *    h*hd + 2i + j comes from HF row h*hd + j*hd/2 + i (j = 0, 1).
 *  - gemma3: every "*norm.weight" gets + 1 (Gemma3RMSNorm scales by 1 + w).
 *  - routed experts (Mixtral w1/w3/w2, Qwen3-MoE gate/up/down_proj per
 *    expert) are stacked into ffn_{gate,up,down}_exps [n_expert, rows, cols].
 *  - phi3's qkv_proj and gate_up_proj are already fused in the checkpoint.
 *  - llama3 rope scaling becomes a rope_freqs tensor (LlamaModel
 *    generate_extra_tensors); phi3 LongRoPE's long_factor / short_factor
 *    lists become rope_factors_long / rope_factors_short (Phi3MiniModel).
 * Nothing here reads tensor data. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "model/convert-int.h"

/* GGUF base name (after "blk.N.", before ".weight"/".bias") -> HF suffix after "layers.N.". */
typedef struct name_map {
  const char *gguf;
  const char *hf[2]; /* candidates, the first one found wins */
} name_map;

static const name_map layer_map[] = {
    {"attn_norm", {"input_layernorm", NULL}},
    {"attn_q", {"self_attn.q_proj", NULL}},
    {"attn_k", {"self_attn.k_proj", NULL}},
    {"attn_v", {"self_attn.v_proj", NULL}},
    {"attn_output", {"self_attn.o_proj", NULL}},
    {"attn_qkv", {"self_attn.qkv_proj", NULL}},
    {"attn_q_norm", {"self_attn.q_norm", NULL}},
    {"attn_k_norm", {"self_attn.k_norm", NULL}},
    {"ffn_gate", {"mlp.gate_proj", NULL}},
    {"ffn_down", {"mlp.down_proj", NULL}},
    {"ffn_gate_inp", {"mlp.gate", "block_sparse_moe.gate"}},
    {"ffn_gate_inp_shexp", {"mlp.shared_expert_gate", NULL}},
    {"ffn_gate_shexp", {"mlp.shared_expert.gate_proj", NULL}},
    {"ffn_up_shexp", {"mlp.shared_expert.up_proj", NULL}},
    {"ffn_down_shexp", {"mlp.shared_expert.down_proj", NULL}},
    {"post_ffw_norm", {"post_feedforward_layernorm", NULL}},
};

/* Stacked experts: per-expert HF suffixes (printf with the expert index). */
static const name_map expert_map[] = {
    {"ffn_gate_exps", {"mlp.experts.%u.gate_proj", "block_sparse_moe.experts.%u.w1"}},
    {"ffn_up_exps", {"mlp.experts.%u.up_proj", "block_sparse_moe.experts.%u.w3"}},
    {"ffn_down_exps", {"mlp.experts.%u.down_proj", "block_sparse_moe.experts.%u.w2"}},
};

typedef struct lookup {
  const tl_tensor_desc *st;
  const int *st_file;
  size_t n;
  const tl_tensor_desc **sorted; /* st entries sorted by name */
  bool *used;
} lookup;

static int cmp_desc(const void *a, const void *b)
{
  return strcmp((*(const tl_tensor_desc *const *)a)->name,
                (*(const tl_tensor_desc *const *)b)->name);
}

static long find(const lookup *lk, const char *name)
{
  size_t lo = 0, hi = lk->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(lk->sorted[mid]->name, name);
    if (c == 0)
      return (long)(lk->sorted[mid] - lk->st);
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return -1;
}

static bool ends_with(const char *s, const char *suffix)
{
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

static uint64_t rows_of(const int64_t ne[4])
{
  return (uint64_t)ne[1] * (uint64_t)ne[2] * (uint64_t)ne[3];
}

/* Llama 3 frequency factors (LlamaModel.generate_extra_tensors in
 * convert_hf_to_gguf.py), computed in float32 as torch does there. */
static float *llama3_rope_freqs(const tl_hparams *hp, uint32_t n)
{
  float *f = tl__malloc_array(n ? n : 1, sizeof *f);
  if (!f)
    return NULL;
  float base = hp->rope_theta, dim = (float)hp->n_rot;
  float factor = hp->rope_scale_factor > 0 ? hp->rope_scale_factor : 8.0f;
  float lo = hp->rope_low_freq_factor > 0 ? hp->rope_low_freq_factor : 1.0f;
  float hi = hp->rope_high_freq_factor > 0 ? hp->rope_high_freq_factor : 4.0f;
  float old_ctx = hp->rope_orig_ctx > 0 ? (float)hp->rope_orig_ctx : 8192.0f;
  float lo_wl = old_ctx / lo, hi_wl = old_ctx / hi;
  for (uint32_t i = 0; i < n; i++) {
    float freq = 1.0f / powf(base, (float)(2 * i) / dim);
    float wl = (float)(2 * M_PI) / freq;
    if (wl < hi_wl)
      f[i] = 1.0f;
    else if (wl > lo_wl)
      f[i] = factor;
    else {
      float smooth = (old_ctx / wl - lo) / (hi - lo);
      f[i] = 1.0f / ((1 - smooth) / factor + smooth);
    }
  }
  return f;
}

/* Names a checkpoint may hold that no GGUF tensor takes, as llama.cpp skips them. */
static bool skippable(const char *name, const tl_hparams *hp)
{
  if (strstr(name, "rotary_emb.inv_freq") || strstr(name, "vision_tower.") ||
      strstr(name, "multi_modal_projector.") || strstr(name, "vision_model.") ||
      strncmp(name, "visual.", 7) == 0)
    return true;
  /* a tied model may still carry lm_head (gemma3's converter drops it) */
  return hp->tied_embeddings && ends_with(name, "lm_head.weight");
}

/* phi3 LongRoPE: the `which` list ("long_factor") of rope_parameters
 * (transformers 5) or rope_scaling, in config.json or its text_config. */
static float *longrope_factors(const char *cfg, size_t len, const char *which, uint32_t n,
                               const char *name, tl_error *err, tl_status *st)
{
  json_t *root = json_loadb(cfg, len, 0, NULL), *arr = NULL;
  json_t *tc = json_object_get(root, "text_config");
  json_t *objs[2] = {json_is_object(tc) ? tc : NULL, root};
  for (int o = 0; o < 2 && !arr; o++) {
    if (!objs[o])
      continue;
    static const char *const keys[] = {"rope_parameters", "rope_scaling"};
    for (int k = 0; k < 2 && !arr; k++) {
      json_t *a = json_object_get(json_object_get(objs[o], keys[k]), which);
      if (json_is_array(a))
        arr = a;
    }
  }
  float *f = NULL;
  if (!arr || json_array_size(arr) != n) {
    *st = tl__error_set(err, TL_EFORMAT,
                        "convert: '%s' needs %u values of rope '%s' in config.json, found %zu",
                        name, n, which, arr ? json_array_size(arr) : (size_t)0);
  } else if (!(f = tl__malloc_array(n ? n : 1, sizeof *f))) {
    *st = tl__error_set(err, TL_ENOMEM, "convert: out of memory");
  } else {
    for (uint32_t i = 0; i < n && *st == TL_OK; i++) {
      json_t *v = json_array_get(arr, i);
      if (!json_is_number(v))
        *st = tl__error_set(err, TL_EFORMAT, "convert: rope '%s'[%u] is not a number", which, i);
      else
        f[i] = (float)json_number_value(v);
    }
  }
  json_decref(root);
  if (*st != TL_OK) {
    tl__free(f);
    return NULL;
  }
  return f;
}

static tl_status add_source(lookup *lk, tl__cv_tensor *t, long idx)
{
  t->src[t->n_src].st = &lk->st[idx];
  t->src[t->n_src].file = lk->st_file[idx];
  t->n_src++;
  lk->used[idx] = true;
  return TL_OK;
}

/* Sources of one registry tensor. */
static tl_status plan_one(lookup *lk, const tl_hparams *hp, const char *cfg, size_t cfg_len,
                          const char *prefix, const tl_tensor_desc *r, tl__cv_tensor *t,
                          tl_error *err)
{
  char hf[512];
  const char *name = r->name;
  snprintf(t->name, sizeof t->name, "%s", name);
  t->n_dims = r->n_dims;
  memcpy(t->ne, r->ne, sizeof t->ne);
  bool is_bias = ends_with(name, ".bias");
  const char *wsuffix = is_bias ? "bias" : "weight";
  size_t max_src = 1;
  if (r->role == TL_ROLE_FFN_GATE_EXPS || r->role == TL_ROLE_FFN_UP_EXPS ||
      r->role == TL_ROLE_FFN_DOWN_EXPS)
    max_src = hp->n_expert;
  if (max_src == 0 || max_src > TL_CV_MAX_SOURCES)
    return tl__error_set(err, TL_ELIMIT, "convert: tensor '%s' needs %zu sources (at most %d)",
                         name, max_src, TL_CV_MAX_SOURCES);
  t->src = tl__calloc(max_src, sizeof *t->src);
  if (!t->src)
    return tl__error_set(err, TL_ENOMEM, "convert: out of memory");

  if (strcmp(name, "rope_freqs.weight") == 0) {
    t->op = TL_CV_GENERATED;
    t->gen = llama3_rope_freqs(hp, (uint32_t)r->ne[0]);
    return t->gen ? TL_OK : tl__error_set(err, TL_ENOMEM, "convert: out of memory");
  }
  if (strncmp(name, "rope_factors_", 13) == 0) {
    tl_status st = TL_OK;
    t->op = TL_CV_GENERATED;
    t->gen = longrope_factors(cfg, cfg_len, strstr(name, "_long.") ? "long_factor" : "short_factor",
                              (uint32_t)r->ne[0], name, err, &st);
    return st;
  }

  long idx = -1;
  if (strcmp(name, "token_embd.weight") == 0) {
    snprintf(hf, sizeof hf, "%sembed_tokens.weight", prefix);
    idx = find(lk, hf);
  } else if (strcmp(name, "output_norm.weight") == 0) {
    snprintf(hf, sizeof hf, "%snorm.weight", prefix);
    idx = find(lk, hf);
  } else if (strcmp(name, "output.weight") == 0) {
    snprintf(hf, sizeof hf, "lm_head.weight");
    idx = find(lk, hf);
    if (idx < 0 && strncmp(prefix, "language_model.", 15) == 0) {
      snprintf(hf, sizeof hf, "language_model.lm_head.weight");
      idx = find(lk, hf);
    }
  } else if (r->layer >= 0) {
    const char *base = strchr(name + 4, '.') + 1; /* after "blk.N." */
    char b[64];
    size_t bl = strlen(base) - strlen(wsuffix) - 1;
    if (bl >= sizeof b)
      bl = sizeof b - 1;
    memcpy(b, base, bl);
    b[bl] = '\0';
    bool gemma = hp->arch == TL_ARCH_GEMMA2 || hp->arch == TL_ARCH_GEMMA3;
    const char *cand[2] = {NULL, NULL};
    for (size_t i = 0; i < sizeof layer_map / sizeof layer_map[0]; i++)
      if (strcmp(layer_map[i].gguf, b) == 0) {
        cand[0] = layer_map[i].hf[0];
        cand[1] = layer_map[i].hf[1];
      }
    if (strcmp(b, "ffn_norm") == 0)
      cand[0] = gemma ? "pre_feedforward_layernorm" : "post_attention_layernorm";
    else if (strcmp(b, "post_attention_norm") == 0)
      cand[0] = "post_attention_layernorm";
    else if (strcmp(b, "ffn_up") == 0)
      cand[0] = hp->arch == TL_ARCH_PHI3 ? "mlp.gate_up_proj" : "mlp.up_proj";
    for (size_t e = 0; e < sizeof expert_map / sizeof expert_map[0]; e++) {
      if (strcmp(expert_map[e].gguf, b) != 0)
        continue;
      for (uint32_t x = 0; x < hp->n_expert; x++) {
        long k = -1;
        for (int c = 0; c < 2 && k < 0; c++) {
          char part[128];
          snprintf(part, sizeof part, expert_map[e].hf[c], x);
          snprintf(hf, sizeof hf, "%slayers.%d.%s.%s", prefix, r->layer, part, wsuffix);
          k = find(lk, hf);
        }
        if (k < 0)
          return tl__error_set(err, TL_EFORMAT,
                               "convert: tensor '%s' needs expert %u of layer %d ('%s' not found)",
                               name, x, r->layer, hf);
        add_source(lk, t, k);
      }
      goto check;
    }
    for (int c = 0; c < 2 && idx < 0 && cand[c]; c++) {
      snprintf(hf, sizeof hf, "%slayers.%d.%s.%s", prefix, r->layer, cand[c], wsuffix);
      idx = find(lk, hf);
    }
    if (!cand[0])
      return tl__error_set(err, TL_EUNSUPPORTED,
                           "convert: no Hugging Face name known for tensor '%s'", name);
  } else {
    return tl__error_set(err, TL_EUNSUPPORTED,
                         "convert: no Hugging Face name known for tensor '%s'", name);
  }
  if (idx < 0)
    return tl__error_set(err, TL_EFORMAT,
                         "convert: tensor '%s' not found in the checkpoint (looked for '%s')", name,
                         hf);
  add_source(lk, t, idx);

check:;
  /* Shapes: every source has the row length; rows add up (the embedding may
   * have more rows than the vocabulary: llama.cpp trims gemma3's). */
  uint64_t rows = 0;
  for (size_t i = 0; i < t->n_src; i++) {
    const tl_tensor_desc *s = t->src[i].st;
    if (s->ne[0] != t->ne[0])
      return tl__error_set(err, TL_EFORMAT, "convert: '%s' has rows of %lld, '%s' needs %lld",
                           s->name, (long long)s->ne[0], name, (long long)t->ne[0]);
    if (s->type != TL_QTYPE_F32 && s->type != TL_QTYPE_F16 && s->type != TL_QTYPE_BF16)
      return tl__error_set(err, TL_EUNSUPPORTED,
                           "convert: '%s' is stored as %s; F32, F16 and BF16 are converted",
                           s->name, tl_qtype_name(s->type));
    rows += rows_of(s->ne);
  }
  bool trim_ok = r->role == TL_ROLE_TOKEN_EMBD && rows > rows_of(t->ne);
  if (rows != rows_of(t->ne) && !trim_ok)
    return tl__error_set(
        err, TL_EFORMAT, "convert: '%s' needs %llu rows of %lld, the checkpoint has %llu", name,
        (unsigned long long)rows_of(t->ne), (long long)t->ne[0], (unsigned long long)rows);
  if (hp->arch == TL_ARCH_LLAMA &&
      (r->role == TL_ROLE_ATTN_Q || r->role == TL_ROLE_ATTN_K ||
       (r->role == TL_ROLE_ATTN_BIAS && (strstr(name, "attn_q.") || strstr(name, "attn_k."))))) {
    bool q = strstr(name, "attn_q.") != NULL;
    t->op = TL_CV_ROPE_PERMUTE;
    t->perm_heads = q ? tl_hparams_n_head(hp, (uint32_t)r->layer)
                      : tl_hparams_n_head_kv(hp, (uint32_t)r->layer);
    uint64_t n = rows_of(t->ne);
    if (is_bias)
      n = (uint64_t)t->ne[0];
    if (t->perm_heads == 0 || n % (2ull * t->perm_heads) != 0)
      return tl__error_set(err, TL_EFORMAT,
                           "convert: '%s' has %llu rows, not a multiple of 2 x %u heads", name,
                           (unsigned long long)n, t->perm_heads);
  } else if (hp->arch == TL_ARCH_GEMMA3 && ends_with(name, "norm.weight")) {
    t->op = TL_CV_ADD_ONE;
  }
  return TL_OK;
}

void tl__cv_plan_free(tl__cv_tensor *t, size_t n)
{
  if (!t)
    return;
  for (size_t i = 0; i < n; i++) {
    tl__free(t[i].src);
    tl__free(t[i].gen);
  }
  tl__free(t);
}

static const char *const prefixes[] = {"model.", "model.language_model.", "language_model.model.",
                                       ""};

tl_status tl__cv_plan_tensors(const tl_hparams *hp, const char *config_json, size_t config_len,
                              const tl_tensor_desc *st, const int *st_file, size_t n_st,
                              tl__cv_tensor **out, size_t *n_out, tl_error *err)
{
  tl_tensor_desc *reg = NULL;
  size_t n_reg = 0;
  tl_status s = tl_arch_tensors(hp, &reg, &n_reg, err);
  if (s != TL_OK)
    return s;
  lookup lk = {.st = st, .st_file = st_file, .n = n_st};
  lk.sorted = tl__malloc_array(n_st ? n_st : 1, sizeof *lk.sorted);
  lk.used = tl__calloc(n_st ? n_st : 1, sizeof *lk.used);
  tl__cv_tensor *plan = tl__calloc(n_reg ? n_reg : 1, sizeof *plan);
  if (!lk.sorted || !lk.used || !plan) {
    s = tl__error_set(err, TL_ENOMEM, "convert: out of memory");
    goto done;
  }
  for (size_t i = 0; i < n_st; i++)
    lk.sorted[i] = &st[i];
  qsort(lk.sorted, n_st, sizeof *lk.sorted, cmp_desc);
  const char *prefix = NULL;
  for (size_t p = 0; p < sizeof prefixes / sizeof prefixes[0] && !prefix; p++) {
    char hf[256];
    snprintf(hf, sizeof hf, "%sembed_tokens.weight", prefixes[p]);
    if (find(&lk, hf) >= 0)
      prefix = prefixes[p];
  }
  if (!prefix) {
    s = tl__error_set(
        err, TL_EFORMAT,
        "convert: no token embedding ('model.embed_tokens.weight') in the checkpoint");
    goto done;
  }
  for (size_t i = 0; i < n_reg && s == TL_OK; i++)
    s = plan_one(&lk, hp, config_json, config_len, prefix, &reg[i], &plan[i], err);
  for (size_t i = 0; i < n_st && s == TL_OK; i++)
    if (!lk.used[i] && !skippable(st[i].name, hp))
      s = tl__error_set(err, TL_EUNSUPPORTED,
                        "convert: checkpoint tensor '%s' has no place in a %s GGUF", st[i].name,
                        tl_arch_name(hp->arch));
done:
  tl__free(lk.sorted);
  tl__free(lk.used);
  tl_tensor_list_free(reg);
  if (s != TL_OK) {
    tl__cv_plan_free(plan, n_reg);
    return s;
  }
  *out = plan;
  *n_out = n_reg;
  return TL_OK;
}
