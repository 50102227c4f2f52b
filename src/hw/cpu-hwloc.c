/* Live-system refinement of the CPU figures with hwloc (topology, caches,
 * NUMA nodes, and CPU kinds on hybrid processors: hwloc_cpukinds_*, hwloc
 * 2.4+). Fills what the sysfs pass left at zero; never runs under a sysroot. */
#include <hwloc.h>
#include <string.h>

#include "hw/internal.h"

static uint64_t first_cache(hwloc_topology_t t, hwloc_obj_type_t type)
{
  hwloc_obj_t o = hwloc_get_obj_by_type(t, type, 0);
  return o && o->attr ? o->attr->cache.size : 0;
}

void tl__hw_cpu_hwloc(tl_hw *hw)
{
  tl_cpu *cpu = &hw->cpu;
  hwloc_topology_t t;
  if (hwloc_topology_init(&t) != 0)
    return;
  if (hwloc_topology_load(t) != 0) {
    tl__hw_warn(hw, "hwloc: topology_load failed; using sysfs figures only");
    hwloc_topology_destroy(t);
    return;
  }
  int pk = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PACKAGE);
  int co = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE);
  int pu = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PU);
  int nn = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_NUMANODE);
  if (!cpu->sockets && pk > 0)
    cpu->sockets = (uint32_t)pk;
  if (!cpu->cores && co > 0)
    cpu->cores = (uint32_t)co;
  if (!cpu->threads && pu > 0)
    cpu->threads = (uint32_t)pu;
  if (nn > (int)cpu->numa_nodes)
    cpu->numa_nodes = (uint32_t)nn;
  if (!cpu->l1d)
    cpu->l1d = first_cache(t, HWLOC_OBJ_L1CACHE);
  if (!cpu->l2)
    cpu->l2 = first_cache(t, HWLOC_OBJ_L2CACHE);
  if (!cpu->l3) {
    int n3 = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_L3CACHE);
    for (int i = 0; i < n3; i++) {
      hwloc_obj_t o = hwloc_get_obj_by_type(t, HWLOC_OBJ_L3CACHE, (unsigned)i);
      if (o && o->attr)
        cpu->l3 += o->attr->cache.size;
    }
  }
  /* Hybrid: kinds are ranked by efficiency, lowest (the most power-efficient
   * cores) first, so the last kind is the performance cores. An efficiency of
   * -1 means hwloc could not rank them: then nothing is concluded. */
  int nk = hwloc_cpukinds_get_nr(t, 0);
  if (nk > 1 && cpu->eff_cores == 0) {
    uint32_t perf = 0, eff = 0;
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    for (int k = 0; set && k < nk; k++) {
      int efficiency = -1;
      if (hwloc_cpukinds_get_info(t, (unsigned)k, set, &efficiency, NULL, NULL, 0) != 0 ||
          efficiency < 0) {
        perf = eff = 0;
        break;
      }
      int cores = hwloc_get_nbobjs_inside_cpuset_by_type(t, set, HWLOC_OBJ_CORE);
      if (cores < 0)
        continue;
      if (k == nk - 1)
        perf += (uint32_t)cores;
      else
        eff += (uint32_t)cores;
    }
    hwloc_bitmap_free(set);
    if (perf && eff) {
      cpu->perf_cores = perf;
      cpu->eff_cores = eff;
    }
  }
  hwloc_topology_destroy(t);
}
