/* Tests of the file-type mixture rule: table-driven cases
 * (tests/data/mixture/cases.json, derived by hand from llama.cpp's
 * src/llama-quant.cpp) over several architectures and mixtures, the visiting
 * order, and files written with the writer whose tensors follow a mixture:
 * the bytes predicted from shapes and rules must equal the file's bytes. */
#include "harness.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tailor/catalog.h"
#include "tailor/gguf.h"
#include "tailor/quant.h"

bool tl__mixture_fast_path_agrees(const char *name);

typedef struct model {
  tl_mixture_tensor *t;
  char (*names)[TL_TENSOR_NAME_MAX];
  size_t n;
} model;

static void model_free(model *m)
{
  free(m->t);
  free(m->names);
}

static void add_tensor(model *m, size_t cap, const char *name, json_t *shape, const char *src)
{
  assert_true(m->n < cap);
  snprintf(m->names[m->n], TL_TENSOR_NAME_MAX, "%s", name);
  tl_mixture_tensor *t = &m->t[m->n];
  t->name = m->names[m->n];
  for (int d = 0; d < 4; d++)
    t->ne[d] = d < (int)json_array_size(shape) ? json_integer_value(json_array_get(shape, (size_t)d)) : 1;
  assert_int_equal(tl_qtype_parse(src, &t->src_type, NULL), TL_OK);
  m->n++;
}

/* Builds the tensor list of a case, in reverse of the natural order so the
 * rule's own ordering is exercised. */
static model build_model(json_t *jm)
{
  json_t *global = json_object_get(jm, "global"), *layers = json_object_get(jm, "layer");
  json_t *dense = json_object_get(jm, "dense_layer"); /* leading dense layers (deepseek) */
  size_t n_dense = (size_t)json_integer_value(json_object_get(jm, "n_dense_lead"));
  size_t n_layer = (size_t)json_integer_value(json_object_get(jm, "n_layer"));
  size_t cap = json_array_size(global) + n_layer * (json_array_size(layers) + json_array_size(dense));
  model m = {calloc(cap, sizeof *m.t), calloc(cap, sizeof *m.names), 0};
  for (size_t l = n_layer; l-- > 0;) {
    json_t *layer = l < n_dense ? dense : layers;
    for (size_t k = json_array_size(layer); k-- > 0;) {
      json_t *row = json_array_get(layer, k);
      char name[TL_TENSOR_NAME_MAX];
      snprintf(name, sizeof name, "blk.%zu.%s", l, json_string_value(json_array_get(row, 0)));
      add_tensor(&m, cap, name, json_array_get(row, 1), json_string_value(json_array_get(row, 2)));
    }
  }
  for (size_t k = json_array_size(global); k-- > 0;) {
    json_t *row = json_array_get(global, k);
    add_tensor(&m, cap, json_string_value(json_array_get(row, 0)), json_array_get(row, 1),
               json_string_value(json_array_get(row, 2)));
  }
  return m;
}

static tl_mixture_ctx ctx_of(json_t *jm, json_t *check)
{
  tl_mixture_ctx c;
  memset(&c, 0, sizeof c);
  snprintf(c.arch, sizeof c.arch, "%s", json_string_value(json_object_get(jm, "arch")));
  c.n_layer = (uint32_t)json_integer_value(json_object_get(jm, "n_layer"));
  c.n_expert = (uint32_t)json_integer_value(json_object_get(jm, "n_expert"));
  c.n_head = (uint32_t)json_integer_value(json_object_get(jm, "n_head"));
  c.n_head_kv = (uint32_t)json_integer_value(json_object_get(jm, "n_head_kv"));
  c.has_imatrix = json_is_true(json_object_get(check, "imatrix"));
  return c;
}

