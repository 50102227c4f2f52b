/* tl_convert: a Hugging Face safetensors directory to a GGUF file. Reads
 * config.json (tl_hparams_from_hf_config plus the transformers 5 rope keys),
 * the safetensors headers (one file or the shards of
 * model.safetensors.index.json), plans every GGUF tensor
 * (convert-tensors.c), types each by the mixture rule (tl_mixture_assign),
 * writes the metadata (convert-metadata.c) and tokenizer (hf-tokenizer.c),
 * then streams the tensors: rows are read with pread into a bounded buffer,
 * converted to float32, laid out as GGUF wants, quantized by the thread pool
 * and appended to the file. Memory stays near the buffers (see CHUNK_FLOATS),
 * whatever the model's size. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "engine/cpu/kernels.h"
#include "model/convert-int.h"

/* Floats per work chunk: 4 Mi floats = 16 MiB of float32, plus as much for
 * the raw source rows and up to as much for the output rows. Large enough
 * that each thread gets many rows, small next to any model. */
#define CHUNK_FLOATS (4u << 20)
/* tokenizer.json of 256k-token vocabularies are ~30 MB; anything this large is not one. */
#define CV_FILE_MAX (512ull << 20)
#define CV_MAX_SHARDS 4096

tl_status tl__cv_read_file(const char *dir, const char *name, char **out, size_t *len,
                           tl_error *err)
{
  char p[4096];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? tl__error_set(err, TL_ENOTFOUND, "convert: '%s' not found", p)
                           : tl__error_errno(err, TL_EIO, errno, "convert: cannot open '%s'", p);
  struct stat sb;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > CV_FILE_MAX) {
    close(fd);
    return tl__error_set(err, TL_ELIMIT,
                         "convert: '%s' is not a regular file of at most %llu bytes", p,
                         (unsigned long long)CV_FILE_MAX);
  }
  char *buf = tl__malloc((size_t)sb.st_size + 1);
  if (!buf) {
    close(fd);
    return tl__error_set(err, TL_ENOMEM, "convert: out of memory reading '%s'", p);
  }
  size_t got = 0;
  while (got < (size_t)sb.st_size) {
    ssize_t r = read(fd, buf + got, (size_t)sb.st_size - got);
    if (r <= 0) {
      int e = r < 0 ? errno : EIO;
      close(fd);
      tl__free(buf);
      return tl__error_errno(err, TL_EIO, e, "convert: cannot read '%s'", p);
    }
    got += (size_t)r;
  }
  close(fd);
  buf[got] = '\0';
  *out = buf;
  *len = got;
  return TL_OK;
}

/* ---- file types ---- */

static const tl_ftype supported_ftypes[] = {
    TL_FTYPE_ALL_F32, TL_FTYPE_F16,    TL_FTYPE_BF16, TL_FTYPE_Q8_0,   TL_FTYPE_Q4_0,
    TL_FTYPE_Q4_1,    TL_FTYPE_Q5_0,   TL_FTYPE_Q5_1, TL_FTYPE_Q4_K_S, TL_FTYPE_Q4_K_M,
    TL_FTYPE_Q5_K_S,  TL_FTYPE_Q5_K_M, TL_FTYPE_Q6_K,
};

tl_status tl_convert_ftype_supported(tl_ftype ftype, tl_error *err)
{
  for (size_t i = 0; i < sizeof supported_ftypes / sizeof supported_ftypes[0]; i++)
    if (supported_ftypes[i] == ftype)
      return TL_OK;
  char list[256] = "";
  size_t n = 0;
  for (size_t i = 0; i < sizeof supported_ftypes / sizeof supported_ftypes[0]; i++)
    n += (size_t)snprintf(list + n, n < sizeof list ? sizeof list - n : 0, "%s%s", i ? ", " : "",
                          tl_ftype_name(supported_ftypes[i]));
  return tl__error_set(err, TL_EUNSUPPORTED,
                       "convert: file type %s needs quantizers tailor does not have; supported: %s",
                       tl_ftype_name(ftype), list);
}

/* ---- safetensors files ---- */

typedef tl__cv_shards shards;

void tl__cv_shards_close(shards *s)
{
  for (size_t i = 0; i < s->n; i++) {
    if (s->fds && s->fds[i] >= 0)
      close(s->fds[i]);
    tl__free(s->paths ? s->paths[i] : NULL);
  }
  tl__free(s->paths);
  tl__free(s->fds);
  tl__free(s->list.v);
  tl__free(s->file_of);
  memset(s, 0, sizeof *s);
}

