/* Ranking of fit rows (a model at one quantization each): sort by a key,
 * best first, and mark each model's best quantization on this machine. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc-int.h"
#include "internal.h"

tl_status tl_sort_key_parse(const char *s, tl_sort_key *out)
{
  static const char *const names[] = {"score", "speed", "quality", "fit", "context", "params"};
  for (size_t i = 0; s && i < sizeof names / sizeof names[0]; i++)
    if (strcasecmp(s, names[i]) == 0) {
      *out = (tl_sort_key)i;
      return TL_OK;
    }
  return TL_EINVAL;
}

static int cmp_double_desc(double a, double b) { return a > b ? -1 : a < b ? 1 : 0; }

static double key_value(const tl_fit_row *r, tl_sort_key k)
{
  switch (k) {
  case TL_SORT_SPEED: return r->plan.fits ? r->plan.decode_tps : -1;
  case TL_SORT_QUALITY: return r->plan.score_quality;
  case TL_SORT_FIT: return -(double)r->plan.level * 1000 - r->plan.utilisation;
  case TL_SORT_CONTEXT: return r->plan.n_ctx_max;
  case TL_SORT_PARAMS: return (double)r->n_params;
  default: return r->plan.score;
  }
}

/* A row with its sort value, so the comparison needs no context. */
typedef struct keyed {
  double key;
  const tl_fit_row *row;
} keyed;

static int cmp_rows(const void *pa, const void *pb)
{
  const keyed *ka = pa, *kb = pb;
  const tl_fit_row *a = ka->row, *b = kb->row;
  int c = cmp_double_desc(ka->key, kb->key);
  if (c)
    return c;
  if ((c = cmp_double_desc(a->plan.score, b->plan.score)))
    return c;
  if (a->plan.required != b->plan.required)
    return a->plan.required < b->plan.required ? -1 : 1;
  if ((c = strcmp(a->id, b->id)))
    return c;
  return (int)a->ftype - (int)b->ftype;
}

static int cmp_ids(const void *pa, const void *pb)
{
  const tl_fit_row *a = *(const tl_fit_row *const *)pa, *b = *(const tl_fit_row *const *)pb;
  int c = strcmp(a->id, b->id);
  return c ? c : (a < b ? -1 : a > b);
}

/* Rows are large: sort pointers, then move each row once. */
void tl_fit_rank(tl_fit_row *rows, size_t n, tl_sort_key key)
{
  if (n == 0)
    return;
  const tl_fit_row **idx = tl__malloc_array(n, sizeof *idx);
  keyed *ks = tl__malloc_array(n, sizeof *ks);
  tl_fit_row *tmp = tl__malloc_array(n, sizeof *tmp);
  if (!idx || !tmp || !ks) {
    tl__free(idx);
    tl__free(ks);
    tl__free(tmp);
    return; /* out of memory: rows stay as they are */
  }
  for (size_t i = 0; i < n; i++) {
    rows[i].best_quant = false;
    idx[i] = &rows[i];
  }
  /* best quantization per model: highest quality at level Good or better,
   * else the highest-quality one that fits at all */
  qsort(idx, n, sizeof *idx, cmp_ids);
  for (size_t i = 0; i < n;) {
    size_t j = i;
    long best = -1;
    int best_class = 3;
    for (; j < n && strcmp(idx[j]->id, idx[i]->id) == 0; j++) {
      const tl_fit_row *r = idx[j];
      if (!r->plan.fits)
        continue;
      int cls = r->plan.level <= TL_FIT_GOOD ? 0 : 1;
      if (best < 0 || cls < best_class || (cls == best_class && r->plan.score_quality > idx[best]->plan.score_quality)) {
        best = (long)j;
        best_class = cls;
      }
    }
    if (best >= 0)
      ((tl_fit_row *)idx[best])->best_quant = true;
    i = j;
  }
  for (size_t i = 0; i < n; i++)
    ks[i] = (keyed){key_value(&rows[i], key), &rows[i]};
  qsort(ks, n, sizeof *ks, cmp_rows);
  for (size_t i = 0; i < n; i++)
    tmp[i] = *ks[i].row;
  memcpy(rows, tmp, n * sizeof *rows);
  tl__free(idx);
  tl__free(ks);
  tl__free(tmp);
}
