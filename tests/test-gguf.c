/* Tests of the GGUF reader: the shipped fixtures (little- and big-endian
 * parser fixtures, stories260K, an F16 tiny Llama), nested arrays, and
 * malformed files: every truncation of the small fixtures, corrupted fields
 * of hand-built files, and allocation failure at every allocation. Each
 * malformed file must give TL_EFORMAT with a byte offset in the message. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tailor/gguf.h"
#include "tailor/quant.h"

/* ---- a byte builder for hand-made files ---- */

typedef struct bb {
  uint8_t *p;
  size_t n, cap;
} bb;

static void bb_bytes(bb *b, const void *src, size_t n)
{
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2 + 64;
    b->p = realloc(b->p, b->cap);
    assert_non_null(b->p);
  }
  memcpy(b->p + b->n, src, n);
  b->n += n;
}
static void bb_u32(bb *b, uint32_t v) { bb_bytes(b, &v, 4); }
static void bb_u64(bb *b, uint64_t v) { bb_bytes(b, &v, 8); }
static void bb_str(bb *b, const char *s)
{
  bb_u64(b, strlen(s));
  bb_bytes(b, s, strlen(s));
}
static void bb_pad(bb *b, size_t align)
{
  while (b->n % align)
    bb_bytes(b, "", 1);
}
static void bb_header(bb *b, uint64_t n_tensors, uint64_t n_kv)
{
  bb_bytes(b, "GGUF", 4);
  bb_u32(b, 3);
  bb_u64(b, n_tensors);
  bb_u64(b, n_kv);
}
/* One tensor info. */
static void bb_tensor(bb *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type, uint64_t off)
{
  bb_str(b, name);
  bb_u32(b, n_dims);
  for (uint32_t d = 0; d < n_dims; d++)
    bb_u64(b, ne[d]);
  bb_u32(b, type);
  bb_u64(b, off);
}

static void expect_format_error(const void *data, size_t n, const char *needle)
{
  tl_gguf *g = (tl_gguf *)(uintptr_t)1;
  tl_error err;
  tl_error_clear(&err);
  tl_status st = tl_gguf_open_memory(data, n, &g, &err);
  if (st != TL_EFORMAT)
    fail_msg("expected TL_EFORMAT, got %d (%s) for a %zu-byte file", st, err.message, n);
  assert_ptr_equal(g, (tl_gguf *)(uintptr_t)1); /* out untouched on error */
  if (strstr(err.message, "offset") == NULL)
    fail_msg("message without an offset: %s", err.message);
  if (needle != NULL && strstr(err.message, needle) == NULL)
    fail_msg("message lacks '%s': %s", needle, err.message);
}

static tl_gguf *open_fixture(const char *rel)
{
  tl_gguf *g = NULL;
  tl_error err;
  tl_status st = tl_gguf_open(th_data_path(rel), &g, &err);
  if (st != TL_OK)
    fail_msg("%s: %s", rel, err.message);
  return g;
}

static void assert_str(const tl_gguf *g, const char *key, const char *want)
{
  const char *s;
  size_t n;
  assert_true(tl_gguf_get_str(g, key, &s, &n));
  assert_int_equal(n, strlen(want));
  assert_memory_equal(s, want, n);
}

/* ---- fixtures ---- */

