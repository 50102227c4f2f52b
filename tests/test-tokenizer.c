/* Tests of the tokenizers: every llama.cpp tokenizer vector in
 * tests/data/vocab (7 vocabularies x 46 inputs, add_special and
 * parse_special off), stories260K's prompt and its 200 greedy tokens decoded
 * to llama2.c's reference text, the streaming detokenizer on characters
 * split across byte tokens, BPE round trips, special tokens, malformed
 * vocabularies (hand-built GGUFs), allocation failure, and the CLI. */
#include "harness.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "engine/tokenizer-int.h"
#include "tailor/tailor.h"

static const char *const vocabs[] = {"llama-spm", "phi-3",  "bert-bge",    "gpt-2",
                                     "mpt",       "refact", "deepseek-llm"};
#define N_VOCABS (sizeof vocabs / sizeof vocabs[0])

static tl_tokenizer *load_tokenizer(const char *rel)
{
  tl_gguf *g = NULL;
  tl_error err;
  tl_error_clear(&err);
  if (tl_gguf_open(th_data_path(rel), &g, &err) != TL_OK)
    fail_msg("open %s: %s", rel, err.message);
  tl_tokenizer *tk = NULL;
  if (tl_tokenizer_from_gguf(g, &tk, &err) != TL_OK)
    fail_msg("tokenizer from %s: %s", rel, err.message);
  tl_gguf_close(g);
  return tk;
}

/* Splits a .inp file at "\n__ggml_vocab_test__\n" (see tests/data/vocab/FORMAT.md). */
static size_t split_inputs(char *buf, size_t len, const char **in, size_t *in_len, size_t max)
{
  static const char sep[] = "\n__ggml_vocab_test__\n";
  size_t n = 0, pos = 0, sl = sizeof sep - 1;
  while (pos < len && n < max) {
    char *m = memmem(buf + pos, len - pos, sep, sl);
    size_t end = m ? (size_t)(m - buf) : len;
    in[n] = buf + pos;
    in_len[n] = end - pos;
    n++;
    pos = m ? end + sl : len;
  }
  return n;
}

/* Parses one .out line into ids; returns the count. */
static size_t parse_ids(const char *line, int32_t *ids, size_t max)
{
  size_t n = 0;
  const char *p = line;
  while (*p && *p != '\n' && n < max) {
    while (*p == ' ')
      p++;
    if (!*p || *p == '\n')
      break;
    char *e;
    long v = strtol(p, &e, 10);
    assert_true(e != p);
    ids[n++] = (int32_t)v;
    p = e;
  }
  return n;
}

static void print_ids(const char *what, const int32_t *ids, size_t n)
{
  fprintf(stderr, "  %s:", what);
  for (size_t i = 0; i < n; i++)
    fprintf(stderr, " %d", ids[i]);
  fprintf(stderr, "\n");
}

static void test_vectors(void **state)
{
  (void)state;
  size_t total_fail = 0;
  for (size_t v = 0; v < N_VOCABS; v++) {
    char rel[128];
    snprintf(rel, sizeof rel, "vocab/ggml-vocab-%s.gguf", vocabs[v]);
    tl_tokenizer *tk = load_tokenizer(rel);
    snprintf(rel, sizeof rel, "vocab/ggml-vocab-%s.gguf.inp", vocabs[v]);
    size_t inp_len, out_len;
    char *inp = th_read_file(th_data_path(rel), &inp_len);
    snprintf(rel, sizeof rel, "vocab/ggml-vocab-%s.gguf.out", vocabs[v]);
    char *outs = th_read_file(th_data_path(rel), &out_len);
    assert_non_null(inp);
    assert_non_null(outs);
    const char *in[128];
    size_t in_len[128];
    size_t n_in = split_inputs(inp, inp_len, in, in_len, 128);
    size_t pass = 0, n_lines = 0;
    const char *line = outs;
    for (size_t i = 0; i < n_in && line < outs + out_len; i++, n_lines++) {
      int32_t want[512], got[512];
      size_t nw = parse_ids(line, want, 512), ng = 0;
      const char *nl = strchr(line, '\n');
      line = nl ? nl + 1 : outs + out_len;
      tl_error err;
      tl_error_clear(&err);
      tl_status st = tl_tokenizer_encode(tk, in[i], in_len[i], 0, got, 512, &ng, &err);
      if (st == TL_OK && ng == nw && memcmp(got, want, nw * sizeof *got) == 0) {
        pass++;
        continue;
      }
      fprintf(stderr, "%s: input %zu '%.*s': %s\n", vocabs[v], i, (int)in_len[i], in[i],
              st == TL_OK ? "mismatch" : err.message);
      print_ids("want", want, nw);
      print_ids("got ", got, st == TL_OK ? ng : 0);
    }
    while (line < outs + out_len) { /* count remaining lines */
      const char *nl = strchr(line, '\n');
      line = nl ? nl + 1 : outs + out_len;
      n_lines++;
    }
    fprintf(stderr, "%-13s %zu/%zu vectors pass\n", vocabs[v], pass, n_in);
    assert_int_equal(n_in, 46);
    assert_int_equal(n_lines, n_in);
    total_fail += n_in - pass;
    free(inp);
    free(outs);
    tl_tokenizer_free(tk);
  }
  assert_int_equal(total_fail, 0);
}


