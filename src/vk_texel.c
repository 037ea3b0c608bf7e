/* vk_texel — the texel-buffer views of the CPU-Vulkan path (lavapipe, SwiftShader).
 *
 * On CPU implementations a storage-buffer read becomes a loop over lanes while a texel
 * fetch gathers in SIMD, so there (vk_mem.c: c->texel, c->unit) weights, activations
 * and the KV cache are also viewed as texels: weights as 16-byte (R32G32B32A32_UINT)
 * and, for the unit kernels, 8-byte (R32G32_UINT) texels; activations as vec4s
 * (R32G32B32A32_SFLOAT); the caches as 4-element f16 or f32 texels. The kernels that read
 * them are the *_tx variants and shaders/cpu_*.comp. This file owns every view: made
 * here, bound here (vk_texel_bindings, bindings 6..8 of every descriptor set; a dummy
 * view where an op has none), destroyed here. The GPU path reads storage buffers only
 * and never needs this file's views (they are all VK_NULL_HANDLE or dummies there). */
#include <stdio.h>
#include <stdlib.h>

#include "vk.h"
#include "vk_backend.h"

/* A view of the whole of b as texels of format (b's size is a multiple of 16 bytes). */
static int make_view(struct vk_backend *vb, const struct vk_buf *b, VkFormat format,
                     VkBufferView *out, char *err, size_t errlen)
{
    VkBufferViewCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO,
                                 .buffer = b->buf,
                                 .format = format,
                                 .offset = 0,
                                 .range = VK_WHOLE_SIZE};
    VkResult r = vb->c.vi.f.vkCreateBufferView(vb->c.dev, &ci, NULL, out);
    if (r != VK_SUCCESS) {
        *out = VK_NULL_HANDLE;
        snprintf(err, errlen, "vkCreateBufferView failed: %s", vk_result_str(r));
        return -1;
    }
    return 0;
}

static void free_view(struct vk_backend *vb, VkBufferView *v)
{
    if (*v) vb->c.vi.f.vkDestroyBufferView(vb->c.dev, *v, NULL);
    *v = VK_NULL_HANDLE;
}

int vk_texel_weight_views(struct vk_backend *vb, struct vk_weight *vw, int64_t ne0, char *err,
                          size_t errlen)
{
    vw->views = calloc(vw->n_chunks, sizeof *vw->views);
    vw->views8 = calloc(vw->n_chunks, sizeof *vw->views8);
    if (!vw->views || !vw->views8) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* matvec weights through texel views where every chunk fits the texel limit */
    vw->texel = vb->c.texel && vk_type_suffix(vw->type) != NULL;
    for (uint32_t k = 0; k < vw->n_chunks; k++)
        if (vw->bufs[k].size / 16 > vb->c.max_texels) vw->texel = false;
    for (uint32_t k = 0; vw->texel && k < vw->n_chunks; k++)
        if (make_view(vb, &vw->bufs[k], VK_FORMAT_R32G32B32A32_UINT, &vw->views[k], err, errlen) !=
            0)
            return -1;
    /* matvec_unit: rows of whole units, 8-byte aligned, through 8-byte texels */
    vw->unit = vw->texel && vb->c.unit && vk_unit_elems(vw->type) > 0 &&
               ne0 % vk_unit_elems(vw->type) == 0 && vw->row_bytes % 8 == 0;
    for (uint32_t k = 0; k < vw->n_chunks; k++)
        if (vw->bufs[k].size / 8 > vb->c.max_texels) vw->unit = false;
    for (uint32_t k = 0; vw->unit && k < vw->n_chunks; k++)
        if (make_view(vb, &vw->bufs[k], VK_FORMAT_R32G32_UINT, &vw->views8[k], err, errlen) != 0)
            return -1;
    return 0;
}

