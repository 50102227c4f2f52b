/* The tokenizer's public face: accessors, encoding (special tokens matched
 * first, then the model's encoder on each stretch of plain text, with BOS /
 * EOS around it, as llama.cpp's llama_vocab::tokenize) and single pieces.
 * Streaming decoding is in tok-detok.c. */
#include <string.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "engine/tokenizer-int.h"

tl_tok_model tl_tokenizer_model(const tl_tokenizer *tk) { return tk->model; }
const char *tl_tokenizer_pre(const tl_tokenizer *tk) { return tk->pre; }
uint32_t tl_tokenizer_n_vocab(const tl_tokenizer *tk) { return tk->n_vocab; }
bool tl_tokenizer_add_bos(const tl_tokenizer *tk) { return tk->add_bos; }
bool tl_tokenizer_add_eos(const tl_tokenizer *tk) { return tk->add_eos; }

int32_t tl_tokenizer_special(const tl_tokenizer *tk, tl_tok_special which)
{
  if ((unsigned)which >= TL_TOK_SPECIAL_COUNT)
    return -1;
  return tk->special[which];
}

bool tl_tokenizer_is_eog(const tl_tokenizer *tk, int32_t id)
{
  return id >= 0 && (id == tk->special[TL_TOK_SPECIAL_EOS] || id == tk->special[TL_TOK_SPECIAL_EOT] ||
                     id == tk->special[TL_TOK_SPECIAL_EOM]);
}

tl_token_type tl_tokenizer_token_type(const tl_tokenizer *tk, int32_t id)
{
  if (id < 0 || (uint32_t)id >= tk->n_vocab)
    return TL_TOKEN_UNDEFINED;
  return (tl_token_type)tk->type[id];
}

const char *tl_tokenizer_token_text(const tl_tokenizer *tk, int32_t id, size_t *len)
{
  if (id < 0 || (uint32_t)id >= tk->n_vocab)
    return NULL;
  if (len)
    *len = tk->len[id];
  return tk->blob + tk->off[id];
}

float tl_tokenizer_token_score(const tl_tokenizer *tk, int32_t id)
{
  if (id < 0 || (uint32_t)id >= tk->n_vocab)
    return 0.0f;
  return tk->score[id];
}

int32_t tl_tokenizer_find(const tl_tokenizer *tk, const char *text, size_t len)
{
  if (!text)
    return -1;
  return tl__tok_lookup(tk, text, len);
}

/* ---- special-token partition ---- */

typedef struct frag {
  int32_t token; /* -1: raw text text[off..off+len) */
  size_t off, len;
} frag;

typedef struct frags {
  frag *v;
  size_t n, cap;
} frags;

static bool frags_push(frags *f, int32_t token, size_t off, size_t len)
{
  if (f->n == f->cap) {
    size_t cap = f->cap ? f->cap * 2 : 16;
    frag *v = tl__realloc(f->v, cap * sizeof *v);
    if (!v)
      return false;
    f->v = v, f->cap = cap;
  }
  f->v[f->n++] = (frag){token, off, len};
  return true;
}

