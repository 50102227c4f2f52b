/* `tailor run SRC`: generate text from a prompt, or chat with -i, on the
 * built-in engine; then report load time, prompt and decode speed, and the
 * memory the engine allocated by category. Flags are named as llama.cpp's
 * llama-cli names them. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "setting-options.h"
#include "tailor/tailor.h"
#include "tailor/tokenizer.h"

static const char help[] =
    "Usage: tailor run SRC [-p PROMPT | -i] [OPTIONS] [SETTINGS]\n"
    "\n"
    "Runs a model with the built-in engine on this machine. SRC is a GGUF file.\n"
    "The settings are resolved as 'tailor config' resolves them (defaults, the model,\n"
    "this hardware, the workload preset, --config, TAILOR_* variables, then flags),\n"
    "each with its source; invalid or impossible settings stop before loading.\n"
    "With -p, prints the prompt and streams its continuation; with -i, chats (one line\n"
    "per turn, an empty line or end of input ends). At the end prints load time,\n"
    "prompt and decode speed, and memory by category next to the plan's estimate\n"
    "(to stderr).\n"
    "\n"
    "Options:\n"
    "  -p, --prompt TEXT         prompt text (default: none, generation starts after BOS)\n"
    "  -i, --interactive         chat, formatting turns with the model's chat template\n"
    "  -n, --n-predict N         tokens to generate, -1 = until end of text (default -1;\n"
    "                            in chat, per turn)\n"
    "  -s, --seed S              random seed (default: from the clock; printed)\n"
    "      --repeat-last-n N     tokens the penalties look back on (default 64)\n"
    "      --presence-penalty P  presence penalty, 0 = off (default 0)\n"
    "      --frequency-penalty F frequency penalty, 0 = off (default 0)\n"
    "      --chat-template NAME  chatml, llama3, llama2, mistral, gemma, phi3, deepseek3,\n"
    "                            deepseek2 (default: recognised from the model)\n"
    "      --preset NAME         workload preset (default: default; chat with -i)\n"
    "      --config FILE         a configuration document (tailor config --emit-config)\n"
    "      --explain             print every setting's decision before running\n"
    "      --json                print one JSON object (text, timings, memory, settings)\n"
    "  -h, --help                show this help\n"
    "\n"
    "Settings (see 'tailor help config' and docs/config.md), for example:\n"
    "  -c, --ctx-size N          context size in tokens\n"
    "  -t, --threads N           threads for generation\n"
    "  -b, --batch-size N        most prompt tokens per evaluation\n"
    "  -ub, --ubatch-size N      prompt tokens per forward step\n"
    "  -ctk, --kv-type TYPE      KV cache type: f16 or q8_0\n"
    "      --temp T              temperature, 0 = greedy\n"
    "      --top-k K, --top-p P, --min-p P, --repeat-penalty R\n";

typedef struct run_opts {
  const char *src;
  const char *preset;
  const char *config_file;
  bool explain;
  tl_override cli[64];
  size_t n_cli;
  const char *prompt;
  bool interactive;
  long n_predict;
  const char *chat_template;
  bool json;
  bool seed_given;
  tl_engine_params ep;
} run_opts;

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static bool parse_long(const char *s, long lo, long hi, long *out)
{
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi)
    return false;
  *out = v;
  return true;
}

static bool parse_u64(const char *s, uint64_t *out)
{
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s || *end || s[0] == '-')
    return false;
  *out = v;
  return true;
}

static bool parse_float(const char *s, float lo, float hi, float *out)
{
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !(v >= lo && v <= hi))
    return false;
  *out = (float)v;
  return true;
}

static int parse_args(int argc, char **argv, run_opts *o)
{
  memset(o, 0, sizeof *o);
  o->n_predict = -1;
  tl_engine_params_init(&o->ep);
  tl_sampler_params *sp = &o->ep.sampling;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    long n;
#define NEED_VALUE()                                                                               \
  do {                                                                                             \
    if (!v)                                                                                        \
      return tl_cli_usage_error("run", "%s needs a value", a);                                     \
    i++;                                                                                           \
  } while (0)
#define BAD(what) return tl_cli_usage_error("run", "%s: '%s' is not %s", a, v, what)
    if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
      NEED_VALUE();
      o->prompt = v;
    } else if (!strcmp(a, "-i") || !strcmp(a, "--interactive")) {
      o->interactive = true;
    } else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) {
      NEED_VALUE();
      if (!parse_long(v, -1, 1L << 30, &o->n_predict))
        BAD("an integer >= -1");
    } else if (!strcmp(a, "-s") || !strcmp(a, "--seed")) {
      NEED_VALUE();
      if (!parse_u64(v, &sp->seed))
        BAD("a non-negative integer");
      o->seed_given = true;
    } else if (!strcmp(a, "--repeat-last-n")) {
      NEED_VALUE();
      if (!parse_long(v, 0, 1L << 20, &n))
        BAD("a non-negative integer");
      sp->repeat_last_n = (int32_t)n;
    } else if (!strcmp(a, "--presence-penalty")) {
      NEED_VALUE();
      if (!parse_float(v, -100, 100, &sp->presence_penalty))
        BAD("a number (-100 to 100)");
    } else if (!strcmp(a, "--frequency-penalty")) {
      NEED_VALUE();
      if (!parse_float(v, -100, 100, &sp->frequency_penalty))
        BAD("a number (-100 to 100)");
    } else if (!strcmp(a, "--chat-template")) {
      NEED_VALUE();
      o->chat_template = v;
    } else if (!strcmp(a, "--json")) {
      o->json = true;
    } else if (!strcmp(a, "--explain")) {
      o->explain = true;
    } else if (!strcmp(a, "--preset")) {
      NEED_VALUE();
      o->preset = v;
    } else if (!strcmp(a, "--config")) {
      NEED_VALUE();
      o->config_file = v;
    } else if ((n = tl_cli_setting_parse(argc, argv, &i, o->cli, &o->n_cli,
                                         sizeof o->cli / sizeof o->cli[0], "run")) != 0) {
      if (n > 1)
        return (int)n;
    } else if (a[0] == '-' && a[1]) {
      return tl_cli_usage_error("run", "unknown option '%s'", a);
    } else if (!o->src) {
      o->src = a;
    } else {
      return tl_cli_usage_error("run", "unexpected argument '%s'", a);
    }
#undef NEED_VALUE
#undef BAD
  }
  if (!o->src)
    return tl_cli_usage_error("run", "no model given");
  if (o->interactive && o->prompt)
    return tl_cli_usage_error("run", "-p and -i do not go together");
  if (o->interactive && o->json)
    return tl_cli_usage_error("run", "-i and --json do not go together");
  if (!o->seed_given)
    o->ep.sampling.seed = (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);
  return TL_EXIT_OK;
}

/* Everything one run holds. */
typedef struct run {
  run_opts *o;
  const tl_config *cfg;
  const tl_plan *plan; /* the estimate for the loaded settings */
  bool has_estimate;
  tl_engine *e;
  tl_tokenizer *tk;
  tl_sampler *smp;
  tl_detok *dt;
  int32_t *toks;     /* (n_ctx) the tokens in the KV cache */
  uint32_t n_toks;
  uint32_t n_ctx;
  /* measurements */
  double t_load, t_prompt, t_decode;
  uint64_t n_prompt, n_decode;
  /* generated text of the current call, for --json and chat history */
  char *out;
  size_t out_len, out_cap;
} run;

