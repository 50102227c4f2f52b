/* GGUF reader: validates a whole GGUF file (versions 2 and 3, either byte
 * order) through a bounds-checked cursor and exposes its metadata and tensor
 * infos without copying values. Owns the read-only mapping, key and tensor
 * name copies and small index tables; values stay in the mapping. Follows
 * the GGUF specification (ggml docs/gguf.md). Does not interpret keys. */
#include "tailor/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "model/gguf-int.h"
#include "tailor/quant.h"

typedef unsigned long long ull;

struct tl_gguf_array {
  const tl_gguf *g;
  tl_gguf_type type; /* element type */
  uint64_t count;
  uint64_t off;      /* file offset of the first element */
  size_t first;      /* strings: index into g->soff; arrays: into g->arrs */
};

typedef struct kv {
  const char *key;   /* NUL-terminated, in g->names (fixed up after parsing) */
  size_t key_at;     /* offset of the key in g->names while parsing */
  tl_gguf_type type;
  uint64_t off;      /* scalars: the value; strings: the bytes */
  uint64_t len;      /* strings: length in bytes */
  size_t arr;        /* arrays: index into g->arrs */
} kv;

struct tl_gguf {
  const uint8_t *base;
  uint64_t size;
  void *map; /* mmap'ed region, NULL for memory */
  size_t map_len;
  uint32_t version;
  bool swap; /* big-endian file */
  uint32_t alignment;
  uint64_t data_off;
  size_t n_kv;
  kv *kvs;
  tl_gguf_array *arrs;
  size_t n_arrs, cap_arrs;
  uint64_t *soff; /* offsets of string elements (their length fields) */
  size_t n_soff, cap_soff;
  char *names; /* keys and tensor names, each NUL-terminated */
  size_t n_names, cap_names;
  size_t n_tensors;
  tl_gguf_tensor *tensors;
  size_t *tname_at; /* tensor name offsets in names while parsing */
  uint32_t *thash;  /* open addressing: tensor index + 1, 0 = empty */
  size_t thash_cap; /* power of two */
  /* a view (gguf-int.h): the header bytes are owned, the data lies elsewhere */
  void *owned;
  void (*release)(void *ctx);
  void *release_ctx;
};

/* ---- value type facts ---- */

size_t tl_gguf_type_size(tl_gguf_type t)
{
  switch (t) {
  case TL_GGUF_UINT8: case TL_GGUF_INT8: case TL_GGUF_BOOL: return 1;
  case TL_GGUF_UINT16: case TL_GGUF_INT16: return 2;
  case TL_GGUF_UINT32: case TL_GGUF_INT32: case TL_GGUF_FLOAT32: return 4;
  case TL_GGUF_UINT64: case TL_GGUF_INT64: case TL_GGUF_FLOAT64: return 8;
  default: return 0;
  }
}

const char *tl_gguf_type_name(tl_gguf_type t)
{
  static const char *const names[] = {"uint8", "int8", "uint16", "int16", "uint32", "int32",
                                      "float32", "bool", "string", "array", "uint64", "int64",
                                      "float64"};
  return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "invalid";
}

static bool type_known(uint32_t t)
{
  return t <= TL_GGUF_FLOAT64;
}

/* Smallest encoding of one element of type t, for bounding counts. */
static uint64_t type_min_bytes(tl_gguf_type t)
{
  if (t == TL_GGUF_STRING)
    return 8;
  if (t == TL_GGUF_ARRAY)
    return 12;
  return tl_gguf_type_size(t);
}

/* ---- raw loads (any alignment, file byte order) ---- */

static uint64_t load(const uint8_t *p, unsigned n, bool swap)
{
  uint64_t v = 0;
  if (!swap) {
    for (unsigned i = 0; i < n; i++)
      v |= (uint64_t)p[i] << (8 * i);
  } else {
    for (unsigned i = 0; i < n; i++)
      v = (v << 8) | p[i];
  }
  return v;
}

static uint64_t g_load(const tl_gguf *g, uint64_t off, unsigned n)
{
  return load(g->base + off, n, g->swap);
}

/* ---- the cursor ---- */

typedef struct cursor {
  const uint8_t *base;
  uint64_t size;
  uint64_t pos;
  bool swap;
  tl_error *err;
} cursor;

static uint64_t cur_left(const cursor *c)
{
  return c->size - c->pos;
}

static tl_status cur_need(cursor *c, uint64_t n, const char *what)
{
  if (n > cur_left(c))
    return tl__error_set(c->err, TL_EFORMAT,
                         "gguf: %s at offset %llu runs past end of file (%llu bytes)", what,
                         (ull)c->pos, (ull)c->size);
  return TL_OK;
}

