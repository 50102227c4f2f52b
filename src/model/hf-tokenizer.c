/* A Hugging Face tokenizer (tokenizer.json, tokenizer_config.json,
 * chat_template.jinja) as GGUF tokenizer.ggml.* metadata, as llama.cpp's
 * converter writes it (convert_hf_to_gguf.py get_vocab_base / _set_vocab_gpt2,
 * gguf-py/gguf/vocab.py SpecialVocab; key names of gguf-py constants.py):
 *  - byte-level BPE (a ByteLevel pre-tokenizer or decoder): model "gpt2",
 *    tokens by id, merges as "left right" strings, pre-tokenizer name from
 *    the split regex (see pre_name), added tokens CONTROL when special and
 *    USER_DEFINED otherwise;
 *  - BPE with byte_fallback (Llama 2 / Mistral / Gemma style): model
 *    "llama", byte tokens "<0xXX>" typed BYTE, the unknown token UNKNOWN,
 *    scores from the merge order (spm_scores). llama.cpp's LlamaHfVocab
 *    writes a placeholder -1000 for every score instead.
 * Ids without a token up to the model's vocabulary size become "[PADn]"
 * (USER_DEFINED), as llama.cpp pads them. Unigram and WordPiece models are
 * not converted (TL_EUNSUPPORTED). */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "model/convert-int.h"

enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER = 4, TT_BYTE = 6 };

/* Llama 3 and Qwen2 split regexes (their tokenizer.json), named as llama.cpp names the
 * pre-tokenizers. */
static const struct {
  const char *regex;
  const char *pre;
} known_pre[] = {
    {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
     "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
     "llama-bpe"},
    {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
     "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
     "qwen2"},
};

/* Walks a pre_tokenizer (possibly a Sequence): finds ByteLevel and the first Split regex. */
static void scan_pre(json_t *pt, bool *byte_level, bool *bl_regex, const char **split)
{
  if (!json_is_object(pt))
    return;
  const char *type = json_string_value(json_object_get(pt, "type"));
  if (!type)
    return;
  if (!strcmp(type, "Sequence")) {
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(pt, "pretokenizers"), i, e)
        scan_pre(e, byte_level, bl_regex, split);
  } else if (!strcmp(type, "ByteLevel")) {
    *byte_level = true;
    json_t *ur = json_object_get(pt, "use_regex");
    *bl_regex = !ur || json_is_true(ur);
  } else if (!strcmp(type, "Split") && !*split) {
    *split = json_string_value(json_object_get(json_object_get(pt, "pattern"), "Regex"));
  }
}

static const char *pre_name(bool bl_regex, const char *split)
{
  if (split) {
    for (size_t i = 0; i < sizeof known_pre / sizeof known_pre[0]; i++)
      if (!strcmp(known_pre[i].regex, split))
        return known_pre[i].pre;
    return "default";
  }
  return bl_regex ? "gpt-2" : "default";
}

/* True when v is the JSON string s. */
static bool str_is(json_t *v, const char *s)
{
  return json_is_string(v) && strcmp(json_string_value(v), s) == 0;
}

/* A token given as "text" or {"content": "text"} in tokenizer_config.json. */
static const char *token_text(json_t *v)
{
  if (json_is_string(v))
    return json_string_value(v);
  return json_string_value(json_object_get(v, "content"));
}

typedef struct vocab {
  uint32_t n;
  const char **text; /* borrowed from the JSON */
  size_t *len;
  int32_t *type;
  float *score;
} vocab;

static int64_t find_token(const vocab *v, const char *s)
{
  if (!s)
    return -1;
  size_t n = strlen(s);
  for (uint32_t i = 0; i < v->n; i++)
    if (v->text[i] && v->len[i] == n && memcmp(v->text[i], s, n) == 0)
      return i;
  return -1;
}

