/* The model side of a plan: tensor types, file-type mixtures, architecture
 * hyperparameters, and a model description (every tensor with its exact
 * bytes, and the KV-cache geometry), from a GGUF file, a Hugging Face
 * directory, or a catalog entry. Sizes in bytes. */
#ifndef TAILOR_MODEL_H
#define TAILOR_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tailor/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Tensor element types. Values are GGML's type ids as stored in GGUF tensor
 * infos (ggml.h, enum ggml_type), so a file's type id maps directly. */
typedef enum tl_qtype {
  TL_QTYPE_F32 = 0,
  TL_QTYPE_F16 = 1,
  TL_QTYPE_Q4_0 = 2,
  TL_QTYPE_Q4_1 = 3,
  TL_QTYPE_Q5_0 = 6,
  TL_QTYPE_Q5_1 = 7,
  TL_QTYPE_Q8_0 = 8,
  TL_QTYPE_Q8_1 = 9,
  TL_QTYPE_Q2_K = 10,
  TL_QTYPE_Q3_K = 11,
  TL_QTYPE_Q4_K = 12,
  TL_QTYPE_Q5_K = 13,
  TL_QTYPE_Q6_K = 14,
  TL_QTYPE_Q8_K = 15,
  TL_QTYPE_IQ2_XXS = 16,
  TL_QTYPE_IQ2_XS = 17,
  TL_QTYPE_IQ3_XXS = 18,
  TL_QTYPE_IQ1_S = 19,
  TL_QTYPE_IQ4_NL = 20,
  TL_QTYPE_IQ3_S = 21,
  TL_QTYPE_IQ2_S = 22,
  TL_QTYPE_IQ4_XS = 23,
  TL_QTYPE_I8 = 24,
  TL_QTYPE_I16 = 25,
  TL_QTYPE_I32 = 26,
  TL_QTYPE_I64 = 27,
  TL_QTYPE_F64 = 28,
  TL_QTYPE_IQ1_M = 29,
  TL_QTYPE_BF16 = 30,
  TL_QTYPE_TQ1_0 = 34,
  TL_QTYPE_TQ2_0 = 35,
  TL_QTYPE_MXFP4 = 39,
  TL_QTYPE_COUNT = 40, /* one past the largest id; not every id below is valid */
} tl_qtype;

/* File-type mixtures: llama.cpp's `general.file_type` values (llama.h,
 * enum llama_ftype). Each names a rule that says which tensor gets which type. */
typedef enum tl_ftype {
  TL_FTYPE_ALL_F32 = 0,
  TL_FTYPE_F16 = 1,
  TL_FTYPE_Q4_0 = 2,
  TL_FTYPE_Q4_1 = 3,
  TL_FTYPE_Q8_0 = 7,
  TL_FTYPE_Q5_0 = 8,
  TL_FTYPE_Q5_1 = 9,
  TL_FTYPE_Q2_K = 10,
  TL_FTYPE_Q3_K_S = 11,
  TL_FTYPE_Q3_K_M = 12,
  TL_FTYPE_Q3_K_L = 13,
  TL_FTYPE_Q4_K_S = 14,
  TL_FTYPE_Q4_K_M = 15,
  TL_FTYPE_Q5_K_S = 16,
  TL_FTYPE_Q5_K_M = 17,
  TL_FTYPE_Q6_K = 18,
  TL_FTYPE_IQ2_XXS = 19,
  TL_FTYPE_IQ2_XS = 20,
  TL_FTYPE_Q2_K_S = 21,
  TL_FTYPE_IQ3_XS = 22,
  TL_FTYPE_IQ3_XXS = 23,
  TL_FTYPE_IQ1_S = 24,
  TL_FTYPE_IQ4_NL = 25,
  TL_FTYPE_IQ3_S = 26,
  TL_FTYPE_IQ3_M = 27,
  TL_FTYPE_IQ2_S = 28,
  TL_FTYPE_IQ2_M = 29,
  TL_FTYPE_IQ4_XS = 30,
  TL_FTYPE_IQ1_M = 31,
  TL_FTYPE_BF16 = 32,
  TL_FTYPE_TQ1_0 = 36,
  TL_FTYPE_TQ2_0 = 37,
  TL_FTYPE_MXFP4_MOE = 38,
  TL_FTYPE_COUNT = 39,
} tl_ftype;

