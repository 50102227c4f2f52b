/* The engine's compute allocation as a function of model and parameters
 * (engine-size.c), for estimates made without loading. */
#ifndef TL_ENGINE_ENGINE_SIZE_H
#define TL_ENGINE_ENGINE_SIZE_H

#include <stdint.h>

#include "tailor/model.h"

/* Bytes tl_engine_load allocates in the compute category for model m with
 * n_threads workers, n_ctx cache positions, n_ubatch tokens per step and
 * logits for logits_rows tokens. */
uint64_t tl__engine_compute_bytes(const tl_model_desc *m, uint32_t n_threads, uint32_t n_ctx,
                                  uint32_t n_ubatch, uint32_t logits_rows);

#endif
