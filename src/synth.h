/* synth — synthetic models: a struct model with random weights, made in memory, in
 * the exact shapes and tensor types of popular published models. Speed does not
 * depend on the weight values, so a synthetic model measures real throughput with
 * no download. It has no file and no tokenizer (m->gguf == NULL, m->tok == NULL):
 * free it with synth_free, never model_free.
 *
 * Names are SHAPE-FTYPE, e.g. "llama-3.2-1b-q4_k_m"; a SHAPE alone means q4_0.
 * Shapes are the published configs (Hugging Face config.json) of tinyllama-1.1b,
 * llama-3.2-1b, qwen2.5-0.5b, llama-2-7b and llama-3.1-8b, plus "test-tiny" for tests.
 *
 * Tensor types follow llama.cpp's quantizer (llama_tensor_get_type in
 * src/llama-quant.cpp) for each file type:
 *   q8_0    every matrix Q8_0, output and token_embd too.
 *   q4_0    every matrix Q4_0, except output.weight (token_embd.weight when the
 *           output is tied to it), which llama.cpp makes Q6_K.
 *   q4_k_m  Q4_K by default; output (or the tied token_embd) Q6_K; attn_v and
 *           ffn_down Q6_K in the layers use_more_bits() picks (the first and last
 *           eighth and every third between: about half), else Q4_K.
 *   Then, as llama.cpp does, a K type on a row length that is not a multiple of
 *   256 falls back: Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0 (qwen2.5-0.5b, n_embd 896).
 *   Norms and biases are F32.
 * Parameter counts match the published ones exactly (llama.cpp's extra 32-element
 * rope_freqs tensor of Llama 3 files is not a model parameter and is left out).
 */
#ifndef JOULE_SYNTH_H
#define JOULE_SYNTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "model.h"

/* The kind of vocabulary the published model has (what `joule synth` generates). */
enum synth_vocab {
    SYNTH_VOCAB_SPM,    /* SentencePiece, tokenizer.ggml.model "llama" (Llama 2, TinyLlama) */
    SYNTH_VOCAB_LLAMA3, /* byte-level BPE "gpt2", pre-tokenizer llama-bpe */
    SYNTH_VOCAB_QWEN2,  /* byte-level BPE "gpt2", pre-tokenizer qwen2 */
};

struct synth_shape {
    const char *name;   /* "llama-3.2-1b" */
    const char *source; /* where the config comes from */
    int32_t n_vocab, n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx_train;
    float rope_base, rms_eps;
    enum rope_type rope_type;
    bool tied;                 /* output shares token_embd */
    bool qkv_bias;             /* attn_q/k/v biases (qwen2) */
    uint64_t published_params; /* 0 for the test shape */
    enum synth_vocab vocab;
};

enum synth_ftype { SYNTH_Q4_0, SYNTH_Q4_K_M, SYNTH_Q8_0, SYNTH_FTYPE_COUNT };

const char *synth_ftype_name(enum synth_ftype f); /* "q4_0" */

/* The built-in shapes; *n receives the count. */
const struct synth_shape *synth_shapes(int *n);

/* Parses "SHAPE-FTYPE" (or "SHAPE"). Returns 0, or -1 with a message listing the names. */
int synth_parse(const char *name, const struct synth_shape **shape, enum synth_ftype *ftype,
                char *err, size_t errlen);

/* One tensor of a synthetic model, in GGUF order. ne1 == 1 for 1-D tensors. */
struct synth_tensor {
    char name[48];
    uint32_t type;
    int64_t ne0, ne1;
    int32_t layer; /* -1 outside the blocks */
};

/* Calls fn for every tensor; returns the number of tensors. */
int synth_foreach(const struct synth_shape *s, enum synth_ftype f,
                  void (*fn)(const struct synth_tensor *t, void *ctx), void *ctx);

/* Totals without making the model. */
struct synth_info {
    uint64_t n_params;
    uint64_t bytes; /* weight bytes, as in a GGUF file's data section */
    int n_tensors;
    bool supported;       /* every tensor type is computable on this build's CPU */
    char unsupported[64]; /* the first type that is not, when !supported */
};
void synth_info(const struct synth_shape *s, enum synth_ftype f, struct synth_info *out);

/* The seed used when 0 is given ("joule" in ASCII). */
#define SYNTH_DEFAULT_SEED 0x6a6f756c65ull

/* The weight bytes of one tensor, made in pieces: synth_fill_init for tensor number index
 * (0-based, synth_foreach order), then synth_fill_next over consecutive chunks. Every chunk
 * but the last must be a whole number of rows and of 8 bytes; the bytes are then the same as
 * synth_create's for the same seed (0: SYNTH_DEFAULT_SEED), whatever the chunking. */
struct synth_fill {
    uint32_t type;
    bool norm; /* a norm weight: all ones */
    uint64_t x, state;
};
void synth_fill_init(struct synth_fill *f, const struct synth_tensor *t, int index, uint64_t seed);
void synth_fill_next(struct synth_fill *f, uint8_t *p, uint64_t n);

/* Makes the model. max_bytes caps the weight memory (0: the MemAvailable of
 * /proc/meminfo, less a margin); a model that does not fit, an unsupported type or a
 * failed allocation gives -1 and a message, never a crash. */
int synth_create(const struct synth_shape *s, enum synth_ftype f, uint64_t seed, uint64_t max_bytes,
                 struct model **out, char *err, size_t errlen);
void synth_free(struct model *m);

/* `--synthetic list`: one line per model with parameters, size and types. */
void synth_print_list(FILE *out);

#endif
