/* Fixtures shared by the plan tests: models built by hand from the shapes
 * in tests/data/plan/llamacpp-reference.json (a llama-shaped tensor list with
 * exact bytes), described machines, and a checked tl_plan_estimate. Static
 * functions: each test file includes this once. */
#ifndef TAILOR_TEST_PLAN_FIXTURES_H
#define TAILOR_TEST_PLAN_FIXTURES_H

#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tailor/engine.h"
#include "tailor/quant.h"
#include "tailor/tailor.h"

#define MIB (1024.0 * 1024.0)
#define GIB (1024ull * 1024ull * 1024ull)

/* ---- hand-built llama-shaped models ---- */

typedef struct tensor_list {
  tl_tensor_desc *v;
  size_t n, cap;
} tensor_list;

static inline void add(tensor_list *l, const char *name, tl_tensor_role role, int layer, tl_qtype t, int64_t ne0,
                int64_t ne1)
{
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 64;
    l->v = realloc(l->v, l->cap * sizeof *l->v);
    assert_non_null(l->v);
  }
  tl_tensor_desc *d = &l->v[l->n++];
  memset(d, 0, sizeof *d);
  snprintf(d->name, sizeof d->name, "%s", name);
  d->type = t;
  d->n_dims = ne1 > 1 ? 2 : 1;
  d->ne[0] = ne0;
  d->ne[1] = ne1;
  d->ne[2] = d->ne[3] = 1;
  d->bytes = tl_tensor_bytes(t, d->ne, d->n_dims);
  assert_true(d->bytes > 0);
  d->layer = layer;
  d->role = role;
}

static inline tl_qtype qtype_of(const char *name)
{
  tl_qtype t;
  assert_int_equal(tl_qtype_parse(name, &t, NULL), TL_OK);
  return t;
}

/* A model from a row of llamacpp-reference.json "models". Free with free_model. */
static inline tl_model_desc *build_model(json_t *spec)
{
  tl_model_desc *m = calloc(1, sizeof *m);
  assert_non_null(m);
  tl_hparams *hp = &m->hp;
  const char *arch = json_string_value(json_object_get(spec, "arch"));
  snprintf(hp->arch_name, sizeof hp->arch_name, "%s", arch);
  hp->arch = tl_arch_from_name(arch);
  hp->n_layer = (uint32_t)json_integer_value(json_object_get(spec, "n_layer"));
  hp->n_embd = (uint32_t)json_integer_value(json_object_get(spec, "n_embd"));
  hp->n_head = (uint32_t)json_integer_value(json_object_get(spec, "n_head"));
  hp->n_head_kv = (uint32_t)json_integer_value(json_object_get(spec, "n_head_kv"));
  hp->head_dim_k = hp->head_dim_v = (uint32_t)json_integer_value(json_object_get(spec, "head_dim"));
  hp->n_ff = (uint32_t)json_integer_value(json_object_get(spec, "n_ff"));
  hp->n_vocab = (uint32_t)json_integer_value(json_object_get(spec, "n_vocab"));
  hp->n_ctx_train = 131072;
  hp->tied_embeddings = json_is_true(json_object_get(spec, "tied"));
  hp->qk_norm = hp->arch == TL_ARCH_QWEN3;
  hp->norm_eps = 1e-5f;
  hp->rope_theta = 500000;
  assert_int_equal(tl_hparams_finalize(hp, NULL), TL_OK);

  tl_qtype tl_ = qtype_of(json_string_value(json_object_get(spec, "layers")));
  tl_qtype te = qtype_of(json_string_value(json_object_get(spec, "token_embd")));
  json_t *out = json_object_get(spec, "output");
  int64_t e = hp->n_embd, hd = hp->head_dim_k, qd = hd * hp->n_head, kvd = hd * hp->n_head_kv, ff = hp->n_ff;
  tensor_list l = {0};
  char name[96];
  add(&l, "token_embd.weight", TL_ROLE_TOKEN_EMBD, -1, te, e, hp->n_vocab);
  if (json_is_string(out))
    add(&l, "output.weight", TL_ROLE_OUTPUT, -1, qtype_of(json_string_value(out)), e, hp->n_vocab);
  add(&l, "output_norm.weight", TL_ROLE_OUTPUT_NORM, -1, TL_QTYPE_F32, e, 1);
  if (json_is_true(json_object_get(spec, "rope_freqs")))
    add(&l, "rope_freqs.weight", TL_ROLE_OTHER, -1, TL_QTYPE_F32, hd / 2, 1);
  for (int il = 0; il < (int)hp->n_layer; il++) {
#define T(suffix, role, type, a, b)                                                                \
  snprintf(name, sizeof name, "blk.%d.%s.weight", il, suffix);                                     \
  add(&l, name, role, il, type, a, b)
    T("attn_norm", TL_ROLE_ATTN_NORM, TL_QTYPE_F32, e, 1);
    T("attn_q", TL_ROLE_ATTN_Q, tl_, e, qd);
    T("attn_k", TL_ROLE_ATTN_K, tl_, e, kvd);
    T("attn_v", TL_ROLE_ATTN_V, tl_, e, kvd);
    T("attn_output", TL_ROLE_ATTN_OUTPUT, tl_, qd, e);
    if (hp->qk_norm) {
      T("attn_q_norm", TL_ROLE_ATTN_Q_NORM, TL_QTYPE_F32, hd, 1);
      T("attn_k_norm", TL_ROLE_ATTN_K_NORM, TL_QTYPE_F32, hd, 1);
    }
    T("ffn_norm", TL_ROLE_FFN_NORM, TL_QTYPE_F32, e, 1);
    T("ffn_gate", TL_ROLE_FFN_GATE, tl_, e, ff);
    T("ffn_up", TL_ROLE_FFN_UP, tl_, e, ff);
    T("ffn_down", TL_ROLE_FFN_DOWN, tl_, ff, e);
#undef T
  }
  m->tensors = l.v;
  m->n_tensors = l.n;
  snprintf(m->name, sizeof m->name, "hand-built %s", arch);
  for (size_t i = 0; i < l.n; i++) {
    m->weight_bytes += l.v[i].bytes;
    m->n_params += (uint64_t)(l.v[i].ne[0] * l.v[i].ne[1]);
  }
  m->n_params_active = m->n_params;
  return m;
}

