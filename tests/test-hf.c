/* Tests of the Hugging Face readers: model directories built here (a small
 * config.json, safetensors files with real headers and zeroed data, a
 * sharded index, tokenizer files), and malformed safetensors headers and
 * indexes, each of which must be an error naming the problem. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/hf-int.h"
#include "tailor/model.h"

static const char config[] =
    "{\"architectures\":[\"LlamaForCausalLM\"],\"model_type\":\"llama\",\"hidden_size\":64,"
    "\"intermediate_size\":128,\"num_hidden_layers\":2,\"num_attention_heads\":4,\"num_key_value_heads\":2,"
    "\"vocab_size\":100,\"max_position_embeddings\":512,\"torch_dtype\":\"bfloat16\",\"tie_word_embeddings\":false}";

typedef struct st_tensor {
  const char *name;
  const char *dtype;
  int rank;
  long shape[4];
  int esize;
} st_tensor;

/* The tensors of the config above, as transformers names them. */
static const st_tensor llama_tensors[] = {
    {"model.embed_tokens.weight", "BF16", 2, {100, 64}, 2},
    {"lm_head.weight", "BF16", 2, {100, 64}, 2},
    {"model.norm.weight", "BF16", 1, {64}, 2},
    {"model.layers.0.self_attn.q_proj.weight", "BF16", 2, {64, 64}, 2},
    {"model.layers.0.self_attn.k_proj.weight", "BF16", 2, {32, 64}, 2},
    {"model.layers.0.self_attn.v_proj.weight", "BF16", 2, {32, 64}, 2},
    {"model.layers.0.self_attn.o_proj.weight", "BF16", 2, {64, 64}, 2},
    {"model.layers.0.mlp.gate_proj.weight", "BF16", 2, {128, 64}, 2},
    {"model.layers.0.mlp.up_proj.weight", "BF16", 2, {128, 64}, 2},
    {"model.layers.0.mlp.down_proj.weight", "BF16", 2, {64, 128}, 2},
    {"model.layers.0.input_layernorm.weight", "BF16", 1, {64}, 2},
    {"model.layers.0.post_attention_layernorm.weight", "BF16", 1, {64}, 2},
    {"model.layers.1.self_attn.q_proj.weight", "BF16", 2, {64, 64}, 2},
    {"model.layers.1.self_attn.k_proj.weight", "BF16", 2, {32, 64}, 2},
    {"model.layers.1.self_attn.v_proj.weight", "BF16", 2, {32, 64}, 2},
    {"model.layers.1.self_attn.o_proj.weight", "BF16", 2, {64, 64}, 2},
    {"model.layers.1.mlp.gate_proj.weight", "BF16", 2, {128, 64}, 2},
    {"model.layers.1.mlp.up_proj.weight", "BF16", 2, {128, 64}, 2},
    {"model.layers.1.mlp.down_proj.weight", "BF16", 2, {64, 128}, 2},
    {"model.layers.1.input_layernorm.weight", "BF16", 1, {64}, 2},
    {"model.layers.1.post_attention_layernorm.weight", "BF16", 1, {64}, 2},
};
#define N_LLAMA (sizeof llama_tensors / sizeof llama_tensors[0])

static uint64_t numel(const st_tensor *t)
{
  uint64_t n = 1;
  for (int d = 0; d < t->rank; d++)
    n *= (uint64_t)t->shape[d];
  return n;
}

