/* Tests of the element type table and the file-type names: every type's
 * block size and bytes against the block structs of ggml-common.h, name
 * round trips, size arithmetic and its refusals. */
#include "harness.h"

#include <stdint.h>
#include <string.h>

#include "tailor/quant.h"

/* id, name, elements per block, bytes per block, quantized: from
 * ggml/src/ggml-common.h (the static_assert after each block struct) and
 * ggml.c type_traits (llama.cpp commit 01243c587feceaa5d6a6c2305535ef2f549c48b8). */
static const struct {
  int id;
  const char *name;
  uint32_t block, bytes;
  bool quantized;
} FACTS[] = {
    {0, "f32", 1, 4, false},        {1, "f16", 1, 2, false},         {2, "q4_0", 32, 18, true},
    {3, "q4_1", 32, 20, true},      {6, "q5_0", 32, 22, true},       {7, "q5_1", 32, 24, true},
    {8, "q8_0", 32, 34, true},      {9, "q8_1", 32, 36, true},       {10, "q2_K", 256, 84, true},
    {11, "q3_K", 256, 110, true},   {12, "q4_K", 256, 144, true},    {13, "q5_K", 256, 176, true},
    {14, "q6_K", 256, 210, true},   {15, "q8_K", 256, 292, true},    {16, "iq2_xxs", 256, 66, true},
    {17, "iq2_xs", 256, 74, true},  {18, "iq3_xxs", 256, 98, true},  {19, "iq1_s", 256, 50, true},
    {20, "iq4_nl", 32, 18, true},   {21, "iq3_s", 256, 110, true},   {22, "iq2_s", 256, 82, true},
    {23, "iq4_xs", 256, 136, true}, {24, "i8", 1, 1, false},         {25, "i16", 1, 2, false},
    {26, "i32", 1, 4, false},       {27, "i64", 1, 8, false},        {28, "f64", 1, 8, false},
    {29, "iq1_m", 256, 56, true},   {30, "bf16", 1, 2, false},       {34, "tq1_0", 256, 54, true},
    {35, "tq2_0", 256, 66, true},   {39, "mxfp4", 32, 17, true},
};

static void test_table(void **state)
{
  (void)state;
  size_t n_valid = 0;
  for (int id = -1; id <= TL_QTYPE_COUNT; id++) {
    const tl_qtype_info *q = tl_qtype_get((tl_qtype)id);
    size_t k = 0;
    while (k < sizeof FACTS / sizeof FACTS[0] && FACTS[k].id != id)
      k++;
    if (k == sizeof FACTS / sizeof FACTS[0]) {
      assert_null(q);
      assert_false(tl_qtype_valid((tl_qtype)id));
      assert_string_equal(tl_qtype_name((tl_qtype)id), "invalid");
      continue;
    }
    n_valid++;
    assert_non_null(q);
    assert_string_equal(q->name, FACTS[k].name);
    assert_int_equal(q->block_size, FACTS[k].block);
    assert_int_equal(q->block_bytes, FACTS[k].bytes);
    assert_int_equal(q->quantized, FACTS[k].quantized);
    tl_qtype back;
    assert_int_equal(tl_qtype_parse(FACTS[k].name, &back, NULL), TL_OK);
    assert_int_equal(back, id);
  }
  assert_int_equal(n_valid, sizeof FACTS / sizeof FACTS[0]);
  tl_qtype t;
  assert_int_equal(tl_qtype_parse("Q4_K", &t, NULL), TL_OK);
  assert_int_equal(t, TL_QTYPE_Q4_K);
  tl_error err;
  assert_int_equal(tl_qtype_parse("q4_2", &t, &err), TL_EINVAL);
  assert_non_null(strstr(err.message, "q4_2"));
  assert_int_equal(tl_qtype_parse(NULL, &t, NULL), TL_EINVAL);
}

