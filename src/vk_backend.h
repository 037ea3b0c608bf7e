/* vk_backend.h — the Vulkan backend's state, shared by vk_backend.c (setup, memory,
 * forward) and vk_record.c (pipelines and command recording). */
#ifndef JOULE_VK_BACKEND_H
#define JOULE_VK_BACKEND_H

#include "vk_impl.h"

/* bindings 0..VK_BINDINGS-1: storage buffers; VK_TEXEL_BINDING: the weights as texels */
enum { VK_BINDINGS = 6, VK_TEXEL_BINDING = 6, VK_WEIGHT_PAD = 64, VK_MAX_STEPS = 8, VK_MAX_PIPES = 64, VK_PUSH_BYTES = 64 };

/* A weight resident on the device, split into row chunks of at most max_range bytes. */
struct vk_weight {
    const void *data; /* identity: the file's bytes (a tied output shares the embedding) */
    uint32_t type;
    uint64_t row_bytes;
    uint32_t n_chunks;
    struct vk_buf *bufs;
    int64_t *row0, *rows;
    VkBufferView *views; /* per chunk, an R32G32B32A32_UINT view (NULL entries without texel) */
    bool texel;          /* every chunk has a view: matvec reads through them */
};

/* A command buffer recorded for one batch shape; re-submitted as is. */
struct vk_step {
    int32_t n, lrow0, nl;
    VkCommandBuffer cb;
    uint64_t last_use;
};

struct vk_pipe {
    char name[40];
    VkPipeline pipe;
};

struct vk_backend {
    struct backend base;
    struct vk_ctx c;
    struct graph graph;
    struct vk_weight *weights;
    int32_t n_weights;
    /* per op: the weight (or NULL) and a descriptor set per chunk */
    struct vk_weight **op_w;
    VkDescriptorSet **op_sets;
    struct vk_buf act[ACT_COUNT]; /* ACT_LOGITS is host-visible */
    struct vk_buf *kc, *vc;       /* per layer */
    struct vk_buf params;         /* pos0, n, tokens (host-written) */
    struct vk_buf rope;           /* cos/sin per position */
    struct vk_buf dummy;
    VkBufferView dummy_view;
    VkDescriptorSetLayout dsl;
    VkPipelineLayout layout;
    VkDescriptorPool dpool;
    struct vk_pipe pipes[VK_MAX_PIPES];
    int32_t n_pipes;
    struct vk_step steps[VK_MAX_STEPS];
    uint64_t tick;
    int64_t kv_dim;
    int32_t matvec_max; /* batches up to this many rows use matvec */
};

/* vk_record.c */
int vk_record_step(struct vk_backend *vb, struct vk_step *st, char *err, size_t errlen);
void vk_pipes_free(struct vk_backend *vb);
/* type suffix of shader names ("q4_0"), NULL when the type has no shaders */
const char *vk_type_suffix(uint32_t type);
/* whether matvec has texel-buffer variants for the type */
bool vk_texel_type(uint32_t type);

#endif