static tl_status cur_int(cursor *c, unsigned n, uint64_t *v, const char *what)
{
  tl_status st = cur_need(c, n, what);
  if (st != TL_OK)
    return st;
  *v = load(c->base + c->pos, n, c->swap);
  c->pos += n;
  return TL_OK;
}

static tl_status cur_u32(cursor *c, uint32_t *v, const char *what)
{
  uint64_t x;
  tl_status st = cur_int(c, 4, &x, what);
  if (st == TL_OK)
    *v = (uint32_t)x;
  return st;
}

static tl_status cur_u64(cursor *c, uint64_t *v, const char *what)
{
  return cur_int(c, 8, v, what);
}

/* Reads a string header and skips its bytes: *at is where the bytes start. */
static tl_status cur_str(cursor *c, uint64_t *at, uint64_t *len, const char *what)
{
  uint64_t start = c->pos, n;
  tl_status st = cur_u64(c, &n, what);
  if (st != TL_OK)
    return st;
  if (n > cur_left(c))
    return tl__error_set(c->err, TL_EFORMAT,
                         "gguf: %s length %llu at offset %llu runs past end of file (%llu bytes)",
                         what, (ull)n, (ull)start, (ull)c->size);
  *at = c->pos;
  *len = n;
  c->pos += n;
  return TL_OK;
}

/* ---- growable tables (bounded by the file size through the count checks) ---- */

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
  if (need <= *cap)
    return true;
  size_t ncap = *cap ? *cap : 16;
  while (ncap < need) {
    if (ncap > SIZE_MAX / 2 / elem)
      return false;
    ncap *= 2;
  }
  void *q = tl__realloc(*p, ncap * elem);
  if (q == NULL)
    return false;
  *p = q;
  *cap = ncap;
  return true;
}

static tl_status nomem(tl_error *err, const char *what)
{
  return tl__error_set(err, TL_ENOMEM, "gguf: out of memory for %s", what);
}

/* Copies a name into g->names, NUL-terminated; rejects embedded NULs. */
static tl_status add_name(tl_gguf *g, cursor *c, uint64_t at, uint64_t len, const char *what,
                          size_t *name_at)
{
  if (memchr(c->base + at, 0, (size_t)len) != NULL)
    return tl__error_set(c->err, TL_EFORMAT, "gguf: %s at offset %llu contains a NUL byte", what,
                         (ull)(at - 8));
  if (!grow((void **)&g->names, &g->cap_names, g->n_names + (size_t)len + 1, 1))
    return nomem(c->err, what);
  memcpy(g->names + g->n_names, c->base + at, (size_t)len);
  g->names[g->n_names + len] = '\0';
  *name_at = g->n_names;
  g->n_names += (size_t)len + 1;
  return TL_OK;
}

/* ---- values ---- */

/* Parses the array header (element type and count) at the cursor and its
 * elements into g->arrs[slot]. */
static tl_status read_array(tl_gguf *g, cursor *c, size_t slot, unsigned depth)
{
  uint64_t start = c->pos;
  uint32_t et;
  uint64_t count;
  tl_status st = cur_u32(c, &et, "array element type");
  if (st != TL_OK)
    return st;
  if (!type_known(et))
    return tl__error_set(c->err, TL_EFORMAT, "gguf: array element type %u at offset %llu is not a value type",
                         et, (ull)start);
  if (et == TL_GGUF_ARRAY && depth + 1 > TL_GGUF_MAX_DEPTH)
    return tl__error_set(c->err, TL_EFORMAT, "gguf: arrays nested deeper than %u at offset %llu",
                         TL_GGUF_MAX_DEPTH, (ull)start);
  if ((st = cur_u64(c, &count, "array length")) != TL_OK)
    return st;
  uint64_t minb = type_min_bytes((tl_gguf_type)et);
  if (count > cur_left(c) / minb)
    return tl__error_set(c->err, TL_EFORMAT,
                         "gguf: array of %llu %s elements at offset %llu runs past end of file (%llu bytes)",
                         (ull)count, tl_gguf_type_name((tl_gguf_type)et), (ull)start, (ull)c->size);
  tl_gguf_array a = {g, (tl_gguf_type)et, count, c->pos, 0};
  if (et == TL_GGUF_STRING) {
    a.first = g->n_soff;
    if (!grow((void **)&g->soff, &g->cap_soff, g->n_soff + (size_t)count, sizeof(uint64_t)))
      return nomem(c->err, "string array");
    g->n_soff += (size_t)count;
    for (uint64_t i = 0; i < count; i++) {
      uint64_t at, len;
      g->soff[a.first + i] = c->pos;
      if ((st = cur_str(c, &at, &len, "array string")) != TL_OK)
        return st;
    }
  } else if (et == TL_GGUF_ARRAY) {
    a.first = g->n_arrs;
    if (!grow((void **)&g->arrs, &g->cap_arrs, g->n_arrs + (size_t)count, sizeof *g->arrs))
      return nomem(c->err, "nested array");
    g->n_arrs += (size_t)count;
    for (uint64_t i = 0; i < count; i++)
      if ((st = read_array(g, c, a.first + (size_t)i, depth + 1)) != TL_OK)
        return st;
  } else {
    c->pos += count * minb; /* fits: checked above */
  }
  g->arrs[slot] = a;
  return TL_OK;
}

