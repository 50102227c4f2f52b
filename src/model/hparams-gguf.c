/* Hyperparameters from a GGUF file: the `<arch>.` keys llama.cpp's converter
 * writes (llama-arch.cpp LLM_KV_NAMES), per-layer arrays where a file gives
 * them, the token count of the tokenizer, and facts only the tensor list
 * holds (tied output, q/k/v bias, q/k norms, the MLA kv_b layout, rope
 * factor tensors). */
#include <stdio.h>
#include <string.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "tailor/gguf.h"
#include "tailor/model.h"

typedef struct rd {
  const tl_gguf *g;
  const char *arch;
  tl_error *err;
  tl_status st;
} rd;

static const char *akey(const rd *r, const char *suffix, char *buf, size_t n)
{
  snprintf(buf, n, "%s.%s", r->arch, suffix);
  return buf;
}

/* A u32 key; false when absent. A present key of the wrong type is an error. */
static bool get_u32(rd *r, const char *suffix, uint32_t *out)
{
  char k[160];
  akey(r, suffix, k, sizeof k);
  int64_t i = tl_gguf_find_kv(r->g, k);
  if (i < 0 || r->st != TL_OK)
    return false;
  if (!tl_gguf_get_u32(r->g, k, out)) {
    r->st = tl__error_set(r->err, TL_EFORMAT, "gguf: key '%s' is not an unsigned 32-bit integer (type %s)", k,
                          tl_gguf_type_name(tl_gguf_kv_type(r->g, (size_t)i)));
    return false;
  }
  return true;
}

static bool get_f32(rd *r, const char *suffix, float *out)
{
  char k[160];
  akey(r, suffix, k, sizeof k);
  int64_t i = tl_gguf_find_kv(r->g, k);
  if (i < 0 || r->st != TL_OK)
    return false;
  if (!tl_gguf_get_f32(r->g, k, out)) {
    r->st = tl__error_set(r->err, TL_EFORMAT, "gguf: key '%s' is not a float (type %s)", k,
                          tl_gguf_type_name(tl_gguf_kv_type(r->g, (size_t)i)));
    return false;
  }
  return true;
}

/* A key that may be a scalar or a per-layer array (head_count, head_count_kv,
 * feed_forward_length). Returns 0 absent, 1 scalar, 2 array (into arr). */
static int get_u32_or_layers(rd *r, const char *suffix, uint32_t n_layer, uint32_t *scalar, uint32_t *arr)
{
  char k[160];
  akey(r, suffix, k, sizeof k);
  int64_t i = tl_gguf_find_kv(r->g, k);
  if (i < 0 || r->st != TL_OK)
    return 0;
  if (tl_gguf_kv_type(r->g, (size_t)i) != TL_GGUF_ARRAY)
    return get_u32(r, suffix, scalar) ? 1 : 0;
  tl_gguf_type et;
  uint64_t count;
  if (!tl_gguf_arr_info(r->g, (size_t)i, &et, &count) || count != n_layer) {
    r->st = tl__error_set(r->err, TL_EFORMAT, "gguf: key '%s' is an array of %llu values, block_count is %u", k,
                          (unsigned long long)count, n_layer);
    return 0;
  }
  for (uint64_t j = 0; j < count; j++) {
    int64_t v;
    if (!tl_gguf_arr_i64(r->g, (size_t)i, j, &v) || v < 0 || v > UINT32_MAX) {
      r->st = tl__error_set(r->err, TL_EFORMAT, "gguf: key '%s' element %llu is not a count", k,
                            (unsigned long long)j);
      return 0;
    }
    arr[j] = (uint32_t)v;
  }
  return 2;
}

static bool has_tensor(const tl_gguf *g, const char *name) { return tl_gguf_find_tensor(g, name) >= 0; }

