/* macOS: CPU, memory and the Apple GPU through sysctl and the Mach VM
 * statistics. Apple silicon GPUs share the system RAM (unified memory); the
 * GPU's figures (bandwidth, FP16 rate) come from data/gpus.json matched by
 * the chip name ("Apple M3 Max"). Sysroots are a Linux testing device and
 * are ignored here. */
#include <mach/mach.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysctl.h>
#include <sys/types.h>

#include "hw/internal.h"

static uint64_t sysctl_u64(const char *name)
{
  uint64_t v = 0;
  size_t n = sizeof v;
  if (sysctlbyname(name, &v, &n, NULL, 0) != 0)
    return 0;
  if (n == sizeof(uint32_t)) {
    uint32_t v32;
    memcpy(&v32, &v, sizeof v32);
    return v32;
  }
  return v;
}

static void sysctl_str(const char *name, char *dst, size_t size)
{
  size_t n = size;
  if (sysctlbyname(name, dst, &n, NULL, 0) != 0)
    dst[0] = '\0';
  else
    dst[size - 1] = '\0';
}

void tl__hw_cpu_os(tl_hw *hw, const tl__hw_src *src)
{
  (void)src;
  tl_cpu *c = &hw->cpu;
  sysctl_str("machdep.cpu.brand_string", c->model, sizeof c->model);
  if (!c->model[0])
    tl__hw_warn(hw, "sysctl machdep.cpu.brand_string: unavailable");
  sysctl_str("hw.machine", c->arch, sizeof c->arch);
  if (strcmp(c->arch, "arm64") == 0)
    snprintf(c->arch, sizeof c->arch, "aarch64");
  bool apple = strncmp(c->model, "Apple", 5) == 0;
  snprintf(c->vendor, sizeof c->vendor, "%s", apple ? "Apple" : "GenuineIntel");
  c->sockets = 1;
  c->cores = (uint32_t)sysctl_u64("hw.physicalcpu");
  c->threads = (uint32_t)sysctl_u64("hw.logicalcpu");
  uint64_t p = sysctl_u64("hw.perflevel0.physicalcpu"), e = sysctl_u64("hw.perflevel1.physicalcpu");
  c->perf_cores = p ? (uint32_t)p : c->cores;
  c->eff_cores = p ? (uint32_t)e : 0;
  c->l1d = sysctl_u64(p ? "hw.perflevel0.l1dcachesize" : "hw.l1dcachesize");
  c->l2 = sysctl_u64(p ? "hw.perflevel0.l2cachesize" : "hw.l2cachesize");
  c->l3 = sysctl_u64("hw.l3cachesize");
  c->numa_nodes = 1;
  uint64_t hz = sysctl_u64("hw.cpufrequency_max");
  c->max_mhz = hz ? (double)hz / 1e6 : 0;
  if (apple) {
    c->isa = TL_ISA_NEON;
    if (sysctl_u64("hw.optional.arm.FEAT_DotProd"))
      c->isa |= TL_ISA_DOTPROD;
    if (sysctl_u64("hw.optional.arm.FEAT_I8MM"))
      c->isa |= TL_ISA_I8MM;
  }
  tl__hw_cpu_estimate_flops(c, -1);
}

void tl__hw_memory_os(tl_hw *hw, const tl__hw_src *src)
{
  (void)src;
  tl_memory *m = &hw->mem;
  m->total = sysctl_u64("hw.memsize");
  vm_statistics64_data_t vs;
  mach_msg_type_number_t count = HOST_VM_INFO64_COUNT;
  if (host_statistics64(mach_host_self(), HOST_VM_INFO64, (host_info64_t)&vs, &count) ==
      KERN_SUCCESS) {
    uint64_t page = sysctl_u64("hw.pagesize");
    m->available = ((uint64_t)vs.free_count + vs.inactive_count + vs.purgeable_count) * page;
  } else {
    tl__hw_warn(hw, "host_statistics64: failed; available memory unknown");
  }
  struct xsw_usage sw;
  size_t n = sizeof sw;
  if (sysctlbyname("vm.swapusage", &sw, &n, NULL, 0) == 0) {
    m->swap_total = sw.xsu_total;
    m->swap_free = sw.xsu_avail;
  }
}

void tl__hw_gpu_os(tl_hw *hw, const tl__hw_src *src)
{
  (void)src;
  if (strcmp(hw->cpu.vendor, "Apple") != 0)
    return;
  tl_gpu *g = tl__hw_gpu_add(hw);
  if (!g)
    return;
  g->vendor = TL_GPU_APPLE;
  snprintf(g->name, sizeof g->name, "%s", hw->cpu.model);
  if (!tl__hw_gpu_fill_from_spec(g))
    tl__hw_warn(hw, "GPU '%s' is not in the spec table: bandwidth and TFLOPS unknown", g->name);
  /* unified memory: the GPU works in the system RAM */
  g->unified = true;
  g->vram_total = hw->mem.total;
  g->vram_free = hw->mem.available;
}