static void check_parser_fixture(const tl_gguf *g, bool be)
{
  assert_int_equal(tl_gguf_version(g), 3);
  assert_int_equal(tl_gguf_alignment(g), 64);
  assert_int_equal(tl_gguf_is_big_endian(g), be);
  assert_int_equal(tl_gguf_n_kv(g), 6);
  assert_str(g, "general.architecture", "llama");
  uint32_t u;
  assert_true(tl_gguf_get_u32(g, "llama.block_count", &u));
  assert_int_equal(u, 12);
  assert_true(tl_gguf_get_u32(g, "answer", &u));
  assert_int_equal(u, 42);
  float f;
  assert_true(tl_gguf_get_f32(g, "answer_in_float", &f));
  assert_true(f == 42.0f);
  assert_false(tl_gguf_get_u32(g, "answer_in_float", &u)); /* float is not an integer */
  assert_false(tl_gguf_get_f32(g, "answer", &f));
  assert_false(tl_gguf_get_u32(g, "no.such.key", &u));
  assert_int_equal(tl_gguf_n_tensors(g), 3);
  for (size_t i = 0; i < 3; i++) {
    const tl_gguf_tensor *t = tl_gguf_tensor_at(g, i);
    char name[16];
    snprintf(name, sizeof name, "tensor%zu", i + 1);
    assert_string_equal(t->name, name);
    assert_int_equal(tl_gguf_find_tensor(g, name), (int64_t)i);
    assert_int_equal(t->type, TL_QTYPE_F32);
    assert_int_equal(t->n_dims, 1);
    assert_int_equal(t->ne[0], 32 * (int64_t)(i + 1));
    assert_int_equal(t->ne[1], 1);
    assert_int_equal(t->bytes, 128 * (i + 1));
    static const uint64_t offs[3] = {0, 128, 384};
    assert_int_equal(t->offset, offs[i]);
    /* values 100, 101, 102 in the file's byte order */
    const uint8_t *p = t->data;
    uint32_t bits = be ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
                       : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
    float v;
    memcpy(&v, &bits, 4);
    assert_true(v == 100.0f + (float)i);
  }
  assert_int_equal(tl_gguf_find_tensor(g, "tensor4"), -1);
  assert_int_equal(tl_gguf_data_offset(g) + 768, tl_gguf_file_size(g));
}

static void test_le_fixture(void **state)
{
  (void)state;
  tl_gguf *g = open_fixture("gguf/test-le-v3.gguf");
  check_parser_fixture(g, false);
  int64_t k = tl_gguf_find_kv(g, "tokenizer.ggml.tokens");
  assert_true(k >= 0);
  tl_gguf_type et;
  uint64_t n;
  assert_true(tl_gguf_arr_info(g, (size_t)k, &et, &n));
  assert_int_equal(et, TL_GGUF_STRING);
  assert_int_equal(n, 5);
  for (uint64_t i = 0; i < n; i++) {
    const char *s;
    size_t len;
    assert_true(tl_gguf_arr_str(g, (size_t)k, i, &s, &len));
    assert_int_equal(len, 1);
    assert_int_equal(s[0], 'a' + (int)i);
  }
  const char *s;
  size_t len;
  assert_false(tl_gguf_arr_str(g, (size_t)k, 5, &s, &len));
  assert_null(tl_gguf_arr_data(g, (size_t)k));
  tl_gguf_close(g);
}

static void test_be_fixture(void **state)
{
  (void)state;
  tl_gguf *g = open_fixture("gguf/test-be-v3.gguf");
  check_parser_fixture(g, true);
  /* the key appears twice: the first one is found */
  assert_string_equal(tl_gguf_kv_key(g, 0), "general.architecture");
  assert_string_equal(tl_gguf_kv_key(g, 1), "general.architecture");
  assert_int_equal(tl_gguf_find_kv(g, "general.architecture"), 0);
  tl_gguf_close(g);
}

