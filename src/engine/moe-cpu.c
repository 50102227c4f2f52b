/* CPU entries of the ops table that the llama family does not use: gemma's
 * GeGLU and soft-capping, scaling, and mixture-of-experts routing (top-k of
 * the router's softmax, as Mixtral and Qwen3-MoE compute it in transformers'
 * MixtralSparseMoeBlock / Qwen3MoeSparseMoeBlock), the gather of one expert's
 * tokens and the weighted scatter-add of its outputs. Scalar loops: these
 * touch m x dim values per layer, the matmuls around them dominate. */
#include <math.h>
#include <string.h>

#include "engine/backend-cpu.h"
#include "engine/engine-int.h"

/* gelu with the tanh approximation (transformers' gelu_pytorch_tanh,
 * ggml_gelu): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
static float gelu_tanh(float x)
{
  const float c = 0.7978845608028654f; /* sqrt(2/pi) */
  return 0.5f * x * (1.0f + tanhf(c * (x + 0.044715f * x * x * x)));
}

void tl__cpu_geglu(tl__backend *b, float *out, const float *gate, const float *up, size_t n)
{
  (void)b;
  for (size_t i = 0; i < n; i++)
    out[i] = gelu_tanh(gate[i]) * up[i];
}

void tl__cpu_scale(tl__backend *b, float *x, float s, size_t n)
{
  if (s == 0.0f)
    memset(x, 0, n * sizeof *x);
  else
    ((tl__cpu *)b->impl)->k->scale(x, s, (int64_t)n);
}

void tl__cpu_softcap(tl__backend *b, float *x, float cap, size_t n)
{
  (void)b;
  for (size_t i = 0; i < n; i++)
    x[i] = cap * tanhf(x[i] / cap);
}

void tl__cpu_moe_route(tl__backend *b, const float *logits, uint32_t m, uint32_t n_expert,
                       uint32_t k, bool norm, int32_t *sel, float *w)
{
  (void)b;
  for (uint32_t t = 0; t < m; t++) {
    const float *l = logits + (size_t)t * n_expert;
    int32_t *s = sel + (size_t)t * k;
    float *ws = w + (size_t)t * k;
    float mx = l[0];
    for (uint32_t e = 1; e < n_expert; e++)
      mx = l[e] > mx ? l[e] : mx;
    double sum = 0;
    for (uint32_t e = 0; e < n_expert; e++)
      sum += exp((double)l[e] - mx);
    /* k passes of selection: k is small (2 .. 8) */
    for (uint32_t j = 0; j < k; j++) {
      int32_t best = -1;
      for (uint32_t e = 0; e < n_expert; e++) {
        bool taken = false;
        for (uint32_t q = 0; q < j; q++)
          taken |= s[q] == (int32_t)e;
        if (!taken && (best < 0 || l[e] > l[best]))
          best = (int32_t)e;
      }
      s[j] = best;
      ws[j] = (float)(exp((double)l[best] - mx) / sum);
    }
    if (norm) {
      float tot = 0;
      for (uint32_t j = 0; j < k; j++)
        tot += ws[j];
      for (uint32_t j = 0; j < k; j++)
        ws[j] /= tot;
    }
  }
}

void tl__cpu_gather_rows(tl__backend *b, float *out, const float *x, const int32_t *rows,
                         uint32_t n_rows, uint32_t n)
{
  (void)b;
  for (uint32_t i = 0; i < n_rows; i++)
    memcpy(out + (size_t)i * n, x + (size_t)rows[i] * n, n * sizeof *out);
}

void tl__cpu_scatter_add_rows(tl__backend *b, float *y, const float *x, const int32_t *rows,
                              const float *w, uint32_t n_rows, uint32_t n)
{
  tl__cpu *c = b->impl;
  for (uint32_t i = 0; i < n_rows; i++)
    c->k->axpy(y + (size_t)rows[i] * n, w[i], x + (size_t)i * n, n);
}
