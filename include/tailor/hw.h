/* The hardware side of a plan: CPU, memory and accelerators, either probed
 * from this machine or described (a --hardware JSON file, or presets such as
 * --gpu "RTX 4090" --gpus 2). All sizes in bytes, bandwidths in bytes/s,
 * compute in FLOP/s. A field that could not be read is 0 (or "") and the
 * reason is in tl_hw.warnings. */
#ifndef TAILOR_HW_H
#define TAILOR_HW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tailor/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Instruction-set features that matter for inference kernels (bit flags). */
enum {
  TL_ISA_SSE3 = 1u << 0,
  TL_ISA_AVX = 1u << 1,
  TL_ISA_AVX2 = 1u << 2,
  TL_ISA_FMA = 1u << 3,
  TL_ISA_F16C = 1u << 4,
  TL_ISA_AVX512F = 1u << 5,
  TL_ISA_AVX512BW = 1u << 6,
  TL_ISA_AVX512VL = 1u << 7,
  TL_ISA_AVX512VNNI = 1u << 8,
  TL_ISA_AVX512BF16 = 1u << 9,
  TL_ISA_AVXVNNI = 1u << 10,
  TL_ISA_AMX_TILE = 1u << 11,
  TL_ISA_AMX_INT8 = 1u << 12,
  TL_ISA_AMX_BF16 = 1u << 13,
  TL_ISA_NEON = 1u << 14,
  TL_ISA_SVE = 1u << 15,
  TL_ISA_DOTPROD = 1u << 16,
  TL_ISA_I8MM = 1u << 17,
  TL_ISA_SVE2 = 1u << 18,
  TL_ISA_AVX512FP16 = 1u << 19,
};

typedef struct tl_cpu {
  char vendor[32];       /* "GenuineIntel", "AuthenticAMD", "ARM", "Apple" */
  char model[128];       /* "Intel(R) Xeon(R) Platinum 8480+" */
  char arch[16];         /* "x86_64", "aarch64" */
  uint32_t sockets;
  uint32_t cores;        /* physical cores, all sockets */
  uint32_t threads;      /* logical CPUs online */
  uint32_t perf_cores;   /* performance cores (== cores on non-hybrid CPUs) */
  uint32_t eff_cores;    /* efficiency cores on hybrid CPUs, else 0 */
  uint32_t isa;          /* TL_ISA_* bits */
  uint64_t l1d;          /* bytes per core */
  uint64_t l2;           /* bytes per core (or per cluster where shared) */
  uint64_t l3;           /* bytes, total */
  uint32_t numa_nodes;
  double max_mhz;        /* 0 when unknown */
  double flops_f32;      /* FLOP/s estimate for all performance cores (FMA width x clock x cores) */
} tl_cpu;

typedef enum tl_mem_limit_source {
  TL_MEM_LIMIT_NONE = 0,      /* physical RAM binds */
  TL_MEM_LIMIT_CGROUP_V2 = 1, /* memory.max */
  TL_MEM_LIMIT_CGROUP_V1 = 2, /* memory.limit_in_bytes */
  TL_MEM_LIMIT_DESCRIBED = 3, /* given by the user (--ram / --hardware) */
} tl_mem_limit_source;

typedef enum tl_value_source {
  TL_SRC_UNKNOWN = 0,
  TL_SRC_PROBED = 1,   /* read from the OS or a driver */
  TL_SRC_SPEC = 2,     /* data/gpus.json or a platform table */
  TL_SRC_MEASURED = 3, /* measured by tailor (probe --measure) */
  TL_SRC_ESTIMATED = 4,/* computed from other figures */
  TL_SRC_DESCRIBED = 5,/* given by the user */
} tl_value_source;

