/* Unicode helpers for the tokenizers: UTF-8 decoding and encoding, general
 * categories, canonical decomposition (for BERT accent stripping) and
 * lowercase, over the tables in tok-unicode-data.c (Unicode Character
 * Database, version in tl__uni_version). */
#include "engine/tokenizer-int.h"

size_t tl__utf8_len(unsigned char lead)
{
  static const unsigned char by_nibble[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return by_nibble[lead >> 4];
}

size_t tl__utf8_decode(const char *s, size_t n, uint32_t *cp)
{
  const unsigned char *u = (const unsigned char *)s;
  unsigned char c = u[0];
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  size_t need;
  uint32_t v, min;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 2, v = c & 0x1Fu, min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 3, v = c & 0x0Fu, min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 4, v = c & 0x07u, min = 0x10000;
  } else {
    *cp = 0xFFFD;
    return 1;
  }
  if (n < need) {
    *cp = 0xFFFD;
    return 1;
  }
  for (size_t i = 1; i < need; i++) {
    if ((u[i] & 0xC0) != 0x80) {
      *cp = 0xFFFD;
      return 1;
    }
    v = (v << 6) | (u[i] & 0x3Fu);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
    *cp = 0xFFFD;
    return 1;
  }
  *cp = v;
  return need;
}

size_t tl__utf8_encode(uint32_t cp, char *buf)
{
  unsigned char *b = (unsigned char *)buf;
  if (cp < 0x80) {
    b[0] = (unsigned char)cp;
    return 1;
  }
  if (cp < 0x800) {
    b[0] = (unsigned char)(0xC0 | (cp >> 6));
    b[1] = (unsigned char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    b[0] = (unsigned char)(0xE0 | (cp >> 12));
    b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    b[2] = (unsigned char)(0x80 | (cp & 0x3F));
    return 3;
  }
  b[0] = (unsigned char)(0xF0 | (cp >> 18));
  b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
  b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
  b[3] = (unsigned char)(0x80 | (cp & 0x3F));
  return 4;
}

tl__uni_cat tl__uni_category(uint32_t cp)
{
  if (cp > 0x10FFFF)
    return TL__UC_Cn;
  /* Last run whose first code point is <= cp. */
  size_t lo = 0, hi = tl__uni_cat_runs_n;
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if ((tl__uni_cat_runs[mid] >> 5) <= cp)
      lo = mid;
    else
      hi = mid;
  }
  return (tl__uni_cat)(tl__uni_cat_runs[lo] & 31u);
}

/* Hangul syllable decomposition constants: The Unicode Standard, section 3.12. */
enum { HANGUL_S = 0xAC00, HANGUL_L = 0x1100, HANGUL_V = 0x1161, HANGUL_T = 0x11A7,
       HANGUL_VN = 21, HANGUL_TN = 28, HANGUL_N = HANGUL_VN * HANGUL_TN, HANGUL_SN = 11172 };

size_t tl__uni_nfd_cp(uint32_t cp, uint32_t out[4])
{
  if (cp >= HANGUL_S && cp < HANGUL_S + HANGUL_SN) {
    uint32_t s = cp - HANGUL_S;
    out[0] = HANGUL_L + s / HANGUL_N;
    out[1] = HANGUL_V + (s % HANGUL_N) / HANGUL_TN;
    if (s % HANGUL_TN == 0)
      return 2;
    out[2] = HANGUL_T + s % HANGUL_TN;
    return 3;
  }
  size_t lo = 0, hi = tl__uni_nfd_n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (tl__uni_nfd[mid].cp < cp)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < tl__uni_nfd_n && tl__uni_nfd[lo].cp == cp) {
    size_t n = 0;
    while (n < 4 && tl__uni_nfd[lo].d[n])
      out[n] = tl__uni_nfd[lo].d[n], n++;
    return n;
  }
  out[0] = cp;
  return 1;
}

uint32_t tl__uni_tolower(uint32_t cp)
{
  if (cp < 0x80)
    return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  size_t lo = 0, hi = tl__uni_lower_n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (tl__uni_lower[mid][0] < cp)
      lo = mid + 1;
    else
      hi = mid;
  }
  return (lo < tl__uni_lower_n && tl__uni_lower[lo][0] == cp) ? tl__uni_lower[lo][1] : cp;
}

bool tl__uni_is_whitespace(uint32_t cp)
{
  /* The White_Space property (Unicode PropList.txt). */
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

bool tl__uni_is_cjk(uint32_t cp)
{
  /* The ranges of BERT's _is_chinese_char (google-research/bert tokenization.py). */
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}
