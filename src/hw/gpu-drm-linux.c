/* AMD and Intel GPUs from the DRM class in sysfs (/sys/class/drm/cardN/device):
 * amdgpu's mem_info_vram_total / mem_info_vram_used / product_name and the
 * gfx target from ip_discovery (GC major.minor.revision) or the uevent; the
 * xe driver's tile0/physical_vram_size_bytes for Intel discrete cards. PCIe
 * link from current_link_speed/width. NVIDIA cards are left to NVML.
 * Follows Documentation/gpu/amdgpu/driver-misc.rst and the PCI sysfs ABI. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc-int.h"
#include "hw/internal.h"

#define MIN_APU_VRAM (1ull << 30)

static unsigned read_hex(const tl__hw_src *src, const char *path, bool *ok)
{
  char *s = tl__hw_read(src, path, NULL);
  *ok = false;
  if (!s)
    return 0;
  char *end;
  unsigned long v = strtoul(s, &end, 16);
  *ok = end != s;
  tl__free(s);
  return (unsigned)v;
}

static int pcie_gen_from_speed(const char *s)
{
  double gts = strtod(s, NULL);
  if (gts >= 60)
    return 6;
  if (gts >= 30)
    return 5;
  if (gts >= 15)
    return 4;
  if (gts >= 7.5)
    return 3;
  if (gts >= 4.5)
    return 2;
  if (gts >= 2)
    return 1;
  return 0;
}

static void read_link(const tl__hw_src *src, const char *dev, tl_gpu *g)
{
  char path[512];
  snprintf(path, sizeof path, "%s/current_link_speed", dev);
  char *s = tl__hw_read(src, path, NULL);
  if (s) {
    g->pcie_gen = pcie_gen_from_speed(s);
    tl__free(s);
  }
  uint64_t w;
  snprintf(path, sizeof path, "%s/current_link_width", dev);
  if (tl__hw_read_u64(src, path, &w) > 0)
    g->pcie_width = (int)w;
}

/* gfx target name from the GC IP version: 11.0.0 -> gfx1100, 9.4.2 -> gfx942,
 * 9.0.10 -> gfx90a (LLVM AMDGPU processor names). */
static void amd_gfx_target(const tl__hw_src *src, const char *dev, tl_gpu *g)
{
  char path[512];
  uint64_t maj, min, rev;
  snprintf(path, sizeof path, "%s/ip_discovery/die/0/GC/0/major", dev);
  int a = tl__hw_read_u64(src, path, &maj);
  snprintf(path, sizeof path, "%s/ip_discovery/die/0/GC/0/minor", dev);
  int b = tl__hw_read_u64(src, path, &min);
  snprintf(path, sizeof path, "%s/ip_discovery/die/0/GC/0/revision", dev);
  int c = tl__hw_read_u64(src, path, &rev);
  if (a > 0 && b > 0 && c > 0 && maj < 100 && min < 16 && rev < 16)
    snprintf(g->arch, sizeof g->arch, "gfx%u%u%x", (unsigned)maj, (unsigned)min, (unsigned)rev);
}

