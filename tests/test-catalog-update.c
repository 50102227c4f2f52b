/* `tailor catalog update` offline: a local HTTP server (libmicrohttpd) plays
 * the Hugging Face Hub from the fixtures in tests/data/catalog-update/
 * (routes.json says what each path answers). Checks exact parameter counts
 * from the safetensors headers (single file and sharded), that the headers are
 * read with bounded Range requests, the overlay through `tailor catalog show`,
 * and that every failure (no such model, gated, malformed JSON, oversized
 * reply, Range ignored, server down) is named and leaves the user catalog as
 * it was. */
#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "tailor/tailor.h"

/* ---- the fixture server ---------------------------------------------------------------- */

static json_t *g_routes;
static struct MHD_Daemon *g_daemon;
static uint16_t g_port;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static char g_log[1 << 16]; /* one line per request: "PATH RANGE" */
static size_t g_log_len;
static char g_limit[32];    /* the last limit= of /api/models */

typedef struct vfile {
  char *prefix;      /* 8-byte length + header */
  uint64_t prefix_len;
  uint64_t size;     /* prefix + data */
  uint64_t base;     /* first byte this reply sends */
} vfile;

static ssize_t vfile_read(void *cls, uint64_t pos, char *buf, size_t max)
{
  vfile *v = cls;
  uint64_t at = v->base + pos;
  if (at >= v->size)
    return MHD_CONTENT_READER_END_OF_STREAM;
  size_t n = max;
  if (n > v->size - at)
    n = (size_t)(v->size - at);
  for (size_t i = 0; i < n; i++)
    buf[i] = at + i < v->prefix_len ? v->prefix[at + i] : 0;
  return (ssize_t)n;
}

static void vfile_free(void *cls)
{
  vfile *v = cls;
  free(v->prefix);
  free(v);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *body, size_t len,
                             const char *code, const char *msg)
{
  struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
  if (code)
    MHD_add_response_header(r, "X-Error-Code", code);
  if (msg)
    MHD_add_response_header(r, "X-Error-Message", msg);
  enum MHD_Result rc = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return rc;
}

/* A fixture of tests/data/catalog-update/. */
static char *fixture(const char *rel, size_t *len)
{
  char p[512];
  snprintf(p, sizeof p, "catalog-update/%s", rel);
  return th_read_file(th_data_path(p), len);
}

static vfile *vfile_open(const char *rel)
{
  size_t hlen;
  char *h = fixture(rel, &hlen);
  if (!h)
    return NULL;
  json_t *root = json_loads(h, 0, NULL);
  uint64_t data = 0;
  const char *k;
  json_t *t;
  json_object_foreach(root, k, t)
  {
    json_t *end = json_array_get(json_object_get(t, "data_offsets"), 1);
    if (json_is_integer(end) && (uint64_t)json_integer_value(end) > data)
      data = (uint64_t)json_integer_value(end);
  }
  json_decref(root);
  vfile *v = calloc(1, sizeof *v);
  v->prefix = malloc(8 + hlen);
  for (int i = 0; i < 8; i++)
    v->prefix[i] = (char)(((uint64_t)hlen >> (8 * i)) & 0xff);
  memcpy(v->prefix + 8, h, hlen);
  free(h);
  v->prefix_len = 8 + hlen;
  v->size = v->prefix_len + data;
  return v;
}

static enum MHD_Result serve_safetensors(struct MHD_Connection *c, json_t *route, const char *range)
{
  vfile *v = vfile_open(json_string_value(json_object_get(route, "safetensors")));
  if (!v)
    return reply(c, 500, "", 0, NULL, NULL);
  unsigned long long a = 0, b = 0;
  bool ranged = range && !json_is_true(json_object_get(route, "ignore_range")) &&
                sscanf(range, "bytes=%llu-%llu", &a, &b) == 2 && a <= b && b < v->size;
  uint64_t len = ranged ? b - a + 1 : v->size;
  v->base = ranged ? a : 0;
  struct MHD_Response *r = MHD_create_response_from_callback(len, 64 * 1024, vfile_read, v, vfile_free);
  if (ranged) {
    char cr[128];
    snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", a, b, (unsigned long long)v->size);
    MHD_add_response_header(r, "Content-Range", cr);
  }
  MHD_add_response_header(r, "Accept-Ranges", "bytes");
  enum MHD_Result rc = MHD_queue_response(c, ranged ? 206 : 200, r);
  MHD_destroy_response(r);
  return rc;
}

