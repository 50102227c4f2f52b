/* The CPU from Linux files: /proc/cpuinfo (vendor, model, ISA flags or
 * aarch64 Features), /sys/devices/system/cpu (online CPUs, topology, caches,
 * cpufreq, hybrid core types via /sys/devices/cpu_core|cpu_atom or
 * cpu_capacity) and /sys/devices/system/node (NUMA). This is the whole probe
 * under a recorded sysroot; on the live system hwloc and cpuid refine it
 * afterwards (cpu-hwloc.c, cpu-x86.c). Follows the kernel's sysfs ABI
 * (Documentation/ABI/testing/sysfs-devices-system-cpu). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "base/alloc-int.h"
#include "hw/internal.h"

#define MAX_CPUS 8192

typedef struct cpuinfo {
  char vendor[32], model[128];
  char flags[4096]; /* x86 "flags" or aarch64 "Features" */
  bool is_arm;
  unsigned implementer, part;
  int family;
  int n_proc;
  double mhz_max;
} cpuinfo;

static const char *field_value(const char *line)
{
  const char *c = strchr(line, ':');
  if (!c)
    return NULL;
  c++;
  while (*c == ' ' || *c == '\t')
    c++;
  return c;
}

static bool key_is(const char *line, const char *key)
{
  size_t n = strlen(key);
  if (strncmp(line, key, n) != 0)
    return false;
  const char *p = line + n;
  while (*p == ' ' || *p == '\t')
    p++;
  return *p == ':';
}

/* Parses the first processor block for identity and all blocks for counts. */
static bool parse_cpuinfo(char *text, cpuinfo *ci)
{
  memset(ci, 0, sizeof *ci);
  ci->family = -1;
  bool first = true;
  for (char *line = text, *next; line && *line; line = next) {
    next = strchr(line, '\n');
    if (next)
      *next++ = '\0';
    const char *v = field_value(line);
    if (!v)
      continue;
    if (key_is(line, "processor")) {
      if (ci->n_proc > 0)
        first = false;
      ci->n_proc++;
      continue;
    }
    if (key_is(line, "cpu MHz")) {
      double m = strtod(v, NULL);
      if (m > ci->mhz_max)
        ci->mhz_max = m;
      continue;
    }
    if (!first)
      continue;
    if (key_is(line, "vendor_id"))
      tl__hw_copy_trim(ci->vendor, sizeof ci->vendor, v);
    else if (key_is(line, "model name"))
      tl__hw_copy_trim(ci->model, sizeof ci->model, v);
    else if (key_is(line, "cpu family"))
      ci->family = atoi(v);
    else if (key_is(line, "flags"))
      tl__hw_copy_trim(ci->flags, sizeof ci->flags, v);
    else if (key_is(line, "Features")) {
      tl__hw_copy_trim(ci->flags, sizeof ci->flags, v);
      ci->is_arm = true;
    } else if (key_is(line, "CPU implementer")) {
      ci->implementer = (unsigned)strtoul(v, NULL, 0);
      ci->is_arm = true;
    } else if (key_is(line, "CPU part"))
      ci->part = (unsigned)strtoul(v, NULL, 0);
  }
  return ci->n_proc > 0 && (ci->vendor[0] || ci->is_arm);
}

static bool has_flag(const char *flags, const char *name)
{
  size_t n = strlen(name);
  for (const char *p = flags; (p = strstr(p, name)) != NULL; p += n) {
    bool start = p == flags || p[-1] == ' ';
    bool end = p[n] == '\0' || p[n] == ' ';
    if (start && end)
      return true;
  }
  return false;
}

