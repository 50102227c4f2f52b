/* Tests of the base layer: status table, error messages, the string builder,
 * the allocator hook (counting and failure injection) and embedded data. */
#include "harness.h"

#include <string.h>

#include "base/alloc-int.h"
#include "base/embedded-int.h"
#include "base/error-int.h"
#include "base/strbuf.h"
#include "tailor/tailor.h"

static void test_status_names(void **state)
{
  (void)state;
  assert_string_equal(tl_status_name(TL_OK), "OK");
  assert_string_equal(tl_status_name(TL_EFORMAT), "EFORMAT");
  assert_string_equal(tl_status_str(TL_ENOMEM), "out of memory");
  assert_string_equal(tl_status_name((tl_status)-999), "UNKNOWN");
}

static void test_error_set(void **state)
{
  (void)state;
  tl_error err;
  tl_error_clear(&err);
  assert_int_equal(tl__error_set(&err, TL_EFORMAT, "gguf: bad magic at %d", 0), TL_EFORMAT);
  assert_int_equal(err.code, TL_EFORMAT);
  assert_string_equal(err.message, "gguf: bad magic at 0");
  tl__error_prefix(&err, "model '%s'", "x.gguf");
  assert_string_equal(err.message, "model 'x.gguf': gguf: bad magic at 0");
  assert_int_equal(tl__error_set(NULL, TL_EIO, "ignored"), TL_EIO);
  tl__error_errno(&err, TL_EIO, 2, "open '%s'", "f");
  assert_string_equal(err.message, "open 'f': No such file or directory");
  assert_int_equal(err.sys_errno, 2);
}

static void test_strbuf(void **state)
{
  (void)state;
  tl__sb sb;
  tl__sb_init(&sb);
  for (int i = 0; i < 1000; i++)
    tl__sb_printf(&sb, "%d,", i);
  tl__sb_puts(&sb, "end");
  char *s = tl__sb_take(&sb);
  assert_non_null(s);
  assert_true(strncmp(s, "0,1,2,", 6) == 0);
  assert_string_equal(s + strlen(s) - 3, "end");
  tl__free(s);
  tl__sb_init(&sb);
  s = tl__sb_take(&sb);
  assert_string_equal(s, "");
  tl__free(s);
}

static void test_alloc_failure_is_sticky(void **state)
{
  (void)state;
  th_alloc_install(2);
  tl__sb sb;
  tl__sb_init(&sb);
  tl__sb_puts(&sb, "x"); /* allocation 1 */
  char big[300];
  memset(big, 'a', sizeof big);
  tl__sb_append(&sb, big, sizeof big); /* allocation 2 fails */
  assert_true(tl__sb_failed(&sb));
  tl__sb_puts(&sb, "more");
  assert_null(tl__sb_take(&sb));
  assert_int_equal(th_alloc_live(), 0);
  th_alloc_uninstall();
}

static void test_aligned(void **state)
{
  (void)state;
  void *p = tl__aligned_malloc(64, 1000);
  assert_non_null(p);
  assert_int_equal((uintptr_t)p % 64, 0);
  tl__aligned_free(p);
  assert_null(tl__aligned_malloc(3, 10));
  assert_null(tl__malloc_array(SIZE_MAX / 2, 4));
}

static void test_embedded_missing(void **state)
{
  (void)state;
  size_t n = 123;
  assert_null(tl__embedded_find("no-such-file.json", &n));
  assert_int_equal(n, 123);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_status_names),   cmocka_unit_test(test_error_set),
      cmocka_unit_test(test_strbuf),         cmocka_unit_test(test_alloc_failure_is_sticky),
      cmocka_unit_test(test_aligned),        cmocka_unit_test(test_embedded_missing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
