/* HTTPS requests to the Hugging Face Hub through libcurl: one reusable easy
 * handle, bounded bodies, Range requests, redirects (file downloads redirect
 * to a CDN; curl does not carry the Authorization header to another host),
 * and the Hub's error replies. Error headers follow huggingface_hub's
 * hf_raise_for_status: X-Error-Code RepoNotFound, GatedRepo, EntryNotFound,
 * RevisionNotFound; a 401 without a code answers a missing, private or gated
 * repository alike. */
#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "model/hub-int.h"

#define HUB_DEFAULT_ENDPOINT "https://huggingface.co"
#define HUB_DEFAULT_TIMEOUT_S 60
#define HUB_CONNECT_TIMEOUT_S 15

struct tl__hub {
  CURL *curl;
  char endpoint[512];
  char host[256];
  char auth[1024]; /* "Authorization: Bearer ..." or "" */
  uint32_t timeout_s;
  tl_error down; /* the first failure to resolve or connect to the host; code TL_OK while none */
};

typedef struct xfer {
  char *buf;
  size_t len, cap, max;
  bool too_big;
  char error_code[64];
  char error_message[256];
  uint64_t full_size;
} xfer;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

tl_status tl__hub_open(tl__hub **out, const tl_hub_options *o, tl_error *err)
{
  pthread_once(&curl_once, curl_init);
  if (curl_init_rc != CURLE_OK)
    return tl__error_set(err, TL_ENET, "hub: libcurl failed to start: %s", curl_easy_strerror(curl_init_rc));
  tl__hub *h = tl__calloc(1, sizeof *h);
  if (!h)
    return tl__error_set(err, TL_ENOMEM, "hub: out of memory");
  const char *ep = o && o->endpoint ? o->endpoint : getenv("HF_ENDPOINT");
  if (!ep || !*ep)
    ep = HUB_DEFAULT_ENDPOINT;
  size_t n = strlen(ep);
  while (n > 0 && ep[n - 1] == '/')
    n--;
  if (n == 0 || n >= sizeof h->endpoint || (strncmp(ep, "https://", 8) != 0 && strncmp(ep, "http://", 7) != 0)) {
    tl__free(h);
    return tl__error_set(err, TL_EINVAL, "hub: endpoint '%s' is not an http:// or https:// URL", ep);
  }
  memcpy(h->endpoint, ep, n);
  h->endpoint[n] = '\0';
  const char *hs = strstr(h->endpoint, "://") + 3;
  size_t hl = strcspn(hs, "/");
  snprintf(h->host, sizeof h->host, "%.*s", (int)(hl < sizeof h->host ? hl : sizeof h->host - 1), hs);
  const char *tok = o && o->token ? o->token : getenv("HF_TOKEN");
  if (tok && *tok) {
    if (strlen(tok) > 900 || strpbrk(tok, "\r\n")) {
      tl__free(h);
      return tl__error_set(err, TL_EINVAL, "hub: HF_TOKEN is not a token (over 900 bytes or a line break)");
    }
    snprintf(h->auth, sizeof h->auth, "Authorization: Bearer %s", tok);
  }
  h->timeout_s = o && o->timeout_s ? o->timeout_s : HUB_DEFAULT_TIMEOUT_S;
  h->curl = curl_easy_init();
  if (!h->curl) {
    tl__free(h);
    return tl__error_set(err, TL_ENOMEM, "hub: libcurl could not create a handle");
  }
  *out = h;
  return TL_OK;
}

void tl__hub_close(tl__hub *h)
{
  if (!h)
    return;
  curl_easy_cleanup(h->curl);
  tl__free(h);
}

const char *tl__hub_endpoint(const tl__hub *h) { return h->endpoint; }
const char *tl__hub_host(const tl__hub *h) { return h->host; }

const tl_error *tl__hub_down(const tl__hub *h) { return h->down.code != TL_OK ? &h->down : NULL; }

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
  xfer *x = ud;
  size_t n = size * nmemb;
  if (n > x->max - x->len) {
    x->too_big = true;
    return 0; /* stops the transfer: CURLE_WRITE_ERROR */
  }
  if (x->len + n + 1 > x->cap) {
    size_t cap = x->cap ? x->cap : 4096;
    while (cap < x->len + n + 1)
      cap *= 2;
    char *b = tl__realloc(x->buf, cap);
    if (!b)
      return 0;
    x->buf = b;
    x->cap = cap;
  }
  memcpy(x->buf + x->len, p, n);
  x->len += n;
  x->buf[x->len] = '\0';
  return n;
}

