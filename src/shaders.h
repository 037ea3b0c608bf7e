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

/* Variants left out of this build: their shader needs GLSL extensions the glslc used did not
 * know (build.sh's `// needs:` line; ./build.sh deps fetches a newer one). */
struct shader_missing {
    const char *name;  /* variant name */
    const char *needs; /* the features, e.g. "coopmat" */
};
/* Terminated by an entry whose name is NULL. */
extern const struct shader_missing shader_missing[];
/* The newer glslc's version line ("shaderc v2025.2 ..."), "" when the build had none. */
extern const char shader_compiler_new[];

#endif
