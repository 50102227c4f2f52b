/* A served model and its engine thread: continuous batching over sequence
 * slots. Between engine steps the thread admits queued requests into free
 * slots (reusing the KV of the longest cached prompt prefix); each step is
 * one tl_engine_batch_eval holding one decode token per generating slot and
 * chunks of the prompts being prefilled, up to max_batched_tokens. Sampling,
 * JSON-mode masking, stop strings and logprobs happen here; the text goes to
 * the request, which the HTTP thread streams. Only this thread touches the
 * engine and the slots; the queue is shared under the model's mutex. */
#include <math.h>
#include <string.h>
#include <time.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "base/log-int.h"
#include "server/internal.h"

typedef struct slot {
  tl__req *r;              /* NULL: idle (its KV may still serve as a prefix) */
  int32_t *toks;           /* (n_ctx) tokens whose KV the sequence holds, then pending */
  uint32_t n_toks;         /* tokens in toks */
  uint32_t n_done;         /* of them, evaluated */
  uint32_t n_prompt;
  uint32_t reserve;        /* KV blocks reserved for the request */
  tl_sampler *smp;
  tl_detok *dt;
  tl__jcheck jc;
  tl__sb out;              /* generated text, some of it held back for stop strings */
  size_t emitted;          /* bytes of out published */
  uint32_t n_gen;
  int32_t entry;           /* its logits entry in the current batch, or -1 */
  uint64_t last_use;       /* step of the last use, for evicting cached prefixes */
} slot;

struct tl__model_srv {
  char name[128];
  tl_engine *e;
  tl_tokenizer *tk;
  tl_chat_format chat;
  const char *end_marker;
  uint32_t n_vocab, n_ctx, n_slots, block_size, n_blocks, max_batched, n_batch;
  bool prefix_cache, prefill_first;
  slot *slots;
  tl_engine_batch_entry *entries; /* (n_batch) */
  float *masked;                  /* (n_vocab) JSON-mode logits */
  char *pieces;                   /* every token's bytes, for JSON mode */
  uint32_t *piece_off;            /* (n_vocab + 1) */
  uint32_t reserved;              /* blocks reserved by running requests */

  pthread_t thread;
  bool thread_started;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  tl__req **queue;                /* ring of queue_max */
  uint32_t q_cap, q_head, q_len;
  uint32_t running;
  bool stop;
  tl__metrics met;
  uint64_t step;
  uint32_t kv_free, kv_cached;    /* KV blocks, as of the last step (read by other threads) */
};

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

const char *tl__model_srv_name(const tl__model_srv *m) { return m->name; }
const tl_tokenizer *tl__model_srv_tokenizer(const tl__model_srv *m) { return m->tk; }
tl_chat_format tl__model_srv_chat(const tl__model_srv *m) { return m->chat; }
uint32_t tl__model_srv_ctx(const tl__model_srv *m) { return m->n_ctx; }
uint32_t tl__model_srv_vocab(const tl__model_srv *m) { return m->n_vocab; }
uint32_t tl__model_srv_blocks(const tl__model_srv *m, uint32_t *block_size)
{
  *block_size = m->block_size;
  return m->n_blocks;
}

/* ---- requests ---- */

tl__req *tl__req_create(void)
{
  tl__req *r = tl__calloc(1, sizeof *r);
  if (!r)
    return NULL;
  r->lp = json_array();
  if (!r->lp) {
    tl__free(r);
    return NULL;
  }
  pthread_mutex_init(&r->mu, NULL);
  pthread_cond_init(&r->cv, NULL);
  tl__sb_init(&r->text);
  r->refs = 1;
  return r;
}

void tl__gen_deinit(tl__gen *g)
{
  tl__free(g->prompt);
  for (size_t i = 0; i < g->n_stop; i++)
    tl__free(g->stop[i]);
  memset(g, 0, sizeof *g);
}

void tl__req_release(tl__req *r)
{
  if (!r)
    return;
  pthread_mutex_lock(&r->mu);
  int left = --r->refs;
  pthread_mutex_unlock(&r->mu);
  if (left)
    return;
  tl__gen_deinit(&r->g);
  tl__sb_deinit(&r->text);
  json_decref(r->lp);
  pthread_mutex_destroy(&r->mu);
  pthread_cond_destroy(&r->cv);
  tl__free(r);
}

