/* device — see device.h. */
#include "device.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "vk.h"

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
    if (strcmp(dev, "cpu") != 0) {
        int rc = vk_backend_new_seq(m, dev, n_ctx, n_seq, out, err, errlen);
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
