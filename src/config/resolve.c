/* The settings resolver: proposals from each source in precedence order
 * (default < model_metadata < hardware_capability < workload_preset <
 * compiled_feature < config_file < env < cli), validation of the result, and
 * then the memory check, which steps preset values down in a fixed order
 * (quantization, then context, then offload) and records each step with
 * source memory_profile. Values set by the user (config file, environment,
 * command line) are never stepped down: if they cannot fit, resolution fails
 * naming them. Deterministic: no clock, no randomness, no environment reads. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "config/internal.h"

#define GIB (1024.0 * 1024.0 * 1024.0)

typedef struct res {
  tl_config *c;
  const tl_config_inputs *in;
  const tl_hparams *hp;
} res;

static tl__decision *dec(res *r, tl_setting_id id) { return &r->c->d[id]; }

static void vfmt(char *dst, size_t cap, const char *fmt, va_list ap)
{
  if (vsnprintf(dst, cap, fmt, ap) < 0)
    dst[0] = '\0';
}

/* Takes `value` for the setting from `source` and records the step. */
static void propose(res *r, tl_setting_id id, tl_setting_source src, const char *source_key,
                    const char *value, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void propose(res *r, tl_setting_id id, tl_setting_source src, const char *source_key,
                    const char *value, const char *fmt, ...)
{
  tl__decision *d = dec(r, id);
  char reason[192];
  va_list ap;
  va_start(ap, fmt);
  vfmt(reason, sizeof reason, fmt, ap);
  va_end(ap);
  if (d->set && d->n_steps && !strcmp(d->value, value) && d->source == src)
    return;
  d->set = true;
  snprintf(d->value, sizeof d->value, "%s", value);
  d->source = src;
  snprintf(d->source_key, sizeof d->source_key, "%s", source_key);
  snprintf(d->reason, sizeof d->reason, "%s", reason);
  if (d->n_steps < TL__MAX_STEPS) {
    tl__step *s = &d->steps[d->n_steps++];
    s->source = src;
    snprintf(s->source_key, sizeof s->source_key, "%s", source_key);
    snprintf(s->value, sizeof s->value, "%s", value);
    snprintf(s->reason, sizeof s->reason, "%s", reason);
  } else {
    /* keep the last step current: the history is bounded */
    tl__step *s = &d->steps[TL__MAX_STEPS - 1];
    s->source = src;
    snprintf(s->source_key, sizeof s->source_key, "%s", source_key);
    snprintf(s->value, sizeof s->value, "%s", value);
    snprintf(s->reason, sizeof s->reason, "%s", reason);
  }
}

static void proposef_int(res *r, tl_setting_id id, tl_setting_source src, const char *key,
                         long long v, const char *reason)
{
  char buf[32];
  snprintf(buf, sizeof buf, "%lld", v);
  propose(r, id, src, key, buf, "%s", reason);
}

static void candidate(res *r, tl_setting_id id, const char *value)
{
  tl__decision *d = dec(r, id);
  for (int i = 0; i < d->n_candidates; i++)
    if (!strcmp(d->candidates[i], value))
      return;
  if (d->n_candidates < TL__MAX_CANDIDATES)
    snprintf(d->candidates[d->n_candidates++], sizeof d->candidates[0], "%s", value);
}

static void reject(res *r, tl_setting_id id, const char *value, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void reject(res *r, tl_setting_id id, const char *value, const char *fmt, ...)
{
  tl__decision *d = dec(r, id);
  candidate(r, id, value);
  for (int i = 0; i < d->n_rejected; i++)
    if (!strcmp(d->rejected[i].value, value))
      return;
  if (d->n_rejected >= TL__MAX_REJECTED)
    return;
  tl__rejected *x = &d->rejected[d->n_rejected++];
  snprintf(x->value, sizeof x->value, "%s", value);
  va_list ap;
  va_start(ap, fmt);
  vfmt(x->reason, sizeof x->reason, fmt, ap);
  va_end(ap);
}

static const char *val(res *r, tl_setting_id id) { return r->c->d[id].value; }

static long long ival(res *r, tl_setting_id id)
{
  long long v = 0;
  sscanf(r->c->d[id].value, "%lld", &v);
  return v;
}

static bool bval(res *r, tl_setting_id id) { return !strcmp(r->c->d[id].value, "true"); }

static bool pinned(res *r, tl_setting_id id) { return r->c->d[id].pinned; }

static bool is_moe(const tl_hparams *hp) { return hp->n_expert > 0; }

/* A described machine (--gpu, --hardware) is planned for a tailor built for
 * it: its backend counts as compiled. This build's features apply to this
 * machine only. */
static bool backend_available(res *r, const tl__backend_caps *caps)
{
  return caps->compiled || r->in->hw->described;
}

static tl__backend backend_of(res *r)
{
  tl__backend b = TL__BACKEND_CPU;
  tl__backend_parse(val(r, TL_SET_BACKEND), &b);
  return b;
}

static size_t count_gpus(const tl_hw *hw, tl_gpu_vendor v)
{
  size_t n = 0;
  for (size_t i = 0; i < hw->n_gpus; i++)
    if (hw->gpus[i].vendor == v)
      n++;
  return n;
}

/* ---- stage: defaults ---- */

static void stage_defaults(res *r)
{
  const tl_setting_source S = TL_SETSRC_DEFAULT;
  propose(r, TL_SET_BACKEND, S, "", "cpu", "the CPU runs every model");
  if (r->in->catalog_source)
    propose(r, TL_SET_QUANT, S, "", "q4_k_m", "the usual balance of size and quality");
  else
    propose(r, TL_SET_QUANT, S, "", "file", "the weights as the source stores them");
  propose(r, TL_SET_ISQ, S, "", "none", "weights are used as stored");
  propose(r, TL_SET_GPU_LAYERS, S, "", "0", "no GPU assumed");
  propose(r, TL_SET_MOE_OFFLOAD, S, "", "false", "all weights on the device of their layer");
  propose(r, TL_SET_THREADS, S, "", "4", "a conservative thread count");
  propose(r, TL_SET_THREADS_BATCH, S, "", "4", "a conservative thread count");
  propose(r, TL_SET_CTX_SIZE, S, "", "4096", "enough for most single prompts");
  propose(r, TL_SET_BATCH_SIZE, S, "", "2048", "prompt tokens accepted per submission");
  propose(r, TL_SET_UBATCH_SIZE, S, "", "512",
          "large enough to keep matrix units busy, small enough for modest compute buffers");
  propose(r, TL_SET_KV_TYPE, S, "", "f16", "full-precision cache: no quality loss");
  propose(r, TL_SET_FLASH_ATTN, S, "", "false", "not every backend has a fused attention path");
  propose(r, TL_SET_MMAP, S, "", "true", "weights are mapped, not copied: fast start, shared pages");
  propose(r, TL_SET_MLOCK, S, "", "false", "let the OS page weights as it needs");
  propose(r, TL_SET_PARALLEL, S, "", "1", "one sequence at a time");
  propose(r, TL_SET_KV_BLOCK_SIZE, S, "", "16",
          "16-token blocks: little waste at the end of a sequence, few block-table entries");
  propose(r, TL_SET_MAX_BATCHED_TOKENS, S, "", "512", "one micro-batch per scheduler step");
  propose(r, TL_SET_PREFIX_CACHE, S, "", "false", "nothing to share with one prompt");
  propose(r, TL_SET_ADMISSION, S, "", "prefill_first", "a new prompt is processed whole");
  propose(r, TL_SET_ATTN_PATH, S, "", "materialized", "the path every backend has");
  propose(r, TL_SET_TEMPERATURE, S, "", "0.8", "general-purpose sampling");
  propose(r, TL_SET_TOP_K, S, "", "40", "general-purpose sampling");
  propose(r, TL_SET_TOP_P, S, "", "0.95", "general-purpose sampling");
  propose(r, TL_SET_MIN_P, S, "", "0.05", "general-purpose sampling");
  propose(r, TL_SET_REPEAT_PENALTY, S, "", "1", "no penalty: modern models need none");
  for (const char *const *k = (const char *const[]){"f16", "q8_0", "q4_0", NULL}; *k; k++)
    candidate(r, TL_SET_KV_TYPE, *k);
}

/* ---- stage: model metadata ---- */

static void stage_model(res *r)
{
  const tl_setting_source S = TL_SETSRC_MODEL_METADATA;
  const tl_hparams *hp = r->hp;
  const tl_model_desc *m = r->in->model;
  char buf[64];
  if (hp->n_ctx_train) {
    snprintf(buf, sizeof buf, "%u", hp->n_ctx_train);
    candidate(r, TL_SET_CTX_SIZE, buf);
    if (hp->n_ctx_train < 4096)
      proposef_int(r, TL_SET_CTX_SIZE, S, "context_length", hp->n_ctx_train,
                   "the model's own maximum context is below the default");
  }
  if (!r->in->catalog_source && m->ftype_known) {
    candidate(r, TL_SET_QUANT, "file");
  }
  if (r->in->unquantized_source) {
    for (const char *const *k = (const char *const[]){"none", "q8_0", "q6_k", "q5_k", "q4_k", NULL};
         *k; k++)
      candidate(r, TL_SET_ISQ, *k);
  }
  if (!is_moe(hp))
    reject(r, TL_SET_MOE_OFFLOAD, "true", "the model has no experts");
  uint32_t layers = hp->n_layer + 1;
  snprintf(buf, sizeof buf, "%u", layers);
  candidate(r, TL_SET_GPU_LAYERS, "0");
  candidate(r, TL_SET_GPU_LAYERS, buf);
}

/* ---- stage: hardware capability ---- */

static void stage_hardware(res *r)
{
  const tl_setting_source S = TL_SETSRC_HARDWARE_CAPABILITY;
  const tl_hw *hw = r->in->hw;
  const tl_cpu *cpu = &hw->cpu;
  char buf[128];

  /* backend */
  candidate(r, TL_SET_BACKEND, "cpu");
  size_t n_nv = count_gpus(hw, TL_GPU_NVIDIA), n_amd = count_gpus(hw, TL_GPU_AMD),
         n_apple = count_gpus(hw, TL_GPU_APPLE);
  if (n_nv) {
    snprintf(buf, sizeof buf, "%zu NVIDIA GPU%s (%s)", n_nv, n_nv > 1 ? "s" : "",
             hw->gpus[0].name);
    propose(r, TL_SET_BACKEND, S, "gpus", "cuda", "%s", buf);
  } else if (n_apple) {
    propose(r, TL_SET_BACKEND, S, "gpus", "metal", "Apple GPU with unified memory");
  } else if (n_amd) {
    propose(r, TL_SET_BACKEND, S, "gpus", "rocm", "AMD GPU (%s)", hw->gpus[0].name);
  } else {
    reject(r, TL_SET_BACKEND, "cuda", "no NVIDIA GPU on this machine");
  }

  /* threads: physical performance cores; decode is memory-bound, so SMT
   * siblings and efficiency cores only add contention. */
  uint32_t perf = cpu->perf_cores ? cpu->perf_cores : cpu->cores;
  if (!perf)
    perf = cpu->threads;
  if (perf) {
    uint32_t decode = perf;
    const char *why = "one thread per physical performance core";
    if (cpu->numa_nodes > 1 && perf / cpu->numa_nodes >= 1) {
      decode = perf / cpu->numa_nodes;
      why = "the performance cores of one NUMA node: decode reads weights from local memory";
    }
    uint32_t batch = perf;
    const char *bwhy = "all physical performance cores: prompt processing is compute-bound";
    /* A small model gives each thread too little work per token: below about
     * 8 MiB of weights per thread, waking and joining threads costs more than
     * they save (measured on stories260K, docs/config.md). */
    const uint64_t per_thread = 8ull << 20;
    uint64_t wb = r->in->model->weight_bytes;
    if (wb) {
      uint64_t cap = wb / per_thread ? wb / per_thread : 1;
      if (decode > cap) {
        decode = (uint32_t)cap;
        why = "the model's weights give each thread under 8 MiB per token: more threads would "
              "cost more in synchronisation than they save";
      }
      if (batch > cap) {
        batch = (uint32_t)cap;
        bwhy = "the model is too small to split further";
      }
    }
    proposef_int(r, TL_SET_THREADS, S, "cpu.perf_cores", decode, why);
    proposef_int(r, TL_SET_THREADS_BATCH, S, "cpu.perf_cores", batch, bwhy);
    if (cpu->threads > perf) {
      snprintf(buf, sizeof buf, "%u", cpu->threads);
      reject(r, TL_SET_THREADS, buf,
             cpu->eff_cores ? "includes efficiency cores and SMT siblings, which slow the "
                              "slowest thread of each step"
                            : "SMT siblings share a core's execution units and memory port");
    }
  }

  /* GPU placement */
  if (n_nv || n_amd || n_apple) {
    proposef_int(r, TL_SET_GPU_LAYERS, S, "gpus", r->hp->n_layer + 1,
                 "every layer and the output head on the GPU");
    propose(r, TL_SET_FLASH_ATTN, S, "gpus", "true",
            "the GPU backend has fused attention: less memory, faster long contexts");
    propose(r, TL_SET_ATTN_PATH, S, "gpus", "flash", "fused attention on the GPU");
  }
  if (hw->n_gpus >= 2) {
    double total = 0;
    for (size_t i = 0; i < hw->n_gpus; i++)
      total += (double)hw->gpus[i].vram_free;
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < hw->n_gpus && total > 0 && off < sizeof buf; i++)
      off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%.3g", i ? "," : "",
                              (double)hw->gpus[i].vram_free / total);
    if (total > 0)
      propose(r, TL_SET_TENSOR_SPLIT, S, "gpus.vram_free", buf,
              "layers split in proportion to free VRAM");
  }
}

