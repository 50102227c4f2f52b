/* The hardware object in JSON (docs/json.md, "hardware"): tl_hw_to_json
 * writes every field; tl_hw_from_json reads the same document back exactly
 * (doubles with 17 significant digits) and also accepts hand-written files
 * that give only some fields, filling named GPUs from the spec table. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "hw/internal.h"

static const char *const source_names[] = {"unknown",  "probed",    "spec",
                                           "measured", "estimated", "described"};
static const char *const limit_names[] = {"none", "cgroup_v2", "cgroup_v1", "described"};
static const char *const vendor_names[] = {"nvidia", "amd", "intel", "apple", "other"};

static int set(json_t *o, const char *k, json_t *v)
{
  return json_object_set_new(o, k, v);
}
static json_t *u64(uint64_t v)
{
  return json_integer((json_int_t)v);
}

static json_t *isa_array(uint32_t isa)
{
  char s[512];
  tl_cpu_isa_string(isa, s, sizeof s);
  json_t *a = json_array();
  for (char *p = s, *sp; a && *p; p = sp ? sp + 1 : p + strlen(p)) {
    sp = strchr(p, ' ');
    if (sp)
      *sp = '\0';
    json_array_append_new(a, json_string(p));
  }
  return a;
}

static json_t *string_array(const char (*lines)[256], size_t n)
{
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++)
    json_array_append_new(a, json_string(lines[i]));
  return a;
}

tl_status tl_hw_to_json(const tl_hw *hw, char **out, tl_error *err)
{
  if (!hw || !out)
    return tl__error_set(err, TL_EINVAL, "hw json: hw and out must not be NULL");
  json_t *root = json_object();
  if (!root)
    return tl__error_set(err, TL_ENOMEM, "hw json: out of memory");
  set(root, "schema", json_string("tailor.hardware"));
  set(root, "schema_version", json_integer(TL_HW_SCHEMA_VERSION));
  set(root, "described", json_boolean(hw->described));
  set(root, "platform_id", json_string(hw->platform_id));
  set(root, "backend", json_string(hw->backend));
  set(root, "os", json_string(hw->os));
  set(root, "hostname", json_string(hw->hostname));
  const tl_cpu *c = &hw->cpu;
  json_t *cpu = json_object();
  set(root, "cpu", cpu);
  set(cpu, "vendor", json_string(c->vendor));
  set(cpu, "model", json_string(c->model));
  set(cpu, "arch", json_string(c->arch));
  set(cpu, "sockets", json_integer(c->sockets));
  set(cpu, "cores", json_integer(c->cores));
  set(cpu, "threads", json_integer(c->threads));
  set(cpu, "perf_cores", json_integer(c->perf_cores));
  set(cpu, "eff_cores", json_integer(c->eff_cores));
  set(cpu, "isa", isa_array(c->isa));
  set(cpu, "l1d_bytes", u64(c->l1d));
  set(cpu, "l2_bytes", u64(c->l2));
  set(cpu, "l3_bytes", u64(c->l3));
  set(cpu, "numa_nodes", json_integer(c->numa_nodes));
  set(cpu, "max_mhz", json_real(c->max_mhz));
  set(cpu, "flops_f32", json_real(c->flops_f32));
  const tl_memory *m = &hw->mem;
  json_t *mem = json_object();
  set(root, "memory", mem);
  set(mem, "total_bytes", u64(m->total));
  set(mem, "available_bytes", u64(m->available));
  set(mem, "swap_total_bytes", u64(m->swap_total));
  set(mem, "swap_free_bytes", u64(m->swap_free));
  set(mem, "cgroup_limit_bytes", u64(m->cgroup_limit));
  set(mem, "cgroup_usage_bytes", u64(m->cgroup_usage));
  set(mem, "limit_source", json_string(limit_names[m->limit_source <= 3 ? m->limit_source : 0]));
  set(mem, "usable_bytes", u64(m->usable));
  set(mem, "bandwidth_bytes_per_s", json_real(m->bandwidth));
  set(mem, "bandwidth_source", json_string(tl_value_source_name(m->bandwidth_source)));
  set(mem, "bandwidth_spec_bytes_per_s", json_real(m->bandwidth_spec));
  set(mem, "bandwidth_measured_bytes_per_s", json_real(m->bandwidth_measured));
  json_t *gpus = json_array();
  set(root, "gpus", gpus);
  for (size_t i = 0; i < hw->n_gpus; i++) {
    const tl_gpu *g = &hw->gpus[i];
    json_t *o = json_object();
    json_array_append_new(gpus, o);
    set(o, "index", json_integer(g->index));
    set(o, "vendor", json_string(tl_gpu_vendor_name(g->vendor)));
    set(o, "name", json_string(g->name));
    set(o, "uuid", json_string(g->uuid));
    set(o, "spec_id", json_string(g->spec_id));
    set(o, "arch", json_string(g->arch));
    char cc[24] = "";
    if (g->cc_major)
      snprintf(cc, sizeof cc, "%d.%d", g->cc_major, g->cc_minor);
    set(o, "compute_capability", json_string(cc));
    set(o, "sm_count", json_integer(g->sm_count));
    set(o, "vram_total_bytes", u64(g->vram_total));
    set(o, "vram_free_bytes", u64(g->vram_free));
    set(o, "unified", json_boolean(g->unified));
    set(o, "bus_width_bits", json_integer(g->bus_width));
    set(o, "mem_clock_mhz", json_integer(g->mem_clock_mhz));
    set(o, "bandwidth_bytes_per_s", json_real(g->bandwidth));
    set(o, "bandwidth_source", json_string(tl_value_source_name(g->bandwidth_source)));
    set(o, "fp16_flops", json_real(g->fp16_flops));
    set(o, "bf16_flops", json_real(g->bf16_flops));
    set(o, "int8_ops", json_real(g->int8_ops));
    set(o, "flops_source", json_string(tl_value_source_name(g->flops_source)));
    set(o, "pcie_gen", json_integer(g->pcie_gen));
    set(o, "pcie_width", json_integer(g->pcie_width));
    set(o, "driver", json_string(g->driver));
    set(o, "cuda", json_string(g->cuda));
    set(o, "power_limit_w", json_real(g->power_limit_w));
  }
  char caps[512];
  tl_hw_capabilities(hw, caps, sizeof caps);
  set(root, "capabilities", json_string(caps));
  set(root, "notes", string_array((const char(*)[256])hw->notes, hw->n_notes));
  set(root, "warnings", string_array((const char(*)[256])hw->warnings, hw->n_warnings));
  char *s = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(17) | JSON_PRESERVE_ORDER);
  json_decref(root);
  if (!s)
    return tl__error_set(err, TL_ENOMEM, "hw json: out of memory");
  /* Jansson uses the library allocator only once one is installed; copy so
   * that the result is always tl_free-able, and free jansson's with its own. */
  *out = tl__strdup(s);
  json_free_t fr;
  json_get_alloc_funcs(NULL, &fr);
  fr(s);
  if (!*out)
    return tl__error_set(err, TL_ENOMEM, "hw json: out of memory");
  return TL_OK;
}

