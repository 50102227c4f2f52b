/* The operations table of the engine: everything the forward pass computes
 * goes through one of these entries, so a backend for another device (CUDA)
 * implements this table and the model code stays as it is. Activations are
 * row-major float matrices (m rows of n), in memory the backend allocated
 * with its alloc entry; token ids and positions are host arrays. Weights are
 * views of mapped GGUF tensors. The logits buffer comes from alloc too and
 * is read by the host after a forward pass, so a device backend gives that
 * one host-visible memory (or the engine gains a copy entry with it). */
#ifndef TL_ENGINE_BACKEND_H
#define TL_ENGINE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tailor/error.h"
#include "tailor/model.h"

/* A weight matrix: ne1 rows of ne0 elements of one type, rows contiguous
 * (GGML order: ne0 is the input dimension of a projection). */
typedef struct tl__weight {
  const char *name;   /* tensor name, for messages */
  const void *data;   /* into the mapping */
  tl_qtype type;
  int64_t ne0, ne1;
  size_t row_bytes;
} tl__weight;

/* RoPE as the model's GGUF describes it, with per-pair frequencies
 * precomputed at load (rope.c). */
typedef struct tl__rope {
  tl_rope_type style;     /* normal: pairs (2i, 2i+1); NeoX: (i, i + n_rot/2) */
  uint32_t n_rot;         /* rotated dimensions of each head (<= head_dim) */
  double *freq;           /* (n_rot/2) radians per position, every scaling applied */
  float mscale;           /* multiplies cos and sin (YaRN magnitude correction) */
} tl__rope;

/* The attention geometry of one layer. */
typedef struct tl__attn_shape {
  uint32_t n_head, n_head_kv, head_dim_k, head_dim_v;
  float scale; /* 1/sqrt(head_dim_k) */
} tl__attn_shape;

typedef struct tl__kv tl__kv;
typedef struct tl__backend tl__backend;

/* Where the tokens of a batch of several sequences live in a block-paged KV
 * cache (batch.c): token i is at position pos[i] of its sequence, whose
 * position p is cache row table[i][p / block_size] * block_size + p % block_size. */
typedef struct tl__kv_map {
  uint32_t block_size;           /* tokens per block */
  const int32_t *pos;            /* (m) position of each token in its sequence */
  const uint32_t *const *table;  /* (m) block table of each token's sequence */
} tl__kv_map;

typedef struct tl__backend_ops {
  const char *name;
  /* Device memory for activations; NULL on failure. free accepts NULL. */
  void *(*alloc)(tl__backend *b, size_t bytes);
  void (*free)(tl__backend *b, void *p);

  /* y (m, w->ne1) = x (m, w->ne0) times w transposed. */
  void (*matmul)(tl__backend *b, const tl__weight *w, const float *x, float *y, uint32_t m);
  /* out (m, w->ne0) = rows tokens[0..m) of w, dequantized. */
  void (*embedding)(tl__backend *b, const tl__weight *w, const int32_t *tokens, uint32_t m,
                    float *out);
  /* out (m, n) = x / rms(x) * w for each row; out may be x. */
  void (*rmsnorm)(tl__backend *b, float *out, const float *x, const float *w, uint32_t m,
                  uint32_t n, float eps);
  /* y (n) += x (n). */
  void (*add)(tl__backend *b, float *y, const float *x, size_t n);
  /* y (m, n) += bias (n) on every row. */
  void (*add_bias)(tl__backend *b, float *y, const float *bias, uint32_t m, uint32_t n);
  /* out (n) = silu(gate) * up; out may be gate. */
  void (*swiglu)(tl__backend *b, float *out, const float *gate, const float *up, size_t n);
  /* Rotates x (m tokens, n_head heads of head_dim) in place at positions pos (m). */
  void (*rope)(tl__backend *b, const tl__rope *r, float *x, uint32_t m, uint32_t n_head,
               uint32_t head_dim, const int32_t *pos);
  /* Writes k (m, n_embd_k) and v (m, n_embd_v) at cache rows pos0 .. pos0+m-1. */
  void (*kv_store)(tl__backend *b, tl__kv *kv, uint32_t layer, uint32_t pos0, uint32_t m,
                   const float *k, const float *v);
  /* out (m, n_head * head_dim_v): causal attention of q (m, n_head * head_dim_k)
   * at positions pos0 .. pos0+m-1 over cache rows 0 .. pos0+m-1. */
  void (*attention)(tl__backend *b, const tl__kv *kv, uint32_t layer, const tl__attn_shape *s,
                    const float *q, uint32_t m, uint32_t pos0, float *out);
  /* As kv_store and attention, for tokens of several sequences placed by map:
   * token i attends to positions 0 .. map->pos[i] of its own sequence. */
  void (*kv_store_paged)(tl__backend *b, tl__kv *kv, uint32_t layer, const tl__kv_map *map,
                         uint32_t m, const float *k, const float *v);
  void (*attention_paged)(tl__backend *b, const tl__kv *kv, uint32_t layer,
                          const tl__attn_shape *s, const tl__kv_map *map, const float *q,
                          uint32_t m, float *out);
} tl__backend_ops;

struct tl__backend {
  const tl__backend_ops *ops;
  void *impl;             /* the backend's own state */
  uint64_t bytes_alloc;   /* live bytes from alloc (the compute category) */
};

/* The CPU backend: a pool of n_threads threads (created once, reused by
 * every op), matmul scratch of matmul_scratch bytes, and attention scratch
 * for n_ctx positions of the heads of s. Free with tl__backend_cpu_free. */
tl_status tl__backend_cpu_create(uint32_t n_threads, uint32_t n_ctx, const tl__attn_shape *s,
                                 size_t matmul_scratch, tl__backend **out, tl_error *err);
void tl__backend_cpu_free(tl__backend *b);

#endif
