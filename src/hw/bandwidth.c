/* System memory bandwidth: the platform figure from the SMBIOS memory
 * devices (DMTF DSP0134, type 17: data width and configured speed of each
 * populated device), and a multi-threaded read test for `probe --measure`.
 * The SMBIOS figure assumes one device per memory channel, so it is an upper
 * bound where two devices share a channel. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alloc-int.h"
#include "hw/internal.h"

static const char *ddr_name(unsigned type)
{
  switch (type) { /* SMBIOS 7.18.2 memory device type */
  case 0x18:
    return "DDR3";
  case 0x1a:
    return "DDR4";
  case 0x1d:
    return "LPDDR3";
  case 0x1e:
    return "LPDDR4";
  case 0x22:
    return "DDR5";
  case 0x23:
    return "LPDDR5";
  default:
    return "DRAM";
  }
}

void tl__hw_bandwidth_platform(tl_hw *hw, const tl__hw_src *src)
{
  size_t n = 0;
  unsigned char *t = (unsigned char *)tl__hw_read(src, "/sys/firmware/dmi/tables/DMI", &n);
  if (!t) {
    bool unified = false;
    for (size_t i = 0; i < hw->n_gpus; i++)
      unified |= hw->gpus[i].vendor == TL_GPU_APPLE;
    if (!unified) /* Apple chips: the spec table gives the memory bandwidth */
      tl__hw_note(
          hw,
          "memory bandwidth: SMBIOS tables not readable (root only); run 'tailor probe --measure'");
    return;
  }
  double bytes_per_s = 0;
  unsigned devices = 0, speed_seen = 0, type_seen = 0, width_seen = 0;
  size_t off = 0;
  bool malformed = false;
  while (off + 4 <= n) {
    unsigned type = t[off], len = t[off + 1];
    if (len < 4 || off + len > n) {
      malformed = true;
      break;
    }
    if (type == 17 && len >= 0x17) {
      unsigned size = t[off + 0x0c] | (unsigned)t[off + 0x0d] << 8;
      unsigned width = t[off + 0x0a] | (unsigned)t[off + 0x0b] << 8; /* data width, bits */
      unsigned speed = t[off + 0x15] | (unsigned)t[off + 0x16] << 8; /* MT/s */
      if (len >= 0x22) {
        unsigned conf = t[off + 0x20] | (unsigned)t[off + 0x21] << 8;
        if (conf && conf != 0xffff)
          speed = conf;
      }
      if (size != 0 && size != 0xffff && width && width != 0xffff && speed && speed != 0xffff) {
        bytes_per_s += (double)width / 8.0 * speed * 1e6;
        devices++;
        speed_seen = speed;
        width_seen = width;
        type_seen = t[off + 0x12];
      }
    }
    if (type == 127)
      break;
    /* skip the string set: ends with two NULs */
    size_t s = off + len;
    while (s + 1 < n && !(t[s] == 0 && t[s + 1] == 0))
      s++;
    off = s + 2;
  }
  tl__free(t);
  if (malformed)
    tl__hw_warn(hw, "/sys/firmware/dmi/tables/DMI: malformed structure at offset %zu", off);
  if (devices && bytes_per_s > 0) {
    hw->mem.bandwidth_spec = bytes_per_s;
    hw->mem.bandwidth_source = TL_SRC_ESTIMATED;
    tl__hw_note(hw, "memory bandwidth: %u x %s-%u %u-bit devices (SMBIOS), one per channel assumed",
                devices, ddr_name(type_seen), speed_seen, width_seen);
  }
}

/* ---- read test ---------------------------------------------------------------- */

#define MAX_THREADS 256

/* A reusable barrier from a mutex and a condition variable (macOS has no
 * pthread_barrier_t). */
typedef struct barrier {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  unsigned count, waiting, generation;
} barrier;

static void barrier_init(barrier *b, unsigned count)
{
  pthread_mutex_init(&b->lock, NULL);
  pthread_cond_init(&b->cond, NULL);
  b->count = count;
  b->waiting = 0;
  b->generation = 0;
}

static void barrier_destroy(barrier *b)
{
  pthread_mutex_destroy(&b->lock);
  pthread_cond_destroy(&b->cond);
}

static void barrier_wait(barrier *b)
{
  pthread_mutex_lock(&b->lock);
  unsigned gen = b->generation;
  if (++b->waiting == b->count) {
    b->waiting = 0;
    b->generation++;
    pthread_cond_broadcast(&b->cond);
  } else {
    while (gen == b->generation)
      pthread_cond_wait(&b->cond, &b->lock);
  }
  pthread_mutex_unlock(&b->lock);
}

