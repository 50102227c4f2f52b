/* A stand-in for libnvidia-ml.so.1 for the tests: exports the NVML symbols
 * src/hw/gpu-nvml.c looks up and answers from the environment, so the real
 * dlopen path runs without a GPU.
 *   FAKE_NVML_GPUS=N         number of devices (default 1)
 *   FAKE_NVML_NAMES=a,b      device names, used in turn (default H100 SXM)
 *   FAKE_NVML_FAIL=f1,f2     these functions return NVML_ERROR_UNKNOWN (999)
 *                            (names without the nvml prefix: Init, DeviceGetCount,
 *                            DeviceGetName, DeviceGetMemoryInfo, ...)
 * Figures per name come from the table below (as NVML reports them on the
 * real devices: memory clock in MHz, bus width in bits, power in mW). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int nvmlReturn_t;
typedef struct fake_dev *nvmlDevice_t;
typedef struct {
  unsigned long long total, free, used;
} nvmlMemory_t;

struct fake_dev {
  unsigned index;
};
static struct fake_dev devs[64];

static const struct model {
  const char *name;
  unsigned long long total;
  int cc_major, cc_minor;
  unsigned cores, bus, mclk, power_mw, pcie_gen;
} models[] = {
    {"NVIDIA H100 80GB HBM3", 85520809984ull, 9, 0, 16896, 5120, 2619, 700000, 5},
    {"NVIDIA GeForce RTX 4090", 25757220864ull, 8, 9, 16384, 384, 10501, 450000, 4},
    {"NVIDIA A100-SXM4-80GB", 85899345920ull, 8, 0, 6912, 5120, 1593, 400000, 4},
    {"NVIDIA L4", 24152899584ull, 8, 9, 7424, 0, 0, 72000,
     4}, /* bus width unreported: spec fills */
    {"NVIDIA Mystery GPU 9000", 8589934592ull, 9, 9, 0, 0, 0, 0, 5}, /* not in the spec table */
};

static int failing(const char *fn)
{
  const char *f = getenv("FAKE_NVML_FAIL");
  if (!f)
    return 0;
  size_t n = strlen(fn);
  for (const char *p = f; (p = strstr(p, fn)) != NULL; p += n)
    if ((p == f || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
      return 1;
  return 0;
}

static unsigned count(void)
{
  const char *s = getenv("FAKE_NVML_GPUS");
  unsigned n = s ? (unsigned)atoi(s) : 1;
  return n > 64 ? 64 : n;
}

static const struct model *model_of(unsigned i)
{
  const char *names = getenv("FAKE_NVML_NAMES");
  if (!names || !*names)
    return &models[0];
  /* the i-th comma-separated name, cycling */
  unsigned n = 1;
  for (const char *p = names; *p; p++)
    n += *p == ',';
  unsigned want = i % n;
  const char *p = names;
  for (unsigned k = 0; k < want; k++)
    p = strchr(p, ',') + 1;
  size_t len = strcspn(p, ",");
  for (size_t m = 0; m < sizeof models / sizeof models[0]; m++)
    if (strlen(models[m].name) == len && strncmp(models[m].name, p, len) == 0)
      return &models[m];
  return &models[0];
}

#define FAIL_IF(fn)                                                                                \
  if (failing(fn))                                                                                 \
  return 999

nvmlReturn_t nvmlInit_v2(void)
{
  FAIL_IF("Init");
  return 0;
}
nvmlReturn_t nvmlShutdown(void)
{
  return 0;
}
const char *nvmlErrorString(nvmlReturn_t r)
{
  return r == 999 ? "Unknown Error" : "Success";
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned *n)
{
  FAIL_IF("DeviceGetCount");
  *n = count();
  return 0;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned i, nvmlDevice_t *d)
{
  FAIL_IF("DeviceGetHandleByIndex");
  if (i >= count())
    return 2; /* NVML_ERROR_INVALID_ARGUMENT */
  devs[i].index = i;
  *d = &devs[i];
  return 0;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t d, char *buf, unsigned len)
{
  FAIL_IF("DeviceGetName");
  snprintf(buf, len, "%s", model_of(d->index)->name);
  return 0;
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t d, char *buf, unsigned len)
{
  FAIL_IF("DeviceGetUUID");
  snprintf(buf, len, "GPU-fake0000-0000-0000-0000-%012u", d->index);
  return 0;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t d, nvmlMemory_t *m)
{
  FAIL_IF("DeviceGetMemoryInfo");
  const struct model *md = model_of(d->index);
  m->total = md->total;
  m->used = 1ull << 30; /* 1 GiB used by another process */
  m->free = md->total - m->used;
  return 0;
}

nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t d, int *maj, int *min)
{
  FAIL_IF("DeviceGetCudaComputeCapability");
  *maj = model_of(d->index)->cc_major;
  *min = model_of(d->index)->cc_minor;
  return 0;
}

nvmlReturn_t nvmlDeviceGetNumGpuCores(nvmlDevice_t d, unsigned *n)
{
  FAIL_IF("DeviceGetNumGpuCores");
  if (!model_of(d->index)->cores)
    return 3; /* NVML_ERROR_NOT_SUPPORTED */
  *n = model_of(d->index)->cores;
  return 0;
}

nvmlReturn_t nvmlDeviceGetMemoryBusWidth(nvmlDevice_t d, unsigned *n)
{
  FAIL_IF("DeviceGetMemoryBusWidth");
  if (!model_of(d->index)->bus)
    return 3;
  *n = model_of(d->index)->bus;
  return 0;
}

nvmlReturn_t nvmlDeviceGetMaxClockInfo(nvmlDevice_t d, int type, unsigned *mhz)
{
  FAIL_IF("DeviceGetMaxClockInfo");
  if (type != 2 || !model_of(d->index)->mclk)
    return 3;
  *mhz = model_of(d->index)->mclk;
  return 0;
}

nvmlReturn_t nvmlDeviceGetCurrPcieLinkGeneration(nvmlDevice_t d, unsigned *g)
{
  FAIL_IF("DeviceGetCurrPcieLinkGeneration");
  *g = model_of(d->index)->pcie_gen;
  return 0;
}

nvmlReturn_t nvmlDeviceGetCurrPcieLinkWidth(nvmlDevice_t d, unsigned *w)
{
  FAIL_IF("DeviceGetCurrPcieLinkWidth");
  (void)d;
  *w = 16;
  return 0;
}

nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t d, unsigned *mw)
{
  FAIL_IF("DeviceGetEnforcedPowerLimit");
  if (!model_of(d->index)->power_mw)
    return 3;
  *mw = model_of(d->index)->power_mw;
  return 0;
}

nvmlReturn_t nvmlSystemGetDriverVersion(char *buf, unsigned len)
{
  FAIL_IF("SystemGetDriverVersion");
  snprintf(buf, len, "550.54.15");
  return 0;
}

nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *v)
{
  FAIL_IF("SystemGetCudaDriverVersion");
  *v = 12040;
  return 0;
}
