/* CPU kernels of the inference engine: per-type traits, quantize and
 * dequantize rows, dot products of a weight row with a quantized activation
 * row, matrix multiply (decode M=1 and tiled prefill), a thread pool, and the
 * vector helpers of the forward pass (rmsnorm, softmax, SwiGLU, axpy ...).
 * Every kernel has a scalar reference; SIMD versions (AVX2, AVX-512, NEON)
 * are chosen once at run time (dispatch.c); TAILOR_CPU_ISA=scalar|avx2|
 * avx512|amx|neon forces one. Block layouts: src/engine/quant-blocks.h (GGML's).
 * Nothing here allocates except tl__threadpool_create. */
#ifndef TL_ENGINE_CPU_KERNELS_H
#define TL_ENGINE_CPU_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/quant-blocks.h"
#include "tailor/error.h"
#include "tailor/model.h"

/* ---- fp16 / bf16 scalars ------------------------------------------------ */

/* Exact IEEE binary16 -> binary32 (subnormals, inf, NaN kept). */
float tl__fp16_to_f32(tl__fp16 h);
/* Round to nearest even; overflow gives inf, NaN stays NaN. */
tl__fp16 tl__f32_to_fp16(float f);
float tl__bf16_to_f32(tl__bf16 h);
/* Round to nearest even (NaN stays NaN). */
tl__bf16 tl__f32_to_bf16(float f);

/* ---- per-type traits ---------------------------------------------------- */

typedef struct tl__qtype_traits {
  const char *name;      /* "q4_K" ... as GGML names it */
  int64_t block_elems;   /* elements per block (1 for F32/F16/BF16) */
  size_t block_bytes;    /* bytes per block */
  tl_qtype vec_dot_type; /* activation format of tl__vec_dot for this weight type */
} tl__qtype_traits;

/* Traits of a type the CPU kernels handle (F32, F16, BF16, Q8_0, Q4_0, Q4_K,
 * Q5_K, Q6_K, and the activation type Q8_K); NULL for any other. */
const tl__qtype_traits *tl__qtype_traits_get(tl_qtype t);
/* True when t is handled as a weight type by tl__vec_dot / tl__cpu_matmul. */
bool tl__qtype_is_weight(tl_qtype t);
/* Bytes of a row of n elements (n a multiple of the block size). */
size_t tl__row_bytes(tl_qtype t, int64_t n);

/* ---- rows ---------------------------------------------------------------- */

/* src: one row of n elements of type t (n a multiple of the block size) ->
 * n floats. Every type of tl__qtype_traits_get. */
void tl__dequantize_row(tl_qtype t, const void *src, float *dst, int64_t n);

/* Reference quantizer: n floats -> one row of type t (n a multiple of the
 * block size). Q8_0, Q4_0 and Q8_K round to nearest from the block's absolute
 * maximum; Q4_K and Q5_K search each sub-block's scale and min (weighted least
 * squares over candidate scales, as GGML's make_qkx2_quants); Q6_K searches
 * each sub-block's scale (as make_qx_quants). No importance matrix. Produces
 * GGML's layouts. F32/F16/BF16 convert. Returns bytes written. Deterministic
 * and the same on every ISA. */
size_t tl__quantize_row(tl_qtype t, const float *src, void *dst, int64_t n);

/* Quantizes an activation row into the vec_dot_type of weight type wtype with
 * the selected ISA's (bit-identical) quantizer. Returns bytes written. */
size_t tl__quantize_activation(tl_qtype wtype, const float *src, void *dst, int64_t n);

/* Dot product of one weight row (type wtype, n elements) with one activation
 * row already in traits(wtype)->vec_dot_type, with the selected ISA. */
float tl__vec_dot(tl_qtype wtype, int64_t n, const void *w_row, const void *x_quantized);

/* ---- ISA selection and kernel table ------------------------------------- */

