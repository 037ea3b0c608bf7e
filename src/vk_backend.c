/* vk_backend — the Vulkan backend: weights uploaded once (quantized blocks as in the
 * file, split by rows where a tensor exceeds the storage-buffer range), activations in
 * one scratch buffer per enum act, a float16 KV cache, descriptor sets made once per
 * op, command buffers recorded once per batch shape and re-submitted with the position
 * and tokens in a small host-written buffer: one submit and one fence wait per step. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant.h"
#include "util.h"
#include "vk.h"
#include "vk_backend.h"
#include "vk_env.h"

static void vb_destroy(struct backend *b)
{
    struct vk_backend *vb = (struct vk_backend *)b;
    struct vk_ctx *c = &vb->c;
    const struct vk_fns *f = &c->vi.f;
    if (c->dev) {
        f->vkDeviceWaitIdle(c->dev);
        vk_prof_report(vb);
        vk_prof_free(vb);
        for (int i = 0; i < VK_MAX_STEPS; i++)
            if (vb->steps[i].cb) f->vkFreeCommandBuffers(c->dev, c->pool, 1, &vb->steps[i].cb);
        vk_pipes_free(vb);
        if (vb->dpool) f->vkDestroyDescriptorPool(c->dev, vb->dpool, NULL);
        if (vb->layout) f->vkDestroyPipelineLayout(c->dev, vb->layout, NULL);
        if (vb->dsl) f->vkDestroyDescriptorSetLayout(c->dev, vb->dsl, NULL);
        vk_texel_free(vb);
        for (int32_t i = 0; i < vb->n_weights; i++) {
            struct vk_weight *w = &vb->weights[i];
            for (uint32_t k = 0; w->bufs && k < w->n_chunks; k++)
                vk_buf_free(c, &w->bufs[k]);
            free(w->bufs);
            free(w->row0);
            free(w->rows);
        }
        for (int i = 0; i < ACT_COUNT; i++)
            vk_buf_free(c, &vb->act[i]);
        int32_t nl = vb->base.model ? vb->base.model->cfg.n_layer : 0;
        for (int32_t l = 0; l < nl; l++) {
            if (vb->kc) vk_buf_free(c, &vb->kc[l]);
            if (vb->vc) vk_buf_free(c, &vb->vc[l]);
        }
        vk_buf_free(c, &vb->params);
        vk_buf_free(c, &vb->params_dev);
        vk_buf_free(c, &vb->logits_host);
        vk_buf_free(c, &vb->rope);
        vk_buf_free(c, &vb->dummy);
        vk_buf_free(c, &vb->attn_part);
        vk_buf_free(c, &vb->xq8);
    }
    free(vb->weights);
    free(vb->kc);
    free(vb->vc);
    free(vb->kv_views);
    free(vb->fuse_sets);
    if (vb->op_sets)
        for (int32_t i = 0; i < vb->graph.n_ops; i++)
            free(vb->op_sets[i]);
    free(vb->op_sets);
    free(vb->op_w);
    free(vb->graph.ops);
    vk_ctx_close(c);
    free(vb);
}

/* Uploads w (once per distinct data pointer) in row chunks that fit max_range. */
static struct vk_weight *upload_weight(struct vk_backend *vb, const struct weight *w, char *err,
                                       size_t errlen)
{
    for (int32_t i = 0; i < vb->n_weights; i++)
        if (vb->weights[i].data == w->data) return &vb->weights[i];
    struct vk_weight *vw = &vb->weights[vb->n_weights];
    memset(vw, 0, sizeof *vw);
    vw->data = w->data;
    vw->type = w->type;
    vw->row_bytes = w->row_bytes;
    uint64_t per = (vb->c.max_range - VK_WEIGHT_PAD) / w->row_bytes;
    if (per == 0) {
        snprintf(err, errlen,
                 "tensor %s: a row of %llu bytes exceeds the device's storage "
                 "buffer range",
                 w->name ? w->name : "?", (unsigned long long)w->row_bytes);
        return NULL;
    }
    vw->n_chunks = (uint32_t)((w->ne1 + (int64_t)per - 1) / (int64_t)per);
    vw->bufs = calloc(vw->n_chunks, sizeof *vw->bufs);
    vw->row0 = calloc(vw->n_chunks, sizeof *vw->row0);
    vw->rows = calloc(vw->n_chunks, sizeof *vw->rows);
    vb->n_weights++; /* counted now so that destroy frees what was made */
    if (!vw->bufs || !vw->row0 || !vw->rows) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (uint32_t k = 0; k < vw->n_chunks; k++) {
        int64_t r0 = (int64_t)k * (int64_t)per;
        int64_t nr = w->ne1 - r0 < (int64_t)per ? w->ne1 - r0 : (int64_t)per;
        vw->row0[k] = r0;
        vw->rows[k] = nr;
        uint64_t bytes = (uint64_t)nr * w->row_bytes;
        /* padding: shaders read the word (texel matvec: up to 2 texels) after a block */
        if (vk_buf_new(&vb->c, &vw->bufs[k], bytes + VK_WEIGHT_PAD, VK_MEM_DEVICE_FILL, err,
                       errlen) != 0 ||
            vk_buf_upload(&vb->c, &vw->bufs[k], 0, (const uint8_t *)w->data + r0 * w->row_bytes,
                          bytes, err, errlen) != 0)
            return NULL;
    }
    /* CPU devices: texel views (vk_texel.c) */
    if (vk_texel_weight_views(vb, vw, w->ne0, err, errlen) != 0) return NULL;
    return vw;
}