/* ---- helpers ---- */

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

static size_t encode(const tl_tokenizer *tk, const char *text, uint32_t flags, int32_t *ids, size_t cap)
{
  size_t n = 0;
  tl_error err;
  tl_error_clear(&err);
  if (tl_tokenizer_encode(tk, text, strlen(text), flags, ids, cap, &n, &err) != TL_OK)
    fail_msg("encode '%s': %s", text, err.message);
  return n;
}

static int32_t find(const tl_tokenizer *tk, const char *text)
{
  int32_t id = tl_tokenizer_find(tk, text, strlen(text));
  if (id < 0)
    fail_msg("no token '%s'", text);
  return id;
}

/* ---- stories260K ---- */

static void test_stories_prompt(void **state)
{
  (void)state;
  tl_tokenizer *tk = load_tokenizer("models/stories260K.gguf");
  assert_int_equal(tl_tokenizer_model(tk), TL_TOK_MODEL_SPM);
  assert_int_equal(tl_tokenizer_n_vocab(tk), 512);
  assert_int_equal(tl_tokenizer_special(tk, TL_TOK_SPECIAL_BOS), 1);
  assert_int_equal(tl_tokenizer_special(tk, TL_TOK_SPECIAL_EOS), 2);
  assert_int_equal(tl_tokenizer_special(tk, TL_TOK_SPECIAL_SEP), -1); /* stored as 0xFFFFFFFF */
  assert_true(tl_tokenizer_is_eog(tk, 2));
  assert_false(tl_tokenizer_is_eog(tk, 1));
  int32_t ids[16];
  size_t n = encode(tk, "Once upon a time", TL_TOK_ADD_SPECIAL | TL_TOK_PARSE_SPECIAL, ids, 16);
  const int32_t want[] = {1, 403, 407, 261, 378};
  assert_int_equal(n, 5);
  assert_memory_equal(ids, want, sizeof want);
  n = encode(tk, "Once upon a time", 0, ids, 16);
  assert_int_equal(n, 4);
  assert_memory_equal(ids, want + 1, 4 * sizeof *ids);
  tl_tokenizer_free(tk);
}

static void test_stories_greedy_decode(void **state)
{
  (void)state;
  tl_tokenizer *tk = load_tokenizer("models/stories260K.gguf");
  size_t tl_, el;
  char *toks = th_read_file(th_data_path("models/stories260K.greedy.tokens.txt"), &tl_);
  char *want = th_read_file(th_data_path("models/stories260K.greedy.expected.txt"), &el);
  assert_non_null(toks);
  assert_non_null(want);
  int32_t ids[256];
  size_t n = parse_ids(toks, ids, 256);
  assert_int_equal(n, 200);
  /* The whole sequence; run.c drops the space the first piece after BOS starts with. */
  char *text = NULL;
  size_t len = 0;
  tl_error err;
  assert_int_equal(tl_tokenizer_decode(tk, ids, n, TL_TOK_STRIP_LEADING_SPACE, &text, &len, &err), TL_OK);
  assert_int_equal(len, el);
  assert_string_equal(text, want);
  tl_free(text);
  /* Streamed one id at a time, after a BOS that renders as nothing. */
  tl_detok *d;
  assert_int_equal(tl_detok_create(tk, TL_TOK_STRIP_LEADING_SPACE, &d, &err), TL_OK);
  char out[2048];
  size_t o = 0;
  const char *t;
  size_t k;
  assert_int_equal(tl_detok_push(d, 1, &t, &k, &err), TL_OK);
  assert_int_equal(k, 0);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(tl_detok_push(d, ids[i], &t, &k, &err), TL_OK);
    assert_true(valid_utf8((const unsigned char *)t, k));
    memcpy(out + o, t, k);
    o += k;
  }
  tl_detok_flush(d, &t, &k);
  assert_int_equal(k, 0);
  out[o] = 0;
  assert_string_equal(out, want);
  tl_detok_free(d);
  free(toks);
  free(want);
  tl_tokenizer_free(tk);
}

/* ---- streaming detokenizer ---- */

typedef struct stream_case {
  const char *bytes; /* byte tokens to push, as raw bytes */
  const char *want;  /* the whole output */
} stream_case;

