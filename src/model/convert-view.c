/* A Hugging Face directory seen as a GGUF handle, without writing a file:
 * the metadata and tokenizer keys tl_convert writes (convert-metadata.c,
 * hf-tokenizer.c), the tensors of the same conversion plan
 * (convert-tensors.c: names, shapes, llama.cpp's layout changes). Tensors
 * the plan takes as they are (F32, F16, BF16 rows; experts stored back to
 * back) point into the read-only mapped safetensors; the rest are copies
 * owned by the handle: llama's permuted q/k rows (in the source type),
 * gemma's norms + 1, 1-D tensors and routers not stored as F32 (F32, as the
 * converter writes them), generated tensors. Experts stored apart become one
 * tensor per expert, each in place, named as early Mixtral GGUFs. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "engine/cpu/kernels.h"
#include "model/convert-int.h"
#include "model/gguf-int.h"

typedef struct view {
  void **maps;  /* per shard */
  size_t *lens;
  size_t n_maps;
  void **bufs;  /* converted copies */
  size_t n_bufs;
} view;

static void view_release(void *ctx)
{
  view *v = ctx;
  if (!v)
    return;
  for (size_t i = 0; i < v->n_maps; i++)
    if (v->maps[i])
      munmap(v->maps[i], v->lens[i]);
  for (size_t i = 0; i < v->n_bufs; i++)
    tl__free(v->bufs[i]);
  tl__free(v->maps);
  tl__free(v->lens);
  tl__free(v->bufs);
  tl__free(v);
}

static size_t elem_size(tl_qtype t) { return t == TL_QTYPE_F32 ? 4 : 2; }

static uint64_t src_rows(const tl_tensor_desc *d)
{
  return (uint64_t)d->ne[1] * (uint64_t)d->ne[2] * (uint64_t)d->ne[3];
}

static const uint8_t *src_data(const view *v, const tl__cv_source *s)
{
  return (const uint8_t *)v->maps[s->file] + s->st->offset;
}

/* Row r of the stacked sources of t. */
static const uint8_t *src_row(const view *v, const tl__cv_tensor *t, uint64_t r, tl_qtype *type)
{
  for (size_t i = 0; i < t->n_src; i++) {
    uint64_t n = src_rows(t->src[i].st);
    if (r < n) {
      *type = t->src[i].st->type;
      return src_data(v, &t->src[i]) + r * (uint64_t)t->ne[0] * elem_size(*type);
    }
    r -= n;
  }
  return NULL;
}

static void to_f32(tl_qtype t, const uint8_t *p, float *dst, int64_t n)
{
  for (int64_t i = 0; i < n; i++) {
    uint16_t h;
    if (t == TL_QTYPE_F32) {
      memcpy(&dst[i], p + 4 * i, 4);
      continue;
    }
    memcpy(&h, p + 2 * i, 2);
    dst[i] = t == TL_QTYPE_F16 ? tl__fp16_to_f32(h) : tl__bf16_to_f32(h);
  }
}

/* The sources of t lie back to back in one file, all of type *type and
 * aligned for it: t can be seen in place. */
static bool in_place(const view *v, const tl__cv_tensor *t, tl_qtype *type)
{
  if (t->op != TL_CV_COPY || t->n_src == 0)
    return false;
  const tl_tensor_desc *d0 = t->src[0].st;
  for (size_t i = 1; i < t->n_src; i++) {
    const tl_tensor_desc *p = t->src[i - 1].st, *d = t->src[i].st;
    if (d->type != d0->type || t->src[i].file != t->src[0].file || d->offset != p->offset + p->bytes)
      return false;
  }
  *type = d0->type;
  return (uintptr_t)src_data(v, &t->src[0]) % elem_size(d0->type) == 0;
}

