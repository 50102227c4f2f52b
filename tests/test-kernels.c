/* Tests of the CPU kernels: fp16/bf16 conversion, quantize/dequantize error
 * per type, bit-exact activation quantizers across ISAs, every ISA's dot and
 * tile kernels against the scalar reference, matmul against a float64
 * reference, and the vector helpers. Runs every ISA this CPU supports; the
 * process selects "scalar" through TAILOR_CPU_ISA to check the override. */
#include "harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc-int.h"
#include "engine/cpu/kernels.h"

/* ---- random data (never zeros) ---- */

static uint64_t rng_state;

static void rng_seed(uint64_t s)
{
  rng_state = s * 0x9E3779B97F4A7C15ull + 1;
}

static uint64_t rng_next(void)
{
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static double rng_uniform(void) /* (0, 1) */
{
  return ((double)(rng_next() >> 11) + 0.5) / 9007199254740992.0;
}

static int outlier_every = 97; /* 0: plain Gaussian */

/* Gaussian values with an occasional outlier, as weights and activations have. */
static void fill_random(float *x, int64_t n, float scale)
{
  for (int64_t i = 0; i < n; i++) {
    double g = sqrt(-2 * log(rng_uniform())) * cos(6.283185307179586 * rng_uniform());
    if (outlier_every && rng_next() % (uint64_t)outlier_every == 0)
      g *= 6;
    x[i] = (float)(g * scale);
    if (x[i] == 0.0f)
      x[i] = scale * 1e-3f;
  }
}

/* ---- type table: weight types, error bounds ---- */

typedef struct type_case {
  tl_qtype type;
  double max_rel_rmse; /* bound on ||x - deq(q(x))|| / ||x|| for Gaussian data */
} type_case;

/* Bounds for Gaussian data, about 1.2x the values measured with this
 * generator (f16 0.021%, bf16 0.17%, Q8_0 0.56%, Q4_0 8.5%, Q4_K 7.2%,
 * Q5_K 3.6%, Q6_K 2.0%, Q8_K 0.66%); the floor is set by the bits per weight
 * (a uniform quantizer's step / sqrt(12) over the block's range). */
static const type_case type_cases[] = {
    {TL_QTYPE_F32, 0.0},     {TL_QTYPE_F16, 0.0003},  {TL_QTYPE_BF16, 0.0021},
    {TL_QTYPE_Q8_0, 0.0068}, {TL_QTYPE_Q4_0, 0.102},  {TL_QTYPE_Q4_K, 0.087},
    {TL_QTYPE_Q5_K, 0.044},  {TL_QTYPE_Q6_K, 0.025},  {TL_QTYPE_Q8_K, 0.008},
};
#define N_TYPE_CASES (sizeof type_cases / sizeof type_cases[0])

static const tl_qtype weight_types[] = {TL_QTYPE_F32,  TL_QTYPE_F16,  TL_QTYPE_BF16, TL_QTYPE_Q8_0,
                                        TL_QTYPE_Q4_0, TL_QTYPE_Q4_K, TL_QTYPE_Q5_K, TL_QTYPE_Q6_K};
#define N_WEIGHT_TYPES (sizeof weight_types / sizeof weight_types[0])

static int64_t block_of(tl_qtype t)
{
  const tl__qtype_traits *tr = tl__qtype_traits_get(t);
  assert_non_null(tr);
  return tr->block_elems == 1 ? 32 : tr->block_elems;
}

/* ---- conversions ---- */

static void test_fp16_conversion(void **state)
{
  (void)state;
  for (uint32_t h = 0; h < 65536; h++) {
    float f = tl__fp16_to_f32((tl__fp16)h);
    if (isnan(f))
      continue;
    assert_int_equal(tl__f32_to_fp16(f), h);
    float b = tl__bf16_to_f32((tl__bf16)h);
    if (!isnan(b))
      assert_int_equal(tl__f32_to_bf16(b), h);
  }
  assert_int_equal(tl__f32_to_fp16(1.0f), 0x3c00);
  assert_int_equal(tl__f32_to_fp16(-2.0f), 0xc000);
  assert_int_equal(tl__f32_to_fp16(65504.0f), 0x7bff);
  assert_int_equal(tl__f32_to_fp16(65519.0f), 0x7bff);
  assert_int_equal(tl__f32_to_fp16(65520.0f), 0x7c00); /* tie rounds to even: inf */
  assert_int_equal(tl__f32_to_fp16(0x1p-24f), 0x0001);
  assert_int_equal(tl__f32_to_fp16(0x1p-25f), 0x0000);  /* tie to even: 0 */
  assert_int_equal(tl__f32_to_fp16(0x1.8p-24f), 0x0002); /* tie to even: 2 */
  assert_int_equal(tl__f32_to_fp16(1.0f + 0x1p-11f), 0x3c00); /* tie to even */
  assert_int_equal(tl__f32_to_fp16(1.0f + 0x1.8p-10f), 0x3c02);
  assert_true(isnan(tl__fp16_to_f32(tl__f32_to_fp16(NAN))));
  assert_int_equal(tl__f32_to_bf16(1.0f + 0x1p-8f), 0x3f80); /* tie to even */
  assert_int_equal(tl__f32_to_bf16(1.0f + 0x1.8p-7f), 0x3f82); /* tie to even */
}

static void test_isa_selection(void **state)
{
  (void)state;
  /* main() sets TAILOR_CPU_ISA=scalar before the first use */
  assert_int_equal(tl__cpu_kernels_get()->isa, TL__ISA_SCALAR);
  assert_true(tl__cpu_isa_supported(TL__ISA_SCALAR));
  for (int i = 0; i < TL__ISA_COUNT; i++) {
    const tl__cpu_kernels *k = tl__cpu_kernels_for((tl__isa)i);
    assert_true((k != NULL) == tl__cpu_isa_supported((tl__isa)i));
    if (k) {
      assert_int_equal(k->isa, i);
      assert_string_equal(k->name, tl__cpu_isa_name((tl__isa)i));
      for (size_t t = 0; t < N_WEIGHT_TYPES; t++) {
        assert_non_null(k->vec_dot[weight_types[t]]);
        assert_non_null(k->vec_dot_tile[weight_types[t]]);
      }
    }
  }
  print_message("ISAs on this machine:");
  for (int i = 0; i < TL__ISA_COUNT; i++)
    if (tl__cpu_isa_supported((tl__isa)i))
      print_message(" %s", tl__cpu_isa_name((tl__isa)i));
  print_message("\n");
}

static void test_conversion_rows_across_isas(void **state)
{
  (void)state;
  enum { N = 1037 };
  float *x = malloc(N * sizeof *x), *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
  tl__fp16 *h = malloc(N * sizeof *h), *h2 = malloc(N * sizeof *h2);
  rng_seed(7);
  fill_random(x, N, 3.0f);
  x[0] = 70000.0f; /* overflow */
  x[1] = 1e-6f;    /* subnormal */
  x[2] = -0x1p-25f;
  const tl__cpu_kernels *s = tl__cpu_kernels_for(TL__ISA_SCALAR);
  s->f32_to_fp16(x, h, N);
  s->fp16_to_f32(h, a, N);
  for (int i = 0; i < TL__ISA_COUNT; i++) {
    const tl__cpu_kernels *k = tl__cpu_kernels_for((tl__isa)i);
    if (!k)
      continue;
    for (int64_t n = 1; n <= N; n += (n < 40 ? 1 : 331)) {
      memset(h2, 0, N * sizeof *h2);
      k->f32_to_fp16(x, h2, n);
      assert_memory_equal(h, h2, (size_t)n * sizeof *h);
      k->fp16_to_f32(h, b, n);
      assert_memory_equal(a, b, (size_t)n * sizeof *a);
      k->bf16_to_f32(h, b, n);
      for (int64_t j = 0; j < n; j++)
        assert_true(b[j] == tl__bf16_to_f32(h[j]) || (isnan(b[j]) && isnan(tl__bf16_to_f32(h[j]))));
    }
  }
  free(x), free(a), free(b), free(h), free(h2);
}

/* ---- quantization ---- */

static void test_quantize_roundtrip(void **state)
{
  (void)state;
  const int64_t n = 256 * 16;
  float *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
  void *q = malloc((size_t)n * 4);
  for (size_t c = 0; c < N_TYPE_CASES; c++) {
    const tl_qtype t = type_cases[c].type;
    double worst = 0;
    for (uint64_t seed = 1; seed <= 3; seed++) {
      rng_seed(seed * 100 + c);
      outlier_every = 0; /* the bounds are for Gaussian data */
      fill_random(x, n, seed == 2 ? 1e-3f : 1.0f);
      outlier_every = 97;
      size_t bytes = tl__quantize_row(t, x, q, n);
      assert_int_equal(bytes, tl__row_bytes(t, n));
      tl__dequantize_row(t, q, y, n);
      double e2 = 0, x2 = 0;
      for (int64_t i = 0; i < n; i++) {
        e2 += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
        x2 += (double)x[i] * x[i];
      }
      double rel = sqrt(e2 / x2);
      worst = rel > worst ? rel : worst;
      if (rel > type_cases[c].max_rel_rmse)
        fail_msg("%s seed %llu: relative RMSE %.5f > bound %.5f", tl__qtype_traits_get(t)->name,
                 (unsigned long long)seed, rel, type_cases[c].max_rel_rmse);
    }
    print_message("%-5s relative RMSE %.5f (bound %.5f)\n", tl__qtype_traits_get(t)->name, worst,
                  type_cases[c].max_rel_rmse);
  }
  free(x), free(y), free(q);
}

/* Values that a format represents exactly come back exactly. */
static void test_quantize_exact_values(void **state)
{
  (void)state;
  float x[256], y[256];
  tl__block_q8_0 q8[8];
  tl__block_q4_0 q4[8];
  tl__block_q8_K qk;
  for (int i = 0; i < 256; i++)
    x[i] = (float)((i * 37) % 255 - 127) * 0.25f; /* -31.75 .. 31.75, exact in Q8 with d = 0.25 */
  for (int b = 0; b < 8; b++)
    x[b * 32 + 5] = -31.75f; /* each block reaches the extreme, so d = 0.25 */
  tl__quantize_row(TL_QTYPE_Q8_0, x, q8, 256);
  tl__dequantize_row(TL_QTYPE_Q8_0, q8, y, 256);
  assert_memory_equal(x, y, sizeof x);
  assert_int_equal(q8[0].d, tl__f32_to_fp16(0.25f));
  tl__quantize_row(TL_QTYPE_Q8_K, x, &qk, 256);
  tl__dequantize_row(TL_QTYPE_Q8_K, &qk, y, 256);
  for (int i = 0; i < 256; i++)
    assert_float_equal(x[i], y[i], 1e-5);
  for (int j = 0; j < 16; j++) {
    int s = 0;
    for (int i = 0; i < 16; i++)
      s += qk.qs[16 * j + i];
    assert_int_equal(qk.bsums[j], s);
  }
  /* Q4_0: values d*(q-8) with q = 0..15 and the block's extreme at q = 0 */
  for (int i = 0; i < 256; i++)
    x[i] = 0.5f * (float)((i * 7) % 16 - 8);
  for (int b = 0; b < 8; b++)
    x[b * 32] = -4.0f;
  tl__quantize_row(TL_QTYPE_Q4_0, x, q4, 256);
  tl__dequantize_row(TL_QTYPE_Q4_0, q4, y, 256);
  assert_memory_equal(x, y, sizeof x);
  /* layout: element j in the low nibble of qs[j], element j+16 in the high nibble */
  assert_int_equal(q4[0].qs[0] & 0xF, 0);                   /* x[0] = -4 -> q 0 */
  assert_int_equal(q4[0].qs[1] >> 4, (17 * 7) % 16);        /* x[17] */
}

/* K-quant layouts: a block whose quants are known is decoded to the values
 * the layout comment in quant-blocks.h promises. */
static void test_kquant_layout(void **state)
{
  (void)state;
  float y[256];
  tl__block_q4_K b4;
  memset(&b4, 0, sizeof b4);
  b4.d = tl__f32_to_fp16(1.0f);
  b4.dmin = tl__f32_to_fp16(0.5f);
  /* sub-block 5: scale 33 (= 0b100001), min 18 (= 0b010010) */
  b4.scales[5 + 4] = (uint8_t)((33 & 0xF) | ((18 & 0xF) << 4));
  b4.scales[5 - 4] |= (uint8_t)((33 >> 4) << 6);
  b4.scales[5] |= (uint8_t)((18 >> 4) << 6);
  b4.qs[2 * 32 + 3] = 0x70; /* chunk 2, high nibble: element 128 + 32 + 3 = 163 (sub-block 5) */
  tl__dequantize_row(TL_QTYPE_Q4_K, &b4, y, 256);
  assert_float_equal(y[163], 33.0f * 7 - 0.5f * 18, 1e-6);
  assert_float_equal(y[160], -0.5f * 18, 1e-6);
  assert_float_equal(y[131], 0.0f, 1e-6); /* sub-block 4: scale and min 0 */

  tl__block_q6_K b6;
  memset(&b6, 0, sizeof b6);
  b6.d = tl__f32_to_fp16(0.5f);
  for (int i = 0; i < 16; i++)
    b6.scales[i] = (int8_t)(i - 8);
  /* element 128 + 96 + 17 = 241: ql[64 + 32 + 17] high nibble, qh[32 + 17] bits 6-7; sub-block 15 */
  b6.ql[64 + 32 + 17] = 0x50;
  b6.qh[32 + 17] = 0x80; /* q = 5 | (2 << 4) = 37 */
  tl__dequantize_row(TL_QTYPE_Q6_K, &b6, y, 256);
  assert_float_equal(y[241], 0.5f * 7 * (37 - 32), 1e-6);
  assert_float_equal(y[0], 0.5f * -8 * -32, 1e-6);

  tl__block_q5_K b5;
  memset(&b5, 0, sizeof b5);
  b5.d = tl__f32_to_fp16(2.0f);
  b5.scales[1] = 3; /* sub-block 1: scale 3, min 0 */
  b5.qs[9] = 0x40;  /* chunk 0 high nibble: element 32 + 9 = 41 */
  b5.qh[9] = 0x02;  /* its fifth bit */
  tl__dequantize_row(TL_QTYPE_Q5_K, &b5, y, 256);
  assert_float_equal(y[41], 2.0f * 3 * (4 + 16), 1e-6);
}

static void test_activation_quantizers_bitexact(void **state)
{
  (void)state;
  static const tl_qtype act[] = {TL_QTYPE_F32, TL_QTYPE_BF16, TL_QTYPE_Q8_0, TL_QTYPE_Q8_K};
  const int64_t n = 256 * 9;
  float *x = malloc((size_t)n * sizeof *x);
  char *a = malloc((size_t)n * 4), *b = malloc((size_t)n * 4);
  const tl__cpu_kernels *s = tl__cpu_kernels_for(TL__ISA_SCALAR);
  for (int i = 0; i < TL__ISA_COUNT; i++) {
    const tl__cpu_kernels *k = tl__cpu_kernels_for((tl__isa)i);
    if (!k)
      continue;
    for (size_t t = 0; t < sizeof act / sizeof act[0]; t++) {
      for (uint64_t seed = 1; seed <= 4; seed++) {
        rng_seed(seed + 31 * t);
        fill_random(x, n, seed == 3 ? 100.0f : 1.0f);
        if (seed == 4) /* ties: values at exact .5 steps of the Q8 grid */
          for (int64_t j = 0; j < n; j++)
            x[j] = (float)((j * 13) % 255 - 127) * 0.5f;
        size_t bytes = tl__row_bytes(act[t], n);
        memset(a, 0x55, bytes);
        memset(b, 0xAA, bytes);
        s->quantize_act[act[t]](x, a, n);
        k->quantize_act[act[t]](x, b, n);
        if (memcmp(a, b, bytes) != 0)
          fail_msg("%s: activation quantizer %s differs from scalar (seed %llu)", k->name,
                   tl__qtype_traits_get(act[t])->name, (unsigned long long)seed);
      }
    }
  }
  free(x), free(a), free(b);
}

/* ---- dot products ---- */

typedef struct dot_data {
  int64_t n;
  void *w, *xq;
  float *wf, *xf; /* dequantized */
} dot_data;

static void dot_data_make(dot_data *d, tl_qtype t, int64_t n, uint64_t seed)
{
  const tl_qtype at = tl__qtype_traits_get(t)->vec_dot_type;
  d->n = n;
  d->w = malloc(tl__row_bytes(t, n));
  d->xq = malloc(tl__row_bytes(at, n));
  d->wf = malloc((size_t)n * sizeof(float));
  d->xf = malloc((size_t)n * sizeof(float));
  rng_seed(seed);
  fill_random(d->wf, n, 0.05f);
  fill_random(d->xf, n, 2.0f);
  tl__quantize_row(t, d->wf, d->w, n);
  tl__quantize_row(at, d->xf, d->xq, n);
  tl__dequantize_row(t, d->w, d->wf, n);
  if (at == TL_QTYPE_Q8_0 || at == TL_QTYPE_Q8_K || at == TL_QTYPE_BF16)
    tl__dequantize_row(at, d->xq, d->xf, n);
}

static void dot_data_free(dot_data *d)
{
  free(d->w), free(d->xq), free(d->wf), free(d->xf);
}

static double abs_dot(const dot_data *d)
{
  double s = 0;
  for (int64_t i = 0; i < d->n; i++)
    s += fabs((double)d->wf[i] * d->xf[i]);
  return s;
}

static void test_vec_dot_reference_matches_dequantized(void **state)
{
  (void)state;
  for (size_t t = 0; t < N_WEIGHT_TYPES; t++) {
    for (int blocks = 1; blocks <= 9; blocks += 4) {
      dot_data d;
      dot_data_make(&d, weight_types[t], blocks * block_of(weight_types[t]), 1000 + t * 10 + blocks);
      double ref = 0;
      for (int64_t i = 0; i < d.n; i++)
        ref += (double)d.wf[i] * d.xf[i];
      float got = tl__cpu_kernels_for(TL__ISA_SCALAR)->vec_dot[weight_types[t]](d.n, d.w, d.xq);
      if (fabs(got - ref) > 1e-5 * abs_dot(&d) + 1e-30)
        fail_msg("%s n=%lld: scalar dot %.9g vs dequantized %.9g", tl__qtype_traits_get(weight_types[t])->name,
                 (long long)d.n, got, ref);
      dot_data_free(&d);
    }
  }
}

static void test_vec_dot_isas_match_scalar(void **state)
{
  (void)state;
  static const int lens[] = {1, 2, 3, 4, 5, 7, 8, 16, 17, 33, 64};
  const tl__cpu_kernels *s = tl__cpu_kernels_for(TL__ISA_SCALAR);
  for (int i = 1; i < TL__ISA_COUNT; i++) {
    const tl__cpu_kernels *k = tl__cpu_kernels_for((tl__isa)i);
    if (!k)
      continue;
    for (size_t t = 0; t < N_WEIGHT_TYPES; t++) {
      const tl_qtype wt = weight_types[t];
      for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
        if (block_of(wt) == 256 && lens[l] > 17)
          continue;
        for (uint64_t seed = 1; seed <= 3; seed++) {
          dot_data d;
          dot_data_make(&d, wt, lens[l] * block_of(wt), seed * 7919 + l * 31 + t);
          float ref = s->vec_dot[wt](d.n, d.w, d.xq);
          float got = k->vec_dot[wt](d.n, d.w, d.xq);
          if (fabs((double)got - ref) > 2e-6 * abs_dot(&d) + 1e-30)
            fail_msg("%s %s n=%lld seed %llu: %.9g vs scalar %.9g", k->name, tl__qtype_traits_get(wt)->name,
                     (long long)d.n, (unsigned long long)seed, got, ref);
          dot_data_free(&d);
        }
      }
    }
  }
}

