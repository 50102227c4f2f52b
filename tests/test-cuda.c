/* Tests of the CUDA kernels (src/engine/cuda) against the CPU reference:
 * weights quantized by tl__quantize_row and read back by tl__dequantize_row,
 * products and attention in float64 on the host. Random data, never zeros;
 * outputs poisoned with NaN before each run. Error bounds per type are in
 * docs/cuda.md. Without a GPU (or without CUDA in the build) the program
 * exits with 77, CTest's skip code (tests/cmake/cuda.cmake). */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef TAILOR_CUDA_KERNELS

int main(void)
{
  printf("test-cuda: built without CUDA, skipped\n");
  return 77;
}

#else

#include "engine/cpu/kernels.h"
#include "engine/cuda/cuda-kernels.h"

static tl__cuda *cu;

/* ---- random data ---- */

static uint64_t rng_state = 1;

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

/* Gaussian values with an occasional outlier; never exactly zero. */
static void fill_random(float *x, size_t n, float scale)
{
  for (size_t i = 0; i < n; i++) {
    double g = sqrt(-2 * log(rng_uniform())) * cos(6.283185307179586 * rng_uniform());
    if (rng_next() % 97 == 0)
      g *= 6;
    x[i] = (float)(g * scale);
    if (x[i] == 0.0f)
      x[i] = scale * 1e-3f;
  }
}

static float *host_random(size_t n, float scale)
{
  float *x = malloc(n * sizeof *x);
  assert_non_null(x);
  fill_random(x, n, scale);
  return x;
}

/* ---- device helpers ---- */

static void *dev_upload(const void *host, size_t bytes)
{
  void *d = tl__cuda_malloc(cu, bytes);
  assert_non_null(d);
  assert_int_equal(tl__cuda_copy(cu, d, host, bytes, true), TL_OK);
  return d;
}

/* A device buffer of n floats filled with NaN. */
static float *dev_poisoned(size_t n)
{
  float *d = tl__cuda_malloc(cu, n * sizeof(float));
  assert_non_null(d);
  assert_int_equal(tl__cuda_memset(cu, d, 0xFF, n * sizeof(float)), TL_OK);
  return d;
}

static void dev_download(void *host, const void *dev, size_t bytes)
{
  assert_int_equal(tl__cuda_copy(cu, host, dev, bytes, false), TL_OK);
  tl_status st = tl__cuda_sync(cu);
  if (st != TL_OK)
    fail_msg("device: %s", tl__cuda_last_error(cu));
}

static void check_ok(tl_status st)
{
  if (st != TL_OK)
    fail_msg("cuda call failed (%d): %s", (int)st, tl__cuda_last_error(cu));
}

