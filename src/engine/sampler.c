/* Token sampling: penalties over a window of recent tokens, then top-k,
 * top-p, min-p and temperature, then a draw from a seeded generator (or the
 * argmax when greedy). The order and the penalty formulas follow llama.cpp's
 * default sampler chain (common/sampling.cpp, src/llama-sampling.cpp). All
 * scratch is allocated at creation; sampling allocates nothing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "tailor/engine.h"

typedef struct cand {
  float logit;
  float p;
  int32_t id;
} cand;

struct tl_sampler {
  tl_sampler_params prm;
  uint32_t n_vocab;
  cand *cands;      /* (n_vocab) working set, best first after filtering */
  float *logits;    /* (n_vocab) penalised copy */
  int32_t *count;   /* (n_vocab) occurrences of each token in the window */
  uint32_t *mark;   /* (n_vocab) stamp: penalty already applied this round */
  uint32_t stamp;
  int32_t *ring;    /* (repeat_last_n) recent tokens */
  uint32_t ring_len, ring_pos;
  uint64_t rng[4];  /* xoshiro256** state */
};

void tl_sampler_params_init(tl_sampler_params *p)
{
  memset(p, 0, sizeof *p);
  p->temp = 0.8f;
  p->top_k = 40;
  p->top_p = 0.95f;
  p->min_p = 0.05f;
  p->repeat_penalty = 1.0f;
  p->repeat_last_n = 64;
  p->seed = 0;
}

/* splitmix64 seeds xoshiro256** (Blackman and Vigna, "Scrambled linear
 * pseudorandom number generators", 2018). */
static uint64_t splitmix64(uint64_t *x)
{
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(uint64_t s[4])
{
  uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return r;
}

/* Uniform in [0, 1) with 53 random bits. */
static double rng_uniform(uint64_t s[4]) { return (double)(rng_next(s) >> 11) * 0x1.0p-53; }

void tl_sampler_reset(tl_sampler *s)
{
  uint64_t x = s->prm.seed;
  for (int i = 0; i < 4; i++)
    s->rng[i] = splitmix64(&x);
  memset(s->count, 0, s->n_vocab * sizeof *s->count);
  s->ring_len = s->ring_pos = 0;
}

tl_status tl_sampler_create(const tl_sampler_params *p, uint32_t n_vocab, tl_sampler **out,
                            tl_error *err)
{
  if (n_vocab == 0)
    return tl__error_set(err, TL_EINVAL, "sampler: empty vocabulary");
  if (p->repeat_last_n < 0)
    return tl__error_set(err, TL_EINVAL, "sampler: repeat_last_n is %d, must be >= 0",
                         (int)p->repeat_last_n);
  if (!(p->repeat_penalty > 0.0f))
    return tl__error_set(err, TL_EINVAL, "sampler: repeat_penalty must be > 0");
  tl_sampler *s = tl__calloc(1, sizeof *s);
  if (!s)
    return tl__error_set(err, TL_ENOMEM, "sampler: out of memory");
  s->prm = *p;
  s->n_vocab = n_vocab;
  s->cands = tl__malloc_array(n_vocab, sizeof *s->cands);
  s->logits = tl__malloc_array(n_vocab, sizeof *s->logits);
  s->count = tl__calloc(n_vocab, sizeof *s->count);
  s->mark = tl__calloc(n_vocab, sizeof *s->mark);
  s->ring = tl__malloc_array((size_t)p->repeat_last_n + 1, sizeof *s->ring);
  if (!s->cands || !s->logits || !s->count || !s->mark || !s->ring) {
    tl_sampler_free(s);
    return tl__error_set(err, TL_ENOMEM, "sampler: out of memory for %u tokens", n_vocab);
  }
  tl_sampler_reset(s);
  *out = s;
  return TL_OK;
}

void tl_sampler_free(tl_sampler *s)
{
  if (!s)
    return;
  tl__free(s->cands);
  tl__free(s->logits);
  tl__free(s->count);
  tl__free(s->mark);
  tl__free(s->ring);
  tl__free(s);
}

void tl_sampler_accept(tl_sampler *s, int32_t token)
{
  uint32_t w = (uint32_t)s->prm.repeat_last_n;
  if (w == 0 || token < 0 || (uint32_t)token >= s->n_vocab)
    return;
  if (s->ring_len == w) {
    s->count[s->ring[s->ring_pos]]--;
  } else {
    s->ring_len++;
  }
  s->ring[s->ring_pos] = token;
  s->count[token]++;
  s->ring_pos = (s->ring_pos + 1) % w;
}

/* llama.cpp's penalties: a repeated token's logit is divided by the repeat
 * penalty when positive and multiplied when negative, then lowered by
 * count * frequency + presence. */
static void apply_penalties(tl_sampler *s)
{
  const tl_sampler_params *p = &s->prm;
  if (p->repeat_penalty == 1.0f && p->presence_penalty == 0.0f && p->frequency_penalty == 0.0f)
    return;
  if (++s->stamp == 0) {
    memset(s->mark, 0, s->n_vocab * sizeof *s->mark);
    s->stamp = 1;
  }
  for (uint32_t i = 0; i < s->ring_len; i++) {
    int32_t t = s->ring[i];
    if (s->mark[t] == s->stamp)
      continue;
    s->mark[t] = s->stamp;
    float l = s->logits[t];
    l = l <= 0.0f ? l * p->repeat_penalty : l / p->repeat_penalty;
    l -= (float)s->count[t] * p->frequency_penalty + p->presence_penalty;
    s->logits[t] = l;
  }
}

/* Best first; ties by lower id so results never depend on sort stability. */
static int cand_cmp(const void *a, const void *b)
{
  const cand *x = a, *y = b;
  if (x->logit != y->logit)
    return x->logit > y->logit ? -1 : 1;
  return (x->id > y->id) - (x->id < y->id);
}

/* True when a ranks below b (a is the worse candidate). */
static bool worse(const cand *a, const cand *b) { return cand_cmp(a, b) > 0; }

static void heap_sift(cand *h, size_t n, size_t i)
{
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && worse(&h[l], &h[m]))
      m = l;
    if (r < n && worse(&h[r], &h[m]))
      m = r;
    if (m == i)
      return;
    cand t = h[i];
    h[i] = h[m];
    h[m] = t;
    i = m;
  }
}

