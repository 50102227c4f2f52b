/* Growable string builder; see strbuf.h for the contract. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc-int.h"
#include "base/strbuf.h"

void tl__sb_init(tl__sb *sb) { *sb = (tl__sb){0}; }

void tl__sb_deinit(tl__sb *sb)
{
  tl__free(sb->buf);
  *sb = (tl__sb){0};
}

static bool reserve(tl__sb *sb, size_t extra)
{
  if (sb->failed)
    return false;
  if (extra > (size_t)-1 / 2 - sb->len) {
    sb->failed = true;
    return false;
  }
  size_t need = sb->len + extra + 1;
  if (need <= sb->cap)
    return true;
  size_t cap = sb->cap ? sb->cap : 64;
  while (cap < need)
    cap *= 2;
  char *p = tl__realloc(sb->buf, cap);
  if (!p) {
    sb->failed = true;
    return false;
  }
  sb->buf = p;
  sb->cap = cap;
  return true;
}

void tl__sb_append(tl__sb *sb, const char *s, size_t n)
{
  if (!reserve(sb, n))
    return;
  memcpy(sb->buf + sb->len, s, n);
  sb->len += n;
  sb->buf[sb->len] = '\0';
}

void tl__sb_puts(tl__sb *sb, const char *s) { tl__sb_append(sb, s, strlen(s)); }

void tl__sb_putc(tl__sb *sb, char c) { tl__sb_append(sb, &c, 1); }

void tl__sb_printf(tl__sb *sb, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  char small[256];
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) {
    sb->failed = true;
    return;
  }
  if ((size_t)n < sizeof small) {
    tl__sb_append(sb, small, (size_t)n);
    return;
  }
  if (!reserve(sb, (size_t)n))
    return;
  va_start(ap, fmt);
  vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  sb->len += (size_t)n;
}

bool tl__sb_failed(const tl__sb *sb) { return sb->failed; }

char *tl__sb_take(tl__sb *sb)
{
  if (sb->failed) {
    tl__sb_deinit(sb);
    return NULL;
  }
  if (!sb->buf && !reserve(sb, 0))
    return NULL;
  if (sb->len == 0)
    sb->buf[0] = '\0';
  char *out = sb->buf;
  *sb = (tl__sb){0};
  return out;
}
