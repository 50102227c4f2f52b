/* Plans: a model description on a machine under a workload, for a target
 * runtime -> placement (which layers, experts and caches live on which
 * device), memory per device and category, decode/prefill speed, a fit level,
 * scores, and (tune) one plan per quantization with a recommendation.
 * One estimator serves fit, tune, config and the engine: the same inputs give
 * the same figures everywhere. Sizes in bytes, times in seconds, speeds in
 * tokens/s. The model is docs/plan.md. */
#ifndef TAILOR_PLAN_H
#define TAILOR_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tailor/catalog.h"
#include "tailor/error.h"
#include "tailor/hw.h"
#include "tailor/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The runtime a plan is for: each places tensors and sizes buffers its own way. */
typedef enum tl_runtime {
  TL_RUNTIME_TAILOR = 0,   /* the built-in engine (default) */
  TL_RUNTIME_LLAMACPP = 1, /* llama.cpp (llama-server / llama-cli) */
  TL_RUNTIME_VLLM = 2,     /* vLLM (GPU only, paged KV in blocks of 16 tokens) */
  TL_RUNTIME_OLLAMA = 3,   /* Ollama (llama.cpp underneath, its own defaults) */
  TL_RUNTIME_COUNT
} tl_runtime;

/* How the model runs. */
typedef enum tl_run_mode {
  TL_RUN_GPU = 0,         /* every layer on GPU(s) or in a unified-memory pool */
  TL_RUN_MOE_OFFLOAD = 1, /* routed experts (some or all layers) in system RAM, rest on GPU */
  TL_RUN_CPU_OFFLOAD = 2, /* some layers on GPU, the rest on the CPU */
  TL_RUN_CPU_ONLY = 3,
  TL_RUN_COUNT
} tl_run_mode;

/* How comfortably a plan fits; thresholds in docs/plan.md. */
typedef enum tl_fit_level {
  TL_FIT_PERFECT = 0,   /* all on GPU (or CPU-only machine), <= 80% of available memory */
  TL_FIT_GOOD = 1,      /* fits with <= 90% used on every device */
  TL_FIT_MARGINAL = 2,  /* fits, but > 90% used somewhere, or layers spill to the CPU */
  TL_FIT_TOO_TIGHT = 3, /* does not fit */
  TL_FIT_COUNT
} tl_fit_level;

/* Memory categories, the same the engine reports what it allocated in. */
typedef enum tl_mem_cat {
  TL_MEM_WEIGHTS = 0,  /* tensors of the model */
  TL_MEM_KV = 1,       /* KV cache (all sequences, incl. a quantized cache's scratch) */
  TL_MEM_COMPUTE = 2,  /* activations / compute graph buffers, logits */
  TL_MEM_OVERHEAD = 3, /* runtime: CUDA context, CUDA graphs, allocator slack */
  TL_MEM_EXTRA = 4,    /* vision projector, draft model (weights + KV) */
  TL_MEM_COUNT
} tl_mem_cat;

typedef enum tl_use_case {
  TL_USE_GENERAL = 0,
  TL_USE_CODING = 1,
  TL_USE_REASONING = 2,
  TL_USE_CHAT = 3,
  TL_USE_MULTIMODAL = 4,
  TL_USE_EMBEDDING = 5,
  TL_USE_COUNT
} tl_use_case;

/* Efficiency constants of the speed model (docs/plan.md, src/plan/efficiency.c
 * names each one's source). Fill with tl_efficiency_default, optionally
 * overridden by a calibration file (tl_efficiency_load). */
typedef struct tl_efficiency {
  double cpu_decode_bw;       /* fraction of memory bandwidth that CPU decode reaches */
  double cpu_layer_s;         /* fixed seconds per layer per decoded token on the CPU */
  double cpu_prefill_flops;   /* fraction of tl_cpu.flops_f32 reached by prefill */
  double gpu_decode_bw;       /* fraction of peak GPU bandwidth reached by decode kernels */
  double gpu_layer_s;         /* fixed seconds per layer per token (kernel floor), flash attention */
  double gpu_layer_s_nofa;    /* the same without flash attention */
  double gpu_token_s;         /* fixed seconds per decoded token (sampling, host sync) */
  double gpu_prefill_flops;   /* fraction of dense FP16 FLOP/s reached by prefill */
  double gpu_prefill_layer_s; /* fixed seconds per layer per micro-batch of prefill */
  double apple_decode_bw;     /* unified-memory GPUs (Apple): fraction of bandwidth */
  double apple_layer_s;       /* unified-memory GPUs: seconds per layer per token */
  double split_sync_s;        /* per token, per boundary between devices (activation copy + sync) */
  double tp_layer_s;          /* tensor parallel: all-reduce seconds per layer per token */
} tl_efficiency;

