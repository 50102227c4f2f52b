/* `tailor fit [SRC...]`: one plan per model and quantization on this or a
 * described machine, ranked best first. Without SRC: every catalog model at
 * the quantization ladder; with SRC: those files, directories or catalog ids;
 * with --local: the GGUF files and Hugging Face snapshots in the usual caches. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "hw-options.h"
#include "plan-options.h"

static const char help[] =
    "Usage: tailor fit [SRC...] [options] [plan options] [hardware options]\n"
    "\n"
    "Rank models by how well they run on this machine (or a described one): fit\n"
    "level, run mode, memory, estimated speed, largest context, scores. Without\n"
    "SRC every catalog model is tried at BF16, Q8_0, Q6_K, Q5_K_M, Q4_K_M, Q3_K_M\n"
    "and Q2_K. SRC is a GGUF file, a Hugging Face directory or a catalog id.\n"
    "\n"
    "Options:\n"
    "  --sort KEY         score (default), speed, quality, fit, context, params\n"
    "  --limit N          show the first N rows (default 20; 0 = all)\n"
    "  --family NAME      catalog family prefix (qwen, llama3.1, gemma3 ...)\n"
    "  --license ID       only this license (apache-2.0, mit, llama3.1 ...)\n"
    "  --tag TAG          only entries with this tag (coding, reasoning ...)\n"
    "  --min-context N    only models whose own context is at least N tokens\n"
    "  --max-params N     only models up to N parameters (8B, 70e9 ...)\n"
    "  --fit-level LEVEL  only rows at LEVEL or better: perfect, good, marginal, tootight\n"
    "  --local            models found on disk: ~/.cache/huggingface/hub, ~/.ollama/models,\n"
    "                     ~/.lmstudio/models, ~/.cache/lm-studio/models\n"
    "  -h, --help         show this help\n"
    "\n" TL_CLI_PLAN_OPTIONS_HELP "\n" TL_CLI_HW_OPTIONS_HELP
    "\n"
    "Fit levels: Perfect (all on GPU, <= 80% memory), Good (<= 90%, or MoE experts in RAM),\n"
    "Marginal (> 90%, or layers spilled to the CPU), TooTight (does not fit).\n"
    "Exit status: 0 ok, 1 unreadable input, 2 bad usage, 3 nothing fits.\n";

#define MAX_SRC 256

typedef struct srcs {
  char *v[MAX_SRC];
  size_t n;
} srcs;

static void add_src(srcs *s, const char *path)
{
  if (s->n < MAX_SRC)
    s->v[s->n++] = strdup(path);
}

static bool is_gguf(const char *path)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    return false;
  char magic[4] = {0};
  size_t n = fread(magic, 1, 4, f);
  fclose(f);
  return n == 4 && memcmp(magic, "GGUF", 4) == 0;
}

/* Walks dir up to depth levels: GGUF files (by name, or by magic under
 * Ollama's blob store) and directories holding config.json + safetensors. */
static void scan(srcs *s, const char *dir, int depth, bool blobs)
{
  DIR *d = opendir(dir);
  if (!d)
    return;
  struct dirent *e;
  bool has_config = false, has_st = false;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    struct stat st;
    if (stat(path, &st) != 0)
      continue;
    size_t len = strlen(e->d_name);
    if (S_ISDIR(st.st_mode)) {
      if (depth > 0)
        scan(s, path, depth - 1, blobs);
    } else if (S_ISREG(st.st_mode)) {
      if (len > 5 && !strcmp(e->d_name + len - 5, ".gguf")) {
        /* split files: only the first part names the model */
        if (!strstr(e->d_name, "-of-") || strstr(e->d_name, "-00001-of-"))
          add_src(s, path);
      } else if (blobs && !strncmp(e->d_name, "sha256", 6) && st.st_size > (1 << 20) && is_gguf(path)) {
        add_src(s, path);
      } else if (!strcmp(e->d_name, "config.json")) {
        has_config = true;
      } else if (len > 12 && !strcmp(e->d_name + len - 12, ".safetensors")) {
        has_st = true;
      }
    }
  }
  closedir(d);
  if (has_config && has_st)
    add_src(s, dir);
}

