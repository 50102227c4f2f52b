/* `tailor config SRC`: resolve every setting for a model on this (or a
 * described) machine and a workload, with the source of each value; print
 * it, explain it, write the effective configuration and the decision trace,
 * and the equivalent commands for tailor, llama.cpp, vLLM and Ollama. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "hw-options.h"
#include "setting-options.h"
#include "tailor/catalog.h"
#include "tailor/config.h"
#include "tailor/tailor.h"

static const char help[] =
    "Usage: tailor config SRC [OPTIONS] [SETTINGS]\n"
    "\n"
    "Resolve every runtime setting for a model on this machine and a workload, and say where\n"
    "each value came from: default < model_metadata < hardware_capability < memory_profile <\n"
    "workload_preset < compiled_feature < config_file < env (TAILOR_*) < cli.\n"
    "SRC is a GGUF file, a Hugging Face model directory, or a catalog id (tailor catalog list).\n"
    "\n"
    "Output:\n"
    "  --explain            every decision: value, source, why, the path it took, what was rejected\n"
    "  --json               the effective configuration document (docs/config.md)\n"
    "  --emit-config FILE   write the effective configuration document to FILE\n"
    "  --emit-trace FILE    write the decisions to FILE, one JSON object per line\n"
    "  --emit TARGET        print only the command for TARGET: tailor, llama-server, llama-cli,\n"
    "                       vllm, ollama\n"
    "\n"
    "Workload:\n"
    "  --preset NAME        default, chat, server, batch, long-context, coding, reasoning, speed,\n"
    "                       quality (default: default)\n"
    "  --use-case U         general, long_context, speed, quality, coding, chat, reasoning\n"
    "  --mode M             cli, chat, server, batch\n"
    "  --concurrency N      concurrent sequences the workload needs\n"
    "  --prompt-length C    short, medium, long\n"
    "  --output-length C    short, medium, long\n"
    "  --priority P         balanced, latency, throughput\n"
    "\n"
    "Sources:\n"
    "  --config FILE        a configuration document (the --emit-config schema; only \"entries\"\n"
    "                       is required): replaying an emitted file gives the same hash\n"
    "  --catalog FILE       add catalog entries from FILE\n"
    "  TAILOR_<SETTING>     environment overrides, e.g. TAILOR_CTX_SIZE=8192\n"
    "\n"
    "Settings (each also a config-file key and a TAILOR_ variable; booleans take --X, --X=VALUE\n"
    "or --no-X):\n"
    "  --backend B, --quant Q, --isq T, -ngl/--gpu-layers N, -ts/--tensor-split A,B,\n"
    "  --cpu-moe, -t/--threads N, -tb/--threads-batch N, -c/--ctx-size N, -b/--batch-size N,\n"
    "  -ub/--ubatch-size N, -ctk/--kv-type T, -fa/--flash-attn, --mmap, --mlock,\n"
    "  -np/--parallel N, --kv-block-size N, --kv-blocks N, --max-batched-tokens N,\n"
    "  --prefix-cache, --admission A, --attn-path P, --temp T, --top-k K, --top-p P,\n"
    "  --min-p P, --repeat-penalty R\n"
    "\n" TL_CLI_HW_OPTIONS_HELP
    "\n"
    "Exit status: 0 resolved; 1 the source or a file could not be read; 2 a setting is\n"
    "malformed, out of range or impossible here (nothing is written); 3 nothing fits.\n";

static int write_file(const char *path, const char *text)
{
  FILE *f = fopen(path, "wb");
  if (!f)
    return tl_cli_fail("config", "cannot write '%s': %s", path, strerror(errno));
  size_t len = strlen(text);
  bool ok = fwrite(text, 1, len, f) == len;
  if (fclose(f) != 0 || !ok)
    return tl_cli_fail("config", "cannot write '%s': %s", path, strerror(errno));
  return TL_EXIT_OK;
}

static int run(int argc, char **argv)
{
  const char *src = NULL, *emit_config = NULL, *emit_trace = NULL, *config_file = NULL,
             *catalog_file = NULL, *emit_target = NULL, *preset = "default";
  bool json = false, explain = false;
  const char *use_case = NULL, *mode = NULL, *prompt_len = NULL, *output_len = NULL,
             *priority = NULL;
  long concurrency = 0;
  tl_cli_hw_opts hwo;
  memset(&hwo, 0, sizeof hwo);
  enum { MAX_CLI = 64 };
  tl_override cli[MAX_CLI];
  size_t n_cli = 0;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int r = tl_cli_hw_parse(&hwo, argc, argv, &i, "config");
    if (r > 1)
      return r;
    if (r == 1)
      continue;
#define VALUE_OPT(flag, var)                                                                    \
  if (!strcmp(a, flag)) {                                                                       \
    if (i + 1 >= argc)                                                                          \
      return tl_cli_usage_error("config", "%s needs a value", flag);                            \
    var = argv[++i];                                                                            \
    continue;                                                                                   \
  }
    VALUE_OPT("--emit-config", emit_config)
    VALUE_OPT("--emit-trace", emit_trace)
    VALUE_OPT("--emit", emit_target)
    VALUE_OPT("--config", config_file)
    VALUE_OPT("--catalog", catalog_file)
    VALUE_OPT("--preset", preset)
    VALUE_OPT("--use-case", use_case)
    VALUE_OPT("--mode", mode)
    VALUE_OPT("--prompt-length", prompt_len)
    VALUE_OPT("--output-length", output_len)
    VALUE_OPT("--priority", priority)
#undef VALUE_OPT
    if (!strcmp(a, "--json")) {
      json = true;
      continue;
    }
    if (!strcmp(a, "--explain")) {
      explain = true;
      continue;
    }
    if (!strcmp(a, "--concurrency")) {
      if (i + 1 >= argc)
        return tl_cli_usage_error("config", "--concurrency needs a value");
      char *end;
      errno = 0;
      concurrency = strtol(argv[++i], &end, 10);
      if (errno || *end || concurrency < 1 || concurrency > 4096)
        return tl_cli_usage_error("config", "--concurrency: '%s' is not a count from 1 to 4096",
                                  argv[i]);
      continue;
    }
    r = tl_cli_setting_parse(argc, argv, &i, cli, &n_cli, MAX_CLI, "config");
    if (r > 1)
      return r;
    if (r == 1)
      continue;
    if (a[0] == '-' && a[1])
      return tl_cli_usage_error("config", "unknown option '%s'", a);
    if (src)
      return tl_cli_usage_error("config", "one SRC only (got '%s' and '%s')", src, a);
    src = a;
  }
  if (!src)
    return tl_cli_usage_error("config", "no model given (a GGUF file, a Hugging Face directory "
                                        "or a catalog id)");

  tl_error err;
  tl_error_clear(&err);
  tl_workload wl;
  if (tl_workload_preset(preset, &wl, &err))
    return tl_cli_usage_error("config", "%s", err.message);
  if (use_case && !tl_workload_use_parse(use_case, &wl.use_case))
    return tl_cli_usage_error("config", "--use-case: no use case '%s'", use_case);
  if (mode && !tl_serving_mode_parse(mode, &wl.mode))
    return tl_cli_usage_error("config", "--mode: no mode '%s'", mode);
  if (prompt_len && !tl_length_class_parse(prompt_len, &wl.prompt_len))
    return tl_cli_usage_error("config", "--prompt-length: no length class '%s'", prompt_len);
  if (output_len && !tl_length_class_parse(output_len, &wl.output_len))
    return tl_cli_usage_error("config", "--output-length: no length class '%s'", output_len);
  if (priority && !tl_priority_parse(priority, &wl.priority))
    return tl_cli_usage_error("config", "--priority: no priority '%s'", priority);
  if (concurrency)
    wl.concurrency = (uint32_t)concurrency;

  int rc = TL_EXIT_OK;
  tl_hw *hw = NULL;
  tl_catalog *cat = NULL;
  tl_model_desc *model = NULL;
  tl_config *cfg = NULL;
  char *doc = NULL, *trace = NULL, *text = NULL;

  hw = calloc(1, sizeof *hw);
  if (!hw) {
    rc = tl_cli_fail("config", "out of memory");
    goto out;
  }
  rc = tl_cli_hw_resolve(&hwo, NULL, hw, "config");
  if (rc)
    goto out;

  /* The catalog is needed for catalog ids only: a file or directory opens without it. */
  if ((access(src, F_OK) != 0 || catalog_file) &&
      (tl_catalog_load_user(&cat, &err) ||
       (catalog_file && tl_catalog_add_file(cat, catalog_file, &err)))) {
    rc = tl_cli_fail("config", "%s", err.message);
    goto out;
  }
  if (tl_model_desc_open(src, cat, TL_FTYPE_Q4_K_M, &model, &err)) {
    rc = tl_cli_fail("config", "%s", err.message);
    goto out;
  }
  rc = tl_cli_config_resolve("config", model, hw, &wl, config_file, cli, n_cli, &cfg);
  if (rc)
    goto out;

  if (tl_config_to_json(cfg, &doc, &err) || tl_config_trace_jsonl(cfg, &trace, &err)) {
    rc = tl_cli_fail("config", "%s", err.message);
    goto out;
  }
  if (emit_config && (rc = write_file(emit_config, doc)))
    goto out;
  if (emit_trace && (rc = write_file(emit_trace, trace)))
    goto out;

  const char *model_arg = src;
  if (emit_target) {
    tl_emit_target t = TL_EMIT_COUNT;
    for (int k = 0; k < TL_EMIT_COUNT; k++)
      if (!strcmp(emit_target, tl_emit_target_name((tl_emit_target)k)))
        t = (tl_emit_target)k;
    if (t == TL_EMIT_COUNT) {
      rc = tl_cli_usage_error("config", "--emit: no target '%s' (tailor, llama-server, llama-cli, "
                                        "vllm, ollama)", emit_target);
      goto out;
    }
    if (tl_config_emit(cfg, t, model_arg, &text, &err)) {
      rc = tl_cli_fail("config", "%s", err.message);
      goto out;
    }
    fputs(text, stdout);
    goto out;
  }
  if (json) {
    fputs(doc, stdout);
    fputc('\n', stdout);
    goto out;
  }
  if (explain) {
    if (tl_config_explain(cfg, &text, &err)) {
      rc = tl_cli_fail("config", "%s", err.message);
      goto out;
    }
    fputs(text, stdout);
  } else {
    printf("Configuration for %s on %s (sha256:%.16s...)\n\n", model->name[0] ? model->name : src,
           hw->platform_id, tl_config_hash(cfg));
    for (int k = 0; k < TL_SET_COUNT; k++) {
      tl_setting_id id = (tl_setting_id)k;
      const char *v = tl_config_value(cfg, id);
      printf("  %-19s %-14s %s%s%s%s\n", tl_setting_key(id), v[0] ? v : "-",
             tl_setting_source_name(tl_config_source(cfg, id)),
             tl_config_source_key(cfg, id)[0] ? " (" : "", tl_config_source_key(cfg, id),
             tl_config_source_key(cfg, id)[0] ? ")" : "");
    }
    printf("\nRun 'tailor config %s --explain' for the reasons.\n", src);
  }
  printf("\nCommands:\n");
  for (int k = 0; k < TL_EMIT_COUNT; k++) {
    char *cmd = NULL;
    tl_error e2;
    if (tl_config_emit(cfg, (tl_emit_target)k, model_arg, &cmd, &e2)) {
      printf("  %s: not applicable: %s\n", tl_emit_target_name((tl_emit_target)k), e2.message);
      continue;
    }
    if (k == TL_EMIT_OLLAMA_MODELFILE) {
      printf("  Ollama Modelfile:\n");
      for (char *line = cmd; *line;) {
        char *nl = strchr(line, '\n');
        printf("    %.*s\n", nl ? (int)(nl - line) : (int)strlen(line), line);
        if (!nl)
          break;
        line = nl + 1;
      }
    } else {
      printf("  %s", cmd);
    }
    tl_free(cmd);
  }
out:
  tl_free(text);
  tl_free(doc);
  tl_free(trace);
  tl_config_free(cfg);
  tl_model_desc_free(model);
  tl_catalog_free(cat);
  free(hw);
  return rc;
}

const tl_cli_command tl_cli_cmd_config = {"config", "resolve every setting and say where it came from",
                                          help, run};
