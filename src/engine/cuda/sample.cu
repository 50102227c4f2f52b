/* Token selection on the GPU, so a decode step can end on the device:
 * argmax (greedy), the k largest logits (each block sorts a chunk in shared
 * memory with a bitonic network and keeps its best k; one block then sorts
 * the survivors), and a draw from the tempered softmax of those k with a
 * uniform number read from device memory. Ties go to the lower token id, as
 * in the CPU sampler (sampler.c). */
#include "engine/cuda/cuda-internal.cuh"

#define TOPK_CHUNK 4096   /* logits per first-stage block */
#define TOPK_MERGE 8192   /* candidates the second stage sorts at most */

/* a comes before b: larger value, or equal value and lower index. */
static __device__ __forceinline__ bool before(float av, int ai, float bv, int bi)
{
  return av > bv || (av == bv && ai < bi);
}

static __global__ void k_argmax(const float *__restrict__ x, uint32_t n, int32_t *token)
{
  __shared__ float sv[32];
  __shared__ int si[32];
  float bv = -INFINITY;
  int bi = 0x7fffffff;
  for (uint32_t i = threadIdx.x; i < n; i += blockDim.x) {
    const float v = x[i];
    if (before(v, (int)i, bv, bi)) {
      bv = v;
      bi = (int)i;
    }
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
    const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
    if (before(ov, oi, bv, bi)) {
      bv = ov;
      bi = oi;
    }
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) {
    sv[warp] = bv;
    si[warp] = bi;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < (int)(blockDim.x >> 5); w++)
      if (before(sv[w], si[w], bv, bi)) {
        bv = sv[w];
        bi = si[w];
      }
    *token = bi == 0x7fffffff ? 0 : bi;
  }
}

tl_status tl__cuda_argmax(tl__cuda *c, const float *x, uint32_t n, int32_t *token)
{
  if (n < 1)
    return tl__cuda_bad(c, TL_EINVAL, "argmax: empty");
  k_argmax<<<1, 1024, 0, c->stream>>>(x, n, token);
  return tl__cuda_check_launch(c, "argmax");
}

/* Sorts p (a power of two) pairs in shared memory, best first. */
static __device__ void bitonic_sort(float *v, int *id, int p)
{
  for (int size = 2; size <= p; size <<= 1) {
    for (int stride = size >> 1; stride > 0; stride >>= 1) {
      for (int i = threadIdx.x; i < p; i += blockDim.x) {
        const int j = i ^ stride;
        if (j > i) {
          const bool down = (i & size) == 0;
          const bool swap = down ? before(v[j], id[j], v[i], id[i]) : before(v[i], id[i], v[j], id[j]);
          if (swap) {
            const float tv = v[i];
            v[i] = v[j];
            v[j] = tv;
            const int ti = id[i];
            id[i] = id[j];
            id[j] = ti;
          }
        }
      }
      __syncthreads();
    }
  }
}

static __global__ void k_topk_chunk(const float *__restrict__ x, uint32_t n, uint32_t k,
                                    float *cv, int *ci)
{
  __shared__ float v[TOPK_CHUNK];
  __shared__ int id[TOPK_CHUNK];
  const uint32_t base = blockIdx.x * TOPK_CHUNK;
  for (uint32_t i = threadIdx.x; i < TOPK_CHUNK; i += blockDim.x) {
    const uint32_t g = base + i;
    v[i] = g < n ? x[g] : -INFINITY;
    id[i] = g < n ? (int)g : 0x7fffffff;
  }
  __syncthreads();
  bitonic_sort(v, id, TOPK_CHUNK);
  for (uint32_t i = threadIdx.x; i < k; i += blockDim.x) {
    cv[blockIdx.x * k + i] = v[i];
    ci[blockIdx.x * k + i] = id[i];
  }
}

static __global__ void k_topk_merge(const float *__restrict__ cv, const int *__restrict__ ci,
                                    uint32_t nc, uint32_t p, uint32_t k, float *vals, int32_t *ids)
{
  extern __shared__ float sm[];
  float *v = sm;
  int *id = (int *)(sm + p);
  for (uint32_t i = threadIdx.x; i < p; i += blockDim.x) {
    v[i] = i < nc ? cv[i] : -INFINITY;
    id[i] = i < nc ? ci[i] : 0x7fffffff;
  }
  __syncthreads();
  bitonic_sort(v, id, (int)p);
  for (uint32_t i = threadIdx.x; i < k; i += blockDim.x) {
    vals[i] = v[i];
    ids[i] = id[i];
  }
}

tl_status tl__cuda_topk(tl__cuda *c, const float *x, uint32_t n, uint32_t k, float *vals,
                        int32_t *ids)
{
  if (n < 1 || k < 1 || k > TL__CUDA_TOPK_MAX || k > n)
    return tl__cuda_bad(c, TL_EINVAL, "topk: k must be 1..64 and at most n");
  const uint32_t g = (n + TOPK_CHUNK - 1) / TOPK_CHUNK, nc = g * k;
  uint32_t p = 1;
  while (p < nc)
    p <<= 1;
  if (p > TOPK_MERGE)
    return tl__cuda_bad(c, TL_EUNSUPPORTED, "topk: too many logits for this k");
  if ((size_t)nc * 8 > c->ws_bytes)
    return tl__cuda_bad(c, TL_ELIMIT, "topk: workspace too small");
  float *cv = (float *)c->ws;
  int *ci = (int *)c->ws + nc;
  k_topk_chunk<<<g, 512, 0, c->stream>>>(x, n, k, cv, ci);
  tl_status st = tl__cuda_check_launch(c, "topk");
  if (st != TL_OK)
    return st;
  const size_t smem = (size_t)p * 8;
  k_topk_merge<<<1, 1024, smem, c->stream>>>(cv, ci, nc, p, k, vals, ids);
  return tl__cuda_check_launch(c, "topk merge");
}

tl_status tl__cuda_sample_init(tl__cuda *c)
{
  TL__CUDA_TRY(c, cudaFuncSetAttribute(k_topk_merge, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       TOPK_MERGE * 8));
  return TL_OK;
}

static __global__ void k_sample(const float *__restrict__ vals, const int32_t *__restrict__ ids,
                                uint32_t k, float temp, const float *__restrict__ u, int32_t *token)
{
  if (temp <= 0.0f) {
    *token = ids[0];
    return;
  }
  float total = 0.0f;
  for (uint32_t i = 0; i < k; i++)
    total += expf((vals[i] - vals[0]) / temp);
  const float r = *u * total;
  float cum = 0.0f;
  int32_t pick = ids[k - 1];
  for (uint32_t i = 0; i < k; i++) {
    cum += expf((vals[i] - vals[0]) / temp);
    if (r < cum) {
      pick = ids[i];
      break;
    }
  }
  *token = pick;
}

tl_status tl__cuda_sample(tl__cuda *c, const float *vals, const int32_t *ids, uint32_t k,
                          float temp, const float *u, int32_t *token)
{
  if (k < 1 || k > TL__CUDA_TOPK_MAX)
    return tl__cuda_bad(c, TL_EINVAL, "sample: k must be 1..64");
  k_sample<<<1, 1, 0, c->stream>>>(vals, ids, k, temp, u, token);
  return tl__cuda_check_launch(c, "sample");
}