static void test_cases(void **state)
{
  (void)state;
  json_error_t jerr;
  json_t *root = json_load_file(th_data_path("mixture/cases.json"), 0, &jerr);
  if (root == NULL)
    fail_msg("cases.json: %s (line %d)", jerr.text, jerr.line);
  size_t mi, n_checks = 0;
  json_t *jm;
  json_array_foreach(json_object_get(root, "models"), mi, jm) {
    model m = build_model(jm);
    size_t ci;
    json_t *check;
    json_array_foreach(json_object_get(jm, "checks"), ci, check) {
      const char *fname = json_string_value(json_object_get(check, "ftype"));
      tl_ftype ft;
      assert_int_equal(tl_ftype_parse(fname, &ft, NULL), TL_OK);
      tl_mixture_ctx ctx = ctx_of(jm, check);
      tl_error err;
      tl_error_clear(&err);
      tl_status st = tl_mixture_assign(ft, &ctx, m.t, m.n, &err);
      const char *id = json_string_value(json_object_get(jm, "id"));
      print_message("%s %s%s: %s\n", id, fname, ctx.has_imatrix ? " (imatrix)" : "",
                    st == TL_OK ? "ok" : err.message);
      n_checks++;
      json_t *jerror = json_object_get(check, "error");
      if (jerror != NULL) {
        assert_int_equal(st, TL_EUNSUPPORTED);
        if (strstr(err.message, json_string_value(jerror)) == NULL)
          fail_msg("%s %s: message lacks '%s': %s", id, fname, json_string_value(jerror), err.message);
        continue;
      }
      if (st != TL_OK)
        fail_msg("%s %s: %s", id, fname, err.message);
      const char *key;
      json_t *v;
      json_object_foreach(json_object_get(check, "expect"), key, v) {
        size_t i = 0;
        while (i < m.n && strcmp(m.t[i].name, key) != 0)
          i++;
        if (i == m.n)
          fail_msg("%s: no tensor %s", id, key);
        if (strcmp(tl_qtype_name(m.t[i].type), json_string_value(v)) != 0)
          fail_msg("%s %s: %s is %s, expected %s", id, fname, key, tl_qtype_name(m.t[i].type),
                   json_string_value(v));
      }
      size_t counted = 0;
      json_object_foreach(json_object_get(check, "counts"), key, v) {
        tl_qtype qt;
        assert_int_equal(tl_qtype_parse(key, &qt, NULL), TL_OK);
        size_t n = 0;
        for (size_t i = 0; i < m.n; i++)
          n += m.t[i].type == qt;
        if (n != (size_t)json_integer_value(v))
          fail_msg("%s %s: %zu tensors of %s, expected %lld", id, fname, n, key,
                   (long long)json_integer_value(v));
        counted += n;
      }
      if (json_object_get(check, "counts") != NULL)
        assert_int_equal(counted, m.n); /* every tensor accounted for */
      json_t *fb = json_object_get(check, "fallbacks");
      if (fb != NULL)
        assert_int_equal(ctx.n_fallback, json_integer_value(fb));
      for (size_t i = 0; i < m.n; i++)
        assert_int_equal(m.t[i].bytes, tl_tensor_bytes(m.t[i].type, m.t[i].ne, 4));
    }
    model_free(&m);
  }
  assert_true(n_checks >= 30);
  json_decref(root);
}

static void test_order(void **state)
{
  (void)state;
  const char *names[] = {"blk.10.attn_v.weight", "output.weight", "blk.2.ffn_down.weight",
                         "blk.2.attn_v.weight", "token_embd.weight", "blk.1.x"};
  size_t idx[6] = {0, 1, 2, 3, 4, 5};
  tl_mixture_order(names, idx, 6);
  const size_t want[6] = {1, 4, 5, 3, 2, 0}; /* no layer first (by name), then by layer */
  for (int i = 0; i < 6; i++)
    assert_int_equal(idx[i], want[i]);
  tl_mixture_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  snprintf(ctx.arch, sizeof ctx.arch, "llama");
  ctx.n_layer = 80;
  ctx.n_head = 64;
  ctx.n_head_kv = 8;
  tl_mixture_ctx_begin(&ctx, names, 6);
  assert_true(ctx.has_output);
  assert_int_equal(ctx.n_attention_wv, 2);
  assert_true(ctx.is_70b);
  ctx.n_head_kv = 64;
  tl_mixture_ctx_begin(&ctx, names, 6);
  assert_false(ctx.is_70b); /* llama 65B has no GQA */
}