static tl_status write_special(tl_gguf_writer *w, const vocab *v, json_t *tcfg, json_t *mcfg,
                               tl_error *err)
{
  static const struct {
    const char *cfg_key, *id_key, *gguf;
  } roles[] = {
      {"bos_token", "bos_token_id", "tokenizer.ggml.bos_token_id"},
      {"eos_token", "eos_token_id", "tokenizer.ggml.eos_token_id"},
      {"unk_token", "unk_token_id", "tokenizer.ggml.unknown_token_id"},
      {"pad_token", "pad_token_id", "tokenizer.ggml.padding_token_id"},
  };
  tl_status st = TL_OK;
  for (size_t r = 0; r < sizeof roles / sizeof roles[0] && st == TL_OK; r++) {
    int64_t id = find_token(v, token_text(json_object_get(tcfg, roles[r].cfg_key)));
    if (id < 0) {
      json_t *j = json_object_get(mcfg, roles[r].id_key);
      if (json_is_array(j))
        j = json_array_get(j, 0);
      if (json_is_integer(j) && json_integer_value(j) >= 0 && json_integer_value(j) < v->n)
        id = json_integer_value(j);
    }
    if (id >= 0)
      st = tl_gguf_writer_set_u32(w, roles[r].gguf, (uint32_t)id, err);
  }
  static const char *const adds[] = {"add_bos_token", "add_eos_token"};
  for (size_t i = 0; i < 2 && st == TL_OK; i++) {
    json_t *b = json_object_get(tcfg, adds[i]);
    if (json_is_boolean(b)) {
      char key[64];
      snprintf(key, sizeof key, "tokenizer.ggml.%s", adds[i]);
      st = tl_gguf_writer_set_bool(w, key, json_is_true(b), err);
    }
  }
  return st;
}

static tl_status write_chat_template(const char *dir, tl_gguf_writer *w, json_t *tcfg, bool *has,
                                     tl_error *err)
{
  char *text = NULL;
  size_t len = 0;
  tl_status st = tl__cv_read_file(dir, "chat_template.jinja", &text, &len, err);
  if (st == TL_OK) {
    st = tl_gguf_writer_set_str(w, "tokenizer.chat_template", text, len, err);
    tl__free(text);
    *has = st == TL_OK;
    return st;
  }
  if (st != TL_ENOTFOUND)
    return st;
  json_t *ct = json_object_get(tcfg, "chat_template");
  const char *s = json_string_value(ct);
  if (json_is_array(ct)) { /* named templates: the "default" one */
    size_t i;
    json_t *e;
    json_array_foreach(ct, i, e)
    {
      if (str_is(json_object_get(e, "name"), "default"))
        s = json_string_value(json_object_get(e, "template"));
    }
  }
  if (!s)
    return TL_OK;
  *has = true;
  return tl_gguf_writer_set_str(w, "tokenizer.chat_template", s, strlen(s), err);
}

/* The two sides of merge m: "left right" or ["left", "right"]. */
static bool merge_parts(json_t *m, const char **a, size_t *al, const char **b, size_t *bl)
{
  if (json_is_string(m)) {
    const char *s = json_string_value(m), *sp = strchr(s, ' ');
    if (!sp)
      return false;
    *a = s;
    *al = (size_t)(sp - s);
    *b = sp + 1;
    *bl = strlen(sp + 1);
    return true;
  }
  if (json_is_array(m) && json_array_size(m) == 2 && json_is_string(json_array_get(m, 0)) &&
      json_is_string(json_array_get(m, 1))) {
    *a = json_string_value(json_array_get(m, 0));
    *al = strlen(*a);
    *b = json_string_value(json_array_get(m, 1));
    *bl = strlen(*b);
    return true;
  }
  return false;
}

/* SentencePiece merges the adjacent pair whose joined piece scores highest;
 * tokenizer.json gives the same priority as the order of its merges (the
 * transformers converter sorts them by the SentencePiece scores). So a piece
 * made by merge i scores -i, and pieces no merge makes score below them all
 * (they can only start a word as single characters). */
