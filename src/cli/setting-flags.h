/* Setting flags (the keys of tailor config) on a command's command line. */
#ifndef TAILOR_CLI_SETTING_FLAGS_H
#define TAILOR_CLI_SETTING_FLAGS_H

#include <stddef.h>

#include "tailor/config.h"

/* Tries argv[*i] as a setting flag: 1 when it was one (the override
 * appended to ovs, *i past its value), 0 when it is not, TL_EXIT_USAGE after
 * printing a usage error for cmd. */
int tl_cli_setting_parse(int argc, char **argv, int *i, tl_override *ovs, size_t *n, size_t cap,
                         const char *cmd);

#endif