/* llama 70B: attn_v at Q4_K is raised to Q5_K. */
static void test_70b_bump(void **state)
{
  (void)state;
  tl_mixture_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  snprintf(ctx.arch, sizeof ctx.arch, "llama");
  ctx.n_layer = 80;
  ctx.n_head = 64;
  ctx.n_head_kv = 8;
  const char *names[] = {"blk.0.attn_v.weight", "blk.1.attn_v.weight", "blk.2.attn_v.weight",
                         "blk.3.attn_v.weight", "blk.4.attn_v.weight"};
  tl_mixture_ctx_begin(&ctx, names, 5);
  ctx.n_attention_wv = 80; /* as in the whole model */
  const int64_t ne[4] = {8192, 1024, 1, 1};
  /* Q4_K_M: layers 0..9 use more bits (Q6_K); 10 would be Q4_K -> Q5_K */
  tl_qtype t;
  for (int i = 0; i < 10; i++) {
    char name[64];
    snprintf(name, sizeof name, "blk.%d.attn_v.weight", i);
    assert_int_equal(tl_mixture_tensor_type(TL_FTYPE_Q4_K_M, &ctx, name, ne, TL_QTYPE_F16, &t, NULL), TL_OK);
    assert_int_equal(t, TL_QTYPE_Q6_K);
  }
  assert_int_equal(tl_mixture_tensor_type(TL_FTYPE_Q4_K_M, &ctx, "blk.10.attn_v.weight", ne, TL_QTYPE_F16, &t, NULL),
                   TL_OK);
  assert_int_equal(t, TL_QTYPE_Q5_K);
  assert_int_equal(ctx.i_attention_wv, 11);
}

static void test_not_quantized(void **state)
{
  (void)state;
  tl_mixture_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  snprintf(ctx.arch, sizeof ctx.arch, "bert");
  ctx.n_layer = 12;
  ctx.n_head = ctx.n_head_kv = 12;
  static const char *const keep[] = {
      "position_embd.weight", "token_types.weight", "blk.0.ssm_conv1d.weight", "blk.0.attn_norm.weight",
      "blk.0.ffn_gate_inp.weight", "blk.0.time_mix_w1.weight", "blk.0.attn_rel_b.weight", "v.patch_embd.weight",
      "blk.0.attn_q.bias", "blk.0.altup_proj.weight"};
  const int64_t ne[4] = {256, 256, 1, 1}, ne1[4] = {256, 1, 1, 1};
  tl_qtype t;
  tl_mixture_ctx_begin(&ctx, keep, sizeof keep / sizeof keep[0]);
  for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
    assert_int_equal(tl_mixture_tensor_type(TL_FTYPE_Q4_0, &ctx, keep[i], ne, TL_QTYPE_BF16, &t, NULL), TL_OK);
    assert_int_equal(t, TL_QTYPE_BF16);
  }
  /* a 2-D weight is quantized; the same name with a 1-D shape is not */
  assert_int_equal(tl_mixture_tensor_type(TL_FTYPE_Q4_0, &ctx, "blk.0.attn_q.weight", ne, TL_QTYPE_BF16, &t, NULL), TL_OK);
  assert_int_equal(t, TL_QTYPE_Q4_0);
  assert_int_equal(tl_mixture_tensor_type(TL_FTYPE_Q4_0, &ctx, "blk.0.attn_q.weight", ne1, TL_QTYPE_F32, &t, NULL), TL_OK);
  assert_int_equal(t, TL_QTYPE_F32);
  tl_error err;
  assert_int_equal(tl_mixture_tensor_type((tl_ftype)4, &ctx, "x.weight", ne, TL_QTYPE_F32, &t, &err), TL_EINVAL);
}

/* ---- a written model follows the prediction exactly ---- */

typedef struct tiny {
  const char *arch;
  uint32_t n_layer, n_embd, n_ff, n_head, n_head_kv, n_vocab, n_expert;
  bool tied;
} tiny;

