/* Figures derived from the probed or described ones: usable memory and
 * which bandwidth figure the plan uses, the CPU FP32 peak estimate, the
 * recommended backend, the stable platform id and the capability summary;
 * plus the names of the hw enums. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hw/internal.h"

const char *tl_value_source_name(tl_value_source s)
{
  switch (s) {
  case TL_SRC_PROBED:
    return "probed";
  case TL_SRC_SPEC:
    return "spec";
  case TL_SRC_MEASURED:
    return "measured";
  case TL_SRC_ESTIMATED:
    return "estimated";
  case TL_SRC_DESCRIBED:
    return "described";
  case TL_SRC_UNKNOWN:
    break;
  }
  return "unknown";
}

const char *tl_mem_limit_source_name(tl_mem_limit_source s)
{
  switch (s) {
  case TL_MEM_LIMIT_CGROUP_V2:
    return "cgroup_v2";
  case TL_MEM_LIMIT_CGROUP_V1:
    return "cgroup_v1";
  case TL_MEM_LIMIT_DESCRIBED:
    return "described";
  case TL_MEM_LIMIT_NONE:
    break;
  }
  return "none";
}

const char *tl_gpu_vendor_name(tl_gpu_vendor v)
{
  switch (v) {
  case TL_GPU_NVIDIA:
    return "nvidia";
  case TL_GPU_AMD:
    return "amd";
  case TL_GPU_INTEL:
    return "intel";
  case TL_GPU_APPLE:
    return "apple";
  case TL_GPU_OTHER:
    break;
  }
  return "other";
}

static const struct {
  uint32_t bit;
  const char *name;
} isa_names[] = {
    {TL_ISA_SSE3, "sse3"},
    {TL_ISA_AVX, "avx"},
    {TL_ISA_AVX2, "avx2"},
    {TL_ISA_FMA, "fma"},
    {TL_ISA_F16C, "f16c"},
    {TL_ISA_AVX512F, "avx512f"},
    {TL_ISA_AVX512BW, "avx512bw"},
    {TL_ISA_AVX512VL, "avx512vl"},
    {TL_ISA_AVX512VNNI, "avx512vnni"},
    {TL_ISA_AVX512BF16, "avx512bf16"},
    {TL_ISA_AVX512FP16, "avx512fp16"},
    {TL_ISA_AVXVNNI, "avxvnni"},
    {TL_ISA_AMX_TILE, "amx-tile"},
    {TL_ISA_AMX_INT8, "amx-int8"},
    {TL_ISA_AMX_BF16, "amx-bf16"},
    {TL_ISA_NEON, "neon"},
    {TL_ISA_DOTPROD, "dotprod"},
    {TL_ISA_I8MM, "i8mm"},
    {TL_ISA_SVE, "sve"},
    {TL_ISA_SVE2, "sve2"},
};

void tl_cpu_isa_string(uint32_t isa, char *buf, size_t size)
{
  if (!buf || !size)
    return;
  buf[0] = '\0';
  size_t len = 0;
  for (size_t i = 0; i < sizeof isa_names / sizeof isa_names[0]; i++)
    if (isa & isa_names[i].bit)
      len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "%s%s", len ? " " : "",
                              isa_names[i].name);
}

/* Single-precision FLOP per cycle per core: FMA units x lanes x 2.
 * Intel with AVX-512: two 512-bit FMA units (64; some Xeon SKUs have one);
 * AMD Zen 4 (family 0x19) runs AVX-512 on 256-bit units (32), Zen 5 (0x1a)
 * on 512-bit (64); AVX2+FMA: two 256-bit units (32); AVX: 16; SSE: 8;
 * Arm: SVE cores (Neoverse V1/V2) 32, NEON-only cores two 128-bit units (16).
 * Apple P-cores have four 128-bit units (32), set in hw-macos.c. */
void tl__hw_cpu_estimate_flops(tl_cpu *cpu, int x86_family)
{
  double per_cycle = 0;
  bool amd = strcmp(cpu->vendor, "AuthenticAMD") == 0;
  if (cpu->isa & TL_ISA_AVX512F)
    per_cycle = amd && x86_family == 0x19 ? 32 : 64;
  else if ((cpu->isa & TL_ISA_AVX2) && (cpu->isa & TL_ISA_FMA))
    per_cycle = 32;
  else if (cpu->isa & TL_ISA_AVX)
    per_cycle = 16;
  else if (cpu->isa & TL_ISA_SSE3)
    per_cycle = 8;
  else if (strcmp(cpu->vendor, "Apple") == 0)
    per_cycle = 32;
  else if (cpu->isa & TL_ISA_SVE)
    per_cycle = 32;
  else if (cpu->isa & TL_ISA_NEON)
    per_cycle = 16;
  uint32_t cores = cpu->perf_cores ? cpu->perf_cores : cpu->cores;
  cpu->flops_f32 = per_cycle * cpu->max_mhz * 1e6 * cores;
}

