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
/* Floats of attention scratch one thread needs. */
size_t tl__cpu_attention_scratch(const tl__attn_shape *s, uint32_t n_ctx);

#endif
