/* Reading /proc and /sys files under a root directory, and recording
 * warnings and notes in a tl_hw. The same code reads the live system (root
 * "") and recorded trees (tests), so tests run the real parsing paths. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/alloc-int.h"
#include "base/log-int.h"
#include "hw/internal.h"

#define MAX_FILE (4u << 20)

static void path_join(char *dst, size_t n, const tl__hw_src *src, const char *path)
{
  snprintf(dst, n, "%s%s", src->root ? src->root : "", path);
}

char *tl__hw_read(const tl__hw_src *src, const char *path, size_t *len)
{
  char full[4096];
  path_join(full, sizeof full, src, path);
  FILE *f = fopen(full, "rb");
  if (!f)
    return NULL;
  /* sysfs and procfs files report size 0: read in chunks until EOF. */
  size_t cap = 4096, n = 0;
  char *buf = tl__malloc(cap + 1);
  while (buf) {
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0)
      break;
    if (n == cap) {
      if (cap >= MAX_FILE)
        break;
      char *nb = tl__realloc(buf, cap * 2 + 1);
      if (!nb) {
        tl__free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
  }
  bool failed = ferror(f);
  fclose(f);
  if (!buf || failed) {
    tl__free(buf);
    return NULL;
  }
  buf[n] = '\0';
  if (len)
    *len = n;
  return buf;
}

bool tl__hw_exists(const tl__hw_src *src, const char *path)
{
  char full[4096];
  struct stat st;
  path_join(full, sizeof full, src, path);
  return stat(full, &st) == 0;
}

int tl__hw_read_u64(const tl__hw_src *src, const char *path, uint64_t *out)
{
  char *s = tl__hw_read(src, path, NULL);
  if (!s)
    return 0;
  const char *p = s;
  while (*p == ' ' || *p == '\t')
    p++;
  int rc = -1;
  if (*p >= '0' && *p <= '9') {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p, &end, 10);
    while (*end == ' ' || *end == '\t' || *end == '\n')
      end++;
    if (errno == 0 && *end == '\0') {
      *out = v;
      rc = 1;
    }
  }
  tl__free(s);
  return rc;
}

int tl__hw_parse_cpulist(const char *s, uint8_t *bits, size_t max_cpus)
{
  int count = 0;
  const char *p = s;
  while (*p == ' ' || *p == '\t')
    p++;
  if (*p == '\n' || *p == '\0')
    return 0;
  for (;;) {
    char *end;
    if (*p < '0' || *p > '9')
      return -1;
    unsigned long a = strtoul(p, &end, 10), b = a;
    p = end;
    if (*p == '-') {
      p++;
      if (*p < '0' || *p > '9')
        return -1;
      b = strtoul(p, &end, 10);
      p = end;
    }
    if (b < a || b >= max_cpus)
      return -1;
    for (unsigned long i = a; i <= b; i++) {
      if (!(bits[i / 8] & (1u << (i % 8)))) {
        bits[i / 8] |= (uint8_t)(1u << (i % 8));
        count++;
      }
    }
    if (*p == ',') {
      p++;
      continue;
    }
    while (*p == ' ' || *p == '\n' || *p == '\t')
      p++;
    return *p == '\0' ? count : -1;
  }
}

void tl__hw_copy_trim(char *dst, size_t n, const char *s)
{
  while (*s == ' ' || *s == '\t' || *s == '\n')
    s++;
  size_t len = strlen(s);
  while (len &&
         (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n' || s[len - 1] == '\r'))
    len--;
  if (len >= n)
    len = n - 1;
  memcpy(dst, s, len);
  dst[len] = '\0';
}

void tl__hw_warn(tl_hw *hw, const char *fmt, ...)
{
  char line[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  tl__warn("hw: %s", line);
  for (size_t i = 0; i < hw->n_warnings; i++)
    if (strcmp(hw->warnings[i], line) == 0)
      return;
  if (hw->n_warnings < TL_HW_MAX_WARNINGS)
    memcpy(hw->warnings[hw->n_warnings++], line, sizeof line);
}

void tl__hw_note(tl_hw *hw, const char *fmt, ...)
{
  if (hw->n_notes >= TL_HW_MAX_NOTES)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(hw->notes[hw->n_notes++], sizeof hw->notes[0], fmt, ap);
  va_end(ap);
}

tl_gpu *tl__hw_gpu_add(tl_hw *hw)
{
  if (hw->n_gpus >= TL_HW_MAX_GPUS) {
    tl__hw_warn(hw, "more than %d GPUs: the rest are not listed", TL_HW_MAX_GPUS);
    return NULL;
  }
  tl_gpu *g = &hw->gpus[hw->n_gpus++];
  memset(g, 0, sizeof *g);
  return g;
}