static bool is_space(char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* Splits the raw fragments at every occurrence of each special token's text,
 * longest tokens first, leftmost occurrences first. */
static bool partition(const tl_tokenizer *tk, const char *text, size_t len, bool parse_special,
                      frags *cur)
{
  if (!tk->n_specials)
    return true;
  /* Which bytes and byte pairs occur in the text: most special tokens can be
   * skipped without searching for them. */
  uint64_t *pairs = tl__calloc(1024 + 4, sizeof *pairs);
  if (!pairs)
    return false;
  uint64_t *bytes = pairs + 1024;
  for (size_t i = 0; i < len; i++) {
    unsigned b = (unsigned char)text[i];
    bytes[b >> 6] |= 1ull << (b & 63);
    if (i + 1 < len) {
      unsigned p = b << 8 | (unsigned char)text[i + 1];
      pairs[p >> 6] |= 1ull << (p & 63);
    }
  }
  frags next = {0};
  for (uint32_t k = 0; k < tk->n_specials; k++) {
    int32_t id = tk->specials[k];
    uint8_t ty = tk->type[id];
    if (!parse_special && ty != TL_TOKEN_USER_DEFINED)
      continue;
    const char *t = tk->blob + tk->off[id];
    size_t tl = tk->len[id];
    if (tl > len)
      continue;
    unsigned b0 = (unsigned char)t[0];
    if (!(bytes[b0 >> 6] & (1ull << (b0 & 63))))
      continue;
    if (tl >= 2) {
      unsigned p0 = b0 << 8 | (unsigned char)t[1];
      unsigned p1 = (unsigned)(unsigned char)t[tl - 2] << 8 | (unsigned char)t[tl - 1];
      if (!(pairs[p0 >> 6] & (1ull << (p0 & 63))) || !(pairs[p1 >> 6] & (1ull << (p1 & 63))))
        continue;
    }
    bool found = false;
    for (size_t i = 0; i < cur->n && !found; i++)
      found = cur->v[i].token < 0 && cur->v[i].len >= tl &&
              memmem(text + cur->v[i].off, cur->v[i].len, t, tl) != NULL;
    if (!found)
      continue;
    next.n = 0;
    for (size_t i = 0; i < cur->n; i++) {
      frag f = cur->v[i];
      if (f.token >= 0) {
        if (!frags_push(&next, f.token, 0, 0))
          goto oom;
        continue;
      }
      size_t pos = f.off, end = f.off + f.len;
      while (pos < end) {
        const char *m = end - pos >= tl ? memmem(text + pos, end - pos, t, tl) : NULL;
        if (!m)
          break;
        size_t at = (size_t)(m - text), left = at;
        if (tk->strip[id] & TL__TOK_LSTRIP)
          while (left > pos && is_space(text[left - 1]))
            left--;
        if (left > pos && !frags_push(&next, -1, pos, left - pos))
          goto oom;
        if (!frags_push(&next, id, 0, 0))
          goto oom;
        pos = at + tl;
        if (tk->strip[id] & TL__TOK_RSTRIP)
          while (pos < end && is_space(text[pos]))
            pos++;
      }
      if (pos < end && !frags_push(&next, -1, pos, end - pos))
        goto oom;
    }
    frags t2 = *cur;
    *cur = next;
    next = t2;
  }
  tl__free(next.v);
  tl__free(pairs);
  return true;
oom:
  tl__free(next.v);
  tl__free(pairs);
  return false;
}

tl_status tl_tokenizer_encode(const tl_tokenizer *tk, const char *text, size_t len, uint32_t flags,
                              int32_t *ids, size_t cap, size_t *n, tl_error *err)
{
  if (!tk || !n || (!text && len) || (!ids && cap))
    return tl__error_set(err, TL_EINVAL, "tokenizer: NULL argument");
  if (flags & ~(uint32_t)(TL_TOK_ADD_SPECIAL | TL_TOK_PARSE_SPECIAL))
    return tl__error_set(err, TL_EINVAL, "tokenizer: unknown encode flags 0x%x", flags);
  if (len > TL_TOK_MAX_TEXT)
    return tl__error_set(err, TL_ELIMIT, "tokenizer: text of %zu bytes (limit %zu)", len,
                         TL_TOK_MAX_TEXT);
  bool add_special = flags & TL_TOK_ADD_SPECIAL;
  frags fr = {0};
  tl__ids out = {0};
  tl_status st = TL_OK;
  if (len && (!frags_push(&fr, -1, 0, len) || !partition(tk, text, len, flags & TL_TOK_PARSE_SPECIAL, &fr)))
    goto oom;

  int32_t first = -1, last = -1;
  if (add_special) {
    if (tk->model == TL_TOK_MODEL_WPM) {
      first = tk->special[TL_TOK_SPECIAL_CLS] >= 0 ? tk->special[TL_TOK_SPECIAL_CLS]
                                                   : tk->special[TL_TOK_SPECIAL_BOS];
      last = tk->special[TL_TOK_SPECIAL_SEP] >= 0 ? tk->special[TL_TOK_SPECIAL_SEP]
                                                  : tk->special[TL_TOK_SPECIAL_EOS];
    } else {
      first = tk->special[TL_TOK_SPECIAL_BOS];
      last = tk->special[TL_TOK_SPECIAL_EOS];
    }
    if (!tk->add_bos)
      first = -1;
    if (!tk->add_eos)
      last = -1;
  }
  if (first >= 0)
    tl__ids_push(&out, first);
  bool prev_special = true; /* SentencePiece: a space prefix at the start and after special tokens */
  for (size_t i = 0; i < fr.n && st == TL_OK; i++) {
    const frag *f = &fr.v[i];
    if (f->token >= 0) {
      tl__ids_push(&out, f->token);
      prev_special = true;
      continue;
    }
    switch (tk->model) {
    case TL_TOK_MODEL_SPM:
      st = tl__tok_spm_encode(tk, text + f->off, f->len, tk->add_space_prefix && prev_special, &out, err);
      break;
    case TL_TOK_MODEL_BPE:
      st = tl__tok_bpe_encode(tk, text + f->off, f->len, &out, err);
      break;
    case TL_TOK_MODEL_WPM:
      st = tl__tok_wpm_encode(tk, text + f->off, f->len, &out, err);
      break;
    }
    prev_special = false;
  }
  if (st != TL_OK)
    goto done;
  if (last >= 0)
    tl__ids_push(&out, last);
  if (out.failed)
    goto oom;
  if (out.n > cap) {
    if (cap)
      memcpy(ids, out.v, cap * sizeof *ids);
    *n = out.n;
    st = tl__error_set(err, TL_ELIMIT, "tokenizer: %zu tokens do not fit in %zu", out.n, cap);
    goto done;
  }
  if (out.n)
    memcpy(ids, out.v, out.n * sizeof *ids);
  *n = out.n;
  goto done;
oom:
  st = tl__error_set(err, TL_ENOMEM, "tokenizer: out of memory");
done:
  tl__free(out.v);
  tl__free(fr.v);
  return st;
}

/* ---- pieces ---- */

static int hexval(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

size_t tl__tok_piece(const tl_tokenizer *tk, int32_t id, uint32_t flags, char *buf)
{
  const char *t = tk->blob + tk->off[id];
  size_t n = tk->len[id], o = 0;
  switch ((tl_token_type)tk->type[id]) {
  case TL_TOKEN_CONTROL:
  case TL_TOKEN_UNKNOWN:
    if (!(flags & TL_TOK_RENDER_SPECIAL))
      return 0;
    /* fall through */
  case TL_TOKEN_USER_DEFINED:
    memcpy(buf, t, n);
    return n;
  case TL_TOKEN_BYTE:
    if (tk->model == TL_TOK_MODEL_SPM && n == 6 && t[0] == '<' && t[1] == '0' && t[2] == 'x' &&
        t[5] == '>' && hexval(t[3]) >= 0 && hexval(t[4]) >= 0) {
      buf[0] = (char)(hexval(t[3]) * 16 + hexval(t[4]));
      return 1;
    }
    memcpy(buf, t, n);
    return n;
  case TL_TOKEN_NORMAL:
    break;
  default: /* unused, undefined */
    return 0;
  }
  if (tk->model == TL_TOK_MODEL_BPE) {
    for (size_t i = 0; i < n;) {
      uint32_t cp;
      size_t k = tl__utf8_decode(t + i, n - i, &cp);
      if (cp < 324 && tk->cp_byte[cp] >= 0)
        buf[o++] = (char)tk->cp_byte[cp];
      else
        memcpy(buf + o, t + i, k), o += k;
      i += k;
    }
    return o;
  }
  size_t i = 0;
  if (tk->model == TL_TOK_MODEL_WPM && tk->wpm_hash_prefix) {
    if (n >= 2 && t[0] == '#' && t[1] == '#')
      i = 2;
    else
      buf[o++] = ' ';
  }
  for (; i < n; i++) {
    if (i + 3 <= n && memcmp(t + i, "\xe2\x96\x81", 3) == 0) {
      buf[o++] = ' ';
      i += 2;
    } else {
      buf[o++] = t[i];
    }
  }
  return o;
}

tl_status tl_tokenizer_piece(const tl_tokenizer *tk, int32_t id, uint32_t flags, char *buf,
                             size_t cap, size_t *n, tl_error *err)
{
  if (!tk || !n || (!buf && cap))
    return tl__error_set(err, TL_EINVAL, "tokenizer: NULL argument");
  if (id < 0 || (uint32_t)id >= tk->n_vocab)
    return tl__error_set(err, TL_ERANGE, "tokenizer: token id %d is outside the vocabulary (%u tokens)",
                         (int)id, tk->n_vocab);
  char tmp[64];
  char *p = tk->len[id] + 1 <= sizeof tmp ? tmp : tl__malloc(tk->len[id] + 1);
  if (!p)
    return tl__error_set(err, TL_ENOMEM, "tokenizer: out of memory");
  size_t k = tl__tok_piece(tk, id, flags, p);
  tl_status st = TL_OK;
  if (k > cap) {
    st = tl__error_set(err, TL_ELIMIT, "tokenizer: piece of %zu bytes does not fit in %zu", k, cap);
  } else if (k) {
    memcpy(buf, p, k);
  }
  *n = k;
  if (p != tmp)
    tl__free(p);
  return st;
}
