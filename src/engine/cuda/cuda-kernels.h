/* The CUDA kernels of the engine, callable from C: a device context (one
 * stream, one cuBLAS handle, one workspace), device memory, and the
 * operations of the forward pass (backend.h's table) on device pointers.
 * Every operation is asynchronous on the context's stream and allocates
 * nothing, so a decode step can be captured once as a CUDA graph and
 * replayed. Weights use GGML's block layouts (src/engine/quant-blocks.h).
 * Activations are row-major float matrices, as in backend.h.
 * Compiled only when the build has CUDA (TAILOR_CUDA_KERNELS). */
#ifndef TL_ENGINE_CUDA_KERNELS_H
#define TL_ENGINE_CUDA_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tailor/error.h"
#include "tailor/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tl__cuda tl__cuda;

/* Most activation rows the matrix-vector kernels take in one launch; larger
 * batches go through dequantized F16 tiles and cuBLAS. */
#define TL__CUDA_MATVEC_MAX_M 8
/* Attention head dimensions the attention kernel handles (K and V equal). */
#define TL__CUDA_ATTN_MAX_HEAD_DIM 256
/* Largest k of tl__cuda_topk. */
#define TL__CUDA_TOPK_MAX 64

/* A weight matrix in device memory: ne1 rows of ne0 elements of one type. */
typedef struct tl__cuda_weight {
  tl_qtype type;      /* F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K (F32 for norms only) */
  const void *data;   /* device pointer */
  int64_t ne0, ne1;   /* input features (multiple of 32), output features */
  size_t row_bytes;
} tl__cuda_weight;

/* Number of usable CUDA devices; 0 when there is no driver or no device
 * (never an error, so callers and tests can skip). */
int tl__cuda_device_count(void);

/* Opens device `device`: a stream, a cuBLAS handle and a workspace of
 * workspace_bytes (the scratch of matmul and attention; see the _workspace
 * functions). TL_EDEVICE when the device cannot be used, TL_ENOMEM when the
 * workspace does not fit. Free with tl__cuda_free. */
tl_status tl__cuda_create(int device, size_t workspace_bytes, tl__cuda **out, tl_error *err);
void tl__cuda_free(tl__cuda *c);

/* Device name and multiprocessor count of the context's device. */
const char *tl__cuda_device_name(const tl__cuda *c);
int tl__cuda_sm_count(const tl__cuda *c);
/* The message of the last failed call on this context ("" if none). */
const char *tl__cuda_last_error(const tl__cuda *c);

/* Device memory. malloc returns NULL on failure; mfree accepts NULL. */
void *tl__cuda_malloc(tl__cuda *c, size_t bytes);
void tl__cuda_mfree(tl__cuda *c, void *p);
/* Copies on the context's stream; the host side must stay valid until
 * tl__cuda_sync. dir: host to device (to_device true) or back. */
tl_status tl__cuda_copy(tl__cuda *c, void *dst, const void *src, size_t bytes, bool to_device);
/* Copies device to device on the stream. */
tl_status tl__cuda_copy_d2d(tl__cuda *c, void *dst, const void *src, size_t bytes);
/* Fills bytes with the byte value (0xFF poisons floats with NaN). */
tl_status tl__cuda_memset(tl__cuda *c, void *p, int value, size_t bytes);
/* Waits for everything queued on the stream; reports the first error. */
tl_status tl__cuda_sync(tl__cuda *c);

/* ---- workspace sizes ----------------------------------------------------- */

/* Workspace bytes tl__cuda_matmul needs for m rows times w (chunks of at
 * most 64 MiB of F16 weight tiles). */
size_t tl__cuda_matmul_workspace(tl_qtype type, int64_t m, int64_t n, int64_t k);
/* Workspace bytes tl__cuda_attention needs for m queries of n_head heads of
 * head_dim on a device with n_sm multiprocessors. */
size_t tl__cuda_attention_workspace(uint32_t m, uint32_t n_head, uint32_t head_dim, int n_sm);

/* ---- quantized activations ------------------------------------------------ */

/* Bytes of n activations quantized for the integer matrix-vector kernels:
 * n int8 values, then (aligned to 16) n/32 pairs (scale, scale * sum). */
