/* GGUF files: a bounds-checked reader over a read-only memory map, and a
 * streaming writer. Follows the GGUF specification (ggml docs/gguf.md),
 * versions 2 and 3. Every length and offset read from a file is checked
 * against the file size before use; a malformed file gives TL_EFORMAT with a
 * message naming the byte offset and what was wrong. */
#ifndef TAILOR_GGUF_H
#define TAILOR_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tailor/error.h"
#include "tailor/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Metadata value types, numbered as in the specification. */
typedef enum tl_gguf_type {
  TL_GGUF_UINT8 = 0,
  TL_GGUF_INT8 = 1,
  TL_GGUF_UINT16 = 2,
  TL_GGUF_INT16 = 3,
  TL_GGUF_UINT32 = 4,
  TL_GGUF_INT32 = 5,
  TL_GGUF_FLOAT32 = 6,
  TL_GGUF_BOOL = 7,
  TL_GGUF_STRING = 8,
  TL_GGUF_ARRAY = 9,
  TL_GGUF_UINT64 = 10,
  TL_GGUF_INT64 = 11,
  TL_GGUF_FLOAT64 = 12,
} tl_gguf_type;

typedef struct tl_gguf tl_gguf;

/* One tensor's info, as read from the file (validated). */
typedef struct tl_gguf_tensor {
  const char *name;    /* NUL-terminated copy owned by the tl_gguf */
  tl_qtype type;
  uint32_t n_dims;
  int64_t ne[4];       /* unused dimensions are 1 */
  uint64_t offset;     /* from the start of the data section (aligned) */
  uint64_t bytes;      /* exact storage bytes from type and shape */
  const void *data;    /* into the mapping; NULL for a file opened without data */
} tl_gguf_tensor;

/* Opens and validates a GGUF file, mapping it read-only. Tensor data must lie
 * inside the file. Free with tl_gguf_close. */
tl_status tl_gguf_open(const char *path, tl_gguf **out, tl_error *err);
/* The same over caller-owned bytes, which must outlive the handle. */
tl_status tl_gguf_open_memory(const void *data, size_t size, tl_gguf **out, tl_error *err);
void tl_gguf_close(tl_gguf *g);

uint32_t tl_gguf_version(const tl_gguf *g);
uint64_t tl_gguf_file_size(const tl_gguf *g);
uint32_t tl_gguf_alignment(const tl_gguf *g);   /* general.alignment or 32 */
uint64_t tl_gguf_data_offset(const tl_gguf *g); /* start of the tensor data section */

/* ---- metadata ---- */
size_t tl_gguf_n_kv(const tl_gguf *g);
const char *tl_gguf_kv_key(const tl_gguf *g, size_t i);
tl_gguf_type tl_gguf_kv_type(const tl_gguf *g, size_t i);
/* Index of the key, or -1. With duplicate keys, the first one. */
int64_t tl_gguf_find_kv(const tl_gguf *g, const char *key);

/* Scalar getters by key. They return false when the key is missing or its
 * value cannot be represented in the out type (any integer type converts when
 * in range; float32/float64 convert to float/double). *out is unchanged then. */
bool tl_gguf_get_u32(const tl_gguf *g, const char *key, uint32_t *out);
bool tl_gguf_get_u64(const tl_gguf *g, const char *key, uint64_t *out);
bool tl_gguf_get_i64(const tl_gguf *g, const char *key, int64_t *out);
bool tl_gguf_get_f32(const tl_gguf *g, const char *key, float *out);
bool tl_gguf_get_f64(const tl_gguf *g, const char *key, double *out);
bool tl_gguf_get_bool(const tl_gguf *g, const char *key, bool *out);
/* Borrowed pointer to the string bytes (not NUL-terminated) and its length. */
bool tl_gguf_get_str(const tl_gguf *g, const char *key, const char **s, size_t *len);

/* Arrays, by kv index (top level). Element type and count; for nested arrays
 * the element type is TL_GGUF_ARRAY and tl_gguf_arr_sub gives each element. */