/* the layout's bindings: the storage and texel ones, and the fused kernels' (vk_backend.h) */
static uint32_t n_bindings(const struct vk_backend *vb)
{
    return VK_BINDINGS + VK_TEXEL_BINDINGS + (vb->c.fuse ? VK_FUSE_BINDINGS : 0);
}

static bool is_texel_binding(uint32_t i)
{
    return i >= VK_BINDINGS && i < VK_BINDINGS + VK_TEXEL_BINDINGS;
}

static int make_layouts(struct vk_backend *vb, uint32_t n_sets, char *err, size_t errlen)
{
    const struct vk_fns *f = &vb->c.vi.f;
    VkDescriptorSetLayoutBinding b[VK_BINDINGS + VK_TEXEL_BINDINGS + VK_FUSE_BINDINGS];
    const uint32_t nb = n_bindings(vb);
    for (uint32_t i = 0; i < nb; i++)
        b[i] = (VkDescriptorSetLayoutBinding){i,
                                              is_texel_binding(i)
                                                  ? VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER
                                                  : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                              1, VK_SHADER_STAGE_COMPUTE_BIT, NULL};
    VkDescriptorSetLayoutCreateInfo dci = {.sType =
                                               VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                                           .bindingCount = nb,
                                           .pBindings = b};
    VkPushConstantRange pcr = {VK_SHADER_STAGE_COMPUTE_BIT, 0, VK_PUSH_BYTES};
    VkDescriptorPoolSize ps[2] = {
        {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, n_sets * (nb - VK_TEXEL_BINDINGS)},
        {VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, VK_TEXEL_BINDINGS * n_sets}};
    VkDescriptorPoolCreateInfo pci = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                      .maxSets = n_sets,
                                      .poolSizeCount = 2,
                                      .pPoolSizes = ps};
    if (f->vkCreateDescriptorSetLayout(vb->c.dev, &dci, NULL, &vb->dsl) != VK_SUCCESS) {
        vb->dsl = VK_NULL_HANDLE;
        snprintf(err, errlen, "cannot create the descriptor set layout");
        return -1;
    }
    VkPipelineLayoutCreateInfo lci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                      .setLayoutCount = 1,
                                      .pSetLayouts = &vb->dsl,
                                      .pushConstantRangeCount = 1,
                                      .pPushConstantRanges = &pcr};
    if (f->vkCreatePipelineLayout(vb->c.dev, &lci, NULL, &vb->layout) != VK_SUCCESS) {
        vb->layout = VK_NULL_HANDLE;
        snprintf(err, errlen, "cannot create the pipeline layout");
        return -1;
    }
    if (f->vkCreateDescriptorPool(vb->c.dev, &pci, NULL, &vb->dpool) != VK_SUCCESS) {
        vb->dpool = VK_NULL_HANDLE;
        snprintf(err, errlen, "cannot create the descriptor pool");
        return -1;
    }
    return 0;
}

enum { VK_ALL_BINDINGS = VK_BINDINGS + VK_TEXEL_BINDINGS + VK_FUSE_BINDINGS };

/* Writes the storage bindings bind (the texel ones skipped) and the texel views of set. */
static void write_set(struct vk_backend *vb, VkDescriptorSet set,
                      const struct vk_buf *const bind[VK_ALL_BINDINGS],
                      const VkBufferView view[VK_TEXEL_BINDINGS])
{
    VkDescriptorBufferInfo bi[VK_ALL_BINDINGS];
    VkWriteDescriptorSet wr[VK_ALL_BINDINGS];
    const uint32_t nb = n_bindings(vb);
    for (uint32_t j = 0; j < nb; j++) {
        wr[j] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                                       .dstSet = set,
                                       .dstBinding = j,
                                       .descriptorCount = 1};
        if (is_texel_binding(j)) {
            wr[j].descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
            wr[j].pTexelBufferView = &view[j - VK_BINDINGS];
        } else {
            bi[j] = (VkDescriptorBufferInfo){bind[j]->buf, 0, VK_WHOLE_SIZE};
            wr[j].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
            wr[j].pBufferInfo = &bi[j];
        }
    }
    vb->c.vi.f.vkUpdateDescriptorSets(vb->c.dev, nb, wr, 0, NULL);
}

/* the buffer of o's bias, or the dummy */
static const struct vk_buf *bias_buf(const struct vk_backend *vb, const struct op *o)
{
    for (int32_t j = 0; o->b && j < vb->n_weights; j++)
        if (vb->weights[j].data == o->b->data) return &vb->weights[j].bufs[0];
    return &vb->dummy;
}

/* Whether op i has a fused descriptor set (vb->fuse_sets): a product of a run that a fused
 * kernel may take (several products, or one after a folded RMSNorm; every weight in one
 * chunk, nothing accumulated), or the first rope of a rope run. */
static bool fusable(const struct vk_backend *vb, int32_t i)
{
    const struct graph *g = &vb->graph;
    const struct op *o = &g->ops[i];
    if (!vb->c.fuse) return false;
    if (o->kind == OP_ROPE) return o->n_fused == 3;
    if (o->kind != OP_MATMUL) return false;
    int32_t h = vk_run_head(g, i);
    int32_t n = g->ops[h].n_fused > 1 ? g->ops[h].n_fused : 1;
    if (n == 1 && !vk_fold_norm(vb, h)) return false;
    for (int32_t k = h; k < h + n; k++)
        if (g->ops[k].accumulate || vb->op_w[k]->n_chunks != 1) return false;
    return true;
}

