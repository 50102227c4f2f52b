/* The only process-wide mutable state in libtailor: the allocator and the log
 * sink. Set them before any other call; they are not synchronised with calls
 * in flight. The library prints nothing itself: it logs through the sink. */
#ifndef TAILOR_HOOKS_H
#define TAILOR_HOOKS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Every allocation libtailor makes goes through these (jansson's included).
 * realloc(NULL, n) must act as malloc(n); free(NULL) must do nothing. */
typedef struct tl_allocator {
  void *(*malloc)(size_t size, void *ud);
  void *(*realloc)(void *ptr, size_t size, void *ud);
  void (*free)(void *ptr, void *ud);
  void *ud;
} tl_allocator;

/* Installs a (copied) allocator; NULL restores the C library's. */
void tl_set_allocator(const tl_allocator *a);

/* Frees memory that a libtailor function returned with "free with tl_free". */
void tl_free(void *ptr);

typedef enum tl_log_level {
  TL_LOG_DEBUG = 0,
  TL_LOG_INFO = 1,
  TL_LOG_WARN = 2,
  TL_LOG_ERROR = 3,
} tl_log_level;

/* msg is one line without a trailing newline, valid for the call only.
 * The sink may be called from any thread. */
typedef void (*tl_log_fn)(tl_log_level level, const char *msg, void *ud);

/* Sets the sink and the lowest level passed to it. NULL drops all messages
 * (the default). */
void tl_set_log(tl_log_fn fn, void *ud, tl_log_level min_level);

/* The library version, "MAJOR.MINOR.PATCH". */
const char *tl_version(void);

#ifdef __cplusplus
}
#endif
#endif
