/* The engine object: loading a GGUF model (map, validate, bind weights),
 * applying parameter defaults, allocating the KV cache and every scratch
 * buffer once, and reporting what was allocated by memory category. The
 * forward pass is in model-llama.c, evaluation in session.c. */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "base/log-int.h"
#include "engine/cpu/kernels.h"
#include "engine/engine-int.h"
#include "tailor/convert.h"
#include "tailor/quant.h"

void tl_engine_params_init(tl_engine_params *p)
{
  memset(p, 0, sizeof *p);
  p->kv_type = TL_QTYPE_F16;
  p->isq = TL_QTYPE_F32;
  tl_sampler_params_init(&p->sampling);
}

/* Defaults as llama.cpp's (n_batch 2048, n_ubatch 512), with the context
 * capped at 4096 so a default run does not reserve a 128k-token cache. */
static tl_status resolve_params(tl_engine_params *p, const tl_hparams *hp, uint64_t tensor_bytes,
                                tl_error *err)
{
  if (p->n_ctx == 0)
    p->n_ctx = hp->n_ctx_train < 4096 ? hp->n_ctx_train : 4096;
  if (p->n_threads == 0) {
    /* The online CPUs, but one thread per 8 MiB of weights at most: a
     * model that small does microseconds of work per matmul, less than
     * handing it to another thread costs (stories260K: 1 thread decodes
     * faster than 2 on a busy 2-core machine by 30x). */
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    uint64_t by_size = tensor_bytes / (8u << 20) + 1;
    p->n_threads = n > 0 ? (uint32_t)n : 1;
    if (by_size < p->n_threads)
      p->n_threads = (uint32_t)by_size;
  }
  if (p->n_threads > 512)
    return tl__error_set(err, TL_ECONFIG, "engine: n_threads %u is more than 512", p->n_threads);
  if (p->n_batch == 0)
    p->n_batch = 2048;
  if (p->n_batch > p->n_ctx)
    p->n_batch = p->n_ctx;
  if (p->n_ubatch == 0)
    p->n_ubatch = 512;
  if (p->n_ubatch > p->n_batch)
    p->n_ubatch = p->n_batch;
  if (p->n_ctx > (1u << 24))
    return tl__error_set(err, TL_ECONFIG, "engine: n_ctx %u is more than %u", p->n_ctx, 1u << 24);
  if (p->n_seq_max > 4096)
    return tl__error_set(err, TL_ECONFIG, "engine: n_seq_max %u is more than 4096", p->n_seq_max);
  if (p->n_seq_max) {
    if (p->kv_block_size == 0)
      p->kv_block_size = 16;
    if (p->kv_block_size > 4096)
      return tl__error_set(err, TL_ECONFIG, "engine: kv_block_size %u is more than 4096",
                           p->kv_block_size);
    uint64_t per_seq = (p->n_ctx + p->kv_block_size - 1) / p->kv_block_size;
    if (p->kv_blocks == 0)
      p->kv_blocks = (uint32_t)(per_seq * p->n_seq_max > (1u << 24) ? (1u << 24)
                                                                    : per_seq * p->n_seq_max);
    if ((uint64_t)p->kv_blocks * p->kv_block_size > (1u << 26))
      return tl__error_set(err, TL_ECONFIG, "engine: %u KV blocks of %u tokens are more than "
                           "%u tokens", p->kv_blocks, p->kv_block_size, 1u << 26);
  }
  if (p->kv_type != TL_QTYPE_F16 && p->kv_type != TL_QTYPE_Q8_0 && p->kv_type != TL_QTYPE_F32)
    return tl__error_set(err, TL_ECONFIG, "engine: kv_type %s is not supported (f16, q8_0, f32)",
                         tl_qtype_name(p->kv_type));
  return TL_OK;
}

/* The largest matmul scratch any weight of the model needs for n rows. */
static size_t matmul_scratch(const tl__model *m, uint32_t n)
{
  size_t best = tl__cpu_matmul_scratch_bytes(m->output.type, n, m->output.ne0);
  for (uint32_t il = 0; il < m->hp.n_layer; il++) {
    const tl__layer *L = &m->layers[il];
    const tl__weight *ws[] = {&L->wq,     &L->wk,     &L->wv,       &L->wo,      &L->w_gate,
                              &L->w_up,   &L->w_down, &L->gate_inp, &L->exp_gate, &L->exp_up,
                              &L->exp_down};
    for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
      size_t b = tl__cpu_matmul_scratch_bytes(ws[i]->type, n, ws[i]->ne0);
      best = b > best ? b : best;
    }
  }
  return best;
}