static bool query_matches(struct MHD_Connection *c, json_t *route)
{
  json_t *q = json_object_get(route, "query"), *v;
  const char *k;
  json_object_foreach(q, k, v)
  {
    const char *got = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, k);
    if (!got || strcmp(got, json_string_value(v)))
      return false;
  }
  return true;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload, size_t *upload_size, void **state)
{
  (void)cls, (void)method, (void)version, (void)upload, (void)upload_size, (void)state;
  const char *range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Range");
  const char *authz = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
  pthread_mutex_lock(&g_lock);
  int w = snprintf(g_log + g_log_len, sizeof g_log - g_log_len, "%s %s%s\n", url, range ? range : "-",
                   authz ? " auth" : "");
  if (w > 0 && (size_t)w < sizeof g_log - g_log_len)
    g_log_len += (size_t)w;
  if (!strcmp(url, "/api/models")) {
    const char *lim = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
    snprintf(g_limit, sizeof g_limit, "%s", lim ? lim : "");
  }
  pthread_mutex_unlock(&g_lock);
  json_t *route = NULL, *r;
  size_t i;
  json_array_foreach(json_object_get(g_routes, "routes"), i, r)
  {
    if (!strcmp(json_string_value(json_object_get(r, "path")), url) && query_matches(c, r)) {
      route = r;
      break;
    }
  }
  if (!route)
    return strncmp(url, "/api/models/", 12) == 0 ? reply(c, 404, "{}", 2, "RepoNotFound", "Repository not found")
                                                 : reply(c, 404, "Entry not found", 15, "EntryNotFound", NULL);
  const char *token = json_string_value(json_object_get(route, "token"));
  if (token) {
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    char want[256];
    snprintf(want, sizeof want, "Bearer %s", token);
    if (!auth || strcmp(auth, want))
      return reply(c, 401, "{}", 2, "GatedRepo", "Access to this model is restricted. Please log in.");
  }
  const char *redirect = json_string_value(json_object_get(route, "redirect"));
  if (redirect) {
    char loc[512];
    /* another host name for the same server, as the Hub sends downloads to a CDN */
    snprintf(loc, sizeof loc, "http://localhost:%u%s", g_port, redirect);
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, "Location", loc);
    enum MHD_Result rc = MHD_queue_response(c, 302, resp);
    MHD_destroy_response(resp);
    return rc;
  }
  if (json_object_get(route, "safetensors"))
    return serve_safetensors(c, route, range);
  if (json_object_get(route, "pad")) {
    size_t n = (size_t)json_integer_value(json_object_get(route, "pad"));
    char *pad = malloc(n);
    memset(pad, ' ', n);
    struct MHD_Response *resp = MHD_create_response_from_buffer(n, pad, MHD_RESPMEM_MUST_FREE);
    enum MHD_Result rc = MHD_queue_response(c, 200, resp);
    MHD_destroy_response(resp);
    return rc;
  }
  const char *file = json_string_value(json_object_get(route, "file"));
  if (file) {
    size_t len;
    char *body = fixture(file, &len);
    if (!body)
      return reply(c, 500, "", 0, NULL, NULL);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    enum MHD_Result rc = MHD_queue_response(c, 200, resp);
    MHD_destroy_response(resp);
    return rc;
  }
  json_t *hdrs = json_object_get(route, "headers");
  const char *body = json_string_value(json_object_get(route, "body"));
  return reply(c, (unsigned)json_integer_value(json_object_get(route, "status")), body ? body : "",
               body ? strlen(body) : 0, json_string_value(json_object_get(hdrs, "X-Error-Code")),
               json_string_value(json_object_get(hdrs, "X-Error-Message")));
}

