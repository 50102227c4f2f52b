/* File-type mixtures: which element type llama-quantize gives each tensor of
 * a model under a file type (general.file_type), from the tensor's name and
 * shape and a few model facts. Owns no state beyond the caller's context.
 * Reproduces the behaviour of ggml-org/llama.cpp src/llama-quant.cpp at
 * commit 007dbbf3fd17eefe9b47fee45f48f7ba5e62b714 (tensor_allows_quantization,
 * tensor_get_category, llama_tensor_get_type_impl, tensor_type_fallback,
 * tensor_requires_imatrix, llama_ftype_get_default_type) with llama-quantize's
 * default parameters (no overrides, output quantized, not --pure); and the
 * visiting order of llama-model-loader.h (weight_name_comparer). The code is
 * our own; docs/gguf.md has the rules as a table. */
#include "tailor/quant.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc-int.h"
#include "base/error-int.h"

/* ---- file types ---- */

typedef struct ftype_row {
  tl_ftype ftype;
  const char *name;
  tl_qtype deflt;
} ftype_row;

static const ftype_row FTYPES[] = {
    {TL_FTYPE_ALL_F32, "F32", TL_QTYPE_F32},
    {TL_FTYPE_F16, "F16", TL_QTYPE_F16},
    {TL_FTYPE_Q4_0, "Q4_0", TL_QTYPE_Q4_0},
    {TL_FTYPE_Q4_1, "Q4_1", TL_QTYPE_Q4_1},
    {TL_FTYPE_Q8_0, "Q8_0", TL_QTYPE_Q8_0},
    {TL_FTYPE_Q5_0, "Q5_0", TL_QTYPE_Q5_0},
    {TL_FTYPE_Q5_1, "Q5_1", TL_QTYPE_Q5_1},
    {TL_FTYPE_Q2_K, "Q2_K", TL_QTYPE_Q2_K},
    {TL_FTYPE_Q3_K_S, "Q3_K_S", TL_QTYPE_Q3_K},
    {TL_FTYPE_Q3_K_M, "Q3_K_M", TL_QTYPE_Q3_K},
    {TL_FTYPE_Q3_K_L, "Q3_K_L", TL_QTYPE_Q3_K},
    {TL_FTYPE_Q4_K_S, "Q4_K_S", TL_QTYPE_Q4_K},
    {TL_FTYPE_Q4_K_M, "Q4_K_M", TL_QTYPE_Q4_K},
    {TL_FTYPE_Q5_K_S, "Q5_K_S", TL_QTYPE_Q5_K},
    {TL_FTYPE_Q5_K_M, "Q5_K_M", TL_QTYPE_Q5_K},
    {TL_FTYPE_Q6_K, "Q6_K", TL_QTYPE_Q6_K},
    {TL_FTYPE_IQ2_XXS, "IQ2_XXS", TL_QTYPE_IQ2_XXS},
    {TL_FTYPE_IQ2_XS, "IQ2_XS", TL_QTYPE_IQ2_XS},
    {TL_FTYPE_Q2_K_S, "Q2_K_S", TL_QTYPE_Q2_K},
    {TL_FTYPE_IQ3_XS, "IQ3_XS", TL_QTYPE_IQ3_S},
    {TL_FTYPE_IQ3_XXS, "IQ3_XXS", TL_QTYPE_IQ3_XXS},
    {TL_FTYPE_IQ1_S, "IQ1_S", TL_QTYPE_IQ1_S},
    {TL_FTYPE_IQ4_NL, "IQ4_NL", TL_QTYPE_IQ4_NL},
    {TL_FTYPE_IQ3_S, "IQ3_S", TL_QTYPE_IQ3_S},
    {TL_FTYPE_IQ3_M, "IQ3_M", TL_QTYPE_IQ3_S},
    {TL_FTYPE_IQ2_S, "IQ2_S", TL_QTYPE_IQ2_XS},
    {TL_FTYPE_IQ2_M, "IQ2_M", TL_QTYPE_IQ2_S},
    {TL_FTYPE_IQ4_XS, "IQ4_XS", TL_QTYPE_IQ4_XS},
    {TL_FTYPE_IQ1_M, "IQ1_M", TL_QTYPE_IQ1_M},
    {TL_FTYPE_BF16, "BF16", TL_QTYPE_BF16},
    {TL_FTYPE_TQ1_0, "TQ1_0", TL_QTYPE_TQ1_0},
    {TL_FTYPE_TQ2_0, "TQ2_0", TL_QTYPE_TQ2_0},
    {TL_FTYPE_MXFP4_MOE, "MXFP4_MOE", TL_QTYPE_MXFP4},
};
#define N_FTYPES (sizeof FTYPES / sizeof FTYPES[0])

