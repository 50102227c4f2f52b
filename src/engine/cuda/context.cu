/* The CUDA context of the engine: device selection, the stream, the cuBLAS
 * handle and workspaces, device memory, error messages, graph capture of a
 * stream's work, event timing, and random test data generated on the device. */
#include <stdio.h>
#include <string.h>

#include "engine/cuda/quant-decode.cuh"

extern "C" {
#include "base/error-int.h"
}

#define BLAS_WORKSPACE ((size_t)32 << 20) /* cuBLAS's own scratch, fixed so graphs can hold it */

struct tl__cuda_graph {
  cudaGraphExec_t exec;
};

tl_status tl__cuda_fail(tl__cuda *c, cudaError_t e, const char *what)
{
  if (c)
    snprintf(c->msg, sizeof c->msg, "cuda: %s: %s", what, cudaGetErrorString(e));
  return TL_EDEVICE;
}

tl_status tl__cuda_check_launch(tl__cuda *c, const char *what)
{
  cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? TL_OK : tl__cuda_fail(c, e, what);
}

tl_status tl__cuda_bad(tl__cuda *c, tl_status st, const char *what)
{
  snprintf(c->msg, sizeof c->msg, "cuda: %s", what);
  return st;
}

int tl__cuda_device_count(void)
{
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return n;
}

void tl__cuda_free(tl__cuda *c)
{
  if (!c)
    return;
  cudaSetDevice(c->device);
  if (c->blas)
    cublasDestroy(c->blas);
  cudaFree(c->ws);
  if (c->stream)
    cudaStreamDestroy(c->stream);
  free(c);
}

tl_status tl__cuda_create(int device, size_t workspace_bytes, tl__cuda **out, tl_error *err)
{
  if (device < 0 || device >= tl__cuda_device_count())
    return tl__error_set(err, TL_EDEVICE, "cuda: no device %d", device);
  /* calloc, not the library allocator: this object owns driver resources and
   * is freed by tl__cuda_free only. */
  tl__cuda *c = (tl__cuda *)calloc(1, sizeof *c);
  if (!c)
    return tl__error_set(err, TL_ENOMEM, "cuda: out of memory");
  c->device = device;
  cudaDeviceProp prop;
  cudaError_t e = cudaSetDevice(device);
  if (e == cudaSuccess)
    e = cudaGetDeviceProperties(&prop, device);
  if (e == cudaSuccess)
    e = cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking);
  if (e == cudaSuccess)
    e = cudaMalloc(&c->ws, workspace_bytes + BLAS_WORKSPACE);
  if (e != cudaSuccess) {
    tl_status st = tl__error_set(err, e == cudaErrorMemoryAllocation ? TL_ENOMEM : TL_EDEVICE,
                                 "cuda: device %d: %s", device, cudaGetErrorString(e));
    (void)cudaGetLastError();
    tl__cuda_free(c);
    return st;
  }
  c->ws_bytes = workspace_bytes;
  c->n_sm = prop.multiProcessorCount;
  c->smem_optin = prop.sharedMemPerBlockOptin;
  snprintf(c->name, sizeof c->name, "%s", prop.name);
  if (cublasCreate(&c->blas) != CUBLAS_STATUS_SUCCESS ||
      cublasSetStream(c->blas, c->stream) != CUBLAS_STATUS_SUCCESS ||
      cublasSetWorkspace(c->blas, (char *)c->ws + workspace_bytes, BLAS_WORKSPACE) !=
          CUBLAS_STATUS_SUCCESS) {
    tl__cuda_free(c);
    return tl__error_set(err, TL_EDEVICE, "cuda: device %d: cuBLAS could not start", device);
  }
  if (tl__cuda_attention_init(c) != TL_OK || tl__cuda_sample_init(c) != TL_OK) {
    tl_status st = tl__error_set(err, TL_EDEVICE, "%s", c->msg);
    tl__cuda_free(c);
    return st;
  }
  *out = c;
  return TL_OK;
}

const char *tl__cuda_device_name(const tl__cuda *c)
{
  return c->name;
}

int tl__cuda_sm_count(const tl__cuda *c)
{
  return c->n_sm;
}

const char *tl__cuda_last_error(const tl__cuda *c)
{
  return c->msg;
}

void *tl__cuda_malloc(tl__cuda *c, size_t bytes)
{
  void *p = NULL;
  cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1);
  if (e != cudaSuccess) {
    tl__cuda_fail(c, e, "cudaMalloc");
    (void)cudaGetLastError();
    return NULL;
  }
  return p;
}

void tl__cuda_mfree(tl__cuda *c, void *p)
{
  (void)c;
  if (p)
    cudaFree(p);
}

tl_status tl__cuda_copy(tl__cuda *c, void *dst, const void *src, size_t bytes, bool to_device)
{
  TL__CUDA_TRY(c, cudaMemcpyAsync(dst, src, bytes,
                                  to_device ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToHost,
                                  c->stream));
  return TL_OK;
}

tl_status tl__cuda_copy_d2d(tl__cuda *c, void *dst, const void *src, size_t bytes)
{
  TL__CUDA_TRY(c, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, c->stream));
  return TL_OK;
}

tl_status tl__cuda_memset(tl__cuda *c, void *p, int value, size_t bytes)
{
  TL__CUDA_TRY(c, cudaMemsetAsync(p, value, bytes, c->stream));
  return TL_OK;
}

tl_status tl__cuda_sync(tl__cuda *c)
{
  TL__CUDA_TRY(c, cudaStreamSynchronize(c->stream));
  return TL_OK;
}

