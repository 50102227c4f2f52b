/* `tailor tokenize SRC`: text to token ids with the vocabulary of a GGUF
 * file (a vocab-only file is enough), optionally with each token's piece. */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "tailor/tailor.h"

static const char help[] =
    "Usage: tailor tokenize SRC [-p TEXT] [--pieces] [--no-bos] [--no-special] [--json]\n"
    "\n"
    "Tokenizes TEXT (or standard input) with the vocabulary of the GGUF file SRC\n"
    "and prints the token ids on one line.\n"
    "\n"
    "Options:\n"
    "  -p, --prompt TEXT  tokenize TEXT instead of standard input\n"
    "  --pieces           print one token per line: id, then its text\n"
    "  --no-bos           do not add BOS/EOS (CLS/SEP) tokens\n"
    "  --no-special       do not match special-token text such as <|im_end|> in the input\n"
    "  --json             print {\"tokens\": [...], \"pieces\": [...]} and the vocabulary facts\n"
    "  -h, --help         show this help\n";

static char *read_all(FILE *f, size_t *len)
{
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  while (buf) {
    size_t k = fread(buf + n, 1, cap - n, f);
    n += k;
    if (k == 0)
      break;
    if (n == cap) {
      char *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        return NULL;
      }
      buf = nb, cap *= 2;
    }
  }
  if (buf && ferror(f)) {
    free(buf);
    return NULL;
  }
  *len = n;
  return buf;
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

/* Prints a piece quoted, with control bytes and bytes of broken UTF-8 escaped. */
static void print_piece(const char *p, size_t n)
{
  bool utf8 = valid_utf8((const unsigned char *)p, n);
  putchar('\'');
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c == '\n')
      fputs("\\n", stdout);
    else if (c == '\t')
      fputs("\\t", stdout);
    else if (c == '\\' || c == '\'')
      printf("\\%c", c);
    else if (c < 0x20 || c == 0x7F || (c >= 0x80 && !utf8))
      printf("\\x%02x", c);
    else
      putchar(c);
  }
  putchar('\'');
}

static const char *model_name(tl_tok_model m)
{
  return m == TL_TOK_MODEL_SPM ? "llama" : m == TL_TOK_MODEL_BPE ? "gpt2" : "bert";
}

