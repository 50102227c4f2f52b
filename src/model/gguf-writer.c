/* GGUF writer: collects metadata and tensor infos, then writes a version 3
 * little-endian file in one pass, taking tensor data from caller buffers or
 * from a stream in tensor order (so a large model is never held at once).
 * Owns copies of keys, values and names; borrows tensor buffers. Follows the
 * GGUF specification (ggml docs/gguf.md). Does not choose tensor types. */
#include "tailor/gguf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "model/gguf-int.h"
#include "tailor/quant.h"

typedef unsigned long long ull;

typedef struct wkv {
  char *key;
  tl_gguf_type type;
  uint8_t *val; /* encoded little-endian value */
  size_t len;
} wkv;

typedef struct wtensor {
  char *name;
  tl_qtype type;
  uint32_t n_dims;
  int64_t ne[4];
  uint64_t bytes;
  uint64_t offset; /* in the data section */
  const void *data; /* NULL: streamed */
} wtensor;

struct tl_gguf_writer {
  wkv *kvs;
  size_t n_kv, cap_kv;
  wtensor *tensors;
  size_t n_tensors, cap_tensors;
  /* output */
  FILE *f;
  char *path;
  bool failed;        /* a write failed: the file is removed at the end */
  size_t cur;         /* tensor being written */
  uint64_t cur_done;  /* bytes of it written */
  uint32_t alignment;
};

static bool host_is_le(void)
{
  const uint16_t one = 1;
  uint8_t b;
  memcpy(&b, &one, 1);
  return b == 1;
}

static void store_le(uint8_t *dst, uint64_t v, unsigned n)
{
  for (unsigned i = 0; i < n; i++)
    dst[i] = (uint8_t)(v >> (8 * i));
}

tl_status tl_gguf_writer_create(tl_gguf_writer **out, tl_error *err)
{
  tl_gguf_writer *w = tl__calloc(1, sizeof *w);
  if (w == NULL)
    return tl__error_set(err, TL_ENOMEM, "gguf writer: out of memory");
  w->alignment = 32;
  *out = w;
  return TL_OK;
}

static void close_output(tl_gguf_writer *w, bool remove_file)
{
  if (w->f != NULL) {
    fclose(w->f);
    w->f = NULL;
    if (remove_file && w->path != NULL)
      unlink(w->path);
  }
  tl__free(w->path);
  w->path = NULL;
}

void tl_gguf_writer_free(tl_gguf_writer *w)
{
  if (w == NULL)
    return;
  close_output(w, true);
  for (size_t i = 0; i < w->n_kv; i++) {
    tl__free(w->kvs[i].key);
    tl__free(w->kvs[i].val);
  }
  for (size_t i = 0; i < w->n_tensors; i++)
    tl__free(w->tensors[i].name);
  tl__free(w->kvs);
  tl__free(w->tensors);
  tl__free(w);
}

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
  if (need <= *cap)
    return true;
  size_t ncap = *cap ? *cap * 2 : 16;
  if (ncap < need || ncap > SIZE_MAX / elem)
    return false;
  void *q = tl__realloc(*p, ncap * elem);
  if (q == NULL)
    return false;
  *p = q;
  *cap = ncap;
  return true;
}

/* Sets key to an already-encoded value, taking ownership of val. */
static tl_status set_value(tl_gguf_writer *w, const char *key, tl_gguf_type type, uint8_t *val,
                           size_t len, tl_error *err)
{
  size_t klen = key ? strlen(key) : 0;
  if (w->path != NULL || w->f != NULL || klen == 0 || klen > TL_GGUF_MAX_KEY) {
    tl__free(val);
    if (w->f != NULL)
      return tl__error_set(err, TL_EINVAL, "gguf writer: metadata set after the file was begun");
    return tl__error_set(err, TL_EINVAL, "gguf writer: key of %zu bytes (must be 1..%u)", klen, TL_GGUF_MAX_KEY);
  }
  for (size_t i = 0; i < w->n_kv; i++) {
    if (strcmp(w->kvs[i].key, key) == 0) {
      tl__free(w->kvs[i].val);
      w->kvs[i].type = type;
      w->kvs[i].val = val;
      w->kvs[i].len = len;
      return TL_OK;
    }
  }
  char *k = tl__strdup(key);
  if (k == NULL || !grow((void **)&w->kvs, &w->cap_kv, w->n_kv + 1, sizeof *w->kvs)) {
    tl__free(k);
    tl__free(val);
    return tl__error_set(err, TL_ENOMEM, "gguf writer: out of memory for key '%s'", key);
  }
  w->kvs[w->n_kv++] = (wkv){k, type, val, len};
  return TL_OK;
}

