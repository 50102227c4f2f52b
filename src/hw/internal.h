/* What the files of src/hw share: reading /proc and /sys under a root
 * directory (the real system, or a recorded tree for tests), recording
 * warnings, and the per-source probes that tl_hw_probe (hw-probe.c) calls in
 * order. Never included from outside src/hw. */
#ifndef TL_HW_INTERNAL_H
#define TL_HW_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tailor/hw.h"

#define TL__GIB (1024.0 * 1024.0 * 1024.0)

/* Where files are read from: root "" is the live system; any other root is a
 * recorded tree, and then only files are consulted (no hwloc, cpuid, NVML). */
typedef struct tl__hw_src {
  const char *root;
  bool live;
} tl__hw_src;

/* Appends one warning line to hw->warnings (dropped past TL_HW_MAX_WARNINGS)
 * and logs it at WARN. */
void tl__hw_warn(tl_hw *hw, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends one note line to hw->notes. */
void tl__hw_note(tl_hw *hw, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reads root+path whole (NUL-terminated, at most 4 MiB); NULL if it does not
 * exist or cannot be read. Free with tl__free. */
char *tl__hw_read(const tl__hw_src *src, const char *path, size_t *len);
/* True if root+path exists. */
bool tl__hw_exists(const tl__hw_src *src, const char *path);
/* Reads one unsigned decimal integer (surrounding white space allowed).
 * Returns 1 on success, 0 if the file is missing, -1 if it is malformed. */
int tl__hw_read_u64(const tl__hw_src *src, const char *path, uint64_t *out);
/* Parses a kernel cpu list ("0-3,8,10-11") into a bitmap of up to max_cpus
 * bits; returns the number of CPUs set, or -1 when malformed. */
int tl__hw_parse_cpulist(const char *s, uint8_t *bits, size_t max_cpus);
/* Copies s into dst (size n) trimmed of surrounding white space. */
void tl__hw_copy_trim(char *dst, size_t n, const char *s);

/* Per-source probes. Each fills what it can and warns about what it cannot. */
void tl__hw_cpu_os(tl_hw *hw, const tl__hw_src *src); /* cpu-linux.c / hw-macos.c */
void tl__hw_cpu_hwloc(tl_hw *hw);                     /* cpu-hwloc.c (live only) */
void tl__hw_cpu_isa_native(tl_cpu *cpu);              /* cpu-x86.c / cpu-arm.c (live only) */
void tl__hw_cpu_estimate_flops(tl_cpu *cpu, int x86_family);
void tl__hw_memory_os(tl_hw *hw, const tl__hw_src *src); /* memory-linux.c / hw-macos.c */
void tl__hw_gpu_os(tl_hw *hw, const tl__hw_src *src);    /* gpu-drm-linux.c / hw-macos.c */
void tl__hw_gpu_nvml(tl_hw *hw);                         /* gpu-nvml.c (live only) */

/* Memory bandwidth (bandwidth.c): the platform figure from SMBIOS memory
 * devices when readable, and the read test. */
void tl__hw_bandwidth_platform(tl_hw *hw, const tl__hw_src *src);
/* Measures sustained read bandwidth with up to `threads` threads for at most
 * ~2 s; returns bytes/s, or 0 on failure. */
double tl__hw_bandwidth_measure(uint32_t threads, uint64_t usable_bytes);

/* GPU spec table (gpu-spec.c). */
/* Fills the zero figures of g from the matched spec entry (by name), sets
 * spec_id and the *_source fields to TL_SRC_SPEC for what it filled. Returns
 * true when an entry matched. */
bool tl__hw_gpu_fill_from_spec(tl_gpu *g);
/* The spec entry whose pci_device_ids contains dev ("0x56a0"), as find does. */
bool tl__hw_gpu_spec_by_pci(const char *vendor, unsigned dev, tl_gpu *out);

/* Appends a GPU slot; NULL when the table is full (a warning is recorded). */
tl_gpu *tl__hw_gpu_add(tl_hw *hw);

#endif
