/* A growable, always NUL-terminated byte string for building messages,
 * tables and documents. Allocation failure is sticky: after one, every append
 * is a no-op and tl__sb_failed() reports it, so callers check once at the end. */
#ifndef TL_BASE_STRBUF_H
#define TL_BASE_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct tl__sb {
  char *buf;  /* NUL-terminated; NULL until the first append */
  size_t len; /* bytes, excluding the NUL */
  size_t cap;
  bool failed;
} tl__sb;

void tl__sb_init(tl__sb *sb);
void tl__sb_deinit(tl__sb *sb);
void tl__sb_append(tl__sb *sb, const char *s, size_t n);
void tl__sb_puts(tl__sb *sb, const char *s);
void tl__sb_putc(tl__sb *sb, char c);
void tl__sb_printf(tl__sb *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool tl__sb_failed(const tl__sb *sb);
/* Hands the buffer to the caller (free with tl__free) and resets sb; NULL if
 * an allocation failed. Returns "" (allocated) for an empty builder. */
char *tl__sb_take(tl__sb *sb);

#endif
