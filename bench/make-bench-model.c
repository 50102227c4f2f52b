/* Writes GGUF models with random weights of exactly the shapes and tensor
 * types of the reference models in bench/README.md (the shapes llama.cpp was
 * measured on): speed and memory do not depend on weight values. Quantized
 * tensors are filled with random quants and scales chosen so that weights
 * have a standard deviation near 0.02, like a trained model's; norms are 1.
 * The files carry no vocabulary: the benchmarks feed token ids.
 *
 *   make-bench-model NAME OUT.gguf      NAME: 1b-q8_0 1b-q4_k 0.6b-q8_0 8b-q4_k 1b-f16
 */
#define _USE_MATH_DEFINES
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cpu/kernels.h"
#include "engine/quant-blocks.h"
#include "tailor/gguf.h"
#include "tailor/quant.h"

typedef struct shape {
  const char *name;
  const char *arch;     /* "llama" or "qwen3" */
  uint32_t n_layer, n_embd, n_head, n_head_kv, head_dim, n_ff, n_vocab;
  bool tied;
  tl_qtype layer_type;  /* attention and FFN matrices */
  tl_qtype embd_type;   /* token_embd */
  tl_qtype output_type; /* output.weight when untied */
  float rope_theta;
  float rope_factor;    /* Llama 3 rope scaling factor; 0 = none (no rope_freqs tensor) */
  uint64_t ref_weight_read_bytes; /* reference file: weight bytes read per decoded token */
} shape;

/* Shapes and byte counts: bench/README.md, "Reference models". */
static const shape shapes[] = {
    {"1b-q8_0", "llama", 16, 2048, 32, 8, 64, 8192, 128256, true, TL_QTYPE_Q8_0, TL_QTYPE_Q8_0,
     TL_QTYPE_Q8_0, 500000.0f, 32.0f, 1313251456ull},
    {"1b-q4_k", "llama", 16, 2048, 32, 8, 64, 8192, 128256, true, TL_QTYPE_Q4_K, TL_QTYPE_Q6_K,
     TL_QTYPE_Q6_K, 500000.0f, 32.0f, 763097216ull},
    {"0.6b-q8_0", "qwen3", 28, 1024, 16, 8, 128, 3072, 151936, true, TL_QTYPE_Q8_0, TL_QTYPE_Q8_0,
     TL_QTYPE_Q8_0, 1000000.0f, 0.0f, 633495552ull},
    {"8b-q4_k", "llama", 32, 4096, 32, 8, 128, 14336, 128256, false, TL_QTYPE_Q4_K, TL_QTYPE_Q4_K,
     TL_QTYPE_Q6_K, 500000.0f, 8.0f, 4357876224ull},
    {"1b-f16", "llama", 16, 2048, 32, 8, 64, 8192, 128256, true, TL_QTYPE_F16, TL_QTYPE_F16,
     TL_QTYPE_F16, 500000.0f, 32.0f, 0},
};

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t next(void)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static void fill_random(void *p, size_t n)
{
  uint8_t *b = p;
  while (n >= 8) {
    uint64_t r = next();
    memcpy(b, &r, 8);
    b += 8;
    n -= 8;
  }
  uint64_t r = next();
  memcpy(b, &r, n);
}

/* One block of `t` with random quants; weights of std ~0.02. */
static void random_block(tl_qtype t, void *blk)
{
  switch (t) {
  case TL_QTYPE_Q8_0: {
    tl__block_q8_0 *b = blk;
    fill_random(b->qs, sizeof b->qs);
    for (int i = 0; i < TL_QK8_0; i++)
      if (b->qs[i] == -128)
        b->qs[i] = -127;
    b->d = tl__f32_to_fp16(0.02f / 73.6f); /* uniform int8: std 73.6 */
    break;
  }
  case TL_QTYPE_Q4_K: {
    tl__block_q4_K *b = blk;
    fill_random(b, sizeof *b);
    b->d = tl__f32_to_fp16(0.02f / (4.6f * 32.0f));
    b->dmin = tl__f32_to_fp16(0.02f * 7.5f / (4.6f * 32.0f * 32.0f));
    break;
  }
  case TL_QTYPE_Q6_K: {
    tl__block_q6_K *b = blk;
    fill_random(b, sizeof *b);
    for (int i = 0; i < TL_QK_K / 16; i++)
      b->scales[i] = (int8_t)(16 + (b->scales[i] & 31));
    b->d = tl__f32_to_fp16(0.02f / (18.5f * 32.0f));
    break;
  }
  default:
    break;
  }
}

typedef struct gen {
  tl_gguf_writer *w;
  uint8_t *buf;
  size_t cap;
} gen;

static int add(gen *g, const char *name, tl_qtype t, int64_t ne0, int64_t ne1)
{
  int64_t ne[2] = {ne0, ne1};
  tl_error err;
  if (tl_gguf_writer_add_tensor(g->w, name, t, ne, ne1 > 1 ? 2 : 1, NULL, &err)) {
    fprintf(stderr, "make-bench-model: %s\n", err.message);
    return 1;
  }
  return 0;
}

