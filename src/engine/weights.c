/* Weight views: a GGUF tensor, checked for name, type and shape, seen in
 * place in the read-only mapping (nothing is copied or converted at load).
 * Every message names the tensor and says what was expected. */
#include <string.h>

#include "base/error-int.h"
#include "engine/cpu/kernels.h"
#include "engine/engine-int.h"
#include "tailor/quant.h"

static tl_status find(const tl_gguf *g, const char *name, const tl_gguf_tensor **out,
                      tl_error *err)
{
  int64_t i = tl_gguf_find_tensor(g, name);
  if (i < 0)
    return tl__error_set(err, TL_EFORMAT, "engine: tensor '%s' is missing", name);
  const tl_gguf_tensor *t = tl_gguf_tensor_at(g, (size_t)i);
  if (!t->data)
    return tl__error_set(err, TL_EFORMAT, "engine: tensor '%s' has no data", name);
  *out = t;
  return TL_OK;
}

tl_status tl__weights_matrix(const tl_gguf *g, const char *name, int64_t ne0, int64_t ne1,
                             tl__weight *out, tl_error *err)
{
  const tl_gguf_tensor *t = NULL;
  tl_status st = find(g, name, &t, err);
  if (st)
    return st;
  if (t->n_dims > 2 || t->ne[0] != ne0 || t->ne[1] != ne1)
    return tl__error_set(err, TL_EFORMAT,
                         "engine: tensor '%s' has shape [%lld, %lld, %lld], expected [%lld, %lld]",
                         name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                         (long long)ne0, (long long)ne1);
  if (!tl__qtype_is_weight(t->type))
    return tl__error_set(err, TL_EUNSUPPORTED, "engine: tensor '%s' has type %s, which the CPU "
                         "kernels do not multiply", name, tl_qtype_name(t->type));
  *out = (tl__weight){
      .name = t->name,
      .data = t->data,
      .type = t->type,
      .ne0 = ne0,
      .ne1 = ne1,
      .row_bytes = (size_t)tl_qtype_row_bytes(t->type, ne0),
  };
  return TL_OK;
}

tl_status tl__weights_vector(const tl_gguf *g, const char *name, int64_t n, bool required,
                             const float **out, tl_error *err)
{
  if (!required && tl_gguf_find_tensor(g, name) < 0) {
    *out = NULL;
    return TL_OK;
  }
  const tl_gguf_tensor *t = NULL;
  tl_status st = find(g, name, &t, err);
  if (st)
    return st;
  if (t->n_dims != 1 || t->ne[0] != n)
    return tl__error_set(err, TL_EFORMAT, "engine: tensor '%s' has %u dims, [%lld, %lld], "
                         "expected a vector of %lld", name, t->n_dims, (long long)t->ne[0],
                         (long long)t->ne[1], (long long)n);
  if (t->type != TL_QTYPE_F32)
    return tl__error_set(err, TL_EUNSUPPORTED, "engine: tensor '%s' has type %s, expected f32",
                         name, tl_qtype_name(t->type));
  if ((uintptr_t)t->data % sizeof(float))
    return tl__error_set(err, TL_EFORMAT, "engine: tensor '%s' data is not 4-byte aligned", name);
  *out = t->data;
  return TL_OK;
}
