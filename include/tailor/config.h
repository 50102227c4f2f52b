/* Settings: every runtime knob of a plan gets a value, and every value says
 * where it came from, what else was possible and why that was rejected.
 *
 * Sources, lowest precedence first: default < model_metadata <
 * hardware_capability < memory_profile < workload_preset < compiled_feature <
 * config_file < env (TAILOR_*) < cli. A later source overrides an earlier one.
 * An override that is malformed, out of range or impossible here is an error
 * naming the key and the reason (TL_ECONFIG); nothing is resolved then. */
#ifndef TAILOR_CONFIG_H
#define TAILOR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tailor/error.h"
#include "tailor/hw.h"
#include "tailor/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where a value came from, in precedence order (append only). */
typedef enum tl_setting_source {
  TL_SETSRC_DEFAULT = 0,
  TL_SETSRC_MODEL_METADATA = 1,
  TL_SETSRC_HARDWARE_CAPABILITY = 2,
  TL_SETSRC_MEMORY_PROFILE = 3,
  TL_SETSRC_WORKLOAD_PRESET = 4,
  TL_SETSRC_COMPILED_FEATURE = 5,
  TL_SETSRC_CONFIG_FILE = 6,
  TL_SETSRC_ENV = 7,
  TL_SETSRC_CLI = 8,
  TL_SETSRC_COUNT
} tl_setting_source;

/* What a setting affects (bit flags). */
enum {
  TL_AFFECTS_PERFORMANCE = 1u << 0,
  TL_AFFECTS_MEMORY = 1u << 1,
  TL_AFFECTS_CORRECTNESS = 1u << 2,
};

/* The settings, in the order they are resolved and printed (append only). */
#define TL_SETTING_LIST(X)                                                      \
  X(BACKEND, "backend")                                                        \
  X(QUANT, "quant")                                                            \
  X(ISQ, "isq")                                                                \
  X(GPU_LAYERS, "gpu_layers")                                                  \
  X(TENSOR_SPLIT, "tensor_split")                                              \
  X(MOE_OFFLOAD, "moe_offload")                                                \
  X(THREADS, "threads")                                                        \
  X(THREADS_BATCH, "threads_batch")                                            \
  X(CTX_SIZE, "ctx_size")                                                      \
  X(BATCH_SIZE, "batch_size")                                                  \
  X(UBATCH_SIZE, "ubatch_size")                                                \
  X(KV_TYPE, "kv_type")                                                        \
  X(FLASH_ATTN, "flash_attn")                                                  \
  X(MMAP, "mmap")                                                              \
  X(MLOCK, "mlock")                                                            \
  X(PARALLEL, "parallel")                                                      \
  X(KV_BLOCK_SIZE, "kv_block_size")                                            \
  X(KV_BLOCKS, "kv_blocks")                                                    \
  X(MAX_BATCHED_TOKENS, "max_batched_tokens")                                  \
  X(PREFIX_CACHE, "prefix_cache")                                              \
  X(ADMISSION, "admission")                                                    \
  X(ATTN_PATH, "attn_path")                                                    \
  X(TEMPERATURE, "temperature")                                                \
  X(TOP_K, "top_k")                                                            \
  X(TOP_P, "top_p")                                                            \
  X(MIN_P, "min_p")                                                            \
  X(REPEAT_PENALTY, "repeat_penalty")

typedef enum tl_setting_id {
#define TL__SETTING_ENUM(id, key) TL_SET_##id,
  TL_SETTING_LIST(TL__SETTING_ENUM)
#undef TL__SETTING_ENUM
  TL_SET_COUNT
} tl_setting_id;

/* ---- the workload ---- */

typedef enum tl_workload_use {
  TL_WORK_GENERAL = 0,
  TL_WORK_LONG_CONTEXT,
  TL_WORK_SPEED,
  TL_WORK_QUALITY,
  TL_WORK_CODING,
  TL_WORK_CHAT,
  TL_WORK_REASONING,
  TL_WORK_COUNT
} tl_workload_use;