static const ftype_row *ftype_row_of(tl_ftype f)
{
  for (size_t i = 0; i < N_FTYPES; i++)
    if (FTYPES[i].ftype == f)
      return &FTYPES[i];
  return NULL;
}

bool tl_ftype_valid(tl_ftype f)
{
  return ftype_row_of(f) != NULL;
}

const char *tl_ftype_name(tl_ftype f)
{
  const ftype_row *r = ftype_row_of(f);
  return r ? r->name : "invalid";
}

tl_qtype tl_ftype_default_type(tl_ftype f)
{
  const ftype_row *r = ftype_row_of(f);
  return r ? r->deflt : TL_QTYPE_COUNT;
}

tl_status tl_ftype_parse(const char *name, tl_ftype *out, tl_error *err)
{
  if (name != NULL) {
    for (size_t i = 0; i < N_FTYPES; i++) {
      if (strcasecmp(FTYPES[i].name, name) == 0) {
        *out = FTYPES[i].ftype;
        return TL_OK;
      }
    }
    /* llama-quantize's aliases */
    static const struct { const char *alias; tl_ftype f; } aliases[] = {
        {"Q3_K", TL_FTYPE_Q3_K_M}, {"Q4_K", TL_FTYPE_Q4_K_M}, {"Q5_K", TL_FTYPE_Q5_K_M},
        {"ALL_F32", TL_FTYPE_ALL_F32}};
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
      if (strcasecmp(aliases[i].alias, name) == 0) {
        *out = aliases[i].f;
        return TL_OK;
      }
    }
  }
  return tl__error_set(err, TL_EINVAL, "unknown file type '%s'", name ? name : "(null)");
}

/* ---- tensor names ---- */

typedef enum category {
  CAT_TOKEN_EMBD,
  CAT_ATTN_Q,
  CAT_ATTN_V,
  CAT_ATTN_K,
  CAT_ATTN_QKV,
  CAT_ATTN_KV_B,
  CAT_ATTN_OUTPUT,
  CAT_FFN_UP,
  CAT_FFN_GATE,
  CAT_FFN_DOWN,
  CAT_OUTPUT,
  CAT_OTHER,
} category;

static bool has(const char *name, const char *part)
{
  return strstr(name, part) != NULL;
}

static bool is_token_embd(const char *name)
{
  return strcmp(name, "token_embd.weight") == 0 || strcmp(name, "per_layer_token_embd.weight") == 0;
}

/* Upstream's order of tests matters: "attn_qkv.weight" before "attn_v.weight"
 * and so on; ffn_* match any suffix (ffn_down_exps, ffn_up_shexp ...). */
static category category_of(const char *name)
{
  if (strcmp(name, "output.weight") == 0)
    return CAT_OUTPUT;
  if (is_token_embd(name))
    return CAT_TOKEN_EMBD;
  if (has(name, "attn_qkv.weight"))
    return CAT_ATTN_QKV;
  if (has(name, "attn_kv_b.weight"))
    return CAT_ATTN_KV_B;
  if (has(name, "attn_v.weight"))
    return CAT_ATTN_V;
  if (has(name, "attn_k.weight"))
    return CAT_ATTN_K;
  if (has(name, "attn_q.weight"))
    return CAT_ATTN_Q;
  if (has(name, "attn_output.weight"))
    return CAT_ATTN_OUTPUT;
  if (has(name, "ffn_up"))
    return CAT_FFN_UP;
  if (has(name, "ffn_gate"))
    return CAT_FFN_GATE;
  if (has(name, "ffn_down"))
    return CAT_FFN_DOWN;
  return CAT_OTHER;
}

/* The V-like projections, which upstream treats as most sensitive. */
static bool is_attn_v_like(category c)
{
  return c == CAT_ATTN_V || c == CAT_ATTN_QKV || c == CAT_ATTN_KV_B;
}

/* ggml_n_dims: the index of the last dimension above 1, plus one. */
static int n_dims_of(const int64_t ne[4])
{
  for (int i = 3; i >= 1; i--)
    if (ne[i] > 1)
      return i + 1;
  return 1;
}

static bool ends_with_weight(const char *name)
{
  size_t n = strlen(name);
  if (n >= 6)
    return strcmp(name + n - 6, "weight") == 0;
  /* Upstream tests name.rfind("weight") == name.size() - 6 on size_t: for a
   * 5-byte name both sides are npos, so such a name counts as a weight. */
  return n == 5;
}

