/* Copy-paste command lines that run a plan with its runtime: tailor's own
 * `tailor run`, llama.cpp's llama-server (tools/server/README.md flags -m,
 * -c, -ngl, -fa, -ctk/-ctv, --parallel, --n-cpu-moe, -ts), an Ollama
 * Modelfile (PARAMETER num_ctx, num_gpu) and `vllm serve`
 * (--max-model-len, --gpu-memory-utilization, --tensor-parallel-size). */
#include <stdio.h>
#include <string.h>

#include "base/error-int.h"
#include "base/strbuf.h"
#include "base/alloc-int.h"
#include "internal.h"
#include "tailor/quant.h"

/* The GGUF file the command loads: the source when it is one, else the name
 * a conversion would produce (tailor convert writes <id>-<FTYPE>.gguf). */
static void gguf_name(const tl_model_desc *m, const char *src, char *buf, size_t n)
{
  if (m->source_kind == TL_SOURCE_GGUF)
    snprintf(buf, n, "%s", src);
  else
    snprintf(buf, n, "%s-%s.gguf", m->catalog_id[0] ? m->catalog_id : "model", tl_ftype_name(m->ftype));
}

/* A relative file as a shell argument for a tool run from here: "./name"
 * for a bare name, the path itself otherwise. */
static const char *dot_slash(const char *file) { return strchr(file, '/') ? "" : "./"; }

static void hf_repo_of(const tl_model_desc *m, const char *src, char *buf, size_t n)
{
  snprintf(buf, n, "%s", src);
  if (m->source_kind != TL_SOURCE_CATALOG || !m->catalog_id[0])
    return;
  tl_catalog *c = NULL;
  if (tl_catalog_load_user(&c, NULL) != TL_OK)
    return;
  const tl_catalog_entry *e = tl_catalog_find(c, m->catalog_id);
  if (e && e->hf_repo && e->hf_repo[0])
    snprintf(buf, n, "%s", e->hf_repo);
  tl_catalog_free(c);
}

static const char *kv_name(tl_qtype t) { return tl_qtype_name(t); }

