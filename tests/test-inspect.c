/* Tests of `tailor inspect` and `tailor catalog` through the program: the
 * shipped GGUF models (values checked against their known dimensions), a
 * catalog id with its predicted sizes, malformed GGUF copies (each a clear
 * error and exit 1), and usage errors (exit 2). */
#include "harness.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tailor/gguf.h"

static json_t *run_json(const char *const *args, int want_rc)
{
  char *out = NULL, *err = NULL;
  int rc = th_run_tailor(args, NULL, &out, &err);
  if (rc != want_rc)
    fail_msg("exit %d (want %d): %s", rc, want_rc, err);
  json_error_t jerr;
  json_t *o = json_loads(out, 0, &jerr);
  if (!o)
    fail_msg("not JSON (%s): %.200s", jerr.text, out);
  free(out);
  free(err);
  return o;
}

static long long geti(json_t *o, const char *k) { return json_integer_value(json_object_get(o, k)); }

static void test_stories260k(void **state)
{
  (void)state;
  const char *args[] = {"inspect", th_data_path("models/stories260K.gguf"), "--json", NULL};
  json_t *o = run_json(args, 0);
  assert_string_equal(json_string_value(json_object_get(o, "architecture")), "llama");
  assert_string_equal(json_string_value(json_object_get(o, "kind")), "gguf");
  assert_int_equal(geti(o, "n_embd"), 64);
  assert_int_equal(geti(o, "n_layer"), 5);
  assert_int_equal(geti(o, "n_head"), 8);
  assert_int_equal(geti(o, "n_head_kv"), 4);
  assert_int_equal(geti(o, "n_vocab"), 512);
  assert_int_equal(geti(o, "n_ff"), 172);
  assert_int_equal(geti(o, "head_dim_k"), 8);
  /* 2 x 512 x 64 embeddings + 64 + 5 x (4096 + 2 x 2048 + 4096 + 3 x 64 x 172 + 128) */
  assert_int_equal(geti(o, "params_total"), 292800);
  assert_int_equal(geti(o, "weight_bytes"), 292800 * 4);
  assert_int_equal(geti(o, "n_tensors"), 48);
  json_t *kv = json_object_get(o, "kv_bytes_per_token");
  assert_int_equal(geti(kv, "f16"), 5 * (32 + 32) * 2); /* 4 KV heads x 8 */
  assert_int_equal(geti(kv, "q8_0"), 5 * 2 * 34);
  assert_int_equal(geti(kv, "q4_0"), 5 * 2 * 18);
  json_t *types = json_object_get(o, "tensor_types");
  assert_int_equal(json_array_size(types), 1);
  assert_string_equal(json_string_value(json_object_get(json_array_get(types, 0), "type")), "f32");
  assert_true(json_is_true(json_object_get(o, "has_tokenizer")));
  json_decref(o);

  char *out = NULL, *err = NULL;
  const char *text[] = {"inspect", th_data_path("models/stories260K.gguf"), NULL};
  assert_int_equal(th_run_tailor(text, NULL, &out, &err), 0);
  assert_non_null(strstr(out, "layers:        5"));
  assert_non_null(strstr(out, "heads:         8, KV heads 4"));
  assert_non_null(strstr(out, "KV cache per token: f16 640 B"));
  free(out);
  free(err);
}

static void test_tiny_random(void **state)
{
  (void)state;
  const char *args[] = {"inspect", th_data_path("gguf/llama-2-tiny-random.gguf"), "--json", "--tensors", NULL};
  json_t *o = run_json(args, 0);
  assert_int_equal(geti(o, "n_embd"), 8);
  assert_int_equal(geti(o, "n_layer"), 1);
  assert_int_equal(geti(o, "n_head"), 2);
  assert_int_equal(geti(o, "n_vocab"), 32000);
  assert_int_equal(geti(o, "n_ff"), 32);
  assert_int_equal(geti(o, "params_total"), 513048);
  assert_string_equal(json_string_value(json_object_get(o, "file_type")), "F16");
  json_t *kv = json_object_get(o, "kv_bytes_per_token");
  assert_int_equal(geti(kv, "f16"), 32);
  assert_true(json_is_null(json_object_get(kv, "q8_0"))); /* rows of 8 do not fill a block */
  json_t *ts = json_object_get(o, "tensors");
  assert_int_equal(json_array_size(ts), 12);
  long long sum = 0;
  size_t i;
  json_t *t;
  json_array_foreach(ts, i, t) sum += geti(t, "bytes");
  assert_int_equal(sum, geti(o, "weight_bytes"));
  json_decref(o);
}

