/* Fuzz target for the GGUF reader: opens arbitrary bytes as a GGUF file and
 * walks every metadata value (nested arrays included) and every tensor,
 * touching the first and last byte of each tensor's data. Any crash,
 * sanitizer report or leak is a bug; each one found becomes a case in
 * tests/test-gguf.c. Seeds: tests/fuzz/corpus-gguf/. */
#include <stddef.h>
#include <stdint.h>

#include "tailor/gguf.h"

static volatile uint64_t sink;

static void walk_array(const tl_gguf_array *a, unsigned depth)
{
  uint64_t n = tl_gguf_array_count(a);
  tl_gguf_type t = tl_gguf_array_type(a);
  for (uint64_t i = 0; i < n; i++) {
    double d;
    int64_t v;
    const char *s;
    size_t len;
    if (t == TL_GGUF_ARRAY) {
      const tl_gguf_array *sub = tl_gguf_array_sub(a, i);
      if (sub != NULL && depth < 16)
        walk_array(sub, depth + 1);
    } else if (t == TL_GGUF_STRING) {
      if (tl_gguf_array_str(a, i, &s, &len) && len > 0)
        sink += (uint8_t)s[0] + (uint8_t)s[len - 1];
    } else {
      if (tl_gguf_array_f64(a, i, &d))
        sink += (uint64_t)(d == d);
      if (tl_gguf_array_i64(a, i, &v))
        sink += (uint64_t)v;
    }
  }
  sink += tl_gguf_array_sub(a, n) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  tl_gguf *g = NULL;
  tl_error err;
  if (tl_gguf_open_memory(data, size, &g, &err) != TL_OK)
    return 0;
  for (size_t i = 0; i < tl_gguf_n_kv(g); i++) {
    const char *key = tl_gguf_kv_key(g, i);
    sink += (uint8_t)key[0];
    uint64_t u;
    int64_t v;
    double d;
    bool b;
    const char *s;
    size_t len;
    if (tl_gguf_kv_u64(g, i, &u)) sink += u;
    if (tl_gguf_kv_i64(g, i, &v)) sink += (uint64_t)v;
    if (tl_gguf_kv_f64(g, i, &d)) sink += (uint64_t)(d == d);
    if (tl_gguf_kv_bool(g, i, &b)) sink += b;
    if (tl_gguf_kv_str(g, i, &s, &len) && len > 0) sink += (uint8_t)s[len - 1];
    uint32_t u32;
    float f;
    if (tl_gguf_get_u32(g, key, &u32)) sink += u32;
    if (tl_gguf_get_f32(g, key, &f)) sink += (uint64_t)(f == f);
    const tl_gguf_array *a = tl_gguf_kv_array(g, i);
    if (a != NULL) {
      walk_array(a, 0);
      const uint8_t *raw = tl_gguf_arr_data(g, i);
      size_t es = tl_gguf_type_size(tl_gguf_array_type(a));
      if (raw != NULL && tl_gguf_array_count(a) > 0)
        sink += raw[tl_gguf_array_count(a) * es - 1];
    }
  }
  for (size_t i = 0; i < tl_gguf_n_tensors(g); i++) {
    const tl_gguf_tensor *t = tl_gguf_tensor_at(g, i);
    const uint8_t *p = t->data;
    sink += p[0] + p[t->bytes - 1];
    if (tl_gguf_find_tensor(g, t->name) != (int64_t)i)
      __builtin_trap(); /* names are unique: the index must find this one */
  }
  sink += tl_gguf_alignment(g) + tl_gguf_data_offset(g) + tl_gguf_version(g);
  tl_gguf_close(g);
  return 0;
}
