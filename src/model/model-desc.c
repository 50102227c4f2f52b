/* Model descriptions built from the registry: every tensor of an architecture
 * typed by a file-type mixture with its exact bytes, and the predicted size of
 * the GGUF file those tensors would make (GGUF specification: header, tensor
 * infos, data aligned to general.alignment). Reading files is in
 * model-desc-gguf.c and hf-dir.c. */
#include <stdio.h>
#include <string.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "model/mixture-int.h"
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
 * asked for). The mixture rule keeps this type where it does not quantize.
 * always_f32: the part that depends on the tensor alone. */
static bool always_f32(const tl_tensor_desc *t)
{
  return t->n_dims < 2 || strstr(t->name, "ffn_gate_inp.") || strncmp(t->name, "position_embd.", 14) == 0 ||
         strncmp(t->name, "token_types.", 12) == 0;
}

static tl_qtype source_type(bool f32, tl_ftype ftype)
{
  if (f32 || ftype == TL_FTYPE_ALL_F32)
    return TL_QTYPE_F32;
  return ftype == TL_FTYPE_BF16 ? TL_QTYPE_BF16 : TL_QTYPE_F16;
}

/* A registry description's tensors prepared for the mixture rule once, to be
 * typed under any number of mixtures (tl__desc_mixer_apply). */
struct tl__desc_mixer {
  size_t n;
  tl_mixture_tensor *mt;
  bool *f32;
  tl_mixture_ctx ctx;
  tl__mixture_prep *prep;
  /* tl_model_desc_count's figures that do not depend on the types */
  uint64_t n_params, n_params_active, n_params_token_embd;
};

void tl__desc_mixer_free(tl__desc_mixer *x)
{
  if (!x)
    return;
  tl__mixture_prep_free(x->prep);
  tl__free(x->mt);
  tl__free(x->f32);
  tl__free(x);
}

tl_status tl__desc_mixer_new(const tl_model_desc *m, tl__desc_mixer **out, tl_error *err)
{
  tl__desc_mixer *x = tl__calloc(1, sizeof *x);
  if (x) {
    x->n = m->n_tensors;
    x->mt = tl__calloc(x->n ? x->n : 1, sizeof *x->mt);
    x->f32 = tl__calloc(x->n ? x->n : 1, sizeof *x->f32);
  }
  if (!x || !x->mt || !x->f32) {
    tl__desc_mixer_free(x);
    return tl__error_set(err, TL_ENOMEM, "model: out of memory");
  }
  for (size_t i = 0; i < x->n; i++) {
    const tl_tensor_desc *t = &m->tensors[i];
    x->mt[i].name = t->name;
    memcpy(x->mt[i].ne, t->ne, sizeof x->mt[i].ne);
    x->f32[i] = always_f32(t);
  }
  tl_model_desc counted = *m; /* shares m's tensors: counting only reads them */
  tl_model_desc_count(&counted);
  x->n_params = counted.n_params;
  x->n_params_active = counted.n_params_active;
  x->n_params_token_embd = counted.n_params_token_embd;
  tl_mixture_ctx *ctx = &x->ctx;
  snprintf(ctx->arch, sizeof ctx->arch, "%s", m->hp.arch_name);
  ctx->n_layer = m->hp.n_layer;
  ctx->n_expert = m->hp.n_expert;
  ctx->n_head = m->hp.n_head;
  /* what the GGUF says: MLA files with split k_b/v_b store one KV head (the MQA view) */
  ctx->n_head_kv = !m->hp.kv_lora_rank ? m->hp.n_head_kv : m->hp.mla_split_kv_b ? 1 : m->hp.n_head;
  tl_status st = tl__mixture_prepare(ctx, x->mt, x->n, &x->prep, err);
  if (st != TL_OK) {
    tl__desc_mixer_free(x);
    return st;
  }
  *out = x;
  return TL_OK;
}

tl_status tl__desc_mixer_apply(tl__desc_mixer *x, tl_model_desc *m, tl_ftype ftype, tl_error *err)
{
  for (size_t i = 0; i < x->n; i++)
    x->mt[i].src_type = source_type(x->f32[i], ftype);
  tl_status st = tl__mixture_run(x->prep, ftype, &x->ctx, x->mt, err);
  if (st != TL_OK) {
    tl__error_prefix(err, "model: mixture %s", tl_ftype_name(ftype));
    return st;
  }
  uint64_t bytes = 0;
  for (size_t i = 0; i < x->n; i++) {
    m->tensors[i].type = x->mt[i].type;
    m->tensors[i].bytes = x->mt[i].bytes;
    bytes += x->mt[i].bytes;
  }
  m->ftype = ftype;
  m->ftype_known = true;
  /* tl_model_desc_count: the bytes summed, the parameters as counted once */
  m->weight_bytes = bytes;
  m->n_params = x->n_params;
  m->n_params_active = x->n_params_active;
  m->n_params_token_embd = x->n_params_token_embd;
  return TL_OK;
}

tl_status tl__model_desc_from_hparams_mixer(const tl_hparams *hp, tl_ftype ftype, tl_model_desc **out,
                                            tl__desc_mixer **mixer, tl_error *err)
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
  tl__desc_mixer *x = NULL;
  st = tl__desc_mixer_new(m, &x, err);
  if (st == TL_OK)
    st = tl__desc_mixer_apply(x, m, ftype, err);
  if (st != TL_OK || !mixer)
    tl__desc_mixer_free(x);
  if (st != TL_OK) {
    tl_model_desc_free(m);
    return st;
  }
  if (mixer)
    *mixer = x;
  *out = m;
  return TL_OK;
}

tl_status tl_model_desc_from_hparams(const tl_hparams *hp, tl_ftype ftype, tl_model_desc **out,
                                     tl_error *err)
{
  return tl__model_desc_from_hparams_mixer(hp, ftype, out, NULL, err);
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