static void out_append(run *r, const char *s, size_t n)
{
  if (r->out_len + n + 1 > r->out_cap) {
    size_t cap = (r->out_len + n + 1) * 2;
    char *p = realloc(r->out, cap);
    if (!p)
      return;
    r->out = p;
    r->out_cap = cap;
  }
  memcpy(r->out + r->out_len, s, n);
  r->out_len += n;
  r->out[r->out_len] = '\0';
}

/* Brings the cache to hold toks[0..n): keeps the common prefix, evaluates the
 * rest in batches. */
static int feed(run *r, const int32_t *toks, uint32_t n)
{
  tl_error err;
  uint32_t keep = 0;
  while (keep < n && keep < r->n_toks && r->toks[keep] == toks[keep])
    keep++;
  if (keep == n && keep > 0)
    keep--; /* re-evaluate the last token to have its logits */
  tl_engine_kv_truncate(r->e, keep);
  r->n_toks = keep;
  if (n > r->n_ctx)
    return tl_cli_fail("run", "the prompt has %u tokens, more than the context of %u", n, r->n_ctx);
  uint32_t nb = tl_engine_get_params(r->e)->n_batch;
  double t0 = now_s();
  for (uint32_t i = keep; i < n; i += nb) {
    uint32_t m = n - i < nb ? n - i : nb;
    if (tl_engine_eval(r->e, toks + i, m, &err))
      return tl_cli_fail("run", "%s", err.message);
  }
  r->t_prompt += now_s() - t0;
  r->n_prompt += n - keep;
  memcpy(r->toks + keep, toks + keep, (n - keep) * sizeof *toks);
  r->n_toks = n;
  for (uint32_t i = keep; i < n; i++)
    tl_sampler_accept(r->smp, toks[i]);
  return TL_EXIT_OK;
}