static size_t tiny_tensors(const tiny *s, tl_mixture_tensor *t, char (*names)[TL_TENSOR_NAME_MAX])
{
  size_t n = 0;
#define T(nm, a, b, c, src)                                                                        \
  do {                                                                                             \
    snprintf(names[n], TL_TENSOR_NAME_MAX, "%s", nm);                                              \
    t[n] = (tl_mixture_tensor){names[n], {a, b, c, 1}, src, TL_QTYPE_COUNT, 0};                    \
    n++;                                                                                           \
  } while (0)
  int64_t kv = (int64_t)s->n_embd / s->n_head * s->n_head_kv;
  T("token_embd.weight", s->n_embd, s->n_vocab, 1, TL_QTYPE_F16);
  T("output_norm.weight", s->n_embd, 1, 1, TL_QTYPE_F32);
  if (!s->tied)
    T("output.weight", s->n_embd, s->n_vocab, 1, TL_QTYPE_F16);
  for (uint32_t l = 0; l < s->n_layer; l++) {
    char b[64];
#define L(suffix, a, bb, c, src)                                                                   \
  do {                                                                                             \
    snprintf(b, sizeof b, "blk.%u.%s", l, suffix);                                                 \
    T(b, a, bb, c, src);                                                                           \
  } while (0)
    L("attn_norm.weight", s->n_embd, 1, 1, TL_QTYPE_F32);
    L("attn_q.weight", s->n_embd, s->n_embd, 1, TL_QTYPE_F16);
    L("attn_k.weight", s->n_embd, kv, 1, TL_QTYPE_F16);
    L("attn_v.weight", s->n_embd, kv, 1, TL_QTYPE_F16);
    L("attn_output.weight", s->n_embd, s->n_embd, 1, TL_QTYPE_F16);
    L("ffn_norm.weight", s->n_embd, 1, 1, TL_QTYPE_F32);
    if (s->n_expert > 0) {
      L("ffn_gate_inp.weight", s->n_embd, s->n_expert, 1, TL_QTYPE_F32);
      L("ffn_gate_exps.weight", s->n_embd, s->n_ff, s->n_expert, TL_QTYPE_F16);
      L("ffn_up_exps.weight", s->n_embd, s->n_ff, s->n_expert, TL_QTYPE_F16);
      L("ffn_down_exps.weight", s->n_ff, s->n_embd, s->n_expert, TL_QTYPE_F16);
    } else {
      L("ffn_gate.weight", s->n_embd, s->n_ff, 1, TL_QTYPE_F16);
      L("ffn_up.weight", s->n_embd, s->n_ff, 1, TL_QTYPE_F16);
      L("ffn_down.weight", s->n_ff, s->n_embd, 1, TL_QTYPE_F16);
    }
  }
#undef L
#undef T
  return n;
}

static void write_and_compare(const tiny *s, tl_ftype ft)
{
  tl_mixture_tensor t[256];
  char names[256][TL_TENSOR_NAME_MAX];
  size_t n = tiny_tensors(s, t, names);
  tl_mixture_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  snprintf(ctx.arch, sizeof ctx.arch, "%s", s->arch);
  ctx.n_layer = s->n_layer;
  ctx.n_head = s->n_head;
  ctx.n_head_kv = s->n_head_kv;
  ctx.n_expert = s->n_expert;
  ctx.has_imatrix = true;
  tl_error err;
  if (tl_mixture_assign(ft, &ctx, t, n, &err) != TL_OK)
    fail_msg("%s: %s", tl_ftype_name(ft), err.message);
  uint64_t predicted = 0;
  for (size_t i = 0; i < n; i++)
    predicted += (t[i].bytes + 31) / 32 * 32;

  tl_gguf_writer *w = NULL;
  assert_int_equal(tl_gguf_writer_create(&w, NULL), TL_OK);
  assert_int_equal(tl_gguf_writer_set_str(w, "general.architecture", s->arch, strlen(s->arch), NULL), TL_OK);
  assert_int_equal(tl_gguf_writer_set_u32(w, "general.file_type", (uint32_t)ft, NULL), TL_OK);
  for (size_t i = 0; i < n; i++)
    assert_int_equal(tl_gguf_writer_add_tensor(w, t[i].name, t[i].type, t[i].ne, 3, NULL, NULL), TL_OK);
  char path[1024];
  snprintf(path, sizeof path, "%s/mixture-%s.gguf", th_tmpdir(), tl_ftype_name(ft));
  assert_int_equal(tl_gguf_writer_begin(w, path, NULL), TL_OK);
  static uint8_t zeros[65536];
  uint64_t total = 0;
  for (size_t i = 0; i < n; i++)
    total += t[i].bytes;
  while (total > 0) {
    size_t k = total < sizeof zeros ? (size_t)total : sizeof zeros;
    assert_int_equal(tl_gguf_writer_write_data(w, zeros, k, NULL), TL_OK);
    total -= k;
  }
  assert_int_equal(tl_gguf_writer_finish(w, NULL), TL_OK);
  tl_gguf_writer_free(w);

  tl_gguf *g = NULL;
  assert_int_equal(tl_gguf_open(path, &g, NULL), TL_OK);
  assert_int_equal(tl_gguf_n_tensors(g), n);
  for (size_t i = 0; i < n; i++) {
    int64_t k = tl_gguf_find_tensor(g, t[i].name);
    assert_true(k >= 0);
    const tl_gguf_tensor *gt = tl_gguf_tensor_at(g, (size_t)k);
    assert_int_equal(gt->type, t[i].type);
    assert_int_equal(gt->bytes, t[i].bytes);
  }
  assert_int_equal(tl_gguf_file_size(g), tl_gguf_data_offset(g) + predicted);
  uint32_t u;
  assert_true(tl_gguf_get_u32(g, "general.file_type", &u) && u == (uint32_t)ft);
  tl_gguf_close(g);
}