/* ---- publishing to the HTTP side ---- */

static void publish(tl__req *r, const char *text, size_t len, json_t *lp)
{
  pthread_mutex_lock(&r->mu);
  if (len)
    tl__sb_append(&r->text, text, len);
  if (lp)
    json_array_append_new(r->lp, lp);
  pthread_cond_broadcast(&r->cv);
  pthread_mutex_unlock(&r->mu);
}

static void finish_req(tl__req *r, const char *finish, const char *error)
{
  pthread_mutex_lock(&r->mu);
  r->done = true;
  r->finish = finish;
  if (error)
    snprintf(r->error, sizeof r->error, "%s", error);
  pthread_cond_broadcast(&r->cv);
  pthread_mutex_unlock(&r->mu);
}

/* ---- slots ---- */

static uint32_t blocks_for(const tl__model_srv *m, uint32_t tokens)
{
  return (tokens + m->block_size - 1) / m->block_size;
}

/* Ends the slot's request; the slot's KV stays as a cached prefix when
 * prefix reuse is on. Called with m->mu held. */
static void slot_end(tl__model_srv *m, slot *s, const char *finish, const char *error)
{
  tl__req *r = s->r;
  if (!r)
    return;
  if (finish && s->emitted < s->out.len) /* held-back text that matched no stop */
    publish(r, s->out.buf + s->emitted, s->out.len - s->emitted, NULL);
  r->n_completion = s->n_gen;
  m->met.completions++;
  m->met.completion_tokens += s->n_gen;
  m->met.prompt_tokens += s->n_prompt;
  if (error)
    m->met.errors++;
  finish_req(r, finish, error);
  tl__req_release(r);
  s->r = NULL;
  m->reserved -= s->reserve;
  s->reserve = 0;
  m->running--;
  tl_sampler_free(s->smp);
  s->smp = NULL;
  tl_detok_free(s->dt);
  s->dt = NULL;
  s->n_toks = s->n_done; /* only tokens with KV count as a prefix */
  int32_t seq = (int32_t)(s - m->slots);
  if (!m->prefix_cache || !finish) {
    tl_engine_seq_remove(m->e, seq);
    s->n_toks = s->n_done = 0;
  }
}

static uint32_t common_prefix(const int32_t *a, uint32_t na, const int32_t *b, uint32_t nb)
{
  uint32_t n = na < nb ? na : nb, i = 0;
  while (i < n && a[i] == b[i])
    i++;
  return i;
}

/* Frees the KV of idle slots (least recently used first) until want
 * blocks are free or none is left. */
static void evict(tl__model_srv *m, uint32_t want)
{
  while (tl_engine_kv_blocks_free(m->e) < want) {
    slot *victim = NULL;
    for (uint32_t i = 0; i < m->n_slots; i++) {
      slot *s = &m->slots[i];
      if (!s->r && s->n_done && (!victim || s->last_use < victim->last_use))
        victim = s;
    }
    if (!victim)
      return;
    tl_engine_seq_remove(m->e, (int32_t)(victim - m->slots));
    victim->n_toks = victim->n_done = 0;
  }
}

/* Puts r in a free slot: reuses the longest cached prefix of its prompt
 * (the slot's own, or shared from another sequence). Called with m->mu held;
 * false when no slot or not enough KV blocks are left (r stays queued). */