/* Copies header value (trimmed) into dst. */
static void header_value(const char *p, size_t n, size_t name_len, char *dst, size_t cap)
{
  p += name_len;
  n -= name_len;
  while (n > 0 && (*p == ' ' || *p == '\t'))
    p++, n--;
  while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == '\n' || p[n - 1] == ' '))
    n--;
  snprintf(dst, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
  xfer *x = ud;
  size_t n = size * nmemb;
  if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) { /* a new response (after a redirect): forget the last */
    x->error_code[0] = x->error_message[0] = '\0';
    x->full_size = 0;
  } else if (n > 13 && strncasecmp(p, "X-Error-Code:", 13) == 0) {
    header_value(p, n, 13, x->error_code, sizeof x->error_code);
  } else if (n > 16 && strncasecmp(p, "X-Error-Message:", 16) == 0) {
    header_value(p, n, 16, x->error_message, sizeof x->error_message);
  } else if (n > 14 && strncasecmp(p, "Content-Range:", 14) == 0) {
    char v[128];
    header_value(p, n, 14, v, sizeof v);
    const char *slash = strchr(v, '/');
    if (slash && isdigit((unsigned char)slash[1]))
      x->full_size = strtoull(slash + 1, NULL, 10);
  }
  return n;
}

static tl_status http_error(tl__hub *h, tl__hub_kind kind, long status, const xfer *x, const char *repo,
                            const char *what, tl_error *err)
{
  const char *code = x->error_code;
  bool have_token = h->auth[0] != '\0';
  const char *detail = x->error_message[0] ? x->error_message : "";
  const char *sep = detail[0] ? " (the Hub says: " : "";
  const char *end = detail[0] ? ")" : "";
  if (!strcmp(code, "GatedRepo") || (kind == TL__HUB_FILE && (status == 401 || status == 403) && !code[0]))
    return tl__error_set(err, TL_ENET,
                         "hub: '%s' is gated or private (HTTP %ld fetching %s): %s%s%s%s", repo, status, what,
                         have_token ? "the token in HF_TOKEN has no access; accept the model's license on its page "
                                      "with that account"
                                    : "accept the model's license on its page and set HF_TOKEN to an access token",
                         sep, detail, end);
  if (!strcmp(code, "RepoNotFound") || (kind == TL__HUB_MODEL && (status == 404 || status == 401)))
    return tl__error_set(err, TL_ENOTFOUND, "hub: no such model '%s' on %s (HTTP %ld)%s", repo, h->host, status,
                         have_token ? "" : "; a private repository answers the same without HF_TOKEN");
  if (!strcmp(code, "EntryNotFound") || (kind == TL__HUB_FILE && status == 404))
    return tl__error_set(err, TL_ENOTFOUND, "hub: '%s' has no %s (HTTP %ld)", repo, what, status);
  if (!strcmp(code, "RevisionNotFound"))
    return tl__error_set(err, TL_ENOTFOUND, "hub: '%s' has no branch 'main' (HTTP %ld)", repo, status);
  if (status == 401 || status == 403)
    return tl__error_set(err, TL_ENET, "hub: %s refused %s of '%s' (HTTP %ld)%s%s%s%s", h->host, what, repo, status,
                         have_token ? "" : ": set HF_TOKEN", sep, detail, end);
  if (status == 429)
    return tl__error_set(err, TL_ENET, "hub: %s is rate-limiting requests (HTTP 429 fetching %s of '%s'); try "
                         "again later%s", h->host, what, repo, have_token ? "" : " or set HF_TOKEN");
  return tl__error_set(err, TL_ENET, "hub: HTTP %ld fetching %s of '%s' from %s%s%s%s", status, what, repo, h->host, sep,
                       detail, end);
}

