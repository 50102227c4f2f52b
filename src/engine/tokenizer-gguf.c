/* Reads a tokenizer from GGUF metadata (tokenizer.ggml.*; key names as
 * written by llama.cpp's convert_hf_to_gguf.py and read by llama-vocab.cpp)
 * into a vocabulary description, checking every array length and id. */
#include <string.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "engine/tokenizer-int.h"

static tl_status read_special(const tl_gguf *g, const char *key, uint32_t n_vocab, int64_t *out,
                              tl_error *err)
{
  int64_t kv = tl_gguf_find_kv(g, key);
  if (kv < 0)
    return TL_OK; /* keep the model default */
  int64_t v;
  if (!tl_gguf_get_i64(g, key, &v))
    return tl__error_set(err, TL_EFORMAT, "tokenizer: %s is not an integer", key);
  /* -1 and 0xFFFFFFFF (-1 written as u32) both mean "none". */
  if (v == -1 || v == (int64_t)UINT32_MAX) {
    *out = -1;
    return TL_OK;
  }
  if (v < 0 || v >= (int64_t)n_vocab)
    return tl__error_set(err, TL_EFORMAT,
                         "tokenizer: %s = %lld is outside the vocabulary (%u tokens)", key,
                         (long long)v, n_vocab);
  *out = v;
  return TL_OK;
}

static tl_status read_flag(const tl_gguf *g, const char *key, int *out, tl_error *err)
{
  if (tl_gguf_find_kv(g, key) < 0)
    return TL_OK;
  bool b;
  if (!tl_gguf_get_bool(g, key, &b))
    return tl__error_set(err, TL_EFORMAT, "tokenizer: %s is not a bool", key);
  *out = b;
  return TL_OK;
}

/* Index and length of a top-level array of the given element type. */
static tl_status find_array(const tl_gguf *g, const char *key, bool numeric, int64_t *kv_out,
                            uint64_t *count, tl_error *err)
{
  int64_t kv = tl_gguf_find_kv(g, key);
  *kv_out = kv;
  if (kv < 0)
    return TL_OK;
  tl_gguf_type et;
  if (tl_gguf_kv_type(g, (size_t)kv) != TL_GGUF_ARRAY || !tl_gguf_arr_info(g, (size_t)kv, &et, count))
    return tl__error_set(err, TL_EFORMAT, "tokenizer: %s is not an array", key);
  bool ok = numeric ? (et != TL_GGUF_STRING && et != TL_GGUF_ARRAY) : et == TL_GGUF_STRING;
  if (!ok)
    return tl__error_set(err, TL_EFORMAT, "tokenizer: %s is not an array of %s", key,
                         numeric ? "numbers" : "strings");
  return TL_OK;
}

