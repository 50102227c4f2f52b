/* `tailor fit` as a library call: every catalog entry that passes the
 * filters, at every quantization asked, through the one estimator
 * (tl_plan_estimate via tl_fit_model, the call tune makes too), ranked. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "base/log-int.h"
#include "internal.h"
#include "tailor/quant.h"

void tl_plan_settings_from_catalog(tl_plan_settings *s, const tl_catalog_entry *e)
{
  if (!e)
    return;
  s->quality_benchmark = e->has_quality ? e->quality_score : -1;
  snprintf(s->family, sizeof s->family, "%s", e->family ? e->family : "");
}

void tl_fit_query_init(tl_fit_query *q)
{
  memset(q, 0, sizeof *q);
  tl_plan_settings_init(&q->settings);
  q->max_level = -1;
}

tl_status tl_fit_model(const tl_model_desc *m, const tl_hw *hw, const tl_plan_settings *s, tl_fit_row *row,
                       tl_error *err)
{
  if (!m || !row)
    return tl__error_set(err, TL_EINVAL, "fit: NULL model or row");
  tl_fit_row r;
  memset(&r, 0, sizeof r);
  /* a catalog id, or the source; a path too long for the column keeps its file name */
  const char *id = m->catalog_id[0] ? m->catalog_id : m->source;
  if (strlen(id) >= sizeof r.id && strrchr(id, '/'))
    id = strrchr(id, '/') + 1;
  snprintf(r.id, sizeof r.id, "%s", id);
  snprintf(r.name, sizeof r.name, "%s", m->name[0] ? m->name : r.id);
  snprintf(r.family, sizeof r.family, "%s", s && s->family[0] ? s->family : m->hp.arch_name);
  snprintf(r.license, sizeof r.license, "%s", m->license);
  r.ftype = m->ftype;
  r.n_params = m->n_params;
  r.n_params_active = m->n_params_active;
  r.n_ctx_train = m->hp.n_ctx_train;
  tl_status st = tl_plan_estimate(m, hw, s, &r.plan, err);
  if (st != TL_OK)
    return st;
  *row = r;
  return TL_OK;
}

static bool has_tag(const tl_catalog_entry *e, const char *tag)
{
  for (size_t i = 0; i < e->n_tags; i++)
    if (strcasecmp(e->tags[i], tag) == 0)
      return true;
  return false;
}

static bool keep_entry(const tl_catalog_entry *e, const tl_fit_query *q)
{
  if (q->family && strncasecmp(e->family ? e->family : "", q->family, strlen(q->family)) != 0)
    return false;
  if (q->license && strcasecmp(e->license ? e->license : "", q->license) != 0)
    return false;
  if (q->tag && !has_tag(e, q->tag))
    return false;
  if (q->min_context && e->context_length < q->min_context)
    return false;
  if (q->max_params && e->params_total > q->max_params)
    return false;
  if (q->ids) {
    for (size_t i = 0; i < q->n_ids; i++)
      if (strcmp(q->ids[i], e->id) == 0)
        return true;
    return false;
  }
  tl_use_case u = q->settings.use_case;
  if (u != TL_USE_GENERAL && !has_tag(e, tl_use_case_name(u)))
    return false;
  if (u != TL_USE_EMBEDDING && e->n_tags == 1 && has_tag(e, "embedding"))
    return false;
  return true;
}

