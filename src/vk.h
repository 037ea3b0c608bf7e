/* vk — the Vulkan backend. The loader (libvulkan.so.1) is opened at run time with
 * dlopen, so the binary has no link-time Vulkan dependency and runs without it.
 *
 * Device choice for spec "vulkan" / "auto": a discrete GPU first, then an
 * integrated one; CPU implementations (lavapipe, SwiftShader) only when named
 * explicitly as "vulkan:N" (N from `joule devices`).
 * Environment: JOULE_VK_VALIDATE=1 enables the Khronos validation layer (any
 * validation error then fails the operation); JOULE_VK_LOADER=PATH loads another
 * loader library (a path that does not exist simulates a machine without Vulkan).
 */
#ifndef JOULE_VK_H
#define JOULE_VK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "backend.h"
#include "model.h"

enum vk_status {
    VK_OK = 0,
    VK_NO_DEVICE = 1, /* no loader, no instance, or no suitable device: caller may fall back */
    VK_FAILED = 2     /* a device was chosen but setup or upload failed */
};

/* `joule devices`: prints every Vulkan device with its properties to out.
 * Returns VK_NO_DEVICE (and a reason in err) when there is no loader or device. */
int vk_print_devices(FILE *out, char *err, size_t errlen);
/* `joule devices --verbose`: the JOULE_VK_* switches (vk_env.h) with the values in force. */
void vk_print_switches(FILE *out);

/* spec: "auto", "vulkan" or "vulkan:N". On success *out is a backend (see backend.h). */
int vk_backend_new(const struct model *m, const char *spec, int32_t n_ctx, struct backend **out,
                   char *err, size_t errlen);
/* With n_seq sequences for forward_batch, their caches side by side in each layer's buffer. */
int vk_backend_new_seq(const struct model *m, const char *spec, int32_t n_ctx, int32_t n_seq,
                       struct backend **out, char *err, size_t errlen);

#endif