/* Moves the k best of cands[0..n) to the front, sorted best first. */
static void top_k_sorted(cand *c, size_t n, size_t k)
{
  if (k < n) {
    /* A min-heap (worst at the root) of the best k seen so far. */
    for (size_t i = k / 2; i-- > 0;)
      heap_sift(c, k, i);
    for (size_t i = k; i < n; i++) {
      if (worse(&c[0], &c[i])) {
        c[0] = c[i];
        heap_sift(c, k, 0);
      }
    }
  } else {
    k = n;
  }
  qsort(c, k, sizeof *c, cand_cmp);
}

/* Softmax of the (sorted) candidates' logits into p, scaled by 1/temp. */
static void softmax(cand *c, size_t n, float inv_temp)
{
  float mx = c[0].logit * inv_temp;
  double sum = 0;
  for (size_t i = 0; i < n; i++) {
    c[i].p = expf(c[i].logit * inv_temp - mx);
    sum += c[i].p;
  }
  for (size_t i = 0; i < n; i++)
    c[i].p = (float)(c[i].p / sum);
}

int32_t tl_sampler_sample(tl_sampler *s, const float *logits)
{
  const tl_sampler_params *p = &s->prm;
  uint32_t nv = s->n_vocab;
  memcpy(s->logits, logits, nv * sizeof *logits);
  apply_penalties(s);

  if (p->temp <= 0.0f) {
    int32_t best = 0;
    for (uint32_t i = 1; i < nv; i++)
      if (s->logits[i] > s->logits[best])
        best = (int32_t)i;
    return best;
  }

  for (uint32_t i = 0; i < nv; i++)
    s->cands[i] = (cand){s->logits[i], 0.0f, (int32_t)i};
  size_t n = nv;
  size_t k = p->top_k > 0 ? (size_t)p->top_k : n;
  top_k_sorted(s->cands, n, k);
  n = k < n ? k : n;

  if (p->top_p < 1.0f) {
    softmax(s->cands, n, 1.0f);
    double cum = 0;
    size_t keep = n;
    for (size_t i = 0; i < n; i++) {
      cum += s->cands[i].p;
      if (cum >= p->top_p) {
        keep = i + 1;
        break;
      }
    }
    n = keep;
  }
  if (p->min_p > 0.0f) {
    softmax(s->cands, n, 1.0f);
    float floor_p = p->min_p * s->cands[0].p;
    size_t keep = 1;
    while (keep < n && s->cands[keep].p >= floor_p)
      keep++;
    n = keep;
  }

  softmax(s->cands, n, 1.0f / p->temp);
  double r = rng_uniform(s->rng), cum = 0;
  for (size_t i = 0; i < n; i++) {
    cum += s->cands[i].p;
    if (r < cum)
      return s->cands[i].id;
  }
  return s->cands[n - 1].id;
}
