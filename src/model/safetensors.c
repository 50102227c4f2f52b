/* Safetensors headers (huggingface/safetensors docs, "Format"): an 8-byte
 * little-endian header length N, N bytes of JSON mapping tensor names to
 * {dtype, shape, data_offsets} (offsets relative to the byte after the
 * header), then the data. Only the header is read; every length is checked
 * against the file before use. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "model/hf-int.h"

static const struct {
  const char *name;
  uint32_t size;
  tl_qtype type; /* nearest GGML type; 1-byte floats and unsigned ints have none and are I8 */
} dtypes[] = {
    {"F64", 8, TL_QTYPE_F64}, {"F32", 4, TL_QTYPE_F32},     {"F16", 2, TL_QTYPE_F16},
    {"BF16", 2, TL_QTYPE_BF16}, {"I64", 8, TL_QTYPE_I64},   {"I32", 4, TL_QTYPE_I32},
    {"I16", 2, TL_QTYPE_I16}, {"I8", 1, TL_QTYPE_I8},       {"U8", 1, TL_QTYPE_I8},
    {"BOOL", 1, TL_QTYPE_I8}, {"F8_E4M3", 1, TL_QTYPE_I8}, {"F8_E5M2", 1, TL_QTYPE_I8},
    {"U16", 2, TL_QTYPE_I16}, {"U32", 4, TL_QTYPE_I32},     {"U64", 8, TL_QTYPE_I64},
};

static bool push(tl__st_list *l, tl_tensor_desc **t)
{
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 64;
    tl_tensor_desc *v = tl__realloc(l->v, cap * sizeof *v);
    if (!v)
      return false;
    l->v = v;
    l->cap = cap;
  }
  *t = &l->v[l->n++];
  memset(*t, 0, sizeof **t);
  return true;
}

/* Role and layer of a Hugging Face tensor name, for the counts of a
 * description (routed experts, the embedding); everything else is OTHER. */
static tl_tensor_role hf_role(const char *name, int32_t *layer)
{
  *layer = -1;
  const char *p = strstr(name, "layers.");
  if (p) {
    p += 7;
    int32_t v = 0;
    const char *d = p;
    while (*p >= '0' && *p <= '9' && v < 100000)
      v = v * 10 + (*p++ - '0');
    if (p != d && *p == '.')
      *layer = v;
  }
  if (strstr(name, "embed_tokens."))
    return TL_ROLE_TOKEN_EMBD;
  if (strncmp(name, "lm_head.", 8) == 0)
    return TL_ROLE_OUTPUT;
  if (strstr(name, "shared_expert"))
    return TL_ROLE_FFN_SHEXP;
  if (strstr(name, ".experts.")) {
    if (strstr(name, "down"))
      return TL_ROLE_FFN_DOWN_EXPS;
    if (strstr(name, "up"))
      return TL_ROLE_FFN_UP_EXPS;
    return TL_ROLE_FFN_GATE_EXPS;
  }
  return TL_ROLE_OTHER;
}

