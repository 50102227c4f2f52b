/* What the files of `tailor convert` share: the conversion plan (one entry per
 * GGUF tensor, naming its safetensors sources and the layout change llama.cpp's
 * converter applies), the architecture metadata writer, the tokenizer reader,
 * and the row quantizers of the types the kernels do not quantize. */
#ifndef TL_MODEL_CONVERT_INT_H
#define TL_MODEL_CONVERT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/hf-int.h"
#include "tailor/convert.h"
#include "tailor/gguf.h"

/* Most sources one GGUF tensor is built from (routed experts stacked). */
#define TL_CV_MAX_SOURCES 1024

typedef enum tl__cv_op {
  TL_CV_COPY = 0,     /* rows as stored */
  TL_CV_ROPE_PERMUTE, /* llama q/k: each head's rows (halves) interleaved, see convert-tensors.c */
  TL_CV_ADD_ONE,      /* gemma RMSNorm weights: w + 1 */
  TL_CV_GENERATED,    /* data from config.json or computed (rope_freqs, rope_factors_*), in gen[] */
} tl__cv_op;

/* A safetensors tensor and the file holding it. */
typedef struct tl__cv_source {
  const tl_tensor_desc *st; /* name, dtype, GGML-order shape, offset in its file */
  int file;                 /* index into the plan's files */
} tl__cv_source;

typedef struct tl__cv_tensor {
  char name[TL_TENSOR_NAME_MAX];
  uint32_t n_dims;
  int64_t ne[4]; /* GGML order, unused dimensions 1 */
  tl__cv_op op;
  uint32_t perm_heads; /* TL_CV_ROPE_PERMUTE: heads of the tensor */
  size_t n_src;        /* rows of src[0], then src[1] ... (experts stacked) */
  tl__cv_source *src;  /* owned */
  float *gen;          /* TL_CV_GENERATED: ne[0]*ne[1] floats, owned */
  tl_qtype type;       /* set by the mixture */
  uint64_t bytes;
} tl__cv_tensor;

/* Maps the registry's tensors for hp (tl_arch_tensors) to their sources among
 * the n_st safetensors tensors st[] (file index in st_file[]), with the layout
 * change of each. config_json: config.json (LongRoPE factors). TL_EFORMAT
 * naming the tensor when a source is missing or of the wrong shape;
 * TL_EUNSUPPORTED for a safetensors tensor no GGUF tensor takes. */
tl_status tl__cv_plan_tensors(const tl_hparams *hp, const char *config_json, size_t config_len,
                              const tl_tensor_desc *st, const int *st_file, size_t n_st,
                              tl__cv_tensor **out, size_t *n_out, tl_error *err);
void tl__cv_plan_free(tl__cv_tensor *t, size_t n);

/* Reads what config.json says that tl_hparams_from_hf_config leaves out
 * (transformers 5 `rope_parameters`, per-layer-type rope parameters of
 * gemma3) into hp, and finalizes it again. json: config.json text. */
tl_status tl__cv_hparams_fixup(const char *json, size_t len, tl_hparams *hp, tl_error *err);

/* Writes general.* and the `<arch>.*` keys llama.cpp's converter writes for
 * this architecture (convert_hf_to_gguf.py set_gguf_parameters; key names of
 * gguf-py/gguf/constants.py). */
tl_status tl__cv_write_metadata(tl_gguf_writer *w, const tl_hparams *hp, const char *config_json,
                                size_t config_len, const char *name, tl_ftype ftype, tl_error *err);

/* Tokenizer of a Hugging Face directory as GGUF tokenizer.ggml.* metadata:
 * tokenizer.json (byte-level BPE -> model "gpt2" with merges; BPE with byte
 * fallback -> model "llama" with scores), added and special tokens,
 * tokenizer_config.json (bos/eos, add_bos/add_eos, chat template) or
 * chat_template.jinja. No tokenizer.json: nothing is written, *has_tokenizer
 * false. n_vocab: the model's vocabulary; the token list is padded to it
 * with "[PADn]" tokens as llama.cpp does, and a tokenizer larger than it is
 * TL_EFORMAT. */
tl_status tl__hf_tokenizer_write(const char *dir, uint32_t n_vocab, tl_gguf_writer *w,
                                 bool *has_tokenizer, bool *has_chat_template, tl_error *err);

/* The safetensors files of a directory: model.safetensors, or the shards
 * model.safetensors.index.json names, with every tensor's description. */
typedef struct tl__cv_shards {
  char **paths;
  int *fds;         /* open read-only */
  size_t n;
  tl__st_list list; /* every tensor of every shard */
  int *file_of;     /* list.n entries */
} tl__cv_shards;

tl_status tl__cv_shards_open(tl__cv_shards *s, const char *dir, tl_error *err);
void tl__cv_shards_close(tl__cv_shards *s);

/* Reads dir/name whole (NUL-terminated). TL_ENOTFOUND when absent. Free with tl__free. */
tl_status tl__cv_read_file(const char *dir, const char *name, char **out, size_t *len,
                           tl_error *err);

/* Row quantizers: every type tl__quantize_row handles plus Q4_1, Q5_0 and
 * Q5_1 (GGML's reference rounding). True when t has one. */
bool tl__cv_qtype_supported(tl_qtype t);
size_t tl__cv_quantize_row(tl_qtype t, const float *src, void *dst, int64_t n);
void tl__cv_dequantize_row(tl_qtype t, const void *src, float *dst, int64_t n);

#endif