static void test_vec_dot_tile(void **state)
{
  (void)state;
  for (int i = 0; i < TL__ISA_COUNT; i++) {
    const tl__cpu_kernels *k = tl__cpu_kernels_for((tl__isa)i);
    if (!k)
      continue;
    for (size_t t = 0; t < N_WEIGHT_TYPES; t++) {
      const tl_qtype wt = weight_types[t];
      const tl_qtype at = tl__qtype_traits_get(wt)->vec_dot_type;
      const int64_t n = 3 * block_of(wt);
      const size_t wrow = tl__row_bytes(wt, n) + 8, xrow = tl__row_bytes(at, n) + 4; /* padded strides */
      char *w = calloc(TL__TILE_MAX_W, wrow), *x = calloc(TL__TILE_MAX_X, xrow);
      float *f = malloc((size_t)n * sizeof *f);
      rng_seed(55 + t + 100 * (uint64_t)i);
      for (int j = 0; j < TL__TILE_MAX_W; j++) {
        fill_random(f, n, 0.1f);
        tl__quantize_row(wt, f, w + j * wrow, n);
      }
      for (int j = 0; j < TL__TILE_MAX_X; j++) {
        fill_random(f, n, 1.0f);
        tl__quantize_row(at, f, x + j * xrow, n);
      }
      float y[TL__TILE_MAX_X * 5];
      for (int nw = 1; nw <= TL__TILE_MAX_W; nw++) {
        for (int nx = 1; nx <= TL__TILE_MAX_X; nx++) {
          for (int j = 0; j < TL__TILE_MAX_X * 5; j++)
            y[j] = -12345.0f;
          k->vec_dot_tile[wt](n, w, wrow, nw, x, xrow, nx, y, 5);
          for (int a = 0; a < TL__TILE_MAX_X; a++) {
            for (int b = 0; b < 5; b++) {
              float got = y[a * 5 + b];
              if (a >= nx || b >= nw) {
                assert_true(got == -12345.0f); /* nothing outside the tile is written */
                continue;
              }
              float ref = k->vec_dot[wt](n, w + b * wrow, x + a * xrow);
              if (fabsf(got - ref) > 1e-5f * (fabsf(ref) + 1.0f))
                fail_msg("%s %s tile %dx%d at (%d,%d): %.9g vs dot %.9g", k->name,
                         tl__qtype_traits_get(wt)->name, nw, nx, b, a, got, ref);
            }
          }
        }
      }
      free(w), free(x), free(f);
    }
  }
}