static tl_status spm_scores(json_t *model, vocab *v, tl_error *err)
{
  json_t *jm = json_object_get(model, "merges"), *jv = json_object_get(model, "vocab");
  size_t nm = json_array_size(jm);
  bool *set = tl__calloc(v->n ? v->n : 1, sizeof *set);
  char *buf = tl__malloc(4096);
  tl_status st = TL_OK;
  if (!set || !buf)
    st = tl__error_set(err, TL_ENOMEM, "convert: out of memory");
  for (size_t i = 0; st == TL_OK && i < nm; i++) {
    const char *a, *b;
    size_t al, bl;
    if (!merge_parts(json_array_get(jm, i), &a, &al, &b, &bl)) {
      st = tl__error_set(err, TL_EFORMAT,
                         "convert: tokenizer.json merge %zu is neither \"a b\" nor [\"a\", \"b\"]",
                         i);
      break;
    }
    if (al + bl >= 4096)
      continue;
    memcpy(buf, a, al);
    memcpy(buf + al, b, bl);
    buf[al + bl] = '\0';
    json_t *id = json_object_get(jv, buf);
    if (!json_is_integer(id))
      continue;
    json_int_t k = json_integer_value(id);
    if (k >= 0 && k < v->n && !set[k] && v->type[k] == TT_NORMAL) {
      v->score[k] = -(float)i;
      set[k] = true;
    }
  }
  tl__free(set);
  tl__free(buf);
  return st;
}

