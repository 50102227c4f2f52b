/* GGUF internals shared within the model area: building a GGUF handle whose
 * tensor data lies outside its own bytes (the Hugging Face directory view of
 * convert-view.c). Never included from outside src/model/. */
#ifndef TL_MODEL_GGUF_INT_H
#define TL_MODEL_GGUF_INT_H

#include <stddef.h>

#include "tailor/gguf.h"

/* Writes the header, metadata and tensor infos (data offsets laid out as a
 * file would have them), padded to the data section, into a new buffer
 * (free with tl__free). Tensors must have been added without data. */
tl_status tl__gguf_writer_header_memory(tl_gguf_writer *w, void **out, size_t *len, tl_error *err);

/* Parses a header built by tl__gguf_writer_header_memory, taking ownership
 * of meta (freed with tl__free at close, also on failure). Tensors start
 * with no data (NULL); tl__gguf_set_tensor_data points them somewhere.
 * release(ctx) runs at tl_gguf_close, for whatever holds that data. */
tl_status tl__gguf_open_view(void *meta, size_t size, void (*release)(void *ctx), void *ctx,
                             tl_gguf **out, tl_error *err);
void tl__gguf_set_tensor_data(tl_gguf *g, size_t i, const void *data);

#endif