static void test_stories260k(void **state)
{
  (void)state;
  tl_gguf *g = open_fixture("models/stories260K.gguf");
  assert_str(g, "general.architecture", "llama");
  uint32_t u;
  assert_true(tl_gguf_get_u32(g, "llama.block_count", &u));
  assert_int_equal(u, 5);
  assert_true(tl_gguf_get_u32(g, "llama.embedding_length", &u));
  assert_int_equal(u, 64);
  assert_true(tl_gguf_get_u32(g, "llama.attention.head_count_kv", &u));
  assert_int_equal(u, 4);
  int64_t k = tl_gguf_find_kv(g, "tokenizer.ggml.tokens");
  tl_gguf_type et;
  uint64_t n;
  assert_true(tl_gguf_arr_info(g, (size_t)k, &et, &n));
  assert_int_equal(n, 512);
  k = tl_gguf_find_kv(g, "tokenizer.ggml.scores");
  assert_true(tl_gguf_arr_info(g, (size_t)k, &et, &n));
  assert_int_equal(et, TL_GGUF_FLOAT32);
  assert_int_equal(n, 512);
  assert_non_null(tl_gguf_arr_data(g, (size_t)k));
  double d;
  assert_true(tl_gguf_arr_f64(g, (size_t)k, 0, &d));
  /* tensors: 5 layers x 9 + token_embd + output_norm + output, all F32 (the
   * converter wrote the shared embedding out twice) */
  assert_int_equal(tl_gguf_n_tensors(g), 48);
  int64_t ti = tl_gguf_find_tensor(g, "token_embd.weight");
  assert_true(ti >= 0);
  const tl_gguf_tensor *t = tl_gguf_tensor_at(g, (size_t)ti);
  assert_int_equal(t->n_dims, 2);
  assert_int_equal(t->ne[0], 64);
  assert_int_equal(t->ne[1], 512);
  assert_true(tl_gguf_find_tensor(g, "output.weight") >= 0);
  assert_int_equal(tl_gguf_find_tensor(g, "output"), -1);
  uint64_t sum = 0, end = 0;
  for (size_t i = 0; i < tl_gguf_n_tensors(g); i++) {
    t = tl_gguf_tensor_at(g, i);
    assert_int_equal(t->type, TL_QTYPE_F32);
    sum += t->bytes;
    if (t->offset + t->bytes > end)
      end = t->offset + t->bytes;
  }
  /* 2 x 64x512 embeddings, output norm 64, and per layer q 64x64, k and v
   * 64x32, o 64x64, two norms of 64, three 64x172 FFN matrices: 292800 f32 */
  assert_int_equal(sum, 292800 * 4);
  assert_true(tl_gguf_data_offset(g) + end <= tl_gguf_file_size(g));
  tl_gguf_close(g);
}

static void test_tiny_random_f16(void **state)
{
  (void)state;
  tl_gguf *g = open_fixture("gguf/llama-2-tiny-random.gguf");
  int64_t k = tl_gguf_find_kv(g, "tokenizer.ggml.tokens");
  tl_gguf_type et;
  uint64_t n;
  assert_true(tl_gguf_arr_info(g, (size_t)k, &et, &n));
  assert_int_equal(n, 32000);
  const char *s;
  size_t len;
  assert_true(tl_gguf_arr_str(g, (size_t)k, 31999, &s, &len));
  assert_true(len > 0);
  k = tl_gguf_find_kv(g, "tokenizer.ggml.token_type");
  assert_true(tl_gguf_arr_info(g, (size_t)k, &et, &n));
  assert_int_equal(et, TL_GGUF_INT32);
  int64_t v;
  assert_true(tl_gguf_arr_i64(g, (size_t)k, 0, &v));
  assert_int_equal(v, 2); /* <unk> is UNKNOWN (2) */
  size_t n_f16 = 0;
  for (size_t i = 0; i < tl_gguf_n_tensors(g); i++) {
    const tl_gguf_tensor *t = tl_gguf_tensor_at(g, i);
    n_f16 += t->type == TL_QTYPE_F16;
    assert_int_equal(t->bytes, tl_tensor_bytes(t->type, t->ne, t->n_dims));
  }
  assert_true(n_f16 > 0);
  tl_gguf_close(g);
}

static void test_open_errors(void **state)
{
  (void)state;
  tl_gguf *g = NULL;
  tl_error err;
  assert_int_equal(tl_gguf_open(th_data_path("gguf/no-such-file.gguf"), &g, &err), TL_ENOTFOUND);
  assert_null(g);
  assert_int_equal(tl_gguf_open(th_data_path("gguf"), &g, &err), TL_EIO);
  assert_int_equal(tl_gguf_open(th_data_path("vocab/FORMAT.md"), &g, &err), TL_EFORMAT);
  assert_non_null(strstr(err.message, "magic"));
  assert_int_equal(tl_gguf_open_memory(NULL, 0, &g, &err), TL_EFORMAT);
  tl_gguf_close(NULL);
}

