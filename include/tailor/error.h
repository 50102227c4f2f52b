/* Status codes and the error detail buffer shared by every libtailor call.
 * Codes, names and messages come from one X-macro table so they never drift.
 * A fallible call returns tl_status (TL_OK == 0, errors negative) and, when
 * the caller passes a tl_error, fills it with a message saying what and where. */
#ifndef TAILOR_ERROR_H
#define TAILOR_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* X(NAME, value, message). Values are stable: append only. */
#define TL_STATUS_LIST(X)                                                      \
  X(OK, 0, "success")                                                          \
  X(ENOMEM, -1, "out of memory")                                               \
  X(EINVAL, -2, "invalid argument")                                            \
  X(EIO, -3, "input/output error")                                             \
  X(EFORMAT, -4, "malformed input")                                            \
  X(ENOTFOUND, -5, "not found")                                                \
  X(EUNSUPPORTED, -6, "not supported")                                         \
  X(ERANGE, -7, "value out of range")                                          \
  X(ELIMIT, -8, "limit exceeded")                                              \
  X(ENOFIT, -9, "does not fit in memory")                                      \
  X(ECONFIG, -10, "invalid setting")                                           \
  X(EDEVICE, -11, "device error")                                              \
  X(ECANCELED, -12, "canceled")                                                \
  X(EBUSY, -13, "busy")                                                        \
  X(ENET, -14, "network error")                                                \
  X(EINTERNAL, -15, "internal error")

typedef enum tl_status {
#define TL__STATUS_ENUM(name, value, msg) TL_##name = value,
  TL_STATUS_LIST(TL__STATUS_ENUM)
#undef TL__STATUS_ENUM
} tl_status;

/* Caller-owned error detail. Any function taking `tl_error *err` accepts NULL. */
typedef struct tl_error {
  tl_status code;    /* the status the call returned */
  int sys_errno;     /* errno at the failure, or 0 */
  char message[512]; /* "gguf: tensor 'blk.3.attn_q' ends at 812, past end of file (800)" */
} tl_error;

/* The constant's name without prefix ("EFORMAT"); "UNKNOWN" for other values. */
const char *tl_status_name(tl_status code);
/* A short English description of the code ("malformed input"). */
const char *tl_status_str(tl_status code);
/* Resets err to TL_OK with an empty message. Accepts NULL. */
void tl_error_clear(tl_error *err);

#ifdef __cplusplus
}
#endif
#endif