/* ---- reading --------------------------------------------------------------- */

typedef struct rd {
  tl_error *err;
  tl_status st;
} rd;

static bool fail(rd *r, const char *fmt, const char *a, const char *b)
{
  if (r->st == TL_OK)
    r->st = tl__error_set(r->err, TL_EFORMAT, fmt, a, b);
  return false;
}

static void get_str(rd *r, json_t *o, const char *sect, const char *k, char *dst, size_t n)
{
  json_t *v = json_object_get(o, k);
  if (!v || json_is_null(v))
    return;
  if (!json_is_string(v)) {
    fail(r, "hardware json: %s.%s must be a string", sect, k);
    return;
  }
  snprintf(dst, n, "%s", json_string_value(v));
}

static void get_u64(rd *r, json_t *o, const char *sect, const char *k, uint64_t *dst)
{
  json_t *v = json_object_get(o, k);
  if (!v || json_is_null(v))
    return;
  if (json_is_integer(v) && json_integer_value(v) >= 0)
    *dst = (uint64_t)json_integer_value(v);
  else if (json_is_real(v) && json_real_value(v) >= 0 && json_real_value(v) < 1.8e19)
    *dst = (uint64_t)json_real_value(v);
  else
    fail(r, "hardware json: %s.%s must be a non-negative number", sect, k);
}

static void get_u32(rd *r, json_t *o, const char *sect, const char *k, uint32_t *dst)
{
  uint64_t v = *dst;
  get_u64(r, o, sect, k, &v);
  if (v > UINT32_MAX)
    fail(r, "hardware json: %s.%s is out of range", sect, k);
  else
    *dst = (uint32_t)v;
}

