/* synth_gguf — a synthetic model (synth.h) written as a GGUF file, so that another engine
 * can be benchmarked on the very same bytes (`joule synth NAME -o FILE.gguf`).
 *
 * The file is GGUF v3 with llama.cpp's metadata keys (architecture llama or qwen2 as the
 * shape says, general.file_type of the FTYPE), the tensors of synth_foreach in its order
 * and types, and a generated vocabulary of the shape's size in the shape's tokenizer kind:
 *   - SentencePiece ("llama": tinyllama, llama-2, test-tiny): <unk> <s> </s>, the 256 byte
 *     tokens <0x00>..<0xFF>, then digits, punctuation and letter strings with and without
 *     the leading '▁', scores falling with the rank;
 *   - byte-level BPE ("gpt2", pre-tokenizer llama-bpe for Llama 3, qwen2 for Qwen2.5): the
 *     256 byte characters, letter strings with and without 'Ġ' each made by one merge of
 *     two earlier tokens, then the published special tokens (<|begin_of_text|> ...,
 *     <|endoftext|> <|im_start|> ...) and [PADn] padding up to the embedding's rows.
 * The words are not English, but every text tokenizes, the ids fill the whole vocabulary,
 * and a tokenizer of the same kind loads it the way it loads a published one.
 *
 * Weights are the bytes synth_create makes for the same seed, generated and written one
 * chunk at a time: memory use stays a few MiB whatever the model's size.
 */
#ifndef JOULE_SYNTH_GGUF_H
#define JOULE_SYNTH_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "synth.h"

/* Writes the model to path (seed 0: SYNTH_DEFAULT_SEED). Returns 0, or -1 with a message
 * naming the file and the problem (a path that cannot be created, a full disk, ...); a
 * partly written regular file is removed. *bytes_out (may be NULL) receives the file size. */
int synth_gguf_write(const struct synth_shape *s, enum synth_ftype f, uint64_t seed,
                     const char *path, uint64_t *bytes_out, char *err, size_t errlen);

/* llama.cpp's general.file_type for an FTYPE (LLAMA_FTYPE_MOSTLY_Q4_0 = 2, ...). */
uint32_t synth_gguf_file_type(enum synth_ftype f);

/* `joule synth`: argv[0] is "synth". Returns the exit status. */
int cli_synth(int argc, char **argv);

#endif