static void slug(const char *in, char *out, size_t n)
{
  size_t j = 0;
  bool us = false;
  for (size_t i = 0; in[i] && j + 1 < n; i++) {
    unsigned char c = (unsigned char)in[i];
    if (isalnum(c)) {
      out[j++] = (char)tolower(c);
      us = false;
    } else if (!us && j) {
      out[j++] = '_';
      us = true;
    }
  }
  while (j && out[j - 1] == '_')
    j--;
  out[j] = '\0';
}

static void gpu_model_slug(const tl_gpu *g, char *out, size_t n)
{
  char tmp[128];
  const char *src = g->spec_id[0] ? g->spec_id : g->name;
  slug(src, tmp, sizeof tmp);
  /* drop the vendor prefix the id or name starts with */
  const char *v = tl_gpu_vendor_name(g->vendor);
  size_t vl = strlen(v);
  const char *p = tmp;
  if (strncmp(p, v, vl) == 0 && p[vl] == '_')
    p += vl + 1;
  if (strncmp(p, "geforce_", 8) == 0)
    p += 8;
  if (strncmp(p, "radeon_", 7) == 0)
    p += 7;
  size_t len = strlen(p) < n - 1 ? strlen(p) : n - 1;
  memcpy(out, p, len);
  out[len] = '\0';
}

static const char *cpu_isa_tier(const tl_cpu *c)
{
  if (c->isa & TL_ISA_AMX_TILE)
    return "amx";
  if (c->isa & TL_ISA_AVX512F)
    return "avx512";
  if (c->isa & TL_ISA_AVX2)
    return "avx2";
  if (c->isa & TL_ISA_AVX)
    return "avx";
  if (c->isa & TL_ISA_SVE2)
    return "sve2";
  if (c->isa & TL_ISA_SVE)
    return "sve";
  if (c->isa & TL_ISA_I8MM)
    return "i8mm";
  if (c->isa & TL_ISA_DOTPROD)
    return "dotprod";
  if (c->isa & TL_ISA_NEON)
    return "neon";
  if (c->isa & TL_ISA_SSE3)
    return "sse3";
  return "generic";
}

static void make_platform_id(tl_hw *hw)
{
  char id[sizeof hw->platform_id] = "";
  size_t len = 0;
  long ram_gb = lround((double)hw->mem.total / TL__GIB);
  bool done[TL_HW_MAX_GPUS] = {false};
  for (size_t i = 0; i < hw->n_gpus; i++) {
    if (done[i])
      continue;
    const tl_gpu *g = &hw->gpus[i];
    char model[96];
    gpu_model_slug(g, model, sizeof model);
    long vram = lround((double)g->vram_total / TL__GIB);
    int count = 0;
    for (size_t j = i; j < hw->n_gpus; j++) {
      const tl_gpu *h = &hw->gpus[j];
      char m2[96];
      gpu_model_slug(h, m2, sizeof m2);
      if (!done[j] && h->vendor == g->vendor && strcmp(m2, model) == 0 &&
          lround((double)h->vram_total / TL__GIB) == vram) {
        done[j] = true;
        count++;
      }
    }
    char part[160];
    if (g->vendor == TL_GPU_APPLE)
      snprintf(part, sizeof part, "apple_%s_%ldgb", model, ram_gb);
    else
      snprintf(part, sizeof part, "%s_%s_%ldgb_x%d", tl_gpu_vendor_name(g->vendor), model, vram,
               count);
    /* many distinct GPUs make a long id: it is cut at the buffer's end */
    if (len + 1 < sizeof id) {
      int w = snprintf(id + len, sizeof id - len, "%s%s", len ? "+" : "", part);
      len = w < 0 ? len : len + (size_t)w < sizeof id ? len + (size_t)w : sizeof id - 1;
    }
  }
  if (!hw->n_gpus) {
    const char *arch = hw->cpu.arch;
    const char *a = strstr(arch, "86")                                     ? "x86"
                    : (!strcmp(arch, "aarch64") || !strcmp(arch, "arm64")) ? "arm64"
                    : arch[0]                                              ? arch
                                                                           : "unknown";
    snprintf(id, sizeof id, "cpu_%s_%s_%ldgb", a, cpu_isa_tier(&hw->cpu), ram_gb);
  }
  snprintf(hw->platform_id, sizeof hw->platform_id, "%s", id);
}

static const char *pick_backend(const tl_hw *hw)
{
  bool amd = false, apple = false;
  for (size_t i = 0; i < hw->n_gpus; i++) {
    if (hw->gpus[i].vendor == TL_GPU_NVIDIA)
      return "cuda";
    amd |= hw->gpus[i].vendor == TL_GPU_AMD;
    apple |= hw->gpus[i].vendor == TL_GPU_APPLE;
  }
  return amd ? "rocm" : apple ? "metal" : "cpu";
}