/* ---- stage: workload preset ---- */

static uint32_t ctx_for_class(tl_length_class c)
{
  switch (c) {
  case TL_LEN_SHORT:
    return 2048;
  case TL_LEN_MEDIUM:
    return 8192;
  case TL_LEN_LONG:
    return 32768;
  default:
    return 8192;
  }
}

static void stage_workload(res *r)
{
  const tl_setting_source S = TL_SETSRC_WORKLOAD_PRESET;
  const tl_workload *w = &r->c->workload;
  const char *key = w->preset[0] ? w->preset : "workload";
  char why[160];

  /* context from the length classes */
  tl_length_class cls = w->prompt_len > w->output_len ? w->prompt_len : w->output_len;
  uint32_t ctx = ctx_for_class(cls);
  snprintf(why, sizeof why, "%s prompts and %s outputs", tl_length_class_name(w->prompt_len),
           tl_length_class_name(w->output_len));
  if (w->use_case == TL_WORK_LONG_CONTEXT && r->hp->n_ctx_train) {
    ctx = r->hp->n_ctx_train;
    snprintf(why, sizeof why, "long-context use: the model's whole context");
  }
  if (r->hp->n_ctx_train && ctx > r->hp->n_ctx_train) {
    char b[32];
    snprintf(b, sizeof b, "%u", ctx);
    reject(r, TL_SET_CTX_SIZE, b, "above the model's maximum context");
    ctx = r->hp->n_ctx_train;
    snprintf(why, sizeof why, "%s, capped at the model's maximum",
             tl_length_class_name(cls));
  }
  proposef_int(r, TL_SET_CTX_SIZE, S, key, ctx, why);

  /* sequences, batching, prefix reuse */
  if (w->mode == TL_SERVE_SERVER || w->mode == TL_SERVE_BATCH) {
    uint32_t n = w->concurrency ? w->concurrency : 1;
    proposef_int(r, TL_SET_PARALLEL, S, key, n, "one slot per concurrent request");
    propose(r, TL_SET_PREFIX_CACHE, S, key, "true",
            "requests often share a system prompt: reuse its KV cache");
    propose(r, TL_SET_ADMISSION, S, key, "chunked",
            "chunked prefill keeps decoding sequences flowing while a long prompt arrives");
  } else if (w->mode == TL_SERVE_CHAT) {
    propose(r, TL_SET_PREFIX_CACHE, S, key, "true",
            "each chat turn repeats the conversation so far: reuse its KV cache");
  }
  if (w->priority == TL_PRIO_THROUGHPUT && backend_of(r) != TL__BACKEND_CPU) {
    propose(r, TL_SET_BATCH_SIZE, S, key, "4096", "throughput: larger prompt batches");
    propose(r, TL_SET_UBATCH_SIZE, S, key, "1024",
            "throughput: larger micro-batches use the GPU's matrix units better");
  }

  /* sampling per use case (tailor's defaults; the reasoning values follow the
   * Qwen3 model card's thinking-mode recommendation: T 0.6, top-p 0.95, top-k 20, min-p 0) */
  struct {
    const char *t, *k, *p, *mp;
  } s = {"0.8", "40", "0.95", "0.05"};
  switch (w->use_case) {
  case TL_WORK_CODING:
    s.t = "0.2";
    break;
  case TL_WORK_REASONING:
    s.t = "0.6";
    s.k = "20";
    s.mp = "0";
    break;
  case TL_WORK_CHAT:
    s.t = "0.7";
    break;
  case TL_WORK_QUALITY:
    s.t = "0.7";
    break;
  default:
    break;
  }
  snprintf(why, sizeof why, "sampling for %s use", tl_workload_use_name(w->use_case));
  propose(r, TL_SET_TEMPERATURE, S, key, s.t, "%s", why);
  propose(r, TL_SET_TOP_K, S, key, s.k, "%s", why);
  propose(r, TL_SET_TOP_P, S, key, s.p, "%s", why);
  propose(r, TL_SET_MIN_P, S, key, s.mp, "%s", why);

  /* the quantization a catalog model starts from, or the ISQ target */
  const char *q = w->use_case == TL_WORK_QUALITY ? "q8_0" : "q4_k_m";
  if (r->in->catalog_source)
    propose(r, TL_SET_QUANT, S, key, q,
            w->use_case == TL_WORK_QUALITY ? "quality first: near-lossless 8-bit"
                                          : "4-bit K-quant: the usual balance of size and quality");
  if (r->in->unquantized_source) {
    const char *isq = w->use_case == TL_WORK_QUALITY ? "q8_0" : "q4_k";
    propose(r, TL_SET_ISQ, S, key, isq,
            "unquantized weights: quantize while loading (%s use)", tl_workload_use_name(w->use_case));
  }
}

