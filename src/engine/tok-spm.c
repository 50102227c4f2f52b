/* SentencePiece-style tokenizer (tokenizer.ggml.model = "llama"), as
 * llama.cpp's llm_tokenizer_spm: spaces become U+2581 (with one in front
 * when add_space_prefix says so), the text is split into UTF-8 characters,
 * and neighbouring symbols are merged highest token score first (ties: the
 * leftmost pair) while the merged text is a token. Symbols that are no token
 * fall back to <0xXX> byte tokens, or to the unknown token. */
#include <string.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "engine/tokenizer-int.h"

typedef struct sym {
  uint32_t start, n; /* bytes of the escaped text; n == 0 once merged away */
  int prev, next;
} sym;

typedef struct bigram {
  float score;
  int left, right;
  uint32_t size; /* bytes of left + right when queued */
} bigram;

typedef struct heap {
  bigram *v;
  size_t n, cap;
} heap;

/* a comes out before b: higher score, then the leftmost. */
static bool before(const bigram *a, const bigram *b)
{
  return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static bool heap_push(heap *h, bigram b)
{
  if (h->n == h->cap) {
    size_t cap = h->cap ? h->cap * 2 : 64;
    bigram *v = tl__realloc(h->v, cap * sizeof *v);
    if (!v)
      return false;
    h->v = v, h->cap = cap;
  }
  size_t i = h->n++;
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!before(&b, &h->v[p]))
      break;
    h->v[i] = h->v[p];
    i = p;
  }
  h->v[i] = b;
  return true;
}

static bigram heap_pop(heap *h)
{
  bigram top = h->v[0], last = h->v[--h->n];
  size_t i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= h->n)
      break;
    if (c + 1 < h->n && before(&h->v[c + 1], &h->v[c]))
      c++;
    if (!before(&h->v[c], &last))
      break;
    h->v[i] = h->v[c];
    i = c;
  }
  if (h->n)
    h->v[i] = last;
  return top;
}

static bool try_add(const tl_tokenizer *tk, const char *text, const sym *s, int l, int r, heap *h)
{
  if (l < 0 || r < 0)
    return true;
  uint32_t size = s[l].n + s[r].n;
  int32_t id = tl__tok_lookup(tk, text + s[l].start, size);
  if (id < 0)
    return true;
  bigram b = {tk->score[id], l, r, size};
  return heap_push(h, b);
}

tl_status tl__tok_spm_encode(const tl_tokenizer *tk, const char *text, size_t len, bool prefix_space,
                             tl__ids *out, tl_error *err)
{
  /* Escape: each space becomes U+2581 (3 bytes). */
  size_t spaces = prefix_space ? 1 : 0;
  for (size_t i = 0; i < len; i++)
    spaces += text[i] == ' ';
  size_t n = len + spaces * 2 + (prefix_space ? 1 : 0);
  char *buf = tl__malloc(n ? n : 1);
  sym *s = tl__malloc_array(n ? n : 1, sizeof *s);
  heap h = {0};
  tl_status st = TL_OK;
  if (!buf || !s) {
    st = tl__error_set(err, TL_ENOMEM, "tokenizer: out of memory");
    goto done;
  }
  size_t p = 0;
  if (prefix_space)
    memcpy(buf, "\xe2\x96\x81", 3), p = 3;
  for (size_t i = 0; i < len; i++) {
    if (text[i] == ' ')
      memcpy(buf + p, "\xe2\x96\x81", 3), p += 3;
    else
      buf[p++] = text[i];
  }
  int ns = 0;
  for (size_t off = 0; off < n;) {
    size_t cl = tl__utf8_len((unsigned char)buf[off]);
    if (cl > n - off)
      cl = n - off;
    s[ns].start = (uint32_t)off;
    s[ns].n = (uint32_t)cl;
    s[ns].prev = ns - 1;
    off += cl;
    s[ns].next = off == n ? -1 : ns + 1;
    ns++;
  }
  for (int i = 1; i < ns; i++)
    if (!try_add(tk, buf, s, i - 1, i, &h))
      goto oom;
  while (h.n) {
    bigram b = heap_pop(&h);
    sym *l = &s[b.left], *r = &s[b.right];
    if (l->n == 0 || r->n == 0 || l->n + r->n != b.size)
      continue; /* one side was merged since this pair was queued */
    l->n += r->n;
    r->n = 0;
    l->next = r->next;
    if (r->next >= 0)
      s[r->next].prev = b.left;
    if (!try_add(tk, buf, s, l->prev, b.left, &h) || !try_add(tk, buf, s, b.left, l->next, &h))
      goto oom;
  }
  for (int i = ns ? 0 : -1; i != -1; i = s[i].next) {
    int32_t id = tl__tok_lookup(tk, buf + s[i].start, s[i].n);
    if (id >= 0) {
      tl__ids_push(out, id);
      continue;
    }
    for (size_t j = 0; j < s[i].n; j++) {
      unsigned char c = (unsigned char)buf[s[i].start + j];
      int32_t bid = tk->byte_token[c];
      if (bid < 0)
        bid = tl__tok_lookup(tk, buf + s[i].start + j, 1);
      if (bid < 0)
        bid = tk->special[TL_TOK_SPECIAL_UNK];
      if (bid < 0) {
        st = tl__error_set(err, TL_EFORMAT, "tokenizer: byte 0x%02x has no token and the "
                           "vocabulary has no unknown token", c);
        goto done;
      }
      tl__ids_push(out, bid);
    }
  }
  goto done;
oom:
  st = tl__error_set(err, TL_ENOMEM, "tokenizer: out of memory");
done:
  tl__free(h.v);
  tl__free(s);
  tl__free(buf);
  return st;
}