static void log_clear(void)
{
  pthread_mutex_lock(&g_lock);
  g_log_len = 0;
  g_log[0] = '\0';
  pthread_mutex_unlock(&g_lock);
}

static int setup(void **state)
{
  (void)state;
  json_error_t jerr;
  g_routes = json_load_file(th_data_path("catalog-update/routes.json"), 0, &jerr);
  if (!g_routes) {
    fprintf(stderr, "routes.json: %s\n", jerr.text);
    return -1;
  }
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  g_daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL, handler,
                              NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_END);
  if (!g_daemon)
    return -1;
  g_port = MHD_get_daemon_info(g_daemon, MHD_DAEMON_INFO_BIND_PORT)->port;
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  MHD_stop_daemon(g_daemon);
  json_decref(g_routes);
  return 0;
}

/* ---- helpers ------------------------------------------------------------------------------ */

static char g_endpoint[64];

static tl_hub_options opts(const char *token)
{
  snprintf(g_endpoint, sizeof g_endpoint, "http://127.0.0.1:%u", g_port);
  return (tl_hub_options){.endpoint = g_endpoint, .token = token, .timeout_s = 30};
}

/* dir/catalog.json, absent: th_tmpdir names directories by process id, which
 * an earlier run may have used and left a catalog in. */
static const char *catalog_path(const char *dir)
{
  static char p[4200];
  snprintf(p, sizeof p, "%s/catalog.json", dir);
  unlink(p);
  return p;
}