/* The fuzz seeds (made with the writer, plus the parser fixtures and a
 * version-2 copy of the little-endian one) are valid files. */
static void test_fuzz_seeds(void **state)
{
  (void)state;
  static const struct { const char *name; uint32_t version; size_t n_kv, n_tensors; } seeds[] = {
      {"all-value-types.gguf", 3, 16, 2}, {"every-tensor-type.gguf", 3, 1, 32},
      {"tokenizer.gguf", 3, 4, 1},        {"empty.gguf", 3, 0, 0},
      {"test-le-v2.gguf", 2, 6, 3},       {"test-le-v3.gguf", 3, 6, 3},
      {"test-be-v3.gguf", 3, 6, 3},
  };
  char path[1024];
  const char *src = getenv("TAILOR_SOURCE_DIR");
  assert_non_null(src);
  for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
    snprintf(path, sizeof path, "%s/tests/fuzz/corpus-gguf/%s", src, seeds[i].name);
    tl_gguf *g = NULL;
    tl_error err;
    if (tl_gguf_open(path, &g, &err) != TL_OK)
      fail_msg("%s: %s", seeds[i].name, err.message);
    assert_int_equal(tl_gguf_version(g), seeds[i].version);
    assert_int_equal(tl_gguf_n_kv(g), seeds[i].n_kv);
    assert_int_equal(tl_gguf_n_tensors(g), seeds[i].n_tensors);
    tl_gguf_close(g);
  }
}

/* ---- nested arrays and every value type ---- */

static void test_nested_arrays(void **state)
{
  (void)state;
  bb b = {0};
  bb_header(&b, 0, 3);
  /* [[1, 2], [3]] of uint16 */
  bb_str(&b, "nest");
  bb_u32(&b, TL_GGUF_ARRAY);
  bb_u32(&b, TL_GGUF_ARRAY);
  bb_u64(&b, 2);
  bb_u32(&b, TL_GGUF_UINT16);
  bb_u64(&b, 2);
  bb_bytes(&b, (const uint16_t[]){1, 2}, 4);
  bb_u32(&b, TL_GGUF_UINT16);
  bb_u64(&b, 1);
  bb_bytes(&b, (const uint16_t[]){3}, 2);
  /* [["x", "yz"]] */
  bb_str(&b, "nest.str");
  bb_u32(&b, TL_GGUF_ARRAY);
  bb_u32(&b, TL_GGUF_ARRAY);
  bb_u64(&b, 1);
  bb_u32(&b, TL_GGUF_STRING);
  bb_u64(&b, 2);
  bb_str(&b, "x");
  bb_str(&b, "yz");
  /* int8 scalar -5 */
  bb_str(&b, "neg");
  bb_u32(&b, TL_GGUF_INT8);
  bb_bytes(&b, "\xfb", 1);
  tl_gguf *g = NULL;
  tl_error err;
  assert_int_equal(tl_gguf_open_memory(b.p, b.n, &g, &err), TL_OK);
  const tl_gguf_array *a = tl_gguf_kv_array(g, 0);
  assert_non_null(a);
  assert_int_equal(tl_gguf_array_type(a), TL_GGUF_ARRAY);
  assert_int_equal(tl_gguf_array_count(a), 2);
  const tl_gguf_array *a0 = tl_gguf_array_sub(a, 0), *a1 = tl_gguf_array_sub(a, 1);
  assert_null(tl_gguf_array_sub(a, 2));
  assert_null(tl_gguf_array_sub(a0, 0));
  int64_t v;
  assert_int_equal(tl_gguf_array_count(a0), 2);
  assert_true(tl_gguf_array_i64(a0, 1, &v));
  assert_int_equal(v, 2);
  assert_true(tl_gguf_array_i64(a1, 0, &v));
  assert_int_equal(v, 3);
  assert_false(tl_gguf_array_i64(a1, 1, &v));
  assert_false(tl_gguf_array_i64(a, 0, &v));
  const tl_gguf_array *s0 = tl_gguf_array_sub(tl_gguf_kv_array(g, 1), 0);
  const char *s;
  size_t n;
  assert_true(tl_gguf_array_str(s0, 1, &s, &n));
  assert_int_equal(n, 2);
  assert_memory_equal(s, "yz", 2);
  assert_true(tl_gguf_kv_i64(g, 2, &v));
  assert_int_equal(v, -5);
  uint64_t u;
  assert_false(tl_gguf_kv_u64(g, 2, &u)); /* negative */
  assert_null(tl_gguf_kv_array(g, 2));
  assert_int_equal(tl_gguf_data_offset(g) % 32, 0);
  tl_gguf_close(g);
  free(b.p);
}