static tl_status set_scalar(tl_gguf_writer *w, const char *key, tl_gguf_type type, uint64_t bits,
                            tl_error *err)
{
  size_t n = tl_gguf_type_size(type);
  uint8_t *val = tl__malloc(n);
  if (val == NULL)
    return tl__error_set(err, TL_ENOMEM, "gguf writer: out of memory for key '%s'", key ? key : "");
  store_le(val, bits, (unsigned)n);
  return set_value(w, key, type, val, n, err);
}

tl_status tl_gguf_writer_set_u8(tl_gguf_writer *w, const char *key, uint8_t v, tl_error *err)
{
  return set_scalar(w, key, TL_GGUF_UINT8, v, err);
}
tl_status tl_gguf_writer_set_i8(tl_gguf_writer *w, const char *key, int8_t v, tl_error *err)
{
  return set_scalar(w, key, TL_GGUF_INT8, (uint64_t)(int64_t)v, err);
}
tl_status tl_gguf_writer_set_u16(tl_gguf_writer *w, const char *key, uint16_t v, tl_error *err)
{
  return set_scalar(w, key, TL_GGUF_UINT16, v, err);
}
tl_status tl_gguf_writer_set_i16(tl_gguf_writer *w, const char *key, int16_t v, tl_error *err)
{
  return set_scalar(w, key, TL_GGUF_INT16, (uint64_t)(int64_t)v, err);
}
tl_status tl_gguf_writer_set_u32(tl_gguf_writer *w, const char *key, uint32_t v, tl_error *err)
{
  return set_scalar(w, key, TL_GGUF_UINT32, v, err);
}
tl_status tl_gguf_writer_set_i32(tl_gguf_writer *w, const char *key, int32_t v, tl_error *err)
{
  return set_scalar(w, key, TL_GGUF_INT32, (uint64_t)(int64_t)v, err);
}
tl_status tl_gguf_writer_set_u64(tl_gguf_writer *w, const char *key, uint64_t v, tl_error *err)
{
  return set_scalar(w, key, TL_GGUF_UINT64, v, err);
}
tl_status tl_gguf_writer_set_i64(tl_gguf_writer *w, const char *key, int64_t v, tl_error *err)
{
  return set_scalar(w, key, TL_GGUF_INT64, (uint64_t)v, err);
}
tl_status tl_gguf_writer_set_f32(tl_gguf_writer *w, const char *key, float v, tl_error *err)
{
  uint32_t bits;
  memcpy(&bits, &v, 4);
  return set_scalar(w, key, TL_GGUF_FLOAT32, bits, err);
}
tl_status tl_gguf_writer_set_f64(tl_gguf_writer *w, const char *key, double v, tl_error *err)
{
  uint64_t bits;
  memcpy(&bits, &v, 8);
  return set_scalar(w, key, TL_GGUF_FLOAT64, bits, err);
}
tl_status tl_gguf_writer_set_bool(tl_gguf_writer *w, const char *key, bool v, tl_error *err)
{
  return set_scalar(w, key, TL_GGUF_BOOL, v ? 1 : 0, err);
}

tl_status tl_gguf_writer_set_str(tl_gguf_writer *w, const char *key, const char *s, size_t len,
                                 tl_error *err)
{
  if (s == NULL && len > 0)
    return tl__error_set(err, TL_EINVAL, "gguf writer: no string for key '%s'", key ? key : "");
  uint8_t *val = tl__malloc(8 + len);
  if (val == NULL)
    return tl__error_set(err, TL_ENOMEM, "gguf writer: out of memory for key '%s'", key ? key : "");
  store_le(val, len, 8);
  if (len)
    memcpy(val + 8, s, len);
  return set_value(w, key, TL_GGUF_STRING, val, 8 + len, err);
}