/* Names upstream never quantizes (substrings unless noted). */
static const char *const KEEP_PARTS[] = {
    "_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel",
    "per_layer_model_proj", "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight",
    "indexer.q_proj.weight", "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight",
    "time_mix_w2.weight", "time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight",
    "time_mix_a0.weight", "time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight",
    "time_mix_g2.weight", "time_mix_decay_w1.weight", "time_mix_decay_w2.weight",
    "time_mix_lerp_fused.weight", "attn_rel_b.weight", ".position_embd", "sam.pos_embd",
    "sam.neck.", "sam.net_", ".rel_pos", ".patch_embd", ".patch_merger", "a.rvq.codebook",
    "mm.a.code_embd",
};

static bool allows_quantization(const char *name, const int64_t ne[4])
{
  if (n_dims_of(ne) < 2)
    return false;
  if (!ends_with_weight(name))
    return false;
  for (size_t i = 0; i < sizeof KEEP_PARTS / sizeof KEEP_PARTS[0]; i++)
    if (has(name, KEEP_PARTS[i]))
      return false;
  /* whole names: position embeddings and token types (BERT). Upstream builds
   * them per architecture; every architecture names them so. */
  return strcmp(name, "position_embd.weight") != 0 && strcmp(name, "token_types.weight") != 0;
}

/* The common case fast: "blk.<n>.<suffix>" with a suffix from the table below
 * is classified by one exact comparison instead of the substring scans above.
 * Each row gives exactly what allows_quantization and category_of return for
 * such a name (checked for every suffix by test-mixture). Other names take
 * the general path. */
typedef struct suffix_class {
  const char *suffix;
  bool quantizable; /* before the n_dims test */
  category cat;
} suffix_class;

static const suffix_class SUFFIXES[] = {
    {"attn_q.weight", true, CAT_ATTN_Q},          {"attn_k.weight", true, CAT_ATTN_K},
    {"attn_v.weight", true, CAT_ATTN_V},          {"attn_qkv.weight", true, CAT_ATTN_QKV},
    {"attn_output.weight", true, CAT_ATTN_OUTPUT}, {"attn_norm.weight", false, CAT_OTHER},
    {"attn_q_norm.weight", false, CAT_OTHER},     {"attn_k_norm.weight", false, CAT_OTHER},
    {"ffn_norm.weight", false, CAT_OTHER},        {"post_attention_norm.weight", false, CAT_OTHER},
    {"post_ffw_norm.weight", false, CAT_OTHER},   {"ffn_gate.weight", true, CAT_FFN_GATE},
    {"ffn_up.weight", true, CAT_FFN_UP},          {"ffn_down.weight", true, CAT_FFN_DOWN},
    {"ffn_gate_up.weight", true, CAT_FFN_UP},     {"ffn_gate_exps.weight", true, CAT_FFN_GATE},
    {"ffn_up_exps.weight", true, CAT_FFN_UP},     {"ffn_down_exps.weight", true, CAT_FFN_DOWN},
    {"ffn_gate_shexp.weight", true, CAT_FFN_GATE}, {"ffn_up_shexp.weight", true, CAT_FFN_UP},
    {"ffn_down_shexp.weight", true, CAT_FFN_DOWN}, {"ffn_gate_inp.weight", false, CAT_FFN_GATE},
    {"attn_q_a.weight", true, CAT_OTHER},         {"attn_q_b.weight", true, CAT_OTHER},
    {"attn_kv_a_mqa.weight", true, CAT_OTHER},    {"attn_kv_b.weight", true, CAT_ATTN_KV_B},
    {"attn_k_b.weight", true, CAT_OTHER},         {"attn_v_b.weight", true, CAT_OTHER},
    {"attn_q_a_norm.weight", false, CAT_OTHER},   {"attn_kv_a_norm.weight", false, CAT_OTHER},
};

static bool classify_fast(const char *name, bool *quantizable, category *cat)
{
  if (strncmp(name, "blk.", 4) != 0)
    return false;
  const char *p = name + 4;
  if (*p < '0' || *p > '9')
    return false;
  while (*p >= '0' && *p <= '9')
    p++;
  if (*p != '.')
    return false;
  p++;
  size_t len = strlen(p);
  for (size_t i = 0; i < sizeof SUFFIXES / sizeof SUFFIXES[0]; i++) {
    if (SUFFIXES[i].suffix[0] == p[0] && strlen(SUFFIXES[i].suffix) == len &&
        memcmp(p, SUFFIXES[i].suffix, len) == 0) {
      *quantizable = SUFFIXES[i].quantizable;
      *cat = SUFFIXES[i].cat;
      return true;
    }
  }
  return false;
}

