/* Ollama as a target runtime: llama.cpp underneath with Ollama's defaults:
 * num_ctx 4096 per sequence (docs/faq.md "How can I specify the context
 * window size?"; older releases used 2048), num_parallel 1, num_batch 512,
 * flash attention off unless OLLAMA_FLASH_ATTENTION=1, f16 KV. It reserves
 * 457 MiB per CUDA/ROCm GPU (discover/gpu.go, cudaMinimumMemory). Caches and
 * compute buffers are llama.cpp's (runtime-llamacpp.c). */
#include "internal.h"

static void resolve(tl_plan_settings *s, const tl_model_desc *m, const tl_hw *hw)
{
  (void)hw;
  tl__settings_defaults(s, m, 512, 0);
}

static uint64_t kv_cells(const tl_plan_settings *s, const tl_kv_layer *l)
{
  return tl__runtime_llamacpp.kv_cells(s, l);
}

static uint64_t compute_bytes(const tl__pmodel *pm, const tl_plan_settings *s, tl__buf_role role,
                              uint64_t staged)
{
  return tl__llamacpp_graph_bytes(pm, s, role) + staged;
}

const tl__runtime tl__runtime_ollama = {
    .id = TL_RUNTIME_OLLAMA,
    .resolve = resolve,
    .kv_cells = kv_cells,
    .compute_bytes = compute_bytes,
    .gpu_overhead = tl__gpu_context_bytes,
    /* The ollama server process next to the runner: assumed 128 MiB. */
    .host_overhead = 128 * TL__MIB,
    .embd_on_host = true,
    .tied_output_copy = true,
};