tl_status tl_tokenizer_from_gguf(const tl_gguf *g, tl_tokenizer **out, tl_error *err)
{
  if (!g || !out)
    return tl__error_set(err, TL_EINVAL, "tokenizer: NULL argument");
  tl__tok_vocab_desc d;
  memset(&d, 0, sizeof d);
  for (int i = 0; i < TL_TOK_SPECIAL_COUNT; i++)
    d.special[i] = -2;
  d.add_bos = d.add_eos = d.add_space_prefix = d.remove_extra_ws = -1;

  const char *model;
  size_t model_len;
  if (!tl_gguf_get_str(g, "tokenizer.ggml.model", &model, &model_len))
    return tl__error_set(err, TL_ENOTFOUND, "tokenizer: the file has no tokenizer.ggml.model");
  if (model_len == 5 && !memcmp(model, "llama", 5))
    d.model = TL_TOK_MODEL_SPM;
  else if (model_len == 4 && !memcmp(model, "gpt2", 4))
    d.model = TL_TOK_MODEL_BPE;
  else if (model_len == 4 && !memcmp(model, "bert", 4))
    d.model = TL_TOK_MODEL_WPM;
  else
    return tl__error_set(err, TL_EUNSUPPORTED, "tokenizer: tokenizer.ggml.model '%.*s' is not "
                         "supported (llama, gpt2 and bert are)", (int)(model_len > 64 ? 64 : model_len), model);

  char pre[64] = "default";
  const char *ps;
  size_t pn;
  if (tl_gguf_get_str(g, "tokenizer.ggml.pre", &ps, &pn)) {
    if (pn >= sizeof pre || memchr(ps, 0, pn))
      return tl__error_set(err, TL_EFORMAT, "tokenizer: tokenizer.ggml.pre is not a short name");
    if (pn) {
      memcpy(pre, ps, pn);
      pre[pn] = 0;
    }
  }
  d.pre = pre;
  char name[128] = "";
  const char *ns;
  size_t nn;
  if (tl_gguf_get_str(g, "general.name", &ns, &nn)) {
    if (nn >= sizeof name)
      nn = sizeof name - 1;
    memcpy(name, ns, nn);
    name[nn] = 0;
    d.name = name;
  }

  int64_t kv_tok, kv_score, kv_type, kv_merge;
  uint64_t n_tok = 0, n_score = 0, n_type = 0, n_merge = 0;
  tl_status st = find_array(g, "tokenizer.ggml.tokens", false, &kv_tok, &n_tok, err);
  if (st == TL_OK)
    st = find_array(g, "tokenizer.ggml.scores", true, &kv_score, &n_score, err);
  if (st == TL_OK)
    st = find_array(g, "tokenizer.ggml.token_type", true, &kv_type, &n_type, err);
  if (st == TL_OK)
    st = find_array(g, "tokenizer.ggml.merges", false, &kv_merge, &n_merge, err);
  if (st != TL_OK)
    return st;
  if (kv_tok < 0)
    return tl__error_set(err, TL_ENOTFOUND, "tokenizer: the file has no tokenizer.ggml.tokens");
  if (n_tok == 0 || n_tok > TL__TOK_MAX_VOCAB)
    return tl__error_set(err, TL_EFORMAT, "tokenizer: tokenizer.ggml.tokens has %llu entries "
                         "(1 to %u allowed)", (unsigned long long)n_tok, TL__TOK_MAX_VOCAB);
  if (kv_score >= 0 && n_score != n_tok)
    return tl__error_set(err, TL_EFORMAT, "tokenizer: tokenizer.ggml.scores has %llu entries, "
                         "tokenizer.ggml.tokens %llu", (unsigned long long)n_score, (unsigned long long)n_tok);
  if (kv_type >= 0 && n_type != n_tok)
    return tl__error_set(err, TL_EFORMAT, "tokenizer: tokenizer.ggml.token_type has %llu entries, "
                         "tokenizer.ggml.tokens %llu", (unsigned long long)n_type, (unsigned long long)n_tok);
  if (n_merge > TL__TOK_MAX_MERGES)
    return tl__error_set(err, TL_ELIMIT, "tokenizer: tokenizer.ggml.merges has %llu entries (limit %u)",
                         (unsigned long long)n_merge, TL__TOK_MAX_MERGES);
  d.n_tokens = (uint32_t)n_tok;

  tl__tok_str *toks = tl__malloc_array(n_tok, sizeof *toks);
  float *scores = kv_score >= 0 ? tl__malloc_array(n_tok, sizeof *scores) : NULL;
  int32_t *types = kv_type >= 0 ? tl__malloc_array(n_tok, sizeof *types) : NULL;
  tl__tok_str *merges = n_merge ? tl__malloc_array(n_merge, sizeof *merges) : NULL;
  if (!toks || (kv_score >= 0 && !scores) || (kv_type >= 0 && !types) || (n_merge && !merges)) {
    st = tl__error_set(err, TL_ENOMEM, "tokenizer: out of memory for %llu tokens", (unsigned long long)n_tok);
    goto done;
  }
  for (uint64_t i = 0; i < n_tok; i++) {
    if (!tl_gguf_arr_str(g, (size_t)kv_tok, i, &toks[i].s, &toks[i].len)) {
      st = tl__error_set(err, TL_EFORMAT, "tokenizer: tokenizer.ggml.tokens[%llu] cannot be read",
                         (unsigned long long)i);
      goto done;
    }
    if (scores) {
      double v;
      if (!tl_gguf_arr_f64(g, (size_t)kv_score, i, &v)) {
        st = tl__error_set(err, TL_EFORMAT, "tokenizer: tokenizer.ggml.scores[%llu] cannot be read",
                           (unsigned long long)i);
        goto done;
      }
      scores[i] = (float)v;
    }
    if (types) {
      int64_t v;
      if (!tl_gguf_arr_i64(g, (size_t)kv_type, i, &v) || v < 0 || v > TL_TOKEN_BYTE) {
        st = tl__error_set(err, TL_EFORMAT, "tokenizer: tokenizer.ggml.token_type[%llu] is not a "
                           "token type (0..6)", (unsigned long long)i);
        goto done;
      }
      types[i] = (int32_t)v;
    }
  }
  for (uint64_t i = 0; i < n_merge; i++) {
    if (!tl_gguf_arr_str(g, (size_t)kv_merge, i, &merges[i].s, &merges[i].len)) {
      st = tl__error_set(err, TL_EFORMAT, "tokenizer: tokenizer.ggml.merges[%llu] cannot be read",
                         (unsigned long long)i);
      goto done;
    }
  }
  d.tokens = toks;
  d.scores = scores;
  d.types = types;
  d.n_merges = (uint32_t)n_merge;
  d.merges = merges;

  static const char *const keys[TL_TOK_SPECIAL_COUNT] = {
      "tokenizer.ggml.bos_token_id",     "tokenizer.ggml.eos_token_id",
      "tokenizer.ggml.eot_token_id",     "tokenizer.ggml.eom_token_id",
      "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id",
      "tokenizer.ggml.seperator_token_id", "tokenizer.ggml.cls_token_id",
      "tokenizer.ggml.mask_token_id"};
  for (int i = 0; i < TL_TOK_SPECIAL_COUNT && st == TL_OK; i++)
    st = read_special(g, keys[i], d.n_tokens, &d.special[i], err);
  /* The correctly spelled separator key, should a writer use it. */
  if (st == TL_OK)
    st = read_special(g, "tokenizer.ggml.separator_token_id", d.n_tokens,
                      &d.special[TL_TOK_SPECIAL_SEP], err);
  if (st == TL_OK)
    st = read_flag(g, "tokenizer.ggml.add_bos_token", &d.add_bos, err);
  if (st == TL_OK)
    st = read_flag(g, "tokenizer.ggml.add_eos_token", &d.add_eos, err);
  if (st == TL_OK)
    st = read_flag(g, "tokenizer.ggml.add_space_prefix", &d.add_space_prefix, err);
  if (st == TL_OK)
    st = read_flag(g, "tokenizer.ggml.remove_extra_whitespaces", &d.remove_extra_ws, err);
  if (st == TL_OK)
    st = tl__tokenizer_build(&d, out, err);
done:
  tl__free(toks);
  tl__free(scores);
  tl__free(types);
  tl__free(merges);
  return st;
}
