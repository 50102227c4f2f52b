/* A fixed pool of worker threads for the kernels: run(fn, ctx) executes fn on
 * every thread (the caller is thread 0) and returns when all are done.
 * Decode issues hundreds of small parallel ops per token, so an idle worker
 * spins on a generation counter for a short while before sleeping on a
 * condition variable; the caller wakes sleepers only when there are any. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "engine/cpu/internal.h"

/* Spin iterations before a worker sleeps / the caller yields. One pause is
 * ~10-40 ns on current x86 cores, so this is tens to hundreds of microseconds:
 * longer than the gap between two ops of a decode step. */
#define SPIN_BEFORE_SLEEP (1 << 14)
#define SPIN_BEFORE_YIELD (1 << 12)

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

typedef struct worker {
  struct tl__threadpool *tp;
  int ith;
  pthread_t thread;
  /* The last generation this slot was resolved for: the worker claims
   * generation g by moving it from g-1 to g before running the task; for a
   * dynamic task the caller may instead cancel the slot the same way. */
  _Atomic unsigned claimed;
} worker;

struct tl__threadpool {
  int n_threads;
  worker *workers; /* n_threads - 1 entries, for ith 1..n-1 */
  void **workspace; /* n_workspace blocks of TL__THREAD_WORKSPACE bytes */
  int n_workspace;
  _Atomic unsigned gen;  /* incremented per task; workers run when it changes */
  _Atomic int pending;   /* workers that have not finished the current task */
  _Atomic int sleeping;  /* workers blocked (or about to block) on cond */
  _Atomic bool stop;
  tl__task_fn fn;        /* current task, published by the release on gen */
  void *ctx;
  pthread_mutex_t mutex;
  pthread_cond_t cond;
};

static void *worker_main(void *arg)
{
  worker *w = arg;
  tl__threadpool *tp = w->tp;
  unsigned seen = 0;
  for (;;) {
    unsigned g = atomic_load_explicit(&tp->gen, memory_order_acquire);
    for (int spin = 0; g == seen && spin < SPIN_BEFORE_SLEEP; spin++) {
      cpu_relax();
      g = atomic_load_explicit(&tp->gen, memory_order_acquire);
    }
    if (g == seen) {
      pthread_mutex_lock(&tp->mutex);
      atomic_fetch_add(&tp->sleeping, 1);
      while ((g = atomic_load(&tp->gen)) == seen && !atomic_load(&tp->stop))
        pthread_cond_wait(&tp->cond, &tp->mutex);
      atomic_fetch_sub(&tp->sleeping, 1);
      pthread_mutex_unlock(&tp->mutex);
    }
    if (atomic_load(&tp->stop))
      break;
    seen = g;
    unsigned expect = g - 1;
    if (!atomic_compare_exchange_strong(&w->claimed, &expect, g))
      continue; /* the caller finished the work without this thread */
    tp->fn(tp->ctx, w->ith, tp->n_threads);
    atomic_fetch_sub_explicit(&tp->pending, 1, memory_order_release);
  }
  return NULL;
}

static void pin_to_nth_cpu(pthread_t t, int ith)
{
  cpu_set_t allowed, one;
  if (pthread_getaffinity_np(pthread_self(), sizeof allowed, &allowed) != 0)
    return;
  int count = CPU_COUNT(&allowed);
  if (count <= 0)
    return;
  int want = ith % count;
  for (int c = 0; c < CPU_SETSIZE; c++) {
    if (CPU_ISSET(c, &allowed) && want-- == 0) {
      CPU_ZERO(&one);
      CPU_SET(c, &one);
      pthread_setaffinity_np(t, sizeof one, &one); /* best effort */
      return;
    }
  }
}