static void test_detok_split_characters(void **state)
{
  (void)state;
  tl_tokenizer *tk = load_tokenizer("vocab/ggml-vocab-llama-spm.gguf");
  static const stream_case cases[] = {
      {"\xe2\x82\xac", "\xe2\x82\xac"},                     /* euro sign in 3 byte tokens */
      {"\xf0\x9f\x98\x80!", "\xf0\x9f\x98\x80!"},           /* emoji, then ASCII */
      {"\x80", "\xef\xbf\xbd"},                             /* stray continuation byte */
      {"\xe2\x82" "A", "\xef\xbf\xbd" "A"},                 /* cut short by ASCII */
      {"\xe0\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* overlong: each byte replaced */
      {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* surrogate */
      {"\xc3", "\xef\xbf\xbd"},                             /* unfinished at the end: flushed */
      {"\xc3\xa9\xe4\xb8\xad", "\xc3\xa9\xe4\xb8\xad"},      /* e-acute, a CJK ideograph */
  };
  tl_error err;
  tl_detok *d;
  assert_int_equal(tl_detok_create(tk, 0, &d, &err), TL_OK);
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    tl_detok_reset(d);
    char out[64];
    size_t o = 0;
    const char *t;
    size_t k;
    for (const char *p = cases[c].bytes; *p; p++) {
      char name[8];
      snprintf(name, sizeof name, "<0x%02X>", (unsigned char)*p);
      assert_int_equal(tl_detok_push(d, find(tk, name), &t, &k, &err), TL_OK);
      if (!valid_utf8((const unsigned char *)t, k))
        fail_msg("case %zu: invalid UTF-8 streamed", c);
      memcpy(out + o, t, k);
      o += k;
    }
    tl_detok_flush(d, &t, &k);
    memcpy(out + o, t, k);
    o += k;
    out[o] = 0;
    if (strcmp(out, cases[c].want) != 0)
      fail_msg("case %zu: got '%s', want '%s'", c, out, cases[c].want);
  }
  /* Nothing comes out before a character is complete. */
  const char *t;
  size_t k;
  tl_detok_reset(d);
  assert_int_equal(tl_detok_push(d, find(tk, "<0xE2>"), &t, &k, &err), TL_OK);
  assert_int_equal(k, 0);
  assert_int_equal(tl_detok_push(d, find(tk, "<0x82>"), &t, &k, &err), TL_OK);
  assert_int_equal(k, 0);
  assert_int_equal(tl_detok_push(d, find(tk, "<0xAC>"), &t, &k, &err), TL_OK);
  assert_int_equal(k, 3);
  assert_int_equal(tl_detok_push(d, 32000, &t, &k, &err), TL_ERANGE);
  assert_int_equal(tl_detok_push(d, -1, &t, &k, &err), TL_ERANGE);
  tl_detok_free(d);
  tl_detok_free(NULL);
  tl_tokenizer_free(tk);
}

/* Byte-level BPE splits characters across tokens; every streamed chunk must
 * still be valid UTF-8 and the stream must give back the input. */
static void test_detok_bpe_stream(void **state)
{
  (void)state;
  tl_tokenizer *tk = load_tokenizer("vocab/ggml-vocab-gpt-2.gguf");
  const char *text = "\xf0\x9f\x98\x80 \xe2\x82\xac \xe1\x9e\x80\xe1\x9e\xb6 \xe4\xb8\xad\xe6\x96\x87!";
  int32_t ids[64];
  size_t n = encode(tk, text, 0, ids, 64);
  assert_true(n > 6);
  tl_detok *d;
  tl_error err;
  assert_int_equal(tl_detok_create(tk, 0, &d, &err), TL_OK);
  char out[256];
  size_t o = 0, held = 0;
  for (size_t i = 0; i < n; i++) {
    const char *t;
    size_t k;
    assert_int_equal(tl_detok_push(d, ids[i], &t, &k, &err), TL_OK);
    assert_true(valid_utf8((const unsigned char *)t, k));
    if (k == 0)
      held++;
    memcpy(out + o, t, k);
    o += k;
  }
  assert_true(held > 0); /* some token ended inside a character */
  out[o] = 0;
  assert_string_equal(out, text);
  tl_detok_free(d);
  tl_tokenizer_free(tk);
}

/* ---- round trips: byte-level BPE loses nothing ---- */

static void test_bpe_round_trip(void **state)
{
  (void)state;
  static const char *const bpe[] = {"gpt-2", "mpt", "refact", "deepseek-llm", "llama-spm"};
  for (size_t v = 0; v < sizeof bpe / sizeof bpe[0]; v++) {
    char rel[128];
    snprintf(rel, sizeof rel, "vocab/ggml-vocab-%s.gguf", bpe[v]);
    tl_tokenizer *tk = load_tokenizer(rel);
    snprintf(rel, sizeof rel, "vocab/ggml-vocab-%s.gguf.inp", bpe[v]);
    size_t inp_len;
    char *inp = th_read_file(th_data_path(rel), &inp_len);
    assert_non_null(inp);
    const char *in[128];
    size_t in_len[128];
    size_t n_in = split_inputs(inp, inp_len, in, in_len, 128);
    for (size_t i = 0; i < n_in; i++) {
      int32_t ids[512];
      size_t n = 0;
      tl_error err;
      assert_int_equal(tl_tokenizer_encode(tk, in[i], in_len[i], 0, ids, 512, &n, &err), TL_OK);
      char *text = NULL;
      size_t len = 0;
      assert_int_equal(tl_tokenizer_decode(tk, ids, n, TL_TOK_STRIP_LEADING_SPACE, &text, &len, &err), TL_OK);
      if (len != in_len[i] || memcmp(text, in[i], len) != 0)
        fail_msg("%s: input %zu '%.*s' came back as '%s'", bpe[v], i, (int)in_len[i], in[i], text);
      tl_free(text);
    }
    free(inp);
    tl_tokenizer_free(tk);
  }
}

/* ---- special tokens ---- */

static void test_special_tokens(void **state)
{
  (void)state;
  int32_t ids[64];
  size_t n;
  /* Phi-3: control tokens only with parse_special; BOS with add_special. */
  tl_tokenizer *tk = load_tokenizer("vocab/ggml-vocab-phi-3.gguf");
  int32_t user = find(tk, "<|user|>"), end = find(tk, "<|end|>");
  n = encode(tk, "<|user|>\nHi<|end|>", TL_TOK_ADD_SPECIAL | TL_TOK_PARSE_SPECIAL, ids, 64);
  assert_true(n >= 4);
  assert_int_equal(ids[0], 1);
  assert_int_equal(ids[1], user);
  assert_int_equal(ids[n - 1], end);
  for (size_t i = 0; i < n; i++) /* Phi-3's special tokens eat the whitespace after them */
    assert_int_not_equal(ids[i], find(tk, "<0x0A>"));
  assert_int_equal(ids[2], find(tk, "\xe2\x96\x81Hi"));
  n = encode(tk, "<|user|>\nHi<|end|>", 0, ids, 64);
  for (size_t i = 0; i < n; i++)
    assert_true(ids[i] != user && ids[i] != end && ids[i] != 1);
  assert_int_equal(tl_tokenizer_special(tk, TL_TOK_SPECIAL_EOT), end); /* found by its text */
  assert_true(tl_tokenizer_is_eog(tk, end));
  tl_tokenizer_free(tk);

  /* GPT-2: <|endoftext|> is one token only when parsed. */
  tk = load_tokenizer("vocab/ggml-vocab-gpt-2.gguf");
  n = encode(tk, "a<|endoftext|>", TL_TOK_PARSE_SPECIAL, ids, 64);
  assert_int_equal(n, 2);
  assert_int_equal(ids[1], 50256);
  n = encode(tk, "a<|endoftext|>", 0, ids, 64);
  assert_true(n > 2);
  assert_false(tl_tokenizer_add_bos(tk));
  tl_tokenizer_free(tk);

  /* MPT: user-defined whitespace runs are matched even without parse_special. */
  tk = load_tokenizer("vocab/ggml-vocab-mpt.gguf");
  n = encode(tk, "a    b", 0, ids, 64);
  int32_t four = find(tk, "    ");
  bool seen = false;
  for (size_t i = 0; i < n; i++)
    seen |= ids[i] == four;
  assert_true(seen);
  tl_tokenizer_free(tk);

  /* BERT: [CLS] ... [SEP]. */
  tk = load_tokenizer("vocab/ggml-vocab-bert-bge.gguf");
  n = encode(tk, "Hello world", TL_TOK_ADD_SPECIAL, ids, 64);
  assert_int_equal(n, 4);
  assert_int_equal(ids[0], 101);
  assert_int_equal(ids[3], 102);
  char *text;
  tl_error err;
  assert_int_equal(tl_tokenizer_decode(tk, ids, n, 0, &text, NULL, &err), TL_OK);
  assert_string_equal(text, " hello world");
  tl_free(text);
  assert_int_equal(tl_tokenizer_decode(tk, ids, n, TL_TOK_RENDER_SPECIAL, &text, NULL, &err), TL_OK);
  assert_string_equal(text, "[CLS] hello world[SEP]");
  tl_free(text);
  tl_tokenizer_free(tk);
}

static void test_pieces_and_limits(void **state)
{
  (void)state;
  tl_tokenizer *tk = load_tokenizer("models/stories260K.gguf");
  char buf[16];
  size_t n;
  tl_error err;
  assert_int_equal(tl_tokenizer_piece(tk, 13, 0, buf, sizeof buf, &n, &err), TL_OK); /* <0x0A> */
  assert_int_equal(n, 1);
  assert_int_equal(buf[0], '\n');
  assert_int_equal(tl_tokenizer_piece(tk, 1, 0, buf, sizeof buf, &n, &err), TL_OK);
  assert_int_equal(n, 0);
  assert_int_equal(tl_tokenizer_piece(tk, 1, TL_TOK_RENDER_SPECIAL, buf, sizeof buf, &n, &err), TL_OK);
  assert_int_equal(n, 3);
  assert_memory_equal(buf, "<s>", 3);
  assert_int_equal(tl_tokenizer_piece(tk, 403, 0, buf, 2, &n, &err), TL_ELIMIT);
  assert_int_equal(n, 5); /* " Once" */
  assert_int_equal(tl_tokenizer_piece(tk, 512, 0, buf, sizeof buf, &n, &err), TL_ERANGE);
  assert_non_null(strstr(err.message, "512"));
  assert_int_equal(tl_tokenizer_token_type(tk, 13), TL_TOKEN_BYTE);
  assert_int_equal(tl_tokenizer_token_type(tk, 9999), TL_TOKEN_UNDEFINED);
  assert_string_equal(tl_tokenizer_token_text(tk, 1, NULL), "<s>");
  assert_null(tl_tokenizer_token_text(tk, -3, NULL));

  /* Asking for the count, then a buffer too small. */
  int32_t ids[3];
  assert_int_equal(tl_tokenizer_encode(tk, "Once upon a time", 16, TL_TOK_ADD_SPECIAL, NULL, 0, &n, &err),
                   TL_ELIMIT);
  assert_int_equal(n, 5);
  assert_int_equal(tl_tokenizer_encode(tk, "Once upon a time", 16, TL_TOK_ADD_SPECIAL, ids, 3, &n, &err),
                   TL_ELIMIT);
  assert_int_equal(n, 5);
  assert_int_equal(ids[0], 1);
  assert_int_equal(tl_tokenizer_encode(tk, "x", 1, 1u << 7, ids, 3, &n, &err), TL_EINVAL);
  assert_int_equal(tl_tokenizer_encode(tk, "", 0, 0, NULL, 0, &n, &err), TL_OK);
  assert_int_equal(n, 0);
  assert_int_equal(tl_tokenizer_encode(tk, "", 0, TL_TOK_ADD_SPECIAL, ids, 3, &n, &err), TL_OK);
  assert_int_equal(n, 1); /* just BOS */
  tl_tokenizer_free(tk);
  tl_tokenizer_free(NULL);
}

/* ---- malformed vocabularies, as hand-built GGUF files ---- */

typedef struct bb {
  uint8_t *p;
  size_t n, cap;
} bb;

static void bb_bytes(bb *b, const void *src, size_t n)
{
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2 + 64;
    b->p = realloc(b->p, b->cap);
    assert_non_null(b->p);
  }
  memcpy(b->p + b->n, src, n);
  b->n += n;
}
static void bb_u32(bb *b, uint32_t v) { bb_bytes(b, &v, 4); }
static void bb_u64(bb *b, uint64_t v) { bb_bytes(b, &v, 8); }
static void bb_str(bb *b, const char *s)
{
  bb_u64(b, strlen(s));
  bb_bytes(b, s, strlen(s));
}

