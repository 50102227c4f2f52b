/* Streaming detokenizer: pieces of ids in, whole valid UTF-8 out. Bytes of
 * a character that is still incomplete are held back (at most 3); a byte
 * that cannot continue or start a character comes out as U+FFFD (one per
 * maximal invalid subsequence, as the Unicode Standard recommends in 3.9).
 * Also the whole-sequence tl_tokenizer_decode, built on it. */
#include <string.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "base/strbuf.h"
#include "engine/tokenizer-int.h"

struct tl_detok {
  const tl_tokenizer *tk;
  uint32_t flags;
  bool started;            /* some text has come out */
  unsigned char pend[4];   /* bytes of an unfinished character */
  size_t npend, need;
  char *piece;             /* max_token_len + 1 */
  char *out;               /* 3 * (max_token_len + 1) + 8 */
};

tl_status tl_detok_create(const tl_tokenizer *tk, uint32_t flags, tl_detok **out, tl_error *err)
{
  if (!tk || !out)
    return tl__error_set(err, TL_EINVAL, "detok: NULL argument");
  tl_detok *d = tl__calloc(1, sizeof *d);
  size_t pl = (size_t)tk->max_token_len + 1;
  if (d) {
    d->piece = tl__malloc(pl);
    d->out = tl__malloc(3 * pl + 8);
  }
  if (!d || !d->piece || !d->out) {
    tl_detok_free(d);
    return tl__error_set(err, TL_ENOMEM, "detok: out of memory");
  }
  d->tk = tk;
  d->flags = flags;
  *out = d;
  return TL_OK;
}

void tl_detok_free(tl_detok *d)
{
  if (!d)
    return;
  tl__free(d->piece);
  tl__free(d->out);
  tl__free(d);
}

void tl_detok_reset(tl_detok *d)
{
  d->started = false;
  d->npend = d->need = 0;
}

static size_t put_replacement(char *o) { return tl__utf8_encode(0xFFFD, o); }

/* Feeds one byte; appends what is complete to o; returns bytes appended. */
static size_t feed(tl_detok *d, unsigned char b, char *o)
{
  size_t k = 0;
  if (d->npend) {
    unsigned char lo = 0x80, hi = 0xBF;
    if (d->npend == 1) { /* the second byte's narrower ranges (Unicode Table 3-7) */
      unsigned char l = d->pend[0];
      if (l == 0xE0)
        lo = 0xA0;
      else if (l == 0xED)
        hi = 0x9F;
      else if (l == 0xF0)
        lo = 0x90;
      else if (l == 0xF4)
        hi = 0x8F;
    }
    if (b >= lo && b <= hi) {
      d->pend[d->npend++] = b;
      if (d->npend == d->need) {
        memcpy(o, d->pend, d->npend);
        k = d->npend;
        d->npend = 0;
      }
      return k;
    }
    k = put_replacement(o);
    d->npend = 0;
  }
  if (b < 0x80) {
    o[k++] = (char)b;
  } else if (b >= 0xC2 && b <= 0xF4) {
    d->pend[0] = b;
    d->npend = 1;
    d->need = b <= 0xDF ? 2 : b <= 0xEF ? 3 : 4;
  } else {
    k += put_replacement(o + k);
  }
  return k;
}

tl_status tl_detok_push(tl_detok *d, int32_t id, const char **text, size_t *len, tl_error *err)
{
  const tl_tokenizer *tk = d->tk;
  if (id < 0 || (uint32_t)id >= tk->n_vocab)
    return tl__error_set(err, TL_ERANGE, "detok: token id %d is outside the vocabulary (%u tokens)",
                         (int)id, tk->n_vocab);
  size_t n = tl__tok_piece(tk, id, d->flags, d->piece);
  const char *p = d->piece;
  if (n && !d->started) {
    d->started = true;
    if ((d->flags & TL_TOK_STRIP_LEADING_SPACE) && tk->model == TL_TOK_MODEL_SPM &&
        tk->add_space_prefix && p[0] == ' ')
      p++, n--;
  }
  size_t o = 0;
  for (size_t i = 0; i < n; i++)
    o += feed(d, (unsigned char)p[i], d->out + o);
  d->out[o] = 0;
  *text = d->out;
  *len = o;
  return TL_OK;
}

void tl_detok_flush(tl_detok *d, const char **text, size_t *len)
{
  size_t o = 0;
  if (d->npend)
    o = put_replacement(d->out);
  d->npend = 0;
  d->out[o] = 0;
  *text = d->out;
  *len = o;
}

tl_status tl_tokenizer_decode(const tl_tokenizer *tk, const int32_t *ids, size_t n, uint32_t flags,
                              char **text, size_t *len, tl_error *err)
{
  if (!tk || !text || (!ids && n))
    return tl__error_set(err, TL_EINVAL, "detok: NULL argument");
  tl_detok *d;
  tl_status st = tl_detok_create(tk, flags, &d, err);
  if (st != TL_OK)
    return st;
  tl__sb sb;
  tl__sb_init(&sb);
  const char *t;
  size_t k;
  for (size_t i = 0; i < n; i++) {
    st = tl_detok_push(d, ids[i], &t, &k, err);
    if (st != TL_OK) {
      tl__error_prefix(err, "token %zu", i);
      tl__sb_deinit(&sb);
      tl_detok_free(d);
      return st;
    }
    tl__sb_append(&sb, t, k);
  }
  tl_detok_flush(d, &t, &k);
  tl__sb_append(&sb, t, k);
  tl_detok_free(d);
  size_t total = sb.len;
  char *s = tl__sb_take(&sb);
  if (!s)
    return tl__error_set(err, TL_ENOMEM, "detok: out of memory");
  *text = s;
  if (len)
    *len = total;
  return TL_OK;
}