/* Llama 3 rope scaling as per-frequency divisors (the rope_freqs tensor of
 * Llama 3.x GGUF files): 1 for wavelengths below original_ctx / high_freq
 * (4), `factor` above original_ctx / low_freq (1), smooth between; original
 * context 8192 (Llama 3.1 / 3.2 config.json rope_scaling). */
static void llama3_rope_factors(const shape *s, float *out)
{
  const double low = 1.0, high = 4.0, orig = 8192.0;
  for (uint32_t i = 0; i < s->head_dim / 2; i++) {
    double freq = pow(s->rope_theta, -2.0 * i / s->head_dim);
    double wavelen = 2.0 * M_PI / freq;
    double f;
    if (wavelen < orig / high)
      f = 1.0;
    else if (wavelen > orig / low)
      f = s->rope_factor;
    else {
      double smooth = (orig / wavelen - low) / (high - low);
      f = 1.0 / ((1.0 - smooth) / s->rope_factor + smooth);
    }
    out[i] = (float)f;
  }
}

/* Streams one tensor's data in chunks of whole rows. */
static int write_tensor(gen *g, tl_qtype t, int64_t ne0, int64_t ne1, bool norm)
{
  tl_error err;
  uint64_t row = tl_qtype_row_bytes(t, ne0);
  size_t rows_per = g->cap / row ? g->cap / row : 1;
  for (int64_t r = 0; r < ne1; r += (int64_t)rows_per) {
    size_t nr = (size_t)(ne1 - r) < rows_per ? (size_t)(ne1 - r) : rows_per;
    size_t bytes = nr * row;
    if (t == TL_QTYPE_F32) {
      float *f = (float *)g->buf;
      for (size_t i = 0; i < bytes / 4; i++)
        f[i] = norm ? 1.0f : 0.0f;
    } else if (t == TL_QTYPE_F16) {
      tl__fp16 *h = (tl__fp16 *)g->buf;
      for (size_t i = 0; i < bytes / 2; i++) {
        /* a sum of four uniforms: roughly normal, std 0.02 */
        double u = 0;
        for (int k = 0; k < 4; k++)
          u += (double)(next() >> 11) / 9007199254740992.0 - 0.5;
        h[i] = tl__f32_to_fp16((float)(u * 0.02 / 0.5774));
      }
    } else {
      const tl_qtype_info *q = tl_qtype_get(t);
      for (size_t off = 0; off < bytes; off += q->block_bytes)
        random_block(t, g->buf + off);
    }
    if (tl_gguf_writer_write_data(g->w, g->buf, bytes, &err)) {
      fprintf(stderr, "make-bench-model: %s\n", err.message);
      return 1;
    }
  }
  return 0;
}

typedef struct tensor_plan {
  char name[64];
  tl_qtype t;
  int64_t ne0, ne1;
  bool norm;
} tensor_plan;