tl_status tl__threadpool_create(int n_threads, bool pin, tl__threadpool **out, tl_error *err)
{
  if (n_threads < 1 || n_threads > 512)
    return tl__error_set(err, TL_EINVAL, "threadpool: %d threads requested (1..512)", n_threads);
  tl__threadpool *tp = tl__calloc(1, sizeof *tp);
  if (!tp)
    return tl__error_set(err, TL_ENOMEM, "threadpool: out of memory");
  tp->n_threads = n_threads;
  atomic_init(&tp->gen, 0);
  atomic_init(&tp->pending, 0);
  atomic_init(&tp->sleeping, 0);
  atomic_init(&tp->stop, false);
  if (n_threads > 1) {
    tp->workers = tl__calloc((size_t)(n_threads - 1), sizeof *tp->workers);
    if (!tp->workers) {
      tl__free(tp);
      return tl__error_set(err, TL_ENOMEM, "threadpool: out of memory");
    }
  }
  tp->workspace = tl__calloc((size_t)n_threads, sizeof *tp->workspace);
  bool ok = tp->workspace != NULL;
  for (int i = 0; ok && i < n_threads; i++)
    ok = (tp->workspace[i] = tl__aligned_malloc(64, TL__THREAD_WORKSPACE)) != NULL;
  tp->n_workspace = n_threads;
  if (!ok) {
    for (int i = 0; tp->workspace && i < n_threads; i++)
      tl__aligned_free(tp->workspace[i]);
    tl__free(tp->workspace);
    tl__free(tp->workers);
    tl__free(tp);
    return tl__error_set(err, TL_ENOMEM, "threadpool: out of memory");
  }
  pthread_mutex_init(&tp->mutex, NULL);
  pthread_cond_init(&tp->cond, NULL);
  for (int i = 1; i < n_threads; i++) {
    worker *w = &tp->workers[i - 1];
    w->tp = tp;
    w->ith = i;
    atomic_init(&w->claimed, 0);
    int rc = pthread_create(&w->thread, NULL, worker_main, w);
    if (rc != 0) {
      tp->n_threads = i; /* join the ones started */
      tl__threadpool_free(tp);
      return tl__error_errno(err, TL_EIO, rc, "threadpool: starting thread %d of %d", i, n_threads);
    }
    if (pin)
      pin_to_nth_cpu(w->thread, i);
  }
  *out = tp;
  return TL_OK;
}

static void run(tl__threadpool *tp, tl__task_fn fn, void *ctx, bool dynamic)
{
  if (!tp || tp->n_threads == 1) {
    fn(ctx, 0, 1);
    return;
  }
  tp->fn = fn;
  tp->ctx = ctx;
  atomic_store_explicit(&tp->pending, tp->n_threads - 1, memory_order_relaxed);
  /* seq_cst: pairs with the sleeping check below */
  const unsigned g = atomic_fetch_add(&tp->gen, 1) + 1;
  if (atomic_load(&tp->sleeping) > 0) {
    pthread_mutex_lock(&tp->mutex);
    pthread_cond_broadcast(&tp->cond);
    pthread_mutex_unlock(&tp->mutex);
  }
  fn(ctx, 0, tp->n_threads);
  if (dynamic) {
    /* All work is taken once our share returns: workers that have not
     * started (descheduled, asleep) are not waited for. */
    for (int i = 1; i < tp->n_threads; i++) {
      unsigned expect = g - 1;
      if (atomic_compare_exchange_strong(&tp->workers[i - 1].claimed, &expect, g))
        atomic_fetch_sub_explicit(&tp->pending, 1, memory_order_relaxed);
    }
  }
  for (int spin = 0; atomic_load_explicit(&tp->pending, memory_order_acquire) > 0; spin++) {
    if (spin < SPIN_BEFORE_YIELD)
      cpu_relax();
    else
      sched_yield();
  }
}

void tl__threadpool_run(tl__threadpool *tp, tl__task_fn fn, void *ctx)
{
  run(tp, fn, ctx, false);
}

void tl__threadpool_run_dynamic(tl__threadpool *tp, tl__task_fn fn, void *ctx)
{
  run(tp, fn, ctx, true);
}

void *tl__threadpool_workspace(tl__threadpool *tp, int ith)
{
  return tp ? tp->workspace[ith] : NULL;
}

int tl__threadpool_size(const tl__threadpool *tp)
{
  return tp ? tp->n_threads : 1;
}

void tl__threadpool_free(tl__threadpool *tp)
{
  if (!tp)
    return;
  pthread_mutex_lock(&tp->mutex);
  atomic_store(&tp->stop, true);
  atomic_fetch_add(&tp->gen, 1);
  pthread_cond_broadcast(&tp->cond);
  pthread_mutex_unlock(&tp->mutex);
  for (int i = 1; i < tp->n_threads; i++)
    pthread_join(tp->workers[i - 1].thread, NULL);
  pthread_cond_destroy(&tp->cond);
  pthread_mutex_destroy(&tp->mutex);
  for (int i = 0; i < tp->n_workspace; i++)
    tl__aligned_free(tp->workspace[i]);
  tl__free(tp->workspace);
  tl__free(tp->workers);
  tl__free(tp);
}
