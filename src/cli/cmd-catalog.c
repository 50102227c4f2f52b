/* `tailor catalog list|show`: the models the catalog knows, with their
 * published facts; filters by family and tag. */
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "model-view.h"

static const char help[] =
    "Usage: tailor catalog list [--json] [--family F] [--tag T] [--catalog FILE]\n"
    "       tailor catalog show ID [--json] [--catalog FILE]\n"
    "\n"
    "List the catalog of known models, or show one entry with its published facts\n"
    "and the predicted GGUF size at its default mixture (see 'tailor inspect ID').\n"
    "\n"
    "Options:\n"
    "  --json          machine-readable output\n"
    "  --family F      only models of family F (qwen3, llama3.1, ...)\n"
    "  --tag T         only models tagged T (general, coding, reasoning, chat,\n"
    "                  multimodal, embedding)\n"
    "  --catalog FILE  overlay a catalog file (same schema as data/models.json)\n"
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

static int run(int argc, char **argv)
{
  const char *sub = NULL, *id = NULL, *family = NULL, *tag = NULL, *catalog_file = NULL;
  bool json = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--json"))
      json = true;
    else if (!strcmp(a, "--family") || !strcmp(a, "--tag") || !strcmp(a, "--catalog")) {
      if (i + 1 >= argc)
        return tl_cli_usage_error("catalog", "%s needs a value", a);
      if (a[2] == 'f')
        family = argv[++i];
      else if (a[2] == 't')
        tag = argv[++i];
      else
        catalog_file = argv[++i];
    } else if (a[0] == '-' && a[1] != '\0')
      return tl_cli_usage_error("catalog", "unknown option '%s'", a);
    else if (!sub)
      sub = a;
    else if (!id)
      id = a;
    else
      return tl_cli_usage_error("catalog", "unexpected argument '%s'", a);
  }
  if (!sub)
    return tl_cli_usage_error("catalog", "missing subcommand: list or show");
  bool is_list = !strcmp(sub, "list"), is_show = !strcmp(sub, "show");
  if (!is_list && !is_show)
    return tl_cli_usage_error("catalog", "unknown subcommand '%s' (list or show)", sub);
  if (is_list && id)
    return tl_cli_usage_error("catalog", "list takes no ID");
  if (is_show && !id)
    return tl_cli_usage_error("catalog", "show needs an ID");
  tl_catalog *cat = tl_cli_catalog_load("catalog", catalog_file);
  if (!cat)
    return TL_EXIT_FAILURE;
  int rc = is_list ? list(cat, json, family, tag) : show(cat, id, json);
  tl_catalog_free(cat);
  return rc;
}

const tl_cli_command tl_cli_cmd_catalog = {
    .name = "catalog",
    .summary = "list the known models or show one: tailor catalog list|show ID",
    .help = help,
    .run = run,
};
