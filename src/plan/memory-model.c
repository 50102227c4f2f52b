/* The memory model's model side: a tensor list reduced to bytes per layer and
 * role (attention/dense part, routed experts, embeddings, output), active
 * parameters per token, and KV-cache bytes per layer for a runtime's cache
 * layout (full layers hold the context, sliding-window layers their window,
 * MLA layers their latent). Placement on devices is placement.c. */
#include <string.h>

#include "base/error-int.h"
#include "tailor/quant.h"
#include "internal.h"

static bool is_expert_role(tl_tensor_role r)
{
  return r == TL_ROLE_FFN_GATE_EXPS || r == TL_ROLE_FFN_UP_EXPS || r == TL_ROLE_FFN_DOWN_EXPS;
}

/* Roles whose tensor is multiplied with the activations of every token. */
static bool is_matmul_role(tl_tensor_role r)
{
  switch (r) {
  case TL_ROLE_ATTN_Q: case TL_ROLE_ATTN_K: case TL_ROLE_ATTN_V: case TL_ROLE_ATTN_QKV:
  case TL_ROLE_ATTN_OUTPUT: case TL_ROLE_ATTN_MLA: case TL_ROLE_FFN_GATE: case TL_ROLE_FFN_UP:
  case TL_ROLE_FFN_DOWN: case TL_ROLE_FFN_GATE_UP: case TL_ROLE_FFN_GATE_INP:
  case TL_ROLE_FFN_SHEXP: case TL_ROLE_OUTPUT:
    return true;
  default:
    return false;
  }
}

static double elements(const tl_tensor_desc *t)
{
  double n = 1;
  for (uint32_t d = 0; d < t->n_dims && d < 4; d++)
    n *= (double)t->ne[d];
  return n;
}

tl_status tl__pmodel_init(tl__pmodel *pm, const tl_model_desc *m, tl_error *err)
{
  memset(pm, 0, sizeof *pm);
  pm->m = m;
  const tl_hparams *hp = &m->hp;
  if (hp->n_layer == 0 || hp->n_layer > TL_MAX_LAYERS)
    return tl__error_set(err, TL_EINVAL, "plan: model '%s' has %u layers (1..%d supported)", m->name,
                         hp->n_layer, TL_MAX_LAYERS);
  pm->n_layer = hp->n_layer;
  pm->moe = hp->n_expert > 1 && hp->n_expert_used > 0;
  double used_frac = pm->moe ? (double)hp->n_expert_used / (double)hp->n_expert : 1.0;
  bool has_output = false;
  double embd_elems = 0;

  for (size_t i = 0; i < m->n_tensors; i++) {
    const tl_tensor_desc *t = &m->tensors[i];
    if (t->bytes > pm->largest_tensor)
      pm->largest_tensor = t->bytes;
    if (t->role == TL_ROLE_TOKEN_EMBD) {
      pm->embd_bytes += t->bytes;
      embd_elems += elements(t);
      continue;
    }
    if (t->role == TL_ROLE_OUTPUT) {
      pm->output_bytes += t->bytes;
      has_output = true;
      pm->matmul_params_active += elements(t);
      continue;
    }
    if (t->layer < 0 || (uint32_t)t->layer >= pm->n_layer) {
      pm->global_bytes += t->bytes;
      continue;
    }
    bool exp = pm->moe && is_expert_role(t->role);
    if (exp)
      pm->expert_bytes[t->layer] += t->bytes;
    else
      pm->layer_bytes[t->layer] += t->bytes;
    if (is_matmul_role(t->role) || is_expert_role(t->role))
      pm->matmul_params_active += elements(t) * (exp ? used_frac : 1.0);
  }
  if (m->n_tensors == 0) {
    /* A description without tensors (an unknown architecture sized from its
     * parameter count): spread the weights evenly over the layers. */
    for (uint32_t l = 0; l < pm->n_layer; l++)
      pm->layer_bytes[l] = m->weight_bytes / pm->n_layer;
    pm->matmul_params_active = (double)(m->n_params_active ? m->n_params_active : m->n_params);
  }
  pm->tied = !has_output && pm->embd_bytes > 0;
  if (pm->tied) {
    /* The output projection multiplies by token_embd: every token reads all of it. */
    pm->output_bytes = pm->embd_bytes;
    pm->matmul_params_active += embd_elems;
  }
  uint64_t rb = pm->global_bytes + pm->output_bytes;
  for (uint32_t l = 0; l < pm->n_layer; l++)
    rb += pm->layer_bytes[l] + (uint64_t)((double)pm->expert_bytes[l] * used_frac + 0.5);
  pm->read_bytes_active = rb;

  tl_error kerr;
  tl_status st = tl_kv_geometry(hp, pm->kv, &kerr);
  if (st != TL_OK)
    return tl__error_set(err, st, "plan: KV geometry of '%s': %s", m->name, kerr.message);
  return TL_OK;
}

