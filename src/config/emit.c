/* Copy-paste commands for a resolved configuration: tailor run, llama.cpp's
 * llama-server and llama-cli, vLLM's `vllm serve`, and an Ollama Modelfile.
 * Flag names follow each tool's documentation (llama.cpp tools/server
 * README; vLLM engine arguments; Ollama docs/modelfile.md). */
#include <stdio.h>
#include <string.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "base/strbuf.h"
#include "config/internal.h"

const char *tl_emit_target_name(tl_emit_target t)
{
  static const char *const names[TL_EMIT_COUNT] = {"tailor", "llama-server", "llama-cli", "vllm",
                                                   "ollama"};
  return (unsigned)t < TL_EMIT_COUNT ? names[t] : "unknown";
}

static const char *v(const tl_config *c, tl_setting_id id) { return tl_config_value(c, id); }

static bool b(const tl_config *c, tl_setting_id id)
{
  bool x = false;
  tl_config_bool(c, id, &x);
  return x;
}

static long long i(const tl_config *c, tl_setting_id id)
{
  int64_t x = 0;
  tl_config_int(c, id, &x);
  return (long long)x;
}

/* Appends a word, single-quoted for a POSIX shell when it needs quoting. */
static void word(tl__sb *sb, const char *w)
{
  bool plain = *w != '\0';
  for (const char *p = w; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          strchr("-_./:=,+@%", *p)))
      plain = false;
  tl__sb_putc(sb, ' ');
  if (plain) {
    tl__sb_puts(sb, w);
    return;
  }
  tl__sb_putc(sb, '\'');
  for (const char *p = w; *p; p++) {
    if (*p == '\'')
      tl__sb_puts(sb, "'\\''");
    else
      tl__sb_putc(sb, *p);
  }
  tl__sb_putc(sb, '\'');
}

static void flag(tl__sb *sb, const char *f, const char *value)
{
  word(sb, f);
  word(sb, value);
}

static void sampling_flags(tl__sb *sb, const tl_config *c)
{
  flag(sb, "--temp", v(c, TL_SET_TEMPERATURE));
  flag(sb, "--top-k", v(c, TL_SET_TOP_K));
  flag(sb, "--top-p", v(c, TL_SET_TOP_P));
  flag(sb, "--min-p", v(c, TL_SET_MIN_P));
  flag(sb, "--repeat-penalty", v(c, TL_SET_REPEAT_PENALTY));
}

static void emit_tailor(tl__sb *sb, const tl_config *c, const char *model)
{
  tl__sb_puts(sb, "tailor run");
  word(sb, model);
  flag(sb, "-c", v(c, TL_SET_CTX_SIZE));
  flag(sb, "-t", v(c, TL_SET_THREADS));
  flag(sb, "-b", v(c, TL_SET_BATCH_SIZE));
  flag(sb, "-ub", v(c, TL_SET_UBATCH_SIZE));
  flag(sb, "--kv-type", v(c, TL_SET_KV_TYPE));
  if (i(c, TL_SET_GPU_LAYERS) > 0)
    flag(sb, "-ngl", v(c, TL_SET_GPU_LAYERS));
  if (strcmp(v(c, TL_SET_ISQ), "none") && v(c, TL_SET_ISQ)[0])
    flag(sb, "--isq", v(c, TL_SET_ISQ));
  sampling_flags(sb, c);
}

static void emit_llama(tl__sb *sb, const tl_config *c, const char *model, bool server)
{
  tl__sb_puts(sb, server ? "llama-server" : "llama-cli");
  flag(sb, "-m", model);
  long long ctx = i(c, TL_SET_CTX_SIZE), np = i(c, TL_SET_PARALLEL);
  char buf[64];
  /* llama-server divides -c among its slots: give it the total. */
  snprintf(buf, sizeof buf, "%lld", server ? ctx * np : ctx);
  flag(sb, "-c", buf);
  if (server && np > 1)
    flag(sb, "-np", v(c, TL_SET_PARALLEL));
  flag(sb, "-ngl", v(c, TL_SET_GPU_LAYERS));
  flag(sb, "-t", v(c, TL_SET_THREADS));
  flag(sb, "-tb", v(c, TL_SET_THREADS_BATCH));
  flag(sb, "-b", v(c, TL_SET_BATCH_SIZE));
  flag(sb, "-ub", v(c, TL_SET_UBATCH_SIZE));
  flag(sb, "-ctk", v(c, TL_SET_KV_TYPE));
  flag(sb, "-ctv", v(c, TL_SET_KV_TYPE));
  flag(sb, "-fa", b(c, TL_SET_FLASH_ATTN) ? "on" : "off");
  if (v(c, TL_SET_TENSOR_SPLIT)[0])
    flag(sb, "-ts", v(c, TL_SET_TENSOR_SPLIT));
  if (b(c, TL_SET_MOE_OFFLOAD))
    word(sb, "--cpu-moe");
  if (!b(c, TL_SET_MMAP))
    word(sb, "--no-mmap");
  if (b(c, TL_SET_MLOCK))
    word(sb, "--mlock");
  sampling_flags(sb, c);
}

