/* Benchmark of `tailor fit`'s core: every catalog model at every quantization
 * of the ladder, planned and ranked on a described machine, timed. Target:
 * under 100 ms for the whole catalog in a Release build (a benchmark, not a
 * test: the figure depends on the machine). Run from a Release tree:
 *   cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DTAILOR_TESTS=OFF
 *   cmake --build build/release -j2 --target bench-fit
 *   build/release/bench/bench-fit [--gpu NAME] [--gpus N] [--ram GIB] [--runs N]
 * Prints the rows ranked, the time of the best and the median run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tailor/quant.h"
#include "tailor/tailor.h"

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
  tl_hw_preset pr = {0};
  pr.gpu = "RTX 4090";
  int runs = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--gpu"))
      pr.gpu = strcmp(argv[i + 1], "none") ? argv[i + 1] : NULL;
    else if (!strcmp(argv[i], "--gpus"))
      pr.n_gpus = (uint32_t)atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--ram"))
      pr.ram_gib = atof(argv[i + 1]);
    else if (!strcmp(argv[i], "--runs"))
      runs = atoi(argv[i + 1]);
  }
  if (runs < 1 || runs > 100)
    runs = 5;
  tl_error err;
  tl_hw *hw = malloc(sizeof *hw);
  tl_catalog *c = NULL;
  if (!hw || tl_hw_describe(&pr, hw, &err) != TL_OK) {
    fprintf(stderr, "bench-fit: hardware: %s\n", hw ? err.message : "out of memory");
    return 1;
  }
  double t0 = now_s();
  if (tl_catalog_load_default(&c, &err) != TL_OK) {
    fprintf(stderr, "bench-fit: catalog: %s\n", err.message);
    return 1;
  }
  double t_load = now_s() - t0;
  tl_fit_query q;
  tl_fit_query_init(&q);
  double times[100];
  size_t n = 0;
  for (int r = 0; r < runs; r++) {
    tl_fit_row *rows = NULL;
    double t = now_s();
    if (tl_fit_catalog(c, hw, &q, TL_SORT_SCORE, &rows, &n, &err) != TL_OK) {
      fprintf(stderr, "bench-fit: %s\n", err.message);
      return 1;
    }
    times[r] = now_s() - t;
    if (r == 0) {
      size_t fits = 0;
      for (size_t i = 0; i < n; i++)
        fits += rows[i].plan.fits;
      printf("machine: %s%s%s, %u GPU(s)\n", pr.gpu ? pr.gpu : "no GPU", pr.ram_gib ? ", RAM " : "",
             pr.ram_gib ? argv[0] + strlen(argv[0]) : "", pr.n_gpus ? pr.n_gpus : (pr.gpu ? 1u : 0u));
      printf("catalog: %zu models; %zu plans (models x quantizations), %zu fit\n", tl_catalog_count(c), n, fits);
      for (size_t i = 0; i < n && i < 5; i++)
        printf("  %zu. %-32s %-7s %-9s %7.1f tok/s  score %.1f\n", i + 1, rows[i].id, tl_ftype_name(rows[i].ftype),
               tl_fit_level_name(rows[i].plan.level), rows[i].plan.decode_tps, rows[i].plan.score);
    }
    tl_free(rows);
  }
  qsort(times, (size_t)runs, sizeof times[0], cmp_double);
  printf("catalog load: %.1f ms\n", t_load * 1e3);
  printf("fit (plan + rank all): best %.1f ms, median %.1f ms over %d runs (target < 100 ms)\n", times[0] * 1e3,
         times[runs / 2] * 1e3, runs);
  tl_catalog_free(c);
  free(hw);
  return 0;
}
