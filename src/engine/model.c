/* Which family runs a GGUF: general.architecture (and, for "llama", whether
 * it has experts: Mixtral) picks the loader, which binds the weights and
 * sets the model's forward pass. */
#include <string.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "engine/engine-int.h"

tl_status tl__model_load(const tl_gguf *g, tl__model *m, tl_error *err)
{
  const char *s;
  size_t n;
  char arch[32];
  memset(m, 0, sizeof *m);
  if (!tl_gguf_get_str(g, "general.architecture", &s, &n) || n >= sizeof arch)
    return tl__error_set(err, TL_EFORMAT, "engine: key 'general.architecture' is missing");
  memcpy(arch, s, n);
  arch[n] = '\0';
  uint32_t n_expert = 0;
  if (!strcmp(arch, "llama"))
    tl_gguf_get_u32(g, "llama.expert_count", &n_expert);
  if (!strcmp(arch, "qwen3moe") || n_expert > 0)
    return tl__moe_load(g, m, err);
  if (!strcmp(arch, "gemma3"))
    return tl__gemma_load(g, m, err);
  if (!strcmp(arch, "phi3"))
    return tl__phi3_load(g, m, err);
  if (strcmp(arch, "llama") && strcmp(arch, "qwen2") && strcmp(arch, "qwen3"))
    return tl__error_set(err, TL_EUNSUPPORTED, "engine: architecture '%s' is not supported "
                         "(llama, qwen2, qwen3, qwen3moe, gemma3, phi3; llama with experts)", arch);
  tl_status st = tl__llama_load(g, m, err);
  if (st == TL_OK)
    m->forward = tl__llama_forward;
  return st;
}

void tl__model_unload(tl__model *m)
{
  for (uint32_t il = 0; m->layers && il < m->hp.n_layer; il++)
    tl__free(m->layers[il].experts);
  tl__llama_unload(m);
  tl__rope_deinit(&m->rope_swa);
}