static tl_status read_all(rd *r, tl_hparams *hp)
{
  const tl_gguf *g = r->g;
  const char *s;
  size_t n;
  if (!tl_gguf_get_str(g, "general.architecture", &s, &n))
    return tl__error_set(r->err, TL_EFORMAT, "gguf: key 'general.architecture' is missing or not a string");
  if (n == 0 || n >= sizeof hp->arch_name)
    return tl__error_set(r->err, TL_EFORMAT, "gguf: 'general.architecture' has %zu bytes", n);
  memcpy(hp->arch_name, s, n);
  hp->arch_name[n] = '\0';
  r->arch = hp->arch_name;
  hp->arch = tl_arch_from_name(hp->arch_name);
  if (!get_u32(r, "block_count", &hp->n_layer))
    return r->st ? r->st : tl__error_set(r->err, TL_EFORMAT, "gguf: key '%s.block_count' is missing", r->arch);
  if (hp->n_layer == 0 || hp->n_layer > TL_MAX_LAYERS)
    return tl__error_set(r->err, TL_ELIMIT, "gguf: '%s.block_count' = %u outside 1..%d", r->arch, hp->n_layer,
                         TL_MAX_LAYERS);
  if (!get_u32(r, "embedding_length", &hp->n_embd))
    return r->st ? r->st : tl__error_set(r->err, TL_EFORMAT, "gguf: key '%s.embedding_length' is missing", r->arch);
  get_u32(r, "context_length", &hp->n_ctx_train);
  int a = get_u32_or_layers(r, "attention.head_count", hp->n_layer, &hp->n_head, hp->n_head_layer);
  int b = get_u32_or_layers(r, "attention.head_count_kv", hp->n_layer, &hp->n_head_kv, hp->n_head_kv_layer);
  int c = get_u32_or_layers(r, "feed_forward_length", hp->n_layer, &hp->n_ff, hp->n_ff_layer);
  if (r->st)
    return r->st;
  if (a == 0)
    return tl__error_set(r->err, TL_EFORMAT, "gguf: key '%s.attention.head_count' is missing", r->arch);
  if (a == 2 || b == 2 || c == 2) {
    /* make every array per layer */
    for (uint32_t i = 0; i < hp->n_layer; i++) {
      if (a == 1)
        hp->n_head_layer[i] = hp->n_head;
      if (b != 2)
        hp->n_head_kv_layer[i] = b == 1 ? hp->n_head_kv : hp->n_head_layer[i];
      if (c != 2)
        hp->n_ff_layer[i] = hp->n_ff;
    }
    hp->per_layer_dims = true;
  }
  get_u32(r, "attention.key_length", &hp->head_dim_k);
  get_u32(r, "attention.value_length", &hp->head_dim_v);
  if (!get_f32(r, "attention.layer_norm_rms_epsilon", &hp->norm_eps))
    get_f32(r, "attention.layer_norm_epsilon", &hp->norm_eps);
  get_u32(r, "rope.dimension_count", &hp->n_rot);
  get_f32(r, "rope.freq_base", &hp->rope_theta);
  get_f32(r, "rope.freq_base_swa", &hp->rope_theta_swa);
  char k[160];
  if (tl_gguf_get_str(g, akey(r, "rope.scaling.type", k, sizeof k), &s, &n)) {
    if (n == 6 && !memcmp(s, "linear", 6))
      hp->rope_scaling = TL_ROPE_SCALING_LINEAR;
    else if (n == 4 && !memcmp(s, "yarn", 4))
      hp->rope_scaling = TL_ROPE_SCALING_YARN;
    else if (n == 8 && !memcmp(s, "longrope", 8))
      hp->rope_scaling = TL_ROPE_SCALING_LONGROPE;
  }
  get_f32(r, "rope.scaling.factor", &hp->rope_scale_factor);
  get_u32(r, "rope.scaling.original_context_length", &hp->rope_orig_ctx);
  get_u32(r, "attention.sliding_window", &hp->n_swa);
  int64_t pi = tl_gguf_find_kv(g, akey(r, "attention.sliding_window_pattern", k, sizeof k));
  if (pi >= 0 && tl_gguf_kv_type(g, (size_t)pi) == TL_GGUF_ARRAY) {
    tl_gguf_type et;
    uint64_t cnt;
    if (tl_gguf_arr_info(g, (size_t)pi, &et, &cnt) && et == TL_GGUF_BOOL && cnt == hp->n_layer) {
      for (uint64_t i = 0; i < cnt; i++) {
        int64_t v = 0;
        tl_gguf_arr_i64(g, (size_t)pi, i, &v);
        hp->swa_layer[i] = v != 0;
      }
      hp->swa_layers_explicit = true;
    }
  } else if (pi >= 0) {
    get_u32(r, "attention.sliding_window_pattern", &hp->swa_pattern);
  }
  get_f32(r, "attn_logit_softcapping", &hp->attn_softcap);
  get_f32(r, "final_logit_softcapping", &hp->final_softcap);
  get_u32(r, "expert_count", &hp->n_expert);
  get_u32(r, "expert_used_count", &hp->n_expert_used);
  get_u32(r, "expert_feed_forward_length", &hp->n_ff_exp);
  get_u32(r, "expert_shared_count", &hp->n_expert_shared);
  get_u32(r, "expert_shared_feed_forward_length", &hp->n_ff_shexp);
  get_u32(r, "leading_dense_block_count", &hp->n_layer_dense_lead);
  get_u32(r, "interleave_moe_layer_step", &hp->moe_every);
  get_u32(r, "attention.q_lora_rank", &hp->q_lora_rank);
  get_u32(r, "attention.kv_lora_rank", &hp->kv_lora_rank);
  if (r->st)
    return r->st;
  /* vocabulary: the tokenizer's token list, else <arch>.vocab_size, else the embedding */
  int64_t ti = tl_gguf_find_kv(g, "tokenizer.ggml.tokens");
  tl_gguf_type et;
  uint64_t cnt = 0;
  if (ti >= 0 && tl_gguf_arr_info(g, (size_t)ti, &et, &cnt) && cnt > 0 && cnt <= UINT32_MAX)
    hp->n_vocab = (uint32_t)cnt;
  else if (!get_u32(r, "vocab_size", &hp->n_vocab)) {
    int64_t e = tl_gguf_find_tensor(g, "token_embd.weight");
    if (e >= 0) {
      const tl_gguf_tensor *t = tl_gguf_tensor_at(g, (size_t)e);
      if (t->n_dims >= 2 && t->ne[1] > 0 && t->ne[1] <= UINT32_MAX)
        hp->n_vocab = (uint32_t)t->ne[1];
    }
  }
  /* what the tensor list says */
  hp->tied_embeddings = !has_tensor(g, "output.weight");
  hp->attn_bias = has_tensor(g, "blk.0.attn_q.bias") || has_tensor(g, "blk.0.attn_qkv.bias");
  hp->qk_norm = has_tensor(g, "blk.0.attn_q_norm.weight");
  if (has_tensor(g, "rope_freqs.weight")) {
    hp->has_rope_factors = true;
    if (hp->rope_scaling == TL_ROPE_SCALING_NONE)
      hp->rope_scaling = TL_ROPE_SCALING_LLAMA3;
  }
  if (has_tensor(g, "rope_factors_long.weight")) {
    hp->has_rope_factors = true;
    hp->rope_scaling = TL_ROPE_SCALING_LONGROPE;
  }
  int64_t tt = tl_gguf_find_tensor(g, "token_types.weight");
  if (tt >= 0) {
    const tl_gguf_tensor *t = tl_gguf_tensor_at(g, (size_t)tt);
    hp->n_token_types = t->n_dims >= 2 && t->ne[1] > 0 && t->ne[1] < 1024 ? (uint32_t)t->ne[1] : 0;
  }
  if (hp->kv_lora_rank > 0) {
    /* MLA. Files with the split k_b/v_b give the MQA view in key_length
     * (kv_lora_rank + rope) and the per-head sizes in *_length_mla. */
    uint32_t kmla = 0, vmla = 0;
    bool mla = get_u32(r, "attention.key_length_mla", &kmla);
    get_u32(r, "attention.value_length_mla", &vmla);
    uint32_t kl = mla ? kmla : hp->head_dim_k, vl = mla ? vmla : hp->head_dim_v;
    if (hp->n_rot == 0 || kl <= hp->n_rot || vl == 0)
      return tl__error_set(r->err, TL_EFORMAT,
                           "gguf: MLA key/value lengths (%u, %u) and rope.dimension_count %u are inconsistent", kl,
                           vl, hp->n_rot);
    hp->qk_rope_head_dim = hp->n_rot;
    hp->qk_nope_head_dim = kl - hp->n_rot;
    hp->v_head_dim = vl;
    hp->head_dim_k = 0;
    hp->head_dim_v = 0;
    hp->mla_split_kv_b = has_tensor(g, "blk.0.attn_k_b.weight");
    char name[64];
    snprintf(name, sizeof name, "blk.%u.exp_probs_b.bias", hp->n_layer_dense_lead);
    hp->expert_probs_bias = has_tensor(g, name);
    if (hp->per_layer_dims)
      for (uint32_t i = 0; i < hp->n_layer; i++)
        hp->n_head_kv_layer[i] = hp->n_head_layer[i];
    else
      hp->n_head_kv = hp->n_head; /* new files say 1 (the MQA view); shapes use n_head */
  }
  hp->rope_type = (hp->arch == TL_ARCH_LLAMA || hp->arch == TL_ARCH_DEEPSEEK2) ? TL_ROPE_NORMAL : TL_ROPE_NEOX;
  return r->st;
}

