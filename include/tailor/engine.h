/* The built-in inference engine: load a GGUF model (or a Hugging Face
 * directory) memory-mapped, run its forward pass (llama, qwen2, qwen3,
 * mixtral, qwen3moe, gemma3, phi3) over a KV cache, sample tokens,
 * and render chat prompts. One engine holds one model and one sequence (its
 * KV cache); every buffer is sized at load, so evaluating tokens allocates
 * nothing. Functions on one engine must not be called from several threads
 * at once; the engine runs its own worker threads inside each call. */
#ifndef TAILOR_ENGINE_H
#define TAILOR_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tailor/error.h"
#include "tailor/gguf.h"
#include "tailor/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- sampling ---------------------------------------------------------- */

/* Sampling settings. Defaults (tl_sampler_params_init) are llama.cpp's:
 * temp 0.8, top_k 40, top_p 0.95, min_p 0.05, repeat_penalty 1.0 (off) over
 * the last 64 tokens, presence/frequency 0 (off). temp <= 0 means greedy. */
typedef struct tl_sampler_params {
  float temp;              /* logits are divided by temp; <= 0: argmax */
  int32_t top_k;           /* keep the k most likely; <= 0: all */
  float top_p;             /* keep the smallest set with mass >= top_p; >= 1: off */
  float min_p;             /* drop tokens below min_p * p(max); <= 0: off */
  float repeat_penalty;    /* > 1 discourages recent tokens; 1: off */
  int32_t repeat_last_n;   /* how many recent tokens the penalties look at */
  float presence_penalty;  /* subtracted once from a recent token's logit */
  float frequency_penalty; /* subtracted per occurrence in the recent window */
  uint64_t seed;           /* same seed, same logits -> same tokens */
} tl_sampler_params;

void tl_sampler_params_init(tl_sampler_params *p);

typedef struct tl_sampler tl_sampler;

/* Creates a sampler for a vocabulary of n_vocab tokens. Its scratch is
 * allocated here; sampling allocates nothing. Free with tl_sampler_free.
 * TL_EINVAL for a negative penalty window or n_vocab == 0. */
tl_status tl_sampler_create(const tl_sampler_params *p, uint32_t n_vocab, tl_sampler **out,
                            tl_error *err);
void tl_sampler_free(tl_sampler *s);
/* Picks a token from n_vocab logits (not modified). The chain is llama.cpp's
 * default order: penalties, top-k, top-p, min-p, temperature, then a draw
 * from the seeded generator (or the argmax when greedy). */
int32_t tl_sampler_sample(tl_sampler *s, const float *logits);
/* Records a token (prompt or generated) in the penalty window. */
void tl_sampler_accept(tl_sampler *s, int32_t token);
/* Forgets the history and reseeds the generator with the creation seed. */
void tl_sampler_reset(tl_sampler *s);

/* ---- engine ------------------------------------------------------------ */

/* How to load and run a model. Plain data: a resolved plan fills it. */
typedef struct tl_engine_params {
  uint32_t n_ctx;      /* tokens in the KV cache; 0: the model's training context, at most 4096 */
  uint32_t n_threads;  /* worker threads; 0: the online CPUs, at most one per 8 MiB of weights */
  uint32_t n_batch;    /* most tokens one tl_engine_eval call accepts; 0: 2048 (capped at n_ctx) */
  uint32_t n_ubatch;   /* tokens per forward step (scratch is sized for it); 0: 512 (capped at n_batch) */
  tl_qtype kv_type;    /* TL_QTYPE_F16 or TL_QTYPE_Q8_0 (TL_QTYPE_F32 for reference tests) */
  bool logits_all;     /* keep the logits of every token of an eval (tests, perplexity) */
  tl_sampler_params sampling; /* for the sampler the caller creates */
  /* Several sequences (tl_engine_batch_eval): 0 keeps one sequence in a
   * contiguous cache; n > 0 gives sequences 0 .. n-1 a block-paged cache. */
  uint32_t n_seq_max;
  uint32_t kv_block_size; /* tokens per KV block; 0: 16 */
  uint32_t kv_blocks;     /* blocks in the cache; 0: n_seq_max * ceil(n_ctx / kv_block_size) */
  /* In-situ quantization: F32, F16 and BF16 projection weights are
   * quantized to isq (Q8_0, Q6_K, Q5_K, Q4_K, Q4_0) while loading; F32 (the
   * default) leaves weights as stored. isq_progress, when set, is called
   * after each tensor with bytes done and total (source bytes). */
  tl_qtype isq;
  void (*isq_progress)(uint64_t done, uint64_t total, void *ud);
  void *isq_ud;
} tl_engine_params;

