/* The one table of efficiency constants of the speed model, each with where
 * its value came from, and the calibration file that overrides them
 * (tailor bench writes one; `--calibration FILE` reads it). The reference
 * figures are bench/reference-llamacpp.md (llama.cpp 34af94cd9ab2,
 * copied with their arithmetic into tests/data/plan/llamacpp-reference.json). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "base/error-int.h"
#include "internal.h"

typedef struct eff_entry {
  const char *name;
  size_t offset;
  double value;
  double min, max;
  const char *source;
} eff_entry;

#define E(field) #field, offsetof(tl_efficiency, field)

static const eff_entry table[] = {
    {E(cpu_decode_bw), 0.82, 0.05, 1.0,
     "llamacpp.md CPU decode / bandwidth limit: 0.79 (1B Q8_0) and 0.85 (1B Q4_K); their middle"},
    {E(cpu_layer_s), 90e-6, 0, 0.01,
     "llamacpp.md 0.6B Q8_0 (28 layers): 1/41.2 s = 24.3 ms vs 633.5 MB / (0.82 x 37.4 GB/s) = 20.7 ms; "
     "the 3.6 ms left over 28 layers is ~0.13 ms, the 1B models leave less: 90 us"},
    {E(cpu_prefill_flops), 0.65, 0.01, 4.0,
     "llamacpp.md pp128 on 2 Zen 5 cores: 274 (1B Q8_0), 430 (1B Q4_K), 277 (0.6B) GFLOP/s of 2 x params; "
     "assumed peak 2 cores x 64 FLOP/cycle x 3.7 GHz = 474 GFLOP/s gives 0.58-0.91"},
    {E(gpu_decode_bw), 0.60, 0.05, 1.0,
     "llamacpp.md H100 tg128 1B and 8B Q4_K (892.5, 277.8 tok/s) solved together with gpu_layer_s and "
     "gpu_token_s = 50 us: t = bytes / (e x 3.352 TB/s) + layers x c + 50 us gives e = 0.60"},
    {E(gpu_layer_s), 43.2e-6, 0, 0.01,
     "same fit: c = 43.2 us per layer per token (kernel floor with CUDA graphs, flash attention on)"},
    {E(gpu_layer_s_nofa), 59e-6, 0, 0.01,
     "llamacpp.md flash attention off: 742 / 240 tok/s with e = 0.60 give 57.4 / 60.9 us per layer"},
    {E(gpu_token_s), 50e-6, 0, 0.01,
     "assumed: sampling, logits copy and host round trip per token (not separable in llamacpp.md)"},
    {E(gpu_prefill_flops), 0.24, 0.01, 1.0,
     "llamacpp.md H100 pp512 1B/8B Q4_K (37,126 / 10,383 tok/s): per micro-batch "
     "t = 512 x 2 x params / (e x 989 TFLOP/s) + layers x p gives e = 0.24"},
    {E(gpu_prefill_layer_s), 0.53e-3, 0, 1.0,
     "same fit: p = 0.53 ms per layer per 512-token micro-batch"},
    {E(apple_decode_bw), 0.65, 0.05, 1.0,
     "assumed for Metal (no reference measurement here): between the CPU and CUDA fractions"},
    {E(apple_layer_s), 60e-6, 0, 0.01, "assumed for Metal: like CUDA without graphs (gpu_layer_s_nofa)"},
    {E(split_sync_s), 30e-6, 0, 0.01,
     "assumed: one activation copy and synchronisation between devices (PCIe round trip)"},
    {E(tp_layer_s), 20e-6, 0, 0.01,
     "assumed: two NVLink all-reduces of one token's hidden state per layer under tensor parallelism"},
};

#undef E

#define N_ENTRIES (sizeof table / sizeof table[0])

void tl_efficiency_default(tl_efficiency *e)
{
  memset(e, 0, sizeof *e);
  for (size_t i = 0; i < N_ENTRIES; i++)
    *(double *)((char *)e + table[i].offset) = table[i].value;
}

tl_status tl_efficiency_parse(const char *json, size_t len, tl_efficiency *e, tl_error *err)
{
  json_error_t jerr;
  json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!root)
    return tl__error_set(err, TL_EFORMAT, "calibration: %s at line %d", jerr.text, jerr.line);
  tl_status st = TL_OK;
  tl_efficiency out = *e;
  json_t *ver = json_object_get(root, "schema_version");
  json_t *obj = json_object_get(root, "efficiency");
  if (!json_is_object(root) || (ver && (!json_is_integer(ver) || json_integer_value(ver) != 1))) {
    st = tl__error_set(err, TL_EFORMAT, "calibration: expected an object with schema_version 1");
    goto done;
  }
  if (!json_is_object(obj)) {
    st = tl__error_set(err, TL_EFORMAT, "calibration: missing object 'efficiency'");
    goto done;
  }
  const char *key;
  json_t *val;
  json_object_foreach(obj, key, val)
  {
    size_t i = 0;
    while (i < N_ENTRIES && strcmp(table[i].name, key) != 0)
      i++;
    if (i == N_ENTRIES) {
      st = tl__error_set(err, TL_EFORMAT, "calibration: unknown key 'efficiency.%s'", key);
      goto done;
    }
    if (!json_is_number(val)) {
      st = tl__error_set(err, TL_EFORMAT, "calibration: 'efficiency.%s' is not a number", key);
      goto done;
    }
    double v = json_number_value(val);
    if (!(v >= table[i].min && v <= table[i].max)) {
      st = tl__error_set(err, TL_EFORMAT, "calibration: 'efficiency.%s' = %g is outside [%g, %g]", key, v,
                         table[i].min, table[i].max);
      goto done;
    }
    *(double *)((char *)&out + table[i].offset) = v;
  }
  *e = out;
done:
  json_decref(root);
  return st;
}

tl_status tl_efficiency_load(const char *path, tl_efficiency *e, tl_error *err)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    return tl__error_errno(err, TL_EIO, errno, "calibration: open '%s'", path);
  char buf[65536];
  size_t n = fread(buf, 1, sizeof buf, f);
  bool too_big = n == sizeof buf;
  fclose(f);
  if (too_big)
    return tl__error_set(err, TL_ELIMIT, "calibration: '%s' is larger than %zu bytes", path, sizeof buf - 1);
  tl_status st = tl_efficiency_parse(buf, n, e, err);
  if (st != TL_OK)
    tl__error_prefix(err, "%s", path);
  return st;
}
