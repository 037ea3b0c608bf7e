/* vk_backend.h — the Vulkan backend's state, shared by vk_backend.c (setup, memory,
 * forward) and vk_record.c (pipelines and command recording). */
#ifndef JOULE_VK_BACKEND_H
#define JOULE_VK_BACKEND_H

#include "vk_impl.h"

/* bindings 0..VK_BINDINGS-1: storage buffers; then VK_TEXEL_BINDINGS uniform texel buffers:
 * 6 the weights as 16-byte texels, 7 as 8-byte texels, 8 the source activation as vec4s
 * (the last two for the unit kernels); then, where the fused kernels run (vk_ctx's fuse),
 * VK_FUSE_BINDINGS more storage buffers (9..15: matvec_gpu_fused's second and third
 * weights, outputs and biases and the RMSNorm weight; rope_kv's RoPE table at 9) */
enum {
    VK_BINDINGS = 6,
    VK_TEXEL_BINDINGS = 3,
    VK_FUSE_BINDINGS = 7,
    VK_WEIGHT_PAD = 64,
    VK_MAX_STEPS = 8,
    VK_MAX_PIPES = 128,
    VK_PUSH_BYTES = 64
};

/* A weight resident on the device, split into row chunks of at most max_range bytes. */
struct vk_weight {
    const void *data; /* identity: the file's bytes (a tied output shares the embedding) */
    uint32_t type;
    uint64_t row_bytes;
    uint32_t n_chunks;
    struct vk_buf *bufs;
    int64_t *row0, *rows;
    VkBufferView *views;  /* per chunk, an R32G32B32A32_UINT view (NULL entries without texel) */
    VkBufferView *views8; /* per chunk, an R32G32_UINT view (NULL entries without unit) */
    bool texel;           /* every chunk has a view: matvec reads through them */
    bool unit;            /* every chunk has an 8-byte view and rows split into whole units:
                             matvec_unit applies */
};

/* A command buffer recorded for one batch shape; re-submitted as is. */
struct vk_step {
    int32_t n, lrow0, nl;
    enum precision prec; /* recorded for this precision (the int8 decode path or not) */
    VkCommandBuffer cb;
    uint64_t last_use;
    /* JOULE_VK_PROFILE: timestamps 0..nq, the k-th after op qop[k-1] (-1 - i: the fused unit
     * starting at op i) */
    VkQueryPool qp;
    int32_t *qop, nq;
    uint64_t runs;
    int32_t n_dispatch, n_barrier; /* recorded into cb (compute dispatches, their barriers) */
};

struct vk_prof_entry {
    char key[64];
    double ns;
    uint64_t calls;
};