static uint32_t isa_from_flags(const char *f, bool arm)
{
  static const struct {
    const char *name;
    uint32_t bit;
    bool arm;
  } map[] = {
      {"pni", TL_ISA_SSE3, false},
      {"avx", TL_ISA_AVX, false},
      {"avx2", TL_ISA_AVX2, false},
      {"fma", TL_ISA_FMA, false},
      {"f16c", TL_ISA_F16C, false},
      {"avx512f", TL_ISA_AVX512F, false},
      {"avx512bw", TL_ISA_AVX512BW, false},
      {"avx512vl", TL_ISA_AVX512VL, false},
      {"avx512_vnni", TL_ISA_AVX512VNNI, false},
      {"avx512_bf16", TL_ISA_AVX512BF16, false},
      {"avx_vnni", TL_ISA_AVXVNNI, false},
      {"amx_tile", TL_ISA_AMX_TILE, false},
      {"amx_int8", TL_ISA_AMX_INT8, false},
      {"amx_bf16", TL_ISA_AMX_BF16, false},
      {"avx512_fp16", TL_ISA_AVX512FP16, false},
      {"asimd", TL_ISA_NEON, true},
      {"sve", TL_ISA_SVE, true},
      {"asimddp", TL_ISA_DOTPROD, true},
      {"i8mm", TL_ISA_I8MM, true},
      {"sve2", TL_ISA_SVE2, true},
  };
  uint32_t isa = 0;
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (map[i].arm == arm && has_flag(f, map[i].name))
      isa |= map[i].bit;
  return isa;
}

/* MIDR implementer and part numbers (Arm Architecture Reference Manual, and
 * the kernel's arch/arm64/include/asm/cputype.h). */
static void arm_identity(const cpuinfo *ci, tl_cpu *cpu)
{
  static const struct {
    unsigned impl;
    const char *vendor;
  } impls[] = {{0x41, "ARM"},      {0x42, "Broadcom"},  {0x43, "Cavium"},
               {0x46, "Fujitsu"},  {0x48, "HiSilicon"}, {0x4e, "NVIDIA"},
               {0x51, "Qualcomm"}, {0x61, "Apple"},     {0xc0, "Ampere"}};
  static const struct {
    unsigned impl, part;
    const char *name;
  } parts[] = {
      {0x41, 0xd03, "Cortex-A53"},  {0x41, 0xd05, "Cortex-A55"},  {0x41, 0xd08, "Cortex-A72"},
      {0x41, 0xd0b, "Cortex-A76"},  {0x41, 0xd0c, "Neoverse-N1"}, {0x41, 0xd40, "Neoverse-V1"},
      {0x41, 0xd41, "Cortex-A78"},  {0x41, 0xd44, "Cortex-X1"},   {0x41, 0xd49, "Neoverse-N2"},
      {0x41, 0xd4f, "Neoverse-V2"}, {0x46, 0x001, "A64FX"},       {0x48, 0xd01, "Kunpeng-920"},
      {0xc0, 0xac3, "AmpereOne"}};
  const char *vendor = NULL, *part = NULL;
  for (size_t i = 0; i < sizeof impls / sizeof impls[0]; i++)
    if (impls[i].impl == ci->implementer)
      vendor = impls[i].vendor;
  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
    if (parts[i].impl == ci->implementer && parts[i].part == ci->part)
      part = parts[i].name;
  if (vendor)
    snprintf(cpu->vendor, sizeof cpu->vendor, "%s", vendor);
  else
    snprintf(cpu->vendor, sizeof cpu->vendor, "0x%02x", ci->implementer);
  if (!cpu->model[0]) {
    if (part)
      snprintf(cpu->model, sizeof cpu->model, "%s %s", cpu->vendor, part);
    else
      snprintf(cpu->model, sizeof cpu->model, "%s part 0x%03x", cpu->vendor, ci->part);
  }
}

/* Size strings in sysfs caches: "48K", "2048K", "36M". */
static uint64_t parse_size(const char *s)
{
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (end == s)
    return 0;
  if (*end == 'K')
    v <<= 10;
  else if (*end == 'M')
    v <<= 20;
  else if (*end == 'G')
    v <<= 30;
  return v;
}

typedef struct topo {
  int pkg, core;
  uint64_t capacity;
  bool have_pkg, have_core;
} topo;

