/* Tokenizers: text to token ids and back, for the vocabularies stored in
 * GGUF files (tokenizer.ggml.*). Three models: "llama" (SentencePiece-style
 * BPE over scores, with byte fallback), "gpt2" (byte-level BPE over merges
 * with a pre-tokenizer regex chosen by tokenizer.ggml.pre) and "bert"
 * (WordPiece). Encoding follows llama.cpp's llama-vocab.cpp and agrees with
 * its tokenizer test vectors; see docs/tokenizer.md. */
#ifndef TAILOR_TOKENIZER_H
#define TAILOR_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tailor/error.h"
#include "tailor/gguf.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tl_tokenizer tl_tokenizer;

typedef enum tl_tok_model {
  TL_TOK_MODEL_SPM = 1, /* tokenizer.ggml.model = "llama" */
  TL_TOK_MODEL_BPE = 2, /* "gpt2" */
  TL_TOK_MODEL_WPM = 3, /* "bert" */
} tl_tok_model;

/* Token types, numbered as GGUF's tokenizer.ggml.token_type values. */
typedef enum tl_token_type {
  TL_TOKEN_UNDEFINED = 0,
  TL_TOKEN_NORMAL = 1,
  TL_TOKEN_UNKNOWN = 2,
  TL_TOKEN_CONTROL = 3,
  TL_TOKEN_USER_DEFINED = 4,
  TL_TOKEN_UNUSED = 5,
  TL_TOKEN_BYTE = 6,
} tl_token_type;

/* Special token roles. */
typedef enum tl_tok_special {
  TL_TOK_SPECIAL_BOS = 0,
  TL_TOK_SPECIAL_EOS = 1,
  TL_TOK_SPECIAL_EOT = 2,
  TL_TOK_SPECIAL_EOM = 3,
  TL_TOK_SPECIAL_UNK = 4,
  TL_TOK_SPECIAL_PAD = 5,
  TL_TOK_SPECIAL_SEP = 6,
  TL_TOK_SPECIAL_CLS = 7,
  TL_TOK_SPECIAL_MASK = 8,
  TL_TOK_SPECIAL_COUNT = 9,
} tl_tok_special;

/* Flags of tl_tokenizer_encode. */
enum {
  /* Add the vocabulary's BOS (CLS for WordPiece) and, where it says so, EOS
   * (SEP for WordPiece). */
  TL_TOK_ADD_SPECIAL = 1u << 0,
  /* Match the text of control tokens (for example "<|im_end|>") in the input
   * as single tokens. User-defined tokens are always matched. */
  TL_TOK_PARSE_SPECIAL = 1u << 1,
};

/* Flags of tl_tokenizer_piece, tl_tokenizer_decode and tl_detok_create. */
enum {
  /* Render control and unknown tokens as their text; without it they give
   * no text. */
  TL_TOK_RENDER_SPECIAL = 1u << 0,
  /* Drop the space that a SentencePiece vocabulary with add_space_prefix
   * put in front of the first word: the first non-empty piece loses one
   * leading space. No effect for other vocabularies. */
  TL_TOK_STRIP_LEADING_SPACE = 1u << 1,
};

/* Largest input tl_tokenizer_encode accepts, in bytes. */
#define TL_TOK_MAX_TEXT ((size_t)1 << 26)

/* Builds a tokenizer from the tokenizer.ggml.* metadata of an open GGUF file
 * (a vocab-only file is enough). Everything is copied: the tl_gguf may be
 * closed afterwards. A malformed vocabulary (arrays of different lengths,
 * special ids outside the vocabulary, a merge without its separator, an
 * unknown token type) gives TL_EFORMAT naming the key and the entry; an
 * unknown tokenizer model or pre-tokenizer gives TL_EUNSUPPORTED.
 * Free with tl_tokenizer_free. */
tl_status tl_tokenizer_from_gguf(const tl_gguf *g, tl_tokenizer **out, tl_error *err);
/* Accepts NULL. */
void tl_tokenizer_free(tl_tokenizer *tk);