static bool admit(tl__model_srv *m, tl__req *r)
{
  uint32_t need = blocks_for(m, r->g.n_prompt + r->g.max_tokens) + 1;
  if (m->reserved + need > m->n_blocks)
    return false;
  const tl__gen *g = &r->g;
  slot *free_slot = NULL, *src = NULL;
  uint32_t own = 0, best = 0;
  for (uint32_t i = 0; i < m->n_slots; i++) {
    slot *s = &m->slots[i];
    uint32_t c = m->prefix_cache ? common_prefix(s->toks, s->n_done, g->prompt, g->n_prompt) : 0;
    if (!s->r && (!free_slot || c > own)) {
      free_slot = s;
      own = c;
    }
    if (c > best) {
      best = c;
      src = s;
    }
  }
  if (!free_slot)
    return false;
  tl_error err;
  tl_sampler *smp = NULL;
  tl_detok *dt = NULL;
  if (tl_sampler_create(&g->sp, m->n_vocab, &smp, &err) || tl_detok_create(m->tk, 0, &dt, &err)) {
    tl_sampler_free(smp);
    finish_req(r, NULL, err.message);
    tl__req_release(r);
    return true; /* taken off the queue, failed */
  }
  int32_t seq = (int32_t)(free_slot - m->slots);
  uint32_t keep = own;
  if (best > own + m->block_size) { /* worth sharing another sequence's blocks */
    keep = best < g->n_prompt ? best : g->n_prompt - 1;
    if (tl_engine_seq_copy(m->e, (int32_t)(src - m->slots), seq, keep, &err))
      keep = 0;
    else
      memcpy(free_slot->toks, g->prompt, keep * sizeof *g->prompt);
  } else {
    if (keep >= g->n_prompt)
      keep = g->n_prompt - 1; /* the last prompt token is evaluated for its logits */
  }
  tl_engine_seq_truncate(m->e, seq, keep);
  if (keep == 0)
    tl_engine_seq_remove(m->e, seq);
  memcpy(free_slot->toks + keep, g->prompt + keep, (g->n_prompt - keep) * sizeof *g->prompt);
  free_slot->n_toks = g->n_prompt;
  free_slot->n_done = keep;
  free_slot->n_prompt = g->n_prompt;
  free_slot->r = r;
  free_slot->reserve = need;
  free_slot->smp = smp;
  free_slot->dt = dt;
  free_slot->n_gen = 0;
  free_slot->emitted = 0;
  free_slot->out.len = 0;
  free_slot->last_use = m->step;
  tl__jcheck_init(&free_slot->jc);
  r->n_cached = keep;
  m->met.cached_tokens += keep;
  m->reserved += need;
  m->running++;
  return true;
}

/* ---- sampling one token ---- */

static const char *piece(const tl__model_srv *m, int32_t t, size_t *len)
{
  *len = m->piece_off[t + 1] - m->piece_off[t];
  return m->pieces + m->piece_off[t];
}

/* Masks the tokens that would make the JSON invalid; end of text only once
 * the object is complete. */
static const float *json_mask(tl__model_srv *m, slot *s, const float *logits)
{
  bool done = tl__jcheck_done(&s->jc);
  for (uint32_t v = 0; v < m->n_vocab; v++) {
    size_t n;
    const char *p = piece(m, (int32_t)v, &n);
    bool ok;
    if (tl_tokenizer_is_eog(m->tk, (int32_t)v))
      ok = done;
    else if (done || n == 0)
      ok = false;
    else {
      tl__jcheck t = s->jc;
      ok = tl__jcheck_feed(&t, p, n);
    }
    m->masked[v] = ok ? logits[v] : -INFINITY;
  }
  return m->masked;
}

/* A logprob record: {"id", "logprob", "top": [[id, logprob] ...]}; openai.c
 * turns ids into text. */
static json_t *logprob_record(const tl__model_srv *m, const float *l, int32_t t, uint32_t top)
{
  float mx = -INFINITY;
  for (uint32_t v = 0; v < m->n_vocab; v++)
    mx = l[v] > mx ? l[v] : mx;
  double sum = 0;
  for (uint32_t v = 0; v < m->n_vocab; v++)
    sum += exp((double)(l[v] - mx));
  double lse = mx + log(sum);
  json_t *rec = json_object(), *arr = json_array();
  /* the top entries in one pass: an insertion-sorted array of at most 20 */
  int32_t best[20];
  uint32_t nb = 0, k_max = top < 20 ? top : 20;
  for (uint32_t v = 0; v < m->n_vocab && k_max; v++) {
    if (nb == k_max && l[v] <= l[best[nb - 1]])
      continue;
    uint32_t i = nb < k_max ? nb++ : nb - 1;
    while (i > 0 && l[best[i - 1]] < l[v]) {
      best[i] = best[i - 1];
      i--;
    }
    best[i] = (int32_t)v;
  }
  for (uint32_t k = 0; k < nb; k++) {
    json_t *pair = json_array();
    json_array_append_new(pair, json_integer(best[k]));
    json_array_append_new(pair, json_real(l[best[k]] - lse));
    json_array_append_new(arr, pair);
  }
  json_object_set_new(rec, "id", json_integer(t));
  json_object_set_new(rec, "logprob", json_real(l[t] - lse));
  json_object_set_new(rec, "top", arr);
  return rec;
}

