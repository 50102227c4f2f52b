/* NVIDIA GPUs through NVML, loaded with dlopen at run time so the build and
 * machines without the driver need nothing. The few types and prototypes
 * used are declared here from the NVML API reference (nvml.h, "NVML API
 * Reference Guide"); every symbol is optional except init/count/handle.
 * $TAILOR_NVML_LIB replaces "libnvidia-ml.so.1" (tests load a fake). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hw/internal.h"

typedef int nvml_return;                    /* nvmlReturn_t: 0 = NVML_SUCCESS */
typedef struct nvml_device_st *nvml_device; /* nvmlDevice_t */
typedef struct {
  unsigned long long total, free, used; /* bytes */
} nvml_memory;                          /* nvmlMemory_t (v1) */

#define NVML_CLOCK_MEM 2   /* nvmlClockType_t NVML_CLOCK_MEM */
#define NVML_NAME_LEN 96   /* NVML_DEVICE_NAME_V2_BUFFER_SIZE */
#define NVML_UUID_LEN 80   /* NVML_DEVICE_UUID_V2_BUFFER_SIZE */
#define NVML_DRIVER_LEN 80 /* NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE */

typedef struct nvml_api {
  void *lib;
  nvml_return (*init)(void);
  nvml_return (*shutdown)(void);
  const char *(*error_string)(nvml_return);
  nvml_return (*count)(unsigned *);
  nvml_return (*handle)(unsigned, nvml_device *);
  nvml_return (*name)(nvml_device, char *, unsigned);
  nvml_return (*uuid)(nvml_device, char *, unsigned);
  nvml_return (*memory)(nvml_device, nvml_memory *);
  nvml_return (*cc)(nvml_device, int *, int *);
  nvml_return (*num_cores)(nvml_device, unsigned *);
  nvml_return (*bus_width)(nvml_device, unsigned *);
  nvml_return (*max_clock)(nvml_device, int, unsigned *);
  nvml_return (*pcie_gen)(nvml_device, unsigned *);
  nvml_return (*pcie_width)(nvml_device, unsigned *);
  nvml_return (*power_limit)(nvml_device, unsigned *);
  nvml_return (*driver)(char *, unsigned);
  nvml_return (*cuda_version)(int *);
} nvml_api;

static void *sym(void *lib, const char *a, const char *b)
{
  void *p = dlsym(lib, a);
  if (!p && b)
    p = dlsym(lib, b);
  return p;
}

static const char *nvml_err(const nvml_api *api, nvml_return r)
{
  static char buf[32];
  if (api->error_string) {
    const char *s = api->error_string(r);
    if (s)
      return s;
  }
  snprintf(buf, sizeof buf, "error %d", r);
  return buf;
}

/* CUDA cores per SM by compute capability (CUDA C Programming Guide,
 * "Arithmetic Instructions" throughput table: FP32 lanes per SM). */
static unsigned cores_per_sm(int major, int minor)
{
  if (major == 7)
    return 64;
  if (major == 8)
    return minor == 0 ? 64 : 128;
  if (major >= 9)
    return 128;
  if (major == 6)
    return minor == 0 ? 64 : 128;
  return 0;
}