/* Updates `path` with the given repositories; returns the call's status. */
static tl_status update(const char *path, const char *token, const char *const *repos, size_t n,
                        tl_catalog_update_item *items, tl_error *err)
{
  tl_hub_options o = opts(token);
  return tl_catalog_update(&o, path, repos, n, items, NULL, NULL, err);
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_exact_counts(void **state)
{
  (void)state;
  json_t *exp = json_load_file(th_data_path("catalog-update/expected.json"), 0, NULL);
  assert_non_null(exp);
  json_t *models = json_object_get(exp, "models"), *m;
  size_t n = json_array_size(models), i;
  const char *repos[8];
  assert_true(n <= 8);
  json_array_foreach(models, i, m) repos[i] = json_string_value(json_object_get(m, "repo"));
  const char *dir = th_tmpdir();
  const char *path = catalog_path(dir);
  tl_catalog_update_item items[8];
  tl_error err;
  log_clear();
  assert_int_equal(update(path, "hf_fixture_token", repos, n, items, &err), TL_OK);
  pthread_mutex_lock(&g_lock);
  bool hub_auth = strstr(g_log, "/api/models/Qwen/Qwen3-0.6B - auth\n") != NULL;
  bool cdn_auth = strstr(g_log, "/cdn/qwen3-0.6b/model.safetensors bytes=0-7 auth\n") != NULL;
  bool cdn = strstr(g_log, "/cdn/qwen3-0.6b/model.safetensors bytes=0-7\n") != NULL;
  pthread_mutex_unlock(&g_lock);
  assert_true(hub_auth);  /* the token goes to the Hub */
  assert_true(cdn);
  assert_false(cdn_auth); /* and not to the host a download redirects to */
  tl_catalog *c = NULL;
  assert_int_equal(tl_catalog_create(&c, &err), TL_OK);
  assert_int_equal(tl_catalog_add_file(c, path, &err), TL_OK);
  assert_int_equal(tl_catalog_count(c), n);
  json_array_foreach(models, i, m)
  {
    const tl_catalog_update_item *it = &items[i];
    if (it->status != TL_OK)
      fprintf(stderr, "%s: %s\n", it->repo, it->err.message);
    assert_int_equal(it->status, TL_OK);
    uint64_t want = (uint64_t)json_integer_value(json_object_get(m, "params_total"));
    assert_string_equal(it->id, json_string_value(json_object_get(m, "id")));
    assert_int_equal(it->params_total, want);
    json_t *active = json_object_get(m, "params_active"); /* MoE; dense models: the total */
    assert_int_equal(it->params_active, active ? (uint64_t)json_integer_value(active) : want);
    assert_int_equal(it->hub_params_total, want);
    assert_int_equal(it->n_files, json_integer_value(json_object_get(m, "files")));
    assert_true(it->in_registry);
    const tl_catalog_entry *e = tl_catalog_find(c, it->id);
    assert_non_null(e);
    assert_string_equal(e->hf_repo, json_string_value(json_object_get(m, "repo")));
    assert_string_equal(e->arch, json_string_value(json_object_get(m, "arch")));
    assert_int_equal(e->params_total, want);
    assert_int_equal(e->context_length, json_integer_value(json_object_get(m, "context_length")));
    assert_string_equal(e->license, json_string_value(json_object_get(m, "license")));
    assert_string_equal(e->release_date, json_string_value(json_object_get(m, "release_date")));
    json_t *tags = json_object_get(m, "tags");
    assert_int_equal(e->n_tags, json_array_size(tags));
    for (size_t t = 0; t < e->n_tags; t++)
      assert_string_equal(e->tags[t], json_string_value(json_array_get(tags, t)));
    char src[512];
    snprintf(src, sizeof src, "%s/%s/resolve/main/config.json", g_endpoint, e->hf_repo);
    assert_string_equal(e->source, src);
    char tensors[64];
    snprintf(tensors, sizeof tensors, "%lld tensors", (long long)json_integer_value(json_object_get(m, "tensors")));
    assert_non_null(strstr(e->params_source, tensors));
  }
  tl_catalog_free(c);
  json_decref(exp);
}

static void test_range_requests(void **state)
{
  (void)state;
  const char *dir = th_tmpdir();
  const char *repos[] = {"Qwen/Qwen3-0.6B"};
  tl_catalog_update_item it;
  tl_error err;
  log_clear();
  assert_int_equal(update(catalog_path(dir), "", repos, 1, &it, &err), TL_OK);
  assert_int_equal(it.status, TL_OK);
  size_t hlen;
  char *h = th_read_file(th_data_path("catalog-update/qwen3-0.6b/model.safetensors.header.json"), &hlen);
  assert_non_null(h);
  free(h);
  char second[128];
  snprintf(second, sizeof second, "/cdn/qwen3-0.6b/model.safetensors bytes=8-%zu\n", 8 + hlen - 1);
  pthread_mutex_lock(&g_lock);
  char log[sizeof g_log];
  memcpy(log, g_log, g_log_len + 1);
  pthread_mutex_unlock(&g_lock);
  /* through the redirect, each Range asks for exactly the length, then the header */
  assert_non_null(strstr(log, "/Qwen/Qwen3-0.6B/resolve/main/model.safetensors bytes=0-7\n"));
  assert_non_null(strstr(log, "/cdn/qwen3-0.6b/model.safetensors bytes=0-7\n"));
  assert_non_null(strstr(log, second));
  assert_null(strstr(log, "model.safetensors -\n")); /* never the whole file */
}

/* Writes a valid user catalog with one entry; returns its bytes. */
static char *seed(const char *path, size_t *len)
{
  const char *repos[] = {"Qwen/Qwen3-0.6B"};
  tl_catalog_update_item it;
  tl_error err;
  assert_int_equal(update(path, "", repos, 1, &it, &err), TL_OK);
  assert_int_equal(it.status, TL_OK);
  char *text = th_read_file(path, len);
  assert_non_null(text);
  return text;
}

static void test_errors_leave_catalog(void **state)
{
  (void)state;
  static const struct {
    const char *repo;
    tl_status status;
    const char *message;
  } cases[] = {
      {"nobody/no-such-model", TL_ENOTFOUND, "no such model 'nobody/no-such-model'"},
      {"meta-llama/Llama-3.2-1B", TL_ENET, "is gated or private"},
      {"broken/bad-config", TL_EFORMAT, "config.json of 'broken/bad-config' is not valid JSON"},
      {"big/huge-config", TL_ELIMIT, "config.json of 'big/huge-config' is larger than the limit of 1048576 bytes"},
      {"norange/Qwen3-0.6B", TL_ENET, "did not honour the Range request"},
      {"bin/pytorch-only", TL_EUNSUPPORTED, "'bin/pytorch-only' has no safetensors weights to count parameters from"},
      {"not-a-repo", TL_EINVAL, "not a Hugging Face repository id"},
      {"../etc/passwd", TL_EINVAL, "not a Hugging Face repository id"},
  };
  const char *path = catalog_path(th_tmpdir());
  size_t len0;
  char *before = seed(path, &len0);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tl_catalog_update_item it;
    tl_error err;
    const char *repos[] = {cases[i].repo};
    assert_int_equal(update(path, "", repos, 1, &it, &err), TL_OK);
    if (!strstr(it.err.message, cases[i].message))
      fprintf(stderr, "%s: got '%s'\n", cases[i].repo, it.err.message);
    assert_int_equal(it.status, cases[i].status);
    assert_non_null(strstr(it.err.message, cases[i].message));
    size_t len;
    char *after = th_read_file(path, &len);
    assert_int_equal(len, len0);
    assert_memory_equal(after, before, len);
    free(after);
  }
  /* gated: the message says what to do; with the token it succeeds */
  tl_catalog_update_item it[2];
  tl_error err;
  const char *both[] = {"meta-llama/Llama-3.2-1B", "nobody/no-such-model"};
  assert_int_equal(update(path, "", both, 1, it, &err), TL_OK);
  assert_non_null(strstr(it[0].err.message, "set HF_TOKEN"));
  assert_int_equal(update(path, "wrong", both, 1, it, &err), TL_OK);
  assert_non_null(strstr(it[0].err.message, "the token in HF_TOKEN has no access"));
  /* one failure does not lose the others */
  assert_int_equal(update(path, "hf_fixture_token", both, 2, it, &err), TL_OK);
  assert_int_equal(it[0].status, TL_OK);
  assert_int_equal(it[1].status, TL_ENOTFOUND);
  tl_catalog *c = NULL;
  assert_int_equal(tl_catalog_create(&c, &err), TL_OK);
  assert_int_equal(tl_catalog_add_file(c, path, &err), TL_OK);
  assert_int_equal(tl_catalog_count(c), 2);
  assert_non_null(tl_catalog_find(c, "qwen3-0.6b"));
  assert_non_null(tl_catalog_find(c, "llama-3.2-1b"));
  tl_catalog_free(c);
  free(before);
}

