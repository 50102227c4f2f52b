/* An OpenAI-compatible HTTP server over the built-in engine: chat and text
 * completions (streamed as server-sent events or whole), the model list and
 * load/unload, health and Prometheus metrics. Each model has one engine
 * thread that runs continuous batching: requests take sequence slots, new
 * prompts join between decode steps, prompts are prefilled in chunks. HTTP
 * threads only parse, enqueue and stream. See docs/server.md. */
#ifndef TAILOR_SERVER_H
#define TAILOR_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tailor/engine.h"
#include "tailor/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tl_server_params {
  const char *host;         /* address to bind; NULL: "127.0.0.1" */
  uint16_t port;            /* 0: an ephemeral port (tl_server_port says which) */
  const char *api_key;      /* required as "Authorization: Bearer KEY" on /v1; NULL: none */
  uint32_t queue_max;       /* requests waiting for a slot, per model; 0: 64 */
  size_t body_max;          /* request body bytes; 0: 1 MiB */
  uint32_t max_batched_tokens; /* tokens per engine step (prefill chunks + decodes); 0: n_ubatch */
  bool prefix_cache;        /* reuse the KV of identical prompt prefixes */
  bool prefill_first;       /* admission: a new prompt is prefilled whole (else in chunks) */
  const char *chat_template; /* a tl_chat_format name, or NULL: the model's own */
  tl_engine_params engine;  /* for every model the server loads; n_seq_max is the slots */
} tl_server_params;

/* Defaults as above, engine params from tl_engine_params_init with 4 slots. */
void tl_server_params_init(tl_server_params *p);

typedef struct tl_server tl_server;

/* Creates a server (nothing bound yet). The params' strings are copied.
 * Free with tl_server_free. */
tl_status tl_server_create(const tl_server_params *p, tl_server **out, tl_error *err);
/* Binds host:port and starts serving on the server's threads. TL_ENET when
 * the address cannot be bound. /health says "loading" until
 * tl_server_set_ready. */
tl_status tl_server_start(tl_server *s, tl_error *err);
/* The port bound (after tl_server_start). */
uint16_t tl_server_port(const tl_server *s);
/* Loads the GGUF at path as model name (the id clients send) and starts its
 * engine thread. TL_EBUSY for a name already loaded; engine load errors. */
tl_status tl_server_model_load(tl_server *s, const char *name, const char *path, tl_error *err);
/* As tl_server_model_load, with engine params of its own (a configuration
 * resolved for this model) instead of the server's. */
tl_status tl_server_model_load_params(tl_server *s, const char *name, const char *path,
                                      const tl_engine_params *engine, tl_error *err);
/* Unloads a model: TL_ENOTFOUND for an unknown name, TL_EBUSY while it has
 * requests queued or running. */
tl_status tl_server_model_unload(tl_server *s, const char *name, tl_error *err);
/* /health: ok once ready; error (with the message) after a failed load. */
void tl_server_set_ready(tl_server *s);
void tl_server_set_failed(tl_server *s, const char *message);

/* Counters for tests and the CLI. */
typedef struct tl_server_stats {
  uint64_t requests;          /* HTTP requests answered */
  uint64_t completions;       /* generation requests finished */
  uint64_t prompt_tokens, completion_tokens;
  uint32_t queued, running;   /* over every model */
  uint32_t kv_blocks_free, kv_blocks_total; /* over every model */
  uint32_t kv_blocks_cached;  /* held by finished sequences kept for prefix reuse */
} tl_server_stats;
void tl_server_stats_get(tl_server *s, tl_server_stats *out);

/* Stops admitting (new generation requests get 503), waits up to timeout_ms
 * for the requests in flight, then cancels the rest and waits for their
 * connections to end. Safe to call from any thread except the server's. */
void tl_server_drain(tl_server *s, uint32_t timeout_ms);
/* Stops serving (draining with no wait) and frees everything. Accepts NULL. */
void tl_server_free(tl_server *s);

#ifdef __cplusplus
}
#endif
#endif