/* ---- stage: compiled features ---- */

static void stage_compiled(res *r)
{
  const tl_setting_source S = TL_SETSRC_COMPILED_FEATURE;
  tl__backend b = backend_of(r);
  const tl__backend_caps *caps = tl__backend_caps_get(b);
  if (!backend_available(r, caps)) {
    char was[16];
    snprintf(was, sizeof was, "%s", caps->name);
    reject(r, TL_SET_BACKEND, was, "this build has no %s backend", was);
    propose(r, TL_SET_BACKEND, S, "build", "cpu", "this build has no %s backend", was);
    propose(r, TL_SET_GPU_LAYERS, S, "build", "0", "no GPU backend in this build");
    reject(r, TL_SET_FLASH_ATTN, "true", "the CPU engine has no fused attention path");
    propose(r, TL_SET_FLASH_ATTN, S, "build", "false",
            "the CPU engine has no fused attention path");
    propose(r, TL_SET_ATTN_PATH, S, "build", "materialized", "the CPU engine's attention path");
    propose(r, TL_SET_TENSOR_SPLIT, S, "build", "", "no GPU backend in this build");
    dec(r, TL_SET_TENSOR_SPLIT)->set = false;
  }
  if (!tl__backend_caps_get(backend_of(r))->kv_q4_0)
    reject(r, TL_SET_KV_TYPE, "q4_0", "the %s backend stores no q4_0 KV cache",
           tl__backend_caps_get(backend_of(r))->name);
}