/* Returns true when a GPU was added. */
static bool probe_amd(tl_hw *hw, const tl__hw_src *src, const char *dev, int index, unsigned devid)
{
  char path[512];
  uint64_t total = 0, used = 0;
  snprintf(path, sizeof path, "%s/mem_info_vram_total", dev);
  int rt = tl__hw_read_u64(src, path, &total);
  if (rt == 0)
    return false; /* not an amdgpu device with VRAM accounting (or an old driver) */
  /* Integrated GPUs report their firmware carve-out as VRAM (512 MiB by
   * default); such a GPU is no accelerator for models. APUs configured with
   * a large carve-out (Strix Halo) are listed. */
  if (rt > 0 && total < MIN_APU_VRAM) {
    tl__hw_note(hw, "AMD integrated GPU (0x%04x, %llu MiB carve-out) not used as an accelerator",
                devid, (unsigned long long)(total >> 20));
    return false;
  }
  tl_gpu *g = tl__hw_gpu_add(hw);
  if (!g)
    return false;
  g->vendor = TL_GPU_AMD;
  g->index = index;
  if (rt < 0)
    tl__hw_warn(hw, "%s: malformed; VRAM size unknown", path);
  else
    g->vram_total = total;
  snprintf(path, sizeof path, "%s/mem_info_vram_used", dev);
  int ru = tl__hw_read_u64(src, path, &used);
  if (ru > 0 && used <= g->vram_total)
    g->vram_free = g->vram_total - used;
  else {
    g->vram_free = g->vram_total;
    if (ru < 0)
      tl__hw_warn(hw, "%s: malformed; assuming all VRAM free", path);
  }
  snprintf(path, sizeof path, "%s/product_name", dev);
  char *name = tl__hw_read(src, path, NULL);
  if (name && name[0] && name[0] != '\n')
    tl__hw_copy_trim(g->name, sizeof g->name, name);
  else
    snprintf(g->name, sizeof g->name, "AMD GPU 0x%04x", devid);
  tl__free(name);
  snprintf(path, sizeof path, "%s/unique_id", dev);
  char *uid = tl__hw_read(src, path, NULL);
  if (uid)
    tl__hw_copy_trim(g->uuid, sizeof g->uuid, uid);
  tl__free(uid);
  amd_gfx_target(src, dev, g);
  read_link(src, dev, g);
  tl__hw_gpu_fill_from_spec(g);
  if (!g->arch[0])
    snprintf(g->arch, sizeof g->arch, "amdgpu");
  return true;
}

static bool probe_intel(tl_hw *hw, const tl__hw_src *src, const char *dev, int index,
                        unsigned devid)
{
  char path[512];
  uint64_t vram = 0;
  snprintf(path, sizeof path, "%s/tile0/physical_vram_size_bytes", dev);
  int rc = tl__hw_read_u64(src, path, &vram);
  tl_gpu spec;
  bool known = tl__hw_gpu_spec_by_pci("intel", devid, &spec);
  if (rc <= 0 && !known)
    return false; /* integrated graphics: shares system RAM, not an accelerator here */
  tl_gpu *g = tl__hw_gpu_add(hw);
  if (!g)
    return false;
  if (known)
    *g = spec;
  g->vendor = TL_GPU_INTEL;
  g->index = index;
  if (rc > 0) {
    g->vram_total = vram;
  } else if (known) {
    tl__hw_warn(hw, "%s: %s; VRAM size from the spec table", path,
                rc < 0 ? "malformed" : "missing");
  }
  g->vram_free = g->vram_total;
  if (!g->name[0])
    snprintf(g->name, sizeof g->name, "Intel GPU 0x%04x", devid);
  read_link(src, dev, g);
  return true;
}

void tl__hw_gpu_os(tl_hw *hw, const tl__hw_src *src)
{
  char dirpath[4096];
  snprintf(dirpath, sizeof dirpath, "%s/sys/class/drm", src->root ? src->root : "");
  DIR *d = opendir(dirpath);
  if (!d)
    return; /* no DRM devices: no GPU, which is normal */
  /* card numbers in order */
  int cards[64], n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL && n < 64) {
    const char *s = e->d_name;
    if (strncmp(s, "card", 4) != 0 || s[4] < '0' || s[4] > '9')
      continue;
    char *end;
    long v = strtol(s + 4, &end, 10);
    if (*end == '\0')
      cards[n++] = (int)v;
  }
  closedir(d);
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && cards[j - 1] > cards[j]; j--) {
      int t = cards[j];
      cards[j] = cards[j - 1];
      cards[j - 1] = t;
    }
  int amd_index = 0, intel_index = 0;
  for (int i = 0; i < n; i++) {
    char dev[256], path[320];
    snprintf(dev, sizeof dev, "/sys/class/drm/card%d/device", cards[i]);
    snprintf(path, sizeof path, "%s/vendor", dev);
    bool ok;
    unsigned vendor = read_hex(src, path, &ok);
    if (!ok) {
      if (tl__hw_exists(src, path))
        tl__hw_warn(hw, "%s: malformed", path);
      continue;
    }
    snprintf(path, sizeof path, "%s/device", dev);
    unsigned devid = read_hex(src, path, &ok);
    if (vendor == 0x1002 && probe_amd(hw, src, dev, amd_index, devid))
      amd_index++;
    else if (vendor == 0x8086 && probe_intel(hw, src, dev, intel_index, devid))
      intel_index++;
  }
}