/* The fused descriptor sets: for product i, weights, outputs and biases of i and the next
 * two products of its run (bindings 0, 9, 10; 2, 11, 12; 3, 13, 14), x (the folded
 * RMSNorm's input, or i's) and the RMSNorm's weight (15); for a rope run, rope_kv's. */
static int make_fuse_sets(struct vk_backend *vb, char *err, size_t errlen)
{
    const struct graph *g = &vb->graph;
    for (int32_t i = 0; i < g->n_ops; i++) {
        if (!fusable(vb, i)) continue;
        VkDescriptorSetAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                          .descriptorPool = vb->dpool,
                                          .descriptorSetCount = 1,
                                          .pSetLayouts = &vb->dsl};
        if (vb->c.vi.f.vkAllocateDescriptorSets(vb->c.dev, &ai, &vb->fuse_sets[i]) != VK_SUCCESS) {
            snprintf(err, errlen, "cannot allocate descriptor sets");
            return -1;
        }
        const struct op *o = &g->ops[i];
        const struct vk_buf *bind[VK_ALL_BINDINGS];
        for (int j = 0; j < VK_ALL_BINDINGS; j++)
            bind[j] = &vb->dummy;
        const VkBufferView view[VK_TEXEL_BINDINGS] = {vb->dummy_view, vb->dummy_view8,
                                                      vb->dummy_viewf};
        const struct vk_buf *params = vb->staged_io ? &vb->params_dev : &vb->params;
        if (o->kind == OP_ROPE) { /* shaders/rope_kv.comp */
            const struct op *kv = o + 2;
            bind[0] = &vb->kc[kv->layer], bind[1] = &vb->act[o[1].dst], bind[2] = &vb->act[o->dst];
            bind[3] = &vb->act[kv->src2], bind[4] = params, bind[5] = &vb->vc[kv->layer];
            bind[9] = &vb->rope;
        } else { /* shaders/matvec_gpu_fused.comp */
            static const int wb[3] = {0, 9, 10}, yb[3] = {2, 11, 12}, bb[3] = {3, 13, 14};
            int32_t h = vk_run_head(g, i);
            int32_t nr = h + (g->ops[h].n_fused > 1 ? g->ops[h].n_fused : 1) - i; /* i.. */
            for (int32_t k = 0; k < VK_FUSE_MAX_SET && k < nr; k++) {
                bind[wb[k]] = &vb->op_w[i + k]->bufs[0];
                bind[yb[k]] = &vb->act[o[k].dst];
                bind[bb[k]] = bias_buf(vb, &o[k]);
            }
            bool fold = vk_fold_norm(vb, h);
            bind[1] = &vb->act[fold ? g->ops[h - 1].src : o->src];
            if (fold) bind[15] = &vb->op_w[h - 1]->bufs[0];
        }
        write_set(vb, vb->fuse_sets[i], bind, view);
    }
    return 0;
}

/* One descriptor set per op and weight chunk; unused bindings point at a dummy buffer. */
static int make_sets(struct vk_backend *vb, char *err, size_t errlen)
{
    const struct vk_fns *f = &vb->c.vi.f;
    for (int32_t i = 0; i < vb->graph.n_ops; i++) {
        const struct op *o = &vb->graph.ops[i];
        struct vk_weight *vw = vb->op_w[i];
        uint32_t n_sets = vw && o->kind != OP_RMSNORM ? vw->n_chunks : 1;
        vb->op_sets[i] = calloc(n_sets, sizeof(VkDescriptorSet));
        if (!vb->op_sets[i]) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        for (uint32_t k = 0; k < n_sets; k++) {
            VkDescriptorSetAllocateInfo ai = {.sType =
                                                  VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                              .descriptorPool = vb->dpool,
                                              .descriptorSetCount = 1,
                                              .pSetLayouts = &vb->dsl};
            if (f->vkAllocateDescriptorSets(vb->c.dev, &ai, &vb->op_sets[i][k]) != VK_SUCCESS) {
                snprintf(err, errlen, "cannot allocate descriptor sets");
                return -1;
            }
            const struct vk_buf *bind[VK_ALL_BINDINGS];
            for (int j = 0; j < VK_ALL_BINDINGS; j++)
                bind[j] = &vb->dummy;
            /* texel bindings: weights as 16- and 8-byte texels, the source as vec4s */
            VkBufferView view[VK_TEXEL_BINDINGS];
            vk_texel_bindings(vb, o, vw, k, view);
            const struct vk_buf *src = o->src != ACT_NONE ? &vb->act[o->src] : &vb->dummy;
            const struct vk_buf *dst = o->dst != ACT_NONE ? &vb->act[o->dst] : &vb->dummy;
            switch (o->kind) {
            case OP_EMBED:
                bind[0] = &vw->bufs[k], bind[2] = dst,
                bind[4] = vb->staged_io ? &vb->params_dev : &vb->params;
                break;
            case OP_RMSNORM: bind[1] = src, bind[2] = dst, bind[3] = &vw->bufs[0]; break;
            case OP_MATMUL:
                bind[0] = &vw->bufs[k], bind[1] = src, bind[2] = dst, bind[3] = bias_buf(vb, o);
                if (vb->xq8.buf) bind[5] = &vb->xq8;
                break;
            case OP_ROPE:
                bind[2] = dst, bind[4] = vb->staged_io ? &vb->params_dev : &vb->params,
                bind[5] = &vb->rope;
                break;
            case OP_KV_STORE:
                bind[0] = &vb->kc[o->layer], bind[1] = src, bind[3] = &vb->act[o->src2];
                bind[4] = vb->staged_io ? &vb->params_dev : &vb->params,
                bind[5] = &vb->vc[o->layer];
                break;
            case OP_ATTENTION:
                bind[0] = &vb->kc[o->layer], bind[1] = src, bind[2] = dst;
                bind[4] = vb->staged_io ? &vb->params_dev : &vb->params,
                bind[5] = &vb->vc[o->layer];
                if (vb->split_max) bind[3] = &vb->attn_part;
                break;
            case OP_SWIGLU: bind[1] = src, bind[2] = dst; break;
            default: break;
            }
            write_set(vb, vb->op_sets[i][k], bind, view);
        }
    }
    return make_fuse_sets(vb, err, errlen);
}