/* Samples and streams up to n_predict tokens (or to the end of text, the
 * end marker of the chat format, or a full context). */
static int generate(run *r, const char *end_marker, bool stream)
{
  tl_error err;
  const char *text;
  size_t len;
  r->out_len = 0;
  tl_detok_reset(r->dt);
  double t0 = now_s();
  for (long i = 0; r->o->n_predict < 0 || i < r->o->n_predict; i++) {
    int32_t t = tl_sampler_sample(r->smp, tl_engine_logits(r->e, -1));
    if (tl_tokenizer_is_eog(r->tk, t))
      break;
    if (end_marker) {
      const char *tt = tl_tokenizer_token_text(r->tk, t, NULL);
      if (tt && !strcmp(tt, end_marker))
        break;
    }
    tl_sampler_accept(r->smp, t);
    if (tl_detok_push(r->dt, t, &text, &len, &err) == TL_OK && len) {
      out_append(r, text, len);
      if (stream) {
        fwrite(text, 1, len, stdout);
        fflush(stdout);
      }
    }
    r->n_decode++;
    if (r->o->n_predict >= 0 && i + 1 >= r->o->n_predict)
      break; /* the last token needs no evaluation */
    if (r->n_toks >= r->n_ctx) {
      fprintf(stderr, "\n[context full: %u tokens]\n", r->n_ctx);
      break;
    }
    if (tl_engine_eval(r->e, &t, 1, &err))
      return tl_cli_fail("run", "%s", err.message);
    r->toks[r->n_toks++] = t;
  }
  tl_detok_flush(r->dt, &text, &len);
  if (len) {
    out_append(r, text, len);
    if (stream)
      fwrite(text, 1, len, stdout);
  }
  r->t_decode += now_s() - t0;
  return TL_EXIT_OK;
}

static int tokenize(run *r, const char *text, bool add_special, int32_t **ids, size_t *n)
{
  tl_error err;
  uint32_t flags = TL_TOK_PARSE_SPECIAL | (add_special ? TL_TOK_ADD_SPECIAL : 0);
  size_t need = 0;
  tl_status st = tl_tokenizer_encode(r->tk, text, strlen(text), flags, NULL, 0, &need, &err);
  if (st && st != TL_ELIMIT)
    return tl_cli_fail("run", "tokenizing the prompt: %s", err.message);
  *ids = malloc((need ? need : 1) * sizeof **ids);
  if (!*ids)
    return tl_cli_fail("run", "out of memory");
  if (tl_tokenizer_encode(r->tk, text, strlen(text), flags, *ids, need, n, &err)) {
    free(*ids);
    return tl_cli_fail("run", "tokenizing the prompt: %s", err.message);
  }
  return TL_EXIT_OK;
}

static int run_prompt(run *r)
{
  const char *prompt = r->o->prompt ? r->o->prompt : "";
  int32_t *ids;
  size_t n;
  int rc = tokenize(r, prompt, true, &ids, &n);
  if (rc)
    return rc;
  if (n == 0) {
    free(ids);
    return tl_cli_fail("run", "the prompt gives no tokens and the model adds no BOS");
  }
  rc = feed(r, ids, (uint32_t)n);
  free(ids);
  if (rc)
    return rc;
  if (!r->o->json) {
    fputs(prompt, stdout);
    fflush(stdout);
  }
  rc = generate(r, NULL, !r->o->json);
  if (!r->o->json)
    fputc('\n', stdout);
  return rc;
}

