/* Prefill matmul with AMX-INT8 tiles (Intel AMX: TDPBSSD / TDPBUSD, 16x16
 * int32 results from 16x(16|32) int8 by (16|32)x16 int8). X rows are
 * quantized per 32-element block to int8 (float scale) and stored in the
 * tile "VNNI" layout once per call; each thread walks 16-row panels of W,
 * unpacks a panel to plain int8/uint8 rows (Q8_0 is read in place), and for
 * every 16-row tile of X multiplies one quant block (32, or 16 for Q6_K)
 * per tile instruction, then scales the int32 tile into float accumulators:
 *   y[m][n] += ws[n][g] * dx[m][b] * C[n][m] + wm[n][b] * sx[m][b]
 * where w = ws * q + wm per element (wm: Q4_K/Q5_K mins) and sx = dx * sum(qx).
 * AMX layout and semantics: Intel ISA Extensions Reference, chapter 3. */
#include <sys/syscall.h>
#include <unistd.h>

#include <cpuid.h>
#include <stdatomic.h>
#include <stddef.h>

#include "engine/cpu/internal.h"
#include "engine/cpu/simd-x86.h"

#define AMX_TARGET __attribute__((target("amx-tile,amx-int8")))

typedef struct tile_config {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
} tile_config;

bool tl__cpu_amx_usable(void)
{
  static _Atomic int state = -1; /* -1 unknown, 0 no, 1 yes; racing first calls agree */
  const int known = atomic_load(&state);
  if (known >= 0)
    return known == 1;
  int ok = 0;
  unsigned a, b, c, d;
  if (__get_cpuid_max(0, NULL) >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    const bool tile = d & (1u << 24), int8 = d & (1u << 25) && d & (1u << 22) /* AMX-BF16 */;
#if defined(__linux__)
    /* Linux keeps the 8 KiB tile state off until a process asks for it. */
    if (tile && int8 && syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XTILEDATA */) == 0)
      ok = 1;
#else
    (void)tile, (void)int8;
#endif
  }
  atomic_store(&state, ok);
  return ok == 1;
}

/* ---- scratch layout ---- */

typedef struct xlayout {
  int64_t m16, nb;   /* rows padded to 16, 32-blocks per row */
  int8_t *q;         /* [m16/16][nb][8 rows][64 bytes]: tile-ready */
  float *dx;         /* [m16/16][nb][16] block scale per row */
  float *sx;         /* [m16/16][nb][16] scale * sum of the block's quants */
} xlayout;

static void xlayout_init(xlayout *l, void *scratch, int64_t m, int64_t k)
{
  char *p = (char *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
  l->m16 = (m + 15) / 16 * 16;
  l->nb = k / 32;
  l->q = (int8_t *)p;
  l->dx = (float *)(p + l->m16 * k);
  l->sx = l->dx + l->m16 * l->nb;
}

typedef struct amx_ctx {
  const tl__matmul_args *a;
  xlayout x;
  int group;   /* elements per tile step: 32, or 16 (Q6_K) */
  bool u8;     /* W quants unsigned (TDPBUSD) */
  bool mins;   /* wm term present */
  tl__threadpool *tp;
} amx_ctx;

/* Quantizes X rows ith, ith+nth, ... (and zero padding rows) into the layout. */
static void quantize_x_task(void *p, int ith, int nth)
{
  const amx_ctx *c = p;
  const tl__matmul_args *a = c->a;
  const xlayout *l = &c->x;
  for (int64_t m = ith; m < l->m16; m += nth) {
    const int64_t mt = m / 16, lane = m % 16;
    for (int64_t b = 0; b < l->nb; b++) {
      int8_t *dst = l->q + ((mt * l->nb + b) * 8) * 64 + lane * 4;
      float d = 0, s = 0;
      union {
        __m256i v;
        uint32_t u[8];
      } q;
      if (m < a->m) {
        const float *x = a->x + (size_t)m * a->x_stride + b * 32;
        const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
        __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
        __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
        const float amax = tl__hmax256_ps(
            _mm256_max_ps(_mm256_max_ps(_mm256_and_ps(v0, absmask), _mm256_and_ps(v1, absmask)),
                          _mm256_max_ps(_mm256_and_ps(v2, absmask), _mm256_and_ps(v3, absmask))));
        d = amax / 127.0f;
        const __m256 id = _mm256_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
        const __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(v0, id));
        const __m256i i1 = _mm256_cvtps_epi32(_mm256_mul_ps(v1, id));
        const __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(v2, id));
        const __m256i i3 = _mm256_cvtps_epi32(_mm256_mul_ps(v3, id));
        s = d * (float)tl__hsum256_epi32(_mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3)));
        q.v = tl__pack_i32_i8_avx2(i0, i1, i2, i3);
      } else {
        q.v = _mm256_setzero_si256();
      }
      for (int r = 0; r < 8; r++)
        memcpy(dst + r * 64, &q.u[r], 4);
      l->dx[(mt * l->nb + b) * 16 + lane] = d;
      l->sx[(mt * l->nb + b) * 16 + lane] = s;
    }
  }
}