static void get_int(rd *r, json_t *o, const char *sect, const char *k, int *dst)
{
  uint32_t v = (uint32_t)*dst;
  get_u32(r, o, sect, k, &v);
  *dst = (int)v;
}

static void get_dbl(rd *r, json_t *o, const char *sect, const char *k, double *dst)
{
  json_t *v = json_object_get(o, k);
  if (!v || json_is_null(v))
    return;
  if (!json_is_number(v) || json_number_value(v) < 0 || !isfinite(json_number_value(v)))
    fail(r, "hardware json: %s.%s must be a non-negative number", sect, k);
  else
    *dst = json_number_value(v);
}

static void get_bool(rd *r, json_t *o, const char *sect, const char *k, bool *dst)
{
  json_t *v = json_object_get(o, k);
  if (!v || json_is_null(v))
    return;
  if (!json_is_boolean(v))
    fail(r, "hardware json: %s.%s must be true or false", sect, k);
  else
    *dst = json_is_true(v);
}

static int name_index(rd *r, json_t *o, const char *sect, const char *k, const char *const *names,
                      int n, int def)
{
  json_t *v = json_object_get(o, k);
  if (!v || json_is_null(v))
    return def;
  const char *s = json_string_value(v);
  for (int i = 0; s && i < n; i++)
    if (strcmp(s, names[i]) == 0)
      return i;
  fail(r, "hardware json: %s.%s has an unknown value", sect, k);
  return def;
}

static uint32_t isa_from_array(rd *r, json_t *a)
{
  uint32_t isa = 0;
  if (!a)
    return 0;
  if (!json_is_array(a)) {
    fail(r, "hardware json: %s.%s must be an array of strings", "cpu", "isa");
    return 0;
  }
  size_t i;
  json_t *v;
  json_array_foreach(a, i, v)
  {
    const char *s = json_string_value(v);
    bool found = false;
    for (uint32_t bit = 1; s && bit; bit <<= 1) {
      char name[512];
      tl_cpu_isa_string(bit, name, sizeof name);
      if (name[0] && strcmp(name, s) == 0) {
        isa |= bit;
        found = true;
        break;
      }
    }
    if (!found)
      fail(r, "hardware json: cpu.isa has an unknown entry '%s'%s", s ? s : "(not a string)", "");
  }
  return isa;
}

static void read_lines(rd *r, json_t *a, const char *k, char (*lines)[256], size_t max, size_t *n)
{
  if (!a)
    return;
  if (!json_is_array(a)) {
    fail(r, "hardware json: %s must be an array of strings%s", k, "");
    return;
  }
  size_t i;
  json_t *v;
  json_array_foreach(a, i, v)
  {
    if (!json_is_string(v)) {
      fail(r, "hardware json: %s must be an array of strings%s", k, "");
      return;
    }
    if (*n < max)
      snprintf(lines[(*n)++], 256, "%s", json_string_value(v));
  }
}