/* Architecture families of the registry. Append only. */
typedef enum tl_arch {
  TL_ARCH_UNKNOWN = 0,  /* fallback: sizes from the parameter count alone */
  TL_ARCH_LLAMA = 1,    /* Llama 2/3.x, Mistral, Mixtral (MoE), SmolLM, TinyLlama */
  TL_ARCH_QWEN2 = 2,
  TL_ARCH_QWEN3 = 3,
  TL_ARCH_QWEN3MOE = 4,
  TL_ARCH_GEMMA2 = 5,
  TL_ARCH_GEMMA3 = 6,
  TL_ARCH_PHI3 = 7,
  TL_ARCH_DEEPSEEK2 = 8, /* DeepSeek V2/V3/R1 (GGUF arch "deepseek2") */
  TL_ARCH_GPT_OSS = 9,
  TL_ARCH_QWEN2MOE = 10,
  TL_ARCH_BERT = 11,
  TL_ARCH_COUNT,
} tl_arch;

typedef enum tl_rope_type {
  TL_ROPE_NORMAL = 0, /* adjacent pairs (llama) */
  TL_ROPE_NEOX = 1,   /* halves (qwen2, gemma, phi3, gpt-neox) */
} tl_rope_type;

typedef enum tl_rope_scaling {
  TL_ROPE_SCALING_NONE = 0,
  TL_ROPE_SCALING_LINEAR = 1,
  TL_ROPE_SCALING_YARN = 2,
  TL_ROPE_SCALING_LLAMA3 = 3,
  TL_ROPE_SCALING_LONGROPE = 4,
} tl_rope_scaling;

#define TL_MAX_LAYERS 512

/* Hyperparameters, named as GGUF keys name them (`<arch>.block_count` ...).
 * Per-layer patterns (sliding window, dense leading layers) are explicit. */
typedef struct tl_hparams {
  tl_arch arch;
  char arch_name[32];        /* GGUF general.architecture: "llama", "qwen3" ... */
  uint32_t n_layer;          /* block_count */
  uint32_t n_embd;           /* embedding_length */
  uint32_t n_ff;             /* feed_forward_length (dense layers) */
  uint32_t n_head;           /* attention.head_count */
  uint32_t n_head_kv;        /* attention.head_count_kv */
  uint32_t head_dim_k;       /* attention.key_length (n_embd / n_head by default) */
  uint32_t head_dim_v;       /* attention.value_length */
  uint32_t n_vocab;
  uint32_t n_ctx_train;      /* context_length */
  bool tied_embeddings;      /* output shares token_embd (no output.weight) */
  bool attn_bias;            /* q/k/v bias (qwen2) */
  bool qk_norm;              /* per-head RMSNorm of q and k (qwen3, gemma3) */
  float norm_eps;            /* attention.layer_norm_rms_epsilon */
  /* RoPE */
  tl_rope_type rope_type;
  float rope_theta;          /* rope.freq_base */
  float rope_theta_swa;      /* base for sliding-window layers (gemma3), 0 = same */
  uint32_t n_rot;            /* rope.dimension_count (head_dim_k by default) */
  tl_rope_scaling rope_scaling;
  float rope_scale_factor;
  uint32_t rope_orig_ctx;    /* rope.scaling.original_context_length */
  float rope_low_freq_factor, rope_high_freq_factor; /* llama3 */
  float yarn_beta_fast, yarn_beta_slow, yarn_attn_factor;
  /* Sliding-window attention */
  uint32_t n_swa;            /* attention.sliding_window, 0 = none */
  uint32_t swa_pattern;      /* every swa_pattern-th layer is full attention (gemma3: 6) */
  bool swa_layers_explicit;  /* swa_layer[] below is authoritative */
  bool swa_layer[TL_MAX_LAYERS];
  /* Mixture of experts */
  uint32_t n_expert;         /* expert_count, 0 = dense */
  uint32_t n_expert_used;    /* expert_used_count */
  uint32_t n_ff_exp;         /* expert_feed_forward_length */
  uint32_t n_expert_shared;  /* expert_shared_count */
  uint32_t n_ff_shexp;       /* expert_shared_feed_forward_length */
  uint32_t n_layer_dense_lead; /* leading_dense_block_count (deepseek) */
  uint32_t moe_every;        /* MoE on every n-th layer (llama4), 0/1 = all */
  /* Multi-head latent attention (deepseek2) */
  uint32_t q_lora_rank;      /* 0 = plain q projection */
  uint32_t kv_lora_rank;
  uint32_t qk_rope_head_dim;
  uint32_t qk_nope_head_dim;
  uint32_t v_head_dim;
  /* Gemma */
  float attn_softcap, final_softcap; /* 0 = none */
  /* Fallback: when the architecture is unknown */
  uint64_t n_params_hint;
  /* Appended fields */
  uint32_t n_token_types;    /* bert: token type embeddings (type_vocab_size) */
  bool expert_probs_bias;    /* router score correction bias exp_probs_b (deepseek3) */
  bool mla_split_kv_b;       /* MLA kv_b stored as k_b + v_b (llama.cpp since 2025-04) */
  bool has_rope_factors;     /* rope_freqs / rope_factors_{long,short} tensors present */
  bool per_layer_dims;       /* the arrays below are authoritative */
  uint32_t n_head_layer[TL_MAX_LAYERS];    /* head_count per layer (GGUF arrays) */
  uint32_t n_head_kv_layer[TL_MAX_LAYERS]; /* head_count_kv per layer; 0 = no attention */
  uint32_t n_ff_layer[TL_MAX_LAYERS];      /* feed_forward_length per layer */
} tl_hparams;

