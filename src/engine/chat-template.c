/* Chat prompt formats: recognising a model's Jinja chat template
 * (tokenizer.chat_template) by its distinctive markers, and rendering a list
 * of messages in that format. This is not a Jinja interpreter: each family's
 * format is written out here from its published template (sources noted per
 * format below). The leading BOS is left to the tokenizer. */
#include <stdio.h>
#include <string.h>

#include "base/error-int.h"
#include "tailor/engine.h"

static const char *const format_names[TL_CHAT_FORMAT_COUNT] = {
    [TL_CHAT_UNKNOWN] = "unknown", [TL_CHAT_CHATML] = "chatml",       [TL_CHAT_LLAMA3] = "llama3",
    [TL_CHAT_LLAMA2] = "llama2",   [TL_CHAT_MISTRAL] = "mistral",     [TL_CHAT_GEMMA] = "gemma",
    [TL_CHAT_PHI3] = "phi3",       [TL_CHAT_DEEPSEEK3] = "deepseek3", [TL_CHAT_DEEPSEEK2] = "deepseek2",
};

const char *tl_chat_format_name(tl_chat_format f)
{
  if ((int)f < 0 || f >= TL_CHAT_FORMAT_COUNT)
    return "unknown";
  return format_names[f];
}

tl_status tl_chat_format_from_name(const char *name, tl_chat_format *out, tl_error *err)
{
  for (int f = 1; f < TL_CHAT_FORMAT_COUNT; f++) {
    if (strcmp(name, format_names[f]) == 0) {
      *out = (tl_chat_format)f;
      return TL_OK;
    }
  }
  return tl__error_set(err, TL_ENOTFOUND,
                       "chat template '%s' is not known; known: chatml, llama3, llama2, mistral, "
                       "gemma, phi3, deepseek3, deepseek2",
                       name);
}

static bool has(const char *t, size_t n, const char *needle)
{
  size_t m = strlen(needle);
  if (m > n)
    return false;
  for (size_t i = 0; i + m <= n; i++)
    if (t[i] == needle[0] && memcmp(t + i, needle, m) == 0)
      return true;
  return false;
}

/* Markers are checked most specific first: a Llama 3 or DeepSeek template
 * never uses ChatML's tags, while "[INST]" appears in both Llama 2 and
 * Mistral templates and only "<<SYS>>" tells them apart. */
tl_chat_format tl_chat_detect(const char *t, size_t n)
{
  if (!t || n == 0)
    return TL_CHAT_UNKNOWN;
  if (has(t, n, "<|start_header_id|>") && has(t, n, "<|end_header_id|>"))
    return TL_CHAT_LLAMA3;
  if (has(t, n, "<|im_start|>"))
    return TL_CHAT_CHATML;
  if (has(t, n, "<start_of_turn>"))
    return TL_CHAT_GEMMA;
  if (has(t, n, "<|assistant|>") && has(t, n, "<|end|>"))
    return TL_CHAT_PHI3;
  if (has(t, n, "<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>") && has(t, n, "<\xef\xbd\x9c" "User\xef\xbd\x9c>"))
    return TL_CHAT_DEEPSEEK3;
  if (has(t, n, "'Assistant:") && has(t, n, "'User: ") && has(t, n, "eos_token"))
    return TL_CHAT_DEEPSEEK2;
  if (has(t, n, "[INST]"))
    return has(t, n, "<<SYS>>") ? TL_CHAT_LLAMA2 : TL_CHAT_MISTRAL;
  return TL_CHAT_UNKNOWN;
}

const char *tl_chat_end_marker(tl_chat_format f)
{
  switch (f) {
  case TL_CHAT_CHATML: return "<|im_end|>";
  case TL_CHAT_LLAMA3: return "<|eot_id|>";
  case TL_CHAT_GEMMA: return "<end_of_turn>";
  case TL_CHAT_PHI3: return "<|end|>";
  default: return NULL;
  }
}

/* snprintf-style output: counts every byte, stores what fits. */
typedef struct out {
  char *buf;
  size_t cap, len;
} out;

static void put_n(out *o, const char *s, size_t n)
{
  if (o->len < o->cap) {
    size_t room = o->cap - o->len, k = n < room ? n : room;
    memcpy(o->buf + o->len, s, k);
  }
  o->len += n;
}

