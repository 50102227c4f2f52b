/* The OpenAI API's shapes (https://platform.openai.com/docs/api-reference,
 * chat/create and completions/create): request bodies checked field by field
 * into a generation request (a wrong type is a 400 naming the field), and the
 * response objects, stream chunks and error objects built from a request's
 * results. No I/O here. */
#include <math.h>
#include <string.h>
#include <time.h>

#include "base/alloc-int.h"
#include "server/internal.h"

static bool fail(tl__api_error *e, int status, const char *param, const char *code,
                 const char *fmt, const char *a)
{
  e->status = status;
  e->type = status == 404 ? "not_found_error" : "invalid_request_error";
  snprintf(e->param, sizeof e->param, "%s", param ? param : "");
  e->code = code;
  snprintf(e->message, sizeof e->message, fmt, a ? a : "");
  return false;
}

const char *tl__openai_model_of(const json_t *body)
{
  const json_t *m = json_object_get(body, "model");
  return json_is_string(m) ? json_string_value(m) : "";
}

/* A number field in [lo, hi]; absent or null leaves *out. */
static bool num(const json_t *b, const char *k, double lo, double hi, float *out, tl__api_error *e)
{
  const json_t *v = json_object_get(b, k);
  if (!v || json_is_null(v))
    return true;
  if (!json_is_number(v))
    return fail(e, 400, k, "invalid_type", "'%s' must be a number", k);
  double d = json_number_value(v);
  if (!(d >= lo && d <= hi)) {
    char msg[128];
    snprintf(msg, sizeof msg, "'%s' must be between %g and %g", k, lo, hi);
    return fail(e, 400, k, "invalid_value", "%s", msg);
  }
  *out = (float)d;
  return true;
}

static bool integer(const json_t *b, const char *k, long long lo, long long hi, long long *out,
                    bool *set, tl__api_error *e)
{
  const json_t *v = json_object_get(b, k);
  if (!v || json_is_null(v))
    return true;
  if (!json_is_integer(v))
    return fail(e, 400, k, "invalid_type", "'%s' must be an integer", k);
  long long x = json_integer_value(v);
  if (x < lo || x > hi) {
    char msg[128];
    snprintf(msg, sizeof msg, "'%s' must be between %lld and %lld", k, lo, hi);
    return fail(e, 400, k, "invalid_value", "%s", msg);
  }
  *out = x;
  if (set)
    *set = true;
  return true;
}

static bool boolean(const json_t *b, const char *k, bool *out, tl__api_error *e)
{
  const json_t *v = json_object_get(b, k);
  if (!v || json_is_null(v))
    return true;
  if (!json_is_boolean(v))
    return fail(e, 400, k, "invalid_type", "'%s' must be a boolean", k);
  *out = json_is_true(v);
  return true;
}

/* The text of a message's content: a string, or an array of text parts. */
static bool content_text(const json_t *c, tl__sb *sb, tl__api_error *e)
{
  if (json_is_string(c)) {
    tl__sb_append(sb, json_string_value(c), json_string_length(c));
    return true;
  }
  if (json_is_null(c))
    return true;
  if (!json_is_array(c))
    return fail(e, 400, "messages", "invalid_type",
                "a message's 'content' must be a string or an array of text parts%s", "");
  size_t i;
  const json_t *part;
  json_array_foreach(c, i, part) {
    const json_t *t = json_object_get(part, "type"), *x = json_object_get(part, "text");
    if (!json_is_string(t) || strcmp(json_string_value(t), "text") || !json_is_string(x))
      return fail(e, 400, "messages", "invalid_type",
                  "only text content parts ({\"type\": \"text\", \"text\": ...}) are supported%s",
                  "");
    tl__sb_append(sb, json_string_value(x), json_string_length(x));
  }
  return true;
}

static bool tokenize(const tl_tokenizer *tk, const char *text, size_t len, tl__gen *g,
                     const char *param, tl__api_error *e)
{
  uint32_t flags = TL_TOK_PARSE_SPECIAL | TL_TOK_ADD_SPECIAL;
  size_t need = 0;
  tl_error err;
  tl_status st = tl_tokenizer_encode(tk, text, len, flags, NULL, 0, &need, &err);
  if (st && st != TL_ELIMIT)
    return fail(e, 400, param, NULL, "the prompt cannot be tokenized: %s", err.message);
  if (need == 0)
    return fail(e, 400, param, NULL, "the prompt is empty%s", "");
  g->prompt = tl__calloc(need, sizeof *g->prompt);
  size_t n = 0;
  if (!g->prompt || tl_tokenizer_encode(tk, text, len, flags, g->prompt, need, &n, &err))
    return fail(e, 500, param, NULL, "tokenizing the prompt failed%s", "");
  g->n_prompt = (uint32_t)n;
  return true;
}

