/* Fuzz target for the server's JSON-mode validator (src/server/json-check.c):
 * feeds arbitrary bytes one at a time, and whenever it says a complete JSON
 * object was read, jansson must parse the same bytes as an object (the
 * validator may be stricter than JSON, never looser). Inputs with bytes
 * outside ASCII or with \u escapes of surrogates are only run, not compared
 * (jansson also checks UTF-8 and surrogate pairs, which the validator leaves
 * to the tokenizer), and numbers jansson cannot hold are not compared. Seeds: tests/fuzz/corpus-json-check/. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "server/internal.h"

static int comparable(const uint8_t *d, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    if (d[i] >= 0x80)
      return 0;
    if (d[i] == '\\' && i + 2 < n && d[i + 1] == 'u' && (d[i + 2] == 'd' || d[i + 2] == 'D'))
      return 0;
  }
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  tl__jcheck j;
  tl__jcheck_init(&j);
  size_t i = 0;
  while (i < size && tl__jcheck_feed(&j, (const char *)data + i, 1))
    i++;
  if (i == size && tl__jcheck_done(&j) && comparable(data, size)) {
    json_error_t e;
    json_t *v = json_loadb((const char *)data, size, JSON_ALLOW_NUL, &e);
    /* jansson refuses numbers beyond a double or an integer; JSON has no limit */
    if (!json_is_object(v) && !(!v && json_error_code(&e) == json_error_numeric_overflow))
      abort();
    json_decref(v);
  }
  return 0;
}