/* sscanf(name, "blk.%d.", &layer) == 1 */
static bool layer_of(const char *name, int *layer)
{
  if (strncmp(name, "blk.", 4) != 0)
    return false;
  const char *p = name + 4;
  while (isspace((unsigned char)*p))
    p++;
  char *end;
  long v = strtol(p, &end, 10);
  if (end == p)
    return false;
  *layer = v > INT_MAX ? INT_MAX : v < INT_MIN ? INT_MIN : (int)v;
  return true;
}

/* For test-mixture: whether the fast classification of name agrees with the
 * general one (true also when the fast path does not apply). */
bool tl__mixture_fast_path_agrees(const char *name);
bool tl__mixture_fast_path_agrees(const char *name)
{
  bool q;
  category c;
  if (!classify_fast(name, &q, &c))
    return true;
  const int64_t ne[4] = {256, 256, 1, 1};
  return q == allows_quantization(name, ne) && c == category_of(name);
}

/* ---- the context ---- */

void tl_mixture_ctx_begin(tl_mixture_ctx *ctx, const char *const *names, size_t n)
{
  ctx->has_output = false;
  ctx->n_attention_wv = 0;
  ctx->i_attention_wv = ctx->i_ffn_down = ctx->i_ffn_gate = ctx->i_ffn_up = 0;
  ctx->n_fallback = 0;
  for (size_t i = 0; i < n; i++) {
    bool q;
    category c;
    if (!classify_fast(names[i], &q, &c))
      c = category_of(names[i]);
    if (is_attn_v_like(c))
      ctx->n_attention_wv++;
    if (c == CAT_OUTPUT)
      ctx->has_output = true;
  }
  const char *a = ctx->arch;
  ctx->is_70b = (strcmp(a, "llama") == 0 && ctx->n_layer == 80 && ctx->n_head != ctx->n_head_kv) ||
                ((strcmp(a, "qwen2") == 0 || strcmp(a, "deci") == 0) && ctx->n_layer == 80) ||
                (strcmp(a, "jais2") == 0 && ctx->n_layer == 68);
}

static int cmp_blk(const char *a, const char *b)
{
  int la = -1, lb = -1;
  layer_of(a, &la);
  layer_of(b, &lb);
  if (la != lb)
    return la < lb ? -1 : 1;
  return strcmp(a, b);
}

void tl_mixture_order(const char *const *names, size_t *idx, size_t n)
{
  /* insertion sort is enough for model tensor counts and keeps no state */
  for (size_t i = 1; i < n; i++) {
    size_t v = idx[i], j = i;
    while (j > 0 && cmp_blk(names[idx[j - 1]], names[v]) > 0) {
      idx[j] = idx[j - 1];
      j--;
    }
    idx[j] = v;
  }
}

/* ---- the rule ---- */

static bool use_more_bits(int i_layer, int n_layer)
{
  return i_layer < n_layer / 8 || i_layer >= 7 * n_layer / 8 || (i_layer - n_layer / 8) % 3 == 2;
}

static bool is_one_of(tl_ftype f, const tl_ftype *set, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (set[i] == f)
      return true;
  return false;
}
#define ONE_OF(f, ...) is_one_of((f), (const tl_ftype[]){__VA_ARGS__}, \
                                 sizeof((const tl_ftype[]){__VA_ARGS__}) / sizeof(tl_ftype))

static uint32_t block_of(tl_qtype t)
{
  return tl_qtype_get(t)->block_size;
}

/* The layer a per-layer rule uses: the visit counter for dense models, the
 * "blk.N." number for MoE models (whose expert tensors are not one per layer). */
static tl_status rule_layer(const tl_mixture_ctx *ctx, int counter, const char *name, int *layer,
                            tl_error *err)
{
  *layer = counter;
  if (ctx->n_expert > 1) {
    if (!layer_of(name, layer))
      return tl__error_set(err, TL_EINVAL, "mixture: cannot tell the layer of tensor '%s'", name);
    if (*layer < 0 || *layer >= (int)ctx->n_layer)
      return tl__error_set(err, TL_EINVAL, "mixture: tensor '%s' has layer %d, outside [0, %u)", name,
                           *layer, ctx->n_layer);
  }
  return TL_OK;
}