static tl_status shard_add(shards *s, const char *dir, const char *name, tl_error *err)
{
  for (size_t i = 0; i < s->n; i++) {
    const char *b = strrchr(s->paths[i], '/');
    if (strcmp(b ? b + 1 : s->paths[i], name) == 0)
      return TL_OK;
  }
  if (name[0] == '\0' || name[0] == '.' || strchr(name, '/') || strlen(name) > 1024)
    return tl__error_set(err, TL_EFORMAT, "convert: shard name '%s' is not a plain file name",
                         name);
  if (s->n >= CV_MAX_SHARDS)
    return tl__error_set(err, TL_ELIMIT, "convert: more than %d safetensors shards", CV_MAX_SHARDS);
  char **p = tl__realloc(s->paths, (s->n + 1) * sizeof *p);
  if (!p)
    return tl__error_set(err, TL_ENOMEM, "convert: out of memory");
  s->paths = p;
  int *f = tl__realloc(s->fds, (s->n + 1) * sizeof *f);
  if (!f)
    return tl__error_set(err, TL_ENOMEM, "convert: out of memory");
  s->fds = f;
  size_t len = strlen(dir) + strlen(name) + 2;
  s->paths[s->n] = tl__malloc(len);
  if (!s->paths[s->n])
    return tl__error_set(err, TL_ENOMEM, "convert: out of memory");
  snprintf(s->paths[s->n], len, "%s/%s", dir, name);
  s->fds[s->n] = -1;
  s->n++;
  return TL_OK;
}

tl_status tl__cv_shards_open(shards *s, const char *dir, tl_error *err)
{
  char *text = NULL;
  size_t len = 0;
  tl_status st = tl__cv_read_file(dir, "model.safetensors.index.json", &text, &len, err);
  if (st == TL_ENOTFOUND) {
    st = shard_add(s, dir, "model.safetensors", err);
  } else if (st == TL_OK) {
    json_t *root = json_loadb(text, len, 0, NULL);
    json_t *map = json_object_get(root, "weight_map");
    if (!root)
      st =
          tl__error_set(err, TL_EFORMAT, "convert: model.safetensors.index.json is not valid JSON");
    else if (!json_is_object(map))
      st = tl__error_set(err, TL_EFORMAT,
                         "convert: model.safetensors.index.json has no weight_map object");
    const char *k;
    json_t *v;
    json_object_foreach(map, k, v)
    {
      if (st != TL_OK)
        break;
      if (!json_is_string(v))
        st = tl__error_set(err, TL_EFORMAT, "convert: weight_map entry '%s' is not a file name", k);
      else
        st = shard_add(s, dir, json_string_value(v), err);
    }
    json_decref(root);
  }
  tl__free(text);
  for (size_t i = 0; i < s->n && st == TL_OK; i++) {
    size_t before = s->list.n;
    st = tl__safetensors_scan(s->paths[i], &s->list, NULL, err);
    if (st != TL_OK)
      break;
    int *fo = tl__realloc(s->file_of, (s->list.n ? s->list.n : 1) * sizeof *fo);
    if (!fo) {
      st = tl__error_set(err, TL_ENOMEM, "convert: out of memory");
      break;
    }
    s->file_of = fo;
    for (size_t j = before; j < s->list.n; j++)
      fo[j] = (int)i;
    s->fds[i] = open(s->paths[i], O_RDONLY | O_CLOEXEC);
    if (s->fds[i] < 0)
      st = tl__error_errno(err, TL_EIO, errno, "convert: cannot open '%s'", s->paths[i]);
  }
  return st;
}

static tl_status read_at(int fd, void *buf, size_t n, uint64_t off, const char *path, tl_error *err)
{
  size_t got = 0;
  while (got < n) {
    ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
    if (r <= 0)
      return tl__error_errno(err, TL_EIO, r < 0 ? errno : EIO,
                             "convert: cannot read %zu bytes at %llu of '%s'", n,
                             (unsigned long long)off, path);
    got += (size_t)r;
  }
  return TL_OK;
}

/* ---- the quantization task ---- */