/* Weights under another file name: the Hub's own safetensors.total, said so. */
static void test_hub_total_fallback(void **state)
{
  (void)state;
  const char *repos[] = {"odd/consolidated"};
  tl_catalog_update_item it;
  tl_error err;
  const char *path = catalog_path(th_tmpdir());
  log_clear();
  assert_int_equal(update(path, "", repos, 1, &it, &err), TL_OK);
  assert_int_equal(it.status, TL_OK);
  assert_int_equal(it.params_total, 751632384);
  assert_int_equal(it.n_files, 0);
  pthread_mutex_lock(&g_lock);
  bool asked = strstr(g_log, ".safetensors") != NULL;
  pthread_mutex_unlock(&g_lock);
  assert_false(asked); /* the file list said there is nothing to read */
  tl_catalog *c = NULL;
  assert_int_equal(tl_catalog_create(&c, &err), TL_OK);
  assert_int_equal(tl_catalog_add_file(c, path, &err), TL_OK);
  const tl_catalog_entry *e = tl_catalog_find(c, "consolidated");
  assert_non_null(e);
  assert_non_null(strstr(e->params_source, "safetensors.total"));
  tl_catalog_free(c);
}

static void test_server_down(void **state)
{
  (void)state;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t sl = sizeof sa;
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
  close(fd); /* nothing listens there now */
  char ep[64], host[64];
  snprintf(ep, sizeof ep, "http://127.0.0.1:%u", ntohs(sa.sin_port));
  snprintf(host, sizeof host, "cannot connect to '127.0.0.1:%u'", ntohs(sa.sin_port));
  const char *path = catalog_path(th_tmpdir());
  size_t len0;
  char *before = seed(path, &len0);
  tl_hub_options o = {.endpoint = ep, .token = "", .timeout_s = 10};
  const char *repos[] = {"Qwen/Qwen3-0.6B", "Qwen/Qwen3-1.7B"};
  tl_catalog_update_item it[2];
  tl_error err;
  assert_int_equal(tl_catalog_update(&o, path, repos, 2, it, NULL, NULL, &err), TL_OK);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(it[i].status, TL_ENET);
    assert_non_null(strstr(it[i].err.message, host));
  }
  char **ids = NULL;
  size_t n = 0;
  assert_int_equal(tl_hub_list_trending(&o, 5, &ids, &n, &err), TL_ENET);
  assert_non_null(strstr(err.message, host));
  size_t len;
  char *after = th_read_file(path, &len);
  assert_int_equal(len, len0);
  assert_memory_equal(after, before, len);
  free(after);
  free(before);
}