static void scan_local(srcs *s)
{
  const char *home = getenv("HOME");
  if (!home)
    return;
  char p[4096];
  const char *hf = getenv("HF_HOME");
  if (hf)
    snprintf(p, sizeof p, "%s/hub", hf);
  else
    snprintf(p, sizeof p, "%s/.cache/huggingface/hub", home);
  scan(s, p, 4, false); /* models--org--name/snapshots/REV/... */
  snprintf(p, sizeof p, "%s/.ollama/models/blobs", home);
  scan(s, p, 0, true);
  snprintf(p, sizeof p, "%s/.lmstudio/models", home);
  scan(s, p, 3, false);
  snprintf(p, sizeof p, "%s/.cache/lm-studio/models", home);
  scan(s, p, 3, false);
}

static int grow(tl_fit_row **rows, size_t *cap, size_t need)
{
  if (need <= *cap)
    return 0;
  size_t c = *cap ? *cap * 2 : 64;
  while (c < need)
    c *= 2;
  tl_fit_row *r = realloc(*rows, c * sizeof *r);
  if (!r)
    return -1;
  *rows = r;
  *cap = c;
  return 0;
}

/* Rows for files and directories, each at its own mixture. */
static int fit_files(const srcs *s, const tl_catalog *cat, const tl_hw *hw, const tl_fit_query *q,
                     tl_fit_row **rows, size_t *n, size_t *cap, const char *cmd)
{
  for (size_t i = 0; i < s->n; i++) {
    const char *src = s->v[i];
    struct stat st;
    if (stat(src, &st) != 0)
      continue; /* a catalog id: planned by tl_fit_catalog */
    tl_model_desc *m = NULL;
    tl_error err;
    if (tl_model_desc_open(src, cat, TL_FTYPE_Q4_K_M, &m, &err) != TL_OK) {
      fprintf(stderr, "tailor fit: skipping %s: %s\n", src, err.message);
      continue;
    }
    if (grow(rows, cap, *n + 1) != 0) {
      tl_model_desc_free(m);
      return tl_cli_fail(cmd, "out of memory");
    }
    tl_status stt = tl_fit_model(m, hw, &q->settings, &(*rows)[*n], &err);
    tl_model_desc_free(m);
    if (stt != TL_OK) {
      fprintf(stderr, "tailor fit: skipping %s: %s\n", src, err.message);
      continue;
    }
    if (q->max_level < 0 || (int)(*rows)[*n].plan.level <= q->max_level)
      (*n)++;
  }
  return TL_EXIT_OK;
}

static void params_text(char *buf, size_t n, uint64_t p)
{
  if (p >= 1000000000ull)
    snprintf(buf, n, "%.1fB", (double)p / 1e9);
  else
    snprintf(buf, n, "%.0fM", (double)p / 1e6);
}

