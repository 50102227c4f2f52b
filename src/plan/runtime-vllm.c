/* vLLM as a target runtime. vLLM takes gpu_memory_utilization (0.90) of each
 * GPU's total memory, and refuses to start when less than that is free; in
 * that budget it loads the weights split over tensor_parallel GPUs (embedding
 * and LM head sharded too), profiles the activation peak of a maximal batch,
 * captures CUDA graphs, and gives all the rest to the KV cache in blocks of
 * 16 tokens (docs: "Engine arguments", "Optimization and tuning"). A plan fits
 * when that rest holds max_model_len tokens for n_parallel sequences. Weights
 * only on GPUs: CPU offload (--cpu-offload-gb) is not planned here. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

static uint32_t heads_divisor(uint32_t n_head, uint32_t n)
{
  /* the largest power of two <= n that divides the head count */
  uint32_t t = 1;
  while (t * 2 <= n && n_head % (t * 2) == 0)
    t *= 2;
  return t;
}

static void resolve(tl_plan_settings *s, const tl_model_desc *m, const tl_hw *hw)
{
  if (s->n_ctx == 0)
    s->n_ctx = m->hp.n_ctx_train ? m->hp.n_ctx_train : 4096;
  if (s->n_parallel == 0)
    s->n_parallel = 1;
  if (s->n_batch == 0)
    s->n_batch = 8192; /* max_num_batched_tokens with chunked prefill */
  if (s->n_ubatch == 0)
    s->n_ubatch = s->n_batch;
  if (s->flash_attn < 0)
    s->flash_attn = 1;
  if (s->gpu_memory_utilization <= 0)
    s->gpu_memory_utilization = 0.90;
  if (s->tensor_parallel == 0) {
    uint32_t n = hw && hw->n_gpus ? (uint32_t)hw->n_gpus : 1;
    s->tensor_parallel = heads_divisor(m->hp.n_head ? m->hp.n_head : 1, n);
  }
}

static uint64_t kv_cells(const tl_plan_settings *s, const tl_kv_layer *l)
{
  uint64_t seq = s->n_ctx;
  if (l->window && (uint64_t)l->window + TL__VLLM_BLOCK < seq)
    seq = (uint64_t)l->window + TL__VLLM_BLOCK; /* hybrid allocator frees blocks outside the window */
  seq = (seq + TL__VLLM_BLOCK - 1) / TL__VLLM_BLOCK * TL__VLLM_BLOCK;
  return seq * s->n_parallel;
}

/* The profiled activation peak per GPU: bf16 activations of n_batch tokens
 * through the widest layer, split by tensor parallelism, plus the sampler's
 * f32 logits for 256 sequences (max_num_seqs). */
static uint64_t compute_bytes(const tl__pmodel *pm, const tl_plan_settings *s, tl__buf_role role,
                              uint64_t staged)
{
  (void)role;
  (void)staged;
  const tl_hparams *hp = &pm->m->hp;
  uint64_t ffn = hp->n_ff;
  if (pm->moe && (uint64_t)hp->n_ff_exp * hp->n_expert_used > ffn)
    ffn = (uint64_t)hp->n_ff_exp * hp->n_expert_used;
  uint64_t tp = s->tensor_parallel ? s->tensor_parallel : 1;
  return 2 * (uint64_t)s->n_batch * (4 * (uint64_t)hp->n_embd + 2 * ffn / tp) +
         4 * 256 * (uint64_t)hp->n_vocab / tp;
}

/* CUDA context (as the other runtimes) + captured CUDA graphs: vLLM logs
 * "Graph capturing finished ... took 0.5 GiB" for typical models: 512 MiB. */
static uint64_t gpu_overhead(const tl_gpu *g)
{
  return tl__gpu_context_bytes(g) + 512 * TL__MIB;
}

const tl__runtime tl__runtime_vllm = {
    .id = TL_RUNTIME_VLLM,
    .resolve = resolve,
    .kv_cells = kv_cells,
    .compute_bytes = compute_bytes,
    .gpu_overhead = gpu_overhead,
    /* the Python process with torch and the model's config: assumed 2 GiB */
    .host_overhead = 2 * TL__GIB,
    .embd_on_host = false,
    .tied_output_copy = false,
};