static void test_invalid_user_catalog_untouched(void **state)
{
  (void)state;
  const char *path = catalog_path(th_tmpdir());
  const char bad[] = "{\"schema_version\": 1, \"models\": [{\"id\": \"x\"}]}\n";
  assert_int_equal(th_write_file(path, bad, strlen(bad)), 0);
  const char *repos[] = {"Qwen/Qwen3-0.6B"};
  tl_catalog_update_item it;
  tl_error err;
  assert_int_equal(update(path, "", repos, 1, &it, &err), TL_EFORMAT);
  assert_non_null(strstr(err.message, "user catalog left as it is"));
  size_t len;
  char *after = th_read_file(path, &len);
  assert_string_equal(after, bad);
  free(after);
}

static void test_trending(void **state)
{
  (void)state;
  tl_hub_options o = opts("");
  char **ids = NULL;
  size_t n = 0;
  tl_error err;
  assert_int_equal(tl_hub_list_trending(&o, 2, &ids, &n, &err), TL_OK);
  assert_int_equal(n, 2);
  assert_string_equal(ids[0], "Qwen/Qwen3-0.6B");
  assert_string_equal(ids[1], "Qwen/Qwen3-1.7B");
  assert_string_equal(g_limit, "2");
  tl_hub_repos_free(ids, n);
  assert_int_equal(tl_hub_list_trending(&o, 0, &ids, &n, &err), TL_EINVAL);
}

