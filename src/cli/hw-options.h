/* The hardware options every command that plans takes: --hardware FILE.json,
 * --gpu NAME, --gpus N, --ram GB, --cpu-cores N, --vram GB. Parsing is
 * separate from resolving so a command can mix them with its own options.
 * With none given, the hardware is probed from this machine. */
#ifndef TAILOR_CLI_HW_OPTIONS_H
#define TAILOR_CLI_HW_OPTIONS_H

#include <stdbool.h>

#include "tailor/hw.h"

typedef struct tl_cli_hw_opts {
  const char *hardware_file; /* --hardware */
  const char *gpu;           /* --gpu */
  long gpus;                 /* --gpus, 0 = not given */
  double ram_gib;            /* --ram, 0 = not given */
  long cpu_cores;            /* --cpu-cores, 0 = not given */
  double vram_gib;           /* --vram, 0 = not given */
} tl_cli_hw_opts;

/* The help lines for these options, to paste into a command's help text. */
#define TL_CLI_HW_OPTIONS_HELP                                                                     \
  "Hardware (default: probe this machine):\n"                                                      \
  "  --hardware FILE    describe the machine with a hardware JSON file (tailor probe --json)\n"    \
  "  --gpu NAME         a GPU from the spec table, e.g. \"RTX 4090\", \"H100\", \"M3 Max\"\n"      \
  "  --gpus N           how many of that GPU (default 1)\n"                                        \
  "  --ram GB           system RAM in GiB (default: twice the GPU memory, at least 32)\n"          \
  "  --cpu-cores N      CPU cores (default 16)\n"                                                  \
  "  --vram GB          memory per GPU in GiB (required for a GPU not in the table)\n"

/* Tries argv[*i] as a hardware option (both "--opt VALUE" and "--opt=VALUE").
 * Returns 1 and advances *i past the value when it was one, 0 when it is not
 * a hardware option, or TL_EXIT_USAGE (> 1) after printing a usage error for
 * `cmd` (missing or malformed value). */
int tl_cli_hw_parse(tl_cli_hw_opts *o, int argc, char **argv, int *i, const char *cmd);

/* True when any hardware option was given. */
bool tl_cli_hw_given(const tl_cli_hw_opts *o);

/* Produces the hardware: the file, the described preset, or a probe of this
 * machine (probe_opts may be NULL). Returns an exit code: 0, TL_EXIT_USAGE
 * for conflicting options or an unknown GPU (close matches are printed), or
 * TL_EXIT_FAILURE for an unreadable or malformed file. */
int tl_cli_hw_resolve(const tl_cli_hw_opts *o, const tl_hw_probe_opts *probe_opts, tl_hw *out,
                      const char *cmd);

#endif