/* ---- W panels: 16 rows unpacked to int8/uint8, scales per group ---- */

typedef struct panel {
  int8_t *q;  /* [16][k] */
  float *ws;  /* [groups][16] */
  float *wm;  /* [nb][16] */
} panel;

static void unpack_row(tl_qtype t, const void *row, int64_t k, int8_t *q, float *ws, float *wm, int n)
{
  /* ws/wm are strided by 16 (one column of the panel's tables) */
  switch (t) {
  case TL_QTYPE_Q8_0: {
    const tl__block_q8_0 *x = row;
    for (int64_t b = 0; b < k / 32; b++) {
      memcpy(q + b * 32, x[b].qs, 32);
      ws[b * 16 + n] = tl__fp16_load(&x[b].d);
    }
    break;
  }
  case TL_QTYPE_Q4_0: {
    const tl__block_q4_0 *x = row;
    for (int64_t b = 0; b < k / 32; b++) {
      const __m128i v = _mm_loadu_si128((const __m128i *)x[b].qs);
      const __m256i u = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(v, 4), v), _mm256_set1_epi8(0x0F));
      _mm256_storeu_si256((__m256i *)(q + b * 32), _mm256_sub_epi8(u, _mm256_set1_epi8(8)));
      ws[b * 16 + n] = tl__fp16_load(&x[b].d);
    }
    break;
  }
  case TL_QTYPE_Q4_K:
  case TL_QTYPE_Q5_K: {
    const bool five = t == TL_QTYPE_Q5_K;
    const size_t bsz = five ? sizeof(tl__block_q5_K) : sizeof(tl__block_q4_K);
    for (int64_t sb = 0; sb < k / 256; sb++) {
      const char *blk = (const char *)row + sb * bsz;
      const tl__block_q4_K *b4 = (const tl__block_q4_K *)blk;
      const tl__block_q5_K *b5 = (const tl__block_q5_K *)blk;
      const uint8_t *scales = five ? b5->scales : b4->scales;
      const uint8_t *qs = five ? b5->qs : b4->qs;
      const float d = tl__fp16_load(five ? &b5->d : &b4->d), dmin = tl__fp16_load(five ? &b5->dmin : &b4->dmin);
      __m256i hb = five ? _mm256_loadu_si256((const __m256i *)b5->qh) : _mm256_setzero_si256();
      for (int c = 0; c < 4; c++) {
        const __m256i bytes = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
        __m256i lo = _mm256_and_si256(bytes, _mm256_set1_epi8(0x0F));
        __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), _mm256_set1_epi8(0x0F));
        if (five) {
          const __m256i one = _mm256_set1_epi8(1);
          lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(hb, one), 4));
          hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 1), one), 4));
          hb = _mm256_srli_epi16(hb, 2);
        }
        _mm256_storeu_si256((__m256i *)(q + sb * 256 + 64 * c), lo);
        _mm256_storeu_si256((__m256i *)(q + sb * 256 + 64 * c + 32), hi);
      }
      for (int j = 0; j < 8; j++) {
        uint8_t sc, m;
        tl__kquant_scale_min(j, scales, &sc, &m);
        ws[(sb * 8 + j) * 16 + n] = d * sc;
        wm[(sb * 8 + j) * 16 + n] = -dmin * m;
      }
    }
    break;
  }
  case TL_QTYPE_Q6_K: {
    const tl__block_q6_K *x = row;
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(3), off = _mm256_set1_epi8(32);
    for (int64_t sb = 0; sb < k / 256; sb++) {
      const float d = tl__fp16_load(&x[sb].d);
      for (int h = 0; h < 2; h++) {
        const uint8_t *ql = x[sb].ql + 64 * h, *qh = x[sb].qh + 32 * h;
        const __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
        const __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
        const __m256i hh = _mm256_loadu_si256((const __m256i *)qh);
        int8_t *dst = q + sb * 256 + 128 * h;
        _mm256_storeu_si256((__m256i *)dst,
                            _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(l0, m4),
                                                            _mm256_slli_epi16(_mm256_and_si256(hh, m2), 4)), off));
        _mm256_storeu_si256((__m256i *)(dst + 32),
                            _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(l1, m4),
                                                            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 2), m2), 4)), off));
        _mm256_storeu_si256((__m256i *)(dst + 64),
                            _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                                            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 4), m2), 4)), off));
        _mm256_storeu_si256((__m256i *)(dst + 96),
                            _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                                            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hh, 6), m2), 4)), off));
      }
      for (int j = 0; j < 16; j++)
        ws[(sb * 16 + j) * 16 + n] = d * x[sb].scales[j];
    }
    break;
  }
  default:
    break;
  }
}

