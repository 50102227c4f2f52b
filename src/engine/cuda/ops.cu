/* Row and elementwise operations of the forward pass on the GPU: RMSNorm
 * (optionally writing the quantized activations the matrix-vector kernels
 * read, so a norm and its quantization are one launch), add, add_bias,
 * SwiGLU, softmax, RoPE (angles in double from the precomputed frequency
 * table, as rope.c does on the CPU) and the F16 KV-cache store. */
#include "engine/cuda/cuda-internal.cuh"

static __global__ void k_rmsnorm(float *out, const float *__restrict__ x,
                                 const float *__restrict__ w, int n, float eps, int8_t *qs,
                                 float2 *ds)
{
  __shared__ float red[32];
  const float *xr = x + (int64_t)blockIdx.x * n;
  float *orow = out + (int64_t)blockIdx.x * n;
  float ss = 0.0f;
  for (int i = threadIdx.x; i < n; i += blockDim.x)
    ss += xr[i] * xr[i];
  ss = tl__block_sum(ss, red);
  const float inv = rsqrtf(ss / (float)n + eps);
  if (!qs) {
    for (int i = threadIdx.x; i < n; i += blockDim.x)
      orow[i] = xr[i] * inv * (w ? w[i] : 1.0f);
    return;
  }
  /* One warp per 32-element unit, so each unit is quantized by one warp. */
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  const int64_t base = (int64_t)blockIdx.x * n;
  for (int u = warp; u < n / 32; u += nw) {
    const int i = u * 32 + lane;
    const float v = xr[i] * inv * (w ? w[i] : 1.0f);
    __syncwarp();
    orow[i] = v;
    tl__quantize32(v, qs + base + u * 32, ds + (base >> 5) + u);
  }
}

static unsigned row_threads(uint32_t n)
{
  return n >= 1024 ? 1024 : n >= 256 ? 256 : 128;
}

tl_status tl__cuda_rmsnorm(tl__cuda *c, float *out, const float *x, const float *w, uint32_t m,
                           uint32_t n, float eps, void *xq)
{
  if (m < 1 || n < 1 || (xq && n % 32))
    return tl__cuda_bad(c, TL_EINVAL, "rmsnorm: bad shape");
  int8_t *qs = (int8_t *)xq;
  float2 *ds = xq ? (float2 *)((char *)xq + tl__act_ds_offset((int64_t)m * n)) : nullptr;
  k_rmsnorm<<<m, row_threads(n), 0, c->stream>>>(out, x, w, (int)n, eps, qs, ds);
  return tl__cuda_check_launch(c, "rmsnorm");
}

static __global__ void k_add(float *y, const float *__restrict__ x, size_t n)
{
  const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n)
    y[i] += x[i];
}

tl_status tl__cuda_add(tl__cuda *c, float *y, const float *x, size_t n)
{
  if (n == 0)
    return TL_OK;
  k_add<<<(unsigned)((n + 255) / 256), 256, 0, c->stream>>>(y, x, n);
  return tl__cuda_check_launch(c, "add");
}

static __global__ void k_add_bias(float *y, const float *__restrict__ b, size_t total, uint32_t n)
{
  const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < total)
    y[i] += b[i % n];
}

tl_status tl__cuda_add_bias(tl__cuda *c, float *y, const float *bias, uint32_t m, uint32_t n)
{
  const size_t total = (size_t)m * n;
  if (total == 0)
    return TL_OK;
  k_add_bias<<<(unsigned)((total + 255) / 256), 256, 0, c->stream>>>(y, bias, total, n);
  return tl__cuda_check_launch(c, "add_bias");
}

static __global__ void k_swiglu(float *out, const float *gate, const float *__restrict__ up,
                                size_t n, int8_t *qs, float2 *ds)
{
  const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n)
    return; /* with qs, n is a multiple of 32: whole warps leave together */
  const float g = gate[i];
  const float v = g / (1.0f + __expf(-g)) * up[i];
  out[i] = v;
  if (qs)
    tl__quantize32(v, qs + (i & ~(size_t)31), ds + (i >> 5));
}

tl_status tl__cuda_swiglu(tl__cuda *c, float *out, const float *gate, const float *up, size_t n,
                          void *xq)
{
  if (n == 0 || (xq && n % 32))
    return tl__cuda_bad(c, TL_EINVAL, "swiglu: bad length");
  int8_t *qs = (int8_t *)xq;
  float2 *ds = xq ? (float2 *)((char *)xq + tl__act_ds_offset((int64_t)n)) : nullptr;
  k_swiglu<<<(unsigned)((n + 255) / 256), 256, 0, c->stream>>>(out, gate, up, n, qs, ds);
  return tl__cuda_check_launch(c, "swiglu");
}

static __global__ void k_softmax(float *x, int n)
{
  __shared__ float red[32];
  float *r = x + (int64_t)blockIdx.x * n;
  float mx = -INFINITY;
  for (int i = threadIdx.x; i < n; i += blockDim.x)
    mx = fmaxf(mx, r[i]);
  mx = tl__block_max(mx, red);
  float s = 0.0f;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    const float e = expf(r[i] - mx);
    r[i] = e;
    s += e;
  }
  s = tl__block_sum(s, red);
  const float inv = 1.0f / s;
  for (int i = threadIdx.x; i < n; i += blockDim.x)
    r[i] *= inv;
}

tl_status tl__cuda_softmax(tl__cuda *c, float *x, uint32_t m, uint32_t n)
{
  if (m < 1 || n < 1)
    return tl__cuda_bad(c, TL_EINVAL, "softmax: bad shape");
  k_softmax<<<m, row_threads(n), 0, c->stream>>>(x, (int)n);
  return tl__cuda_check_launch(c, "softmax");
}

