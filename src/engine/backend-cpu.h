/* What the CPU backend's files share (backend-cpu.c, attention-cpu.c): the
 * thread pool, the kernel table and the scratch sized at creation. */
#ifndef TL_ENGINE_BACKEND_CPU_H
#define TL_ENGINE_BACKEND_CPU_H

#include "engine/backend.h"
#include "engine/cpu/kernels.h"

typedef struct tl__cpu {
  const tl__cpu_kernels *k;
  tl__threadpool *pool;
  uint32_t n_threads;
  void *mm_scratch;       /* matmul activation quantization */
  size_t mm_scratch_bytes;
  float *att_scratch;     /* (n_threads, att_stride) */
  size_t att_stride;      /* floats per thread */
  uint32_t n_ctx;
} tl__cpu;

/* The attention entry of the CPU ops table (attention-cpu.c). */
void tl__cpu_attention(tl__backend *b, const tl__kv *kv, uint32_t layer, const tl__attn_shape *s,
                       const float *q, uint32_t m, uint32_t pos0, float *out);
/* The paged entries of the CPU ops table (attention-paged-cpu.c). */
void tl__cpu_kv_store_paged(tl__backend *b, tl__kv *kv, uint32_t layer, const tl__kv_map *map,
                            uint32_t m, const float *k, const float *v);
void tl__cpu_attention_paged(tl__backend *b, const tl__kv *kv, uint32_t layer,
                             const tl__attn_shape *s, const tl__kv_map *map, const float *q,
                             uint32_t m, float *out);
/* The entries of moe-cpu.c (contracts in backend.h). */
void tl__cpu_geglu(tl__backend *b, float *out, const float *gate, const float *up, size_t n);
void tl__cpu_scale(tl__backend *b, float *x, float s, size_t n);
void tl__cpu_softcap(tl__backend *b, float *x, float cap, size_t n);
void tl__cpu_moe_route(tl__backend *b, const float *logits, uint32_t m, uint32_t n_expert,
                       uint32_t k, bool norm, int32_t *sel, float *w);
void tl__cpu_gather_rows(tl__backend *b, float *out, const float *x, const int32_t *rows,
                         uint32_t n_rows, uint32_t n);
void tl__cpu_scatter_add_rows(tl__backend *b, float *y, const float *x, const int32_t *rows,
                              const float *w, uint32_t n_rows, uint32_t n);
/* Floats of attention scratch one thread needs. */
size_t tl__cpu_attention_scratch(const tl__attn_shape *s, uint32_t n_ctx);

#endif
