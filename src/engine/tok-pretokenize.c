/* Pre-tokenizers of byte-level BPE vocabularies: the list of regexes that
 * llama.cpp's llm_tokenizer_bpe applies for each tokenizer.ggml.pre name
 * (llama-vocab.cpp; where llama.cpp rewrote a Hugging Face regex for
 * std::regex, the original from the model's tokenizer.json is used, since
 * PCRE2 supports it). Each regex in turn splits every piece into its matches
 * and the gaps between them; matching uses PCRE2 with UTF and UCP. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <string.h>

#include "base/alloc-int.h"
#include "base/error-int.h"
#include "engine/tokenizer-int.h"

/* GPT-2's pattern without its final "|\\s+" (gaps are kept anyway). */
#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define RE_LLAMA3                                                                                  \
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "                       \
  "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_QWEN2                                                                                   \
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "                            \
  "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_UPPER "[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]"
#define RE_LOWER "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]"
#define RE_TEKKEN                                                                                  \
  "[^\\r\\n\\p{L}\\p{N}]?" RE_UPPER "*" RE_LOWER "+|[^\\r\\n\\p{L}\\p{N}]?" RE_UPPER "+" RE_LOWER  \
  "*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_CONTRACT "(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
#define RE_GPT4O                                                                                   \
  "[^\\r\\n\\p{L}\\p{N}]?" RE_UPPER "*" RE_LOWER "+" RE_CONTRACT "|[^\\r\\n\\p{L}\\p{N}]?" RE_UPPER \
  "+" RE_LOWER "*" RE_CONTRACT "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_BLOOM " ?[^(\\s|.,!?\\x{2026}\\x{3002}\\x{ff0c}\\x{3001}\\x{964}\\x{6d4}\\x{60c})]+"
#define RE_CJK_KO "[\\x{4e00}-\\x{9fa5}\\x{800}-\\x{4e00}\\x{ac00}-\\x{d7ff}]+"

/* DeepSeek LLM's letter class (its tokenizer.json), written as code points. */
#define RE_DEEPSEEK_LETTERS                                                                        \
  "\\s?[A-Za-z\\x{b5}\\x{c0}-\\x{d6}\\x{d8}-\\x{f6}\\x{f8}-\\x{1ba}\\x{1bc}-\\x{1bf}\\x{1c4}-"    \
  "\\x{293}\\x{295}-\\x{2af}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37b}-\\x{37d}\\x{37f}\\x{386}"   \
  "\\x{388}-\\x{38a}\\x{38c}\\x{38e}-\\x{3a1}\\x{3a3}-\\x{3f5}\\x{3f7}-\\x{481}\\x{48a}-\\x{52f}" \
  "\\x{531}-\\x{556}\\x{10a0}-\\x{10c5}\\x{13a0}-\\x{13f5}\\x{13f8}-\\x{13fd}\\x{1c90}-\\x{1cba}" \
  "\\x{1cbd}-\\x{1cbf}\\x{1d00}-\\x{1d2b}\\x{1d6b}-\\x{1d77}\\x{1d79}-\\x{1d9a}\\x{1e00}-"        \
  "\\x{1f15}\\x{1f18}-\\x{1f1d}\\x{1f20}-\\x{1f45}\\x{1f48}-\\x{1f4d}\\x{1f50}-\\x{1f57}\\x{1f59}" \
  "\\x{1f5b}\\x{1f5d}\\x{1f5f}-\\x{1f7d}\\x{1f80}-\\x{1fb4}\\x{1fb6}-\\x{1fbc}\\x{1fbe}\\x{1fc2}-" \
  "\\x{1fc4}\\x{1fc6}-\\x{1fcc}\\x{1fd0}-\\x{1fd3}\\x{1fd6}-\\x{1fdb}\\x{1fe0}-\\x{1fec}\\x{1ff2}-" \
  "\\x{1ff4}\\x{1ff6}-\\x{1ffc}\\x{2102}\\x{2107}\\x{210a}-\\x{2113}\\x{2115}\\x{2119}-\\x{211d}"  \
  "\\x{2124}\\x{2126}\\x{2128}\\x{212a}-\\x{212d}\\x{212f}-\\x{2134}\\x{2139}\\x{213c}-\\x{213f}"  \
  "\\x{2145}-\\x{2149}\\x{214e}\\x{2183}\\x{2184}\\x{2c00}-\\x{2c7b}\\x{2c7e}-\\x{2ce4}\\x{2ceb}-" \
  "\\x{2cee}\\x{2cf2}\\x{2cf3}\\x{a640}-\\x{a66d}\\x{a680}-\\x{a69b}\\x{a722}-\\x{a76f}\\x{a771}-"  \
  "\\x{a787}\\x{a78b}-\\x{a78e}\\x{ab70}-\\x{abbf}\\x{fb00}-\\x{fb06}\\x{fb13}-\\x{fb17}\\x{ff21}-" \
  "\\x{ff3a}\\x{ff41}-\\x{ff5a}\\x{10400}-\\x{1044f}\\x{104b0}-\\x{104d3}\\x{104d8}-\\x{104fb}"    \
  "\\x{10c80}-\\x{10cb2}\\x{10cc0}-\\x{10cf2}\\x{118a0}-\\x{118df}\\x{1e900}-\\x{1e943}]+"

#define MAX_RE 6

typedef struct family {
  const char *names; /* space-separated tokenizer.ggml.pre values */
  bool ignore_merges;
  bool add_bos;
  const char *re[MAX_RE];
} family;

static const family families[] = {
    {"default", false, false,
     {"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"}},
    {"llama3 llama-v3 llama-bpe falcon3 falcon-h1 pixtral midm-2.0 lfm2", true, true, {RE_LLAMA3}},
    {"dbrx smaug-bpe chatglm-bpe", false, false, {RE_LLAMA3}},
    {"deepseek-llm", false, false,
     {"[\\r\\n]", RE_DEEPSEEK_LETTERS,
      "\\s?[!-/:-~\\x{ff01}-\\x{ff0f}\\x{ff1a}-\\x{ff5e}\\x{2018}-\\x{201f}\\x{3000}-\\x{3002}]+",
      "\\s+$", RE_CJK_KO, "\\p{N}+"}},
    {"deepseek-coder", false, false,
     {"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", RE_CJK_KO, "\\p{N}"}},
    {"deepseek-v3 hunyuan-dense", false, false,
     {"\\p{N}{1,3}", "[\\x{4e00}-\\x{9fa5}\\x{3040}-\\x{309f}\\x{30a0}-\\x{30ff}]+",
      "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "
      "?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {"falcon", false, false, {"[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]"}},
    {"starcoder refact command-r smollm codeshell exaone minerva-7b", false, false,
     {"\\p{N}", RE_GPT2}},
    {"gpt-2 mpt olmo jais trillion phi-2 jina-es jina-de gigachat jina-v1-en jina-v2-es jina-v2-de "
     "jina-v2-code roberta-bpe",
     false, false, {RE_GPT2}},
    {"qwen2 qwen2.5 stablelm2 deepseek-r1-qwen megrez hunyuan", false, false, {RE_QWEN2}},
    {"poro-chat bloom gpt3-finnish", false, false, {RE_BLOOM}},
    {"viking", false, false, {RE_BLOOM, "\\p{N}"}},
    {"tekken", true, true, {RE_TEKKEN}},
    {"gpt-4o llama4", false, false, {RE_GPT4O}},
};

struct tl__tok_pre {
  pcre2_general_context *gctx;
  pcre2_code *re[MAX_RE];
  int n;
};

static void *pc_malloc(size_t n, void *ud)
{
  (void)ud;
  return tl__malloc(n);
}
static void pc_free(void *p, void *ud)
{
  (void)ud;
  tl__free(p);
}

static bool name_in(const char *names, const char *name)
{
  size_t n = strlen(name);
  for (const char *p = names; *p;) {
    const char *e = strchr(p, ' ');
    size_t l = e ? (size_t)(e - p) : strlen(p);
    if (l == n && memcmp(p, name, n) == 0)
      return true;
    p += l;
    while (*p == ' ')
      p++;
  }
  return false;
}

void tl__tok_pre_free(struct tl__tok_pre *p)
{
  if (!p)
    return;
  for (int i = 0; i < p->n; i++)
    pcre2_code_free(p->re[i]);
  pcre2_general_context_free(p->gctx);
  tl__free(p);
}

tl_status tl__tok_pre_create(const char *name, struct tl__tok_pre **out, bool *ignore_merges,
                             bool *add_bos, tl_error *err)
{
  const family *f = NULL;
  for (size_t i = 0; i < sizeof families / sizeof families[0] && !f; i++)
    if (name_in(families[i].names, name))
      f = &families[i];
  if (!f)
    return tl__error_set(err, TL_EUNSUPPORTED, "tokenizer: pre-tokenizer '%s' "
                         "(tokenizer.ggml.pre) is not supported", name);
  struct tl__tok_pre *p = tl__calloc(1, sizeof *p);
  if (!p)
    return tl__error_set(err, TL_ENOMEM, "tokenizer: out of memory");
  p->gctx = pcre2_general_context_create(pc_malloc, pc_free, NULL);
  pcre2_compile_context *cctx = p->gctx ? pcre2_compile_context_create(p->gctx) : NULL;
  if (!cctx) {
    tl__tok_pre_free(p);
    return tl__error_set(err, TL_ENOMEM, "tokenizer: out of memory");
  }
  for (int i = 0; i < MAX_RE && f->re[i]; i++) {
    int ec;
    PCRE2_SIZE eo;
    p->re[i] = pcre2_compile((PCRE2_SPTR)f->re[i], PCRE2_ZERO_TERMINATED,
                             PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &ec, &eo, cctx);
    if (!p->re[i]) {
      PCRE2_UCHAR msg[128];
      pcre2_get_error_message(ec, msg, sizeof msg);
      pcre2_compile_context_free(cctx);
      tl__tok_pre_free(p);
      return tl__error_set(err, ec == PCRE2_ERROR_HEAP_FAILED ? TL_ENOMEM : TL_EINTERNAL,
                           "tokenizer: regex %d of pre-tokenizer '%s' does not compile at %zu: %s",
                           i, name, (size_t)eo, (const char *)msg);
    }
    p->n = i + 1;
    pcre2_jit_compile(p->re[i], PCRE2_JIT_COMPLETE); /* optional: falls back to the interpreter */
  }
  pcre2_compile_context_free(cctx);
  *ignore_merges = f->ignore_merges;
  *add_bos = f->add_bos;
  *out = p;
  return TL_OK;
}

static bool spans_push(tl__spans *s, size_t off, size_t len)
{
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 32;
    tl__span *v = tl__realloc(s->v, cap * sizeof *v);
    if (!v)
      return false;
    s->v = v, s->cap = cap;
  }
  s->v[s->n].off = off;
  s->v[s->n].len = len;
  s->n++;
  return true;
}

tl_status tl__tok_pre_split(const struct tl__tok_pre *p, const char *text, size_t len,
                            tl__spans *out, tl_error *err)
{
  tl__spans cur = {0}, next = {0};
  tl_status st = TL_OK;
  pcre2_match_data *md = pcre2_match_data_create(1, p->gctx);
  if (!md || !spans_push(&cur, 0, len))
    goto oom;
  for (int r = 0; r < p->n; r++) {
    next.n = 0;
    for (size_t k = 0; k < cur.n; k++) {
      const char *s = text + cur.v[k].off;
      size_t n = cur.v[k].len, pos = 0, last = 0; /* last: end of the last match */
      while (pos < n) {
        int rc = pcre2_match(p->re[r], (PCRE2_SPTR)s, n, pos, PCRE2_NO_UTF_CHECK, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH)
          break;
        if (rc < 0) {
          if (rc == PCRE2_ERROR_NOMEMORY)
            goto oom;
          PCRE2_UCHAR msg[128];
          pcre2_get_error_message(rc, msg, sizeof msg);
          st = tl__error_set(err, TL_EINTERNAL, "tokenizer: pre-tokenizer regex %d failed: %s", r,
                             (const char *)msg);
          goto done;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t ms = ov[0], me = ov[1];
        if (me <= ms) { /* an empty match splits nothing: step over one character */
          pos = ms + tl__utf8_len((unsigned char)s[ms < n ? ms : n - 1]);
          continue;
        }
        if (ms > last && !spans_push(&next, cur.v[k].off + last, ms - last))
          goto oom;
        if (!spans_push(&next, cur.v[k].off + ms, me - ms))
          goto oom;
        pos = last = me;
      }
      /* The gap after the last match (or the whole piece) stays a piece. */
      if (last < n && !spans_push(&next, cur.v[k].off + last, n - last))
        goto oom;
    }
    tl__spans t = cur;
    cur = next;
    next = t;
  }
  tl__free(next.v);
  pcre2_match_data_free(md);
  tl__free(out->v);
  *out = cur;
  return TL_OK;
oom:
  st = tl__error_set(err, TL_ENOMEM, "tokenizer: out of memory");
done:
  tl__free(cur.v);
  tl__free(next.v);
  pcre2_match_data_free(md);
  return st;
}