static bool chat_prompt(tl__model_srv *m, const json_t *b, tl__gen *g, tl__api_error *e)
{
  const json_t *msgs = json_object_get(b, "messages");
  if (!msgs)
    return fail(e, 400, "messages", "missing_required_parameter",
                "'messages' is required%s", "");
  if (!json_is_array(msgs) || json_array_size(msgs) == 0)
    return fail(e, 400, "messages", "invalid_type", "'messages' must be a non-empty array%s", "");
  tl_chat_format f = tl__model_srv_chat(m);
  if (f == TL_CHAT_UNKNOWN)
    return fail(e, 400, "messages", "chat_template_unknown",
                "model '%s' has no chat template this server recognises; start the server with "
                "--chat-template NAME or use /v1/completions", tl__model_srv_name(m));
  size_t n = json_array_size(msgs);
  if (n > 4096)
    return fail(e, 400, "messages", NULL, "more than 4096 messages%s", "");
  tl_chat_message *cm = tl__calloc(n, sizeof *cm);
  tl__sb *texts = tl__calloc(n, sizeof *texts);
  bool ok = cm && texts;
  if (!ok)
    fail(e, 500, NULL, NULL, "out of memory%s", "");
  for (size_t i = 0; ok && i < n; i++) {
    const json_t *msg = json_array_get(msgs, i), *role = json_object_get(msg, "role");
    tl__sb_init(&texts[i]);
    if (!json_is_object(msg) || !json_is_string(role)) {
      ok = fail(e, 400, "messages", "invalid_type",
                "each message must be an object with a string 'role'%s", "");
      break;
    }
    const char *r = json_string_value(role);
    if (!strcmp(r, "developer"))
      r = "system";
    if (strcmp(r, "system") && strcmp(r, "user") && strcmp(r, "assistant")) {
      ok = fail(e, 400, "messages", "invalid_value",
                "message role '%s' is not supported (system, developer, user, assistant)", r);
      break;
    }
    ok = content_text(json_object_get(msg, "content"), &texts[i], e);
    tl__sb_putc(&texts[i], '\0');
    texts[i].len--;
    cm[i] = (tl_chat_message){r, texts[i].buf ? texts[i].buf : ""};
  }
  if (ok) {
    size_t need = tl_chat_render(f, cm, n, true, NULL, 0);
    char *text = need ? tl__malloc(need + 1) : NULL;
    if (!text)
      ok = fail(e, 400, "messages", NULL, "the messages cannot be rendered%s", "");
    else {
      tl_chat_render(f, cm, n, true, text, need + 1);
      ok = tokenize(tl__model_srv_tokenizer(m), text, need, g, "messages", e);
    }
    tl__free(text);
  }
  for (size_t i = 0; texts && i < n; i++)
    tl__sb_deinit(&texts[i]);
  tl__free(texts);
  tl__free(cm);
  return ok;
}

static bool text_prompt(tl__model_srv *m, const json_t *b, tl__gen *g, tl__api_error *e)
{
  const json_t *p = json_object_get(b, "prompt");
  if (!p)
    return fail(e, 400, "prompt", "missing_required_parameter", "'prompt' is required%s", "");
  if (json_is_array(p) && json_array_size(p) == 1 && json_is_string(json_array_get(p, 0)))
    p = json_array_get(p, 0);
  if (json_is_string(p))
    return tokenize(tl__model_srv_tokenizer(m), json_string_value(p), json_string_length(p), g,
                    "prompt", e);
  if (json_is_array(p) && json_array_size(p) > 0) { /* token ids */
    size_t n = json_array_size(p), i;
    const json_t *v;
    g->prompt = tl__calloc(n, sizeof *g->prompt);
    if (!g->prompt)
      return fail(e, 500, NULL, NULL, "out of memory%s", "");
    json_array_foreach(p, i, v) {
      if (!json_is_integer(v) || json_integer_value(v) < 0 ||
          json_integer_value(v) >= tl__model_srv_vocab(m))
        return fail(e, 400, "prompt", "invalid_value",
                    "'prompt' must be a string, an array of one string, or an array of token "
                    "ids in the vocabulary%s", "");
      g->prompt[i] = (int32_t)json_integer_value(v);
    }
    g->n_prompt = (uint32_t)n;
    return true;
  }
  return fail(e, 400, "prompt", "invalid_type",
              "'prompt' must be a string, an array of one string, or an array of token ids%s", "");
}

