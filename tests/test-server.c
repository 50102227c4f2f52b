/* The server end to end, over real sockets with libcurl, on the shipped tiny
 * model (stories260K): every endpoint and every error status, greedy output
 * equal to `tailor run`, streaming equal to whole responses, stop strings,
 * logprobs, JSON mode, client disconnects, a full queue, load/unload,
 * draining, SIGTERM on `tailor serve`, and a bounded load test
 * (TAILOR_SERVER_LOAD_REQUESTS requests over 64 concurrent clients; default
 * 256, docs/server.md gives the full-size run). */
#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "server/internal.h"
#include "tailor/server.h"

static const char *model_path(void) { return th_data_path("models/stories260K.gguf"); }

static tl_server *start(uint32_t slots, uint32_t n_ctx, uint32_t queue, const char *key)
{
  tl_server_params p;
  tl_server_params_init(&p);
  p.port = 0;
  p.api_key = key;
  p.queue_max = queue;
  p.chat_template = "chatml";
  p.max_batched_tokens = 32;
  p.engine.n_threads = 1;
  p.engine.n_ctx = n_ctx;
  p.engine.n_seq_max = slots;
  p.engine.kv_block_size = 16;
  tl_server *s = NULL;
  tl_error err;
  tl_error_clear(&err);
  if (tl_server_create(&p, &s, &err) || tl_server_start(s, &err) ||
      tl_server_model_load(s, "stories260K", model_path(), &err))
    fail_msg("server: %s", err.message);
  tl_server_set_ready(s);
  return s;
}

/* ---- HTTP through libcurl ---- */

typedef struct resp {
  long status;
  char *body;
  size_t len;
  char headers[2048];
  size_t hlen;
  size_t abort_after; /* stop reading after this many bytes (0: never) */
} resp;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
  resp *r = ud;
  size_t k = sz * n;
  char *nb = realloc(r->body, r->len + k + 1);
  if (!nb)
    return 0;
  r->body = nb;
  memcpy(r->body + r->len, p, k);
  r->len += k;
  r->body[r->len] = '\0';
  if (r->abort_after && r->len >= r->abort_after)
    return 0; /* the client goes away */
  return k;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
  resp *r = ud;
  size_t k = sz * n;
  if (r->hlen + k < sizeof r->headers) {
    memcpy(r->headers + r->hlen, p, k);
    r->hlen += k;
    r->headers[r->hlen] = '\0';
  }
  return k;
}

static void http(tl_server *s, const char *method, const char *path, const char *body,
                 const char *auth, resp *r)
{
  memset(r, 0, sizeof *r);
  r->body = calloc(1, 1);
  char url[256];
  snprintf(url, sizeof url, "http://127.0.0.1:%u%s", tl_server_port(s), path);
  CURL *c = curl_easy_init();
  struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
  if (auth)
    h = curl_slist_append(h, auth);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  if (body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
  }
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 300L);
  size_t abort_after = r->abort_after;
  (void)abort_after;
  curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
}

static void http_abort(tl_server *s, const char *path, const char *body, size_t after, resp *r)
{
  memset(r, 0, sizeof *r);
  r->body = calloc(1, 1);
  r->abort_after = after;
  char url[256];
  snprintf(url, sizeof url, "http://127.0.0.1:%u%s", tl_server_port(s), path);
  CURL *c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
  curl_easy_perform(c);
  curl_easy_cleanup(c);
}

static json_t *parse(const resp *r)
{
  json_error_t e;
  json_t *j = json_loads(r->body, 0, &e);
  if (!j)
    fail_msg("not JSON (%s): %.300s", e.text, r->body);
  return j;
}

/* The error object of a response: status, type and code as expected, and
 * the param when given. */
static void expect_error(const resp *r, long status, const char *code, const char *param)
{
  if (r->status != status)
    fail_msg("status %ld, expected %ld: %.300s", r->status, status, r->body);
  json_t *j = parse(r), *e = json_object_get(j, "error");
  assert_non_null(e);
  assert_true(json_is_string(json_object_get(e, "message")));
  assert_true(json_is_string(json_object_get(e, "type")));
  assert_non_null(json_object_get(e, "param"));
  assert_non_null(json_object_get(e, "code"));
  if (code)
    assert_string_equal(json_string_value(json_object_get(e, "code")), code);
  if (param)
    assert_string_equal(json_string_value(json_object_get(e, "param")), param);
  json_decref(j);
}

static char *completion_text(tl_server *s, const char *body, const char **finish_out)
{
  resp r;
  http(s, "POST", "/v1/completions", body, NULL, &r);
  if (r.status != 200)
    fail_msg("status %ld: %s", r.status, r.body);
  json_t *j = parse(&r);
  json_t *ch = json_array_get(json_object_get(j, "choices"), 0);
  char *t = strdup(json_string_value(json_object_get(ch, "text")));
  static char finish[16];
  snprintf(finish, sizeof finish, "%s", json_string_value(json_object_get(ch, "finish_reason")));
  if (finish_out)
    *finish_out = finish;
  json_decref(j);
  free(r.body);
  return t;
}