typedef struct qtask {
  tl_qtype type;
  const float *src; /* rows x ne0 */
  uint8_t *dst;
  int64_t ne0;
  int64_t rows;
  size_t row_bytes;
  bool report;
  float *scratch; /* per thread ne0 floats */
  double *sq_err; /* per thread */
  double *sq_src;
} qtask;

static void qtask_run(void *ctx, int ith, int nth)
{
  qtask *q = ctx;
  int64_t per = (q->rows + nth - 1) / nth, a = per * ith, b = a + per < q->rows ? a + per : q->rows;
  double se = 0, ss = 0;
  float *tmp = q->scratch + (size_t)ith * (size_t)q->ne0;
  for (int64_t r = a; r < b; r++) {
    const float *x = q->src + (size_t)r * (size_t)q->ne0;
    uint8_t *y = q->dst + (size_t)r * q->row_bytes;
    tl__cv_quantize_row(q->type, x, y, q->ne0);
    if (q->report) {
      tl__cv_dequantize_row(q->type, y, tmp, q->ne0);
      for (int64_t j = 0; j < q->ne0; j++) {
        double d = (double)tmp[j] - (double)x[j];
        se += d * d;
        ss += (double)x[j] * (double)x[j];
      }
    }
  }
  q->sq_err[ith] += se;
  q->sq_src[ith] += ss;
}

/* ---- streaming one tensor ---- */

typedef struct stream {
  const shards *sh;
  tl__threadpool *tp;
  int nth;
  uint8_t *raw;   /* CHUNK_FLOATS * 4 bytes */
  float *fa, *fb; /* CHUNK_FLOATS each */
  uint8_t *qbuf;  /* CHUNK_FLOATS * 4 bytes (no type is wider than F32) */
  float *scratch; /* nth * max ne0 */
  double *sq_err, *sq_src;
  bool report;
} stream;

static void to_f32(tl_qtype t, const uint8_t *raw, float *dst, size_t n)
{
  if (t == TL_QTYPE_F32) {
    memcpy(dst, raw, n * sizeof *dst);
  } else if (t == TL_QTYPE_F16) {
    for (size_t i = 0; i < n; i++) {
      tl__fp16 h;
      memcpy(&h, raw + 2 * i, 2);
      dst[i] = tl__fp16_to_f32(h);
    }
  } else {
    for (size_t i = 0; i < n; i++) {
      tl__bf16 h;
      memcpy(&h, raw + 2 * i, 2);
      dst[i] = tl__bf16_to_f32(h);
    }
  }
}

/* Reads global rows [r0, r0 + n) of the stacked sources into dst as float32. */
static tl_status read_rows(stream *s, const tl__cv_tensor *t, uint64_t r0, uint64_t n, float *dst,
                           tl_error *err)
{
  uint64_t base = 0, ne0 = (uint64_t)t->ne[0];
  for (size_t i = 0; i < t->n_src && n > 0; i++) {
    const tl_tensor_desc *d = t->src[i].st;
    uint64_t rows = (uint64_t)d->ne[1] * (uint64_t)d->ne[2] * (uint64_t)d->ne[3];
    if (r0 < base + rows) {
      uint64_t a = r0 - base, k = rows - a < n ? rows - a : n;
      size_t esz = d->type == TL_QTYPE_F32 ? 4 : 2;
      int f = t->src[i].file;
      tl_status st = read_at(s->sh->fds[f], s->raw, (size_t)(k * ne0 * esz),
                             d->offset + a * ne0 * esz, s->sh->paths[f], err);
      if (st != TL_OK)
        return st;
      to_f32(d->type, s->raw, dst, (size_t)(k * ne0));
      dst += k * ne0;
      r0 += k;
      n -= k;
    }
    base += rows;
  }
  return n == 0 ? TL_OK
                : tl__error_set(err, TL_EINTERNAL, "convert: '%s' ran out of source rows", t->name);
}

/* LlamaModel.permute on n consecutive items of `width` floats (rows of a
 * weight, or elements of a bias) forming whole heads of hd items. */
static void rope_permute(const float *src, float *dst, uint64_t n, uint64_t hd, uint64_t width)
{
  uint64_t half = hd / 2;
  for (uint64_t h0 = 0; h0 < n; h0 += hd)
    for (uint64_t i = 0; i < half; i++)
      for (uint64_t j = 0; j < 2; j++)
        memcpy(dst + (h0 + 2 * i + j) * width, src + (h0 + j * half + i) * width,
               width * sizeof *dst);
}

