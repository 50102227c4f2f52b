/* The block-paged KV cache of an engine with several sequences: a pool of
 * blocks (rows of the engine's tl__kv), a reference count per block, and a
 * block table per sequence. Shared between kv-paged.c and batch.c only. */
#ifndef TL_ENGINE_KV_PAGED_H
#define TL_ENGINE_KV_PAGED_H

#include "engine/engine-int.h"

typedef struct tl__paged {
  uint32_t block_size;     /* tokens per block */
  uint32_t n_blocks;       /* blocks in the pool */
  uint32_t n_seq;          /* sequences 0 .. n_seq-1 */
  uint32_t max_blocks;     /* per sequence: ceil(n_ctx / block_size) */
  uint32_t *ref;           /* (n_blocks) sequences using each block; 0: free */
  uint32_t *free_list;     /* (n_blocks) stack of free block ids */
  uint32_t n_free;
  uint32_t *tables;        /* (n_seq, max_blocks) block ids */
  uint32_t *len;           /* (n_seq) tokens cached */
  /* batch scratch, sized at init */
  uint32_t *sim_len;       /* (n_seq) lengths while a batch is checked */
  uint8_t *seen;           /* (n_seq) sequence already met in the batch */
  int32_t *tokens;         /* (n_ubatch) */
  const uint32_t **rows;   /* (n_ubatch) block table of each token */
  tl_engine_batch_entry *seq0; /* (n_batch) entries for tl_engine_eval */
  float *logits;           /* (n_seq, n_vocab) */
  int32_t *logit_row;      /* (n_batch) entry -> logits row, or -1 */
  uint32_t n_entries;      /* entries of the last batch */
} tl__paged;

/* Takes a free block (reference 1); UINT32_MAX when none is left. */
uint32_t tl__paged_take(tl__paged *p);
/* Drops one reference; the block is free again at 0. */
void tl__paged_drop(tl__paged *p, uint32_t block);
/* Copies the first n rows of block src into block dst, every layer. */
void tl__paged_copy_rows(tl__kv *kv, const tl__paged *p, uint32_t src, uint32_t dst, uint32_t n);

#endif