/* cos/sin of every (position, pair), in double like the CPU reference */
static int make_rope_table(struct vk_backend *vb, char *err, size_t errlen)
{
    const struct model_config *c = &vb->base.model->cfg;
    int32_t half = c->rope_dim / 2;
    size_t count = (size_t)vb->base.n_ctx * (size_t)half * 2;
    if (count * 4 > vb->c.max_range) {
        snprintf(err, errlen, "the RoPE table for %d positions exceeds the storage buffer range",
                 vb->base.n_ctx);
        return -1;
    }
    float *t = malloc(count * sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* frequency factors (llama3 rope scaling): one tensor shared by every ROPE op */
    const float *factors = NULL;
    for (int32_t i = 0; i < vb->graph.n_ops; i++) {
        const struct op *o = &vb->graph.ops[i];
        if (o->kind == OP_ROPE && o->w && o->w->data) {
            if (factors && factors != o->w->data) {
                snprintf(err, errlen, "RoPE ops with different frequency factors");
                free(t);
                return -1;
            }
            if (o->w->type != Q_F32 || o->w->ne0 * o->w->ne1 < half) {
                snprintf(err, errlen, "RoPE frequency factors must be F32 with %d values", half);
                free(t);
                return -1;
            }
            factors = o->w->data;
        }
    }
    for (int32_t p = 0; p < vb->base.n_ctx; p++)
        for (int32_t i = 0; i < half; i++) {
            double theta = ((double)p * c->rope_freq_scale) *
                           pow((double)c->rope_base, -2.0 * i / c->rope_dim);
            if (factors) theta /= factors[i];
            t[((size_t)p * half + i) * 2] = (float)cos(theta);
            t[((size_t)p * half + i) * 2 + 1] = (float)sin(theta);
        }
    int rc = vk_buf_new(&vb->c, &vb->rope, count * 4, VK_MEM_DEVICE_FILL, err, errlen);
    if (rc == 0) rc = vk_buf_upload(&vb->c, &vb->rope, 0, t, count * 4, err, errlen);
    free(t);
    return rc;
}

static bool weight_ok(const struct weight *w, char *err, size_t errlen)
{
    if (!vk_type_suffix(w->type)) {
        const char *n = quant_name(w->type);
        snprintf(err, errlen,
                 "tensor %s has type %s, which the Vulkan backend does not support "
                 "yet (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)",
                 w->name ? w->name : "?", n ? n : "unknown");
        return false;
    }
    return true;
}

/* Fails with one line when the weights, the KV cache and the activations do not fit the
 * device memory that is free, before any of it is allocated. */
static int check_memory(struct vk_backend *vb, uint64_t kv_bytes, uint64_t act_bytes, char *err,
                        size_t errlen)
{
    const struct graph *g = &vb->graph;
    uint64_t w_bytes = 0;
    for (int32_t i = 0; i < g->n_ops; i++) {
        const struct op *o = &g->ops[i];
        if (o->kind == OP_ROPE) continue;
        const struct weight *ws[2] = {o->w, o->b};
        for (int k = 0; k < 2; k++) {
            const struct weight *w = ws[k];
            bool seen = false; /* shared tensors (tied embeddings) are uploaded once */
            for (int32_t j = 0; w && j < i && !seen; j++)
                seen = (g->ops[j].w && g->ops[j].w->data == w->data) ||
                       (g->ops[j].b && g->ops[j].b->data == w->data);
            for (int kk = 0; w && kk < k && !seen; kk++)
                seen = ws[kk] && ws[kk]->data == w->data;
            if (w && !seen) {
                uint64_t b = (uint64_t)w->ne1 * w->row_bytes;
                w_bytes += b + (b / vb->c.max_range + 1) * VK_WEIGHT_PAD;
            }
        }
    }
    uint64_t need = w_bytes + kv_bytes + act_bytes;
    uint32_t heap = 0;
    bool budget = false;
    uint64_t free_b = vk_device_free(&vb->c, &heap, &budget);
    /* CPU implementations allocate host memory whatever heap they report (lavapipe: 2 GiB) */
    if (need <= free_b || (vb->c.cpu && !vk_env_str(VKS_MEM_BUDGET))) return 0;
    char f[24], nd[24], w[24], kv[24], act[24];
    snprintf(err, errlen,
             "%s has %s of device memory free (heap %u%s) and this model needs %s: weights %s, "
             "KV cache %s (%d positions), activations %s; use a smaller context (-c), a smaller "
             "quantization or --device cpu",
             vb->c.info.props.deviceName, fmt_bytes(free_b, f, sizeof f), heap,
             budget ? ", VK_EXT_memory_budget" : "", fmt_bytes(need, nd, sizeof nd),
             fmt_bytes(w_bytes, w, sizeof w), fmt_bytes(kv_bytes, kv, sizeof kv),
             vb->base.n_ctx * vb->base.n_seq, fmt_bytes(act_bytes, act, sizeof act));
    return -1;
}

static int setup(struct vk_backend *vb, char *err, size_t errlen)
{
    const struct model_config *c = &vb->base.model->cfg;
    struct vk_ctx *ctx = &vb->c;
    int32_t n_ops = vb->graph.n_ops;
    vb->kv_dim = (int64_t)c->n_head_kv * c->head_dim;
    if (c->head_dim > 256) {
        snprintf(err, errlen, "head dimension %d is larger than the Vulkan attention kernel's 256",
                 c->head_dim);
        return -1;
    }
    for (int32_t i = 0; i < n_ops; i++) {
        const struct op *o = &vb->graph.ops[i];
        if (o->w && !weight_ok(o->w, err, errlen)) return -1;
    }
    /* activations: the batch is limited so that every buffer fits one binding */
    int64_t widest = 1;
    for (int a = 0; a < ACT_COUNT; a++)
        if (act_width(c, a) > widest) widest = act_width(c, a);
    int64_t mb = (int64_t)(ctx->max_range / (uint64_t)(widest * 4));
    if (mb > 256) mb = 256;
    if (mb > vb->base.n_ctx) mb = vb->base.n_ctx;
    if (mb < 1) {
        snprintf(err, errlen, "an activation row of %lld floats exceeds the storage buffer range",
                 (long long)widest);
        return -1;
    }
    vb->base.max_batch = (int32_t)mb;
    if (vb->base.n_seq < 1) vb->base.n_seq = 1;
    uint64_t act_bytes = 0;
    for (int a = 0; a < ACT_COUNT; a++)
        if (a != ACT_LOGITS) act_bytes += (uint64_t)mb * (uint64_t)act_width(c, a) * 4;
    /* the sequences' caches one after the other: sequence s owns rows s * n_ctx .. */
    uint64_t kv_bytes = (uint64_t)vb->base.n_seq * (uint64_t)vb->base.n_ctx * (uint64_t)vb->kv_dim *
                        (ctx->kv_f16 ? 2 : 4);
    if (kv_bytes > ctx->max_range) {
        snprintf(err, errlen,
                 "the KV cache of one layer (%d sequences x %d positions, %.1f MiB) exceeds the "
                 "storage buffer range; use a smaller context or fewer sequences",
                 vb->base.n_seq, vb->base.n_ctx, (double)kv_bytes / 1048576.0);
        return -1;
    }
    /* the split attention's scratch: the most splits any decode step uses (1 row) */
    vb->split_forced = vk_env_long(VKS_SPLIT_KV, -1);
    vb->tile_forced = vk_env_long(VKS_ATTN_TILE, -1);
    vb->split_max = vk_attn_splits(ctx->cpu, vb->split_forced, 1, c->n_head, c->n_head_kv,
                                   c->head_dim, ctx->info.props.limits.maxComputeSharedMemorySize);
    uint64_t part_rows = mb < 8 ? (uint64_t)mb : 8;
    uint64_t part_bytes =
        part_rows * (uint64_t)c->n_head * vb->split_max * (uint64_t)(c->head_dim + 2) * 4;
    while (vb->split_max > 1 && part_bytes > ctx->max_range) {
        vb->split_max /= 2;
        part_bytes =
            part_rows * (uint64_t)c->n_head * vb->split_max * (uint64_t)(c->head_dim + 2) * 4;
    }
    if (part_bytes > ctx->max_range) vb->split_max = 0;
    if (check_memory(vb, 2 * (uint64_t)c->n_layer * kv_bytes, act_bytes + part_bytes, err,
                     errlen) != 0)
        return -1;
    if (vb->split_max && vk_buf_new(ctx, &vb->attn_part, part_bytes, VK_MEM_DEVICE, err, errlen))
        return -1;
    /* the int8 decode path's quantized inputs: 36 bytes per 32 values (q8_act.glsl) */
    if (ctx->int8 && ctx->mv_gpu) {
        int64_t wmax = 0;
        for (int32_t i = 0; i < n_ops; i++)
            if (vb->graph.ops[i].kind == OP_MATMUL && vb->graph.ops[i].w->ne0 > wmax)
                wmax = vb->graph.ops[i].w->ne0;
        uint64_t xq_bytes = (uint64_t)VK_MVG_MAX_TOKENS * (uint64_t)(wmax / 32 + 1) * 36;
        if (xq_bytes <= ctx->max_range &&
            vk_buf_new(ctx, &vb->xq8, xq_bytes, VK_MEM_DEVICE, err, errlen) == 0)
            vb->base.has_fast = true;
        else if (xq_bytes <= ctx->max_range)
            return -1;
    }
    vb->staged_io = !ctx->direct;
    for (int a = 0; a < ACT_COUNT; a++) {
        uint64_t bytes = (uint64_t)mb * (uint64_t)act_width(c, a) * 4;
        bool host = a == ACT_LOGITS && !vb->staged_io;
        if (vk_buf_new(ctx, &vb->act[a], bytes, host ? VK_MEM_HOST_READ : VK_MEM_DEVICE, err,
                       errlen) != 0)
            return -1;
        if (a == ACT_LOGITS && vb->staged_io &&
            vk_buf_new(ctx, &vb->logits_host, bytes, VK_MEM_HOST_READ, err, errlen) != 0)
            return -1;
        if (vk_texel_act_view(vb, a, bytes, err, errlen) != 0) return -1;
    }
    vb->kc = calloc((size_t)c->n_layer, sizeof *vb->kc);
    vb->vc = calloc((size_t)c->n_layer, sizeof *vb->vc);
    vb->kv_views = calloc((size_t)c->n_layer * 2, sizeof *vb->kv_views);
    vb->weights = calloc((size_t)n_ops * 2 + 1, sizeof *vb->weights);
    vb->op_w = calloc((size_t)n_ops, sizeof *vb->op_w);
    vb->op_sets = calloc((size_t)n_ops, sizeof *vb->op_sets);
    vb->fuse_sets = calloc((size_t)n_ops, sizeof *vb->fuse_sets);
    if (!vb->kc || !vb->vc || !vb->kv_views || !vb->weights || !vb->op_w || !vb->op_sets ||
        !vb->fuse_sets) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int32_t l = 0; l < c->n_layer; l++)
        if (vk_buf_new(ctx, &vb->kc[l], kv_bytes, VK_MEM_DEVICE, err, errlen) != 0 ||
            vk_buf_new(ctx, &vb->vc[l], kv_bytes, VK_MEM_DEVICE, err, errlen) != 0)
            return -1;
    if (vk_texel_kv_views(vb, kv_bytes, err, errlen) != 0) return -1;
    if (vk_buf_new(ctx, &vb->params, 16 + 3 * 4 * (uint64_t)mb, VK_MEM_HOST_WRITE, err, errlen) ||
        (vb->staged_io &&
         vk_buf_new(ctx, &vb->params_dev, 16 + 3 * 4 * (uint64_t)mb, VK_MEM_DEVICE, err, errlen)) ||
        vk_buf_new(ctx, &vb->dummy, 16, VK_MEM_DEVICE, err, errlen) ||
        vk_texel_dummies(vb, err, errlen) || make_rope_table(vb, err, errlen))
        return -1;
    for (int32_t i = 0; i < n_ops; i++) {
        const struct op *o = &vb->graph.ops[i];
        if (o->kind == OP_ROPE) continue; /* its factors live in the RoPE table */
        if (o->w && !(vb->op_w[i] = upload_weight(vb, o->w, err, errlen))) return -1;
        if (o->b && !upload_weight(vb, o->b, err, errlen)) return -1;
    }
    uint32_t n_sets = 0;
    for (int32_t i = 0; i < n_ops; i++)
        n_sets += vb->op_w[i] && vb->graph.ops[i].kind != OP_RMSNORM ? vb->op_w[i]->n_chunks : 1;
    /* the fused kernels run where matvec_gpu does, with bindings of their own in the shared
     * layout where the device has them (elsewhere the layout stays as it was) */
    const VkPhysicalDeviceLimits *lim = &ctx->info.props.limits;
    const uint32_t storage = VK_BINDINGS + VK_FUSE_BINDINGS;
    ctx->fuse = ctx->fuse && ctx->mv_gpu && lim->maxPerStageDescriptorStorageBuffers >= storage &&
                lim->maxDescriptorSetStorageBuffers >= storage &&
                lim->maxPerStageResources >= storage + VK_TEXEL_BINDINGS;
    for (int32_t i = 0; i < n_ops; i++)
        n_sets += fusable(vb, i);
    if (make_layouts(vb, n_sets, err, errlen) || make_sets(vb, err, errlen)) return -1;
    return vk_check_validation(&ctx->vi, err, errlen);
}