static void read_gpu(rd *r, json_t *o, tl_gpu *g, tl_hw *hw)
{
  const char *S = "gpus[]";
  if (!json_is_object(o)) {
    fail(r, "hardware json: %s%s must be objects", S, "");
    return;
  }
  memset(g, 0, sizeof *g);
  get_str(r, o, S, "name", g->name, sizeof g->name);
  get_str(r, o, S, "spec_id", g->spec_id, sizeof g->spec_id);
  /* a GPU given only by name or spec id starts from its spec */
  if (!json_object_get(o, "vram_total_bytes") && (g->spec_id[0] || g->name[0])) {
    tl_gpu sp;
    if (tl_gpu_spec_find(g->spec_id[0] ? g->spec_id : g->name, &sp, NULL) == TL_OK) {
      *g = sp;
    } else {
      fail(r, "hardware json: gpus[]: no spec for '%s'%s; give vram_total_bytes",
           g->spec_id[0] ? g->spec_id : g->name, "");
      return;
    }
  }
  g->vendor = (tl_gpu_vendor)name_index(r, o, S, "vendor", vendor_names, 5, (int)g->vendor);
  get_str(r, o, S, "uuid", g->uuid, sizeof g->uuid);
  get_str(r, o, S, "arch", g->arch, sizeof g->arch);
  char cc[24] = "";
  get_str(r, o, S, "compute_capability", cc, sizeof cc);
  if (cc[0] && sscanf(cc, "%d.%d", &g->cc_major, &g->cc_minor) != 2)
    fail(r, "hardware json: %s.%s must look like \"9.0\"", S, "compute_capability");
  get_u32(r, o, S, "sm_count", &g->sm_count);
  get_u64(r, o, S, "vram_total_bytes", &g->vram_total);
  if (!g->vram_free || json_object_get(o, "vram_total_bytes"))
    g->vram_free = g->vram_total;
  get_u64(r, o, S, "vram_free_bytes", &g->vram_free);
  get_bool(r, o, S, "unified", &g->unified);
  get_u32(r, o, S, "bus_width_bits", &g->bus_width);
  get_u32(r, o, S, "mem_clock_mhz", &g->mem_clock_mhz);
  if (json_object_get(o, "bandwidth_bytes_per_s"))
    g->bandwidth_source = TL_SRC_DESCRIBED;
  get_dbl(r, o, S, "bandwidth_bytes_per_s", &g->bandwidth);
  g->bandwidth_source = (tl_value_source)name_index(r, o, S, "bandwidth_source", source_names, 6,
                                                    (int)g->bandwidth_source);
  if (json_object_get(o, "fp16_flops"))
    g->flops_source = TL_SRC_DESCRIBED;
  get_dbl(r, o, S, "fp16_flops", &g->fp16_flops);
  get_dbl(r, o, S, "bf16_flops", &g->bf16_flops);
  get_dbl(r, o, S, "int8_ops", &g->int8_ops);
  g->flops_source =
      (tl_value_source)name_index(r, o, S, "flops_source", source_names, 6, (int)g->flops_source);
  get_int(r, o, S, "pcie_gen", &g->pcie_gen);
  get_int(r, o, S, "pcie_width", &g->pcie_width);
  get_str(r, o, S, "driver", g->driver, sizeof g->driver);
  get_str(r, o, S, "cuda", g->cuda, sizeof g->cuda);
  get_dbl(r, o, S, "power_limit_w", &g->power_limit_w);
  g->index = (int)(g - hw->gpus);
  get_int(r, o, S, "index", &g->index);
  if (!g->vram_total && !json_object_get(o, "vram_total_bytes") && r->st == TL_OK)
    fail(r, "hardware json: gpus[]: '%s' has no vram_total_bytes%s", g->name, "");
}