/* The chat format: --chat-template, else the one recognised in the model. */
static int chat_format(run *r, tl_chat_format *f)
{
  tl_error err;
  if (r->o->chat_template) {
    if (tl_chat_format_from_name(r->o->chat_template, f, &err))
      return tl_cli_usage_error("run", "%s", err.message);
    return TL_EXIT_OK;
  }
  const char *t;
  size_t n;
  if (!tl_gguf_get_str(tl_engine_gguf(r->e), "tokenizer.chat_template", &t, &n))
    return tl_cli_fail("run", "the model has no chat template; name one with --chat-template");
  *f = tl_chat_detect(t, n);
  if (*f == TL_CHAT_UNKNOWN)
    return tl_cli_fail("run", "the model's chat template is not one tailor recognises; name "
                       "one with --chat-template (chatml, llama3, llama2, mistral, gemma, phi3, "
                       "deepseek3, deepseek2)");
  return TL_EXIT_OK;
}

static int run_chat(run *r)
{
  tl_chat_format f;
  int rc = chat_format(r, &f);
  if (rc)
    return rc;
  fprintf(stderr, "chat template: %s; an empty line ends the chat\n", tl_chat_format_name(f));
  size_t n_msg = 0, cap_msg = 0;
  tl_chat_message *msgs = NULL;
  char line[8192];
  for (;;) {
    fputs("> ", stderr);
    if (!fgets(line, sizeof line, stdin))
      break;
    size_t ll = strlen(line);
    while (ll && (line[ll - 1] == '\n' || line[ll - 1] == '\r'))
      line[--ll] = '\0';
    if (ll == 0)
      break;
    if (n_msg + 2 > cap_msg) {
      cap_msg = cap_msg ? cap_msg * 2 : 16;
      tl_chat_message *p = realloc(msgs, cap_msg * sizeof *msgs);
      if (!p) {
        rc = tl_cli_fail("run", "out of memory");
        break;
      }
      msgs = p;
    }
    msgs[n_msg++] = (tl_chat_message){"user", strdup(line)};
    size_t need = tl_chat_render(f, msgs, n_msg, true, NULL, 0);
    char *text = malloc(need + 1);
    if (!text || !msgs[n_msg - 1].content) {
      free(text);
      rc = tl_cli_fail("run", "out of memory");
      break;
    }
    tl_chat_render(f, msgs, n_msg, true, text, need + 1);
    int32_t *ids;
    size_t n;
    rc = tokenize(r, text, true, &ids, &n);
    free(text);
    if (rc)
      break;
    rc = feed(r, ids, (uint32_t)n);
    free(ids);
    if (rc || (rc = generate(r, tl_chat_end_marker(f), true)))
      break;
    fputc('\n', stdout);
    msgs[n_msg++] = (tl_chat_message){"assistant", strdup(r->out ? r->out : "")};
  }
  for (size_t i = 0; i < n_msg; i++)
    free((char *)msgs[i].content);
  free(msgs);
  return rc;
}

static double mib(uint64_t b) { return (double)b / (1024.0 * 1024.0); }