static tl_status read_kv(tl_gguf *g, cursor *c, size_t i)
{
  kv *k = &g->kvs[i];
  uint64_t key_start = c->pos, at, len;
  tl_status st = cur_str(c, &at, &len, "key");
  if (st != TL_OK)
    return st;
  if (len == 0 || len > TL_GGUF_MAX_KEY)
    return tl__error_set(c->err, TL_EFORMAT, "gguf: key of %llu bytes at offset %llu (must be 1..%u)",
                         (ull)len, (ull)key_start, TL_GGUF_MAX_KEY);
  if ((st = add_name(g, c, at, len, "key", &k->key_at)) != TL_OK)
    return st;
  uint64_t type_at = c->pos;
  uint32_t t;
  if ((st = cur_u32(c, &t, "value type")) != TL_OK)
    return st;
  if (!type_known(t))
    return tl__error_set(c->err, TL_EFORMAT, "gguf: value type %u of key '%s' at offset %llu is not a value type",
                         t, g->names + k->key_at, (ull)type_at);
  k->type = (tl_gguf_type)t;
  if (t == TL_GGUF_STRING)
    return cur_str(c, &k->off, &k->len, "string value");
  if (t == TL_GGUF_ARRAY) {
    if (!grow((void **)&g->arrs, &g->cap_arrs, g->n_arrs + 1, sizeof *g->arrs))
      return nomem(c->err, "array");
    k->arr = g->n_arrs++;
    return read_array(g, c, k->arr, 1);
  }
  size_t n = tl_gguf_type_size(k->type);
  k->off = c->pos;
  if ((st = cur_need(c, n, "value")) != TL_OK)
    return st;
  c->pos += n;
  return TL_OK;
}

/* ---- tensors ---- */

static uint64_t hash_name(const char *s)
{
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (; *s; s++)
    h = (h ^ (uint8_t)*s) * 1099511628211ull;
  return h;
}

static int64_t find_tensor(const tl_gguf *g, const char *name)
{
  if (g->thash_cap == 0)
    return -1;
  size_t mask = g->thash_cap - 1;
  for (size_t h = (size_t)hash_name(name) & mask;; h = (h + 1) & mask) {
    uint32_t slot = g->thash[h];
    if (slot == 0)
      return -1;
    if (strcmp(g->tensors[slot - 1].name, name) == 0)
      return (int64_t)slot - 1;
  }
}

/* Adds tensor i (named at names + tname_at[i]) to the name index, rejecting
 * a name seen before. The index was sized for all tensors. */
static tl_status index_tensor(tl_gguf *g, cursor *c, size_t i, uint64_t info_at)
{
  const char *name = g->names + g->tname_at[i];
  size_t mask = g->thash_cap - 1;
  size_t h = (size_t)hash_name(name) & mask;
  for (; g->thash[h] != 0; h = (h + 1) & mask) {
    size_t j = g->thash[h] - 1;
    if (strcmp(g->names + g->tname_at[j], name) == 0)
      return tl__error_set(c->err, TL_EFORMAT, "gguf: tensor '%s' at offset %llu appears twice (tensor infos %zu and %zu)",
                           name, (ull)info_at, j, i);
  }
  g->thash[h] = (uint32_t)(i + 1);
  return TL_OK;
}

