/* Fuzz target for config.json reading and the registry behind it: parses the
 * input as a config, and when that succeeds builds the tensor list at a
 * K-quant mixture and the KV geometry. Any crash, sanitizer report or leak
 * is a bug. Seeds: tests/fuzz/corpus-hf-config/ (real configs). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "tailor/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static tl_hparams hp;
  static tl_kv_layer kv[TL_MAX_LAYERS];
  if (tl_hparams_from_hf_config((const char *)data, size, &hp, NULL) != TL_OK)
    return 0;
  (void)tl_kv_geometry(&hp, kv, NULL);
  (void)tl_kv_bytes_per_token(&hp, TL_QTYPE_Q8_0);
  /* keep the tensor list small enough to build quickly */
  if ((uint64_t)hp.n_layer * hp.n_embd > (1u << 20) || hp.n_expert > 512)
    return 0;
  tl_model_desc *m = NULL;
  if (tl_model_desc_from_hparams(&hp, TL_FTYPE_Q4_K_M, &m, NULL) == TL_OK)
    tl_model_desc_free(m);
  return 0;
}
