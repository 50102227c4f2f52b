/* The server object: its parameters, the models it serves (loaded and
 * unloaded while it runs), its state for /health, binding the HTTP daemon,
 * and draining on shutdown. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "base/log-int.h"
#include "server/internal.h"

void tl_server_params_init(tl_server_params *p)
{
  memset(p, 0, sizeof *p);
  p->port = 8080;
  p->prefix_cache = true;
  tl_engine_params_init(&p->engine);
  p->engine.n_seq_max = 4;
}

tl_status tl_server_create(const tl_server_params *p, tl_server **out, tl_error *err)
{
  tl_server *s = tl__calloc(1, sizeof *s);
  if (!s)
    return tl__error_set(err, TL_ENOMEM, "server: out of memory");
  s->p = *p;
  s->host = tl__strdup(p->host ? p->host : "127.0.0.1");
  s->api_key = p->api_key && p->api_key[0] ? tl__strdup(p->api_key) : NULL;
  s->chat_template = p->chat_template ? tl__strdup(p->chat_template) : NULL;
  s->p.host = s->host;
  s->p.api_key = s->api_key;
  s->p.chat_template = s->chat_template;
  if (!s->p.body_max)
    s->p.body_max = 1u << 20;
  if (!s->p.queue_max)
    s->p.queue_max = 64;
  if (!s->p.engine.n_seq_max)
    s->p.engine.n_seq_max = 1;
  pthread_mutex_init(&s->mu, NULL);
  if (!s->host || (p->api_key && p->api_key[0] && !s->api_key)) {
    tl_server_free(s);
    return tl__error_set(err, TL_ENOMEM, "server: out of memory");
  }
  *out = s;
  return TL_OK;
}

tl_status tl_server_start(tl_server *s, tl_error *err)
{
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(s->p.port);
  if (inet_pton(AF_INET, s->host, &a.sin_addr) != 1)
    return tl__error_set(err, TL_EINVAL, "server: '%s' is not an IPv4 address", s->host);
  s->d = MHD_start_daemon(MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD |
                              MHD_USE_THREAD_PER_CONNECTION,
                          s->p.port, NULL, NULL, tl__http_handler, s, MHD_OPTION_SOCK_ADDR, &a,
                          MHD_OPTION_NOTIFY_COMPLETED, tl__http_completed, s,
                          MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)600,
                          MHD_OPTION_CONNECTION_LIMIT, (unsigned int)512, MHD_OPTION_END);
  if (!s->d)
    return tl__error_set(err, TL_ENET, "server: cannot listen on %s:%u", s->host,
                         (unsigned)s->p.port);
  const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
  s->port = di ? di->port : s->p.port;
  return TL_OK;
}

uint16_t tl_server_port(const tl_server *s) { return s->port; }

void tl_server_set_ready(tl_server *s)
{
  pthread_mutex_lock(&s->mu);
  s->state = 1;
  pthread_mutex_unlock(&s->mu);
}

void tl_server_set_failed(tl_server *s, const char *message)
{
  pthread_mutex_lock(&s->mu);
  s->state = 2;
  snprintf(s->state_msg, sizeof s->state_msg, "%s", message ? message : "");
  pthread_mutex_unlock(&s->mu);
}

tl__model_entry *tl__server_model_get(tl_server *s, const char *name)
{
  tl__model_entry *me = NULL;
  pthread_mutex_lock(&s->mu);
  for (size_t i = 0; i < s->n_models; i++)
    if (!strcmp(tl__model_srv_name(s->models[i].m), name) || (!name[0] && s->n_models == 1))
      me = &s->models[i];
  if (me)
    me->users++;
  pthread_mutex_unlock(&s->mu);
  return me;
}

void tl__server_model_put(tl_server *s, tl__model_entry *me)
{
  pthread_mutex_lock(&s->mu);
  me->users--;
  pthread_mutex_unlock(&s->mu);
}

tl_status tl_server_model_load(tl_server *s, const char *name, const char *path, tl_error *err)
{
  return tl_server_model_load_params(s, name, path, NULL, err);
}

tl_status tl_server_model_load_params(tl_server *s, const char *name, const char *path,
                                      const tl_engine_params *engine, tl_error *err)
{
  if (!name[0] || strlen(name) >= 128)
    return tl__error_set(err, TL_EINVAL, "server: a model name has 1 to 127 bytes");
  pthread_mutex_lock(&s->mu);
  bool dup = false;
  for (size_t i = 0; i < s->n_models; i++)
    dup |= !strcmp(tl__model_srv_name(s->models[i].m), name);
  bool full = s->n_models >= TL__MAX_MODELS;
  pthread_mutex_unlock(&s->mu);
  if (dup)
    return tl__error_set(err, TL_EBUSY, "server: a model named '%s' is loaded already", name);
  if (full)
    return tl__error_set(err, TL_ELIMIT, "server: %d models are loaded already", TL__MAX_MODELS);
  tl__model_srv *m;
  tl_server_params p = s->p;
  if (engine)
    p.engine = *engine;
  tl_status st = tl__model_srv_create(&p, name, path, &m, err);
  if (st)
    return st;
  pthread_mutex_lock(&s->mu);
  /* Entries never move while held: a new model takes the first free place. */
  s->models[s->n_models++] = (tl__model_entry){m, 0};
  pthread_mutex_unlock(&s->mu);
  tl__info("server: model '%s' loaded from %s", name, path);
  return TL_OK;
}

