/* The block allocator and the per-sequence block tables of the paged KV
 * cache (the scheme of vLLM's PagedAttention, Kwon et al. 2023): a sequence
 * takes a block when it reaches a block boundary and gives its blocks back
 * when removed; blocks are reference counted so a prefix can be shared
 * between sequences. Evaluating is batch.c's. */
#include <string.h>

#include "base/error-int.h"
#include "engine/kv-paged.h"

uint32_t tl__paged_take(tl__paged *p)
{
  if (p->n_free == 0)
    return UINT32_MAX;
  uint32_t b = p->free_list[--p->n_free];
  p->ref[b] = 1;
  return b;
}

void tl__paged_drop(tl__paged *p, uint32_t block)
{
  if (p->ref[block] && --p->ref[block] == 0)
    p->free_list[p->n_free++] = block;
}

void tl__paged_copy_rows(tl__kv *kv, const tl__paged *p, uint32_t src, uint32_t dst, uint32_t n)
{
  for (uint32_t l = 0; l < kv->n_layer; l++) {
    memcpy(tl__kv_k_row(kv, l, dst * p->block_size), tl__kv_k_row(kv, l, src * p->block_size),
           n * kv->row_k);
    if (!kv->v_trans) {
      memcpy(tl__kv_v_row(kv, l, dst * p->block_size), tl__kv_v_row(kv, l, src * p->block_size),
             n * kv->row_v);
      continue;
    }
    for (uint32_t d = 0; d < kv->n_embd_v; d++) {
      uint8_t *row = tl__kv_vt_row(kv, l, d);
      memcpy(row + (size_t)dst * p->block_size * kv->v_elem,
             row + (size_t)src * p->block_size * kv->v_elem, n * kv->v_elem);
    }
  }
}

static bool seq_ok(const tl_engine *e, int32_t seq)
{
  return e->paged && seq >= 0 && (uint32_t)seq < e->paged->n_seq;
}

uint32_t tl_engine_seq_length(const tl_engine *e, int32_t seq)
{
  return seq_ok(e, seq) ? e->paged->len[seq] : 0;
}

void tl_engine_seq_truncate(tl_engine *e, int32_t seq, uint32_t n_tokens)
{
  if (!seq_ok(e, seq))
    return;
  tl__paged *p = e->paged;
  if (n_tokens >= p->len[seq])
    return;
  uint32_t *t = p->tables + (size_t)seq * p->max_blocks;
  uint32_t keep = (n_tokens + p->block_size - 1) / p->block_size;
  uint32_t have = (p->len[seq] + p->block_size - 1) / p->block_size;
  for (uint32_t i = keep; i < have; i++)
    tl__paged_drop(p, t[i]);
  p->len[seq] = n_tokens;
}

void tl_engine_seq_remove(tl_engine *e, int32_t seq) { tl_engine_seq_truncate(e, seq, 0); }

tl_status tl_engine_seq_copy(tl_engine *e, int32_t src, int32_t dst, uint32_t n_tokens,
                             tl_error *err)
{
  if (!seq_ok(e, src) || !seq_ok(e, dst) || src == dst)
    return tl__error_set(err, TL_EINVAL, "engine: cannot copy sequence %d to %d (sequences 0 "
                         "to %u, distinct)", (int)src, (int)dst,
                         e->paged ? e->paged->n_seq - 1 : 0);
  tl__paged *p = e->paged;
  if (n_tokens > p->len[src])
    return tl__error_set(err, TL_EINVAL, "engine: sequence %d holds %u tokens, not %u",
                         (int)src, p->len[src], n_tokens);
  uint32_t full = n_tokens / p->block_size, part = n_tokens % p->block_size;
  tl_engine_seq_remove(e, dst);
  if (part && p->n_free == 0)
    return tl__error_set(err, TL_ELIMIT, "engine: no free KV block to copy a partial block");
  const uint32_t *ts = p->tables + (size_t)src * p->max_blocks;
  uint32_t *td = p->tables + (size_t)dst * p->max_blocks;
  for (uint32_t i = 0; i < full; i++) {
    td[i] = ts[i];
    p->ref[ts[i]]++;
  }
  if (part) {
    uint32_t b = tl__paged_take(p);
    tl__paged_copy_rows(&e->kv, p, ts[full], b, part);
    td[full] = b;
  }
  p->len[dst] = n_tokens;
  return TL_OK;
}

uint32_t tl_engine_kv_blocks_free(const tl_engine *e) { return e->paged ? e->paged->n_free : 0; }
uint32_t tl_engine_kv_blocks_total(const tl_engine *e)
{
  return e->paged ? e->paged->n_blocks : 0;
}
