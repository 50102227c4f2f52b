/* Describing a machine that is not this one from a few numbers (a preset:
 * GPU name and count, RAM, CPU cores, VRAM for unknown GPUs). Every default
 * taken for a missing number is written to notes, so output says what was
 * assumed. The defaults are documented in docs/probe.md. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/error-int.h"
#include "hw/internal.h"

#define DEFAULT_CPU_CORES 16
#define MIN_DEFAULT_RAM_GIB 32.0

static tl_gpu_vendor vendor_from_name(const char *n)
{
  char low[128];
  size_t i = 0;
  for (; n[i] && i + 1 < sizeof low; i++)
    low[i] = (char)(n[i] >= 'A' && n[i] <= 'Z' ? n[i] + 32 : n[i]);
  low[i] = '\0';
  if (strstr(low, "nvidia"))
    return TL_GPU_NVIDIA;
  if (strstr(low, "amd") || strstr(low, "radeon"))
    return TL_GPU_AMD;
  if (strstr(low, "intel"))
    return TL_GPU_INTEL;
  if (strstr(low, "apple"))
    return TL_GPU_APPLE;
  return TL_GPU_OTHER;
}

tl_status tl_hw_describe(const tl_hw_preset *p, tl_hw *out, tl_error *err)
{
  if (!p || !out)
    return tl__error_set(err, TL_EINVAL, "hw describe: preset and out must not be NULL");
  if (!isfinite(p->ram_gib) || p->ram_gib < 0 || p->ram_gib > 1048576)
    return tl__error_set(
        err, TL_EINVAL, "hw describe: RAM %g GiB is out of range (0 < RAM <= 1048576)", p->ram_gib);
  if (!isfinite(p->vram_gib) || p->vram_gib < 0 || p->vram_gib > 65536)
    return tl__error_set(err, TL_EINVAL,
                         "hw describe: VRAM %g GiB is out of range (0 < VRAM <= 65536)",
                         p->vram_gib);
  if (p->n_gpus > TL_HW_MAX_GPUS)
    return tl__error_set(err, TL_EINVAL, "hw describe: %u GPUs is more than %d", p->n_gpus,
                         TL_HW_MAX_GPUS);
  if (p->cpu_cores > 65536)
    return tl__error_set(err, TL_EINVAL, "hw describe: %u CPU cores is out of range", p->cpu_cores);
  if (!p->gpu && p->n_gpus)
    return tl__error_set(err, TL_EINVAL, "hw describe: a GPU count needs a GPU name");
  if (!p->gpu && p->vram_gib > 0)
    return tl__error_set(err, TL_EINVAL, "hw describe: VRAM needs a GPU name");

  tl_gpu g;
  memset(&g, 0, sizeof g);
  bool have_gpu = p->gpu && *p->gpu;
  bool known = false;
  if (have_gpu) {
    tl_error e;
    tl_status st = tl_gpu_spec_find(p->gpu, &g, &e);
    known = st == TL_OK;
    if (!known && !(p->vram_gib > 0)) {
      if (err)
        *err = e;
      if (err)
        tl__error_prefix(err, "hw describe");
      return st;
    }
  }
  /* every check is done: from here on *out is written */
  static const tl_hw zero;
  tl_hw *hw = out;
  *hw = zero;
  hw->described = true;
  hw->schema_version = TL_HW_SCHEMA_VERSION;
  snprintf(hw->os, sizeof hw->os, "described");
  uint32_t n = have_gpu ? (p->n_gpus ? p->n_gpus : 1) : 0;
  if (have_gpu) {
    if (!known) {
      snprintf(g.name, sizeof g.name, "%s", p->gpu);
      g.vendor = vendor_from_name(p->gpu);
      tl__hw_note(hw, "GPU '%s' is not in the spec table: bandwidth and TFLOPS unknown", p->gpu);
    }
    if (p->vram_gib > 0) {
      g.vram_total = (uint64_t)(p->vram_gib * TL__GIB);
      if (known)
        tl__hw_note(hw, "GPU memory: %.0f GiB as given (spec: other size)", p->vram_gib);
    }
    g.vram_free = g.vram_total;
    for (uint32_t i = 0; i < n; i++) {
      tl_gpu *slot = tl__hw_gpu_add(hw);
      *slot = g;
      slot->index = (int)i;
    }
  }
  bool apple = have_gpu && g.vendor == TL_GPU_APPLE;
  double ram = p->ram_gib;
  if (ram <= 0) {
    if (apple) {
      ram = (double)g.vram_total / TL__GIB;
      tl__hw_note(hw, "RAM not given: %.0f GiB assumed (largest %s configuration); pass --ram", ram,
                  g.name);
    } else {
      double vram = 0;
      for (size_t i = 0; i < hw->n_gpus; i++)
        vram += (double)hw->gpus[i].vram_total / TL__GIB;
      ram = ceil(2 * vram / 16) * 16;
      if (ram < MIN_DEFAULT_RAM_GIB)
        ram = MIN_DEFAULT_RAM_GIB;
      tl__hw_note(
          hw,
          "RAM not given: %.0f GiB assumed (twice the GPU memory, at least %.0f GiB); pass --ram",
          ram, MIN_DEFAULT_RAM_GIB);
    }
  } else {
    hw->mem.limit_source = TL_MEM_LIMIT_DESCRIBED;
  }
  hw->mem.total = (uint64_t)(ram * TL__GIB);
  hw->mem.available = hw->mem.total;
  if (hw->mem.limit_source == TL_MEM_LIMIT_DESCRIBED)
    hw->mem.cgroup_limit = hw->mem.total;
  if (apple)
    for (size_t i = 0; i < hw->n_gpus; i++) /* unified: the GPU sees the RAM */
      hw->gpus[i].vram_total = hw->gpus[i].vram_free = hw->mem.total;

  tl_cpu *c = &hw->cpu;
  c->cores = p->cpu_cores ? p->cpu_cores : DEFAULT_CPU_CORES;
  if (!p->cpu_cores)
    tl__hw_note(hw, "CPU cores not given: %d assumed; pass --cpu-cores", DEFAULT_CPU_CORES);
  c->sockets = 1;
  c->perf_cores = c->cores;
  c->numa_nodes = 1;
  if (apple) {
    snprintf(c->vendor, sizeof c->vendor, "Apple");
    snprintf(c->model, sizeof c->model, "%s", g.name);
    snprintf(c->arch, sizeof c->arch, "aarch64");
    c->threads = c->cores;
    c->isa = TL_ISA_NEON | TL_ISA_DOTPROD;
  } else {
    snprintf(c->model, sizeof c->model, "described");
    snprintf(c->arch, sizeof c->arch, "x86_64");
    c->threads = c->cores * 2;
    c->isa = TL_ISA_SSE3 | TL_ISA_AVX | TL_ISA_AVX2 | TL_ISA_FMA | TL_ISA_F16C;
    tl__hw_note(hw, "CPU: an x86-64 CPU with AVX2 assumed; clock and bandwidth unknown");
  }
  tl_hw_finish(hw);
  return TL_OK;
}
