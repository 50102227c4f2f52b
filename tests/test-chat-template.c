/* Tests of chat templates: recognising each family from template fragments
 * carrying its markers, and rendering one conversation per family against the
 * text its published template produces (written out by hand below). */
#include "harness.h"

#include <string.h>

#include "tailor/tailor.h"

typedef struct detect_case {
  const char *tmpl;
  tl_chat_format want;
} detect_case;

/* Fragments with each family's distinctive tags, as they appear in the
 * templates shipped in GGUF files. */
static const detect_case detect_cases[] = {
    {"{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}",
     TL_CHAT_CHATML},
    {"{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}",
     TL_CHAT_LLAMA3},
    {"{% if loop.index0 == 0 and system_message %}{{ bos_token + '[INST] <<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' }}{% endif %}",
     TL_CHAT_LLAMA2},
    {"{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% else %}{{ message['content'] + eos_token }}{% endif %}",
     TL_CHAT_MISTRAL},
    {"{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}", TL_CHAT_GEMMA},
    {"{{'<|' + message['role'] + '|>' + '\\n' + message['content'] + '<|end|>' + '\\n'}}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}",
     TL_CHAT_PHI3},
    {"{{'<\xef\xbd\x9cUser\xef\xbd\x9c>' + message['content']}}{{'<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>'}}",
     TL_CHAT_DEEPSEEK3},
    {"{{ 'User: ' + message['content'] + '\\n\\n' }}{{ 'Assistant: ' + message['content'] + eos_token }}{{ 'Assistant:' }}",
     TL_CHAT_DEEPSEEK2},
    {"{% for message in messages %}{{ message['role'] + ': ' + message['content'] }}{% endfor %}", TL_CHAT_UNKNOWN},
    {"", TL_CHAT_UNKNOWN},
};

static void test_detect(void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof detect_cases / sizeof detect_cases[0]; i++) {
    const detect_case *c = &detect_cases[i];
    tl_chat_format got = tl_chat_detect(c->tmpl, strlen(c->tmpl));
    if (got != c->want)
      fail_msg("case %zu: detected %s, want %s", i, tl_chat_format_name(got), tl_chat_format_name(c->want));
  }
}

/* The template stored in a real GGUF (llama.cpp's Phi-3 vocabulary file). */
static void test_detect_gguf(void **state)
{
  (void)state;
  tl_gguf *g = NULL;
  assert_int_equal(tl_gguf_open(th_data_path("vocab/ggml-vocab-phi-3.gguf"), &g, NULL), TL_OK);
  const char *t;
  size_t n;
  assert_true(tl_gguf_get_str(g, "tokenizer.chat_template", &t, &n));
  assert_int_equal(tl_chat_detect(t, n), TL_CHAT_PHI3);
  tl_gguf_close(g);
}

static const tl_chat_message conv[] = {
    {"system", "You are helpful."},
    {"user", "Hi"},
    {"assistant", "Hello!"},
    {"user", "How are you?"},
};

typedef struct render_case {
  const char *name;
  const char *want; /* conv rendered with the assistant turn opened */
} render_case;

static const render_case render_cases[] = {
    {"chatml",
     "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
     "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nHow are you?<|im_end|>\n"
     "<|im_start|>assistant\n"},
    {"llama3",
     "<|start_header_id|>system<|end_header_id|>\n\nYou are helpful.<|eot_id|>"
     "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
     "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
     "<|start_header_id|>user<|end_header_id|>\n\nHow are you?<|eot_id|>"
     "<|start_header_id|>assistant<|end_header_id|>\n\n"},
    {"llama2",
     "[INST] <<SYS>>\nYou are helpful.\n<</SYS>>\n\nHi [/INST] Hello! </s><s>[INST] How are you? [/INST]"},
    {"mistral", "[INST] You are helpful.\n\nHi [/INST]Hello!</s>[INST] How are you? [/INST]"},
    {"gemma",
     "<start_of_turn>user\nYou are helpful.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n"
     "<start_of_turn>user\nHow are you?<end_of_turn>\n<start_of_turn>model\n"},
    {"phi3",
     "<|system|>\nYou are helpful.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\nHello!<|end|>\n"
     "<|user|>\nHow are you?<|end|>\n<|assistant|>\n"},
    {"deepseek3",
     "You are helpful.<\xef\xbd\x9cUser\xef\xbd\x9c>Hi<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>Hello!"
     "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"
     "<\xef\xbd\x9cUser\xef\xbd\x9c>How are you?<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>"},
    {"deepseek2",
     "You are helpful.\n\nUser: Hi\n\nAssistant: Hello!"
     "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>User: How are you?\n\nAssistant:"},
};

static void test_render(void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof render_cases / sizeof render_cases[0]; i++) {
    const render_case *c = &render_cases[i];
    tl_chat_format f;
    assert_int_equal(tl_chat_format_from_name(c->name, &f, NULL), TL_OK);
    assert_string_equal(tl_chat_format_name(f), c->name);
    char buf[1024];
    size_t n = tl_chat_render(f, conv, 4, true, buf, sizeof buf);
    if (strcmp(buf, c->want) != 0)
      fail_msg("%s:\n got: [%s]\nwant: [%s]", c->name, buf, c->want);
    assert_int_equal(n, strlen(c->want));
  }
}

static void test_render_truncates_like_snprintf(void **state)
{
  (void)state;
  char small[10];
  size_t n = tl_chat_render(TL_CHAT_CHATML, conv + 1, 1, false, small, sizeof small);
  assert_int_equal(n, strlen("<|im_start|>user\nHi<|im_end|>\n"));
  assert_string_equal(small, "<|im_star"); /* 9 bytes and the NUL */
  assert_int_equal(tl_chat_render(TL_CHAT_CHATML, conv + 1, 1, false, NULL, 0), n);
}

static void test_errors(void **state)
{
  (void)state;
  tl_chat_format f = TL_CHAT_CHATML;
  tl_error err;
  assert_int_equal(tl_chat_format_from_name("vicuna", &f, &err), TL_ENOTFOUND);
  assert_non_null(strstr(err.message, "vicuna"));
  assert_int_equal(f, TL_CHAT_CHATML);
  char buf[64];
  const tl_chat_message bad[] = {{"tool", "x"}};
  assert_int_equal(tl_chat_render(TL_CHAT_CHATML, bad, 1, true, buf, sizeof buf), 0);
  assert_int_equal(tl_chat_render(TL_CHAT_UNKNOWN, conv, 1, true, buf, sizeof buf), 0);
  assert_string_equal(tl_chat_end_marker(TL_CHAT_CHATML), "<|im_end|>");
  assert_null(tl_chat_end_marker(TL_CHAT_LLAMA2));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_detect),
      cmocka_unit_test(test_detect_gguf),
      cmocka_unit_test(test_render),
      cmocka_unit_test(test_render_truncates_like_snprintf),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