/* acc[n] += C[n] * dx(block of g) * ws[g][n] for the int32 tile stored in cbuf. */
static inline void scale_tile(const amx_ctx *c, const panel *pn, int64_t mt, int64_t g, const float *cbuf,
                              __m512 acc[16])
{
  const xlayout *l = &c->x;
  const int64_t b = c->group == 32 ? g : g / 2;
  const __m512 dx = _mm512_loadu_ps(l->dx + (mt * l->nb + b) * 16);
  const float *ws = pn->ws + g * 16;
  for (int n = 0; n < 16; n++) {
    const __m512 ci = _mm512_cvtepi32_ps(_mm512_load_si512((const void *)(cbuf + 16 * n)));
    acc[n] = _mm512_fmadd_ps(ci, _mm512_mul_ps(dx, _mm512_set1_ps(ws[n])), acc[n]);
  }
}

/* B tile of group g of X tile mt: 32-blocks hold 8 rows of 64 bytes; a
 * 16-element group is half of them. */
static inline const int8_t *x_tile(const amx_ctx *c, int64_t mt, int64_t g)
{
  const xlayout *l = &c->x;
  if (c->group == 32)
    return l->q + (mt * l->nb + g) * 8 * 64;
  return l->q + (mt * l->nb + g / 2) * 8 * 64 + (g % 2) * 4 * 64;
}

#define TDP(C, A, B)          \
  do {                        \
    if (c->u8)                \
      _tile_dpbusd(C, A, B);  \
    else                      \
      _tile_dpbssd(C, A, B);  \
  } while (0)

/* y[m][n0 + n] for one 16x16 output tile, from W panel (A) and X tile mt (B).
 * Two tile products are in flight (C0, C1) so the AMX unit works on one
 * while the vector unit scales the other. */