static void report(run *r)
{
  tl_engine_mem m;
  tl_engine_memory(r->e, &m);
  double pp = r->t_prompt > 0 ? r->n_prompt / r->t_prompt : 0;
  double tg = r->t_decode > 0 ? r->n_decode / r->t_decode : 0;
  if (r->o->json) {
    json_t *j = json_pack("{s:s, s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:I, s:{s:I, s:I, s:I, s:I, s:I}}",
                          "text", r->out ? r->out : "", "n_prompt", (json_int_t)r->n_prompt,
                          "n_decode", (json_int_t)r->n_decode, "load_ms", r->t_load * 1e3,
                          "prompt_ms", r->t_prompt * 1e3, "decode_ms", r->t_decode * 1e3,
                          "prompt_tok_s", pp, "decode_tok_s", tg, "seed",
                          (json_int_t)r->o->ep.sampling.seed, "memory", "weights",
                          (json_int_t)m.weights, "kv_cache", (json_int_t)m.kv_cache, "compute",
                          (json_int_t)m.compute, "overhead", (json_int_t)m.overhead, "total",
                          (json_int_t)m.total);
    if (j && r->cfg) {
      json_t *set = json_object();
      for (int k = 0; k < TL_SET_COUNT; k++) {
        tl_setting_id id = (tl_setting_id)k;
        json_object_set_new(set, tl_setting_key(id),
                            json_pack("{s:s, s:s, s:s}", "value", tl_config_value(r->cfg, id),
                                      "source", tl_setting_source_name(tl_config_source(r->cfg, id)),
                                      "source_key", tl_config_source_key(r->cfg, id)));
      }
      json_object_set_new(j, "settings", set);
      json_object_set_new(j, "config_hash", json_string(tl_config_hash(r->cfg)));
    }
    if (j && r->has_estimate) {
      const uint64_t *b = r->plan->bytes;
      json_object_set_new(j, "estimate",
                          json_pack("{s:I, s:I, s:I, s:I, s:I}", "weights",
                                    (json_int_t)b[TL_MEM_WEIGHTS], "kv_cache",
                                    (json_int_t)b[TL_MEM_KV], "compute",
                                    (json_int_t)b[TL_MEM_COMPUTE], "overhead",
                                    (json_int_t)b[TL_MEM_OVERHEAD], "total",
                                    (json_int_t)(b[TL_MEM_WEIGHTS] + b[TL_MEM_KV] +
                                                 b[TL_MEM_COMPUTE] + b[TL_MEM_OVERHEAD])));
    }
    char *s = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    if (s)
      puts(s);
    free(s);
    json_decref(j);
    return;
  }
  const tl_engine_params *p = tl_engine_get_params(r->e);
  fprintf(stderr, "\n");
  fprintf(stderr, "load:    %8.1f ms   (ctx %u, %u threads, ubatch %u, KV %s, seed %llu)\n",
          r->t_load * 1e3, p->n_ctx, p->n_threads, p->n_ubatch,
          p->kv_type == TL_QTYPE_Q8_0 ? "q8_0" : "f16", (unsigned long long)p->sampling.seed);
  fprintf(stderr, "prompt:  %8.1f ms   %6llu tokens  %9.1f tok/s\n", r->t_prompt * 1e3,
          (unsigned long long)r->n_prompt, pp);
  fprintf(stderr, "decode:  %8.1f ms   %6llu tokens  %9.1f tok/s\n", r->t_decode * 1e3,
          (unsigned long long)r->n_decode, tg);
  fprintf(stderr, "memory:  weights %.2f MiB (mapped), KV cache %.2f MiB, compute %.2f MiB, "
          "overhead %.2f MiB, total %.2f MiB\n",
          mib(m.weights), mib(m.kv_cache), mib(m.compute), mib(m.overhead), mib(m.total));
  if (r->has_estimate) {
    const uint64_t *b = r->plan->bytes;
    uint64_t est = b[TL_MEM_WEIGHTS] + b[TL_MEM_KV] + b[TL_MEM_COMPUTE] + b[TL_MEM_OVERHEAD];
    fprintf(stderr, "estimate: weights %.2f MiB, KV cache %.2f MiB, compute %.2f MiB, overhead "
            "%.2f MiB, total %.2f MiB (measured total %+.1f%%)\n",
            mib(b[TL_MEM_WEIGHTS]), mib(b[TL_MEM_KV]), mib(b[TL_MEM_COMPUTE]),
            mib(b[TL_MEM_OVERHEAD]), mib(est),
            est ? 100.0 * ((double)m.total - (double)est) / (double)est : 0.0);
  }
}

/* In-situ quantization progress on a terminal. */
static void isq_progress(uint64_t done, uint64_t total, void *ud)
{
  (void)ud;
  if (!isatty(2) || !total)
    return;
  int pct = (int)(100.0 * (double)done / (double)total);
  fprintf(stderr, "\risq: %3d%% [%-40.*s]", pct, pct * 40 / 100,
          "########################################");
  if (done >= total)
    fputc('\n', stderr);
}

