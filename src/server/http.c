/* The HTTP side of the server on libmicrohttpd (one thread per
 * connection): request bodies up to a limit, routing, the API key, and the
 * handlers of every endpoint. Generation handlers parse and enqueue; a
 * whole response waits for its request, a streamed one hands it to sse.c.
 * Every error is an OpenAI-shaped error object with its HTTP status. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "base/alloc-int.h"
#include "server/internal.h"

enum { MAX_DEPTH = 64 };

typedef struct conn {
  tl__sb body;
  bool too_big;
} conn;

static enum MHD_Result send_text(tl_server *s, struct MHD_Connection *c, unsigned status,
                                 const char *ctype, const char *text, const char *hdr,
                                 const char *hval)
{
  struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
                                                           MHD_RESPMEM_MUST_COPY);
  if (!r)
    return MHD_NO;
  MHD_add_response_header(r, "Content-Type", ctype);
  if (hdr)
    MHD_add_response_header(r, hdr, hval);
  if (status >= 400) {
    pthread_mutex_lock(&s->mu);
    s->http_errors++;
    pthread_mutex_unlock(&s->mu);
  }
  enum MHD_Result rc = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return rc;
}

static enum MHD_Result send_json(tl_server *s, struct MHD_Connection *c, unsigned status,
                                 const char *json)
{
  return send_text(s, c, status, "application/json", json ? json : "{}", NULL, NULL);
}

static enum MHD_Result send_error_hdr(tl_server *s, struct MHD_Connection *c, const tl__api_error *e,
                                      const char *hdr, const char *hval)
{
  char *j = tl__openai_error_json(e);
  enum MHD_Result rc = send_text(s, c, (unsigned)e->status, "application/json",
                                 j ? j : "{\"error\":{}}", hdr, hval);
  tl__free(j);
  return rc;
}

static enum MHD_Result send_error(tl_server *s, struct MHD_Connection *c, int status,
                                  const char *type, const char *code, const char *param,
                                  const char *msg)
{
  tl__api_error e = {.status = status, .type = type, .code = code};
  snprintf(e.message, sizeof e.message, "%s", msg);
  snprintf(e.param, sizeof e.param, "%s", param ? param : "");
  return send_error_hdr(s, c, &e, NULL, NULL);
}

/* The nesting depth of a JSON text (brackets outside strings). */
static bool depth_ok(const char *p, size_t n)
{
  int depth = 0;
  bool in_str = false;
  for (size_t i = 0; i < n; i++) {
    char ch = p[i];
    if (in_str) {
      if (ch == '\\')
        i++;
      else if (ch == '"')
        in_str = false;
    } else if (ch == '"') {
      in_str = true;
    } else if (ch == '{' || ch == '[') {
      if (++depth > MAX_DEPTH)
        return false;
    } else if (ch == '}' || ch == ']') {
      depth--;
    }
  }
  return true;
}

/* The body as a JSON object, or an error sent. */
static json_t *body_json(tl_server *s, struct MHD_Connection *c, conn *cc, enum MHD_Result *rc)
{
  const char *p = cc->body.buf ? cc->body.buf : "";
  if (!depth_ok(p, cc->body.len)) {
    *rc = send_error(s, c, 400, "invalid_request_error", "invalid_json", NULL,
                     "the request body nests deeper than 64 levels");
    return NULL;
  }
  json_error_t je;
  json_t *b = json_loadb(p, cc->body.len, 0, &je);
  if (!b) {
    char msg[320];
    snprintf(msg, sizeof msg, "the request body is not valid JSON: %s (line %d, column %d)",
             je.text, je.line, je.column);
    *rc = send_error(s, c, 400, "invalid_request_error", "invalid_json", NULL, msg);
    return NULL;
  }
  if (!json_is_object(b)) {
    json_decref(b);
    *rc = send_error(s, c, 400, "invalid_request_error", "invalid_json", NULL,
                     "the request body must be a JSON object");
    return NULL;
  }
  return b;
}

static bool authorized(tl_server *s, struct MHD_Connection *c)
{
  if (!s->api_key)
    return true;
  const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
  if (!h || strncmp(h, "Bearer ", 7))
    return false;
  h += 7;
  size_t a = strlen(h), b = strlen(s->api_key);
  unsigned char diff = (unsigned char)(a != b);
  for (size_t i = 0; i < a && i < b; i++) /* no early exit: time does not tell the prefix */
    diff |= (unsigned char)(h[i] ^ s->api_key[i]);
  return diff == 0;
}