/* ---- stage: overrides ---- */

static tl_status stage_overrides(res *r, tl_error *err)
{
  for (int src = TL_SETSRC_CONFIG_FILE; src <= TL_SETSRC_CLI; src++) {
    for (size_t i = 0; i < r->in->n_overrides; i++) {
      const tl_override *o = &r->in->overrides[i];
      if ((int)o->source != src)
        continue;
      if ((unsigned)o->id >= TL_SET_COUNT)
        return tl__error_set(err, TL_ECONFIG, "%s: unknown setting", o->source_key);
      char canon[128];
      tl_status st = tl__setting_normalise(o->id, o->value, canon, sizeof canon, o->source_key, err);
      if (st)
        return st;
      propose(r, o->id, o->source, o->source_key, canon, "set by %s",
              tl_setting_source_name(o->source));
      dec(r, o->id)->pinned = true;
    }
  }
  return TL_OK;
}

/* ---- consistency: settings that follow a user's choice of another ---- */

static void stage_consistency(res *r)
{
  const tl_setting_source S = TL_SETSRC_COMPILED_FEATURE;
  tl__backend b = backend_of(r);
  const tl__backend_caps *caps = tl__backend_caps_get(b);
  if (b == TL__BACKEND_CPU) {
    if (!pinned(r, TL_SET_GPU_LAYERS) && ival(r, TL_SET_GPU_LAYERS) != 0)
      propose(r, TL_SET_GPU_LAYERS, S, "backend", "0", "the cpu backend places no layer on a GPU");
    if (!pinned(r, TL_SET_TENSOR_SPLIT) && dec(r, TL_SET_TENSOR_SPLIT)->set) {
      propose(r, TL_SET_TENSOR_SPLIT, S, "backend", "", "the cpu backend uses no GPU");
      dec(r, TL_SET_TENSOR_SPLIT)->set = false;
    }
  }
  if (!pinned(r, TL_SET_FLASH_ATTN) && bval(r, TL_SET_FLASH_ATTN) && !caps->flash_attn)
    propose(r, TL_SET_FLASH_ATTN, S, "backend", "false", "the %s backend has no fused attention",
            caps->name);
  if (!pinned(r, TL_SET_ATTN_PATH)) {
    const char *path = bval(r, TL_SET_FLASH_ATTN) ? "flash" : "materialized";
    if (strcmp(val(r, TL_SET_ATTN_PATH), path))
      propose(r, TL_SET_ATTN_PATH, S, "flash_attn", path,
              bval(r, TL_SET_FLASH_ATTN) ? "fused attention is on" : "fused attention is off");
  }
}