tl_status tl_gguf_writer_set_arr(tl_gguf_writer *w, const char *key, tl_gguf_type elem_type,
                                 const void *data, uint64_t n, tl_error *err)
{
  size_t es = tl_gguf_type_size(elem_type);
  if (es == 0 || (data == NULL && n > 0))
    return tl__error_set(err, TL_EINVAL, "gguf writer: array of %s for key '%s' needs set_arr_str or set_raw",
                         tl_gguf_type_name(elem_type), key ? key : "");
  if (n > (SIZE_MAX - 12) / es)
    return tl__error_set(err, TL_EINVAL, "gguf writer: array of %llu elements for key '%s' is too large",
                         (ull)n, key ? key : "");
  size_t len = 12 + (size_t)n * es;
  uint8_t *val = tl__malloc(len);
  if (val == NULL)
    return tl__error_set(err, TL_ENOMEM, "gguf writer: out of memory for key '%s'", key ? key : "");
  store_le(val, (uint64_t)elem_type, 4);
  store_le(val + 4, n, 8);
  if (n > 0)
    memcpy(val + 12, data, (size_t)n * es);
  if (!host_is_le()) {
    for (size_t i = 0; i < (size_t)n; i++) {
      uint8_t *e = val + 12 + i * es;
      for (size_t a = 0, b = es - 1; a < b; a++, b--) {
        uint8_t t = e[a];
        e[a] = e[b];
        e[b] = t;
      }
    }
  }
  return set_value(w, key, TL_GGUF_ARRAY, val, len, err);
}

tl_status tl_gguf_writer_set_arr_str(tl_gguf_writer *w, const char *key, const char *const *strs,
                                     const size_t *lens, uint64_t n, tl_error *err)
{
  if (strs == NULL && n > 0)
    return tl__error_set(err, TL_EINVAL, "gguf writer: no strings for key '%s'", key ? key : "");
  size_t len = 12;
  for (uint64_t i = 0; i < n; i++) {
    size_t l = lens ? lens[i] : strlen(strs[i]);
    if (len > SIZE_MAX - 8 - l)
      return tl__error_set(err, TL_EINVAL, "gguf writer: string array for key '%s' is too large", key ? key : "");
    len += 8 + l;
  }
  uint8_t *val = tl__malloc(len);
  if (val == NULL)
    return tl__error_set(err, TL_ENOMEM, "gguf writer: out of memory for key '%s'", key ? key : "");
  store_le(val, TL_GGUF_STRING, 4);
  store_le(val + 4, n, 8);
  size_t at = 12;
  for (uint64_t i = 0; i < n; i++) {
    size_t l = lens ? lens[i] : strlen(strs[i]);
    store_le(val + at, l, 8);
    if (l)
      memcpy(val + at + 8, strs[i], l);
    at += 8 + l;
  }
  return set_value(w, key, TL_GGUF_ARRAY, val, len, err);
}

tl_status tl_gguf_writer_set_raw(tl_gguf_writer *w, const char *key, tl_gguf_type type,
                                 const void *bytes, size_t n, tl_error *err)
{
  if ((unsigned)type > TL_GGUF_FLOAT64 || (bytes == NULL && n > 0))
    return tl__error_set(err, TL_EINVAL, "gguf writer: bad raw value for key '%s'", key ? key : "");
  uint8_t *val = tl__malloc(n ? n : 1);
  if (val == NULL)
    return tl__error_set(err, TL_ENOMEM, "gguf writer: out of memory for key '%s'", key ? key : "");
  if (n)
    memcpy(val, bytes, n);
  return set_value(w, key, type, val, n, err);
}

/* ---- tensors ---- */

static uint64_t pad_to(uint64_t x, uint32_t a)
{
  return (x + a - 1) / a * a;
}

tl_status tl_gguf_writer_add_tensor(tl_gguf_writer *w, const char *name, tl_qtype type,
                                    const int64_t *ne, uint32_t n_dims, const void *data,
                                    tl_error *err)
{
  size_t len = name ? strlen(name) : 0;
  if (w->f != NULL)
    return tl__error_set(err, TL_EINVAL, "gguf writer: tensor added after the file was begun");
  if (len == 0 || len >= TL_TENSOR_NAME_MAX)
    return tl__error_set(err, TL_EINVAL, "gguf writer: tensor name of %zu bytes (must be 1..%d)", len,
                         TL_TENSOR_NAME_MAX - 1);
  uint64_t bytes = tl_tensor_bytes(type, ne, n_dims);
  if (bytes == 0)
    return tl__error_set(err, TL_EINVAL, "gguf writer: tensor '%s': type %s does not fit its shape", name,
                         tl_qtype_name(type));
  for (size_t i = 0; i < w->n_tensors; i++)
    if (strcmp(w->tensors[i].name, name) == 0)
      return tl__error_set(err, TL_EINVAL, "gguf writer: tensor '%s' added twice", name);
  char *copy = tl__strdup(name);
  if (copy == NULL || !grow((void **)&w->tensors, &w->cap_tensors, w->n_tensors + 1, sizeof *w->tensors)) {
    tl__free(copy);
    return tl__error_set(err, TL_ENOMEM, "gguf writer: out of memory for tensor '%s'", name);
  }
  wtensor t = {copy, type, n_dims, {1, 1, 1, 1}, bytes, 0, data};
  for (uint32_t d = 0; d < n_dims; d++)
    t.ne[d] = ne[d];
  w->tensors[w->n_tensors++] = t;
  return TL_OK;
}