static tl_status emit_vllm(tl__sb *sb, const tl_config *c, const char *model, tl_error *err)
{
  if (strcmp(v(c, TL_SET_BACKEND), "cuda") && strcmp(v(c, TL_SET_BACKEND), "rocm"))
    return tl__error_set(err, TL_EUNSUPPORTED,
                         "emit vllm: vLLM serves on CUDA or ROCm GPUs; this configuration's "
                         "backend is %s", v(c, TL_SET_BACKEND));
  tl__sb_puts(sb, "vllm serve");
  word(sb, model);
  flag(sb, "--max-model-len", v(c, TL_SET_CTX_SIZE));
  flag(sb, "--max-num-seqs", v(c, TL_SET_PARALLEL));
  flag(sb, "--max-num-batched-tokens", v(c, TL_SET_MAX_BATCHED_TOKENS));
  flag(sb, "--block-size", v(c, TL_SET_KV_BLOCK_SIZE));
  /* tensor parallelism over the GPUs the split names */
  int n_gpus = 1;
  for (const char *p = v(c, TL_SET_TENSOR_SPLIT); *p; p++)
    n_gpus += *p == ',';
  char buf[32];
  snprintf(buf, sizeof buf, "%d", n_gpus);
  flag(sb, "--tensor-parallel-size", buf);
  if (b(c, TL_SET_PREFIX_CACHE))
    word(sb, "--enable-prefix-caching");
  if (strcmp(v(c, TL_SET_KV_TYPE), "f16"))
    flag(sb, "--kv-cache-dtype", "fp8"); /* vLLM's 8-bit KV cache; it has no q8_0/q4_0 */
  return TL_OK;
}

static void emit_ollama(tl__sb *sb, const tl_config *c, const char *model)
{
  tl__sb_printf(sb, "FROM %s\n", model);
  tl__sb_printf(sb, "PARAMETER num_ctx %s\n", v(c, TL_SET_CTX_SIZE));
  tl__sb_printf(sb, "PARAMETER num_gpu %s\n", v(c, TL_SET_GPU_LAYERS));
  tl__sb_printf(sb, "PARAMETER num_thread %s\n", v(c, TL_SET_THREADS));
  tl__sb_printf(sb, "PARAMETER num_batch %s\n", v(c, TL_SET_BATCH_SIZE));
  tl__sb_printf(sb, "PARAMETER temperature %s\n", v(c, TL_SET_TEMPERATURE));
  tl__sb_printf(sb, "PARAMETER top_k %s\n", v(c, TL_SET_TOP_K));
  tl__sb_printf(sb, "PARAMETER top_p %s\n", v(c, TL_SET_TOP_P));
  tl__sb_printf(sb, "PARAMETER min_p %s\n", v(c, TL_SET_MIN_P));
  tl__sb_printf(sb, "PARAMETER repeat_penalty %s\n", v(c, TL_SET_REPEAT_PENALTY));
  if (b(c, TL_SET_MLOCK))
    tl__sb_puts(sb, "PARAMETER use_mlock true\n");
  if (!b(c, TL_SET_MMAP))
    tl__sb_puts(sb, "PARAMETER use_mmap false\n");
  /* These are the Ollama server's settings, not the model's. */
  tl__sb_printf(sb, "# server environment: OLLAMA_FLASH_ATTENTION=%d OLLAMA_KV_CACHE_TYPE=%s "
                    "OLLAMA_NUM_PARALLEL=%s\n",
                b(c, TL_SET_FLASH_ATTN) ? 1 : 0, v(c, TL_SET_KV_TYPE), v(c, TL_SET_PARALLEL));
}

tl_status tl_config_emit(const tl_config *c, tl_emit_target t, const char *model_path, char **out,
                         tl_error *err)
{
  tl__sb sb;
  tl__sb_init(&sb);
  tl_status st = TL_OK;
  switch (t) {
  case TL_EMIT_TAILOR_RUN:
    emit_tailor(&sb, c, model_path);
    break;
  case TL_EMIT_LLAMA_SERVER:
    emit_llama(&sb, c, model_path, true);
    break;
  case TL_EMIT_LLAMA_CLI:
    emit_llama(&sb, c, model_path, false);
    break;
  case TL_EMIT_VLLM:
    st = emit_vllm(&sb, c, model_path, err);
    break;
  case TL_EMIT_OLLAMA_MODELFILE:
    emit_ollama(&sb, c, model_path);
    break;
  default:
    st = tl__error_set(err, TL_EINVAL, "emit: unknown target %d", (int)t);
  }
  if (st) {
    tl__sb_deinit(&sb);
    return st;
  }
  if (t != TL_EMIT_OLLAMA_MODELFILE)
    tl__sb_putc(&sb, '\n');
  char *s = tl__sb_take(&sb);
  if (!s)
    return tl__error_set(err, TL_ENOMEM, "emit: out of memory");
  *out = s;
  return TL_OK;
}
