/* Tests of the kernel thread pool: every thread runs every task exactly once
 * with the right (ith, nth), runs are ordered (a run's effects are visible
 * after it returns), workers that went to sleep wake up, dynamic runs finish
 * all work exactly once whoever takes part, and creation validates its
 * argument and survives allocation failure. */
#include "harness.h"

#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "engine/cpu/kernels.h"

typedef struct count_ctx {
  int nth_seen;        /* written by thread 0 only */
  _Atomic int calls;
  long per_thread[16]; /* each written only by its own thread */
  long plain;          /* written by thread 0 only; checks ordering across runs */
} count_ctx;

static void count_task(void *p, int ith, int nth)
{
  count_ctx *c = p;
  c->per_thread[ith]++;
  atomic_fetch_add(&c->calls, 1);
  if (ith == 0) {
    c->nth_seen = nth;
    c->plain++;
  }
}

static void test_runs_each_thread_once(void **state)
{
  (void)state;
  static const int sizes[] = {1, 2, 3, 4, 8};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    tl__threadpool *tp = NULL;
    assert_int_equal(tl__threadpool_create(sizes[s], s % 2 == 1, &tp, NULL), TL_OK);
    assert_int_equal(tl__threadpool_size(tp), sizes[s]);
    count_ctx c = {0};
    const int runs = sizes[s] > 2 ? 300 : 5000; /* more threads than cores here: keep it short */
    for (int r = 0; r < runs; r++)
      tl__threadpool_run(tp, count_task, &c);
    assert_int_equal(c.nth_seen, sizes[s]);
    assert_int_equal(atomic_load(&c.calls), runs * sizes[s]);
    for (int i = 0; i < sizes[s]; i++)
      assert_int_equal(c.per_thread[i], runs);
    assert_int_equal(c.plain, runs);
    tl__threadpool_free(tp);
  }
}

typedef struct sum_ctx {
  const int *v;
  int n;
  long partial[8];
} sum_ctx;

static void sum_task(void *p, int ith, int nth)
{
  sum_ctx *c = p;
  long s = 0;
  for (int i = ith; i < c->n; i += nth)
    s += c->v[i];
  c->partial[ith] = s;
}

static void test_results_visible_after_run(void **state)
{
  (void)state;
  enum { N = 10007 };
  static int v[N];
  long want = 0;
  for (int i = 0; i < N; i++) {
    v[i] = (i * 7919) % 1009 - 500;
    want += v[i];
  }
  tl__threadpool *tp = NULL;
  assert_int_equal(tl__threadpool_create(4, false, &tp, NULL), TL_OK);
  for (int r = 0; r < 300; r++) {
    sum_ctx c = {.v = v, .n = N - (r % 3)};
    tl__threadpool_run(tp, sum_task, &c);
    long got = 0;
    for (int i = 0; i < 4; i++)
      got += c.partial[i];
    long w = want;
    for (int i = N - (r % 3); i < N; i++)
      w -= v[i];
    assert_int_equal(got, w);
  }
  tl__threadpool_free(tp);
}

static void test_wakes_sleeping_workers(void **state)
{
  (void)state;
  tl__threadpool *tp = NULL;
  assert_int_equal(tl__threadpool_create(3, false, &tp, NULL), TL_OK);
  count_ctx c = {0};
  for (int r = 0; r < 3; r++) {
    struct timespec ts = {0, 30 * 1000 * 1000}; /* longer than the workers spin */
    nanosleep(&ts, NULL);
    tl__threadpool_run(tp, count_task, &c);
  }
  assert_int_equal(atomic_load(&c.calls), 9);
  tl__threadpool_free(tp);
}

typedef struct dyn_ctx {
  _Atomic int next;
  int n;
  _Atomic int *done; /* per item: times processed */
} dyn_ctx;

static void dyn_task(void *p, int ith, int nth)
{
  (void)ith, (void)nth;
  dyn_ctx *c = p;
  for (int i; (i = atomic_fetch_add(&c->next, 1)) < c->n;)
    atomic_fetch_add(&c->done[i], 1);
}

/* Dynamic runs: every item is processed exactly once whichever threads take
 * part, mixed with static runs (which every thread must join), including
 * runs after the workers went to sleep. */
static void test_dynamic_runs(void **state)
{
  (void)state;
  enum { N = 257 };
  static _Atomic int done[N];
  tl__threadpool *tp = NULL;
  assert_int_equal(tl__threadpool_create(3, false, &tp, NULL), TL_OK);
  count_ctx cc = {0};
  int statics = 0;
  for (int r = 0; r < 600; r++) {
    for (int i = 0; i < N; i++)
      atomic_store(&done[i], 0);
    dyn_ctx c = {.n = N - r % 5, .done = done};
    atomic_init(&c.next, 0);
    tl__threadpool_run_dynamic(tp, dyn_task, &c);
    for (int i = 0; i < N; i++)
      assert_int_equal(atomic_load(&done[i]), i < c.n ? 1 : 0);
    if (r % 3 == 0) {
      tl__threadpool_run(tp, count_task, &cc);
      statics++;
    }
    if (r % 200 == 199) {
      struct timespec ts = {0, 30 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
  }
  assert_int_equal(atomic_load(&cc.calls), 3 * statics);
  for (int i = 0; i < 3; i++)
    assert_int_equal(cc.per_thread[i], statics);
  tl__threadpool_free(tp);
}

static void test_null_pool_and_arguments(void **state)
{
  (void)state;
  count_ctx c = {0};
  tl__threadpool_run(NULL, count_task, &c);
  assert_int_equal(c.nth_seen, 1);
  assert_int_equal(c.per_thread[0], 1);
  assert_int_equal(tl__threadpool_size(NULL), 1);
  tl__threadpool_free(NULL);
  tl__threadpool *tp = (tl__threadpool *)&c;
  tl_error err;
  assert_int_equal(tl__threadpool_create(0, false, &tp, &err), TL_EINVAL);
  assert_ptr_equal(tp, (tl__threadpool *)&c); /* untouched on failure */
  assert_non_null(strstr(err.message, "threadpool"));
  assert_int_equal(tl__threadpool_create(513, false, &tp, NULL), TL_EINVAL);
}

static void test_allocation_failure(void **state)
{
  (void)state;
  for (uint64_t fail = 1; fail <= 7; fail++) { /* pool, workers, workspace table, 4 workspaces */
    th_alloc_install(fail);
    tl__threadpool *tp = NULL;
    assert_int_equal(tl__threadpool_create(4, false, &tp, NULL), TL_ENOMEM);
    assert_null(tp);
    assert_int_equal(th_alloc_live(), 0);
    th_alloc_uninstall();
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_runs_each_thread_once),
      cmocka_unit_test(test_results_visible_after_run),
      cmocka_unit_test(test_wakes_sleeping_workers),
      cmocka_unit_test(test_dynamic_runs),
      cmocka_unit_test(test_null_pool_and_arguments),
      cmocka_unit_test(test_allocation_failure),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