static bool stops(const json_t *b, tl__gen *g, tl__api_error *e)
{
  const json_t *s = json_object_get(b, "stop");
  if (!s || json_is_null(s))
    return true;
  if (json_is_string(s)) {
    if (json_string_length(s))
      g->stop[g->n_stop++] = tl__strdup(json_string_value(s));
    return true;
  }
  if (!json_is_array(s) || json_array_size(s) > 4)
    return fail(e, 400, "stop", "invalid_type",
                "'stop' must be a string or an array of up to 4 strings%s", "");
  size_t i;
  const json_t *v;
  json_array_foreach(s, i, v) {
    if (!json_is_string(v))
      return fail(e, 400, "stop", "invalid_type", "'stop' must hold strings%s", "");
    if (json_string_length(v) > 256)
      return fail(e, 400, "stop", "invalid_value", "a stop string is longer than 256 bytes%s", "");
    if (json_string_length(v))
      g->stop[g->n_stop++] = tl__strdup(json_string_value(v));
  }
  return true;
}

bool tl__openai_parse(tl__model_srv *m, const json_t *b, bool chat, tl__gen *g,
                      tl__api_error *e)
{
  g->chat = chat;
  snprintf(g->model, sizeof g->model, "%s", tl__model_srv_name(m));
  /* types first, so a wrong type is named even when the prompt is bad too */
  long long n = 1, max_tokens = 0, seed = 0, top_k = g->sp.top_k, top_lp = 0, lp_n = 0;
  bool max_set = false, seed_set = false, lp_set = false;
  float rp = g->sp.repeat_penalty;
  if (!integer(b, "n", 1, 1, &n, NULL, e) ||
      !integer(b, "max_tokens", 1, 1 << 24, &max_tokens, &max_set, e) ||
      !integer(b, "max_completion_tokens", 1, 1 << 24, &max_tokens, &max_set, e) ||
      !integer(b, "seed", INT64_MIN, INT64_MAX, &seed, &seed_set, e) ||
      !integer(b, "top_k", 0, 1 << 20, &top_k, NULL, e) ||
      !num(b, "temperature", 0, 2, &g->sp.temp, e) || !num(b, "top_p", 0, 1, &g->sp.top_p, e) ||
      !num(b, "min_p", 0, 1, &g->sp.min_p, e) ||
      !num(b, "presence_penalty", -2, 2, &g->sp.presence_penalty, e) ||
      !num(b, "frequency_penalty", -2, 2, &g->sp.frequency_penalty, e) ||
      !num(b, "repetition_penalty", 0.01, 10, &rp, e) ||
      !num(b, "repeat_penalty", 0.01, 10, &rp, e) || !boolean(b, "stream", &g->stream, e) ||
      !stops(b, g, e))
    return false;
  g->sp.top_k = (int32_t)top_k;
  g->sp.repeat_penalty = rp;
  if (g->sp.temp <= 0)
    g->sp.temp = 0;
  if (seed_set)
    g->sp.seed = (uint64_t)seed;
  const json_t *so = json_object_get(b, "stream_options");
  if (so && !json_is_null(so)) {
    if (!json_is_object(so) || !boolean(so, "include_usage", &g->include_usage, e))
      return fail(e, 400, "stream_options", "invalid_type",
                  "'stream_options' must be an object with a boolean 'include_usage'%s", "");
  }
  const json_t *lp = json_object_get(b, "logprobs");
  if (chat) {
    if (!boolean(b, "logprobs", &g->logprobs, e) ||
        !integer(b, "top_logprobs", 0, 20, &top_lp, NULL, e))
      return false;
    g->top_logprobs = g->logprobs ? (uint32_t)top_lp : 0;
  } else if (lp && !json_is_null(lp)) {
    if (!integer(b, "logprobs", 0, 5, &lp_n, &lp_set, e))
      return false;
    g->logprobs = true;
    g->top_logprobs = (uint32_t)lp_n;
  }
  const json_t *rf = json_object_get(b, "response_format");
  if (rf && !json_is_null(rf)) {
    const json_t *t = json_object_get(rf, "type");
    if (!json_is_object(rf) || !json_is_string(t))
      return fail(e, 400, "response_format", "invalid_type",
                  "'response_format' must be an object with a string 'type'%s", "");
    if (!strcmp(json_string_value(t), "json_object"))
      g->json_mode = true;
    else if (strcmp(json_string_value(t), "text"))
      return fail(e, 400, "response_format", "invalid_value",
                  "response_format type '%s' is not supported (text, json_object)",
                  json_string_value(t));
  }
  const json_t *user = json_object_get(b, "user");
  if (user && !json_is_null(user) && !json_is_string(user))
    return fail(e, 400, "user", "invalid_type", "'user' must be a string%s", "");
  if (!(chat ? chat_prompt(m, b, g, e) : text_prompt(m, b, g, e)))
    return false;
  uint32_t ctx = tl__model_srv_ctx(m);
  if (g->n_prompt >= ctx) {
    char msg[160];
    snprintf(msg, sizeof msg, "the prompt has %u tokens; this model's context is %u tokens",
             g->n_prompt, ctx);
    return fail(e, 400, chat ? "messages" : "prompt", "context_length_exceeded", "%s", msg);
  }
  uint32_t left = ctx - g->n_prompt;
  g->max_tokens = max_set && (uint64_t)max_tokens < left ? (uint32_t)max_tokens : left;
  uint32_t bs, blocks = tl__model_srv_blocks(m, &bs);
  uint64_t need = ((uint64_t)g->n_prompt + g->max_tokens + bs - 1) / bs + 1;
  if (need > blocks) {
    if ((uint64_t)(g->n_prompt + bs - 1) / bs + 2 > blocks) {
      char msg[160];
      snprintf(msg, sizeof msg, "the prompt has %u tokens; the KV cache holds %u", g->n_prompt,
               (blocks - 2) * bs);
      return fail(e, 400, chat ? "messages" : "prompt", "context_length_exceeded", "%s", msg);
    }
    g->max_tokens = (blocks - 1) * bs - g->n_prompt; /* what the cache can hold */
  }
  return true;
}

