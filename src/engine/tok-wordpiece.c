/* WordPiece (tokenizer.ggml.model = "bert"), as Hugging Face's BERT
 * normalizer, pre-tokenizer and WordPiece model: control characters dropped,
 * whitespace splits words, CJK ideographs and punctuation become words of
 * their own, accents are stripped (canonical decomposition without Mn
 * marks), text is lowercased; each word is then cut greedily into the
 * longest vocabulary pieces, continuation pieces marked "##" (or, in GGUF
 * files written by llama.cpp's converter, word starts marked U+2581). A word
 * that cannot be cut, or longer than 100 characters, becomes [UNK]. */
#include <string.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "engine/tokenizer-int.h"

/* Hugging Face WordPiece's max_input_chars_per_word default. */
#define WPM_MAX_WORD_CHARS 100

typedef struct wctx {
  const tl_tokenizer *tk;
  char *word; /* UTF-8 of the current word */
  size_t n, nchars;
  size_t *cut; /* byte offset of each character of the word, and the end */
  char *cand;  /* prefix + piece */
  tl__ids *out;
} wctx;

static bool is_punct(uint32_t cp)
{
  if (cp < 0x80)
    return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
           (cp >= 123 && cp <= 126);
  tl__uni_cat c = tl__uni_category(cp);
  return c >= TL__UC_Pc && c <= TL__UC_Po;
}

static bool is_control(uint32_t cp)
{
  if (cp == '\t' || cp == '\n' || cp == '\r')
    return false;
  tl__uni_cat c = tl__uni_category(cp);
  return c == TL__UC_Cn || c >= TL__UC_Cc;
}

static tl_status end_word(wctx *w, tl_error *err)
{
  if (w->nchars == 0)
    return TL_OK;
  const tl_tokenizer *tk = w->tk;
  size_t mark = w->out->n;
  bool bad = w->nchars > WPM_MAX_WORD_CHARS;
  for (size_t i = 0; i < w->nchars && !bad;) {
    /* Prefix: "##" on continuation pieces, or U+2581 on the first piece. */
    const char *pre = "";
    size_t pl = 0;
    if (tk->wpm_hash_prefix && i > 0)
      pre = "##", pl = 2;
    else if (!tk->wpm_hash_prefix && i == 0)
      pre = "\xe2\x96\x81", pl = 3;
    memcpy(w->cand, pre, pl);
    int32_t id = -1;
    size_t j = w->nchars;
    for (; j > i; j--) {
      size_t bytes = w->cut[j] - w->cut[i];
      if (bytes + pl > tk->max_token_len)
        continue;
      memcpy(w->cand + pl, w->word + w->cut[i], bytes);
      id = tl__tok_lookup(tk, w->cand, pl + bytes);
      if (id >= 0)
        break;
    }
    if (id < 0) {
      bad = true;
      break;
    }
    tl__ids_push(w->out, id);
    i = j;
  }
  if (bad) {
    w->out->n = mark < w->out->n ? mark : w->out->n;
    int32_t unk = tk->special[TL_TOK_SPECIAL_UNK];
    if (unk < 0)
      return tl__error_set(err, TL_EFORMAT, "tokenizer: word '%.*s' has no pieces and the "
                           "vocabulary has no unknown token", (int)(w->n > 64 ? 64 : w->n), w->word);
    tl__ids_push(w->out, unk);
  }
  w->n = w->nchars = 0;
  return TL_OK;
}

static void add_char(wctx *w, uint32_t cp)
{
  if (w->nchars >= WPM_MAX_WORD_CHARS + 1) { /* too long already: only counted */
    w->nchars++;
    return;
  }
  w->cut[w->nchars++] = w->n;
  w->n += tl__utf8_encode(cp, w->word + w->n);
  w->cut[w->nchars] = w->n;
}

tl_status tl__tok_wpm_encode(const tl_tokenizer *tk, const char *text, size_t len, tl__ids *out,
                             tl_error *err)
{
  /* A word keeps at most WPM_MAX_WORD_CHARS + 1 characters of 4 bytes. */
  wctx w = {.tk = tk, .out = out};
  w.word = tl__malloc((WPM_MAX_WORD_CHARS + 2) * 4);
  w.cut = tl__malloc_array(WPM_MAX_WORD_CHARS + 3, sizeof *w.cut);
  w.cand = tl__malloc(tk->max_token_len + 4);
  tl_status st = TL_OK;
  if (!w.word || !w.cut || !w.cand) {
    st = tl__error_set(err, TL_ENOMEM, "tokenizer: out of memory");
    goto done;
  }
  for (size_t i = 0; i < len && st == TL_OK;) {
    uint32_t cp;
    i += tl__utf8_decode(text + i, len - i, &cp);
    if (cp == 0 || cp == 0xFFFD || is_control(cp))
      continue;
    if (tl__uni_is_whitespace(cp)) {
      st = end_word(&w, err);
      continue;
    }
    bool cjk = tl__uni_is_cjk(cp);
    uint32_t d[4];
    size_t nd = tl__uni_nfd_cp(cp, d);
    if (cjk)
      st = end_word(&w, err);
    for (size_t k = 0; k < nd && st == TL_OK; k++) {
      if (tl__uni_category(d[k]) == TL__UC_Mn)
        continue;
      uint32_t c = tl__uni_tolower(d[k]);
      if (is_punct(c)) {
        st = end_word(&w, err);
        if (st == TL_OK) {
          add_char(&w, c);
          st = end_word(&w, err);
        }
      } else {
        add_char(&w, c);
      }
    }
    if (cjk && st == TL_OK)
      st = end_word(&w, err);
  }
  if (st == TL_OK)
    st = end_word(&w, err);
done:
  tl__free(w.cand);
  tl__free(w.cut);
  tl__free(w.word);
  return st;
}
