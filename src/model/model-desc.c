/* Model descriptions built from the registry: every tensor of an architecture
 * typed by a file-type mixture with its exact bytes, and the predicted size of
 * the GGUF file those tensors would make (GGUF specification: header, tensor
 * infos, data aligned to general.alignment). Reading files is in
 * model-desc-gguf.c and hf-dir.c. */
#include <stdio.h>
#include <string.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "model/quant-shim-int.h"
#include "model/registry-int.h"

void tl_model_desc_free(tl_model_desc *m)
{
  if (!m)
    return;
  tl__free(m->tensors);
  tl__free(m);
}

tl_status tl_model_desc_from_hparams(const tl_hparams *hp, tl_ftype ftype, tl_model_desc **out,
                                     tl_error *err)
{
  tl_model_desc *m = tl__calloc(1, sizeof *m);
  if (!m)
    return tl__error_set(err, TL_ENOMEM, "model: out of memory");
  m->hp = *hp;
  tl_status st = TL_OK;
  if (m->hp.arch == TL_ARCH_UNKNOWN && m->hp.n_layer == 0 && m->hp.n_params_hint > 0)
    st = tl_hparams_guess_from_params(m->hp.n_params_hint, &m->hp, err);
  if (st == TL_OK)
    st = tl_hparams_finalize(&m->hp, err);
  if (st == TL_OK)
    st = tl_arch_tensors(&m->hp, &m->tensors, &m->n_tensors, err);
  if (st != TL_OK) {
    tl_model_desc_free(m);
    return st;
  }
  m->source_kind = TL_SOURCE_CATALOG;
  m->ftype = ftype;
  m->ftype_known = true;
  for (size_t i = 0; i < m->n_tensors; i++) {
    tl_tensor_desc *t = &m->tensors[i];
    t->type = shim_mixture_tensor_type(ftype, t);
    t->bytes = shim_tensor_bytes(t->type, t->ne, 4);
  }
  tl_model_desc_count(m);
  *out = m;
  return TL_OK;
}

/* GGUF alignment of tensor data when general.alignment is absent (spec). */
#define GGUF_ALIGN 32u

/* Estimated bytes of the metadata section. The tokenizer dominates it:
 * tokenizer.ggml.tokens (8-byte length + text per token), token_type (i32
 * per token), and either scores (f32 per token, SentencePiece vocabularies)
 * or merges (8-byte length + "a b" text, about one merge per token, BPE
 * vocabularies, which in practice are those of 64k tokens or more). Average
 * token text 7 bytes and merge text 13 bytes; 16 KiB for the other keys and
 * the chat template. Checked against published files in docs/models.md. */
static uint64_t metadata_estimate(const tl_hparams *hp)
{
  uint64_t n = hp->n_vocab;
  uint64_t tok = n * (8 + 7) + n * 4;
  if (n >= 64000)
    tok += n * (8 + 13);
  else
    tok += n * 4;
  return 24 + tok + 16384;
}

uint64_t tl_model_desc_predict_file_bytes(const tl_model_desc *m)
{
  uint64_t info = 0, data = 0;
  for (size_t i = 0; i < m->n_tensors; i++) {
    const tl_tensor_desc *t = &m->tensors[i];
    info += 8 + strlen(t->name) + 4 + 8ull * t->n_dims + 4 + 8;
    data += (t->bytes + GGUF_ALIGN - 1) / GGUF_ALIGN * GGUF_ALIGN;
  }
  uint64_t head = metadata_estimate(&m->hp) + info;
  head = (head + GGUF_ALIGN - 1) / GGUF_ALIGN * GGUF_ALIGN;
  return head + data;
}
