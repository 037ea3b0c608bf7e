/* eval_sha256 — SHA-256 of a file (FIPS 180-4), for the model hash in eval results. */
#ifndef JOULE_EVAL_SHA256_H
#define JOULE_EVAL_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
    uint32_t h[8];
    uint64_t len;
    uint8_t buf[64];
    size_t nbuf;
};
void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t n);
void sha256_hex(struct sha256 *s, char out[65]); /* finishes */
/* Hex digest of a whole file; non-zero with a message when it cannot be read. */
int sha256_file(const char *path, char out[65], char *err, size_t errlen);

#endif