static tl_status rule(tl_ftype ft, tl_mixture_ctx *ctx, const char *name, const int64_t ne[4],
                      category cat, tl_qtype *type, tl_error *err)
{
  tl_qtype t = *type;
  const int n_layer = (int)ctx->n_layer;
  const uint32_t n_gqa = ctx->n_head_kv ? ctx->n_head / ctx->n_head_kv : 0;
  const uint32_t n_expert = ctx->n_expert;
  const bool falcon = strcmp(ctx->arch, "falcon") == 0;
  const bool iq2_s_m = ft == TL_FTYPE_IQ2_S || ft == TL_FTYPE_IQ2_M;
  int layer;
  tl_status st;

  if (cat == CAT_OUTPUT || (!ctx->has_output && cat == CAT_TOKEN_EMBD)) {
    /* the output matrix, or the token embeddings that double as it */
    if (ft == TL_FTYPE_MXFP4_MOE)
      t = TL_QTYPE_Q8_0;
    else if (falcon || ne[0] % block_of(t) != 0)
      t = TL_QTYPE_Q8_0;
    else if (ONE_OF(ft, TL_FTYPE_IQ2_XXS, TL_FTYPE_IQ2_XS, TL_FTYPE_IQ3_XXS, TL_FTYPE_IQ1_S,
                    TL_FTYPE_IQ2_S, TL_FTYPE_IQ2_M, TL_FTYPE_IQ1_M))
      t = TL_QTYPE_Q5_K;
    else if (t != TL_QTYPE_Q8_0)
      t = TL_QTYPE_Q6_K;
  } else if (ft == TL_FTYPE_MXFP4_MOE) {
    /* stacked experts (3-D) get MXFP4, everything else Q8_0 */
    bool bailing = strcmp(ctx->arch, "bailingmoe3") == 0;
    bool expert_role = cat == CAT_FFN_UP || cat == CAT_FFN_GATE || cat == CAT_FFN_DOWN;
    t = ne[2] > 1 && (!bailing || expert_role) ? TL_QTYPE_MXFP4 : TL_QTYPE_Q8_0;
  } else if (cat == CAT_TOKEN_EMBD) {
    if (ONE_OF(ft, TL_FTYPE_IQ2_XXS, TL_FTYPE_IQ2_XS, TL_FTYPE_IQ1_S, TL_FTYPE_IQ1_M))
      t = TL_QTYPE_Q2_K;
    else if (iq2_s_m || ft == TL_FTYPE_IQ3_XXS)
      t = TL_QTYPE_IQ3_S;
    else if (ft == TL_FTYPE_TQ1_0 || ft == TL_FTYPE_TQ2_0)
      t = TL_QTYPE_Q4_K;
  } else if (ONE_OF(ft, TL_FTYPE_IQ2_XXS, TL_FTYPE_IQ2_XS, TL_FTYPE_IQ1_S, TL_FTYPE_IQ2_S,
                    TL_FTYPE_IQ2_M, TL_FTYPE_IQ1_M)) {
    /* the 1- and 2-bit mixtures */
    if (is_attn_v_like(cat)) {
      if (n_gqa >= 4 || n_expert >= 4)
        t = TL_QTYPE_Q4_K;
      else
        t = iq2_s_m ? TL_QTYPE_IQ3_S : TL_QTYPE_Q2_K;
      ctx->i_attention_wv++;
    } else if (n_expert == 8 && cat == CAT_ATTN_K) {
      t = TL_QTYPE_Q4_K;
    } else if (cat == CAT_FFN_DOWN) {
      if (ctx->i_ffn_down < n_layer / 8)
        t = iq2_s_m ? TL_QTYPE_IQ3_S : TL_QTYPE_Q2_K;
      ctx->i_ffn_down++;
    } else if (cat == CAT_ATTN_OUTPUT) {
      if (n_expert == 8)
        t = TL_QTYPE_Q5_K;
      else if (ft == TL_FTYPE_IQ1_S || ft == TL_FTYPE_IQ1_M)
        t = TL_QTYPE_IQ2_XXS;
      else if (iq2_s_m)
        t = TL_QTYPE_IQ3_S;
    }
  } else if (is_attn_v_like(cat)) {
    int i = ctx->i_attention_wv, n = ctx->n_attention_wv;
    if (ft == TL_FTYPE_Q2_K)
      t = n_gqa >= 4 ? TL_QTYPE_Q4_K : TL_QTYPE_Q3_K;
    else if (ft == TL_FTYPE_Q2_K_S && n_gqa >= 4)
      t = TL_QTYPE_Q4_K;
    else if (ft == TL_FTYPE_IQ3_XXS)
      t = n_gqa >= 4 ? TL_QTYPE_Q4_K : !ctx->has_imatrix ? TL_QTYPE_IQ3_S : TL_QTYPE_IQ3_XXS;
    else if ((ft == TL_FTYPE_IQ3_XS || ft == TL_FTYPE_IQ3_S) && n_gqa >= 4)
      t = TL_QTYPE_Q4_K;
    else if (ft == TL_FTYPE_IQ3_M)
      t = TL_QTYPE_Q4_K;
    else if (ft == TL_FTYPE_Q3_K_M)
      t = i < 2 ? TL_QTYPE_Q5_K : TL_QTYPE_Q4_K;
    else if (ft == TL_FTYPE_Q3_K_L)
      t = TL_QTYPE_Q5_K;
    else if ((ft == TL_FTYPE_IQ4_NL || ft == TL_FTYPE_IQ4_XS) && n_gqa >= 4)
      t = TL_QTYPE_Q5_K;
    else if ((ft == TL_FTYPE_Q4_K_M || ft == TL_FTYPE_Q5_K_M) && use_more_bits(i, n))
      t = TL_QTYPE_Q6_K;
    else if (ft == TL_FTYPE_Q4_K_S && i < 4)
      t = TL_QTYPE_Q5_K;
    if (ctx->is_70b && (t == TL_QTYPE_Q3_K || t == TL_QTYPE_Q4_K))
      t = TL_QTYPE_Q5_K;
    if (n_expert == 8)
      t = TL_QTYPE_Q8_0;
    ctx->i_attention_wv++;
  } else if (cat == CAT_ATTN_K) {
    if (n_expert == 8)
      t = TL_QTYPE_Q8_0;
    else if (ft == TL_FTYPE_IQ3_XS)
      t = TL_QTYPE_IQ3_XXS;
    else if (ft == TL_FTYPE_IQ3_XXS)
      t = TL_QTYPE_IQ2_S;
  } else if (cat == CAT_ATTN_Q) {
    if (ft == TL_FTYPE_IQ3_XS)
      t = TL_QTYPE_IQ3_XXS;
    else if (ft == TL_FTYPE_IQ3_XXS)
      t = TL_QTYPE_IQ2_S;
  } else if (cat == CAT_FFN_DOWN) {
    if ((st = rule_layer(ctx, ctx->i_ffn_down, name, &layer, err)) != TL_OK)
      return st;
    const int i = layer, n = n_layer;
    if (ft == TL_FTYPE_Q2_K)
      t = TL_QTYPE_Q3_K;
    else if (ft == TL_FTYPE_Q2_K_S) {
      if (i < n / 8)
        t = TL_QTYPE_Q4_K;
    } else if (ft == TL_FTYPE_IQ3_XXS && !ctx->has_imatrix)
      t = i < n / 8 ? TL_QTYPE_Q4_K : TL_QTYPE_Q3_K;
    else if (ft == TL_FTYPE_Q3_K_M)
      t = i < n / 16 ? TL_QTYPE_Q5_K
          : !falcon || use_more_bits(i, n) ? TL_QTYPE_Q4_K
          : TL_QTYPE_Q3_K;
    else if (ft == TL_FTYPE_IQ3_M && (i < n / 8 || (n_expert == 8 && use_more_bits(i, n))))
      t = TL_QTYPE_Q4_K;
    else if (ft == TL_FTYPE_Q3_K_L)
      t = falcon ? TL_QTYPE_Q4_K : TL_QTYPE_Q5_K;
    else if (ft == TL_FTYPE_Q4_K_M) {
      if (falcon)
        t = i < n / 16 ? TL_QTYPE_Q6_K : use_more_bits(i, n) ? TL_QTYPE_Q5_K : TL_QTYPE_Q4_K;
      else if (use_more_bits(i, n))
        t = TL_QTYPE_Q6_K;
    } else if (i < n / 8 && (ft == TL_FTYPE_IQ4_NL || ft == TL_FTYPE_IQ4_XS) && !ctx->has_imatrix)
      t = TL_QTYPE_Q5_K;
    else if (ft == TL_FTYPE_Q5_K_M && use_more_bits(i, n))
      t = TL_QTYPE_Q6_K;
    else if (ft == TL_FTYPE_Q4_K_S && !falcon && i < n / 8)
      t = TL_QTYPE_Q5_K;
    else if ((ft == TL_FTYPE_Q4_0 || ft == TL_FTYPE_Q5_0) && ctx->has_imatrix && i < n / 8)
      t = ft == TL_FTYPE_Q4_0 ? TL_QTYPE_Q4_1 : TL_QTYPE_Q5_1;
    ctx->i_ffn_down++;
  } else if (cat == CAT_ATTN_OUTPUT) {
    if (!falcon) {
      if (n_expert == 8) {
        if (ONE_OF(ft, TL_FTYPE_Q2_K, TL_FTYPE_IQ3_XS, TL_FTYPE_IQ3_XXS, TL_FTYPE_Q3_K_S,
                   TL_FTYPE_Q3_K_M, TL_FTYPE_IQ4_NL, TL_FTYPE_Q4_K_S, TL_FTYPE_Q4_K_M,
                   TL_FTYPE_IQ3_S, TL_FTYPE_IQ3_M, TL_FTYPE_IQ4_XS))
          t = TL_QTYPE_Q5_K;
      } else {
        if (ft == TL_FTYPE_Q2_K)
          t = TL_QTYPE_Q3_K;
        else if (ft == TL_FTYPE_IQ3_XXS)
          t = TL_QTYPE_IQ3_S;
        else if (ft == TL_FTYPE_Q3_K_M)
          t = TL_QTYPE_Q4_K;
        else if (ft == TL_FTYPE_Q3_K_L)
          t = TL_QTYPE_Q5_K;
        else if (ft == TL_FTYPE_IQ3_M)
          t = TL_QTYPE_Q4_K;
      }
    } else if (ft == TL_FTYPE_Q3_K_L) {
      t = TL_QTYPE_Q4_K;
    }
  } else if (cat == CAT_FFN_GATE || cat == CAT_FFN_UP) {
    /* (upstream's separate attn_qkv branch sits here but is unreachable:
     * attn_qkv is V-like and handled above) */
    int *counter = cat == CAT_FFN_GATE ? &ctx->i_ffn_gate : &ctx->i_ffn_up;
    if ((st = rule_layer(ctx, *counter, name, &layer, err)) != TL_OK)
      return st;
    if (ft == TL_FTYPE_IQ3_XS && layer >= n_layer / 8 && layer < 7 * n_layer / 8)
      t = TL_QTYPE_IQ3_XXS;
    (*counter)++;
  }
  *type = t;
  return TL_OK;
}