/* Resolves the settings as `tailor config` does (this machine, the workload
 * preset, --config, TAILOR_*, flags) and turns them into engine parameters. */
static int resolve(run_opts *o, tl_config **cfg, tl_model_desc **model, tl_hw *hw)
{
  tl_error err;
  tl_error_clear(&err);
  if (tl_hw_probe(hw, NULL, &err))
    return tl_cli_fail("run", "probing this machine: %s", err.message);
  if (tl_model_desc_open(o->src, NULL, TL_FTYPE_Q4_K_M, model, &err))
    return tl_cli_fail("run", "%s", err.message);
  if ((*model)->source_kind != TL_SOURCE_GGUF && (*model)->source_kind != TL_SOURCE_HF_DIR)
    return tl_cli_fail("run", "'%s' is neither a GGUF file nor a Hugging Face directory: the "
                       "engine runs those (a catalog model needs its file)", o->src);
  tl_workload wl;
  const char *preset = o->preset ? o->preset : o->interactive ? "chat" : "default";
  if (tl_workload_preset(preset, &wl, &err))
    return tl_cli_usage_error("run", "%s", err.message);
  int rc = tl_cli_config_resolve("run", *model, hw, &wl, o->config_file, o->cli, o->n_cli, cfg);
  if (rc)
    return rc;
  const tl_config *c = *cfg;
  if (strcmp(tl_config_value(c, TL_SET_BACKEND), "cpu"))
    return tl_cli_fail("run", "backend %s: this build's engine runs on the CPU",
                       tl_config_value(c, TL_SET_BACKEND));
  int64_t v;
  double d;
  tl_engine_params *ep = &o->ep;
  ep->isq_progress = isq_progress;
  if (tl_config_int(c, TL_SET_CTX_SIZE, &v))
    ep->n_ctx = (uint32_t)v;
  if (tl_config_int(c, TL_SET_THREADS, &v))
    ep->n_threads = (uint32_t)v;
  if (tl_config_int(c, TL_SET_BATCH_SIZE, &v))
    ep->n_batch = (uint32_t)(v < ep->n_ctx ? v : ep->n_ctx);
  if (tl_config_int(c, TL_SET_UBATCH_SIZE, &v))
    ep->n_ubatch = (uint32_t)(v < ep->n_batch ? v : ep->n_batch);
  ep->kv_type = !strcmp(tl_config_value(c, TL_SET_KV_TYPE), "q8_0") ? TL_QTYPE_Q8_0 : TL_QTYPE_F16;
  tl_sampler_params *sp = &ep->sampling;
  if (tl_config_double(c, TL_SET_TEMPERATURE, &d))
    sp->temp = (float)d;
  if (tl_config_int(c, TL_SET_TOP_K, &v))
    sp->top_k = (int32_t)v;
  if (tl_config_double(c, TL_SET_TOP_P, &d))
    sp->top_p = (float)d;
  if (tl_config_double(c, TL_SET_MIN_P, &d))
    sp->min_p = (float)d;
  if (tl_config_double(c, TL_SET_REPEAT_PENALTY, &d))
    sp->repeat_penalty = (float)d;
  const char *isq = tl_config_value(c, TL_SET_ISQ);
  if (strcmp(isq, "none")) {
    static const struct {
      const char *name;
      tl_qtype t;
    } isqs[] = {{"q8_0", TL_QTYPE_Q8_0}, {"q6_k", TL_QTYPE_Q6_K}, {"q5_k", TL_QTYPE_Q5_K},
                {"q4_k", TL_QTYPE_Q4_K}, {"q4_0", TL_QTYPE_Q4_0}};
    for (size_t k = 0; k < sizeof isqs / sizeof isqs[0]; k++)
      if (!strcmp(isq, isqs[k].name))
        ep->isq = isqs[k].t;
    if (!o->json)
      fprintf(stderr, "isq: quantizing unquantized weights to %s while loading (%s%s%s)\n", isq,
              tl_setting_source_name(tl_config_source(c, TL_SET_ISQ)),
              tl_config_source_key(c, TL_SET_ISQ)[0] ? ": " : "",
              tl_config_source_key(c, TL_SET_ISQ));
  }
  if (o->explain) {
    char *text = NULL;
    if (tl_config_explain(c, &text, &err) == TL_OK)
      fputs(text, stderr);
    tl_free(text);
  } else if (!o->json) {
    static const tl_setting_id shown[] = {TL_SET_CTX_SIZE,   TL_SET_THREADS,     TL_SET_BATCH_SIZE,
                                          TL_SET_UBATCH_SIZE, TL_SET_KV_TYPE,     TL_SET_TEMPERATURE,
                                          TL_SET_TOP_K,      TL_SET_TOP_P,       TL_SET_MIN_P};
    fprintf(stderr, "settings:");
    for (size_t k = 0; k < sizeof shown / sizeof shown[0]; k++)
      fprintf(stderr, " %s=%s [%s]", tl_setting_key(shown[k]), tl_config_value(c, shown[k]),
              tl_setting_source_name(tl_config_source(c, shown[k])));
    fprintf(stderr, "\n          (tailor run ... --explain, or tailor config, for the reasons)\n");
  }
  return TL_EXIT_OK;
}