/* ---- malformed files ---- */

static void truncations(const char *rel, size_t step_after)
{
  size_t n;
  char *buf = th_read_file(th_data_path(rel), &n);
  assert_non_null(buf);
  tl_gguf *g = NULL;
  assert_int_equal(tl_gguf_open_memory(buf, n, &g, NULL), TL_OK);
  size_t header = (size_t)tl_gguf_data_offset(g);
  tl_gguf_close(g);
  /* every cut inside the header, then every step_after bytes of the data */
  for (size_t cut = 0; cut < n; cut += cut < header ? 1 : step_after) {
    char *copy = malloc(cut ? cut : 1); /* exact size, so ASan sees over-reads */
    memcpy(copy, buf, cut);
    expect_format_error(copy, cut, NULL);
    free(copy);
  }
  free(buf);
}

static void test_truncated_fixtures(void **state)
{
  (void)state;
  truncations("gguf/test-le-v3.gguf", 1);
  truncations("gguf/test-be-v3.gguf", 1);
  truncations("models/stories260K.gguf", 4099);
}

/* Overwrites every header position of a shipped fixture with a few
 * patterns (all ones, zero, a large count, a flipped byte): each open must
 * either succeed or fail with TL_EFORMAT naming an offset. Covers wrong
 * counts, huge lengths, bad value and tensor types, bad offsets and dims. */