static tl_status stream_tensor(stream *s, tl_gguf_writer *w, const tl__cv_tensor *t,
                               tl_convert_tensor *rep, tl_error *err)
{
  int64_t ne0 = t->ne[0];
  uint64_t rows = (uint64_t)t->ne[1] * (uint64_t)t->ne[2] * (uint64_t)t->ne[3];
  size_t row_bytes = (size_t)tl_qtype_row_bytes(t->type, ne0);
  uint64_t chunk = CHUNK_FLOATS / (uint64_t)ne0;
  if (chunk == 0)
    return tl__error_set(err, TL_ELIMIT, "convert: '%s' has rows of %lld elements (at most %u)",
                         t->name, (long long)ne0, CHUNK_FLOATS);
  bool permute_rows = t->op == TL_CV_ROPE_PERMUTE && t->n_dims > 1;
  uint64_t hd = 0;
  if (t->op == TL_CV_ROPE_PERMUTE) {
    hd = (permute_rows ? rows : (uint64_t)ne0) / t->perm_heads;
    if (permute_rows) {
      chunk = chunk / hd * hd;
      if (chunk == 0)
        return tl__error_set(err, TL_ELIMIT, "convert: '%s': a head is larger than the work buffer",
                             t->name);
    }
  }
  for (int i = 0; i < s->nth; i++)
    s->sq_err[i] = s->sq_src[i] = 0;
  for (uint64_t r0 = 0; r0 < rows; r0 += chunk) {
    uint64_t n = rows - r0 < chunk ? rows - r0 : chunk;
    float *x = s->fa;
    if (t->op == TL_CV_GENERATED) {
      memcpy(x, t->gen + r0 * (uint64_t)ne0, (size_t)(n * (uint64_t)ne0) * sizeof *x);
    } else {
      tl_status st = read_rows(s, t, r0, n, x, err);
      if (st != TL_OK)
        return st;
    }
    if (t->op == TL_CV_ROPE_PERMUTE) {
      if (permute_rows)
        rope_permute(x, s->fb, n, hd, (uint64_t)ne0);
      else
        rope_permute(x, s->fb, (uint64_t)ne0, hd, 1);
      x = s->fb;
    } else if (t->op == TL_CV_ADD_ONE) {
      for (uint64_t i = 0; i < n * (uint64_t)ne0; i++)
        x[i] += 1.0f;
    }
    qtask q = {.type = t->type,
               .src = x,
               .dst = s->qbuf,
               .ne0 = ne0,
               .rows = (int64_t)n,
               .row_bytes = row_bytes,
               .report = s->report,
               .scratch = s->scratch,
               .sq_err = s->sq_err,
               .sq_src = s->sq_src};
    tl__threadpool_run(s->tp, qtask_run, &q);
    tl_status st = tl_gguf_writer_write_data(w, s->qbuf, (size_t)n * row_bytes, err);
    if (st != TL_OK)
      return st;
  }
  rep->name = t->name;
  rep->type = t->type;
  rep->n_dims = t->n_dims;
  memcpy(rep->ne, t->ne, sizeof rep->ne);
  rep->bytes = t->bytes;
  rep->has_error = s->report;
  if (s->report) {
    double se = 0, ss = 0;
    for (int i = 0; i < s->nth; i++) {
      se += s->sq_err[i];
      ss += s->sq_src[i];
    }
    double cnt = (double)rows * (double)ne0;
    rep->rmse = sqrt(se / cnt);
    rep->rel_rmse = ss > 0 ? sqrt(se / ss) : 0.0;
  }
  return TL_OK;
}

/* ---- the conversion ---- */

static void base_name(const char *dir, char *out, size_t cap)
{
  size_t n = strlen(dir);
  while (n > 1 && dir[n - 1] == '/')
    n--;
  size_t b = n;
  while (b > 0 && dir[b - 1] != '/')
    b--;
  size_t len = n - b < cap - 1 ? n - b : cap - 1;
  memcpy(out, dir + b, len);
  out[len] = '\0';
}