/* A type that fits a row of ne[0] when the chosen one does not. */
static tl_status fallback(tl_mixture_ctx *ctx, const char *name, int64_t ncols, tl_qtype *type,
                          tl_error *err)
{
  tl_qtype t = *type;
  if (ncols % block_of(t) == 0)
    return TL_OK;
  ctx->n_fallback++;
  switch (t) {
  case TL_QTYPE_IQ1_S: case TL_QTYPE_IQ1_M: case TL_QTYPE_IQ2_XXS: case TL_QTYPE_IQ2_XS:
  case TL_QTYPE_IQ2_S: case TL_QTYPE_IQ3_XXS: case TL_QTYPE_IQ3_S: case TL_QTYPE_IQ4_XS:
    t = TL_QTYPE_IQ4_NL;
    break;
  case TL_QTYPE_Q2_K: case TL_QTYPE_Q3_K: case TL_QTYPE_TQ1_0: case TL_QTYPE_TQ2_0:
    t = TL_QTYPE_Q4_0;
    break;
  case TL_QTYPE_Q4_K: t = TL_QTYPE_Q5_0; break;
  case TL_QTYPE_Q5_K: t = TL_QTYPE_Q5_1; break;
  case TL_QTYPE_Q6_K: t = TL_QTYPE_Q8_0; break;
  default:
    return tl__error_set(err, TL_EUNSUPPORTED,
                         "mixture: tensor '%s' has rows of %lld, not a multiple of the %s block (%u), and %s has no fallback type",
                         name, (long long)ncols, tl_qtype_name(t), block_of(t), tl_qtype_name(t));
  }
  if (ncols % block_of(t) != 0)
    t = TL_QTYPE_F16; /* upstream's last resort */
  *type = t;
  return TL_OK;
}