/* Runs one batch: writes params, finds or records the step, submits, waits. Row t is at
 * position rpos[t] of sequence rseq[t], or (rpos NULL) at pos + t of sequence 0. */
static int run_rows(struct vk_backend *vb, const int32_t *tokens, int32_t n, int32_t pos,
                    const int32_t *rpos, const int32_t *rseq, int32_t lrow0, int32_t nl, char *err,
                    size_t errlen)
{
    uint32_t *p = vb->params.map;
    const uint32_t mb = (uint32_t)vb->base.max_batch;
    p[0] = (uint32_t)pos;
    p[1] = (uint32_t)n;
    p[2] = mb;
    if (tokens)
        memcpy(p + 4, tokens, sizeof(int32_t) * (size_t)n);
    else
        memset(p + 4, 0, sizeof(int32_t) * (size_t)n);
    for (int32_t t = 0; t < n; t++) {
        p[4 + mb + (uint32_t)t] = (uint32_t)(rpos ? rpos[t] : pos + t);
        p[4 + 2 * mb + (uint32_t)t] = (uint32_t)(rseq ? rseq[t] * vb->base.n_ctx : 0);
    }
    struct vk_step *st = NULL, *lru = &vb->steps[0];
    for (int i = 0; i < VK_MAX_STEPS; i++) {
        struct vk_step *s = &vb->steps[i];
        if (s->cb && s->n == n && s->lrow0 == lrow0 && s->nl == nl && s->prec == vb->base.precision)
            st = s;
        if (s->last_use < lru->last_use) lru = s;
    }
    if (!st) {
        st = lru;
        st->n = n;
        st->lrow0 = lrow0;
        st->nl = nl;
        st->prec = vb->base.precision;
        if (vk_record_step(vb, st, err, errlen) != 0) {
            st->n = -1;
            return -1;
        }
    }
    st->last_use = ++vb->tick;
    if (vk_submit_wait(&vb->c, st->cb, err, errlen) != 0) return -1;
    if (vk_prof_collect(vb, st) != 0) {
        snprintf(err, errlen, "JOULE_VK_PROFILE: cannot read the timestamps");
        return -1;
    }
    return 0;
}

