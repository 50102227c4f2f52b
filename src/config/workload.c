/* Workload profiles: use case, serving mode, concurrency, prompt and output
 * length classes, priority; the named presets; and their names. */
#include <string.h>

#include "base/error-int.h"
#include "config/internal.h"

static const char *const use_case_names[TL_WORK_COUNT] = {
    "general", "long_context", "speed", "quality", "coding", "chat", "reasoning"};
static const char *const mode_names[TL_SERVE_COUNT] = {"cli", "chat", "server", "batch"};
static const char *const len_names[TL_LEN_COUNT] = {"short", "medium", "long"};
static const char *const prio_names[TL_PRIO_COUNT] = {"balanced", "latency", "throughput"};

const char *tl_workload_use_name(tl_workload_use u)
{
  return (unsigned)u < TL_WORK_COUNT ? use_case_names[u] : "unknown";
}
const char *tl_serving_mode_name(tl_serving_mode m)
{
  return (unsigned)m < TL_SERVE_COUNT ? mode_names[m] : "unknown";
}
const char *tl_length_class_name(tl_length_class c)
{
  return (unsigned)c < TL_LEN_COUNT ? len_names[c] : "unknown";
}
const char *tl_priority_name(tl_priority p)
{
  return (unsigned)p < TL_PRIO_COUNT ? prio_names[p] : "unknown";
}

static int find(const char *s, const char *const *names, int n)
{
  for (int i = 0; i < n; i++)
    if (!strcmp(s, names[i]))
      return i;
  /* accept '-' for '_' ("long-context") */
  char buf[32];
  size_t len = strlen(s);
  if (len >= sizeof buf)
    return -1;
  for (size_t i = 0; i <= len; i++)
    buf[i] = s[i] == '-' ? '_' : s[i];
  for (int i = 0; i < n; i++)
    if (!strcmp(buf, names[i]))
      return i;
  return -1;
}

bool tl_workload_use_parse(const char *s, tl_workload_use *out)
{
  int i = find(s, use_case_names, TL_WORK_COUNT);
  if (i < 0)
    return false;
  *out = (tl_workload_use)i;
  return true;
}
bool tl_serving_mode_parse(const char *s, tl_serving_mode *out)
{
  int i = find(s, mode_names, TL_SERVE_COUNT);
  if (i < 0)
    return false;
  *out = (tl_serving_mode)i;
  return true;
}
bool tl_length_class_parse(const char *s, tl_length_class *out)
{
  int i = find(s, len_names, TL_LEN_COUNT);
  if (i < 0)
    return false;
  *out = (tl_length_class)i;
  return true;
}
bool tl_priority_parse(const char *s, tl_priority *out)
{
  int i = find(s, prio_names, TL_PRIO_COUNT);
  if (i < 0)
    return false;
  *out = (tl_priority)i;
  return true;
}

static const tl_workload presets[] = {
    {"default", TL_WORK_GENERAL, TL_SERVE_CLI, 1, TL_LEN_MEDIUM, TL_LEN_MEDIUM, TL_PRIO_BALANCED},
    {"chat", TL_WORK_CHAT, TL_SERVE_CHAT, 1, TL_LEN_MEDIUM, TL_LEN_MEDIUM, TL_PRIO_LATENCY},
    {"server", TL_WORK_GENERAL, TL_SERVE_SERVER, 4, TL_LEN_MEDIUM, TL_LEN_MEDIUM,
     TL_PRIO_BALANCED},
    {"batch", TL_WORK_GENERAL, TL_SERVE_BATCH, 16, TL_LEN_MEDIUM, TL_LEN_MEDIUM,
     TL_PRIO_THROUGHPUT},
    {"long-context", TL_WORK_LONG_CONTEXT, TL_SERVE_CLI, 1, TL_LEN_LONG, TL_LEN_MEDIUM,
     TL_PRIO_BALANCED},
    {"coding", TL_WORK_CODING, TL_SERVE_CLI, 1, TL_LEN_LONG, TL_LEN_MEDIUM, TL_PRIO_BALANCED},
    {"reasoning", TL_WORK_REASONING, TL_SERVE_CLI, 1, TL_LEN_MEDIUM, TL_LEN_LONG,
     TL_PRIO_BALANCED},
    {"speed", TL_WORK_SPEED, TL_SERVE_CLI, 1, TL_LEN_SHORT, TL_LEN_SHORT, TL_PRIO_LATENCY},
    {"quality", TL_WORK_QUALITY, TL_SERVE_CLI, 1, TL_LEN_MEDIUM, TL_LEN_MEDIUM, TL_PRIO_BALANCED},
};

tl_status tl_workload_preset(const char *name, tl_workload *w, tl_error *err)
{
  for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
    if (!strcmp(name, presets[i].preset)) {
      *w = presets[i];
      return TL_OK;
    }
  }
  return tl__error_set(err, TL_ENOTFOUND,
                       "workload: no preset '%s' (presets: default, chat, server, batch, "
                       "long-context, coding, reasoning, speed, quality)",
                       name);
}