static json_t *model_object(const char *name)
{
  return json_pack("{s:s,s:s,s:I,s:s}", "id", name, "object", "model", "created",
                   (json_int_t)0, "owned_by", "tailor");
}

static enum MHD_Result models_list(tl_server *s, struct MHD_Connection *c)
{
  json_t *data = json_array();
  pthread_mutex_lock(&s->mu);
  for (size_t i = 0; i < s->n_models; i++)
    json_array_append_new(data, model_object(tl__model_srv_name(s->models[i].m)));
  pthread_mutex_unlock(&s->mu);
  json_t *o = json_pack("{s:s,s:o}", "object", "list", "data", data);
  char *t = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  enum MHD_Result rc = send_json(s, c, 200, t);
  free(t);
  return rc;
}

static enum MHD_Result model_get(tl_server *s, struct MHD_Connection *c, const char *name)
{
  tl__model_entry *me = name[0] ? tl__server_model_get(s, name) : NULL;
  if (!me) {
    char msg[256];
    snprintf(msg, sizeof msg, "the model '%s' does not exist", name);
    return send_error(s, c, 404, "invalid_request_error", "model_not_found", "model", msg);
  }
  json_t *o = model_object(tl__model_srv_name(me->m));
  tl__server_model_put(s, me);
  char *t = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  enum MHD_Result rc = send_json(s, c, 200, t);
  free(t);
  return rc;
}

static enum MHD_Result health(tl_server *s, struct MHD_Connection *c)
{
  pthread_mutex_lock(&s->mu);
  int st = s->state;
  json_t *o = st == 2 ? json_pack("{s:s,s:s}", "status", "error", "message", s->state_msg)
                      : json_pack("{s:s}", "status", st == 1 ? "ok" : "loading");
  pthread_mutex_unlock(&s->mu);
  char *t = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  enum MHD_Result rc = send_json(s, c, st == 1 ? 200 : st == 2 ? 500 : 503, t);
  free(t);
  return rc;
}

static enum MHD_Result metrics(tl_server *s, struct MHD_Connection *c)
{
  tl__metrics m;
  tl_server_stats st;
  memset(&m, 0, sizeof m);
  memset(&st, 0, sizeof st);
  pthread_mutex_lock(&s->mu);
  for (size_t i = 0; i < s->n_models; i++)
    tl__model_srv_stats(s->models[i].m, &m, &st);
  uint64_t req = s->http_requests, errs = s->http_errors;
  pthread_mutex_unlock(&s->mu);
  char *t = tl__metrics_text(&m, &st, req, errs);
  enum MHD_Result rc = send_text(s, c, 200, "text/plain; version=0.0.4", t ? t : "", NULL, NULL);
  tl__free(t);
  return rc;
}

static enum MHD_Result model_load(tl_server *s, struct MHD_Connection *c, conn *cc, bool load)
{
  enum MHD_Result rc;
  json_t *b = body_json(s, c, cc, &rc);
  if (!b)
    return rc;
  const json_t *name = json_object_get(b, "model"), *path = json_object_get(b, "path");
  tl_error err;
  tl_error_clear(&err);
  if (!json_is_string(name) || (load && path && !json_is_string(path))) {
    const char *param = json_is_string(name) ? "path" : "model";
    json_decref(b);
    return send_error(s, c, 400, "invalid_request_error", "invalid_type", param,
                      load ? "'model' (a name) and 'path' (a GGUF file) must be strings"
                           : "'model' must be a string");
  }
  const char *n = json_string_value(name), *pth = path ? json_string_value(path) : n;
  tl_status st = load ? tl_server_model_load(s, n, pth, &err) : tl_server_model_unload(s, n, &err);
  if (st == TL_OK) {
    json_t *o = json_pack("{s:s,s:s}", "model", n, "status", load ? "loaded" : "unloaded");
    json_decref(b);
    char *t = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    rc = send_json(s, c, 200, t);
    free(t);
    return rc;
  }
  json_decref(b);
  /* load: the file is the client's input (400); unload: the name (404) */
  int status = st == TL_EBUSY || st == TL_ELIMIT ? 409 : !load && st == TL_ENOTFOUND ? 404 : 400;
  return send_error(s, c, status, status == 404 ? "not_found_error" : "invalid_request_error",
                    st == TL_EBUSY ? "model_busy"
                    : status == 404 ? "model_not_found"
                    : load          ? "model_load_failed"
                                    : NULL,
                    "model", err.message);
}