struct vk_pipe {
    char name[40];
    uint32_t nt;   /* specialization constant 4 (matvec_gpu's tokens), else 0 */
    uint32_t tile; /* the tile shape (enum vk_tile_shape) of the tiled products, else 0 */
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
    /* per op: the descriptor set of the fused kernel a graph run starting there may take
     * (each product of a fused product run, the first rope of a rope run), or NULL */
    VkDescriptorSet *fuse_sets;
    struct vk_buf act[ACT_COUNT]; /* ACT_LOGITS is host-visible */
    struct vk_buf *kc, *vc;       /* per layer */
    VkBufferView *kv_views;       /* per layer: K and V as 4-element texels, when kv_texel */
    bool kv_texel;                /* attention reads q, K, V through texel views */
    struct vk_buf params;         /* pos0, n, tokens (host-written) */
    /* staged_io (no unified memory or resizable BAR: c.direct is off): the kernels read
     * params_dev, copied from params at the start of each step, and write the logits to
     * device-local memory, copied to logits_host (host-cached) at its end, instead of
     * reading and writing host memory across the bus */
    bool staged_io;
    struct vk_buf params_dev, logits_host;
    struct vk_buf rope; /* cos/sin per position */
    struct vk_buf dummy;
    /* split decode attention (attn_split, attn_merge): per row, head and split the partial
     * output, max and sum; split_max splits of up to 8 rows fit it (0: no buffer) */
    struct vk_buf attn_part;
    uint32_t split_max;
    /* the int8 decode path (c.int8): a product's input quantized per 32-element block
     * (quantize_q8.comp), up to VK_MVG_MAX_TOKENS rows of the widest product input */
    struct vk_buf xq8;
    long split_forced; /* JOULE_VK_SPLIT_KV, -1 when unset */
    long tile_forced;  /* JOULE_VK_ATTN_TILE, -1 when unset */
    VkBufferView dummy_view, dummy_view8, dummy_viewf;
    VkBufferView act_views[ACT_COUNT]; /* R32G32B32A32_SFLOAT views (unit kernels), or NULL */
    VkDescriptorSetLayout dsl;
    VkPipelineLayout layout;
    VkDescriptorPool dpool;
    struct vk_pipe pipes[VK_MAX_PIPES];
    int32_t n_pipes;
    struct vk_step steps[VK_MAX_STEPS];
    uint64_t tick;
    int64_t kv_dim;
    int32_t matvec_max; /* batches up to this many rows use matvec */
    bool prof_on;       /* JOULE_VK_PROFILE */
    struct vk_prof_entry *prof;
    int32_t n_prof, cap_prof;
};

/* vk_record.c */
int vk_record_step(struct vk_backend *vb, struct vk_step *st, char *err, size_t errlen);
/* the kernel family that runs MATMUL op i in a batch of n (nl logits rows from lrow0) */
enum vk_family vk_matmul_family(const struct vk_backend *vb, int32_t i, int32_t n, int32_t lrow0,
                                int32_t nl);
void vk_pipes_free(struct vk_backend *vb);
/* the first op of the graph run (n_fused) that holds op i */
int32_t vk_run_head(const struct graph *g, int32_t i);
/* whether the RMSNorm before the product run at h is marked to fold into it, and is one the
 * fused kernels can apply (whole rows, the products' x) */
bool vk_fold_norm(const struct vk_backend *vb, int32_t h);

/* vk_texel.c: the texel views of the CPU-Vulkan path (made, bound and freed there) */
/* vw's 16- and 8-byte views where the device and the weight (rows of ne0) allow them */
int vk_texel_weight_views(struct vk_backend *vb, struct vk_weight *vw, int64_t ne0, char *err,
                          size_t errlen);
/* activation a (bytes long) as vec4 texels, for the unit kernels */
int vk_texel_act_view(struct vk_backend *vb, int a, uint64_t bytes, char *err, size_t errlen);
/* every layer's K and V (kv_bytes each) as 4-element texels; sets vb->kv_texel */
int vk_texel_kv_views(struct vk_backend *vb, uint64_t kv_bytes, char *err, size_t errlen);
/* the views of the dummy buffer, bound where an op has no texel view */
int vk_texel_dummies(struct vk_backend *vb, char *err, size_t errlen);
/* the texel bindings of op o's descriptor set for weight chunk `chunk` */
void vk_texel_bindings(const struct vk_backend *vb, const struct op *o, const struct vk_weight *vw,
                       uint32_t chunk, VkBufferView view[VK_TEXEL_BINDINGS]);
void vk_texel_free(struct vk_backend *vb);

/* vk_prof.c: per-op device time (JOULE_VK_PROFILE=1); all no-ops when it is off */
void vk_prof_init(struct vk_backend *vb);
int vk_prof_begin(struct vk_backend *vb, struct vk_step *st, char *err, size_t errlen);
/* a timestamp after op (fused: after the fused unit that starts at op) */
void vk_prof_mark(struct vk_backend *vb, struct vk_step *st, int32_t op, bool fused);
int vk_prof_collect(struct vk_backend *vb, struct vk_step *st);
void vk_prof_report(struct vk_backend *vb);
void vk_prof_free(struct vk_backend *vb);

#endif
