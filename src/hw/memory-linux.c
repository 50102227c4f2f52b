/* System memory from Linux files: /proc/meminfo (total, available, swap) and
 * the memory cgroup of this process (/proc/self/cgroup): v2 memory.max and
 * memory.current, or v1 memory.limit_in_bytes and memory.usage_in_bytes
 * under /sys/fs/cgroup. Decides which limit binds (tl_hw_finish computes
 * usable). Follows Documentation/admin-guide/cgroup-v2.rst and cgroup-v1/memory.rst. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc-int.h"
#include "hw/internal.h"

/* v1 reports "no limit" as a page-rounded LONG_MAX; anything this large is none. */
#define V1_UNLIMITED (1ull << 60)

static bool meminfo_kb(const char *text, const char *key, uint64_t *out)
{
  size_t n = strlen(key);
  for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
    if (strncmp(p, key, n) == 0 && p[n] == ':') {
      char *end;
      unsigned long long v = strtoull(p + n + 1, &end, 10);
      if (end == p + n + 1)
        return false;
      *out = (uint64_t)v * 1024;
      return true;
    }
  }
  return false;
}

static void read_meminfo(tl_hw *hw, const tl__hw_src *src)
{
  tl_memory *m = &hw->mem;
  char *text = tl__hw_read(src, "/proc/meminfo", NULL);
  if (!text) {
    tl__hw_warn(hw, "/proc/meminfo: missing; memory size unknown");
    return;
  }
  bool ok = meminfo_kb(text, "MemTotal", &m->total);
  if (!meminfo_kb(text, "MemAvailable", &m->available)) {
    /* kernels before 3.14: free + page cache is the nearest figure */
    uint64_t fr = 0, cached = 0, buffers = 0;
    if (meminfo_kb(text, "MemFree", &fr)) {
      meminfo_kb(text, "Cached", &cached);
      meminfo_kb(text, "Buffers", &buffers);
      m->available = fr + cached + buffers;
    } else {
      ok = false;
    }
  }
  meminfo_kb(text, "SwapTotal", &m->swap_total);
  meminfo_kb(text, "SwapFree", &m->swap_free);
  if (!ok)
    tl__hw_warn(hw, "/proc/meminfo: malformed (no MemTotal/MemAvailable)");
  tl__free(text);
}

/* A limit file: "max" (v2, none) or bytes. 1 = limit, 0 = none/missing, -1 malformed. */
static int read_limit(const tl__hw_src *src, const char *path, uint64_t *out)
{
  char *s = tl__hw_read(src, path, NULL);
  if (!s)
    return 0;
  int rc;
  char t[32];
  tl__hw_copy_trim(t, sizeof t, s);
  if (strcmp(t, "max") == 0) {
    rc = 0;
  } else {
    char *end;
    unsigned long long v = strtoull(t, &end, 10);
    rc = (end != t && *end == '\0') ? 1 : -1;
    if (rc == 1)
      *out = v;
  }
  tl__free(s);
  return rc;
}

/* The tightest limit on the path from dir up to the hierarchy root. The
 * cgroup path in /proc/self/cgroup may name directories that do not exist in
 * this mount namespace (containers see their own cgroup as the root); then
 * the root of the mount is the cgroup. */