AMX_TARGET static void tile_product(const amx_ctx *c, const int8_t *wq, size_t wq_stride, const panel *pn,
                                    int64_t mt, int64_t n0, int nvalid, float *cbuf, int64_t g_stride)
{
  const tl__matmul_args *a = c->a;
  const xlayout *l = &c->x;
  const int64_t groups = a->k / c->group;
  float *cbuf1 = cbuf + 256;
  __m512 acc[16];
  for (int i = 0; i < 16; i++)
    acc[i] = _mm512_setzero_ps();
  int64_t g = 0;
  for (; g + 1 < groups; g += 2) {
    _tile_zero(0);
    _tile_zero(1);
    _tile_loadd(2, wq + g * g_stride, (long)wq_stride);
    _tile_loadd(4, x_tile(c, mt, g), 64);
    _tile_loadd(3, wq + (g + 1) * g_stride, (long)wq_stride);
    _tile_loadd(5, x_tile(c, mt, g + 1), 64);
    TDP(0, 2, 4);
    TDP(1, 3, 5);
    _tile_stored(0, cbuf, 64);
    _tile_stored(1, cbuf1, 64);
    scale_tile(c, pn, mt, g, cbuf, acc);
    scale_tile(c, pn, mt, g + 1, cbuf1, acc);
  }
  if (g < groups) {
    _tile_zero(0);
    _tile_loadd(2, wq + g * g_stride, (long)wq_stride);
    _tile_loadd(4, x_tile(c, mt, g), 64);
    TDP(0, 2, 4);
    _tile_stored(0, cbuf, 64);
    scale_tile(c, pn, mt, g, cbuf, acc);
  }
  if (c->mins) {
    for (int64_t b = 0; b < l->nb; b++) {
      const __m512 sx = _mm512_loadu_ps(l->sx + (mt * l->nb + b) * 16);
      const float *wm = pn->wm + b * 16;
      for (int n = 0; n < 16; n++)
        acc[n] = _mm512_fmadd_ps(_mm512_set1_ps(wm[n]), sx, acc[n]);
    }
  }
  /* transpose: acc[n] holds rows m of column n */
  for (int n = 0; n < 16; n++)
    _mm512_store_ps(cbuf + 16 * n, acc[n]);
  const int mvalid = (int)(a->m - mt * 16 < 16 ? a->m - mt * 16 : 16);
  for (int m = 0; m < mvalid; m++) {
    float *y = a->y + (size_t)(mt * 16 + m) * a->y_stride + n0;
    for (int n = 0; n < nvalid; n++)
      y[n] = cbuf[16 * n + m];
  }
}