static int run(int argc, char **argv)
{
  const char *src = NULL, *prompt = NULL;
  bool pieces = false, json = false;
  uint32_t flags = TL_TOK_ADD_SPECIAL | TL_TOK_PARSE_SPECIAL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
      if (i + 1 >= argc)
        return tl_cli_usage_error("tokenize", "%s needs a value", a);
      prompt = argv[++i];
    } else if (!strcmp(a, "--pieces")) {
      pieces = true;
    } else if (!strcmp(a, "--no-bos")) {
      flags &= ~(uint32_t)TL_TOK_ADD_SPECIAL;
    } else if (!strcmp(a, "--no-special")) {
      flags &= ~(uint32_t)TL_TOK_PARSE_SPECIAL;
    } else if (!strcmp(a, "--json")) {
      json = true;
    } else if (a[0] == '-' && a[1]) {
      return tl_cli_usage_error("tokenize", "unknown option '%s'", a);
    } else if (!src) {
      src = a;
    } else {
      return tl_cli_usage_error("tokenize", "unexpected argument '%s'", a);
    }
  }
  if (!src)
    return tl_cli_usage_error("tokenize", "no model file given");

  size_t len = 0;
  char *owned = NULL;
  const char *text = prompt;
  if (prompt) {
    len = strlen(prompt);
  } else {
    owned = read_all(stdin, &len);
    if (!owned)
      return tl_cli_fail("tokenize", "cannot read standard input");
    text = owned;
  }

  int rc = TL_EXIT_FAILURE;
  tl_error err;
  tl_error_clear(&err);
  tl_gguf *g = NULL;
  tl_tokenizer *tk = NULL;
  int32_t *ids = NULL;
  size_t n = 0;
  if (tl_gguf_open(src, &g, &err) != TL_OK || tl_tokenizer_from_gguf(g, &tk, &err) != TL_OK) {
    tl_cli_fail("tokenize", "%s: %s", src, err.message);
    goto done;
  }
  tl_status st = tl_tokenizer_encode(tk, text, len, flags, NULL, 0, &n, &err);
  if (st == TL_ELIMIT && n > 0) {
    ids = malloc(n * sizeof *ids);
    if (!ids) {
      tl_cli_fail("tokenize", "out of memory");
      goto done;
    }
    st = tl_tokenizer_encode(tk, text, len, flags, ids, n, &n, &err);
  }
  if (st != TL_OK) {
    tl_cli_fail("tokenize", "%s", err.message);
    goto done;
  }

  size_t cap = 256;
  char *buf = malloc(cap);
  if (!buf) {
    tl_cli_fail("tokenize", "out of memory");
    goto done;
  }
  if (json) {
    json_t *root = json_object(), *tokens = json_array(), *pcs = pieces ? json_array() : NULL;
    json_object_set_new(root, "model", json_string(model_name(tl_tokenizer_model(tk))));
    json_object_set_new(root, "pre", json_string(tl_tokenizer_pre(tk)));
    json_object_set_new(root, "n_vocab", json_integer(tl_tokenizer_n_vocab(tk)));
    json_object_set_new(root, "n_tokens", json_integer((json_int_t)n));
    for (size_t i = 0; i < n; i++) {
      json_array_append_new(tokens, json_integer(ids[i]));
      if (!pcs)
        continue;
      size_t k = 0;
      if (tl_tokenizer_piece(tk, ids[i], TL_TOK_RENDER_SPECIAL, buf, cap, &k, &err) != TL_OK)
        k = 0;
      if (valid_utf8((const unsigned char *)buf, k)) {
        json_array_append_new(pcs, json_stringn(buf, k));
      } else { /* part of a character: its bytes as <0xXX> */
        char hex[64 * 6 + 1];
        size_t o = 0;
        for (size_t j = 0; j < k && o + 7 <= sizeof hex; j++)
          o += (size_t)snprintf(hex + o, sizeof hex - o, "<0x%02X>", (unsigned char)buf[j]);
        json_array_append_new(pcs, json_stringn(hex, o));
      }
    }
    json_object_set_new(root, "tokens", tokens);
    if (pcs)
      json_object_set_new(root, "pieces", pcs);
    char *s = json_dumps(root, JSON_INDENT(2));
    if (s)
      puts(s);
    free(s);
    json_decref(root);
  } else if (pieces) {
    for (size_t i = 0; i < n; i++) {
      size_t k = 0;
      st = tl_tokenizer_piece(tk, ids[i], TL_TOK_RENDER_SPECIAL, buf, cap, &k, &err);
      if (st == TL_ELIMIT) {
        char *nb = realloc(buf, k);
        if (!nb) {
          free(buf);
          tl_cli_fail("tokenize", "out of memory");
          goto done;
        }
        buf = nb, cap = k;
        st = tl_tokenizer_piece(tk, ids[i], TL_TOK_RENDER_SPECIAL, buf, cap, &k, &err);
      }
      printf("%6d  ", ids[i]);
      print_piece(buf, st == TL_OK ? k : 0);
      putchar('\n');
    }
  } else {
    for (size_t i = 0; i < n; i++)
      printf(i ? " %d" : "%d", ids[i]);
    putchar('\n');
  }
  free(buf);
  rc = TL_EXIT_OK;
done:
  free(ids);
  free(owned);
  tl_tokenizer_free(tk);
  tl_gguf_close(g);
  return rc;
}

const tl_cli_command tl_cli_cmd_tokenize = {
    .name = "tokenize",
    .summary = "turn text into token ids with a model's vocabulary",
    .help = help,
    .run = run,
};
