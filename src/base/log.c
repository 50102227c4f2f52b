/* The log sink hook and the library's version string. */
#include <stdarg.h>
#include <stdio.h>

#include "base/log-int.h"

static tl_log_fn g_log_fn;
static void *g_log_ud;
static tl_log_level g_log_min = TL_LOG_WARN;

void tl_set_log(tl_log_fn fn, void *ud, tl_log_level min_level)
{
  g_log_fn = fn;
  g_log_ud = ud;
  g_log_min = min_level;
}

void tl__log(tl_log_level level, const char *fmt, ...)
{
  if (!g_log_fn || level < g_log_min)
    return;
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  g_log_fn(level, buf, g_log_ud);
}

const char *tl_version(void) { return TAILOR_VERSION; }