/* A copy of t in type tt (the source type, or F32). */
static tl_status make_copy(const view *v, const tl__cv_tensor *t, tl_qtype tt, void **out,
                           tl_error *err)
{
  int64_t ne0 = t->ne[0];
  uint64_t rows = (uint64_t)t->ne[1] * (uint64_t)t->ne[2] * (uint64_t)t->ne[3];
  size_t rb = (size_t)ne0 * elem_size(tt);
  size_t bytes = (size_t)rows * rb;
  uint8_t *dst = tl__malloc(bytes > 0 ? bytes : 1);
  if (!dst)
    return tl__error_set(err, TL_ENOMEM, "convert: out of memory for a copy of '%s'", t->name);
  if (t->op == TL_CV_GENERATED) {
    memcpy(dst, t->gen, rows * rb);
  } else if (t->op == TL_CV_ROPE_PERMUTE && t->n_dims < 2) {
    /* a bias: elements of each head interleaved (LlamaModel.permute) */
    float *tmp = tl__malloc_array((size_t)ne0, sizeof *tmp);
    if (!tmp) {
      tl__free(dst);
      return tl__error_set(err, TL_ENOMEM, "convert: out of memory");
    }
    tl_qtype st = TL_QTYPE_F32;
    to_f32(t->src[0].st->type, src_row(v, t, 0, &st), tmp, ne0);
    uint64_t hd = (uint64_t)ne0 / t->perm_heads, half = hd / 2;
    float *d = (float *)dst;
    for (uint64_t h0 = 0; h0 < (uint64_t)ne0; h0 += hd)
      for (uint64_t i = 0; i < half; i++)
        for (uint64_t j = 0; j < 2; j++)
          d[h0 + 2 * i + j] = tmp[h0 + j * half + i];
    tl__free(tmp);
  } else {
    uint64_t hd = t->op == TL_CV_ROPE_PERMUTE ? rows / t->perm_heads : 0, half = hd / 2;
    for (uint64_t r = 0; r < rows; r++) {
      uint64_t sr = r;
      if (hd) { /* GGUF row h0 + 2i + j comes from HF row h0 + j*hd/2 + i */
        uint64_t h0 = r / hd * hd, k = r - h0;
        sr = h0 + (k % 2) * half + k / 2;
      }
      tl_qtype st = TL_QTYPE_F32;
      const uint8_t *p = src_row(v, t, sr, &st);
      if (st == tt)
        memcpy(dst + r * rb, p, rb);
      else
        to_f32(st, p, (float *)(dst + r * rb), ne0);
    }
    if (t->op == TL_CV_ADD_ONE)
      for (uint64_t i = 0; i < rows * (uint64_t)ne0; i++)
        ((float *)dst)[i] += 1.0f;
  }
  *out = dst;
  return TL_OK;
}

/* One tensor of the view. */
typedef struct entry {
  char name[TL_TENSOR_NAME_MAX];
  tl_qtype type;
  uint32_t n_dims;
  int64_t ne[4];
  const void *data;
} entry;

/* t in place, or copied (as F32 when to_f32, else in its source type). */
static tl_status add_entry(view *v, const tl__cv_tensor *t, bool to_f32, entry *ents, size_t *n_ent,
                           tl_convert_view_stats *vs, tl_error *err)
{
  entry *en = &ents[(*n_ent)++];
  snprintf(en->name, sizeof en->name, "%s", t->name);
  en->n_dims = t->n_dims;
  memcpy(en->ne, t->ne, sizeof en->ne);
  uint64_t rows = (uint64_t)t->ne[1] * (uint64_t)t->ne[2] * (uint64_t)t->ne[3];
  tl_qtype ty;
  if (in_place(v, t, &ty) && (!to_f32 || ty == TL_QTYPE_F32)) {
    en->type = ty;
    en->data = src_data(v, &t->src[0]);
    vs->n_in_place++;
    vs->bytes_in_place += tl_qtype_row_bytes(ty, t->ne[0]) * rows;
    return TL_OK;
  }
  en->type = to_f32 || t->n_src == 0 ? TL_QTYPE_F32 : t->src[0].st->type;
  tl_status st = make_copy(v, t, en->type, &v->bufs[v->n_bufs], err);
  if (st != TL_OK)
    return st;
  en->data = v->bufs[v->n_bufs++];
  vs->bytes_copied += tl_qtype_row_bytes(en->type, t->ne[0]) * rows;
  return TL_OK;
}

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

static tl_status map_shards(view *v, const tl__cv_shards *sh, tl_error *err)
{
  v->maps = tl__calloc(sh->n ? sh->n : 1, sizeof *v->maps);
  v->lens = tl__calloc(sh->n ? sh->n : 1, sizeof *v->lens);
  if (!v->maps || !v->lens)
    return tl__error_set(err, TL_ENOMEM, "convert: out of memory");
  for (size_t i = 0; i < sh->n; i++) {
    struct stat sb;
    if (fstat(sh->fds[i], &sb) != 0 || sb.st_size <= 0)
      return tl__error_errno(err, TL_EIO, errno, "convert: cannot stat '%s'", sh->paths[i]);
    void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, sh->fds[i], 0);
    if (m == MAP_FAILED)
      return tl__error_errno(err, TL_EIO, errno, "convert: cannot map '%s'", sh->paths[i]);
    v->maps[i] = m;
    v->lens[i] = (size_t)sb.st_size;
    v->n_maps = i + 1;
  }
  return TL_OK;
}