static int run_batch(struct vk_backend *vb, const int32_t *tokens, int32_t n, int32_t pos,
                     int32_t lrow0, int32_t nl, char *err, size_t errlen)
{
    return run_rows(vb, tokens, n, pos, NULL, NULL, lrow0, nl, err, errlen);
}

static int vb_forward(struct backend *b, const int32_t *tokens, int32_t n, int32_t pos,
                      bool all_logits, float *logits, char *err, size_t errlen)
{
    struct vk_backend *vb = (struct vk_backend *)b;
    const struct model_config *c = &b->model->cfg;
    /* input checked by backend_forward() */
    const float *lg = vb->staged_io ? vb->logits_host.map : vb->act[ACT_LOGITS].map;
    for (int32_t done = 0; done < n; done += b->max_batch) {
        int32_t m = n - done < b->max_batch ? n - done : b->max_batch;
        bool last = done + m == n;
        int32_t lrow0 = all_logits ? 0 : (last ? m - 1 : 0);
        int32_t nl = all_logits ? m : (last ? 1 : 0);
        if (run_batch(vb, tokens + done, m, pos + done, lrow0, nl, err, errlen) != 0) return -1;
        if (all_logits)
            memcpy(logits + (int64_t)done * c->n_vocab, lg,
                   sizeof(float) * (size_t)m * (size_t)c->n_vocab);
        else if (last)
            memcpy(logits, lg, sizeof(float) * (size_t)c->n_vocab);
    }
    return 0;
}