/* ---- responses ---- */

char *tl__openai_error_json(const tl__api_error *e)
{
  json_t *o = json_pack("{s:{s:s,s:s,s:o,s:o}}", "error", "message", e->message, "type",
                        e->type ? e->type : "invalid_request_error", "param",
                        e->param[0] ? json_string(e->param) : json_null(), "code",
                        e->code ? json_string(e->code) : json_null());
  char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  char *r = s ? tl__strdup(s) : NULL;
  free(s);
  return r;
}

/* The text of a token as a JSON string, invalid UTF-8 bytes as U+FFFD. */
static json_t *token_string(const tl_tokenizer *tk, int32_t id, json_t **bytes)
{
  char buf[256];
  size_t n = 0;
  if (tl_tokenizer_piece(tk, id, 0, buf, sizeof buf, &n, NULL))
    n = 0;
  if (bytes) {
    *bytes = json_array();
    for (size_t i = 0; i < n; i++)
      json_array_append_new(*bytes, json_integer((unsigned char)buf[i]));
  }
  json_t *s = json_stringn(buf, n);
  if (s)
    return s;
  tl__sb sb;
  tl__sb_init(&sb);
  for (size_t i = 0; i < n; i++) {
    if ((unsigned char)buf[i] < 0x80)
      tl__sb_putc(&sb, buf[i]);
    else
      tl__sb_puts(&sb, "\xEF\xBF\xBD");
  }
  s = json_stringn(sb.buf ? sb.buf : "", sb.len);
  tl__sb_deinit(&sb);
  return s;
}

/* Logprob records [a, b) in the chat shape ({"content": [...]}) or the
 * completions shape. */
static json_t *logprobs_json(const tl__req *r, const tl_tokenizer *tk, size_t a, size_t b,
                             size_t text_off)
{
  if (!r->g.logprobs)
    return json_null();
  if (r->g.chat) {
    json_t *content = json_array();
    for (size_t i = a; i < b; i++) {
      const json_t *rec = json_array_get(r->lp, i);
      json_t *bytes, *top = json_array();
      json_t *tok = token_string(tk, (int32_t)json_integer_value(json_object_get(rec, "id")),
                                 &bytes);
      size_t k;
      const json_t *pair;
      json_array_foreach(json_object_get(rec, "top"), k, pair) {
        json_t *tb, *tt = token_string(tk, (int32_t)json_integer_value(json_array_get(pair, 0)),
                                       &tb);
        json_array_append_new(top, json_pack("{s:o,s:f,s:o}", "token", tt, "logprob",
                                             json_real_value(json_array_get(pair, 1)), "bytes",
                                             tb));
      }
      json_array_append_new(content,
                            json_pack("{s:o,s:f,s:o,s:o}", "token", tok, "logprob",
                                      json_real_value(json_object_get(rec, "logprob")), "bytes",
                                      bytes, "top_logprobs", top));
    }
    return json_pack("{s:o}", "content", content);
  }
  json_t *toks = json_array(), *lps = json_array(), *tops = json_array(), *offs = json_array();
  for (size_t i = a; i < b; i++) {
    const json_t *rec = json_array_get(r->lp, i);
    json_t *tok = token_string(tk, (int32_t)json_integer_value(json_object_get(rec, "id")), NULL);
    json_array_append_new(offs, json_integer((json_int_t)text_off));
    text_off += json_string_length(tok);
    json_array_append_new(toks, tok);
    json_array_append_new(lps, json_real(json_real_value(json_object_get(rec, "logprob"))));
    json_t *top = json_object();
    size_t k;
    const json_t *pair;
    json_array_foreach(json_object_get(rec, "top"), k, pair) {
      json_t *tt = token_string(tk, (int32_t)json_integer_value(json_array_get(pair, 0)), NULL);
      json_object_set_new(top, json_string_value(tt),
                          json_real(json_real_value(json_array_get(pair, 1))));
      json_decref(tt);
    }
    json_array_append_new(tops, top);
  }
  return json_pack("{s:o,s:o,s:o,s:o}", "tokens", toks, "token_logprobs", lps, "top_logprobs",
                   tops, "text_offset", offs);
}

