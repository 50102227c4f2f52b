/* Matrix products on the GPU. Decode (m <= 8 rows): one warp per weight row
 * reads the row once, 32 elements per lane per step, and multiplies it with
 * every activation row: quantized types as int8 dot products (dp4a) against
 * activations quantized to 8 bits per 32 (the scheme of GGML's Q8_1), float
 * types in float. Prefill: the weight dequantized to F16 in row chunks and
 * cuBLAS (F16 inputs, F32 accumulation). Also dequantization and embedding
 * rows. One template per operation over the decode steps of
 * quant-decode.cuh. */
#include <stdio.h>

#include "engine/cuda/quant-decode.cuh"

#define MV_WARPS 4 /* rows per block of the matrix-vector kernel */

size_t tl__cuda_act_bytes(int64_t n)
{
  return tl__act_ds_offset(n) + (size_t)(n / 32) * sizeof(float2);
}

static __global__ void k_quantize(const float *x, int64_t n, int8_t *qs, float2 *ds)
{
  const int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i - (threadIdx.x & 31) >= n)
    return; /* whole warps only: n is a multiple of 32 */
  tl__quantize32(x[i], qs + (i & ~(int64_t)31), ds + (i >> 5));
}

tl_status tl__cuda_quantize_act(tl__cuda *c, const float *x, int64_t n, void *xq)
{
  if (n <= 0 || n % 32)
    return tl__cuda_bad(c, TL_EINVAL, "quantize_act: n must be a positive multiple of 32");
  int8_t *qs = (int8_t *)xq;
  float2 *ds = (float2 *)((char *)xq + tl__act_ds_offset(n));
  k_quantize<<<(unsigned)((n + 255) / 256), 256, 0, c->stream>>>(x, n, qs, ds);
  return tl__cuda_check_launch(c, "quantize_act");
}

/* Up to four weights of one type and width read by one launch: their rows
 * are numbered one after the other (q, k, v; gate, up). */
#define MV_MAX_PARTS 4
struct mv_parts {
  const uint8_t *w[MV_MAX_PARTS];
  float *y[MV_MAX_PARTS];
  size_t row_bytes[MV_MAX_PARTS];
  int begin[MV_MAX_PARTS + 1]; /* first global row of each part; begin[n] = total */
  int n;
};

template <class T, int M>
static __global__ void __launch_bounds__(MV_WARPS * 32)
    k_matvec(const __grid_constant__ mv_parts P, int units, const int8_t *__restrict__ xq,
             const float2 *__restrict__ xds, const float *__restrict__ x, int accumulate)
{
  const int grow = blockIdx.x * MV_WARPS + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (grow >= P.begin[P.n])
    return;
  /* The part of this row, chosen with constant indices only: indexing the
   * parameter arrays with a run-time index copies them to local memory in
   * every thread (a 120-byte stack frame, measured to halve throughput). */
  const uint8_t *w = P.w[0];
  float *y = P.y[0];
  size_t row_bytes = P.row_bytes[0];
  int first = P.begin[0], end = P.begin[1];
#pragma unroll
  for (int i = 1; i < MV_MAX_PARTS; i++) {
    if (i < P.n && grow >= P.begin[i]) {
      w = P.w[i];
      y = P.y[i];
      row_bytes = P.row_bytes[i];
      first = P.begin[i];
      end = P.begin[i + 1];
    }
  }
  const int row = grow - first, n = end - first;
  const uint8_t *wr = w + (size_t)row * row_bytes;
  const int64_t k = (int64_t)units * 32;
  float sum[M];
#pragma unroll
  for (int m = 0; m < M; m++)
    sum[m] = 0.0f;
#pragma unroll 2
  for (int u = lane; u < units; u += 32) {
    if constexpr (T::INT8) {
      tl__unit_q o;
      T::decode(wr, u, o);
#pragma unroll
      for (int m = 0; m < M; m++) {
        const int4 *xp = (const int4 *)(xq + m * k + (int64_t)u * 32);
        const int4 a = xp[0], b = xp[1];
        int s0 = __dp4a(o.q[0], a.x, 0);
        s0 = __dp4a(o.q[1], a.y, s0);
        s0 = __dp4a(o.q[2], a.z, s0);
        s0 = __dp4a(o.q[3], a.w, s0);
        int s1 = __dp4a(o.q[4], b.x, 0);
        s1 = __dp4a(o.q[5], b.y, s1);
        s1 = __dp4a(o.q[6], b.z, s1);
        s1 = __dp4a(o.q[7], b.w, s1);
        const float2 ds = xds[(int64_t)m * units + u];
        sum[m] += ds.x * (o.a0 * (float)s0 + o.a1 * (float)s1) + o.b * ds.y;
      }
    } else {
      float v[32];
      T::decode_f(wr, u, v);
#pragma unroll
      for (int m = 0; m < M; m++) {
        const float4 *xp = (const float4 *)(x + m * k + (int64_t)u * 32);
        float s = 0.0f;
#pragma unroll
        for (int i = 0; i < 8; i++) {
          const float4 a = xp[i];
          s += v[4 * i] * a.x + v[4 * i + 1] * a.y + v[4 * i + 2] * a.z + v[4 * i + 3] * a.w;
        }
        sum[m] += s;
      }
    }
  }
#pragma unroll
  for (int m = 0; m < M; m++) {
    const float s = tl__warp_sum(sum[m]);
    if (lane == 0) {
      float *yp = y + (int64_t)m * n + row;
      *yp = accumulate ? *yp + s : s;
    }
  }
}