static void test_cli_update_and_overlay(void **state)
{
  (void)state;
  const char *dir = th_tmpdir();
  char ep[80], cache[4200];
  snprintf(ep, sizeof ep, "HF_ENDPOINT=http://127.0.0.1:%u", g_port);
  snprintf(cache, sizeof cache, "TAILOR_CACHE_DIR=%s/cache", dir);
  char stale[4200];
  snprintf(stale, sizeof stale, "%s/cache", dir);
  (void)catalog_path(stale);
  const char *env[] = {ep, cache, "HF_TOKEN=", NULL};
  char *out = NULL, *errs = NULL;
  const char *up[] = {"catalog", "update", "Qwen/Qwen3-0.6B", NULL};
  int rc = th_run_tailor_env(up, env, NULL, &out, &errs);
  if (rc != 0)
    fprintf(stderr, "%s%s", out, errs);
  assert_int_equal(rc, 0);
  assert_non_null(strstr(out, "[1/1] Qwen/Qwen3-0.6B -> qwen3-0.6b: qwen3 (in the registry), 751.63M parameters"));
  free(out);
  free(errs);
  /* the user entry overlays the built-in one of the same id */
  const char *show[] = {"catalog", "show", "qwen3-0.6b", "--json", NULL};
  assert_int_equal(th_run_tailor_env(show, env, NULL, &out, &errs), 0);
  json_t *o = json_loads(out, 0, NULL);
  assert_non_null(o);
  assert_int_equal(json_integer_value(json_object_get(o, "params_total")), 751632384);
  char origin[4200];
  snprintf(origin, sizeof origin, "%s/cache/catalog.json", dir);
  assert_string_equal(json_string_value(json_object_get(o, "origin")), origin);
  json_decref(o);
  free(out);
  free(errs);
  /* with the user catalog off, the built-in entry is back */
  const char *off[] = {ep, "TAILOR_CACHE_DIR=none", NULL};
  assert_int_equal(th_run_tailor_env(show, off, NULL, &out, &errs), 0);
  o = json_loads(out, 0, NULL);
  assert_string_equal(json_string_value(json_object_get(o, "origin")), "embedded:models.json");
  json_decref(o);
  free(out);
  free(errs);
  /* inspect reads the overlay too */
  const char *insp[] = {"inspect", "qwen3-0.6b", "--json", NULL};
  assert_int_equal(th_run_tailor_env(insp, env, NULL, &out, &errs), 0);
  free(out);
  free(errs);
  /* --trending N, JSON report */
  const char *tr[] = {"catalog", "update", "--trending", "2", "--json", NULL};
  assert_int_equal(th_run_tailor_env(tr, env, NULL, &out, &errs), 0);
  o = json_loads(out, 0, NULL);
  assert_non_null(o);
  json_t *ms = json_object_get(o, "models");
  assert_int_equal(json_array_size(ms), 2);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(ms, 1), "params_total")), 2031739904);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(ms, 1), "safetensors_files")), 2);
  json_decref(o);
  free(out);
  free(errs);
  /* a failure: exit 1, named on stderr; list still works */
  const char *bad[] = {"catalog", "update", "nobody/no-such-model", NULL};
  assert_int_equal(th_run_tailor_env(bad, env, NULL, &out, &errs), 1);
  assert_non_null(strstr(out, "no such model 'nobody/no-such-model'"));
  free(out);
  free(errs);
  const char *list[] = {"catalog", "list", NULL};
  assert_int_equal(th_run_tailor_env(list, env, NULL, &out, &errs), 0);
  assert_non_null(strstr(out, "qwen3-1.7b"));
  free(out);
  free(errs);
  /* usage errors */
  const char *none[] = {"catalog", "update", NULL};
  assert_int_equal(th_run_tailor_env(none, env, NULL, &out, &errs), 2);
  free(out);
  free(errs);
  const char *big[] = {"catalog", "update", "--trending", "500", NULL};
  assert_int_equal(th_run_tailor_env(big, env, NULL, &out, &errs), 2);
  free(out);
  free(errs);
}

static void test_user_path(void **state)
{
  (void)state;
  char p[512];
  tl_error err;
  setenv("TAILOR_CACHE_DIR", "/x/y", 1);
  assert_int_equal(tl_catalog_user_path(p, sizeof p, &err), TL_OK);
  assert_string_equal(p, "/x/y/catalog.json");
  unsetenv("TAILOR_CACHE_DIR");
  setenv("XDG_CACHE_HOME", "/c", 1);
  assert_int_equal(tl_catalog_user_path(p, sizeof p, &err), TL_OK);
  assert_string_equal(p, "/c/tailor/catalog.json");
  unsetenv("XDG_CACHE_HOME");
  setenv("HOME", "/h", 1);
  assert_int_equal(tl_catalog_user_path(p, sizeof p, &err), TL_OK);
  assert_string_equal(p, "/h/.cache/tailor/catalog.json");
  setenv("TAILOR_CACHE_DIR", "none", 1);
  assert_int_equal(tl_catalog_user_path(p, sizeof p, &err), TL_ENOTFOUND);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_exact_counts),          cmocka_unit_test(test_range_requests),
      cmocka_unit_test(test_errors_leave_catalog),  cmocka_unit_test(test_server_down),
      cmocka_unit_test(test_hub_total_fallback),
      cmocka_unit_test(test_invalid_user_catalog_untouched), cmocka_unit_test(test_trending),
      cmocka_unit_test(test_cli_update_and_overlay), cmocka_unit_test(test_user_path),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
