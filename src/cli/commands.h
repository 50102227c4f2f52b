/* The commands of the `tailor` program. Each lives in src/cli/cmd-<name>.c
 * and uses the public libtailor API only. Exit codes: 0 success, 1 bad input
 * or a failure (the message names it), 2 bad usage or an invalid setting,
 * 3 nothing fits the machine. */
#ifndef TAILOR_CLI_COMMANDS_H
#define TAILOR_CLI_COMMANDS_H

enum {
  TL_EXIT_OK = 0,
  TL_EXIT_FAILURE = 1,
  TL_EXIT_USAGE = 2,
  TL_EXIT_NOFIT = 3,
};

typedef struct tl_cli_command {
  const char *name;
  const char *summary; /* one line for `tailor --help` */
  const char *help;    /* the full text for `tailor help NAME` and `NAME --help` */
  int (*run)(int argc, char **argv); /* argv[0] is the command name */
} tl_cli_command;

extern const tl_cli_command tl_cli_cmd_tokenize;
extern const tl_cli_command tl_cli_cmd_run;

/* Prints cmd->help to stdout. */
void tl_cli_print_help(const tl_cli_command *cmd);
/* Prints "tailor NAME: message" and a hint to stderr; returns TL_EXIT_USAGE. */
int tl_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "tailor NAME: message" to stderr; returns TL_EXIT_FAILURE. */
int tl_cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

extern const tl_cli_command tl_cli_cmd_probe;
extern const tl_cli_command tl_cli_cmd_inspect;
extern const tl_cli_command tl_cli_cmd_catalog;
extern const tl_cli_command tl_cli_cmd_convert;
extern const tl_cli_command tl_cli_cmd_fit;
extern const tl_cli_command tl_cli_cmd_tune;
extern const tl_cli_command tl_cli_cmd_config;
extern const tl_cli_command tl_cli_cmd_serve;

#endif
