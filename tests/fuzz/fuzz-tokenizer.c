/* Fuzz target for the tokenizers. The first byte picks what the rest is:
 * 0: a GGUF file whose vocabulary is loaded (malformed ones must give an
 * error), then used; 1..5: text encoded with a small hand-made vocabulary of
 * each model (SentencePiece, WordPiece, byte-level BPE with three
 * pre-tokenizers), then decoded whole and streamed. Aborts when streamed text
 * is not valid UTF-8 or byte-level BPE does not give valid input back. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tailor/tailor.h"

typedef struct bb {
  uint8_t *p;
  size_t n, cap;
} bb;

static void bb_bytes(bb *b, const void *src, size_t n)
{
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2 + 64;
    b->p = realloc(b->p, b->cap);
    if (!b->p)
      abort();
  }
  memcpy(b->p + b->n, src, n);
  b->n += n;
}
static void bb_u32(bb *b, uint32_t v) { bb_bytes(b, &v, 4); }
static void bb_u64(bb *b, uint64_t v) { bb_bytes(b, &v, 8); }
static void bb_strn(bb *b, const char *s, size_t n)
{
  bb_u64(b, n);
  bb_bytes(b, s, n);
}
static void bb_str(bb *b, const char *s) { bb_strn(b, s, strlen(s)); }

typedef struct vocab {
  char **tok;
  int32_t *type;
  size_t n, cap;
} vocab;

static void add(vocab *v, const char *s, size_t n, int32_t type)
{
  if (v->n == v->cap) {
    v->cap = v->cap ? v->cap * 2 : 512;
    v->tok = realloc(v->tok, v->cap * sizeof *v->tok);
    v->type = realloc(v->type, v->cap * sizeof *v->type);
    if (!v->tok || !v->type)
      abort();
  }
  v->tok[v->n] = malloc(n + 1);
  if (!v->tok[v->n])
    abort();
  memcpy(v->tok[v->n], s, n);
  v->tok[v->n][n] = 0;
  v->type[v->n++] = type;
}
static void adds(vocab *v, const char *s, int32_t type) { add(v, s, strlen(s), type); }

static tl_tokenizer *build(const char *model, const char *pre, vocab *v, const char *const *merges,
                           size_t n_merges, int unk)
{
  bb kv = {0};
  uint64_t n = 3;
  bb_str(&kv, "tokenizer.ggml.model"), bb_u32(&kv, 8), bb_str(&kv, model);
  bb_str(&kv, "tokenizer.ggml.tokens"), bb_u32(&kv, 9), bb_u32(&kv, 8), bb_u64(&kv, v->n);
  for (size_t i = 0; i < v->n; i++)
    bb_str(&kv, v->tok[i]);
  bb_str(&kv, "tokenizer.ggml.token_type"), bb_u32(&kv, 9), bb_u32(&kv, 5), bb_u64(&kv, v->n);
  for (size_t i = 0; i < v->n; i++)
    bb_u32(&kv, (uint32_t)v->type[i]);
  bb_str(&kv, "tokenizer.ggml.scores"), bb_u32(&kv, 9), bb_u32(&kv, 6), bb_u64(&kv, v->n), n++;
  for (size_t i = 0; i < v->n; i++) {
    float f = -(float)(strlen(v->tok[i]) % 7) - (float)i * 0.001f;
    bb_bytes(&kv, &f, 4);
  }
  if (unk >= 0)
    bb_str(&kv, "tokenizer.ggml.unknown_token_id"), bb_u32(&kv, 4), bb_u32(&kv, (uint32_t)unk), n++;
  if (pre)
    bb_str(&kv, "tokenizer.ggml.pre"), bb_u32(&kv, 8), bb_str(&kv, pre), n++;
  if (merges) {
    bb_str(&kv, "tokenizer.ggml.merges"), bb_u32(&kv, 9), bb_u32(&kv, 8), bb_u64(&kv, n_merges), n++;
    for (size_t i = 0; i < n_merges; i++)
      bb_str(&kv, merges[i]);
  }
  bb f = {0};
  bb_bytes(&f, "GGUF", 4);
  bb_u32(&f, 3);
  bb_u64(&f, 0);
  bb_u64(&f, n);
  bb_bytes(&f, kv.p, kv.n);
  tl_gguf *g = NULL;
  tl_tokenizer *tk = NULL;
  if (tl_gguf_open_memory(f.p, f.n, &g, NULL) != TL_OK || tl_tokenizer_from_gguf(g, &tk, NULL) != TL_OK)
    abort();
  tl_gguf_close(g);
  free(kv.p);
  free(f.p);
  for (size_t i = 0; i < v->n; i++)
    free(v->tok[i]);
  free(v->tok);
  free(v->type);
  return tk;
}

static tl_tokenizer *tks[5];

static void init(void)
{
  vocab v = {0};
  /* SentencePiece with byte fallback. */
  adds(&v, "<unk>", 2), adds(&v, "<s>", 3), adds(&v, "</s>", 3);
  for (int b = 0; b < 256; b++) {
    char name[8];
    snprintf(name, sizeof name, "<0x%02X>", b);
    adds(&v, name, 6);
  }
  static const char *const spm[] = {"\xe2\x96\x81", "\xe2\x96\x81" "a", "b", "\xe2\x96\x81" "ab",
                                    "a", "e", "\xe2\x96\x81" "the", "th", "he", "\xc3\xa9"};
  for (size_t i = 0; i < sizeof spm / sizeof spm[0]; i++)
    adds(&v, spm[i], 1);
  adds(&v, "<|im_end|>", 3);
  tks[0] = build("llama", NULL, &v, NULL, 0, 0);

  /* WordPiece in the U+2581 form. */
  memset(&v, 0, sizeof v);
  static const char *const wpm[] = {"\xe2\x96\x81hello", "lo", "\xe2\x96\x81hel", "\xe2\x96\x81" "a",
                                    "b", "\xe2\x96\x81,", "\xe2\x96\x81\xe4\xb8\xad", "\xe2\x96\x81" "e"};
  adds(&v, "[PAD]", 3), adds(&v, "[UNK]", 3), adds(&v, "[CLS]", 3), adds(&v, "[SEP]", 3);
  for (size_t i = 0; i < sizeof wpm / sizeof wpm[0]; i++)
    adds(&v, wpm[i], 1);
  tks[1] = build("bert", NULL, &v, NULL, 0, 1);

  /* Byte-level BPE: every mapped byte is a token, plus a few merges. */
  static const char *const merges[] = {"a b", "ab c", "\xc4\xa0 t", "\xc4\xa0t h", "t h", "th e",
                                       "\xc4\xa0 \xc4\xa0"};
  static const char *const merged[] = {"ab", "abc", "\xc4\xa0t", "\xc4\xa0th", "th", "the",
                                       "\xc4\xa0\xc4\xa0"};
  static const char *const pres[] = {"llama3", "deepseek-llm", "gpt-2"};
  for (int k = 0; k < 3; k++) {
    memset(&v, 0, sizeof v);
    int next = 256;
    for (int b = 0; b < 256; b++) {
      bool keep = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      uint32_t cp = keep ? (uint32_t)b : (uint32_t)next++;
      char u[3];
      size_t n = cp < 0x80 ? 1 : 2;
      if (n == 1)
        u[0] = (char)cp;
      else
        u[0] = (char)(0xC0 | (cp >> 6)), u[1] = (char)(0x80 | (cp & 0x3F));
      add(&v, u, n, 1);
    }
    for (size_t i = 0; i < sizeof merged / sizeof merged[0]; i++)
      adds(&v, merged[i], 1);
    adds(&v, "<|endoftext|>", 3);
    adds(&v, "  ", 4);
    tks[2 + k] = build("gpt2", pres[k], &v, merges, sizeof merges / sizeof merges[0], -1);
  }
}