static tl_status check_weight(tl__cuda *c, const tl__cuda_weight *w, const char *op)
{
  if (!w || !w->data || w->ne0 <= 0 || w->ne1 <= 0 || w->ne0 % 32 || w->ne1 > INT32_MAX ||
      w->ne0 > INT32_MAX)
    return tl__cuda_bad(c, TL_EINVAL, op);
  int block = 0;
  if (!tl__dispatch_type(w->type, [&]<class T>() { block = T::BLOCK; }))
    return tl__cuda_bad(c, TL_EUNSUPPORTED, op);
  if (w->ne0 % block)
    return tl__cuda_bad(c, TL_EINVAL, op);
  return TL_OK;
}

template <class T, int M>
static void launch_matvec_m(tl__cuda *c, uint32_t m, const mv_parts &P, int units,
                            const int8_t *qs, const float2 *ds, const float *x, bool accumulate)
{
  if constexpr (M > 0) {
    if (m == (uint32_t)M) {
      const unsigned blocks = (unsigned)((P.begin[P.n] + MV_WARPS - 1) / MV_WARPS);
      k_matvec<T, M><<<blocks, MV_WARPS * 32, 0, c->stream>>>(P, units, qs, ds, x,
                                                              accumulate ? 1 : 0);
    } else {
      launch_matvec_m<T, M - 1>(c, m, P, units, qs, ds, x, accumulate);
    }
  }
}

