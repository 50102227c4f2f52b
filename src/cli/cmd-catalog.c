/* `tailor catalog list|show|update`: the models the catalog knows, with their
 * published facts; filters by family and tag; `update` fetches entries from
 * the Hugging Face Hub into the user catalog. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "model-view.h"

static const char help[] =
    "Usage: tailor catalog list [--json] [--family F] [--tag T] [--catalog FILE]\n"
    "       tailor catalog show ID [--json] [--catalog FILE]\n"
    "       tailor catalog update [OWNER/NAME...] [--trending N] [--json]\n"
    "\n"
    "List the catalog of known models, or show one entry with its published facts\n"
    "and the predicted GGUF size at its default mixture (see 'tailor inspect ID').\n"
    "\n"
    "update fetches each Hugging Face model's info, config.json and safetensors\n"
    "headers (Range requests, no weights) and writes catalog entries with exact\n"
    "parameter counts to the user catalog, which every command overlays on the\n"
    "built-in one: $TAILOR_CACHE_DIR/catalog.json, else\n"
    "$XDG_CACHE_HOME/tailor/catalog.json, else ~/.cache/tailor/catalog.json\n"
    "(TAILOR_CACHE_DIR=none turns it off). HF_ENDPOINT names another hub,\n"
    "HF_TOKEN is sent for gated models.\n"
    "\n"
    "Options:\n"
    "  --json          machine-readable output\n"
    "  --family F      only models of family F (qwen3, llama3.1, ...)\n"
    "  --tag T         only models tagged T (general, coding, reasoning, chat,\n"
    "                  multimodal, embedding)\n"
    "  --catalog FILE  overlay a catalog file (same schema as data/models.json)\n"
    "  --trending N    update: also the N (1..100) trending text-generation models\n"
    "  -h, --help      show this help\n";

static bool has_tag(const tl_catalog_entry *e, const char *tag)
{
  for (size_t i = 0; i < e->n_tags; i++)
    if (!strcmp(e->tags[i], tag))
      return true;
  return false;
}

static int list(tl_catalog *cat, bool json, const char *family, const char *tag)
{
  json_t *arr = json ? json_array() : NULL;
  if (!json)
    printf("%-36s %-22s %-15s %10s %10s %8s  %s\n", "ID", "FAMILY", "ARCH", "PARAMS", "ACTIVE", "CONTEXT", "TAGS");
  size_t shown = 0;
  for (size_t i = 0; i < tl_catalog_count(cat); i++) {
    const tl_catalog_entry *e = tl_catalog_at(cat, i);
    if ((family && strcmp(e->family, family)) || (tag && !has_tag(e, tag)))
      continue;
    shown++;
    if (json) {
      json_array_append_new(arr, tl_cli_catalog_entry_json(e));
      continue;
    }
    char a[32], b[32], tags[128] = "";
    size_t tl = 0;
    for (size_t t = 0; t < e->n_tags && tl < sizeof tags; t++) {
      int w = snprintf(tags + tl, sizeof tags - tl, "%s%s", t ? "," : "", e->tags[t]);
      tl += w > 0 ? (size_t)w : 0;
    }
    printf("%-36s %-22s %-15s %10s %10s %8u  %s\n", e->id, e->family, e->arch,
           tl_cli_fmt_count(e->params_total, a, sizeof a), tl_cli_fmt_count(e->params_active, b, sizeof b),
           e->context_length, tags);
  }
  if (json) {
    json_t *o = json_object();
    json_object_set_new(o, "count", json_integer((json_int_t)shown));
    json_object_set_new(o, "models", arr);
    char *s = json_dumps(o, JSON_INDENT(2));
    if (s)
      puts(s);
    free(s);
    json_decref(o);
  }
  return TL_EXIT_OK;
}

static int show(tl_catalog *cat, const char *id, bool json)
{
  const tl_catalog_entry *e = tl_catalog_find(cat, id);
  if (!e)
    return tl_cli_fail("catalog", "no model '%s' in the catalog (try 'tailor catalog list')", id);
  tl_model_desc *m = NULL;
  tl_error err;
  if (tl_model_desc_from_catalog(cat, id, TL_FTYPE_Q4_K_M, &m, &err) != TL_OK)
    return tl_cli_fail("catalog", "%s", err.message);
  if (json) {
    json_t *o = tl_cli_catalog_entry_json(e);
    json_error_t jerr;
    json_object_set_new(o, "config", json_loads(e->config_json, 0, &jerr));
    json_object_set_new(o, "registry_params_total", json_integer((json_int_t)m->n_params));
    json_object_set_new(o, "registry_params_active", json_integer((json_int_t)m->n_params_active));
    json_object_set_new(o, "q4_k_m_file_bytes_predicted", json_integer((json_int_t)m->file_bytes_predicted));
    char *s = json_dumps(o, JSON_INDENT(2));
    if (s)
      puts(s);
    free(s);
    json_decref(o);
  } else {
    char a[32];
    printf("id:            %s\n", e->id);
    printf("name:          %s\n", e->name);
    printf("hf repo:       %s\n", e->hf_repo);
    printf("family:        %s (architecture %s%s)\n", e->family, e->arch,
           e->in_registry ? "" : ", not in the registry: shaped from the parameter count");
    printf("parameters:    %llu total, %llu active (%s)\n", (unsigned long long)e->params_total,
           (unsigned long long)e->params_active, e->params_source);
    printf("registry:      %llu total, %llu active\n", (unsigned long long)m->n_params,
           (unsigned long long)m->n_params_active);
    printf("context:       %u\n", e->context_length);
    printf("license:       %s\n", e->license);
    printf("released:      %s\n", e->release_date);
    printf("tags:         ");
    for (size_t t = 0; t < e->n_tags; t++)
      printf(" %s", e->tags[t]);
    printf("\n");
    if (e->has_quality)
      printf("quality:       %s %.1f (%s)\n", e->quality_benchmark, e->quality_score, e->quality_source);
    printf("Q4_K_M file:   %s predicted\n", tl_cli_fmt_bytes(m->file_bytes_predicted, a, sizeof a));
    printf("source:        %s\n", e->source);
  }
  tl_model_desc_free(m);
  return TL_EXIT_OK;
}

static void on_progress(const tl_catalog_update_item *it, size_t i, size_t n, void *user)
{
  bool json = *(bool *)user;
  FILE *f = json ? stderr : stdout;
  char a[32];
  if (it->status == TL_OK)
    fprintf(f, "[%zu/%zu] %s -> %s: %s (%s), %s parameters from %u safetensors file%s, context %u\n", i + 1, n,
            it->repo, it->id, it->arch, it->in_registry ? "in the registry" : "not in the registry",
            tl_cli_fmt_count(it->params_total, a, sizeof a), it->n_files, it->n_files == 1 ? "" : "s",
            it->context_length);
  else
    fprintf(f, "[%zu/%zu] %s: failed: %s\n", i + 1, n, it->repo, it->err.message);
  fflush(f);
}

static int update(int n_ids, const char *const *ids, long trending, bool json)
{
  tl_error err;
  char path[4096];
  if (tl_catalog_user_path(path, sizeof path, &err) != TL_OK)
    return tl_cli_fail("catalog", "%s", err.message);
  char **trend = NULL;
  size_t n_trend = 0;
  if (trending > 0 && tl_hub_list_trending(NULL, (uint32_t)trending, &trend, &n_trend, &err) != TL_OK)
    return tl_cli_fail("catalog", "%s", err.message);
  size_t n = (size_t)n_ids + n_trend;
  const char **repos = calloc(n ? n : 1, sizeof *repos);
  tl_catalog_update_item *items = calloc(n ? n : 1, sizeof *items);
  if (!repos || !items) {
    free(repos);
    free(items);
    tl_hub_repos_free(trend, n_trend);
    return tl_cli_fail("catalog", "out of memory");
  }
  for (int i = 0; i < n_ids; i++)
    repos[i] = ids[i];
  for (size_t i = 0; i < n_trend; i++)
    repos[(size_t)n_ids + i] = trend[i];
  if (!json)
    printf("updating %s from %zu model%s\n", path, n, n == 1 ? "" : "s");
  tl_status st = tl_catalog_update(NULL, path, repos, n, items, on_progress, &json, &err);
  size_t failed = 0;
  for (size_t i = 0; i < n; i++)
    failed += items[i].status != TL_OK;
  if (json) {
    json_t *o = json_object(), *arr = json_array();
    json_object_set_new(o, "catalog", json_string(path));
    json_object_set_new(o, "written", json_boolean(st == TL_OK && failed < n));
    for (size_t i = 0; i < n; i++) {
      const tl_catalog_update_item *it = &items[i];
      json_t *e = json_object();
      json_object_set_new(e, "repo", json_string(it->repo));
      json_object_set_new(e, "ok", json_boolean(it->status == TL_OK));
      if (it->status == TL_OK) {
        json_object_set_new(e, "id", json_string(it->id));
        json_object_set_new(e, "arch", json_string(it->arch));
        json_object_set_new(e, "in_registry", json_boolean(it->in_registry));
        json_object_set_new(e, "params_total", json_integer((json_int_t)it->params_total));
        json_object_set_new(e, "params_active", json_integer((json_int_t)it->params_active));
        if (it->hub_params_total)
          json_object_set_new(e, "hub_params_total", json_integer((json_int_t)it->hub_params_total));
        json_object_set_new(e, "context_length", json_integer(it->context_length));
        json_object_set_new(e, "safetensors_files", json_integer(it->n_files));
      } else {
        json_object_set_new(e, "error", json_string(it->err.message));
        json_object_set_new(e, "code", json_string(tl_status_name(it->status)));
      }
      json_array_append_new(arr, e);
    }
    json_object_set_new(o, "models", arr);
    if (st != TL_OK)
      json_object_set_new(o, "error", json_string(err.message));
    char *s = json_dumps(o, JSON_INDENT(2));
    if (s)
      puts(s);
    free(s);
    json_decref(o);
  }
  free(repos);
  free(items);
  tl_hub_repos_free(trend, n_trend);
  if (st != TL_OK)
    return json ? TL_EXIT_FAILURE : tl_cli_fail("catalog", "%s", err.message);
  if (!json && failed < n)
    printf("%zu of %zu written to %s\n", n - failed, n, path);
  else if (!json)
    printf("nothing written; %s is as it was\n", path);
  if (failed)
    return json ? TL_EXIT_FAILURE : tl_cli_fail("catalog", "%zu of %zu models failed (see above)", failed, n);
  return TL_EXIT_OK;
}

static int run(int argc, char **argv)
{
  const char *sub = NULL, *family = NULL, *tag = NULL, *catalog_file = NULL;
  const char **pos = calloc((size_t)argc + 1, sizeof *pos);
  int n_pos = 0;
  long trending = 0;
  bool json = false;
  int rc = TL_EXIT_OK;
  if (!pos)
    return tl_cli_fail("catalog", "out of memory");
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--json"))
      json = true;
    else if (!strcmp(a, "--family") || !strcmp(a, "--tag") || !strcmp(a, "--catalog") || !strcmp(a, "--trending")) {
      if (i + 1 >= argc) {
        rc = tl_cli_usage_error("catalog", "%s needs a value", a);
        goto out;
      }
      if (!strcmp(a, "--family"))
        family = argv[++i];
      else if (!strcmp(a, "--tag"))
        tag = argv[++i];
      else if (!strcmp(a, "--catalog"))
        catalog_file = argv[++i];
      else {
        char *end;
        errno = 0;
        trending = strtol(argv[++i], &end, 10);
        if (errno || *end || end == argv[i] || trending < 1 || trending > 100) {
          rc = tl_cli_usage_error("catalog", "--trending takes a number of models from 1 to 100, not '%s'", argv[i]);
          goto out;
        }
      }
    } else if (a[0] == '-' && a[1] != '\0') {
      rc = tl_cli_usage_error("catalog", "unknown option '%s'", a);
      goto out;
    } else if (!sub)
      sub = a;
    else
      pos[n_pos++] = a;
  }
  if (!sub) {
    rc = tl_cli_usage_error("catalog", "missing subcommand: list, show or update");
    goto out;
  }
  bool is_list = !strcmp(sub, "list"), is_show = !strcmp(sub, "show"), is_update = !strcmp(sub, "update");
  if (!is_list && !is_show && !is_update)
    rc = tl_cli_usage_error("catalog", "unknown subcommand '%s' (list, show or update)", sub);
  else if (is_list && n_pos)
    rc = tl_cli_usage_error("catalog", "list takes no ID");
  else if (is_show && n_pos != 1)
    rc = n_pos ? tl_cli_usage_error("catalog", "unexpected argument '%s'", pos[1])
               : tl_cli_usage_error("catalog", "show needs an ID");
  else if (!is_update && trending)
    rc = tl_cli_usage_error("catalog", "--trending belongs to update");
  else if (is_update && (family || tag || catalog_file))
    rc = tl_cli_usage_error("catalog", "update takes OWNER/NAME ids, --trending N and --json");
  else if (is_update && !n_pos && !trending)
    rc = tl_cli_usage_error("catalog", "update needs OWNER/NAME ids or --trending N");
  if (rc != TL_EXIT_OK)
    goto out;
  if (is_update) {
    rc = update(n_pos, pos, trending, json);
    goto out;
  }
  tl_catalog *cat = tl_cli_catalog_load("catalog", catalog_file);
  if (!cat) {
    rc = TL_EXIT_FAILURE;
    goto out;
  }
  rc = is_list ? list(cat, json, family, tag) : show(cat, pos[0], json);
  tl_catalog_free(cat);
out:
  free(pos);
  return rc;
}

const tl_cli_command tl_cli_cmd_catalog = {
    .name = "catalog",
    .summary = "list the known models, show one, or add models from the Hugging Face Hub",
    .help = help,
    .run = run,
};
