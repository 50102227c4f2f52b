/* What the Hugging Face readers of the model area share: safetensors header
 * parsing into tensor descriptions. */
#ifndef TL_MODEL_HF_INT_H
#define TL_MODEL_HF_INT_H

#include <stddef.h>
#include <stdint.h>

#include "tailor/model.h"

/* Largest safetensors JSON header accepted (the safetensors library's own
 * limit, MAX_HEADER_SIZE = 100,000,000 bytes). */
#define TL_SAFETENSORS_MAX_HEADER 100000000ull

/* A growing tensor array. */
typedef struct tl__st_list {
  tl_tensor_desc *v;
  size_t n, cap;
} tl__st_list;

/* Parses a safetensors header: `header` holds the `header_len` JSON bytes
 * that follow the 8-byte length, in a file of `file_size` bytes. Appends one
 * description per tensor (shape reversed into GGML order, exact bytes, offset
 * from the start of the file). Every dtype, shape and data range is checked:
 * TL_EFORMAT naming `origin` and the tensor. */
tl_status tl__safetensors_parse(const char *header, uint64_t header_len, uint64_t file_size, const char *origin,
                                tl__st_list *out, tl_error *err);
/* Reads the header of the file at path and parses it (above). */
tl_status tl__safetensors_scan(const char *path, tl__st_list *out, uint64_t *file_size, tl_error *err);

#endif