tl_status tl__hub_get(tl__hub *h, tl__hub_kind kind, const char *path, const char *repo, const char *what, size_t max,
                      uint64_t range_begin, uint64_t range_len, tl__hub_resp *r, tl_error *err)
{
  char url[2048];
  if ((size_t)snprintf(url, sizeof url, "%s%s", h->endpoint, path) >= sizeof url)
    return tl__error_set(err, TL_ELIMIT, "hub: URL for %s of '%s' is too long", what, repo);
  xfer x = {.max = max};
  char range[64] = "";
  if (range_len > 0)
    snprintf(range, sizeof range, "%llu-%llu", (unsigned long long)range_begin,
             (unsigned long long)(range_begin + range_len - 1));
  struct curl_slist *hdrs = NULL;
  if (h->auth[0]) {
    hdrs = curl_slist_append(NULL, h->auth);
    if (!hdrs)
      return tl__error_set(err, TL_ENOMEM, "hub: out of memory");
  }
  char ebuf[CURL_ERROR_SIZE] = "";
  CURL *c = h->curl;
  curl_easy_reset(c);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)HUB_CONNECT_TIMEOUT_S);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)h->timeout_s);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "tailor/" TAILOR_VERSION);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
  curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
  if (hdrs)
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
  if (range[0])
    curl_easy_setopt(c, CURLOPT_RANGE, range);
  CURLcode rc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(hdrs);
  tl_status st = TL_OK;
  if (x.too_big || rc == CURLE_FILESIZE_EXCEEDED) {
    st = range_len > 0 && status == 200
             ? tl__error_set(err, TL_ENET, "hub: %s did not honour the Range request for %s of '%s' (HTTP 200 "
                             "with the whole file); stopped after %zu bytes", h->host, what, repo, max)
             : tl__error_set(err, TL_ELIMIT, "hub: %s of '%s' is larger than the limit of %zu bytes", what, repo, max);
  } else if (rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY) {
    st = tl__error_set(err, TL_ENET, "hub: cannot resolve host '%s' (offline?): %s", h->host, ebuf[0] ? ebuf : curl_easy_strerror(rc));
  } else if (rc == CURLE_COULDNT_CONNECT) {
    st = tl__error_set(err, TL_ENET, "hub: cannot connect to '%s' (offline?): %s", h->host, ebuf[0] ? ebuf : curl_easy_strerror(rc));
  } else if (rc == CURLE_OPERATION_TIMEDOUT) {
    st = tl__error_set(err, TL_ENET, "hub: %s timed out fetching %s of '%s' (limit %u s): %s", h->host, what, repo,
                       h->timeout_s, ebuf[0] ? ebuf : curl_easy_strerror(rc));
  } else if (rc != CURLE_OK) {
    st = tl__error_set(err, rc == CURLE_OUT_OF_MEMORY ? TL_ENOMEM : TL_ENET, "hub: fetching %s of '%s' from %s failed: %s",
                       what, repo, h->host, ebuf[0] ? ebuf : curl_easy_strerror(rc));
  } else if (status < 200 || status > 299) {
    st = http_error(h, kind, status, &x, repo, what, err);
  } else if (range_len > 0 && (status != 206 || x.len != range_len)) {
    st = status != 206 ? tl__error_set(err, TL_ENET, "hub: %s did not honour the Range request for %s of '%s' (HTTP %ld)",
                                       h->host, what, repo, status)
                       : tl__error_set(err, TL_EFORMAT, "hub: %s of '%s': asked for %llu bytes at %llu, got %zu "
                                       "(the file is shorter)", what, repo, (unsigned long long)range_len,
                                       (unsigned long long)range_begin, x.len);
  }
  if (st != TL_OK && (rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY ||
                     rc == CURLE_COULDNT_CONNECT) && h->down.code == TL_OK)
    tl__error_set(&h->down, st, "%s", err ? err->message : "hub: cannot reach the host");
  if (st != TL_OK) {
    tl__free(x.buf);
    return st;
  }
  if (!x.buf) { /* an empty body */
    x.buf = tl__malloc(1);
    if (!x.buf)
      return tl__error_set(err, TL_ENOMEM, "hub: out of memory");
    x.buf[0] = '\0';
  }
  r->body = x.buf;
  r->len = x.len;
  r->status = status;
  r->full_size = x.full_size;
  return TL_OK;
}
