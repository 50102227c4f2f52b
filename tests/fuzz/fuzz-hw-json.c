/* Fuzz target: hardware JSON files (--hardware) are user input. Parses with
 * tl_hw_from_json and, when that succeeds, writes the result back and
 * parses it again; the second parse must succeed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tailor/tailor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static tl_hw hw, back;
  if (tl_hw_from_json((const char *)data, size, &hw, NULL) != TL_OK)
    return 0;
  char *text = NULL;
  if (tl_hw_to_json(&hw, &text, NULL) != TL_OK)
    abort();
  if (tl_hw_from_json(text, strlen(text), &back, NULL) != TL_OK)
    abort();
  tl_free(text);
  return 0;
}
