/* Evaluating tokens on an engine's sequence: a prompt is cut into
 * micro-batches of n_ubatch tokens, each one forward pass with M > 1 rows
 * (prefill); a single generated token is a pass with M = 1 (decode). The KV
 * cache grows by the tokens evaluated. Nothing here allocates. */
#include "base/error-int.h"
#include "engine/engine-int.h"

tl_status tl_engine_eval(tl_engine *e, const int32_t *tokens, uint32_t n, tl_error *err)
{
  const tl_hparams *hp = &e->model.hp;
  if (e->paged)
    return tl__batch_eval_seq0(e, tokens, n, err);
  if (n == 0 || n > e->prm.n_batch)
    return tl__error_set(err, TL_EINVAL, "engine: %u tokens in one eval; the batch holds 1 to %u",
                         n, e->prm.n_batch);
  if (e->n_past + n > e->prm.n_ctx)
    return tl__error_set(err, TL_ELIMIT, "engine: context full: %u cached + %u new tokens > "
                         "n_ctx %u", e->n_past, n, e->prm.n_ctx);
  for (uint32_t i = 0; i < n; i++)
    if (tokens[i] < 0 || (uint32_t)tokens[i] >= hp->n_vocab)
      return tl__error_set(err, TL_EINVAL, "engine: token id %d at %u is outside the "
                           "vocabulary of %u", (int)tokens[i], i, hp->n_vocab);
  bool all = e->prm.logits_all;
  uint32_t u = e->prm.n_ubatch;
  for (uint32_t i = 0; i < n; i += u) {
    uint32_t m = n - i < u ? n - i : u;
    bool last = i + m == n;
    float *logits = all ? e->logits + (size_t)i * hp->n_vocab : (last ? e->logits : NULL);
    tl__llama_forward(&e->model, e->be, &e->st, &e->kv, &e->rope, tokens + i, m, e->n_past,
                      logits, all);
    e->n_past += m;
  }
  e->n_logits = n;
  e->logits_all_rows = all;
  return TL_OK;
}

const float *tl_engine_logits(const tl_engine *e, int32_t i)
{
  if (e->n_logits == 0)
    return NULL;
  if (i < 0)
    i = (int32_t)e->n_logits + i;
  if (i < 0 || (uint32_t)i >= e->n_logits)
    return NULL;
  if (!e->logits_all_rows)
    return (uint32_t)i == e->n_logits - 1 ? e->logits : NULL;
  return e->logits + (size_t)i * e->model.hp.n_vocab;
}

uint32_t tl_engine_n_past(const tl_engine *e)
{
  return e->paged ? tl_engine_seq_length(e, 0) : e->n_past;
}

void tl_engine_kv_truncate(tl_engine *e, uint32_t n_past)
{
  if (e->paged)
    tl_engine_seq_truncate(e, 0, n_past);
  if (n_past < e->n_past)
    e->n_past = n_past;
}
