/* tailor's own engine as a target runtime. The engine allocates what this
 * file says, in the same categories, so its report can be checked against
 * the estimate exactly:
 *   KV:      exactly n_ctx cells per sequence (no padding); a sliding-window
 *            layer keeps a ring of n_swa + n_ubatch cells; MLA the latent.
 *   compute: on the CPU, exactly what tl_engine_load allocates
 *            (tl__engine_compute_bytes: forward-pass state for ub tokens,
 *            matmul scratch, per-thread workspace and attention scratch,
 *            logits); for a device, f32 scratch for one micro-batch of ub
 *            tokens: x, xb, xb2 [n_embd], q [q_dim], k, v [kv_dim], hb, hb2
 *            [ffn], attention scores in tiles of 256 keys [n_head, ub, 256],
 *            and logits [n_vocab, n_parallel].
 *   overhead: the mapped GGUF bytes that are not tensor data (header,
 *            metadata, the tokenizer, padding), exactly as the engine reports
 *            them, plus its own tables (a few KiB per layer, counted as
 *            TAILOR_TABLE_BYTES per layer). The program's code and thread
 *            stacks are not an engine allocation: the host headroom covers them.
 *   placement: token_embd in system RAM (rows are gathered per token), the
 *            output projection with the last layer; a tied output is a
 *            second copy on a GPU, as in llama.cpp. */
#include <string.h>

#include "engine/engine-size.h"
#include "internal.h"

#define TAILOR_ATTN_TILE 256u

static void resolve(tl_plan_settings *s, const tl_model_desc *m, const tl_hw *hw)
{
  tl__settings_defaults(s, m, 2048, 1);
  if (s->n_threads == 0) {
    /* as the resolver and the engine choose them (docs/config.md, threads) */
    uint32_t perf = !hw ? 1 : hw->cpu.perf_cores ? hw->cpu.perf_cores : hw->cpu.cores;
    if (!perf)
      perf = hw->cpu.threads ? hw->cpu.threads : 1;
    uint64_t by_size = m->weight_bytes / (8u << 20);
    s->n_threads = by_size && by_size < perf ? (uint32_t)by_size : !by_size ? 1 : perf;
  }
}

static uint64_t kv_cells(const tl_plan_settings *s, const tl_kv_layer *l)
{
  uint64_t seq = s->n_ctx;
  if (l->window && (uint64_t)l->window + s->n_ubatch < seq)
    seq = (uint64_t)l->window + s->n_ubatch;
  return seq * s->n_parallel;
}

/* tl__engine_compute_bytes(m, ...) is the figure for m's hyperparameters
 * (forward-pass state, per-thread and attention scratch, logits: O(1)) plus
 * the largest matmul scratch any tensor needs (a scan of every tensor, with
 * no dependence on the context). The plan asks for it at many contexts: the
 * tensors' part is taken once per model and settings, as the difference
 * from the same description without tensors, and confirmed once at a second
 * context (if it ever differed there, every figure is the full call's). */
static uint64_t engine_compute_split(struct tl__pmodel_memo *memo, const tl_model_desc *m,
                                     const tl_plan_settings *s)
{
  tl_model_desc bare = *m;
  bare.tensors = NULL;
  bare.n_tensors = 0;
  uint64_t head = tl__engine_compute_bytes(&bare, s->n_threads, s->n_ctx, s->n_ubatch, s->n_parallel);
  bool same = memo->scan_checks > 0 && memo->scan_threads == s->n_threads && memo->scan_ubatch == s->n_ubatch &&
              memo->scan_parallel == s->n_parallel;
  if (same && memo->scan_checks == 2)
    return head + memo->scan_part;
  uint64_t full = tl__engine_compute_bytes(m, s->n_threads, s->n_ctx, s->n_ubatch, s->n_parallel);
  if (memo->scan_checks < 0)
    return full;
  if (same) {
    memo->scan_checks = full - head == memo->scan_part ? 2 : -1;
  } else {
    memo->scan_threads = s->n_threads;
    memo->scan_ubatch = s->n_ubatch;
    memo->scan_parallel = s->n_parallel;
    memo->scan_part = full - head;
    memo->scan_checks = 1;
  }
  return full;
}

/* tl__engine_compute_bytes scans every tensor: remember its last figures
 * (placement asks for the same one for every device and every trial). */