static void put(out *o, const char *s) { put_n(o, s, strlen(s)); }

static bool is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

/* Jinja's `| trim` / Python's str.strip() on ASCII whitespace. */
static void put_trim(out *o, const char *s)
{
  size_t n = strlen(s), a = 0;
  while (a < n && is_space(s[a]))
    a++;
  while (n > a && is_space(s[n - 1]))
    n--;
  put_n(o, s + a, n - a);
}

#define DS_USER "<\xef\xbd\x9cUser\xef\xbd\x9c>"                   /* <｜User｜> */
#define DS_ASSISTANT "<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>"      /* <｜Assistant｜> */
#define DS_EOS "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>" /* <｜end▁of▁sentence｜> */

static int role_of(const char *r)
{
  if (!strcmp(r, "system"))
    return 0;
  if (!strcmp(r, "user"))
    return 1;
  if (!strcmp(r, "assistant"))
    return 2;
  return -1;
}

/* ChatML (Qwen2/2.5/3, SmolLM2 templates): every turn is
 * <|im_start|>ROLE\nCONTENT<|im_end|>\n. */
static void render_chatml(out *o, const tl_chat_message *m, size_t n, bool gen)
{
  for (size_t i = 0; i < n; i++) {
    put(o, "<|im_start|>");
    put(o, m[i].role);
    put(o, "\n");
    put(o, m[i].content);
    put(o, "<|im_end|>\n");
  }
  if (gen)
    put(o, "<|im_start|>assistant\n");
}

/* Llama 3 / 3.1 / 3.2 Instruct: <|start_header_id|>ROLE<|end_header_id|>\n\n
 * CONTENT|trim<|eot_id|>, after <|begin_of_text|> (the BOS). */