static tl_status read_tensor_info(tl_gguf *g, cursor *c, size_t i)
{
  tl_gguf_tensor *t = &g->tensors[i];
  uint64_t start = c->pos, at, len;
  tl_status st = cur_str(c, &at, &len, "tensor name");
  if (st != TL_OK)
    return st;
  if (len == 0 || len >= TL_TENSOR_NAME_MAX)
    return tl__error_set(c->err, TL_EFORMAT, "gguf: tensor name of %llu bytes at offset %llu (must be 1..%d)",
                         (ull)len, (ull)start, TL_TENSOR_NAME_MAX - 1);
  if ((st = add_name(g, c, at, len, "tensor name", &g->tname_at[i])) != TL_OK ||
      (st = index_tensor(g, c, i, start)) != TL_OK)
    return st;
  const char *name = g->names + g->tname_at[i];
  uint64_t dims_at = c->pos;
  if ((st = cur_u32(c, &t->n_dims, "tensor dimension count")) != TL_OK)
    return st;
  if (t->n_dims < 1 || t->n_dims > 4)
    return tl__error_set(c->err, TL_EFORMAT, "gguf: tensor '%s' has %u dimensions at offset %llu (must be 1..4)",
                         name, t->n_dims, (ull)dims_at);
  int64_t nel = 1;
  for (uint32_t d = 0; d < 4; d++) {
    t->ne[d] = 1;
    if (d >= t->n_dims)
      continue;
    uint64_t at_d = c->pos, v;
    if ((st = cur_u64(c, &v, "tensor dimension")) != TL_OK)
      return st;
    if (v == 0 || v > (uint64_t)INT64_MAX)
      return tl__error_set(c->err, TL_EFORMAT, "gguf: tensor '%s' dimension %u is %llu at offset %llu (must be positive)",
                           name, d, (ull)v, (ull)at_d);
    if ((int64_t)v > INT64_MAX / nel)
      return tl__error_set(c->err, TL_EFORMAT, "gguf: tensor '%s' element count overflows at offset %llu",
                           name, (ull)at_d);
    t->ne[d] = (int64_t)v;
    nel *= (int64_t)v;
  }
  uint64_t type_at = c->pos;
  uint32_t type;
  if ((st = cur_u32(c, &type, "tensor type")) != TL_OK)
    return st;
  if (!tl_qtype_valid((tl_qtype)type))
    return tl__error_set(c->err, TL_EFORMAT, "gguf: tensor '%s' has unknown type %u at offset %llu",
                         name, type, (ull)type_at);
  t->type = (tl_qtype)type;
  const tl_qtype_info *q = tl_qtype_get(t->type);
  if (t->ne[0] % q->block_size != 0)
    return tl__error_set(c->err, TL_EFORMAT,
                         "gguf: tensor '%s' row of %lld elements at offset %llu is not a multiple of the %s block size %u",
                         name, (long long)t->ne[0], (ull)dims_at, q->name, q->block_size);
  t->bytes = tl_tensor_bytes(t->type, t->ne, t->n_dims);
  if (t->bytes == 0)
    return tl__error_set(c->err, TL_EFORMAT, "gguf: tensor '%s' size overflows at offset %llu", name,
                         (ull)dims_at);
  uint64_t off_at = c->pos;
  if ((st = cur_u64(c, &t->offset, "tensor data offset")) != TL_OK)
    return st;
  if (t->offset % g->alignment != 0)
    return tl__error_set(c->err, TL_EFORMAT,
                         "gguf: tensor '%s' data offset %llu at offset %llu is not a multiple of the alignment %u",
                         name, (ull)t->offset, (ull)off_at, g->alignment);
  return TL_OK;
}

/* ---- the whole file ---- */

