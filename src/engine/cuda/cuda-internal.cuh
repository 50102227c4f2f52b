/* What the CUDA files of the engine share: the context, the error helpers
 * and warp reductions. Never included from C. */
#ifndef TL_ENGINE_CUDA_INTERNAL_CUH
#define TL_ENGINE_CUDA_INTERNAL_CUH

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "engine/cuda/cuda-kernels.h"

struct tl__cuda {
  int device;
  int n_sm;
  size_t smem_optin;       /* bytes of shared memory a block may opt in to */
  cudaStream_t stream;
  cublasHandle_t blas;
  void *ws;                /* workspace (device) */
  size_t ws_bytes;
  char name[256];
  char msg[256];           /* last error */
};

/* Records a failed CUDA call on the context and returns TL_EDEVICE. */
tl_status tl__cuda_fail(tl__cuda *c, cudaError_t e, const char *what);
/* After a launch: TL_OK or the launch error. */
tl_status tl__cuda_check_launch(tl__cuda *c, const char *what);
/* Records an argument error (TL_EINVAL / TL_EUNSUPPORTED / TL_ELIMIT). */
tl_status tl__cuda_bad(tl__cuda *c, tl_status st, const char *what);

/* Raise the shared-memory limits of the kernels that need more than 48 KiB,
 * once at creation (never during graph capture). */
tl_status tl__cuda_attention_init(tl__cuda *c);
tl_status tl__cuda_sample_init(tl__cuda *c);

#define TL__CUDA_TRY(c, call)                                                                      \
  do {                                                                                             \
    cudaError_t e_ = (call);                                                                       \
    if (e_ != cudaSuccess)                                                                         \
      return tl__cuda_fail((c), e_, #call);                                                        \
  } while (0)

static __device__ __forceinline__ float tl__warp_sum(float v)
{
#pragma unroll
  for (int o = 16; o > 0; o >>= 1)
    v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

static __device__ __forceinline__ float tl__warp_max(float v)
{
#pragma unroll
  for (int o = 16; o > 0; o >>= 1)
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

/* Sum over a block of blockDim.x threads (a multiple of 32, at most 1024);
 * every thread gets the result. red: 32 floats of shared memory. */
static __device__ __forceinline__ float tl__block_sum(float v, float *red)
{
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = tl__warp_sum(v);
  __syncthreads();
  if (lane == 0)
    red[warp] = v;
  __syncthreads();
  v = lane < nw ? red[lane] : 0.0f;
  return tl__warp_sum(v);
}

static __device__ __forceinline__ float tl__block_max(float v, float *red)
{
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = tl__warp_max(v);
  __syncthreads();
  if (lane == 0)
    red[warp] = v;
  __syncthreads();
  v = lane < nw ? red[lane] : -INFINITY;
  return tl__warp_max(v);
}

/* Quantizes one value per lane of a warp (32 consecutive activations) to
 * the layout of tl__cuda_act_bytes: qs[lane] and, from lane 0, ds. */
static __device__ __forceinline__ void tl__quantize32(float v, int8_t *qs, float2 *ds)
{
  const float amax = tl__warp_max(fabsf(v));
  const float d = amax / 127.0f;
  const int q = amax == 0.0f ? 0 : __float2int_rn(v / d);
  const float s = tl__warp_sum((float)q);
  qs[threadIdx.x & 31] = (int8_t)q;
  if ((threadIdx.x & 31) == 0)
    *ds = make_float2(d, d * s);
}

/* Offset of the scale pairs in an activation buffer of n values. */
static __host__ __device__ __forceinline__ size_t tl__act_ds_offset(int64_t n)
{
  return ((size_t)n + 15) & ~(size_t)15;
}

#endif