void tl_hw_finish(tl_hw *hw)
{
  if (!hw)
    return;
  hw->schema_version = TL_HW_SCHEMA_VERSION;
  tl_memory *m = &hw->mem;
  uint64_t avail = m->available ? m->available : m->total;
  m->usable = avail;
  if ((m->limit_source == TL_MEM_LIMIT_CGROUP_V1 || m->limit_source == TL_MEM_LIMIT_CGROUP_V2 ||
       m->limit_source == TL_MEM_LIMIT_DESCRIBED) &&
      m->cgroup_limit) {
    uint64_t headroom = m->cgroup_limit > m->cgroup_usage ? m->cgroup_limit - m->cgroup_usage : 0;
    if (headroom < m->usable)
      m->usable = headroom;
  }
  if (m->bandwidth_spec <= 0)
    for (size_t i = 0; i < hw->n_gpus; i++)
      if (hw->gpus[i].vendor == TL_GPU_APPLE && hw->gpus[i].bandwidth > 0)
        m->bandwidth_spec = hw->gpus[i].bandwidth; /* unified: the SoC's memory */
  if (m->bandwidth_measured > 0) {
    m->bandwidth = m->bandwidth_measured;
    m->bandwidth_source = TL_SRC_MEASURED;
  } else if (m->bandwidth_source == TL_SRC_DESCRIBED && m->bandwidth > 0) {
    /* keep the described figure */
  } else if (m->bandwidth_spec > 0) {
    m->bandwidth = m->bandwidth_spec;
    if (m->bandwidth_source != TL_SRC_ESTIMATED)
      m->bandwidth_source = TL_SRC_SPEC;
  } else {
    m->bandwidth = 0;
    m->bandwidth_source = TL_SRC_UNKNOWN;
  }
  snprintf(hw->backend, sizeof hw->backend, "%s", pick_backend(hw));
  make_platform_id(hw);
}

void tl_hw_capabilities(const tl_hw *hw, char *buf, size_t size)
{
  if (!buf || !size)
    return;
  buf[0] = '\0';
  if (!hw)
    return;
  size_t len = 0;
#define ADD(...) len += (size_t)snprintf(buf + len, len < size ? size - len : 0, __VA_ARGS__)
  bool done[TL_HW_MAX_GPUS] = {false};
  bool bf16 = false, fp8 = false, unified = false;
  for (size_t i = 0; i < hw->n_gpus; i++) {
    const tl_gpu *g = &hw->gpus[i];
    bf16 |= g->bf16_flops > 0;
    fp8 |=
        g->vendor == TL_GPU_NVIDIA && (g->cc_major > 8 || (g->cc_major == 8 && g->cc_minor >= 9));
    fp8 |= g->vendor == TL_GPU_AMD && !strcmp(g->arch, "gfx942");
    unified |= g->unified;
    if (done[i])
      continue;
    int count = 0;
    for (size_t j = i; j < hw->n_gpus; j++)
      if (!done[j] && hw->gpus[j].vendor == g->vendor && !strcmp(hw->gpus[j].arch, g->arch)) {
        done[j] = true;
        count++;
      }
    const char *api = g->vendor == TL_GPU_NVIDIA  ? "cuda"
                      : g->vendor == TL_GPU_AMD   ? "rocm"
                      : g->vendor == TL_GPU_APPLE ? "metal"
                                                  : "no engine backend:";
    ADD("%s%s %s x%d", len ? ", " : "", api, g->arch[0] ? g->arch : g->name, count);
  }
  if (bf16)
    ADD("%sbf16", len ? ", " : "");
  if (fp8)
    ADD("%sfp8", len ? ", " : "");
  if (unified)
    ADD("%sunified memory", len ? ", " : "");
  const tl_cpu *c = &hw->cpu;
  const char *tier = cpu_isa_tier(c);
  ADD("%scpu %s", len ? ", " : "", tier);
  if (c->isa & (TL_ISA_AVX512VNNI | TL_ISA_AVXVNNI))
    ADD(" vnni");
  if (c->isa & TL_ISA_AVX512BF16)
    ADD(" bf16");
  if ((c->isa & TL_ISA_AMX_TILE) == 0 && (c->isa & TL_ISA_AMX_INT8))
    ADD(" amx");
  if ((c->isa & TL_ISA_F16C) && !(c->isa & TL_ISA_AVX512F))
    ADD(" f16c");
  if ((c->isa & TL_ISA_DOTPROD) && strcmp(tier, "dotprod") != 0)
    ADD(" dotprod");
  if ((c->isa & TL_ISA_I8MM) && strcmp(tier, "i8mm") != 0)
    ADD(" i8mm");
  if (c->eff_cores)
    ADD(", hybrid %u P + %u E cores", c->perf_cores, c->eff_cores);
  if (c->numa_nodes > 1)
    ADD(", %u NUMA nodes", c->numa_nodes);
  if (hw->mem.limit_source == TL_MEM_LIMIT_CGROUP_V1 ||
      hw->mem.limit_source == TL_MEM_LIMIT_CGROUP_V2)
    ADD(", container memory limit");
#undef ADD
}