bool tl_gguf_arr_info(const tl_gguf *g, size_t kv, tl_gguf_type *elem_type, uint64_t *count);
/* Element i of a numeric or bool array as double / int64 (false on type or range error). */
bool tl_gguf_arr_f64(const tl_gguf *g, size_t kv, uint64_t i, double *out);
bool tl_gguf_arr_i64(const tl_gguf *g, size_t kv, uint64_t i, int64_t *out);
/* Element i of a string array. */
bool tl_gguf_arr_str(const tl_gguf *g, size_t kv, uint64_t i, const char **s, size_t *len);
/* Raw little-endian element bytes of a fixed-size numeric array (may be
 * unaligned: copy with memcpy). NULL for strings, nested arrays, or
 * big-endian files. */
const void *tl_gguf_arr_data(const tl_gguf *g, size_t kv);

/* ---- additions: byte order, values by index, nested arrays ---- */

/* Hard limits on counts read from a file (beyond the file-size bounds). */
#define TL_GGUF_MAX_KV 1048576u
#define TL_GGUF_MAX_TENSORS 1048576u
#define TL_GGUF_MAX_KEY 65535u       /* bytes of a key (the spec's limit) */
#define TL_GGUF_MAX_DEPTH 8u         /* nesting of arrays inside arrays */

/* True for a big-endian file: metadata is byte-swapped when read; tensor data
 * is left as stored (big-endian). */
bool tl_gguf_is_big_endian(const tl_gguf *g);

/* Scalar values by kv index, with the conversions of the getters above
 * (which use the first kv of a key). False on a type or range mismatch. */
bool tl_gguf_kv_u64(const tl_gguf *g, size_t i, uint64_t *out);
bool tl_gguf_kv_i64(const tl_gguf *g, size_t i, int64_t *out);
bool tl_gguf_kv_f64(const tl_gguf *g, size_t i, double *out);
bool tl_gguf_kv_bool(const tl_gguf *g, size_t i, bool *out);
bool tl_gguf_kv_str(const tl_gguf *g, size_t i, const char **s, size_t *len);

/* An array value, at any nesting depth; borrowed from the tl_gguf. */
typedef struct tl_gguf_array tl_gguf_array;
/* The array of kv i, or NULL when that value is not an array. */
const tl_gguf_array *tl_gguf_kv_array(const tl_gguf *g, size_t i);
tl_gguf_type tl_gguf_array_type(const tl_gguf_array *a);  /* element type */
uint64_t tl_gguf_array_count(const tl_gguf_array *a);
/* Element i of an array of arrays, or NULL (wrong type, out of range). */
const tl_gguf_array *tl_gguf_array_sub(const tl_gguf_array *a, uint64_t i);
/* Element i, as tl_gguf_arr_f64 / _i64 / _str. */
bool tl_gguf_array_f64(const tl_gguf_array *a, uint64_t i, double *out);
bool tl_gguf_array_i64(const tl_gguf_array *a, uint64_t i, int64_t *out);
bool tl_gguf_array_str(const tl_gguf_array *a, uint64_t i, const char **s, size_t *len);
/* Fixed element size in bytes of a value type (0 for strings and arrays). */
size_t tl_gguf_type_size(tl_gguf_type t);
/* The specification's name of a value type ("uint32", "string"), or "invalid". */
const char *tl_gguf_type_name(tl_gguf_type t);

/* ---- tensors ---- */
size_t tl_gguf_n_tensors(const tl_gguf *g);
const tl_gguf_tensor *tl_gguf_tensor_at(const tl_gguf *g, size_t i);
/* Index of the named tensor, or -1. */
int64_t tl_gguf_find_tensor(const tl_gguf *g, const char *name);

/* ---- writer ---- */

/* Builds a GGUF version 3 file (little-endian): metadata in the order set,
 * tensor infos in the order added, then each tensor's data at an offset
 * aligned to general.alignment (32 unless set as a uint32). Tensor data is
 * either a caller buffer given at add time or streamed after
 * tl_gguf_writer_begin, in tensor order, so a model never needs to be in
 * memory at once. Not thread-safe. Free with tl_gguf_writer_free. */
typedef struct tl_gguf_writer tl_gguf_writer;

tl_status tl_gguf_writer_create(tl_gguf_writer **out, tl_error *err);
/* Frees the writer; an unfinished output file is closed and removed. */
void tl_gguf_writer_free(tl_gguf_writer *w);

/* Metadata setters. The key is copied; setting a key again replaces its
 * value in place. TL_EINVAL for an empty key, one over TL_GGUF_MAX_KEY bytes,
 * or a call after tl_gguf_writer_begin. */
