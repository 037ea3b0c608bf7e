/* tokenizer_impl — private layout shared by the tokenizer_*.c files. Not for other modules:
 * they use tokenizer.h. */
#ifndef JOULE_TOKENIZER_IMPL_H
#define JOULE_TOKENIZER_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"

/* per-token flags */
#define TOKF_EOG 1u    /* end of generation (EOS, EOT, EOM and the known end-of-turn texts) */
#define TOKF_LSTRIP 2u /* when matched as a special token, eat whitespace on its left */
#define TOKF_RSTRIP 4u /* ... and on its right */

struct tok_entry {
    uint32_t text_off, text_len; /* the piece as stored (U+2581 for spaces), in t->text */
    uint32_t dec_off, dec_len;   /* the bytes it stands for when printed, in t->dec */
    float score;
    uint8_t type; /* enum tok_type */
    uint8_t flags;
};

struct tokenizer {
    char model[16]; /* tokenizer.ggml.model */
    int32_t n_vocab;
    struct tok_entry *tok;
    char *text; /* all pieces, back to back */
    char *dec;  /* all printable forms, back to back */
    size_t max_dec_len;

    int32_t *hash; /* open addressing piece -> id, -1 empty; size hash_mask + 1 */
    uint32_t hash_mask;

    /* every pair of adjacent characters inside any piece (keys from spm_pair_key, 0 empty):
     * where the text has a pair not in here, no merge can ever cross */
    uint64_t *pairs;
    uint32_t pairs_mask, n_pairs;

    int32_t *special; /* CONTROL, USER_DEFINED and UNKNOWN ids, longest text first */
    size_t n_special;

    int32_t byte_tok[256]; /* <0xNN> (or the raw byte as a piece); -1 when absent */
    int32_t bos, eos, eot, eom, unk, pad;
    bool add_bos, add_eos, add_space_prefix;
};

/* growable output of ids */
struct tok_ids {
    int32_t *v;
    size_t n, cap;
};
int tok_ids_push(struct tok_ids *o, int32_t id);

/* Reusable scratch for SPM fragment encoding (one per tokenizer_encode call). */
struct spm_scratch {
    char *buf; /* escaped fragment */
    size_t buf_cap;
    void *syms;
    size_t syms_cap;
    void *heap;
    size_t heap_cap;
};
void spm_scratch_free(struct spm_scratch *s);

/* Piece -> id, -1 when the vocabulary has no such piece. */
int32_t tok_lookup(const struct tokenizer *t, const char *s, size_t len);

/* Length of the UTF-8 character at s (n bytes available): 1..4 for a complete, valid
 * character; 0 when s[0..n) is a valid but incomplete prefix; -1 when s[0] does not
 * start a valid character (stray continuation byte, overlong form, surrogate, > U+10FFFF,
 * or a lead byte followed by a non-continuation byte). */
int tok_utf8_len(const unsigned char *s, size_t n);

/* Fills t->pairs from the pieces; non-zero when out of memory. */
int spm_build_pairs(struct tokenizer *t);

/* Encode one raw-text fragment the SentencePiece way and append the ids to out.
 * space_prefix adds the leading U+2581. */
int spm_encode_fragment(const struct tokenizer *t, struct spm_scratch *sc, const char *text,
                        size_t len, bool space_prefix, struct tok_ids *out, char *err,
                        size_t errlen);

int tok_fail(char *err, size_t errlen, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif
