/* The vocabulary: validates a loader's description and builds the tokenizer's
 * tables (token texts, hash lookup, merge ranks, special roles, the list of
 * tokens matched before splitting, byte tokens). Model defaults and the
 * end-of-turn detection by text follow llama.cpp's llama-vocab.cpp. */
#include <stdlib.h>
#include <string.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "engine/tokenizer-int.h"

static uint64_t hash_bytes(const char *s, size_t n)
{
  uint64_t h = 1469598103934665603ull; /* FNV-1a 64 */
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  h ^= h >> 33; /* MurmurHash3's fmix64, so the low bits used as the index are mixed */
  h *= 0xff51afd7ed558ccdull;
  return h ^ (h >> 33);
}

static tl_status strtab_init(tl__strtab *t, uint32_t n)
{
  uint32_t cap = 16;
  while (cap < 2u * n + 1)
    cap <<= 1;
  t->slots = tl__calloc(cap, sizeof *t->slots);
  if (!t->slots)
    return TL_ENOMEM;
  t->mask = cap - 1;
  return TL_OK;
}

/* Finds the slot for s: the one holding an equal key, or the empty one. */
static uint32_t *strtab_slot(const tl__strtab *t, const char *blob, const uint32_t *off,
                             const uint32_t *len, const char *s, size_t n)
{
  uint32_t i = (uint32_t)hash_bytes(s, n) & t->mask;
  for (;;) {
    uint32_t v = t->slots[i];
    if (v == 0)
      return &t->slots[i];
    uint32_t k = v - 1;
    if (len[k] == n && memcmp(blob + off[k], s, n) == 0)
      return &t->slots[i];
    i = (i + 1) & t->mask;
  }
}

int32_t tl__tok_lookup(const tl_tokenizer *tk, const char *s, size_t n)
{
  if (n == 0 || n > tk->max_token_len)
    return -1;
  uint32_t v = *strtab_slot(&tk->tokens, tk->blob, tk->off, tk->len, s, n);
  return v ? (int32_t)(v - 1) : -1;
}

int32_t tl__tok_merge_rank(const tl_tokenizer *tk, const char *l, size_t nl, const char *r,
                           size_t nr, char *scratch)
{
  if (!tk->n_merges || nl + nr + 1 > TL__TOK_MERGE_SCRATCH - 1)
    return -1;
  memcpy(scratch, l, nl);
  scratch[nl] = ' ';
  memcpy(scratch + nl + 1, r, nr);
  uint32_t v = *strtab_slot(&tk->merges, tk->merge_blob, tk->merge_off, tk->merge_len, scratch,
                            nl + 1 + nr);
  return v ? (int32_t)(v - 1) : -1;
}

void tl__ids_push(tl__ids *ids, int32_t id)
{
  if (ids->failed)
    return;
  if (ids->n == ids->cap) {
    size_t cap = ids->cap ? ids->cap * 2 : 64;
    int32_t *v = tl__realloc(ids->v, cap * sizeof *v);
    if (!v) {
      ids->failed = true;
      return;
    }
    ids->v = v;
    ids->cap = cap;
  }
  ids->v[ids->n++] = id;
}

void tl_tokenizer_free(tl_tokenizer *tk)
{
  if (!tk)
    return;
  tl__tok_pre_free(tk->pre_re);
  tl__free(tk->blob);
  tl__free(tk->off);
  tl__free(tk->len);
  tl__free(tk->score);
  tl__free(tk->type);
  tl__free(tk->strip);
  tl__free(tk->tokens.slots);
  tl__free(tk->merge_blob);
  tl__free(tk->merge_off);
  tl__free(tk->merge_len);
  tl__free(tk->merges.slots);
  tl__free(tk->specials);
  tl__free(tk);
}

static const char *const special_names[TL_TOK_SPECIAL_COUNT] = {
    "bos", "eos", "eot", "eom", "unknown", "padding", "separator", "cls", "mask"};

static int cmp_u64(const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Byte-level BPE's byte <-> code point map (GPT-2 bytes_to_unicode): printable
 * Latin-1 bytes map to themselves, the other 68 to 256, 257, ... in order. */
static void build_byte_map(tl_tokenizer *tk)
{
  for (int i = 0; i < 324; i++)
    tk->cp_byte[i] = -1;
  uint16_t next = 256;
  for (int b = 0; b < 256; b++) {
    bool keep = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    uint16_t cp = keep ? (uint16_t)b : next++;
    tk->byte_cp[b] = cp;
    tk->cp_byte[cp] = (int16_t)b;
  }
}

static tl_status build_tokens(tl_tokenizer *tk, const tl__tok_vocab_desc *d, tl_error *err)
{
  uint32_t n = d->n_tokens;
  size_t total = 0;
  for (uint32_t i = 0; i < n; i++) {
    if (!d->tokens[i].s && d->tokens[i].len)
      return tl__error_set(err, TL_EINVAL, "tokenizer: token %u has no text", i);
    if (d->tokens[i].len > TL__TOK_MAX_TOKEN_BYTES)
      return tl__error_set(err, TL_EFORMAT, "tokenizer: token %u is %zu bytes long (limit %u)", i,
                           d->tokens[i].len, TL__TOK_MAX_TOKEN_BYTES);
    total += d->tokens[i].len + 1;
  }
  tk->blob = tl__malloc(total);
  tk->off = tl__malloc_array(n, sizeof *tk->off);
  tk->len = tl__malloc_array(n, sizeof *tk->len);
  tk->score = tl__malloc_array(n, sizeof *tk->score);
  tk->type = tl__malloc_array(n, sizeof *tk->type);
  tk->strip = tl__calloc(n, sizeof *tk->strip);
  if (!tk->blob || !tk->off || !tk->len || !tk->score || !tk->type || !tk->strip ||
      strtab_init(&tk->tokens, n) != TL_OK)
    return tl__error_set(err, TL_ENOMEM, "tokenizer: out of memory for %u tokens", n);
  size_t pos = 0;
  for (uint32_t i = 0; i < n; i++) {
    size_t l = d->tokens[i].len;
    if (l)
      memcpy(tk->blob + pos, d->tokens[i].s, l);
    tk->blob[pos + l] = 0;
    tk->off[i] = (uint32_t)pos;
    tk->len[i] = (uint32_t)l;
    pos += l + 1;
    if (l > tk->max_token_len)
      tk->max_token_len = (uint32_t)l;
    float sc = d->scores ? d->scores[i] : 0.0f;
    tk->score[i] = sc;
    int32_t ty = d->types ? d->types[i] : TL_TOKEN_NORMAL;
    if (ty < TL_TOKEN_UNDEFINED || ty > TL_TOKEN_BYTE)
      return tl__error_set(err, TL_EFORMAT,
                           "tokenizer: tokenizer.ggml.token_type[%u] = %d is not a token type (0..6)",
                           i, (int)ty);
    tk->type[i] = (uint8_t)ty;
  }
  /* Text -> id; a later duplicate replaces an earlier one (as llama.cpp's
   * token_to_id map). Empty texts are never looked up. */
  for (uint32_t i = 0; i < n; i++) {
    if (!tk->len[i])
      continue;
    uint32_t *slot = strtab_slot(&tk->tokens, tk->blob, tk->off, tk->len, tk->blob + tk->off[i],
                                 tk->len[i]);
    *slot = i + 1;
  }
  return TL_OK;
}

static tl_status build_merges(tl_tokenizer *tk, const tl__tok_vocab_desc *d, tl_error *err)
{
  uint32_t n = d->n_merges;
  if (n > TL__TOK_MAX_MERGES)
    return tl__error_set(err, TL_ELIMIT, "tokenizer: %u merges (limit %u)", n, TL__TOK_MAX_MERGES);
  size_t total = 0;
  for (uint32_t i = 0; i < n; i++) {
    const tl__tok_str *m = &d->merges[i];
    /* The separator is the first space after the first byte (llama.cpp
     * splits at find(' ', 1)); both halves must be non-empty. */
    const char *sp = m->len > 1 ? memchr(m->s + 1, ' ', m->len - 1) : NULL;
    if (!sp || (size_t)(sp - m->s) + 1 >= m->len)
      return tl__error_set(err, TL_EFORMAT,
                           "tokenizer: tokenizer.ggml.merges[%u] '%.*s' is not two parts separated "
                           "by a space",
                           i, (int)(m->len > 64 ? 64 : m->len), m->s ? m->s : "");
    if (m->len > 2 * TL__TOK_MAX_TOKEN_BYTES)
      return tl__error_set(err, TL_EFORMAT, "tokenizer: tokenizer.ggml.merges[%u] is %zu bytes long",
                           i, m->len);
    total += m->len + 1;
  }
  tk->n_merges = n;
  tk->merge_blob = tl__malloc(total ? total : 1);
  tk->merge_off = tl__malloc_array(n ? n : 1, sizeof *tk->merge_off);
  tk->merge_len = tl__malloc_array(n ? n : 1, sizeof *tk->merge_len);
  if (!tk->merge_blob || !tk->merge_off || !tk->merge_len || strtab_init(&tk->merges, n) != TL_OK)
    return tl__error_set(err, TL_ENOMEM, "tokenizer: out of memory for %u merges", n);
  size_t pos = 0;
  for (uint32_t i = 0; i < n; i++) {
    memcpy(tk->merge_blob + pos, d->merges[i].s, d->merges[i].len);
    tk->merge_blob[pos + d->merges[i].len] = 0;
    tk->merge_off[i] = (uint32_t)pos;
    tk->merge_len[i] = (uint32_t)d->merges[i].len;
    pos += d->merges[i].len + 1;
    uint32_t *slot = strtab_slot(&tk->merges, tk->merge_blob, tk->merge_off, tk->merge_len,
                                 tk->merge_blob + tk->merge_off[i], tk->merge_len[i]);
    if (*slot == 0) /* the first (lowest) rank of a repeated merge counts */
      *slot = i + 1;
  }
  return TL_OK;
}

/* Whitespace that special tokens eat next to them. GGUF has no field for it,
 * so llama.cpp (llama-vocab.cpp) sets it by model name, as the models'
 * tokenizer.json files do: Phi-3's special tokens strip on the right (not
 * <unk>, <s>, <|endoftext|>), Jina v2's <mask> strips on the left. */
static bool name_has(const char *lower, const char *word) { return strstr(lower, word) != NULL; }

static void set_strip(tl_tokenizer *tk, const char *text, uint8_t bit, bool on)
{
  int32_t id = tl__tok_lookup(tk, text, strlen(text));
  if (id < 0)
    return;
  tk->strip[id] = (uint8_t)(on ? (tk->strip[id] | bit) : (tk->strip[id] & ~bit));
}

static void set_strip_rules(tl_tokenizer *tk, const char *name)
{
  if (!name)
    return;
  char lower[128];
  size_t n = 0;
  for (; name[n] && n + 1 < sizeof lower; n++)
    lower[n] = (char)(name[n] >= 'A' && name[n] <= 'Z' ? name[n] + 32 : name[n]);
  lower[n] = 0;
  if (name_has(lower, "jina-v2-de") || name_has(lower, "jina-v2-es") || name_has(lower, "jina-v2-code")) {
    set_strip(tk, "<mask>", TL__TOK_LSTRIP, true);
  } else if (name_has(lower, "phi-3") || name_has(lower, "phi3")) {
    for (uint32_t k = 0; k < tk->n_specials; k++)
      tk->strip[tk->specials[k]] |= TL__TOK_RSTRIP;
    set_strip(tk, "</s>", TL__TOK_RSTRIP, true);
    set_strip(tk, "<unk>", TL__TOK_RSTRIP, false);
    set_strip(tk, "<s>", TL__TOK_RSTRIP, false);
    set_strip(tk, "<|endoftext|>", TL__TOK_RSTRIP, false);
  }
}

static tl_status build_specials(tl_tokenizer *tk, const tl__tok_vocab_desc *d, tl_error *err)
{
  /* Model defaults (llama-vocab.cpp): SentencePiece unk 0, bos 1, eos 2;
   * WordPiece unk 100, cls 101, sep 102, mask 103, pad 0. Byte-level BPE
   * has none by default. A default outside the vocabulary is dropped. */
  int64_t def[TL_TOK_SPECIAL_COUNT];
  for (int i = 0; i < TL_TOK_SPECIAL_COUNT; i++)
    def[i] = -1;
  if (tk->model == TL_TOK_MODEL_SPM) {
    def[TL_TOK_SPECIAL_UNK] = 0, def[TL_TOK_SPECIAL_BOS] = 1, def[TL_TOK_SPECIAL_EOS] = 2;
  } else if (tk->model == TL_TOK_MODEL_WPM) {
    def[TL_TOK_SPECIAL_UNK] = 100, def[TL_TOK_SPECIAL_CLS] = 101, def[TL_TOK_SPECIAL_SEP] = 102;
    def[TL_TOK_SPECIAL_MASK] = 103, def[TL_TOK_SPECIAL_PAD] = 0;
  }
  for (int i = 0; i < TL_TOK_SPECIAL_COUNT; i++) {
    int64_t v = d->special[i];
    if (v == -2) {
      v = def[i];
      if (v >= (int64_t)tk->n_vocab)
        v = -1;
    } else if (v < -1 || v >= (int64_t)tk->n_vocab) {
      return tl__error_set(err, TL_EFORMAT,
                           "tokenizer: tokenizer.ggml.%s_token_id = %lld is outside the vocabulary "
                           "(%u tokens)",
                           special_names[i], (long long)v, tk->n_vocab);
    }
    tk->special[i] = (int32_t)v;
  }
  /* End-of-turn tokens that files often do not name, found by their text
   * (the list llama.cpp uses); they are control tokens whatever the file says. */
  static const char *const eot_texts[] = {"<|eot_id|>",    "<|im_end|>", "<|end|>",
                                          "<end_of_turn>", "<|endoftext|>", "<EOT>",
                                          ("<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>")};
  if (tk->special[TL_TOK_SPECIAL_EOT] < 0) {
    for (size_t k = 0; k < sizeof eot_texts / sizeof eot_texts[0]; k++) {
      int32_t id = tl__tok_lookup(tk, eot_texts[k], strlen(eot_texts[k]));
      if (id >= 0) {
        tk->special[TL_TOK_SPECIAL_EOT] = id;
        tk->type[id] = TL_TOKEN_CONTROL;
        break;
      }
    }
  }
  if (tk->special[TL_TOK_SPECIAL_EOM] < 0) {
    int32_t id = tl__tok_lookup(tk, "<|eom_id|>", 10);
    if (id >= 0) {
      tk->special[TL_TOK_SPECIAL_EOM] = id;
      tk->type[id] = TL_TOKEN_CONTROL;
    }
  }
  /* Tokens matched in the text before it is split: control, user-defined and
   * unknown ones, longest first. */
  uint32_t n = 0;
  for (uint32_t i = 0; i < tk->n_vocab; i++) {
    uint8_t t = tk->type[i];
    if (tk->len[i] && (t == TL_TOKEN_CONTROL || t == TL_TOKEN_USER_DEFINED || t == TL_TOKEN_UNKNOWN))
      n++;
  }
  tk->specials = tl__malloc_array(n ? n : 1, sizeof *tk->specials);
  uint64_t *keys = tl__malloc_array(n ? n : 1, sizeof *keys);
  if (!tk->specials || !keys) {
    tl__free(keys);
    return tl__error_set(err, TL_ENOMEM, "tokenizer: out of memory");
  }
  /* Sort key: longer text first, then lower id. */
  for (uint32_t i = 0; i < tk->n_vocab; i++) {
    uint8_t t = tk->type[i];
    if (tk->len[i] && (t == TL_TOKEN_CONTROL || t == TL_TOKEN_USER_DEFINED || t == TL_TOKEN_UNKNOWN))
      keys[tk->n_specials++] = (uint64_t)(UINT32_MAX - tk->len[i]) << 32 | i;
  }
  qsort(keys, tk->n_specials, sizeof *keys, cmp_u64);
  for (uint32_t k = 0; k < tk->n_specials; k++)
    tk->specials[k] = (int32_t)(keys[k] & UINT32_MAX);
  tl__free(keys);
  set_strip_rules(tk, d->name);
  return TL_OK;
}

tl_status tl__tokenizer_build(const tl__tok_vocab_desc *d, tl_tokenizer **out, tl_error *err)
{
  if (!d || !out)
    return tl__error_set(err, TL_EINVAL, "tokenizer: NULL argument");
  if (d->model != TL_TOK_MODEL_SPM && d->model != TL_TOK_MODEL_BPE && d->model != TL_TOK_MODEL_WPM)
    return tl__error_set(err, TL_EINVAL, "tokenizer: unknown model %d", (int)d->model);
  if (d->n_tokens == 0)
    return tl__error_set(err, TL_EFORMAT, "tokenizer: the vocabulary is empty");
  if (d->n_tokens > TL__TOK_MAX_VOCAB)
    return tl__error_set(err, TL_ELIMIT, "tokenizer: %u tokens (limit %u)", d->n_tokens,
                         TL__TOK_MAX_VOCAB);
  if (!d->tokens)
    return tl__error_set(err, TL_EINVAL, "tokenizer: no token texts");
  if (d->model == TL_TOK_MODEL_BPE && d->n_merges == 0)
    return tl__error_set(err, TL_EFORMAT, "tokenizer: byte-level BPE vocabulary without merges "
                                          "(tokenizer.ggml.merges)");
  tl_tokenizer *tk = tl__calloc(1, sizeof *tk);
  if (!tk)
    return tl__error_set(err, TL_ENOMEM, "tokenizer: out of memory");
  tk->model = d->model;
  tk->n_vocab = d->n_tokens;
  const char *pre = d->pre && d->pre[0] ? d->pre : "default";
  size_t pl = strlen(pre);
  if (pl >= sizeof tk->pre) {
    tl_tokenizer_free(tk);
    return tl__error_set(err, TL_EFORMAT, "tokenizer: pre-tokenizer name is %zu bytes long", pl);
  }
  memcpy(tk->pre, pre, pl + 1);

  tl_status st = build_tokens(tk, d, err);
  if (st == TL_OK && d->model == TL_TOK_MODEL_BPE)
    st = build_merges(tk, d, err);
  if (st == TL_OK)
    st = build_specials(tk, d, err);
  if (st != TL_OK) {
    tl_tokenizer_free(tk);
    return st;
  }

  bool pre_add_bos = false;
  switch (tk->model) {
  case TL_TOK_MODEL_SPM:
    tk->add_bos = true;
    tk->add_space_prefix = true;
    for (int b = 0; b < 256; b++) {
      char name[7] = {'<', '0', 'x', "0123456789ABCDEF"[b >> 4], "0123456789ABCDEF"[b & 15], '>', 0};
      tk->byte_token[b] = tl__tok_lookup(tk, name, 6);
    }
    break;
  case TL_TOK_MODEL_BPE:
    build_byte_map(tk);
    st = tl__tok_pre_create(tk->pre, &tk->pre_re, &tk->ignore_merges, &pre_add_bos, err);
    if (st != TL_OK) {
      tl_tokenizer_free(tk);
      return st;
    }
    tk->add_bos = pre_add_bos;
    break;
  case TL_TOK_MODEL_WPM: {
    tk->add_bos = true; /* [CLS] ... [SEP] */
    tk->add_eos = true;
    bool has_hash = false, has_space = false;
    for (uint32_t i = 0; i < tk->n_vocab; i++) {
      const char *t = tk->blob + tk->off[i];
      if (tk->len[i] > 2 && t[0] == '#' && t[1] == '#')
        has_hash = true;
      if (tk->len[i] >= 3 && memcmp(t, "\xe2\x96\x81", 3) == 0)
        has_space = true;
    }
    tk->wpm_hash_prefix = has_hash && !has_space;
    break;
  }
  }
  if (d->add_bos >= 0)
    tk->add_bos = d->add_bos;
  if (d->add_eos >= 0)
    tk->add_eos = d->add_eos;
  if (d->add_space_prefix >= 0)
    tk->add_space_prefix = d->add_space_prefix;
  if (d->remove_extra_ws >= 0)
    tk->remove_extra_ws = d->remove_extra_ws;
  *out = tk;
  return TL_OK;
}