typedef enum tl__isa {
  TL__ISA_SCALAR = 0,
  TL__ISA_AVX2 = 1,   /* AVX2 + FMA + F16C */
  TL__ISA_AVX512 = 2, /* AVX-512 F/BW/VL/DQ + VNNI + BF16 */
  TL__ISA_NEON = 3,   /* AArch64 Advanced SIMD with dot product */
  TL__ISA_AMX = 4,    /* AVX-512 table plus AMX-INT8 tiles for prefill matmuls */
  TL__ISA_COUNT
} tl__isa;

typedef float (*tl__vec_dot_fn)(int64_t n, const void *w, const void *x);
/* Tile kernel: y[i*y_stride + j] = dot(W row j, X row i) for j < nw, i < nx,
 * with nw <= TL__TILE_MAX_W and nx <= TL__TILE_MAX_X; strides in bytes for W
 * and X, in floats for Y. */
typedef void (*tl__vec_dot_tile_fn)(int64_t n, const void *w, size_t w_stride, int nw,
                                    const void *x, size_t x_stride, int nx,
                                    float *y, size_t y_stride);
typedef void (*tl__quantize_fn)(const float *src, void *dst, int64_t n);

#define TL__TILE_MAX_W 4
#define TL__TILE_MAX_X 8

struct tl__matmul_args;
struct tl__threadpool;

typedef struct tl__cpu_kernels {
  tl__isa isa;
  const char *name; /* "scalar", "avx2", "avx512", "neon" */
  tl__vec_dot_fn vec_dot[TL_QTYPE_COUNT];           /* by weight type; NULL = unsupported */
  tl__vec_dot_tile_fn vec_dot_tile[TL_QTYPE_COUNT]; /* by weight type */
  tl__quantize_fn quantize_act[TL_QTYPE_COUNT];     /* by activation type (F32, BF16, Q8_0, Q8_K) */
  /* Forward-pass helpers. n counts floats; in-place calls (y == x) are allowed. */
  void (*rmsnorm)(float *y, const float *x, const float *w, int64_t n, float eps); /* w may be NULL */
  float (*softmax)(float *x, int64_t n); /* in place; returns the sum of exp before normalising */
  void (*silu_mul)(float *y, const float *gate, const float *up, int64_t n); /* y = silu(gate)*up */
  void (*axpy)(float *y, float a, const float *x, int64_t n);                /* y += a*x */
  float (*dot_f32)(const float *a, const float *b, int64_t n);
  void (*scale)(float *y, float a, int64_t n);                               /* y *= a */
  void (*add)(float *y, const float *a, const float *b, int64_t n);          /* y = a + b */
  void (*fp16_to_f32)(const tl__fp16 *src, float *dst, int64_t n);
  void (*f32_to_fp16)(const float *src, tl__fp16 *dst, int64_t n);
  void (*bf16_to_f32)(const tl__bf16 *src, float *dst, int64_t n);
  /* Whole-matmul prefill kernel (AMX) or NULL; tl__cpu_matmul calls it for
   * m >= 16 with a pool when it returns TL_OK, else uses the tiles above. */
  tl_status (*matmul_big)(const struct tl__matmul_args *a, struct tl__threadpool *tp,
                          const struct tl__cpu_kernels *k);
} tl__cpu_kernels;

/* The kernel table of the best ISA this CPU supports, or the one named by the
 * environment variable TAILOR_CPU_ISA (when supported; otherwise ignored with a
 * warning). Chosen once, thread-safe, never NULL. */
const tl__cpu_kernels *tl__cpu_kernels_get(void);
/* The table of one ISA, or NULL when this build or CPU lacks it. Entries an
 * ISA does not specialise hold the next lower ISA's kernel. */
const tl__cpu_kernels *tl__cpu_kernels_for(tl__isa isa);
/* True when the CPU (and build) supports the ISA. */
bool tl__cpu_isa_supported(tl__isa isa);
const char *tl__cpu_isa_name(tl__isa isa);

/* ---- thread pool -------------------------------------------------------- */

typedef struct tl__threadpool tl__threadpool;
/* fn(ctx, ith, nth) runs once on each of nth threads; ith = 0 is the caller. */
typedef void (*tl__task_fn)(void *ctx, int ith, int nth);

