/* Logging from inside the library, through the sink set with tl_set_log. */
#ifndef TL_BASE_LOG_INT_H
#define TL_BASE_LOG_INT_H

#include "tailor/hooks.h"

void tl__log(tl_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define tl__debug(...) tl__log(TL_LOG_DEBUG, __VA_ARGS__)
#define tl__info(...) tl__log(TL_LOG_INFO, __VA_ARGS__)
#define tl__warn(...) tl__log(TL_LOG_WARN, __VA_ARGS__)

#endif