/* The longest suffix of text that is a prefix of a stop string. */
static size_t stop_holdback(const tl__gen *g, const char *text, size_t len)
{
  size_t best = 0;
  for (size_t i = 0; i < g->n_stop; i++) {
    size_t sl = strlen(g->stop[i]);
    for (size_t k = sl - 1; k > best; k--)
      if (k <= len && !memcmp(text + len - k, g->stop[i], k)) {
        best = k;
        break;
      }
  }
  return best;
}

/* Samples the slot's next token from logits and publishes its text; ends
 * the request at a stop, the token limit or a full context. m->mu held. */
static void next_token(tl__model_srv *m, slot *s, const float *logits)
{
  tl__req *r = s->r;
  const tl__gen *g = &r->g;
  const float *l = g->json_mode ? json_mask(m, s, logits) : logits;
  int32_t t = tl_sampler_sample(s->smp, l);
  if (g->json_mode && !isfinite(l[t])) { /* nothing valid left */
    slot_end(m, s, "stop", NULL);
    return;
  }
  if (tl_tokenizer_is_eog(m->tk, t)) {
    slot_end(m, s, "stop", NULL);
    return;
  }
  if (g->chat && m->end_marker) {
    const char *tt = tl_tokenizer_token_text(m->tk, t, NULL);
    if (tt && !strcmp(tt, m->end_marker)) {
      slot_end(m, s, "stop", NULL);
      return;
    }
  }
  tl_sampler_accept(s->smp, t);
  s->n_gen++;
  if (g->json_mode) {
    size_t n;
    const char *p = piece(m, t, &n);
    tl__jcheck_feed(&s->jc, p, n);
  }
  json_t *lp = g->logprobs ? logprob_record(m, logits, t, g->top_logprobs) : NULL;
  const char *text;
  size_t len = 0;
  tl_error err;
  if (tl_detok_push(s->dt, t, &text, &len, &err) == TL_OK && len)
    tl__sb_append(&s->out, text, len);
  bool last = s->n_gen >= g->max_tokens || s->n_toks + 1 >= m->n_ctx;
  if (last) {
    tl_detok_flush(s->dt, &text, &len);
    if (len)
      tl__sb_append(&s->out, text, len);
  }
  /* stop strings, across token boundaries */
  size_t from = s->emitted;
  for (size_t i = 0; i < g->n_stop; i++) {
    char *hit = memmem(s->out.buf + from, s->out.len - from, g->stop[i], strlen(g->stop[i]));
    if (hit) {
      s->out.len = (size_t)(hit - s->out.buf);
      publish(r, s->out.buf + s->emitted, s->out.len - s->emitted, lp);
      s->emitted = s->out.len;
      slot_end(m, s, "stop", NULL);
      return;
    }
  }
  size_t safe = last ? s->out.len : s->out.len - stop_holdback(g, s->out.buf, s->out.len);
  publish(r, s->out.buf + s->emitted, safe - s->emitted, lp);
  s->emitted = safe;
  if (last) {
    slot_end(m, s, "length", NULL);
    return;
  }
  s->toks[s->n_toks++] = t;
}

/* ---- the engine thread ---- */

/* One step: admit, build the batch, evaluate, sample. Returns false when
 * there is nothing to do. Called with m->mu held; releases it around the
 * evaluation. */
