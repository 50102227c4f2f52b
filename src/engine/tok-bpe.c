/* Byte-level BPE (tokenizer.ggml.model = "gpt2"), as llama.cpp's
 * llm_tokenizer_bpe: the pre-tokenizer splits the text into words; each
 * word's bytes are mapped to printable code points (GPT-2's bytes_to_unicode)
 * and merged pairwise, lowest merge rank first (ties: the leftmost pair).
 * A finished symbol that is no token falls back to its single bytes. */
#include <string.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "engine/tokenizer-int.h"

typedef struct sym {
  uint32_t start, n; /* bytes of the mapped word; n == 0 once merged away */
  int prev, next;
} sym;

typedef struct bigram {
  int32_t rank;
  int left, right;
  uint32_t size;
} bigram;

typedef struct heap {
  bigram *v;
  size_t n, cap;
} heap;

static bool before(const bigram *a, const bigram *b)
{
  return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
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

typedef struct work {
  const tl_tokenizer *tk;
  char *word; /* mapped bytes of the current word */
  sym *s;
  heap h;
  char *scratch;
} work;

static bool try_add(work *w, int l, int r)
{
  if (l < 0 || r < 0)
    return true;
  const sym *s = w->s;
  int32_t rank = tl__tok_merge_rank(w->tk, w->word + s[l].start, s[l].n, w->word + s[r].start,
                                    s[r].n, w->scratch);
  if (rank < 0)
    return true;
  bigram b = {rank, l, r, s[l].n + s[r].n};
  return heap_push(&w->h, b);
}

/* Merges one mapped word of n bytes and appends its ids. */
static bool encode_word(work *w, size_t n, tl__ids *out)
{
  const tl_tokenizer *tk = w->tk;
  if (tk->ignore_merges) {
    int32_t id = tl__tok_lookup(tk, w->word, n);
    if (id >= 0) {
      tl__ids_push(out, id);
      return true;
    }
  }
  int ns = 0;
  for (size_t off = 0; off < n;) {
    size_t cl = tl__utf8_len((unsigned char)w->word[off]);
    if (cl > n - off)
      cl = n - off;
    w->s[ns].start = (uint32_t)off;
    w->s[ns].n = (uint32_t)cl;
    w->s[ns].prev = ns - 1;
    off += cl;
    w->s[ns].next = off == n ? -1 : ns + 1;
    ns++;
  }
  w->h.n = 0;
  for (int i = 1; i < ns; i++)
    if (!try_add(w, i - 1, i))
      return false;
  while (w->h.n) {
    bigram b = heap_pop(&w->h);
    sym *l = &w->s[b.left], *r = &w->s[b.right];
    if (l->n == 0 || r->n == 0 || l->n + r->n != b.size)
      continue; /* outdated: one side has been merged since */
    l->n += r->n;
    r->n = 0;
    l->next = r->next;
    if (r->next >= 0)
      w->s[r->next].prev = b.left;
    if (!try_add(w, l->prev, b.left) || !try_add(w, b.left, l->next))
      return false;
  }
  for (int i = ns ? 0 : -1; i != -1; i = w->s[i].next) {
    const char *t = w->word + w->s[i].start;
    int32_t id = tl__tok_lookup(tk, t, w->s[i].n);
    if (id >= 0) {
      tl__ids_push(out, id);
      continue;
    }
    for (size_t j = 0; j < w->s[i].n; j++) {
      int32_t bid = tl__tok_lookup(tk, t + j, 1);
      if (bid >= 0)
        tl__ids_push(out, bid);
    }
  }
  return true;
}

/* Makes room for a word of n source bytes (2 mapped bytes and 1 symbol each at most). */
static bool reserve(work *w, size_t n, size_t *cap)
{
  if (n <= *cap)
    return true;
  size_t c = n > 2 * *cap ? n : 2 * *cap;
  char *word = tl__realloc(w->word, 2 * c + 1);
  if (!word)
    return false;
  w->word = word;
  sym *s = tl__realloc(w->s, (c + 1) * sizeof *s);
  if (!s)
    return false;
  w->s = s;
  *cap = c;
  return true;
}

tl_status tl__tok_bpe_encode(const tl_tokenizer *tk, const char *text, size_t len, tl__ids *out,
                             tl_error *err)
{
  tl_status st = TL_OK;
  tl__spans words = {0};
  work w = {.tk = tk};
  size_t wcap = 0;
  char *copy = NULL;
  const char *clean = text;
  size_t cn = len;
  w.scratch = tl__malloc(TL__TOK_MERGE_SCRATCH);
  if (!w.scratch || !reserve(&w, 64, &wcap))
    goto oom;
  /* Invalid UTF-8 is read as U+FFFD (3 bytes for 1), as llama.cpp does. */
  bool valid = true;
  for (size_t i = 0; i < len && valid;) {
    uint32_t cp;
    size_t k = tl__utf8_decode(text + i, len - i, &cp);
    valid = !(cp == 0xFFFD && k == 1);
    i += k;
  }
  if (!valid) {
    copy = tl__malloc(len * 3 + 1);
    if (!copy)
      goto oom;
    cn = 0;
    for (size_t i = 0; i < len;) {
      uint32_t cp;
      size_t k = tl__utf8_decode(text + i, len - i, &cp);
      if (cp == 0xFFFD && k == 1)
        cn += tl__utf8_encode(0xFFFD, copy + cn);
      else
        memcpy(copy + cn, text + i, k), cn += k;
      i += k;
    }
    clean = copy;
  }
  st = tl__tok_pre_split(tk->pre_re, clean, cn, &words, err);
  if (st != TL_OK)
    goto done;
  for (size_t k = 0; k < words.n; k++) {
    if (!reserve(&w, words.v[k].len, &wcap))
      goto oom;
    size_t wn = 0;
    for (size_t i = 0; i < words.v[k].len; i++)
      wn += tl__utf8_encode(tk->byte_cp[(unsigned char)clean[words.v[k].off + i]], w.word + wn);
    if (!encode_word(&w, wn, out))
      goto oom;
  }
  goto done;
oom:
  st = tl__error_set(err, TL_ENOMEM, "tokenizer: out of memory");
done:
  tl__free(words.v);
  tl__free(w.h.v);
  tl__free(w.scratch);
  tl__free(w.s);
  tl__free(w.word);
  tl__free(copy);
  return st;
}