/* Rows of any sequences in one step (input checked by backend_forward_batch). Logits are
 * computed for the rows from the first to the last wanted one (in a serving step: the
 * decode rows, then a prompt chunk whose last row may be wanted) and the wanted kept. */
static int vb_forward_batch(struct backend *b, const struct backend_batch *bt, float *logits,
                            char *err, size_t errlen)
{
    struct vk_backend *vb = (struct vk_backend *)b;
    const size_t nv = (size_t)b->model->cfg.n_vocab;
    int32_t first = -1, last = -1;
    for (int32_t i = 0; bt->logits && i < bt->n; i++)
        if (bt->logits[i]) {
            if (first < 0) first = i;
            last = i;
        }
    int32_t lrow0 = first < 0 ? 0 : first, nl = first < 0 ? 0 : last - first + 1;
    if (run_rows(vb, bt->tokens, bt->n, 0, bt->pos, bt->seq, lrow0, nl, err, errlen) != 0)
        return -1;
    const float *lg = vb->staged_io ? vb->logits_host.map : vb->act[ACT_LOGITS].map;
    size_t k = 0;
    for (int32_t i = lrow0; i < lrow0 + nl; i++)
        if (bt->logits[i])
            memcpy(logits + nv * k++, lg + nv * (size_t)(i - lrow0), sizeof(float) * nv);
    return 0;
}

static const struct backend_ops vb_ops = {vb_forward, vb_destroy, vb_forward_batch};

static int new_graph(const struct model *m, const struct graph *g, const char *spec, int32_t n_ctx,
                     int32_t n_seq, struct backend **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!spec || !strcmp(spec, "auto")) spec = "vulkan";
    /* a model with types the shaders lack is "no suitable device": auto falls back */
    for (int32_t i = 0; i < g->n_ops; i++) {
        if (g->ops[i].kind > OP_SWIGLU) {
            snprintf(err, errlen, "op %s is not supported by the Vulkan backend yet",
                     op_name(g->ops[i].kind));
            return VK_NO_DEVICE;
        }
        if (g->ops[i].w && !weight_ok(g->ops[i].w, err, errlen)) return VK_NO_DEVICE;
    }
    struct vk_backend *vb = calloc(1, sizeof *vb);
    if (!vb) {
        snprintf(err, errlen, "out of memory");
        return VK_FAILED;
    }
    int rc = vk_ctx_open(&vb->c, spec, err, errlen);
    if (rc != VK_OK) {
        free(vb);
        return rc;
    }
    vb->base.ops = &vb_ops;
    vb->base.model = m;
    vb->base.n_ctx = n_ctx;
    vb->base.n_seq = n_seq;
    snprintf(vb->base.name, sizeof vb->base.name, "vulkan");
    const struct vk_devinfo *d = &vb->c.info;
    snprintf(vb->base.device, sizeof vb->base.device, "vulkan:%u %.120s (%s, %.80s)", d->index,
             d->props.deviceName, vk_device_type_str(d->props.deviceType), d->driver_name);
    snprintf(vb->base.pci_bus_id, sizeof vb->base.pci_bus_id, "%s", d->pci_bus_id);
    vb->matvec_max = (int32_t)vk_env_long(VKS_MATVEC_MAX, 2);
    vk_prof_init(vb);
    vb->graph.ops = malloc(sizeof *g->ops * (size_t)(g->n_ops ? g->n_ops : 1));
    if (!vb->graph.ops) {
        snprintf(err, errlen, "out of memory");
        vb_destroy(&vb->base);
        return VK_FAILED;
    }
    memcpy(vb->graph.ops, g->ops, sizeof *g->ops * (size_t)g->n_ops);
    vb->graph.n_ops = g->n_ops;
    if (n_ctx < 1 || setup(vb, err, errlen) != 0) {
        if (n_ctx < 1) snprintf(err, errlen, "context size %d is not usable", n_ctx);
        vb_destroy(&vb->base);
        return VK_FAILED;
    }
    *out = &vb->base;
    return VK_OK;
}