static bool step(tl__model_srv *m)
{
  for (uint32_t i = 0; i < m->n_slots; i++)
    if (m->slots[i].r && m->slots[i].r->cancelled)
      slot_end(m, &m->slots[i], NULL, "canceled");
  while (m->q_len) {
    tl__req *r = m->queue[m->q_head];
    if (r->cancelled) {
      finish_req(r, NULL, "canceled");
      tl__req_release(r);
    } else if (!admit(m, r)) {
      break;
    }
    m->q_head = (m->q_head + 1) % m->q_cap;
    m->q_len--;
  }
  /* decode tokens first, then prompt chunks in slot order */
  uint32_t n = 0, n_prefill = 0, budget = m->max_batched, new_blocks = 0;
  for (uint32_t i = 0; i < m->n_slots; i++) {
    slot *s = &m->slots[i];
    s->entry = -1;
    if (s->r && s->n_done == s->n_toks - 1 && s->n_done >= s->n_prompt) {
      s->entry = (int32_t)n;
      m->entries[n++] = (tl_engine_batch_entry){s->toks[s->n_done], (int32_t)i, s->n_done, true};
      new_blocks += s->n_done % m->block_size == 0;
      budget = budget ? budget - 1 : 0;
    }
  }
  for (uint32_t i = 0; i < m->n_slots && n < m->n_batch; i++) {
    slot *s = &m->slots[i];
    if (!s->r || s->n_done >= s->n_prompt)
      continue;
    uint32_t left = s->n_prompt - s->n_done;
    uint32_t chunk = m->prefill_first ? left : (left < budget ? left : budget);
    if (chunk > m->n_batch - n)
      chunk = m->n_batch - n;
    if (chunk == 0)
      break;
    for (uint32_t k = 0; k < chunk; k++) {
      uint32_t pos = s->n_done + k;
      bool want = pos == s->n_prompt - 1;
      if (want)
        s->entry = (int32_t)n;
      m->entries[n++] = (tl_engine_batch_entry){s->toks[pos], (int32_t)i, pos, want};
    }
    new_blocks += blocks_for(m, s->n_done + chunk) - blocks_for(m, s->n_done) + 1;
    budget = budget > chunk ? budget - chunk : 0;
    n_prefill += chunk;
  }
  if (n == 0)
    return false;
  evict(m, new_blocks + m->n_slots);
  m->step++;
  pthread_mutex_unlock(&m->mu);
  tl_error err;
  tl_engine_batch b = {m->entries, n};
  double t0 = now_s();
  tl_status st = tl_engine_batch_eval(m->e, &b, &err);
  double dt = now_s() - t0;
  pthread_mutex_lock(&m->mu);
  m->met.steps++;
  if (n_prefill) {
    m->met.prefill_s += dt;
    m->met.prefill_tok += n;
  } else {
    m->met.decode_s += dt;
    m->met.decode_tok += n;
  }
  if (st) {
    tl__warn("server: %s: engine step failed: %s", m->name, err.message);
    for (uint32_t i = 0; i < m->n_slots; i++) {
      slot *s = &m->slots[i];
      if (s->r) {
        tl_engine_seq_remove(m->e, (int32_t)i);
        s->n_done = s->n_toks = 0;
        slot_end(m, s, NULL, err.message);
      }
    }
    return true;
  }
  for (uint32_t i = 0; i < n; i++)
    m->slots[m->entries[i].seq].n_done = m->entries[i].pos + 1;
  for (uint32_t i = 0; i < m->n_slots; i++) {
    slot *s = &m->slots[i];
    if (s->r && s->entry >= 0 && s->n_done == s->n_toks) {
      s->last_use = m->step;
      next_token(m, s, tl_engine_batch_logits(m->e, (uint32_t)s->entry));
    }
  }
  return true;
}

/* The KV gauges for other threads: the engine's tables change during a
 * step without m->mu, so they are read here, between steps. m->mu held. */
static void snapshot(tl__model_srv *m)
{
  m->kv_free = tl_engine_kv_blocks_free(m->e);
  m->kv_cached = 0;
  for (uint32_t i = 0; i < m->n_slots; i++)
    if (!m->slots[i].r)
      m->kv_cached += blocks_for(m, tl_engine_seq_length(m->e, (int32_t)i));
}

