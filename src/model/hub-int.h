/* A small HTTPS client for the Hugging Face Hub (libcurl), shared by the
 * catalog update: bounded GETs, HTTP Range requests, and Hub errors
 * (status + X-Error-Code) turned into messages that say what to do. */
#ifndef TL_MODEL_HUB_INT_H
#define TL_MODEL_HUB_INT_H

#include <stddef.h>
#include <stdint.h>

#include "tailor/catalog.h"

typedef struct tl__hub tl__hub;

/* What a request asks for; it decides how a 401/404 reads. */
typedef enum tl__hub_kind {
  TL__HUB_LIST = 0,  /* /api/models?... */
  TL__HUB_MODEL = 1, /* /api/models/{repo} */
  TL__HUB_FILE = 2,  /* /{repo}/resolve/main/{file} */
} tl__hub_kind;

typedef struct tl__hub_resp {
  char *body;          /* NUL-terminated, free with tl__free */
  size_t len;          /* bytes, without the NUL */
  long status;         /* final HTTP status (after redirects) */
  uint64_t full_size;  /* a Range reply: the file's size from Content-Range; 0 when unknown */
} tl__hub_resp;

/* A client for o (endpoint, token and timeout resolved from the
 * environment where o leaves them out). Free with tl__hub_close. */
tl_status tl__hub_open(tl__hub **out, const tl_hub_options *o, tl_error *err);
void tl__hub_close(tl__hub *h);
/* The endpoint without a trailing slash ("https://huggingface.co"). */
const char *tl__hub_endpoint(const tl__hub *h);
/* The endpoint's host, for messages. */
const char *tl__hub_host(const tl__hub *h);
/* The error of the first request that could not resolve or reach the host,
 * or NULL: later requests would only fail the same way. */
const tl_error *tl__hub_down(const tl__hub *h);

/* GET endpoint + path (path starts with '/'). At most `max` body bytes are
 * accepted (TL_ELIMIT past that, the transfer stopped). range_len > 0 asks for
 * bytes [range_begin, range_begin + range_len) and requires a 206 reply with
 * exactly those bytes. Non-2xx replies are errors naming `what` and `repo`
 * (TL_ENOTFOUND for a missing repository or file, TL_ENET otherwise);
 * transport failures are TL_ENET naming the host. On success *r owns a body. */
tl_status tl__hub_get(tl__hub *h, tl__hub_kind kind, const char *path, const char *repo, const char *what, size_t max,
                      uint64_t range_begin, uint64_t range_len, tl__hub_resp *r, tl_error *err);

/* The catalog entry of repo from a model info document, config.json text and
 * the tensors of its safetensors headers (n == 0: the info's
 * safetensors.total), without the network: what tl_catalog_update does with
 * the replies (it->n_files says how many files the tensors came from). On
 * success *entry_json is the entry as JSON text (free with tl__free), and it
 * holds the id, arch and counts. For tests and fuzzing. */
tl_status tl__catalog_entry_from_hub(const char *endpoint, const char *repo, const char *info_text, size_t info_len,
                                     const char *cfg_text, size_t cfg_len, const tl_tensor_desc *tensors, size_t n,
                                     tl_catalog_update_item *it, char **entry_json, tl_error *err);

#endif