/* The alignment the file will declare: general.alignment when set as a
 * power-of-two uint32, else 32. 0 when set but invalid. */
static uint32_t file_alignment(const tl_gguf_writer *w)
{
  for (size_t i = 0; i < w->n_kv; i++) {
    if (strcmp(w->kvs[i].key, "general.alignment") == 0) {
      if (w->kvs[i].type != TL_GGUF_UINT32)
        return 0;
      uint32_t a = (uint32_t)w->kvs[i].val[0] | (uint32_t)w->kvs[i].val[1] << 8 |
                   (uint32_t)w->kvs[i].val[2] << 16 | (uint32_t)w->kvs[i].val[3] << 24;
      return a != 0 && (a & (a - 1)) == 0 ? a : 0;
    }
  }
  return 32;
}

static uint64_t header_bytes(const tl_gguf_writer *w)
{
  uint64_t n = 4 + 4 + 8 + 8;
  for (size_t i = 0; i < w->n_kv; i++)
    n += 8 + strlen(w->kvs[i].key) + 4 + w->kvs[i].len;
  for (size_t i = 0; i < w->n_tensors; i++)
    n += 8 + strlen(w->tensors[i].name) + 4 + 8 * (uint64_t)w->tensors[i].n_dims + 4 + 8;
  return n;
}

uint64_t tl_gguf_writer_data_offset(const tl_gguf_writer *w)
{
  uint32_t a = file_alignment(w);
  return pad_to(header_bytes(w), a ? a : 32);
}

/* ---- output ---- */

static void put(tl_gguf_writer *w, const void *p, size_t n)
{
  if (!w->failed && n > 0 && fwrite(p, 1, n, w->f) != n)
    w->failed = true;
}

static void put_int(tl_gguf_writer *w, uint64_t v, unsigned n)
{
  uint8_t b[8];
  store_le(b, v, n);
  put(w, b, n);
}

static void put_zeros(tl_gguf_writer *w, uint64_t n)
{
  static const uint8_t zeros[256];
  while (n > 0) {
    size_t k = n < sizeof zeros ? (size_t)n : sizeof zeros;
    put(w, zeros, k);
    n -= k;
  }
}

static tl_status io_error(tl_gguf_writer *w, tl_error *err)
{
  int e = errno;
  tl_status st = tl__error_errno(err, TL_EIO, e, "gguf writer: cannot write '%s'", w->path ? w->path : "");
  close_output(w, true);
  return st;
}

/* Writes the buffered tensors from w->cur on, stopping at a streamed one. */
static void write_buffered(tl_gguf_writer *w)
{
  while (w->cur < w->n_tensors && w->tensors[w->cur].data != NULL) {
    const wtensor *t = &w->tensors[w->cur];
    put(w, t->data, (size_t)t->bytes);
    put_zeros(w, pad_to(t->bytes, w->alignment) - t->bytes);
    w->cur++;
  }
}

/* The alignment and every tensor's data offset. */
static tl_status lay_out(tl_gguf_writer *w, tl_error *err)
{
  w->alignment = file_alignment(w);
  if (w->alignment == 0)
    return tl__error_set(err, TL_EINVAL, "gguf writer: general.alignment must be a power-of-two uint32");
  uint64_t off = 0;
  for (size_t i = 0; i < w->n_tensors; i++) {
    w->tensors[i].offset = off;
    off = pad_to(off + w->tensors[i].bytes, w->alignment);
  }
  return TL_OK;
}

static void put_header(tl_gguf_writer *w);

tl_status tl_gguf_writer_begin(tl_gguf_writer *w, const char *path, tl_error *err)
{
  if (w->f != NULL || path == NULL)
    return tl__error_set(err, TL_EINVAL, "gguf writer: begun twice or without a path");
  tl_status st = lay_out(w, err);
  if (st != TL_OK)
    return st;
  w->path = tl__strdup(path);
  if (w->path == NULL)
    return tl__error_set(err, TL_ENOMEM, "gguf writer: out of memory");
  w->f = fopen(path, "wb");
  if (w->f == NULL) {
    int e = errno;
    tl__free(w->path);
    w->path = NULL;
    return tl__error_errno(err, TL_EIO, e, "gguf writer: cannot create '%s'", path);
  }
  put_header(w);
  write_buffered(w);
  return w->failed ? io_error(w, err) : TL_OK;
}