tl_status tl__safetensors_parse(const char *header, uint64_t header_len, uint64_t file_size, const char *origin,
                                tl__st_list *out, tl_error *err)
{
  uint64_t data_start = 8 + header_len;
  if (header_len > file_size || data_start > file_size)
    return tl__error_set(err, TL_EFORMAT, "safetensors: '%s': header of %llu bytes runs past the end of the file (%llu)",
                         origin, (unsigned long long)header_len, (unsigned long long)file_size);
  uint64_t data_len = file_size - data_start;
  json_error_t jerr;
  json_t *root = json_loadb(header, (size_t)header_len, JSON_REJECT_DUPLICATES, &jerr);
  if (!root && (json_error_code(&jerr) == json_error_out_of_memory || jerr.text[0] == '\0'))
    return tl__error_set(err, TL_ENOMEM, "safetensors: out of memory");
  if (!root)
    return tl__error_set(err, TL_EFORMAT, "safetensors: '%s': header is not valid JSON (offset %d): %s", origin,
                         jerr.position, jerr.text);
  tl_status st = TL_OK;
  if (!json_is_object(root)) {
    st = tl__error_set(err, TL_EFORMAT, "safetensors: '%s': header is not a JSON object", origin);
    goto done;
  }
  const char *key;
  json_t *v;
  json_object_foreach(root, key, v)
  {
    if (strcmp(key, "__metadata__") == 0)
      continue;
    size_t klen = strlen(key);
    if (klen == 0 || klen >= TL_TENSOR_NAME_MAX) {
      st = tl__error_set(err, TL_ELIMIT, "safetensors: '%s': tensor name of %zu bytes (limit %d)", origin, klen,
                         TL_TENSOR_NAME_MAX - 1);
      goto done;
    }
    json_t *jd = json_object_get(v, "dtype"), *js = json_object_get(v, "shape"),
           *jo = json_object_get(v, "data_offsets");
    if (!json_is_object(v) || !json_is_string(jd) || !json_is_array(js) || !json_is_array(jo) ||
        json_array_size(jo) != 2) {
      st = tl__error_set(err, TL_EFORMAT,
                         "safetensors: '%s': tensor '%s' needs dtype, shape and data_offsets [begin, end]", origin,
                         key);
      goto done;
    }
    size_t di = 0, nd = sizeof dtypes / sizeof dtypes[0];
    while (di < nd && strcmp(dtypes[di].name, json_string_value(jd)) != 0)
      di++;
    if (di == nd) {
      st = tl__error_set(err, TL_EFORMAT, "safetensors: '%s': tensor '%s' has unknown dtype '%s'", origin, key,
                         json_string_value(jd));
      goto done;
    }
    size_t rank = json_array_size(js);
    if (rank > 4) {
      st = tl__error_set(err, TL_EUNSUPPORTED, "safetensors: '%s': tensor '%s' has %zu dimensions (at most 4)",
                         origin, key, rank);
      goto done;
    }
    tl_tensor_desc *t;
    if (!push(out, &t)) {
      st = tl__error_set(err, TL_ENOMEM, "safetensors: out of memory");
      goto done;
    }
    memcpy(t->name, key, klen + 1);
    t->type = dtypes[di].type;
    t->n_dims = rank ? (uint32_t)rank : 1;
    t->ne[0] = t->ne[1] = t->ne[2] = t->ne[3] = 1;
    uint64_t numel = 1;
    for (size_t d = 0; d < rank; d++) {
      json_t *e = json_array_get(js, d);
      json_int_t x = json_is_integer(e) ? json_integer_value(e) : -1;
      if (x < 0 || (x > 0 && numel > UINT64_MAX / (uint64_t)x / 8)) {
        st = tl__error_set(err, TL_EFORMAT, "safetensors: '%s': tensor '%s' dimension %zu is invalid", origin, key, d);
        goto done;
      }
      numel *= (uint64_t)x;
      t->ne[rank - 1 - d] = x; /* row-major shape -> GGML order */
    }
    json_t *b = json_array_get(jo, 0), *e = json_array_get(jo, 1);
    json_int_t begin = json_is_integer(b) ? json_integer_value(b) : -1;
    json_int_t end = json_is_integer(e) ? json_integer_value(e) : -1;
    uint64_t bytes = numel * dtypes[di].size;
    if (begin < 0 || end < begin || (uint64_t)end > data_len) {
      st = tl__error_set(err, TL_EFORMAT,
                         "safetensors: '%s': tensor '%s' data [%lld, %lld) is outside the %llu data bytes", origin,
                         key, (long long)begin, (long long)end, (unsigned long long)data_len);
      goto done;
    }
    if ((uint64_t)(end - begin) != bytes) {
      st = tl__error_set(err, TL_EFORMAT,
                         "safetensors: '%s': tensor '%s' has %lld data bytes, its dtype and shape need %llu", origin,
                         key, (long long)(end - begin), (unsigned long long)bytes);
      goto done;
    }
    t->bytes = bytes;
    t->offset = data_start + (uint64_t)begin;
    t->role = hf_role(t->name, &t->layer);
  }
done:
  json_decref(root);
  return st;
}

tl_status tl__safetensors_scan(const char *path, tl__st_list *out, uint64_t *file_size, tl_error *err)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return tl__error_errno(err, TL_EIO, errno, "safetensors: cannot open '%s'", path);
  struct stat sb;
  if (fstat(fd, &sb) != 0) {
    int e = errno;
    close(fd);
    return tl__error_errno(err, TL_EIO, e, "safetensors: cannot stat '%s'", path);
  }
  uint64_t size = (uint64_t)sb.st_size;
  unsigned char lenbuf[8];
  if (size < 8 || pread(fd, lenbuf, 8, 0) != 8) {
    close(fd);
    return tl__error_set(err, TL_EFORMAT, "safetensors: '%s' is %llu bytes, too short for a header length", path,
                         (unsigned long long)size);
  }
  uint64_t n = 0;
  for (int i = 7; i >= 0; i--)
    n = n << 8 | lenbuf[i];
  if (n > TL_SAFETENSORS_MAX_HEADER) {
    close(fd);
    return tl__error_set(err, TL_ELIMIT, "safetensors: '%s': header length %llu exceeds the limit of %llu bytes", path,
                         (unsigned long long)n, (unsigned long long)TL_SAFETENSORS_MAX_HEADER);
  }
  if (n > size - 8) {
    close(fd);
    return tl__error_set(err, TL_EFORMAT, "safetensors: '%s': header of %llu bytes runs past the end of the file (%llu)",
                         path, (unsigned long long)n, (unsigned long long)size);
  }
  char *buf = tl__malloc((size_t)n + 1);
  if (!buf) {
    close(fd);
    return tl__error_set(err, TL_ENOMEM, "safetensors: out of memory for a %llu-byte header", (unsigned long long)n);
  }
  uint64_t got = 0;
  while (got < n) {
    ssize_t r = pread(fd, buf + got, (size_t)(n - got), (off_t)(8 + got));
    if (r <= 0) {
      int e = errno;
      tl__free(buf);
      close(fd);
      return tl__error_errno(err, TL_EIO, r < 0 ? e : EIO, "safetensors: cannot read the header of '%s'", path);
    }
    got += (uint64_t)r;
  }
  close(fd);
  buf[n] = '\0';
  tl_status st = tl__safetensors_parse(buf, n, size, path, out, err);
  tl__free(buf);
  if (st == TL_OK && file_size)
    *file_size = size;
  return st;
}