static void test_written_models(void **state)
{
  (void)state;
  /* 320 = 256 + 64 forces fallbacks; 768 = 3 x 256 does not */
  const tiny dense = {"qwen2", 8, 320, 768, 5, 1, 1000, 0, true};
  const tiny moe = {"llama", 4, 256, 512, 8, 2, 512, 8, false};
  static const tl_ftype fts[] = {TL_FTYPE_Q4_K_M, TL_FTYPE_Q3_K_M, TL_FTYPE_Q2_K, TL_FTYPE_Q6_K,
                                 TL_FTYPE_IQ4_XS, TL_FTYPE_IQ2_XXS, TL_FTYPE_Q8_0, TL_FTYPE_F16,
                                 TL_FTYPE_MXFP4_MOE, TL_FTYPE_TQ1_0, TL_FTYPE_IQ1_M};
  for (size_t i = 0; i < sizeof fts / sizeof fts[0]; i++) {
    write_and_compare(&dense, fts[i]);
    write_and_compare(&moe, fts[i]);
  }
}

/* Published files (tests/data/mixture/published.json): for each model, the
 * file size minus the predicted padded tensor bytes (the metadata) must be
 * the same for every mixture, which holds only when every tensor's type is
 * predicted right. Llama 2 70B exercises the 70B attn_v rule. */
static void test_published_files(void **state)
{
  (void)state;
  json_error_t jerr;
  json_t *root = json_load_file(th_data_path("mixture/published.json"), 0, &jerr);
  if (root == NULL)
    fail_msg("published.json: %s (line %d)", jerr.text, jerr.line);
  size_t mi, n_files = 0;
  json_t *jm;
  static tl_mixture_tensor t[1024];
  static char names[1024][TL_TENSOR_NAME_MAX];
  json_array_foreach(json_object_get(root, "models"), mi, jm) {
    tiny s = {"llama",
              (uint32_t)json_integer_value(json_object_get(jm, "n_layer")),
              (uint32_t)json_integer_value(json_object_get(jm, "n_embd")),
              (uint32_t)json_integer_value(json_object_get(jm, "n_ff")),
              (uint32_t)json_integer_value(json_object_get(jm, "n_head")),
              (uint32_t)json_integer_value(json_object_get(jm, "n_head_kv")),
              (uint32_t)json_integer_value(json_object_get(jm, "n_vocab")), 0, false};
    size_t n = tiny_tensors(&s, t, names);
    int64_t meta = -1;
    size_t fi;
    json_t *jf;
    json_array_foreach(json_object_get(jm, "files"), fi, jf) {
      tl_ftype ft;
      assert_int_equal(tl_ftype_parse(json_string_value(json_array_get(jf, 0)), &ft, NULL), TL_OK);
      tl_mixture_ctx ctx;
      memset(&ctx, 0, sizeof ctx);
      snprintf(ctx.arch, sizeof ctx.arch, "llama");
      ctx.n_layer = s.n_layer;
      ctx.n_head = s.n_head;
      ctx.n_head_kv = s.n_head_kv;
      assert_int_equal(tl_mixture_assign(ft, &ctx, t, n, NULL), TL_OK);
      int64_t tensors = 0;
      for (size_t i = 0; i < n; i++)
        tensors += (int64_t)(t[i].bytes + 31) / 32 * 32;
      int64_t m = json_integer_value(json_array_get(jf, 1)) - tensors;
      if (meta < 0)
        meta = m;
      if (m != meta)
        fail_msg("%s %s: metadata would be %lld bytes, %lld for the first mixture",
                 json_string_value(json_object_get(jm, "id")), tl_ftype_name(ft), (long long)m,
                 (long long)meta);
      assert_true(m > 0 && m < 8 * 1024 * 1024);
      n_files++;
    }
  }
  assert_true(n_files >= 100);
  json_decref(root);
}