/* Concatenates the text of an SSE stream; checks its framing. */
static char *stream_text(const char *body, bool chat, json_t **usage)
{
  size_t cap = strlen(body) + 1, n = 0;
  char *out = calloc(1, cap);
  const char *p = body;
  bool done = false;
  while ((p = strstr(p, "data: "))) {
    p += 6;
    const char *end = strstr(p, "\n\n");
    assert_non_null(end);
    if (!strncmp(p, "[DONE]", 6)) {
      done = true;
      assert_string_equal(end + 2, "");
      break;
    }
    json_error_t e;
    json_t *j = json_loadb(p, (size_t)(end - p), 0, &e);
    assert_non_null(j);
    json_t *ch = json_array_get(json_object_get(j, "choices"), 0);
    const json_t *t = ch ? (chat ? json_object_get(json_object_get(ch, "delta"), "content")
                             : json_object_get(ch, "text"))
                         : NULL;
    if (json_is_string(t)) {
      memcpy(out + n, json_string_value(t), json_string_length(t));
      n += json_string_length(t);
    }
    if (usage && json_is_object(json_object_get(j, "usage")))
      *usage = json_incref(json_object_get(j, "usage"));
    json_decref(j);
    p = end + 2;
  }
  assert_true(done);
  return out;
}

/* ---- tests ---- */

