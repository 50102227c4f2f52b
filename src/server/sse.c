/* Streamed completions as server-sent events (WHATWG HTML, "Server-sent
 * events"): the connection's thread waits for the engine thread to publish
 * text, sends it as "data: {chunk}\n\n" lines and ends with "data: [DONE]".
 * When the client goes away, MHD frees the stream and the request is
 * canceled, which frees its slot at the next engine step. */
#include <string.h>

#include "base/alloc-int.h"
#include "server/internal.h"

typedef struct stream {
  tl_server *s;
  tl__model_entry *me;
  tl__req *r;
  tl__sb out;          /* bytes formatted, not yet handed to MHD */
  size_t off;
  size_t text_sent, lp_sent;
  bool first, finished;
} stream;

/* Formats what the request has published since the last call; blocks until
 * there is something. r->mu held by the caller. */
static void format(stream *st)
{
  tl__req *r = st->r;
  const char *model = r->g.model;
  const tl_tokenizer *tk = tl__model_srv_tokenizer(st->me->m);
  size_t n_lp = json_array_size(r->lp);
  size_t len = r->text.len - st->text_sent;
  if (st->first || len || n_lp > st->lp_sent) {
    tl__openai_chunk(&st->out, r, model, tk, r->text.buf ? r->text.buf + st->text_sent : "", len,
                     st->lp_sent, n_lp, NULL, st->first);
    st->first = false;
    st->text_sent = r->text.len;
    st->lp_sent = n_lp;
  }
  if (!r->done)
    return;
  if (r->finish) {
    tl__openai_chunk(&st->out, r, model, tk, "", 0, 0, 0, r->finish, false);
    if (r->g.include_usage)
      tl__openai_usage_chunk(&st->out, r, model);
  } else {
    tl__api_error e = {.status = 500, .type = "server_error"};
    snprintf(e.message, sizeof e.message, "%s", r->error);
    char *j = tl__openai_error_json(&e);
    if (j) {
      tl__sb_printf(&st->out, "data: %s\n\n", j);
      tl__free(j);
    }
  }
  tl__sb_puts(&st->out, "data: [DONE]\n\n");
  st->finished = true;
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
  (void)pos;
  stream *st = cls;
  if (st->off == st->out.len) {
    if (st->finished)
      return MHD_CONTENT_READER_END_OF_STREAM;
    st->out.len = st->off = 0;
    tl__req *r = st->r;
    pthread_mutex_lock(&r->mu);
    while (!st->first && !r->done && r->text.len == st->text_sent &&
           json_array_size(r->lp) == st->lp_sent)
      pthread_cond_wait(&r->cv, &r->mu);
    format(st);
    pthread_mutex_unlock(&r->mu);
    if (tl__sb_failed(&st->out))
      return MHD_CONTENT_READER_END_WITH_ERROR;
  }
  size_t n = st->out.len - st->off;
  if (n > max)
    n = max;
  memcpy(buf, st->out.buf + st->off, n);
  st->off += n;
  return (ssize_t)n;
}

static void stream_free(void *cls)
{
  stream *st = cls;
  pthread_mutex_lock(&st->r->mu);
  if (!st->r->done)
    st->r->cancelled = 1;
  pthread_mutex_unlock(&st->r->mu);
  tl__req_release(st->r);
  tl__server_model_put(st->s, st->me);
  tl__sb_deinit(&st->out);
  tl__free(st);
}

struct MHD_Response *tl__sse_response(tl_server *s, tl__model_entry *me, tl__req *r)
{
  stream *st = tl__calloc(1, sizeof *st);
  if (!st)
    return NULL;
  st->s = s;
  st->me = me;
  st->r = r;
  st->first = true;
  tl__sb_init(&st->out);
  struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, reader,
                                                                st, stream_free);
  if (!resp) {
    tl__free(st);
    return NULL;
  }
  MHD_add_response_header(resp, "Content-Type", "text/event-stream");
  MHD_add_response_header(resp, "Cache-Control", "no-cache");
  return resp;
}