typedef void (*tl_engine_isq_progress)(uint64_t done, uint64_t total, void *ud);

/* Defaults: every size 0 (chosen at load), KV cache F16, llama.cpp sampling. */
void tl_engine_params_init(tl_engine_params *p);

typedef struct tl_engine tl_engine;

/* What the engine allocated, in bytes, by the categories of the memory
 * estimate. Counted from the actual allocations and mapping. */
typedef struct tl_engine_mem {
  uint64_t weights;  /* tensor data, memory-mapped from the file (not copied) */
  uint64_t kv_cache; /* K and V for n_ctx tokens, every layer */
  uint64_t compute;  /* activations and scratch for n_ubatch tokens, and the logits */
  uint64_t overhead; /* the rest of the mapping (header, metadata) and the engine's tables */
  uint64_t total;
} tl_engine_mem;

/* Opens the GGUF file at path, maps it read-only, validates every tensor the
 * architecture needs (name, type, shape) and allocates the KV cache and the
 * scratch. path may also be a Hugging Face model directory, seen through
 * tl_convert_open_view (tailor/convert.h). TL_EUNSUPPORTED for an architecture or tensor type the engine does
 * not run; TL_EFORMAT for a missing or misshapen tensor; TL_ECONFIG for bad
 * params. Free with tl_engine_free. */
tl_status tl_engine_load(const char *path, const tl_engine_params *p, tl_engine **out,
                         tl_error *err);
void tl_engine_free(tl_engine *e);

/* The hyperparameters the engine runs with (borrowed). */
const tl_hparams *tl_engine_hparams(const tl_engine *e);
/* The params after defaults were applied (borrowed). */
const tl_engine_params *tl_engine_get_params(const tl_engine *e);
void tl_engine_memory(const tl_engine *e, tl_engine_mem *out);
/* The GGUF the engine maps (borrowed; for the tokenizer and chat template). */
const tl_gguf *tl_engine_gguf(const tl_engine *e);

/* Runs the forward pass for n tokens at positions n_past .. n_past + n - 1,
 * in steps of n_ubatch tokens, and appends them to the KV cache. n must be in
 * 1 .. n_batch and n_past + n must not exceed n_ctx (TL_ELIMIT). Token ids
 * outside the vocabulary give TL_EINVAL. Allocates nothing. */
tl_status tl_engine_eval(tl_engine *e, const int32_t *tokens, uint32_t n, tl_error *err);
/* Logits (n_vocab floats) of token i of the last eval; i = -1 is its last
 * token. Other tokens only with params.logits_all. NULL when not available.
 * Valid until the next eval. */
const float *tl_engine_logits(const tl_engine *e, int32_t i);
/* Tokens in the KV cache. */
uint32_t tl_engine_n_past(const tl_engine *e);
/* Forgets cached tokens from position n_past on (0 clears the cache). */
void tl_engine_kv_truncate(tl_engine *e, uint32_t n_past);

/* ---- several sequences --------------------------------------------------
 * With params.n_seq_max > 0 the KV cache is a pool of kv_blocks blocks of
 * kv_block_size tokens; each sequence (0 .. n_seq_max-1) has a block table
 * and takes blocks as it grows, so no sequence reserves a whole context.
 * Each sequence holds at most n_ctx tokens. tl_engine_eval and the other
 * single-sequence calls then work on sequence 0. */

typedef struct tl_engine_batch_entry {
  int32_t token;
  int32_t seq;    /* 0 .. n_seq_max-1 */
  uint32_t pos;   /* its position: the sequence's length when it is evaluated */
  bool logits;    /* keep this token's logits */
} tl_engine_batch_entry;

typedef struct tl_engine_batch {
  const tl_engine_batch_entry *entries;
  uint32_t n;     /* 1 .. n_batch entries */
} tl_engine_batch;

/* Evaluates the entries, tokens of several sequences at their positions, in
 * forward passes of up to n_ubatch rows (one pass for a decode step of every
 * sequence: the weights are read once for all of them). Entries of one
 * sequence must come in position order, each appending to the sequence.
 * At most n_seq_max entries may ask for logits. Checked before anything
 * changes: TL_EINVAL for a bad token, sequence or position or too many
 * logits; TL_ELIMIT when a sequence would pass n_ctx or the free KV blocks do
 * not suffice (nothing evaluated then). TL_EUNSUPPORTED without n_seq_max.
 * Allocates nothing. */
