/* What the tokenizer files share: the vocabulary description a loader fills
 * (GGUF today), the built tokenizer, the per-model encoders, the
 * pre-tokenizer regexes and the Unicode helpers. Not used outside
 * src/engine/tok-*.c and src/engine/tokenizer*.c. */
#ifndef TL_ENGINE_TOKENIZER_INT_H
#define TL_ENGINE_TOKENIZER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tailor/tokenizer.h"

/* Hard limits on what a vocabulary may hold (bytes / counts). */
#define TL__TOK_MAX_VOCAB ((uint32_t)1 << 24)
#define TL__TOK_MAX_TOKEN_BYTES 16384u
#define TL__TOK_MAX_MERGES ((uint32_t)1 << 24)
/* Scratch bytes tl__tok_merge_rank needs: the longest merge string + 1. */
#define TL__TOK_MERGE_SCRATCH (2u * TL__TOK_MAX_TOKEN_BYTES + 2u)

/* ---- the vocabulary a loader describes (borrowed pointers) ---- */
typedef struct tl__tok_str {
  const char *s;
  size_t len;
} tl__tok_str;

typedef struct tl__tok_vocab_desc {
  tl_tok_model model;
  const char *pre;            /* NUL-terminated; NULL = "default" */
  const char *name;           /* general.name (NUL-terminated) or NULL: picks strip rules */
  uint32_t n_tokens;
  const tl__tok_str *tokens;  /* n_tokens */
  const float *scores;        /* n_tokens, or NULL */
  const int32_t *types;       /* n_tokens GGUF token types, or NULL (all normal) */
  uint32_t n_merges;
  const tl__tok_str *merges;  /* "left right", BPE only */
  int64_t special[TL_TOK_SPECIAL_COUNT]; /* -1 = none, -2 = the model's default */
  int add_bos, add_eos, add_space_prefix, remove_extra_ws; /* -1 = default, 0, 1 */
} tl__tok_vocab_desc;

/* Validates and builds (copies everything). */
tl_status tl__tokenizer_build(const tl__tok_vocab_desc *d, tl_tokenizer **out, tl_error *err);

/* ---- string -> index hash table over an external blob ---- */
typedef struct tl__strtab {
  uint32_t *slots; /* index + 1; 0 = empty */
  uint32_t mask;
} tl__strtab;

enum { TL__TOK_LSTRIP = 1, TL__TOK_RSTRIP = 2 };

struct tl__tok_pre; /* compiled pre-tokenizer regexes (tok-pretokenize.c) */

struct tl_tokenizer {
  tl_tok_model model;
  char pre[64];
  uint32_t n_vocab;
  char *blob;       /* token texts, each NUL-terminated */
  uint32_t *off;    /* (n_vocab) offset of token i in blob */
  uint32_t *len;    /* (n_vocab) bytes */
  float *score;     /* (n_vocab) */
  uint8_t *type;    /* (n_vocab) tl_token_type */
  uint8_t *strip;   /* (n_vocab) TL__TOK_LSTRIP | TL__TOK_RSTRIP: whitespace a matched
                       special token eats on its left / right */
  tl__strtab tokens;
  uint32_t max_token_len; /* bytes */

  uint32_t n_merges;
  char *merge_blob;       /* merge strings "left right", NUL-terminated */
  uint32_t *merge_off;    /* (n_merges) */
  uint32_t *merge_len;    /* (n_merges) */
  tl__strtab merges;      /* first occurrence wins: its index is the rank */

  int32_t special[TL_TOK_SPECIAL_COUNT];
  bool add_bos, add_eos, add_space_prefix, remove_extra_ws;
  bool ignore_merges;     /* BPE: a word that is a token is not merged */
  bool wpm_hash_prefix;   /* WordPiece vocabulary in "##" form, not U+2581 form */

  int32_t byte_token[256]; /* SPM: id of <0xXX>, or -1 */

  int32_t *specials;      /* control / user-defined / unknown ids, longest text first */
  uint32_t n_specials;

  struct tl__tok_pre *pre_re; /* BPE only */
  uint16_t byte_cp[256];      /* byte-level BPE: byte -> code point */
  int16_t cp_byte[324];       /* and back (code points below 324), -1 if none */
};

int32_t tl__tok_lookup(const tl_tokenizer *tk, const char *s, size_t n);
int32_t tl__tok_merge_rank(const tl_tokenizer *tk, const char *l, size_t nl, const char *r,
                           size_t nr, char *scratch);

