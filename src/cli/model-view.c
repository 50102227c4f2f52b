/* Formatting helpers for the model commands; see model-view.h. */
#include "model-view.h"

#include "commands.h"

#include <string.h>

const char *tl_cli_fmt_bytes(uint64_t b, char *buf, size_t n)
{
  if (b >= 1000000000ull)
    snprintf(buf, n, "%.2f GB", (double)b / 1e9);
  else if (b >= 1000000ull)
    snprintf(buf, n, "%.2f MB", (double)b / 1e6);
  else if (b >= 1000ull)
    snprintf(buf, n, "%.1f kB", (double)b / 1e3);
  else
    snprintf(buf, n, "%llu B", (unsigned long long)b);
  return buf;
}

const char *tl_cli_fmt_count(uint64_t v, char *buf, size_t n)
{
  if (v >= 1000000000ull)
    snprintf(buf, n, "%.2fB", (double)v / 1e9);
  else if (v >= 1000000ull)
    snprintf(buf, n, "%.2fM", (double)v / 1e6);
  else if (v >= 1000ull)
    snprintf(buf, n, "%.1fK", (double)v / 1e3);
  else
    snprintf(buf, n, "%llu", (unsigned long long)v);
  return buf;
}

tl_catalog *tl_cli_catalog_load(const char *cmd, const char *user_file)
{
  tl_error err;
  tl_catalog *c = NULL;
  if (tl_catalog_load_user(&c, &err) != TL_OK) {
    tl_cli_fail(cmd, "%s", err.message);
    return NULL;
  }
  if (user_file && tl_catalog_add_file(c, user_file, &err) != TL_OK) {
    tl_cli_fail(cmd, "%s", err.message);
    tl_catalog_free(c);
    return NULL;
  }
  return c;
}

json_t *tl_cli_catalog_entry_json(const tl_catalog_entry *e)
{
  json_t *o = json_object();
  json_object_set_new(o, "id", json_string(e->id));
  json_object_set_new(o, "name", json_string(e->name));
  json_object_set_new(o, "hf_repo", json_string(e->hf_repo));
  json_object_set_new(o, "family", json_string(e->family));
  json_object_set_new(o, "arch", json_string(e->arch));
  json_object_set_new(o, "params_total", json_integer((json_int_t)e->params_total));
  json_object_set_new(o, "params_active", json_integer((json_int_t)e->params_active));
  json_object_set_new(o, "params_source", json_string(e->params_source));
  json_object_set_new(o, "context_length", json_integer(e->context_length));
  json_object_set_new(o, "license", json_string(e->license));
  json_object_set_new(o, "release_date", json_string(e->release_date));
  json_t *tags = json_array();
  for (size_t i = 0; i < e->n_tags; i++)
    json_array_append_new(tags, json_string(e->tags[i]));
  json_object_set_new(o, "tags", tags);
  if (e->has_quality) {
    json_t *q = json_object();
    json_object_set_new(q, "benchmark", json_string(e->quality_benchmark));
    json_object_set_new(q, "score", json_real(e->quality_score));
    json_object_set_new(q, "source", json_string(e->quality_source));
    json_object_set_new(o, "quality", q);
  }
  json_object_set_new(o, "in_registry", json_boolean(e->in_registry));
  json_object_set_new(o, "source", json_string(e->source));
  json_object_set_new(o, "origin", json_string(e->origin));
  return o;
}