size_t tl__cuda_act_bytes(int64_t n);
/* x (n floats, n a multiple of 32) -> xq (tl__cuda_act_bytes(n) bytes). */
tl_status tl__cuda_quantize_act(tl__cuda *c, const float *x, int64_t n, void *xq);

/* ---- matrix products ----------------------------------------------------- */

/* y (m, w->ne1) (+)= x (m, w->ne0) times w transposed, for m <= 8, with one
 * read of w. Quantized weights use x quantized to 8 bits per 32 (xq from
 * tl__cuda_quantize_act of the m rows, or NULL to quantize x into the
 * workspace); F16 / BF16 use x as floats. accumulate adds to y. */
tl_status tl__cuda_matvec(tl__cuda *c, const tl__cuda_weight *w, const float *x, const void *xq,
                          uint32_t m, float *y, bool accumulate);
/* As tl__cuda_matvec for n_w (1..4) weights of one type and width in one
 * launch (q, k and v; gate and up): y[i] (m, w[i].ne1) (+)= x . w[i]^T. */
tl_status tl__cuda_matvec_multi(tl__cuda *c, const tl__cuda_weight *w, uint32_t n_w,
                                const float *x, const void *xq, uint32_t m, float *const *y,
                                bool accumulate);
/* Any m: tl__cuda_matvec up to 8 rows, otherwise w dequantized to F16 tiles
 * and multiplied with x (converted to F16) by cuBLAS, accumulating in F32. */
tl_status tl__cuda_matmul(tl__cuda *c, const tl__cuda_weight *w, const float *x, uint32_t m,
                          float *y, bool accumulate);
/* out (m, w->ne0) = rows ids[0..m) of w (device int32 ids), dequantized. */
tl_status tl__cuda_embedding(tl__cuda *c, const tl__cuda_weight *w, const int32_t *ids,
                             uint32_t m, float *out);
/* Rows [row0, row0 + n_rows) of w dequantized to F16 (n_rows x ne0). */
tl_status tl__cuda_dequantize_f16(tl__cuda *c, const tl__cuda_weight *w, int64_t row0,
                                  int64_t n_rows, uint16_t *out);

/* ---- elementwise and row operations --------------------------------------- */

/* out (m, n) = x / rms(x) * w per row (w may be NULL); out may be x. When xq
 * is not NULL the result is also written quantized (n a multiple of 32). */
tl_status tl__cuda_rmsnorm(tl__cuda *c, float *out, const float *x, const float *w, uint32_t m,
                           uint32_t n, float eps, void *xq);
/* y (n) += x (n). */
tl_status tl__cuda_add(tl__cuda *c, float *y, const float *x, size_t n);
/* y (m, n) += bias (n) on every row. */
tl_status tl__cuda_add_bias(tl__cuda *c, float *y, const float *bias, uint32_t m, uint32_t n);
/* out (n) = silu(gate) * up; out may be gate; xq as for rmsnorm. */
tl_status tl__cuda_swiglu(tl__cuda *c, float *out, const float *gate, const float *up, size_t n,
                          void *xq);
/* Softmax of each row of x (m, n) in place. */
tl_status tl__cuda_softmax(tl__cuda *c, float *x, uint32_t m, uint32_t n);

/* RoPE in place on x (m tokens, n_head heads of head_dim) at device
 * positions pos (m). freq: device table of n_rot/2 frequencies (radians per
 * position, doubles, as tl__rope's); the angle is computed in double as the
 * CPU engine does. neox: pairs (i, i + n_rot/2), else (2i, 2i+1). */
tl_status tl__cuda_rope(tl__cuda *c, float *x, uint32_t m, uint32_t n_head, uint32_t head_dim,
                        const int32_t *pos, const double *freq, uint32_t n_rot, bool neox,
                        float mscale);

/* ---- KV cache and attention ------------------------------------------------ */

/* F16 cache of one layer: K rows and V rows of n_kv_embd values per position. */
typedef struct tl__cuda_kv_layer {
  uint16_t *k;      /* (n_ctx, row) binary16 */
  uint16_t *v;      /* (n_ctx, row) binary16 */
  uint32_t row;     /* elements per position (n_head_kv * head_dim) */
} tl__cuda_kv_layer;