tl_tok_model tl_tokenizer_model(const tl_tokenizer *tk);
/* The pre-tokenizer name as read ("default" when the file names none). */
const char *tl_tokenizer_pre(const tl_tokenizer *tk);
uint32_t tl_tokenizer_n_vocab(const tl_tokenizer *tk);
/* The id of a special role, or -1 when the vocabulary has none. */
int32_t tl_tokenizer_special(const tl_tokenizer *tk, tl_tok_special which);
/* Whether TL_TOK_ADD_SPECIAL adds a BOS (CLS) / an EOS (SEP) token. */
bool tl_tokenizer_add_bos(const tl_tokenizer *tk);
bool tl_tokenizer_add_eos(const tl_tokenizer *tk);
/* Whether generation stops at this token (EOS, EOT or EOM). */
bool tl_tokenizer_is_eog(const tl_tokenizer *tk, int32_t id);
/* The token's type; TL_TOKEN_UNDEFINED for an id outside the vocabulary. */
tl_token_type tl_tokenizer_token_type(const tl_tokenizer *tk, int32_t id);
/* The token's text as stored in the vocabulary (byte-level BPE tokens in
 * their mapped form, SentencePiece tokens with U+2581 for spaces); borrowed,
 * NUL-terminated, *len (optional) gets its length. NULL for a bad id. */
const char *tl_tokenizer_token_text(const tl_tokenizer *tk, int32_t id, size_t *len);
/* The token's score (0 when the vocabulary has none). */
float tl_tokenizer_token_score(const tl_tokenizer *tk, int32_t id);
/* The id of the token whose stored text is exactly text[0..len), or -1. */
int32_t tl_tokenizer_find(const tl_tokenizer *tk, const char *text, size_t len);

/* Tokenizes text[0..len) (UTF-8; invalid bytes are read as U+FFFD by the
 * BPE and WordPiece models) into ids[0..cap). On success *n is the number of
 * ids. When cap is too small, returns TL_ELIMIT with *n set to the number
 * needed (ids then holds the first cap ids); ids may be NULL with cap 0 to
 * ask for the count. Texts longer than TL_TOK_MAX_TEXT give TL_ELIMIT.
 * Thread-safe: any number of threads may encode with one tokenizer. */
tl_status tl_tokenizer_encode(const tl_tokenizer *tk, const char *text, size_t len, uint32_t flags,
                              int32_t *ids, size_t cap, size_t *n, tl_error *err);

/* The bytes one token stands for, into buf[0..cap): the text of a normal
 * token (U+2581 as a space, byte-level BPE mapped back to bytes), the single
 * byte of a <0xXX> token, the text of a user-defined token, and the text of a
 * control or unknown token only with TL_TOK_RENDER_SPECIAL. A piece may be a
 * part of a UTF-8 character. *n gets the length; TL_ELIMIT with *n the length
 * needed when cap is too small; TL_ERANGE for an id outside the vocabulary. */
tl_status tl_tokenizer_piece(const tl_tokenizer *tk, int32_t id, uint32_t flags, char *buf,
                             size_t cap, size_t *n, tl_error *err);

/* The text of a sequence of ids, as the streaming detokenizer would give it
 * (valid UTF-8: incomplete or invalid sequences become U+FFFD), NUL-terminated.
 * On success *len (optional) gets the length without the NUL. Free the
 * result with tl_free. */
tl_status tl_tokenizer_decode(const tl_tokenizer *tk, const int32_t *ids, size_t n, uint32_t flags,
                              char **text, size_t *len, tl_error *err);

/* ---- streaming detokenizer ----
 * Turns a stream of ids into text that is always whole, valid UTF-8: a
 * character split across tokens (byte-fallback tokens, byte-level BPE) is
 * held back until it is complete; bytes that cannot form a character become
 * U+FFFD. One per stream; it borrows the tokenizer, which must outlive it.
 * Pushing allocates nothing. */
typedef struct tl_detok tl_detok;

tl_status tl_detok_create(const tl_tokenizer *tk, uint32_t flags, tl_detok **out, tl_error *err);
/* Accepts NULL. */
void tl_detok_free(tl_detok *d);
/* Forgets held bytes and starts a new stream. */
void tl_detok_reset(tl_detok *d);
/* Feeds one id. *text / *len get the text that is complete now (possibly
 * empty); the pointer is valid until the next call on d. TL_ERANGE for an id
 * outside the vocabulary (d is unchanged then). */
tl_status tl_detok_push(tl_detok *d, int32_t id, const char **text, size_t *len, tl_error *err);
/* Ends the stream: held bytes of an unfinished character come out as U+FFFD. */
void tl_detok_flush(tl_detok *d, const char **text, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