/* What a tensor is, independent of the naming scheme. */
typedef enum tl_tensor_role {
  TL_ROLE_OTHER = 0,
  TL_ROLE_TOKEN_EMBD,
  TL_ROLE_OUTPUT,
  TL_ROLE_OUTPUT_NORM,
  TL_ROLE_ATTN_NORM,
  TL_ROLE_ATTN_Q,
  TL_ROLE_ATTN_K,
  TL_ROLE_ATTN_V,
  TL_ROLE_ATTN_QKV,
  TL_ROLE_ATTN_OUTPUT,
  TL_ROLE_ATTN_Q_NORM,
  TL_ROLE_ATTN_K_NORM,
  TL_ROLE_ATTN_BIAS,       /* q/k/v/o biases */
  TL_ROLE_ATTN_MLA,        /* MLA projections: q_a, q_b, kv_a_mqa, kv_b, norms */
  TL_ROLE_FFN_NORM,
  TL_ROLE_FFN_GATE,
  TL_ROLE_FFN_UP,
  TL_ROLE_FFN_DOWN,
  TL_ROLE_FFN_GATE_UP,     /* fused (phi3) */
  TL_ROLE_FFN_GATE_INP,    /* router */
  TL_ROLE_FFN_GATE_EXPS,   /* routed experts, stacked [n_expert] */
  TL_ROLE_FFN_UP_EXPS,
  TL_ROLE_FFN_DOWN_EXPS,
  TL_ROLE_FFN_EXP_BIAS,    /* expert biases / router bias */
  TL_ROLE_FFN_SHEXP,       /* shared-expert tensors */
  TL_ROLE_NORM_OTHER,      /* post-norms etc. */
  TL_ROLE_COUNT
} tl_tensor_role;

#define TL_TENSOR_NAME_MAX 96

typedef struct tl_tensor_desc {
  char name[TL_TENSOR_NAME_MAX]; /* GGUF name: "blk.3.attn_q.weight" */
  tl_qtype type;
  uint32_t n_dims;
  int64_t ne[4];           /* elements per dimension, ne[0] contiguous (GGML order) */
  uint64_t bytes;          /* exact storage bytes */
  int32_t layer;           /* block index, -1 for global tensors */
  tl_tensor_role role;
  uint64_t offset;         /* data offset in its file, when from a file */
} tl_tensor_desc;

typedef enum tl_model_source_kind {
  TL_SOURCE_GGUF = 0,
  TL_SOURCE_HF_DIR = 1,
  TL_SOURCE_CATALOG = 2,
} tl_model_source_kind;


