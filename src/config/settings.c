/* The table of settings: key, environment variable, command-line flags, value
 * type and range, what each affects; lookup by any of its names; and the
 * parser that turns an override's text into a canonical value or an error
 * naming the key and the reason. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error-int.h"
#include "config/internal.h"

static const char *const backends[] = {"cpu", "cuda", "metal", "rocm", NULL};
static const char *const quants[] = {"f32",    "f16",    "bf16",   "q8_0",   "q6_k",
                                     "q5_k_m", "q5_k_s", "q4_k_m", "q4_k_s", "q4_0",
                                     "q3_k_l", "q3_k_m", "q3_k_s", "q2_k",   "iq4_xs",
                                     "file",   NULL};
static const char *const isq_types[] = {"none", "q8_0", "q6_k", "q5_k", "q4_k", "q4_0", NULL};
static const char *const kv_types[] = {"f16", "q8_0", "q4_0", NULL};
static const char *const admissions[] = {"prefill_first", "chunked", NULL};
static const char *const attn_paths[] = {"materialized", "flash", NULL};

#define A_PERF TL_AFFECTS_PERFORMANCE
#define A_MEM TL_AFFECTS_MEMORY
#define A_CORR TL_AFFECTS_CORRECTNESS

static const tl__setting_def defs[TL_SET_COUNT] = {
    {TL_SET_BACKEND, "backend", "TAILOR_BACKEND", "--backend", NULL, TL__VT_ENUM, 0, 0, backends,
     A_PERF, "compute backend that runs the model"},
    {TL_SET_QUANT, "quant", "TAILOR_QUANT", "--quant", NULL, TL__VT_ENUM, 0, 0, quants,
     A_MEM | A_PERF | A_CORR, "weight quantization mixture (\"file\": as the GGUF file has it)"},
    {TL_SET_ISQ, "isq", "TAILOR_ISQ", "--isq", NULL, TL__VT_ENUM, 0, 0, isq_types,
     A_MEM | A_PERF | A_CORR, "quantize unquantized weights while loading (in-situ quantization)"},
    {TL_SET_GPU_LAYERS, "gpu_layers", "TAILOR_GPU_LAYERS", "--gpu-layers", "-ngl", TL__VT_INT, 0,
     1024, NULL, A_PERF | A_MEM, "transformer layers placed on GPUs (the rest run on the CPU)"},
    {TL_SET_TENSOR_SPLIT, "tensor_split", "TAILOR_TENSOR_SPLIT", "--tensor-split", "-ts",
     TL__VT_LIST, 0, 0, NULL, A_MEM, "share of the layers per GPU, comma-separated"},
    {TL_SET_MOE_OFFLOAD, "moe_offload", "TAILOR_MOE_OFFLOAD", "--cpu-moe", NULL, TL__VT_BOOL, 0, 0,
     NULL, A_PERF | A_MEM, "keep MoE expert weights in system RAM, the rest on the GPU"},
    {TL_SET_THREADS, "threads", "TAILOR_THREADS", "--threads", "-t", TL__VT_INT, 1, 1024, NULL,
     A_PERF, "CPU threads for token generation"},
    {TL_SET_THREADS_BATCH, "threads_batch", "TAILOR_THREADS_BATCH", "--threads-batch", "-tb",
     TL__VT_INT, 1, 1024, NULL, A_PERF, "CPU threads for prompt processing"},
    {TL_SET_CTX_SIZE, "ctx_size", "TAILOR_CTX_SIZE", "--ctx-size", "-c", TL__VT_INT, 16, 16777216,
     NULL, A_MEM | A_CORR, "context length per sequence, in tokens"},
    {TL_SET_BATCH_SIZE, "batch_size", "TAILOR_BATCH_SIZE", "--batch-size", "-b", TL__VT_INT, 1,
     1048576, NULL, A_PERF | A_MEM, "largest number of prompt tokens submitted at once"},
    {TL_SET_UBATCH_SIZE, "ubatch_size", "TAILOR_UBATCH_SIZE", "--ubatch-size", "-ub", TL__VT_INT, 1,
     65536, NULL, A_PERF | A_MEM, "tokens per forward pass (micro-batch); sizes the compute buffers"},
    {TL_SET_KV_TYPE, "kv_type", "TAILOR_KV_TYPE", "--kv-type", "-ctk", TL__VT_ENUM, 0, 0, kv_types,
     A_MEM | A_CORR, "element type of the KV cache"},
    {TL_SET_FLASH_ATTN, "flash_attn", "TAILOR_FLASH_ATTN", "--flash-attn", "-fa", TL__VT_BOOL, 0, 0,
     NULL, A_PERF | A_MEM, "fused attention that never materialises the score matrix"},
    {TL_SET_MMAP, "mmap", "TAILOR_MMAP", "--mmap", NULL, TL__VT_BOOL, 0, 0, NULL, A_MEM,
     "memory-map the weights instead of reading them into allocated memory"},
    {TL_SET_MLOCK, "mlock", "TAILOR_MLOCK", "--mlock", NULL, TL__VT_BOOL, 0, 0, NULL, A_MEM | A_PERF,
     "lock the weights in RAM so they are never paged out"},
    {TL_SET_PARALLEL, "parallel", "TAILOR_PARALLEL", "--parallel", "-np", TL__VT_INT, 1, 1024, NULL,
     A_MEM | A_PERF, "sequences decoded together (server slots)"},
    {TL_SET_KV_BLOCK_SIZE, "kv_block_size", "TAILOR_KV_BLOCK_SIZE", "--kv-block-size", NULL,
     TL__VT_INT, 1, 1024, NULL, A_MEM, "tokens per KV-cache block"},
    {TL_SET_KV_BLOCKS, "kv_blocks", "TAILOR_KV_BLOCKS", "--kv-blocks", NULL, TL__VT_INT, 1,
     67108864, NULL, A_MEM, "KV-cache blocks shared by all sequences"},
    {TL_SET_MAX_BATCHED_TOKENS, "max_batched_tokens", "TAILOR_MAX_BATCHED_TOKENS",
     "--max-batched-tokens", NULL, TL__VT_INT, 1, 1048576, NULL, A_PERF | A_MEM,
     "most tokens (prefill chunks + decodes) in one scheduler step"},
    {TL_SET_PREFIX_CACHE, "prefix_cache", "TAILOR_PREFIX_CACHE", "--prefix-cache", NULL,
     TL__VT_BOOL, 0, 0, NULL, A_PERF, "reuse the KV cache of identical prompt prefixes"},
    {TL_SET_ADMISSION, "admission", "TAILOR_ADMISSION", "--admission", NULL, TL__VT_ENUM, 0, 0,
     admissions, A_PERF, "scheduler policy for new prompts: prefill first, or chunked prefill"},
    {TL_SET_ATTN_PATH, "attn_path", "TAILOR_ATTN_PATH", "--attn-path", NULL, TL__VT_ENUM, 0, 0,
     attn_paths, A_PERF, "attention kernel path of the engine"},
    {TL_SET_TEMPERATURE, "temperature", "TAILOR_TEMPERATURE", "--temp", NULL, TL__VT_FLOAT, 0, 5,
     NULL, A_CORR, "sampling temperature (0: greedy)"},
    {TL_SET_TOP_K, "top_k", "TAILOR_TOP_K", "--top-k", NULL, TL__VT_INT, 0, 1000000, NULL, A_CORR,
     "sample from the k most likely tokens (0: all)"},
    {TL_SET_TOP_P, "top_p", "TAILOR_TOP_P", "--top-p", NULL, TL__VT_FLOAT, 0, 1, NULL, A_CORR,
     "nucleus sampling: smallest set with this probability mass (1: off)"},
    {TL_SET_MIN_P, "min_p", "TAILOR_MIN_P", "--min-p", NULL, TL__VT_FLOAT, 0, 1, NULL, A_CORR,
     "drop tokens below this fraction of the top probability (0: off)"},
    {TL_SET_REPEAT_PENALTY, "repeat_penalty", "TAILOR_REPEAT_PENALTY", "--repeat-penalty", NULL,
     TL__VT_FLOAT, 0.01, 10, NULL, A_CORR, "penalty for recently seen tokens (1: off)"},
};

const tl__setting_def *tl__setting_def_get(tl_setting_id id)
{
  if ((unsigned)id >= TL_SET_COUNT)
    return NULL;
  return &defs[id];
}

const char *tl_setting_key(tl_setting_id id) { return defs[id].key; }
const char *tl_setting_env(tl_setting_id id) { return defs[id].env; }
const char *tl_setting_cli(tl_setting_id id) { return defs[id].cli; }
unsigned tl_setting_affects(tl_setting_id id) { return defs[id].affects; }
const char *tl_setting_help(tl_setting_id id) { return defs[id].help; }
bool tl_setting_is_bool(tl_setting_id id) { return defs[id].type == TL__VT_BOOL; }

bool tl_setting_lookup(const char *name, tl_setting_id *out)
{
  for (int i = 0; i < TL_SET_COUNT; i++) {
    const tl__setting_def *d = &defs[i];
    if (!strcmp(name, d->key) || !strcmp(name, d->env) || !strcmp(name, d->cli) ||
        (d->cli_short && !strcmp(name, d->cli_short))) {
      *out = d->id;
      return true;
    }
  }
  return false;
}

const char *tl_setting_source_name(tl_setting_source s)
{
  static const char *const names[TL_SETSRC_COUNT] = {
      "default",          "model_metadata", "hardware_capability",
      "memory_profile",   "workload_preset", "compiled_feature",
      "config_file",      "env",            "cli"};
  if ((unsigned)s >= TL_SETSRC_COUNT)
    return "unknown";
  return names[s];
}

static tl_status bad(tl_error *err, const tl__setting_def *d, const char *source_key,
                     const char *text, const char *why)
{
  return tl__error_set(err, TL_ECONFIG, "%s (%s): '%s' %s", d->key, source_key, text, why);
}

/* A decimal integer with optional sign and nothing else. */
static bool parse_int(const char *s, long long *out)
{
  const char *p = s;
  if (*p == '+' || *p == '-')
    p++;
  if (!isdigit((unsigned char)*p))
    return false;
  for (const char *q = p; *q; q++)
    if (!isdigit((unsigned char)*q))
      return false;
  errno = 0;
  char *end;
  long long v = strtoll(s, &end, 10);
  if (errno || *end)
    return false;
  *out = v;
  return true;
}