tl_status tl__hf_tokenizer_write(const char *dir, uint32_t n_vocab, tl_gguf_writer *w,
                                 bool *has_tokenizer, bool *has_chat_template, tl_error *err)
{
  *has_tokenizer = *has_chat_template = false;
  char *text = NULL, *ctext = NULL, *mtext = NULL;
  size_t len = 0, clen = 0, mlen = 0;
  json_t *root = NULL, *tcfg = NULL, *mcfg = NULL;
  vocab v = {0};
  const char **merges = NULL;
  char **merge_buf = NULL;
  size_t n_merges = 0;
  tl_status st = tl__cv_read_file(dir, "tokenizer_config.json", &ctext, &clen, err);
  if (st == TL_OK && !(tcfg = json_loadb(ctext, clen, 0, NULL)))
    st = tl__error_set(err, TL_EFORMAT, "convert: tokenizer_config.json is not valid JSON");
  if (st != TL_OK && st != TL_ENOTFOUND)
    goto done;
  st = tl__cv_read_file(dir, "config.json", &mtext, &mlen, err);
  if (st == TL_OK && !(mcfg = json_loadb(mtext, mlen, 0, NULL)))
    st = tl__error_set(err, TL_EFORMAT, "convert: config.json is not valid JSON");
  if (st != TL_OK)
    goto done;
  st = tl__cv_read_file(dir, "tokenizer.json", &text, &len, err);
  if (st == TL_ENOTFOUND) {
    st = write_chat_template(dir, w, tcfg, has_chat_template, err);
    goto done;
  }
  if (st != TL_OK)
    goto done;
  json_error_t jerr;
  root = json_loadb(text, len, 0, &jerr);
  if (!root) {
    st = tl__error_set(err, TL_EFORMAT, "convert: tokenizer.json is not valid JSON (line %d): %s",
                       jerr.line, jerr.text);
    goto done;
  }
  json_t *model = json_object_get(root, "model");
  const char *mtype = json_string_value(json_object_get(model, "type"));
  json_t *jv = json_object_get(model, "vocab");
  if (!mtype || strcmp(mtype, "BPE") != 0 || !json_is_object(jv)) {
    st = tl__error_set(err, TL_EUNSUPPORTED,
                       "convert: tokenizer.json model '%s' is not converted (BPE is)",
                       mtype ? mtype : "(none)");
    goto done;
  }
  bool byte_level = false, bl_regex = true;
  const char *split = NULL;
  scan_pre(json_object_get(root, "pre_tokenizer"), &byte_level, &bl_regex, &split);
  json_t *dec = json_object_get(root, "decoder");
  if (str_is(json_object_get(dec, "type"), "ByteLevel"))
    byte_level = true;
  bool spm = !byte_level && json_is_true(json_object_get(model, "byte_fallback"));
  if (!byte_level && !spm) {
    st = tl__error_set(
        err, TL_EUNSUPPORTED,
        "convert: tokenizer.json BPE is neither byte-level nor byte-fallback; not converted");
    goto done;
  }
  /* the number of ids: the model's vocabulary, unless the tokenizer names more */
  json_t *added = json_object_get(root, "added_tokens");
  uint64_t max_id = 0;
  const char *k;
  json_t *e;
  json_object_foreach(jv, k, e)
  {
    if (!json_is_integer(e) || json_integer_value(e) < 0) {
      st = tl__error_set(err, TL_EFORMAT, "convert: tokenizer.json token '%s' has no valid id", k);
      goto done;
    }
    max_id = (uint64_t)json_integer_value(e) > max_id ? (uint64_t)json_integer_value(e) : max_id;
  }
  size_t ai;
  json_array_foreach(added, ai, e)
  {
    json_t *id = json_object_get(e, "id");
    if (!json_is_integer(id) || json_integer_value(id) < 0 ||
        !json_is_string(json_object_get(e, "content"))) {
      st = tl__error_set(err, TL_EFORMAT,
                         "convert: tokenizer.json added token %zu has no valid id or content", ai);
      goto done;
    }
    max_id = (uint64_t)json_integer_value(id) > max_id ? (uint64_t)json_integer_value(id) : max_id;
  }
  if (max_id >= n_vocab) {
    st = tl__error_set(err, TL_EFORMAT,
                       "convert: tokenizer.json has token id %llu, the model's vocabulary is %u",
                       (unsigned long long)max_id, n_vocab);
    goto done;
  }
  v.n = n_vocab;
  v.text = tl__calloc(n_vocab, sizeof *v.text);
  v.len = tl__calloc(n_vocab, sizeof *v.len);
  v.type = tl__calloc(n_vocab, sizeof *v.type);
  v.score = tl__calloc(n_vocab, sizeof *v.score);
  char(*pads)[16] = NULL;
  if (!v.text || !v.len || !v.type || !v.score) {
    st = tl__error_set(err, TL_ENOMEM, "convert: out of memory for %u tokens", n_vocab);
    goto done;
  }
  const char *unk = json_string_value(json_object_get(model, "unk_token"));
  json_object_foreach(jv, k, e)
  {
    uint32_t id = (uint32_t)json_integer_value(e);
    v.text[id] = k;
    v.len[id] = strlen(k);
    v.type[id] = TT_NORMAL;
    if (spm) {
      v.score[id] =
          -(float)(json_array_size(json_object_get(model, "merges")) + id); /* after every merge */
      if (v.len[id] == 6 && !strncmp(k, "<0x", 3) && k[5] == '>') {
        v.type[id] = TT_BYTE;
        v.score[id] = 0;
      } else if (unk && !strcmp(k, unk)) {
        v.type[id] = TT_UNKNOWN;
        v.score[id] = 0;
      }
    }
  }
  if (spm && (st = spm_scores(model, &v, err)) != TL_OK)
    goto done;
  json_array_foreach(added, ai, e)
  {
    uint32_t id = (uint32_t)json_integer_value(json_object_get(e, "id"));
    const char *c = json_string_value(json_object_get(e, "content"));
    v.text[id] = c;
    v.len[id] = strlen(c);
    if (v.type[id] == TT_UNKNOWN || v.type[id] == TT_BYTE)
      continue; /* the model's own role wins (llama's <unk>) */
    v.type[id] = json_is_true(json_object_get(e, "special")) ? TT_CONTROL : TT_USER;
    v.score[id] = 0;
  }
  uint32_t n_pad = 0;
  for (uint32_t i = 0; i < n_vocab; i++)
    n_pad += v.text[i] == NULL;
  if (n_pad) {
    pads = tl__calloc(n_pad, sizeof *pads);
    if (!pads) {
      st = tl__error_set(err, TL_ENOMEM, "convert: out of memory");
      goto done;
    }
    for (uint32_t i = 0, j = 0; i < n_vocab; i++)
      if (!v.text[i]) {
        snprintf(pads[j], sizeof pads[j], "[PAD%u]", i);
        v.text[i] = pads[j];
        v.len[i] = strlen(pads[j]);
        v.type[i] = TT_USER;
        j++;
      }
  }
  const char *tmodel = spm ? "llama" : "gpt2", *pre = spm ? "default" : pre_name(bl_regex, split);
  st = tl_gguf_writer_set_str(w, "tokenizer.ggml.model", tmodel, strlen(tmodel), err);
  if (st == TL_OK)
    st = tl_gguf_writer_set_str(w, "tokenizer.ggml.pre", pre, strlen(pre), err);
  if (st == TL_OK)
    st = tl_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", v.text, v.len, n_vocab, err);
  if (st == TL_OK && spm)
    st = tl_gguf_writer_set_arr(w, "tokenizer.ggml.scores", TL_GGUF_FLOAT32, v.score, n_vocab, err);
  if (st == TL_OK)
    st =
        tl_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", TL_GGUF_INT32, v.type, n_vocab, err);
  json_t *jm = json_object_get(model, "merges");
  if (st == TL_OK && !spm && json_is_array(jm) && json_array_size(jm) > 0) {
    n_merges = json_array_size(jm);
    merges = tl__calloc(n_merges, sizeof *merges);
    merge_buf = tl__calloc(n_merges, sizeof *merge_buf);
    if (!merges || !merge_buf)
      st = tl__error_set(err, TL_ENOMEM, "convert: out of memory for %zu merges", n_merges);
    for (size_t i = 0; st == TL_OK && i < n_merges; i++) {
      json_t *m = json_array_get(jm, i);
      const char *a, *b;
      size_t al, bl;
      if (json_is_string(m)) {
        merges[i] = json_string_value(m);
      } else if (merge_parts(m, &a, &al, &b, &bl)) {
        /* the newer ["left", "right"] form */
        size_t n = al + bl + 2;
        merge_buf[i] = tl__malloc(n);
        if (!merge_buf[i]) {
          st = tl__error_set(err, TL_ENOMEM, "convert: out of memory");
          break;
        }
        snprintf(merge_buf[i], n, "%s %s", a, b);
        merges[i] = merge_buf[i];
      } else {
        st = tl__error_set(
            err, TL_EFORMAT,
            "convert: tokenizer.json merge %zu is neither \"a b\" nor [\"a\", \"b\"]", i);
      }
    }
    if (st == TL_OK)
      st = tl_gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, NULL, n_merges, err);
  }
  if (st == TL_OK)
    st = write_special(w, &v, tcfg, mcfg, err);
  if (st == TL_OK)
    st = write_chat_template(dir, w, tcfg, has_chat_template, err);
  if (st == TL_OK)
    *has_tokenizer = true;
  tl__free(pads);
done:
  if (merge_buf)
    for (size_t i = 0; i < n_merges; i++)
      tl__free(merge_buf[i]);
  tl__free(merge_buf);
  tl__free(merges);
  tl__free(v.text);
  tl__free(v.len);
  tl__free(v.type);
  tl__free(v.score);
  json_decref(root);
  json_decref(tcfg);
  json_decref(mcfg);
  tl__free(text);
  tl__free(ctext);
  tl__free(mtext);
  return st;
}