/* A model described exactly: hyperparameters and every tensor. Produced from
 * a GGUF file, a Hugging Face directory or a catalog entry (whose tensors come
 * from the registry and a mixture rule); consumed by plans and the engine.
 * Free with tl_model_desc_free. */
typedef struct tl_model_desc {
  tl_model_source_kind source_kind;
  char source[1024];         /* path or catalog id as given */
  char name[128];            /* general.name / catalog name */
  tl_hparams hp;
  tl_ftype ftype;            /* the mixture, when known */
  bool ftype_known;
  size_t n_tensors;
  tl_tensor_desc *tensors;   /* n_tensors entries, owned */
  uint64_t weight_bytes;     /* sum of tensor bytes */
  uint64_t file_bytes;       /* whole file(s), 0 for catalog predictions */
  uint64_t n_params;         /* total parameters (elements of weight tensors) */
  uint64_t n_params_active;  /* per token (MoE: routed experts counted n_expert_used times) */
  bool has_chat_template;
  bool has_tokenizer;
  char license[64];          /* catalog */
  char catalog_id[64];       /* catalog id, "" if none */
  /* Appended fields */
  uint64_t n_params_token_embd; /* input embedding table when not tied to the output (a lookup:
                                   one row read per token). Published "active" counts differ on it:
                                   Mistral and Qwen include it, OpenAI and DeepSeek leave it out. */
  uint64_t file_bytes_predicted; /* catalog: predicted GGUF file size (tl_model_desc_predict_file_bytes) */
} tl_model_desc;

/* Frees the description and its tensor array. Accepts NULL. */
void tl_model_desc_free(tl_model_desc *m);

/* ---- KV-cache geometry (architecture registry) ---- */

/* What one layer stores per token in its KV cache, in elements. */
typedef struct tl_kv_layer {
  uint32_t n_embd_k;  /* K elements per token: n_head_kv * head_dim_k (MLA: kv_lora_rank + qk_rope_head_dim) */
  uint32_t n_embd_v;  /* V elements per token: n_head_kv * head_dim_v (MLA: 0 when V is read from the latent) */
  uint32_t window;    /* sliding window in tokens; 0 = full attention */
  bool mla;           /* latent (compressed) KV of multi-head latent attention */
} tl_kv_layer;

/* Fills layers[0..hp->n_layer-1] with the architecture's KV geometry.
 * TL_EINVAL when the hyperparameters are inconsistent (named in err). */
tl_status tl_kv_geometry(const tl_hparams *hp, tl_kv_layer *layers, tl_error *err);

/* Architecture-level KV bytes per token for all layers at a cache type (F16,
 * Q8_0, Q4_0, F32), counting every layer as full attention. */
uint64_t tl_kv_bytes_per_token(const tl_hparams *hp, tl_qtype kv_type);


/* ---- Architecture registry ---- */

/* The GGUF `general.architecture` name of a family ("llama", "gpt-oss", ...);
 * "unknown" for TL_ARCH_UNKNOWN. */
const char *tl_arch_name(tl_arch arch);
/* The family for a GGUF architecture name; TL_ARCH_UNKNOWN if not in the registry. */
tl_arch tl_arch_from_name(const char *name);

/* Completes hyperparameters after they were read: default head dims, n_rot,
 * the sliding-window layer pattern of the family, per-layer arrays. Checks
 * that they are consistent (TL_EINVAL naming the field) and within limits
 * (n_layer <= TL_MAX_LAYERS). Idempotent. The readers below call it. */
tl_status tl_hparams_finalize(tl_hparams *hp, tl_error *err);
/* Per-layer queries on finalized hyperparameters. */
uint32_t tl_hparams_n_head(const tl_hparams *hp, uint32_t il);
uint32_t tl_hparams_n_head_kv(const tl_hparams *hp, uint32_t il);
uint32_t tl_hparams_n_ff(const tl_hparams *hp, uint32_t il);
bool tl_hparams_layer_is_swa(const tl_hparams *hp, uint32_t il);
/* True when layer il has routed experts. */
bool tl_hparams_layer_is_moe(const tl_hparams *hp, uint32_t il);

