/* Model descriptions built from the registry: every tensor of an architecture
 * typed by a file-type mixture with its exact bytes, and the predicted size of
 * the GGUF file those tensors would make (GGUF specification: header, tensor
 * infos, data aligned to general.alignment). Reading files is in
 * model-desc-gguf.c and hf-dir.c. */
#include <stdio.h>
#include <string.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "model/registry-int.h"
#include "tailor/quant.h"

void tl_model_desc_free(tl_model_desc *m)
{
  if (!m)
    return;
  tl__free(m->tensors);
  tl__free(m);
}

/* The type a tensor has in the unquantized GGUF llama.cpp's converter
 * writes (convert_hf_to_gguf.py): 1-D tensors, routers and position/type
 * embeddings in F32, the rest in the output type (F16 unless BF16 or F32 was
 * asked for). The mixture rule keeps this type where it does not quantize. */
static tl_qtype source_type(const tl_tensor_desc *t, tl_ftype ftype)
{
  if (t->n_dims < 2 || ftype == TL_FTYPE_ALL_F32 || strstr(t->name, "ffn_gate_inp.") ||
      strncmp(t->name, "position_embd.", 14) == 0 || strncmp(t->name, "token_types.", 12) == 0)
    return TL_QTYPE_F32;
  return ftype == TL_FTYPE_BF16 ? TL_QTYPE_BF16 : TL_QTYPE_F16;
}

/* Types every tensor by llama.cpp's mixture rule (tailor/quant.h). */
static tl_status apply_mixture(tl_model_desc *m, tl_ftype ftype, tl_error *err)
{
  tl_mixture_tensor *mt = tl__calloc(m->n_tensors ? m->n_tensors : 1, sizeof *mt);
  if (!mt)
    return tl__error_set(err, TL_ENOMEM, "model: out of memory");
  for (size_t i = 0; i < m->n_tensors; i++) {
    const tl_tensor_desc *t = &m->tensors[i];
    mt[i].name = t->name;
    memcpy(mt[i].ne, t->ne, sizeof mt[i].ne);
    mt[i].src_type = source_type(t, ftype);
  }
  tl_mixture_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  snprintf(ctx.arch, sizeof ctx.arch, "%s", m->hp.arch_name);
  ctx.n_layer = m->hp.n_layer;
  ctx.n_expert = m->hp.n_expert;
  ctx.n_head = m->hp.n_head;
  /* what the GGUF says: MLA files with split k_b/v_b store one KV head (the MQA view) */
  ctx.n_head_kv = !m->hp.kv_lora_rank ? m->hp.n_head_kv : m->hp.mla_split_kv_b ? 1 : m->hp.n_head;
  tl_status st = tl_mixture_assign(ftype, &ctx, mt, m->n_tensors, err);
  if (st == TL_OK)
    for (size_t i = 0; i < m->n_tensors; i++) {
      m->tensors[i].type = mt[i].type;
      m->tensors[i].bytes = mt[i].bytes;
    }
  else
    tl__error_prefix(err, "model: mixture %s", tl_ftype_name(ftype));
  tl__free(mt);
  return st;
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
  st = apply_mixture(m, ftype, err);
  if (st != TL_OK) {
    tl_model_desc_free(m);
    return st;
  }
  tl_model_desc_count(m);
  *out = m;
  return TL_OK;
}

/* GGUF alignment of tensor data when general.alignment is absent (spec). */
#define GGUF_ALIGN 32u

/* Estimated bytes of the metadata section. The tokenizer dominates it:
 * tokenizer.ggml.tokens (8-byte length + text per token, 7 bytes of text on
 * average), token_type (i32 per token), and either scores (f32 per token,
 * SentencePiece vocabularies: gemma, phi3, and llama-family vocabularies of
 * at most 32k tokens) or merges (8-byte length + about 12 bytes of "a b"
 * text per merge, BPE vocabularies). A BPE vocabulary has about one merge
 * per token, except Llama 3's 128,256-token one, which has 280,147
 * (tokenizer.json of meta-llama/Llama-3.1-8B). 16 KiB covers the other keys
 * and a chat template. Checked against published files in docs/models.md. */
static uint64_t metadata_estimate(const tl_hparams *hp)
{
  uint64_t n = hp->n_vocab;
  bool spm = hp->arch == TL_ARCH_GEMMA2 || hp->arch == TL_ARCH_GEMMA3 || hp->arch == TL_ARCH_PHI3 ||
             (hp->arch == TL_ARCH_LLAMA && n <= 32768);
  uint64_t bytes = n * (8 + 7) + n * 4;
  if (spm)
    bytes += n * 4;
  else
    bytes += (n == 128256 ? 280147 : n) * (8 + 12);
  return 24 + bytes + 16384;
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
