/* device — the --device option: which backend a spec names, and opening it.
 *
 * Specs: "auto" (a Vulkan GPU when one exists and supports the model, else the CPU),
 * "cpu", "vulkan" (the best GPU; an error when none), "vulkan:N" (device N of `joule
 * devices`, CPU implementations such as lavapipe included). JOULE_VK_DEVICE=N makes "vulkan"
 * and "auto" mean "vulkan:N" (a scheduler's GPU for this process). Every command that runs a
 * model goes through here, so they all choose and fall back the same way.
 */
#ifndef JOULE_DEVICE_H
#define JOULE_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "model.h"

bool device_spec_valid(const char *spec);

/* Opens the backend for spec (NULL = "auto"); threads 0 = all cores (CPU backend).
 * Returns 0 and *out, or non-zero with a message in err. When "auto" falls back to the
 * CPU, notice gets the one-line reason (else it is set to ""). */
int device_open(const char *spec, const struct model *m, int32_t n_ctx, int32_t threads,
                struct backend **out, char *notice, size_t notice_len, char *err, size_t errlen);

/* As device_open, with n_seq sequences (slots) for forward_batch (CPU and Vulkan). */
int device_open_seq(const char *spec, const struct model *m, int32_t n_ctx, int32_t n_seq,
                    int32_t threads, struct backend **out, char *notice, size_t notice_len,
                    char *err, size_t errlen);

/* Runs a 3-token and a 1-token step at position 0 (token 0), so that first-use costs --
 * pipeline creation and shader compilation on Vulkan, page faults of the mapped weights on
 * the CPU -- are paid before anything is timed. The cache rows it writes are rewritten by
 * the next step from position 0, so results do not change. */
int device_warmup(struct backend *b, char *err, size_t errlen);

#endif
