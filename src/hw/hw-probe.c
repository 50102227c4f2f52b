/* tl_hw_probe: runs the per-source probes in order (OS files, then hwloc
 * and cpuid on the live system, then accelerators, then bandwidth) and
 * derives the summary figures. Which sources run depends on whether a
 * sysroot is given: with one, only files are read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "hw/internal.h"

tl_status tl_hw_probe(tl_hw *out, const tl_hw_probe_opts *opts, tl_error *err)
{
  if (!out)
    return tl__error_set(err, TL_EINVAL, "hw probe: out must not be NULL");
  tl_hw_probe_opts def = {0};
  if (!opts)
    opts = &def;
  const char *root = opts->sysroot;
  if (!root) {
    const char *env = getenv("TAILOR_SYSROOT");
    if (env && *env)
      root = env;
  }
  if (root && (strcmp(root, "/") == 0 || !*root))
    root = NULL;
  tl__hw_src src = {root ? root : "", root == NULL};

  memset(out, 0, sizeof *out);
  out->schema_version = TL_HW_SCHEMA_VERSION;
  if (src.live) {
    struct utsname u;
    if (uname(&u) == 0) {
      snprintf(out->os, sizeof out->os, "%.16s %.46s", u.sysname, u.release);
      snprintf(out->hostname, sizeof out->hostname, "%.63s", u.nodename);
    }
  } else {
    char *rel = tl__hw_read(&src, "/proc/sys/kernel/osrelease", NULL);
    char *host = tl__hw_read(&src, "/proc/sys/kernel/hostname", NULL);
    char r[48] = "";
    if (rel)
      tl__hw_copy_trim(r, sizeof r, rel);
    snprintf(out->os, sizeof out->os, "Linux%s%s", r[0] ? " " : "", r);
    if (host)
      tl__hw_copy_trim(out->hostname, sizeof out->hostname, host);
    tl__free(rel);
    tl__free(host);
  }

  tl__hw_cpu_os(out, &src);
  if (src.live) {
    tl__hw_cpu_hwloc(out);
    tl__hw_cpu_isa_native(&out->cpu);
  }
  tl__hw_memory_os(out, &src);
  if (!opts->skip_gpus) {
    if (src.live)
      tl__hw_gpu_nvml(out);
    tl__hw_gpu_os(out, &src);
  }
  tl__hw_bandwidth_platform(out, &src);
  if (opts->measure_bandwidth) {
    tl_hw_finish(out); /* usable memory bounds the test buffer */
    uint32_t threads = out->cpu.cores ? out->cpu.cores : 1;
    double bw = tl__hw_bandwidth_measure(threads, out->mem.usable);
    if (bw > 0)
      out->mem.bandwidth_measured = bw;
    else
      tl__hw_warn(out, "memory bandwidth test failed (could not allocate or start threads)");
  }
  tl_hw_finish(out);
  return TL_OK;
}