tl_status tl__place_vllm(const tl__pmodel *pm, const tl_hw *hw, tl_plan *p, tl_error *err)
{
  (void)err;
  const tl__runtime *rt = &tl__runtime_vllm;
  const tl_plan_settings *s = &p->settings;
  memset(p->devices, 0, sizeof p->devices);
  tl_plan_device *host = &p->devices[0];
  host->gpu = -1;
  snprintf(host->name, sizeof host->name, "%s", hw->cpu.model[0] ? hw->cpu.model : "CPU");
  host->headroom = tl__host_headroom(hw);
  host->available = tl__host_usable(hw) > host->headroom ? tl__host_usable(hw) - host->headroom : 0;
  host->bandwidth = hw->mem.bandwidth;
  host->bytes[TL_MEM_OVERHEAD] = rt->host_overhead;
  host->used = rt->host_overhead;
  p->n_devices = 1;
  for (uint32_t l = 0; l < pm->n_layer; l++)
    p->layer_device[l] = p->expert_device[l] = 0;
  p->embd_device = p->output_device = 0;
  uint32_t tp = s->tensor_parallel;
  if (hw->n_gpus == 0 || tp > hw->n_gpus) {
    /* no GPU to run on: everything counted on the host, and it does not fit */
    host->bytes[TL_MEM_WEIGHTS] = pm->m->weight_bytes;
    host->used += pm->m->weight_bytes;
    host->n_layers = pm->n_layer;
    p->mode = TL_RUN_CPU_ONLY;
    p->fits = false;
    return TL_OK;
  }
  uint64_t kv_total = 0;
  for (uint32_t l = 0; l < pm->n_layer; l++)
    kv_total += tl__kv_layer_bytes(rt, s, &pm->kv[l]);
  /* KV heads are split over the GPUs; with fewer KV heads than GPUs they are replicated */
  uint32_t kvh = pm->m->hp.n_head_kv ? pm->m->hp.n_head_kv : 1;
  uint64_t kv_per_gpu = pm->kv[0].mla ? kv_total : kv_total / (tp < kvh ? tp : kvh);
  bool fits = true;
  for (uint32_t k = 0; k < tp; k++) {
    const tl_gpu *g = &hw->gpus[k];
    tl_plan_device *d = &p->devices[1 + k];
    d->gpu = (int)k;
    snprintf(d->name, sizeof d->name, "%s", g->name);
    d->unified = g->unified;
    d->bandwidth = g->bandwidth;
    uint64_t budget = (uint64_t)((double)g->vram_total * s->gpu_memory_utilization);
    uint64_t free_now = g->vram_free ? g->vram_free : g->vram_total;
    d->available = budget < free_now ? budget : free_now;
    d->bytes[TL_MEM_WEIGHTS] = pm->m->weight_bytes / tp;
    d->bytes[TL_MEM_KV] = kv_per_gpu;
    d->bytes[TL_MEM_COMPUTE] = rt->compute_bytes(pm, s, TL__BUF_ALL, 0);
    d->bytes[TL_MEM_OVERHEAD] = rt->gpu_overhead(g);
    d->bytes[TL_MEM_EXTRA] = k == 0 ? s->projector_bytes : 0;
    for (int c = 0; c < TL_MEM_COUNT; c++)
      d->used += d->bytes[c];
    d->n_layers = pm->n_layer;
    d->n_expert_layers = pm->moe ? pm->n_layer : 0;
    if (d->used > d->available)
      fits = false;
    p->n_devices++;
  }
  /* the speed model sees one device per layer: the first of the group; the
   * others read their share in parallel (tp divides the bytes there) */
  for (uint32_t l = 0; l < pm->n_layer; l++)
    p->layer_device[l] = p->expert_device[l] = 1;
  p->output_device = 1;
  p->n_gpu_layers = pm->n_layer;
  p->mode = TL_RUN_GPU;
  p->fits = fits && tl__pool_used(p) <= host->available;
  return TL_OK;
}