tl_status tl__cuda_graph_begin(tl__cuda *c)
{
  TL__CUDA_TRY(c, cudaStreamBeginCapture(c->stream, cudaStreamCaptureModeThreadLocal));
  return TL_OK;
}

tl_status tl__cuda_graph_end(tl__cuda *c, tl__cuda_graph **out)
{
  cudaGraph_t g = NULL;
  TL__CUDA_TRY(c, cudaStreamEndCapture(c->stream, &g));
  tl__cuda_graph *cg = (tl__cuda_graph *)calloc(1, sizeof *cg);
  if (!cg) {
    cudaGraphDestroy(g);
    return tl__cuda_bad(c, TL_ENOMEM, "graph: out of memory");
  }
  cudaError_t e = cudaGraphInstantiate(&cg->exec, g, 0);
  cudaGraphDestroy(g);
  if (e != cudaSuccess) {
    free(cg);
    return tl__cuda_fail(c, e, "cudaGraphInstantiate");
  }
  *out = cg;
  return TL_OK;
}

tl_status tl__cuda_graph_launch(tl__cuda *c, tl__cuda_graph *g)
{
  TL__CUDA_TRY(c, cudaGraphLaunch(g->exec, c->stream));
  return TL_OK;
}

void tl__cuda_graph_free(tl__cuda_graph *g)
{
  if (!g)
    return;
  cudaGraphExecDestroy(g->exec);
  free(g);
}

tl_status tl__cuda_time(tl__cuda *c, void (*fn)(void *ctx), void *ctx, float *ms)
{
  cudaEvent_t a, b;
  TL__CUDA_TRY(c, cudaEventCreate(&a));
  cudaError_t e = cudaEventCreate(&b);
  if (e != cudaSuccess) {
    cudaEventDestroy(a);
    return tl__cuda_fail(c, e, "cudaEventCreate");
  }
  e = cudaEventRecord(a, c->stream);
  if (e == cudaSuccess) {
    fn(ctx);
    e = cudaEventRecord(b, c->stream);
  }
  if (e == cudaSuccess)
    e = cudaEventSynchronize(b);
  if (e == cudaSuccess)
    e = cudaEventElapsedTime(ms, a, b);
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return e == cudaSuccess ? TL_OK : tl__cuda_fail(c, e, "event timing");
}

/* ---- random data --------------------------------------------------------- */

static __device__ __forceinline__ uint64_t mix64(uint64_t z)
{
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static __device__ __forceinline__ float unit_float(uint64_t h)
{
  return (float)(h >> 40) * (1.0f / 16777216.0f); /* [0, 1) */
}

/* One thread per block of the type (or per element of a float type). */
template <class T>
static __global__ void k_fill_weight(uint8_t *w, size_t n_blocks, uint64_t seed, tl_qtype type)
{
  const size_t b = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (b >= n_blocks)
    return;
  uint8_t *p = w + b * T::BYTES;
  const uint64_t s = seed ^ (b * 0xD1B54A32D192ED03ull);
  if constexpr (!T::INT8) {
    const float v = unit_float(mix64(s)) * 2.0f - 1.0f;
    if (type == TL_QTYPE_F16)
      *(__half *)p = __float2half_rn(v);
    else if (type == TL_QTYPE_BF16)
      *(__nv_bfloat16 *)p = __float2bfloat16_rn(v);
    else
      *(float *)p = v;
  } else {
    uint16_t *h = (uint16_t *)p;
    uint64_t r = 0;
    for (int i = 0; i < T::BYTES / 2; i++) {
      if (i % 4 == 0)
        r = mix64(s + (uint64_t)i);
      h[i] = (uint16_t)(r >> (16 * (i % 4)));
    }
    /* finite positive scales: d in [1e-3, 2e-3) (K-quants: per 6-bit scale) */
    const __half d = __float2half_rn(1e-3f * (1.0f + unit_float(mix64(s ^ 0x5555))));
    if (type == TL_QTYPE_Q6_K) {
      *(__half *)(p + offsetof(tl__block_q6_K, d)) = d;
    } else {
      *(__half *)p = d;
      if (type == TL_QTYPE_Q4_K || type == TL_QTYPE_Q5_K)
        *(__half *)(p + 2) = d;
    }
  }
}

tl_status tl__cuda_fill_random(tl__cuda *c, const tl__cuda_weight *w, uint64_t seed)
{
  size_t n_blocks = 0;
  bool ok = tl__dispatch_type(w->type, [&]<class T>() {
    n_blocks = (size_t)w->ne1 * w->row_bytes / T::BYTES;
    k_fill_weight<T><<<(unsigned)((n_blocks + 255) / 256), 256, 0, c->stream>>>(
        (uint8_t *)w->data, n_blocks, seed, w->type);
  });
  if (!ok)
    return tl__cuda_bad(c, TL_EUNSUPPORTED, "fill_random: type");
  return tl__cuda_check_launch(c, "fill_random");
}

static __global__ void k_fill_uniform(float *x, size_t n, float lo, float hi, uint64_t seed)
{
  const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n)
    x[i] = lo + (hi - lo) * unit_float(mix64(seed ^ (i * 0xD1B54A32D192ED03ull)));
}

tl_status tl__cuda_fill_uniform(tl__cuda *c, float *x, size_t n, float lo, float hi, uint64_t seed)
{
  if (n == 0)
    return TL_OK;
  k_fill_uniform<<<(unsigned)((n + 255) / 256), 256, 0, c->stream>>>(x, n, lo, hi, seed);
  return tl__cuda_check_launch(c, "fill_uniform");
}
