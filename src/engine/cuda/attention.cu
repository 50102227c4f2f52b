/* Causal grouped-query attention over an F16 KV cache on the GPU, in the
 * manner of FlashAttention (Dao et al. 2022) and its split-KV decode
 * variant: a block takes a tile of query tokens times the query heads of
 * one KV head, walks the keys in tiles of 32 staged in shared memory, and
 * keeps a running max, sum and output per query row (online softmax), so no
 * score matrix is ever stored. When the query tiles alone would leave most
 * multiprocessors idle (decode), the keys are split over blocks and the
 * partial results combined by a second kernel. Float arithmetic throughout. */
#include "engine/cuda/cuda-internal.cuh"

#define ATT_BK 32     /* keys per shared-memory tile */
#define ATT_WARPS 8
#define ATT_ROWS 32   /* query rows (token, head) per block at most */
#define ATT_RPW (ATT_ROWS / ATT_WARPS)

typedef struct att_plan {
  uint32_t gqa, qt, n_tiles, n_split, keys_per_split;
  size_t smem, ws;
} att_plan;

static att_plan plan_attention(uint32_t m, uint32_t n_keys, uint32_t n_head, uint32_t n_head_kv,
                               uint32_t hd, int n_sm)
{
  att_plan p;
  p.gqa = n_head / n_head_kv;
  p.qt = ATT_ROWS / p.gqa;
  if (p.qt > m)
    p.qt = m;
  p.n_tiles = (m + p.qt - 1) / p.qt;
  const uint32_t blocks = p.n_tiles * n_head_kv, key_tiles = (n_keys + ATT_BK - 1) / ATT_BK;
  uint32_t split = 1;
  if (blocks < 2u * (uint32_t)n_sm)
    split = (2u * (uint32_t)n_sm + blocks - 1) / blocks;
  if (split > key_tiles)
    split = key_tiles;
  p.keys_per_split = (key_tiles + split - 1) / split * ATT_BK;
  p.n_split = (n_keys + p.keys_per_split - 1) / p.keys_per_split;
  const uint32_t rows = p.qt * p.gqa;
  p.smem = ((size_t)rows * hd + (size_t)ATT_BK * (hd + 1) + (size_t)ATT_BK * hd) * sizeof(float);
  p.ws = (size_t)p.n_split * m * n_head * (hd + 2) * sizeof(float);
  return p;
}

size_t tl__cuda_attention_workspace(uint32_t m, uint32_t n_head, uint32_t head_dim, int n_sm)
{
  /* plan_attention splits the keys at most ceil(2 n_sm / blocks) ways, and a
   * plan has at least ceil(m / 32) query tiles. */
  const uint32_t tiles = (m + ATT_ROWS - 1) / ATT_ROWS, want = 2u * (uint32_t)(n_sm > 0 ? n_sm : 1);
  const size_t splits = (want + tiles - 1) / tiles;
  return splits * m * n_head * (head_dim + 2) * sizeof(float) + 256;
}

