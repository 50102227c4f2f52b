/* `tailor fit` as a library call: every catalog entry that passes the
 * filters, at every quantization asked, through the one estimator
 * (tl_plan_estimate via tl_fit_model, the call tune makes too), ranked. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "base/log-int.h"
#include "internal.h"
#include "model/mixture-int.h"
#include "tailor/quant.h"

void tl_plan_settings_from_catalog(tl_plan_settings *s, const tl_catalog_entry *e)
{
  if (!e)
    return;
  s->quality_benchmark = e->has_quality ? e->quality_score : -1;
  snprintf(s->family, sizeof s->family, "%s", e->family ? e->family : "");
  int y = 0, mo = 0, d = 0;
  s->release_year = 0;
  if (e->release_date && sscanf(e->release_date, "%d-%d-%d", &y, &mo, &d) >= 2 && y > 2000 &&
      mo >= 1 && mo <= 12)
    s->release_year = y + (mo - 1) / 12.0;
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
  snprintf(r.id, sizeof r.id, "%.*s", (int)sizeof r.id - 1, id);
  snprintf(r.name, sizeof r.name, "%s", m->name[0] ? m->name : r.id);
  snprintf(r.family, sizeof r.family, "%s", s && s->family[0] ? s->family : m->hp.arch_name);
  snprintf(r.license, sizeof r.license, "%.*s", (int)sizeof r.license - 1, m->license);
  r.ftype = m->ftype;
  r.n_params = m->n_params;
  r.n_params_active = m->n_params_active;
  r.n_ctx_train = m->hp.n_ctx_train;
  /* A Hugging Face directory's tensors keep their safetensors names (no
   * layer or role): plan the registry's tensors of its shape instead. */
  tl_model_desc *reg = NULL;
  bool any_layer = false;
  for (size_t i = 0; i < m->n_tensors && !any_layer; i++)
    any_layer = m->tensors[i].layer >= 0;
  if (!any_layer && m->n_tensors > 0 && m->source_kind == TL_SOURCE_HF_DIR) {
    tl_status st = tl__desc_retype(m, m->ftype_known ? m->ftype : TL_FTYPE_BF16, &reg, err);
    if (st != TL_OK)
      return st;
    m = reg;
  }
  tl_status st = tl_plan_estimate(m, hw, s, &r.plan, err);
  tl_model_desc_free(reg);
  if (st != TL_OK)
    return st;
  *row = r;
  return TL_OK;
}

/* The entry as tune opens it: a registry description at TL__OPEN_FTYPE
 * carrying the entry's name, id and license (entries outside the registry go
 * through tl_model_desc_from_catalog, which shapes them from their size). */
