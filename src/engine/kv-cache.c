/* The KV cache: for every layer, the keys and values of each position, one
 * row per token of n_head_kv * head_dim elements, stored as F16 or Q8_0 (the
 * same row layouts as the weights, converted by the CPU kernels); float V is
 * stored transposed, one row per value dimension over positions. Allocated
 * once for n_ctx tokens; storing and reading rows allocates nothing. */
#include <string.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "engine/cpu/kernels.h"
#include "engine/engine-int.h"
#include "tailor/quant.h"

tl_status tl__kv_init(tl__kv *kv, const tl_hparams *hp, tl_qtype type, uint32_t n_ctx,
                      tl_error *err)
{
  memset(kv, 0, sizeof *kv);
  if (type != TL_QTYPE_F16 && type != TL_QTYPE_Q8_0 && type != TL_QTYPE_F32)
    return tl__error_set(err, TL_ECONFIG, "engine: KV cache type %s is not supported "
                         "(f16, q8_0, f32)", tl_qtype_name(type));
  kv->type = type;
  kv->fp16_to_f32 = tl__cpu_kernels_get()->fp16_to_f32;
  kv->n_ctx = n_ctx;
  kv->n_layer = hp->n_layer;
  kv->n_embd_k = hp->n_head_kv * hp->head_dim_k;
  kv->n_embd_v = hp->n_head_kv * hp->head_dim_v;
  kv->row_k = (size_t)tl_qtype_row_bytes(type, kv->n_embd_k);
  kv->row_v = (size_t)tl_qtype_row_bytes(type, kv->n_embd_v);
  /* Float V is kept transposed (as llama.cpp does without flash attention);
   * block types cannot be, their blocks run along a token's row. */
  kv->v_trans = type == TL_QTYPE_F16 || type == TL_QTYPE_F32;
  kv->v_elem = type == TL_QTYPE_F32 ? 4 : 2;
  if (!kv->row_k || !kv->row_v)
    return tl__error_set(err, TL_ECONFIG, "engine: KV cache type %s needs rows that are a "
                         "multiple of %u elements; this model's rows have %u (K) and %u (V)",
                         tl_qtype_name(type), tl_qtype_get(type)->block_size, kv->n_embd_k,
                         kv->n_embd_v);
  size_t per_layer = (size_t)n_ctx;
  size_t bk = per_layer * kv->row_k * kv->n_layer, bv = per_layer * kv->row_v * kv->n_layer;
  kv->k = tl__aligned_malloc(64, bk);
  kv->v = tl__aligned_malloc(64, bv);
  if (!kv->k || !kv->v) {
    tl__kv_deinit(kv);
    return tl__error_set(err, TL_ENOMEM, "engine: out of memory for a KV cache of %zu bytes",
                         bk + bv);
  }
  kv->bytes = bk + bv;
  return TL_OK;
}

void tl__kv_deinit(tl__kv *kv)
{
  tl__aligned_free(kv->k);
  tl__aligned_free(kv->v);
  kv->k = kv->v = NULL;
  kv->bytes = 0;
}

const float *tl__kv_slice(const tl__kv *kv, const uint8_t *row, uint32_t off, uint32_t n,
                          float *dst, float *tmp)
{
  switch (kv->type) {
  case TL_QTYPE_F32:
    return (const float *)row + off;
  case TL_QTYPE_F16:
    kv->fp16_to_f32((const tl__fp16 *)row + off, dst, n);
    return dst;
  default: {
    /* Block types: convert the blocks that cover [off, off + n). */
    uint32_t bs = tl_qtype_get(kv->type)->block_size, bb = tl_qtype_get(kv->type)->block_bytes;
    uint32_t b0 = off / bs, b1 = (off + n + bs - 1) / bs;
    if (off % bs == 0 && n % bs == 0) {
      tl__dequantize_row(kv->type, row + (size_t)b0 * bb, dst, n);
      return dst;
    }
    tl__dequantize_row(kv->type, row + (size_t)b0 * bb, tmp, (int64_t)(b1 - b0) * bs);
    return tmp + (off - b0 * bs);
  }
  }
}