static bool requires_imatrix(const char *name, tl_qtype t, tl_ftype ft)
{
  if (is_token_embd(name) || strcmp(name, "output.weight") == 0)
    return false;
  switch (t) {
  case TL_QTYPE_IQ3_XXS: case TL_QTYPE_IQ2_XXS: case TL_QTYPE_IQ2_XS: case TL_QTYPE_IQ2_S:
  case TL_QTYPE_IQ1_M: case TL_QTYPE_IQ1_S:
    return true;
  case TL_QTYPE_Q2_K:
    return ft == TL_FTYPE_Q2_K_S;
  default:
    return false;
  }
}

tl_status tl_mixture_tensor_type(tl_ftype ftype, tl_mixture_ctx *ctx, const char *tensor_name,
                                 const int64_t ne[4], tl_qtype src_type, tl_qtype *out,
                                 tl_error *err)
{
  if (!tl_ftype_valid(ftype))
    return tl__error_set(err, TL_EINVAL, "mixture: invalid file type %d", (int)ftype);
  if (tensor_name == NULL || ne == NULL || ctx == NULL)
    return tl__error_set(err, TL_EINVAL, "mixture: missing tensor name, shape or context");
  bool quantizable;
  category cat;
  if (classify_fast(tensor_name, &quantizable, &cat))
    quantizable = quantizable && n_dims_of(ne) >= 2;
  else {
    quantizable = allows_quantization(tensor_name, ne);
    cat = category_of(tensor_name);
  }
  if (!quantizable) {
    *out = src_type;
    return TL_OK;
  }
  tl_qtype t = tl_ftype_default_type(ftype);
  if (tl_qtype_get(t)->quantized) {
    tl_status st = rule(ftype, ctx, tensor_name, ne, cat, &t, err);
    if (st == TL_OK)
      st = fallback(ctx, tensor_name, ne[0], &t, err);
    if (st != TL_OK)
      return st;
  }
  if (!ctx->has_imatrix && requires_imatrix(tensor_name, t, ftype))
    return tl__error_set(err, TL_EUNSUPPORTED,
                         "mixture: %s gives tensor '%s' type %s, which llama-quantize makes only with an importance matrix",
                         tl_ftype_name(ftype), tensor_name, tl_qtype_name(t));
  *out = t;
  return TL_OK;
}