static void print_table(const tl_fit_row *rows, size_t n, size_t limit, const tl_hw *hw, const tl_plan_settings *s)
{
  char a[32], b[32];
  if (hw->n_gpus) {
    tl_cli_gib(a, sizeof a, hw->gpus[0].vram_free ? hw->gpus[0].vram_free : hw->gpus[0].vram_total);
    printf("Hardware: %zu x %s (%s free%s), ", hw->n_gpus, hw->gpus[0].name, a, hw->gpus[0].unified ? ", unified" : "");
  } else {
    printf("Hardware: no GPU, ");
  }
  tl_cli_gib(a, sizeof a, hw->mem.usable);
  printf("%s usable RAM, %u cores%s\n", a, hw->cpu.cores, hw->described ? " (described)" : "");
  printf("Runtime: %s, use case %s, context %s\n\n", tl_runtime_name(s->runtime), tl_use_case_name(s->use_case),
         s->n_ctx ? "as asked" : "runtime default");
  printf("%4s  %-32s %-7s %7s  %-9s %-10s %19s %8s %9s %6s\n", "#", "Model", "Quant", "Params", "Fit", "Mode",
         "Memory (need/have)", "Max ctx", "Decode/s", "Score");
  size_t shown = limit && limit < n ? limit : n;
  for (size_t i = 0; i < shown; i++) {
    const tl_fit_row *r = &rows[i];
    const tl_plan *p = &r->plan;
    char par[16], ctx[16], mem[80];
    params_text(par, sizeof par, r->n_params);
    /* on a discrete GPU alone the GPU memory is what binds; otherwise all of it */
    bool gpu_only = p->mode == TL_RUN_GPU && p->gpu_available && p->n_devices > 1 && !p->devices[1].unified;
    tl_cli_gib(a, sizeof a, gpu_only ? p->gpu_required : p->required);
    tl_cli_gib(b, sizeof b, gpu_only ? p->gpu_available : p->available);
    snprintf(mem, sizeof mem, "%s/%s", a, b);
    if (p->n_ctx_max >= 1024)
      snprintf(ctx, sizeof ctx, "%uK", p->n_ctx_max / 1024);
    else
      snprintf(ctx, sizeof ctx, "%u", p->n_ctx_max);
    printf("%4zu%c %-32.32s %-7s %7s  %-9s %-10s %19s %8s %9.1f %6.1f\n", i + 1, r->best_quant ? '*' : ' ', r->id,
           tl_ftype_name(r->ftype), par, tl_fit_level_name(p->level), tl_run_mode_name(p->mode), mem, ctx,
           p->decode_tps, p->score);
  }
  if (shown < n)
    printf("... %zu more (--limit 0 shows all)\n", n - shown);
  printf("\n* best quantization of that model on this machine. Memory: GPU memory for plans on\n"
         "  discrete GPUs alone, else system RAM and GPU memory together.\n");
}

