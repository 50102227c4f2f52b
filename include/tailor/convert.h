/* Hugging Face safetensors directory -> GGUF file, with quantization.
 * Reads config.json, the safetensors files (single or sharded) and, when
 * present, tokenizer.json / tokenizer_config.json; writes a GGUF version 3
 * file with the metadata, tensor names and tensor layouts llama.cpp's
 * convert_hf_to_gguf.py writes, each tensor typed by the mixture rule of the
 * target file type (tailor/quant.h). Streams tensor by tensor: memory stays
 * near one tensor plus bounded buffers. See docs/convert.md. */
#ifndef TAILOR_CONVERT_H
#define TAILOR_CONVERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tailor/error.h"
#include "tailor/gguf.h"
#include "tailor/model.h"
#include "tailor/quant.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One converted tensor, as reported to the progress callback. */
typedef struct tl_convert_tensor {
  const char *name; /* GGUF name ("blk.0.attn_q.weight"), valid during the call */
  tl_qtype type;    /* type written */
  uint32_t n_dims;
  int64_t ne[4];   /* GGML order, unused dimensions 1 */
  uint64_t bytes;  /* bytes written for it (without padding) */
  bool has_error;  /* rmse / rel_rmse are set (params.report) */
  double rmse;     /* root mean square of (written - source), source after the layout permutation */
  double rel_rmse; /* rmse / root mean square of the source (0 when the source is all zero) */
} tl_convert_tensor;

/* Progress: called after tensor `index` (0-based) of `n_tensors` is written. */
typedef struct tl_convert_progress {
  size_t index, n_tensors;
  uint64_t bytes_done;  /* tensor data bytes written so far */
  uint64_t bytes_total; /* tensor data bytes of the whole file */
  const tl_convert_tensor *tensor;
} tl_convert_progress;

typedef void (*tl_convert_progress_fn)(void *user, const tl_convert_progress *p);

typedef struct tl_convert_params {
  const char *input_dir;   /* Hugging Face model directory */
  const char *output_path; /* GGUF file to create (replaced if it exists: the CLI guards that) */
  tl_ftype ftype;          /* target mixture; see tl_convert_ftype_supported */
  int n_threads;           /* quantization threads; <= 0: one */
  tl_convert_progress_fn progress; /* optional */
  void *progress_user;
  bool report;      /* compute per-tensor RMSE against the source (costs one dequantization) */
  bool vocab_only;  /* metadata and tokenizer only, no tensors (llama.cpp's --vocab-only) */
  const char *name; /* general.name; NULL: the directory's base name */
} tl_convert_params;

/* Summary of a finished conversion. */
typedef struct tl_convert_summary {
  char arch[32]; /* general.architecture */
  size_t n_tensors;
  uint64_t n_params;   /* elements of all tensors */
  uint64_t data_bytes; /* tensor bytes (without padding) */
  uint64_t file_bytes; /* size of the written file */
  bool has_tokenizer;
  bool has_chat_template;
  double rmse_worst_rel; /* largest per-tensor relative RMSE (report only) */
} tl_convert_summary;

/* TL_OK when every tensor type the mixture can give under ftype has a CPU
 * quantizer (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K_S, Q4_K_M,
 * Q5_K_S, Q5_K_M, Q6_K); otherwise TL_EUNSUPPORTED listing the supported
 * ones. */
tl_status tl_convert_ftype_supported(tl_ftype ftype, tl_error *err);

/* Converts p->input_dir into a GGUF file at p->output_path. The file is
 * written in place: on failure it is removed. Architectures: llama (Llama,
 * Mistral, Mixtral), qwen2, qwen3, qwen3moe, gemma3 (text), phi3; others give
 * TL_EUNSUPPORTED naming the model type. Errors: TL_EINVAL (bad params),
 * TL_EFORMAT (malformed input files, a tensor missing or of the wrong shape),
 * TL_EUNSUPPORTED, TL_EIO, TL_ENOMEM. progress is called from the calling
 * thread. summary (optional) is written on success. */
tl_status tl_convert(const tl_convert_params *p, tl_convert_summary *summary, tl_error *err);

/* What a view holds (tl_convert_open_view). */
typedef struct tl_convert_view_stats {
  size_t n_tensors;
  size_t n_in_place;       /* tensors seen in the mapped safetensors */
  uint64_t bytes_in_place; /* their bytes */
  uint64_t bytes_copied;   /* bytes of the converted copies the handle owns */
} tl_convert_view_stats;

/* Opens the Hugging Face directory dir as a GGUF handle without writing a
 * file: the metadata, tokenizer keys, tensor names, shapes and layouts
 * tl_convert writes, each tensor in its checkpoint type (F32, F16, BF16).
 * Tensors the conversion leaves as they are point into the read-only mapped
 * safetensors; those it changes (llama's q/k permutation, gemma's norms + 1,
 * 1-D tensors and routers not stored as F32, generated rope factors) are
 * copies the handle owns. Experts not stored back to back become one tensor
 * per expert (blk.N.ffn_gate.E.weight, as early Mixtral GGUFs) instead of
 * the stacked blk.N.ffn_gate_exps.weight. Close with
 * tl_gguf_close. Errors as tl_convert; stats (optional) on success. */
tl_status tl_convert_open_view(const char *dir, tl_gguf **out, tl_convert_view_stats *stats,
                               tl_error *err);

#ifdef __cplusplus
}
#endif
#endif
