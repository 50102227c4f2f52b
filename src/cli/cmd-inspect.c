/* `tailor inspect SRC`: the model side of a plan. SRC is a GGUF file, a
 * Hugging Face directory or a catalog id; prints architecture, parameters,
 * dimensions, the tensor-type histogram, exact weight bytes, KV-cache bytes
 * per token, and for catalog ids the predicted file size at common mixtures. */
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "model-view.h"

static const char help[] =
    "Usage: tailor inspect SRC [--json] [--type FTYPE] [--catalog FILE] [--tensors]\n"
    "\n"
    "Describe a model exactly. SRC is a GGUF file, a Hugging Face model directory\n"
    "(config.json + safetensors) or a catalog id (see 'tailor catalog list').\n"
    "\n"
    "Options:\n"
    "  --json          machine-readable output\n"
    "  --type FTYPE    for a catalog id: the mixture to describe (default Q4_K_M)\n"
    "  --catalog FILE  overlay a catalog file (same schema as data/models.json)\n"
    "  --tensors       list every tensor (name, type, shape, bytes)\n"
    "  -h, --help      show this help\n"
    "\n"
    "Exit status: 0 ok, 1 the model cannot be read, 2 bad usage.\n";

static const tl_ftype common_ftypes[] = {TL_FTYPE_Q2_K,   TL_FTYPE_Q3_K_M, TL_FTYPE_Q4_K_M, TL_FTYPE_Q5_K_M,
                                         TL_FTYPE_Q6_K,   TL_FTYPE_Q8_0,   TL_FTYPE_F16};
#define N_COMMON (sizeof common_ftypes / sizeof common_ftypes[0])

static const char *kind_name(tl_model_source_kind k)
{
  return k == TL_SOURCE_GGUF ? "gguf" : k == TL_SOURCE_HF_DIR ? "hf-dir" : "catalog";
}

typedef struct hist_row {
  tl_qtype type;
  size_t count;
  uint64_t bytes;
} hist_row;

static size_t histogram(const tl_model_desc *m, hist_row *rows)
{
  size_t n = 0;
  for (size_t i = 0; i < m->n_tensors; i++) {
    size_t j = 0;
    while (j < n && rows[j].type != m->tensors[i].type)
      j++;
    if (j == n)
      rows[n++] = (hist_row){m->tensors[i].type, 0, 0};
    rows[j].count++;
    rows[j].bytes += m->tensors[i].bytes;
  }
  return n;
}

typedef struct predicted {
  tl_ftype ftype;
  uint64_t weight_bytes, file_bytes;
} predicted;