typedef struct tl_memory {
  uint64_t total;          /* physical RAM */
  uint64_t available;      /* MemAvailable */
  uint64_t swap_total;
  uint64_t swap_free;
  uint64_t cgroup_limit;   /* 0 when none */
  uint64_t cgroup_usage;   /* current usage charged to the cgroup */
  tl_mem_limit_source limit_source;
  uint64_t usable;         /* what a model may use now: min(available, limit - usage) */
  double bandwidth;        /* bytes/s used by the plan */
  tl_value_source bandwidth_source;
  double bandwidth_spec;     /* from the platform, 0 when unknown */
  double bandwidth_measured; /* from --measure, 0 when not measured */
} tl_memory;

typedef enum tl_gpu_vendor {
  TL_GPU_NVIDIA = 0,
  TL_GPU_AMD = 1,
  TL_GPU_INTEL = 2,
  TL_GPU_APPLE = 3,
  TL_GPU_OTHER = 4,
} tl_gpu_vendor;

typedef struct tl_gpu {
  tl_gpu_vendor vendor;
  char name[128];          /* "NVIDIA H100 80GB HBM3" */
  char uuid[80];
  char spec_id[64];        /* the matched data/gpus.json id, "" if none */
  char arch[32];           /* "sm_90", "gfx1100", "Xe-HPG", "apple-m3" */
  int cc_major, cc_minor;  /* CUDA compute capability, 0 elsewhere */
  uint32_t sm_count;       /* SMs / CUs / cores */
  uint64_t vram_total;
  uint64_t vram_free;      /* free now: other processes count */
  bool unified;            /* shares system RAM (Apple, APUs, GH200 C2C) */
  uint32_t bus_width;      /* bits */
  uint32_t mem_clock_mhz;
  double bandwidth;        /* bytes/s, peak */
  tl_value_source bandwidth_source;
  double fp16_flops;       /* dense FP16 FLOP/s (tensor cores) */
  double bf16_flops;
  double int8_ops;         /* dense INT8 OP/s */
  tl_value_source flops_source;
  int pcie_gen, pcie_width;
  char driver[32];         /* driver version */
  char cuda[16];           /* CUDA driver API version "12.4" */
  double power_limit_w;
  int index;               /* device index in its API */
} tl_gpu;

#define TL_HW_MAX_GPUS 64
#define TL_HW_MAX_WARNINGS 64
#define TL_HW_MAX_NOTES 16

typedef struct tl_hw {
  int schema_version;      /* TL_HW_SCHEMA_VERSION */
  bool described;          /* true: not probed from this machine */
  char platform_id[96];    /* stable id: "nvidia_h100_80gb_x1", "cpu_x86_avx512_24gb" */
  char os[64];             /* "Linux 6.1.0" */
  char hostname[64];
  tl_cpu cpu;
  tl_memory mem;
  size_t n_gpus;
  tl_gpu gpus[TL_HW_MAX_GPUS];
  size_t n_warnings;
  char warnings[TL_HW_MAX_WARNINGS][256]; /* one line each, naming the file or call */
  char backend[16];        /* recommended engine backend: "cuda", "rocm", "metal", "cpu" */
  size_t n_notes;
  char notes[TL_HW_MAX_NOTES][256]; /* assumptions made, e.g. defaults of a described machine */
} tl_hw;

#define TL_HW_SCHEMA_VERSION 1

/* ---- probing this machine ------------------------------------------------ */

typedef struct tl_hw_probe_opts {
  bool measure_bandwidth; /* run the memory read test (multi-threaded, at most 2 s) */
  bool skip_gpus;         /* do not look for accelerators */
  const char *sysroot;    /* read /proc and /sys under this directory instead of "/"
                             (NULL: $TAILOR_SYSROOT when set). With a sysroot, hwloc,
                             cpuid, uname and NVML are not consulted: the files alone
                             drive the probe, so recorded trees reproduce a machine. */
} tl_hw_probe_opts;

/* Probes this machine into *out (opts may be NULL: defaults). A file or call
 * that cannot be read is not an error: the field stays 0 and one line naming
 * it goes to out->warnings (and to the log at WARN). No GPU is normal.
 * NVIDIA GPUs come from NVML loaded at run time ($TAILOR_NVML_LIB overrides
 * "libnvidia-ml.so.1"). Returns TL_OK, or TL_EINVAL for a NULL out. Not
 * thread-safe with itself (NVML init/shutdown). */