enum { GT_U32 = 4, GT_I32 = 5, GT_F32 = 6, GT_BOOL = 7, GT_STR = 8, GT_ARR = 9 };

typedef struct vocab_spec {
  const char *model, *pre;
  const char *const *tokens;
  size_t n_tokens;
  size_t n_scores;      /* scores -0.5 * i */
  const int32_t *types; /* NULL: none */
  size_t n_types;
  const char *const *merges;
  size_t n_merges;
  const char *id_key; /* an extra u32 kv */
  uint32_t id_val;
  bool tokens_as_ints;
} vocab_spec;

static const char *const tiny_tokens[] = {"<unk>", "<s>", "</s>", "\xe2\x96\x81" "a", "b",
                                          "\xe2\x96\x81" "ab"};
static const int32_t tiny_types[] = {2, 3, 3, 1, 1, 1};

static vocab_spec tiny_spm(void)
{
  vocab_spec v = {"llama", NULL, tiny_tokens, 6, 6, tiny_types, 6, NULL, 0, NULL, 0, false};
  return v;
}

static void build_vocab(bb *out, const vocab_spec *v)
{
  bb kv = {0};
  uint64_t n = 0;
  bb_str(&kv, "tokenizer.ggml.model"), bb_u32(&kv, GT_STR), bb_str(&kv, v->model), n++;
  if (v->pre)
    bb_str(&kv, "tokenizer.ggml.pre"), bb_u32(&kv, GT_STR), bb_str(&kv, v->pre), n++;
  bb_str(&kv, "tokenizer.ggml.tokens"), bb_u32(&kv, GT_ARR), n++;
  bb_u32(&kv, v->tokens_as_ints ? GT_I32 : GT_STR), bb_u64(&kv, v->n_tokens);
  for (size_t i = 0; i < v->n_tokens; i++) {
    if (v->tokens_as_ints)
      bb_u32(&kv, (uint32_t)i);
    else
      bb_str(&kv, v->tokens[i]);
  }
  if (v->n_scores) {
    bb_str(&kv, "tokenizer.ggml.scores"), bb_u32(&kv, GT_ARR), n++;
    bb_u32(&kv, GT_F32), bb_u64(&kv, v->n_scores);
    for (size_t i = 0; i < v->n_scores; i++) {
      float f = -0.5f * (float)i;
      bb_bytes(&kv, &f, 4);
    }
  }
  if (v->types) {
    bb_str(&kv, "tokenizer.ggml.token_type"), bb_u32(&kv, GT_ARR), n++;
    bb_u32(&kv, GT_I32), bb_u64(&kv, v->n_types);
    for (size_t i = 0; i < v->n_types; i++)
      bb_u32(&kv, (uint32_t)v->types[i]);
  }
  if (v->merges) {
    bb_str(&kv, "tokenizer.ggml.merges"), bb_u32(&kv, GT_ARR), n++;
    bb_u32(&kv, GT_STR), bb_u64(&kv, v->n_merges);
    for (size_t i = 0; i < v->n_merges; i++)
      bb_str(&kv, v->merges[i]);
  }
  if (v->id_key)
    bb_str(&kv, v->id_key), bb_u32(&kv, GT_U32), bb_u32(&kv, v->id_val), n++;
  bb_bytes(out, "GGUF", 4);
  bb_u32(out, 3);
  bb_u64(out, 0);
  bb_u64(out, n);
  bb_bytes(out, kv.p, kv.n);
  free(kv.p);
}