tl_status tl_engine_batch_eval(tl_engine *e, const tl_engine_batch *b, tl_error *err);
/* Logits (n_vocab floats) of entry i of the last batch, if it asked for
 * them; NULL otherwise. Valid until the next eval. */
const float *tl_engine_batch_logits(const tl_engine *e, uint32_t i);
/* Tokens cached for seq (0 for an unknown one). */
uint32_t tl_engine_seq_length(const tl_engine *e, int32_t seq);
/* Forgets seq's tokens and frees the blocks no other sequence shares. */
void tl_engine_seq_remove(tl_engine *e, int32_t seq);
/* Forgets seq's tokens from position n_tokens on. */
void tl_engine_seq_truncate(tl_engine *e, int32_t seq, uint32_t n_tokens);
/* Makes dst (emptied first) a sequence of the first n_tokens tokens of src:
 * whole blocks are shared (copied when either sequence writes into one
 * later), a partial last block is copied. TL_EINVAL for bad ids or n_tokens
 * past src's length; TL_ELIMIT when no block is free for the copy. */
tl_status tl_engine_seq_copy(tl_engine *e, int32_t src, int32_t dst, uint32_t n_tokens,
                             tl_error *err);
/* Free and total KV blocks (0 without n_seq_max). */
uint32_t tl_engine_kv_blocks_free(const tl_engine *e);
uint32_t tl_engine_kv_blocks_total(const tl_engine *e);

/* ---- chat templates ------------------------------------------------------ */

/* Prompt formats the engine can render. Append only. */
typedef enum tl_chat_format {
  TL_CHAT_UNKNOWN = 0,
  TL_CHAT_CHATML = 1,   /* <|im_start|>role\n...<|im_end|> (Qwen, SmolLM, ...) */
  TL_CHAT_LLAMA3 = 2,   /* <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|> */
  TL_CHAT_LLAMA2 = 3,   /* [INST] <<SYS>>\n...\n<</SYS>>\n\n... [/INST] */
  TL_CHAT_MISTRAL = 4,  /* [INST] ... [/INST]...</s> (system folded into the first user turn) */
  TL_CHAT_GEMMA = 5,    /* <start_of_turn>user\n...<end_of_turn>\n */
  TL_CHAT_PHI3 = 6,     /* <|user|>\n...<|end|>\n */
  TL_CHAT_DEEPSEEK3 = 7, /* <｜User｜>...<｜Assistant｜>...<｜end▁of▁sentence｜> (V3, R1) */
  TL_CHAT_DEEPSEEK2 = 8, /* User: ...\n\nAssistant: ...<｜end▁of▁sentence｜> (V2, LLM chat) */
  TL_CHAT_FORMAT_COUNT
} tl_chat_format;

typedef struct tl_chat_message {
  const char *role;    /* "system", "user" or "assistant" */
  const char *content;
} tl_chat_message;

/* Recognises a Jinja chat template (tokenizer.chat_template) by the
 * distinctive markers of each format. TL_CHAT_UNKNOWN when none matches. */
tl_chat_format tl_chat_detect(const char *tmpl, size_t len);
/* "chatml", "llama3", "llama2", "mistral", "gemma", "phi3", "deepseek3",
 * "deepseek2"; "unknown" otherwise. */
const char *tl_chat_format_name(tl_chat_format f);
/* The format with that name; TL_ENOTFOUND (listing the names) otherwise. */
tl_status tl_chat_format_from_name(const char *name, tl_chat_format *out, tl_error *err);
/* Renders messages as the format's prompt text, without the leading BOS (the
 * tokenizer adds it). With add_assistant, ends with the opening of an
 * assistant turn. Writes at most cap bytes including a NUL (like snprintf)
 * and returns the full length, excluding the NUL; 0 for TL_CHAT_UNKNOWN or an
 * unknown role. */
size_t tl_chat_render(tl_chat_format f, const tl_chat_message *msgs, size_t n, bool add_assistant,
                      char *buf, size_t cap);
/* The text that ends an assistant turn in the format ("<|im_end|>" ...), or
 * NULL when the end-of-sequence token ends it. */
const char *tl_chat_end_marker(tl_chat_format f);

#ifdef __cplusplus
}
#endif
#endif