static void render_llama3(out *o, const tl_chat_message *m, size_t n, bool gen)
{
  for (size_t i = 0; i < n; i++) {
    put(o, "<|start_header_id|>");
    put(o, m[i].role);
    put(o, "<|end_header_id|>\n\n");
    put_trim(o, m[i].content);
    put(o, "<|eot_id|>");
  }
  if (gen)
    put(o, "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

/* Llama 2 chat (meta-llama/Llama-2-7b-chat-hf template): a system message is
 * wrapped in <<SYS>> at the head of the first user turn; user turns are
 * [INST] CONTENT|trim [/INST], assistant turns " CONTENT|trim </s>", and
 * every user turn after the first starts with a new <s>. */
static void render_llama2(out *o, const tl_chat_message *m, size_t n, bool gen)
{
  (void)gen; /* the assistant turn opens right after [/INST] */
  const char *system = NULL;
  bool first_user = true;
  for (size_t i = 0; i < n; i++) {
    int r = role_of(m[i].role);
    if (r == 0) {
      system = m[i].content;
    } else if (r == 1) {
      put(o, first_user ? "[INST] " : "<s>[INST] ");
      if (system) {
        put(o, "<<SYS>>\n");
        put_trim(o, system);
        put(o, "\n<</SYS>>\n\n");
        system = NULL;
      }
      put_trim(o, m[i].content);
      put(o, " [/INST]");
      first_user = false;
    } else {
      put(o, " ");
      put_trim(o, m[i].content);
      put(o, " </s>");
    }
  }
}

/* Mistral 7B Instruct v0.1/v0.2 template: [INST] CONTENT [/INST] for user
 * turns and CONTENT</s> for assistant turns. It has no system role; like
 * llama.cpp, the system text is put before the first user message with a
 * blank line. */
static void render_mistral(out *o, const tl_chat_message *m, size_t n, bool gen)
{
  (void)gen;
  const char *system = NULL;
  for (size_t i = 0; i < n; i++) {
    int r = role_of(m[i].role);
    if (r == 0) {
      system = m[i].content;
    } else if (r == 1) {
      put(o, "[INST] ");
      if (system) {
        put(o, system);
        put(o, "\n\n");
        system = NULL;
      }
      put(o, m[i].content);
      put(o, " [/INST]");
    } else {
      put(o, m[i].content);
      put(o, "</s>");
    }
  }
}

/* Gemma / Gemma 2 / Gemma 3 instruct: <start_of_turn>ROLE\nCONTENT|trim
 * <end_of_turn>\n with "assistant" called "model"; the system text goes at the
 * head of the first user turn followed by a blank line. */
static void render_gemma(out *o, const tl_chat_message *m, size_t n, bool gen)
{
  const char *system = NULL;
  for (size_t i = 0; i < n; i++) {
    int r = role_of(m[i].role);
    if (r == 0) {
      system = m[i].content;
      continue;
    }
    put(o, r == 2 ? "<start_of_turn>model\n" : "<start_of_turn>user\n");
    if (system && r == 1) {
      put_trim(o, system);
      put(o, "\n\n");
      system = NULL;
    }
    put_trim(o, m[i].content);
    put(o, "<end_of_turn>\n");
  }
  if (gen)
    put(o, "<start_of_turn>model\n");
}

/* Phi-3 / Phi-3.5 mini instruct: <|ROLE|>\nCONTENT<|end|>\n. */
static void render_phi3(out *o, const tl_chat_message *m, size_t n, bool gen)
{
  for (size_t i = 0; i < n; i++) {
    put(o, "<|");
    put(o, m[i].role);
    put(o, "|>\n");
    put(o, m[i].content);
    put(o, "<|end|>\n");
  }
  if (gen)
    put(o, "<|assistant|>\n");
}

/* DeepSeek V3 / R1: the system text first, then <｜User｜>CONTENT and
 * <｜Assistant｜>CONTENT<｜end▁of▁sentence｜>. */
static void render_deepseek3(out *o, const tl_chat_message *m, size_t n, bool gen)
{
  for (size_t i = 0; i < n; i++) {
    int r = role_of(m[i].role);
    if (r == 0) {
      put(o, m[i].content);
    } else if (r == 1) {
      put(o, DS_USER);
      put(o, m[i].content);
    } else {
      put(o, DS_ASSISTANT);
      put(o, m[i].content);
      put(o, DS_EOS);
    }
  }
  if (gen)
    put(o, DS_ASSISTANT);
}

/* DeepSeek V2 chat and DeepSeek LLM chat: SYSTEM\n\n, "User: CONTENT\n\n",
 * "Assistant: CONTENT<｜end▁of▁sentence｜>", and "Assistant:" to answer. */
static void render_deepseek2(out *o, const tl_chat_message *m, size_t n, bool gen)
{
  for (size_t i = 0; i < n; i++) {
    int r = role_of(m[i].role);
    if (r == 0) {
      put(o, m[i].content);
      put(o, "\n\n");
    } else if (r == 1) {
      put(o, "User: ");
      put(o, m[i].content);
      put(o, "\n\n");
    } else {
      put(o, "Assistant: ");
      put(o, m[i].content);
      put(o, DS_EOS);
    }
  }
  if (gen)
    put(o, "Assistant:");
}

size_t tl_chat_render(tl_chat_format f, const tl_chat_message *msgs, size_t n, bool add_assistant,
                      char *buf, size_t cap)
{
  for (size_t i = 0; i < n; i++)
    if (!msgs[i].role || !msgs[i].content || role_of(msgs[i].role) < 0)
      return 0;
  out o = {buf, cap ? cap - 1 : 0, 0};
  switch (f) {
  case TL_CHAT_CHATML: render_chatml(&o, msgs, n, add_assistant); break;
  case TL_CHAT_LLAMA3: render_llama3(&o, msgs, n, add_assistant); break;
  case TL_CHAT_LLAMA2: render_llama2(&o, msgs, n, add_assistant); break;
  case TL_CHAT_MISTRAL: render_mistral(&o, msgs, n, add_assistant); break;
  case TL_CHAT_GEMMA: render_gemma(&o, msgs, n, add_assistant); break;
  case TL_CHAT_PHI3: render_phi3(&o, msgs, n, add_assistant); break;
  case TL_CHAT_DEEPSEEK3: render_deepseek3(&o, msgs, n, add_assistant); break;
  case TL_CHAT_DEEPSEEK2: render_deepseek2(&o, msgs, n, add_assistant); break;
  default: return 0;
  }
  if (cap)
    buf[o.len < cap - 1 ? o.len : cap - 1] = '\0';
  return o.len;
}
