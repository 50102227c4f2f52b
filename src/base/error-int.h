/* Setting a tl_error from inside the library. Every area uses these so that a
 * message always has the same shape: "<area>: what happened, where". */
#ifndef TL_BASE_ERROR_INT_H
#define TL_BASE_ERROR_INT_H

#include "tailor/error.h"

/* Writes code and the formatted message into err (if non-NULL); returns code
 * so callers can `return tl__error_set(err, TL_EFORMAT, "...")`. */
tl_status tl__error_set(tl_error *err, tl_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* As tl__error_set, and appends ": strerror(sys_errno)" and records errno. */
tl_status tl__error_errno(tl_error *err, tl_status code, int sys_errno, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Prefixes the existing message with "prefix: " (keeps the code). */
void tl__error_prefix(tl_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