/* ---- matmul ---- */

static void check_matmul(const tl__cpu_kernels *k, tl_qtype wt, int64_t m, int64_t n, int64_t kk,
                         tl__threadpool *tp)
{
  const size_t wrow = tl__row_bytes(wt, kk);
  const size_t x_stride = (size_t)kk + 3, y_stride = (size_t)n + 5;
  char *w = malloc(wrow * (size_t)n);
  float *wf = malloc((size_t)n * (size_t)kk * sizeof *wf);
  float *x = malloc((size_t)m * x_stride * sizeof *x);
  float *y = malloc((size_t)m * y_stride * sizeof *y);
  float *row = malloc((size_t)kk * sizeof *row);
  size_t sb = tl__cpu_matmul_scratch_bytes(wt, m, kk);
  void *scratch = malloc(sb ? sb : 1);
  rng_seed((uint64_t)(m * 131 + n * 7 + kk + wt));
  for (int64_t j = 0; j < n; j++) {
    fill_random(row, kk, 0.05f);
    tl__quantize_row(wt, row, w + (size_t)j * wrow, kk);
    tl__dequantize_row(wt, w + (size_t)j * wrow, wf + (size_t)j * (size_t)kk, kk);
  }
  fill_random(x, (int64_t)((size_t)m * x_stride), 1.0f);
  for (size_t i = 0; i < (size_t)m * y_stride; i++)
    y[i] = NAN;
  tl__matmul_args a = {.wtype = wt, .w = w, .w_stride = wrow, .n = n, .k = kk, .m = m, .x = x,
                       .x_stride = x_stride, .y = y, .y_stride = y_stride, .scratch = scratch,
                       .scratch_bytes = sb, .kernels = k};
  assert_int_equal(tl__cpu_matmul(&a, tp), TL_OK);
  /* activation quantization error: Q8 rounding is <= 1/254 of a block's max */
  const tl_qtype at = tl__qtype_traits_get(wt)->vec_dot_type;
  const double tol = at == TL_QTYPE_F32 ? 1e-5 : 1e-2;
  for (int64_t i = 0; i < m; i++) {
    for (int64_t j = 0; j < n; j++) {
      double ref = 0, nw = 0, nx = 0;
      for (int64_t c = 0; c < kk; c++) {
        double wv = wf[(size_t)j * (size_t)kk + (size_t)c], xv = x[(size_t)i * x_stride + (size_t)c];
        ref += wv * xv;
        nw += wv * wv;
        nx += xv * xv;
      }
      double got = y[(size_t)i * y_stride + (size_t)j];
      if (!(fabs(got - ref) <= tol * sqrt(nw * nx)))
        fail_msg("%s %s matmul m=%lld n=%lld k=%lld threads=%d: y[%lld][%lld] = %.9g, reference %.9g",
                 k->name, tl__qtype_traits_get(wt)->name, (long long)m, (long long)n, (long long)kk,
                 tl__threadpool_size(tp), (long long)i, (long long)j, got, ref);
    }
    for (size_t j = (size_t)n; j < y_stride && i + 1 < m; j++)
      assert_true(isnan(y[(size_t)i * y_stride + j])); /* padding untouched */
  }
  free(w), free(wf), free(x), free(y), free(row), free(scratch);
}