static inline void free_model(tl_model_desc *m)
{
  if (m) {
    free(m->tensors);
    free(m);
  }
}

static inline json_t *reference(void)
{
  json_error_t jerr;
  json_t *root = json_load_file(th_data_path("plan/llamacpp-reference.json"), 0, &jerr);
  if (!root)
    fail_msg("llamacpp-reference.json: %s (line %d)", jerr.text, jerr.line);
  return root;
}

static inline tl_model_desc *reference_model(json_t *root, const char *name)
{
  json_t *spec = json_object_get(json_object_get(root, "models"), name);
  assert_non_null(spec);
  return build_model(spec);
}

/* ---- hardware ---- */

static inline void hw_cpu(tl_hw *hw, uint64_t ram)
{
  memset(hw, 0, sizeof *hw);
  snprintf(hw->cpu.model, sizeof hw->cpu.model, "test CPU");
  hw->cpu.cores = 8;
  hw->cpu.flops_f32 = 474e9;
  hw->mem.total = hw->mem.available = hw->mem.usable = ram;
  hw->mem.bandwidth = 37.4e9;
}

static inline void hw_add_gpu(tl_hw *hw, const char *name, uint64_t vram, double bw, bool unified)
{
  tl_gpu *g = &hw->gpus[hw->n_gpus++];
  memset(g, 0, sizeof *g);
  snprintf(g->name, sizeof g->name, "%s", name);
  g->vendor = unified ? TL_GPU_APPLE : TL_GPU_NVIDIA;
  g->vram_total = g->vram_free = vram;
  g->bandwidth = bw;
  g->fp16_flops = 989e12;
  g->unified = unified;
}

static inline tl_plan *estimate(const tl_model_desc *m, const tl_hw *hw, const tl_plan_settings *s)
{
  tl_plan *p = malloc(sizeof *p);
  assert_non_null(p);
  tl_error err;
  tl_status st = tl_plan_estimate(m, hw, s, p, &err);
  if (st != TL_OK)
    fail_msg("tl_plan_estimate: %s", err.message);
  return p;
}


static inline tl_plan_settings settings(tl_runtime rt, uint32_t n_ctx)
{
  tl_plan_settings s;
  tl_plan_settings_init(&s);
  s.runtime = rt;
  s.n_ctx = n_ctx;
  return s;
}

#endif
