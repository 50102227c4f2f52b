/* Entry point of the `tailor` program: global options, the command table,
 * help and version. Commands live in cmd-<name>.c. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "tailor/tailor.h"

static const tl_cli_command *const commands[] = {
    &tl_cli_cmd_probe,
    &tl_cli_cmd_inspect,
    &tl_cli_cmd_catalog,
    &tl_cli_cmd_convert,
    &tl_cli_cmd_fit,
    &tl_cli_cmd_tune,
    &tl_cli_cmd_config,
    &tl_cli_cmd_tokenize,
    &tl_cli_cmd_run,
    &tl_cli_cmd_serve,
    NULL,
};

static void log_to_stderr(tl_log_level level, const char *msg, void *ud)
{
  (void)ud;
  const char *tag = level >= TL_LOG_ERROR ? "error" : level == TL_LOG_WARN ? "warning" : "info";
  fprintf(stderr, "tailor: %s: %s\n", tag, msg);
}

void tl_cli_print_help(const tl_cli_command *cmd) { fputs(cmd->help, stdout); }

int tl_cli_usage_error(const char *cmd, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "tailor %s: ", cmd);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\nRun 'tailor help %s' for usage.\n", cmd);
  va_end(ap);
  return TL_EXIT_USAGE;
}

int tl_cli_fail(const char *cmd, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "tailor %s: ", cmd);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return TL_EXIT_FAILURE;
}

static const tl_cli_command *find_command(const char *name)
{
  for (size_t i = 0; commands[i]; i++)
    if (strcmp(commands[i]->name, name) == 0)
      return commands[i];
  return NULL;
}

static void print_usage(FILE *out)
{
  fprintf(out,
          "tailor %s - fit large language models to this machine, explain every choice, run them\n"
          "\n"
          "Usage: tailor COMMAND [OPTIONS]\n"
          "\n"
          "Commands:\n",
          tl_version());
  for (size_t i = 0; commands[i]; i++)
    fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
  fprintf(out, "  %-10s %s\n", "help", "show the help of a command: tailor help COMMAND");
  fprintf(out,
          "\n"
          "Every command takes --json for machine-readable output and --help.\n"
          "Options:\n"
          "  -h, --help     show this help\n"
          "  -V, --version  show the version\n"
          "  -v, --verbose  log what the library does (to stderr)\n");
}

int main(int argc, char **argv)
{
  tl_set_log(log_to_stderr, NULL, TL_LOG_WARN);
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      print_usage(stdout);
      return TL_EXIT_OK;
    }
    if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
      printf("tailor %s\n", tl_version());
      return TL_EXIT_OK;
    }
    if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
      tl_set_log(log_to_stderr, NULL, TL_LOG_DEBUG);
      continue;
    }
    fprintf(stderr, "tailor: unknown option '%s'\nRun 'tailor --help' for usage.\n", a);
    return TL_EXIT_USAGE;
  }
  if (i >= argc) {
    print_usage(stderr);
    return TL_EXIT_USAGE;
  }
  const char *name = argv[i];
  if (!strcmp(name, "help")) {
    if (i + 1 >= argc) {
      print_usage(stdout);
      return TL_EXIT_OK;
    }
    const tl_cli_command *cmd = find_command(argv[i + 1]);
    if (!cmd) {
      fprintf(stderr, "tailor: no command '%s'\nRun 'tailor --help' for the list.\n", argv[i + 1]);
      return TL_EXIT_USAGE;
    }
    tl_cli_print_help(cmd);
    return TL_EXIT_OK;
  }
  const tl_cli_command *cmd = find_command(name);
  if (!cmd) {
    fprintf(stderr, "tailor: no command '%s'\nRun 'tailor --help' for the list.\n", name);
    return TL_EXIT_USAGE;
  }
  for (int j = i + 1; j < argc; j++) {
    if (!strcmp(argv[j], "--"))
      break;
    if (!strcmp(argv[j], "-h") || !strcmp(argv[j], "--help")) {
      tl_cli_print_help(cmd);
      return TL_EXIT_OK;
    }
  }
  return cmd->run(argc - i, argv + i);
}
