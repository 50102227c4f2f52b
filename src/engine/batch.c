/* Evaluating tokens of several sequences in one forward pass: the entries of
 * a batch (token, sequence, position) become the rows of the matmuls, so a
 * decode step of N sequences reads the weights once; attention goes through
 * the paged ops, each token over its own sequence's blocks. Blocks are taken
 * (and shared blocks copied before a write) when the batch is checked, before
 * anything is evaluated. Nothing here allocates after tl__batch_init. */
#include <string.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "engine/kv-paged.h"

tl_status tl__batch_init(tl_engine *e, tl_error *err)
{
  if (!e->prm.n_seq_max)
    return TL_OK;
  const tl_engine_params *pr = &e->prm;
  tl__paged *p = tl__calloc(1, sizeof *p);
  if (!p)
    return tl__error_set(err, TL_ENOMEM, "engine: out of memory");
  e->paged = p;
  p->block_size = pr->kv_block_size;
  p->n_blocks = pr->kv_blocks;
  p->n_seq = pr->n_seq_max;
  p->max_blocks = (pr->n_ctx + p->block_size - 1) / p->block_size;
  p->ref = tl__calloc(p->n_blocks, sizeof *p->ref);
  p->free_list = tl__calloc(p->n_blocks, sizeof *p->free_list);
  p->tables = tl__calloc((size_t)p->n_seq * p->max_blocks, sizeof *p->tables);
  p->len = tl__calloc(p->n_seq, sizeof *p->len);
  p->sim_len = tl__calloc(p->n_seq, sizeof *p->sim_len);
  p->seen = tl__calloc(p->n_seq, 1);
  p->tokens = tl__calloc(pr->n_ubatch, sizeof *p->tokens);
  p->rows = tl__calloc(pr->n_ubatch, sizeof *p->rows);
  p->seq0 = tl__calloc(pr->n_batch, sizeof *p->seq0);
  p->logit_row = tl__calloc(pr->n_batch, sizeof *p->logit_row);
  p->logits = e->be->ops->alloc(e->be, (size_t)p->n_seq * e->model.hp.n_vocab * sizeof(float));
  if (!p->ref || !p->free_list || !p->tables || !p->len || !p->sim_len || !p->seen ||
      !p->tokens || !p->rows || !p->seq0 || !p->logit_row || !p->logits)
    return tl__error_set(err, TL_ENOMEM, "engine: out of memory for %u sequences' tables",
                         p->n_seq);
  /* Lowest ids on top of the stack: blocks are handed out in order. */
  for (uint32_t i = 0; i < p->n_blocks; i++)
    p->free_list[i] = p->n_blocks - 1 - i;
  p->n_free = p->n_blocks;
  return TL_OK;
}

void tl__batch_deinit(tl_engine *e)
{
  tl__paged *p = e->paged;
  if (!p)
    return;
  tl__free(p->ref);
  tl__free(p->free_list);
  tl__free(p->tables);
  tl__free(p->len);
  tl__free(p->sim_len);
  tl__free(p->seen);
  tl__free(p->tokens);
  tl__free(p->rows);
  tl__free(p->seq0);
  tl__free(p->logit_row);
  if (e->be)
    e->be->ops->free(e->be, p->logits);
  tl__free(p);
  e->paged = NULL;
}

/* Checks every entry and counts the blocks the batch needs; changes nothing. */
static tl_status check(tl_engine *e, const tl_engine_batch_entry *en, uint32_t n,
                       uint32_t max_logits, tl_error *err)
{
  tl__paged *p = e->paged;
  uint32_t n_vocab = e->model.hp.n_vocab, need = 0, n_logits = 0;
  memcpy(p->sim_len, p->len, p->n_seq * sizeof *p->len);
  memset(p->seen, 0, p->n_seq);
  for (uint32_t i = 0; i < n; i++) {
    const tl_engine_batch_entry *x = &en[i];
    if (x->seq < 0 || (uint32_t)x->seq >= p->n_seq)
      return tl__error_set(err, TL_EINVAL, "engine: entry %u: sequence %d is not in 0..%u", i,
                           (int)x->seq, p->n_seq - 1);
    if (x->token < 0 || (uint32_t)x->token >= n_vocab)
      return tl__error_set(err, TL_EINVAL, "engine: entry %u: token id %d is outside the "
                           "vocabulary of %u", i, (int)x->token, n_vocab);
    if (x->pos != p->sim_len[x->seq])
      return tl__error_set(err, TL_EINVAL, "engine: entry %u: position %u of sequence %d; "
                           "the next position is %u", i, x->pos, (int)x->seq,
                           p->sim_len[x->seq]);
    if (x->pos >= e->prm.n_ctx)
      return tl__error_set(err, TL_ELIMIT, "engine: sequence %d is full (n_ctx %u)",
                           (int)x->seq, e->prm.n_ctx);
    if (x->logits && ++n_logits > max_logits)
      return tl__error_set(err, TL_EINVAL, "engine: more than %u entries ask for logits",
                           max_logits);
    if (x->pos % p->block_size == 0)
      need++;
    else if (!p->seen[x->seq] &&
             p->ref[p->tables[(size_t)x->seq * p->max_blocks + x->pos / p->block_size]] > 1)
      need++; /* a shared block is copied before the write */
    p->seen[x->seq] = 1;
    p->sim_len[x->seq]++;
  }
  if (need > p->n_free)
    return tl__error_set(err, TL_ELIMIT, "engine: the batch needs %u KV blocks, %u are free",
                         need, p->n_free);
  return TL_OK;
}

