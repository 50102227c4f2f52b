/* Tests of the GGUF writer: round trips of every value type and of tensors
 * of several types (buffered and streamed) through the reader; a copy of
 * stories260K that must be byte-identical to the original; misuse errors;
 * and allocation failure at every allocation. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tailor/gguf.h"
#include "tailor/quant.h"

static const char *tmp_path(const char *name)
{
  static char buf[4][1024];
  static int k;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", th_tmpdir(), name);
  return buf[k];
}

static tl_gguf *reopen(const char *path)
{
  tl_gguf *g = NULL;
  tl_error err;
  if (tl_gguf_open(path, &g, &err) != TL_OK)
    fail_msg("reopen: %s", err.message);
  return g;
}

#define OK(call)                                                                                   \
  do {                                                                                             \
    tl_error e_;                                                                                   \
    tl_status s_ = (call);                                                                         \
    if (s_ != TL_OK)                                                                               \
      fail_msg("%s: %s", #call, e_.message);                                                       \
  } while (0)
/* (the macro's err is declared inside; calls pass &e_) */

static uint8_t *pattern(size_t n, unsigned seed)
{
  uint8_t *p = malloc(n ? n : 1);
  for (size_t i = 0; i < n; i++)
    p[i] = (uint8_t)(i * 31u + seed * 7u + (i >> 8));
  return p;
}

typedef struct tspec {
  const char *name;
  tl_qtype type;
  uint32_t n_dims;
  int64_t ne[4];
  bool streamed;
} tspec;

static const tspec TENSORS[] = {
    {"token_embd.weight", TL_QTYPE_Q4_K, 2, {256, 7, 1, 1}, false},
    {"blk.0.attn_norm.weight", TL_QTYPE_F32, 1, {5, 1, 1, 1}, true},
    {"blk.0.attn_q.weight", TL_QTYPE_Q8_0, 2, {64, 3, 1, 1}, true},
    {"blk.0.ffn_down_exps.weight", TL_QTYPE_IQ4_XS, 3, {256, 2, 4, 1}, false},
    {"blk.0.x", TL_QTYPE_F16, 4, {3, 2, 2, 2}, true},
    {"output.weight", TL_QTYPE_MXFP4, 2, {32, 9, 1, 1}, false},
};
#define N_TENSORS (sizeof TENSORS / sizeof TENSORS[0])