typedef enum tl_serving_mode {
  TL_SERVE_CLI = 0, /* one user at a terminal */
  TL_SERVE_CHAT,    /* interactive chat */
  TL_SERVE_SERVER,  /* OpenAI-compatible server */
  TL_SERVE_BATCH,   /* offline batch jobs */
  TL_SERVE_COUNT
} tl_serving_mode;

typedef enum tl_length_class {
  TL_LEN_SHORT = 0, /* up to ~512 tokens */
  TL_LEN_MEDIUM,    /* up to ~4k */
  TL_LEN_LONG,      /* up to ~32k */
  TL_LEN_COUNT
} tl_length_class;

typedef enum tl_priority {
  TL_PRIO_BALANCED = 0,
  TL_PRIO_LATENCY,
  TL_PRIO_THROUGHPUT,
  TL_PRIO_COUNT
} tl_priority;

typedef struct tl_workload {
  char preset[32];          /* the preset name it was made from, "" if none */
  tl_workload_use use_case;
  tl_serving_mode mode;
  uint32_t concurrency;     /* target concurrent sequences, >= 1 */
  tl_length_class prompt_len;
  tl_length_class output_len;
  tl_priority priority;
} tl_workload;

/* Fills w from a preset name: "default", "chat", "server", "batch",
 * "long-context", "coding", "reasoning", "speed", "quality". TL_ENOTFOUND
 * (with the list in err) for an unknown name. */
tl_status tl_workload_preset(const char *name, tl_workload *w, tl_error *err);
const char *tl_workload_use_name(tl_workload_use u);
const char *tl_serving_mode_name(tl_serving_mode m);
const char *tl_priority_name(tl_priority p);
const char *tl_length_class_name(tl_length_class c);
/* Parses a name as printed by the functions above; false if unknown. */
bool tl_workload_use_parse(const char *s, tl_workload_use *out);
bool tl_serving_mode_parse(const char *s, tl_serving_mode *out);
bool tl_priority_parse(const char *s, tl_priority *out);
bool tl_length_class_parse(const char *s, tl_length_class *out);

/* ---- settings metadata ---- */

const char *tl_setting_key(tl_setting_id id);       /* "ctx_size" */
const char *tl_setting_env(tl_setting_id id);       /* "TAILOR_CTX_SIZE" */
const char *tl_setting_cli(tl_setting_id id);       /* "--ctx-size" */
unsigned tl_setting_affects(tl_setting_id id);      /* TL_AFFECTS_* bits */
const char *tl_setting_help(tl_setting_id id);      /* one line */
bool tl_setting_is_bool(tl_setting_id id);          /* takes true/false */
/* By key ("ctx_size"), env name or long flag; false if unknown. */
bool tl_setting_lookup(const char *name, tl_setting_id *out);
const char *tl_setting_source_name(tl_setting_source s); /* "hardware_capability" */

/* ---- overrides and resolution ---- */

/* One requested value, as text, from a config file, the environment or the
 * command line. source_key names where exactly (e.g. "--ctx-size",
 * "TAILOR_KV_BLOCKS", "cfg.json:entries.ctx_size"). */
typedef struct tl_override {
  tl_setting_id id;
  tl_setting_source source; /* CONFIG_FILE, ENV or CLI */
  char source_key[96];
  char value[128];
} tl_override;

/* Memory feasibility, answered by the plan estimator for a candidate
 * configuration: the resolver asks it while choosing quantization, context
 * and offload. NULL means "assume it fits". */
typedef struct tl_config_probe {
  tl_ftype quant;           /* model mixture (catalog sources) or ISQ target */
  bool quant_set;
  uint32_t gpu_layers;      /* layers to place on GPUs */
  bool moe_offload;
  uint32_t ctx_size;
  uint32_t parallel;
  tl_qtype kv_type;
  uint32_t ubatch;
  bool flash_attn;
} tl_config_probe;

typedef struct tl_config_fit {
  bool fits;
  uint64_t required_gpu;    /* bytes needed on the GPUs (all), 0 for CPU-only */
  uint64_t available_gpu;
  uint64_t required_host;
  uint64_t available_host;
  uint32_t max_gpu_layers;  /* most layers that fit on the GPUs at this config */
} tl_config_fit;

typedef tl_status (*tl_config_fit_fn)(const tl_config_probe *probe, tl_config_fit *out, void *ud);