static tl_status parse(tl_gguf *g, tl_error *err)
{
  cursor c = {g->base, g->size, 0, false, err};
  tl_status st;
  if (g->size < 4 || memcmp(g->base, "GGUF", 4) != 0)
    return tl__error_set(err, TL_EFORMAT, "gguf: no GGUF magic at offset 0 (file of %llu bytes)",
                         (ull)g->size);
  c.pos = 4;
  if ((st = cur_need(&c, 4, "version")) != TL_OK)
    return st;
  uint32_t v = (uint32_t)load(g->base + 4, 4, false);
  if ((v & 0xFFFFu) == 0 && v != 0) {
    v = (uint32_t)load(g->base + 4, 4, true);
    g->swap = c.swap = true;
  }
  c.pos = 8;
  if (v == 1)
    return tl__error_set(err, TL_EFORMAT,
                         "gguf: version 1 at offset 4 is not supported (32-bit counts); convert the file with a current tool");
  if (v != 2 && v != 3)
    return tl__error_set(err, TL_EFORMAT, "gguf: unsupported version %u at offset 4 (2 and 3 are read)", v);
  g->version = v;
  uint64_t n_tensors, n_kv;
  if ((st = cur_u64(&c, &n_tensors, "tensor count")) != TL_OK ||
      (st = cur_u64(&c, &n_kv, "metadata count")) != TL_OK)
    return st;
  /* Each kv takes at least 13 bytes and each tensor info at least 32. */
  if (n_kv > TL_GGUF_MAX_KV || n_tensors > TL_GGUF_MAX_TENSORS)
    return tl__error_set(err, TL_EFORMAT, "gguf: %llu tensors and %llu metadata entries at offset 8 exceed the limits (%u, %u)",
                         (ull)n_tensors, (ull)n_kv, TL_GGUF_MAX_TENSORS, TL_GGUF_MAX_KV);
  if (n_kv * 13 + n_tensors * 32 > cur_left(&c))
    return tl__error_set(err, TL_EFORMAT,
                         "gguf: %llu tensors and %llu metadata entries at offset 8 cannot fit in the %llu bytes left of the file",
                         (ull)n_tensors, (ull)n_kv, (ull)cur_left(&c));
  if (n_kv > 0 && (g->kvs = tl__calloc((size_t)n_kv, sizeof *g->kvs)) == NULL)
    return nomem(err, "metadata");
  for (size_t i = 0; i < n_kv; i++) {
    if ((st = read_kv(g, &c, i)) != TL_OK)
      return st;
    g->n_kv = i + 1;
  }
  for (size_t i = 0; i < g->n_kv; i++)
    g->kvs[i].key = g->names + g->kvs[i].key_at;

  g->alignment = 32; /* the specification's default */
  int64_t ai = tl_gguf_find_kv(g, "general.alignment");
  if (ai >= 0) {
    const kv *k = &g->kvs[ai];
    uint32_t a = k->type == TL_GGUF_UINT32 ? (uint32_t)g_load(g, k->off, 4) : 0;
    if (k->type != TL_GGUF_UINT32 || a == 0 || (a & (a - 1)) != 0)
      return tl__error_set(err, TL_EFORMAT, "gguf: general.alignment at offset %llu must be a power-of-two uint32 (is %s %u)",
                           (ull)k->off, tl_gguf_type_name(k->type), a);
    g->alignment = a;
  }

  if (n_tensors > 0) {
    g->tensors = tl__calloc((size_t)n_tensors, sizeof *g->tensors);
    g->tname_at = tl__calloc((size_t)n_tensors, sizeof *g->tname_at);
    size_t cap = 16;
    while (cap < (size_t)n_tensors * 2)
      cap *= 2;
    g->thash = tl__calloc(cap, sizeof *g->thash);
    g->thash_cap = cap;
    if (g->tensors == NULL || g->tname_at == NULL || g->thash == NULL)
      return nomem(err, "tensor infos");
  }
  for (size_t i = 0; i < n_tensors; i++) {
    if ((st = read_tensor_info(g, &c, i)) != TL_OK)
      return st;
  }
  /* names may have moved while tensor names were added */
  g->n_tensors = (size_t)n_tensors;
  for (size_t i = 0; i < g->n_tensors; i++)
    g->tensors[i].name = g->names + g->tname_at[i];
  for (size_t i = 0; i < g->n_kv; i++)
    g->kvs[i].key = g->names + g->kvs[i].key_at;

  uint64_t pad = (g->alignment - c.pos % g->alignment) % g->alignment;
  g->data_off = c.pos + pad; /* c.pos <= size < 2^63: no overflow */
  for (size_t i = 0; i < g->n_tensors && !g->owned; i++) {
    tl_gguf_tensor *t = &g->tensors[i];
    uint64_t room = g->data_off <= g->size ? g->size - g->data_off : 0;
    if (t->offset > room || t->bytes > room - t->offset)
      return tl__error_set(err, TL_EFORMAT,
                           "gguf: tensor '%s' (%llu bytes at data offset %llu) ends past end of file (%llu bytes; data section at %llu)",
                           t->name, (ull)t->bytes, (ull)t->offset, (ull)g->size, (ull)g->data_off);
    t->data = g->base + g->data_off + t->offset;
  }
  return TL_OK;
}

static tl_status open_common(tl_gguf *g, tl_gguf **out, tl_error *err)
{
  tl_status st = parse(g, err);
  tl__free(g->tname_at);
  g->tname_at = NULL;
  if (st != TL_OK) {
    tl_gguf_close(g);
    return st;
  }
  *out = g;
  return TL_OK;
}