AMX_TARGET static void gemm_task(void *p, int ith, int nth)
{
  const amx_ctx *c = p;
  const tl__matmul_args *a = c->a;
  const int64_t k = a->k, ntiles = (a->n + 15) / 16, groups = k / c->group;
  const int64_t t0 = ntiles * ith / nth, t1 = ntiles * (ith + 1) / nth;
  if (t0 >= t1)
    return;
  /* workspace: cbuf (2 KiB) | ws [groups][16] | wm [nb][16] | panel q [16][k] */
  char *wsp = tl__threadpool_workspace(c->tp, ith);
  float *cbuf = (float *)wsp;
  panel pn;
  pn.ws = cbuf + 512;
  pn.wm = pn.ws + groups * 16;
  pn.q = (int8_t *)(pn.wm + c->x.nb * 16);
  tile_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.palette_id = 1;
  for (int i = 0; i < 2; i++) {
    cfg.rows[i] = 16, cfg.colsb[i] = 64;                               /* C0, C1: 16 x 16 int32 */
    cfg.rows[2 + i] = 16, cfg.colsb[2 + i] = (uint16_t)c->group;       /* A0, A1: 16 W rows */
    cfg.rows[4 + i] = (uint8_t)(c->group / 4), cfg.colsb[4 + i] = 64;  /* B0, B1: X, VNNI */
  }
  _tile_loadconfig(&cfg);
  const char *w = a->w;
  for (int64_t t = t0; t < t1; t++) {
    const int64_t n0 = t * 16;
    const int nvalid = (int)(a->n - n0 < 16 ? a->n - n0 : 16);
    const int8_t *wq = pn.q;
    size_t wq_stride = (size_t)k;
    if (a->wtype == TL_QTYPE_Q8_0 && nvalid == 16) {
      /* read the quants in place: block b of row n is at w + n*stride + b*34 + 2 */
      for (int n = 0; n < 16; n++) {
        const tl__block_q8_0 *row = (const tl__block_q8_0 *)(w + (size_t)(n0 + n) * a->w_stride);
        for (int64_t b = 0; b < c->x.nb; b++)
          pn.ws[b * 16 + n] = tl__fp16_load(&row[b].d);
      }
      wq = (const int8_t *)(w + (size_t)n0 * a->w_stride + offsetof(tl__block_q8_0, qs));
      wq_stride = a->w_stride;
    } else {
      for (int n = 0; n < 16; n++) {
        if (n < nvalid) {
          unpack_row(a->wtype, w + (size_t)(n0 + n) * a->w_stride, k, pn.q + (size_t)n * (size_t)k, pn.ws, pn.wm, n);
        } else {
          memset(pn.q + (size_t)n * (size_t)k, 0, (size_t)k);
          for (int64_t g = 0; g < groups; g++)
            pn.ws[g * 16 + n] = 0;
          for (int64_t b = 0; b < c->x.nb; b++)
            pn.wm[b * 16 + n] = 0;
        }
      }
    }
    if (a->wtype == TL_QTYPE_Q8_0 && nvalid == 16) {
      /* tile rows are 34 bytes apart per block: the A tile of block b starts at wq + b*34 */
      for (int64_t mt = 0; mt < c->x.m16 / 16; mt++)
        tile_product(c, wq, wq_stride, &pn, mt, n0, nvalid, cbuf, (int64_t)sizeof(tl__block_q8_0));
    } else {
      for (int64_t mt = 0; mt < c->x.m16 / 16; mt++)
        tile_product(c, wq, wq_stride, &pn, mt, n0, nvalid, cbuf, c->group);
    }
  }
  _tile_release();
}

/* ---- BF16 tiles: W dequantized to bf16 per panel, X rounded to bf16 ----
 * TDPBF16PS accumulates in float across all of k, so each 16x16 output tile
 * is stored once: no per-block scaling. Weights gain a bf16 rounding
 * (relative 2^-9 per element, far below their quantization error except for
 * Q8_0, where it is of the same size as the Q8 activation rounding it
 * replaces). Panels are 32 W rows (two A tiles) against two X tiles. */

typedef struct bf_ctx {
  const tl__matmul_args *a;
  tl__threadpool *tp;
  int64_t m32, ks; /* rows padded to 32; 32-element k steps */
  uint16_t *xb;    /* [m32/16][ks][16 pair rows][16 m][2] bf16 */
  _Atomic int64_t next_row, next_panel; /* work items, taken by whichever threads run */
} bf_ctx;

static void bf16_x_task(void *p, int ith, int nth)
{
  (void)ith, (void)nth;
  bf_ctx *c = p;
  const tl__matmul_args *a = c->a;
  for (int64_t m; (m = atomic_fetch_add(&c->next_row, 1)) < c->m32;) {
    const int64_t mt = m / 16, lane = m % 16;
    const float *x = m < a->m ? a->x + (size_t)m * a->x_stride : NULL;
    for (int64_t ks = 0; ks < c->ks; ks++) {
      union {
        __m512i v;
        uint32_t u[16];
      } t;
      if (x) {
        const __m512 lo = _mm512_loadu_ps(x + ks * 32), hi = _mm512_loadu_ps(x + ks * 32 + 16);
        t.v = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
      } else {
        t.v = _mm512_setzero_si512();
      }
      uint16_t *dst = c->xb + ((mt * c->ks + ks) * 16) * 32 + lane * 2;
      for (int r = 0; r < 16; r++)
        memcpy(dst + r * 32, &t.u[r], 4);
    }
  }
}

