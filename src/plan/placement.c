/* Placement for the llama.cpp-like runtimes (tailor, llama.cpp, Ollama):
 * which device holds each layer's attention/dense part, each layer's routed
 * experts, the input embedding and the output, and the bytes that puts on
 * every device per category. Strategy, in order: every layer on the GPUs
 * (split over several GPUs in proportion to what each can hold after its
 * fixed costs); for MoE models, routed experts of the first k layers in
 * system RAM (llama.cpp --n-cpu-moe k) with the smallest k that fits; the
 * last n layers on the GPUs and the rest on the CPU (llama.cpp -ngl n) with
 * the largest n that fits; the CPU alone. A unified-memory GPU shares one
 * pool with the host: the GPU may map up to its share of it, and what the
 * host and the GPU hold together must fit in the pool. */
#include <stdio.h>
#include <string.h>

#include "base/error-int.h"
#include "internal.h"

static void build_devices(const tl__runtime *rt, const tl_hw *hw, tl_plan *p)
{
  memset(p->devices, 0, sizeof p->devices);
  tl_plan_device *host = &p->devices[0];
  host->gpu = -1;
  snprintf(host->name, sizeof host->name, "%s", hw->cpu.model[0] ? hw->cpu.model : "CPU");
  host->headroom = tl__host_headroom(hw);
  uint64_t host_avail = tl__host_usable(hw) > host->headroom ? tl__host_usable(hw) - host->headroom : 0;
  size_t n = 1;
  size_t ngpu = hw->n_gpus < TL_PLAN_MAX_DEVICES - 1 ? hw->n_gpus : TL_PLAN_MAX_DEVICES - 1;
  for (size_t i = 0; i < ngpu; i++) {
    const tl_gpu *g = &hw->gpus[i];
    tl_plan_device *d = &p->devices[n++];
    d->gpu = (int)i;
    snprintf(d->name, sizeof d->name, "%s", g->name);
    d->unified = g->unified;
    uint64_t avail = g->vram_free ? g->vram_free : g->vram_total;
    if (g->unified) {
      /* Its usable share of system RAM: what the GPU may map now (Metal's
       * recommended working set, reported as vram_free/vram_total), never
       * more than the pool offers; 3/4 of it when nothing is known. */
      if (!avail)
        avail = host_avail / 4 * 3;
      if (avail > host_avail)
        avail = host_avail;
    }
    d->available = avail;
    d->bandwidth = g->bandwidth;
  }
  host->available = host_avail;
  host->bandwidth = hw->mem.bandwidth;
  p->n_devices = n;
}

/* Layers [L - n_gpu, L) go to the GPUs, split in proportion to what each GPU
 * can hold after its fixed costs (context, compute buffer, and on the last
 * one the output). */
static void split_layers(const tl__runtime *rt, const tl__pmodel *pm, const tl_hw *hw, tl_plan *p,
                         uint32_t n_gpu, bool out_gpu)
{
  uint32_t L = pm->n_layer;
  size_t ngpu = p->n_devices - 1;
  for (uint32_t l = 0; l < L; l++)
    p->layer_device[l] = 0;
  p->output_device = 0;
  if (ngpu == 0 || n_gpu == 0) {
    if (out_gpu && ngpu > 0)
      p->output_device = 1;
    return;
  }
  double cap[TL_PLAN_MAX_DEVICES] = {0}, sum = 0;
  for (size_t k = 1; k <= ngpu; k++) {
    const tl_gpu *g = &hw->gpus[p->devices[k].gpu];
    double fixed = (double)rt->gpu_overhead(g) +
                   (double)rt->compute_bytes(pm, &p->settings, k == ngpu ? TL__BUF_OUTPUT : TL__BUF_LAYERS, 0);
    if (k == ngpu && out_gpu)
      fixed += (double)(pm->output_bytes + pm->global_bytes);
    double c = (double)p->devices[k].available - fixed;
    cap[k] = c > 0 ? c : 0;
    sum += cap[k];
  }
  if (sum <= 0) {
    for (size_t k = 1; k <= ngpu; k++)
      cap[k] = 1;
    sum = (double)ngpu;
  }
  uint32_t first = L - n_gpu, placed = 0;
  double acc = 0;
  for (size_t k = 1; k <= ngpu; k++) {
    acc += cap[k];
    uint32_t upto = k == ngpu ? n_gpu : (uint32_t)(acc / sum * n_gpu + 0.5);
    for (; placed < upto; placed++)
      p->layer_device[first + placed] = (int8_t)k;
  }
  if (out_gpu) {
    /* the output goes with the last layer's GPU */
    p->output_device = p->layer_device[L - 1] ? p->layer_device[L - 1] : (int8_t)ngpu;
  }
}