/* Writes k and v (m, kv->row floats) at positions pos0 .. pos0+m-1. */
tl_status tl__cuda_kv_store(tl__cuda *c, const tl__cuda_kv_layer *kv, uint32_t pos0, uint32_t m,
                            const float *k, const float *v);
/* tl__cuda_rope on q (m, n_head heads) and k (m, n_head_kv heads), then
 * tl__cuda_kv_store of k and v at pos0: one launch for decode's three steps
 * (same results as the separate calls). */
tl_status tl__cuda_rope_qk_store(tl__cuda *c, float *q, float *k, const float *v, uint32_t m,
                                 uint32_t n_head, uint32_t n_head_kv, uint32_t head_dim,
                                 const int32_t *pos, const double *freq, uint32_t n_rot, bool neox,
                                 float mscale, const tl__cuda_kv_layer *kv, uint32_t pos0);
/* out (m, n_head * head_dim): causal attention of q (m, n_head * head_dim) at
 * positions pos0 .. pos0+m-1 over cache rows 0 .. pos0+m-1, grouped query
 * heads (n_head a multiple of n_head_kv), scores scaled by scale. Flash
 * style (online softmax over key tiles in shared memory, no score matrix);
 * the keys are split over blocks when few queries would leave the device
 * idle (decode), and the parts combined. head_dim <= 256, multiple of 32.
 * xq, when not NULL, also receives out quantized (as tl__cuda_quantize_act)
 * for the output projection. */
tl_status tl__cuda_attention(tl__cuda *c, const tl__cuda_kv_layer *kv, const float *q, uint32_t m,
                             uint32_t pos0, uint32_t n_head, uint32_t n_head_kv, uint32_t head_dim,
                             float scale, float *out, void *xq);

/* ---- sampling ---------------------------------------------------------------- */

/* *token (device int32) = index of the largest of x (n); ties to the lower. */
tl_status tl__cuda_argmax(tl__cuda *c, const float *x, uint32_t n, int32_t *token);
/* The k largest of x (n), sorted descending (ties: lower index first), into
 * device arrays vals (k) and ids (k). 1 <= k <= 64. */
tl_status tl__cuda_topk(tl__cuda *c, const float *x, uint32_t n, uint32_t k, float *vals,
                        int32_t *ids);
/* *token = a draw from softmax(vals / temp) over the k candidates of
 * tl__cuda_topk, with the uniform number *u in [0, 1) (device pointers, so a
 * captured graph reads a fresh u on each replay). temp <= 0 picks ids[0]. */
tl_status tl__cuda_sample(tl__cuda *c, const float *vals, const int32_t *ids, uint32_t k,
                          float temp, const float *u, int32_t *token);

/* ---- graphs ------------------------------------------------------------------- */

typedef struct tl__cuda_graph tl__cuda_graph;
/* Starts recording the stream's work instead of running it. */
tl_status tl__cuda_graph_begin(tl__cuda *c);
/* Ends the recording and instantiates it. Free with tl__cuda_graph_free. */
tl_status tl__cuda_graph_end(tl__cuda *c, tl__cuda_graph **out);
/* Replays a graph on the stream (asynchronous). */
tl_status tl__cuda_graph_launch(tl__cuda *c, tl__cuda_graph *g);
void tl__cuda_graph_free(tl__cuda_graph *g);

/* ---- timing and test data ------------------------------------------------------- */

/* Milliseconds of device time fn(ctx) queues on the stream, measured with
 * events around it (synchronizes). */
tl_status tl__cuda_time(tl__cuda *c, void (*fn)(void *ctx), void *ctx, float *ms);
/* Fills a weight with random but valid blocks (finite scales, values within
 * about [-1, 1]) from seed: benchmark data, never zeros. */
tl_status tl__cuda_fill_random(tl__cuda *c, const tl__cuda_weight *w, uint64_t seed);
/* Fills n floats with uniform values in [lo, hi) from seed. */
tl_status tl__cuda_fill_uniform(tl__cuda *c, float *x, size_t n, float lo, float hi,
                                uint64_t seed);

#ifdef __cplusplus
}
#endif

#endif