tl_status tl_gguf_open_memory(const void *data, size_t size, tl_gguf **out, tl_error *err)
{
  if (out == NULL || (data == NULL && size > 0))
    return tl__error_set(err, TL_EINVAL, "gguf: no buffer given");
  tl_gguf *g = tl__calloc(1, sizeof *g);
  if (g == NULL)
    return nomem(err, "the file handle");
  g->base = data;
  g->size = size;
  return open_common(g, out, err);
}

tl_status tl_gguf_open(const char *path, tl_gguf **out, tl_error *err)
{
  if (path == NULL || out == NULL)
    return tl__error_set(err, TL_EINVAL, "gguf: no path given");
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return tl__error_errno(err, errno == ENOENT ? TL_ENOTFOUND : TL_EIO, errno, "gguf: cannot open '%s'", path);
  struct stat sb;
  if (fstat(fd, &sb) != 0) {
    int e = errno;
    close(fd);
    return tl__error_errno(err, TL_EIO, e, "gguf: cannot stat '%s'", path);
  }
  if (!S_ISREG(sb.st_mode)) {
    close(fd);
    return tl__error_set(err, TL_EIO, "gguf: '%s' is not a regular file", path);
  }
  if (sb.st_size < 8) {
    close(fd);
    return tl__error_set(err, TL_EFORMAT, "gguf: '%s' is %lld bytes, too short for a GGUF header (offset 0)",
                         path, (long long)sb.st_size);
  }
  void *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  int e = errno;
  close(fd);
  if (map == MAP_FAILED)
    return tl__error_errno(err, TL_EIO, e, "gguf: cannot map '%s'", path);
  tl_gguf *g = tl__calloc(1, sizeof *g);
  if (g == NULL) {
    munmap(map, (size_t)sb.st_size);
    return nomem(err, "the file handle");
  }
  g->map = map;
  g->map_len = (size_t)sb.st_size;
  g->base = map;
  g->size = (uint64_t)sb.st_size;
  tl_status st = open_common(g, out, err);
  if (st != TL_OK)
    tl__error_prefix(err, "'%s'", path);
  return st;
}

tl_status tl__gguf_open_view(void *meta, size_t size, void (*release)(void *ctx), void *ctx,
                             tl_gguf **out, tl_error *err)
{
  tl_gguf *g = tl__calloc(1, sizeof *g);
  if (g == NULL) {
    tl__free(meta);
    if (release)
      release(ctx);
    return nomem(err, "the file handle");
  }
  g->base = meta;
  g->size = size;
  g->owned = meta ? meta : g; /* non-NULL marks a view */
  g->release = release;
  g->release_ctx = ctx;
  return open_common(g, out, err);
}

void tl__gguf_set_tensor_data(tl_gguf *g, size_t i, const void *data)
{
  if (i < g->n_tensors)
    g->tensors[i].data = data;
}

void tl_gguf_close(tl_gguf *g)
{
  if (g == NULL)
    return;
  if (g->release)
    g->release(g->release_ctx);
  if (g->owned != g)
    tl__free(g->owned);
  if (g->map != NULL)
    munmap(g->map, g->map_len);
  tl__free(g->kvs);
  tl__free(g->arrs);
  tl__free(g->soff);
  tl__free(g->names);
  tl__free(g->tensors);
  tl__free(g->tname_at);
  tl__free(g->thash);
  tl__free(g);
}

uint32_t tl_gguf_version(const tl_gguf *g) { return g->version; }
uint64_t tl_gguf_file_size(const tl_gguf *g) { return g->size; }
uint32_t tl_gguf_alignment(const tl_gguf *g) { return g->alignment; }
uint64_t tl_gguf_data_offset(const tl_gguf *g) { return g->data_off; }
bool tl_gguf_is_big_endian(const tl_gguf *g) { return g->swap; }

/* ---- metadata access ---- */

size_t tl_gguf_n_kv(const tl_gguf *g) { return g->n_kv; }

const char *tl_gguf_kv_key(const tl_gguf *g, size_t i)
{
  return i < g->n_kv ? g->kvs[i].key : NULL;
}

tl_gguf_type tl_gguf_kv_type(const tl_gguf *g, size_t i)
{
  return i < g->n_kv ? g->kvs[i].type : (tl_gguf_type)-1;
}

int64_t tl_gguf_find_kv(const tl_gguf *g, const char *key)
{
  for (size_t i = 0; i < g->n_kv; i++)
    if (strcmp(g->kvs[i].key, key) == 0)
      return (int64_t)i;
  return -1;
}

