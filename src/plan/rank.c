/* Ranking of fit rows (a model at one quantization each): sort by a key,
 * best first, and mark each model's best quantization on this machine. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

static tl_sort_key sort_key; /* qsort has no context argument; set just before the call */

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

static int cmp_rows(const void *pa, const void *pb)
{
  const tl_fit_row *a = pa, *b = pb;
  int c = cmp_double_desc(key_value(a, sort_key), key_value(b, sort_key));
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

void tl_fit_rank(tl_fit_row *rows, size_t n, tl_sort_key key)
{
  /* best quantization per model: highest quality at level Good or better,
   * else the highest-quality one that fits at all */
  for (size_t i = 0; i < n; i++)
    rows[i].best_quant = false;
  for (size_t i = 0; i < n; i++) {
    bool seen = false;
    for (size_t j = 0; j < i; j++)
      if (strcmp(rows[j].id, rows[i].id) == 0) {
        seen = true;
        break;
      }
    if (seen)
      continue;
    long best = -1;
    int best_class = 3;
    for (size_t j = i; j < n; j++) {
      if (strcmp(rows[j].id, rows[i].id) != 0 || !rows[j].plan.fits)
        continue;
      int cls = rows[j].plan.level <= TL_FIT_GOOD ? 0 : 1;
      if (best < 0 || cls < best_class ||
          (cls == best_class && rows[j].plan.score_quality > rows[best].plan.score_quality)) {
        best = (long)j;
        best_class = cls;
      }
    }
    if (best >= 0)
      rows[best].best_quant = true;
  }
  sort_key = key;
  qsort(rows, n, sizeof rows[0], cmp_rows);
}