/* Writes a safetensors file of tensors [from, to) with zeroed data. */
static uint64_t write_st(const char *path, const st_tensor *ts, size_t from, size_t to)
{
  char *hdr = malloc(1 << 16);
  size_t n = 0;
  uint64_t off = 0;
  n += (size_t)snprintf(hdr + n, 65536 - n, "{\"__metadata__\":{\"format\":\"pt\"}");
  for (size_t i = from; i < to; i++) {
    uint64_t bytes = numel(&ts[i]) * (uint64_t)ts[i].esize;
    n += (size_t)snprintf(hdr + n, 65536 - n, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", ts[i].name, ts[i].dtype);
    for (int d = 0; d < ts[i].rank; d++)
      n += (size_t)snprintf(hdr + n, 65536 - n, d ? ",%ld" : "%ld", ts[i].shape[d]);
    n += (size_t)snprintf(hdr + n, 65536 - n, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                          (unsigned long long)(off + bytes));
    off += bytes;
  }
  n += (size_t)snprintf(hdr + n, 65536 - n, "}");
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  unsigned char len[8];
  for (int i = 0; i < 8; i++)
    len[i] = (unsigned char)((uint64_t)n >> (8 * i));
  fwrite(len, 1, 8, f);
  fwrite(hdr, 1, n, f);
  for (uint64_t i = 0; i < off; i++)
    fputc(0, f);
  fclose(f);
  free(hdr);
  return 8 + n + off;
}

static void put(const char *dir, const char *name, const char *text)
{
  char p[4200];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  assert_int_equal(th_write_file(p, text, strlen(text)), 0);
}

static uint64_t expected_params(void)
{
  uint64_t n = 0;
  for (size_t i = 0; i < N_LLAMA; i++)
    n += numel(&llama_tensors[i]);
  return n;
}

static void test_single_file(void **state)
{
  (void)state;
  const char *dir = th_tmpdir();
  put(dir, "config.json", config);
  put(dir, "tokenizer.json", "{}");
  put(dir, "tokenizer_config.json", "{\"chat_template\": \"{{ messages }}\"}");
  char p[4200];
  snprintf(p, sizeof p, "%s/model.safetensors", dir);
  uint64_t size = write_st(p, llama_tensors, 0, N_LLAMA);
  tl_model_desc *m = NULL;
  tl_error err;
  if (tl_model_desc_from_hf_dir(dir, &m, &err) != TL_OK)
    fail_msg("%s", err.message);
  assert_int_equal(m->source_kind, TL_SOURCE_HF_DIR);
  assert_int_equal(m->n_tensors, N_LLAMA);
  assert_int_equal(m->n_params, expected_params());
  assert_int_equal(m->weight_bytes, expected_params() * 2);
  assert_int_equal(m->file_bytes, size);
  assert_true(m->has_tokenizer);
  assert_true(m->has_chat_template);
  assert_true(m->ftype_known);
  assert_int_equal(m->ftype, TL_FTYPE_BF16);
  assert_int_equal(m->hp.arch, TL_ARCH_LLAMA);
  assert_int_equal(m->hp.n_layer, 2);
  /* the registry predicts the same parameter count from config.json alone */
  tl_model_desc *r = NULL;
  assert_int_equal(tl_model_desc_from_hparams(&m->hp, TL_FTYPE_BF16, &r, &err), TL_OK);
  assert_int_equal(r->n_params, m->n_params);
  /* GGUF keeps the 5 norms (64 each) in F32, safetensors in BF16 */
  assert_int_equal(r->weight_bytes, m->weight_bytes + 5 * 64 * 2);
  tl_model_desc_free(r);
  /* shapes come back in GGML order, offsets past the header */
  const tl_tensor_desc *k = NULL;
  for (size_t i = 0; i < m->n_tensors; i++)
    if (!strcmp(m->tensors[i].name, "model.layers.1.self_attn.k_proj.weight"))
      k = &m->tensors[i];
  assert_non_null(k);
  assert_int_equal(k->ne[0], 64);
  assert_int_equal(k->ne[1], 32);
  assert_int_equal(k->type, TL_QTYPE_BF16);
  assert_int_equal(k->layer, 1);
  assert_true(k->offset > 8);
  assert_true(k->offset + k->bytes <= size);
  tl_model_desc_free(m);
}

static void test_sharded(void **state)
{
  (void)state;
  const char *dir = th_tmpdir();
  put(dir, "config.json", config);
  char p[4200];
  snprintf(p, sizeof p, "%s/model-00001-of-00002.safetensors", dir);
  uint64_t s1 = write_st(p, llama_tensors, 0, 10);
  snprintf(p, sizeof p, "%s/model-00002-of-00002.safetensors", dir);
  uint64_t s2 = write_st(p, llama_tensors, 10, N_LLAMA);
  char idx[8192];
  size_t n = (size_t)snprintf(idx, sizeof idx, "{\"metadata\":{\"total_size\":%llu},\"weight_map\":{",
                              (unsigned long long)(expected_params() * 2));
  for (size_t i = 0; i < N_LLAMA; i++)
    n += (size_t)snprintf(idx + n, sizeof idx - n, "%s\"%s\":\"model-0000%d-of-00002.safetensors\"", i ? "," : "",
                          llama_tensors[i].name, i < 10 ? 1 : 2);
  snprintf(idx + n, sizeof idx - n, "}}");
  put(dir, "model.safetensors.index.json", idx);
  tl_model_desc *m = NULL;
  tl_error err;
  if (tl_model_desc_from_hf_dir(dir, &m, &err) != TL_OK)
    fail_msg("%s", err.message);
  assert_int_equal(m->n_tensors, N_LLAMA);
  assert_int_equal(m->n_params, expected_params());
  assert_int_equal(m->file_bytes, s1 + s2);
  assert_false(m->has_tokenizer);
  assert_false(m->has_chat_template);
  tl_model_desc_free(m);

  /* an index naming a shard that is not there */
  put(dir, "model.safetensors.index.json",
      "{\"weight_map\":{\"model.norm.weight\":\"model-00003-of-00002.safetensors\"}}");
  assert_int_equal(tl_model_desc_from_hf_dir(dir, &m, &err), TL_EIO);
  assert_non_null(strstr(err.message, "model-00003-of-00002.safetensors"));
  /* an index that escapes the directory */
  put(dir, "model.safetensors.index.json", "{\"weight_map\":{\"model.norm.weight\":\"../x.safetensors\"}}");
  assert_int_equal(tl_model_desc_from_hf_dir(dir, &m, &err), TL_EFORMAT);
  assert_non_null(strstr(err.message, "model.norm.weight"));
  /* an index that leaves tensors of a shard out */
  put(dir, "model.safetensors.index.json",
      "{\"weight_map\":{\"model.norm.weight\":\"model-00001-of-00002.safetensors\"}}");
  assert_int_equal(tl_model_desc_from_hf_dir(dir, &m, &err), TL_EFORMAT);
  assert_non_null(strstr(err.message, "not mapped"));
  put(dir, "model.safetensors.index.json", "{\"weight_map\": 3}");
  assert_int_equal(tl_model_desc_from_hf_dir(dir, &m, &err), TL_EFORMAT);
  assert_non_null(strstr(err.message, "weight_map"));
}

static void test_dir_errors(void **state)
{
  (void)state;
  tl_model_desc *m = NULL;
  tl_error err;
  const char *dir = th_tmpdir();
  assert_int_equal(tl_model_desc_from_hf_dir(dir, &m, &err), TL_ENOTFOUND); /* no config.json */
  assert_non_null(strstr(err.message, "config.json"));
  put(dir, "config.json", config);
  assert_int_equal(tl_model_desc_from_hf_dir(dir, &m, &err), TL_ENOTFOUND); /* no weights */
  assert_non_null(strstr(err.message, "model.safetensors"));
  put(dir, "config.json", "{\"model_type\": \"llama\"}");
  assert_int_equal(tl_model_desc_from_hf_dir(dir, &m, &err), TL_EFORMAT);
  assert_non_null(strstr(err.message, "num_hidden_layers"));
  assert_int_equal(tl_model_desc_from_hf_dir("/nonexistent/dir", &m, &err), TL_ENOTFOUND);
}

/* Malformed headers, parsed from memory: each must fail with a message
 * naming what is wrong. */
static void test_malformed_headers(void **state)
{
  (void)state;
  static const struct {
    const char *header;
    uint64_t data; /* bytes after the header */
    tl_status st;
    const char *needle;
  } cases[] = {
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, TL_OK, ""},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", 8, TL_EFORMAT, "not valid JSON"},
      {"[]", 0, TL_EFORMAT, "not a JSON object"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, TL_EFORMAT, "outside"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, TL_EFORMAT, "need 12"},
      {"{\"a\":{\"dtype\":\"F31\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, TL_EFORMAT, "unknown dtype 'F31'"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, TL_EFORMAT, "dimension 0"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,2],\"data_offsets\":[0,8]}}", 8, TL_EUNSUPPORTED, "5 dimensions"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, TL_EFORMAT, "outside"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, TL_EFORMAT, "data_offsets"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,8]}}", 8,
       TL_EFORMAT, "dimension"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
       "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
       8, TL_EFORMAT, "not valid JSON"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tl__st_list l = {0};
    tl_error err;
    tl_error_clear(&err);
    uint64_t hl = strlen(cases[i].header);
    tl_status st = tl__safetensors_parse(cases[i].header, hl, 8 + hl + cases[i].data, "x.safetensors", &l, &err);
    if (st != cases[i].st || !strstr(err.message, cases[i].needle))
      fail_msg("case %zu: %s '%s', want %s with '%s'", i, tl_status_name(st), err.message,
               tl_status_name(cases[i].st), cases[i].needle);
    free(l.v);
  }
}