template <int D>
static __global__ void __launch_bounds__(ATT_WARPS * 32)
    k_attention(const float *__restrict__ q, const __half *__restrict__ kc,
                const __half *__restrict__ vc, uint32_t row, uint32_t m, uint32_t pos0,
                uint32_t n_head, uint32_t gqa, uint32_t qt, uint32_t keys_per_split, float scale,
                float *__restrict__ part, float2 *__restrict__ ml)
{
  constexpr int HD = 32 * D;
  extern __shared__ float smem[];
  const uint32_t tile = blockIdx.x, g = blockIdx.y, split = blockIdx.z;
  const uint32_t t0 = tile * qt, t_end = min(t0 + qt, m), rows = (t_end - t0) * gqa;
  float *qs = smem;                       /* (rows, HD) */
  float *ks = qs + ATT_ROWS * HD;         /* (BK, HD + 1) */
  float *vs = ks + ATT_BK * (HD + 1);     /* (BK, HD) */
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;

  for (uint32_t i = threadIdx.x; i < rows * HD; i += blockDim.x) {
    const uint32_t r = i / HD, d = i % HD, t = t0 + r / gqa, h = g * gqa + r % gqa;
    qs[i] = q[((size_t)t * n_head + h) * HD + d] * scale;
  }
  const uint32_t k_begin = split * keys_per_split;
  uint32_t k_end = k_begin + keys_per_split;
  if (k_end > pos0 + t_end)
    k_end = pos0 + t_end;

  float acc[ATT_RPW][D], mi[ATT_RPW], li[ATT_RPW];
#pragma unroll
  for (int i = 0; i < ATT_RPW; i++) {
    mi[i] = -INFINITY;
    li[i] = 0.0f;
#pragma unroll
    for (int d = 0; d < D; d++)
      acc[i][d] = 0.0f;
  }

  for (uint32_t kb = k_begin; kb < k_end; kb += ATT_BK) {
    __syncthreads();
    for (uint32_t i = threadIdx.x; i < ATT_BK * HD / 2; i += blockDim.x) {
      const uint32_t j = i / (HD / 2), d = 2 * (i % (HD / 2)), p = kb + j;
      float2 kf = make_float2(0.0f, 0.0f), vf = kf;
      if (p < k_end) {
        const size_t off = (size_t)p * row + (size_t)g * HD + d;
        kf = __half22float2(*(const __half2 *)(kc + off));
        vf = __half22float2(*(const __half2 *)(vc + off));
      }
      ks[j * (HD + 1) + d] = kf.x;
      ks[j * (HD + 1) + d + 1] = kf.y;
      vs[j * HD + d] = vf.x;
      vs[j * HD + d + 1] = vf.y;
    }
    __syncthreads();
#pragma unroll
    for (int i = 0; i < ATT_RPW; i++) {
      const uint32_t r = warp + i * ATT_WARPS;
      if (r >= rows)
        break;
      const uint32_t t = t0 + r / gqa, p = kb + lane;
      const bool ok = p < k_end && p <= pos0 + t;
      const float *qr = qs + r * HD, *kr = ks + lane * (HD + 1);
      float s = 0.0f;
#pragma unroll 8
      for (int d = 0; d < HD; d++)
        s += qr[d] * kr[d];
      s = ok ? s : -INFINITY;
      const float m_new = fmaxf(mi[i], tl__warp_max(s));
      if (m_new == -INFINITY)
        continue; /* every key of this tile is in this row's future */
      const float pr = ok ? __expf(s - m_new) : 0.0f;
      const float corr = __expf(mi[i] - m_new);
      li[i] = li[i] * corr + tl__warp_sum(pr);
      mi[i] = m_new;
#pragma unroll
      for (int d = 0; d < D; d++)
        acc[i][d] *= corr;
#pragma unroll 8
      for (int j = 0; j < ATT_BK; j++) {
        const float pj = __shfl_sync(0xffffffffu, pr, j);
#pragma unroll
        for (int d = 0; d < D; d++)
          acc[i][d] += pj * vs[j * HD + lane + 32 * d];
      }
    }
  }
#pragma unroll
  for (int i = 0; i < ATT_RPW; i++) {
    const uint32_t r = warp + i * ATT_WARPS;
    if (r >= rows)
      break;
    const uint32_t t = t0 + r / gqa, h = g * gqa + r % gqa;
    const size_t qi = ((size_t)split * m + t) * n_head + h;
#pragma unroll
    for (int d = 0; d < D; d++)
      part[qi * HD + lane + 32 * d] = acc[i][d];
    if (lane == 0)
      ml[qi] = make_float2(mi[i], li[i]);
  }
}

static __global__ void k_attention_combine(const float *__restrict__ part,
                                           const float2 *__restrict__ ml, uint32_t n_split,
                                           uint32_t n_rows, uint32_t hd, float *__restrict__ out,
                                           int8_t *qs, float2 *ds)
{
  const uint32_t qi = blockIdx.x;
  float mx = -INFINITY;
  for (uint32_t s = 0; s < n_split; s++)
    mx = fmaxf(mx, ml[(size_t)s * n_rows + qi].x);
  float l = 0.0f;
  for (uint32_t s = 0; s < n_split; s++) {
    const float2 v = ml[(size_t)s * n_rows + qi];
    if (v.x != -INFINITY)
      l += __expf(v.x - mx) * v.y;
  }
  for (uint32_t d = threadIdx.x; d < hd; d += blockDim.x) {
    float o = 0.0f;
    for (uint32_t s = 0; s < n_split; s++) {
      const float2 v = ml[(size_t)s * n_rows + qi];
      if (v.x != -INFINITY)
        o += __expf(v.x - mx) * part[((size_t)s * n_rows + qi) * hd + d];
    }
    const size_t i = (size_t)qi * hd + d;
    out[i] = o / l;
    if (qs) /* a warp holds 32 consecutive outputs: hd and blockDim are multiples of 32 */
      tl__quantize32(o / l, qs + (i & ~(size_t)31), ds + (i >> 5));
  }
}