static void test_catalog_id(void **state)
{
  (void)state;
  const char *args[] = {"inspect", "fixture-qwen3-30b-a3b", "--json", "--catalog",
                        th_data_path("catalog/fixture-base.json"), NULL};
  json_t *o = run_json(args, 0);
  assert_string_equal(json_string_value(json_object_get(o, "kind")), "catalog");
  assert_string_equal(json_string_value(json_object_get(o, "architecture")), "qwen3moe");
  assert_int_equal(geti(o, "n_layer"), 48);
  assert_true(geti(o, "params_active") < geti(o, "params_total") / 5);
  assert_int_equal(geti(json_object_get(o, "kv_bytes_per_token"), "f16"), 48 * 4 * 128 * 2 * 2);
  json_t *pred = json_object_get(o, "predicted");
  assert_int_equal(json_array_size(pred), 7);
  static const char *const order[] = {"Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "F16"};
  long long prev = 0;
  for (size_t i = 0; i < 7; i++) {
    json_t *r = json_array_get(pred, i);
    assert_string_equal(json_string_value(json_object_get(r, "file_type")), order[i]);
    assert_true(geti(r, "file_bytes") > geti(r, "weight_bytes"));
    assert_true(geti(r, "weight_bytes") > prev);
    prev = geti(r, "weight_bytes");
  }
  /* F16: two bytes per parameter of the 2-D tensors */
  assert_true(prev > 2 * 30000000000ll && prev < 2 * 31000000000ll);
  json_decref(o);
  char *out = NULL, *err = NULL;
  const char *text[] = {"inspect", "fixture-qwen3-30b-a3b", "--type", "q8_0", "--catalog",
                        th_data_path("catalog/fixture-base.json"), NULL};
  assert_int_equal(th_run_tailor(text, NULL, &out, &err), 0);
  assert_non_null(strstr(out, "file type:     Q8_0"));
  assert_non_null(strstr(out, "predicted GGUF sizes"));
  free(out);
  free(err);
}

/* Malformed copies of stories260K.gguf: each patch must give exit 1 and a
 * message from the GGUF reader. Offsets: magic 0, version 4, tensor count 8,
 * kv count 16, first key length 24, first key text 32.. */
static void test_malformed(void **state)
{
  (void)state;
  size_t len;
  unsigned char *orig = (unsigned char *)th_read_file(th_data_path("models/stories260K.gguf"), &len);
  assert_non_null(orig);
  uint64_t keylen;
  memcpy(&keylen, orig + 24, 8);
  static const struct {
    const char *name;
    int what; /* 0 truncate, 1 u64 at offset, 2 u32 at offset */
    size_t off;
    uint64_t value;
  } cases[] = {
      {"truncated", 0, 1000, 0},
      {"truncated-in-data", 0, 0, 0}, /* len - 100 below */
      {"bad-magic", 2, 0, 0x46554748}, /* "HGUF" */
      {"bad-version", 2, 4, 99},
      {"tensor-count-huge", 1, 8, 0x7fffffffffffffffull},
      {"tensor-count-plus-one", 1, 8, 49},
      {"kv-count-huge", 1, 16, 0xffffffffffull},
      {"key-length-huge", 1, 24, 0xfffffffffffull},
      {"value-type-bad", 2, 0, 77}, /* offset 32 + keylen below */
  };
  const char *dir = th_tmpdir();
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    unsigned char *b = malloc(len);
    memcpy(b, orig, len);
    size_t n = len;
    size_t off = cases[i].off;
    if (!strcmp(cases[i].name, "value-type-bad"))
      off = 32 + (size_t)keylen;
    if (cases[i].what == 0)
      n = cases[i].off ? cases[i].off : len - 100;
    else if (cases[i].what == 1)
      memcpy(b + off, &cases[i].value, 8);
    else {
      uint32_t v = (uint32_t)cases[i].value;
      memcpy(b + off, &v, 4);
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.gguf", dir, cases[i].name);
    assert_int_equal(th_write_file(path, b, n), 0);
    free(b);
    const char *args[] = {"inspect", path, NULL};
    char *out = NULL, *err = NULL;
    int rc = th_run_tailor(args, NULL, &out, &err);
    if (rc != 1 || !strstr(err, "tailor inspect: ") || !strstr(err, "gguf"))
      fail_msg("%s: exit %d, stderr '%s'", cases[i].name, rc, err);
    free(out);
    free(err);
  }
  free(orig);
}

static void test_usage(void **state)
{
  (void)state;
  static const struct {
    const char *args[6];
    int rc;
    const char *needle;
  } cases[] = {
      {{"inspect", NULL}, 2, "missing SRC"},
      {{"inspect", "a", "b", NULL}, 2, "one SRC only"},
      {{"inspect", "x", "--frob", NULL}, 2, "unknown option"},
      {{"inspect", "x", "--type", "Q9_Z", NULL}, 2, "Q9_Z"},
      {{"inspect", "no-such-model-id", NULL}, 1, "not a file, a directory or a catalog id"},
      {{"inspect", "/nonexistent/model.gguf", NULL}, 1, "/nonexistent/model.gguf"},
      {{"catalog", NULL}, 2, "missing subcommand"},
      {{"catalog", "frob", NULL}, 2, "unknown subcommand"},
      {{"catalog", "show", NULL}, 2, "show needs an ID"},
      {{"catalog", "show", "no-such-model-id", NULL}, 1, "no model 'no-such-model-id'"},
      {{"catalog", "list", "--catalog", "/nonexistent.json", NULL}, 1, "/nonexistent.json"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *out = NULL, *err = NULL;
    int rc = th_run_tailor(cases[i].args, NULL, &out, &err);
    if (rc != cases[i].rc || !strstr(err, cases[i].needle))
      fail_msg("case %zu: exit %d (want %d), stderr '%s'", i, rc, cases[i].rc, err);
    free(out);
    free(err);
  }
}

static void test_catalog_command(void **state)
{
  (void)state;
  const char *cat = th_data_path("catalog/fixture-base.json");
  char catbuf[4096];
  snprintf(catbuf, sizeof catbuf, "%s", cat);
  const char *args[] = {"catalog", "list", "--json", "--catalog", catbuf, "--family", "qwen3", NULL};
  json_t *o = run_json(args, 0);
  json_t *models = json_object_get(o, "models");
  assert_int_equal(geti(o, "count"), json_array_size(models));
  size_t i;
  json_t *m;
  bool found = false;
  json_array_foreach(models, i, m)
  {
    assert_string_equal(json_string_value(json_object_get(m, "family")), "qwen3");
    found = found || !strcmp(json_string_value(json_object_get(m, "id")), "fixture-qwen3-30b-a3b");
  }
  assert_true(found);
  json_decref(o);
  const char *tag[] = {"catalog", "list", "--json", "--catalog", catbuf, "--tag", "reasoning", NULL};
  o = run_json(tag, 0);
  json_array_foreach(json_object_get(o, "models"), i, m)
  {
    bool has = false;
    size_t k;
    json_t *t;
    json_array_foreach(json_object_get(m, "tags"), k, t) has = has || !strcmp(json_string_value(t), "reasoning");
    assert_true(has);
  }
  json_decref(o);
  const char *show[] = {"catalog", "show", "fixture-llama-3.1-8b", "--json", "--catalog", catbuf, NULL};
  o = run_json(show, 0);
  assert_int_equal(geti(o, "registry_params_total"), 8030261248ll);
  assert_int_equal(geti(o, "params_total"), 8030261248ll);
  assert_int_equal(geti(json_object_get(o, "config"), "num_hidden_layers"), 32);
  json_decref(o);
  char *out = NULL, *err = NULL;
  const char *text[] = {"catalog", "show", "fixture-unknown-arch", "--catalog", catbuf, NULL};
  assert_int_equal(th_run_tailor(text, NULL, &out, &err), 0);
  assert_non_null(strstr(out, "not in the registry"));
  free(out);
  free(err);
}

/* A tensor info with an invalid type id: a file made with the writer (no
 * metadata, one 1-D tensor "t" of 8 F32), its type field patched. Layout:
 * 24-byte header, name length 8 + "t", n_dims 4, ne 8, then the type. */
static void test_bad_tensor_type(void **state)
{
  (void)state;
  const char *dir = th_tmpdir();
  char path[4200];
  snprintf(path, sizeof path, "%s/one.gguf", dir);
  tl_gguf_writer *w;
  tl_error err;
  float data[8] = {0};
  int64_t ne[1] = {8};
  assert_int_equal(tl_gguf_writer_create(&w, &err), TL_OK);
  assert_int_equal(tl_gguf_writer_add_tensor(w, "t", TL_QTYPE_F32, ne, 1, data, &err), TL_OK);
  assert_int_equal(tl_gguf_writer_write(w, path, &err), TL_OK);
  tl_gguf_writer_free(w);
  size_t len;
  char *b = th_read_file(path, &len);
  uint32_t type;
  memcpy(&type, b + 45, 4);
  assert_int_equal(type, 0); /* F32: the offset is right */
  type = 99;
  memcpy(b + 45, &type, 4);
  assert_int_equal(th_write_file(path, b, len), 0);
  free(b);
  const char *args[] = {"inspect", path, NULL};
  char *out = NULL, *errs = NULL;
  int rc = th_run_tailor(args, NULL, &out, &errs);
  if (rc != 1 || !strstr(errs, "gguf") || !strstr(errs, "99"))
    fail_msg("exit %d, stderr '%s'", rc, errs);
  free(out);
  free(errs);
  /* without general.architecture the file is no model */
  assert_int_equal(tl_gguf_writer_create(&w, &err), TL_OK);
  assert_int_equal(tl_gguf_writer_add_tensor(w, "t", TL_QTYPE_F32, ne, 1, data, &err), TL_OK);
  assert_int_equal(tl_gguf_writer_write(w, path, &err), TL_OK);
  tl_gguf_writer_free(w);
  rc = th_run_tailor(args, NULL, &out, &errs);
  if (rc != 1 || !strstr(errs, "general.architecture"))
    fail_msg("exit %d, stderr '%s'", rc, errs);
  free(out);
  free(errs);
}

/* A Hugging Face directory through the program. */
static void test_hf_dir(void **state)
{
  (void)state;
  const char *dir = th_tmpdir();
  char p[4200];
  snprintf(p, sizeof p, "%s/config.json", dir);
  const char cfg[] = "{\"model_type\":\"qwen3\",\"hidden_size\":32,\"intermediate_size\":64,\"num_hidden_layers\":1,"
                     "\"num_attention_heads\":2,\"num_key_value_heads\":1,\"head_dim\":16,\"vocab_size\":10,"
                     "\"tie_word_embeddings\":true,\"torch_dtype\":\"float32\"}";
  assert_int_equal(th_write_file(p, cfg, strlen(cfg)), 0);
  const char hdr[] = "{\"model.embed_tokens.weight\":{\"dtype\":\"F32\",\"shape\":[10,32],\"data_offsets\":[0,1280]}}";
  size_t hl = strlen(hdr), n = 8 + hl + 1280;
  unsigned char *b = calloc(1, n);
  for (int i = 0; i < 8; i++)
    b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
  memcpy(b + 8, hdr, hl);
  snprintf(p, sizeof p, "%s/model.safetensors", dir);
  assert_int_equal(th_write_file(p, b, n), 0);
  free(b);
  const char *args[] = {"inspect", dir, "--json", NULL};
  json_t *o = run_json(args, 0);
  assert_string_equal(json_string_value(json_object_get(o, "kind")), "hf-dir");
  assert_string_equal(json_string_value(json_object_get(o, "architecture")), "qwen3");
  assert_int_equal(geti(o, "params_total"), 320);
  assert_int_equal(geti(o, "weight_bytes"), 1280);
  assert_int_equal(geti(o, "file_bytes"), (long long)n);
  assert_int_equal(geti(json_object_get(o, "kv_bytes_per_token"), "f16"), 2 * 16 * 2);
  json_decref(o);
  /* a header that claims more bytes than the file has */
  b = calloc(1, 16);
  b[0] = 200;
  assert_int_equal(th_write_file(p, b, 16), 0);
  free(b);
  const char *args2[] = {"inspect", dir, NULL};
  char *out = NULL, *errs = NULL;
  int rc = th_run_tailor(args2, NULL, &out, &errs);
  if (rc != 1 || !strstr(errs, "safetensors") || !strstr(errs, "past the end"))
    fail_msg("exit %d, stderr '%s'", rc, errs);
  free(out);
  free(errs);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stories260k), cmocka_unit_test(test_tiny_random),
      cmocka_unit_test(test_catalog_id),  cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_usage),       cmocka_unit_test(test_catalog_command),
      cmocka_unit_test(test_bad_tensor_type), cmocka_unit_test(test_hf_dir),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