static bool parse_float(const char *s, double *out)
{
  if (!*s || isspace((unsigned char)*s))
    return false;
  errno = 0;
  char *end;
  double v = strtod(s, &end);
  if (errno || *end || !isfinite(v))
    return false;
  /* no hex floats, no "inf"/"nan" */
  for (const char *q = s; *q; q++)
    if (!(isdigit((unsigned char)*q) || *q == '.' || *q == '-' || *q == '+' || *q == 'e' ||
          *q == 'E'))
      return false;
  *out = v;
  return true;
}

static bool parse_bool(const char *s, bool *out)
{
  static const char *const yes[] = {"true", "on", "yes", "1", "enabled", NULL};
  static const char *const no[] = {"false", "off", "no", "0", "disabled", NULL};
  for (int i = 0; yes[i]; i++)
    if (!strcasecmp(s, yes[i])) {
      *out = true;
      return true;
    }
  for (int i = 0; no[i]; i++)
    if (!strcasecmp(s, no[i])) {
      *out = false;
      return true;
    }
  return false;
}

tl_status tl__setting_normalise(tl_setting_id id, const char *text, char *canon, size_t cap,
                                const char *source_key, tl_error *err)
{
  const tl__setting_def *d = tl__setting_def_get(id);
  if (!d)
    return tl__error_set(err, TL_EINVAL, "config: no setting with id %d", (int)id);
  char msg[160];
  switch (d->type) {
  case TL__VT_INT: {
    long long v;
    if (!parse_int(text, &v))
      return bad(err, d, source_key, text, "is not a whole number");
    if (v < d->min || v > d->max) {
      snprintf(msg, sizeof msg, "is out of range (%.0f to %.0f)", d->min, d->max);
      return bad(err, d, source_key, text, msg);
    }
    snprintf(canon, cap, "%lld", v);
    return TL_OK;
  }
  case TL__VT_FLOAT: {
    double v;
    if (!parse_float(text, &v))
      return bad(err, d, source_key, text, "is not a number");
    if (v < d->min || v > d->max) {
      snprintf(msg, sizeof msg, "is out of range (%g to %g)", d->min, d->max);
      return bad(err, d, source_key, text, msg);
    }
    snprintf(canon, cap, "%g", v);
    return TL_OK;
  }
  case TL__VT_BOOL: {
    bool b;
    if (!parse_bool(text, &b))
      return bad(err, d, source_key, text, "is not a boolean (true/false, on/off, yes/no, 1/0)");
    snprintf(canon, cap, "%s", b ? "true" : "false");
    return TL_OK;
  }
  case TL__VT_ENUM: {
    for (int i = 0; d->enum_values[i]; i++) {
      if (!strcasecmp(text, d->enum_values[i])) {
        snprintf(canon, cap, "%s", d->enum_values[i]);
        return TL_OK;
      }
    }
    size_t off = (size_t)snprintf(msg, sizeof msg, "is not one of:");
    for (int i = 0; d->enum_values[i] && off < sizeof msg; i++)
      off += (size_t)snprintf(msg + off, sizeof msg - off, " %s", d->enum_values[i]);
    return bad(err, d, source_key, text, msg);
  }
  case TL__VT_LIST: {
    /* non-negative numbers separated by commas, at least one positive */
    size_t off = 0;
    bool any_pos = false;
    int n = 0;
    canon[0] = '\0';
    const char *p = text;
    for (;;) {
      const char *comma = strchr(p, ',');
      size_t len = comma ? (size_t)(comma - p) : strlen(p);
      char tok[64];
      double v;
      if (len == 0 || len >= sizeof tok)
        return bad(err, d, source_key, text, "is not a list of non-negative numbers");
      memcpy(tok, p, len);
      tok[len] = '\0';
      if (!parse_float(tok, &v) || v < 0)
        return bad(err, d, source_key, text, "is not a list of non-negative numbers");
      if (v > 0)
        any_pos = true;
      if (n++ >= TL_HW_MAX_GPUS)
        return bad(err, d, source_key, text, "has more entries than GPUs can exist");
      off += (size_t)snprintf(canon + off, off < cap ? cap - off : 0, "%s%g", off ? "," : "", v);
      if (!comma)
        break;
      p = comma + 1;
    }
    if (!n || !any_pos)
      return bad(err, d, source_key, text, "needs at least one positive share");
    return TL_OK;
  }
  }
  return tl__error_set(err, TL_EINTERNAL, "config: setting %s has no type", d->key);
}