/* Header, metadata and tensor infos, padded to the data section. */
static void put_header(tl_gguf_writer *w)
{
  w->failed = false;
  w->cur = 0;
  w->cur_done = 0;
  put(w, "GGUF", 4);
  put_int(w, 3, 4);
  put_int(w, w->n_tensors, 8);
  put_int(w, w->n_kv, 8);
  for (size_t i = 0; i < w->n_kv; i++) {
    const wkv *k = &w->kvs[i];
    size_t kl = strlen(k->key);
    put_int(w, kl, 8);
    put(w, k->key, kl);
    put_int(w, (uint64_t)k->type, 4);
    put(w, k->val, k->len);
  }
  for (size_t i = 0; i < w->n_tensors; i++) {
    const wtensor *t = &w->tensors[i];
    size_t nl = strlen(t->name);
    put_int(w, nl, 8);
    put(w, t->name, nl);
    put_int(w, t->n_dims, 4);
    for (uint32_t d = 0; d < t->n_dims; d++)
      put_int(w, (uint64_t)t->ne[d], 8);
    put_int(w, (uint64_t)t->type, 4);
    put_int(w, t->offset, 8);
  }
  uint64_t h = header_bytes(w);
  put_zeros(w, pad_to(h, w->alignment) - h);
}

tl_status tl__gguf_writer_header_memory(tl_gguf_writer *w, void **out, size_t *len, tl_error *err)
{
  if (w->f != NULL)
    return tl__error_set(err, TL_EINVAL, "gguf writer: already begun");
  tl_status st = lay_out(w, err);
  if (st != TL_OK)
    return st;
  char *buf = NULL;
  size_t n = 0;
  w->f = open_memstream(&buf, &n);
  if (w->f == NULL)
    return tl__error_errno(err, TL_ENOMEM, errno, "gguf writer: cannot open a memory stream");
  put_header(w);
  bool failed = w->failed || fclose(w->f) != 0;
  w->f = NULL;
  void *copy = failed ? NULL : tl__malloc(n ? n : 1);
  if (copy)
    memcpy(copy, buf, n);
  free(buf); /* open_memstream's buffer comes from malloc */
  if (!copy)
    return tl__error_set(err, TL_ENOMEM, "gguf writer: out of memory for a %zu-byte header", n);
  *out = copy;
  *len = n;
  return TL_OK;
}

tl_status tl_gguf_writer_write_data(tl_gguf_writer *w, const void *data, size_t n, tl_error *err)
{
  if (w->f == NULL)
    return tl__error_set(err, TL_EINVAL, "gguf writer: data written before begin");
  const uint8_t *p = data;
  while (n > 0) {
    if (w->cur >= w->n_tensors)
      return tl__error_set(err, TL_EINVAL, "gguf writer: %zu bytes of data past the last tensor", n);
    const wtensor *t = &w->tensors[w->cur];
    uint64_t left = t->bytes - w->cur_done;
    size_t k = n < left ? n : (size_t)left;
    put(w, p, k);
    p += k;
    n -= k;
    w->cur_done += k;
    if (w->cur_done == t->bytes) {
      put_zeros(w, pad_to(t->bytes, w->alignment) - t->bytes);
      w->cur++;
      w->cur_done = 0;
      write_buffered(w);
    }
    if (w->failed)
      return io_error(w, err);
  }
  return TL_OK;
}

tl_status tl_gguf_writer_finish(tl_gguf_writer *w, tl_error *err)
{
  if (w->f == NULL)
    return tl__error_set(err, TL_EINVAL, "gguf writer: finish before begin");
  if (w->cur < w->n_tensors) {
    tl_status st = tl__error_set(err, TL_EINVAL, "gguf writer: tensor '%s' has %llu of %llu bytes written",
                                 w->tensors[w->cur].name, (ull)w->cur_done, (ull)w->tensors[w->cur].bytes);
    close_output(w, true);
    return st;
  }
  if (w->failed || fflush(w->f) != 0)
    return io_error(w, err);
  if (fclose(w->f) != 0) {
    w->f = NULL;
    int e = errno;
    tl_status st = tl__error_errno(err, TL_EIO, e, "gguf writer: cannot close '%s'", w->path);
    unlink(w->path);
    close_output(w, false);
    return st;
  }
  w->f = NULL;
  close_output(w, false);
  return TL_OK;
}

tl_status tl_gguf_writer_write(tl_gguf_writer *w, const char *path, tl_error *err)
{
  tl_status st = tl_gguf_writer_begin(w, path, err);
  return st != TL_OK ? st : tl_gguf_writer_finish(w, err);
}