static void *engine_thread(void *arg)
{
  tl__model_srv *m = arg;
  pthread_mutex_lock(&m->mu);
  while (!m->stop) {
    bool worked = step(m);
    snapshot(m);
    if (!worked)
      pthread_cond_wait(&m->cv, &m->mu);
  }
  for (uint32_t i = 0; i < m->n_slots; i++)
    slot_end(m, &m->slots[i], NULL, "the server is shutting down");
  while (m->q_len) {
    tl__req *r = m->queue[m->q_head];
    finish_req(r, NULL, "the server is shutting down");
    tl__req_release(r);
    m->q_head = (m->q_head + 1) % m->q_cap;
    m->q_len--;
  }
  pthread_mutex_unlock(&m->mu);
  return NULL;
}

tl_status tl__model_srv_submit(tl__model_srv *m, tl__req *r)
{
  if (blocks_for(m, r->g.n_prompt + r->g.max_tokens) + 1 > m->n_blocks)
    return TL_ELIMIT;
  pthread_mutex_lock(&m->mu);
  if (m->q_len >= m->q_cap || m->stop) {
    pthread_mutex_unlock(&m->mu);
    return TL_EBUSY;
  }
  pthread_mutex_lock(&r->mu);
  r->refs++;
  pthread_mutex_unlock(&r->mu);
  m->queue[(m->q_head + m->q_len++) % m->q_cap] = r;
  m->met.requests++;
  pthread_cond_signal(&m->cv);
  pthread_mutex_unlock(&m->mu);
  return TL_OK;
}

uint32_t tl__model_srv_inflight(tl__model_srv *m)
{
  pthread_mutex_lock(&m->mu);
  uint32_t n = m->q_len + m->running;
  pthread_mutex_unlock(&m->mu);
  return n;
}

void tl__model_srv_cancel_all(tl__model_srv *m)
{
  pthread_mutex_lock(&m->mu);
  for (uint32_t i = 0; i < m->q_len; i++)
    m->queue[(m->q_head + i) % m->q_cap]->cancelled = 1;
  for (uint32_t i = 0; i < m->n_slots; i++)
    if (m->slots[i].r)
      m->slots[i].r->cancelled = 1;
  pthread_cond_signal(&m->cv);
  pthread_mutex_unlock(&m->mu);
}

void tl__model_srv_stats(tl__model_srv *m, tl__metrics *acc, tl_server_stats *st)
{
  pthread_mutex_lock(&m->mu);
  acc->requests += m->met.requests;
  acc->completions += m->met.completions;
  acc->errors += m->met.errors;
  acc->prompt_tokens += m->met.prompt_tokens;
  acc->completion_tokens += m->met.completion_tokens;
  acc->cached_tokens += m->met.cached_tokens;
  acc->prefill_s += m->met.prefill_s;
  acc->decode_s += m->met.decode_s;
  acc->prefill_tok += m->met.prefill_tok;
  acc->decode_tok += m->met.decode_tok;
  acc->steps += m->met.steps;
  st->queued += m->q_len;
  st->running += m->running;
  st->kv_blocks_free += m->kv_free;
  st->kv_blocks_total += m->n_blocks;
  st->kv_blocks_cached += m->kv_cached;
  pthread_mutex_unlock(&m->mu);
}

/* ---- load and free ---- */

static tl_status pieces_init(tl__model_srv *m, tl_error *err)
{
  m->piece_off = tl__calloc(m->n_vocab + 1, sizeof *m->piece_off);
  tl__sb sb;
  tl__sb_init(&sb);
  char buf[256];
  for (uint32_t v = 0; v < m->n_vocab && m->piece_off; v++) {
    size_t n = 0;
    m->piece_off[v] = (uint32_t)sb.len;
    if (tl_tokenizer_piece(m->tk, (int32_t)v, 0, buf, sizeof buf, &n, NULL) == TL_OK)
      tl__sb_append(&sb, buf, n);
  }
  if (!m->piece_off || tl__sb_failed(&sb)) {
    tl__sb_deinit(&sb);
    return tl__error_set(err, TL_ENOMEM, "server: out of memory for the token table");
  }
  m->piece_off[m->n_vocab] = (uint32_t)sb.len;
  m->pieces = tl__sb_take(&sb);
  if (!m->pieces)
    m->pieces = tl__strdup("");
  return m->pieces ? TL_OK : tl__error_set(err, TL_ENOMEM, "server: out of memory");
}

