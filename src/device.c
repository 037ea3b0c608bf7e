/* device — see device.h. */
#include "device.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "vk.h"
#include "vk_env.h"

bool device_spec_valid(const char *spec)
{
    if (!strcmp(spec, "auto") || !strcmp(spec, "cpu") || !strcmp(spec, "vulkan")) return true;
    if (strncmp(spec, "vulkan:", 7) != 0 || !spec[7]) return false;
    for (const char *p = spec + 7; *p; p++)
        if (*p < '0' || *p > '9') return false;
    return true;
}

int device_open(const char *spec, const struct model *m, int32_t n_ctx, int32_t threads,
                struct backend **out, char *notice, size_t notice_len, char *err, size_t errlen)
{
    return device_open_seq(spec, m, n_ctx, 1, threads, out, notice, notice_len, err, errlen);
}

int device_open_seq(const char *spec, const struct model *m, int32_t n_ctx, int32_t n_seq,
                    int32_t threads, struct backend **out, char *notice, size_t notice_len,
                    char *err, size_t errlen)
{
    const char *dev = spec ? spec : "auto";
    *out = NULL;
    if (notice_len) notice[0] = 0;
    /* JOULE_VK_DEVICE=N: "vulkan" and "auto" mean device N, the GPU a scheduler gave this
     * process (joule sweep --slurm sets it per array task), while the spec -- and so the name
     * of a sweep's unit -- stays the same. */
    const char *pin = vk_env_str(VKS_DEVICE);
    char pinned[32];
    const char *vkdev = dev;
    if (pin && (!strcmp(dev, "vulkan") || !strcmp(dev, "auto"))) {
        snprintf(pinned, sizeof pinned, "vulkan:%.20s", pin);
        if (strlen(pin) > 20 || !device_spec_valid(pinned)) {
            snprintf(err, errlen, "JOULE_VK_DEVICE='%.40s' is not a device index", pin);
            return -1;
        }
        vkdev = pinned;
    }
    if (strcmp(dev, "cpu") != 0) {
        int rc = vk_backend_new_seq(m, vkdev, n_ctx, n_seq, out, err, errlen);
        if (rc == VK_OK) return 0;
        if (rc == VK_FAILED || strcmp(dev, "auto") != 0) return -1;
        snprintf(notice, notice_len, "no Vulkan GPU (%s); running on the CPU", err);
    }
    *out = cpu_backend_new_seq(m, n_ctx, n_seq, threads, err, errlen);
    return *out ? 0 : -1;
}

int device_warmup(struct backend *b, char *err, size_t errlen)
{
    float *lg = malloc(sizeof(float) * (size_t)b->model->cfg.n_vocab);
    if (!lg) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const int32_t toks[3] = {0, 0, 0};
    int32_t n = b->max_batch < 3 ? b->max_batch : 3;
    if (n > b->n_ctx) n = b->n_ctx;
    int rc = 0;
    if (n > 1) rc = backend_forward(b, toks, n, 0, false, lg, err, errlen);
    if (rc == 0) rc = backend_forward(b, toks, 1, 0, false, lg, err, errlen);
    free(lg);
    return rc;
}