static json_t *to_json(const tl_model_desc *m, const hist_row *h, size_t nh, const uint64_t kv[3],
                       const tl_kv_layer *kvl, const predicted *pred, size_t npred, const tl_catalog_entry *e,
                       bool tensors)
{
  const tl_hparams *hp = &m->hp;
  json_t *o = json_object();
  json_object_set_new(o, "source", json_string(m->source));
  json_object_set_new(o, "kind", json_string(kind_name(m->source_kind)));
  json_object_set_new(o, "name", json_string(m->name));
  json_object_set_new(o, "architecture", json_string(hp->arch_name));
  json_object_set_new(o, "in_registry", json_boolean(hp->arch != TL_ARCH_UNKNOWN));
  json_object_set_new(o, "file_type", m->ftype_known ? json_string(tl_ftype_name(m->ftype)) : json_null());
  json_object_set_new(o, "params_total", json_integer((json_int_t)m->n_params));
  json_object_set_new(o, "params_active", json_integer((json_int_t)m->n_params_active));
  json_object_set_new(o, "params_token_embd", json_integer((json_int_t)m->n_params_token_embd));
  json_object_set_new(o, "n_layer", json_integer(hp->n_layer));
  json_object_set_new(o, "n_embd", json_integer(hp->n_embd));
  json_object_set_new(o, "n_ff", json_integer(hp->n_ff));
  json_object_set_new(o, "n_head", json_integer(hp->n_head));
  json_object_set_new(o, "n_head_kv", json_integer(hp->n_head_kv));
  json_object_set_new(o, "head_dim_k", json_integer(hp->head_dim_k));
  json_object_set_new(o, "head_dim_v", json_integer(hp->head_dim_v));
  json_object_set_new(o, "n_rot", json_integer(hp->n_rot));
  json_object_set_new(o, "context_length", json_integer(hp->n_ctx_train));
  json_object_set_new(o, "n_vocab", json_integer(hp->n_vocab));
  json_object_set_new(o, "tied_embeddings", json_boolean(hp->tied_embeddings));
  if (hp->n_expert) {
    json_t *x = json_object();
    json_object_set_new(x, "count", json_integer(hp->n_expert));
    json_object_set_new(x, "used", json_integer(hp->n_expert_used));
    json_object_set_new(x, "ff", json_integer(hp->n_ff_exp));
    json_object_set_new(x, "shared", json_integer(hp->n_expert_shared));
    json_object_set_new(x, "dense_leading_layers", json_integer(hp->n_layer_dense_lead));
    json_object_set_new(o, "experts", x);
  }
  if (hp->kv_lora_rank) {
    json_t *x = json_object();
    json_object_set_new(x, "q_lora_rank", json_integer(hp->q_lora_rank));
    json_object_set_new(x, "kv_lora_rank", json_integer(hp->kv_lora_rank));
    json_object_set_new(x, "qk_rope_head_dim", json_integer(hp->qk_rope_head_dim));
    json_object_set_new(x, "qk_nope_head_dim", json_integer(hp->qk_nope_head_dim));
    json_object_set_new(x, "v_head_dim", json_integer(hp->v_head_dim));
    json_object_set_new(o, "mla", x);
  }
  uint32_t n_swa = 0;
  for (uint32_t i = 0; kvl && i < hp->n_layer; i++)
    n_swa += kvl[i].window != 0;
  json_object_set_new(o, "sliding_window", json_integer(hp->n_swa));
  json_object_set_new(o, "sliding_window_layers", json_integer(n_swa));
  json_t *ha = json_array();
  for (size_t i = 0; i < nh; i++) {
    json_t *r = json_object();
    json_object_set_new(r, "type", json_string(tl_qtype_name(h[i].type)));
    json_object_set_new(r, "tensors", json_integer((json_int_t)h[i].count));
    json_object_set_new(r, "bytes", json_integer((json_int_t)h[i].bytes));
    json_array_append_new(ha, r);
  }
  json_object_set_new(o, "tensor_types", ha);
  json_object_set_new(o, "n_tensors", json_integer((json_int_t)m->n_tensors));
  json_object_set_new(o, "weight_bytes", json_integer((json_int_t)m->weight_bytes));
  json_object_set_new(o, "file_bytes", m->file_bytes ? json_integer((json_int_t)m->file_bytes) : json_null());
  json_t *k = json_object();
  static const char *const kv_names[3] = {"f16", "q8_0", "q4_0"};
  for (int i = 0; i < 3; i++) /* null: the rows do not divide into the type's blocks */
    json_object_set_new(k, kv_names[i], kv[i] || !kv[0] ? json_integer((json_int_t)kv[i]) : json_null());
  json_object_set_new(o, "kv_bytes_per_token", k);
  json_object_set_new(o, "has_tokenizer", json_boolean(m->has_tokenizer));
  json_object_set_new(o, "has_chat_template", json_boolean(m->has_chat_template));
  if (e) {
    json_object_set_new(o, "catalog", tl_cli_catalog_entry_json(e));
    json_object_set_new(o, "file_bytes_predicted", json_integer((json_int_t)m->file_bytes_predicted));
    json_t *pa = json_array();
    for (size_t i = 0; i < npred; i++) {
      json_t *r = json_object();
      json_object_set_new(r, "file_type", json_string(tl_ftype_name(pred[i].ftype)));
      json_object_set_new(r, "weight_bytes", json_integer((json_int_t)pred[i].weight_bytes));
      json_object_set_new(r, "file_bytes", json_integer((json_int_t)pred[i].file_bytes));
      json_array_append_new(pa, r);
    }
    json_object_set_new(o, "predicted", pa);
  }
  if (tensors) {
    json_t *ta = json_array();
    for (size_t i = 0; i < m->n_tensors; i++) {
      const tl_tensor_desc *t = &m->tensors[i];
      json_t *r = json_object(), *sh = json_array();
      for (uint32_t d = 0; d < t->n_dims && d < 4; d++)
        json_array_append_new(sh, json_integer(t->ne[d]));
      json_object_set_new(r, "name", json_string(t->name));
      json_object_set_new(r, "type", json_string(tl_qtype_name(t->type)));
      json_object_set_new(r, "shape", sh);
      json_object_set_new(r, "bytes", json_integer((json_int_t)t->bytes));
      json_object_set_new(r, "layer", json_integer(t->layer));
      json_object_set_new(r, "role", json_string(tl_tensor_role_name(t->role)));
      json_array_append_new(ta, r);
    }
    json_object_set_new(o, "tensors", ta);
  }
  return o;
}