/* One block per token: cos and sin of each pair once, then every head. */
static __global__ void k_rope(float *x, int n_head, int head_dim, const int32_t *__restrict__ pos,
                              const double *__restrict__ freq, int pairs, int neox, float mscale)
{
  extern __shared__ float cs[]; /* cos (pairs), then sin (pairs) */
  const int t = blockIdx.x;
  for (int i = threadIdx.x; i < pairs; i += blockDim.x) {
    double s, co;
    sincos((double)pos[t] * freq[i], &s, &co);
    cs[i] = (float)co * mscale;
    cs[pairs + i] = (float)s * mscale;
  }
  __syncthreads();
  float *xt = x + (int64_t)t * n_head * head_dim;
  for (int j = threadIdx.x; j < n_head * pairs; j += blockDim.x) {
    const int h = j / pairs, i = j - h * pairs;
    float *a = xt + h * head_dim + (neox ? i : 2 * i);
    float *b = a + (neox ? pairs : 1);
    const float x0 = *a, x1 = *b, co = cs[i], sn = cs[pairs + i];
    *a = x0 * co - x1 * sn;
    *b = x0 * sn + x1 * co;
  }
}

tl_status tl__cuda_rope(tl__cuda *c, float *x, uint32_t m, uint32_t n_head, uint32_t head_dim,
                        const int32_t *pos, const double *freq, uint32_t n_rot, bool neox,
                        float mscale)
{
  if (m < 1 || n_rot < 2 || n_rot > head_dim || n_rot % 2)
    return tl__cuda_bad(c, TL_EINVAL, "rope: bad shape");
  const int pairs = (int)(n_rot / 2);
  k_rope<<<m, 128, 2 * pairs * sizeof(float), c->stream>>>(x, (int)n_head, (int)head_dim, pos,
                                                            freq, pairs, neox ? 1 : 0, mscale);
  return tl__cuda_check_launch(c, "rope");
}

/* Decode's three steps in one launch: RoPE on q and k of token blockIdx.x,
 * then k and v of that token into the F16 cache at row pos0 + t. */
static __global__ void k_rope_store(float *q, float *k, const float *__restrict__ v, int n_head,
                                    int n_head_kv, int head_dim, const int32_t *__restrict__ pos,
                                    const double *__restrict__ freq, int pairs, int neox,
                                    float mscale, __half *kc, __half *vc, uint32_t row,
                                    uint32_t pos0)
{
  extern __shared__ float cs[];
  const int t = blockIdx.x;
  for (int i = threadIdx.x; i < pairs; i += blockDim.x) {
    double s, co;
    sincos((double)pos[t] * freq[i], &s, &co);
    cs[i] = (float)co * mscale;
    cs[pairs + i] = (float)s * mscale;
  }
  __syncthreads();
  float *qt = q + (int64_t)t * n_head * head_dim, *kt = k + (int64_t)t * n_head_kv * head_dim;
  for (int j = threadIdx.x; j < (n_head + n_head_kv) * pairs; j += blockDim.x) {
    const int h = j / pairs, i = j - h * pairs;
    float *a = (h < n_head ? qt + h * head_dim : kt + (h - n_head) * head_dim) + (neox ? i : 2 * i);
    float *b = a + (neox ? pairs : 1);
    const float x0 = *a, x1 = *b, co = cs[i], sn = cs[pairs + i];
    *a = x0 * co - x1 * sn;
    *b = x0 * sn + x1 * co;
  }
  __syncthreads();
  const size_t dst = (size_t)(pos0 + t) * row;
  const float *vt = v + (int64_t)t * row;
  for (uint32_t i = threadIdx.x; i < row; i += blockDim.x) {
    kc[dst + i] = __float2half_rn(kt[i]);
    vc[dst + i] = __float2half_rn(vt[i]);
  }
}

tl_status tl__cuda_rope_qk_store(tl__cuda *c, float *q, float *k, const float *v, uint32_t m,
                                 uint32_t n_head, uint32_t n_head_kv, uint32_t head_dim,
                                 const int32_t *pos, const double *freq, uint32_t n_rot, bool neox,
                                 float mscale, const tl__cuda_kv_layer *kv, uint32_t pos0)
{
  if (!kv || m < 1 || n_rot < 2 || n_rot > head_dim || n_rot % 2 || kv->row != n_head_kv * head_dim)
    return tl__cuda_bad(c, TL_EINVAL, "rope_qk_store: bad shape");
  const int pairs = (int)(n_rot / 2);
  k_rope_store<<<m, 256, 2 * pairs * sizeof(float), c->stream>>>(
      q, k, v, (int)n_head, (int)n_head_kv, (int)head_dim, pos, freq, pairs, neox ? 1 : 0, mscale,
      (__half *)kv->k, (__half *)kv->v, kv->row, pos0);
  return tl__cuda_check_launch(c, "rope_qk_store");
}

static __global__ void k_kv_store(__half *kc, __half *vc, const float *__restrict__ k,
                                  const float *__restrict__ v, size_t n)
{
  const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) {
    kc[i] = __float2half_rn(k[i]);
    vc[i] = __float2half_rn(v[i]);
  }
}

tl_status tl__cuda_kv_store(tl__cuda *c, const tl__cuda_kv_layer *kv, uint32_t pos0, uint32_t m,
                            const float *k, const float *v)
{
  if (!kv || m < 1)
    return tl__cuda_bad(c, TL_EINVAL, "kv_store: bad arguments");
  const size_t off = (size_t)pos0 * kv->row, n = (size_t)m * kv->row;
  k_kv_store<<<(unsigned)((n + 255) / 256), 256, 0, c->stream>>>(
      (__half *)kv->k + off, (__half *)kv->v + off, k, v, n);
  return tl__cuda_check_launch(c, "kv_store");
}