static tl_status from_spec(const vocab_spec *v, tl_tokenizer **tk, tl_error *err)
{
  bb b = {0};
  build_vocab(&b, v);
  tl_gguf *g = NULL;
  tl_status st = tl_gguf_open_memory(b.p, b.n, &g, err);
  if (st != TL_OK)
    fail_msg("hand-built file does not open: %s", err->message);
  st = tl_tokenizer_from_gguf(g, tk, err);
  tl_gguf_close(g);
  free(b.p);
  return st;
}

static void expect_error(const vocab_spec *v, tl_status code, const char *needle)
{
  tl_tokenizer *tk = (tl_tokenizer *)(uintptr_t)1;
  tl_error err;
  tl_error_clear(&err);
  tl_status st = from_spec(v, &tk, &err);
  if (st != code)
    fail_msg("expected %s, got %s (%s)", tl_status_name(code), tl_status_name(st), err.message);
  assert_ptr_equal(tk, (tl_tokenizer *)(uintptr_t)1); /* out untouched on error */
  if (!strstr(err.message, needle))
    fail_msg("message lacks '%s': %s", needle, err.message);
}

static void test_tiny_vocab(void **state)
{
  (void)state;
  vocab_spec v = tiny_spm();
  tl_tokenizer *tk;
  tl_error err;
  assert_int_equal(from_spec(&v, &tk, &err), TL_OK);
  int32_t ids[8];
  size_t n = encode(tk, "ab", 0, ids, 8);
  assert_int_equal(n, 1);
  assert_int_equal(ids[0], 5);
  n = encode(tk, "abc", TL_TOK_ADD_SPECIAL, ids, 8); /* no byte tokens: c is <unk> */
  assert_int_equal(n, 3);
  assert_int_equal(ids[0], 1);
  assert_int_equal(ids[1], 5);
  assert_int_equal(ids[2], 0);
  tl_tokenizer_free(tk);
}