/* Files whose 8-byte length is wrong. */
static void test_bad_lengths(void **state)
{
  (void)state;
  const char *dir = th_tmpdir();
  char p[4200];
  snprintf(p, sizeof p, "%s/x.safetensors", dir);
  tl__st_list l = {0};
  tl_error err;
  unsigned char small[4] = {1, 2, 3, 4};
  th_write_file(p, small, sizeof small);
  assert_int_equal(tl__safetensors_scan(p, &l, NULL, &err), TL_EFORMAT);
  assert_non_null(strstr(err.message, "too short"));
  unsigned char huge[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '{', '}'};
  th_write_file(p, huge, sizeof huge);
  assert_int_equal(tl__safetensors_scan(p, &l, NULL, &err), TL_ELIMIT);
  assert_non_null(strstr(err.message, "exceeds the limit"));
  unsigned char past[12] = {100, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' '};
  th_write_file(p, past, sizeof past);
  assert_int_equal(tl__safetensors_scan(p, &l, NULL, &err), TL_EFORMAT);
  assert_non_null(strstr(err.message, "past the end"));
  unsigned char empty[10] = {2, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
  th_write_file(p, empty, sizeof empty);
  uint64_t size = 0;
  assert_int_equal(tl__safetensors_scan(p, &l, &size, &err), TL_OK);
  assert_int_equal(l.n, 0);
  assert_int_equal(size, 10);
  free(l.v);
}

static void test_alloc_failures(void **state)
{
  (void)state;
  const char *dir = th_tmpdir();
  put(dir, "config.json", config);
  char p[4200];
  snprintf(p, sizeof p, "%s/model.safetensors", dir);
  write_st(p, llama_tensors, 0, N_LLAMA);
  for (uint64_t n = 1;; n++) {
    th_alloc_install(n);
    tl_model_desc *m = NULL;
    tl_error err;
    tl_error_clear(&err);
    tl_status st = tl_model_desc_from_hf_dir(dir, &m, &err);
    tl_model_desc_free(m);
    /* jansson reports some failed allocations inside the parser as syntax errors */
    bool json_oom = st == TL_EFORMAT && (strstr(err.message, "invalid JSON") || strstr(err.message, "not valid JSON"));
    if (st != TL_OK && st != TL_ENOMEM && !json_oom)
      fail_msg("allocation %llu failed: %s", (unsigned long long)n, err.message);
    if (th_alloc_live() != 0)
      fail_msg("allocation %llu failed (%s): %lld blocks live", (unsigned long long)n, tl_status_name(st),
               (long long)th_alloc_live());
    th_alloc_uninstall();
    if (st == TL_OK)
      break;
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_single_file),       cmocka_unit_test(test_sharded),
      cmocka_unit_test(test_dir_errors),        cmocka_unit_test(test_malformed_headers),
      cmocka_unit_test(test_bad_lengths),       cmocka_unit_test(test_alloc_failures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
