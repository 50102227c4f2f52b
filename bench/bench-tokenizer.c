/* Tokenizer speed: encodes a text file with each given GGUF vocabulary and
 * streams the ids back through the detokenizer; prints bytes/s and tokens/s.
 * Usage: bench-tokenizer TEXT_FILE VOCAB.gguf... (see docs/tokenizer.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tailor/tailor.h"

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static char *read_file(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  if (buf)
    buf[n] = 0, *len = (size_t)n;
  return buf;
}

int main(int argc, char **argv)
{
  if (argc < 3) {
    fprintf(stderr, "usage: %s TEXT_FILE VOCAB.gguf...\n", argv[0]);
    return 2;
  }
  size_t len;
  char *text = read_file(argv[1], &len);
  if (!text) {
    fprintf(stderr, "cannot read %s\n", argv[1]);
    return 1;
  }
  printf("%-40s %10s %10s %12s %12s %14s\n", "vocabulary", "bytes", "tokens", "encode MB/s",
         "encode tok/s", "detok tok/s");
  for (int a = 2; a < argc; a++) {
    tl_error err;
    tl_gguf *g = NULL;
    tl_tokenizer *tk = NULL;
    if (tl_gguf_open(argv[a], &g, &err) != TL_OK || tl_tokenizer_from_gguf(g, &tk, &err) != TL_OK) {
      fprintf(stderr, "%s: %s\n", argv[a], err.message);
      return 1;
    }
    size_t n = 0;
    tl_tokenizer_encode(tk, text, len, 0, NULL, 0, &n, &err);
    int32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    int reps = 0;
    double t0 = now(), t1;
    do {
      if (tl_tokenizer_encode(tk, text, len, 0, ids, n, &n, &err) != TL_OK) {
        fprintf(stderr, "%s: %s\n", argv[a], err.message);
        return 1;
      }
      reps++;
      t1 = now();
    } while (t1 - t0 < 1.0);
    double enc = (t1 - t0) / reps;
    tl_detok *d;
    tl_detok_create(tk, 0, &d, &err);
    int dreps = 0;
    double d0 = now(), d1;
    size_t sink = 0;
    do {
      tl_detok_reset(d);
      for (size_t i = 0; i < n; i++) {
        const char *t;
        size_t k;
        tl_detok_push(d, ids[i], &t, &k, NULL);
        sink += k;
      }
      dreps++;
      d1 = now();
    } while (d1 - d0 < 1.0);
    double dec = (d1 - d0) / dreps;
    const char *name = strrchr(argv[a], '/');
    printf("%-40s %10zu %10zu %12.2f %12.0f %14.0f\n", name ? name + 1 : argv[a], len, n,
           (double)len / enc / 1e6, (double)n / enc, (double)n / dec);
    (void)sink;
    tl_detok_free(d);
    free(ids);
    tl_tokenizer_free(tk);
    tl_gguf_close(g);
  }
  free(text);
  return 0;
}
