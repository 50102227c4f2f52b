/* What each backend of this build can do: compiled in or not, fused
 * attention, KV-cache element types, attention paths. One table, consulted by
 * the resolver (source compiled_feature) and by validation. Update it when
 * the engine gains a path. */
#include <string.h>

#include "config/internal.h"

#ifdef TAILOR_HAVE_CUDA
#define HAVE_CUDA true
#else
#define HAVE_CUDA false
#endif

static const tl__backend_caps caps[TL__BACKEND_COUNT] = {
    /* The CPU engine computes attention per head over a materialised score
     * row; it stores K/V as f16 or q8_0 (src/engine/kv-cache.c). */
    [TL__BACKEND_CPU] = {"cpu", true, false, true, true, false, false, "materialized"},
    [TL__BACKEND_CUDA] = {"cuda", HAVE_CUDA, true, true, true, false, true, "materialized,flash"},
    [TL__BACKEND_METAL] = {"metal", false, true, true, true, false, true, "materialized,flash"},
    [TL__BACKEND_ROCM] = {"rocm", false, true, true, true, false, true, "materialized,flash"},
};

const tl__backend_caps *tl__backend_caps_get(tl__backend b)
{
  if ((unsigned)b >= TL__BACKEND_COUNT)
    return NULL;
  return &caps[b];
}

bool tl__backend_parse(const char *s, tl__backend *out)
{
  for (int i = 0; i < TL__BACKEND_COUNT; i++) {
    if (!strcmp(s, caps[i].name)) {
      *out = (tl__backend)i;
      return true;
    }
  }
  return false;
}