typedef struct bw_shared {
  const uint64_t *buf;
  size_t words;
  uint32_t threads; /* the threads that started; set before go */
  int passes;
  bool go, abort;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  barrier start, end;
} bw_shared;

typedef struct bw_thread {
  bw_shared *s;
  uint32_t id;
  uint64_t sink;
} bw_thread;

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *bw_worker(void *arg)
{
  bw_thread *t = arg;
  bw_shared *s = t->s;
  pthread_mutex_lock(&s->lock);
  while (!s->go)
    pthread_cond_wait(&s->cond, &s->lock);
  bool abort = s->abort;
  pthread_mutex_unlock(&s->lock);
  if (abort)
    return NULL;
  for (int pass = 0; pass < s->passes; pass++) {
    barrier_wait(&s->start);
    size_t per = s->words / s->threads;
    const uint64_t *p = s->buf + (size_t)t->id * per;
    uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (size_t i = 0; i + 4 <= per; i += 4) {
      a0 += p[i];
      a1 += p[i + 1];
      a2 += p[i + 2];
      a3 += p[i + 3];
    }
    t->sink += a0 ^ a1 ^ a2 ^ a3;
    barrier_wait(&s->end);
  }
  return NULL;
}

double tl__hw_bandwidth_measure(uint32_t threads, uint64_t usable_bytes)
{
  double t_start = now_s();
  /* 256 MiB (past the last-level caches of current CPUs) or a quarter of
   * what is usable. */
  uint64_t bytes = 256ull << 20;
  if (usable_bytes && usable_bytes / 4 < bytes)
    bytes = usable_bytes / 4;
  if (bytes < (16u << 20))
    return 0;
  if (threads < 1)
    threads = 1;
  if (threads > MAX_THREADS)
    threads = MAX_THREADS;
  uint64_t *buf = tl__aligned_malloc(64, (size_t)bytes);
  bw_thread *ts = tl__calloc(threads, sizeof *ts);
  pthread_t *tids = tl__calloc(threads, sizeof *tids);
  double best = 0;
  if (!buf || !ts || !tids)
    goto out;
  memset(buf, 1, (size_t)bytes); /* fault the pages in before timing */
  bw_shared s;
  memset(&s, 0, sizeof s);
  s.buf = buf;
  s.words = (size_t)(bytes / 8);
  /* A single-thread pass over every cache line bounds the time per pass;
   * it decides how many passes fit in the time left. */
  double t0 = now_s();
  volatile uint64_t sink = 0;
  for (size_t i = 0; i < s.words; i += 8)
    sink += buf[i];
  (void)sink;
  double one = now_s() - t0;
  double left = 1.9 - (now_s() - t_start); /* the whole test stays under 2 s */
  int passes = one > 0 ? (int)(left / one) : 4;
  s.passes = passes < 2 ? 2 : passes > 20 ? 20 : passes;
  pthread_mutex_init(&s.lock, NULL);
  pthread_cond_init(&s.cond, NULL);
  uint32_t started = 0;
  for (; started < threads; started++) {
    ts[started].s = &s;
    ts[started].id = started;
    if (pthread_create(&tids[started], NULL, bw_worker, &ts[started]) != 0)
      break;
  }
  bool ok = started > 0;
  if (ok) {
    barrier_init(&s.start, started + 1);
    barrier_init(&s.end, started + 1);
  }
  pthread_mutex_lock(&s.lock);
  s.threads = started ? started : 1;
  s.abort = !ok;
  s.go = true;
  pthread_cond_broadcast(&s.cond);
  pthread_mutex_unlock(&s.lock);
  if (ok) {
    double deadline = t_start + 1.9;
    for (int pass = 0; pass < s.passes; pass++) {
      barrier_wait(&s.start);
      double a = now_s();
      barrier_wait(&s.end);
      double dt = now_s() - a;
      size_t read = s.words / s.threads * s.threads * 8;
      if (dt > 0 && read && (double)read / dt > best)
        best = (double)read / dt;
      if (now_s() > deadline)
        s.words = 0; /* the remaining passes do no work */
    }
  }
  for (uint32_t i = 0; i < started; i++)
    pthread_join(tids[i], NULL);
  if (ok) {
    barrier_destroy(&s.start);
    barrier_destroy(&s.end);
  }
  pthread_mutex_destroy(&s.lock);
  pthread_cond_destroy(&s.cond);
out:
  tl__aligned_free(buf);
  tl__free(ts);
  tl__free(tids);
  return best;
}