static void endpoints_and_errors(void **state)
{
  (void)state;
  tl_server *s = start(2, 256, 8, NULL);
  resp r;
  http(s, "GET", "/health", NULL, NULL, &r);
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.body, "\"ok\""));
  free(r.body);
  http(s, "GET", "/v1/models", NULL, NULL, &r);
  assert_int_equal(r.status, 200);
  json_t *j = parse(&r);
  assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(j, "data"), 0), "id")),
                      "stories260K");
  json_decref(j);
  free(r.body);
  http(s, "GET", "/v1/models/stories260K", NULL, NULL, &r);
  assert_int_equal(r.status, 200);
  free(r.body);
  http(s, "GET", "/v1/models/nope", NULL, NULL, &r);
  expect_error(&r, 404, "model_not_found", "model");
  free(r.body);
  http(s, "GET", "/nowhere", NULL, NULL, &r);
  expect_error(&r, 404, "not_found", NULL);
  free(r.body);
  http(s, "GET", "/v1/chat/completions", NULL, NULL, &r);
  expect_error(&r, 405, "method_not_allowed", NULL);
  assert_non_null(strstr(r.headers, "Allow: POST"));
  free(r.body);
  http(s, "POST", "/health", "{}", NULL, &r);
  expect_error(&r, 405, NULL, NULL);
  free(r.body);

  /* bad bodies: each a row (path, body, status, code, param) */
  static const struct {
    const char *path, *body;
    long status;
    const char *code, *param;
  } bad[] = {
      {"/v1/completions", "{\"prompt\": \"x\",", 400, "invalid_json", NULL},
      {"/v1/completions", "[1, 2]", 400, "invalid_json", NULL},
      {"/v1/completions", "{\"prompt\": \"x\", \"max_tokens\": \"ten\"}", 400, "invalid_type", "max_tokens"},
      {"/v1/completions", "{\"prompt\": \"x\", \"temperature\": \"hot\"}", 400, "invalid_type", "temperature"},
      {"/v1/completions", "{\"prompt\": \"x\", \"temperature\": 3}", 400, "invalid_value", "temperature"},
      {"/v1/completions", "{\"prompt\": 7}", 400, "invalid_type", "prompt"},
      {"/v1/completions", "{\"max_tokens\": 3}", 400, "missing_required_parameter", "prompt"},
      {"/v1/completions", "{\"prompt\": \"x\", \"n\": 2}", 400, "invalid_value", "n"},
      {"/v1/completions", "{\"prompt\": \"x\", \"stop\": 5}", 400, "invalid_type", "stop"},
      {"/v1/completions", "{\"prompt\": \"x\", \"stream\": \"yes\"}", 400, "invalid_type", "stream"},
      {"/v1/completions", "{\"prompt\": \"x\", \"model\": \"gpt-9\"}", 404, "model_not_found", "model"},
      {"/v1/completions", "{\"prompt\": \"x\", \"model\": 3}", 400, "invalid_type", "model"},
      {"/v1/completions", "{\"prompt\": \"x\", \"response_format\": {\"type\": \"xml\"}}", 400, "invalid_value", "response_format"},
      {"/v1/chat/completions", "{\"messages\": \"hi\"}", 400, "invalid_type", "messages"},
      {"/v1/chat/completions", "{\"messages\": [{\"role\": \"wizard\", \"content\": \"x\"}]}", 400, "invalid_value", "messages"},
      {"/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\"}]}]}", 400, "invalid_type", "messages"},
      {"/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"logprobs\": 1}", 400, "invalid_type", "logprobs"},
      {"/v1/models/load", "{\"model\": 5}", 400, "invalid_type", "model"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    print_message("bad body %zu: %s\n", i, bad[i].body);
    http(s, "POST", bad[i].path, bad[i].body, NULL, &r);
    expect_error(&r, bad[i].status, bad[i].code, bad[i].param);
    free(r.body);
  }
  /* a prompt longer than the context (256 tokens) */
  size_t big = 4000;
  char *body = malloc(big + 64);
  int k = snprintf(body, big + 64, "{\"prompt\": \"");
  for (size_t i = 0; i < 600; i++)
    k += snprintf(body + k, big + 64 - (size_t)k, "%s", i % 2 ? " cat" : " dog");
  snprintf(body + k, big + 64 - (size_t)k, "\"}");
  http(s, "POST", "/v1/completions", body, NULL, &r);
  expect_error(&r, 400, "context_length_exceeded", "prompt");
  free(r.body);
  free(body);
  /* a body over 1 MiB, and one nested too deep */
  size_t huge = (1u << 20) + 100;
  body = malloc(huge + 1);
  memset(body, ' ', huge);
  body[0] = '{';
  body[huge - 1] = '}';
  body[huge] = '\0';
  http(s, "POST", "/v1/completions", body, NULL, &r);
  expect_error(&r, 413, "request_too_large", NULL);
  free(r.body);
  for (size_t i = 0; i < 200; i++)
    body[i] = '[';
  for (size_t i = 0; i < 200; i++)
    body[200 + i] = ']';
  body[400] = '\0';
  http(s, "POST", "/v1/completions", body, NULL, &r);
  expect_error(&r, 400, "invalid_json", NULL);
  free(r.body);
  free(body);
  /* still serving */
  const char *fin;
  char *t = completion_text(s, "{\"prompt\": \"Once\", \"max_tokens\": 4, \"temperature\": 0}", &fin);
  assert_string_equal(fin, "length");
  free(t);
  http(s, "GET", "/metrics", NULL, NULL, &r);
  assert_int_equal(r.status, 200);
  static const char *const names[] = {
      "tailor_http_requests_total ", "tailor_requests_total ", "tailor_completion_tokens_total ",
      "tailor_prefill_tokens_per_second ", "tailor_decode_tokens_per_second ",
      "tailor_queue_depth ", "tailor_kv_blocks_used ", "# TYPE tailor_kv_usage_ratio gauge"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    assert_non_null(strstr(r.body, names[i]));
  free(r.body);
  tl_server_free(s);
}

static void api_key(void **state)
{
  (void)state;
  tl_server *s = start(1, 256, 8, "sekret");
  resp r;
  http(s, "GET", "/v1/models", NULL, NULL, &r);
  expect_error(&r, 401, "invalid_api_key", NULL);
  free(r.body);
  http(s, "GET", "/v1/models", NULL, "Authorization: Bearer wrong", &r);
  expect_error(&r, 401, "invalid_api_key", NULL);
  free(r.body);
  http(s, "POST", "/v1/completions", "{\"prompt\": \"x\"}", "Authorization: Bearer sekre", &r);
  expect_error(&r, 401, NULL, NULL);
  free(r.body);
  http(s, "GET", "/v1/models", NULL, "Authorization: Bearer sekret", &r);
  assert_int_equal(r.status, 200);
  free(r.body);
  http(s, "GET", "/health", NULL, NULL, &r); /* not under /v1 */
  assert_int_equal(r.status, 200);
  free(r.body);
  tl_server_free(s);
}

/* Greedy text over the API equals `tailor run --temp 0`, whole and streamed. */
static void greedy_equals_run(void **state)
{
  (void)state;
  tl_server *s = start(4, 512, 8, NULL);
  static const char *const prompts[] = {"Once upon a time", "The little dog", "Lily and Ben"};
  for (size_t i = 0; i < sizeof prompts / sizeof prompts[0]; i++) {
    const char *args[] = {"run", model_path(), "-p", prompts[i], "-n", "40", "--temp", "0",
                          "-c", "512", "--json", NULL};
    char *out = NULL, *err = NULL;
    assert_int_equal(th_run_tailor(args, NULL, &out, &err), 0);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    assert_non_null(j);
    char body[256];
    snprintf(body, sizeof body, "{\"model\": \"stories260K\", \"prompt\": \"%s\", "
             "\"max_tokens\": 40, \"temperature\": 0}", prompts[i]);
    char *t = completion_text(s, body, NULL);
    assert_string_equal(t, json_string_value(json_object_get(j, "text")));
    snprintf(body, sizeof body, "{\"prompt\": \"%s\", \"max_tokens\": 40, \"temperature\": 0, "
             "\"stream\": true, \"stream_options\": {\"include_usage\": true}}", prompts[i]);
    resp r;
    http(s, "POST", "/v1/completions", body, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.headers, "text/event-stream"));
    json_t *usage = NULL;
    char *st = stream_text(r.body, false, &usage);
    assert_string_equal(st, t);
    assert_non_null(usage);
    assert_int_equal(json_integer_value(json_object_get(usage, "completion_tokens")), 40);
    json_decref(usage);
    free(st);
    free(r.body);
    free(t);
    json_decref(j);
    free(out);
    free(err);
  }
  /* chat, whole and streamed */
  const char *chat = "{\"messages\": [{\"role\": \"system\", \"content\": \"Tell a story.\"}, "
                     "{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"A cat\"}]}], "
                     "\"max_completion_tokens\": 16, \"temperature\": 0, \"user\": \"u1\"%s}";
  char body[512];
  snprintf(body, sizeof body, chat, "");
  resp r;
  http(s, "POST", "/v1/chat/completions", body, NULL, &r);
  assert_int_equal(r.status, 200);
  json_t *j = parse(&r);
  assert_string_equal(json_string_value(json_object_get(j, "object")), "chat.completion");
  assert_true(json_is_string(json_object_get(j, "id")));
  assert_true(json_is_integer(json_object_get(j, "created")));
  json_t *msg = json_object_get(json_array_get(json_object_get(j, "choices"), 0), "message");
  assert_string_equal(json_string_value(json_object_get(msg, "role")), "assistant");
  char *whole = strdup(json_string_value(json_object_get(msg, "content")));
  json_t *u = json_object_get(j, "usage");
  assert_int_equal(json_integer_value(json_object_get(u, "total_tokens")),
                   json_integer_value(json_object_get(u, "prompt_tokens")) +
                       json_integer_value(json_object_get(u, "completion_tokens")));
  json_decref(j);
  free(r.body);
  snprintf(body, sizeof body, chat, ", \"stream\": true");
  http(s, "POST", "/v1/chat/completions", body, NULL, &r);
  char *st = stream_text(r.body, true, NULL);
  assert_string_equal(st, whole);
  assert_non_null(strstr(r.body, "\"role\":\"assistant\""));
  assert_null(strstr(r.body, "\"usage\"")); /* not asked for */
  free(st);
  free(whole);
  free(r.body);
  tl_server_free(s);
}

