/* What the files of src/plan share: the per-model figures a plan is built
 * from (bytes per layer and role, KV geometry), the runtime hooks that size
 * caches and buffers, and the steps of tl_plan_estimate (placement, memory,
 * speed, fit, score). Never included from outside src/plan. */
#ifndef TL_PLAN_INTERNAL_H
#define TL_PLAN_INTERNAL_H

#include "tailor/plan.h"

#define TL__MIB (1024ull * 1024ull)
#define TL__GIB (1024ull * 1024ull * 1024ull)

/* A model reduced to what placement and speed need. */
typedef struct tl__pmodel {
  const tl_model_desc *m;
  uint32_t n_layer;
  uint64_t layer_bytes[TL_MAX_LAYERS];  /* per layer: everything but routed experts */
  uint64_t expert_bytes[TL_MAX_LAYERS]; /* per layer: routed expert tensors (all experts) */
  uint64_t embd_bytes;                  /* token_embd */
  uint64_t output_bytes;                /* output.weight; for tied models the shared token_embd */
  uint64_t global_bytes;                /* output_norm, rope_freqs and other global tensors */
  uint64_t largest_tensor;              /* bytes of the largest weight tensor */
  bool tied;
  bool moe;
  double matmul_params_active;          /* elements of weights multiplied per token */
  uint64_t read_bytes_active;           /* weight bytes read per token (MoE: used experts) */
  tl_kv_layer kv[TL_MAX_LAYERS];
  uint64_t kv_cell_bytes[TL_MAX_LAYERS]; /* K + V bytes of one cell at the plan's KV types */
  /* The last compute figures a runtime worked out for this model (keyed by
   * the settings they depend on): placement asks for the same figure many
   * times per plan. Points into the pmodel's own storage (memo_store). */
  struct tl__pmodel_memo {
    struct tl__compute_memo {
      uint32_t n_threads, n_ctx, n_ubatch, n_parallel;
      uint64_t bytes;
      bool set;
    } compute[4];
    uint64_t file_bytes; /* tl_model_desc_predict_file_bytes, 0 until asked */
    /* The tensors' part of the engine's compute figure (its matmul scratch),
     * which does not depend on the context: the figure for the model less
     * the figure for the same model without tensors, at these settings.
     * checks: 0 unknown, 1 taken once, 2 confirmed at a second context,
     * -1 found to depend on it (not used). */
    uint32_t scan_threads, scan_ubatch, scan_parallel;
    uint64_t scan_part;
    int scan_checks;
  } *memo, memo_store;
} tl__pmodel;

/* Fills pm from m. TL_EINVAL when the model has no layers or too many. */
tl_status tl__pmodel_init(tl__pmodel *pm, const tl_model_desc *m, tl_error *err);

/* Sets kv_cell_bytes for the KV cache types of a plan. */
void tl__pmodel_set_kv_types(tl__pmodel *pm, tl_qtype k, tl_qtype v);

/* Bytes of n elements of a KV cache type (block types rounded up to blocks). */
uint64_t tl__kv_type_bytes(tl_qtype t, uint64_t n);
bool tl__kv_type_valid(tl_qtype t);

/* Where a compute buffer is: decides which graph phases it holds. */
typedef enum tl__buf_role {
  TL__BUF_ALL = 0,        /* one device runs the whole graph (CPU only, or all on one GPU) */
  TL__BUF_LAYERS = 1,     /* a device holding some layers, not the output */
  TL__BUF_OUTPUT = 2,     /* a device holding layers and the output */
  TL__BUF_HOST_SIDE = 3,  /* the host while GPUs run every layer (inputs, copies) */
} tl__buf_role;

/* Per-GPU runtime context of CUDA / ROCm: Ollama reserves 457 MiB per GPU
 * for it (ollama discover/gpu.go, cudaMinimumMemory and rocmMinimumMemory);
 * the llama.cpp-like runtimes here use the same figure. Unified-memory GPUs
 * (Metal) are charged nothing: their runtime lives in the host's share. */
uint64_t tl__gpu_context_bytes(const tl_gpu *g);
/* The defaults llama.cpp-like runtimes share: context min(training context,
 * 4096), one sequence, micro-batch 512 (at most the batch), and the runtime's
 * own batch size and flash-attention default for 0 / -1 fields. */
void tl__settings_defaults(tl_plan_settings *s, const tl_model_desc *m, uint32_t n_batch,
                           int flash_attn);