/* ||got - ref|| / ||ref||; fails on a NaN or an unwritten (NaN) element. */
static double rel_error(const float *got, const double *ref, size_t n)
{
  double num = 0, den = 0;
  for (size_t i = 0; i < n; i++) {
    if (isnan(got[i]))
      fail_msg("element %zu is NaN (unwritten?), expected %g", i, ref[i]);
    num += (got[i] - ref[i]) * (got[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return den > 0 ? sqrt(num / den) : sqrt(num);
}

static void expect_close(const char *what, const float *got, const double *ref, size_t n,
                         double bound)
{
  double e = rel_error(got, ref, n);
  printf("  %-40s rel error %.3e (bound %.0e)\n", what, e, bound);
  if (!(e <= bound))
    fail_msg("%s: relative error %g > %g", what, e, bound);
}

/* ---- weights ---- */

typedef struct wcase {
  tl_qtype type;
  double matvec_bound; /* ||y - ref|| / ||ref|| of tl__cuda_matvec */
} wcase;

/* Float weights meet float arithmetic (about 1e-6); quantized weights meet
 * activations quantized to 8 bits per 32, as the CPU's vec_dot does
 * (about 0.5%). docs/cuda.md lists the measured values. */
static const wcase wcases[] = {
    {TL_QTYPE_F16, 1e-5},  {TL_QTYPE_BF16, 1e-5}, {TL_QTYPE_Q8_0, 2e-2}, {TL_QTYPE_Q4_0, 2e-2},
    {TL_QTYPE_Q4_K, 2e-2}, {TL_QTYPE_Q5_K, 2e-2}, {TL_QTYPE_Q6_K, 2e-2},
};

typedef struct hweight {
  tl_qtype type;
  int64_t n, k;
  size_t row_bytes;
  uint8_t *q;     /* n rows, type's layout */
  float *deq;     /* n x k, tl__dequantize_row of q */
  tl__cuda_weight dw;
} hweight;

static void hweight_make(hweight *w, tl_qtype type, int64_t n, int64_t k)
{
  w->type = type;
  w->n = n;
  w->k = k;
  w->row_bytes = tl__row_bytes(type, k);
  w->q = malloc(w->row_bytes * n);
  w->deq = malloc(sizeof(float) * n * k);
  assert_true(w->q && w->deq);
  float *src = host_random((size_t)n * k, 0.05f);
  for (int64_t r = 0; r < n; r++) {
    tl__quantize_row(type, src + r * k, w->q + r * w->row_bytes, k);
    tl__dequantize_row(type, w->q + r * w->row_bytes, w->deq + r * k, k);
  }
  free(src);
  w->dw = (tl__cuda_weight){.type = type, .ne0 = k, .ne1 = n, .row_bytes = w->row_bytes};
  w->dw.data = dev_upload(w->q, w->row_bytes * n);
}

static void hweight_free(hweight *w)
{
  tl__cuda_mfree(cu, (void *)w->dw.data);
  free(w->q);
  free(w->deq);
}

/* ref (m, n) = x (m, k) . deq^T, plus y0 when given. */
static double *ref_matmul(const hweight *w, const float *x, uint32_t m, const float *y0)
{
  double *ref = malloc(sizeof(double) * m * w->n);
  assert_non_null(ref);
  for (uint32_t i = 0; i < m; i++)
    for (int64_t j = 0; j < w->n; j++) {
      double s = y0 ? y0[i * w->n + j] : 0.0;
      const float *wr = w->deq + j * w->k, *xr = x + (size_t)i * w->k;
      for (int64_t l = 0; l < w->k; l++)
        s += (double)wr[l] * xr[l];
      ref[i * w->n + j] = s;
    }
  return ref;
}

static void run_matmul_case(const wcase *c, int64_t n, int64_t k, uint32_t m, bool acc, bool prequant)
{
  hweight w;
  hweight_make(&w, c->type, n, k);
  float *x = host_random((size_t)m * k, 1.0f);
  float *y0 = acc ? host_random((size_t)m * n, 1.0f) : NULL;
  float *dx = dev_upload(x, sizeof(float) * m * k);
  float *dy = acc ? dev_upload(y0, sizeof(float) * m * n) : dev_poisoned((size_t)m * n);
  void *xq = NULL;
  if (prequant) {
    xq = tl__cuda_malloc(cu, tl__cuda_act_bytes((int64_t)m * k));
    check_ok(tl__cuda_quantize_act(cu, dx, (int64_t)m * k, xq));
  }
  if (m <= TL__CUDA_MATVEC_MAX_M)
    check_ok(tl__cuda_matvec(cu, &w.dw, dx, xq, m, dy, acc));
  else
    check_ok(tl__cuda_matmul(cu, &w.dw, dx, m, dy, acc));
  float *y = malloc(sizeof(float) * m * n);
  dev_download(y, dy, sizeof(float) * m * n);
  double *ref = ref_matmul(&w, x, m, y0);
  const tl__qtype_traits *tr = tl__qtype_traits_get(c->type);
  char what[96];
  snprintf(what, sizeof what, "%s %s %lldx%lld m=%u%s%s", m <= 8 ? "matvec" : "matmul", tr->name,
           (long long)n, (long long)k, m, acc ? " +=" : "", prequant ? " xq" : "");
  /* F16 tiles for the GEMM path: operands rounded to 11 bits. */
  double bound = m <= 8 ? c->matvec_bound : 3e-3;
  expect_close(what, y, ref, (size_t)m * n, bound);
  free(ref);
  free(y);
  free(x);
  free(y0);
  tl__cuda_mfree(cu, xq);
  tl__cuda_mfree(cu, dx);
  tl__cuda_mfree(cu, dy);
  hweight_free(&w);
}

static void test_matvec(void **state)
{
  (void)state;
  const uint32_t ms[] = {1, 2, 3, 5, 8};
  for (size_t t = 0; t < sizeof wcases / sizeof wcases[0]; t++) {
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
      run_matmul_case(&wcases[t], 259, 2816, ms[i], false, false);
    run_matmul_case(&wcases[t], 37, 512, 1, true, false);
    run_matmul_case(&wcases[t], 131, 1024, 3, false, true);
  }
}

/* q, k, v (or gate, up) in one launch equal three separate products. */
static void test_matvec_multi(void **state)
{
  (void)state;
  const tl_qtype types[] = {TL_QTYPE_Q4_K, TL_QTYPE_Q6_K, TL_QTYPE_F16};
  for (size_t t = 0; t < 3; t++) {
    hweight w[3];
    const int64_t rows[3] = {256, 64, 70}, k = 1024;
    const uint32_t m = 2;
    tl__cuda_weight dw[3];
    float *dy[3];
    for (int i = 0; i < 3; i++) {
      hweight_make(&w[i], types[t], rows[i], k);
      dw[i] = w[i].dw;
      dy[i] = dev_poisoned(m * rows[i]);
    }
    float *x = host_random((size_t)m * k, 1.0f), *dx = dev_upload(x, sizeof(float) * m * k);
    check_ok(tl__cuda_matvec_multi(cu, dw, 3, dx, NULL, m, dy, false));
    for (int i = 0; i < 3; i++) {
      float *y = malloc(sizeof(float) * m * rows[i]);
      dev_download(y, dy[i], sizeof(float) * m * rows[i]);
      double *ref = ref_matmul(&w[i], x, m, NULL);
      char what[64];
      snprintf(what, sizeof what, "matvec_multi %s part %d", tl__qtype_traits_get(types[t])->name, i);
      expect_close(what, y, ref, (size_t)m * rows[i], types[t] == TL_QTYPE_F16 ? 1e-5 : 2e-2);
      free(ref);
      free(y);
      tl__cuda_mfree(cu, dy[i]);
      hweight_free(&w[i]);
    }
    free(x);
    tl__cuda_mfree(cu, dx);
  }
}

static void test_matmul_gemm(void **state)
{
  (void)state;
  for (size_t t = 0; t < sizeof wcases / sizeof wcases[0]; t++) {
    run_matmul_case(&wcases[t], 259, 2816, 37, false, false);
    run_matmul_case(&wcases[t], 64, 512, 9, true, false);
  }
}

/* Embedding rows and F16 dequantization equal tl__dequantize_row. */
static void test_dequantize(void **state)
{
  (void)state;
  for (size_t t = 0; t < sizeof wcases / sizeof wcases[0]; t++) {
    hweight w;
    hweight_make(&w, wcases[t].type, 50, 1024);
    const int32_t ids[5] = {7, 0, 49, 7, 23};
    int32_t *dids = dev_upload(ids, sizeof ids);
    float *dout = dev_poisoned(5 * 1024);
    check_ok(tl__cuda_embedding(cu, &w.dw, dids, 5, dout));
    float *out = malloc(sizeof(float) * 5 * 1024);
    dev_download(out, dout, sizeof(float) * 5 * 1024);
    double *ref = malloc(sizeof(double) * 10 * 1024); /* embedding, then dequantize */
    for (int r = 0; r < 5; r++)
      for (int l = 0; l < 1024; l++)
        ref[r * 1024 + l] = w.deq[ids[r] * 1024 + l];
    char what[64];
    snprintf(what, sizeof what, "embedding %s", tl__qtype_traits_get(w.type)->name);
    expect_close(what, out, ref, 5 * 1024, 1e-6);

    uint16_t *dh = tl__cuda_malloc(cu, 2 * 10 * 1024);
    check_ok(tl__cuda_memset(cu, dh, 0xFF, 2 * 10 * 1024));
    check_ok(tl__cuda_dequantize_f16(cu, &w.dw, 40, 10, dh));
    uint16_t *h = malloc(2 * 10 * 1024);
    dev_download(h, dh, 2 * 10 * 1024);
    float *hf = malloc(sizeof(float) * 10 * 1024);
    for (int i = 0; i < 10 * 1024; i++) {
      hf[i] = tl__fp16_to_f32(h[i]);
      ref[i] = w.deq[40 * 1024 + i];
    }
    snprintf(what, sizeof what, "dequantize_f16 %s", tl__qtype_traits_get(w.type)->name);
    expect_close(what, hf, ref, 10 * 1024, 5e-4); /* binary16 rounding: 2^-11 */
    free(hf);
    free(h);
    tl__cuda_mfree(cu, dh);
    free(ref);
    free(out);
    tl__cuda_mfree(cu, dout);
    tl__cuda_mfree(cu, dids);
    hweight_free(&w);
  }
}

/* The quantized activations of a row dequantize to within half a step. */
static void check_act(const float *dvals, const void *dxq, size_t n)
{
  size_t bytes = tl__cuda_act_bytes((int64_t)n);
  uint8_t *xq = malloc(bytes);
  float *v = malloc(n * sizeof(float));
  dev_download(xq, dxq, bytes);
  dev_download(v, dvals, n * sizeof(float));
  const int8_t *qs = (const int8_t *)xq;
  const float *ds = (const float *)(xq + ((n + 15) & ~(size_t)15));
  for (size_t u = 0; u < n / 32; u++) {
    float d = ds[2 * u], amax = 0;
    long sum = 0;
    for (int l = 0; l < 32; l++) {
      float a = fabsf(v[u * 32 + l]);
      amax = a > amax ? a : amax;
      sum += qs[u * 32 + l];
    }
    assert_true(fabsf(d - amax / 127.0f) <= 1e-6f * amax);
    assert_true(fabsf(ds[2 * u + 1] - d * (float)sum) <= 1e-5f * (fabsf(d * (float)sum) + d));
    for (int l = 0; l < 32; l++)
      if (!(fabsf(qs[u * 32 + l] * d - v[u * 32 + l]) <= 0.5001f * d + 1e-30f))
        fail_msg("act unit %zu elem %d: %d * %g vs %g", u, l, qs[u * 32 + l], d, v[u * 32 + l]);
  }
  free(v);
  free(xq);
}

static void test_rmsnorm(void **state)
{
  (void)state;
  const uint32_t shapes[][2] = {{3, 4096}, {2, 100}, {1, 2048}};
  for (size_t s = 0; s < 3; s++) {
    uint32_t m = shapes[s][0], n = shapes[s][1];
    float *x = host_random((size_t)m * n, 2.0f), *w = host_random(n, 1.0f);
    float *dx = dev_upload(x, sizeof(float) * m * n), *dw = dev_upload(w, sizeof(float) * n);
    float *dout = dev_poisoned((size_t)m * n);
    void *xq = n % 32 ? NULL : tl__cuda_malloc(cu, tl__cuda_act_bytes((int64_t)m * n));
    check_ok(tl__cuda_rmsnorm(cu, dout, dx, dw, m, n, 1e-5f, xq));
    float *out = malloc(sizeof(float) * m * n);
    dev_download(out, dout, sizeof(float) * m * n);
    double *ref = malloc(sizeof(double) * m * n);
    for (uint32_t i = 0; i < m; i++) {
      double ss = 0;
      for (uint32_t j = 0; j < n; j++)
        ss += (double)x[i * n + j] * x[i * n + j];
      double inv = 1.0 / sqrt(ss / n + 1e-5);
      for (uint32_t j = 0; j < n; j++)
        ref[i * n + j] = x[i * n + j] * inv * w[j];
    }
    char what[64];
    snprintf(what, sizeof what, "rmsnorm %ux%u%s", m, n, xq ? " +xq" : "");
    expect_close(what, out, ref, (size_t)m * n, 1e-6);
    if (xq)
      check_act(dout, xq, (size_t)m * n);
    /* in place */
    check_ok(tl__cuda_rmsnorm(cu, dx, dx, dw, m, n, 1e-5f, NULL));
    dev_download(out, dx, sizeof(float) * m * n);
    expect_close("rmsnorm in place", out, ref, (size_t)m * n, 1e-6);
    tl__cuda_mfree(cu, xq);
    free(ref);
    free(out);
    free(x);
    free(w);
    tl__cuda_mfree(cu, dx);
    tl__cuda_mfree(cu, dw);
    tl__cuda_mfree(cu, dout);
  }
}

static void test_elementwise(void **state)
{
  (void)state;
  const uint32_t m = 3, n = 1408;
  const size_t N = (size_t)m * n;
  float *a = host_random(N, 3.0f), *b = host_random(N, 1.0f), *bias = host_random(n, 1.0f);
  float *da = dev_upload(a, N * 4), *db = dev_upload(b, N * 4), *dbias = dev_upload(bias, n * 4);
  float *dout = dev_poisoned(N);
  void *xq = tl__cuda_malloc(cu, tl__cuda_act_bytes((int64_t)N));
  float *out = malloc(N * 4);
  double *ref = malloc(N * sizeof(double));

  check_ok(tl__cuda_swiglu(cu, dout, da, db, N, xq));
  dev_download(out, dout, N * 4);
  for (size_t i = 0; i < N; i++)
    ref[i] = a[i] / (1.0 + exp(-(double)a[i])) * b[i];
  expect_close("swiglu +xq", out, ref, N, 1e-5); /* __expf */
  check_act(dout, xq, N);

  check_ok(tl__cuda_add(cu, da, db, N));
  dev_download(out, da, N * 4);
  for (size_t i = 0; i < N; i++)
    ref[i] = (double)a[i] + b[i];
  expect_close("add", out, ref, N, 2e-7);

  check_ok(tl__cuda_add_bias(cu, db, dbias, m, n));
  dev_download(out, db, N * 4);
  for (size_t i = 0; i < N; i++)
    ref[i] = (double)b[i] + bias[i % n];
  expect_close("add_bias", out, ref, N, 2e-7);

  float *dsm = dev_upload(a, N * 4);
  check_ok(tl__cuda_softmax(cu, dsm, m, n));
  dev_download(out, dsm, N * 4);
  for (uint32_t i = 0; i < m; i++) {
    double mx = -INFINITY, s = 0;
    for (uint32_t j = 0; j < n; j++)
      mx = a[i * n + j] > mx ? a[i * n + j] : mx;
    for (uint32_t j = 0; j < n; j++)
      s += exp(a[i * n + j] - mx);
    for (uint32_t j = 0; j < n; j++)
      ref[i * n + j] = exp(a[i * n + j] - mx) / s;
  }
  expect_close("softmax", out, ref, N, 1e-5);
  tl__cuda_mfree(cu, dsm);
  free(ref);
  free(out);
  tl__cuda_mfree(cu, xq);
  tl__cuda_mfree(cu, dout);
  tl__cuda_mfree(cu, da);
  tl__cuda_mfree(cu, db);
  tl__cuda_mfree(cu, dbias);
  free(a);
  free(b);
  free(bias);
}

static void test_rope(void **state)
{
  (void)state;
  const struct {
    bool neox;
    uint32_t head_dim, n_rot;
    float mscale;
  } cases[] = {{false, 128, 128, 1.0f}, {true, 128, 128, 1.0f}, {true, 64, 32, 0.9f},
               {false, 64, 48, 1.1f}};
  for (size_t c = 0; c < 4; c++) {
    const uint32_t m = 5, n_head = 6, hd = cases[c].head_dim, pairs = cases[c].n_rot / 2;
    const size_t N = (size_t)m * n_head * hd;
    double freq[128];
    for (uint32_t i = 0; i < pairs; i++)
      freq[i] = pow(500000.0, -2.0 * i / cases[c].n_rot) * (i % 3 == 0 ? 0.25 : 1.0);
    int32_t pos[5] = {0, 1, 17, 4095, 70000};
    float *x = host_random(N, 1.0f);
    float *dx = dev_upload(x, N * 4);
    double *dfreq = dev_upload(freq, pairs * sizeof(double));
    int32_t *dpos = dev_upload(pos, sizeof pos);
    check_ok(tl__cuda_rope(cu, dx, m, n_head, hd, dpos, dfreq, cases[c].n_rot, cases[c].neox,
                           cases[c].mscale));
    float *out = malloc(N * 4);
    dev_download(out, dx, N * 4);
    double *ref = malloc(N * sizeof(double));
    for (size_t i = 0; i < N; i++)
      ref[i] = x[i];
    for (uint32_t t = 0; t < m; t++)
      for (uint32_t h = 0; h < n_head; h++)
        for (uint32_t i = 0; i < pairs; i++) {
          double a = (double)pos[t] * freq[i];
          double co = (float)cos(a) * cases[c].mscale, sn = (float)sin(a) * cases[c].mscale;
          size_t base = ((size_t)t * n_head + h) * hd;
          size_t ia = base + (cases[c].neox ? i : 2 * i), ib = ia + (cases[c].neox ? pairs : 1);
          ref[ia] = x[ia] * co - x[ib] * sn;
          ref[ib] = x[ia] * sn + x[ib] * co;
        }
    char what[64];
    snprintf(what, sizeof what, "rope %s hd=%u n_rot=%u", cases[c].neox ? "neox" : "normal", hd,
             cases[c].n_rot);
    expect_close(what, out, ref, N, 1e-6);
    free(ref);
    free(out);
    free(x);
    tl__cuda_mfree(cu, dx);
    tl__cuda_mfree(cu, dfreq);
    tl__cuda_mfree(cu, dpos);
  }
}

/* The fused rope + store equals rope, rope, kv_store bit for bit. */
static void test_rope_qk_store(void **state)
{
  (void)state;
  const uint32_t m = 3, nh = 8, nkv = 2, hd = 128, row = nkv * hd, pos0 = 10;
  const size_t nq = (size_t)m * nh * hd, nk = (size_t)m * row;
  double freq[64];
  for (int i = 0; i < 64; i++)
    freq[i] = pow(10000.0, -2.0 * i / 128);
  int32_t pos[3] = {10, 11, 12};
  float *q = host_random(nq, 1.0f), *k = host_random(nk, 1.0f), *v = host_random(nk, 1.0f);
  double *dfreq = dev_upload(freq, sizeof freq);
  int32_t *dpos = dev_upload(pos, sizeof pos);
  float *q1 = dev_upload(q, nq * 4), *k1 = dev_upload(k, nk * 4), *q2 = dev_upload(q, nq * 4),
        *k2 = dev_upload(k, nk * 4), *dv = dev_upload(v, nk * 4);
  const size_t cache = (size_t)(pos0 + m) * row * 2;
  tl__cuda_kv_layer a = {tl__cuda_malloc(cu, cache), tl__cuda_malloc(cu, cache), row};
  tl__cuda_kv_layer b = {tl__cuda_malloc(cu, cache), tl__cuda_malloc(cu, cache), row};
  check_ok(tl__cuda_memset(cu, a.k, 0x11, cache));
  check_ok(tl__cuda_memset(cu, a.v, 0x11, cache));
  check_ok(tl__cuda_memset(cu, b.k, 0x11, cache));
  check_ok(tl__cuda_memset(cu, b.v, 0x11, cache));
  check_ok(tl__cuda_rope(cu, q1, m, nh, hd, dpos, dfreq, hd, true, 1.0f));
  check_ok(tl__cuda_rope(cu, k1, m, nkv, hd, dpos, dfreq, hd, true, 1.0f));
  check_ok(tl__cuda_kv_store(cu, &a, pos0, m, k1, dv));
  check_ok(tl__cuda_rope_qk_store(cu, q2, k2, dv, m, nh, nkv, hd, dpos, dfreq, hd, true, 1.0f, &b, pos0));
  uint8_t *h1 = malloc(cache), *h2 = malloc(cache);
  float *f1 = malloc(nq * 4), *f2 = malloc(nq * 4);
  dev_download(f1, q1, nq * 4);
  dev_download(f2, q2, nq * 4);
  double *ref = malloc(sizeof(double) * cache);
  for (size_t i = 0; i < nq; i++)
    ref[i] = f1[i];
  expect_close("rope_qk_store q", f2, ref, nq, 1e-7);
  float *c2 = malloc(sizeof(float) * cache);
  for (int which = 0; which < 2; which++) {
    dev_download(h1, which ? a.v : a.k, cache);
    dev_download(h2, which ? b.v : b.k, cache);
    for (size_t i = 0; i < cache / 2; i++) {
      ref[i] = tl__fp16_to_f32(((uint16_t *)h1)[i]);
      c2[i] = tl__fp16_to_f32(((uint16_t *)h2)[i]);
    }
    expect_close(which ? "rope_qk_store v cache" : "rope_qk_store k cache", c2, ref, cache / 2, 1e-3);
  }
  free(c2);
  free(ref);
    free(h1);
  free(h2);
  free(f1);
  free(f2);
  free(q);
  free(k);
  free(v);
  void *p[] = {dfreq, dpos, q1, k1, q2, k2, dv, a.k, a.v, b.k, b.v};
  for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
    tl__cuda_mfree(cu, p[i]);
}

/* Causal GQA attention against float64 over the F16-rounded cache. */
static void run_attention(uint32_t n_head, uint32_t n_kv, uint32_t hd, uint32_t m, uint32_t pos0)
{
  const uint32_t n_keys = pos0 + m, row = n_kv * hd;
  float *q = host_random((size_t)m * n_head * hd, 1.0f);
  float *k = host_random((size_t)n_keys * row, 1.0f), *v = host_random((size_t)n_keys * row, 1.0f);
  tl__cuda_kv_layer kv = {.row = row};
  kv.k = tl__cuda_malloc(cu, (size_t)n_keys * row * 2);
  kv.v = tl__cuda_malloc(cu, (size_t)n_keys * row * 2);
  float *dk = dev_upload(k, (size_t)n_keys * row * 4), *dv = dev_upload(v, (size_t)n_keys * row * 4);
  /* Two stores: the past, then the new tokens. */
  if (pos0)
    check_ok(tl__cuda_kv_store(cu, &kv, 0, pos0, dk, dv));
  check_ok(tl__cuda_kv_store(cu, &kv, pos0, m, dk + (size_t)pos0 * row, dv + (size_t)pos0 * row));
  float *dq = dev_upload(q, (size_t)m * n_head * hd * 4);
  float *dout = dev_poisoned((size_t)m * n_head * hd);
  const float scale = 1.0f / sqrtf((float)hd);
  const size_t n_out = (size_t)m * n_head * hd;
  void *xq = tl__cuda_malloc(cu, tl__cuda_act_bytes((int64_t)n_out));
  check_ok(tl__cuda_attention(cu, &kv, dq, m, pos0, n_head, n_kv, hd, scale, dout, xq));
  check_act(dout, xq, n_out);
  tl__cuda_mfree(cu, xq);
  float *out = malloc((size_t)m * n_head * hd * 4);
  dev_download(out, dout, (size_t)m * n_head * hd * 4);

  for (size_t i = 0; i < (size_t)n_keys * row; i++) {
    k[i] = tl__fp16_to_f32(tl__f32_to_fp16(k[i]));
    v[i] = tl__fp16_to_f32(tl__f32_to_fp16(v[i]));
  }
  double *ref = malloc(sizeof(double) * m * n_head * hd), *sc = malloc(sizeof(double) * n_keys);
  for (uint32_t t = 0; t < m; t++)
    for (uint32_t h = 0; h < n_head; h++) {
      const uint32_t g = h / (n_head / n_kv), nk = pos0 + t + 1;
      const float *qr = q + ((size_t)t * n_head + h) * hd;
      double mx = -INFINITY, s = 0;
      for (uint32_t j = 0; j < nk; j++) {
        double d = 0;
        for (uint32_t l = 0; l < hd; l++)
          d += (double)qr[l] * k[(size_t)j * row + g * hd + l];
        sc[j] = d * scale;
        mx = sc[j] > mx ? sc[j] : mx;
      }
      for (uint32_t j = 0; j < nk; j++)
        s += (sc[j] = exp(sc[j] - mx));
      double *o = ref + ((size_t)t * n_head + h) * hd;
      for (uint32_t l = 0; l < hd; l++) {
        double a = 0;
        for (uint32_t j = 0; j < nk; j++)
          a += sc[j] * v[(size_t)j * row + g * hd + l];
        o[l] = a / s;
      }
    }
  char what[80];
  snprintf(what, sizeof what, "attention h=%u/%u hd=%u m=%u pos0=%u", n_head, n_kv, hd, m, pos0);
  expect_close(what, out, ref, (size_t)m * n_head * hd, 5e-5); /* __expf, float sums */
  free(sc);
  free(ref);
  free(out);
  free(q);
  free(k);
  free(v);
  tl__cuda_mfree(cu, kv.k);
  tl__cuda_mfree(cu, kv.v);
  tl__cuda_mfree(cu, dk);
  tl__cuda_mfree(cu, dv);
  tl__cuda_mfree(cu, dq);
  tl__cuda_mfree(cu, dout);
}

static void test_attention(void **state)
{
  (void)state;
  run_attention(8, 2, 64, 37, 5);     /* prefill, GQA 4 */
  run_attention(32, 8, 128, 1, 300);  /* decode, keys split over blocks */
  run_attention(4, 4, 128, 1, 1000);  /* no grouping, long context */
  run_attention(8, 1, 256, 3, 50);    /* MQA, widest head */
  run_attention(6, 3, 32, 70, 0);     /* prompt from the start, narrow head */
  run_attention(32, 8, 128, 100, 28); /* several query tiles per head */
}

static int cmp_desc(const void *a, const void *b)
{
  const float *x = a, *y = b;
  return x[0] > y[0] ? -1 : x[0] < y[0] ? 1 : (x[1] < y[1] ? -1 : x[1] > y[1]);
}

static void test_sampling(void **state)
{
  (void)state;
  const uint32_t n = 128256, k = 40;
  float *x = host_random(n, 3.0f);
  /* a tie at the top: the lower id wins */
  x[90000] = 1000.0f;
  x[1234] = 1000.0f;
  x[77] = 999.0f;
  float *dx = dev_upload(x, n * 4);
  int32_t *dtok = tl__cuda_malloc(cu, 4);
  check_ok(tl__cuda_argmax(cu, dx, n, dtok));
  int32_t tok = -1;
  dev_download(&tok, dtok, 4);
  assert_int_equal(tok, 1234);

  float *dvals = tl__cuda_malloc(cu, k * 4);
  int32_t *dids = tl__cuda_malloc(cu, k * 4);
  check_ok(tl__cuda_topk(cu, dx, n, k, dvals, dids));
  float vals[40];
  int32_t ids[40];
  dev_download(vals, dvals, sizeof vals);
  dev_download(ids, dids, sizeof ids);
  float (*pairs)[2] = malloc(sizeof(float[2]) * n);
  for (uint32_t i = 0; i < n; i++) {
    pairs[i][0] = x[i];
    pairs[i][1] = (float)i;
  }
  qsort(pairs, n, sizeof pairs[0], cmp_desc);
  for (uint32_t i = 0; i < k; i++) {
    assert_int_equal(ids[i], (int32_t)pairs[i][1]);
    assert_true(vals[i] == pairs[i][0]);
  }
  printf("  topk: %u of %u exact, first ids %d %d %d\n", k, n, ids[0], ids[1], ids[2]);

  /* draws: temp 0 is the best; with u, the inverse of the cumulative */
  const float us[] = {0.0f, 0.3f, 0.77f, 0.999f};
  float *du = tl__cuda_malloc(cu, 4);
  for (size_t i = 0; i < 4; i++) {
    const float temp = i == 0 ? 0.0f : 0.7f;
    check_ok(tl__cuda_copy(cu, du, &us[i], 4, true));
    check_ok(tl__cuda_sample(cu, dvals, dids, k, temp, du, dtok));
    dev_download(&tok, dtok, 4);
    int32_t want = ids[0];
    if (temp > 0) {
      double tot = 0, cum = 0;
      for (uint32_t j = 0; j < k; j++)
        tot += exp((vals[j] - vals[0]) / temp);
      for (uint32_t j = 0; j < k; j++) {
        cum += exp((vals[j] - vals[0]) / temp);
        if (us[i] * tot < cum) {
          want = ids[j];
          break;
        }
      }
    }
    assert_int_equal(tok, want);
  }
  free(pairs);
  free(x);
  tl__cuda_mfree(cu, du);
  tl__cuda_mfree(cu, dvals);
  tl__cuda_mfree(cu, dids);
  tl__cuda_mfree(cu, dtok);
  tl__cuda_mfree(cu, dx);
}

/* A captured norm + product replays to the direct result on new input. */
static void test_graph(void **state)
{
  (void)state;
  hweight w;
  hweight_make(&w, TL_QTYPE_Q4_K, 300, 1024);
  float *x = host_random(1024, 1.0f), *dx = dev_upload(x, 4096);
  float *dn = dev_poisoned(1024), *dy = dev_poisoned(300);
  void *xq = tl__cuda_malloc(cu, tl__cuda_act_bytes(1024));
  check_ok(tl__cuda_sync(cu));
  check_ok(tl__cuda_graph_begin(cu));
  check_ok(tl__cuda_rmsnorm(cu, dn, dx, NULL, 1, 1024, 1e-6f, xq));
  check_ok(tl__cuda_matvec(cu, &w.dw, dn, xq, 1, dy, false));
  tl__cuda_graph *g = NULL;
  check_ok(tl__cuda_graph_end(cu, &g));
  float direct[300], replay[300];
  for (int round = 0; round < 2; round++) {
    fill_random(x, 1024, 1.0f + round);
    check_ok(tl__cuda_copy(cu, dx, x, 4096, true));
    check_ok(tl__cuda_memset(cu, dy, 0xFF, 1200));
    check_ok(tl__cuda_graph_launch(cu, g));
    dev_download(replay, dy, sizeof replay);
    check_ok(tl__cuda_rmsnorm(cu, dn, dx, NULL, 1, 1024, 1e-6f, xq));
    check_ok(tl__cuda_matvec(cu, &w.dw, dn, xq, 1, dy, false));
    dev_download(direct, dy, sizeof direct);
    assert_memory_equal(direct, replay, sizeof direct);
  }
  tl__cuda_graph_free(g);
  free(x);
  tl__cuda_mfree(cu, xq);
  tl__cuda_mfree(cu, dx);
  tl__cuda_mfree(cu, dn);
  tl__cuda_mfree(cu, dy);
  hweight_free(&w);
}

static void test_bad_arguments(void **state)
{
  (void)state;
  float *d = tl__cuda_malloc(cu, 4096);
  tl__cuda_weight w = {.type = TL_QTYPE_Q4_K, .data = d, .ne0 = 256, .ne1 = 4, .row_bytes = 144};
  assert_int_equal(tl__cuda_matvec(cu, &w, d, NULL, 9, d, false), TL_EINVAL);
  w.ne0 = 96; /* not a whole super-block */
  assert_int_equal(tl__cuda_matvec(cu, &w, d, NULL, 1, d, false), TL_EINVAL);
  w.type = TL_QTYPE_Q2_K;
  w.ne0 = 256;
  assert_int_equal(tl__cuda_matvec(cu, &w, d, NULL, 1, d, false), TL_EUNSUPPORTED);
  assert_true(strstr(tl__cuda_last_error(cu), "matvec") != NULL);
  tl__cuda_kv_layer kv = {.k = (uint16_t *)d, .v = (uint16_t *)d, .row = 96};
  assert_int_equal(tl__cuda_attention(cu, &kv, d, 1, 0, 2, 2, 48, 1.0f, d, NULL), TL_EINVAL);
  assert_int_equal(tl__cuda_topk(cu, d, 100, 65, d, (int32_t *)d), TL_EINVAL);
  check_ok(tl__cuda_sync(cu));
  tl__cuda_mfree(cu, d);
}

static int setup(void **state)
{
  (void)state;
  tl_error err = {0};
  if (tl__cuda_create(0, (size_t)256 << 20, &cu, &err) != TL_OK) {
    fprintf(stderr, "test-cuda: %s\n", err.message);
    return -1;
  }
  printf("device: %s, %d multiprocessors\n", tl__cuda_device_name(cu), tl__cuda_sm_count(cu));
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  tl__cuda_free(cu);
  return 0;
}

int main(void)
{
  if (tl__cuda_device_count() == 0) {
    printf("test-cuda: no CUDA device, skipped\n");
    return 77;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_matvec),     cmocka_unit_test(test_matvec_multi),
      cmocka_unit_test(test_matmul_gemm),
      cmocka_unit_test(test_dequantize), cmocka_unit_test(test_rmsnorm),
      cmocka_unit_test(test_elementwise), cmocka_unit_test(test_rope),
      cmocka_unit_test(test_rope_qk_store), cmocka_unit_test(test_attention),  cmocka_unit_test(test_sampling),
      cmocka_unit_test(test_graph),      cmocka_unit_test(test_bad_arguments),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}

#endif
