/* vk_env.h — the JOULE_VK_* environment switches of the Vulkan backend, in one table
 * {name, default, meaning}: every switch is read through it, `joule devices --verbose`
 * prints the values in force from it, and README.md lists the same names (a test checks).
 * They are for tests, tuning and diagnosis; none is needed in normal use. */
#ifndef JOULE_VK_ENV_H
#define JOULE_VK_ENV_H

#include <stdbool.h>
#include <stdio.h>

enum vk_switch {
    VKS_VALIDATE,
    VKS_PROFILE,
    VKS_LOADER,
    VKS_DEVICE,
    VKS_KV_F32,
    VKS_TEXEL,
    VKS_NO_TEXEL,
    VKS_NO_UNIT,
    VKS_NO_SUBGROUP,
    VKS_MULTI_SUBGROUP,
    VKS_WG,
    VKS_MV_ROWS,
    VKS_MV_GPU,
    VKS_MM_ROWS,
    VKS_MATVEC_MAX,
    VKS_MAX_RANGE,
    VKS_MAX_TEXELS,
    VKS_NO_PIN,
    VKS_STAGING,
    VKS_TIMEOUT_MS,
    VKS_MEM_BUDGET,
    VKS_SPLIT_KV,
    VKS_ATTN_TILE,
    VKS_INT8,
    VKS_MATMUL_TILE,
    VKS_COOPMAT,
    VKS_NO_FUSE,
    VKS_COUNT
};

struct vk_switch_info {
    const char *name;    /* "JOULE_VK_WG" */
    const char *dflt;    /* in words: what applies when it is unset */
    const char *meaning; /* one line */
};

extern const struct vk_switch_info vk_switches[VKS_COUNT];

/* The raw value, or NULL when unset or empty. */
const char *vk_env_str(enum vk_switch s);
/* A flag: on when set to anything but "" or "0". */
bool vk_env_on(enum vk_switch s);
/* A number (decimal, 0x hex or 0 octal, the whole value); dflt when unset or malformed. */
long vk_env_long(enum vk_switch s, long dflt);
/* vk_print_switches (vk.h): one line per switch, the value in force or "unset (default)". */

#endif