/* KV cache element types the runtimes accept (llama.cpp --cache-type-k/v). */
static const tl_qtype kv_types[] = {
    TL_QTYPE_F32,  TL_QTYPE_F16,  TL_QTYPE_BF16, TL_QTYPE_Q8_0,   TL_QTYPE_Q4_0,
    TL_QTYPE_Q4_1, TL_QTYPE_Q5_0, TL_QTYPE_Q5_1, TL_QTYPE_IQ4_NL,
};

bool tl__kv_type_valid(tl_qtype t)
{
  for (size_t i = 0; i < sizeof kv_types / sizeof kv_types[0]; i++)
    if (kv_types[i] == t)
      return true;
  return false;
}

uint64_t tl__kv_type_bytes(tl_qtype t, uint64_t n)
{
  const tl_qtype_info *q = tl_qtype_get(t);
  if (!q)
    return n * 2;
  return (n + q->block_size - 1) / q->block_size * q->block_bytes;
}

void tl__pmodel_set_kv_types(tl__pmodel *pm, tl_qtype k, tl_qtype v)
{
  for (uint32_t l = 0; l < pm->n_layer; l++)
    pm->kv_cell_bytes[l] = tl__kv_type_bytes(k, pm->kv[l].n_embd_k) + tl__kv_type_bytes(v, pm->kv[l].n_embd_v);
}

uint64_t tl__kv_layer_bytes(const tl__runtime *rt, const tl_plan_settings *s, const tl_kv_layer *l)
{
  uint64_t cells = rt->kv_cells(s, l);
  return cells * (tl__kv_type_bytes(s->kv_type_k, l->n_embd_k) +
                  tl__kv_type_bytes(s->kv_type_v, l->n_embd_v));
}

uint64_t tl__host_usable(const tl_hw *hw)
{
  /* usable is min(available, cgroup room); a probe that could not read it
   * leaves 0: fall back to what is available, then to the total */
  return hw->mem.usable ? hw->mem.usable : hw->mem.available ? hw->mem.available : hw->mem.total;
}

uint64_t tl__host_headroom(const tl_hw *hw)
{
  /* Kept free for the OS, page cache of the running program and other
   * programs: 5% of what is usable, at least 512 MiB, never more than 4 GiB.
   * A judgement, not a measurement: docs/plan.md. */
  uint64_t h = tl__host_usable(hw) / 20;
  if (h < 512 * TL__MIB)
    h = 512 * TL__MIB;
  if (h > 4 * TL__GIB)
    h = 4 * TL__GIB;
  return h;
}

tl_status tl_plan_kv_bytes(const tl_model_desc *m, const tl_plan_settings *s, uint64_t *out,
                           tl_error *err)
{
  if (!m || !s || !out)
    return tl__error_set(err, TL_EINVAL, "plan: kv bytes: NULL argument");
  if (m->hp.n_layer == 0 || m->hp.n_layer > TL_MAX_LAYERS)
    return tl__error_set(err, TL_EINVAL, "plan: model '%s' has %u layers", m->name, m->hp.n_layer);
  tl_kv_layer kv[TL_MAX_LAYERS];
  tl_error kerr;
  tl_status st = tl_kv_geometry(&m->hp, kv, &kerr);
  if (st != TL_OK)
    return tl__error_set(err, st, "plan: KV geometry of '%s': %s", m->name, kerr.message);
  tl_plan_settings r = *s;
  const tl__runtime *rt = tl__runtime_get(r.runtime);
  if (!rt)
    rt = &tl__runtime_llamacpp;
  rt->resolve(&r, m, NULL);
  uint64_t total = 0;
  for (uint32_t l = 0; l < m->hp.n_layer; l++)
    total += tl__kv_layer_bytes(rt, &r, &kv[l]);
  *out = total;
  return TL_OK;
}