static uint64_t draft_bytes(const tl__runtime *rt, const tl_plan_settings *s)
{
  const tl_model_desc *d = s->draft;
  if (!d || d->hp.n_layer == 0 || d->hp.n_layer > TL_MAX_LAYERS)
    return 0;
  tl_kv_layer kv[TL_MAX_LAYERS];
  uint64_t b = d->weight_bytes;
  if (tl_kv_geometry(&d->hp, kv, NULL) == TL_OK)
    for (uint32_t l = 0; l < d->hp.n_layer; l++)
      b += tl__kv_layer_bytes(rt, s, &kv[l]);
  return b;
}

static bool kv_quantized(const tl_plan_settings *s)
{
  return s->kv_type_k != TL_QTYPE_F16 && s->kv_type_k != TL_QTYPE_F32 && s->kv_type_k != TL_QTYPE_BF16;
}

/* Fills bytes per device and category from the maps. */
static void account(const tl__runtime *rt, const tl__pmodel *pm, const tl_hw *hw, tl_plan *p,
                    uint64_t extra_draft)
{
  const tl_plan_settings *s = &p->settings;
  bool has_layers[TL_PLAN_MAX_DEVICES] = {0};
  uint64_t kv_layer_max[TL_PLAN_MAX_DEVICES] = {0};
  for (size_t d = 0; d < p->n_devices; d++) {
    memset(p->devices[d].bytes, 0, sizeof p->devices[d].bytes);
    p->devices[d].n_layers = 0;
    p->devices[d].n_expert_layers = 0;
    p->devices[d].layer_first = 0;
  }
  for (uint32_t l = 0; l < pm->n_layer; l++) {
    int d = p->layer_device[l];
    tl_plan_device *dev = &p->devices[d];
    dev->bytes[TL_MEM_WEIGHTS] += pm->layer_bytes[l];
    uint64_t cells = rt->kv_cells(s, &pm->kv[l]);
    dev->bytes[TL_MEM_KV] += cells * pm->kv_cell_bytes[l];
    uint64_t f16 = cells * ((uint64_t)pm->kv[l].n_embd_k + pm->kv[l].n_embd_v) * 2;
    if (f16 > kv_layer_max[d])
      kv_layer_max[d] = f16;
    if (dev->n_layers++ == 0)
      dev->layer_first = l;
    has_layers[d] = true;
    int e = p->expert_device[l];
    p->devices[e].bytes[TL_MEM_WEIGHTS] += pm->expert_bytes[l];
    if (pm->expert_bytes[l]) {
      p->devices[e].n_expert_layers++;
      has_layers[e] = true;
    }
  }
  int ed = p->embd_device, od = p->output_device;
  p->devices[ed].bytes[TL_MEM_WEIGHTS] += pm->embd_bytes;
  p->devices[od].bytes[TL_MEM_WEIGHTS] += pm->global_bytes;
  if (!pm->tied)
    p->devices[od].bytes[TL_MEM_WEIGHTS] += pm->output_bytes;
  else if (od != ed && rt->tied_output_copy)
    p->devices[od].bytes[TL_MEM_WEIGHTS] += pm->embd_bytes;

  bool host_holds_model = has_layers[0] || od == 0;
  uint64_t staged = host_holds_model && p->n_devices > 1 ? pm->largest_tensor : 0;
  bool any_gpu = false;
  for (size_t d = 0; d < p->n_devices; d++) {
    tl_plan_device *dev = &p->devices[d];
    bool holds = has_layers[d] || (int)d == od;
    if (d == 0) {
      tl__buf_role role = !holds ? TL__BUF_HOST_SIDE : od == 0 ? TL__BUF_OUTPUT : TL__BUF_LAYERS;
      dev->bytes[TL_MEM_COMPUTE] = rt->compute_bytes(pm, s, role, 0);
      dev->bytes[TL_MEM_OVERHEAD] = rt->host_overhead_of ? rt->host_overhead_of(pm) : rt->host_overhead;
    } else if (holds) {
      any_gpu = true;
      tl__buf_role role = (int)d == od ? TL__BUF_OUTPUT : TL__BUF_LAYERS;
      dev->bytes[TL_MEM_COMPUTE] = rt->compute_bytes(pm, s, role, staged);
      dev->bytes[TL_MEM_OVERHEAD] = rt->gpu_overhead(&hw->gpus[dev->gpu]);
    }
    /* A quantized cache is read through an f16 copy of one layer's K and V
     * (flash attention on CUDA dequantizes to f16): scratch on each device
     * that holds layers, sized by its largest layer. tailor's CPU engine
     * reads a q8_0 cache row by row and needs no such copy on the host. */
    if (holds && kv_quantized(s) && !(d == 0 && rt->id == TL_RUNTIME_TAILOR))
      dev->bytes[TL_MEM_KV] += kv_layer_max[d];
  }
  /* Extras go where the model's output is computed: the first GPU in use, else the host. */
  int xd = any_gpu ? (od ? od : 1) : 0;
  p->devices[xd].bytes[TL_MEM_EXTRA] += s->projector_bytes + extra_draft;
  for (size_t d = 0; d < p->n_devices; d++) {
    tl_plan_device *dev = &p->devices[d];
    dev->used = 0;
    for (int c = 0; c < TL_MEM_COUNT; c++)
      dev->used += dev->bytes[c];
  }
}