/* The built-in table (values and sources in src/plan/efficiency.c). */
void tl_efficiency_default(tl_efficiency *e);
/* Overrides fields of *e from a calibration JSON file
 * {"schema_version": 1, "efficiency": {"cpu_decode_bw": 0.8, ...}}.
 * Unknown keys and values out of range are TL_EFORMAT naming the key.
 * *e is changed only on success. */
tl_status tl_efficiency_load(const char *path, tl_efficiency *e, tl_error *err);
/* The same from a JSON text (len bytes). */
tl_status tl_efficiency_parse(const char *json, size_t len, tl_efficiency *e, tl_error *err);

/* Workload and settings of one plan. Initialise with tl_plan_settings_init;
 * 0 / -1 fields take the runtime's default, and the resolved values are
 * written back into tl_plan.settings. */
typedef struct tl_plan_settings {
  tl_runtime runtime;
  uint32_t n_ctx;        /* tokens per sequence; 0 = runtime default */
  uint32_t n_parallel;   /* sequences that each keep a KV cache; 0 = runtime default */
  uint32_t n_batch;      /* logical batch; 0 = runtime default (2048) */
  uint32_t n_ubatch;     /* micro-batch that sizes compute buffers; 0 = default (512) */
  tl_qtype kv_type_k;    /* F16 (default), BF16, F32, Q8_0, Q4_0 */
  tl_qtype kv_type_v;
  int flash_attn;        /* -1 = runtime default, 0 off, 1 on */
  int mode;              /* -1 = choose; else a tl_run_mode to force */
  int n_gpu_layers;      /* -1 = as many as fit; else layers on GPU (CPU_OFFLOAD) */
  uint32_t tensor_parallel;      /* vLLM: GPUs per replica; 0 = all GPUs */
  double gpu_memory_utilization; /* vLLM: fraction of VRAM it may take; 0 = 0.90 */
  uint64_t projector_bytes;      /* multimodal projector file (e.g. mmproj GGUF), 0 = none */
  const tl_model_desc *draft;    /* draft model for speculative decoding, NULL = none */
  uint32_t concurrency;  /* sequences decoded together for throughput; 0 = n_parallel */
  uint32_t n_threads;    /* tailor's engine: worker threads (per-thread scratch); 0 = the
                            physical performance cores, at most one per 8 MiB of weights */
  uint32_t decode_at;    /* tokens already in context when decode speed is taken */
  tl_use_case use_case;
  double quality_benchmark; /* published benchmark score 0-100 (catalog "quality"), < 0 = none */
  char family[32];          /* marketing family for the quality heuristic ("qwen3"), "" = unknown */
  double release_year;      /* release date as a fractional year (2024.5), 0 = unknown */
  const tl_efficiency *eff; /* NULL = tl_efficiency_default */
} tl_plan_settings;

void tl_plan_settings_init(tl_plan_settings *s);
/* Copies what a catalog entry says about quality (its "quality" score) and
 * family into s. */
void tl_plan_settings_from_catalog(tl_plan_settings *s, const tl_catalog_entry *e);

/* A plan uses the host and at most 16 GPUs (one node). */
#define TL_PLAN_MAX_DEVICES 17
#define TL_PLAN_MAX_NOTES 8
#define TL_PLAN_HOST 0 /* device index of the host (CPU and system RAM) */

/* One device of a placement. Device 0 is the host; device k > 0 is
 * tl_hw.gpus[gpu]. */
