/* tokenizer — text <-> token ids from the vocabulary stored in a GGUF file.
 *
 * Two kinds of vocabulary (tokenizer.ggml.model): "llama" (SentencePiece, below) and "gpt2"
 * (byte-level BPE, further below).
 *
 * SentencePiece-style BPE (tokenizer.ggml.model = "llama"): a space prefix,
 * spaces as U+2581, merges chosen by piece score, byte fallback <0xNN> for what
 * the vocabulary lacks. Special/control tokens are matched in text only when the
 * caller asks (parse_special); USER_DEFINED tokens are always matched, except those that are
 * control tokens in all but name (see "Plain text never becomes a control token" below).
 * Decoding streams: bytes are released only as complete UTF-8 sequences.
 *
 * Encoding follows llama.cpp's SPM tokenizer (it reproduces llama.cpp's published test
 * vectors exactly):
 * - The text is first split around special tokens, leftmost-longest in one scan as Hugging
 *   Face does (tokenizer_special.c; llama.cpp's token-by-token passes, longest first, give the
 *   same but for overlapping special tokens): USER_DEFINED ones always,
 *   CONTROL and UNKNOWN ones (<s>, </s>, <unk>, <|end|> ...) only with parse_special;
 *   otherwise "<s>" in the text is ordinary text. (Phi-3 vocabularies, recognised by
 *   general.name as llama.cpp does, drop whitespace after most special tokens.)
 * - With tokenizer.ggml.add_space_prefix (default true) one space is put before the raw
 *   text at the start of the input and before raw text that follows a special token:
 *   "Hello" -> "▁Hello", "<s>Hi" (parse_special) -> <s> "▁Hi". Empty text gives no
 *   tokens (just BOS when asked).
 * - Invalid UTF-8 never fails: every byte that does not begin a valid character (stray
 *   continuation bytes, overlong forms, surrogates, truncated sequences, 0xF5..0xFF) is a
 *   symbol of its own, which merges with nothing and comes out as its <0xNN> byte token,
 *   so the bytes survive a round trip through tokenizer_token_bytes. (llama.cpp instead
 *   groups a bad lead byte with the next bytes by its length; both agree on valid text.)
 *   tokenizer_decode and detok_* turn such bytes into U+FFFD.
 * - A piece that is not in the vocabulary falls back to byte tokens; a byte without one
 *   becomes the unknown token, or is dropped when there is none or it is a control token.
 *
 * Byte-level BPE (GPT-2, Llama 3, Qwen, DeepSeek, Falcon, StarCoder, MPT ...), as llama.cpp
 * and the Hugging Face tokenizers do it (every published llama.cpp vector matches):
 * - Special tokens are split out first exactly as above; there is no space prefix.
 * - Raw text is cut into words by the pre-tokenizer that tokenizer.ggml.pre names (gpt-2,
 *   llama-bpe, qwen2, deepseek-llm, deepseek-coder, falcon, starcoder, refact, smollm, mpt,
 *   default ...; an unknown name is a load error that lists the supported ones). The rules
 *   are Unicode-aware (letters, numbers, punctuation, white space from the UCD tables in
 *   unicode_tables.c).
 * - Each byte of a word is its GPT-2 byte character's token; adjacent pairs merge by rank
 *   (tokenizer.ggml.merges, lowest first, ties to the left). Llama 3 vocabularies take a
 *   word that is itself a token whole (ignore_merges). Merges never produce CONTROL tokens.
 * - Invalid UTF-8 never fails: each byte that does not start a valid character (a cut
 *   sequence at the end too) becomes U+FFFD before pre-tokenizing, as llama.cpp and Hugging
 *   Face (errors="replace") do. A byte with no token of its own (Falcon has none for 0x0B,
 *   mpt none for 0xF5..0xFF) becomes the unknown token when that is no control token, else it
 *   is dropped, as llama.cpp does.
 * - Defaults when the metadata is silent: no BOS/EOS/UNK, add_bos only for llama-bpe.
 *
 * Plain text never becomes a control token (for every vocabulary):
 * - A USER_DEFINED token whose text looks like a control token ("<...>" without white space:
 *   Phi-3's </s>, deepseek-coder's <｜fim▁hole｜> and <|EOT|>) or that ends generation is
 *   made CONTROL, and so is a BOS / EOS / EOT / EOM / padding token of any type but BYTE and
 *   plain words; tokenizer_token_type reports TOK_CONTROL for them. (llama.cpp does this for
 *   the end-of-generation and fill-in-the-middle texts it knows.) The published vectors
 *   still match: the USER_DEFINED tokens they rely on (mpt's runs of spaces,
 *   deepseek's added letters) stay.
 * - Merges never produce a CONTROL (or UNKNOWN) token, and a byte never falls back to one.
 * - tokenizer_encode_spans parses control tokens only in spans the caller names (a chat
 *   template's scaffolding), never in the text between them (the messages).
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

/* Reads and validates the tokenizer.ggml.* metadata (array types and lengths, token types,
 * special ids in range, byte tokens well formed); errors name the file and the problem,
 * and an unsupported tokenizer.ggml.model (e.g. "bert") or pre-tokenizer is refused by name. The
 * tokenizer copies what it needs: f may be closed afterwards. */