tl_status tl_mixture_assign(tl_ftype ftype, tl_mixture_ctx *ctx, tl_mixture_tensor *tensors,
                            size_t n, tl_error *err)
{
  const char **names = tl__malloc_array(n ? n : 1, sizeof *names);
  size_t *idx = tl__malloc_array(n ? n : 1, sizeof *idx);
  int *layer = tl__malloc_array(n ? n : 1, sizeof *layer);
  tl_status st = TL_OK;
  if (names == NULL || idx == NULL || layer == NULL) {
    st = tl__error_set(err, TL_ENOMEM, "mixture: out of memory for %zu tensors", n);
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    names[i] = tensors[i].name;
    idx[i] = i;
    layer[i] = -1;
    layer_of(names[i], &layer[i]);
  }
  tl_mixture_ctx_begin(ctx, names, n);
  /* tl_mixture_order, with each name's layer parsed once */
  for (size_t i = 1; i < n; i++) {
    size_t v = idx[i], j = i;
    while (j > 0) {
      size_t u = idx[j - 1];
      int c = layer[u] != layer[v] ? (layer[u] < layer[v] ? -1 : 1) : strcmp(names[u], names[v]);
      if (c <= 0)
        break;
      idx[j] = u;
      j--;
    }
    idx[j] = v;
  }
  for (size_t k = 0; k < n && st == TL_OK; k++) {
    tl_mixture_tensor *t = &tensors[idx[k]];
    st = tl_mixture_tensor_type(ftype, ctx, t->name, t->ne, t->src_type, &t->type, err);
    if (st == TL_OK) {
      t->bytes = tl_tensor_bytes(t->type, t->ne, 4);
      if (t->bytes == 0)
        st = tl__error_set(err, TL_EINVAL, "mixture: tensor '%s' has no valid size at type %s", t->name,
                           tl_qtype_name(t->type));
    }
  }
done:
  tl__free(names);
  tl__free(idx);
  tl__free(layer);
  return st;
}

tl_status tl_mixture_apply(tl_ftype ftype, tl_model_desc *m, bool has_imatrix, tl_error *err)
{
  size_t n = m->n_tensors;
  tl_mixture_tensor *mt = tl__calloc(n ? n : 1, sizeof *mt);
  if (mt == NULL)
    return tl__error_set(err, TL_ENOMEM, "mixture: out of memory for %zu tensors", n);
  for (size_t i = 0; i < n; i++) {
    const tl_tensor_desc *t = &m->tensors[i];
    mt[i].name = t->name;
    for (uint32_t d = 0; d < 4; d++)
      mt[i].ne[d] = d < t->n_dims ? t->ne[d] : 1;
    mt[i].src_type = t->type;
  }
  tl_mixture_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  snprintf(ctx.arch, sizeof ctx.arch, "%s", m->hp.arch_name);
  ctx.n_layer = m->hp.n_layer;
  ctx.n_expert = m->hp.n_expert;
  ctx.n_head = m->hp.n_head;
  ctx.n_head_kv = m->hp.n_head_kv;
  ctx.has_imatrix = has_imatrix;
  tl_status st = tl_mixture_assign(ftype, &ctx, mt, n, err);
  if (st == TL_OK) {
    for (size_t i = 0; i < n; i++) {
      tl_tensor_desc *t = &m->tensors[i];
      t->type = mt[i].type;
      t->bytes = mt[i].bytes;
    }
  }
  tl__free(mt);
  return st;
}