/* Creates a pool of n_threads (>= 1) threads counting the calling thread
 * (n_threads - 1 workers are started). pin: pin thread i to CPU i.
 * TL_EINVAL for n_threads < 1 or > 512, TL_ENOMEM / TL_EIO on failure.
 * Free with tl__threadpool_free. */
tl_status tl__threadpool_create(int n_threads, bool pin, tl__threadpool **out, tl_error *err);
/* Runs fn on all threads and returns when every one has finished. Workers
 * spin briefly for the next task, then sleep. Not reentrant; call from one
 * thread at a time. tp NULL runs fn(ctx, 0, 1) on the caller. */
void tl__threadpool_run(tl__threadpool *tp, tl__task_fn fn, void *ctx);
/* As tl__threadpool_run for a task whose threads share the work through
 * their own atomic counters (any subset of them finishes it): once the
 * caller's own call returns, threads that have not started yet are skipped
 * instead of waited for, so a descheduled or sleeping worker costs nothing. */
void tl__threadpool_run_dynamic(tl__threadpool *tp, tl__task_fn fn, void *ctx);
int tl__threadpool_size(const tl__threadpool *tp); /* 1 for NULL */
/* Bytes of the per-thread workspace every pool thread owns (64-aligned). */
#define TL__THREAD_WORKSPACE ((size_t)2 << 20)
/* Thread ith's workspace, for kernels running inside tl__threadpool_run;
 * NULL for a NULL pool. */
void *tl__threadpool_workspace(tl__threadpool *tp, int ith);
/* Stops and joins the workers. Accepts NULL. */
void tl__threadpool_free(tl__threadpool *tp);

/* ---- matrix multiply ---------------------------------------------------- */

/* Y[m][n] = sum_k W[n][k] * X[m][k]. */
typedef struct tl__matmul_args {
  tl_qtype wtype;     /* weight type (tl__qtype_is_weight) */
  const void *w;      /* W: n rows of k elements */
  size_t w_stride;    /* bytes between W rows (>= tl__row_bytes(wtype, k)) */
  int64_t n;          /* output features (rows of W) */
  int64_t k;          /* input features (multiple of the type's block size) */
  int64_t m;          /* activation rows (1 = decode) */
  const float *x;     /* X: m rows of k floats; unused when xq is set */
  size_t x_stride;    /* floats between X rows */
  const void *xq;     /* optional: X already quantized (tl__quantize_activation); skips the AMX path */
  size_t xq_stride;   /* bytes between xq rows */
  float *y;           /* Y: m rows of n floats */
  size_t y_stride;    /* floats between Y rows */
  void *scratch;      /* >= tl__cpu_matmul_scratch_bytes(wtype, m, k) bytes */
  size_t scratch_bytes;
  const tl__cpu_kernels *kernels; /* NULL: tl__cpu_kernels_get() (tests pass one ISA's) */
} tl__matmul_args;

/* Scratch bytes tl__cpu_matmul needs for m rows of k activations. */
size_t tl__cpu_matmul_scratch_bytes(tl_qtype wtype, int64_t m, int64_t k);
/* Bytes of one quantized activation row (the xq row stride to use). */
size_t tl__cpu_act_row_bytes(tl_qtype wtype, int64_t k);
/* Computes Y on the pool's threads (tp may be NULL). Allocates nothing.
 * m = 1: rows of W are handed to threads in chunks and streamed with
 * software prefetch. m > 1: with AMX, a pool and m >= 16, W panels are
 * dequantized to bf16 and multiplied on tiles (Q8_0, Q4_0, Q4_K, Q5_K, Q6_K,
 * BF16); otherwise register tiles of TL__TILE_MAX_W x TL__TILE_MAX_X dots.
 * Results agree with the float reference within the activation rounding
 * (Q8: 1/254 of a block's maximum; bf16: 2^-9 relative).
 * TL_EINVAL when a type, shape, stride or scratch size is wrong. */
tl_status tl__cpu_matmul(const tl__matmul_args *a, tl__threadpool *tp);

#endif
