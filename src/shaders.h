/* The SPIR-V shaders that build.sh compiled from the shaders folder, embedded in the binary. */
#ifndef JOULE_SHADERS_H
#define JOULE_SHADERS_H

#include <stddef.h>
#include <stdint.h>

struct shader_blob {
    const char *name; /* variant name, e.g. "matvec_q4_0" */
    const uint32_t *code;
    size_t size; /* bytes */
};

/* Terminated by an entry whose name is NULL. */
extern const struct shader_blob shader_blobs[];

#endif