static tl_status open_entry(const tl_catalog *c, const tl_catalog_entry *e, tl_model_desc **out,
                            tl__desc_mixer **mixer, tl_error *err)
{
  if (!e->in_registry)
    return tl_model_desc_from_catalog(c, e->id, TL__OPEN_FTYPE, out, err);
  tl_model_desc *m = NULL;
  tl_status st = tl__model_desc_from_hparams_mixer(&e->hp, TL__OPEN_FTYPE, &m, mixer, err);
  if (st != TL_OK)
    return st;
  m->source_kind = TL_SOURCE_CATALOG;
  snprintf(m->source, sizeof m->source, "%s", e->id);
  snprintf(m->name, sizeof m->name, "%s", e->name ? e->name : e->id);
  snprintf(m->license, sizeof m->license, "%s", e->license ? e->license : "");
  snprintf(m->catalog_id, sizeof m->catalog_id, "%s", e->id);
  *out = m;
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

/* Work shared by the planning threads: entries to plan (one per shape), the
 * rows they fill (nft slots per catalog entry) and the next job. */
typedef struct fit_job {
  const tl_catalog *c;
  const tl_hw *hw;
  const tl_fit_query *q;
  const tl_ftype *ft;
  size_t nft;
  const size_t *todo;   /* catalog indices to plan */
  size_t n_todo;
  size_t next;          /* next index into todo (atomic) */
  tl_fit_row *slot;     /* count * nft */
  tl_model_desc *stub;  /* count * nft: the description of each row, without tensors */
  bool *ok;             /* count * nft */
  int nomem;            /* set when an allocation failed (atomic) */
} fit_job;

/* Whether tl_model_desc_from_hparams(hp) keeps hp as it is (no guess, and
 * hp already final): then it rebuilds the tensors of a description of hp. */
static bool same_when_rebuilt(const tl_hparams *hp)
{
  if (hp->arch == TL_ARCH_UNKNOWN && hp->n_layer == 0 && hp->n_params_hint > 0)
    return false;
  tl_hparams again = *hp;
  return tl_hparams_finalize(&again, NULL) == TL_OK && memcmp(&again, hp, sizeof again) == 0;
}

static void plan_entry(fit_job *j, size_t i)
{
  const tl_catalog_entry *e = tl_catalog_at(j->c, i);
  tl_plan_settings s = j->q->settings;
  tl_plan_settings_from_catalog(&s, e);
  /* opened once at TL__OPEN_FTYPE (as tune opens it), re-typed to every
   * mixture of the ladder (as tune re-types a catalog model) */
  tl_model_desc *base = NULL;
  tl__desc_mixer *base_mx = NULL;
  tl_error e2;
  tl_status st = open_entry(j->c, e, &base, &base_mx, &e2);
  if (st != TL_OK) {
    if (st == TL_ENOMEM)
      __atomic_store_n(&j->nomem, 1, __ATOMIC_RELAXED);
    else
      tl__debug("fit: skipping %s: %s", e->id, e2.message);
    return;
  }
  /* Re-typing rebuilds the registry's tensors for the shape each time: build
   * them once (re-typed to the opening mixture) and type that one copy under
   * each mixture of the ladder, classifying its tensors once
   * (tl__desc_mixer_apply gives exactly tl__desc_retype's description). */
  tl_model_desc *work = NULL;
  tl__desc_mixer *mx = NULL;
  if (base_mx && same_when_rebuilt(&base->hp)) {
    /* a registry entry whose hyperparameters are final: re-typing rebuilds
     * exactly its tensors, so the entry's own description is re-typed in place */
    work = base;
    mx = base_mx;
    base_mx = NULL;
  } else {
    st = tl__desc_retype(base, base->ftype, &work, &e2);
    if (st == TL_OK)
      st = tl__desc_mixer_new(work, &mx, &e2);
    if (st == TL_ENOMEM)
      __atomic_store_n(&j->nomem, 1, __ATOMIC_RELAXED);
  }
  for (size_t k = 0; k < j->nft && st != TL_ENOMEM; k++) {
    size_t at = i * j->nft + k;
    tl_model_desc *m = NULL;
    const tl_model_desc *use = base;
    st = TL_OK;
    /* (when work is base, base->ftype is the mixture it was last typed to) */
    if (!(e->in_registry && j->ft[k] == base->ftype)) {
      if (mx) {
        st = tl__desc_mixer_apply(mx, work, j->ft[k], &e2);
        use = work;
      } else {
        st = tl__desc_retype(base, j->ft[k], &m, &e2);
      }
    }
    if (m)
      use = m;
    if (st == TL_OK)
      st = tl_fit_model(use, j->hw, &s, &j->slot[at], &e2);
    if (st == TL_OK) {
      j->stub[at] = *use;
      j->stub[at].tensors = NULL;
      j->stub[at].n_tensors = 0;
      j->ok[at] = true;
    } else if (st == TL_ENOMEM) {
      __atomic_store_n(&j->nomem, 1, __ATOMIC_RELAXED);
    } else {
      tl__debug("fit: skipping %s at %s: %s", e->id, tl_ftype_name(j->ft[k]), e2.message);
    }
    tl_model_desc_free(m);
  }
  tl__desc_mixer_free(mx);
  tl__desc_mixer_free(base_mx);
  if (work != base)
    tl_model_desc_free(work);
  tl_model_desc_free(base);
}

static void *fit_worker(void *arg)
{
  fit_job *j = arg;
  for (;;) {
    size_t t = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
    if (t >= j->n_todo || __atomic_load_n(&j->nomem, __ATOMIC_RELAXED))
      break;
    plan_entry(j, j->todo[t]);
  }
  return NULL;
}

/* A rough cost of planning an entry: its layers (placement trials and
 * tensors both grow with them) times its width. */
static double plan_cost(const tl_catalog_entry *e)
{
  double layers = e->hp.n_layer ? e->hp.n_layer : 32;
  return layers * (1.0 + (double)e->params_total / 1e9 / layers);
}

/* Threads for planning: the online CPUs, at most 8 (the plans are
 * independent; each thread allocates its own descriptions). */
static size_t fit_threads(size_t jobs)
{
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  size_t t = n > 0 ? (size_t)n : 1;
  if (t > 8)
    t = 8;
  return t < jobs ? t : (jobs ? jobs : 1);
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
  size_t count = tl_catalog_count(c), cap = count * nft;
  fit_job j = {.c = c, .hw = hw, .q = q, .ft = ft, .nft = nft};
  size_t *same = count ? tl__malloc_array(count, sizeof *same) : NULL;
  size_t *todo = count ? tl__malloc_array(count, sizeof *todo) : NULL;
  j.slot = cap ? tl__malloc_array(cap, sizeof *j.slot) : NULL;
  j.stub = cap ? tl__malloc_array(cap, sizeof *j.stub) : NULL;
  j.ok = cap ? tl__calloc(cap, sizeof *j.ok) : NULL;
  tl_status st = TL_OK;
  if (cap && (!same || !todo || !j.slot || !j.stub || !j.ok)) {
    st = tl__error_set(err, TL_ENOMEM, "fit: out of memory for %zu rows", cap);
    goto done;
  }
  /* Catalog entries often share a shape (base, instruct and dated
   * releases): plans depend on the shape only, so each shape is planned once
   * and its plans are copied and re-scored for the other entries. */
  for (size_t i = 0; i < count; i++) {
    const tl_catalog_entry *e = tl_catalog_at(c, i);
    same[i] = SIZE_MAX;
    if (!keep_entry(e, q))
      continue;
    same[i] = i;
    for (size_t k = 0; k < j.n_todo && e->in_registry; k++) {
      const tl_catalog_entry *o = tl_catalog_at(c, todo[k]);
      if (o->in_registry && !memcmp(&o->hp, &e->hp, sizeof e->hp)) {
        same[i] = todo[k];
        break;
      }
    }
    if (same[i] == i)
      todo[j.n_todo++] = i;
  }
  /* largest shapes first (by layers, then tensors' width), so that the
   * threads finish together; rows land by catalog index whatever the order */
  for (size_t a = 1; a < j.n_todo; a++) {
    size_t v = todo[a], b = a;
    while (b > 0 && plan_cost(tl_catalog_at(c, todo[b - 1])) < plan_cost(tl_catalog_at(c, v))) {
      todo[b] = todo[b - 1];
      b--;
    }
    todo[b] = v;
  }
  j.todo = todo;
  size_t nt = fit_threads(j.n_todo);
  pthread_t tid[8];
  size_t started = 0;
  for (size_t t = 1; t < nt; t++)
    if (pthread_create(&tid[started], NULL, fit_worker, &j) == 0)
      started++;
  fit_worker(&j);
  for (size_t t = 0; t < started; t++)
    pthread_join(tid[t], NULL);
  if (j.nomem) {
    st = tl__error_set(err, TL_ENOMEM, "fit: out of memory planning the catalog");
    goto done;
  }
  /* copies for the entries that share a shape ... */
  for (size_t i = 0; i < count; i++) {
    if (same[i] == SIZE_MAX || same[i] == i)
      continue;
    const tl_catalog_entry *e = tl_catalog_at(c, i);
    tl_plan_settings s = q->settings;
    tl_plan_settings_from_catalog(&s, e);
    for (size_t k = 0; k < nft; k++) {
      size_t at = i * nft + k, from = same[i] * nft + k;
      if (!j.ok[from])
        continue;
      j.slot[at] = j.slot[from];
      j.stub[at] = j.stub[from];
      j.ok[at] = true;
      tl_fit_row *r = &j.slot[at];
      /* whole fields rewritten: no bytes of the other entry's strings remain */
      memset(r->id, 0, sizeof r->id);
      memset(r->name, 0, sizeof r->name);
      memset(r->family, 0, sizeof r->family);
      memset(r->license, 0, sizeof r->license);
      snprintf(r->id, sizeof r->id, "%s", e->id);
      snprintf(r->name, sizeof r->name, "%s", e->name ? e->name : e->id);
      snprintf(r->family, sizeof r->family, "%s", s.family[0] ? s.family : j.stub[at].hp.arch_name);
      snprintf(r->license, sizeof r->license, "%s", e->license ? e->license : "");
      r->plan.settings.quality_benchmark = s.quality_benchmark;
      r->plan.settings.release_year = s.release_year;
      memcpy(r->plan.settings.family, s.family, sizeof s.family);
      tl__score_plan(&j.stub[at], &r->plan);
    }
  }
  /* ... then compaction in entry order (a row only moves towards the front) */
  size_t used = 0;
  for (size_t at = 0; at < cap; at++) {
    if (!j.ok[at] || same[at / nft] == SIZE_MAX)
      continue;
    if (q->max_level >= 0 && (int)j.slot[at].plan.level > q->max_level)
      continue;
    if (used != at)
      j.slot[used] = j.slot[at];
    used++;
  }
  tl_fit_rank(j.slot, used, key);
  *rows = j.slot;
  *n = used;
  j.slot = NULL;
done:
  tl__free(same);
  tl__free(todo);
  tl__free(j.slot);
  tl__free(j.stub);
  tl__free(j.ok);
  return st;
}