/* Writes the piece of a valid id into buf (at least max_token_len + 1 bytes);
 * returns its length. */
size_t tl__tok_piece(const tl_tokenizer *tk, int32_t id, uint32_t flags, char *buf);

/* ---- growable id list (sticky failure) ---- */
typedef struct tl__ids {
  int32_t *v;
  size_t n, cap;
  bool failed;
} tl__ids;
void tl__ids_push(tl__ids *ids, int32_t id);

/* ---- per-model encoders: append the ids of one raw-text fragment ---- */
tl_status tl__tok_spm_encode(const tl_tokenizer *tk, const char *text, size_t len, bool prefix_space,
                             tl__ids *out, tl_error *err);
tl_status tl__tok_bpe_encode(const tl_tokenizer *tk, const char *text, size_t len, tl__ids *out,
                             tl_error *err);
tl_status tl__tok_wpm_encode(const tl_tokenizer *tk, const char *text, size_t len, tl__ids *out,
                             tl_error *err);

/* ---- pre-tokenizer (PCRE2, UTF + UCP) ---- */
typedef struct tl__span {
  size_t off, len;
} tl__span;
typedef struct tl__spans {
  tl__span *v;
  size_t n, cap;
} tl__spans;
/* Compiles the regex list of a pre-tokenizer name; sets *ignore_merges and
 * *add_bos (the default for that family). TL_EUNSUPPORTED for unknown names. */
tl_status tl__tok_pre_create(const char *name, struct tl__tok_pre **out, bool *ignore_merges,
                             bool *add_bos, tl_error *err);
void tl__tok_pre_free(struct tl__tok_pre *p);
/* Splits valid UTF-8 text into words: each regex in turn splits every current
 * piece into its matches and the gaps between them. */
tl_status tl__tok_pre_split(const struct tl__tok_pre *p, const char *text, size_t len,
                            tl__spans *out, tl_error *err);

/* ---- Unicode ---- */
typedef enum tl__uni_cat {
  TL__UC_Cn, TL__UC_Lu, TL__UC_Ll, TL__UC_Lt, TL__UC_Lm, TL__UC_Lo, TL__UC_Mn, TL__UC_Mc,
  TL__UC_Me, TL__UC_Nd, TL__UC_Nl, TL__UC_No, TL__UC_Pc, TL__UC_Pd, TL__UC_Ps, TL__UC_Pe,
  TL__UC_Pi, TL__UC_Pf, TL__UC_Po, TL__UC_Sm, TL__UC_Sc, TL__UC_Sk, TL__UC_So, TL__UC_Zs,
  TL__UC_Zl, TL__UC_Zp, TL__UC_Cc, TL__UC_Cf, TL__UC_Cs, TL__UC_Co,
} tl__uni_cat;

typedef struct tl__uni_decomp {
  uint32_t cp;
  uint32_t d[4]; /* 0-terminated when shorter */
} tl__uni_decomp;

extern const char tl__uni_version[];
extern const uint32_t tl__uni_cat_runs[];
extern const size_t tl__uni_cat_runs_n;
extern const tl__uni_decomp tl__uni_nfd[];
extern const size_t tl__uni_nfd_n;
extern const uint32_t tl__uni_lower[][2];
extern const size_t tl__uni_lower_n;

/* Bytes of the UTF-8 sequence a lead byte starts, by its high nibble (1 for
 * continuation bytes), as llama.cpp splits SentencePiece input. */
size_t tl__utf8_len(unsigned char lead);
/* Decodes one code point from s[0..n) (n >= 1). Returns the bytes used; an
 * invalid or truncated sequence uses 1 byte and gives U+FFFD. */
size_t tl__utf8_decode(const char *s, size_t n, uint32_t *cp);
/* Encodes cp (<= 0x10FFFF) into buf[0..4); returns the length. */
size_t tl__utf8_encode(uint32_t cp, char *buf);
tl__uni_cat tl__uni_category(uint32_t cp);
/* Canonical decomposition of cp into out[0..4); returns the count (1 when cp
 * does not decompose). Hangul syllables decompose algorithmically. */
size_t tl__uni_nfd_cp(uint32_t cp, uint32_t out[4]);
uint32_t tl__uni_tolower(uint32_t cp);
/* White_Space property (as Rust's char::is_whitespace). */
bool tl__uni_is_whitespace(uint32_t cp);
/* CJK ideograph blocks BERT puts spaces around. */
bool tl__uni_is_cjk(uint32_t cp);

#endif
