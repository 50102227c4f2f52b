/* The plan options `tailor fit` and `tailor tune` share: runtime, context,
 * concurrency, use case, KV cache type, calibration file, catalog overlay.
 * Parsed like the hardware options: one argument at a time. */
#ifndef TAILOR_CLI_PLAN_OPTIONS_H
#define TAILOR_CLI_PLAN_OPTIONS_H

#include <stdbool.h>

#include "tailor/quant.h"
#include "tailor/tailor.h"

typedef struct tl_cli_plan_opts {
  tl_plan_settings settings;
  tl_efficiency eff;         /* defaults, overridden by --calibration */
  const char *calibration;
  const char *catalog_file;  /* --catalog */
  bool json;
} tl_cli_plan_opts;

#define TL_CLI_PLAN_OPTIONS_HELP                                                                  \
  "Plan options:\n"                                                                               \
  "  --runtime NAME     tailor (default), llama.cpp, vllm or ollama: each sizes memory its way\n" \
  "  --context N        tokens per sequence (default: the runtime's, e.g. 4096)\n"                \
  "  --concurrency N    sequences served at once, each with its own KV cache (default 1)\n"      \
  "  --use-case NAME    general, coding, reasoning, chat, multimodal, embedding (score weights)\n" \
  "  --kv-type TYPE     KV cache type: f16 (default), q8_0, q4_0, bf16, f32\n"                   \
  "  --calibration FILE efficiency constants from a calibration JSON file (tailor bench)\n"      \
  "  --catalog FILE     overlay a catalog file on the built-in one\n"                            \
  "  --json             machine-readable output (docs/json.md, \"plan\")\n"

void tl_cli_plan_opts_init(tl_cli_plan_opts *o);
/* As tl_cli_hw_parse: 1 consumed, 0 not a plan option, TL_EXIT_USAGE after a
 * usage error. */
int tl_cli_plan_parse(tl_cli_plan_opts *o, int argc, char **argv, int *i, const char *cmd);
/* Loads the calibration file (if any) and points settings.eff at it.
 * Returns an exit code. */
int tl_cli_plan_finish(tl_cli_plan_opts *o, const char *cmd);
/* The catalog: built-in, with --catalog overlaid. NULL after printing an error. */
tl_catalog *tl_cli_plan_catalog(const tl_cli_plan_opts *o, const char *cmd);
/* Matches "--name VALUE" / "--name=VALUE" (see hw-options.c). */
int tl_cli_option_value(const char *name, int argc, char **argv, int *i, const char **val, const char *cmd);
/* "8B", "1.5b", "70e9", "500M", "8000000000" -> parameters. */
bool tl_cli_parse_count(const char *s, uint64_t *out);
/* Prints bytes as "4.6 GiB" into buf. */
void tl_cli_gib(char *buf, size_t n, uint64_t bytes);

#endif