/* Gives every entry its row: new blocks at block boundaries, private copies
 * of shared blocks written into. check() guaranteed the blocks. */
static void place(tl_engine *e, const tl_engine_batch_entry *en, uint32_t n)
{
  tl__paged *p = e->paged;
  memset(p->seen, 0, p->n_seq);
  for (uint32_t i = 0; i < n; i++) {
    const tl_engine_batch_entry *x = &en[i];
    uint32_t *t = p->tables + (size_t)x->seq * p->max_blocks, bi = x->pos / p->block_size;
    if (x->pos % p->block_size == 0) {
      t[bi] = tl__paged_take(p);
    } else if (!p->seen[x->seq] && p->ref[t[bi]] > 1) {
      uint32_t b = tl__paged_take(p);
      tl__paged_copy_rows(&e->kv, p, t[bi], b, x->pos % p->block_size);
      tl__paged_drop(p, t[bi]);
      t[bi] = b;
    }
    p->seen[x->seq] = 1;
    p->len[x->seq] = x->pos + 1;
  }
}

/* Evaluates checked entries; the logits of the entries that ask go to
 * consecutive rows of out. */
static void run(tl_engine *e, const tl_engine_batch_entry *en, uint32_t n, float *out)
{
  tl__paged *p = e->paged;
  const tl__backend_ops *op = e->be->ops;
  const tl_hparams *hp = &e->model.hp;
  uint32_t u = e->prm.n_ubatch, dim = hp->n_embd, row = 0;
  tl__kv_map map = {p->block_size, e->st.pos, p->rows};
  for (uint32_t i0 = 0; i0 < n; i0 += u) {
    uint32_t m = n - i0 < u ? n - i0 : u, k = 0;
    for (uint32_t j = 0; j < m; j++) {
      const tl_engine_batch_entry *x = &en[i0 + j];
      p->tokens[j] = x->token;
      e->st.pos[j] = (int32_t)x->pos;
      p->rows[j] = p->tables + (size_t)x->seq * p->max_blocks;
    }
    e->st.map = &map;
    tl__llama_forward(&e->model, e->be, &e->st, &e->kv, &e->rope, p->tokens, m, 0, NULL, false);
    e->st.map = NULL;
    /* the final norm and the output projection for the rows that ask */
    for (uint32_t j = 0; j < m; j++) {
      p->logit_row[i0 + j] = -1;
      if (!en[i0 + j].logits)
        continue;
      memcpy(e->st.xb + (size_t)k * dim, e->st.x + (size_t)j * dim, dim * sizeof(float));
      p->logit_row[i0 + j] = (int32_t)(row + k);
      k++;
    }
    if (k) {
      op->rmsnorm(e->be, e->st.xb, e->st.xb, e->model.output_norm, k, dim, hp->norm_eps);
      op->matmul(e->be, &e->model.output, e->st.xb, out + (size_t)row * hp->n_vocab, k);
      row += k;
    }
  }
  p->n_entries = n;
}

tl_status tl_engine_batch_eval(tl_engine *e, const tl_engine_batch *b, tl_error *err)
{
  if (!e->paged)
    return tl__error_set(err, TL_EUNSUPPORTED, "engine: batches of several sequences need "
                         "n_seq_max > 0 at load");
  if (!b || b->n == 0 || b->n > e->prm.n_batch)
    return tl__error_set(err, TL_EINVAL, "engine: %u entries in one batch; it holds 1 to %u",
                         b ? b->n : 0, e->prm.n_batch);
  tl_status st = check(e, b->entries, b->n, e->paged->n_seq, err);
  if (st)
    return st;
  place(e, b->entries, b->n);
  run(e, b->entries, b->n, e->paged->logits);
  e->n_logits = 0; /* the single-sequence logits are stale now */
  return TL_OK;
}

const float *tl_engine_batch_logits(const tl_engine *e, uint32_t i)
{
  const tl__paged *p = e->paged;
  if (!p || i >= p->n_entries || p->logit_row[i] < 0)
    return NULL;
  return p->logits + (size_t)p->logit_row[i] * e->model.hp.n_vocab;
}

tl_status tl__batch_eval_seq0(tl_engine *e, const int32_t *tokens, uint32_t n, tl_error *err)
{
  tl__paged *p = e->paged;
  if (n == 0 || n > e->prm.n_batch)
    return tl__error_set(err, TL_EINVAL, "engine: %u tokens in one eval; the batch holds 1 to %u",
                         n, e->prm.n_batch);
  bool all = e->prm.logits_all;
  for (uint32_t i = 0; i < n; i++)
    p->seq0[i] = (tl_engine_batch_entry){tokens[i], 0, p->len[0] + i, all || i == n - 1};
  tl_status st = check(e, p->seq0, n, all ? n : 1, err);
  if (st)
    return st;
  place(e, p->seq0, n);
  run(e, p->seq0, n, e->logits);
  p->n_entries = 0; /* e->logits holds these */
  e->n_logits = n;
  e->logits_all_rows = all;
  return TL_OK;
}
