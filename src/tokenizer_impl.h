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

/* a ranked merge of byte-level BPE: the pair (left, right) of token ids becomes id */
struct bpe_merge {
    uint64_t key; /* (left + 1) << 32 | (right + 1); 0: an empty slot */
    int32_t rank, id;
};

struct tokenizer {
    char model[16]; /* tokenizer.ggml.model */
    bool bpe;       /* byte-level BPE (gpt2) rather than SentencePiece (llama) */
    int pre;        /* enum bpe_pre */
    char pre_name[32];
    bool ignore_merges; /* a whole word that is a token is taken as it is (Llama 3) */
    struct bpe_merge *merges;
    uint32_t merges_mask, n_merges;
    char *chat_template; /* tokenizer.chat_template, NULL when absent */
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
    /* the one-scan matcher's index (tokenizer_special.c): special id by text (FNV-1a, -1
     * empty), and per first byte c the distinct lengths sp_lens[sp_off[c] .. sp_end[c]),
     * shortest first */
    int32_t *sp_hash;
    uint32_t sp_hash_mask;
    uint32_t *sp_lens;
    uint32_t sp_off[257], sp_end[256];

    /* a byte's token: <0xNN> (or the raw byte as a piece); byte-level BPE: the token of its
     * byte character; -1 when none */
    int32_t byte_tok[256];
    int32_t bos, eos, eot, eom, unk, pad;
    bool add_bos, add_eos, add_space_prefix;
};

/* growable output of ids */
struct tok_ids {
    int32_t *v;
    size_t n, cap;
};
int tok_ids_push(struct tok_ids *o, int32_t id);

/* Text cut into raw fragments and special tokens. */
struct frag {
    int32_t id; /* a special token, or -1 for raw text [off, off + len) */
    size_t off, len;
};
struct frags {
    struct frag *v;
    size_t n, cap;
};
int frags_push(struct frags *fr, struct frag x);

/* Builds the matcher's index from t->special; non-zero when out of memory. */
int special_index_build(struct tokenizer *t);
/* Cuts text into fragments around the special tokens found (leftmost-longest, one scan):
 * USER_DEFINED ones anywhere, the others only inside the sorted spans sp. */
int special_split(const struct tokenizer *t, const char *text, size_t len,
                  const struct tok_span *sp, size_t n_sp, struct frags *out);

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

/* The token for a byte that has none of its own: the unknown token, unless that is a control
 * token (mpt, starcoder and refact name <|endoftext|>); -1: the byte is dropped. */
int32_t tok_unk_fallback(const struct tokenizer *t);

/* Fills t->pairs from the pieces; non-zero when out of memory. */
int spm_build_pairs(struct tokenizer *t);

/* Encode one raw-text fragment the SentencePiece way and append the ids to out.
 * space_prefix adds the leading U+2581. */
int spm_encode_fragment(const struct tokenizer *t, struct spm_scratch *sc, const char *text,
                        size_t len, bool space_prefix, struct tok_ids *out, char *err,
                        size_t errlen);

/* ---- byte-level BPE (tokenizer_bpe.c) ---- */

/* The GPT-2 byte <-> character mapping: printable bytes stand for themselves, the others
 * for U+0100.. in order. bpe_char_byte gives -1 for a character that stands for no byte. */
uint32_t bpe_byte_char(unsigned char b);
int bpe_char_byte(uint32_t cp);

/* Reads tokenizer.ggml.merges and tokenizer.ggml.pre; fills byte_tok with the byte
 * characters' tokens. */
struct gguf_file;
int bpe_load(struct tokenizer *t, const struct gguf_file *f, char *err, size_t errlen);
/* The printable bytes of a NORMAL byte-level token: its characters mapped back to bytes. */
uint32_t bpe_printable(const char *s, uint32_t len, char *out);

struct pre_scratch {
    uint32_t *cp, *off, *a, *b;
    uint8_t *fl;
    size_t cap_cp, cap_off, cap_a, cap_b, cap_fl;
};
void pre_scratch_free(struct pre_scratch *s);

struct bpe_scratch {
    struct pre_scratch pre;
    char *clean; /* the fragment with invalid UTF-8 replaced by U+FFFD */
    size_t clean_cap;
    char *word; /* a word in byte characters (ignore_merges lookup) */
    size_t word_cap;
    void *syms, *heap;
    size_t syms_cap, heap_cap;
};
void bpe_scratch_free(struct bpe_scratch *s);

/* Encodes one raw-text fragment: pre-tokenizer words, then the merges within each word. */
int bpe_encode_fragment(const struct tokenizer *t, struct bpe_scratch *sc, const char *text,
                        size_t len, struct tok_ids *out, char *err, size_t errlen);

/* ---- pre-tokenizers (tokenizer_pre.c) ---- */

enum bpe_pre {
    PRE_DEFAULT,
    PRE_GPT2,
    PRE_LLAMA3,
    PRE_QWEN2,
    PRE_DEEPSEEK_LLM,
    PRE_DEEPSEEK_CODER,
    PRE_FALCON,
    PRE_STARCODER,
};
/* enum bpe_pre for a tokenizer.ggml.pre value, -1 when unknown */
int bpe_pre_from_name(const char *name);
const char *bpe_pre_supported(void);
/* Cuts text into words: *ends (in sc) gets each word's end byte offset, ascending, the last
 * being len. Non-zero when out of memory. */
int pre_split(int pre, struct pre_scratch *sc, const char *text, size_t len, const uint32_t **ends,
              size_t *n_ends);

/* Unicode classes (unicode_tables.c, generated by tools/gen-unicode-tables) */
#define UNI_L 0x01u  /* letter */
#define UNI_N 0x02u  /* number */
#define UNI_P 0x04u  /* punctuation */
#define UNI_S 0x08u  /* symbol */
#define UNI_M 0x10u  /* mark */
#define UNI_Z 0x20u  /* separator */
#define UNI_C 0x40u  /* other (control, format, private use, surrogate) */
#define UNI_WS 0x80u /* White_Space */
struct uni_range {
    uint32_t lo, hi;
    uint8_t flags;
};
extern const struct uni_range uni_ranges[];
extern const size_t uni_n_ranges;
uint8_t uni_flags(uint32_t cp);

int tok_fail(char *err, size_t errlen, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif
