/* Fuzz target for building a catalog entry from Hub replies: the input is a
 * model info document, a NUL byte, a config.json, a NUL byte and a
 * safetensors JSON header (each part may be empty; a missing header means no
 * safetensors file). Any crash, sanitizer report or leak is a bug. Seeds:
 * tests/fuzz/corpus-hub-entry/. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/alloc-int.h"
#include "model/hf-int.h"
#include "model/hub-int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *p = (const char *)data, *end = p + size;
  const char *cfg = memchr(p, 0, size);
  if (!cfg)
    return 0;
  size_t info_len = (size_t)(cfg - p);
  cfg++;
  const char *hdr = memchr(cfg, 0, (size_t)(end - cfg));
  size_t cfg_len = hdr ? (size_t)(hdr - cfg) : (size_t)(end - cfg);
  tl__st_list l = {0};
  tl_catalog_update_item it;
  memset(&it, 0, sizeof it);
  if (hdr) {
    hdr++;
    if (tl__safetensors_parse(hdr, (uint64_t)(end - hdr), 8 + (uint64_t)(end - hdr) + (1u << 30), "fuzz", &l, NULL) ==
        TL_OK)
      it.n_files = 1;
  }
  char *entry = NULL;
  if (tl__catalog_entry_from_hub("https://huggingface.co", "fuzz/model", p, info_len, cfg, cfg_len, l.v, l.n, &it,
                                 &entry, NULL) == TL_OK)
    tl__free(entry);
  tl__free(l.v);
  return 0;
}
