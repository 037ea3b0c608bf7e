/* fuzz_util — helpers shared by the libFuzzer harnesses in fuzz/ (see fuzz/README.md).
 *
 * Parsers that take a path get the input through a memfd (/proc/self/fd/N), so no harness
 * touches the disk. Vocabularies for the tokenizer and chat harnesses come from
 * $JOULE_SHARED/vocab (or ../shared/vocab) when present, plus two small built-in ones (a
 * SentencePiece and a byte-level BPE vocabulary with control, user-defined and byte tokens)
 * so the harnesses run on a fresh clone too. */
#ifndef JOULE_FUZZ_UTIL_H
#define JOULE_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

struct tokenizer;

/* A memfd holding data; writes its path (/proc/self/fd/N) into path. -1 on failure. */
int fuzz_memfd(const uint8_t *data, size_t size, char *path, size_t cap);
void fuzz_memfd_close(int fd);

/* The vocabularies (loaded once); n is their count, at least 2. */
struct tokenizer *const *fuzz_vocabs(size_t *n);

/* The LLVMFuzzerInitialize of the harnesses that use the vocabularies: they load before fuzzing
 * starts, so that the first input is not a slow unit. Returns 0. */
int fuzz_init_vocabs(int *argc, char ***argv);

/* Aborts with a message: an oracle failed (libFuzzer then saves the input). */
void fuzz_fail(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2), noreturn))
#endif
    ;

#endif
