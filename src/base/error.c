/* Status names and messages from the X-macro table in tailor/error.h, and the
 * helpers that fill a caller's tl_error. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/error-int.h"

const char *tl_status_name(tl_status code)
{
  switch (code) {
#define TL__STATUS_NAME(name, value, msg)                                       \
  case TL_##name:                                                                \
    return #name;
    TL_STATUS_LIST(TL__STATUS_NAME)
#undef TL__STATUS_NAME
  }
  return "UNKNOWN";
}

const char *tl_status_str(tl_status code)
{
  switch (code) {
#define TL__STATUS_STR(name, value, msg)                                        \
  case TL_##name:                                                                \
    return msg;
    TL_STATUS_LIST(TL__STATUS_STR)
#undef TL__STATUS_STR
  }
  return "unknown error";
}

void tl_error_clear(tl_error *err)
{
  if (!err)
    return;
  err->code = TL_OK;
  err->sys_errno = 0;
  err->message[0] = '\0';
}

static void vset(tl_error *err, tl_status code, int sys_errno, const char *fmt, va_list ap)
{
  err->code = code;
  err->sys_errno = sys_errno;
  int n = vsnprintf(err->message, sizeof err->message, fmt, ap);
  if (n < 0)
    err->message[0] = '\0';
}

tl_status tl__error_set(tl_error *err, tl_status code, const char *fmt, ...)
{
  if (!err)
    return code;
  va_list ap;
  va_start(ap, fmt);
  vset(err, code, 0, fmt, ap);
  va_end(ap);
  return code;
}

tl_status tl__error_errno(tl_error *err, tl_status code, int sys_errno, const char *fmt, ...)
{
  if (!err)
    return code;
  va_list ap;
  va_start(ap, fmt);
  vset(err, code, sys_errno, fmt, ap);
  va_end(ap);
  size_t len = strlen(err->message);
  if (len < sizeof err->message)
    snprintf(err->message + len, sizeof err->message - len, ": %s", strerror(sys_errno));
  return code;
}

void tl__error_prefix(tl_error *err, const char *fmt, ...)
{
  if (!err)
    return;
  char prefix[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  char old[sizeof err->message];
  memcpy(old, err->message, sizeof old);
  snprintf(err->message, sizeof err->message, "%s: %s", prefix, old);
}