template <int D>
static size_t attention_smem(void)
{
  return ((size_t)ATT_ROWS * 32 * D + (size_t)ATT_BK * (32 * D + 1) + (size_t)ATT_BK * 32 * D) *
         sizeof(float);
}

template <int D>
static tl_status attention_init_one(tl__cuda *c)
{
  const size_t smem = attention_smem<D>();
  if (smem > 48 * 1024 && smem <= c->smem_optin)
    TL__CUDA_TRY(c, cudaFuncSetAttribute(k_attention<D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         (int)smem));
  return TL_OK;
}

tl_status tl__cuda_attention_init(tl__cuda *c)
{
  tl_status st = attention_init_one<1>(c);
  if (st == TL_OK)
    st = attention_init_one<2>(c);
  if (st == TL_OK)
    st = attention_init_one<4>(c);
  if (st == TL_OK)
    st = attention_init_one<8>(c);
  return st;
}

template <int D>
static tl_status launch_attention(tl__cuda *c, const att_plan *p, const tl__cuda_kv_layer *kv,
                                  const float *q, uint32_t m, uint32_t pos0, uint32_t n_head,
                                  uint32_t n_head_kv, float scale, float *part, float2 *ml)
{
  const size_t smem = attention_smem<D>();
  if (smem > c->smem_optin)
    return tl__cuda_bad(c, TL_EUNSUPPORTED, "attention: head dimension needs too much shared memory");
  dim3 grid(p->n_tiles, n_head_kv, p->n_split);
  k_attention<D><<<grid, ATT_WARPS * 32, smem, c->stream>>>(
      q, (const __half *)kv->k, (const __half *)kv->v, kv->row, m, pos0, n_head, p->gqa, p->qt,
      p->keys_per_split, scale, part, ml);
  return tl__cuda_check_launch(c, "attention");
}

tl_status tl__cuda_attention(tl__cuda *c, const tl__cuda_kv_layer *kv, const float *q, uint32_t m,
                             uint32_t pos0, uint32_t n_head, uint32_t n_head_kv, uint32_t head_dim,
                             float scale, float *out, void *xq)
{
  if (!kv || m < 1 || n_head_kv < 1 || n_head % n_head_kv || head_dim % 32 ||
      head_dim > TL__CUDA_ATTN_MAX_HEAD_DIM || kv->row != n_head_kv * head_dim)
    return tl__cuda_bad(c, TL_EINVAL, "attention: bad shape");
  if (n_head / n_head_kv > ATT_ROWS)
    return tl__cuda_bad(c, TL_EUNSUPPORTED, "attention: more than 32 query heads per KV head");
  const att_plan p = plan_attention(m, pos0 + m, n_head, n_head_kv, head_dim, c->n_sm);
  const size_t ml_off = ((size_t)p.n_split * m * n_head * head_dim * sizeof(float) + 255) & ~(size_t)255;
  if (ml_off + (size_t)p.n_split * m * n_head * sizeof(float2) > c->ws_bytes)
    return tl__cuda_bad(c, TL_ELIMIT, "attention: workspace too small");
  float *part = (float *)c->ws;
  float2 *ml = (float2 *)((char *)c->ws + ml_off);
  tl_status st;
  switch (head_dim / 32) {
  case 1: st = launch_attention<1>(c, &p, kv, q, m, pos0, n_head, n_head_kv, scale, part, ml); break;
  case 2: st = launch_attention<2>(c, &p, kv, q, m, pos0, n_head, n_head_kv, scale, part, ml); break;
  case 4: st = launch_attention<4>(c, &p, kv, q, m, pos0, n_head, n_head_kv, scale, part, ml); break;
  case 8: st = launch_attention<8>(c, &p, kv, q, m, pos0, n_head, n_head_kv, scale, part, ml); break;
  default: return tl__cuda_bad(c, TL_EUNSUPPORTED, "attention: head_dim must be 32, 64, 128 or 256");
  }
  if (st != TL_OK)
    return st;
  k_attention_combine<<<m * n_head, head_dim < 128 ? head_dim : 128, 0, c->stream>>>(
      part, ml, p.n_split, m * n_head, head_dim, out, (int8_t *)xq,
      xq ? (float2 *)((char *)xq + tl__act_ds_offset((int64_t)m * n_head * head_dim)) : nullptr);
  return tl__cuda_check_launch(c, "attention_combine");
}
