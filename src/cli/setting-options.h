/* The settings every command that runs or plans a model takes on its command
 * line (the flags of docs/config.md: -c, -t, -ngl, --kv-type ...), and the
 * resolution of a configuration from them, the environment (TAILOR_*) and a
 * configuration file, through the plan's memory check. */
#ifndef TAILOR_CLI_SETTING_OPTIONS_H
#define TAILOR_CLI_SETTING_OPTIONS_H

#include <stddef.h>

#include "tailor/config.h"

/* Tries argv[*i] as a setting flag ("--flag VALUE", "--flag=VALUE", a bare
 * boolean "--flag", "--no-flag"). Returns 1 and appends an override (source
 * cli) when it was one, 0 when it is not a setting flag, or TL_EXIT_USAGE (> 1)
 * after printing a usage error for `cmd`. */
int tl_cli_setting_parse(int argc, char **argv, int *i, tl_override *ovs, size_t *n, size_t cap,
                         const char *cmd);

/* Resolves the configuration of `model` on `hw` for the workload: overrides
 * from config_file (may be NULL), the environment and cli[0..n_cli), with the
 * plan's memory check. Prints the error and returns an exit code (2 for an
 * invalid setting, 3 when nothing fits, 1 otherwise); 0 with *out set. */
int tl_cli_config_resolve(const char *cmd, const tl_model_desc *model, const tl_hw *hw,
                          const tl_workload *wl, const char *config_file, const tl_override *cli,
                          size_t n_cli, tl_config **out);

#endif