typedef struct tl_plan_device {
  int gpu;                      /* index into tl_hw.gpus, -1 for the host */
  char name[128];
  bool unified;                 /* shares system RAM (one pool with the host) */
  uint64_t bytes[TL_MEM_COUNT]; /* estimated allocation per category */
  uint64_t used;                /* sum of bytes[] */
  uint64_t available;           /* free now for this plan (host: usable minus headroom) */
  uint64_t headroom;            /* kept free: OS and other programs (host only) */
  uint32_t layer_first;         /* first layer whose attention/dense part is here */
  uint32_t n_layers;            /* layers (attention/dense part) here, contiguous */
  uint32_t n_expert_layers;     /* layers whose routed experts live here */
  uint64_t read_bytes;          /* weight bytes read per decoded token here */
  uint64_t kv_read_bytes;       /* KV bytes read per decoded token at decode_at */
  double bandwidth;             /* bytes/s (peak) the speed model used */
  double decode_s;              /* this device's share of one decode step, seconds */
} tl_plan_device;

/* A plan: placement, memory, speed, fit and scores. Plain data (no
 * pointers except settings.draft/eff, borrowed), copyable. */
typedef struct tl_plan {
  tl_plan_settings settings;    /* resolved: no 0 / -1 defaults left */
  tl_run_mode mode;
  size_t n_devices;
  tl_plan_device devices[TL_PLAN_MAX_DEVICES];
  uint32_t n_layer;
  int8_t layer_device[TL_MAX_LAYERS];  /* attention, norms, dense FFN, shared experts */
  int8_t expert_device[TL_MAX_LAYERS]; /* routed experts (== layer_device for dense layers) */
  int8_t embd_device;                  /* token_embd (input lookups) */
  int8_t output_device;                /* output projection and final norm */
  uint32_t n_gpu_layers;               /* layers whose attention part is on a GPU */
  uint32_t n_cpu_moe_layers;           /* MoE layers whose experts are in system RAM */
  /* memory */
  uint64_t bytes[TL_MEM_COUNT];  /* all devices */
  uint64_t required;             /* sum over devices */
  uint64_t available;            /* sum over devices that the plan uses */
  uint64_t gpu_required, gpu_available;
  uint64_t spill_bytes;          /* model bytes placed in system RAM although a GPU exists */
  uint64_t kv_bytes_per_token;   /* one sequence, all layers, at n_ctx (SWA layers averaged) */
  uint32_t n_ctx_max;            /* largest context per sequence that fits in this mode */
  bool fits;
  double utilisation;            /* max over used devices of used / available */
  tl_fit_level level;
  /* speed */
  double decode_tps;             /* one sequence, decode_at tokens in context */
  double decode_tps_full;        /* one sequence at a full context */
  double prefill_tps;
  double throughput_tps;         /* all sequences together at `concurrency` */
  uint64_t read_bytes_per_token; /* weights read per decoded token (MoE: used experts) */
  double flops_per_token;        /* 2 x active matmul parameters */
  /* scores 0-100 */
  double score_quality, score_speed, score_fit, score_context, score;
  size_t n_notes;
  char notes[TL_PLAN_MAX_NOTES][192];
} tl_plan;

/* Places the model on the machine and estimates memory, speed, fit and
 * scores. TL_EINVAL for settings that cannot be met (named in err: e.g.
 * vLLM with no GPU is not an error but a plan that does not fit). A plan that
 * does not fit is still TL_OK with fits == false and level TOO_TIGHT.
 * Thread-safe (no shared state). */
tl_status tl_plan_estimate(const tl_model_desc *m, const tl_hw *hw, const tl_plan_settings *s,
                           tl_plan *out, tl_error *err);

/* KV-cache bytes of one model for the runtime's cache layout: n_ctx tokens
 * per sequence, n_parallel sequences (SWA layers hold their window only;
 * quantized types at their block size). */
tl_status tl_plan_kv_bytes(const tl_model_desc *m, const tl_plan_settings *s, uint64_t *out,
                           tl_error *err);

/* Names: "tailor", "llama.cpp", "vllm", "ollama"; "Gpu", "MoeOffload",
 * "CpuOffload", "CpuOnly"; "Perfect", "Good", "Marginal", "TooTight";
 * "weights", "kv", "compute", "overhead", "extra"; "general", "coding", ... */
const char *tl_runtime_name(tl_runtime r);
const char *tl_run_mode_name(tl_run_mode m);
const char *tl_fit_level_name(tl_fit_level l);
const char *tl_mem_cat_name(tl_mem_cat c);
const char *tl_use_case_name(tl_use_case u);
/* Parses the names above (case-insensitive; runtime also "llamacpp").
 * TL_EINVAL for an unknown name. */