static void test_matmul(void **state)
{
  (void)state;
  static const int64_t ms[] = {1, 7, 32, 67};
  tl__threadpool *tp2 = NULL, *tp3 = NULL;
  assert_int_equal(tl__threadpool_create(2, false, &tp2, NULL), TL_OK);
  assert_int_equal(tl__threadpool_create(3, false, &tp3, NULL), TL_OK);
  for (int i = 0; i < TL__ISA_COUNT; i++) {
    const tl__cpu_kernels *k = tl__cpu_kernels_for((tl__isa)i);
    if (!k)
      continue;
    for (size_t t = 0; t < N_WEIGHT_TYPES; t++) {
      const tl_qtype wt = weight_types[t];
      const int64_t kk = block_of(wt) == 256 ? 512 : 160;
      for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; mi++) {
        /* m >= 16 with a pool takes the AMX path where present; without a pool, the tiles */
        tl__threadpool *tp = mi == 0 ? NULL : mi % 2 ? tp2 : tp3;
        check_matmul(k, wt, ms[mi], 37, kk, tp);
        if (ms[mi] == 1 || ms[mi] == 67)
          check_matmul(k, wt, ms[mi], 67, kk, tp3);
        if (ms[mi] == 1) /* large enough for the pool and several row chunks per thread */
          check_matmul(k, wt, 1, 1000, kk, tp3);
        if (ms[mi] == 32)
          check_matmul(k, wt, ms[mi], 37, kk, NULL);
      }
    }
  }
  /* rows too long for bf16 panels in the per-thread workspace: the AMX int8 path */
  const tl__cpu_kernels *amx = tl__cpu_kernels_for(TL__ISA_AMX);
  static const tl_qtype int8_types[] = {TL_QTYPE_Q8_0, TL_QTYPE_Q4_0, TL_QTYPE_Q4_K, TL_QTYPE_Q5_K, TL_QTYPE_Q6_K};
  for (size_t t = 0; amx && t < sizeof int8_types / sizeof int8_types[0]; t++)
    check_matmul(amx, int8_types[t], 17, 21, 32768, tp2);
  tl__threadpool_free(tp2);
  tl__threadpool_free(tp3);
}