tl_status tl_convert_open_view(const char *dir, tl_gguf **out, tl_convert_view_stats *stats,
                               tl_error *err)
{
  if (!dir || !dir[0] || !out)
    return tl__error_set(err, TL_EINVAL, "convert: a directory is required");
  char *cfg = NULL;
  size_t cfg_len = 0, n_plan = 0;
  tl__cv_shards sh = {0};
  tl__cv_tensor *plan = NULL;
  tl_gguf_writer *w = NULL;
  entry *ents = NULL;
  size_t n_ent = 0;
  tl_convert_view_stats vs = {0};
  view *v = tl__calloc(1, sizeof *v);
  tl_hparams *hp = tl__calloc(1, sizeof *hp);
  tl_status st = v && hp ? TL_OK : tl__error_set(err, TL_ENOMEM, "convert: out of memory");
  if (st == TL_OK)
    st = tl__cv_read_file(dir, "config.json", &cfg, &cfg_len, err);
  if (st == TL_OK && (st = tl_hparams_from_hf_config(cfg, cfg_len, hp, err)) != TL_OK)
    tl__error_prefix(err, "convert: '%s'", dir);
  if (st == TL_OK)
    st = tl__cv_hparams_fixup(cfg, cfg_len, hp, err);
  if (st == TL_OK)
    st = tl__cv_shards_open(&sh, dir, err);
  if (st == TL_OK)
    st = tl__cv_plan_tensors(hp, cfg, cfg_len, sh.list.v, sh.file_of, sh.list.n, &plan, &n_plan, err);
  if (st == TL_OK)
    st = map_shards(v, &sh, err);
  size_t cap = 0;
  for (size_t i = 0; i < n_plan; i++)
    cap += plan[i].n_src > 1 ? plan[i].n_src : 1;
  if (st == TL_OK) {
    ents = tl__calloc(cap ? cap : 1, sizeof *ents);
    v->bufs = tl__calloc(cap ? cap : 1, sizeof *v->bufs);
    if (!ents || !v->bufs)
      st = tl__error_set(err, TL_ENOMEM, "convert: out of memory");
  }
  /* each tensor in place or copied; the file type is the first matrix's */
  tl_ftype ftype = TL_FTYPE_ALL_F32;
  bool ftype_set = false;
  for (size_t i = 0; st == TL_OK && i < n_plan; i++) {
    tl__cv_tensor *t = &plan[i];
    bool want_f32 = t->n_dims < 2 || strstr(t->name, "ffn_gate_inp.") || t->op == TL_CV_GENERATED ||
                    t->op == TL_CV_ADD_ONE;
    tl_qtype ty;
    bool same = true;
    for (size_t k = 1; k < t->n_src; k++)
      same &= t->src[k].st->type == t->src[0].st->type;
    if (t->n_src > 1 && t->op == TL_CV_COPY && !want_f32 && !in_place(v, t, &ty)) {
      /* experts not stored back to back: one tensor per expert, named as
       * early Mixtral GGUFs name them (blk.N.ffn_gate.E.weight), each seen
       * in place where it can be, rather than a stacked copy */
      const char *x = strstr(t->name, "_exps.weight");
      for (size_t e = 0; st == TL_OK && x && e < t->n_src; e++) {
        tl__cv_tensor one = *t;
        one.n_src = 1;
        one.src = &t->src[e];
        one.n_dims = 2;
        one.ne[1] = t->src[e].st->ne[1];
        one.ne[2] = one.ne[3] = 1;
        snprintf(one.name, sizeof one.name, "%.*s.%zu.weight", (int)(x - t->name), t->name, e);
        st = add_entry(v, &one, false, ents, &n_ent, &vs, err);
      }
      if (!x)
        st = tl__error_set(err, TL_EINTERNAL, "convert: '%s' has several sources", t->name);
    } else {
      st = add_entry(v, t, want_f32 || !same, ents, &n_ent, &vs, err);
    }
    if (st == TL_OK && !ftype_set && t->n_dims >= 2) {
      tl_qtype ft = ents[n_ent - 1].type;
      ftype = ft == TL_QTYPE_BF16 ? TL_FTYPE_BF16 : ft == TL_QTYPE_F16 ? TL_FTYPE_F16 : TL_FTYPE_ALL_F32;
      ftype_set = true;
    }
  }
  vs.n_tensors = n_ent;
  bool has_tok = false, has_tmpl = false;
  if (st == TL_OK)
    st = tl_gguf_writer_create(&w, err);
  if (st == TL_OK) {
    char name[256];
    base_name(dir, name, sizeof name);
    st = tl__cv_write_metadata(w, hp, cfg, cfg_len, name, ftype, err);
  }
  if (st == TL_OK)
    st = tl__hf_tokenizer_write(dir, hp->n_vocab, w, &has_tok, &has_tmpl, err);
  for (size_t i = 0; st == TL_OK && i < n_ent; i++)
    st = tl_gguf_writer_add_tensor(w, ents[i].name, ents[i].type, ents[i].ne, ents[i].n_dims, NULL, err);
  void *meta = NULL;
  size_t meta_len = 0;
  if (st == TL_OK)
    st = tl__gguf_writer_header_memory(w, &meta, &meta_len, err);
  tl_gguf *g = NULL;
  if (st == TL_OK) {
    st = tl__gguf_open_view(meta, meta_len, view_release, v, &g, err);
    v = NULL; /* the handle owns it now, or released it */
  }
  for (size_t i = 0; st == TL_OK && i < n_ent; i++)
    tl__gguf_set_tensor_data(g, i, ents[i].data);
  if (st == TL_OK) {
    *out = g;
    if (stats)
      *stats = vs;
  } else {
    tl__error_prefix(err, "'%s'", dir);
  }
  view_release(v);
  tl_gguf_writer_free(w);
  tl__free(ents);
  tl__cv_plan_free(plan, n_plan);
  tl__cv_shards_close(&sh);
  tl__free(cfg);
  tl__free(hp);
  return st;
}