tl_status tl_hparams_from_gguf(const tl_gguf *g, tl_hparams *out, tl_error *err)
{
  tl_hparams *hp = tl__calloc(1, sizeof *hp);
  if (!hp)
    return tl__error_set(err, TL_ENOMEM, "gguf: out of memory");
  rd r = {.g = g, .err = err, .st = TL_OK};
  tl_status st = read_all(&r, hp);
  if (st == TL_OK) {
    st = tl_hparams_finalize(hp, err);
    if (st != TL_OK)
      tl__error_prefix(err, "gguf");
  }
  if (st == TL_OK)
    *out = *hp;
  tl__free(hp);
  return st;
}

/* ---- writing ------------------------------------------------------------------ */

typedef struct wr {
  tl_gguf_writer *w;
  const char *arch;
  tl_error *err;
  tl_status st;
} wr;

static void put_u32(wr *x, const char *suffix, uint32_t v)
{
  char k[160];
  if (x->st == TL_OK)
    x->st = tl_gguf_writer_set_u32(x->w, akey(&(rd){.arch = x->arch}, suffix, k, sizeof k), v, x->err);
}

static void put_f32(wr *x, const char *suffix, float v)
{
  char k[160];
  if (x->st == TL_OK)
    x->st = tl_gguf_writer_set_f32(x->w, akey(&(rd){.arch = x->arch}, suffix, k, sizeof k), v, x->err);
}

