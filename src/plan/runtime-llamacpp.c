/* llama.cpp as a target runtime: its defaults (llama-server: -c 4096,
 * -b 2048, -ub 512, flash attention auto = on, f16 KV), its KV layout
 * (cells padded to 256; sliding-window layers hold n_swa + n_ubatch, padded:
 * src/llama-kv-cache-iswa.cpp), and its compute-buffer size, the peak of the
 * graph allocator for one micro-batch, derived in docs/plan.md and pinned to
 * measured figures in tests/test-plan-memory.c. token_embd stays in system RAM
 * (llama.cpp never offloads the input embedding); a tied output is loaded a
 * second time on the device of the output layer (TENSOR_DUPLICATED). */
#include "internal.h"

static uint32_t pad_up(uint64_t n, uint32_t pad) { return (uint32_t)((n + pad - 1) / pad * pad); }

static void resolve(tl_plan_settings *s, const tl_model_desc *m, const tl_hw *hw)
{
  (void)hw;
  tl__settings_defaults(s, m, 2048, 1);
}

/* Cells per sequence are padded to 256 (n_ctx is padded when the context is
 * created); a sliding-window layer keeps min(context, pad(n_swa + n_ubatch)). */
static uint64_t kv_cells(const tl_plan_settings *s, const tl_kv_layer *l)
{
  uint64_t seq = pad_up(s->n_ctx, TL__LLAMACPP_KV_PAD);
  if (l->window) {
    uint64_t w = pad_up((uint64_t)l->window + s->n_ubatch, TL__LLAMACPP_KV_PAD);
    if (w < seq)
      seq = w;
  }
  return seq * s->n_parallel;
}

static uint64_t max_kv_cells(const tl__pmodel *pm, const tl_plan_settings *s,
                             uint64_t (*cells)(const tl_plan_settings *, const tl_kv_layer *))
{
  uint64_t n = 0;
  for (uint32_t l = 0; l < pm->n_layer; l++) {
    uint64_t c = cells(s, &pm->kv[l]);
    if (c > n)
      n = c;
  }
  return n;
}

/* The graph allocator's peak is the largest of three phases, all f32:
 *   output:    logits [n_vocab, n_ubatch] + the normed and residual
 *              [n_embd, n_ubatch]            = 4 ub (n_vocab + 2 n_embd)
 *   attention: flash attention: Q, K/V views cast, output [.., ub]
 *                                            = 4 ub (q_dim + 2 kv_dim + 2 n_embd)
 *              without: scores and softmax [n_kv, ub, n_head] twice
 *                                            = 8 ub n_head n_kv + 4 ub (q_dim + n_embd)
 *   ffn:       gate and up outputs + residual = 4 ub (2 ffn + 2 n_embd)
 *              (MoE: 2 n_ff_exp n_used + n_embd n_used + n_expert)
 * The output phase reproduces llama.cpp's reported CPU compute buffers
 * exactly (258.5 MiB for a 1B llama, 300.75 MiB for qwen3 0.6B at ub 512). */
uint64_t tl__llamacpp_graph_bytes(const tl__pmodel *pm, const tl_plan_settings *s, tl__buf_role role)
{
  const tl_hparams *hp = &pm->m->hp;
  uint64_t ub = s->n_ubatch, e = hp->n_embd;
  if (role == TL__BUF_HOST_SIDE)
    return 8 * ub * e; /* input embeddings and their copy to the first GPU */
  uint64_t q_dim = (uint64_t)hp->n_head * (hp->head_dim_k ? hp->head_dim_k : e / (hp->n_head ? hp->n_head : 1));
  if (pm->kv[0].mla)
    q_dim = (uint64_t)hp->n_head * pm->kv[0].n_embd_k;
  uint64_t kv_dim = pm->kv[0].n_embd_k + pm->kv[0].n_embd_v;
  uint64_t attn;
  if (s->flash_attn > 0) {
    attn = 4 * ub * (q_dim + 2 * kv_dim + 2 * e);
  } else {
    uint64_t n_kv = max_kv_cells(pm, s, tl__runtime_llamacpp.kv_cells);
    if (n_kv > s->n_ctx * (uint64_t)s->n_parallel)
      n_kv = pad_up((uint64_t)s->n_ctx * s->n_parallel, TL__LLAMACPP_KV_PAD);
    attn = 8 * ub * hp->n_head * n_kv + 4 * ub * (q_dim + e);
  }
  uint64_t ffn = 4 * ub * (2 * (uint64_t)hp->n_ff + 2 * e);
  if (pm->moe) {
    uint64_t f = 4 * ub * (2 * (uint64_t)hp->n_ff_exp * hp->n_expert_used +
                           e * hp->n_expert_used + hp->n_expert + 2 * e);
    if (f > ffn)
      ffn = f;
  }
  uint64_t peak = attn > ffn ? attn : ffn;
  if (role == TL__BUF_OUTPUT || role == TL__BUF_ALL) {
    uint64_t out = 4 * ub * ((uint64_t)hp->n_vocab + 2 * e);
    if (out > peak)
      peak = out;
  }
  return peak;
}

static uint64_t compute_bytes(const tl__pmodel *pm, const tl_plan_settings *s, tl__buf_role role,
                              uint64_t staged)
{
  /* staged: with layers left in system RAM, llama.cpp copies a CPU-resident
   * weight to the GPU to multiply a large batch there; the buffer holds the
   * largest such tensor. */
  return tl__llamacpp_graph_bytes(pm, s, role) + staged;
}

void tl__settings_defaults(tl_plan_settings *s, const tl_model_desc *m, uint32_t n_batch,
                           int flash_attn)
{
  if (s->n_ctx == 0)
    s->n_ctx = m->hp.n_ctx_train && m->hp.n_ctx_train < 4096 ? m->hp.n_ctx_train : 4096;
  if (s->n_parallel == 0)
    s->n_parallel = 1;
  if (s->n_batch == 0)
    s->n_batch = n_batch;
  if (s->n_ubatch == 0)
    s->n_ubatch = 512;
  if (s->n_ubatch > s->n_batch)
    s->n_ubatch = s->n_batch;
  if (s->flash_attn < 0)
    s->flash_attn = flash_attn;
}

uint64_t tl__gpu_context_bytes(const tl_gpu *g)
{
  if (g->unified || g->vendor == TL_GPU_APPLE)
    return 0;
  return 457 * TL__MIB;
}

const tl__runtime tl__runtime_llamacpp = {
    .id = TL_RUNTIME_LLAMACPP,
    .resolve = resolve,
    .kv_cells = kv_cells,
    .compute_bytes = compute_bytes,
    .gpu_overhead = tl__gpu_context_bytes,
    /* Program, libraries and vocabulary outside the model buffers: peak RSS
     * of llama-completion on the 1B Q8_0 model exceeded weights + KV by 47 MiB,
     * compute-buffer pages touched included (bench/reference-
     * llamacpp.md: 1363 - 1252 - 64); 32 MiB of it taken as fixed. */
    .host_overhead = 32 * TL__MIB,
    .embd_on_host = true,
    .tied_output_copy = true,
};