/* tl_mixture_apply types a model description in place. */
/* The fast classification of "blk.N.<suffix>" names agrees with the general
 * substring rules: for every tensor of every catalog model the registry
 * describes, and for suffixes that must take the general path. */
static void test_fast_path(void **state)
{
  (void)state;
  const char *names[] = {"blk.0.attn_q.weight", "blk.12.ffn_gate_inp.weight",
                         "blk.3.ffn_gate_inp_shexp.weight", "blk.7.attn_kv_b.weight",
                         "blk.1.attn_q_a_norm.weight", "blk.2.exp_probs_b.bias",
                         "v.blk.0.attn_q.weight", "blk.x.attn_q.weight", "blk.4.altup_proj.weight",
                         "blk.5.attn_norm_2.weight"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (!tl__mixture_fast_path_agrees(names[i]))
      fail_msg("fast path disagrees for '%s'", names[i]);
  tl_catalog *c = NULL;
  assert_int_equal(tl_catalog_load_default(&c, NULL), TL_OK);
  size_t checked = 0;
  for (size_t i = 0; i < tl_catalog_count(c); i++) {
    tl_model_desc *m = NULL;
    if (tl_model_desc_from_catalog(c, tl_catalog_at(c, i)->id, TL_FTYPE_F16, &m, NULL) != TL_OK)
      continue;
    for (size_t t = 0; t < m->n_tensors; t++) {
      if (!tl__mixture_fast_path_agrees(m->tensors[t].name))
        fail_msg("fast path disagrees for '%s' (%s)", m->tensors[t].name, tl_catalog_at(c, i)->id);
      checked++;
    }
    tl_model_desc_free(m);
  }
  assert_true(checked > 10000);
  tl_catalog_free(c);
}

static void test_apply_desc(void **state)
{
  (void)state;
  tl_model_desc m;
  memset(&m, 0, sizeof m);
  snprintf(m.hp.arch_name, sizeof m.hp.arch_name, "qwen2");
  m.hp.n_layer = 1;
  m.hp.n_head = 14;
  m.hp.n_head_kv = 2;
  tl_tensor_desc t[3];
  memset(t, 0, sizeof t);
  snprintf(t[0].name, sizeof t[0].name, "token_embd.weight");
  t[0].n_dims = 2, t[0].ne[0] = 896, t[0].ne[1] = 1000, t[0].type = TL_QTYPE_BF16;
  snprintf(t[1].name, sizeof t[1].name, "blk.0.attn_norm.weight");
  t[1].n_dims = 1, t[1].ne[0] = 896, t[1].type = TL_QTYPE_F32; /* ne[1..3] left 0 */
  snprintf(t[2].name, sizeof t[2].name, "blk.0.ffn_down.weight");
  t[2].n_dims = 2, t[2].ne[0] = 4864, t[2].ne[1] = 896, t[2].type = TL_QTYPE_BF16;
  m.tensors = t;
  m.n_tensors = 3;
  assert_int_equal(tl_mixture_apply(TL_FTYPE_Q4_K_M, &m, false, NULL), TL_OK);
  assert_int_equal(t[0].type, TL_QTYPE_Q8_0); /* tied, 896 not a multiple of 256 */
  assert_int_equal(t[1].type, TL_QTYPE_F32);
  assert_int_equal(t[1].bytes, 896 * 4);
  assert_int_equal(t[2].type, TL_QTYPE_Q6_K); /* layer 0 of 1 uses more bits */
  assert_int_equal(t[2].bytes, (uint64_t)19 * 210 * 896);
  th_alloc_install(1);
  tl_error err;
  assert_int_equal(tl_mixture_apply(TL_FTYPE_Q8_0, &m, false, &err), TL_ENOMEM);
  th_alloc_uninstall();
  assert_int_equal(t[2].type, TL_QTYPE_Q6_K); /* unchanged on error */
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cases),         cmocka_unit_test(test_order),
      cmocka_unit_test(test_70b_bump),      cmocka_unit_test(test_not_quantized),
      cmocka_unit_test(test_written_models), cmocka_unit_test(test_published_files),
      cmocka_unit_test(test_apply_desc),   cmocka_unit_test(test_fast_path),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
