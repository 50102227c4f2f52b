/* `tailor tune SRC`: one plan per quantization of one model on this (or a
 * described) machine: size, memory use, largest context, quality tier, fit
 * status, the device split of hybrids, the recommended one for a profile, and
 * copy-paste commands for tailor, llama.cpp, Ollama and vLLM. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "hw-options.h"
#include "plan-options.h"

static const char help[] =
    "Usage: tailor tune SRC [--profile quality|balanced|fast] [--quant TYPE] [plan options]\n"
    "                   [hardware options]\n"
    "\n"
    "Try one model at every quantization on this machine (or a described one) and\n"
    "recommend one. SRC is a GGUF file, a Hugging Face directory or a catalog id.\n"
    "Candidates: BF16, Q8_0, Q6_K, Q5_K_M, Q4_K_M, Q3_K_M, Q2_K (on Apple the\n"
    "8/6/4/3/2-bit ones). For each: estimated size, memory use, largest context that\n"
    "fits (and whether that is the model's own maximum), quality tier (Baseline,\n"
    "NearLossless, Good, Acceptable, Degraded), status (Fits, Hybrid, TooLarge) and\n"
    "the device split of hybrids. The recommendation is the first of the profile's\n"
    "list that fits on the GPU(s), else the first that fits at all.\n"
    "\n"
    "Options:\n"
    "  --profile NAME  balanced (default: Q4_K_M, Q5_K_M, Q6_K ...), quality (BF16, Q8_0 ...),\n"
    "                  fast (Q4_K_M, Q3_K_M ...)\n"
    "  --quant TYPE    recommend this mixture if it fits (Q4_K_M, Q8_0 ...)\n"
    "  -h, --help      show this help\n"
    "\n" TL_CLI_PLAN_OPTIONS_HELP "\n" TL_CLI_HW_OPTIONS_HELP
    "\n"
    "Exit status: 0 ok, 1 unreadable model, 2 bad usage, 3 nothing fits.\n";

static void split_text(const tl_plan *p, char *buf, size_t n)
{
  switch (p->mode) {
  case TL_RUN_GPU: {
    size_t ngpu = 0;
    for (size_t d = 1; d < p->n_devices; d++)
      ngpu += p->devices[d].n_layers > 0;
    if (ngpu > 1) {
      size_t o = (size_t)snprintf(buf, n, "GPUs");
      for (size_t d = 1; d < p->n_devices && o < n; d++)
        o += (size_t)snprintf(buf + o, n - o, "%s%u", d > 1 ? "+" : " ", p->devices[d].n_layers);
    } else {
      snprintf(buf, n, "GPU");
    }
    break;
  }
  case TL_RUN_MOE_OFFLOAD:
    snprintf(buf, n, "experts of %u layers on CPU", p->n_cpu_moe_layers);
    break;
  case TL_RUN_CPU_OFFLOAD:
    snprintf(buf, n, "GPU %u/%u layers", p->n_gpu_layers, p->n_layer);
    break;
  default:
    snprintf(buf, n, "CPU");
  }
}

static void print_text(const tl_model_desc *m, const tl_tune_result *r, const tl_hw *hw,
                       const tl_plan_settings *s, tl_tune_profile profile)
{
  char a[32];
  printf("Model: %s (%s), %.2fB parameters", m->name[0] ? m->name : m->source, m->source,
         (double)m->n_params / 1e9);
  if (m->hp.n_expert > 1)
    printf(" (%.2fB active)", (double)m->n_params_active / 1e9);
  printf(", own context %u\n", m->hp.n_ctx_train);
  if (hw->n_gpus) {
    tl_cli_gib(a, sizeof a, hw->gpus[0].vram_free ? hw->gpus[0].vram_free : hw->gpus[0].vram_total);
    printf("Hardware: %zu x %s (%s free), ", hw->n_gpus, hw->gpus[0].name, a);
  } else {
    printf("Hardware: no GPU, ");
  }
  tl_cli_gib(a, sizeof a, hw->mem.usable);
  printf("%s usable RAM%s\n", a, hw->described ? " (described)" : "");
  printf("Runtime: %s, profile %s\n\n", tl_runtime_name(s->runtime), tl_tune_profile_name(profile));
  printf("  %-8s %10s %6s %-14s %-13s %-9s %-28s %9s\n", "Quant", "Size", "Mem%", "Max context", "Quality",
         "Status", "Split", "Decode/s");
  for (size_t i = 0; i < r->n_candidates; i++) {
    const tl_tune_candidate *c = &r->candidates[i];
    char size[32], ctx[32], split[64];
    tl_cli_gib(size, sizeof size, c->weight_bytes);
    if (c->plan.n_ctx_max)
      snprintf(ctx, sizeof ctx, "%u%s", c->plan.n_ctx_max, c->ctx_is_model_max ? " (max)" : "");
    else
      snprintf(ctx, sizeof ctx, "-");
    split_text(&c->plan, split, sizeof split);
    printf("%c %-8s %10s %5.0f%% %-14s %-13s %-9s %-28s %9.1f\n", c->recommended ? '>' : ' ', c->label, size,
           c->plan.utilisation * 100, ctx, tl_quality_tier_name(c->tier), tl_tune_status_name(c->status),
           c->status == TL_TUNE_TOO_LARGE ? "-" : split, c->status == TL_TUNE_TOO_LARGE ? 0.0 : c->plan.decode_tps);
  }
  if (r->recommended >= 0) {
    const tl_tune_candidate *c = &r->candidates[r->recommended];
    printf("\nRecommended: %s (%s, %s, %.1f tok/s decode, %.0f tok/s prefill)\n", c->label,
           tl_quality_tier_name(c->tier), tl_run_mode_name(c->plan.mode), c->plan.decode_tps, c->plan.prefill_tps);
    for (size_t i = 0; i < c->plan.n_notes; i++)
      printf("  - %s\n", c->plan.notes[i]);
    printf("\nCommands:\n");
    for (int k = 0; k < TL_RUNTIME_COUNT; k++)
      printf("  %-10s %s\n", tl_runtime_name((tl_runtime)k),
             r->commands[k][0] ? r->commands[k] : "(does not fit with this runtime)");
  }
  bool header = false;
  for (size_t i = 0; i < r->n_candidates; i++) {
    const tl_tune_candidate *c = &r->candidates[i];
    if (c->status != TL_TUNE_TOO_LARGE)
      continue;
    if (!header)
      printf("\nWarnings:\n");
    header = true;
    printf("  %s: %s\n", c->label, c->plan.n_notes ? c->plan.notes[0] : "does not fit");
  }
}

static int run(int argc, char **argv)
{
  const char *cmd = "tune";
  tl_cli_hw_opts hwo = {0};
  tl_cli_plan_opts po;
  tl_cli_plan_opts_init(&po);
  tl_tune_profile profile = TL_PROFILE_BALANCED;
  tl_ftype forced = (tl_ftype)-1;
  const char *src = NULL;
  for (int i = 1; i < argc; i++) {
    const char *v = NULL;
    int r;
    if ((r = tl_cli_hw_parse(&hwo, argc, argv, &i, cmd)) != 0 || (r = tl_cli_plan_parse(&po, argc, argv, &i, cmd)) != 0) {
      if (r != 1)
        return r;
      continue;
    }
    if ((r = tl_cli_option_value("--profile", argc, argv, &i, &v, cmd)) != 0) {
      if (r != 1)
        return r;
      if (tl_tune_profile_parse(v, &profile) != TL_OK)
        return tl_cli_usage_error(cmd, "--profile: '%s' is not one of quality, balanced, fast", v);
    } else if ((r = tl_cli_option_value("--quant", argc, argv, &i, &v, cmd)) != 0) {
      if (r != 1)
        return r;
      tl_error err;
      if (tl_ftype_parse(v, &forced, &err) != TL_OK)
        return tl_cli_usage_error(cmd, "--quant: %s", err.message);
    } else if (argv[i][0] == '-' && argv[i][1]) {
      return tl_cli_usage_error(cmd, "unknown option '%s'", argv[i]);
    } else if (src) {
      return tl_cli_usage_error(cmd, "one model at a time ('%s' and '%s')", src, argv[i]);
    } else {
      src = argv[i];
    }
  }
  if (!src)
    return tl_cli_usage_error(cmd, "needs a model: a GGUF file, a Hugging Face directory or a catalog id");
  int rc = tl_cli_plan_finish(&po, cmd);
  if (rc)
    return rc;
  tl_hw *hw = calloc(1, sizeof *hw);
  tl_tune_result *res = calloc(1, sizeof *res);
  tl_catalog *cat = NULL;
  tl_model_desc *m = NULL;
  if (!hw || !res) {
    rc = tl_cli_fail(cmd, "out of memory");
    goto done;
  }
  if ((rc = tl_cli_hw_resolve(&hwo, NULL, hw, cmd)) != 0)
    goto done;
  if (!(cat = tl_cli_plan_catalog(&po, cmd))) {
    rc = TL_EXIT_FAILURE;
    goto done;
  }
  tl_error err;
  if (tl_model_desc_open(src, cat, TL_FTYPE_Q4_K_M, &m, &err) != TL_OK) {
    rc = tl_cli_fail(cmd, "%s: %s", src, err.message);
    goto done;
  }
  struct stat st;
  tl_plan_settings s = po.settings;
  if (stat(src, &st) != 0)
    tl_plan_settings_from_catalog(&s, tl_catalog_find(cat, src));
  if (tl_tune_model(m, hw, &s, profile, forced, res, &err) != TL_OK) {
    rc = tl_cli_fail(cmd, "%s", err.message);
    goto done;
  }
  if (po.json) {
    char *out = NULL;
    if (tl_tune_to_json(res, &out, &err) != TL_OK) {
      rc = tl_cli_fail(cmd, "%s", err.message);
      goto done;
    }
    puts(out);
    tl_free(out);
  } else {
    print_text(m, res, hw, &s, profile);
  }
  if (res->recommended < 0) {
    uint64_t least = 0;
    for (size_t i = 0; i < res->n_candidates; i++)
      if (!least || res->candidates[i].plan.required < least)
        least = res->candidates[i].plan.required;
    char a[32], b[32];
    tl_cli_gib(a, sizeof a, least);
    tl_cli_gib(b, sizeof b, res->n_candidates ? res->candidates[0].plan.available : 0);
    const tl_tune_candidate *shorter = NULL;
    for (size_t i = 0; i < res->n_candidates; i++)
      if (res->candidates[i].plan.n_ctx_max && (!shorter || res->candidates[i].plan.n_ctx_max > shorter->plan.n_ctx_max))
        shorter = &res->candidates[i];
    if ((int)forced >= 0)
      fprintf(stderr, "tailor tune: %s does not fit at %s; ", src, tl_ftype_name(forced));
    else
      fprintf(stderr, "tailor tune: nothing fits: %s needs at least %s, %s available; ", src, a, b);
    if (shorter)
      fprintf(stderr, "%s fits with --context %u; ", shorter->label, shorter->plan.n_ctx_max);
    fprintf(stderr, "try a smaller model (tailor fit), a shorter --context, a quantized --kv-type, "
                    "or --runtime llama.cpp to offload layers to the CPU\n");
    rc = TL_EXIT_NOFIT;
  }
done:
  tl_model_desc_free(m);
  tl_catalog_free(cat);
  free(res);
  free(hw);
  return rc;
}

const tl_cli_command tl_cli_cmd_tune = {
    .name = "tune",
    .summary = "try one model at every quantization here and recommend one",
    .help = help,
    .run = run,
};