static int count_cores_in(const topo *t, const uint8_t *online, const uint8_t *set, int n)
{
  /* distinct (pkg, core) pairs among the CPUs in set */
  int count = 0;
  for (int i = 0; i < n; i++) {
    if (!(online[i / 8] & (1u << (i % 8))) || !(set[i / 8] & (1u << (i % 8))))
      continue;
    bool seen = false;
    for (int j = 0; j < i && !seen; j++)
      if ((online[j / 8] & (1u << (j % 8))) && (set[j / 8] & (1u << (j % 8))) &&
          t[j].pkg == t[i].pkg && t[j].core == t[i].core)
        seen = true;
    if (!seen)
      count++;
  }
  return count;
}

static void read_caches(tl_hw *hw, const tl__hw_src *src, const uint8_t *online, int hi)
{
  tl_cpu *cpu = &hw->cpu;
  int first = -1;
  for (int i = 0; i < hi && first < 0; i++)
    if (online[i / 8] & (1u << (i % 8)))
      first = i;
  if (first < 0)
    return;
  char path[256];
  snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/cache", first);
  if (!tl__hw_exists(src, path)) {
    tl__hw_warn(hw, "%s: missing; cache sizes unknown", path);
    return;
  }
  uint64_t l3_size = 0;
  int l3_index = -1;
  for (int idx = 0; idx < 8; idx++) {
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/cache/index%d/level", first, idx);
    uint64_t level;
    int rc = tl__hw_read_u64(src, path, &level);
    if (rc == 0)
      break;
    if (rc < 0) {
      tl__hw_warn(hw, "%s: malformed", path);
      continue;
    }
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/cache/index%d/type", first, idx);
    char *type = tl__hw_read(src, path, NULL);
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/cache/index%d/size", first, idx);
    char *size = tl__hw_read(src, path, NULL);
    uint64_t bytes = size ? parse_size(size) : 0;
    if (!type || !size || bytes == 0)
      tl__hw_warn(hw, "%s: %s", path, size ? "malformed" : "missing");
    else if (level == 1 && strncmp(type, "Data", 4) == 0)
      cpu->l1d = bytes;
    else if (level == 2 && strncmp(type, "Instruction", 11) != 0)
      cpu->l2 = bytes;
    else if (level == 3) {
      l3_size = bytes;
      l3_index = idx;
    }
    tl__free(type);
    tl__free(size);
  }
  if (!l3_size || l3_index < 0)
    return;
  /* L3 instances: distinct shared_cpu_list strings over all CPUs. */
  enum { MAX_L3 = 64 };
  char *lists[MAX_L3];
  int n_lists = 0;
  for (int i = 0; i < hi; i++) {
    if (!(online[i / 8] & (1u << (i % 8))))
      continue;
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/cache/index%d/shared_cpu_list", i,
             l3_index);
    char *l = tl__hw_read(src, path, NULL);
    if (!l)
      continue;
    bool seen = false;
    for (int k = 0; k < n_lists && !seen; k++)
      seen = strcmp(lists[k], l) == 0;
    if (seen || n_lists == MAX_L3)
      tl__free(l);
    else
      lists[n_lists++] = l;
  }
  cpu->l3 = l3_size * (uint64_t)(n_lists ? n_lists : 1);
  for (int k = 0; k < n_lists; k++)
    tl__free(lists[k]);
}

/* Hybrid CPUs: Intel exposes the core PMUs /sys/devices/cpu_core and
 * /sys/devices/cpu_atom with a cpus list each; Arm big.LITTLE shows
 * different cpu_capacity values (largest = performance cores). */