tl_status tl_server_model_unload(tl_server *s, const char *name, tl_error *err)
{
  pthread_mutex_lock(&s->mu);
  size_t i = 0;
  while (i < s->n_models && strcmp(tl__model_srv_name(s->models[i].m), name))
    i++;
  if (i == s->n_models) {
    pthread_mutex_unlock(&s->mu);
    return tl__error_set(err, TL_ENOTFOUND, "server: no model '%s' is loaded", name);
  }
  tl__model_entry *me = &s->models[i];
  uint32_t inflight = tl__model_srv_inflight(me->m);
  /* An entry held by a handler other than a finished one is in use. */
  if (me->users > 0 || inflight > 0) {
    pthread_mutex_unlock(&s->mu);
    return tl__error_set(err, TL_EBUSY, "server: model '%s' has %u requests in flight; unload "
                         "it when they are done", name, inflight ? inflight : (uint32_t)me->users);
  }
  tl__model_srv *m = me->m;
  /* Holders keep pointers to entries: only the last entry may move. With no
   * users anywhere at this moment the move is safe under the lock. */
  bool moved_in_use = false;
  for (size_t k = i + 1; k < s->n_models; k++)
    moved_in_use |= s->models[k].users > 0;
  if (moved_in_use) {
    pthread_mutex_unlock(&s->mu);
    return tl__error_set(err, TL_EBUSY, "server: models are in use; retry the unload of '%s'",
                         name);
  }
  memmove(&s->models[i], &s->models[i + 1], (s->n_models - i - 1) * sizeof s->models[0]);
  s->n_models--;
  pthread_mutex_unlock(&s->mu);
  tl__model_srv_free(m);
  tl__info("server: model '%s' unloaded", name);
  return TL_OK;
}

void tl_server_stats_get(tl_server *s, tl_server_stats *out)
{
  tl__metrics m;
  memset(&m, 0, sizeof m);
  memset(out, 0, sizeof *out);
  pthread_mutex_lock(&s->mu);
  for (size_t i = 0; i < s->n_models; i++)
    tl__model_srv_stats(s->models[i].m, &m, out);
  out->requests = s->http_requests;
  pthread_mutex_unlock(&s->mu);
  out->completions = m.completions;
  out->prompt_tokens = m.prompt_tokens;
  out->completion_tokens = m.completion_tokens;
}

static uint32_t inflight(tl_server *s)
{
  uint32_t n = 0;
  pthread_mutex_lock(&s->mu);
  for (size_t i = 0; i < s->n_models; i++)
    n += tl__model_srv_inflight(s->models[i].m) + (uint32_t)s->models[i].users;
  pthread_mutex_unlock(&s->mu);
  return n;
}

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void tl_server_drain(tl_server *s, uint32_t timeout_ms)
{
  s->draining = 1;
  double end = now_s() + timeout_ms / 1000.0;
  while (inflight(s) && now_s() < end)
    usleep(10000);
  pthread_mutex_lock(&s->mu);
  for (size_t i = 0; i < s->n_models; i++)
    tl__model_srv_cancel_all(s->models[i].m);
  pthread_mutex_unlock(&s->mu);
  /* canceled requests end at the next engine step; their streams then close */
  end = now_s() + 5.0;
  while (inflight(s) && now_s() < end)
    usleep(10000);
}

void tl_server_free(tl_server *s)
{
  if (!s)
    return;
  if (s->d) {
    tl_server_drain(s, 0);
    MHD_stop_daemon(s->d);
  }
  for (size_t i = 0; i < s->n_models; i++)
    tl__model_srv_free(s->models[i].m);
  pthread_mutex_destroy(&s->mu);
  tl__free(s->host);
  tl__free(s->api_key);
  tl__free(s->chat_template);
  tl__free(s);
}