tl_status tl_hw_from_json(const char *text, size_t len, tl_hw *out, tl_error *err)
{
  if (!text || !out)
    return tl__error_set(err, TL_EINVAL, "hardware json: text and out must not be NULL");
  json_error_t jerr;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!root)
    return tl__error_set(err, TL_EFORMAT, "hardware json: line %d column %d: %s", jerr.line,
                         jerr.column, jerr.text);
  if (!json_is_object(root)) {
    json_decref(root);
    return tl__error_set(err, TL_EFORMAT, "hardware json: the document must be an object");
  }
  json_t *ver = json_object_get(root, "schema_version");
  if (!json_is_integer(ver)) {
    json_decref(root);
    return tl__error_set(err, TL_EFORMAT, "hardware json: schema_version (integer) is required");
  }
  long long version = (long long)json_integer_value(ver);
  if (version > TL_HW_SCHEMA_VERSION || version < 1) {
    json_decref(root);
    return tl__error_set(err, TL_EUNSUPPORTED,
                         "hardware json: schema_version %lld is not supported (this is %d)",
                         version, TL_HW_SCHEMA_VERSION);
  }
  tl_hw *hw = tl__calloc(1, sizeof *hw);
  if (!hw) {
    json_decref(root);
    return tl__error_set(err, TL_ENOMEM, "hardware json: out of memory");
  }
  rd r = {err, TL_OK};
  hw->described = true;
  get_bool(&r, root, "", "described", &hw->described);
  get_str(&r, root, "", "os", hw->os, sizeof hw->os);
  get_str(&r, root, "", "hostname", hw->hostname, sizeof hw->hostname);
  json_t *cpu = json_object_get(root, "cpu");
  if (cpu && !json_is_object(cpu))
    fail(&r, "hardware json: %s%s must be an object", "cpu", "");
  else if (cpu) {
    tl_cpu *c = &hw->cpu;
    get_str(&r, cpu, "cpu", "vendor", c->vendor, sizeof c->vendor);
    get_str(&r, cpu, "cpu", "model", c->model, sizeof c->model);
    get_str(&r, cpu, "cpu", "arch", c->arch, sizeof c->arch);
    get_u32(&r, cpu, "cpu", "sockets", &c->sockets);
    get_u32(&r, cpu, "cpu", "cores", &c->cores);
    get_u32(&r, cpu, "cpu", "threads", &c->threads);
    c->perf_cores = c->cores;
    get_u32(&r, cpu, "cpu", "perf_cores", &c->perf_cores);
    get_u32(&r, cpu, "cpu", "eff_cores", &c->eff_cores);
    c->isa = isa_from_array(&r, json_object_get(cpu, "isa"));
    get_u64(&r, cpu, "cpu", "l1d_bytes", &c->l1d);
    get_u64(&r, cpu, "cpu", "l2_bytes", &c->l2);
    get_u64(&r, cpu, "cpu", "l3_bytes", &c->l3);
    c->numa_nodes = 1;
    get_u32(&r, cpu, "cpu", "numa_nodes", &c->numa_nodes);
    get_dbl(&r, cpu, "cpu", "max_mhz", &c->max_mhz);
    if (json_object_get(cpu, "flops_f32"))
      get_dbl(&r, cpu, "cpu", "flops_f32", &c->flops_f32);
    else
      tl__hw_cpu_estimate_flops(c, -1);
  }
  json_t *mem = json_object_get(root, "memory");
  if (mem && !json_is_object(mem))
    fail(&r, "hardware json: %s%s must be an object", "memory", "");
  else if (mem) {
    tl_memory *m = &hw->mem;
    const char *S = "memory";
    get_u64(&r, mem, S, "total_bytes", &m->total);
    m->available = m->total;
    get_u64(&r, mem, S, "available_bytes", &m->available);
    get_u64(&r, mem, S, "swap_total_bytes", &m->swap_total);
    get_u64(&r, mem, S, "swap_free_bytes", &m->swap_free);
    get_u64(&r, mem, S, "cgroup_limit_bytes", &m->cgroup_limit);
    get_u64(&r, mem, S, "cgroup_usage_bytes", &m->cgroup_usage);
    m->limit_source =
        (tl_mem_limit_source)name_index(&r, mem, S, "limit_source", limit_names, 4, 0);
    if (json_object_get(mem, "bandwidth_bytes_per_s"))
      m->bandwidth_source = TL_SRC_DESCRIBED;
    get_dbl(&r, mem, S, "bandwidth_bytes_per_s", &m->bandwidth);
    m->bandwidth_source = (tl_value_source)name_index(&r, mem, S, "bandwidth_source", source_names,
                                                      6, (int)m->bandwidth_source);
    get_dbl(&r, mem, S, "bandwidth_spec_bytes_per_s", &m->bandwidth_spec);
    get_dbl(&r, mem, S, "bandwidth_measured_bytes_per_s", &m->bandwidth_measured);
  }
  json_t *gpus = json_object_get(root, "gpus");
  if (gpus && !json_is_array(gpus))
    fail(&r, "hardware json: %s%s must be an array", "gpus", "");
  else if (gpus) {
    size_t i;
    json_t *g;
    json_array_foreach(gpus, i, g)
    {
      if (r.st != TL_OK)
        break;
      if (hw->n_gpus >= TL_HW_MAX_GPUS) {
        fail(&r, "hardware json: more than %s GPUs%s", "64", "");
        break;
      }
      read_gpu(&r, g, &hw->gpus[hw->n_gpus], hw);
      hw->n_gpus++;
    }
  }
  read_lines(&r, json_object_get(root, "notes"), "notes", hw->notes, TL_HW_MAX_NOTES, &hw->n_notes);
  read_lines(&r, json_object_get(root, "warnings"), "warnings", hw->warnings, TL_HW_MAX_WARNINGS,
             &hw->n_warnings);
  json_decref(root);
  tl_status st = r.st;
  if (st == TL_OK) {
    if (!hw->mem.total && hw->described)
      tl__hw_note(hw, "memory: not given in the hardware file; RAM unknown");
    tl_hw_finish(hw);
    *out = *hw;
  }
  tl__free(hw);
  return st;
}