int main(int argc, char **argv)
{
  if (argc != 3) {
    fprintf(stderr, "usage: make-bench-model NAME OUT.gguf\nNAME:");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
      fprintf(stderr, " %s", shapes[i].name);
    fprintf(stderr, "\n");
    return 2;
  }
  const shape *s = NULL;
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
    if (!strcmp(argv[1], shapes[i].name))
      s = &shapes[i];
  if (!s) {
    fprintf(stderr, "make-bench-model: no model '%s'\n", argv[1]);
    return 2;
  }
  size_t max_t = 4 + (size_t)s->n_layer * 11;
  tensor_plan *tp = calloc(max_t, sizeof *tp);
  size_t n = 0;
  uint32_t q_dim = s->n_head * s->head_dim, kv_dim = s->n_head_kv * s->head_dim;
#define T(nm, type, a, b, isnorm)                                                                 \
  do {                                                                                            \
    snprintf(tp[n].name, sizeof tp[n].name, "%s", nm);                                            \
    tp[n].t = type;                                                                               \
    tp[n].ne0 = a;                                                                                \
    tp[n].ne1 = b;                                                                                \
    tp[n].norm = isnorm;                                                                          \
    n++;                                                                                          \
  } while (0)
  T("token_embd.weight", s->embd_type, s->n_embd, s->n_vocab, false);
  T("output_norm.weight", TL_QTYPE_F32, s->n_embd, 1, true);
  if (s->rope_factor > 0)
    T("rope_freqs.weight", TL_QTYPE_F32, s->head_dim / 2, 1, false);
  if (!s->tied)
    T("output.weight", s->output_type, s->n_embd, s->n_vocab, false);
  for (uint32_t l = 0; l < s->n_layer; l++) {
    char nm[64];
#define L(suffix, type, a, b, isnorm)                                                             \
  do {                                                                                            \
    snprintf(nm, sizeof nm, "blk.%u.%s.weight", l, suffix);                                       \
    T(nm, type, a, b, isnorm);                                                                    \
  } while (0)
    L("attn_norm", TL_QTYPE_F32, s->n_embd, 1, true);
    L("attn_q", s->layer_type, s->n_embd, q_dim, false);
    L("attn_k", s->layer_type, s->n_embd, kv_dim, false);
    L("attn_v", s->layer_type, s->n_embd, kv_dim, false);
    L("attn_output", s->layer_type, q_dim, s->n_embd, false);
    if (!strcmp(s->arch, "qwen3")) {
      L("attn_q_norm", TL_QTYPE_F32, s->head_dim, 1, true);
      L("attn_k_norm", TL_QTYPE_F32, s->head_dim, 1, true);
    }
    L("ffn_norm", TL_QTYPE_F32, s->n_embd, 1, true);
    L("ffn_gate", s->layer_type, s->n_embd, s->n_ff, false);
    L("ffn_up", s->layer_type, s->n_embd, s->n_ff, false);
    L("ffn_down", s->layer_type, s->n_ff, s->n_embd, false);
  }

  tl_error err;
  gen g = {0};
  g.cap = 8u << 20;
  g.buf = malloc(g.cap);
  if (tl_gguf_writer_create(&g.w, &err)) {
    fprintf(stderr, "make-bench-model: %s\n", err.message);
    return 1;
  }
  char key[96];
  const char *a = s->arch;
  tl_gguf_writer_set_str(g.w, "general.architecture", a, strlen(a), NULL);
  char gname[64];
  snprintf(gname, sizeof gname, "bench-%s (random weights)", s->name);
  tl_gguf_writer_set_str(g.w, "general.name", gname, strlen(gname), NULL);
  tl_gguf_writer_set_u32(g.w, "general.quantization_version", 2, NULL);
#define KU32(suffix, v)                                                                           \
  do {                                                                                            \
    snprintf(key, sizeof key, "%s.%s", a, suffix);                                                \
    tl_gguf_writer_set_u32(g.w, key, v, NULL);                                                    \
  } while (0)
  KU32("block_count", s->n_layer);
  KU32("context_length", 131072);
  KU32("embedding_length", s->n_embd);
  KU32("feed_forward_length", s->n_ff);
  KU32("attention.head_count", s->n_head);
  KU32("attention.head_count_kv", s->n_head_kv);
  KU32("attention.key_length", s->head_dim);
  KU32("attention.value_length", s->head_dim);
  KU32("rope.dimension_count", s->head_dim);
  KU32("vocab_size", s->n_vocab);
  snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", a);
  tl_gguf_writer_set_f32(g.w, key, 1e-5f, NULL);
  snprintf(key, sizeof key, "%s.rope.freq_base", a);
  tl_gguf_writer_set_f32(g.w, key, s->rope_theta, NULL);

  uint64_t total = 0, read_per_token = 0;
  for (size_t i = 0; i < n; i++) {
    if (add(&g, tp[i].name, tp[i].t, tp[i].ne0, tp[i].ne1))
      return 1;
    uint64_t b = tl_qtype_row_bytes(tp[i].t, tp[i].ne0) * (uint64_t)tp[i].ne1;
    total += b;
    /* decode reads every weight once; of an untied token_embd only the
     * token's row (a tied one is read whole as the output) */
    if (strcmp(tp[i].name, "token_embd.weight") || s->tied)
      read_per_token += b;
    else
      read_per_token += tl_qtype_row_bytes(tp[i].t, tp[i].ne0);
  }
  if (tl_gguf_writer_begin(g.w, argv[2], &err)) {
    fprintf(stderr, "make-bench-model: %s\n", err.message);
    return 1;
  }
  for (size_t i = 0; i < n; i++) {
    if (!strcmp(tp[i].name, "rope_freqs.weight")) {
      float f[256];
      llama3_rope_factors(s, f);
      if (tl_gguf_writer_write_data(g.w, f, s->head_dim / 2 * sizeof(float), &err)) {
        fprintf(stderr, "make-bench-model: %s\n", err.message);
        return 1;
      }
      continue;
    }
    if (write_tensor(&g, tp[i].t, tp[i].ne0, tp[i].ne1, tp[i].norm))
      return 1;
    fprintf(stderr, "\rmake-bench-model: %s: tensor %zu/%zu", s->name, i + 1, n);
  }
  fprintf(stderr, "\n");
  if (tl_gguf_writer_finish(g.w, &err)) {
    fprintf(stderr, "make-bench-model: %s\n", err.message);
    return 1;
  }
  tl_gguf_writer_free(g.w);
  printf("%s: %s, tensor bytes %llu, weight bytes read per token %llu", s->name, argv[2],
         (unsigned long long)total, (unsigned long long)read_per_token);
  if (s->ref_weight_read_bytes)
    printf(" (reference %llu: %s)", (unsigned long long)s->ref_weight_read_bytes,
           read_per_token == s->ref_weight_read_bytes ? "equal" : "DIFFERENT");
  printf("\n");
  free(tp);
  free(g.buf);
  return s->ref_weight_read_bytes && read_per_token != s->ref_weight_read_bytes ? 1 : 0;
}