/* Runtime hooks. */
typedef struct tl__runtime {
  tl_runtime id;
  /* Fills 0 / -1 settings with the runtime's defaults. */
  void (*resolve)(tl_plan_settings *s, const tl_model_desc *m, const tl_hw *hw);
  /* KV cells a layer holds for all sequences. */
  uint64_t (*kv_cells)(const tl_plan_settings *s, const tl_kv_layer *l);
  /* Compute buffer bytes of one device. */
  uint64_t (*compute_bytes)(const tl__pmodel *pm, const tl_plan_settings *s, tl__buf_role role,
                            uint64_t staged_bytes);
  /* Fixed runtime bytes on a GPU (context, graphs) and on the host. */
  uint64_t (*gpu_overhead)(const tl_gpu *g);
  uint64_t host_overhead;
  /* When set, replaces host_overhead (a figure that depends on the model). */
  uint64_t (*host_overhead_of)(const tl__pmodel *pm);
  bool embd_on_host;       /* token_embd stays in system RAM */
  bool tied_output_copy;   /* a tied output is a second copy on the output device */
} tl__runtime;

extern const tl__runtime tl__runtime_tailor;
extern const tl__runtime tl__runtime_llamacpp;
extern const tl__runtime tl__runtime_ollama;
extern const tl__runtime tl__runtime_vllm;
const tl__runtime *tl__runtime_get(tl_runtime id);

/* llama.cpp's graph-allocator peak for a micro-batch (shared with Ollama). */
uint64_t tl__llamacpp_graph_bytes(const tl__pmodel *pm, const tl_plan_settings *s, tl__buf_role role);
/* llama.cpp's padding of KV cells. */
#define TL__LLAMACPP_KV_PAD 256u

/* KV bytes of one layer for all sequences under runtime rt. */
uint64_t tl__kv_layer_bytes(const tl__runtime *rt, const tl_plan_settings *s, const tl_kv_layer *l);

/* What the host offers a model now: tl_memory.usable (else available, total). */
uint64_t tl__host_usable(const tl_hw *hw);
/* Host memory held back from a plan: the OS and other programs. */
uint64_t tl__host_headroom(const tl_hw *hw);

/* Placement for the llama.cpp-like runtimes (tailor, llama.cpp, Ollama):
 * fills devices, layer/expert maps, memory per device, mode and fits. */
tl_status tl__place_layers(const tl__runtime *rt, const tl__pmodel *pm, const tl_hw *hw,
                           tl_plan *p, tl_error *err);
/* Bytes drawn from system RAM: the host's and every unified GPU's. */
uint64_t tl__pool_used(const tl_plan *p);

/* Placement for vLLM (GPU only, tensor parallel, paged KV). */
tl_status tl__place_vllm(const tl__pmodel *pm, const tl_hw *hw, tl_plan *p, tl_error *err);
/* vLLM: KV cells per sequence rounded up to its 16-token blocks. */
#define TL__VLLM_BLOCK 16u

/* Speed model: fills decode/prefill/throughput figures from a placed plan. */
void tl__speed_estimate(const tl__pmodel *pm, const tl_hw *hw, const tl_efficiency *e, tl_plan *p);

/* Fit: level, utilisation, notes. */
void tl__fit_assess(const tl__pmodel *pm, const tl_hw *hw, tl_plan *p);
/* Appends a note (printf format); extra notes past TL_PLAN_MAX_NOTES are dropped. */
void tl__plan_note(tl_plan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Scores 0-100 and the composite. */
void tl__score_plan(const tl_model_desc *m, tl_plan *p);
/* Quality estimate 0-100 before the quantization adjustment. */
double tl__quality_base(const tl_model_desc *m, const tl_plan_settings *s);
/* Multiplier for a file-type mixture (1.0 = unquantized). */
double tl__quality_quant_factor(tl_ftype f, bool known);

/* m re-typed to ftype by the mixture rule (registry tensors of m's
 * hyperparameters), keeping m's name, source, license and catalog id. The
 * one way fit and tune derive a mixture from an opened model. */
tl_status tl__desc_retype(const tl_model_desc *m, tl_ftype ftype, tl_model_desc **out, tl_error *err);

/* The mixture a model is opened at before it is re-typed (fit and tune alike). */
#define TL__OPEN_FTYPE TL_FTYPE_Q4_K_M

/* Places and sizes only (no speed or scores): used by the context search. */
tl_status tl__plan_place(const tl__pmodel *pm, const tl_hw *hw, const tl_plan_settings *resolved,
                         tl_plan *p, tl_error *err);

#endif