tl_status tl_fit_catalog(const tl_catalog *c, const tl_hw *hw, const tl_fit_query *q, tl_sort_key key,
                         tl_fit_row **rows, size_t *n, tl_error *err)
{
  if (!c || !hw || !q || !rows || !n)
    return tl__error_set(err, TL_EINVAL, "fit: NULL argument");
  tl_ftype ladder[TL_TUNE_MAX_CANDIDATES];
  const tl_ftype *ft = q->ftypes;
  size_t nft = q->n_ftypes;
  if (!ft) {
    nft = tl_tune_ftypes(hw, ladder, TL_TUNE_MAX_CANDIDATES);
    ft = ladder;
  }
  for (size_t i = 0; q->ids && i < q->n_ids; i++)
    if (!tl_catalog_find(c, q->ids[i]))
      return tl__error_set(err, TL_ENOTFOUND, "fit: '%s' is not a file, a directory or a catalog id", q->ids[i]);
  size_t count = tl_catalog_count(c), cap = count * nft, used = 0;
  tl_fit_row *out = cap ? tl__malloc_array(cap, sizeof *out) : NULL;
  /* per row, the description it was planned from, without its tensors
   * (what scoring reads); per entry, its first row and row count */
  tl_model_desc *stub = cap ? tl__malloc_array(cap, sizeof *stub) : NULL;
  size_t *first = count ? tl__calloc(count, sizeof *first) : NULL;
  size_t *nrows = count ? tl__calloc(count, sizeof *nrows) : NULL;
  tl_status st = TL_OK;
  if (count && (!out || !stub || !first || !nrows)) {
    st = tl__error_set(err, TL_ENOMEM, "fit: out of memory for %zu rows", cap);
    goto fail;
  }
  for (size_t i = 0; i < count; i++) {
    const tl_catalog_entry *e = tl_catalog_at(c, i);
    if (!keep_entry(e, q))
      continue;
    tl_plan_settings s = q->settings;
    tl_plan_settings_from_catalog(&s, e);
    first[i] = used;
    /* Catalog entries often share a shape (base, instruct and dated
     * releases): plans depend on the shape only, so an earlier entry's plans
     * are copied and re-scored with this entry's quality and family. */
    size_t same = i;
    for (size_t j = 0; j < i && e->in_registry; j++)
      if (nrows[j] && tl_catalog_at(c, j)->in_registry && !memcmp(&tl_catalog_at(c, j)->hp, &e->hp, sizeof e->hp)) {
        same = j;
        break;
      }
    if (same != i) {
      for (size_t r = first[same]; r < first[same] + nrows[same]; r++) {
        tl_fit_row *row = &out[used];
        *row = out[r];
        stub[used] = stub[r];
        snprintf(row->id, sizeof row->id, "%s", e->id);
        snprintf(row->name, sizeof row->name, "%s", e->name ? e->name : e->id);
        snprintf(row->family, sizeof row->family, "%s", s.family[0] ? s.family : stub[r].hp.arch_name);
        snprintf(row->license, sizeof row->license, "%s", e->license ? e->license : "");
        row->plan.settings.quality_benchmark = s.quality_benchmark;
        memcpy(row->plan.settings.family, s.family, sizeof s.family);
        tl__score_plan(&stub[used], &row->plan);
        used++;
      }
      nrows[i] = used - first[i];
      continue;
    }
    /* opened once at TL__OPEN_FTYPE (as tune opens it), re-typed to every
     * mixture of the ladder (as tune re-types a catalog model) */
    tl_model_desc *base = NULL;
    tl_error e2;
    st = tl_model_desc_from_catalog(c, e->id, TL__OPEN_FTYPE, &base, &e2);
    if (st == TL_ENOMEM) {
      tl__error_set(err, TL_ENOMEM, "fit: out of memory describing '%s'", e->id);
      goto fail;
    }
    if (st != TL_OK) {
      tl__debug("fit: skipping %s: %s", e->id, e2.message);
      st = TL_OK;
      continue;
    }
    for (size_t k = 0; k < nft; k++) {
      tl_model_desc *m = NULL;
      st = tl__desc_retype(base, ft[k], &m, &e2);
      if (st == TL_OK)
        st = tl_fit_model(m, hw, &s, &out[used], &e2);
      if (st == TL_OK) {
        stub[used] = *m;
        stub[used].tensors = NULL;
        stub[used].n_tensors = 0;
        used++;
      }
      tl_model_desc_free(m);
      if (st == TL_ENOMEM) {
        tl_model_desc_free(base);
        tl__error_set(err, TL_ENOMEM, "fit: out of memory planning '%s'", e->id);
        goto fail;
      }
      if (st != TL_OK) {
        tl__debug("fit: skipping %s at %s: %s", e->id, tl_ftype_name(ft[k]), e2.message);
        st = TL_OK;
      }
    }
    nrows[i] = used - first[i];
    tl_model_desc_free(base);
  }
  if (q->max_level >= 0) {
    size_t k = 0;
    for (size_t r = 0; r < used; r++)
      if ((int)out[r].plan.level <= q->max_level)
        out[k++] = out[r];
    used = k;
  }
  tl__free(stub);
  tl__free(first);
  tl__free(nrows);
  tl_fit_rank(out, used, key);
  *rows = out;
  *n = used;
  return TL_OK;
fail:
  tl__free(out);
  tl__free(stub);
  tl__free(first);
  tl__free(nrows);
  return st;
}