int vk_texel_act_view(struct vk_backend *vb, int a, uint64_t bytes, char *err, size_t errlen)
{
    /* the unit kernels read x as vec4 texels */
    if (vb->c.unit && a != ACT_LOGITS && bytes / 16 <= vb->c.max_texels)
        return make_view(vb, &vb->act[a], VK_FORMAT_R32G32B32A32_SFLOAT, &vb->act_views[a], err,
                         errlen);
    return 0;
}

int vk_texel_kv_views(struct vk_backend *vb, uint64_t kv_bytes, char *err, size_t errlen)
{
    const struct model_config *c = &vb->base.model->cfg;
    const struct vk_ctx *ctx = &vb->c;
    /* attention on CPU devices reads the caches as 4-element texels */
    VkFormat kvf = ctx->kv_f16 ? VK_FORMAT_R16G16B16A16_SFLOAT : VK_FORMAT_R32G32B32A32_SFLOAT;
    vb->kv_texel =
        ctx->unit && c->head_dim % 4 == 0 && kv_bytes / (ctx->kv_f16 ? 8 : 16) <= ctx->max_texels;
    for (int32_t l = 0; vb->kv_texel && l < c->n_layer; l++)
        if (make_view(vb, &vb->kc[l], kvf, &vb->kv_views[2 * l], err, errlen) != 0 ||
            make_view(vb, &vb->vc[l], kvf, &vb->kv_views[2 * l + 1], err, errlen) != 0)
            return -1;
    return 0;
}

int vk_texel_dummies(struct vk_backend *vb, char *err, size_t errlen)
{
    if (make_view(vb, &vb->dummy, VK_FORMAT_R32G32B32A32_UINT, &vb->dummy_view, err, errlen) ||
        make_view(vb, &vb->dummy, VK_FORMAT_R32G32_UINT, &vb->dummy_view8, err, errlen) ||
        make_view(vb, &vb->dummy, VK_FORMAT_R32G32B32A32_SFLOAT, &vb->dummy_viewf, err, errlen))
        return -1;
    return 0;
}

void vk_texel_bindings(const struct vk_backend *vb, const struct op *o, const struct vk_weight *vw,
                       uint32_t chunk, VkBufferView view[VK_TEXEL_BINDINGS])
{
    /* texel bindings: weights as 16- and 8-byte texels, the source as vec4s */
    view[0] = vb->dummy_view;
    view[1] = vb->dummy_view8;
    view[2] = vb->dummy_viewf;
    switch (o->kind) {
    case OP_MATMUL:
        if (vw->texel) view[0] = vw->views[chunk];
        if (vw->unit) view[1] = vw->views8[chunk];
        if (o->src != ACT_NONE && vb->act_views[o->src]) view[2] = vb->act_views[o->src];
        break;
    case OP_ATTENTION:
        if (vb->kv_texel) {
            view[0] = vb->kv_views[2 * o->layer];
            view[1] = vb->kv_views[2 * o->layer + 1];
        }
        if (vb->act_views[o->src]) view[2] = vb->act_views[o->src];
        break;
    default: break;
    }
}

void vk_texel_free(struct vk_backend *vb)
{
    for (int32_t i = 0; i < vb->n_weights; i++) {
        struct vk_weight *w = &vb->weights[i];
        for (uint32_t k = 0; w->views && k < w->n_chunks; k++)
            free_view(vb, &w->views[k]);
        for (uint32_t k = 0; w->views8 && k < w->n_chunks; k++)
            free_view(vb, &w->views8[k]);
        free(w->views);
        free(w->views8);
        w->views = w->views8 = NULL;
    }
    int32_t nl = vb->base.model ? vb->base.model->cfg.n_layer : 0;
    for (int32_t l = 0; vb->kv_views && l < nl; l++) {
        free_view(vb, &vb->kv_views[2 * l]);
        free_view(vb, &vb->kv_views[2 * l + 1]);
    }
    free_view(vb, &vb->dummy_view);
    free_view(vb, &vb->dummy_view8);
    free_view(vb, &vb->dummy_viewf);
    for (int i = 0; i < ACT_COUNT; i++)
        free_view(vb, &vb->act_views[i]);
}