tl_status tl__cuda_matvec_multi(tl__cuda *c, const tl__cuda_weight *w, uint32_t n_w,
                                const float *x, const void *xq, uint32_t m, float *const *y,
                                bool accumulate)
{
  if (n_w < 1 || n_w > MV_MAX_PARTS)
    return tl__cuda_bad(c, TL_EINVAL, "matvec: 1..4 weights");
  mv_parts P = {};
  P.n = (int)n_w;
  int64_t rows = 0;
  for (uint32_t i = 0; i < n_w; i++) {
    tl_status st = check_weight(c, &w[i], "matvec: bad weight");
    if (st != TL_OK)
      return st;
    if (w[i].type != w[0].type || w[i].ne0 != w[0].ne0)
      return tl__cuda_bad(c, TL_EINVAL, "matvec: weights of one launch differ in type or width");
    P.w[i] = (const uint8_t *)w[i].data;
    P.y[i] = y[i];
    P.row_bytes[i] = w[i].row_bytes;
    P.begin[i] = (int)rows;
    rows += w[i].ne1;
  }
  if (rows > INT32_MAX)
    return tl__cuda_bad(c, TL_EINVAL, "matvec: too many rows");
  P.begin[n_w] = (int)rows;
  if (m < 1 || m > TL__CUDA_MATVEC_MAX_M)
    return tl__cuda_bad(c, TL_EINVAL, "matvec: m must be 1..8");
  const int64_t n_act = (int64_t)m * w[0].ne0;
  bool is_int = false;
  tl__dispatch_type(w[0].type, [&]<class T>() { is_int = T::INT8; });
  if (is_int && !xq) {
    if (tl__cuda_act_bytes(n_act) > c->ws_bytes)
      return tl__cuda_bad(c, TL_ELIMIT, "matvec: workspace too small");
    tl_status st = tl__cuda_quantize_act(c, x, n_act, c->ws);
    if (st != TL_OK)
      return st;
    xq = c->ws;
  }
  const int8_t *qs = (const int8_t *)xq;
  const float2 *ds = xq ? (const float2 *)((const char *)xq + tl__act_ds_offset(n_act)) : nullptr;
  const int units = (int)(w[0].ne0 / 32);
  tl__dispatch_type(w[0].type, [&]<class T>() {
    launch_matvec_m<T, TL__CUDA_MATVEC_MAX_M>(c, m, P, units, qs, ds, x, accumulate);
  });
  return tl__cuda_check_launch(c, "matvec");
}

tl_status tl__cuda_matvec(tl__cuda *c, const tl__cuda_weight *w, const float *x, const void *xq,
                          uint32_t m, float *y, bool accumulate)
{
  return tl__cuda_matvec_multi(c, w, 1, x, xq, m, &y, accumulate);
}

/* Dequantizes rows (row0 + r, or ids[r] when ids is set) to OutT. */
template <class T, class OutT>
static __global__ void k_dequant(const uint8_t *__restrict__ w, size_t row_bytes, int64_t row0,
                                 const int32_t *__restrict__ ids, int64_t n_rows, int units,
                                 OutT *__restrict__ out)
{
  const int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= n_rows * units)
    return;
  const int64_t r = idx / units;
  const int u = (int)(idx - r * units);
  const int64_t src = ids ? (int64_t)ids[r] : row0 + r;
  float v[32];
  tl__decode_floats<T>(w + (size_t)src * row_bytes, u, v);
  OutT *o = out + r * (int64_t)units * 32 + (int64_t)u * 32;
  if constexpr (sizeof(OutT) == 2) {
    uint4 *o4 = (uint4 *)o;
#pragma unroll
    for (int i = 0; i < 4; i++) {
      __half2 h[4];
#pragma unroll
      for (int k = 0; k < 4; k++)
        h[k] = __floats2half2_rn(v[8 * i + 2 * k], v[8 * i + 2 * k + 1]);
      o4[i] = *(uint4 *)h;
    }
  } else {
    float4 *o4 = (float4 *)o;
#pragma unroll
    for (int i = 0; i < 8; i++)
      o4[i] = make_float4(v[4 * i], v[4 * i + 1], v[4 * i + 2], v[4 * i + 3]);
  }
}

template <class OutT>
static tl_status launch_dequant(tl__cuda *c, const tl__cuda_weight *w, int64_t row0,
                                const int32_t *ids, int64_t n_rows, OutT *out)
{
  const int units = (int)(w->ne0 / 32);
  const int64_t total = n_rows * units;
  const unsigned blocks = (unsigned)((total + 127) / 128);
  tl__dispatch_type(w->type, [&]<class T>() {
    k_dequant<T, OutT><<<blocks, 128, 0, c->stream>>>((const uint8_t *)w->data, w->row_bytes,
                                                       row0, ids, n_rows, units, out);
  });
  return tl__cuda_check_launch(c, "dequantize");
}

tl_status tl__cuda_dequantize_f16(tl__cuda *c, const tl__cuda_weight *w, int64_t row0,
                                  int64_t n_rows, uint16_t *out)
{
  tl_status st = check_weight(c, w, "dequantize: bad weight");
  if (st != TL_OK)
    return st;
  if (row0 < 0 || n_rows < 1 || row0 + n_rows > w->ne1)
    return tl__cuda_bad(c, TL_EINVAL, "dequantize: rows out of range");
  return launch_dequant(c, w, row0, (const int32_t *)nullptr, n_rows, (__half *)out);
}

