/* Parsing and resolving the shared hardware options (see hw-options.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "hw-options.h"
#include "tailor/hooks.h"

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

static bool parse_gib(const char *s, double hi, double *out)
{
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  /* accept a trailing unit the way people write it: 64G, 64GB, 64GiB */
  if (end != s &&
      (!strcmp(end, "G") || !strcmp(end, "GB") || !strcmp(end, "GiB") || !strcmp(end, "g")))
    end += strlen(end);
  if (errno || end == s || *end || !isfinite(v) || v <= 0 || v > hi)
    return false;
  *out = v;
  return true;
}

/* Matches "--name" (value in the next argument) or "--name=value". */
static int option_value(const char *name, int argc, char **argv, int *i, const char **val,
                        const char *cmd)
{
  const char *a = argv[*i];
  size_t n = strlen(name);
  if (strncmp(a, name, n) != 0)
    return 0;
  if (a[n] == '=') {
    *val = a + n + 1;
    return 1;
  }
  if (a[n] != '\0')
    return 0;
  if (*i + 1 >= argc)
    return tl_cli_usage_error(cmd, "%s needs a value", name);
  *val = argv[++*i];
  return 1;
}

int tl_cli_hw_parse(tl_cli_hw_opts *o, int argc, char **argv, int *i, const char *cmd)
{
  const char *v = NULL;
  int r;
  if ((r = option_value("--hardware", argc, argv, i, &v, cmd)) != 0) {
    if (r == 1)
      o->hardware_file = v;
    return r;
  }
  if ((r = option_value("--gpus", argc, argv, i, &v, cmd)) != 0) {
    if (r == 1 && !parse_long(v, 1, TL_HW_MAX_GPUS, &o->gpus))
      return tl_cli_usage_error(cmd, "--gpus: '%s' is not a count from 1 to %d", v, TL_HW_MAX_GPUS);
    return r;
  }
  if ((r = option_value("--gpu", argc, argv, i, &v, cmd)) != 0) {
    if (r == 1 && !*v)
      return tl_cli_usage_error(cmd, "--gpu needs a GPU name");
    if (r == 1)
      o->gpu = v;
    return r;
  }
  if ((r = option_value("--ram", argc, argv, i, &v, cmd)) != 0) {
    if (r == 1 && !parse_gib(v, 1048576, &o->ram_gib))
      return tl_cli_usage_error(cmd, "--ram: '%s' is not a size in GiB (e.g. 64)", v);
    return r;
  }
  if ((r = option_value("--cpu-cores", argc, argv, i, &v, cmd)) != 0) {
    if (r == 1 && !parse_long(v, 1, 65536, &o->cpu_cores))
      return tl_cli_usage_error(cmd, "--cpu-cores: '%s' is not a count from 1 to 65536", v);
    return r;
  }
  if ((r = option_value("--vram", argc, argv, i, &v, cmd)) != 0) {
    if (r == 1 && !parse_gib(v, 65536, &o->vram_gib))
      return tl_cli_usage_error(cmd, "--vram: '%s' is not a size in GiB (e.g. 24)", v);
    return r;
  }
  return 0;
}

bool tl_cli_hw_given(const tl_cli_hw_opts *o)
{
  return o->hardware_file || o->gpu || o->gpus || o->ram_gib > 0 || o->cpu_cores || o->vram_gib > 0;
}

static char *read_file(const char *path, size_t *len)
{
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (!f)
    return NULL;
  size_t cap = 65536, n = 0;
  char *buf = malloc(cap);
  while (buf) {
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (n < cap)
      break;
    if (cap >= (16u << 20)) { /* a hardware file is a few KiB */
      free(buf);
      buf = NULL;
      errno = EFBIG;
      break;
    }
    char *nb = realloc(buf, cap * 2);
    if (!nb) {
      free(buf);
      buf = NULL;
      break;
    }
    buf = nb;
    cap *= 2;
  }
  if (f != stdin)
    fclose(f);
  *len = n;
  return buf;
}

int tl_cli_hw_resolve(const tl_cli_hw_opts *o, const tl_hw_probe_opts *probe_opts, tl_hw *out,
                      const char *cmd)
{
  tl_error err;
  if (o->hardware_file) {
    if (o->gpu || o->gpus || o->vram_gib > 0)
      return tl_cli_usage_error(cmd, "--hardware cannot be combined with --gpu, --gpus or --vram");
    size_t len = 0;
    char *text = read_file(o->hardware_file, &len);
    if (!text)
      return tl_cli_fail(cmd, "cannot read %s: %s", o->hardware_file, strerror(errno));
    tl_status st = tl_hw_from_json(text, len, out, &err);
    free(text);
    if (st != TL_OK)
      return tl_cli_fail(cmd, "%s: %s", o->hardware_file, err.message);
    /* a file is a described machine, whoever wrote it; --ram and
     * --cpu-cores adjust it */
    out->described = true;
    if (o->ram_gib > 0) {
      out->mem.total = out->mem.available = out->mem.cgroup_limit =
          (uint64_t)(o->ram_gib * 1073741824.0);
      out->mem.limit_source = TL_MEM_LIMIT_DESCRIBED;
    }
    if (o->cpu_cores > 0)
      out->cpu.cores = out->cpu.perf_cores = (uint32_t)o->cpu_cores;
    tl_hw_finish(out);
    return TL_EXIT_OK;
  }
  if (tl_cli_hw_given(o)) {
    if (o->gpus && !o->gpu)
      return tl_cli_usage_error(cmd, "--gpus needs --gpu NAME");
    if (o->vram_gib > 0 && !o->gpu)
      return tl_cli_usage_error(cmd, "--vram needs --gpu NAME");
    tl_hw_preset p = {o->gpu, (uint32_t)o->gpus, o->ram_gib, (uint32_t)o->cpu_cores, o->vram_gib};
    tl_status st = tl_hw_describe(&p, out, &err);
    if (st == TL_ENOTFOUND) {
      fprintf(stderr, "tailor %s: %s\n", cmd, err.message);
      fprintf(stderr,
              "Give its memory with --vram GB to describe a GPU that is not in the table.\n");
      return TL_EXIT_USAGE;
    }
    if (st != TL_OK)
      return tl_cli_usage_error(cmd, "%s", err.message);
    return TL_EXIT_OK;
  }
  if (tl_hw_probe(out, probe_opts, &err) != TL_OK)
    return tl_cli_fail(cmd, "%s", err.message);
  return TL_EXIT_OK;
}