static void test_malformed_vocab(void **state)
{
  (void)state;
  vocab_spec v = tiny_spm();
  v.id_key = "tokenizer.ggml.bos_token_id", v.id_val = 6;
  expect_error(&v, TL_EFORMAT, "tokenizer.ggml.bos_token_id = 6 is outside the vocabulary");
  v = tiny_spm();
  v.id_key = "tokenizer.ggml.unknown_token_id", v.id_val = 70000;
  expect_error(&v, TL_EFORMAT, "unknown_token_id = 70000");
  v = tiny_spm();
  v.n_scores = 5;
  expect_error(&v, TL_EFORMAT, "tokenizer.ggml.scores has 5 entries");
  static const int32_t seven_types[] = {2, 3, 3, 1, 1, 1, 1};
  v = tiny_spm();
  v.types = seven_types, v.n_types = 7;
  expect_error(&v, TL_EFORMAT, "tokenizer.ggml.token_type has 7 entries");
  static const int32_t bad_types[] = {2, 3, 3, 9, 1, 1};
  v = tiny_spm();
  v.types = bad_types;
  expect_error(&v, TL_EFORMAT, "token_type[3]");
  v = tiny_spm();
  v.tokens_as_ints = true;
  expect_error(&v, TL_EFORMAT, "tokenizer.ggml.tokens is not an array of strings");
  v = tiny_spm();
  v.n_tokens = 0;
  v.n_scores = v.n_types = 0;
  expect_error(&v, TL_EFORMAT, "tokenizer.ggml.tokens has 0 entries");
  v = tiny_spm();
  v.model = "t5";
  expect_error(&v, TL_EUNSUPPORTED, "'t5'");

  static const char *const bpe_tokens[] = {"a", "b", "ab", "<|endoftext|>"};
  static const char *const good_merges[] = {"a b"};
  static const char *const bad_merges[] = {"a b", "ab"};
  static const char *const empty_right[] = {"a "};
  vocab_spec b = {"gpt2", "gpt-2", bpe_tokens, 4, 0, NULL, 0, good_merges, 1, NULL, 0, false};
  tl_tokenizer *tk;
  tl_error err;
  assert_int_equal(from_spec(&b, &tk, &err), TL_OK);
  int32_t ids[4];
  assert_int_equal(encode(tk, "ab", 0, ids, 4), 1);
  assert_int_equal(ids[0], 2);
  tl_tokenizer_free(tk);
  b.merges = bad_merges, b.n_merges = 2;
  expect_error(&b, TL_EFORMAT, "tokenizer.ggml.merges[1] 'ab'");
  b.merges = empty_right, b.n_merges = 1;
  expect_error(&b, TL_EFORMAT, "tokenizer.ggml.merges[0]");
  b.merges = NULL, b.n_merges = 0;
  expect_error(&b, TL_EFORMAT, "without merges");
  b.merges = good_merges, b.n_merges = 1, b.pre = "no-such-pre";
  expect_error(&b, TL_EUNSUPPORTED, "'no-such-pre'");
}

/* Every allocation of loading, encoding and decoding fails in turn: an
 * error, never a crash or a leak. want: the decoded text. */
static void alloc_failure_case(tl_gguf *g, const char *text, uint32_t flags, const char *want)
{
  tl_error err;
  bool done = false;
  for (uint64_t k = 1; !done && k < 5000; k++) {
    th_alloc_install(k);
    tl_tokenizer *tk = NULL;
    tl_status st = tl_tokenizer_from_gguf(g, &tk, &err);
    if (st == TL_OK) {
      int32_t ids[64];
      size_t n;
      st = tl_tokenizer_encode(tk, text, strlen(text), flags, ids, 64, &n, &err);
      char *out = NULL;
      if (st == TL_OK)
        st = tl_tokenizer_decode(tk, ids, n, TL_TOK_RENDER_SPECIAL, &out, NULL, &err);
      if (st == TL_OK) {
        assert_string_equal(out, want);
        tl_free(out);
        done = th_alloc_count() < k; /* nothing failed: every allocation was tried */
      }
      tl_tokenizer_free(tk);
    }
    if (st != TL_OK && st != TL_ENOMEM)
      fail_msg("allocation %llu: %s (%s)", (unsigned long long)k, tl_status_name(st), err.message);
    if (th_alloc_live() != 0)
      fail_msg("allocation %llu failing leaks %lld blocks", (unsigned long long)k,
               (long long)th_alloc_live());
    th_alloc_uninstall();
  }
  assert_true(done);
}