/* Stop strings end the text before them, also across token boundaries and
 * in streams. */
static void stop_strings(void **state)
{
  (void)state;
  tl_server *s = start(2, 512, 8, NULL);
  const char *fin;
  char *full = completion_text(s, "{\"prompt\": \"Once upon a time\", \"max_tokens\": 40, "
                                  "\"temperature\": 0}", &fin);
  assert_true(strlen(full) > 30);
  for (size_t off = 5; off < 25; off += 4) {
    char stop[8];
    snprintf(stop, sizeof stop, "%.5s", full + off);
    char *esc = NULL;
    json_t *js = json_string(stop);
    esc = json_dumps(js, JSON_ENCODE_ANY);
    json_decref(js);
    char body[512];
    for (int stream = 0; stream < 2; stream++) {
      snprintf(body, sizeof body, "{\"prompt\": \"Once upon a time\", \"max_tokens\": 40, "
               "\"temperature\": 0, \"stop\": [\"zzzz\", %s], \"stream\": %s}", esc,
               stream ? "true" : "false");
      char *t;
      if (stream) {
        resp r;
        http(s, "POST", "/v1/completions", body, NULL, &r);
        t = stream_text(r.body, false, NULL);
        assert_non_null(strstr(r.body, "\"finish_reason\":\"stop\""));
        free(r.body);
      } else {
        t = completion_text(s, body, &fin);
        assert_string_equal(fin, "stop");
      }
      size_t want = (size_t)(strstr(full, stop) - full);
      assert_int_equal(strlen(t), want);
      assert_memory_equal(t, full, want);
      free(t);
    }
    free(esc);
  }
  free(full);
  tl_server_free(s);
}