static enum MHD_Result generate(tl_server *s, struct MHD_Connection *c, conn *cc, bool chat)
{
  enum MHD_Result rc;
  json_t *b = body_json(s, c, cc, &rc);
  if (!b)
    return rc;
  char name[128];
  snprintf(name, sizeof name, "%s", tl__openai_model_of(b));
  const json_t *mv = json_object_get(b, "model");
  if (mv && !json_is_string(mv)) {
    json_decref(b);
    return send_error(s, c, 400, "invalid_request_error", "invalid_type", "model",
                      "'model' must be a string");
  }
  tl__model_entry *me = tl__server_model_get(s, name);
  if (!me) {
    char msg[256];
    snprintf(msg, sizeof msg, name[0] ? "the model '%s' does not exist"
                                      : "'model' is required%s", name);
    json_decref(b);
    return send_error(s, c, name[0] ? 404 : 400, "invalid_request_error",
                      name[0] ? "model_not_found" : "missing_required_parameter", "model", msg);
  }
  tl__req *r = tl__req_create();
  if (!r) {
    tl__server_model_put(s, me);
    json_decref(b);
    return send_error(s, c, 500, "server_error", NULL, NULL, "out of memory");
  }
  pthread_mutex_lock(&s->mu);
  uint64_t id = ++s->id_counter;
  pthread_mutex_unlock(&s->mu);
  r->g.sp = s->p.engine.sampling;
  r->g.sp.seed = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull ^ id;
  r->created = (int64_t)time(NULL);
  snprintf(r->id, sizeof r->id, "%s-%llx%06llx", chat ? "chatcmpl" : "cmpl",
           (unsigned long long)r->created, (unsigned long long)id);
  tl__api_error e = {0};
  bool ok = tl__openai_parse(me->m, b, chat, &r->g, &e);
  json_decref(b);
  if (!ok) {
    tl__req_release(r);
    tl__server_model_put(s, me);
    return send_error_hdr(s, c, &e, NULL, NULL);
  }
  tl_status st = s->draining ? TL_EBUSY : tl__model_srv_submit(me->m, r);
  if (st) {
    tl__req_release(r);
    tl__server_model_put(s, me);
    if (st == TL_ELIMIT)
      return send_error(s, c, 400, "invalid_request_error", "context_length_exceeded",
                        "max_tokens", "the prompt and max_tokens need more KV cache than the "
                        "server has");
    tl__api_error be = {.status = 503, .type = "server_error", .code = "server_busy"};
    snprintf(be.message, sizeof be.message, "%s",
             s->draining ? "the server is shutting down" : "the server is busy; retry later");
    return send_error_hdr(s, c, &be, "Retry-After", "1");
  }
  if (r->g.stream) {
    struct MHD_Response *resp = tl__sse_response(s, me, r); /* owns r and me now */
    if (!resp) {
      r->cancelled = 1;
      tl__req_release(r);
      tl__server_model_put(s, me);
      return MHD_NO;
    }
    rc = MHD_queue_response(c, 200, resp);
    MHD_destroy_response(resp);
    return rc;
  }
  /* Wait for the whole text, looking every 200 ms whether the client has
   * closed its end (a read of 0 bytes), which cancels the request. */
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
  pthread_mutex_lock(&r->mu);
  struct timespec next;
  clock_gettime(CLOCK_REALTIME, &next);
  while (!r->done) {
    next.tv_nsec += 200000000;
    if (next.tv_nsec >= 1000000000) {
      next.tv_sec++;
      next.tv_nsec -= 1000000000;
    }
    /* woken by every published token: wait out the whole period */
    while (!r->done && pthread_cond_timedwait(&r->cv, &r->mu, &next) == 0) {
    }
    if (r->done || !ci)
      continue;
    char peek;
    ssize_t got = recv(ci->connect_fd, &peek, 1, MSG_PEEK | MSG_DONTWAIT);
    if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
      r->cancelled = 1;
  }
  pthread_mutex_unlock(&r->mu);
  if (r->finish) {
    char *t = tl__openai_response(r, r->g.model, tl__model_srv_tokenizer(me->m));
    rc = t ? send_json(s, c, 200, t) : send_error(s, c, 500, "server_error", NULL, NULL,
                                                   "out of memory");
    tl__free(t);
  } else {
    rc = send_error(s, c, s->draining ? 503 : 500, "server_error", NULL, NULL, r->error);
  }
  tl__req_release(r);
  tl__server_model_put(s, me);
  return rc;
}