/* ---- validation ---- */

static tl_status invalid(res *r, tl_error *err, tl_setting_id id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static tl_status invalid(res *r, tl_error *err, tl_setting_id id, const char *fmt, ...)
{
  char why[320];
  va_list ap;
  va_start(ap, fmt);
  vfmt(why, sizeof why, fmt, ap);
  va_end(ap);
  const tl__decision *d = &r->c->d[id];
  const char *where = d->source_key[0] ? d->source_key : tl_setting_source_name(d->source);
  return tl__error_set(err, TL_ECONFIG, "%s (%s): %s", tl_setting_key(id), where, why);
}

static tl_status validate(res *r, tl_error *err)
{
  const tl_hw *hw = r->in->hw;
  const tl_hparams *hp = r->hp;
  tl__backend b = backend_of(r);
  const tl__backend_caps *caps = tl__backend_caps_get(b);

  if (!backend_available(r, caps))
    return invalid(r, err, TL_SET_BACKEND,
                   "'%s' is not compiled into this build (it needs the %s toolkit at build time)",
                   caps->name, b == TL__BACKEND_CUDA ? "CUDA" : caps->name);
  if (b == TL__BACKEND_CUDA && !count_gpus(hw, TL_GPU_NVIDIA))
    return invalid(r, err, TL_SET_BACKEND, "'cuda' needs an NVIDIA GPU; this machine has none");
  if (b == TL__BACKEND_ROCM && !count_gpus(hw, TL_GPU_AMD))
    return invalid(r, err, TL_SET_BACKEND, "'rocm' needs an AMD GPU; this machine has none");
  if (b == TL__BACKEND_METAL && !count_gpus(hw, TL_GPU_APPLE))
    return invalid(r, err, TL_SET_BACKEND, "'metal' needs an Apple GPU; this machine has none");

  long long ngl = ival(r, TL_SET_GPU_LAYERS);
  if (ngl > 0 && hw->n_gpus == 0)
    return invalid(r, err, TL_SET_GPU_LAYERS, "%lld layers requested on a GPU, but this machine "
                   "has no GPU", ngl);
  if (ngl > 0 && b == TL__BACKEND_CPU)
    return invalid(r, err, TL_SET_GPU_LAYERS, "%lld GPU layers need a GPU backend, but the "
                   "backend is cpu", ngl);
  if (ngl > (long long)hp->n_layer + 1)
    return invalid(r, err, TL_SET_GPU_LAYERS, "%lld is more than the model's %u layers + output",
                   ngl, hp->n_layer);

  if (dec(r, TL_SET_TENSOR_SPLIT)->set && dec(r, TL_SET_TENSOR_SPLIT)->pinned) {
    size_t n = 1;
    for (const char *p = val(r, TL_SET_TENSOR_SPLIT); *p; p++)
      n += *p == ',';
    if (n != hw->n_gpus)
      return invalid(r, err, TL_SET_TENSOR_SPLIT, "%zu shares given for %zu GPU%s", n, hw->n_gpus,
                     hw->n_gpus == 1 ? "" : "s");
  }

  if (bval(r, TL_SET_MOE_OFFLOAD) && !is_moe(hp))
    return invalid(r, err, TL_SET_MOE_OFFLOAD, "the model has no experts to offload");
  if (bval(r, TL_SET_MOE_OFFLOAD) && hw->n_gpus == 0)
    return invalid(r, err, TL_SET_MOE_OFFLOAD, "expert offload keeps experts off a GPU, but "
                   "there is no GPU");

  if (bval(r, TL_SET_FLASH_ATTN) && !caps->flash_attn)
    return invalid(r, err, TL_SET_FLASH_ATTN, "the %s backend has no fused attention path",
                   caps->name);
  const char *kv = val(r, TL_SET_KV_TYPE);
  bool kv_ok = (!strcmp(kv, "f16") && caps->kv_f16) || (!strcmp(kv, "q8_0") && caps->kv_q8_0) ||
               (!strcmp(kv, "q4_0") && caps->kv_q4_0);
  if (!kv_ok)
    return invalid(r, err, TL_SET_KV_TYPE, "the %s backend cannot store a %s KV cache", caps->name,
                   kv);
  if (strcmp(kv, "f16") && caps->quantized_kv_needs_flash_attn && !bval(r, TL_SET_FLASH_ATTN))
    return invalid(r, err, TL_SET_KV_TYPE, "a %s KV cache on %s needs flash_attn on", kv,
                   caps->name);
  if (!strcmp(val(r, TL_SET_ATTN_PATH), "flash") && !bval(r, TL_SET_FLASH_ATTN))
    return invalid(r, err, TL_SET_ATTN_PATH, "the flash path needs flash_attn on");
  if (!strstr(caps->attn_paths, val(r, TL_SET_ATTN_PATH)))
    return invalid(r, err, TL_SET_ATTN_PATH,
                   "the %s backend has no '%s' attention path (it has: %s)", caps->name,
                   val(r, TL_SET_ATTN_PATH), caps->attn_paths);

  long long ctx = ival(r, TL_SET_CTX_SIZE);
  if (hp->n_ctx_train && ctx > (long long)hp->n_ctx_train)
    return invalid(r, err, TL_SET_CTX_SIZE, "%lld is above the model's maximum context of %u",
                   ctx, hp->n_ctx_train);
  if (ival(r, TL_SET_UBATCH_SIZE) > ival(r, TL_SET_BATCH_SIZE))
    return invalid(r, err, TL_SET_UBATCH_SIZE, "micro-batch %lld is larger than the batch %lld",
                   ival(r, TL_SET_UBATCH_SIZE), ival(r, TL_SET_BATCH_SIZE));
  if (ival(r, TL_SET_MAX_BATCHED_TOKENS) < ival(r, TL_SET_PARALLEL) &&
      (dec(r, TL_SET_MAX_BATCHED_TOKENS)->pinned || dec(r, TL_SET_PARALLEL)->pinned))
    return invalid(r, err, TL_SET_MAX_BATCHED_TOKENS,
                   "%lld tokens per step cannot advance %lld sequences", 
                   ival(r, TL_SET_MAX_BATCHED_TOKENS), ival(r, TL_SET_PARALLEL));

  if (strcmp(val(r, TL_SET_ISQ), "none") && !r->in->unquantized_source)
    return invalid(r, err, TL_SET_ISQ, "the source is already quantized; in-situ quantization "
                   "applies to F16/BF16/F32 weights only");
  if (strcmp(val(r, TL_SET_QUANT), "file") && !r->in->catalog_source &&
      dec(r, TL_SET_QUANT)->pinned)
    return invalid(r, err, TL_SET_QUANT, "the source's weights are fixed; choose another file, "
                   "use --isq for unquantized weights, or convert with 'tailor convert'");
  if (!strcmp(val(r, TL_SET_QUANT), "file") && r->in->catalog_source)
    return invalid(r, err, TL_SET_QUANT, "a catalog model has no file: name a mixture such as "
                   "q4_k_m");
  return TL_OK;
}

/* ---- memory ---- */

static const char *const quant_ladder[] = {"f16",    "q8_0",   "q6_k", "q5_k_m",
                                           "q4_k_m", "q3_k_m", NULL};
static const char *const isq_ladder[] = {"none", "q8_0", "q6_k", "q5_k", "q4_k", NULL};

static bool ftype_of(const char *q, tl_ftype *out)
{
  static const struct {
    const char *name;
    tl_ftype ft;
  } map[] = {{"f32", TL_FTYPE_ALL_F32}, {"f16", TL_FTYPE_F16},       {"bf16", TL_FTYPE_BF16},
             {"q8_0", TL_FTYPE_Q8_0},   {"q6_k", TL_FTYPE_Q6_K},     {"q5_k_m", TL_FTYPE_Q5_K_M},
             {"q5_k_s", TL_FTYPE_Q5_K_S}, {"q4_k_m", TL_FTYPE_Q4_K_M}, {"q4_k_s", TL_FTYPE_Q4_K_S},
             {"q4_0", TL_FTYPE_Q4_0},   {"q3_k_l", TL_FTYPE_Q3_K_L}, {"q3_k_m", TL_FTYPE_Q3_K_M},
             {"q3_k_s", TL_FTYPE_Q3_K_S}, {"q2_k", TL_FTYPE_Q2_K},   {"iq4_xs", TL_FTYPE_IQ4_XS},
             /* ISQ targets: the K-quant per-tensor type as the mixture's main type */
             {"q5_k", TL_FTYPE_Q5_K_S}, {"q4_k", TL_FTYPE_Q4_K_S}};
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (!strcmp(map[i].name, q)) {
      *out = map[i].ft;
      return true;
    }
  return false;
}

static tl_qtype kv_qtype(const char *s)
{
  if (!strcmp(s, "q8_0"))
    return TL_QTYPE_Q8_0;
  if (!strcmp(s, "q4_0"))
    return TL_QTYPE_Q4_0;
  return TL_QTYPE_F16;
}

static void make_probe(res *r, tl_config_probe *p)
{
  memset(p, 0, sizeof *p);
  const char *q = r->in->unquantized_source ? val(r, TL_SET_ISQ) : val(r, TL_SET_QUANT);
  p->quant_set = strcmp(q, "file") && strcmp(q, "none") && ftype_of(q, &p->quant);
  p->gpu_layers = (uint32_t)ival(r, TL_SET_GPU_LAYERS);
  p->moe_offload = bval(r, TL_SET_MOE_OFFLOAD);
  p->ctx_size = (uint32_t)ival(r, TL_SET_CTX_SIZE);
  p->parallel = (uint32_t)ival(r, TL_SET_PARALLEL);
  p->kv_type = kv_qtype(val(r, TL_SET_KV_TYPE));
  p->ubatch = (uint32_t)ival(r, TL_SET_UBATCH_SIZE);
  p->flash_attn = bval(r, TL_SET_FLASH_ATTN);
}

static tl_status check(res *r, tl_config_fit *fit, tl_error *err)
{
  tl_config_probe p;
  make_probe(r, &p);
  memset(fit, 0, sizeof *fit);
  tl_status st = r->in->fit(&p, fit, r->in->fit_ud);
  if (st)
    return tl__error_set(err, st, "config: the memory estimate failed (%s)", tl_status_str(st));
  return TL_OK;
}

static void describe_need(const tl_config_fit *f, char *buf, size_t cap)
{
  if (f->required_gpu > f->available_gpu && f->available_gpu)
    snprintf(buf, cap, "needs %.2f GiB of GPU memory, %.2f GiB free", f->required_gpu / GIB,
             f->available_gpu / GIB);
  else
    snprintf(buf, cap, "needs %.2f GiB of RAM, %.2f GiB usable", f->required_host / GIB,
             f->available_host / GIB);
}

static tl_status stage_memory(res *r, tl_error *err)
{
  const tl_setting_source S = TL_SETSRC_MEMORY_PROFILE;
  tl_config_fit fit;
  char need[160];
  tl_status st = check(r, &fit, err);
  if (st)
    return st;

  /* 1. quantization */
  bool isq = r->in->unquantized_source;
  tl_setting_id qid = isq ? TL_SET_ISQ : TL_SET_QUANT;
  if (!fit.fits && (r->in->catalog_source || isq) && !pinned(r, qid)) {
    const char *const *ladder = isq ? isq_ladder : quant_ladder;
    int i = 0;
    while (ladder[i] && strcmp(ladder[i], val(r, qid)))
      i++;
    while (!fit.fits && ladder[i] && ladder[i + 1]) {
      describe_need(&fit, need, sizeof need);
      reject(r, qid, ladder[i], "%s", need);
      i++;
      propose(r, qid, S, "memory", ladder[i], "stepped down: %s at the previous quantization",
              need);
      if ((st = check(r, &fit, err)))
        return st;
    }
  }

  /* 2. context: first a q8_0 KV cache (half the bytes), then halve */
  if (!fit.fits && !pinned(r, TL_SET_CTX_SIZE)) {
    const tl__backend_caps *caps = tl__backend_caps_get(backend_of(r));
    if (!pinned(r, TL_SET_KV_TYPE) && !strcmp(val(r, TL_SET_KV_TYPE), "f16") && caps->kv_q8_0 &&
        (!caps->quantized_kv_needs_flash_attn || bval(r, TL_SET_FLASH_ATTN))) {
      describe_need(&fit, need, sizeof need);
      reject(r, TL_SET_KV_TYPE, "f16", "%s", need);
      propose(r, TL_SET_KV_TYPE, S, "memory", "q8_0",
              "stepped down: a q8_0 KV cache halves its size at a small accuracy cost");
      if ((st = check(r, &fit, err)))
        return st;
    }
    long long floor = r->hp->n_ctx_train && r->hp->n_ctx_train < 2048 ? r->hp->n_ctx_train : 2048;
    while (!fit.fits && ival(r, TL_SET_CTX_SIZE) / 2 >= floor) {
      describe_need(&fit, need, sizeof need);
      reject(r, TL_SET_CTX_SIZE, val(r, TL_SET_CTX_SIZE), "%s", need);
      proposef_int(r, TL_SET_CTX_SIZE, S, "memory", ival(r, TL_SET_CTX_SIZE) / 2,
                   "stepped down: halved the context to fit");
      if ((st = check(r, &fit, err)))
        return st;
    }
  }

  /* 3. offload: experts first (MoE), then layers */
  if (!fit.fits && r->in->hw->n_gpus) {
    if (is_moe(r->hp) && !pinned(r, TL_SET_MOE_OFFLOAD) && !bval(r, TL_SET_MOE_OFFLOAD)) {
      describe_need(&fit, need, sizeof need);
      reject(r, TL_SET_MOE_OFFLOAD, "false", "%s", need);
      propose(r, TL_SET_MOE_OFFLOAD, S, "memory", "true",
              "stepped down: expert weights to system RAM, attention and shared parts on GPU");
      if ((st = check(r, &fit, err)))
        return st;
    }
    if (!fit.fits && !pinned(r, TL_SET_GPU_LAYERS) && ival(r, TL_SET_GPU_LAYERS) > 0) {
      describe_need(&fit, need, sizeof need);
      long long want = fit.max_gpu_layers;
      if (want >= ival(r, TL_SET_GPU_LAYERS))
        want = ival(r, TL_SET_GPU_LAYERS) - 1;
      reject(r, TL_SET_GPU_LAYERS, val(r, TL_SET_GPU_LAYERS), "%s", need);
      proposef_int(r, TL_SET_GPU_LAYERS, S, "memory", want < 0 ? 0 : want,
                   "stepped down: the layers that fit on the GPU; the rest run on the CPU");
      if ((st = check(r, &fit, err)))
        return st;
    }
  }
  r->c->fit_checked = true;
  r->c->fit = fit;
  if (!fit.fits) {
    describe_need(&fit, need, sizeof need);
    return tl__error_set(err, TL_ENOFIT,
                         "config: the model does not fit this machine at any setting the "
                         "resolver may change: %s (choose a smaller model or quantization)",
                         need);
  }
  return TL_OK;
}

/* Settings derived from others once those are final. */
static void stage_derived(res *r)
{
  const tl_setting_source S = TL_SETSRC_MEMORY_PROFILE;
  long long ctx = ival(r, TL_SET_CTX_SIZE), np = ival(r, TL_SET_PARALLEL),
            bs = ival(r, TL_SET_KV_BLOCK_SIZE);
  if (!pinned(r, TL_SET_KV_BLOCKS)) {
    long long blocks = (ctx * np + bs - 1) / bs;
    proposef_int(r, TL_SET_KV_BLOCKS, S, "ctx_size*parallel", blocks,
                 "enough blocks for every sequence's whole context");
  }
  if (!pinned(r, TL_SET_MAX_BATCHED_TOKENS)) {
    long long ub = ival(r, TL_SET_UBATCH_SIZE);
    long long m = ub > np ? ub : np;
    if (m != ival(r, TL_SET_MAX_BATCHED_TOKENS))
      proposef_int(r, TL_SET_MAX_BATCHED_TOKENS, S, "ubatch_size", m,
                   "one micro-batch per step, at least one token per sequence");
  }
}

static tl_status validate_capacity(res *r, tl_error *err)
{
  long long cap = ival(r, TL_SET_KV_BLOCKS) * ival(r, TL_SET_KV_BLOCK_SIZE);
  if (cap < ival(r, TL_SET_CTX_SIZE))
    return invalid(r, err, TL_SET_KV_BLOCKS,
                   "KV capacity of %lld tokens (%lld blocks x %lld) is smaller than the "
                   "requested context of %lld",
                   cap, ival(r, TL_SET_KV_BLOCKS), ival(r, TL_SET_KV_BLOCK_SIZE),
                   ival(r, TL_SET_CTX_SIZE));
  if (ival(r, TL_SET_MAX_BATCHED_TOKENS) < ival(r, TL_SET_PARALLEL))
    return invalid(r, err, TL_SET_MAX_BATCHED_TOKENS,
                   "%lld tokens per step cannot advance %lld sequences",
                   ival(r, TL_SET_MAX_BATCHED_TOKENS), ival(r, TL_SET_PARALLEL));
  return TL_OK;
}

tl_status tl__config_hash_compute(tl_config *c);

tl_status tl_config_resolve(const tl_config_inputs *in, tl_config **out, tl_error *err)
{
  if (!in || !in->model || !in->hw || !out)
    return tl__error_set(err, TL_EINVAL, "config: model and hardware are required");
  tl_config *c = tl__calloc(1, sizeof *c);
  if (!c)
    return tl__error_set(err, TL_ENOMEM, "config: out of memory");
  res r = {c, in, &in->model->hp};
  c->workload = in->workload;
  if (!c->workload.concurrency)
    c->workload.concurrency = 1;
  const tl_model_desc *m = in->model;
  snprintf(c->model_name, sizeof c->model_name, "%s", m->name);
  snprintf(c->model_source, sizeof c->model_source, "%s", m->source);
  snprintf(c->model_arch, sizeof c->model_arch, "%s", m->hp.arch_name);
  c->model_n_layer = m->hp.n_layer;
  c->model_ctx_train = m->hp.n_ctx_train;
  c->model_params = m->n_params;
  c->model_moe = m->hp.n_expert > 0;
  snprintf(c->hw_platform, sizeof c->hw_platform, "%s", in->hw->platform_id);
  c->hw_cores = in->hw->cpu.cores;
  c->hw_threads = in->hw->cpu.threads;
  c->hw_gpus = in->hw->n_gpus;
  for (size_t i = 0; i < in->hw->n_gpus; i++)
    c->hw_vram_free += in->hw->gpus[i].vram_free;
  c->hw_ram_usable = in->hw->mem.usable;

  stage_defaults(&r);
  stage_model(&r);
  stage_hardware(&r);
  stage_workload(&r);
  stage_compiled(&r);
  tl_status st = stage_overrides(&r, err);
  if (!st) {
    stage_consistency(&r);
    st = validate(&r, err);
  }
  if (!st && in->fit)
    st = stage_memory(&r, err);
  if (!st) {
    stage_derived(&r);
    st = validate_capacity(&r, err);
  }
  if (!st)
    st = tl__config_hash_compute(c);
  if (st) {
    if (st == TL_ENOMEM)
      tl__error_set(err, TL_ENOMEM, "config: out of memory");
    tl__free(c);
    return st;
  }
  *out = c;
  return TL_OK;
}

void tl_config_free(tl_config *c) { tl__free(c); }

const char *tl_config_value(const tl_config *c, tl_setting_id id)
{
  if ((unsigned)id >= TL_SET_COUNT || !c->d[id].set)
    return "";
  return c->d[id].value;
}

tl_setting_source tl_config_source(const tl_config *c, tl_setting_id id)
{
  return (unsigned)id < TL_SET_COUNT ? c->d[id].source : TL_SETSRC_DEFAULT;
}

const char *tl_config_source_key(const tl_config *c, tl_setting_id id)
{
  return (unsigned)id < TL_SET_COUNT ? c->d[id].source_key : "";
}

bool tl_config_int(const tl_config *c, tl_setting_id id, int64_t *out)
{
  const tl__setting_def *d = tl__setting_def_get(id);
  if (!d || d->type != TL__VT_INT || !c->d[id].set)
    return false;
  long long v;
  if (sscanf(c->d[id].value, "%lld", &v) != 1)
    return false;
  *out = v;
  return true;
}

bool tl_config_bool(const tl_config *c, tl_setting_id id, bool *out)
{
  const tl__setting_def *d = tl__setting_def_get(id);
  if (!d || d->type != TL__VT_BOOL || !c->d[id].set)
    return false;
  *out = !strcmp(c->d[id].value, "true");
  return true;
}

bool tl_config_double(const tl_config *c, tl_setting_id id, double *out)
{
  const tl__setting_def *d = tl__setting_def_get(id);
  if (!d || (d->type != TL__VT_FLOAT && d->type != TL__VT_INT) || !c->d[id].set)
    return false;
  double v;
  if (sscanf(c->d[id].value, "%lf", &v) != 1)
    return false;
  *out = v;
  return true;
}