static void print_text(const tl_model_desc *m, const hist_row *h, size_t nh, const uint64_t kv[3],
                       const tl_kv_layer *kvl, const predicted *pred, size_t npred, const tl_catalog_entry *e,
                       bool tensors)
{
  const tl_hparams *hp = &m->hp;
  char a[32], b[32];
  printf("source:        %s (%s)\n", m->source, kind_name(m->source_kind));
  if (m->name[0])
    printf("name:          %s\n", m->name);
  printf("architecture:  %s%s\n", hp->arch_name, hp->arch == TL_ARCH_UNKNOWN ? " (not in the registry)" : "");
  if (m->ftype_known)
    printf("file type:     %s\n", tl_ftype_name(m->ftype));
  printf("parameters:    %llu (%s) total, %llu (%s) active per token\n", (unsigned long long)m->n_params,
         tl_cli_fmt_count(m->n_params, a, sizeof a), (unsigned long long)m->n_params_active,
         tl_cli_fmt_count(m->n_params_active, b, sizeof b));
  printf("layers:        %u\n", hp->n_layer);
  printf("embedding:     %u\n", hp->n_embd);
  printf("heads:         %u, KV heads %u\n", hp->n_head, hp->n_head_kv);
  printf("head dims:     K %u, V %u, rotary %u\n", hp->head_dim_k, hp->head_dim_v, hp->n_rot);
  printf("feed-forward:  %u\n", hp->n_ff);
  if (hp->n_expert)
    printf("experts:       %u, %u used per token, width %u, shared %u, dense leading layers %u\n", hp->n_expert,
           hp->n_expert_used, hp->n_ff_exp, hp->n_expert_shared, hp->n_layer_dense_lead);
  if (hp->kv_lora_rank)
    printf("latent attn:   kv_lora_rank %u, q_lora_rank %u, rope %u, nope %u, v %u\n", hp->kv_lora_rank,
           hp->q_lora_rank, hp->qk_rope_head_dim, hp->qk_nope_head_dim, hp->v_head_dim);
  uint32_t n_swa = 0;
  for (uint32_t i = 0; kvl && i < hp->n_layer; i++)
    n_swa += kvl[i].window != 0;
  if (n_swa)
    printf("sliding window: %u tokens on %u of %u layers\n", hp->n_swa, n_swa, hp->n_layer);
  printf("context:       %u\n", hp->n_ctx_train);
  printf("vocab:         %u%s\n", hp->n_vocab, hp->tied_embeddings ? " (output tied to the embedding)" : "");
  printf("tensors:       %zu%s\n", m->n_tensors, m->n_tensors ? "" : " (a vocabulary-only file)");
  for (size_t i = 0; i < nh; i++)
    printf("  %-8s %6zu tensors %16llu B\n", tl_qtype_name(h[i].type), h[i].count, (unsigned long long)h[i].bytes);
  printf("weight bytes:  %llu (%s)\n", (unsigned long long)m->weight_bytes, tl_cli_fmt_bytes(m->weight_bytes, a, sizeof a));
  if (m->file_bytes)
    printf("file bytes:    %llu (%s)\n", (unsigned long long)m->file_bytes, tl_cli_fmt_bytes(m->file_bytes, a, sizeof a));
  printf("KV cache per token: f16 %llu B", (unsigned long long)kv[0]);
  for (int i = 1; i < 3; i++) {
    if (kv[i] || !kv[0])
      printf(", %s %llu B", i == 1 ? "q8_0" : "q4_0", (unsigned long long)kv[i]);
    else
      printf(", %s n/a (rows not a multiple of 32)", i == 1 ? "q8_0" : "q4_0");
  }
  printf("\n");
  if (m->source_kind != TL_SOURCE_CATALOG)
    printf("tokenizer:     %s, chat template %s\n", m->has_tokenizer ? "yes" : "no",
           m->has_chat_template ? "yes" : "no");
  if (e) {
    printf("published:     %llu total, %llu active (%s)\n", (unsigned long long)e->params_total,
           (unsigned long long)e->params_active, e->params_source);
    printf("predicted GGUF sizes (tensor bytes exact for the mixture; file adds metadata estimate):\n");
    for (size_t i = 0; i < npred; i++)
      printf("  %-7s weights %14llu B  file %14llu B (%s)\n", tl_ftype_name(pred[i].ftype),
             (unsigned long long)pred[i].weight_bytes, (unsigned long long)pred[i].file_bytes,
             tl_cli_fmt_bytes(pred[i].file_bytes, a, sizeof a));
  }
  if (tensors)
    for (size_t i = 0; i < m->n_tensors; i++) {
      const tl_tensor_desc *t = &m->tensors[i];
      printf("  %-40s %-8s [", t->name, tl_qtype_name(t->type));
      for (uint32_t d = 0; d < t->n_dims && d < 4; d++)
        printf(d ? ", %lld" : "%lld", (long long)t->ne[d]);
      printf("] %llu B\n", (unsigned long long)t->bytes);
    }
}