/* The tensors the architecture has for these hyperparameters, named and
 * shaped as llama.cpp's converter writes them to GGUF, with role and layer.
 * Types are F32 (bytes at F32); tl_model_desc_from_hparams applies a mixture.
 * On success *out (free with tl_tensor_list_free) and *n_out are set. */
tl_status tl_arch_tensors(const tl_hparams *hp, tl_tensor_desc **out, size_t *n_out, tl_error *err);
void tl_tensor_list_free(tl_tensor_desc *list);

/* The role and block index of a tensor from its GGUF name ("blk.3.attn_q.weight"
 * -> TL_ROLE_ATTN_Q, 3). Unknown names give TL_ROLE_OTHER; global tensors -1. */
tl_tensor_role tl_tensor_role_from_name(const char *name, int32_t *layer);
/* A short name of a role ("attn_q"). */
const char *tl_tensor_role_name(tl_tensor_role role);
/* False for tensors that are not learned parameters (rope frequency factors). */
bool tl_tensor_is_parameter(const tl_tensor_desc *t);

/* Fills the model-wide figures of m from its tensors: weight_bytes, n_params,
 * n_params_active (routed experts counted n_expert_used / n_expert; the token
 * embedding table, a lookup, counted for dense models and MoE alike). */
void tl_model_desc_count(tl_model_desc *m);

/* Hyperparameters of a llama-shaped model with about n_params parameters, for
 * a model whose architecture is not in the registry (arch stays UNKNOWN). */
tl_status tl_hparams_guess_from_params(uint64_t n_params, tl_hparams *hp, tl_error *err);

/* ---- Hyperparameter readers ---- */

typedef struct tl_gguf tl_gguf;

/* From a GGUF file's metadata (`<arch>.block_count` ..., per-layer arrays,
 * the tokenizer's token count) and, where metadata is silent, its tensors
 * (tied output, q/k/v bias, MLA layout). Finalized. TL_EFORMAT naming the
 * key when a required key is missing or out of range. */
tl_status tl_hparams_from_gguf(const tl_gguf *g, tl_hparams *hp, tl_error *err);

typedef struct tl_gguf_writer tl_gguf_writer;

/* Writes the hyperparameters as the GGUF keys llama.cpp reads
 * (general.architecture, `<arch>.block_count` ..., `<arch>.vocab_size`), so
 * that tl_hparams_from_gguf gives them back. MLA models are written in the
 * layout their mla_split_kv_b says. Errors from the writer are passed on. */
tl_status tl_hparams_to_gguf(const tl_hparams *hp, tl_gguf_writer *w, tl_error *err);

/* From a Hugging Face config.json text (`len` bytes), including a nested
 * text_config of multimodal wrappers; model_type / architectures pick the
 * family. Finalized. TL_EFORMAT naming the key on bad or missing values. */
tl_status tl_hparams_from_hf_config(const char *json, size_t len, tl_hparams *hp, tl_error *err);

/* ---- Model descriptions ---- */

/* Registry tensors for hp, each typed by the mixture rule of ftype; exact
 * predicted tensor bytes. file_bytes is 0 (see tl_model_desc_predict_file_bytes).
 * Free with tl_model_desc_free. */
tl_status tl_model_desc_from_hparams(const tl_hparams *hp, tl_ftype ftype, tl_model_desc **out,
                                     tl_error *err);
/* Every tensor exactly as in the GGUF file at path, roles and layers from the
 * names; ftype from general.file_type. Free with tl_model_desc_free. */
tl_status tl_model_desc_from_gguf(const char *path, tl_model_desc **out, tl_error *err);
/* A Hugging Face directory: config.json, safetensors headers (single file or
 * sharded through model.safetensors.index.json), tokenizer files and chat
 * template presence. Tensors keep their safetensors names (roles OTHER).
 * Free with tl_model_desc_free. */
tl_status tl_model_desc_from_hf_dir(const char *dir, tl_model_desc **out, tl_error *err);

/* Predicted GGUF file size of a description built from the registry:
 * tensor bytes, each tensor's data padded to the alignment (32), plus the
 * estimated metadata and tensor-info section (see docs/models.md). */
uint64_t tl_model_desc_predict_file_bytes(const tl_model_desc *m);

#ifdef __cplusplus
}
#endif
#endif