/* Rows n0 .. n0+31 of W as bf16 [32][k] (zero rows past n). */
static void bf16_panel(const tl__matmul_args *a, int64_t n0, uint16_t *pq, int8_t *tq, float *tws, float *twm)
{
  const int64_t k = a->k;
  const bool u8 = a->wtype == TL_QTYPE_Q4_K || a->wtype == TL_QTYPE_Q5_K;
  const bool mins = u8;
  const int group = a->wtype == TL_QTYPE_Q6_K ? 16 : 32;
  for (int n = 0; n < 32; n++) {
    uint16_t *dst = pq + (size_t)n * (size_t)k;
    const char *row = (const char *)a->w + (size_t)(n0 + n) * a->w_stride;
    if (n0 + n >= a->n) {
      memset(dst, 0, (size_t)k * 2);
      continue;
    }
    if (a->wtype == TL_QTYPE_BF16) {
      memcpy(dst, row, (size_t)k * 2);
      continue;
    }
    unpack_row(a->wtype, row, k, tq, tws, twm, 0);
    for (int64_t g = 0; g < k / group; g++) {
      const __m512 s = _mm512_set1_ps(tws[g * 16]);
      const __m512 mm = _mm512_set1_ps(mins ? twm[(g * group / 32) * 16] : 0.0f);
      for (int e = 0; e < group; e += 16) {
        const __m128i q8 = _mm_loadu_si128((const __m128i *)(tq + g * group + e));
        const __m512i q32 = u8 ? _mm512_cvtepu8_epi32(q8) : _mm512_cvtepi8_epi32(q8);
        const __m512 f = _mm512_fmadd_ps(_mm512_cvtepi32_ps(q32), s, mm);
        _mm256_storeu_si256((__m256i *)(dst + g * group + e), (__m256i)_mm512_cvtneps_pbh(f));
      }
    }
  }
}

