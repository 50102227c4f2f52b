/* `tailor convert HF_DIR -o OUT.gguf`: a Hugging Face safetensors directory
 * to a GGUF file, quantized to a file type. Writes OUT.gguf.tmp and renames
 * it on success, so OUT.gguf is never half-written; refuses to replace an
 * existing file without --force. Progress on stderr (a bar on a terminal, a
 * summary line otherwise); --report prints the per-tensor quantization error. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "tailor/convert.h"
#include "tailor/tailor.h"

static const char help[] =
    "Usage: tailor convert HF_DIR -o OUT.gguf [--type FTYPE] [-t THREADS] [--report] [--json] "
    "[--force]\n"
    "\n"
    "Convert a Hugging Face model directory (config.json, safetensors, optional\n"
    "tokenizer.json / tokenizer_config.json) to a GGUF file that llama.cpp and\n"
    "tailor read, quantizing the weights with llama-quantize's per-tensor mixture.\n"
    "\n"
    "Options:\n"
    "  -o, --output FILE   the GGUF file to write (required)\n"
    "  --type FTYPE        F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K_S,\n"
    "                      Q4_K_M, Q5_K_S, Q5_K_M, Q6_K (default F16)\n"
    "  -t, --threads N     quantization threads (default: online CPUs)\n"
    "  --report            per-tensor RMSE and relative RMSE against the source\n"
    "  --vocab-only        write the metadata and tokenizer only\n"
    "  --name NAME         general.name (default: the directory name)\n"
    "  --force             replace OUT.gguf if it exists\n"
    "  --json              machine-readable summary (and report) on stdout\n"
    "  -h, --help          show this help\n"
    "\n"
    "Exit status: 0 ok, 1 the conversion failed, 2 bad usage or unsupported type.\n";

typedef struct row {
  char name[TL_TENSOR_NAME_MAX];
  tl_qtype type;
  int64_t ne[4];
  uint32_t n_dims;
  uint64_t bytes;
  double rmse, rel;
} row;

typedef struct ui {
  bool tty, report;
  row *rows;
  size_t n, cap;
  bool oom;
} ui;

static void on_progress(void *user, const tl_convert_progress *p)
{
  ui *u = user;
  if (u->report) {
    if (u->n == u->cap) {
      size_t cap = u->cap ? u->cap * 2 : 64;
      row *r = realloc(u->rows, cap * sizeof *r);
      if (!r) {
        u->oom = true;
        return;
      }
      u->rows = r;
      u->cap = cap;
    }
    row *r = &u->rows[u->n++];
    snprintf(r->name, sizeof r->name, "%s", p->tensor->name);
    r->type = p->tensor->type;
    memcpy(r->ne, p->tensor->ne, sizeof r->ne);
    r->n_dims = p->tensor->n_dims;
    r->bytes = p->tensor->bytes;
    r->rmse = p->tensor->rmse;
    r->rel = p->tensor->rel_rmse;
  }
  if (u->tty) {
    int width = 30, fill = p->bytes_total
                               ? (int)((double)p->bytes_done / (double)p->bytes_total * width)
                               : width;
    fprintf(stderr, "\r[%.*s%*s] %3d%% %zu/%zu %-40.40s", fill, "##############################",
            width - fill, "",
            p->bytes_total ? (int)(100.0 * (double)p->bytes_done / (double)p->bytes_total) : 100,
            p->index + 1, p->n_tensors, p->tensor->name);
    if (p->index + 1 == p->n_tensors)
      fputc('\n', stderr);
    fflush(stderr);
  }
}

static int run(int argc, char **argv)
{
  const char *in = NULL, *out = NULL, *type = "F16", *name = NULL;
  bool json = false, report = false, force = false, vocab_only = false;
  long threads = sysconf(_SC_NPROCESSORS_ONLN);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      tl_cli_print_help(&tl_cli_cmd_convert);
      return TL_EXIT_OK;
    } else if (!strcmp(a, "--json")) {
      json = true;
    } else if (!strcmp(a, "--report")) {
      report = true;
    } else if (!strcmp(a, "--force")) {
      force = true;
    } else if (!strcmp(a, "--vocab-only")) {
      vocab_only = true;
    } else if (!strcmp(a, "-o") || !strcmp(a, "--output") || !strcmp(a, "--type") ||
               !strcmp(a, "-t") || !strcmp(a, "--threads") || !strcmp(a, "--name")) {
      if (i + 1 >= argc)
        return tl_cli_usage_error("convert", "%s needs a value", a);
      const char *v = argv[++i];
      if (!strcmp(a, "-o") || !strcmp(a, "--output"))
        out = v;
      else if (!strcmp(a, "--type"))
        type = v;
      else if (!strcmp(a, "--name"))
        name = v;
      else {
        char *end;
        errno = 0;
        threads = strtol(v, &end, 10);
        if (errno || *end || threads < 1 || threads > 256)
          return tl_cli_usage_error("convert", "--threads must be 1..256, not '%s'", v);
      }
    } else if (a[0] == '-' && a[1] != '\0') {
      return tl_cli_usage_error("convert", "unknown option '%s'", a);
    } else if (!in) {
      in = a;
    } else {
      return tl_cli_usage_error("convert", "unexpected argument '%s'", a);
    }
  }
  if (!in)
    return tl_cli_usage_error("convert", "missing HF_DIR");
  if (!out)
    return tl_cli_usage_error("convert", "missing -o OUT.gguf");
  tl_error err = {0};
  tl_ftype ft;
  if (tl_ftype_parse(type, &ft, &err) != TL_OK || tl_convert_ftype_supported(ft, &err) != TL_OK)
    return tl_cli_usage_error("convert", "%s", err.message);
  struct stat sb;
  if (!force && stat(out, &sb) == 0)
    return tl_cli_fail("convert", "'%s' exists; pass --force to replace it", out);
  size_t tl = strlen(out) + 5;
  char *tmp = malloc(tl);
  if (!tmp)
    return tl_cli_fail("convert", "out of memory");
  snprintf(tmp, tl, "%s.tmp", out);
  ui u = {.tty = isatty(2) && !json, .report = report};
  tl_convert_params p = {.input_dir = in,
                         .output_path = tmp,
                         .ftype = ft,
                         .n_threads = (int)threads,
                         .progress = on_progress,
                         .progress_user = &u,
                         .report = report,
                         .vocab_only = vocab_only,
                         .name = name};
  tl_convert_summary s = {0};
  tl_status st = tl_convert(&p, &s, &err);
  if (st == TL_OK && u.oom)
    st = TL_ENOMEM;
  if (st == TL_OK && rename(tmp, out) != 0) {
    int e = errno;
    unlink(tmp);
    int rc = tl_cli_fail("convert", "cannot rename '%s' to '%s': %s", tmp, out, strerror(e));
    free(tmp);
    free(u.rows);
    return rc;
  }
  if (st != TL_OK) {
    unlink(tmp); /* the library removes it too; a file left by an earlier crash goes as well */
    free(tmp);
    free(u.rows);
    return tl_cli_fail("convert", "%s", err.message[0] ? err.message : tl_status_str(st));
  }
  free(tmp);
  if (json) {
    json_t *o = json_object();
    json_object_set_new(o, "input", json_string(in));
    json_object_set_new(o, "output", json_string(out));
    json_object_set_new(o, "architecture", json_string(s.arch));
    json_object_set_new(o, "file_type", json_string(tl_ftype_name(ft)));
    json_object_set_new(o, "tensors", json_integer((json_int_t)s.n_tensors));
    json_object_set_new(o, "parameters", json_integer((json_int_t)s.n_params));
    json_object_set_new(o, "data_bytes", json_integer((json_int_t)s.data_bytes));
    json_object_set_new(o, "file_bytes", json_integer((json_int_t)s.file_bytes));
    json_object_set_new(o, "tokenizer", json_boolean(s.has_tokenizer));
    json_object_set_new(o, "chat_template", json_boolean(s.has_chat_template));
    if (report) {
      json_t *arr = json_array();
      for (size_t i = 0; i < u.n; i++) {
        json_t *r = json_object();
        json_object_set_new(r, "name", json_string(u.rows[i].name));
        json_object_set_new(r, "type", json_string(tl_qtype_name(u.rows[i].type)));
        json_t *shape = json_array();
        for (uint32_t d = 0; d < u.rows[i].n_dims; d++)
          json_array_append_new(shape, json_integer(u.rows[i].ne[d]));
        json_object_set_new(r, "shape", shape);
        json_object_set_new(r, "bytes", json_integer((json_int_t)u.rows[i].bytes));
        json_object_set_new(r, "rmse", json_real(u.rows[i].rmse));
        json_object_set_new(r, "rel_rmse", json_real(u.rows[i].rel));
        json_array_append_new(arr, r);
      }
      json_object_set_new(o, "report", arr);
      json_object_set_new(o, "worst_rel_rmse", json_real(s.rmse_worst_rel));
    }
    char *txt = json_dumps(o, JSON_INDENT(2));
    if (txt)
      puts(txt);
    free(txt);
    json_decref(o);
  } else {
    if (report) {
      printf("%-36s %-6s %14s %12s %10s\n", "tensor", "type", "bytes", "rmse", "rel_rmse");
      for (size_t i = 0; i < u.n; i++)
        printf("%-36s %-6s %14llu %12.4e %9.4f%%\n", u.rows[i].name, tl_qtype_name(u.rows[i].type),
               (unsigned long long)u.rows[i].bytes, u.rows[i].rmse, 100.0 * u.rows[i].rel);
      printf("worst relative RMSE: %.4f%%\n", 100.0 * s.rmse_worst_rel);
    }
    fprintf(stderr,
            "tailor convert: %s -> %s: %s %s, %zu tensors, %llu parameters, %llu bytes%s%s\n", in,
            out, s.arch, tl_ftype_name(ft), s.n_tensors, (unsigned long long)s.n_params,
            (unsigned long long)s.file_bytes, s.has_tokenizer ? ", tokenizer" : ", no tokenizer",
            s.has_chat_template ? ", chat template" : "");
  }
  free(u.rows);
  return TL_EXIT_OK;
}

const tl_cli_command tl_cli_cmd_convert = {
    .name = "convert",
    .summary = "convert a Hugging Face safetensors directory to GGUF, with quantization",
    .help = help,
    .run = run,
};