tl_status tl_convert(const tl_convert_params *p, tl_convert_summary *summary, tl_error *err)
{
  if (!p || !p->input_dir || !p->output_path || !p->input_dir[0] || !p->output_path[0])
    return tl__error_set(err, TL_EINVAL, "convert: input directory and output path are required");
  tl_status st = tl_convert_ftype_supported(p->ftype, err);
  if (st != TL_OK)
    return st;
  char *cfg = NULL;
  size_t cfg_len = 0;
  shards sh = {0};
  tl__cv_tensor *plan = NULL;
  size_t n_plan = 0;
  tl_mixture_tensor *mt = NULL;
  tl_gguf_writer *w = NULL;
  stream s = {0};
  tl_hparams *hp = tl__calloc(1, sizeof *hp);
  if (!hp)
    return tl__error_set(err, TL_ENOMEM, "convert: out of memory");

  st = tl__cv_read_file(p->input_dir, "config.json", &cfg, &cfg_len, err);
  if (st == TL_OK) {
    st = tl_hparams_from_hf_config(cfg, cfg_len, hp, err);
    if (st != TL_OK)
      tl__error_prefix(err, "convert: '%s'", p->input_dir);
  }
  if (st == TL_OK)
    st = tl__cv_hparams_fixup(cfg, cfg_len, hp, err);
  if (st == TL_OK) {
    switch (hp->arch) {
    case TL_ARCH_LLAMA:
    case TL_ARCH_QWEN2:
    case TL_ARCH_QWEN3:
    case TL_ARCH_QWEN3MOE:
    case TL_ARCH_QWEN2MOE:
    case TL_ARCH_GEMMA3:
    case TL_ARCH_PHI3:
      break;
    default:
      st = tl__error_set(err, TL_EUNSUPPORTED,
                         "convert: architecture '%s' is not converted (llama, qwen2, qwen2moe, "
                         "qwen3, qwen3moe, gemma3 and phi3 are)",
                         tl_arch_name(hp->arch));
    }
  }
  if (st == TL_OK && !p->vocab_only) {
    st = tl__cv_shards_open(&sh, p->input_dir, err);
    if (st == TL_OK)
      st = tl__cv_plan_tensors(hp, cfg, cfg_len, sh.list.v, sh.file_of, sh.list.n, &plan, &n_plan,
                               err);
  }
  /* types by the mixture rule, visiting in llama.cpp's order */
  if (st == TL_OK && n_plan > 0) {
    mt = tl__calloc(n_plan, sizeof *mt);
    if (!mt)
      st = tl__error_set(err, TL_ENOMEM, "convert: out of memory");
    for (size_t i = 0; st == TL_OK && i < n_plan; i++) {
      mt[i].name = plan[i].name;
      memcpy(mt[i].ne, plan[i].ne, sizeof mt[i].ne);
      /* the type in the unquantized GGUF llama.cpp's converter writes, which the
       * mixture keeps where it does not quantize: 1-D tensors and routers F32,
       * the rest F16 (BF16 for a BF16 target); as tl_model_desc_from_hparams */
      bool f32 = plan[i].n_dims < 2 || p->ftype == TL_FTYPE_ALL_F32 ||
                 strstr(plan[i].name, "ffn_gate_inp.");
      mt[i].src_type = f32                         ? TL_QTYPE_F32
                       : p->ftype == TL_FTYPE_BF16 ? TL_QTYPE_BF16
                                                   : TL_QTYPE_F16;
    }
    tl_mixture_ctx ctx = {.n_layer = hp->n_layer,
                          .n_expert = hp->n_expert,
                          .n_head = hp->n_head,
                          .n_head_kv = hp->n_head_kv};
    snprintf(ctx.arch, sizeof ctx.arch, "%s", tl_arch_name(hp->arch));
    if (st == TL_OK)
      st = tl_mixture_assign(p->ftype, &ctx, mt, n_plan, err);
    for (size_t i = 0; st == TL_OK && i < n_plan; i++) {
      plan[i].type = mt[i].type;
      plan[i].bytes = mt[i].bytes;
      if (!tl__cv_qtype_supported(plan[i].type))
        st = tl__error_set(err, TL_EUNSUPPORTED,
                           "convert: %s gives tensor '%s' type %s, which has no quantizer here",
                           tl_ftype_name(p->ftype), plan[i].name, tl_qtype_name(plan[i].type));
    }
  }
  /* metadata, tokenizer, tensor infos */
  bool has_tok = false, has_tmpl = false;
  if (st == TL_OK)
    st = tl_gguf_writer_create(&w, err);
  if (st == TL_OK) {
    char name[256];
    if (p->name)
      snprintf(name, sizeof name, "%s", p->name);
    else
      base_name(p->input_dir, name, sizeof name);
    st = tl__cv_write_metadata(w, hp, cfg, cfg_len, name, p->ftype, err);
  }
  if (st == TL_OK)
    st = tl__hf_tokenizer_write(p->input_dir, hp->n_vocab, w, &has_tok, &has_tmpl, err);
  uint64_t total = 0, n_params = 0;
  for (size_t i = 0; st == TL_OK && i < n_plan; i++) {
    st = tl_gguf_writer_add_tensor(w, plan[i].name, plan[i].type, plan[i].ne, plan[i].n_dims, NULL,
                                   err);
    total += plan[i].bytes;
    n_params += (uint64_t)plan[i].ne[0] * (uint64_t)plan[i].ne[1] * (uint64_t)plan[i].ne[2] *
                (uint64_t)plan[i].ne[3];
  }
  if (st == TL_OK)
    st = tl_gguf_writer_begin(w, p->output_path, err);
  /* tensor data */
  if (st == TL_OK && n_plan > 0) {
    int nth = p->n_threads > 0 ? p->n_threads : 1;
    if (nth > 256)
      nth = 256;
    int64_t max_ne0 = 1;
    for (size_t i = 0; i < n_plan; i++)
      max_ne0 = plan[i].ne[0] > max_ne0 ? plan[i].ne[0] : max_ne0;
    s.sh = &sh;
    s.nth = nth;
    s.report = p->report;
    s.raw = tl__malloc((size_t)CHUNK_FLOATS * 4);
    s.fa = tl__malloc_array(CHUNK_FLOATS, sizeof(float));
    s.fb = tl__malloc_array(CHUNK_FLOATS, sizeof(float));
    s.qbuf = tl__malloc((size_t)CHUNK_FLOATS * 4);
    s.scratch = tl__malloc_array((size_t)nth * (size_t)max_ne0, sizeof(float));
    s.sq_err = tl__calloc((size_t)nth, sizeof(double));
    s.sq_src = tl__calloc((size_t)nth, sizeof(double));
    if (!s.raw || !s.fa || !s.fb || !s.qbuf || !s.scratch || !s.sq_err || !s.sq_src)
      st = tl__error_set(err, TL_ENOMEM, "convert: out of memory for the work buffers");
    if (st == TL_OK && nth > 1)
      st = tl__threadpool_create(nth, false, &s.tp, err);
    if (st == TL_OK && s.tp)
      s.nth = tl__threadpool_size(s.tp);
    uint64_t done = 0;
    double worst = 0;
    for (size_t i = 0; st == TL_OK && i < n_plan; i++) {
      tl_convert_tensor rep = {0};
      st = stream_tensor(&s, w, &plan[i], &rep, err);
      if (st != TL_OK)
        break;
      done += plan[i].bytes;
      worst = rep.rel_rmse > worst ? rep.rel_rmse : worst;
      if (p->progress) {
        tl_convert_progress pr = {.index = i,
                                  .n_tensors = n_plan,
                                  .bytes_done = done,
                                  .bytes_total = total,
                                  .tensor = &rep};
        p->progress(p->progress_user, &pr);
      }
    }
    if (summary)
      summary->rmse_worst_rel = worst;
  }
  if (st == TL_OK)
    st = tl_gguf_writer_finish(w, err);
  if (st == TL_OK && summary) {
    struct stat sb;
    snprintf(summary->arch, sizeof summary->arch, "%s", tl_arch_name(hp->arch));
    summary->n_tensors = n_plan;
    summary->n_params = n_params;
    summary->data_bytes = total;
    summary->file_bytes = stat(p->output_path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
    summary->has_tokenizer = has_tok;
    summary->has_chat_template = has_tmpl;
    if (!p->report)
      summary->rmse_worst_rel = 0;
  }
  tl__threadpool_free(s.tp);
  tl__free(s.raw);
  tl__free(s.fa);
  tl__free(s.fb);
  tl__free(s.qbuf);
  tl__free(s.scratch);
  tl__free(s.sq_err);
  tl__free(s.sq_src);
  tl_gguf_writer_free(w); /* removes an unfinished file */
  tl__free(mt);
  tl__cv_plan_free(plan, n_plan);
  tl__cv_shards_close(&sh);
  tl__free(cfg);
  tl__free(hp);
  return st;
}
