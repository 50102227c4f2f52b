/* What the server's files share: requests and their results, the models
 * with their engine thread (scheduler.c), the OpenAI request parser and
 * response builders (openai.c), the JSON-mode validator (json-check.c) and
 * the metrics (metrics.c). Never included from outside src/server/. */
#ifndef TL_SERVER_INTERNAL_H
#define TL_SERVER_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/strbuf.h"
#include "tailor/engine.h"
#include "tailor/server.h"
#include "tailor/tokenizer.h"

/* ---- the JSON-mode validator (json-check.c) ----
 * Accepts the bytes of a JSON object incrementally and says whether what it
 * has seen is a prefix of one valid JSON object (RFC 8259). Plain data: copy
 * it to try bytes without committing. */
enum { TL__JC_DEPTH = 32 };
typedef struct tl__jcheck {
  uint8_t state, lit, ws, depth;
  char stack[TL__JC_DEPTH]; /* '{' or '[' */
  uint8_t in_key;           /* the string being read is an object key */
} tl__jcheck;

void tl__jcheck_init(tl__jcheck *j);
/* Feeds n bytes; false (j then undefined) when they cannot continue a valid object. */
bool tl__jcheck_feed(tl__jcheck *j, const char *s, size_t n);
/* The object is complete. */
bool tl__jcheck_done(const tl__jcheck *j);

/* ---- a generation request ---- */

typedef struct tl__gen {
  bool chat, stream, include_usage;
  int32_t *prompt;          /* tokens, tl__free */
  uint32_t n_prompt;
  uint32_t max_tokens;      /* capped to the context left */
  tl_sampler_params sp;
  char *stop[4];            /* tl__free */
  size_t n_stop;
  bool logprobs;
  uint32_t top_logprobs;    /* 0 .. 20 */
  bool json_mode;
  char model[128];
} tl__gen;

typedef struct tl__req {
  tl__gen g;
  char id[48];
  int64_t created;          /* unix seconds */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  tl__sb text;              /* generated text published so far */
  json_t *lp;               /* array of per-token logprob records (see openai.c) */
  bool done;
  const char *finish;       /* "stop", "length", or NULL on error */
  char error[256];          /* set when the engine failed the request */
  uint32_t n_completion;
  uint32_t n_cached;        /* prompt tokens reused from the prefix cache */
  atomic_int cancelled;     /* the client went away (any thread sets it) */
  int refs;                 /* the HTTP side and the scheduler */
} tl__req;

tl__req *tl__req_create(void);
/* Drops one reference (the last frees). */
void tl__req_release(tl__req *r);
void tl__gen_deinit(tl__gen *g);

/* ---- a model and its scheduler (scheduler.c) ---- */

typedef struct tl__model_srv tl__model_srv;

typedef struct tl__metrics {
  uint64_t requests, completions, errors;
  uint64_t prompt_tokens, completion_tokens, cached_tokens;
  double prefill_s, decode_s;      /* engine time in steps with / without prompt tokens */
  uint64_t prefill_tok, decode_tok;
  uint64_t steps;
} tl__metrics;

/* Loads a model and starts its engine thread. */
tl_status tl__model_srv_create(const tl_server_params *p, const char *name, const char *path,
                               tl__model_srv **out, tl_error *err);
/* Stops the thread (failing what is left) and frees. */
void tl__model_srv_free(tl__model_srv *m);
const char *tl__model_srv_name(const tl__model_srv *m);
const tl_tokenizer *tl__model_srv_tokenizer(const tl__model_srv *m);
tl_chat_format tl__model_srv_chat(const tl__model_srv *m);
uint32_t tl__model_srv_ctx(const tl__model_srv *m);
uint32_t tl__model_srv_vocab(const tl__model_srv *m);
/* KV blocks of the model's cache. */
uint32_t tl__model_srv_blocks(const tl__model_srv *m, uint32_t *block_size);
/* Queues r (taking a reference). TL_EBUSY when the queue is full; TL_ELIMIT
 * when prompt + max_tokens need more KV blocks than the cache has. */
tl_status tl__model_srv_submit(tl__model_srv *m, tl__req *r);
/* Requests queued + running. */
uint32_t tl__model_srv_inflight(tl__model_srv *m);
/* Cancels every request queued or running. */
void tl__model_srv_cancel_all(tl__model_srv *m);
/* Adds this model's counters and gauges. */
void tl__model_srv_stats(tl__model_srv *m, tl__metrics *acc, tl_server_stats *st);

/* ---- OpenAI request and response shapes (openai.c) ---- */

/* An OpenAI-shaped error: HTTP status, message, type, param, code. */
typedef struct tl__api_error {
  int status;
  char message[512];
  const char *type;  /* invalid_request_error, ... */
  char param[64];
  const char *code;  /* NULL or e.g. context_length_exceeded */
} tl__api_error;

/* Parses a completions (chat = false) or chat completions body into g,
 * tokenizing the prompt with m's tokenizer (and chat template). false with
 * e filled on bad input. */
bool tl__openai_parse(tl__model_srv *m, const json_t *body, bool chat, tl__gen *g,
                      tl__api_error *e);
/* The model a body names ("" when absent or not a string). */
const char *tl__openai_model_of(const json_t *body);
/* {"error": {...}} as text; free with tl__free. */
char *tl__openai_error_json(const tl__api_error *e);
/* A whole (non-streamed) response for a finished request; free with tl__free. */
char *tl__openai_response(const tl__req *r, const char *model, const tl_tokenizer *tk);
/* One SSE chunk ("data: {...}\n\n") appended to sb: text (may be empty) and
 * the logprob records [lp0, lp1) of r; finish set on the last. */
void tl__openai_chunk(tl__sb *sb, const tl__req *r, const char *model, const tl_tokenizer *tk,
                      const char *text, size_t len, size_t lp0, size_t lp1, const char *finish,
                      bool first);
/* The usage-only chunk of stream_options.include_usage. */
void tl__openai_usage_chunk(tl__sb *sb, const tl__req *r, const char *model);

/* ---- metrics (metrics.c) ---- */

/* The Prometheus text exposition of the server's counters. Free with tl__free. */
char *tl__metrics_text(const tl__metrics *m, const tl_server_stats *st, uint64_t http_requests,
                       uint64_t http_errors);

#endif

/* ---- the server object (server.c) and its HTTP side (http.c, sse.c) ---- */

enum { TL__MAX_MODELS = 16 };

typedef struct tl__model_entry {
  tl__model_srv *m;
  int users;            /* HTTP handlers holding m */
} tl__model_entry;

struct tl_server {
  tl_server_params p;   /* strings point at the copies below */
  char *host, *api_key, *chat_template;
  struct MHD_Daemon *d;
  uint16_t port;
  pthread_mutex_t mu;   /* models, state, counters */
  tl__model_entry models[TL__MAX_MODELS];
  size_t n_models;
  int state;            /* 0 loading, 1 ok, 2 error */
  char state_msg[256];
  atomic_int draining;
  uint64_t http_requests, http_errors, id_counter;
};

/* Finds a model by name ("" picks the only one) and holds it; NULL when
 * there is none. Release with tl__server_model_put. */
tl__model_entry *tl__server_model_get(tl_server *s, const char *name);
void tl__server_model_put(tl_server *s, tl__model_entry *me);

/* The MHD access handler and completion callback (http.c). */
enum MHD_Result tl__http_handler(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls);
void tl__http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                        enum MHD_RequestTerminationCode toe);

/* A streamed response (sse.c): takes over r and the model hold. */
struct MHD_Response *tl__sse_response(tl_server *s, tl__model_entry *me, tl__req *r);
