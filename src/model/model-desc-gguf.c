/* A model description read from a GGUF file: every tensor exactly as the
 * file stores it (type, shape, bytes, offset), with its role and layer taken
 * from the name, the hyperparameters from the metadata, and the file type
 * from general.file_type. The reader (gguf-reader.c) has validated every
 * offset and length. */
#include <stdio.h>
#include <string.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "tailor/gguf.h"
#include "tailor/model.h"

tl_status tl_model_desc_from_gguf(const char *path, tl_model_desc **out, tl_error *err)
{
  tl_gguf *g = NULL;
  tl_status st = tl_gguf_open(path, &g, err);
  if (st != TL_OK)
    return st;
  tl_model_desc *m = tl__calloc(1, sizeof *m);
  if (!m) {
    tl_gguf_close(g);
    return tl__error_set(err, TL_ENOMEM, "model: out of memory");
  }
  st = tl_hparams_from_gguf(g, &m->hp, err);
  if (st != TL_OK) {
    tl__error_prefix(err, "'%s'", path);
    goto fail;
  }
  m->source_kind = TL_SOURCE_GGUF;
  snprintf(m->source, sizeof m->source, "%s", path);
  const char *s;
  size_t n;
  if (tl_gguf_get_str(g, "general.name", &s, &n))
    snprintf(m->name, sizeof m->name, "%.*s", (int)(n < sizeof m->name ? n : sizeof m->name - 1), s);
  if (tl_gguf_get_str(g, "general.license", &s, &n))
    snprintf(m->license, sizeof m->license, "%.*s", (int)(n < sizeof m->license ? n : sizeof m->license - 1), s);
  uint32_t ft;
  if (tl_gguf_get_u32(g, "general.file_type", &ft) && ft < TL_FTYPE_COUNT) {
    m->ftype = (tl_ftype)ft;
    m->ftype_known = true;
  }
  m->has_tokenizer = tl_gguf_find_kv(g, "tokenizer.ggml.model") >= 0;
  m->has_chat_template = tl_gguf_find_kv(g, "tokenizer.chat_template") >= 0;
  m->file_bytes = tl_gguf_file_size(g);
  m->n_tensors = tl_gguf_n_tensors(g);
  if (m->n_tensors > 0) {
    m->tensors = tl__calloc(m->n_tensors, sizeof *m->tensors);
    if (!m->tensors) {
      st = tl__error_set(err, TL_ENOMEM, "model: out of memory for %zu tensors", m->n_tensors);
      goto fail;
    }
  }
  for (size_t i = 0; i < m->n_tensors; i++) {
    const tl_gguf_tensor *gt = tl_gguf_tensor_at(g, i);
    tl_tensor_desc *t = &m->tensors[i];
    size_t len = strlen(gt->name);
    if (len >= sizeof t->name) {
      st = tl__error_set(err, TL_ELIMIT, "gguf: tensor %zu name has %zu bytes (limit %d)", i, len,
                         TL_TENSOR_NAME_MAX - 1);
      goto fail;
    }
    memcpy(t->name, gt->name, len + 1);
    t->type = gt->type;
    t->n_dims = gt->n_dims;
    memcpy(t->ne, gt->ne, sizeof t->ne);
    t->bytes = gt->bytes;
    t->offset = gt->offset;
    t->role = tl_tensor_role_from_name(t->name, &t->layer);
    if (m->hp.arch == TL_ARCH_PHI3 && t->role == TL_ROLE_FFN_UP)
      t->role = TL_ROLE_FFN_GATE_UP; /* phi3 stores gate and up fused in ffn_up */
    if (t->layer >= (int32_t)m->hp.n_layer) {
      st = tl__error_set(err, TL_EFORMAT, "gguf: tensor '%s' names block %d, block_count is %u", t->name,
                         t->layer, m->hp.n_layer);
      goto fail;
    }
  }
  tl_model_desc_count(m);
  tl_gguf_close(g);
  *out = m;
  return TL_OK;
fail:
  tl_gguf_close(g);
  tl_model_desc_free(m);
  return st;
}
