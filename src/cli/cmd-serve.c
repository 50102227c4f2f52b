/* `tailor serve SRC...`: resolve a configuration for each model with the
 * "server" workload preset (and any setting flags), print the decisions that
 * shape serving, load the models and serve the OpenAI-compatible API until
 * SIGINT or SIGTERM, which drain it. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "hw-options.h"
#include "setting-options.h"
#include "tailor/config.h"
#include "tailor/quant.h"
#include "tailor/server.h"
#include "tailor/tailor.h"

static const char help[] =
    "Usage: tailor serve MODEL.gguf... [OPTIONS] [SETTINGS]\n"
    "\n"
    "Serve models over an OpenAI-compatible HTTP API: POST /v1/chat/completions,\n"
    "/v1/completions (stream: true for server-sent events), GET /v1/models, POST\n"
    "/v1/models/load and /v1/models/unload, GET /health and /metrics (docs/server.md).\n"
    "Settings are resolved as by 'tailor config --preset server' (parallel slots, KV blocks,\n"
    "max batched tokens, context, threads, prefix cache, admission) and printed at start.\n"
    "A model is named after its file (without .gguf); NAME=PATH names it.\n"
    "\n"
    "Options:\n"
    "  --host ADDR           IPv4 address to bind (default 127.0.0.1)\n"
    "  --port N              port (default 8080; 0 picks a free one, printed at start)\n"
    "  --api-key KEY         require 'Authorization: Bearer KEY' on /v1 (or TAILOR_API_KEY)\n"
    "  --chat-template NAME  chatml, llama3, llama2, mistral, gemma, phi3, deepseek3, deepseek2\n"
    "                        (default: the model's own)\n"
    "  --queue N             requests waiting for a slot before 503 (default 64)\n"
    "  --drain-timeout S     seconds SIGINT/SIGTERM waits for requests in flight (default 10)\n"
    "  --preset NAME         workload preset (default server)\n"
    "  --config FILE         a configuration document (tailor config --emit-config)\n"
    "  --concurrency N       concurrent sequences the workload needs\n"
    "  --json                print the start-up report as JSON\n"
    "\n"
    "Settings: as tailor config (-c/--ctx-size, -t/--threads, -np/--parallel, --kv-block-size,\n"
    "  --kv-blocks, --max-batched-tokens, --prefix-cache, --admission, -ctk/--kv-type, -b, -ub,\n"
    "  --temp, --top-k, --top-p, --min-p, --repeat-penalty, ...); TAILOR_<SETTING> variables too.\n"
    "\n" TL_CLI_HW_OPTIONS_HELP
    "\n"
    "Exit status: 0 after a drained shutdown; 1 a model or the address failed; 2 bad usage or\n"
    "an invalid setting; 3 nothing fits.\n";

static int64_t ival(const tl_config *c, tl_setting_id id, int64_t dflt)
{
  int64_t v;
  return tl_config_int(c, id, &v) ? v : dflt;
}

static double dval(const tl_config *c, tl_setting_id id, double dflt)
{
  double v;
  int64_t i;
  if (tl_config_double(c, id, &v))
    return v;
  return tl_config_int(c, id, &i) ? (double)i : dflt;
}

static const tl_setting_id shown[] = {
    TL_SET_CTX_SIZE,   TL_SET_PARALLEL,           TL_SET_KV_BLOCK_SIZE, TL_SET_KV_BLOCKS,
    TL_SET_MAX_BATCHED_TOKENS, TL_SET_PREFIX_CACHE, TL_SET_ADMISSION,  TL_SET_THREADS,
    TL_SET_UBATCH_SIZE, TL_SET_KV_TYPE,
};

/* Resolves the model's configuration into engine and server params. */
static int resolve(const char *path, const tl_workload *wl, const char *config_file,
                   const tl_override *cli, size_t n_cli, const tl_hw *hw, tl_engine_params *ep,
                   tl_server_params *sp, bool json)
{
  tl_error err;
  tl_error_clear(&err);
  tl_model_desc *model = NULL;
  if (tl_model_desc_open(path, NULL, TL_FTYPE_Q4_K_M, &model, &err))
    return tl_cli_fail("serve", "%s", err.message);
  tl_config *c = NULL;
  int rc = tl_cli_config_resolve("serve", model, hw, wl, config_file, cli, n_cli, &c);
  tl_model_desc_free(model);
  if (rc)
    return rc;
  tl_engine_params_init(ep);
  ep->n_ctx = (uint32_t)ival(c, TL_SET_CTX_SIZE, 0);
  ep->n_threads = (uint32_t)ival(c, TL_SET_THREADS, 0);
  ep->n_batch = (uint32_t)ival(c, TL_SET_BATCH_SIZE, 0);
  ep->n_ubatch = (uint32_t)ival(c, TL_SET_UBATCH_SIZE, 0);
  ep->n_seq_max = (uint32_t)ival(c, TL_SET_PARALLEL, 1);
  ep->kv_block_size = (uint32_t)ival(c, TL_SET_KV_BLOCK_SIZE, 16);
  ep->kv_blocks = (uint32_t)ival(c, TL_SET_KV_BLOCKS, 0);
  const char *kvt = tl_config_value(c, TL_SET_KV_TYPE);
  if (kvt[0] && tl_qtype_parse(kvt, &ep->kv_type, &err)) {
    tl_config_free(c);
    return tl_cli_usage_error("serve", "kv_type: %s", err.message);
  }
  ep->sampling.temp = (float)dval(c, TL_SET_TEMPERATURE, ep->sampling.temp);
  ep->sampling.top_k = (int32_t)ival(c, TL_SET_TOP_K, ep->sampling.top_k);
  ep->sampling.top_p = (float)dval(c, TL_SET_TOP_P, ep->sampling.top_p);
  ep->sampling.min_p = (float)dval(c, TL_SET_MIN_P, ep->sampling.min_p);
  ep->sampling.repeat_penalty = (float)dval(c, TL_SET_REPEAT_PENALTY, 1.0);
  sp->max_batched_tokens = (uint32_t)ival(c, TL_SET_MAX_BATCHED_TOKENS, 0);
  bool pc = true;
  if (tl_config_bool(c, TL_SET_PREFIX_CACHE, &pc))
    sp->prefix_cache = pc;
  sp->prefill_first = !strcmp(tl_config_value(c, TL_SET_ADMISSION), "prefill_first");
  if (!json) {
    fprintf(stderr, "tailor serve: %s (configuration sha256:%.16s...)\n", path, tl_config_hash(c));
    for (size_t i = 0; i < sizeof shown / sizeof shown[0]; i++)
      fprintf(stderr, "  %-19s %-14s %s\n", tl_setting_key(shown[i]),
              tl_config_value(c, shown[i])[0] ? tl_config_value(c, shown[i]) : "-",
              tl_setting_source_name(tl_config_source(c, shown[i])));
  }
  tl_config_free(c);
  return TL_EXIT_OK;
}