tl_status tl_gguf_writer_set_u8(tl_gguf_writer *w, const char *key, uint8_t v, tl_error *err);
tl_status tl_gguf_writer_set_i8(tl_gguf_writer *w, const char *key, int8_t v, tl_error *err);
tl_status tl_gguf_writer_set_u16(tl_gguf_writer *w, const char *key, uint16_t v, tl_error *err);
tl_status tl_gguf_writer_set_i16(tl_gguf_writer *w, const char *key, int16_t v, tl_error *err);
tl_status tl_gguf_writer_set_u32(tl_gguf_writer *w, const char *key, uint32_t v, tl_error *err);
tl_status tl_gguf_writer_set_i32(tl_gguf_writer *w, const char *key, int32_t v, tl_error *err);
tl_status tl_gguf_writer_set_u64(tl_gguf_writer *w, const char *key, uint64_t v, tl_error *err);
tl_status tl_gguf_writer_set_i64(tl_gguf_writer *w, const char *key, int64_t v, tl_error *err);
tl_status tl_gguf_writer_set_f32(tl_gguf_writer *w, const char *key, float v, tl_error *err);
tl_status tl_gguf_writer_set_f64(tl_gguf_writer *w, const char *key, double v, tl_error *err);
tl_status tl_gguf_writer_set_bool(tl_gguf_writer *w, const char *key, bool v, tl_error *err);
/* A string of len bytes (copied). */
tl_status tl_gguf_writer_set_str(tl_gguf_writer *w, const char *key, const char *s, size_t len,
                                 tl_error *err);
/* An array of n fixed-size elements (numbers or bools) in host byte order,
 * copied. TL_EINVAL for string or array element types. */
tl_status tl_gguf_writer_set_arr(tl_gguf_writer *w, const char *key, tl_gguf_type elem_type,
                                 const void *data, uint64_t n, tl_error *err);
/* An array of n strings; lens may be NULL for NUL-terminated strings. */
tl_status tl_gguf_writer_set_arr_str(tl_gguf_writer *w, const char *key, const char *const *strs,
                                     const size_t *lens, uint64_t n, tl_error *err);
/* A value given as its encoded little-endian bytes (as they follow the type
 * field in a file), for values the setters above do not build, such as
 * nested arrays. Not validated beyond the key and type. */
tl_status tl_gguf_writer_set_raw(tl_gguf_writer *w, const char *key, tl_gguf_type type,
                                 const void *bytes, size_t n, tl_error *err);

/* Adds a tensor info (name copied, 1..TL_TENSOR_NAME_MAX-1 bytes, unique).
 * data: the tensor's bytes (tl_tensor_bytes of type and shape), borrowed
 * until written; or NULL to stream them with tl_gguf_writer_write_data.
 * TL_EINVAL for a bad name, type or shape (ne[0] not a multiple of the block
 * size), or a call after tl_gguf_writer_begin. */
tl_status tl_gguf_writer_add_tensor(tl_gguf_writer *w, const char *name, tl_qtype type,
                                    const int64_t *ne, uint32_t n_dims, const void *data,
                                    tl_error *err);
/* Bytes of the header, metadata and tensor infos with padding: where the
 * tensor data section will start. */
uint64_t tl_gguf_writer_data_offset(const tl_gguf_writer *w);

/* Creates path and writes everything before the tensor data, then the data
 * of leading tensors that have buffers. TL_EIO on a write error. */
tl_status tl_gguf_writer_begin(tl_gguf_writer *w, const char *path, tl_error *err);
/* Appends n bytes of streamed tensor data: they fill the current tensor;
 * once it is complete, padding and the following buffered tensors are
 * written. TL_EINVAL when n runs past the current streamed tensor. */
tl_status tl_gguf_writer_write_data(tl_gguf_writer *w, const void *data, size_t n, tl_error *err);
/* Checks that every tensor was written, flushes and closes the file.
 * TL_EINVAL when data is missing (the file is removed). */
tl_status tl_gguf_writer_finish(tl_gguf_writer *w, tl_error *err);
/* begin + finish, for writers whose tensors all have buffers. */
tl_status tl_gguf_writer_write(tl_gguf_writer *w, const char *path, tl_error *err);

#ifdef __cplusplus
}
#endif
#endif