/* The memory check by the plan estimator (tailor's engine as the runtime):
 * pass tl_config_plan_fit as tl_config_inputs.fit with a tl_config_plan_ctx
 * as fit_ud. A probe with a quantization re-types the model to that mixture
 * (tensor sizes from the registry and the mixture rules). */
typedef struct tl_config_plan_ctx {
  const tl_model_desc *model;
  const tl_hw *hw;
  const void *efficiency; /* const tl_efficiency *, NULL = built-in table */
} tl_config_plan_ctx;

tl_status tl_config_plan_fit(const tl_config_probe *probe, tl_config_fit *out, void *ud);

typedef struct tl_config_inputs {
  const tl_model_desc *model;  /* required */
  const tl_hw *hw;             /* required */
  tl_workload workload;
  const tl_override *overrides;
  size_t n_overrides;
  tl_config_fit_fn fit;        /* may be NULL */
  void *fit_ud;
  bool unquantized_source;     /* the source holds F16/BF16/F32 weights: ISQ applies */
  bool catalog_source;         /* the quantization is chosen here (catalog id) */
} tl_config_inputs;

typedef struct tl_config tl_config;

/* Resolves every setting. On an invalid override or impossible combination
 * returns TL_ECONFIG with err naming the key and the reason, and *out is
 * untouched. Deterministic: the same inputs give the same result. Free with
 * tl_config_free. */
tl_status tl_config_resolve(const tl_config_inputs *in, tl_config **out, tl_error *err);
void tl_config_free(tl_config *c);

/* The resolved value of a setting, as text ("4096", "q8_0", "true", "" for
 * an unset optional value), and its source and source key. */
const char *tl_config_value(const tl_config *c, tl_setting_id id);
tl_setting_source tl_config_source(const tl_config *c, tl_setting_id id);
const char *tl_config_source_key(const tl_config *c, tl_setting_id id);
/* Typed views; false if the setting is not of that type or unset. */
bool tl_config_int(const tl_config *c, tl_setting_id id, int64_t *out);
bool tl_config_bool(const tl_config *c, tl_setting_id id, bool *out);
bool tl_config_double(const tl_config *c, tl_setting_id id, double *out);

/* The hex sha256 of the effective entries (key=value lines in setting order);
 * independent of sources, so a replayed config has the same hash. */
const char *tl_config_hash(const tl_config *c);

/* The effective configuration document (schema in docs/config.md) and the
 * decision trace (one JSON object per line). Free with tl_free. */
tl_status tl_config_to_json(const tl_config *c, char **out, tl_error *err);
tl_status tl_config_trace_jsonl(const tl_config *c, char **out, tl_error *err);
/* The decisions for people. Free with tl_free. */
tl_status tl_config_explain(const tl_config *c, char **out, tl_error *err);

/* Reads a configuration document (the effective-config schema; only
 * "entries" is required) into overrides with source CONFIG_FILE. *out is an
 * array of *n entries; free with tl_free. */
tl_status tl_config_file_parse(const char *text, size_t len, const char *file_name,
                               tl_override **out, size_t *n, tl_error *err);
/* Collects TAILOR_<SETTING> environment overrides from envp (NULL-terminated
 * "K=V" strings; pass environ). Other TAILOR_* variables are not settings and
 * are skipped. Values are validated by tl_config_resolve. Free *out with tl_free. */
tl_status tl_config_env_collect(char *const *envp, tl_override **out, size_t *n, tl_error *err);

/* Copy-paste commands for the resolved settings. Free with tl_free. */
typedef enum tl_emit_target {
  TL_EMIT_TAILOR_RUN = 0,
  TL_EMIT_LLAMA_SERVER,
  TL_EMIT_LLAMA_CLI,
  TL_EMIT_VLLM,
  TL_EMIT_OLLAMA_MODELFILE,
  TL_EMIT_COUNT
} tl_emit_target;

const char *tl_emit_target_name(tl_emit_target t);
/* model_path is what the command should load (a GGUF path, HF repo or dir). */
tl_status tl_config_emit(const tl_config *c, tl_emit_target t, const char *model_path, char **out,
                         tl_error *err);

#ifdef __cplusplus
}
#endif
#endif
