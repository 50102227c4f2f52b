/* An incremental validator for JSON mode (response_format json_object): it
 * reads bytes one at a time and rejects the first byte that cannot continue
 * a valid JSON object (RFC 8259 grammar; the top-level value must be an
 * object, nesting is bounded, runs of whitespace are kept short so a model
 * cannot pad forever). The sampler masks every token whose text it rejects. */
#include <string.h>

#include "server/internal.h"

enum {
  S_VALUE,      /* a value must start */
  S_OBJ_FIRST,  /* after '{': key or '}' */
  S_OBJ_KEY,    /* after ',' in an object: key */
  S_COLON,      /* after a key */
  S_OBJ_NEXT,   /* after a member: ',' or '}' */
  S_ARR_FIRST,  /* after '[': value or ']' */
  S_ARR_NEXT,   /* after an element: ',' or ']' */
  S_STR,        /* in a string */
  S_STR_ESC,    /* after '\' */
  S_STR_U,      /* in \uXXXX; lit counts the hex digits */
  S_LIT,        /* in true/false/null; lit indexes the word */
  S_N_MINUS, S_N_ZERO, S_N_INT, S_N_DOT, S_N_FRAC, S_N_E, S_N_ESIGN, S_N_EXP,
  S_DONE,
  S_TOP,        /* nothing yet: '{' must come */
};

static const char *const words[] = {"true", "false", "null"};
enum { MAX_WS = 2 };

void tl__jcheck_init(tl__jcheck *j)
{
  memset(j, 0, sizeof *j);
  j->state = S_TOP;
}

bool tl__jcheck_done(const tl__jcheck *j) { return j->state == S_DONE; }

static bool is_ws(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_hex(char c)
{
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A value ended: back to its container. */
static void value_done(tl__jcheck *j)
{
  if (j->depth == 0)
    j->state = S_DONE;
  else
    j->state = j->stack[j->depth - 1] == '{' ? S_OBJ_NEXT : S_ARR_NEXT;
}

static bool push(tl__jcheck *j, char c)
{
  if (j->depth >= TL__JC_DEPTH)
    return false;
  j->stack[j->depth++] = c;
  j->state = c == '{' ? S_OBJ_FIRST : S_ARR_FIRST;
  return true;
}

static bool end_container(tl__jcheck *j, char c)
{
  if (j->depth == 0 || j->stack[j->depth - 1] != (c == '}' ? '{' : '['))
    return false;
  j->depth--;
  value_done(j);
  return true;
}

static bool start_value(tl__jcheck *j, char c)
{
  switch (c) {
  case '{':
  case '[':
    return push(j, c);
  case '"':
    j->state = S_STR;
    j->in_key = 0;
    return true;
  case '-':
    j->state = S_N_MINUS;
    return true;
  case '0':
    j->state = S_N_ZERO;
    return true;
  case 't':
  case 'f':
  case 'n':
    j->state = S_LIT;
    j->lit = (uint8_t)((c == 't' ? 0 : c == 'f' ? 1 : 2) << 4 | 1);
    return true;
  default:
    if (c >= '1' && c <= '9') {
      j->state = S_N_INT;
      return true;
    }
    return false;
  }
}

static bool step(tl__jcheck *j, char c)
{
  switch (j->state) {
  case S_STR:
    if (c == '"') {
      if (j->in_key)
        j->state = S_COLON;
      else
        value_done(j);
    } else if (c == '\\') {
      j->state = S_STR_ESC;
    } else if ((unsigned char)c < 0x20) {
      return false;
    }
    return true;
  case S_STR_ESC:
    if (c == 'u') {
      j->state = S_STR_U;
      j->lit = 0;
      return true;
    }
    if (!strchr("\"\\/bfnrt", c) || !c)
      return false;
    j->state = S_STR;
    return true;
  case S_STR_U:
    if (!is_hex(c))
      return false;
    if (++j->lit == 4)
      j->state = S_STR;
    return true;
  case S_LIT: {
    const char *w = words[j->lit >> 4];
    uint8_t i = j->lit & 15;
    if (c != w[i])
      return false;
    if (!w[i + 1])
      value_done(j);
    else
      j->lit++;
    return true;
  }
  case S_N_MINUS:
    if (c == '0')
      j->state = S_N_ZERO;
    else if (is_digit(c))
      j->state = S_N_INT;
    else
      return false;
    return true;
  case S_N_INT:
    if (is_digit(c))
      return true;
    /* fall through */
  case S_N_ZERO:
    if (c == '.') {
      j->state = S_N_DOT;
      return true;
    }
    if (c == 'e' || c == 'E') {
      j->state = S_N_E;
      return true;
    }
    value_done(j);
    return step(j, c);
  case S_N_DOT:
    if (!is_digit(c))
      return false;
    j->state = S_N_FRAC;
    return true;
  case S_N_FRAC:
    if (is_digit(c))
      return true;
    if (c == 'e' || c == 'E') {
      j->state = S_N_E;
      return true;
    }
    value_done(j);
    return step(j, c);
  case S_N_E:
    if (c == '+' || c == '-') {
      j->state = S_N_ESIGN;
      return true;
    }
    /* fall through */
  case S_N_ESIGN:
    if (!is_digit(c))
      return false;
    j->state = S_N_EXP;
    return true;
  case S_N_EXP:
    if (is_digit(c))
      return true;
    value_done(j);
    return step(j, c);
  default:
    break;
  }
  /* between tokens */
  if (is_ws(c)) {
    if (j->state == S_DONE || ++j->ws > MAX_WS)
      return false;
    return true;
  }
  j->ws = 0;
  switch (j->state) {
  case S_TOP:
    return c == '{' && push(j, c);
  case S_VALUE:
    return start_value(j, c);
  case S_OBJ_FIRST:
    if (c == '}')
      return end_container(j, c);
    /* fall through */
  case S_OBJ_KEY:
    if (c != '"')
      return false;
    j->state = S_STR;
    j->in_key = 1;
    return true;
  case S_COLON:
    if (c != ':')
      return false;
    j->state = S_VALUE;
    return true;
  case S_OBJ_NEXT:
    if (c == ',') {
      j->state = S_OBJ_KEY;
      return true;
    }
    return c == '}' && end_container(j, c);
  case S_ARR_FIRST:
    if (c == ']')
      return end_container(j, c);
    return start_value(j, c);
  case S_ARR_NEXT:
    if (c == ',') {
      j->state = S_VALUE;
      return true;
    }
    return c == ']' && end_container(j, c);
  default:
    return false; /* S_DONE: nothing may follow */
  }
}

bool tl__jcheck_feed(tl__jcheck *j, const char *s, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (!step(j, s[i]))
      return false;
  return true;
}
