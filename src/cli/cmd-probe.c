/* `tailor probe`: the hardware side of a plan, probed from this machine or
 * described with the hardware options, as text or as the documented JSON
 * object (docs/json.md). Every figure says where it came from. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "hw-options.h"
#include "tailor/tailor.h"

static const char help[] =
    "Usage: tailor probe [--json] [--measure] [hardware options]\n"
    "\n"
    "Show what tailor knows about the machine: CPU, memory (and container limits),\n"
    "GPUs, the recommended backend and the platform id. Each figure says where it\n"
    "came from: probed (OS or driver), spec (data/gpus.json), measured, estimated or\n"
    "described.\n"
    "\n"
    "Options:\n"
    "  --json       print the hardware JSON object (docs/json.md)\n"
    "  --measure    measure memory bandwidth (multi-threaded read test, about 2 s)\n"
    "  -h, --help   show this help\n"
    "\n" TL_CLI_HW_OPTIONS_HELP "\n"
    "Environment: TAILOR_SYSROOT=DIR reads /proc and /sys under DIR;\n"
    "TAILOR_NVML_LIB=PATH loads NVML from PATH.\n"
    "Exit status: 0 success, 1 unreadable input, 2 bad usage or unknown GPU.\n";

static void gib(char *buf, size_t n, uint64_t bytes)
{
  double g = (double)bytes / 1073741824.0;
  snprintf(buf, n, g >= 100 ? "%.0f GiB" : "%.1f GiB", g);
}

static void cache(char *buf, size_t n, uint64_t bytes)
{
  if (bytes >= (1u << 20))
    snprintf(buf, n, "%.4g MiB", (double)bytes / 1048576.0);
  else
    snprintf(buf, n, "%llu KiB", (unsigned long long)(bytes >> 10));
}

static void print_text(const tl_hw *hw)
{
  char a[64], b[64], c[64];
  printf("Hardware profile (%s)\n", hw->described ? "described" : "probed");
  printf("  Platform ID     %s\n", hw->platform_id);
  printf("  Backend         %s\n", hw->backend);
  printf("System\n");
  printf("  OS              %s\n", hw->os[0] ? hw->os : "unknown");
  if (hw->hostname[0])
    printf("  Host            %s\n", hw->hostname);
  const tl_cpu *cpu = &hw->cpu;
  printf("CPU\n");
  printf("  Model           %s", cpu->model[0] ? cpu->model : "unknown");
  if (cpu->vendor[0] || cpu->arch[0])
    printf(" (%s%s%s)", cpu->vendor, cpu->vendor[0] && cpu->arch[0] ? ", " : "", cpu->arch);
  printf("\n");
  printf("  Topology        %u socket%s, %u cores, %u threads, %u NUMA node%s\n", cpu->sockets,
         cpu->sockets == 1 ? "" : "s", cpu->cores, cpu->threads, cpu->numa_nodes,
         cpu->numa_nodes == 1 ? "" : "s");
  if (cpu->eff_cores)
    printf("  Core types      %u performance + %u efficiency\n", cpu->perf_cores, cpu->eff_cores);
  char isa[512];
  tl_cpu_isa_string(cpu->isa, isa, sizeof isa);
  printf("  ISA             %s\n", isa[0] ? isa : "unknown");
  if (cpu->l1d || cpu->l2 || cpu->l3) {
    cache(a, sizeof a, cpu->l1d);
    cache(b, sizeof b, cpu->l2);
    cache(c, sizeof c, cpu->l3);
    printf("  Caches          L1d %s/core, L2 %s/core, L3 %s total\n", a, b, c);
  }
  if (cpu->max_mhz > 0)
    printf("  Clock           %.0f MHz max\n", cpu->max_mhz);
  if (cpu->flops_f32 > 0)
    printf("  FP32 peak       %.2f TFLOPS (estimated: perf cores x clock x FLOP/cycle)\n",
           cpu->flops_f32 / 1e12);
  const tl_memory *m = &hw->mem;
  printf("Memory\n");
  gib(a, sizeof a, m->total);
  gib(b, sizeof b, m->available);
  printf("  Total           %s (%s)\n", a, hw->described ? "described" : "probed");
  printf("  Available       %s\n", b);
  if (m->swap_total) {
    gib(a, sizeof a, m->swap_total);
    gib(b, sizeof b, m->swap_free);
    printf("  Swap            %s (%s free)\n", a, b);
  } else {
    printf("  Swap            none\n");
  }
  if (m->cgroup_limit && m->limit_source != TL_MEM_LIMIT_DESCRIBED) {
    gib(a, sizeof a, m->cgroup_limit);
    gib(b, sizeof b, m->cgroup_usage);
    printf("  Container limit %s (%s, %s used)%s\n", a,
           m->limit_source == TL_MEM_LIMIT_NONE ? "cgroup"
                                                : tl_mem_limit_source_name(m->limit_source),
           b, m->limit_source == TL_MEM_LIMIT_NONE ? ": above RAM, does not bind" : "");
  }
  gib(a, sizeof a, m->usable);
  const char *binds = m->limit_source == TL_MEM_LIMIT_CGROUP_V2 ? "cgroup v2 memory.max binds"
                      : m->limit_source == TL_MEM_LIMIT_CGROUP_V1
                          ? "cgroup v1 memory.limit_in_bytes binds"
                      : m->limit_source == TL_MEM_LIMIT_DESCRIBED ? "as described"
                                                                  : "physical RAM binds";
  printf("  Usable          %s (%s)\n", a, binds);
  if (m->bandwidth > 0)
    printf("  Bandwidth       %.1f GB/s (%s)\n", m->bandwidth / 1e9,
           tl_value_source_name(m->bandwidth_source));
  else
    printf("  Bandwidth       unknown (run 'tailor probe --measure')\n");
  if (m->bandwidth_measured > 0 && m->bandwidth_spec > 0)
    printf("                  platform figure %.1f GB/s, measured %.1f GB/s\n",
           m->bandwidth_spec / 1e9, m->bandwidth_measured / 1e9);
  if (hw->n_gpus == 0) {
    printf("GPUs              none\n");
  } else {
    printf("GPUs (%zu)\n", hw->n_gpus);
    for (size_t i = 0; i < hw->n_gpus; i++) {
      const tl_gpu *g = &hw->gpus[i];
      gib(a, sizeof a, g->vram_total);
      gib(b, sizeof b, g->vram_free);
      printf("  [%zu] %s (%s %d)\n", i, g->name, tl_gpu_vendor_name(g->vendor), g->index);
      printf("      Memory      %s%s, %s free\n", a, g->unified ? " unified" : "", b);
      printf("      Arch        %s", g->arch[0] ? g->arch : "unknown");
      if (g->cc_major)
        printf(" (compute capability %d.%d)", g->cc_major, g->cc_minor);
      if (g->sm_count)
        printf(", %u %s", g->sm_count,
               g->vendor == TL_GPU_NVIDIA ? "SMs"
               : g->vendor == TL_GPU_AMD  ? "CUs"
                                          : "cores");
      printf("\n");
      if (g->bandwidth > 0)
        printf("      Bandwidth   %.0f GB/s (%s)\n", g->bandwidth / 1e9,
               tl_value_source_name(g->bandwidth_source));
      else
        printf("      Bandwidth   unknown\n");
      if (g->fp16_flops > 0) {
        printf("      Compute     FP16 %.1f TFLOPS", g->fp16_flops / 1e12);
        if (g->bf16_flops > 0)
          printf(", BF16 %.1f TFLOPS", g->bf16_flops / 1e12);
        if (g->int8_ops > 0)
          printf(", INT8 %.0f TOPS", g->int8_ops / 1e12);
        printf(" dense (%s)\n", tl_value_source_name(g->flops_source));
      }
      if (g->pcie_gen)
        printf("      PCIe        gen %d x%d\n", g->pcie_gen, g->pcie_width);
      if (g->driver[0])
        printf("      Driver      %s%s%s\n", g->driver, g->cuda[0] ? ", CUDA " : "", g->cuda);
      if (g->power_limit_w > 0)
        printf("      Power limit %.0f W\n", g->power_limit_w);
      if (g->spec_id[0])
        printf("      Spec        %s\n", g->spec_id);
    }
  }
  char caps[512];
  tl_hw_capabilities(hw, caps, sizeof caps);
  printf("Capabilities      %s\n", caps);
  for (size_t i = 0; i < hw->n_notes; i++)
    printf("%s %s\n", i ? "                 " : "Notes            ", hw->notes[i]);
  for (size_t i = 0; i < hw->n_warnings; i++)
    printf("%s %s\n", i ? "                 " : "Warnings         ", hw->warnings[i]);
}

static int run(int argc, char **argv)
{
  bool json = false, measure = false;
  tl_cli_hw_opts ho = {0};
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--json")) {
      json = true;
      continue;
    }
    if (!strcmp(argv[i], "--measure")) {
      measure = true;
      continue;
    }
    int r = tl_cli_hw_parse(&ho, argc, argv, &i, "probe");
    if (r == 1)
      continue;
    if (r > 1)
      return r;
    return tl_cli_usage_error("probe", "unknown option '%s'", argv[i]);
  }
  if (measure && tl_cli_hw_given(&ho))
    return tl_cli_usage_error("probe", "--measure needs this machine (no hardware options)");
  tl_hw *hw = calloc(1, sizeof *hw);
  if (!hw)
    return tl_cli_fail("probe", "out of memory");
  tl_hw_probe_opts po = {.measure_bandwidth = measure};
  int rc = tl_cli_hw_resolve(&ho, &po, hw, "probe");
  if (rc != TL_EXIT_OK) {
    free(hw);
    return rc;
  }
  if (json) {
    char *s = NULL;
    tl_error err;
    if (tl_hw_to_json(hw, &s, &err) != TL_OK) {
      free(hw);
      return tl_cli_fail("probe", "%s", err.message);
    }
    printf("%s\n", s);
    tl_free(s);
  } else {
    print_text(hw);
  }
  free(hw);
  return TL_EXIT_OK;
}

const tl_cli_command tl_cli_cmd_probe = {
    "probe",
    "show this machine's hardware (or a described one) as tailor sees it",
    help,
    run,
};
