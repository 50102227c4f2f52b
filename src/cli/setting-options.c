/* Setting flags and configuration resolution shared by `tailor config`,
 * `tailor run` and `tailor serve`; see setting-options.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "setting-options.h"
#include "tailor/tailor.h"

extern char **environ;

int tl_cli_setting_parse(int argc, char **argv, int *i, tl_override *ovs, size_t *n, size_t cap,
                         const char *cmd)
{
  const char *a = argv[*i];
  if (a[0] != '-')
    return 0;
  char name[64];
  const char *value = NULL;
  bool negated = false;
  const char *eq = strchr(a, '=');
  size_t nl = eq ? (size_t)(eq - a) : strlen(a);
  if (nl >= sizeof name)
    return 0;
  memcpy(name, a, nl);
  name[nl] = '\0';
  if (eq)
    value = eq + 1;
  tl_setting_id id;
  bool found = tl_setting_lookup(name, &id) && name[0] == '-';
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

static char *read_small_file(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  size_t cap = 65536, n = 0;
  char *buf = malloc(cap);
  while (buf) {
    if (n == cap) {
      char *nb = cap < (64u << 20) ? realloc(buf, cap * 2) : NULL;
      if (!nb) { /* a configuration document is small */
        free(buf);
        buf = NULL;
        errno = EFBIG;
        break;
      }
      buf = nb;
      cap *= 2;
    }
    size_t r = fread(buf + n, 1, cap - n, f);
    if (r == 0)
      break;
    n += r;
  }
  fclose(f);
  if (buf)
    *len = n;
  return buf;
}

int tl_cli_config_resolve(const char *cmd, const tl_model_desc *model, const tl_hw *hw,
                          const tl_workload *wl, const char *config_file, const tl_override *cli,
                          size_t n_cli, tl_config **out)
{
  tl_error err;
  tl_error_clear(&err);
  tl_override *file_ovs = NULL, *env_ovs = NULL, *all = NULL;
  size_t n_file = 0, n_env = 0;
  int rc = TL_EXIT_OK;
  if (config_file) {
    size_t len = 0;
    char *t = read_small_file(config_file, &len);
    if (!t)
      return tl_cli_fail(cmd, "cannot read '%s': %s", config_file, strerror(errno));
    tl_status st = tl_config_file_parse(t, len, config_file, &file_ovs, &n_file, &err);
    free(t);
    if (st) {
      fprintf(stderr, "tailor %s: %s\n", cmd, err.message);
      return TL_EXIT_USAGE;
    }
  }
  if (tl_config_env_collect(environ, &env_ovs, &n_env, &err)) {
    rc = tl_cli_fail(cmd, "%s", err.message);
    goto out;
  }
  all = calloc(n_file + n_env + n_cli + 1, sizeof *all);
  if (!all) {
    rc = tl_cli_fail(cmd, "out of memory");
    goto out;
  }
  if (n_file)
    memcpy(all, file_ovs, n_file * sizeof *all);
  if (n_env)
    memcpy(all + n_file, env_ovs, n_env * sizeof *all);
  if (n_cli)
    memcpy(all + n_file + n_env, cli, n_cli * sizeof *all);

  tl_config_plan_ctx pctx = {model, hw, NULL};
  tl_config_inputs in;
  memset(&in, 0, sizeof in);
  in.model = model;
  in.hw = hw;
  in.workload = *wl;
  in.overrides = all;
  in.n_overrides = n_file + n_env + n_cli;
  in.fit = tl_config_plan_fit;
  in.fit_ud = &pctx;
  in.catalog_source = model->source_kind == TL_SOURCE_CATALOG;
  in.unquantized_source =
      !in.catalog_source && model->ftype_known &&
      (model->ftype == TL_FTYPE_ALL_F32 || model->ftype == TL_FTYPE_F16 ||
       model->ftype == TL_FTYPE_BF16);
  tl_status st = tl_config_resolve(&in, out, &err);
  if (st) {
    fprintf(stderr, "tailor %s: %s\n", cmd, err.message);
    rc = st == TL_ECONFIG ? TL_EXIT_USAGE : st == TL_ENOFIT ? TL_EXIT_NOFIT : TL_EXIT_FAILURE;
  }
out:
  free(all);
  tl_free(file_ovs);
  tl_free(env_ovs);
  return rc;
}