static void logprobs_and_json(void **state)
{
  (void)state;
  tl_server *s = start(2, 512, 8, NULL);
  resp r;
  http(s, "POST", "/v1/chat/completions",
       "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"max_tokens\": 6, "
       "\"temperature\": 0, \"logprobs\": true, \"top_logprobs\": 3}", NULL, &r);
  assert_int_equal(r.status, 200);
  json_t *j = parse(&r);
  json_t *ch = json_array_get(json_object_get(j, "choices"), 0);
  json_t *content = json_object_get(json_object_get(ch, "logprobs"), "content");
  assert_int_equal(json_array_size(content),
                   json_integer_value(json_object_get(json_object_get(j, "usage"), "completion_tokens")));
  size_t i;
  json_t *e;
  json_array_foreach(content, i, e) {
    json_t *top = json_object_get(e, "top_logprobs");
    assert_int_equal(json_array_size(top), 3);
    double lp = json_real_value(json_object_get(e, "logprob"));
    assert_true(lp <= 0);
    /* greedy: the chosen token is the most likely */
    assert_true(fabs(lp - json_real_value(json_object_get(json_array_get(top, 0), "logprob"))) < 1e-6);
    assert_true(json_is_array(json_object_get(e, "bytes")));
  }
  json_decref(j);
  free(r.body);
  http(s, "POST", "/v1/completions", "{\"prompt\": \"Once\", \"max_tokens\": 4, \"logprobs\": 2, "
       "\"temperature\": 0}", NULL, &r);
  j = parse(&r);
  json_t *lp = json_object_get(json_array_get(json_object_get(j, "choices"), 0), "logprobs");
  assert_int_equal(json_array_size(json_object_get(lp, "tokens")), 4);
  assert_int_equal(json_array_size(json_object_get(lp, "token_logprobs")), 4);
  assert_int_equal(json_object_size(json_array_get(json_object_get(lp, "top_logprobs"), 0)), 2);
  json_decref(j);
  free(r.body);
  /* JSON mode: the output is an object, or a valid prefix of one when cut by max_tokens */
  for (int seed = 1; seed <= 4; seed++) {
    char body[256];
    snprintf(body, sizeof body, "{\"messages\": [{\"role\": \"user\", \"content\": \"JSON\"}], "
             "\"max_tokens\": 48, \"seed\": %d, \"temperature\": 1, "
             "\"response_format\": {\"type\": \"json_object\"}}", seed);
    http(s, "POST", "/v1/chat/completions", body, NULL, &r);
    assert_int_equal(r.status, 200);
    j = parse(&r);
    ch = json_array_get(json_object_get(j, "choices"), 0);
    const char *text = json_string_value(json_object_get(json_object_get(ch, "message"), "content"));
    const char *fin = json_string_value(json_object_get(ch, "finish_reason"));
    print_message("json mode seed %d (%s): %s\n", seed, fin, text);
    tl__jcheck jc;
    tl__jcheck_init(&jc);
    assert_true(tl__jcheck_feed(&jc, text, strlen(text)));
    if (!strcmp(fin, "stop")) {
      json_error_t je;
      json_t *o = json_loads(text, 0, &je);
      assert_true(json_is_object(o));
      json_decref(o);
    }
    json_decref(j);
    free(r.body);
  }
  tl_server_free(s);
}

/* The validator itself: data-driven prefixes. */
static void json_checker(void **state)
{
  (void)state;
  static const struct {
    const char *text;
    bool ok, done;
  } cases[] = {
      {"{}", true, true}, {"{\"a\": 1}", true, true}, {"{\"a\":[1,2.5e-3,true,null,\"x\\u00e9\"]}", true, true},
      {"{\"a\": {\"b\": []}}", true, true}, {"{\"a\"", true, false}, {"{\"a\": -", true, false},
      {"[1]", false, false}, {"{a}", false, false}, {"{\"a\": 01}", false, false},
      {"{\"a\": tru", true, false}, {"{\"a\": trux", false, false}, {"{} x", false, false},
      {"{\"a\":1,}", false, false}, {"{\"a\" 1}", false, false}, {"{\"a\": \"\x01\"}", false, false},
      {"{\"a\": 1.}", false, false}, {"{\"a\": [1 2]}", false, false}, {"{\"a\": \"\\q\"}", false, false},
      {"{     }", false, false}, {"{\"a\": 1e5}", true, true}, {"{\"a\":[}", false, false},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tl__jcheck j;
    tl__jcheck_init(&j);
    bool ok = tl__jcheck_feed(&j, cases[i].text, strlen(cases[i].text));
    if (ok != cases[i].ok || (ok && tl__jcheck_done(&j) != cases[i].done))
      fail_msg("case '%s': ok %d done %d", cases[i].text, ok, ok && tl__jcheck_done(&j));
  }
  tl__jcheck j;
  tl__jcheck_init(&j);
  char deep[80];
  memset(deep, '[', sizeof deep);
  deep[0] = '{';
  assert_true(tl__jcheck_feed(&j, "{\"a\":", 5));
  assert_false(tl__jcheck_feed(&j, deep + 1, sizeof deep - 1));
}