static bool valid_utf8(const unsigned char *s, size_t n)
{
  for (size_t i = 0; i < n;) {
    unsigned char c = s[i];
    size_t k = c < 0x80 ? 1 : (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3
             : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
    if (!k || i + k > n)
      return false;
    for (size_t j = 1; j < k; j++)
      if ((s[i + j] & 0xC0) != 0x80)
        return false;
    if ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] > 0x9F) ||
        (c == 0xF0 && s[i + 1] < 0x90) || (c == 0xF4 && s[i + 1] > 0x8F))
      return false;
    i += k;
  }
  return true;
}

static void exercise(const tl_tokenizer *tk, const char *text, size_t len, uint32_t flags, bool round_trip)
{
  size_t n = 0;
  tl_status st = tl_tokenizer_encode(tk, text, len, flags, NULL, 0, &n, NULL);
  if (st != TL_OK && st != TL_ELIMIT)
    abort();
  int32_t *ids = malloc((n ? n : 1) * sizeof *ids);
  if (!ids || tl_tokenizer_encode(tk, text, len, flags, ids, n, &n, NULL) != TL_OK)
    abort();
  char *out = NULL;
  size_t olen = 0;
  if (tl_tokenizer_decode(tk, ids, n, TL_TOK_RENDER_SPECIAL, &out, &olen, NULL) != TL_OK)
    abort();
  if (!valid_utf8((const unsigned char *)out, olen))
    abort();
  if (round_trip && (olen != len || memcmp(out, text, len) != 0))
    abort();
  tl_free(out);
  tl_detok *d;
  if (tl_detok_create(tk, TL_TOK_RENDER_SPECIAL, &d, NULL) != TL_OK)
    abort();
  for (size_t i = 0; i < n; i++) {
    const char *t;
    size_t k;
    if (tl_detok_push(d, ids[i], &t, &k, NULL) != TL_OK || !valid_utf8((const unsigned char *)t, k))
      abort();
  }
  tl_detok_free(d);
  free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (!tks[0])
    init();
  if (size < 1)
    return 0;
  unsigned mode = data[0] % 6;
  uint32_t flags = (data[0] >> 3) & (TL_TOK_ADD_SPECIAL | TL_TOK_PARSE_SPECIAL);
  const char *text = (const char *)data + 1;
  size_t len = size - 1;
  if (mode == 0) {
    tl_gguf *g = NULL;
    tl_tokenizer *tk = NULL;
    if (tl_gguf_open_memory(text, len, &g, NULL) == TL_OK) {
      if (tl_tokenizer_from_gguf(g, &tk, NULL) == TL_OK) {
        exercise(tk, "Hello, world! 123 \xc3\xa9\xe4\xb8\xad <s>", 27, TL_TOK_ADD_SPECIAL | TL_TOK_PARSE_SPECIAL, false);
        tl_tokenizer_free(tk);
      }
      tl_gguf_close(g);
    }
    return 0;
  }
  const tl_tokenizer *tk = tks[mode - 1];
  bool bpe = mode >= 3;
  exercise(tk, text, len, flags, bpe && !(flags & TL_TOK_ADD_SPECIAL) &&
           valid_utf8((const unsigned char *)text, len));
  return 0;
}