void tl__hw_gpu_nvml(tl_hw *hw)
{
  const char *path = getenv("TAILOR_NVML_LIB");
  const char *libname = path && *path ? path : "libnvidia-ml.so.1";
  nvml_api api;
  memset(&api, 0, sizeof api);
  api.lib = dlopen(libname, RTLD_NOW | RTLD_LOCAL);
  if (!api.lib) {
    if (path && *path) /* asked for explicitly: say why it failed */
      tl__hw_warn(hw, "NVML: cannot load %s: %s", libname, dlerror());
    return; /* no NVIDIA driver: no NVIDIA GPU, which is normal */
  }
  api.init = (nvml_return(*)(void))sym(api.lib, "nvmlInit_v2", "nvmlInit");
  api.shutdown = (nvml_return(*)(void))sym(api.lib, "nvmlShutdown", NULL);
  api.error_string = (const char *(*)(nvml_return))sym(api.lib, "nvmlErrorString", NULL);
  api.count =
      (nvml_return(*)(unsigned *))sym(api.lib, "nvmlDeviceGetCount_v2", "nvmlDeviceGetCount");
  api.handle = (nvml_return(*)(unsigned, nvml_device *))sym(
      api.lib, "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex");
  api.name = (nvml_return(*)(nvml_device, char *, unsigned))sym(api.lib, "nvmlDeviceGetName", NULL);
  api.uuid = (nvml_return(*)(nvml_device, char *, unsigned))sym(api.lib, "nvmlDeviceGetUUID", NULL);
  api.memory =
      (nvml_return(*)(nvml_device, nvml_memory *))sym(api.lib, "nvmlDeviceGetMemoryInfo", NULL);
  api.cc = (nvml_return(*)(nvml_device, int *, int *))sym(
      api.lib, "nvmlDeviceGetCudaComputeCapability", NULL);
  api.num_cores =
      (nvml_return(*)(nvml_device, unsigned *))sym(api.lib, "nvmlDeviceGetNumGpuCores", NULL);
  api.bus_width =
      (nvml_return(*)(nvml_device, unsigned *))sym(api.lib, "nvmlDeviceGetMemoryBusWidth", NULL);
  api.max_clock =
      (nvml_return(*)(nvml_device, int, unsigned *))sym(api.lib, "nvmlDeviceGetMaxClockInfo", NULL);
  api.pcie_gen = (nvml_return(*)(nvml_device, unsigned *))sym(
      api.lib, "nvmlDeviceGetCurrPcieLinkGeneration", NULL);
  api.pcie_width =
      (nvml_return(*)(nvml_device, unsigned *))sym(api.lib, "nvmlDeviceGetCurrPcieLinkWidth", NULL);
  api.power_limit = (nvml_return(*)(nvml_device, unsigned *))sym(
      api.lib, "nvmlDeviceGetEnforcedPowerLimit", "nvmlDeviceGetPowerManagementLimit");
  api.driver = (nvml_return(*)(char *, unsigned))sym(api.lib, "nvmlSystemGetDriverVersion", NULL);
  api.cuda_version = (nvml_return(*)(int *))sym(api.lib, "nvmlSystemGetCudaDriverVersion_v2",
                                                "nvmlSystemGetCudaDriverVersion");
  if (!api.init || !api.count || !api.handle || !api.shutdown) {
    tl__hw_warn(hw, "NVML: %s lacks nvmlInit/nvmlDeviceGetCount/nvmlDeviceGetHandleByIndex",
                libname);
    dlclose(api.lib);
    return;
  }
  nvml_return r = api.init();
  if (r != 0) {
    tl__hw_warn(hw, "NVML: nvmlInit failed: %s", nvml_err(&api, r));
    dlclose(api.lib);
    return;
  }
  char driver[NVML_DRIVER_LEN] = "", cuda[16] = "";
  if (api.driver && (r = api.driver(driver, sizeof driver)) != 0) {
    tl__hw_warn(hw, "NVML: nvmlSystemGetDriverVersion failed: %s", nvml_err(&api, r));
    driver[0] = '\0';
  }
  int cv = 0;
  if (api.cuda_version && api.cuda_version(&cv) == 0 && cv > 0)
    snprintf(cuda, sizeof cuda, "%d.%d", cv / 1000, (cv % 1000) / 10);
  unsigned n = 0;
  if ((r = api.count(&n)) != 0) {
    tl__hw_warn(hw, "NVML: nvmlDeviceGetCount failed: %s", nvml_err(&api, r));
    n = 0;
  }
  for (unsigned i = 0; i < n; i++) {
    nvml_device dev;
    if ((r = api.handle(i, &dev)) != 0) {
      tl__hw_warn(hw, "NVML: nvmlDeviceGetHandleByIndex(%u) failed: %s", i, nvml_err(&api, r));
      continue;
    }
    tl_gpu *g = tl__hw_gpu_add(hw);
    if (!g)
      break;
    g->vendor = TL_GPU_NVIDIA;
    g->index = (int)i;
    snprintf(g->driver, sizeof g->driver, "%s", driver);
    snprintf(g->cuda, sizeof g->cuda, "%s", cuda);
    char name[NVML_NAME_LEN] = "";
    if (api.name && (r = api.name(dev, name, sizeof name)) == 0)
      snprintf(g->name, sizeof g->name, "%s", name);
    else {
      snprintf(g->name, sizeof g->name, "NVIDIA GPU %u", i);
      tl__hw_warn(hw, "NVML: nvmlDeviceGetName(%u) failed: %s", i, nvml_err(&api, r));
    }
    char uuid[NVML_UUID_LEN] = "";
    if (api.uuid && api.uuid(dev, uuid, sizeof uuid) == 0)
      snprintf(g->uuid, sizeof g->uuid, "%s", uuid);
    nvml_memory mem;
    if (api.memory && (r = api.memory(dev, &mem)) == 0) {
      g->vram_total = mem.total;
      g->vram_free = mem.free;
    } else {
      tl__hw_warn(hw, "NVML: nvmlDeviceGetMemoryInfo(%u) failed: %s", i,
                  api.memory ? nvml_err(&api, r) : "missing");
    }
    int maj = 0, min = 0;
    if (api.cc && api.cc(dev, &maj, &min) == 0) {
      g->cc_major = maj;
      g->cc_minor = min;
      snprintf(g->arch, sizeof g->arch, "sm_%d%d", maj, min);
    }
    unsigned cores = 0, per = cores_per_sm(maj, min);
    if (api.num_cores && api.num_cores(dev, &cores) == 0 && per)
      g->sm_count = cores / per;
    unsigned bus = 0, mclk = 0;
    if (api.bus_width && api.bus_width(dev, &bus) == 0)
      g->bus_width = bus;
    if (api.max_clock && api.max_clock(dev, NVML_CLOCK_MEM, &mclk) == 0)
      g->mem_clock_mhz = mclk;
    /* NVML's memory clock is half the data rate for GDDR6/6X/7 and HBM alike
     * (H100 SXM: 2619 MHz x 2 x 5120 bit / 8 = 3.35 TB/s; RTX 4090: 10501 MHz
     * x 2 x 384 / 8 = 1008 GB/s), so peak = clock x 2 x bus / 8. */
    if (bus && mclk) {
      g->bandwidth = (double)mclk * 1e6 * 2.0 * bus / 8.0;
      g->bandwidth_source = TL_SRC_PROBED;
    }
    unsigned gen = 0, width = 0, mw = 0;
    if (api.pcie_gen && api.pcie_gen(dev, &gen) == 0)
      g->pcie_gen = (int)gen;
    if (api.pcie_width && api.pcie_width(dev, &width) == 0)
      g->pcie_width = (int)width;
    if (api.power_limit && api.power_limit(dev, &mw) == 0)
      g->power_limit_w = mw / 1000.0;
    tl__hw_gpu_fill_from_spec(g);
  }
  api.shutdown();
  dlclose(api.lib);
}