static void put_layers(wr *x, const char *suffix, const uint32_t *arr, uint32_t n)
{
  char k[160];
  if (x->st == TL_OK)
    x->st = tl_gguf_writer_set_arr(x->w, akey(&(rd){.arch = x->arch}, suffix, k, sizeof k), TL_GGUF_UINT32, arr,
                                   n, x->err);
}

tl_status tl_hparams_to_gguf(const tl_hparams *hp, tl_gguf_writer *w, tl_error *err)
{
  wr x = {.w = w, .arch = hp->arch_name[0] ? hp->arch_name : tl_arch_name(hp->arch), .err = err, .st = TL_OK};
  x.st = tl_gguf_writer_set_str(w, "general.architecture", x.arch, strlen(x.arch), err);
  put_u32(&x, "block_count", hp->n_layer);
  put_u32(&x, "context_length", hp->n_ctx_train);
  put_u32(&x, "embedding_length", hp->n_embd);
  put_u32(&x, "vocab_size", hp->n_vocab);
  if (hp->per_layer_dims) {
    put_layers(&x, "feed_forward_length", hp->n_ff_layer, hp->n_layer);
    put_layers(&x, "attention.head_count", hp->n_head_layer, hp->n_layer);
    put_layers(&x, "attention.head_count_kv", hp->n_head_kv_layer, hp->n_layer);
  } else {
    put_u32(&x, "feed_forward_length", hp->n_ff);
    put_u32(&x, "attention.head_count", hp->n_head);
  }
  if (hp->kv_lora_rank > 0) {
    put_u32(&x, "attention.kv_lora_rank", hp->kv_lora_rank);
    if (hp->q_lora_rank)
      put_u32(&x, "attention.q_lora_rank", hp->q_lora_rank);
    if (hp->mla_split_kv_b) {
      /* the MQA view: one KV head of the latent + rope key */
      if (!hp->per_layer_dims)
        put_u32(&x, "attention.head_count_kv", 1);
      put_u32(&x, "attention.key_length", hp->kv_lora_rank + hp->qk_rope_head_dim);
      put_u32(&x, "attention.value_length", hp->kv_lora_rank);
      put_u32(&x, "attention.key_length_mla", hp->qk_nope_head_dim + hp->qk_rope_head_dim);
      put_u32(&x, "attention.value_length_mla", hp->v_head_dim);
    } else {
      if (!hp->per_layer_dims)
        put_u32(&x, "attention.head_count_kv", hp->n_head);
      put_u32(&x, "attention.key_length", hp->qk_nope_head_dim + hp->qk_rope_head_dim);
      put_u32(&x, "attention.value_length", hp->v_head_dim);
    }
    put_u32(&x, "rope.dimension_count", hp->qk_rope_head_dim);
  } else {
    if (!hp->per_layer_dims)
      put_u32(&x, "attention.head_count_kv", hp->n_head_kv);
    put_u32(&x, "attention.key_length", hp->head_dim_k);
    put_u32(&x, "attention.value_length", hp->head_dim_v);
    put_u32(&x, "rope.dimension_count", hp->n_rot);
  }
  put_f32(&x, hp->arch == TL_ARCH_BERT ? "attention.layer_norm_epsilon" : "attention.layer_norm_rms_epsilon",
          hp->norm_eps);
  if (hp->rope_theta > 0)
    put_f32(&x, "rope.freq_base", hp->rope_theta);
  if (hp->rope_theta_swa > 0)
    put_f32(&x, "rope.freq_base_swa", hp->rope_theta_swa);
  static const char *const scaling[] = {[TL_ROPE_SCALING_LINEAR] = "linear", [TL_ROPE_SCALING_YARN] = "yarn",
                                        [TL_ROPE_SCALING_LONGROPE] = "longrope"};
  if ((hp->rope_scaling == TL_ROPE_SCALING_LINEAR || hp->rope_scaling == TL_ROPE_SCALING_YARN ||
       hp->rope_scaling == TL_ROPE_SCALING_LONGROPE) &&
      x.st == TL_OK) {
    char k[160];
    const char *v = scaling[hp->rope_scaling];
    x.st = tl_gguf_writer_set_str(w, akey(&(rd){.arch = x.arch}, "rope.scaling.type", k, sizeof k), v, strlen(v), err);
    put_f32(&x, "rope.scaling.factor", hp->rope_scale_factor);
    if (hp->rope_orig_ctx)
      put_u32(&x, "rope.scaling.original_context_length", hp->rope_orig_ctx);
  }
  if (hp->n_swa)
    put_u32(&x, "attention.sliding_window", hp->n_swa);
  if (hp->attn_softcap > 0)
    put_f32(&x, "attn_logit_softcapping", hp->attn_softcap);
  if (hp->final_softcap > 0)
    put_f32(&x, "final_logit_softcapping", hp->final_softcap);
  if (hp->n_expert) {
    put_u32(&x, "expert_count", hp->n_expert);
    put_u32(&x, "expert_used_count", hp->n_expert_used);
    put_u32(&x, "expert_feed_forward_length", hp->n_ff_exp);
    if (hp->n_expert_shared)
      put_u32(&x, "expert_shared_count", hp->n_expert_shared);
    if (hp->n_ff_shexp)
      put_u32(&x, "expert_shared_feed_forward_length", hp->n_ff_shexp);
    if (hp->n_layer_dense_lead)
      put_u32(&x, "leading_dense_block_count", hp->n_layer_dense_lead);
    if (hp->moe_every > 1)
      put_u32(&x, "interleave_moe_layer_step", hp->moe_every);
  }
  return x.st;
}