__attribute__((target("amx-tile,amx-int8,amx-bf16"))) static void bf16_task(void *p, int ith, int nth)
{
  (void)nth;
  bf_ctx *c = p;
  const tl__matmul_args *a = c->a;
  const int64_t k = a->k, npanels = (a->n + 31) / 32;
  int64_t t = atomic_fetch_add(&c->next_panel, 1);
  if (t >= npanels)
    return;
  /* workspace: cbuf (4 KiB) | tws | twm | tq (k) | panel (32 x k bf16) */
  char *wsp = tl__threadpool_workspace(c->tp, ith);
  float *cbuf = (float *)wsp;
  float *tws = cbuf + 1024;
  float *twm = tws + (k / 16) * 16;
  int8_t *tq = (int8_t *)(twm + (k / 32) * 16);
  uint16_t *pq = (uint16_t *)(((uintptr_t)(tq + k) + 63) & ~(uintptr_t)63);
  tile_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.palette_id = 1;
  for (int i = 0; i < 8; i++)
    cfg.rows[i] = 16, cfg.colsb[i] = 64; /* C00 C01 C10 C11 | A0 A1 | B0 B1 */
  _tile_loadconfig(&cfg);
  const long wstride = (long)(k * 2);
  for (; t < npanels; t = atomic_fetch_add(&c->next_panel, 1)) {
    const int64_t n0 = t * 32;
    bf16_panel(a, n0, pq, tq, tws, twm);
    for (int64_t mt = 0; mt < c->m32 / 16; mt += 2) {
      _tile_zero(0);
      _tile_zero(1);
      _tile_zero(2);
      _tile_zero(3);
      const uint16_t *x0 = c->xb + (mt * c->ks) * 16 * 32, *x1 = c->xb + ((mt + 1) * c->ks) * 16 * 32;
      for (int64_t ks = 0; ks < c->ks; ks++) {
        _tile_loadd(4, pq + ks * 32, wstride);
        _tile_loadd(5, pq + 16 * k + ks * 32, wstride);
        _tile_loadd(6, x0 + ks * 16 * 32, 64);
        _tile_loadd(7, x1 + ks * 16 * 32, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
      }
      _tile_stored(0, cbuf, 64);
      _tile_stored(1, cbuf + 256, 64);
      _tile_stored(2, cbuf + 512, 64);
      _tile_stored(3, cbuf + 768, 64);
      /* tile (na, mb) holds [n][m] for W rows n0 + 16na + n and X rows 16(mt + mb) + m */
      for (int mb = 0; mb < 2; mb++) {
        for (int m = 0; m < 16; m++) {
          const int64_t row = (mt + mb) * 16 + m;
          if (row >= a->m)
            break;
          float *y = a->y + (size_t)row * a->y_stride;
          for (int na = 0; na < 2; na++) {
            const float *ct = cbuf + (na * 2 + mb) * 256;
            for (int n = 0; n < 16 && n0 + na * 16 + n < a->n; n++)
              y[n0 + na * 16 + n] = ct[16 * n + m];
          }
        }
      }
    }
  }
  _tile_release();
}

static size_t bf16_workspace(int64_t k)
{
  return 4096 + (size_t)(k / 16) * 64 + (size_t)(k / 32) * 64 + (size_t)k + 64 + 64 * (size_t)k;
}

static tl_status amx_matmul(const tl__matmul_args *a, tl__threadpool *tp, const tl__cpu_kernels *k)
{
  (void)k;
  switch (a->wtype) {
  case TL_QTYPE_Q8_0:
  case TL_QTYPE_Q4_0:
  case TL_QTYPE_Q4_K:
  case TL_QTYPE_Q5_K:
  case TL_QTYPE_Q6_K:
  case TL_QTYPE_BF16: break;
  default: return TL_EUNSUPPORTED;
  }
  if (a->x_stride < (size_t)a->k || a->scratch_bytes < tl__amx_scratch_bytes(a->m, a->k) || a->k % 32 != 0)
    return TL_EUNSUPPORTED;
  if (bf16_workspace(a->k) <= TL__THREAD_WORKSPACE) {
    bf_ctx c = {.a = a, .tp = tp, .m32 = (a->m + 31) / 32 * 32, .ks = a->k / 32};
    c.xb = (uint16_t *)(((uintptr_t)a->scratch + 63) & ~(uintptr_t)63);
    atomic_init(&c.next_row, 0);
    atomic_init(&c.next_panel, 0);
    tl__threadpool_run_dynamic(tp, bf16_x_task, &c);
    tl__threadpool_run_dynamic(tp, bf16_task, &c);
    return TL_OK;
  }
  /* very long rows: int8 tiles with one 16-row panel per thread */
  amx_ctx c = {.a = a, .tp = tp, .group = 32};
  switch (a->wtype) {
  case TL_QTYPE_Q4_K:
  case TL_QTYPE_Q5_K: c.u8 = c.mins = true; break;
  case TL_QTYPE_Q6_K: c.group = 16; break;
  case TL_QTYPE_BF16: return TL_EUNSUPPORTED;
  default: break;
  }
  const int64_t groups = a->k / c.group;
  const size_t ws_need = 2048 + (size_t)groups * 64 + (size_t)(a->k / 32) * 64 + 16 * (size_t)a->k;
  if (ws_need > TL__THREAD_WORKSPACE)
    return TL_EUNSUPPORTED;
  xlayout_init(&c.x, a->scratch, a->m, a->k);
  tl__threadpool_run(tp, quantize_x_task, &c);
  tl__threadpool_run(tp, gemm_task, &c);
  return TL_OK;
}

void tl__cpu_fill_amx(tl__cpu_kernels *k)
{
  k->isa = TL__ISA_AMX;
  k->name = "amx";
  k->matmul_big = amx_matmul;
}