tl_status tl__cuda_embedding(tl__cuda *c, const tl__cuda_weight *w, const int32_t *ids, uint32_t m,
                             float *out)
{
  tl_status st = check_weight(c, w, "embedding: bad weight");
  if (st != TL_OK)
    return st;
  if (m < 1 || !ids)
    return tl__cuda_bad(c, TL_EINVAL, "embedding: no rows");
  return launch_dequant(c, w, 0, ids, m, out);
}

static __global__ void k_to_half(const float *__restrict__ x, int64_t n, __half *__restrict__ o)
{
  const int64_t i = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) * 2;
  if (i < n) /* n is even (a multiple of 32) */
    *(__half2 *)(o + i) = __floats2half2_rn(x[i], x[i + 1]);
}

#define GEMM_TILE_BYTES ((size_t)64 << 20) /* F16 weight rows dequantized at once */

static size_t align256(size_t b)
{
  return (b + 255) & ~(size_t)255;
}

size_t tl__cuda_matmul_workspace(tl_qtype type, int64_t m, int64_t n, int64_t k)
{
  if (m <= TL__CUDA_MATVEC_MAX_M)
    return tl__cuda_act_bytes(m * k);
  size_t tile = (size_t)n * k * 2;
  if (tile > GEMM_TILE_BYTES)
    tile = GEMM_TILE_BYTES;
  return align256((size_t)m * k * 2) + tile;
}

tl_status tl__cuda_matmul(tl__cuda *c, const tl__cuda_weight *w, const float *x, uint32_t m,
                          float *y, bool accumulate)
{
  if (m <= TL__CUDA_MATVEC_MAX_M)
    return tl__cuda_matvec(c, w, x, NULL, m, y, accumulate);
  tl_status st = check_weight(c, w, "matmul: bad weight");
  if (st != TL_OK)
    return st;
  const int64_t k = w->ne0, n = w->ne1;
  const size_t xh_bytes = align256((size_t)m * k * 2);
  if (xh_bytes + (size_t)k * 2 * 64 > c->ws_bytes)
    return tl__cuda_bad(c, TL_ELIMIT, "matmul: workspace too small");
  __half *xh = (__half *)c->ws;
  __half *tile = (__half *)((char *)c->ws + xh_bytes);
  int64_t rows = (int64_t)((c->ws_bytes - xh_bytes) / ((size_t)k * 2));
  if (rows * k * 2 > (int64_t)GEMM_TILE_BYTES)
    rows = (int64_t)(GEMM_TILE_BYTES / ((size_t)k * 2));
  rows = rows / 64 * 64;
  if (rows > n)
    rows = n;
  const int64_t nx = (int64_t)m * k;
  k_to_half<<<(unsigned)((nx / 2 + 255) / 256), 256, 0, c->stream>>>(x, nx, xh);
  if ((st = tl__cuda_check_launch(c, "matmul: convert")) != TL_OK)
    return st;
  const float one = 1.0f, zero = 0.0f;
  for (int64_t r0 = 0; r0 < n; r0 += rows) {
    const int64_t nr = n - r0 < rows ? n - r0 : rows;
    if ((st = launch_dequant(c, w, r0, (const int32_t *)nullptr, nr, tile)) != TL_OK)
      return st;
    /* Column-major view: Y^T (n x m, ld n) = W (k x nr)^T * X^T (k x m). */
    cublasStatus_t bs = cublasGemmEx(c->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)nr, (int)m, (int)k,
                                     &one, tile, CUDA_R_16F, (int)k, xh, CUDA_R_16F, (int)k,
                                     accumulate ? &one : &zero, y + r0, CUDA_R_32F, (int)n,
                                     CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    if (bs != CUBLAS_STATUS_SUCCESS) {
      snprintf(c->msg, sizeof c->msg, "matmul: cublasGemmEx failed (status %d)", (int)bs);
      return TL_EDEVICE;
    }
  }
  return TL_OK;
}