int tokenizer_load(const struct gguf_file *f, struct tokenizer **out, char *err, size_t errlen);
void tokenizer_free(struct tokenizer *t);

int32_t tokenizer_n_vocab(const struct tokenizer *t);
int32_t tokenizer_bos(const struct tokenizer *t);             /* -1 when none */
int32_t tokenizer_eos(const struct tokenizer *t);             /* -1 when none */
bool tokenizer_add_bos(const struct tokenizer *t);            /* default from metadata */
bool tokenizer_is_eog(const struct tokenizer *t, int32_t id); /* EOS / EOT */
const char *tokenizer_model_name(const struct tokenizer *t);  /* "llama", "gpt2" */
/* tokenizer.ggml.pre of a byte-level BPE vocabulary ("default" when absent); "" for llama. */
const char *tokenizer_pre_name(const struct tokenizer *t);
/* tokenizer.chat_template (Jinja source), NULL when the file has none. */
const char *tokenizer_chat_template(const struct tokenizer *t);

/* End of turn (tokenizer.ggml.eot_token_id, else a known text such as <|end|>); -1 when none. */
int32_t tokenizer_eot(const struct tokenizer *t);
/* tokenizer.ggml.add_eos_token: tokenizer_encode never appends EOS; a caller that wants
 * the vocabulary's full convention appends tokenizer_eos() itself when this is true. */
bool tokenizer_add_eos(const struct tokenizer *t);
/* The id of a piece given exactly as stored (spaces as U+2581, e.g. "<|user|>"); -1 if none. */
int32_t tokenizer_find(const struct tokenizer *t, const char *piece, size_t len);
/* TOK_UNDEFINED for ids out of range. */
enum tok_type tokenizer_token_type(const struct tokenizer *t, int32_t id);

/* Encode len bytes of text (any bytes; invalid UTF-8 never crashes). Returns 0 and
 * a malloc'd array in *ids (caller frees), or non-zero with a message. add_bos puts the
 * BOS token first (an error when the vocabulary has none). Texts over 512 MiB are refused.
 * The tokenizer is read-only after loading: threads may encode with it at once. */
int tokenizer_encode(const struct tokenizer *t, const char *text, size_t len, bool add_bos,
                     bool parse_special, int32_t **ids, size_t *n_ids, char *err, size_t errlen);

/* A byte range [off, off + len) of a text. */
struct tok_span {
    size_t off, len;
};

/* tokenizer_encode where control tokens are matched only inside the given spans (sorted,
 * not overlapping, within the text; n_special 0: nowhere), e.g. a chat template's own
 * scaffolding, while the messages between them stay plain text. USER_DEFINED tokens that do
 * not look like control tokens are matched anywhere, as in tokenizer_encode. A text that is
 * cut by spans is still one text: raw pieces on both sides of a span edge merge as usual. */
int tokenizer_encode_spans(const struct tokenizer *t, const char *text, size_t len,
                           const struct tok_span *special, size_t n_special, bool add_bos,
                           int32_t **ids, size_t *n_ids, char *err, size_t errlen);

/* The bytes a token stands for (U+2581 -> ' ', <0xNN> -> byte). Writes at most cap
 * bytes, returns the full length. Control tokens give "" unless show_special. */
size_t tokenizer_token_bytes(const struct tokenizer *t, int32_t id, bool show_special, char *buf,
                             size_t cap);

/* Streaming detokenizer: feed ids, get back only complete UTF-8. Invalid bytes come out as
 * U+FFFD (one per maximal invalid subsequence). show_special may be set after detok_init.
 * With strip_leading_space the first piece that prints anything loses one leading ' '
 * (the space prefix the encoder added); hidden pieces (BOS ...) do not count. */
struct detok {
    const struct tokenizer *t;
    bool show_special;
    bool at_start; /* drop the SentencePiece leading space of the first piece */
    char pend[8];
    size_t n_pend;
};
void detok_init(struct detok *d, const struct tokenizer *t, bool strip_leading_space);
/* Appends the printable bytes for id to out (cap bytes); returns bytes written. A cap of
 * detok_max_bytes() always suffices; with less, characters that do not fit are dropped
 * whole. Ids out of range print nothing. */
size_t detok_push(struct detok *d, int32_t id, char *out, size_t cap);
size_t detok_max_bytes(const struct tokenizer *t);
/* Flushes an incomplete trailing sequence as U+FFFD. */
size_t detok_flush(struct detok *d, char *out, size_t cap);

/* Whole-sequence decode into a malloc'd NUL-terminated string (no special tokens): the
 * detok stream, stripping the leading space when the vocabulary adds a space prefix, so
 * it inverts tokenizer_encode for valid UTF-8 text without special tokens. As in
 * llama.cpp, the space the encoder puts after a special token stays ("a<|u|>b" comes back
 * as "a<|u|> b"). NULL when out of memory. */
char *tokenizer_decode(const struct tokenizer *t, const int32_t *ids, size_t n);

#endif