static int run(int argc, char **argv)
{
  const char *cmd = "fit";
  tl_cli_hw_opts hwo = {0};
  tl_cli_plan_opts po;
  tl_cli_plan_opts_init(&po);
  tl_fit_query q;
  tl_fit_query_init(&q);
  tl_sort_key key = TL_SORT_SCORE;
  long limit = 20;
  bool local = false;
  srcs s = {0};
  int rc = TL_EXIT_OK;
  for (int i = 1; i < argc; i++) {
    const char *v = NULL;
    int r;
    if ((r = tl_cli_hw_parse(&hwo, argc, argv, &i, cmd)) != 0 || (r = tl_cli_plan_parse(&po, argc, argv, &i, cmd)) != 0) {
      if (r != 1) {
        rc = r;
        goto done;
      }
      continue;
    }
    if (!strcmp(argv[i], "--local")) {
      local = true;
    } else if ((r = tl_cli_option_value("--sort", argc, argv, &i, &v, cmd)) != 0) {
      if (r != 1 || tl_sort_key_parse(v, &key) != TL_OK) {
        rc = r != 1 ? r : tl_cli_usage_error(cmd, "--sort: '%s' is not one of score, speed, quality, fit, context, params", v);
        goto done;
      }
    } else if ((r = tl_cli_option_value("--limit", argc, argv, &i, &v, cmd)) != 0) {
      char *end;
      if (r == 1)
        limit = strtol(v, &end, 10);
      if (r != 1 || *end || limit < 0) {
        rc = r != 1 ? r : tl_cli_usage_error(cmd, "--limit: '%s' is not a count", v);
        goto done;
      }
    } else if ((r = tl_cli_option_value("--family", argc, argv, &i, &v, cmd)) != 0) {
      if (r != 1) { rc = r; goto done; }
      q.family = v;
    } else if ((r = tl_cli_option_value("--license", argc, argv, &i, &v, cmd)) != 0) {
      if (r != 1) { rc = r; goto done; }
      q.license = v;
    } else if ((r = tl_cli_option_value("--tag", argc, argv, &i, &v, cmd)) != 0) {
      if (r != 1) { rc = r; goto done; }
      q.tag = v;
    } else if ((r = tl_cli_option_value("--min-context", argc, argv, &i, &v, cmd)) != 0) {
      uint64_t c = 0;
      if (r != 1 || !tl_cli_parse_count(v, &c) || c > (1u << 24)) {
        rc = r != 1 ? r : tl_cli_usage_error(cmd, "--min-context: '%s' is not a token count", v);
        goto done;
      }
      q.min_context = (uint32_t)c;
    } else if ((r = tl_cli_option_value("--max-params", argc, argv, &i, &v, cmd)) != 0) {
      if (r != 1 || !tl_cli_parse_count(v, &q.max_params)) {
        rc = r != 1 ? r : tl_cli_usage_error(cmd, "--max-params: '%s' is not a parameter count (8B, 70e9)", v);
        goto done;
      }
    } else if ((r = tl_cli_option_value("--fit-level", argc, argv, &i, &v, cmd)) != 0) {
      tl_fit_level l;
      if (r != 1 || tl_fit_level_parse(v, &l) != TL_OK) {
        rc = r != 1 ? r : tl_cli_usage_error(cmd, "--fit-level: '%s' is not one of perfect, good, marginal, tootight", v);
        goto done;
      }
      q.max_level = (int)l;
    } else if (argv[i][0] == '-' && argv[i][1]) {
      rc = tl_cli_usage_error(cmd, "unknown option '%s'", argv[i]);
      goto done;
    } else {
      add_src(&s, argv[i]);
    }
  }
  if ((rc = tl_cli_plan_finish(&po, cmd)) != 0)
    goto done;
  tl_hw *hw = calloc(1, sizeof *hw);
  if (!hw) {
    rc = tl_cli_fail(cmd, "out of memory");
    goto done;
  }
  if ((rc = tl_cli_hw_resolve(&hwo, NULL, hw, cmd)) != 0) {
    free(hw);
    goto done;
  }
  tl_catalog *cat = tl_cli_plan_catalog(&po, cmd);
  if (!cat) {
    free(hw);
    rc = TL_EXIT_FAILURE;
    goto done;
  }
  q.settings = po.settings;
  if (local)
    scan_local(&s);
  tl_fit_row *rows = NULL;
  size_t n = 0, cap = 0;
  const char *ids[MAX_SRC];
  size_t n_ids = 0;
  for (size_t i = 0; i < s.n; i++) {
    struct stat st;
    if (stat(s.v[i], &st) != 0)
      ids[n_ids++] = s.v[i];
  }
  if (s.n || local)
    rc = fit_files(&s, cat, hw, &q, &rows, &n, &cap, cmd);
  if (rc == 0 && (n_ids || !(s.n || local))) {
    tl_error err;
    tl_fit_row *lib = NULL;
    size_t nl = 0;
    q.ids = n_ids ? ids : NULL;
    q.n_ids = n_ids;
    if (tl_fit_catalog(cat, hw, &q, key, &lib, &nl, &err) != TL_OK) {
      rc = tl_cli_fail(cmd, "%s", err.message);
    } else if (grow(&rows, &cap, n + nl + 1) != 0) {
      rc = tl_cli_fail(cmd, "out of memory");
    } else {
      memcpy(rows + n, lib, nl * sizeof *rows);
      n += nl;
    }
    tl_free(lib);
  }
  if (rc == 0)
    tl_fit_rank(rows, n, key);
  if (rc == 0) {
    size_t shown = limit && (size_t)limit < n ? (size_t)limit : n;
    if (po.json) {
      char *out = NULL;
      tl_error err;
      if (tl_fit_rows_to_json(rows, shown, &out, &err) != TL_OK) {
        rc = tl_cli_fail(cmd, "%s", err.message);
      } else {
        puts(out);
        tl_free(out);
      }
    } else if (n == 0) {
      printf("No model matches the filters%s.\n", local ? " (none found on disk)" : "");
    } else {
      print_table(rows, n, shown, hw, &po.settings);
    }
    bool any = false;
    for (size_t i = 0; i < n; i++)
      any |= rows[i].plan.fits;
    if (rc == 0 && n > 0 && !any) {
      fprintf(stderr, "tailor fit: nothing fits this machine; try a smaller model, a lower quantization or a shorter --context\n");
      rc = TL_EXIT_NOFIT;
    }
  }
  free(rows);
  tl_catalog_free(cat);
  free(hw);
done:
  for (size_t i = 0; i < s.n; i++)
    free(s.v[i]);
  return rc;
}

const tl_cli_command tl_cli_cmd_fit = {
    .name = "fit",
    .summary = "rank models by how well they run on this (or a described) machine",
    .help = help,
    .run = run,
};