static json_t *usage(const tl__req *r)
{
  return json_pack("{s:i,s:i,s:i,s:{s:i}}", "prompt_tokens", (json_int_t)r->g.n_prompt,
                   "completion_tokens", (json_int_t)r->n_completion, "total_tokens",
                   (json_int_t)(r->g.n_prompt + r->n_completion), "prompt_tokens_details",
                   "cached_tokens", (json_int_t)r->n_cached);
}

static char *dump(json_t *o)
{
  char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  char *r = s ? tl__strdup(s) : NULL;
  free(s);
  return r;
}

char *tl__openai_response(const tl__req *r, const char *model, const tl_tokenizer *tk)
{
  json_t *choice;
  const char *text = r->text.buf ? r->text.buf : "";
  json_t *lp = logprobs_json(r, tk, 0, json_array_size(r->lp), 0);
  if (r->g.chat)
    choice = json_pack("{s:i,s:{s:s,s:s%},s:o,s:s}", "index", 0, "message", "role", "assistant",
                       "content", text, r->text.len, "logprobs", lp, "finish_reason", r->finish);
  else
    choice = json_pack("{s:i,s:s%,s:o,s:s}", "index", 0, "text", text, r->text.len, "logprobs",
                       lp, "finish_reason", r->finish);
  json_t *o = json_pack("{s:s,s:s,s:I,s:s,s:[o],s:o}", "id", r->id, "object",
                        r->g.chat ? "chat.completion" : "text_completion", "created",
                        (json_int_t)r->created, "model", model, "choices", choice, "usage",
                        usage(r));
  return dump(o);
}

static void sse(tl__sb *sb, json_t *o)
{
  char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  if (!s)
    return;
  tl__sb_puts(sb, "data: ");
  tl__sb_puts(sb, s);
  tl__sb_puts(sb, "\n\n");
  free(s);
}

void tl__openai_chunk(tl__sb *sb, const tl__req *r, const char *model, const tl_tokenizer *tk,
                      const char *text, size_t len, size_t lp0, size_t lp1, const char *finish,
                      bool first)
{
  json_t *choice;
  json_t *lp = lp1 > lp0 ? logprobs_json(r, tk, lp0, lp1, 0) : json_null();
  json_t *fin = finish ? json_string(finish) : json_null();
  if (r->g.chat) {
    json_t *delta = json_object();
    if (first)
      json_object_set_new(delta, "role", json_string("assistant"));
    if (len || first)
      json_object_set_new(delta, "content", json_stringn(text ? text : "", len));
    choice = json_pack("{s:i,s:o,s:o,s:o}", "index", 0, "delta", delta, "logprobs", lp,
                       "finish_reason", fin);
  } else {
    choice = json_pack("{s:i,s:s%,s:o,s:o}", "index", 0, "text", text ? text : "", len,
                       "logprobs", lp, "finish_reason", fin);
  }
  json_t *o = json_pack("{s:s,s:s,s:I,s:s,s:[o]}", "id", r->id, "object",
                        r->g.chat ? "chat.completion.chunk" : "text_completion", "created",
                        (json_int_t)r->created, "model", model, "choices", choice);
  if (o && r->g.include_usage)
    json_object_set_new(o, "usage", json_null());
  sse(sb, o);
}

void tl__openai_usage_chunk(tl__sb *sb, const tl__req *r, const char *model)
{
  sse(sb, json_pack("{s:s,s:s,s:I,s:s,s:[],s:o}", "id", r->id, "object",
                    r->g.chat ? "chat.completion.chunk" : "text_completion", "created",
                    (json_int_t)r->created, "model", model, "choices", "usage", usage(r)));
}