static void walk_limit(tl_hw *hw, const tl__hw_src *src, const char *mount, const char *cgpath,
                       const char *limit_file, const char *usage_file, tl_mem_limit_source kind)
{
  tl_memory *m = &hw->mem;
  char dir[1024], path[1200];
  snprintf(dir, sizeof dir, "%s%s", mount, strcmp(cgpath, "/") == 0 ? "" : cgpath);
  if (!tl__hw_exists(src, dir))
    snprintf(dir, sizeof dir, "%s", mount);
  bool usage_read = false;
  for (;;) {
    uint64_t v = 0;
    snprintf(path, sizeof path, "%s/%s", dir, limit_file);
    int rc = read_limit(src, path, &v);
    if (rc < 0)
      tl__hw_warn(hw, "%s: malformed", path);
    else if (rc > 0 && v < V1_UNLIMITED && (m->cgroup_limit == 0 || v < m->cgroup_limit)) {
      m->cgroup_limit = v;
      m->limit_source = kind;
    }
    if (!usage_read) {
      snprintf(path, sizeof path, "%s/%s", dir, usage_file);
      uint64_t u;
      int urc = tl__hw_read_u64(src, path, &u);
      if (urc > 0)
        m->cgroup_usage = u;
      else if (urc < 0)
        tl__hw_warn(hw, "%s: malformed", path);
      usage_read = true;
    }
    if (strlen(dir) <= strlen(mount))
      break;
    char *slash = strrchr(dir, '/');
    if (!slash || slash < dir + strlen(mount))
      break;
    *slash = '\0';
  }
}

static void read_cgroup(tl_hw *hw, const tl__hw_src *src)
{
  char *text = tl__hw_read(src, "/proc/self/cgroup", NULL);
  if (!text) {
    tl__hw_warn(hw, "/proc/self/cgroup: missing; container memory limits not checked");
    return;
  }
  char v2path[512] = "", v1path[512] = "";
  bool have_v2 = false, have_v1 = false, malformed = false;
  for (char *line = text, *next; line && *line; line = next) {
    next = strchr(line, '\n');
    if (next)
      *next++ = '\0';
    char *c1 = strchr(line, ':');
    char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c1 || !c2 || c2[1] != '/') {
      malformed = true;
      continue;
    }
    *c1 = '\0';
    *c2 = '\0';
    const char *ctrls = c1 + 1, *path = c2 + 1;
    if (strcmp(line, "0") == 0 && *ctrls == '\0') {
      snprintf(v2path, sizeof v2path, "%s", path);
      have_v2 = true;
    } else {
      for (const char *p = ctrls; *p;) {
        size_t n = strcspn(p, ",");
        if (n == 6 && strncmp(p, "memory", 6) == 0) {
          snprintf(v1path, sizeof v1path, "%s", path);
          have_v1 = true;
        }
        p += n;
        if (*p == ',')
          p++;
      }
    }
  }
  tl__free(text);
  if (malformed)
    tl__hw_warn(hw, "/proc/self/cgroup: malformed line(s) ignored");
  if (have_v1 && tl__hw_exists(src, "/sys/fs/cgroup/memory")) {
    walk_limit(hw, src, "/sys/fs/cgroup/memory", v1path, "memory.limit_in_bytes",
               "memory.usage_in_bytes", TL_MEM_LIMIT_CGROUP_V1);
  } else if (have_v2) {
    /* unified hierarchy at /sys/fs/cgroup (v2 only) or /sys/fs/cgroup/unified (hybrid) */
    const char *mount = tl__hw_exists(src, "/sys/fs/cgroup/cgroup.controllers") ? "/sys/fs/cgroup"
                        : tl__hw_exists(src, "/sys/fs/cgroup/unified/cgroup.controllers")
                            ? "/sys/fs/cgroup/unified"
                            : NULL;
    if (mount)
      walk_limit(hw, src, mount, v2path, "memory.max", "memory.current", TL_MEM_LIMIT_CGROUP_V2);
    else if (!have_v1)
      tl__hw_warn(hw,
                  "/sys/fs/cgroup/cgroup.controllers: missing; cgroup memory limit not checked");
  }
}

void tl__hw_memory_os(tl_hw *hw, const tl__hw_src *src)
{
  read_meminfo(hw, src);
  read_cgroup(hw, src);
  /* A limit at or above physical RAM does not bind. */
  if (hw->mem.cgroup_limit && hw->mem.total && hw->mem.cgroup_limit >= hw->mem.total)
    hw->mem.limit_source = TL_MEM_LIMIT_NONE;
}