static int run(int argc, char **argv)
{
  const char *src = NULL, *catalog_file = NULL, *type = NULL;
  bool json = false, tensors = false;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--json"))
      json = true;
    else if (!strcmp(argv[i], "--tensors"))
      tensors = true;
    else if (!strcmp(argv[i], "--catalog") || !strcmp(argv[i], "--type")) {
      if (i + 1 >= argc)
        return tl_cli_usage_error("inspect", "%s needs a value", argv[i]);
      *(argv[i][2] == 'c' ? &catalog_file : &type) = argv[i + 1];
      i++;
    } else if (argv[i][0] == '-' && argv[i][1] != '\0')
      return tl_cli_usage_error("inspect", "unknown option '%s'", argv[i]);
    else if (src)
      return tl_cli_usage_error("inspect", "one SRC only ('%s' and '%s')", src, argv[i]);
    else
      src = argv[i];
  }
  if (!src)
    return tl_cli_usage_error("inspect", "missing SRC (a GGUF file, a model directory or a catalog id)");
  tl_error err;
  tl_ftype ftype = TL_FTYPE_Q4_K_M;
  if (type && tl_ftype_parse(type, &ftype, &err) != TL_OK)
    return tl_cli_usage_error("inspect", "--type: %s", err.message);
  tl_catalog *cat = tl_cli_catalog_load("inspect", catalog_file);
  if (!cat)
    return TL_EXIT_FAILURE;
  tl_model_desc *m = NULL;
  if (tl_model_desc_open(src, cat, ftype, &m, &err) != TL_OK) {
    tl_catalog_free(cat);
    return tl_cli_fail("inspect", "%s", err.message);
  }
  const tl_catalog_entry *e = m->source_kind == TL_SOURCE_CATALOG ? tl_catalog_find(cat, m->catalog_id) : NULL;
  hist_row *h = calloc(m->n_tensors + 1, sizeof *h);
  tl_kv_layer *kvl = calloc(TL_MAX_LAYERS, sizeof *kvl);
  int rc = TL_EXIT_OK;
  if (!h || !kvl) {
    rc = tl_cli_fail("inspect", "out of memory");
    goto out;
  }
  size_t nh = histogram(m, h);
  uint64_t kv[3] = {0, 0, 0};
  bool have_kv = m->hp.n_layer > 0 && tl_kv_geometry(&m->hp, kvl, NULL) == TL_OK;
  if (have_kv) {
    kv[0] = tl_kv_bytes_per_token(&m->hp, TL_QTYPE_F16);
    kv[1] = tl_kv_bytes_per_token(&m->hp, TL_QTYPE_Q8_0);
    kv[2] = tl_kv_bytes_per_token(&m->hp, TL_QTYPE_Q4_0);
  }
  predicted pred[N_COMMON];
  size_t npred = 0;
  for (size_t i = 0; e && i < N_COMMON; i++) {
    tl_model_desc *p = NULL;
    if (tl_model_desc_from_catalog(cat, e->id, common_ftypes[i], &p, &err) != TL_OK) {
      rc = tl_cli_fail("inspect", "%s", err.message);
      goto out;
    }
    pred[npred++] = (predicted){common_ftypes[i], p->weight_bytes, p->file_bytes_predicted};
    tl_model_desc_free(p);
  }
  if (json) {
    json_t *o = to_json(m, h, nh, kv, have_kv ? kvl : NULL, pred, npred, e, tensors);
    char *s = json_dumps(o, JSON_INDENT(2));
    if (s)
      puts(s);
    free(s);
    json_decref(o);
  } else {
    print_text(m, h, nh, kv, have_kv ? kvl : NULL, pred, npred, e, tensors);
  }
out:
  free(h);
  free(kvl);
  tl_model_desc_free(m);
  tl_catalog_free(cat);
  return rc;
}

const tl_cli_command tl_cli_cmd_inspect = {
    .name = "inspect",
    .summary = "describe a model exactly: architecture, tensors, sizes, KV bytes per token",
    .help = help,
    .run = run,
};
