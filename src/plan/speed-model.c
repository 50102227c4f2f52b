/* The speed model. Decode is memory-bound: one step reads, on every device,
 * the weights it holds (MoE: only the routed experts in use) and the KV of
 * the tokens in context, at an effective fraction of the device's bandwidth,
 * plus fixed costs per layer (kernel floor), per token (sampling, sync) and
 * per boundary between devices. Prefill is compute-bound: 2 x active matmul
 * parameters + attention FLOPs per token at an effective fraction of the
 * device's FLOP/s, plus a fixed cost per layer per micro-batch. Throughput at
 * concurrency C reads the weights once per step for C sequences and the KV
 * of each. Constants: efficiency.c. */
#include <math.h>

#include "internal.h"

/* Fallback bandwidth when the hardware description has none: dual-channel
 * DDR4-3200 (2 x 25.6 GB/s), a common desktop floor. */
#define HOST_BW_FALLBACK 51.2e9

typedef struct dev_speed {
  double bw, eff, layer_s, flops, prefill_eff, prefill_layer_s;
  bool gpu;
} dev_speed;

static dev_speed device_speed(const tl_hw *hw, const tl_efficiency *e, const tl_plan *p, size_t d)
{
  dev_speed v = {0};
  const tl_plan_device *dev = &p->devices[d];
  if (dev->gpu < 0) {
    v.bw = hw->mem.bandwidth > 0 ? hw->mem.bandwidth : HOST_BW_FALLBACK;
    v.eff = e->cpu_decode_bw;
    v.layer_s = e->cpu_layer_s;
    /* unknown peak: cores x 2 GHz x 32 FLOP/cycle (two 256-bit FMA units) */
    v.flops = hw->cpu.flops_f32 > 0 ? hw->cpu.flops_f32 : (hw->cpu.cores ? hw->cpu.cores : 1) * 2e9 * 32;
    v.prefill_eff = e->cpu_prefill_flops;
    return v;
  }
  const tl_gpu *g = &hw->gpus[dev->gpu];
  v.gpu = true;
  v.bw = g->bandwidth > 0 ? g->bandwidth : (hw->mem.bandwidth > 0 ? hw->mem.bandwidth : HOST_BW_FALLBACK);
  bool apple = g->unified && g->vendor == TL_GPU_APPLE;
  v.eff = apple ? e->apple_decode_bw : e->gpu_decode_bw;
  v.layer_s = apple ? e->apple_layer_s : (p->settings.flash_attn > 0 ? e->gpu_layer_s : e->gpu_layer_s_nofa);
  /* unknown peak: 10 TFLOP/s, a small discrete GPU's dense FP16 (assumed) */
  v.flops = g->fp16_flops > 0 ? g->fp16_flops : (g->bf16_flops > 0 ? g->bf16_flops : 1e13);
  v.prefill_eff = e->gpu_prefill_flops;
  v.prefill_layer_s = e->gpu_prefill_layer_s;
  return v;
}

/* vLLM's tensor-parallel group: the placement records every layer on the
 * group's first GPU; each of the tp GPUs reads and computes 1/tp of it. */
static double tensor_parallel(const tl_plan *p, const dev_speed *v)
{
  if (v->gpu && p->settings.runtime == TL_RUNTIME_VLLM && p->settings.tensor_parallel > 1)
    return p->settings.tensor_parallel;
  return 1;
}

/* KV bytes one sequence reads from layer l with n tokens in context. */
static double kv_read(const tl__pmodel *pm, const tl_plan_settings *s, uint32_t l, double n)
{
  const tl_kv_layer *k = &pm->kv[l];
  if (k->window && n > k->window)
    n = k->window;
  return n * (double)(tl__kv_type_bytes(s->kv_type_k, k->n_embd_k) + tl__kv_type_bytes(s->kv_type_v, k->n_embd_v));
}

/* Expected distinct experts of n used by C tokens each routing to k. */
static double experts_touched(double n, double k, double c)
{
  if (n <= 0)
    return 0;
  return n * (1.0 - pow(1.0 - k / n, c));
}

/* Seconds of one decode step for c sequences with ctx tokens each. Fills the
 * per-device figures when record is set. */