static uint64_t engine_compute(const tl__pmodel *pm, const tl_plan_settings *s)
{
  struct tl__compute_memo *c = pm->memo ? pm->memo->compute : NULL;
  size_t n = sizeof pm->memo_store.compute / sizeof pm->memo_store.compute[0];
  for (size_t i = 0; c && i < n; i++)
    if (c[i].set && c[i].n_threads == s->n_threads && c[i].n_ctx == s->n_ctx && c[i].n_ubatch == s->n_ubatch &&
        c[i].n_parallel == s->n_parallel)
      return c[i].bytes;
  uint64_t b = c ? engine_compute_split(pm->memo, pm->m, s)
                 : tl__engine_compute_bytes(pm->m, s->n_threads, s->n_ctx, s->n_ubatch, s->n_parallel);
  if (c) {
    /* oldest out: shift down, newest first */
    memmove(&c[1], &c[0], (n - 1) * sizeof c[0]);
    c[0].n_threads = s->n_threads;
    c[0].n_ctx = s->n_ctx;
    c[0].n_ubatch = s->n_ubatch;
    c[0].n_parallel = s->n_parallel;
    c[0].bytes = b;
    c[0].set = true;
  }
  return b;
}

static uint64_t compute_bytes(const tl__pmodel *pm, const tl_plan_settings *s, tl__buf_role role,
                              uint64_t staged)
{
  (void)staged; /* the engine multiplies host-resident layers on the CPU */
  const tl_hparams *hp = &pm->m->hp;
  /* The CPU engine: exactly what tl_engine_load allocates (engine-size.c). */
  if (role != TL__BUF_HOST_SIDE)
    return engine_compute(pm, s);
  uint64_t ub = s->n_ubatch, e = hp->n_embd;
  if (role == TL__BUF_HOST_SIDE)
    return 4 * ub * e + 4 * (uint64_t)hp->n_vocab * s->n_parallel;
  uint64_t q_dim = (uint64_t)hp->n_head * (hp->head_dim_k ? hp->head_dim_k : e / (hp->n_head ? hp->n_head : 1));
  if (pm->kv[0].mla)
    q_dim = (uint64_t)hp->n_head * pm->kv[0].n_embd_k;
  uint64_t kv_dim = pm->kv[0].n_embd_k + pm->kv[0].n_embd_v;
  uint64_t ffn = hp->n_ff;
  if (pm->moe && (uint64_t)hp->n_ff_exp * hp->n_expert_used > ffn)
    ffn = (uint64_t)hp->n_ff_exp * hp->n_expert_used;
  uint64_t tile = s->n_ctx < TAILOR_ATTN_TILE ? s->n_ctx : TAILOR_ATTN_TILE;
  uint64_t b = 4 * ub * (3 * e + q_dim + 2 * kv_dim + 2 * ffn) + 4 * (uint64_t)hp->n_head * ub * tile;
  if (role == TL__BUF_OUTPUT || role == TL__BUF_ALL)
    b += 4 * (uint64_t)hp->n_vocab * s->n_parallel;
  return b;
}

/* Per layer: the engine's weight views and bookkeeping (src/engine/engine-int.h
 * tl__layer is about 1 KiB); a bound, not a measurement. */
#define TAILOR_TABLE_BYTES 1024u

static uint64_t host_overhead_of(const tl__pmodel *pm)
{
  const tl_model_desc *m = pm->m;
  uint64_t file = m->file_bytes;
  if (!file && pm->memo) {
    if (!pm->memo->file_bytes)
      pm->memo->file_bytes = tl_model_desc_predict_file_bytes(m);
    file = pm->memo->file_bytes;
  } else if (!file) {
    file = tl_model_desc_predict_file_bytes(m);
  }
  uint64_t meta = file > m->weight_bytes ? file - m->weight_bytes : 0;
  return meta + (uint64_t)m->hp.n_layer * TAILOR_TABLE_BYTES + 4096;
}

const tl__runtime tl__runtime_tailor = {
    .id = TL_RUNTIME_TAILOR,
    .resolve = resolve,
    .kv_cells = kv_cells,
    .compute_bytes = compute_bytes,
    .gpu_overhead = tl__gpu_context_bytes,
    .host_overhead = 0,
    .host_overhead_of = host_overhead_of,
    .embd_on_host = true,
    .tied_output_copy = true,
};