static void test_alloc_failure(void **state)
{
  (void)state;
  tl_gguf *g = NULL;
  tl_error err;
  assert_int_equal(tl_gguf_open(th_data_path("models/stories260K.gguf"), &g, &err), TL_OK);
  alloc_failure_case(g, "<s>Once upon a time \xe2\x82\xac", TL_TOK_PARSE_SPECIAL | TL_TOK_ADD_SPECIAL,
                     "<s><s> Once upon a time \xe2\x82\xac");
  tl_gguf_close(g);

  /* Byte-level BPE with a pre-tokenizer of six regexes and a control token. */
  static const char *const toks[] = {"a", "b", "ab", "\xc4\xa0", "<|endoftext|>"};
  static const char *const merges[] = {"a b"};
  vocab_spec v = {"gpt2", "deepseek-llm", toks, 5, 0, NULL, 0, merges, 1, NULL, 0, false};
  bb b = {0};
  build_vocab(&b, &v);
  assert_int_equal(tl_gguf_open_memory(b.p, b.n, &g, &err), TL_OK);
  alloc_failure_case(g, "ab ab<|endoftext|>b", TL_TOK_PARSE_SPECIAL, "ab ab<|endoftext|>b");
  tl_gguf_close(g);
  free(b.p);

  assert_int_equal(tl_gguf_open(th_data_path("vocab/ggml-vocab-bert-bge.gguf"), &g, &err), TL_OK);
  alloc_failure_case(g, "Hello, World!", TL_TOK_ADD_SPECIAL, "[CLS] hello , world ![SEP]"); /* punctuation pieces are word starts */
  tl_gguf_close(g);
}

/* ---- many threads encoding with one tokenizer ---- */

typedef struct thread_job {
  const tl_tokenizer *tk;
  const char *const *in;
  const size_t *in_len;
  size_t n_in;
  const int32_t (*want)[256];
  const size_t *n_want;
  int failures;
} thread_job;

static void *encode_all(void *arg)
{
  thread_job *j = arg;
  for (int round = 0; round < 5; round++) {
    for (size_t i = 0; i < j->n_in; i++) {
      int32_t got[256];
      size_t n = 0;
      if (tl_tokenizer_encode(j->tk, j->in[i], j->in_len[i], 0, got, 256, &n, NULL) != TL_OK ||
          n != j->n_want[i] || memcmp(got, j->want[i], n * sizeof *got) != 0)
        j->failures++;
    }
  }
  return NULL;
}

static void test_threads(void **state)
{
  (void)state;
  tl_tokenizer *tk = load_tokenizer("vocab/ggml-vocab-deepseek-llm.gguf");
  size_t inp_len;
  char *inp = th_read_file(th_data_path("vocab/ggml-vocab-deepseek-llm.gguf.inp"), &inp_len);
  assert_non_null(inp);
  const char *in[64];
  size_t in_len[64], n_want[64];
  static int32_t want[64][256];
  size_t n_in = split_inputs(inp, inp_len, in, in_len, 64);
  for (size_t i = 0; i < n_in; i++)
    assert_int_equal(tl_tokenizer_encode(tk, in[i], in_len[i], 0, want[i], 256, &n_want[i], NULL), TL_OK);
  pthread_t th[4];
  thread_job jobs[4];
  for (int t = 0; t < 4; t++) {
    jobs[t] = (thread_job){tk, in, in_len, n_in, (const int32_t(*)[256])want, n_want, 0};
    assert_int_equal(pthread_create(&th[t], NULL, encode_all, &jobs[t]), 0);
  }
  for (int t = 0; t < 4; t++) {
    pthread_join(th[t], NULL);
    assert_int_equal(jobs[t].failures, 0);
  }
  free(inp);
  tl_tokenizer_free(tk);
}

/* ---- pre-tokenizers (tests/data/tokenizer/pretokenize.json) ---- */