static void test_matmul_invalid(void **state)
{
  (void)state;
  float x[64] = {1}, y[4];
  char w[4 * 34 * 2], scratch[34 * 2];
  tl__matmul_args a = {.wtype = TL_QTYPE_Q8_0, .w = w, .w_stride = 68, .n = 4, .k = 64, .m = 1, .x = x,
                       .x_stride = 64, .y = y, .y_stride = 4, .scratch = scratch, .scratch_bytes = 68};
  memset(w, 0, sizeof w);
  assert_int_equal(tl__cpu_matmul(&a, NULL), TL_OK);
  a.scratch_bytes = 67;
  assert_int_equal(tl__cpu_matmul(&a, NULL), TL_EINVAL);
  a.scratch_bytes = 68;
  a.k = 48; /* not a multiple of the block */
  assert_int_equal(tl__cpu_matmul(&a, NULL), TL_EINVAL);
  a.k = 64;
  a.wtype = TL_QTYPE_Q8_K; /* an activation type, not a weight type */
  assert_int_equal(tl__cpu_matmul(&a, NULL), TL_EINVAL);
  a.wtype = TL_QTYPE_IQ2_XS;
  assert_int_equal(tl__cpu_matmul(&a, NULL), TL_EINVAL);
  a.wtype = TL_QTYPE_Q8_0;
  a.w_stride = 67;
  assert_int_equal(tl__cpu_matmul(&a, NULL), TL_EINVAL);
  assert_int_equal(tl__cpu_matmul_scratch_bytes(TL_QTYPE_F32, 4, 64), 0);
  assert_true(tl__cpu_matmul_scratch_bytes(TL_QTYPE_Q4_K, 3, 512) >= 3 * 2 * 292);
  assert_int_equal(tl__cpu_matmul_scratch_bytes(TL_QTYPE_Q4_K, 1, 512), 2 * 292);
  assert_null(tl__qtype_traits_get(TL_QTYPE_IQ2_XS));
  assert_null(tl__qtype_traits_get((tl_qtype)1000));
}

