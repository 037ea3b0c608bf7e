/* tokenizer — text <-> token ids from the vocabulary stored in a GGUF file.
 *
 * SentencePiece-style BPE (tokenizer.ggml.model = "llama"): a space prefix,
 * spaces as U+2581, merges chosen by piece score, byte fallback <0xNN> for what
 * the vocabulary lacks. Special/control tokens are matched in text only when the
 * caller asks (parse_special); USER_DEFINED tokens are always matched.
 * Decoding streams: bytes are released only as complete UTF-8 sequences.
 */
#ifndef JOULE_TOKENIZER_H
#define JOULE_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gguf_file;
struct tokenizer;

/* token types, as stored in tokenizer.ggml.token_type */
enum tok_type {
    TOK_UNDEFINED = 0,
    TOK_NORMAL = 1,
    TOK_UNKNOWN = 2,
    TOK_CONTROL = 3,
    TOK_USER_DEFINED = 4,
    TOK_UNUSED = 5,
    TOK_BYTE = 6
};

int tokenizer_load(const struct gguf_file *f, struct tokenizer **out, char *err, size_t errlen);
void tokenizer_free(struct tokenizer *t);

int32_t tokenizer_n_vocab(const struct tokenizer *t);
int32_t tokenizer_bos(const struct tokenizer *t); /* -1 when none */
int32_t tokenizer_eos(const struct tokenizer *t); /* -1 when none */
bool tokenizer_add_bos(const struct tokenizer *t); /* default from metadata */
bool tokenizer_is_eog(const struct tokenizer *t, int32_t id); /* EOS / EOT */
const char *tokenizer_model_name(const struct tokenizer *t); /* "llama", ... */

/* Encode len bytes of text (any bytes; invalid UTF-8 never crashes). Returns 0 and
 * a malloc'd array in *ids (caller frees), or non-zero with a message. */
int tokenizer_encode(const struct tokenizer *t, const char *text, size_t len, bool add_bos,
                     bool parse_special, int32_t **ids, size_t *n_ids, char *err, size_t errlen);

/* The bytes a token stands for (U+2581 -> ' ', <0xNN> -> byte). Writes at most cap
 * bytes, returns the full length. Control tokens give "" unless show_special. */
size_t tokenizer_token_bytes(const struct tokenizer *t, int32_t id, bool show_special, char *buf,
                             size_t cap);

/* Streaming detokenizer: feed ids, get back only complete UTF-8. */
struct detok {
    const struct tokenizer *t;
    bool show_special;
    bool at_start; /* drop the SentencePiece leading space of the first piece */
    char pend[8];
    size_t n_pend;
};
void detok_init(struct detok *d, const struct tokenizer *t, bool strip_leading_space);
/* Appends the printable bytes for id to out (cap bytes); returns bytes written. */
size_t detok_push(struct detok *d, int32_t id, char *out, size_t cap);
/* Flushes an incomplete trailing sequence as U+FFFD. */
size_t detok_flush(struct detok *d, char *out, size_t cap);

/* Whole-sequence decode into a malloc'd NUL-terminated string (no special tokens). */
char *tokenizer_decode(const struct tokenizer *t, const int32_t *ids, size_t n);

#endif