/* An integer or bool value at off: *neg with magnitude in *mag. */
static bool int_at(const tl_gguf *g, tl_gguf_type t, uint64_t off, bool allow_bool, bool *neg, uint64_t *mag)
{
  size_t n = tl_gguf_type_size(t);
  uint64_t raw = n ? g_load(g, off, (unsigned)n) : 0;
  *neg = false;
  switch (t) {
  case TL_GGUF_UINT8: case TL_GGUF_UINT16: case TL_GGUF_UINT32: case TL_GGUF_UINT64:
    *mag = raw;
    return true;
  case TL_GGUF_BOOL:
    *mag = raw != 0;
    return allow_bool;
  case TL_GGUF_INT8: case TL_GGUF_INT16: case TL_GGUF_INT32: case TL_GGUF_INT64: {
    unsigned bits = (unsigned)n * 8;
    int64_t s = bits == 64 ? (int64_t)raw : (int64_t)(raw << (64 - bits)) >> (64 - bits);
    *neg = s < 0;
    *mag = s < 0 ? (uint64_t)0 - (uint64_t)s : (uint64_t)s;
    return true;
  }
  default:
    return false;
  }
}

static bool float_at(const tl_gguf *g, tl_gguf_type t, uint64_t off, double *out)
{
  if (t == TL_GGUF_FLOAT32) {
    uint32_t b = (uint32_t)g_load(g, off, 4);
    float f;
    memcpy(&f, &b, 4);
    *out = f;
    return true;
  }
  if (t == TL_GGUF_FLOAT64) {
    uint64_t b = g_load(g, off, 8);
    memcpy(out, &b, 8);
    return true;
  }
  return false;
}

static bool to_i64(bool neg, uint64_t mag, int64_t *out)
{
  if (!neg && mag > (uint64_t)INT64_MAX)
    return false;
  if (neg && mag > (uint64_t)INT64_MAX + 1)
    return false;
  *out = neg ? (int64_t)(0 - mag) : (int64_t)mag;
  return true;
}

static const kv *kv_at(const tl_gguf *g, size_t i)
{
  return i < g->n_kv ? &g->kvs[i] : NULL;
}

bool tl_gguf_kv_u64(const tl_gguf *g, size_t i, uint64_t *out)
{
  const kv *k = kv_at(g, i);
  bool neg;
  uint64_t mag;
  if (k == NULL || !int_at(g, k->type, k->off, false, &neg, &mag) || (neg && mag != 0))
    return false;
  *out = mag;
  return true;
}

bool tl_gguf_kv_i64(const tl_gguf *g, size_t i, int64_t *out)
{
  const kv *k = kv_at(g, i);
  bool neg;
  uint64_t mag;
  return k != NULL && int_at(g, k->type, k->off, false, &neg, &mag) && to_i64(neg, mag, out);
}

bool tl_gguf_kv_f64(const tl_gguf *g, size_t i, double *out)
{
  const kv *k = kv_at(g, i);
  return k != NULL && float_at(g, k->type, k->off, out);
}

bool tl_gguf_kv_bool(const tl_gguf *g, size_t i, bool *out)
{
  const kv *k = kv_at(g, i);
  if (k == NULL || k->type != TL_GGUF_BOOL)
    return false;
  *out = g->base[k->off] != 0;
  return true;
}

bool tl_gguf_kv_str(const tl_gguf *g, size_t i, const char **s, size_t *len)
{
  const kv *k = kv_at(g, i);
  if (k == NULL || k->type != TL_GGUF_STRING)
    return false;
  *s = (const char *)g->base + k->off;
  *len = (size_t)k->len;
  return true;
}

static size_t key_index(const tl_gguf *g, const char *key)
{
  int64_t i = tl_gguf_find_kv(g, key);
  return i < 0 ? SIZE_MAX : (size_t)i;
}

bool tl_gguf_get_u32(const tl_gguf *g, const char *key, uint32_t *out)
{
  uint64_t v;
  if (!tl_gguf_kv_u64(g, key_index(g, key), &v) || v > UINT32_MAX)
    return false;
  *out = (uint32_t)v;
  return true;
}

bool tl_gguf_get_u64(const tl_gguf *g, const char *key, uint64_t *out)
{
  return tl_gguf_kv_u64(g, key_index(g, key), out);
}

bool tl_gguf_get_i64(const tl_gguf *g, const char *key, int64_t *out)
{
  return tl_gguf_kv_i64(g, key_index(g, key), out);
}

