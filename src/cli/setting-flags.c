/* Setting flags on a command line (--ctx-size 8192, --prefix-cache,
 * --no-mmap, -np 4 ...), as tailor config takes them, turned into CLI
 * overrides for the resolver. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "setting-flags.h"

int tl_cli_setting_parse(int argc, char **argv, int *i, tl_override *ovs, size_t *n, size_t cap,
                         const char *cmd)
{
  const char *a = argv[*i];
  char name[64];
  const char *value = NULL;
  bool negated = false;
  const char *eq = strchr(a, '=');
  size_t nl = eq ? (size_t)(eq - a) : strlen(a);
  if (nl >= sizeof name || a[0] != '-')
    return 0;
  memcpy(name, a, nl);
  name[nl] = '\0';
  if (eq)
    value = eq + 1;
  tl_setting_id id;
  bool found = tl_setting_lookup(name, &id);
  if (!found && !strncmp(name, "--no-", 5)) {
    char pos[64];
    snprintf(pos, sizeof pos, "--%s", name + 5);
    found = tl_setting_lookup(pos, &id);
    negated = found;
  }
  if (!found)
    return 0;
  bool is_bool = tl_setting_is_bool(id);
  if (negated) {
    if (!is_bool || value)
      return tl_cli_usage_error(cmd, "%s takes no value", name);
    value = "false";
  } else if (!value) {
    if (is_bool)
      value = "true";
    else if (*i + 1 < argc)
      value = argv[++*i];
    else
      return tl_cli_usage_error(cmd, "%s needs a value", name);
  }
  if (*n >= cap)
    return tl_cli_usage_error(cmd, "too many settings on the command line");
  tl_override *o = &ovs[(*n)++];
  memset(o, 0, sizeof *o);
  o->id = id;
  o->source = TL_SETSRC_CLI;
  snprintf(o->source_key, sizeof o->source_key, "%s", name);
  snprintf(o->value, sizeof o->value, "%s", value);
  return 1;
}
