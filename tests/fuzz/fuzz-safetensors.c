/* Fuzz target for the safetensors header parser: the input is the JSON
 * header of a file whose data section holds 4096 bytes. Any crash, sanitizer
 * report or leak is a bug. Seeds: tests/fuzz/corpus-safetensors/. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/alloc-int.h"
#include "model/hf-int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  tl__st_list l = {0};
  (void)tl__safetensors_parse((const char *)data, size, 8 + (uint64_t)size + 4096, "fuzz", &l, NULL);
  tl__free(l.v);
  return 0;
}