static void model_name(const char *src, char *name, size_t cap, const char **path)
{
  const char *eq = strchr(src, '=');
  if (eq && eq != src) {
    snprintf(name, cap, "%.*s", (int)(eq - src), src);
    *path = eq + 1;
    return;
  }
  *path = src;
  const char *base = strrchr(src, '/');
  base = base ? base + 1 : src;
  size_t n = strlen(base);
  if (n > 5 && !strcmp(base + n - 5, ".gguf"))
    n -= 5;
  snprintf(name, cap, "%.*s", (int)n, base);
}

static int run(int argc, char **argv)
{
  enum { MAX_SRC = 16, MAX_CLI = 64 };
  const char *srcs[MAX_SRC];
  size_t n_src = 0;
  const char *host = "127.0.0.1", *api_key = getenv("TAILOR_API_KEY"), *chat = NULL,
             *preset = "server", *config_file = NULL;
  long port = 8080, queue = 64, concurrency = 0;
  double drain = 10;
  bool json = false;
  tl_cli_hw_opts hwo;
  memset(&hwo, 0, sizeof hwo);
  tl_override cli[MAX_CLI];
  size_t n_cli = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int r = tl_cli_hw_parse(&hwo, argc, argv, &i, "serve");
    if (r > 1)
      return r;
    if (r == 1)
      continue;
    if (!strcmp(a, "--json")) {
      json = true;
      continue;
    }
    if (!strcmp(a, "--host") || !strcmp(a, "--port") || !strcmp(a, "--api-key") ||
        !strcmp(a, "--chat-template") || !strcmp(a, "--queue") || !strcmp(a, "--drain-timeout") ||
        !strcmp(a, "--preset") || !strcmp(a, "--concurrency") || !strcmp(a, "--config")) {
      if (i + 1 >= argc)
        return tl_cli_usage_error("serve", "%s needs a value", a);
      const char *v = argv[++i];
      char *end;
      errno = 0;
      if (!strcmp(a, "--host"))
        host = v;
      else if (!strcmp(a, "--api-key"))
        api_key = v;
      else if (!strcmp(a, "--chat-template"))
        chat = v;
      else if (!strcmp(a, "--preset"))
        preset = v;
      else if (!strcmp(a, "--config"))
        config_file = v;
      else if (!strcmp(a, "--drain-timeout")) {
        drain = strtod(v, &end);
        if (errno || *end || drain < 0 || drain > 3600)
          return tl_cli_usage_error("serve", "--drain-timeout: '%s' is not 0 to 3600 seconds", v);
      } else {
        long x = strtol(v, &end, 10);
        long lo = !strcmp(a, "--port") ? 0 : 1, hi = !strcmp(a, "--port") ? 65535 : 4096;
        if (errno || *end || x < lo || x > hi)
          return tl_cli_usage_error("serve", "%s: '%s' is not a number from %ld to %ld", a, v, lo,
                                    hi);
        if (!strcmp(a, "--port"))
          port = x;
        else if (!strcmp(a, "--queue"))
          queue = x;
        else
          concurrency = x;
      }
      continue;
    }
    r = tl_cli_setting_parse(argc, argv, &i, cli, &n_cli, MAX_CLI, "serve");
    if (r > 1)
      return r;
    if (r == 1)
      continue;
    if (a[0] == '-' && a[1])
      return tl_cli_usage_error("serve", "unknown option '%s'", a);
    if (n_src >= MAX_SRC)
      return tl_cli_usage_error("serve", "at most %d models", MAX_SRC);
    srcs[n_src++] = a;
  }
  if (!n_src)
    return tl_cli_usage_error("serve", "no model given (a GGUF file)");

  tl_error err;
  tl_error_clear(&err);
  tl_workload wl;
  if (tl_workload_preset(preset, &wl, &err))
    return tl_cli_usage_error("serve", "%s", err.message);
  if (concurrency)
    wl.concurrency = (uint32_t)concurrency;
  tl_hw *hw = calloc(1, sizeof *hw);
  int rc = TL_EXIT_OK;
  tl_server *srv = NULL;
  tl_engine_params *eps = calloc(n_src, sizeof *eps);
  if (!hw || !eps) {
    rc = tl_cli_fail("serve", "out of memory");
    goto out;
  }
  if ((rc = tl_cli_hw_resolve(&hwo, NULL, hw, "serve")))
    goto out;

  tl_server_params sp;
  tl_server_params_init(&sp);
  for (size_t k = 0; k < n_src; k++) {
    char name[128];
    const char *path;
    model_name(srcs[k], name, sizeof name, &path);
    if ((rc = resolve(path, &wl, config_file, cli, n_cli, hw, &eps[k], &sp, json)))
      goto out;
  }
  sp.host = host;
  sp.port = (uint16_t)port;
  sp.api_key = api_key;
  sp.chat_template = chat;
  sp.queue_max = (uint32_t)queue;
  sp.engine = eps[0];
  if (strcmp(host, "127.0.0.1") && strncmp(host, "127.", 4) && (!api_key || !api_key[0]))
    fprintf(stderr, "tailor serve: warning: listening on %s without --api-key: anyone who can "
                    "reach this address can use the models\n", host);

  /* Signals go to sigwait below, never to the server's threads. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);
  if (tl_server_create(&sp, &srv, &err) || tl_server_start(srv, &err)) {
    rc = tl_cli_fail("serve", "%s", err.message);
    goto out;
  }
  if (json)
    printf("{\"host\":\"%s\",\"port\":%u}\n", host, tl_server_port(srv));
  else
    printf("tailor serve: listening on http://%s:%u\n", host, tl_server_port(srv));
  fflush(stdout);
  for (size_t k = 0; k < n_src; k++) {
    char name[128];
    const char *path;
    model_name(srcs[k], name, sizeof name, &path);
    if (tl_server_model_load_params(srv, name, path, &eps[k], &err)) {
      tl_server_set_failed(srv, err.message);
      rc = tl_cli_fail("serve", "%s", err.message);
      goto out;
    }
    if (!json)
      fprintf(stderr, "tailor serve: model '%s' ready\n", name);
  }
  tl_server_set_ready(srv);
  int sig = 0;
  sigwait(&set, &sig);
  fprintf(stderr, "tailor serve: %s: draining (up to %g s)\n", sig == SIGINT ? "SIGINT" : "SIGTERM",
          drain);
  tl_server_drain(srv, (uint32_t)(drain * 1000));
out:
  tl_server_free(srv);
  free(eps);
  free(hw);
  return rc;
}

const tl_cli_command tl_cli_cmd_serve = {"serve", "serve models over an OpenAI-compatible HTTP API",
                                         help, run};