tl_status tl_plan_command(const tl_plan *p, const tl_model_desc *m, const char *src, char *buf, size_t n,
                          tl_error *err)
{
  if (!p || !m || !src || !buf || n == 0)
    return tl__error_set(err, TL_EINVAL, "plan command: NULL argument");
  const tl_plan_settings *s = &p->settings;
  char file[1100];
  gguf_name(m, src, file, sizeof file);
  tl__sb sb;
  tl__sb_init(&sb);
  bool kvq = s->kv_type_k != TL_QTYPE_F16 || s->kv_type_v != TL_QTYPE_F16;
  switch (s->runtime) {
  case TL_RUNTIME_TAILOR: {
    /* the flags of `tailor run` (the settings of docs/config.md): a catalog
     * model runs from the GGUF file `tailor convert` writes, a Hugging Face
     * directory with in-situ quantization to the candidate's main type */
    if (m->source_kind == TL_SOURCE_HF_DIR) {
      const char *isq = m->ftype == TL_FTYPE_Q8_0     ? "q8_0"
                        : m->ftype == TL_FTYPE_Q6_K   ? "q6_k"
                        : m->ftype == TL_FTYPE_Q5_K_M ? "q5_k"
                        : m->ftype == TL_FTYPE_Q4_K_M ? "q4_k"
                        : m->ftype == TL_FTYPE_Q4_0   ? "q4_0"
                                                      : "none";
      tl__sb_printf(&sb, "tailor run %s --isq %s -c %u", src, isq, s->n_ctx);
    } else {
      tl__sb_printf(&sb, "tailor run %s -c %u", file, s->n_ctx);
    }
    if (kvq)
      tl__sb_printf(&sb, " --kv-type %s", kv_name(s->kv_type_k));
    if (p->mode == TL_RUN_CPU_OFFLOAD)
      tl__sb_printf(&sb, " -ngl %u", p->n_gpu_layers);
    if (p->mode == TL_RUN_MOE_OFFLOAD)
      tl__sb_puts(&sb, " --cpu-moe");
    if (p->mode == TL_RUN_CPU_ONLY && p->n_devices > 1)
      tl__sb_puts(&sb, " --backend cpu");
    break;
  }
  case TL_RUNTIME_LLAMACPP: {
    /* llama.cpp's -c is the whole cache, shared by the --parallel slots */
    uint32_t ngl = p->mode == TL_RUN_CPU_ONLY ? 0 : p->mode == TL_RUN_CPU_OFFLOAD ? p->n_gpu_layers : p->n_layer + 1;
    tl__sb_printf(&sb, "llama-server -m %s -c %u -ngl %u -fa %s", file, s->n_ctx * s->n_parallel, ngl,
                  s->flash_attn > 0 ? "on" : "off");
    if (kvq)
      tl__sb_printf(&sb, " -ctk %s -ctv %s", kv_name(s->kv_type_k), kv_name(s->kv_type_v));
    tl__sb_printf(&sb, " --parallel %u", s->n_parallel);
    if (p->mode == TL_RUN_MOE_OFFLOAD)
      tl__sb_printf(&sb, " --n-cpu-moe %u", p->n_cpu_moe_layers);
    size_t ngpu = 0;
    for (size_t d = 1; d < p->n_devices; d++)
      ngpu += p->devices[d].n_layers > 0;
    if (ngpu > 1) {
      tl__sb_puts(&sb, " -ts ");
      for (size_t d = 1; d < p->n_devices; d++)
        tl__sb_printf(&sb, "%s%u", d > 1 ? "," : "", p->devices[d].n_layers);
    }
    break;
  }
  case TL_RUNTIME_OLLAMA: {
    const char *name = m->catalog_id[0] ? m->catalog_id : "model";
    tl__sb_printf(&sb, "printf 'FROM %s%s\\nPARAMETER num_ctx %u\\n", dot_slash(file), file, s->n_ctx);
    if (p->mode == TL_RUN_CPU_OFFLOAD || p->mode == TL_RUN_CPU_ONLY)
      tl__sb_printf(&sb, "PARAMETER num_gpu %u\\n", p->mode == TL_RUN_CPU_ONLY ? 0 : p->n_gpu_layers);
    tl__sb_printf(&sb, "' > Modelfile && ollama create %s -f Modelfile && ", name);
    if (s->n_parallel > 1 || kvq || s->flash_attn > 0)
      tl__sb_printf(&sb, "OLLAMA_NUM_PARALLEL=%u%s%s%s ", s->n_parallel, s->flash_attn > 0 ? " OLLAMA_FLASH_ATTENTION=1" : "",
                    kvq ? " OLLAMA_KV_CACHE_TYPE=" : "", kvq ? kv_name(s->kv_type_k) : "");
    tl__sb_printf(&sb, "ollama run %s", name);
    break;
  }
  case TL_RUNTIME_VLLM: {
    /* vLLM loads Hugging Face checkpoints; a catalog id becomes its repo */
    char repo[256];
    hf_repo_of(m, src, repo, sizeof repo);
    if (m->ftype == TL_FTYPE_BF16 || m->ftype == TL_FTYPE_F16 || m->source_kind == TL_SOURCE_HF_DIR)
      tl__sb_printf(&sb, "vllm serve %s", repo);
    else
      tl__sb_printf(&sb, "vllm serve %s%s --tokenizer %s", dot_slash(file), file, repo);
    tl__sb_printf(&sb, " --max-model-len %u --gpu-memory-utilization %.2f --tensor-parallel-size %u", s->n_ctx,
                  s->gpu_memory_utilization, s->tensor_parallel ? s->tensor_parallel : 1);
    if (s->n_parallel > 1)
      tl__sb_printf(&sb, " --max-num-seqs %u", s->n_parallel);
    if (kvq)
      tl__sb_puts(&sb, " --kv-cache-dtype fp8");
    break;
  }
  default:
    tl__sb_deinit(&sb);
    return tl__error_set(err, TL_EINVAL, "plan command: unknown runtime");
  }
  if (tl__sb_failed(&sb)) {
    tl__sb_deinit(&sb);
    return tl__error_set(err, TL_ENOMEM, "plan command: out of memory");
  }
  tl_status st = TL_OK;
  if (sb.len + 1 > n)
    st = tl__error_set(err, TL_ELIMIT, "plan command: %zu bytes do not fit in %zu", sb.len + 1, n);
  else
    memcpy(buf, sb.buf ? sb.buf : "", sb.len + 1);
  tl__sb_deinit(&sb);
  return st;
}