tl_status tl_runtime_parse(const char *s, tl_runtime *out);
tl_status tl_use_case_parse(const char *s, tl_use_case *out);
tl_status tl_fit_level_parse(const char *s, tl_fit_level *out);

/* Composite weights [quality, speed, fit, context] of a use case. */
void tl_use_case_weights(tl_use_case u, double w[4]);

/* ---- ranking (fit) ---- */

typedef enum tl_sort_key {
  TL_SORT_SCORE = 0,
  TL_SORT_SPEED = 1,
  TL_SORT_QUALITY = 2,
  TL_SORT_FIT = 3,
  TL_SORT_CONTEXT = 4,
  TL_SORT_PARAMS = 5,
} tl_sort_key;

tl_status tl_sort_key_parse(const char *s, tl_sort_key *out);

/* One ranked row: a model at one quantization. */
typedef struct tl_fit_row {
  char id[64];                 /* catalog id or file path (truncated) */
  char name[128];
  char family[32];
  char license[32];
  tl_ftype ftype;
  uint64_t n_params;
  uint64_t n_params_active;
  uint32_t n_ctx_train;
  bool best_quant;             /* the best quantization of this model on this machine */
  tl_plan plan;
} tl_fit_row;

/* Sorts rows best first by key (ties: score, then fewer bytes, then id).
 * Marks, per id, the row with the highest quality that fits at level GOOD or
 * better (else the best that fits) as best_quant. */
void tl_fit_rank(tl_fit_row *rows, size_t n, tl_sort_key key);

/* What `tailor fit` asks: settings for every plan, filters on the catalog,
 * and the quantizations to try. Zero / NULL fields do not filter. */
typedef struct tl_fit_query {
  tl_plan_settings settings;
  const char *family;        /* prefix of the catalog family, case-insensitive ("qwen") */
  const char *license;       /* exact license id, case-insensitive */
  const char *tag;           /* the entry has this tag */
  uint32_t min_context;      /* the model's own context >= this */
  uint64_t max_params;       /* total parameters <= this */
  int max_level;             /* keep rows at this tl_fit_level or better; -1 = all */
  const tl_ftype *ftypes;    /* NULL: tl_tune_ftypes(hw) */
  size_t n_ftypes;
  const char *const *ids;    /* only these catalog ids (no use-case filter), NULL = all */
  size_t n_ids;
} tl_fit_query;

void tl_fit_query_init(tl_fit_query *q);

/* One row: m on hw with s; the row's id/name come from m (catalog id when
 * set, else its source). The same call tune makes for each candidate. */
tl_status tl_fit_model(const tl_model_desc *m, const tl_hw *hw, const tl_plan_settings *s, tl_fit_row *row,
                       tl_error *err);

/* Every catalog entry that passes the filters (or each of q->ids; an
 * unknown id is TL_ENOTFOUND naming it) at every quantization of the query: *rows (free with tl_free) and *n, ranked by key. Entries whose
 * description cannot be built are skipped with a log line. For a use case
 * other than general only entries tagged with it are kept; embedding-only
 * models are kept only for the embedding use case. */
tl_status tl_fit_catalog(const tl_catalog *c, const tl_hw *hw, const tl_fit_query *q, tl_sort_key key,
                         tl_fit_row **rows, size_t *n, tl_error *err);

/* ---- tune ---- */

typedef enum tl_tune_profile {
  TL_PROFILE_BALANCED = 0,
  TL_PROFILE_QUALITY = 1,
  TL_PROFILE_FAST = 2,
} tl_tune_profile;

typedef enum tl_quality_tier {
  TL_TIER_BASELINE = 0,      /* unquantized */
  TL_TIER_NEAR_LOSSLESS = 1, /* 8 and 6 bit */
  TL_TIER_GOOD = 2,          /* 5 and 4 bit K-quants */
  TL_TIER_ACCEPTABLE = 3,    /* 3 bit */
  TL_TIER_DEGRADED = 4,      /* 2 bit and below */
} tl_quality_tier;