static void test_pretokenize(void **state)
{
  (void)state;
  json_error_t jerr;
  json_t *root = json_load_file(th_data_path("tokenizer/pretokenize.json"), 0, &jerr);
  if (!root)
    fail_msg("pretokenize.json: %s at line %d", jerr.text, jerr.line);
  json_t *cases = json_object_get(root, "cases");
  assert_true(json_array_size(cases) > 10);
  size_t i;
  json_t *c;
  json_array_foreach(cases, i, c) {
    const char *pre = json_string_value(json_object_get(c, "pre"));
    json_t *jt = json_object_get(c, "text"), *want = json_object_get(c, "split");
    const char *text = json_string_value(jt);
    size_t len = json_string_length(jt);
    struct tl__tok_pre *p = NULL;
    bool im, ab;
    tl_error err;
    if (tl__tok_pre_create(pre, &p, &im, &ab, &err) != TL_OK)
      fail_msg("case %zu: %s", i, err.message);
    tl__spans sp = {0};
    assert_int_equal(tl__tok_pre_split(p, text, len, &sp, &err), TL_OK);
    bool ok = sp.n == json_array_size(want);
    for (size_t k = 0; ok && k < sp.n; k++) {
      json_t *w = json_array_get(want, k);
      ok = json_string_length(w) == sp.v[k].len &&
           memcmp(json_string_value(w), text + sp.v[k].off, sp.v[k].len) == 0;
    }
    if (!ok) {
      fprintf(stderr, "case %zu (%s) '%s' split as:", i, pre, text);
      for (size_t k = 0; k < sp.n; k++)
        fprintf(stderr, " [%.*s]", (int)sp.v[k].len, text + sp.v[k].off);
      fprintf(stderr, "\n");
      fail_msg("case %zu: wrong split", i);
    }
    tl_free(sp.v);
    tl__tok_pre_free(p);
  }
  json_decref(root);

  /* Every pre-tokenizer name compiles; unknown names are refused. */
  static const char *const names[] = {
      "default", "llama3", "llama-v3", "llama-bpe", "dbrx", "smaug-bpe", "deepseek-llm",
      "deepseek-coder", "deepseek-v3", "falcon", "starcoder", "refact", "command-r", "smollm",
      "gpt-2", "mpt", "olmo", "qwen2", "stablelm2", "poro-chat", "bloom", "viking", "tekken",
      "gpt-4o", "llama4", "chatglm-bpe", "codeshell", "exaone", "jais"};
  for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
    struct tl__tok_pre *p = NULL;
    bool im, ab;
    tl_error err;
    if (tl__tok_pre_create(names[k], &p, &im, &ab, &err) != TL_OK)
      fail_msg("%s: %s", names[k], err.message);
    tl__tok_pre_free(p);
  }
  struct tl__tok_pre *p = NULL;
  bool im, ab;
  tl_error err;
  assert_int_equal(tl__tok_pre_create("gpt-3000", &p, &im, &ab, &err), TL_EUNSUPPORTED);
  assert_non_null(strstr(err.message, "'gpt-3000'"));
}

/* ---- the CLI ---- */

static void test_cli(void **state)
{
  (void)state;
  char *out = NULL, *errs = NULL;
  const char *model = th_data_path("models/stories260K.gguf");
  char path[1024];
  snprintf(path, sizeof path, "%s", model);
  const char *a1[] = {"tokenize", path, "-p", "Once upon a time", NULL};
  assert_int_equal(th_run_tailor(a1, NULL, &out, &errs), 0);
  assert_string_equal(out, "1 403 407 261 378\n");
  free(out), free(errs);
  const char *a2[] = {"tokenize", path, "--no-bos", NULL};
  assert_int_equal(th_run_tailor(a2, "Once upon a time", &out, &errs), 0);
  assert_string_equal(out, "403 407 261 378\n");
  free(out), free(errs);
  const char *a3[] = {"tokenize", path, "--pieces", "-p", "a\n", NULL};
  assert_int_equal(th_run_tailor(a3, NULL, &out, &errs), 0);
  assert_non_null(strstr(out, "'<s>'"));
  assert_non_null(strstr(out, "'\\n'"));
  free(out), free(errs);
  const char *a4[] = {"tokenize", path, "--json", "--pieces", "-p", "<s>a", NULL};
  assert_int_equal(th_run_tailor(a4, NULL, &out, &errs), 0);
  assert_non_null(strstr(out, "\"model\": \"llama\""));
  assert_non_null(strstr(out, "\"n_tokens\": 3")); /* BOS, <s> parsed as BOS, a */
  free(out), free(errs);
  const char *a5[] = {"tokenize", path, "--no-special", "-p", "<s>", NULL};
  assert_int_equal(th_run_tailor(a5, NULL, &out, &errs), 0);
  assert_true(strlen(out) > strlen("1 1\n")); /* the text, not the token */
  free(out), free(errs);
  const char *a6[] = {"tokenize", "/nonexistent.gguf", "-p", "x", NULL};
  assert_int_equal(th_run_tailor(a6, NULL, &out, &errs), 1);
  free(out), free(errs);
  const char *a7[] = {"tokenize", NULL};
  assert_int_equal(th_run_tailor(a7, NULL, &out, &errs), 2);
  free(out), free(errs);
  const char *a8[] = {"tokenize", path, "--bogus", NULL};
  assert_int_equal(th_run_tailor(a8, NULL, &out, &errs), 2);
  free(out), free(errs);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vectors),
      cmocka_unit_test(test_stories_prompt),
      cmocka_unit_test(test_stories_greedy_decode),
      cmocka_unit_test(test_detok_split_characters),
      cmocka_unit_test(test_detok_bpe_stream),
      cmocka_unit_test(test_bpe_round_trip),
      cmocka_unit_test(test_special_tokens),
      cmocka_unit_test(test_pieces_and_limits),
      cmocka_unit_test(test_tiny_vocab),
      cmocka_unit_test(test_malformed_vocab),
      cmocka_unit_test(test_alloc_failure),
      cmocka_unit_test(test_threads),
      cmocka_unit_test(test_pretokenize),
      cmocka_unit_test(test_cli),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