static double step_time(const tl__pmodel *pm, const tl_hw *hw, const tl_efficiency *e, tl_plan *p,
                        double c, double ctx, bool record)
{
  const tl_hparams *hp = &pm->m->hp;
  double frac = 1.0;
  if (pm->moe)
    frac = experts_touched(hp->n_expert, hp->n_expert_used, c) / hp->n_expert;
  double total = 0;
  bool any_gpu = false;
  for (size_t d = 0; d < p->n_devices; d++) {
    tl_plan_device *dev = &p->devices[d];
    dev_speed v = device_speed(hw, e, p, d);
    double w = 0, kv = 0, layers = 0;
    for (uint32_t l = 0; l < pm->n_layer; l++) {
      if ((size_t)p->layer_device[l] == d) {
        w += (double)pm->layer_bytes[l];
        kv += kv_read(pm, &p->settings, l, ctx);
        layers += 1;
      }
      if ((size_t)p->expert_device[l] == d && pm->expert_bytes[l]) {
        w += (double)pm->expert_bytes[l] * frac;
        if ((size_t)p->layer_device[l] != d)
          layers += 1; /* the expert half of a layer runs here */
      }
    }
    if ((size_t)p->output_device == d)
      w += (double)(pm->output_bytes + pm->global_bytes);
    if (layers == 0 && (size_t)p->output_device != d)
      continue;
    if (v.gpu)
      any_gpu = true;
    double tpf = tensor_parallel(p, &v);
    double t = (w + c * kv) / tpf / (v.eff * v.bw) + layers * (v.layer_s + (tpf > 1 ? e->tp_layer_s : 0));
    /* batched decode becomes compute bound: 2 FLOP per active parameter per
     * sequence (one sequence is memory bound: the model's premise) */
    if (c > 1) {
      double share = pm->read_bytes_active ? w / (double)pm->read_bytes_active : 0;
      double tc = c * 2.0 * pm->matmul_params_active * share / tpf / (v.prefill_eff * v.flops);
      if (tc > t)
        t = tc;
    }
    if (record) {
      dev->read_bytes = (uint64_t)w;
      dev->kv_read_bytes = (uint64_t)kv;
      dev->decode_s = t;
    }
    total += t;
  }
  /* device boundaries along the layer sequence (MoE offload crosses twice per layer) */
  /* (the input row's copy from token_embd in system RAM is left out: it is
   * a few KiB issued ahead of the graph) */
  int transitions = 0, prev = p->layer_device[0];
  for (uint32_t l = 0; l < pm->n_layer; l++) {
    if (p->layer_device[l] != prev)
      transitions++;
    prev = p->layer_device[l];
    if (pm->expert_bytes[l] && p->expert_device[l] != p->layer_device[l])
      transitions += 2;
  }
  if (p->output_device != prev)
    transitions++;
  total += transitions * e->split_sync_s;
  if (any_gpu)
    total += e->gpu_token_s;
  return total;
}

static double prefill_time(const tl__pmodel *pm, const tl_hw *hw, const tl_efficiency *e, const tl_plan *p,
                           double ub)
{
  const tl_hparams *hp = &pm->m->hp;
  double total = 0;
  for (size_t d = 0; d < p->n_devices; d++) {
    dev_speed v = device_speed(hw, e, p, d);
    double flops = 0, layers = 0, bytes = 0;
    for (uint32_t l = 0; l < pm->n_layer; l++) {
      bool here = (size_t)p->layer_device[l] == d, ex = (size_t)p->expert_device[l] == d;
      if (here) {
        layers += 1;
        bytes += (double)pm->layer_bytes[l];
        /* QK^T and AV over on average ub/2 earlier tokens of the batch */
        double dk = pm->kv[l].mla ? pm->kv[l].n_embd_k : (hp->head_dim_k ? hp->head_dim_k : hp->n_embd / (hp->n_head ? hp->n_head : 1));
        double dv = pm->kv[l].mla ? (hp->kv_lora_rank ? hp->kv_lora_rank : dk) : (hp->head_dim_v ? hp->head_dim_v : dk);
        double n = ub / 2;
        if (pm->kv[l].window && n > pm->kv[l].window)
          n = pm->kv[l].window;
        flops += 2.0 * hp->n_head * (dk + dv) * n;
      }
      if (ex)
        bytes += (double)pm->expert_bytes[l];
    }
    double share = 0;
    for (uint32_t l = 0; l < pm->n_layer; l++) {
      if ((size_t)p->layer_device[l] == d)
        share += (double)pm->layer_bytes[l];
      if ((size_t)p->expert_device[l] == d && pm->expert_bytes[l])
        share += (double)pm->expert_bytes[l] * (pm->moe ? (double)hp->n_expert_used / hp->n_expert : 1.0);
    }
    if ((size_t)p->output_device == d) {
      share += (double)pm->output_bytes + (double)pm->global_bytes;
      bytes += (double)pm->output_bytes;
    }
    if (share == 0 && layers == 0)
      continue;
    flops += 2.0 * pm->matmul_params_active * (pm->read_bytes_active ? share / (double)pm->read_bytes_active : 0);
    double tpf = tensor_parallel(p, &v);
    double tc = ub * flops / tpf / (v.prefill_eff * v.flops) + layers * v.prefill_layer_s;
    double tm = bytes / tpf / (v.eff * v.bw); /* every weight is read at least once per micro-batch */
    total += tc > tm ? tc : tm;
  }
  return total;
}

void tl__speed_estimate(const tl__pmodel *pm, const tl_hw *hw, const tl_efficiency *e, tl_plan *p)
{
  const tl_plan_settings *s = &p->settings;
  p->read_bytes_per_token = pm->read_bytes_active;
  p->flops_per_token = 2.0 * pm->matmul_params_active;
  double t = step_time(pm, hw, e, p, 1, s->decode_at, true);
  p->decode_tps = t > 0 ? 1.0 / t : 0;
  double tf = step_time(pm, hw, e, p, 1, s->n_ctx, false);
  p->decode_tps_full = tf > 0 ? 1.0 / tf : 0;
  double c = s->concurrency ? s->concurrency : 1;
  double tcc = step_time(pm, hw, e, p, c, s->decode_at, false);
  p->throughput_tps = tcc > 0 ? c / tcc : 0;
  double ub = s->n_ubatch ? s->n_ubatch : 512;
  double tp = prefill_time(pm, hw, e, p, ub);
  p->prefill_tps = tp > 0 ? ub / tp : 0;
}