typedef enum route_id {
  R_HEALTH, R_METRICS, R_MODELS, R_MODEL, R_LOAD, R_UNLOAD, R_CHAT, R_COMPLETIONS, R_NONE
} route_id;

static route_id route_of(const char *url, const char **allow)
{
  static const struct {
    const char *path, *method;
  } routes[] = {
      {"/health", "GET"},          {"/metrics", "GET"},
      {"/v1/models", "GET"},       {NULL, "GET"},
      {"/v1/models/load", "POST"}, {"/v1/models/unload", "POST"},
      {"/v1/chat/completions", "POST"}, {"/v1/completions", "POST"},
  };
  for (int i = 0; i < R_NONE; i++)
    if (routes[i].path && !strcmp(url, routes[i].path)) {
      *allow = routes[i].method;
      return (route_id)i;
    }
  if (!strncmp(url, "/v1/models/", 11) && url[11] && !strchr(url + 11, '/')) {
    *allow = "GET";
    return R_MODEL;
  }
  return R_NONE;
}

enum MHD_Result tl__http_handler(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls)
{
  (void)version;
  tl_server *s = cls;
  conn *cc = *con_cls;
  if (!cc) {
    cc = tl__calloc(1, sizeof *cc);
    if (!cc)
      return MHD_NO;
    tl__sb_init(&cc->body);
    *con_cls = cc;
    return MHD_YES;
  }
  if (*upload_size) {
    if (cc->body.len + *upload_size > s->p.body_max)
      cc->too_big = true; /* read on and drop, then answer 413 */
    else
      tl__sb_append(&cc->body, upload, *upload_size);
    *upload_size = 0;
    return MHD_YES;
  }
  pthread_mutex_lock(&s->mu);
  s->http_requests++;
  pthread_mutex_unlock(&s->mu);
  const char *allow = NULL;
  route_id r = route_of(url, &allow);
  if (r == R_NONE) {
    char msg[300];
    snprintf(msg, sizeof msg, "no route %s %.200s", method, url);
    return send_error(s, c, 404, "invalid_request_error", "not_found", NULL, msg);
  }
  if (!strncmp(url, "/v1/", 4) && !authorized(s, c)) {
    tl__api_error e = {.status = 401, .type = "invalid_request_error", .code = "invalid_api_key"};
    snprintf(e.message, sizeof e.message,
             "a valid API key is required: send 'Authorization: Bearer KEY'");
    return send_error_hdr(s, c, &e, "WWW-Authenticate", "Bearer");
  }
  if (strcmp(method, allow)) {
    tl__api_error e = {.status = 405, .type = "invalid_request_error",
                       .code = "method_not_allowed"};
    snprintf(e.message, sizeof e.message, "%s takes %s, not %.32s", url, allow, method);
    return send_error_hdr(s, c, &e, "Allow", allow);
  }
  if (cc->too_big) {
    char msg[128];
    snprintf(msg, sizeof msg, "the request body is larger than %zu bytes", s->p.body_max);
    return send_error(s, c, 413, "invalid_request_error", "request_too_large", NULL, msg);
  }
  if (tl__sb_failed(&cc->body))
    return send_error(s, c, 500, "server_error", NULL, NULL, "out of memory");
  switch (r) {
  case R_HEALTH:
    return health(s, c);
  case R_METRICS:
    return metrics(s, c);
  case R_MODELS:
    return models_list(s, c);
  case R_MODEL:
    return model_get(s, c, url + 11);
  case R_LOAD:
  case R_UNLOAD:
    return model_load(s, c, cc, r == R_LOAD);
  case R_CHAT:
  case R_COMPLETIONS:
    return generate(s, c, cc, r == R_CHAT);
  default:
    return MHD_NO;
  }
}

void tl__http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                        enum MHD_RequestTerminationCode toe)
{
  (void)cls;
  (void)c;
  (void)toe;
  conn *cc = *con_cls;
  if (!cc)
    return;
  tl__sb_deinit(&cc->body);
  tl__free(cc);
  *con_cls = NULL;
}