static void test_round_trip(void **state)
{
  (void)state;
  tl_gguf_writer *w = NULL;
  OK(tl_gguf_writer_create(&w, &e_));
  OK(tl_gguf_writer_set_u8(w, "t.u8", 200, &e_));
  OK(tl_gguf_writer_set_i8(w, "t.i8", -100, &e_));
  OK(tl_gguf_writer_set_u16(w, "t.u16", 60000, &e_));
  OK(tl_gguf_writer_set_i16(w, "t.i16", -30000, &e_));
  OK(tl_gguf_writer_set_u32(w, "t.u32", 4000000000u, &e_));
  OK(tl_gguf_writer_set_i32(w, "t.i32", -2000000000, &e_));
  OK(tl_gguf_writer_set_u64(w, "t.u64", UINT64_MAX, &e_));
  OK(tl_gguf_writer_set_i64(w, "t.i64", INT64_MIN, &e_));
  OK(tl_gguf_writer_set_f32(w, "t.f32", 0.1f, &e_));
  OK(tl_gguf_writer_set_f64(w, "t.f64", -1e300, &e_));
  OK(tl_gguf_writer_set_bool(w, "t.bool", true, &e_));
  OK(tl_gguf_writer_set_str(w, "t.str", "hello\0world", 11, &e_));
  OK(tl_gguf_writer_set_str(w, "t.empty", "", 0, &e_));
  const int32_t ai32[] = {1, -2, 3, INT32_MIN};
  OK(tl_gguf_writer_set_arr(w, "t.arr.i32", TL_GGUF_INT32, ai32, 4, &e_));
  const float af32[] = {0.5f, -0.25f};
  OK(tl_gguf_writer_set_arr(w, "t.arr.f32", TL_GGUF_FLOAT32, af32, 2, &e_));
  const uint64_t au64[] = {UINT64_MAX};
  OK(tl_gguf_writer_set_arr(w, "t.arr.u64", TL_GGUF_UINT64, au64, 1, &e_));
  const bool ab[] = {true, false, true};
  OK(tl_gguf_writer_set_arr(w, "t.arr.bool", TL_GGUF_BOOL, ab, 3, &e_));
  OK(tl_gguf_writer_set_arr(w, "t.arr.none", TL_GGUF_UINT8, NULL, 0, &e_));
  const char *strs[] = {"a", "", "ccc"};
  OK(tl_gguf_writer_set_arr_str(w, "t.arr.str", strs, NULL, 3, &e_));
  /* [[7], []] of uint8, as raw bytes */
  const uint8_t nested[] = {TL_GGUF_ARRAY, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0,
                            TL_GGUF_UINT8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7,
                            TL_GGUF_UINT8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  OK(tl_gguf_writer_set_raw(w, "t.nested", TL_GGUF_ARRAY, nested, sizeof nested, &e_));
  OK(tl_gguf_writer_set_u32(w, "general.alignment", 64, &e_));
  OK(tl_gguf_writer_set_u8(w, "t.u8", 201, &e_)); /* replaces in place */

  uint8_t *data[N_TENSORS];
  for (size_t i = 0; i < N_TENSORS; i++) {
    const tspec *s = &TENSORS[i];
    uint64_t bytes = tl_tensor_bytes(s->type, s->ne, s->n_dims);
    assert_true(bytes > 0);
    data[i] = pattern((size_t)bytes, (unsigned)i);
    OK(tl_gguf_writer_add_tensor(w, s->name, s->type, s->ne, s->n_dims, s->streamed ? NULL : data[i], &e_));
  }
  const char *path = tmp_path("round-trip.gguf");
  uint64_t data_off = tl_gguf_writer_data_offset(w);
  OK(tl_gguf_writer_begin(w, path, &e_));
  /* stream in awkward chunks: 3 bytes at a time across tensor boundaries */
  for (size_t i = 0; i < N_TENSORS; i++) {
    if (!TENSORS[i].streamed)
      continue;
    size_t bytes = (size_t)tl_tensor_bytes(TENSORS[i].type, TENSORS[i].ne, TENSORS[i].n_dims);
    for (size_t at = 0; at < bytes; at += 3)
      OK(tl_gguf_writer_write_data(w, data[i] + at, bytes - at < 3 ? bytes - at : 3, &e_));
  }
  OK(tl_gguf_writer_finish(w, &e_));
  tl_gguf_writer_free(w);

  tl_gguf *g = reopen(path);
  assert_int_equal(tl_gguf_version(g), 3);
  assert_int_equal(tl_gguf_alignment(g), 64);
  assert_int_equal(tl_gguf_data_offset(g), data_off);
  assert_int_equal(tl_gguf_n_kv(g), 21);
  assert_string_equal(tl_gguf_kv_key(g, 0), "t.u8");
  uint64_t u;
  int64_t i64;
  double d;
  bool b;
  const char *s;
  size_t n;
  assert_true(tl_gguf_kv_u64(g, 0, &u) && u == 201);
  assert_int_equal(tl_gguf_kv_type(g, 0), TL_GGUF_UINT8);
  assert_true(tl_gguf_kv_i64(g, 1, &i64) && i64 == -100);
  assert_true(tl_gguf_kv_u64(g, 2, &u) && u == 60000);
  assert_true(tl_gguf_kv_i64(g, 3, &i64) && i64 == -30000);
  assert_true(tl_gguf_kv_u64(g, 4, &u) && u == 4000000000u);
  assert_true(tl_gguf_kv_i64(g, 5, &i64) && i64 == -2000000000);
  assert_true(tl_gguf_kv_u64(g, 6, &u) && u == UINT64_MAX);
  assert_false(tl_gguf_kv_i64(g, 6, &i64)); /* out of range */
  assert_true(tl_gguf_kv_i64(g, 7, &i64) && i64 == INT64_MIN);
  assert_true(tl_gguf_kv_f64(g, 8, &d) && (float)d == 0.1f);
  assert_true(tl_gguf_kv_f64(g, 9, &d) && d == -1e300);
  assert_true(tl_gguf_kv_bool(g, 10, &b) && b);
  assert_true(tl_gguf_kv_str(g, 11, &s, &n) && n == 11 && memcmp(s, "hello\0world", 11) == 0);
  assert_true(tl_gguf_kv_str(g, 12, &s, &n) && n == 0);
  uint32_t u32;
  assert_false(tl_gguf_get_u32(g, "t.u64", &u32));
  assert_true(tl_gguf_get_u32(g, "t.u16", &u32) && u32 == 60000);
  assert_false(tl_gguf_get_u32(g, "t.i32", &u32));
  for (int k = 0; k < 4; k++)
    assert_true(tl_gguf_arr_i64(g, 13, (uint64_t)k, &i64) && i64 == ai32[k]);
  assert_true(tl_gguf_arr_f64(g, 14, 1, &d) && d == -0.25);
  assert_false(tl_gguf_arr_i64(g, 14, 1, &i64)); /* floats are not integers */
  assert_false(tl_gguf_arr_i64(g, 15, 0, &i64));  /* u64 max out of int64 range */
  assert_true(tl_gguf_arr_f64(g, 15, 0, &d) && d == 18446744073709551615.0);
  assert_true(tl_gguf_arr_i64(g, 16, 1, &i64) && i64 == 0);
  assert_true(tl_gguf_arr_i64(g, 16, 2, &i64) && i64 == 1);
  tl_gguf_type et;
  assert_true(tl_gguf_arr_info(g, 17, &et, &u) && et == TL_GGUF_UINT8 && u == 0);
  for (int k = 0; k < 3; k++) {
    assert_true(tl_gguf_arr_str(g, 18, (uint64_t)k, &s, &n));
    assert_int_equal(n, strlen(strs[k]));
    assert_memory_equal(s, strs[k], n);
  }
  const tl_gguf_array *a = tl_gguf_kv_array(g, 19);
  assert_int_equal(tl_gguf_array_count(a), 2);
  assert_true(tl_gguf_array_i64(tl_gguf_array_sub(a, 0), 0, &i64) && i64 == 7);
  assert_int_equal(tl_gguf_array_count(tl_gguf_array_sub(a, 1)), 0);
  assert_true(tl_gguf_get_u32(g, "general.alignment", &u32) && u32 == 64);

  assert_int_equal(tl_gguf_n_tensors(g), N_TENSORS);
  for (size_t i = 0; i < N_TENSORS; i++) {
    const tl_gguf_tensor *t = tl_gguf_tensor_at(g, i);
    const tspec *sp = &TENSORS[i];
    assert_string_equal(t->name, sp->name);
    assert_int_equal(t->type, sp->type);
    assert_int_equal(t->n_dims, sp->n_dims);
    for (int k = 0; k < 4; k++)
      assert_int_equal(t->ne[k], sp->ne[k]);
    assert_int_equal(t->offset % 64, 0);
    assert_int_equal(t->bytes, tl_tensor_bytes(sp->type, sp->ne, sp->n_dims));
    assert_memory_equal(t->data, data[i], (size_t)t->bytes);
    free(data[i]);
  }
  tl_gguf_close(g);
}

/* Copies every kv and tensor of a file through the writer. */
static void copy_file(const tl_gguf *g, const char *path)
{
  tl_gguf_writer *w = NULL;
  OK(tl_gguf_writer_create(&w, &e_));
  for (size_t i = 0; i < tl_gguf_n_kv(g); i++) {
    const char *key = tl_gguf_kv_key(g, i);
    tl_gguf_type t = tl_gguf_kv_type(g, i);
    uint64_t u;
    int64_t v;
    double d;
    bool b;
    const char *s;
    size_t n;
    switch (t) {
    case TL_GGUF_UINT32: assert_true(tl_gguf_kv_u64(g, i, &u)); OK(tl_gguf_writer_set_u32(w, key, (uint32_t)u, &e_)); break;
    case TL_GGUF_INT32: assert_true(tl_gguf_kv_i64(g, i, &v)); OK(tl_gguf_writer_set_i32(w, key, (int32_t)v, &e_)); break;
    case TL_GGUF_FLOAT32: assert_true(tl_gguf_kv_f64(g, i, &d)); OK(tl_gguf_writer_set_f32(w, key, (float)d, &e_)); break;
    case TL_GGUF_BOOL: assert_true(tl_gguf_kv_bool(g, i, &b)); OK(tl_gguf_writer_set_bool(w, key, b, &e_)); break;
    case TL_GGUF_STRING: assert_true(tl_gguf_kv_str(g, i, &s, &n)); OK(tl_gguf_writer_set_str(w, key, s, n, &e_)); break;
    case TL_GGUF_ARRAY: {
      tl_gguf_type et;
      uint64_t cnt;
      assert_true(tl_gguf_arr_info(g, i, &et, &cnt));
      if (et == TL_GGUF_STRING) {
        const char **ss = calloc(cnt + 1, sizeof *ss);
        size_t *ls = calloc(cnt + 1, sizeof *ls);
        for (uint64_t k = 0; k < cnt; k++)
          assert_true(tl_gguf_arr_str(g, i, k, &ss[k], &ls[k]));
        OK(tl_gguf_writer_set_arr_str(w, key, ss, ls, cnt, &e_));
        free(ss);
        free(ls);
      } else {
        OK(tl_gguf_writer_set_arr(w, key, et, tl_gguf_arr_data(g, i), cnt, &e_));
      }
      break;
    }
    default: fail_msg("unexpected type %d for %s", t, key);
    }
  }
  for (size_t i = 0; i < tl_gguf_n_tensors(g); i++) {
    const tl_gguf_tensor *t = tl_gguf_tensor_at(g, i);
    OK(tl_gguf_writer_add_tensor(w, t->name, t->type, t->ne, t->n_dims, t->data, &e_));
  }
  OK(tl_gguf_writer_write(w, path, &e_));
  tl_gguf_writer_free(w);
}

static void test_copy_is_identical(void **state)
{
  (void)state;
  static const char *const fixtures[] = {"models/stories260K.gguf", "gguf/llama-2-tiny-random.gguf"};
  for (size_t f = 0; f < 2; f++) {
    tl_gguf *g = reopen(th_data_path(fixtures[f]));
    const char *path = tmp_path("copy.gguf");
    copy_file(g, path);
    tl_gguf_close(g);
    size_t n1, n2;
    char *a = th_read_file(th_data_path(fixtures[f]), &n1);
    char *b = th_read_file(path, &n2);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(n1, n2);
    assert_memory_equal(a, b, n1);
    free(a);
    free(b);
  }
}

static void test_misuse(void **state)
{
  (void)state;
  tl_gguf_writer *w = NULL;
  tl_error err;
  OK(tl_gguf_writer_create(&w, &e_));
  const int64_t ne[2] = {100, 2}, ok_ne[2] = {32, 2};
  assert_int_equal(tl_gguf_writer_set_u32(w, "", 1, &err), TL_EINVAL);
  assert_int_equal(tl_gguf_writer_set_arr(w, "x", TL_GGUF_STRING, "x", 1, &err), TL_EINVAL);
  assert_int_equal(tl_gguf_writer_add_tensor(w, "a", TL_QTYPE_Q4_K, ne, 2, NULL, &err), TL_EINVAL);
  assert_int_equal(tl_gguf_writer_add_tensor(w, "a", (tl_qtype)4, ok_ne, 2, NULL, &err), TL_EINVAL);
  assert_int_equal(tl_gguf_writer_add_tensor(w, "", TL_QTYPE_F32, ok_ne, 2, NULL, &err), TL_EINVAL);
  OK(tl_gguf_writer_add_tensor(w, "a", TL_QTYPE_F32, ok_ne, 2, NULL, &e_));
  assert_int_equal(tl_gguf_writer_add_tensor(w, "a", TL_QTYPE_F32, ok_ne, 2, NULL, &err), TL_EINVAL);
  assert_non_null(strstr(err.message, "twice"));
  assert_int_equal(tl_gguf_writer_write_data(w, "x", 1, &err), TL_EINVAL); /* before begin */
  const char *path = tmp_path("misuse.gguf");
  OK(tl_gguf_writer_begin(w, path, &e_));
  assert_int_equal(tl_gguf_writer_set_u32(w, "late", 1, &err), TL_EINVAL);
  assert_int_equal(tl_gguf_writer_add_tensor(w, "b", TL_QTYPE_F32, ok_ne, 2, NULL, &err), TL_EINVAL);
  static uint8_t buf[300];
  assert_int_equal(tl_gguf_writer_write_data(w, buf, 300, &err), TL_EINVAL); /* 256 fit */
  tl_gguf_writer_free(w);
  struct stat sb;
  assert_int_equal(stat(path, &sb), -1); /* an unfinished file is removed */

  OK(tl_gguf_writer_create(&w, &e_));
  OK(tl_gguf_writer_add_tensor(w, "a", TL_QTYPE_F32, ok_ne, 2, NULL, &e_));
  OK(tl_gguf_writer_begin(w, path, &e_));
  OK(tl_gguf_writer_write_data(w, buf, 100, &e_));
  assert_int_equal(tl_gguf_writer_finish(w, &err), TL_EINVAL);
  assert_non_null(strstr(err.message, "100 of 256"));
  assert_int_equal(stat(path, &sb), -1);
  tl_gguf_writer_free(w);

  OK(tl_gguf_writer_create(&w, &e_));
  OK(tl_gguf_writer_set_u32(w, "general.alignment", 48, &e_));
  assert_int_equal(tl_gguf_writer_write(w, path, &err), TL_EINVAL);
  OK(tl_gguf_writer_set_u32(w, "general.alignment", 16, &e_));
  assert_int_equal(tl_gguf_writer_write(w, "/nonexistent-dir/x.gguf", &err), TL_EIO);
  OK(tl_gguf_writer_write(w, path, &e_)); /* no tensors: header only */
  tl_gguf_writer_free(w);
  tl_gguf *g = reopen(path);
  assert_int_equal(tl_gguf_n_tensors(g), 0);
  assert_int_equal(tl_gguf_alignment(g), 16);
  tl_gguf_close(g);
  tl_gguf_writer_free(NULL);
}

static tl_status write_small(const char *path)
{
  tl_gguf_writer *w = NULL;
  tl_error err;
  tl_status st = tl_gguf_writer_create(&w, &err);
  if (st == TL_OK)
    st = tl_gguf_writer_set_str(w, "general.architecture", "llama", 5, &err);
  const char *strs[] = {"a", "b"};
  if (st == TL_OK)
    st = tl_gguf_writer_set_arr_str(w, "tokens", strs, NULL, 2, &err);
  const int64_t ne[1] = {32};
  static const float zeros[32];
  if (st == TL_OK)
    st = tl_gguf_writer_add_tensor(w, "t", TL_QTYPE_F32, ne, 1, zeros, &err);
  if (st == TL_OK)
    st = tl_gguf_writer_write(w, path, &err);
  tl_gguf_writer_free(w);
  return st;
}

static void test_alloc_failures(void **state)
{
  (void)state;
  const char *path = tmp_path("alloc.gguf");
  th_alloc_install(0);
  assert_int_equal(write_small(path), TL_OK);
  uint64_t total = th_alloc_count();
  assert_int_equal(th_alloc_live(), 0);
  assert_true(total >= 5);
  for (uint64_t k = 1; k <= total; k++) {
    th_alloc_install(k);
    assert_int_equal(write_small(path), TL_ENOMEM);
    assert_int_equal(th_alloc_live(), 0);
  }
  th_alloc_uninstall();
  tl_gguf *g = reopen(path);
  assert_int_equal(tl_gguf_n_tensors(g), 1);
  tl_gguf_close(g);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_copy_is_identical),
      cmocka_unit_test(test_misuse),
      cmocka_unit_test(test_alloc_failures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