tl_status tl_hw_probe(tl_hw *out, const tl_hw_probe_opts *opts, tl_error *err);

/* Recomputes the derived fields (platform_id, backend, mem.usable, mem.bandwidth
 * choice) after the caller changed figures. */
void tl_hw_finish(tl_hw *hw);

/* ---- describing another machine -------------------------------------------- */

/* A machine given by a few numbers (`--gpu "RTX 4090" --gpus 2 --ram 64`).
 * Zero or NULL means "not given": a stated default is used and a line in
 * notes says so. */
typedef struct tl_hw_preset {
  const char *gpu;     /* name or id looked up in data/gpus.json; NULL: no GPU */
  uint32_t n_gpus;     /* 0: 1 when gpu is given */
  double ram_gib;      /* system RAM in GiB; 0: default (see docs/probe.md) */
  uint32_t cpu_cores;  /* 0: default 16 */
  double vram_gib;     /* per GPU, overrides the spec; required for an unknown GPU */
} tl_hw_preset;

/* Fills *out with the described machine. An unknown GPU name without vram_gib
 * is TL_ENOTFOUND with close matches in the message; bad numbers TL_EINVAL. */
tl_status tl_hw_describe(const tl_hw_preset *p, tl_hw *out, tl_error *err);

/* ---- JSON form (docs/json.md, "hardware") ----------------------------------- */

/* Writes the documented JSON object. *out is NUL-terminated; free with tl_free. */
tl_status tl_hw_to_json(const tl_hw *hw, char **out, tl_error *err);
/* Parses a hardware object (as written by tl_hw_to_json, or a hand-written
 * file that gives only some fields: GPUs named by "name"/"spec_id" get their
 * figures from the spec table). TL_EFORMAT with the field named on bad input,
 * TL_EUNSUPPORTED for a newer schema_version. "described" is kept as the
 * file says (true when absent), so a document reads back exactly. */
tl_status tl_hw_from_json(const char *text, size_t len, tl_hw *out, tl_error *err);

/* ---- GPU specification table (data/gpus.json) -------------------------------- */

/* Finds a GPU by id ("nvidia-rtx-4090") or loosely by name ("RTX 4090",
 * "4090", "H100", "M3 Max", "NVIDIA H100 80GB HBM3"); fills *out with the spec
 * figures (vram_total, bandwidth, flops; sources TL_SRC_SPEC). TL_ENOTFOUND
 * when nothing matches (the message lists close matches). */
tl_status tl_gpu_spec_find(const char *name_or_id, tl_gpu *out, tl_error *err);
/* Number of entries in the table, and entry i (0-based) as a tl_gpu. */
size_t tl_gpu_spec_count(void);
tl_status tl_gpu_spec_get(size_t i, tl_gpu *out, tl_error *err);
/* Up to max ids of the entries closest to name (best first); returns how many.
 * The strings are static. */
size_t tl_gpu_spec_suggest(const char *name, const char **ids, size_t max);
/* The vendor's source URL of entry id, or NULL. Static string. */
const char *tl_gpu_spec_source(const char *id);

/* ---- names ----------------------------------------------------------------- */

const char *tl_value_source_name(tl_value_source s);   /* "probed", "spec", ... */
const char *tl_mem_limit_source_name(tl_mem_limit_source s); /* "none", "cgroup_v2", ... */
const char *tl_gpu_vendor_name(tl_gpu_vendor v);        /* "nvidia", "amd", ... */
/* Writes the ISA flags as space-separated lower-case names ("avx2 fma f16c"). */
void tl_cpu_isa_string(uint32_t isa, char *buf, size_t size);
/* Writes a one-line capability summary (what kernels and number formats the
 * machine can run fast), e.g. "cuda sm_90 x1, bf16, fp8, cpu avx512 vnni". */
void tl_hw_capabilities(const tl_hw *hw, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