tl_status tl__model_srv_create(const tl_server_params *p, const char *name, const char *path,
                               tl__model_srv **out, tl_error *err)
{
  tl__model_srv *m = tl__calloc(1, sizeof *m);
  if (!m)
    return tl__error_set(err, TL_ENOMEM, "server: out of memory");
  snprintf(m->name, sizeof m->name, "%s", name);
  pthread_mutex_init(&m->mu, NULL);
  pthread_cond_init(&m->cv, NULL);
  tl_engine_params ep = p->engine;
  if (ep.n_seq_max == 0)
    ep.n_seq_max = 1;
  tl_status st = tl_engine_load(path, &ep, &m->e, err);
  if (st)
    goto fail;
  if ((st = tl_tokenizer_from_gguf(tl_engine_gguf(m->e), &m->tk, err)))
    goto fail;
  const tl_engine_params *rp = tl_engine_get_params(m->e);
  m->n_vocab = tl_engine_hparams(m->e)->n_vocab;
  m->n_ctx = rp->n_ctx;
  m->n_slots = rp->n_seq_max;
  m->block_size = rp->kv_block_size;
  m->n_blocks = rp->kv_blocks;
  m->n_batch = rp->n_batch;
  m->max_batched = p->max_batched_tokens ? p->max_batched_tokens : rp->n_ubatch;
  if (m->max_batched > m->n_batch)
    m->max_batched = m->n_batch;
  m->prefix_cache = p->prefix_cache;
  m->prefill_first = p->prefill_first;
  if (p->chat_template && p->chat_template[0]) {
    if ((st = tl_chat_format_from_name(p->chat_template, &m->chat, err)))
      goto fail;
  } else {
    const char *t;
    size_t n;
    if (tl_gguf_get_str(tl_engine_gguf(m->e), "tokenizer.chat_template", &t, &n))
      m->chat = tl_chat_detect(t, n);
  }
  m->end_marker = tl_chat_end_marker(m->chat);
  m->q_cap = p->queue_max ? p->queue_max : 64;
  m->queue = tl__calloc(m->q_cap, sizeof *m->queue);
  m->slots = tl__calloc(m->n_slots, sizeof *m->slots);
  m->entries = tl__calloc(m->n_batch, sizeof *m->entries);
  m->masked = tl__calloc(m->n_vocab, sizeof *m->masked);
  if (!m->queue || !m->slots || !m->entries || !m->masked) {
    st = tl__error_set(err, TL_ENOMEM, "server: out of memory");
    goto fail;
  }
  for (uint32_t i = 0; i < m->n_slots; i++) {
    tl__sb_init(&m->slots[i].out);
    tl__sb_putc(&m->slots[i].out, '\0'); /* a buffer from the start */
    m->slots[i].out.len = 0;
    m->slots[i].toks = tl__calloc(m->n_ctx, sizeof(int32_t));
    if (!m->slots[i].toks) {
      st = tl__error_set(err, TL_ENOMEM, "server: out of memory");
      goto fail;
    }
  }
  if ((st = pieces_init(m, err)))
    goto fail;
  m->kv_free = m->n_blocks;
  if (pthread_create(&m->thread, NULL, engine_thread, m)) {
    st = tl__error_set(err, TL_EINTERNAL, "server: cannot start the engine thread");
    goto fail;
  }
  m->thread_started = true;
  *out = m;
  return TL_OK;
fail:
  tl__model_srv_free(m);
  return st;
}

void tl__model_srv_free(tl__model_srv *m)
{
  if (!m)
    return;
  if (m->thread_started) {
    pthread_mutex_lock(&m->mu);
    m->stop = true;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->thread, NULL);
  }
  if (m->slots)
    for (uint32_t i = 0; i < m->n_slots; i++) {
      tl__sb_deinit(&m->slots[i].out);
      tl__free(m->slots[i].toks);
    }
  tl__free(m->slots);
  tl__free(m->queue);
  tl__free(m->entries);
  tl__free(m->masked);
  tl__free(m->pieces);
  tl__free(m->piece_off);
  tl_tokenizer_free(m->tk);
  tl_engine_free(m->e);
  pthread_mutex_destroy(&m->mu);
  pthread_cond_destroy(&m->cv);
  tl__free(m);
}