static void read_hybrid(tl_hw *hw, const tl__hw_src *src, const topo *t, const uint8_t *online,
                        int hi)
{
  tl_cpu *cpu = &hw->cpu;
  uint8_t pset[MAX_CPUS / 8], eset[MAX_CPUS / 8];
  memset(pset, 0, sizeof pset);
  memset(eset, 0, sizeof eset);
  char *pc = tl__hw_read(src, "/sys/devices/cpu_core/cpus", NULL);
  char *ac = tl__hw_read(src, "/sys/devices/cpu_atom/cpus", NULL);
  if (pc && ac) {
    int np = tl__hw_parse_cpulist(pc, pset, MAX_CPUS),
        ne = tl__hw_parse_cpulist(ac, eset, MAX_CPUS);
    if (np < 0 || ne < 0) {
      tl__hw_warn(hw, "%s: malformed",
                  np < 0 ? "/sys/devices/cpu_core/cpus" : "/sys/devices/cpu_atom/cpus");
    } else {
      cpu->perf_cores = (uint32_t)count_cores_in(t, online, pset, hi);
      cpu->eff_cores = (uint32_t)count_cores_in(t, online, eset, hi);
    }
    tl__free(pc);
    tl__free(ac);
    return;
  }
  tl__free(pc);
  tl__free(ac);
  uint64_t cap_max = 0, cap_min = UINT64_MAX;
  for (int i = 0; i < hi; i++) {
    if (!(online[i / 8] & (1u << (i % 8))) || !t[i].capacity)
      continue;
    if (t[i].capacity > cap_max)
      cap_max = t[i].capacity;
    if (t[i].capacity < cap_min)
      cap_min = t[i].capacity;
  }
  if (cap_max && cap_min < cap_max) {
    for (int i = 0; i < hi; i++) {
      if (!t[i].capacity)
        continue;
      uint8_t *set = t[i].capacity == cap_max ? pset : eset;
      set[i / 8] |= (uint8_t)(1u << (i % 8));
    }
    cpu->perf_cores = (uint32_t)count_cores_in(t, online, pset, hi);
    cpu->eff_cores = (uint32_t)count_cores_in(t, online, eset, hi);
  }
}