static void mutations(const char *rel, size_t limit)
{
  size_t n;
  char *buf = th_read_file(th_data_path(rel), &n);
  assert_non_null(buf);
  tl_gguf *g = NULL;
  assert_int_equal(tl_gguf_open_memory(buf, n, &g, NULL), TL_OK);
  size_t header = (size_t)tl_gguf_data_offset(g);
  tl_gguf_close(g);
  if (header > limit)
    header = limit;
  static const uint8_t patterns[4][8] = {
      {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, {0, 0, 0, 0, 0, 0, 0, 0},
      {0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00}, {0x00, 0x00, 0x00, 0x40, 0, 0, 0, 0}};
  char *copy = malloc(n);
  size_t n_ok = 0, n_bad = 0;
  for (size_t at = 0; at < header; at++) {
    for (int p = 0; p < 5; p++) {
      memcpy(copy, buf, n);
      if (p < 4)
        memcpy(copy + at, patterns[p], at + 8 <= n ? 8 : n - at);
      else
        copy[at] = (char)(copy[at] ^ 0x5a);
      tl_gguf *h = NULL;
      tl_error err;
      tl_status st = tl_gguf_open_memory(copy, n, &h, &err);
      if (st == TL_OK) {
        n_ok++;
        tl_gguf_close(h);
        continue;
      }
      n_bad++;
      if (st != TL_EFORMAT || strstr(err.message, "offset") == NULL)
        fail_msg("%s: pattern %d at %zu gave %d: %s", rel, p, at, st, err.message);
    }
  }
  assert_true(n_bad > 0);
  print_message("%s: %zu mutated headers rejected, %zu still valid\n", rel, n_bad, n_ok);
  free(copy);
  free(buf);
}

static void test_mutated_fixtures(void **state)
{
  (void)state;
  mutations("gguf/test-le-v3.gguf", SIZE_MAX);
  mutations("gguf/test-be-v3.gguf", SIZE_MAX);
  mutations("models/stories260K.gguf", 4096);
}

typedef struct bad_case {
  const char *what;
  const char *needle;
} bad_case;

/* Builds a small valid file, then one variant per case. */
static void build_case(bb *b, int which)
{
  const uint64_t ne2[2] = {32, 2};
  b->n = 0;
  bb_bytes(b, "GGUF", 4);
  bb_u32(b, which == 1 ? 1 : which == 2 ? 7 : 3);
  bb_u64(b, which == 3 ? (1ull << 40) : which == 25 ? 1ull << 19 : 2); /* tensors */
  bb_u64(b, which == 4 ? (1ull << 40) : which == 26 ? 1ull << 19 : 3); /* kvs */
  /* kv 0: a string */
  bb_str(b, which == 5 ? "" : "general.architecture");
  bb_u32(b, which == 6 ? 13 : TL_GGUF_STRING);
  if (which == 7)
    bb_u64(b, 0xFFFFFFFFull);
  else
    bb_str(b, "llama");
  /* kv 1: an array of u32 */
  if (which == 8) { /* a key with an embedded NUL */
    bb_u64(b, 3);
    bb_bytes(b, "a\0b", 3);
  } else {
    bb_str(b, "arr");
  }
  bb_u32(b, TL_GGUF_ARRAY);
  bb_u32(b, which == 9 ? 99 : TL_GGUF_UINT32);
  bb_u64(b, which == 10 ? (1ull << 62) : 2);
  bb_u32(b, 7);
  bb_u32(b, 8);
  /* kv 2: alignment */
  bb_str(b, "general.alignment");
  bb_u32(b, which == 11 ? TL_GGUF_UINT64 : TL_GGUF_UINT32);
  if (which == 11)
    bb_u64(b, 32);
  else
    bb_u32(b, which == 12 ? 0 : which == 13 ? 48 : 32);
  /* tensors */
  uint64_t dims[4] = {32, 2, 1, 1};
  uint32_t nd = 2;
  if (which == 14) nd = 0;
  if (which == 15) nd = 5;
  if (which == 16) dims[1] = 0;
  if (which == 17) { dims[0] = 1ull << 40; dims[1] = 1ull << 40; }
  if (which == 18) dims[0] = (uint64_t)INT64_MAX + 1;
  if (which == 19) dims[0] = 33;
  uint32_t type = TL_QTYPE_F32;
  if (which == 19) type = TL_QTYPE_Q4_0;
  if (which == 20) type = 4; /* removed Q4_2 */
  if (which == 21) type = 1000;
  uint32_t nd_put = nd > 4 ? 4 : nd;
  bb_str(b, which == 22 ? "" : "a.weight");
  bb_u32(b, nd);
  for (uint32_t d = 0; d < nd_put; d++)
    bb_u64(b, dims[d]);
  bb_u32(b, type);
  bb_u64(b, 0);
  bb_tensor(b, which == 23 ? "a.weight" : "b.weight", 2, ne2, TL_QTYPE_F32,
            which == 24 ? 260 : which == 27 ? 1ull << 20 : which == 28 ? UINT64_MAX - 31 : 256);
  bb_pad(b, 32);
  for (int i = 0; i < 512; i++)
    bb_bytes(b, "\x01", 1);
}

static void test_corrupted_fields(void **state)
{
  (void)state;
  static const bad_case cases[] = {
      [1] = {"version 1", "version 1"},
      [2] = {"version 7", "unsupported version"},
      [3] = {"2^40 tensors", "exceed"},
      [4] = {"2^40 kvs", "exceed"},
      [5] = {"empty key", "key of 0 bytes"},
      [6] = {"value type 13", "not a value type"},
      [7] = {"string length 2^32-1", "string value length 4294967295"},
      [8] = {"key with NUL", "NUL"},
      [9] = {"array element type 99", "not a value type"},
      [10] = {"array of 2^62", "array of"},
      [11] = {"alignment as u64", "general.alignment"},
      [12] = {"alignment 0", "general.alignment"},
      [13] = {"alignment 48", "general.alignment"},
      [14] = {"0 dims", "dimensions"},
      [15] = {"5 dims", "dimensions"},
      [16] = {"dim 0", "must be positive"},
      [17] = {"dims overflow", "overflows"},
      [18] = {"dim 2^63", "must be positive"},
      [19] = {"q4_0 row of 33", "block size"},
      [20] = {"removed type 4", "unknown type 4"},
      [21] = {"type 1000", "unknown type 1000"},
      [22] = {"empty tensor name", "tensor name of 0 bytes"},
      [23] = {"duplicate tensor", "appears twice"},
      [24] = {"misaligned offset", "not a multiple of the alignment"},
      [25] = {"2^19 tensors", "cannot fit"},
      [26] = {"2^19 kvs", "cannot fit"},
      [27] = {"offset past end", "past end of file"},
      [28] = {"offset overflow", "past end of file"},
  };
  bb b = {0};
  build_case(&b, 0);
  tl_gguf *g = NULL;
  tl_error err;
  if (tl_gguf_open_memory(b.p, b.n, &g, &err) != TL_OK)
    fail_msg("base case: %s", err.message);
  assert_int_equal(tl_gguf_n_tensors(g), 2);
  tl_gguf_close(g);
  for (int i = 1; i < (int)(sizeof cases / sizeof cases[0]); i++) {
    build_case(&b, i);
    print_message("case %d: %s\n", i, cases[i].what);
    expect_format_error(b.p, b.n, cases[i].needle);
  }
  free(b.p);
}

static void test_deep_nesting(void **state)
{
  (void)state;
  bb b = {0};
  bb_header(&b, 0, 1);
  bb_str(&b, "deep");
  bb_u32(&b, TL_GGUF_ARRAY);
  for (int d = 0; d < 12; d++) {
    bb_u32(&b, TL_GGUF_ARRAY);
    bb_u64(&b, 1);
  }
  bb_u32(&b, TL_GGUF_UINT8);
  bb_u64(&b, 0);
  expect_format_error(b.p, b.n, "nested deeper");
  free(b.p);
}

/* Allocation failure at each allocation of an open gives TL_ENOMEM and
 * leaks nothing. */
static void alloc_failures(const char *rel, bool from_path)
{
  size_t n;
  char *buf = th_read_file(th_data_path(rel), &n);
  assert_non_null(buf);
  tl_gguf *g = NULL;
  th_alloc_install(0);
  assert_int_equal(from_path ? tl_gguf_open(th_data_path(rel), &g, NULL) : tl_gguf_open_memory(buf, n, &g, NULL),
                   TL_OK);
  tl_gguf_close(g);
  uint64_t total = th_alloc_count();
  assert_int_equal(th_alloc_live(), 0);
  assert_true(total > 0);
  for (uint64_t k = 1; k <= total; k++) {
    th_alloc_install(k);
    g = NULL;
    tl_error err;
    tl_status st = from_path ? tl_gguf_open(th_data_path(rel), &g, &err) : tl_gguf_open_memory(buf, n, &g, &err);
    if (st != TL_ENOMEM)
      fail_msg("allocation %llu of %llu failing gave %d: %s", (unsigned long long)k,
               (unsigned long long)total, st, err.message);
    assert_null(g);
    assert_int_equal(th_alloc_live(), 0);
  }
  th_alloc_uninstall();
  free(buf);
}

static void test_alloc_failures(void **state)
{
  (void)state;
  alloc_failures("gguf/test-le-v3.gguf", false);
  alloc_failures("models/stories260K.gguf", false);
  alloc_failures("gguf/test-be-v3.gguf", true);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_le_fixture),        cmocka_unit_test(test_be_fixture),
      cmocka_unit_test(test_stories260k),       cmocka_unit_test(test_tiny_random_f16),
      cmocka_unit_test(test_open_errors),       cmocka_unit_test(test_nested_arrays),
      cmocka_unit_test(test_truncated_fixtures), cmocka_unit_test(test_corrupted_fields),
      cmocka_unit_test(test_deep_nesting),      cmocka_unit_test(test_alloc_failures),
      cmocka_unit_test(test_fuzz_seeds),        cmocka_unit_test(test_mutated_fixtures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
