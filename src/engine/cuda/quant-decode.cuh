/* The per-type decode step of every CUDA kernel that reads weights: one unit
 * of 32 consecutive elements of a row, as GGML's layouts store them
 * (quant-blocks.h). Integer types give 32 int8 values q (packed in 8 ints)
 * with value = a0 * q (first 16) or a1 * q (last 16), plus b; float types
 * give 32 floats. Matrix-vector products, dequantization and embedding are
 * one template each over these traits. */
#ifndef TL_ENGINE_CUDA_QUANT_DECODE_CUH
#define TL_ENGINE_CUDA_QUANT_DECODE_CUH

#include "engine/cuda/cuda-internal.cuh"
#include "engine/quant-blocks.h"

struct tl__unit_q {
  int q[8];      /* 32 int8 values, element order */
  float a0, a1;  /* scale of elements 0-15 and 16-31 */
  float b;       /* offset of every element */
};

static __device__ __forceinline__ float tl__h2f(uint16_t h)
{
  return __half2float(__ushort_as_half(h));
}

/* N words from a 2-byte aligned address: N + 1 aligned 4-byte loads and a
 * funnel shift (no branch, so lanes of either alignment stay together). */
template <int N>
static __device__ __forceinline__ void tl__ld_words_a2(const uint8_t *p, int out[N])
{
  const uint32_t *a = (const uint32_t *)((uintptr_t)p & ~(uintptr_t)3);
  const uint32_t sh = 8u * (uint32_t)((uintptr_t)p & 3);
  uint32_t w[N + 1];
#pragma unroll
  for (int i = 0; i < N; i++)
    w[i] = a[i];
  w[N] = sh ? a[N] : 0u; /* aligned: never read past the N words */
#pragma unroll
  for (int i = 0; i < N; i++)
    out[i] = (int)__funnelshift_r(w[i], w[i + 1], sh);
}