/* ---- vector helpers ---- */

static void assert_close_rows(const char *what, const char *isa, const float *a, const float *b, int64_t n,
                              double rel)
{
  for (int64_t i = 0; i < n; i++)
    if (!(fabs((double)a[i] - b[i]) <= rel * (fabs((double)b[i]) + 1e-6)))
      fail_msg("%s %s n=%lld: [%lld] %.9g vs scalar %.9g", isa, what, (long long)n, (long long)i, a[i], b[i]);
}

static void test_vec_ops(void **state)
{
  (void)state;
  static const int64_t lens[] = {1, 7, 16, 33, 100, 4097};
  enum { NMAX = 4097 };
  float *x = malloc(NMAX * sizeof *x), *g = malloc(NMAX * sizeof *g), *w = malloc(NMAX * sizeof *w);
  float *r = malloc(NMAX * sizeof *r), *o = malloc(NMAX * sizeof *o);
  const tl__cpu_kernels *s = tl__cpu_kernels_for(TL__ISA_SCALAR);
  for (int i = 0; i < TL__ISA_COUNT; i++) {
    const tl__cpu_kernels *k = tl__cpu_kernels_for((tl__isa)i);
    if (!k)
      continue;
    for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
      const int64_t n = lens[l];
      rng_seed((uint64_t)(n * 3 + i));
      fill_random(x, n, 3.0f);
      fill_random(g, n, 4.0f);
      fill_random(w, n, 1.0f);
      s->rmsnorm(r, x, w, n, 1e-5f);
      k->rmsnorm(o, x, w, n, 1e-5f);
      assert_close_rows("rmsnorm", k->name, o, r, n, 1e-5);
      s->rmsnorm(r, x, NULL, n, 1e-6f);
      memcpy(o, x, (size_t)n * sizeof *o);
      k->rmsnorm(o, o, NULL, n, 1e-6f); /* in place */
      assert_close_rows("rmsnorm in place", k->name, o, r, n, 1e-5);
      memcpy(r, g, (size_t)n * sizeof *r);
      memcpy(o, g, (size_t)n * sizeof *o);
      float sr = s->softmax(r, n), so = k->softmax(o, n);
      assert_true(fabs(sr - so) <= 1e-5 * sr);
      assert_close_rows("softmax", k->name, o, r, n, 1e-5);
      s->silu_mul(r, g, x, n);
      k->silu_mul(o, g, x, n);
      assert_close_rows("silu_mul", k->name, o, r, n, 1e-5);
      memcpy(r, x, (size_t)n * sizeof *r);
      memcpy(o, x, (size_t)n * sizeof *o);
      s->axpy(r, 0.37f, g, n);
      k->axpy(o, 0.37f, g, n); /* fused or not: bound by the terms, not the (cancelling) result */
      for (int64_t j = 0; j < n; j++)
        assert_true(fabs((double)o[j] - r[j]) <= 1e-6 * (fabs((double)x[j]) + fabs(0.37 * g[j])));
      memcpy(r, x, (size_t)n * sizeof *r);
      memcpy(o, x, (size_t)n * sizeof *o);
      s->scale(r, -1.7f, n);
      k->scale(o, -1.7f, n);
      assert_close_rows("scale", k->name, o, r, n, 1e-6);
      s->add(r, x, g, n);
      k->add(o, x, g, n);
      assert_close_rows("add", k->name, o, r, n, 1e-6);
      double ad = 0;
      for (int64_t j = 0; j < n; j++)
        ad += fabs((double)x[j] * g[j]);
      assert_true(fabs((double)k->dot_f32(x, g, n) - s->dot_f32(x, g, n)) <= 1e-6 * ad);
    }
  }
  /* softmax of a large-range row: no overflow, sums to 1 */
  for (int i = 0; i < TL__ISA_COUNT; i++) {
    const tl__cpu_kernels *k = tl__cpu_kernels_for((tl__isa)i);
    if (!k)
      continue;
    for (int j = 0; j < 100; j++)
      o[j] = (float)(j * 10 - 500);
    k->softmax(o, 100);
    double sum = 0;
    for (int j = 0; j < 100; j++)
      sum += o[j];
    assert_true(fabs(sum - 1.0) < 1e-5);
    assert_true(o[99] > 0.99f);
  }
  free(x), free(g), free(w), free(r), free(o);
}

int main(void)
{
  setenv("TAILOR_CPU_ISA", "scalar", 1);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_isa_selection),
      cmocka_unit_test(test_fp16_conversion),
      cmocka_unit_test(test_conversion_rows_across_isas),
      cmocka_unit_test(test_quantize_roundtrip),
      cmocka_unit_test(test_quantize_exact_values),
      cmocka_unit_test(test_kquant_layout),
      cmocka_unit_test(test_activation_quantizers_bitexact),
      cmocka_unit_test(test_vec_dot_reference_matches_dequantized),
      cmocka_unit_test(test_vec_dot_isas_match_scalar),
      cmocka_unit_test(test_vec_dot_tile),
      cmocka_unit_test(test_matmul),
      cmocka_unit_test(test_matmul_invalid),
      cmocka_unit_test(test_vec_ops),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