/* The plan's estimate for what the engine allocates with these settings. */
static bool estimate(const tl_model_desc *m, const tl_hw *hw, const tl_engine_params *p,
                     tl_plan *plan)
{
  tl_plan_settings s;
  tl_plan_settings_init(&s);
  s.runtime = TL_RUNTIME_TAILOR;
  s.n_ctx = p->n_ctx;
  s.n_parallel = 1;
  s.n_batch = p->n_batch;
  s.n_ubatch = p->n_ubatch;
  s.n_threads = p->n_threads;
  s.kv_type_k = s.kv_type_v = p->kv_type;
  s.flash_attn = 0;
  s.mode = TL_RUN_CPU_ONLY;
  return tl_plan_estimate(m, hw, &s, plan, NULL) == TL_OK;
}

static int cmd_run(int argc, char **argv)
{
  run_opts o;
  int rc = parse_args(argc, argv, &o);
  if (rc)
    return rc;
  run r = {.o = &o};
  tl_error err;
  tl_config *cfg = NULL;
  tl_model_desc *model = NULL;
  tl_hw *hw = calloc(1, sizeof *hw);
  tl_plan *plan = calloc(1, sizeof *plan);
  if (!hw || !plan) {
    rc = tl_cli_fail("run", "out of memory");
    goto done;
  }
  if ((rc = resolve(&o, &cfg, &model, hw)))
    goto done;
  double t0 = now_s();
  if (tl_engine_load(o.src, &o.ep, &r.e, &err)) {
    rc = tl_cli_fail("run", "%s", err.message);
    goto done;
  }
  r.cfg = cfg;
  r.has_estimate = estimate(model, hw, tl_engine_get_params(r.e), plan);
  r.plan = plan;
  if (tl_tokenizer_from_gguf(tl_engine_gguf(r.e), &r.tk, &err) ||
      tl_detok_create(r.tk, 0, &r.dt, &err) ||
      tl_sampler_create(&o.ep.sampling, tl_engine_hparams(r.e)->n_vocab, &r.smp, &err)) {
    rc = tl_cli_fail("run", "%s: %s", o.src, err.message);
    goto done;
  }
  r.t_load = now_s() - t0;
  r.n_ctx = tl_engine_get_params(r.e)->n_ctx;
  r.toks = malloc(r.n_ctx * sizeof *r.toks);
  if (!r.toks) {
    rc = tl_cli_fail("run", "out of memory");
    goto done;
  }
  rc = o.interactive ? run_chat(&r) : run_prompt(&r);
  if (rc == TL_EXIT_OK)
    report(&r);
done:
  free(r.toks);
  free(r.out);
  free(hw);
  free(plan);
  tl_config_free(cfg);
  tl_model_desc_free(model);
  tl_detok_free(r.dt);
  tl_sampler_free(r.smp);
  tl_tokenizer_free(r.tk);
  tl_engine_free(r.e);
  return rc;
}

const tl_cli_command tl_cli_cmd_run = {
    .name = "run",
    .summary = "run a model: generate text or chat with the built-in engine",
    .help = help,
    .run = cmd_run,
};