/* 6-bit scale and min j of a K-quant super-block (GGML's get_scale_min_k4). */
static __device__ __forceinline__ void tl__kq_scale_min(int j, const uint8_t *s, int *sc, int *m)
{
  if (j < 4) {
    *sc = s[j] & 63;
    *m = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
    *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

struct tl__t_q4_0 {
  static constexpr bool INT8 = true;
  static constexpr int BLOCK = TL_QK4_0;
  static constexpr int BYTES = sizeof(tl__block_q4_0);
  static __device__ __forceinline__ void decode(const uint8_t *row, int u, tl__unit_q &o)
  {
    const uint8_t *b = row + (size_t)u * BYTES;
    const float d = tl__h2f(*(const uint16_t *)b);
    int qs[4];
    tl__ld_words_a2<4>(b + 2, qs);
#pragma unroll
    for (int i = 0; i < 4; i++) {
      const int v = qs[i];
      o.q[i] = __vsub4(v & 0x0F0F0F0F, 0x08080808);
      o.q[4 + i] = __vsub4((v >> 4) & 0x0F0F0F0F, 0x08080808);
    }
    o.a0 = o.a1 = d;
    o.b = 0.0f;
  }
};

struct tl__t_q8_0 {
  static constexpr bool INT8 = true;
  static constexpr int BLOCK = TL_QK8_0;
  static constexpr int BYTES = sizeof(tl__block_q8_0);
  static __device__ __forceinline__ void decode(const uint8_t *row, int u, tl__unit_q &o)
  {
    const uint8_t *b = row + (size_t)u * BYTES;
    const float d = tl__h2f(*(const uint16_t *)b);
    tl__ld_words_a2<8>(b + 2, o.q);
    o.a0 = o.a1 = d;
    o.b = 0.0f;
  }
};

struct tl__t_q4_K {
  static constexpr bool INT8 = true;
  static constexpr int BLOCK = TL_QK_K;
  static constexpr int BYTES = sizeof(tl__block_q4_K);
  static __device__ __forceinline__ void decode(const uint8_t *row, int u, tl__unit_q &o)
  {
    const tl__block_q4_K *blk = (const tl__block_q4_K *)(row + (size_t)(u >> 3) * BYTES);
    const int j = u & 7, shift = 4 * (j & 1);
    const int4 *qs = (const int4 *)(blk->qs + 32 * (j >> 1));
    const int4 v0 = qs[0], v1 = qs[1];
    const int w[8] = {v0.x, v0.y, v0.z, v0.w, v1.x, v1.y, v1.z, v1.w};
#pragma unroll
    for (int i = 0; i < 8; i++)
      o.q[i] = (w[i] >> shift) & 0x0F0F0F0F;
    int sc, m;
    tl__kq_scale_min(j, blk->scales, &sc, &m);
    o.a0 = o.a1 = tl__h2f(blk->d) * (float)sc;
    o.b = -tl__h2f(blk->dmin) * (float)m;
  }
};

struct tl__t_q5_K {
  static constexpr bool INT8 = true;
  static constexpr int BLOCK = TL_QK_K;
  static constexpr int BYTES = sizeof(tl__block_q5_K);
  static __device__ __forceinline__ void decode(const uint8_t *row, int u, tl__unit_q &o)
  {
    const tl__block_q5_K *blk = (const tl__block_q5_K *)(row + (size_t)(u >> 3) * BYTES);
    const int j = u & 7, shift = 4 * (j & 1);
    const int4 *qs = (const int4 *)(blk->qs + 32 * (j >> 1));
    const int4 *qh = (const int4 *)blk->qh;
    const int4 v0 = qs[0], v1 = qs[1], h0 = qh[0], h1 = qh[1];
    const int w[8] = {v0.x, v0.y, v0.z, v0.w, v1.x, v1.y, v1.z, v1.w};
    const int h[8] = {h0.x, h0.y, h0.z, h0.w, h1.x, h1.y, h1.z, h1.w};
#pragma unroll
    for (int i = 0; i < 8; i++)
      o.q[i] = ((w[i] >> shift) & 0x0F0F0F0F) | (((h[i] >> j) & 0x01010101) << 4);
    int sc, m;
    tl__kq_scale_min(j, blk->scales, &sc, &m);
    o.a0 = o.a1 = tl__h2f(blk->d) * (float)sc;
    o.b = -tl__h2f(blk->dmin) * (float)m;
  }
};

struct tl__t_q6_K {
  static constexpr bool INT8 = true;
  static constexpr int BLOCK = TL_QK_K;
  static constexpr int BYTES = sizeof(tl__block_q6_K);
  static __device__ __forceinline__ void decode(const uint8_t *row, int u, tl__unit_q &o)
  {
    /* 210-byte blocks: only 2-byte alignment is guaranteed. */
    const uint8_t *b = row + (size_t)(u >> 3) * BYTES;
    const int j = u & 7, h = j >> 2, r = j & 3;
    const uint8_t *ql = b + offsetof(tl__block_q6_K, ql) + 64 * h + 32 * (r & 1);
    const uint8_t *qh = b + offsetof(tl__block_q6_K, qh) + 32 * h;
    const int shl = 4 * (r >> 1), shh = 2 * r;
    int wl[8], wh[8];
    tl__ld_words_a2<8>(ql, wl);
    tl__ld_words_a2<8>(qh, wh);
#pragma unroll
    for (int i = 0; i < 8; i++) {
      const int lo = (wl[i] >> shl) & 0x0F0F0F0F;
      const int hi = ((wh[i] >> shh) & 0x03030303) << 4;
      o.q[i] = __vsub4(lo | hi, 0x20202020);
    }
    const int8_t *sc = (const int8_t *)(b + offsetof(tl__block_q6_K, scales)) + 8 * h + 2 * r;
    const float d = tl__h2f(*(const uint16_t *)(b + offsetof(tl__block_q6_K, d)));
    o.a0 = d * (float)sc[0];
    o.a1 = d * (float)sc[1];
    o.b = 0.0f;
  }
};

struct tl__t_f16 {
  static constexpr bool INT8 = false;
  static constexpr int BLOCK = 1;
  static constexpr int BYTES = 2;
  static __device__ __forceinline__ void decode_f(const uint8_t *row, int u, float v[32])
  {
    const uint4 *p = (const uint4 *)(row + (size_t)u * 64);
#pragma unroll
    for (int i = 0; i < 4; i++) {
      const uint4 w = p[i];
      const uint32_t a[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
      for (int k = 0; k < 4; k++) {
        const float2 f = __half22float2(*(const __half2 *)&a[k]);
        v[8 * i + 2 * k] = f.x;
        v[8 * i + 2 * k + 1] = f.y;
      }
    }
  }
};

struct tl__t_bf16 {
  static constexpr bool INT8 = false;
  static constexpr int BLOCK = 1;
  static constexpr int BYTES = 2;
  static __device__ __forceinline__ void decode_f(const uint8_t *row, int u, float v[32])
  {
    const uint4 *p = (const uint4 *)(row + (size_t)u * 64);
#pragma unroll
    for (int i = 0; i < 4; i++) {
      const uint4 w = p[i];
      const uint32_t a[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
      for (int k = 0; k < 4; k++) {
        v[8 * i + 2 * k] = __uint_as_float(a[k] << 16);
        v[8 * i + 2 * k + 1] = __uint_as_float(a[k] & 0xFFFF0000u);
      }
    }
  }
};

struct tl__t_f32 {
  static constexpr bool INT8 = false;
  static constexpr int BLOCK = 1;
  static constexpr int BYTES = 4;
  static __device__ __forceinline__ void decode_f(const uint8_t *row, int u, float v[32])
  {
    const float4 *p = (const float4 *)(row + (size_t)u * 128);
#pragma unroll
    for (int i = 0; i < 8; i++) {
      const float4 w = p[i];
      v[4 * i] = w.x;
      v[4 * i + 1] = w.y;
      v[4 * i + 2] = w.z;
      v[4 * i + 3] = w.w;
    }
  }
};

/* 32 floats of unit u of a row, for any type. */
template <class T>
static __device__ __forceinline__ void tl__decode_floats(const uint8_t *row, int u, float v[32])
{
  if constexpr (T::INT8) {
    tl__unit_q o;
    T::decode(row, u, o);
#pragma unroll
    for (int i = 0; i < 8; i++) {
#pragma unroll
      for (int k = 0; k < 4; k++) {
        const int q = (int)(int8_t)(o.q[i] >> (8 * k));
        v[4 * i + k] = (i < 4 ? o.a0 : o.a1) * (float)q + o.b;
      }
    }
  } else {
    T::decode_f(row, u, v);
  }
}

/* Calls f.template operator()<T>() with the traits of type t; false for a
 * type without a decode step. */
template <class F>
static bool tl__dispatch_type(tl_qtype t, F &&f)
{
  switch (t) {
  case TL_QTYPE_Q4_0: f.template operator()<tl__t_q4_0>(); return true;
  case TL_QTYPE_Q8_0: f.template operator()<tl__t_q8_0>(); return true;
  case TL_QTYPE_Q4_K: f.template operator()<tl__t_q4_K>(); return true;
  case TL_QTYPE_Q5_K: f.template operator()<tl__t_q5_K>(); return true;
  case TL_QTYPE_Q6_K: f.template operator()<tl__t_q6_K>(); return true;
  case TL_QTYPE_F16: f.template operator()<tl__t_f16>(); return true;
  case TL_QTYPE_BF16: f.template operator()<tl__t_bf16>(); return true;
  case TL_QTYPE_F32: f.template operator()<tl__t_f32>(); return true;
  default: return false;
  }
}

#endif