static bool gpus_fit(const tl_plan *p)
{
  for (size_t d = 1; d < p->n_devices; d++)
    if (p->devices[d].used > p->devices[d].available)
      return false;
  return true;
}

/* Bytes drawn from system RAM: the host's own and every unified GPU's. */
uint64_t tl__pool_used(const tl_plan *p)
{
  uint64_t u = p->devices[0].used;
  for (size_t d = 1; d < p->n_devices; d++)
    if (p->devices[d].unified)
      u += p->devices[d].used;
  return u;
}

static bool all_fit(const tl_plan *p)
{
  return gpus_fit(p) && tl__pool_used(p) <= p->devices[0].available;
}

/* Sets the maps for (n_gpu last layers on GPUs, output on GPU, experts of
 * the first n_cpu_moe layers on the host) and accounts. */
static void assign(const tl__runtime *rt, const tl__pmodel *pm, const tl_hw *hw, tl_plan *p,
                   uint32_t n_gpu, bool out_gpu, uint32_t n_cpu_moe, uint64_t xd)
{
  split_layers(rt, pm, hw, p, n_gpu, out_gpu);
  for (uint32_t l = 0; l < pm->n_layer; l++)
    p->expert_device[l] = l < n_cpu_moe ? 0 : p->layer_device[l];
  p->embd_device = rt->embd_on_host || p->n_devices == 1 ? 0 : (p->layer_device[0] ? p->layer_device[0] : 0);
  p->n_gpu_layers = n_gpu;
  p->n_cpu_moe_layers = 0;
  for (uint32_t l = 0; l < n_cpu_moe && l < pm->n_layer; l++)
    if (pm->expert_bytes[l] && p->layer_device[l] != 0)
      p->n_cpu_moe_layers++;
  account(rt, pm, hw, p, xd);
}

tl_status tl__place_layers(const tl__runtime *rt, const tl__pmodel *pm, const tl_hw *hw, tl_plan *p,
                           tl_error *err)
{
  (void)err;
  const tl_plan_settings *s = &p->settings;
  build_devices(rt, hw, p);
  uint64_t xd = draft_bytes(rt, s);
  uint32_t L = pm->n_layer;
  bool have_gpu = p->n_devices > 1;
  int forced = s->mode;

  if (!have_gpu || forced == TL_RUN_CPU_ONLY || (s->n_gpu_layers == 0 && forced < 0)) {
    assign(rt, pm, hw, p, 0, false, 0, xd);
    p->mode = TL_RUN_CPU_ONLY;
  } else if (s->n_gpu_layers > 0 && (forced < 0 || forced == TL_RUN_CPU_OFFLOAD || forced == TL_RUN_GPU)) {
    uint32_t n = (uint32_t)s->n_gpu_layers > L ? L : (uint32_t)s->n_gpu_layers;
    bool out = (uint32_t)s->n_gpu_layers > L;
    assign(rt, pm, hw, p, n, out, 0, xd);
    p->mode = n == L && out ? TL_RUN_GPU : TL_RUN_CPU_OFFLOAD;
  } else {
    bool done = false;
    if (forced < 0 || forced == TL_RUN_GPU) {
      assign(rt, pm, hw, p, L, true, 0, xd);
      if (gpus_fit(p) || forced == TL_RUN_GPU) {
        p->mode = TL_RUN_GPU;
        done = true;
      }
    }
    if (!done && pm->moe && (forced < 0 || forced == TL_RUN_MOE_OFFLOAD)) {
      /* smallest k in [1, L] with the GPUs fitting */
      uint32_t lo = 1, hi = L, best = 0;
      while (lo <= hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        assign(rt, pm, hw, p, L, true, mid, xd);
        if (gpus_fit(p)) {
          best = mid;
          if (mid == 1)
            break;
          hi = mid - 1;
        } else {
          lo = mid + 1;
        }
      }
      if (best || forced == TL_RUN_MOE_OFFLOAD) {
        assign(rt, pm, hw, p, L, true, best ? best : L, xd);
        p->mode = TL_RUN_MOE_OFFLOAD;
        done = true;
      }
    }
    if (!done) {
      /* largest n in [1, L] with the output on the host and the GPUs fitting */
      uint32_t lo = 1, hi = L, best = 0;
      while (lo <= hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        assign(rt, pm, hw, p, mid, false, 0, xd);
        if (gpus_fit(p)) {
          best = mid;
          lo = mid + 1;
        } else {
          hi = mid - 1;
        }
      }
      if (best) {
        assign(rt, pm, hw, p, best, false, 0, xd);
        p->mode = TL_RUN_CPU_OFFLOAD;
      } else {
        assign(rt, pm, hw, p, 0, false, 0, xd);
        p->mode = TL_RUN_CPU_ONLY;
      }
    }
  }
  p->fits = all_fit(p);
  return TL_OK;
}