void tl__hw_cpu_os(tl_hw *hw, const tl__hw_src *src)
{
  tl_cpu *cpu = &hw->cpu;
  cpuinfo ci;
  memset(&ci, 0, sizeof ci);
  ci.family = -1;
  char *text = tl__hw_read(src, "/proc/cpuinfo", NULL);
  bool ci_ok = false;
  if (!text)
    tl__hw_warn(hw, "/proc/cpuinfo: missing; CPU model and ISA unknown");
  else if (!(ci_ok = parse_cpuinfo(text, &ci)))
    tl__hw_warn(hw, "/proc/cpuinfo: malformed (no processor entries); CPU model and ISA unknown");
  tl__free(text);
  if (ci_ok) {
    tl__hw_copy_trim(cpu->model, sizeof cpu->model, ci.model);
    if (ci.is_arm)
      arm_identity(&ci, cpu);
    else
      tl__hw_copy_trim(cpu->vendor, sizeof cpu->vendor, ci.vendor);
    cpu->isa = isa_from_flags(ci.flags, ci.is_arm);
  }
  if (src->live) {
    struct utsname u;
    if (uname(&u) == 0)
      snprintf(cpu->arch, sizeof cpu->arch, "%.15s", u.machine);
  } else if (ci_ok) {
    snprintf(cpu->arch, sizeof cpu->arch, "%s", ci.is_arm ? "aarch64" : "x86_64");
  }

  /* online CPUs */
  uint8_t online[MAX_CPUS / 8];
  memset(online, 0, sizeof online);
  int n_online = -1;
  char *ol = tl__hw_read(src, "/sys/devices/system/cpu/online", NULL);
  if (!ol)
    tl__hw_warn(hw, "/sys/devices/system/cpu/online: missing; counting /proc/cpuinfo entries");
  else if ((n_online = tl__hw_parse_cpulist(ol, online, MAX_CPUS)) <= 0)
    tl__hw_warn(hw, "/sys/devices/system/cpu/online: malformed; counting /proc/cpuinfo entries");
  tl__free(ol);
  if (n_online <= 0) {
    n_online = ci.n_proc;
    memset(online, 0, sizeof online);
    for (int i = 0; i < n_online && i < MAX_CPUS; i++)
      online[i / 8] |= (uint8_t)(1u << (i % 8));
  }
  cpu->threads = (uint32_t)(n_online > 0 ? n_online : 0);
  int hi = 0;
  for (int i = 0; i < MAX_CPUS; i++)
    if (online[i / 8] & (1u << (i % 8)))
      hi = i + 1;

  /* topology */
  topo *t = tl__calloc((size_t)(hi ? hi : 1), sizeof *t);
  if (!t) {
    tl__hw_warn(hw, "out of memory reading the CPU topology");
    return;
  }
  bool warned = false;
  uint64_t max_khz = 0;
  char path[256];
  for (int i = 0; i < hi; i++) {
    if (!(online[i / 8] & (1u << (i % 8))))
      continue;
    uint64_t v;
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/physical_package_id", i);
    int rc = tl__hw_read_u64(src, path, &v);
    t[i].pkg = rc > 0 ? (int)v : 0;
    t[i].have_pkg = rc > 0;
    if (rc <= 0 && !warned) {
      tl__hw_warn(hw, "%s: %s; assuming one socket", path, rc < 0 ? "malformed" : "missing");
      warned = true;
    }
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/core_id", i);
    rc = tl__hw_read_u64(src, path, &v);
    t[i].core = rc > 0 ? (int)v : i; /* unknown: count each CPU as a core */
    t[i].have_core = rc > 0;
    if (rc <= 0 && !warned) {
      tl__hw_warn(hw, "%s: %s; counting each CPU as a core", path,
                  rc < 0 ? "malformed" : "missing");
      warned = true;
    }
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/cpu_capacity", i);
    if (tl__hw_read_u64(src, path, &v) > 0)
      t[i].capacity = v;
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/cpufreq/cpuinfo_max_freq", i);
    if (tl__hw_read_u64(src, path, &v) > 0 && v > max_khz)
      max_khz = v;
  }
  uint8_t all[MAX_CPUS / 8];
  memset(all, 0xff, sizeof all);
  cpu->cores = (uint32_t)count_cores_in(t, online, all, hi);
  int sockets = 0;
  for (int i = 0; i < hi; i++) {
    if (!(online[i / 8] & (1u << (i % 8))))
      continue;
    bool seen = false;
    for (int j = 0; j < i && !seen; j++)
      seen = (online[j / 8] & (1u << (j % 8))) && t[j].pkg == t[i].pkg;
    if (!seen)
      sockets++;
  }
  cpu->sockets = (uint32_t)sockets;
  cpu->perf_cores = cpu->cores;
  cpu->eff_cores = 0;
  read_hybrid(hw, src, t, online, hi);
  if (cpu->perf_cores + cpu->eff_cores == 0)
    cpu->perf_cores = cpu->cores;
  read_caches(hw, src, online, hi);
  tl__free(t);

  if (max_khz)
    cpu->max_mhz = (double)max_khz / 1000.0;
  else if (ci.mhz_max > 0) {
    cpu->max_mhz = ci.mhz_max;
    tl__hw_note(hw, "CPU clock: no cpufreq; using the current clock from /proc/cpuinfo (%.0f MHz)",
                ci.mhz_max);
  }

  /* NUMA */
  cpu->numa_nodes = 1;
  if (tl__hw_exists(src, "/sys/devices/system/node")) {
    char *nl = tl__hw_read(src, "/sys/devices/system/node/online", NULL);
    uint8_t nodes[MAX_CPUS / 8];
    memset(nodes, 0, sizeof nodes);
    int nn = nl ? tl__hw_parse_cpulist(nl, nodes, MAX_CPUS) : -1;
    if (nn > 0)
      cpu->numa_nodes = (uint32_t)nn;
    else
      tl__hw_warn(hw, "/sys/devices/system/node/online: %s; assuming one NUMA node",
                  nl ? "malformed" : "missing");
    tl__free(nl);
  }
  tl__hw_cpu_estimate_flops(cpu, ci.family);
}