tl_status tl_engine_load(const char *path, const tl_engine_params *p, tl_engine **out,
                         tl_error *err)
{
  tl_engine *e = tl__calloc(1, sizeof *e);
  if (!e)
    return tl__error_set(err, TL_ENOMEM, "engine: out of memory");
  if (p) {
    e->prm = *p;
  } else {
    tl_engine_params_init(&e->prm);
  }
  /* a Hugging Face directory is seen through the conversion's view */
  struct stat sb;
  bool is_dir = stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
  tl_status st = is_dir ? tl_convert_open_view(path, &e->gguf, NULL, err)
                        : tl_gguf_open(path, &e->gguf, err);
  if (st)
    goto fail;
  if (tl_gguf_is_big_endian(e->gguf)) {
    st = tl__error_set(err, TL_EUNSUPPORTED, "engine: '%s' is a big-endian GGUF", path);
    goto fail;
  }
  if ((st = tl__model_load(e->gguf, &e->model, err)) ||
      (st = resolve_params(&e->prm, &e->model.hp, e->model.tensor_bytes, err)) ||
      (st = tl__rope_init(&e->rope, &e->model.hp, e->model.rope_freqs, err)))
    goto fail;
  if (e->prm.isq != TL_QTYPE_F32 &&
      (st = tl__isq_apply(&e->model, e->prm.isq, e->prm.n_threads, !is_dir, e->prm.isq_progress,
                          e->prm.isq_ud, &e->isq, err)))
    goto fail;
  const tl_hparams *hp = &e->model.hp;
  tl__attn_shape shape = {hp->n_head, hp->n_head_kv, hp->head_dim_k, hp->head_dim_v, 0, 0};
  size_t mm = matmul_scratch(&e->model, e->prm.n_ubatch);
  if ((st = tl__backend_cpu_create(e->prm.n_threads, e->prm.n_ctx, &shape, mm, &e->be, err)) ||
      (st = tl__state_init(&e->st, e->be, hp, e->prm.n_ubatch, err)) ||
      (st = tl__kv_init(&e->kv, hp, e->prm.kv_type,
                        e->prm.n_seq_max ? e->prm.kv_blocks * e->prm.kv_block_size
                                         : e->prm.n_ctx, err)) ||
      (st = tl__batch_init(e, err)))
    goto fail;
  size_t rows = e->prm.logits_all ? e->prm.n_batch : 1;
  e->logits = e->be->ops->alloc(e->be, rows * hp->n_vocab * sizeof(float));
  if (!e->logits) {
    st = tl__error_set(err, TL_ENOMEM, "engine: out of memory for logits");
    goto fail;
  }
  tl__info("engine: %s, %u layers, dim %u, %u/%u heads, ctx %u, ubatch %u, %u threads",
           hp->arch_name, hp->n_layer, hp->n_embd, hp->n_head, hp->n_head_kv, e->prm.n_ctx,
           e->prm.n_ubatch, e->prm.n_threads);
  *out = e;
  return TL_OK;
fail:
  tl__error_prefix(err, "%s", path);
  tl_engine_free(e);
  return st;
}

void tl_engine_free(tl_engine *e)
{
  if (!e)
    return;
  tl__batch_deinit(e);
  if (e->be) {
    e->be->ops->free(e->be, e->logits);
    tl__state_deinit(&e->st, e->be);
    tl__backend_cpu_free(e->be);
  }
  tl__kv_deinit(&e->kv);
  tl__rope_deinit(&e->rope);
  tl__model_unload(&e->model);
  tl__isq_free(&e->isq);
  tl_gguf_close(e->gguf);
  tl__free(e);
}

const tl_hparams *tl_engine_hparams(const tl_engine *e) { return &e->model.hp; }
const tl_engine_params *tl_engine_get_params(const tl_engine *e) { return &e->prm; }
const tl_gguf *tl_engine_gguf(const tl_engine *e) { return e->gguf; }

void tl_engine_memory(const tl_engine *e, tl_engine_mem *out)
{
  const tl_hparams *hp = &e->model.hp;
  memset(out, 0, sizeof *out);
  /* mapped tensors, less those replaced (and released) by quantized copies */
  out->weights = e->model.tensor_bytes - e->isq.src_bytes + e->isq.bytes;
  out->kv_cache = e->kv.bytes;
  out->compute = e->be->bytes_alloc + (uint64_t)e->st.n_ubatch * sizeof(int32_t);
  if (hp->n_expert > 0) /* the routing in host memory: sel, sel_w, rows, rows_w */
    out->compute += (uint64_t)e->st.n_ubatch * (hp->n_expert_used + 1) * 8;
  /* The mapped header and metadata, and the engine's own tables. */
  /* a directory's view holds only the header: its tensors lie elsewhere */
  uint64_t fs = tl_gguf_file_size(e->gguf);
  uint64_t meta = tl_gguf_data_offset(e->gguf) >= fs ? fs : fs - e->model.tensor_bytes;
  out->overhead = meta + sizeof *e +
                  (uint64_t)hp->n_layer * sizeof(tl__layer) + (hp->n_rot / 2) * sizeof(double) +
                  sizeof(tl__backend);
  out->total = out->weights + out->kv_cache + out->compute + out->overhead;
}
