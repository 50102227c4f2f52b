/* Temporary: file-type names until quant.h's mixture API is merged. */
#include <strings.h>

#include "tailor/model.h"
#include "tailor/error.h"
#include "base/error-int.h"

const char *tl_ftype_name(tl_ftype f);
tl_status tl_ftype_parse(const char *name, tl_ftype *out, tl_error *err);

static const char *const names[TL_FTYPE_COUNT] = {
    [TL_FTYPE_ALL_F32] = "F32", [TL_FTYPE_F16] = "F16",       [TL_FTYPE_Q4_0] = "Q4_0",
    [TL_FTYPE_Q4_1] = "Q4_1",   [TL_FTYPE_Q8_0] = "Q8_0",     [TL_FTYPE_Q5_0] = "Q5_0",
    [TL_FTYPE_Q5_1] = "Q5_1",   [TL_FTYPE_Q2_K] = "Q2_K",     [TL_FTYPE_Q3_K_S] = "Q3_K_S",
    [TL_FTYPE_Q3_K_M] = "Q3_K_M", [TL_FTYPE_Q3_K_L] = "Q3_K_L", [TL_FTYPE_Q4_K_S] = "Q4_K_S",
    [TL_FTYPE_Q4_K_M] = "Q4_K_M", [TL_FTYPE_Q5_K_S] = "Q5_K_S", [TL_FTYPE_Q5_K_M] = "Q5_K_M",
    [TL_FTYPE_Q6_K] = "Q6_K",   [TL_FTYPE_BF16] = "BF16",     [TL_FTYPE_MXFP4_MOE] = "MXFP4_MOE",
};

const char *tl_ftype_name(tl_ftype f)
{
  return (unsigned)f < TL_FTYPE_COUNT && names[f] ? names[f] : "invalid";
}

tl_status tl_ftype_parse(const char *name, tl_ftype *out, tl_error *err)
{
  for (int i = 0; i < TL_FTYPE_COUNT; i++)
    if (names[i] && strcasecmp(names[i], name) == 0) {
      *out = (tl_ftype)i;
      return TL_OK;
    }
  return tl__error_set(err, TL_EINVAL, "unknown file type '%s'", name);
}