static void wait_idle(tl_server *s)
{
  tl_server_stats st;
  for (int i = 0; i < 1000; i++) {
    tl_server_stats_get(s, &st);
    if (st.running == 0 && st.queued == 0)
      return;
    usleep(10000);
  }
  fail_msg("requests still running: %u running, %u queued", st.running, st.queued);
}

/* A client that disconnects mid-stream stops its generation and frees its slot. */
static void disconnect_frees_slot(void **state)
{
  (void)state;
  tl_server *s = start(1, 2048, 8, NULL);
  resp r;
  http_abort(s, "/v1/completions", "{\"prompt\": \"Once\", \"max_tokens\": 1500, \"stream\": true, "
             "\"temperature\": 0}", 600, &r);
  free(r.body);
  wait_idle(s);
  tl_server_stats st;
  tl_server_stats_get(s, &st);
  assert_true(st.completion_tokens < 1500);
  assert_int_equal(st.kv_blocks_free + st.kv_blocks_cached, st.kv_blocks_total);
  /* a client waiting for a whole response that gives up is noticed too */
  uint64_t before = st.completion_tokens;
  memset(&r, 0, sizeof r);
  r.body = calloc(1, 1);
  {
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/v1/completions", tl_server_port(s));
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, "{\"prompt\": \"Once\", \"max_tokens\": 1500}");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 300L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
    assert_int_equal(curl_easy_perform(h), CURLE_OPERATION_TIMEDOUT);
    curl_easy_cleanup(h);
  }
  free(r.body);
  wait_idle(s);
  tl_server_stats_get(s, &st);
  assert_true(st.completion_tokens - before < 1500);
  /* the one slot serves the next request */
  const char *fin;
  char *t = completion_text(s, "{\"prompt\": \"Once\", \"max_tokens\": 3, \"temperature\": 0}", &fin);
  free(t);
  tl_server_free(s);
}

typedef struct client {
  tl_server *s;
  const char *body;
  resp r;
} client;

static void *client_run(void *arg)
{
  client *c = arg;
  http(c->s, "POST", "/v1/completions", c->body, NULL, &c->r);
  return NULL;
}

static void *slow_stream(void *arg);
static void wait_running(tl_server *s);

/* One slot, a queue of one: with one request running and one waiting, the
 * next is turned away with 503 and Retry-After; then all three slots' worth
 * of work finishes. */
static void queue_full(void **state)
{
  (void)state;
  tl_server *s = start(1, 2048, 1, NULL);
  client c[2] = {
      {s, "{\"prompt\": \"Once\", \"max_tokens\": 400, \"stream\": true}", {0}},
      {s, "{\"prompt\": \"Once\", \"max_tokens\": 4}", {0}},
  };
  pthread_t t[2];
  pthread_create(&t[0], NULL, slow_stream, &c[0]);
  wait_running(s);
  pthread_create(&t[1], NULL, client_run, &c[1]);
  tl_server_stats st;
  for (int i = 0; i < 1000; i++) {
    tl_server_stats_get(s, &st);
    if (st.queued == 1)
      break;
    usleep(2000);
  }
  /* the stream may have ended meanwhile on a fast machine; then it is not full */
  if (st.queued == 1 && st.running == 1) {
    resp r;
    http(s, "POST", "/v1/completions", "{\"prompt\": \"x\", \"max_tokens\": 2}", NULL, &r);
    if (r.status != 200) { /* 200 only when the queue drained between the check and the post */
      expect_error(&r, 503, "server_busy", NULL);
      assert_non_null(strstr(r.headers, "Retry-After: 1"));
    }
    free(r.body);
  }
  for (int i = 0; i < 2; i++) {
    pthread_join(t[i], NULL);
    assert_int_equal(c[i].r.status, 200);
    free(c[i].r.body);
  }
  tl_server_free(s);
}

static void *slow_stream(void *arg)
{
  client *c = arg;
  resp *r = &c->r;
  memset(r, 0, sizeof *r);
  r->body = calloc(1, 1);
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%u/v1/completions", tl_server_port(c->s));
  CURL *h = curl_easy_init();
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
  curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
  curl_easy_cleanup(h);
  return NULL;
}

static void wait_running(tl_server *s)
{
  tl_server_stats st;
  for (int i = 0; i < 1000; i++) {
    tl_server_stats_get(s, &st);
    if (st.running > 0)
      return;
    usleep(5000);
  }
  fail_msg("the request never started");
}