typedef enum tl_tune_status {
  TL_TUNE_FITS = 0,      /* all on GPU (or a CPU-only machine that holds it) */
  TL_TUNE_HYBRID = 1,    /* fits with layers or experts in system RAM */
  TL_TUNE_TOO_LARGE = 2,
} tl_tune_status;

tl_status tl_tune_profile_parse(const char *s, tl_tune_profile *out);
const char *tl_tune_profile_name(tl_tune_profile p);
const char *tl_quality_tier_name(tl_quality_tier t);
const char *tl_tune_status_name(tl_tune_status s);
/* The quality tier of a file-type mixture. */
tl_quality_tier tl_ftype_quality_tier(tl_ftype f);

typedef struct tl_tune_candidate {
  tl_ftype ftype;
  char label[16];          /* "Q4_K_M", "BF16", "4-bit" (Apple) */
  uint64_t weight_bytes;   /* estimated size of the weights */
  tl_quality_tier tier;
  tl_tune_status status;
  bool ctx_is_model_max;   /* n_ctx_max reached the model's own maximum */
  bool recommended;
  tl_plan plan;
} tl_tune_candidate;

#define TL_TUNE_MAX_CANDIDATES 16

#define TL_PLAN_COMMAND_MAX 1024

typedef struct tl_tune_result {
  size_t n_candidates;
  tl_tune_candidate candidates[TL_TUNE_MAX_CANDIDATES];
  int recommended;         /* index, -1 when nothing fits */
  /* copy-paste commands for the recommended candidate, one per runtime
   * (index tl_runtime), each from that runtime's own plan; "" when none fits */
  char commands[TL_RUNTIME_COUNT][TL_PLAN_COMMAND_MAX];
} tl_tune_result;

/* The quantizations tune tries for a model on this machine: BF16 (or F16),
 * Q8_0, Q6_K, Q5_K_M, Q4_K_M, Q3_K_M, Q2_K; on Apple the 8/6/4/3/2-bit
 * ones. Writes up to max entries; returns the count. */
size_t tl_tune_ftypes(const tl_hw *hw, tl_ftype *out, size_t max);

/* Scores and recommends among plans already estimated, one per candidate
 * (candidates[i].plan filled by the caller with tl_plan_estimate on the model
 * re-typed to candidates[i].ftype). Sets tier, status, recommended.
 * `preferred`: the profile's order; the first that fits is recommended, else
 * the first that fits at all. */
void tl_tune_choose(tl_tune_result *r, tl_tune_profile profile, tl_ftype forced);

/* The whole of `tailor tune`: one plan per candidate quantization of m
 * (tl_tune_ftypes, plus forced when it is not among them; pass (tl_ftype)-1
 * for none) on hw with s, each through tl_fit_model on m re-typed by the
 * mixture rule (m itself for its own file type), then tl_tune_choose.
 * TL_OK also when nothing fits (out->recommended == -1). */
tl_status tl_tune_model(const tl_model_desc *m, const tl_hw *hw, const tl_plan_settings *s,
                        tl_tune_profile profile, tl_ftype forced, tl_tune_result *out, tl_error *err);

/* ---- commands and JSON ---- */

/* A command line that runs plan p of model m (opened from src) with the
 * plan's runtime: `tailor run`, `llama-server`, an Ollama Modelfile +
 * `ollama run`, or `vllm serve`, with the plan's context, GPU layers, flash
 * attention, KV types, parallel sequences, tensor parallelism. Writes at most
 * n bytes (NUL-terminated); TL_ELIMIT when it does not fit. */
tl_status tl_plan_command(const tl_plan *p, const tl_model_desc *m, const char *src, char *buf, size_t n,
                          tl_error *err);

/* The documented JSON objects (docs/json.md, "plan"). *out is
 * NUL-terminated, free with tl_free. */
tl_status tl_plan_to_json(const tl_plan *p, char **out, tl_error *err);
/* {"schema_version":1, "rows":[{id, name, quant, params, best_quant, plan}...]} */
tl_status tl_fit_rows_to_json(const tl_fit_row *rows, size_t n, char **out, tl_error *err);
/* {"schema_version":1, "recommended": i|null, "candidates":[...], "commands":{...}} */
tl_status tl_tune_to_json(const tl_tune_result *r, char **out, tl_error *err);

#ifdef __cplusplus
}
#endif
#endif