bool tl_gguf_get_f32(const tl_gguf *g, const char *key, float *out)
{
  double d;
  if (!tl_gguf_kv_f64(g, key_index(g, key), &d))
    return false;
  *out = (float)d;
  return true;
}

bool tl_gguf_get_f64(const tl_gguf *g, const char *key, double *out)
{
  return tl_gguf_kv_f64(g, key_index(g, key), out);
}

bool tl_gguf_get_bool(const tl_gguf *g, const char *key, bool *out)
{
  return tl_gguf_kv_bool(g, key_index(g, key), out);
}

bool tl_gguf_get_str(const tl_gguf *g, const char *key, const char **s, size_t *len)
{
  return tl_gguf_kv_str(g, key_index(g, key), s, len);
}

/* ---- arrays ---- */

const tl_gguf_array *tl_gguf_kv_array(const tl_gguf *g, size_t i)
{
  const kv *k = kv_at(g, i);
  return k != NULL && k->type == TL_GGUF_ARRAY ? &g->arrs[k->arr] : NULL;
}

tl_gguf_type tl_gguf_array_type(const tl_gguf_array *a) { return a->type; }
uint64_t tl_gguf_array_count(const tl_gguf_array *a) { return a->count; }

const tl_gguf_array *tl_gguf_array_sub(const tl_gguf_array *a, uint64_t i)
{
  if (a == NULL || a->type != TL_GGUF_ARRAY || i >= a->count)
    return NULL;
  return &a->g->arrs[a->first + (size_t)i];
}

bool tl_gguf_array_i64(const tl_gguf_array *a, uint64_t i, int64_t *out)
{
  size_t n = a ? tl_gguf_type_size(a->type) : 0;
  bool neg;
  uint64_t mag;
  if (n == 0 || i >= a->count)
    return false;
  return int_at(a->g, a->type, a->off + i * n, true, &neg, &mag) && to_i64(neg, mag, out);
}

bool tl_gguf_array_f64(const tl_gguf_array *a, uint64_t i, double *out)
{
  size_t n = a ? tl_gguf_type_size(a->type) : 0;
  bool neg;
  uint64_t mag;
  if (n == 0 || i >= a->count)
    return false;
  uint64_t off = a->off + i * n;
  if (float_at(a->g, a->type, off, out))
    return true;
  if (!int_at(a->g, a->type, off, true, &neg, &mag))
    return false;
  *out = neg ? -(double)mag : (double)mag;
  return true;
}

bool tl_gguf_array_str(const tl_gguf_array *a, uint64_t i, const char **s, size_t *len)
{
  if (a == NULL || a->type != TL_GGUF_STRING || i >= a->count)
    return false;
  uint64_t at = a->g->soff[a->first + (size_t)i];
  *len = (size_t)g_load(a->g, at, 8);
  *s = (const char *)a->g->base + at + 8;
  return true;
}

bool tl_gguf_arr_info(const tl_gguf *g, size_t kv_i, tl_gguf_type *elem_type, uint64_t *count)
{
  const tl_gguf_array *a = tl_gguf_kv_array(g, kv_i);
  if (a == NULL)
    return false;
  *elem_type = a->type;
  *count = a->count;
  return true;
}

bool tl_gguf_arr_f64(const tl_gguf *g, size_t kv_i, uint64_t i, double *out)
{
  return tl_gguf_array_f64(tl_gguf_kv_array(g, kv_i), i, out);
}

bool tl_gguf_arr_i64(const tl_gguf *g, size_t kv_i, uint64_t i, int64_t *out)
{
  return tl_gguf_array_i64(tl_gguf_kv_array(g, kv_i), i, out);
}

bool tl_gguf_arr_str(const tl_gguf *g, size_t kv_i, uint64_t i, const char **s, size_t *len)
{
  return tl_gguf_array_str(tl_gguf_kv_array(g, kv_i), i, s, len);
}

const void *tl_gguf_arr_data(const tl_gguf *g, size_t kv_i)
{
  const tl_gguf_array *a = tl_gguf_kv_array(g, kv_i);
  if (a == NULL || g->swap || tl_gguf_type_size(a->type) == 0)
    return NULL;
  return g->base + a->off;
}

/* ---- tensors ---- */

size_t tl_gguf_n_tensors(const tl_gguf *g) { return g->n_tensors; }

const tl_gguf_tensor *tl_gguf_tensor_at(const tl_gguf *g, size_t i)
{
  return i < g->n_tensors ? &g->tensors[i] : NULL;
}

int64_t tl_gguf_find_tensor(const tl_gguf *g, const char *name)
{
  return name ? find_tensor(g, name) : -1;
}