/* Loading and unloading models; unloading one in use is refused (409). */
static void load_unload(void **state)
{
  (void)state;
  tl_server *s = start(1, 2048, 8, NULL);
  resp r;
  char body[1024];
  snprintf(body, sizeof body, "{\"model\": \"second\", \"path\": \"%s\"}", model_path());
  http(s, "POST", "/v1/models/load", body, NULL, &r);
  assert_int_equal(r.status, 200);
  free(r.body);
  http(s, "POST", "/v1/models/load", body, NULL, &r);
  expect_error(&r, 409, NULL, "model");
  free(r.body);
  http(s, "POST", "/v1/models/load", "{\"model\": \"third\", \"path\": \"/nonexistent.gguf\"}", NULL, &r);
  expect_error(&r, 400, NULL, "model");
  free(r.body);
  http(s, "GET", "/v1/models", NULL, NULL, &r);
  json_t *j = parse(&r);
  assert_int_equal(json_array_size(json_object_get(j, "data")), 2);
  json_decref(j);
  free(r.body);
  const char *fin;
  char *t = completion_text(s, "{\"model\": \"second\", \"prompt\": \"Once\", \"max_tokens\": 3}", &fin);
  free(t);
  /* without a model name and with two models loaded, the name is required */
  http(s, "POST", "/v1/completions", "{\"prompt\": \"x\"}", NULL, &r);
  expect_error(&r, 400, "missing_required_parameter", "model");
  free(r.body);
  /* in use: a long stream on 'second' */
  client c = {s, "{\"model\": \"second\", \"prompt\": \"Once\", \"max_tokens\": 1500, "
                 "\"stream\": true}", {0}};
  pthread_t th;
  pthread_create(&th, NULL, slow_stream, &c);
  wait_running(s);
  http(s, "POST", "/v1/models/unload", "{\"model\": \"second\"}", NULL, &r);
  expect_error(&r, 409, "model_busy", "model");
  free(r.body);
  pthread_join(th, NULL);
  free(c.r.body);
  wait_idle(s);
  for (int i = 0; i < 200; i++) { /* the stream's hold ends when its connection closes */
    http(s, "POST", "/v1/models/unload", "{\"model\": \"second\"}", NULL, &r);
    if (r.status == 200)
      break;
    free(r.body);
    usleep(10000);
  }
  assert_int_equal(r.status, 200);
  free(r.body);
  http(s, "POST", "/v1/models/unload", "{\"model\": \"second\"}", NULL, &r);
  expect_error(&r, 404, "model_not_found", "model");
  free(r.body);
  tl_server_free(s);
}

/* Draining cancels what does not finish in time and refuses new work. */
static void drain(void **state)
{
  (void)state;
  tl_server *s = start(1, 2048, 8, NULL);
  client c = {s, "{\"prompt\": \"Once\", \"max_tokens\": 1900, \"stream\": true}", {0}};
  pthread_t th;
  pthread_create(&th, NULL, slow_stream, &c);
  wait_running(s);
  tl_server_drain(s, 50);
  pthread_join(th, NULL);
  assert_int_equal(c.r.status, 200);
  assert_non_null(strstr(c.r.body, "data: [DONE]"));
  free(c.r.body);
  resp r;
  http(s, "POST", "/v1/completions", "{\"prompt\": \"x\"}", NULL, &r);
  expect_error(&r, 503, NULL, NULL);
  free(r.body);
  tl_server_free(s);
}

/* `tailor serve --port 0` prints its port, serves, and exits 0 on SIGTERM. */
static void serve_command_sigterm(void **state)
{
  (void)state;
  int out[2];
  assert_int_equal(pipe(out), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    dup2(out[1], 1);
    close(out[0]);
    execl(getenv("TAILOR_PROGRAM"), "tailor", "serve", model_path(), "--port", "0", "-c", "256",
          "-np", "2", "-t", "1", (char *)NULL);
    _exit(127);
  }
  close(out[1]);
  char line[256] = {0};
  FILE *f = fdopen(out[0], "r");
  assert_non_null(fgets(line, sizeof line, f));
  const char *colon = strrchr(line, ':');
  assert_non_null(colon);
  unsigned port = (unsigned)atoi(colon + 1);
  assert_true(port > 0);
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%u/health", port);
  long status = 0;
  for (int i = 0; i < 500 && status != 200; i++) {
    CURL *h = curl_easy_init();
    resp r = {0};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
    curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    free(r.body);
    if (status != 200)
      usleep(20000);
  }
  assert_int_equal(status, 200);
  kill(pid, SIGTERM);
  int ws = 0;
  waitpid(pid, &ws, 0);
  fclose(f);
  assert_true(WIFEXITED(ws));
  assert_int_equal(WEXITSTATUS(ws), 0);
}

/* ---- load ---- */

enum { N_CLIENTS = 64, N_PROMPTS = 8 };
static const char *const load_prompts[N_PROMPTS] = {
    "Once upon a time", "The cat", "Tom had a ball", "Lily went to the park",
    "One day", "The sun was", "Ben and his mom", "A little bird",
};