static void test_sizes(void **state)
{
  (void)state;
  assert_int_equal(tl_qtype_row_bytes(TL_QTYPE_Q4_K, 4096), 16 * 144);
  assert_int_equal(tl_qtype_row_bytes(TL_QTYPE_Q4_K, 4000), 0); /* not whole blocks */
  assert_int_equal(tl_qtype_row_bytes(TL_QTYPE_F32, 3), 12);
  assert_int_equal(tl_qtype_row_bytes(TL_QTYPE_Q8_0, 0), 0);
  assert_int_equal(tl_qtype_row_bytes(TL_QTYPE_Q8_0, -32), 0);
  assert_int_equal(tl_qtype_row_bytes((tl_qtype)4, 32), 0);
  const int64_t ne[4] = {4096, 14336, 8, 1};
  assert_int_equal(tl_tensor_bytes(TL_QTYPE_Q6_K, ne, 3), (uint64_t)16 * 210 * 14336 * 8);
  assert_int_equal(tl_tensor_bytes(TL_QTYPE_MXFP4, ne, 2), (uint64_t)128 * 17 * 14336);
  assert_int_equal(tl_tensor_bytes(TL_QTYPE_F16, ne, 1), 8192);
  assert_int_equal(tl_tensor_bytes(TL_QTYPE_F16, ne, 0), 0);
  assert_int_equal(tl_tensor_bytes(TL_QTYPE_F16, ne, 5), 0);
  const int64_t bad[4] = {32, 0, 1, 1};
  assert_int_equal(tl_tensor_bytes(TL_QTYPE_F32, bad, 2), 0);
  const int64_t huge[4] = {INT64_MAX, INT64_MAX, 1, 1};
  assert_int_equal(tl_tensor_bytes(TL_QTYPE_I8, huge, 2), 0); /* overflow */
  assert_int_equal(tl_tensor_bytes(TL_QTYPE_F32, NULL, 1), 0);
}

static void test_ftypes(void **state)
{
  (void)state;
  size_t n = 0;
  for (int f = -1; f <= TL_FTYPE_COUNT; f++) {
    if (!tl_ftype_valid((tl_ftype)f)) {
      assert_string_equal(tl_ftype_name((tl_ftype)f), "invalid");
      assert_int_equal(tl_ftype_default_type((tl_ftype)f), TL_QTYPE_COUNT);
      continue;
    }
    n++;
    tl_ftype back;
    assert_int_equal(tl_ftype_parse(tl_ftype_name((tl_ftype)f), &back, NULL), TL_OK);
    assert_int_equal(back, f);
    assert_true(tl_qtype_valid(tl_ftype_default_type((tl_ftype)f)));
  }
  /* 0..3, 7..32 (26), 36..38: 4 + 26 + 3 */
  assert_int_equal(n, 33);
  tl_ftype f;
  assert_int_equal(tl_ftype_parse("q4_k", &f, NULL), TL_OK);
  assert_int_equal(f, TL_FTYPE_Q4_K_M);
  assert_int_equal(tl_ftype_parse("Q4_K_S", &f, NULL), TL_OK);
  assert_int_equal(f, TL_FTYPE_Q4_K_S);
  assert_int_equal(tl_ftype_parse("IQ3_M", &f, NULL), TL_OK);
  assert_int_equal(tl_ftype_default_type(f), TL_QTYPE_IQ3_S);
  assert_int_equal(tl_ftype_default_type(TL_FTYPE_IQ2_S), TL_QTYPE_IQ2_XS);
  assert_int_equal(tl_ftype_default_type(TL_FTYPE_MXFP4_MOE), TL_QTYPE_MXFP4);
  tl_error err;
  assert_int_equal(tl_ftype_parse("Q4_K_X", &f, &err), TL_EINVAL);
  assert_non_null(strstr(err.message, "Q4_K_X"));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table),
      cmocka_unit_test(test_sizes),
      cmocka_unit_test(test_ftypes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