int vk_backend_new_graph(const struct model *m, const struct graph *g, const char *spec,
                         int32_t n_ctx, struct backend **out, char *err, size_t errlen)
{
    return new_graph(m, g, spec, n_ctx, 1, out, err, errlen);
}

int vk_backend_new_seq(const struct model *m, const char *spec, int32_t n_ctx, int32_t n_seq,
                       struct backend **out, char *err, size_t errlen)
{
    *out = NULL;
    struct graph g = {0};
    if (model_build_graph(m, &g, err, errlen) != 0) return VK_FAILED;
    int rc = new_graph(m, &g, spec, n_ctx, n_seq < 1 ? 1 : n_seq, out, err, errlen);
    graph_free(&g);
    return rc;
}

int vk_backend_new(const struct model *m, const char *spec, int32_t n_ctx, struct backend **out,
                   char *err, size_t errlen)
{
    return vk_backend_new_seq(m, spec, n_ctx, 1, out, err, errlen);
}

/* ---- test hooks ---- */

int vk_test_set_act(struct backend *b, enum act a, const float *data, int32_t rows, char *err,
                    size_t errlen)
{
    struct vk_backend *vb = (struct vk_backend *)b;
    uint64_t bytes = (uint64_t)rows * (uint64_t)act_width(&b->model->cfg, a) * 4;
    return vk_buf_upload(&vb->c, &vb->act[a], 0, data, bytes, err, errlen);
}

int vk_test_get_act(struct backend *b, enum act a, float *data, int32_t rows, char *err,
                    size_t errlen)
{
    struct vk_backend *vb = (struct vk_backend *)b;
    uint64_t bytes = (uint64_t)rows * (uint64_t)act_width(&b->model->cfg, a) * 4;
    return vk_buf_download(&vb->c, &vb->act[a], 0, data, bytes, err, errlen);
}

int vk_test_run(struct backend *b, const int32_t *tokens, int32_t n, int32_t pos, int32_t lrow0,
                int32_t nl, char *err, size_t errlen)
{
    return run_batch((struct vk_backend *)b, tokens, n, pos, lrow0, nl, err, errlen);
}

bool vk_test_used_pipe(struct backend *b, const char *name)
{
    const struct vk_backend *vb = (const struct vk_backend *)b;
    for (int32_t i = 0; i < vb->n_pipes; i++)
        if (strncmp(vb->pipes[i].name, name, strlen(name)) == 0) return true;
    return false;
}

uint32_t vk_test_wg(struct backend *b)
{
    return ((const struct vk_backend *)b)->c.wg;
}

bool vk_test_is_cpu(struct backend *b)
{
    return ((const struct vk_backend *)b)->c.cpu;
}

int vk_test_step_counts(struct backend *b, int32_t n, int32_t lrow0, int32_t nl,
                        int32_t *dispatches, int32_t *barriers)
{
    const struct vk_backend *vb = (const struct vk_backend *)b;
    for (int i = 0; i < VK_MAX_STEPS; i++) {
        const struct vk_step *s = &vb->steps[i];
        if (s->cb && s->n == n && s->lrow0 == lrow0 && s->nl == nl) {
            *dispatches = s->n_dispatch;
            *barriers = s->n_barrier;
            return 0;
        }
    }
    return -1;
}

bool vk_test_kv_f16(struct backend *b)
{
    return ((struct vk_backend *)b)->c.kv_f16;
}

int vk_test_get_kv(struct backend *b, int32_t layer, float *k, float *v, char *err, size_t errlen)
{
    struct vk_backend *vb = (struct vk_backend *)b;
    size_t count = (size_t)b->n_ctx * (size_t)vb->kv_dim;
    size_t es = vb->c.kv_f16 ? 2 : 4;
    void *tmp = malloc(count * es);
    if (!tmp) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int which = 0; which < 2; which++) {
        float *dst = which ? v : k;
        struct vk_buf *src = which ? &vb->vc[layer] : &vb->kc[layer];
        if (vk_buf_download(&vb->c, src, 0, tmp, count * es, err, errlen) != 0) {
            free(tmp);
            return -1;
        }
        for (size_t i = 0; i < count; i++)
            dst[i] = es == 2 ? quant_f16_to_f32(((uint16_t *)tmp)[i]) : ((float *)tmp)[i];
    }
    free(tmp);
    return 0;
}