typedef struct load_ctx {
  tl_server *s;
  char *expect[N_PROMPTS];
  int next, bad, total;
  pthread_mutex_t mu;
} load_ctx;

static void *load_client(void *arg)
{
  load_ctx *L = arg;
  for (;;) {
    pthread_mutex_lock(&L->mu);
    int i = L->next < L->total ? L->next++ : -1;
    pthread_mutex_unlock(&L->mu);
    if (i < 0)
      return NULL;
    int p = i % N_PROMPTS;
    bool stream = (i / N_PROMPTS) % 2;
    char body[256];
    snprintf(body, sizeof body, "{\"prompt\": \"%s\", \"max_tokens\": 8, \"temperature\": 0, "
             "\"stream\": %s}", load_prompts[p], stream ? "true" : "false");
    resp r;
    http(L->s, "POST", "/v1/completions", body, NULL, &r);
    char *text = NULL;
    if (r.status == 200 && stream) {
      text = stream_text(r.body, false, NULL);
    } else if (r.status == 200) {
      json_t *j = json_loads(r.body, 0, NULL);
      const char *t = json_string_value(
          json_object_get(json_array_get(json_object_get(j, "choices"), 0), "text"));
      text = t ? strdup(t) : NULL;
      json_decref(j);
    }
    if (!text || strcmp(text, L->expect[p])) {
      pthread_mutex_lock(&L->mu);
      L->bad++;
      pthread_mutex_unlock(&L->mu);
      fprintf(stderr, "request %d: status %ld, text '%s', expected '%s'\n", i, r.status,
              text ? text : "(none)", L->expect[p]);
    }
    free(text);
    free(r.body);
  }
}

static long rss_kib(void)
{
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, rss = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
      rss = 0;
    fclose(f);
  }
  return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static void load_round(load_ctx *L, int total)
{
  L->next = 0;
  L->total = total;
  pthread_t t[N_CLIENTS];
  for (int i = 0; i < N_CLIENTS; i++)
    pthread_create(&t[i], NULL, load_client, L);
  for (int i = 0; i < N_CLIENTS; i++)
    pthread_join(t[i], NULL);
}

static void load_test(void **state)
{
  (void)state;
  const char *env = getenv("TAILOR_SERVER_LOAD_REQUESTS");
  int total = env ? atoi(env) : 256;
  if (total < N_CLIENTS)
    total = N_CLIENTS;
  tl_server *s = start(16, 256, 256, NULL);
  load_ctx L = {.s = s};
  pthread_mutex_init(&L.mu, NULL);
  for (int p = 0; p < N_PROMPTS; p++) {
    char body[256];
    snprintf(body, sizeof body, "{\"prompt\": \"%s\", \"max_tokens\": 8, \"temperature\": 0}",
             load_prompts[p]);
    L.expect[p] = completion_text(s, body, NULL);
  }
  time_t t0 = time(NULL);
  load_round(&L, total / 2);
  wait_idle(s);
  long rss1 = rss_kib();
  load_round(&L, total - total / 2);
  wait_idle(s);
  long rss2 = rss_kib();
  print_message("%d requests over %d clients in %ld s; RSS %ld -> %ld KiB\n", total, N_CLIENTS,
                (long)(time(NULL) - t0), rss1, rss2);
  assert_int_equal(L.bad, 0);
  tl_server_stats st;
  tl_server_stats_get(s, &st);
  assert_int_equal(st.completions, (uint64_t)total + N_PROMPTS);
  assert_int_equal(st.running, 0);
  assert_int_equal(st.queued, 0);
  /* every block is free or holds a finished prompt kept for reuse */
  assert_int_equal(st.kv_blocks_free + st.kv_blocks_cached, st.kv_blocks_total);
#if !defined(__SANITIZE_ADDRESS__) && !(defined(__has_feature) && __has_feature(address_sanitizer))
  /* the allocator may keep what it was given; growth beyond that is a leak */
  assert_true(rss2 - rss1 < 16 * 1024);
#endif
  for (int p = 0; p < N_PROMPTS; p++)
    free(L.expect[p]);
  pthread_mutex_destroy(&L.mu);
  tl_server_free(s);
}

int main(void)
{
  curl_global_init(CURL_GLOBAL_DEFAULT);
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(json_checker),
      cmocka_unit_test(endpoints_and_errors),
      cmocka_unit_test(api_key),
      cmocka_unit_test(greedy_equals_run),
      cmocka_unit_test(stop_strings),
      cmocka_unit_test(logprobs_and_json),
      cmocka_unit_test(disconnect_frees_slot),
      cmocka_unit_test(queue_full),
      cmocka_unit_test(load_unload),
      cmocka_unit_test(drain),
      cmocka_unit_test(serve_command_sigterm),
      cmocka_unit_test(load_test),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
