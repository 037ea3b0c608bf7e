/* vk_record — compute pipelines from the embedded SPIR-V and the recording of one
 * forward pass (the graph, op by op) into a command buffer. Barriers go only between
 * dependent dispatches; the position and tokens come from the params buffer, so a
 * recorded step is valid for every position. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "quant.h"
#include "shaders.h"
#include "vk.h"
#include "vk_backend.h"
#include "vk_kernel.h"

/* The pipeline of kernel name with specialization constant 4 = nt and the sizes of tile shape
 * tile (one pipeline per value; 0 for the kernels without them) */
static VkPipeline get_pipe(struct vk_backend *vb, const char *name, uint32_t nt, uint32_t tile,
                           char *err, size_t errlen)
{
    for (int32_t i = 0; i < vb->n_pipes; i++)
        if (strcmp(vb->pipes[i].name, name) == 0 && vb->pipes[i].nt == nt &&
            vb->pipes[i].tile == tile)
            return vb->pipes[i].pipe;
    if (vb->n_pipes == VK_MAX_PIPES) {
        snprintf(err, errlen, "too many Vulkan pipelines");
        return VK_NULL_HANDLE;
    }
    const struct shader_blob *blob = vk_shader_find(name);
    if (!blob) {
        const char *needs = vk_shader_missing(name);
        if (needs)
            snprintf(err, errlen,
                     "kernel '%s' is not in this build: it needs a newer glslc (%s); ./build.sh "
                     "deps fetches one, then rebuild",
                     name, needs);
        else
            snprintf(err, errlen, "shader '%s' is not built into this binary", name);
        return VK_NULL_HANDLE;
    }
    const struct vk_fns *f = &vb->c.vi.f;
    VkShaderModuleCreateInfo smi = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                    .codeSize = blob->size,
                                    .pCode = blob->code};
    VkShaderModule mod;
    if (f->vkCreateShaderModule(vb->c.dev, &smi, NULL, &mod) != VK_SUCCESS) {
        snprintf(err, errlen, "cannot create the shader module '%s'", name);
        return VK_NULL_HANDLE;
    }
    /* 0: workgroup size, 1: matvec rows per group, 2: matmul rows per group, 3: matvec_gpu
     * rows per group, 4: matvec_gpu tokens, 5..9: the tile's rows, tokens, K step, rows and
     * tokens per invocation, 10..12: the cooperative-matrix shape (shaders ignore the ones
     * they do not declare) */
    const struct vk_tile *t = &vb->c.tiles[tile < VK_TILE_SHAPES ? tile : 0];
    uint32_t sc[13] = {tile ? t->wg : vb->c.wg,
                       vb->c.mv_rows,
                       vb->c.mm_rows,
                       vb->c.mvg_rows,
                       nt ? nt : 1,
                       t->bm,
                       t->bn,
                       t->bk,
                       t->tm,
                       t->tn,
                       vb->c.info.coop_m,
                       vb->c.info.coop_n,
                       vb->c.info.coop_k};
    VkSpecializationMapEntry me[13];
    for (uint32_t i = 0; i < 13; i++)
        me[i] = (VkSpecializationMapEntry){i, 4 * i, 4};
    VkSpecializationInfo spec = {13, me, sizeof sc, sc};
    /* the pinned subgroup size (vk_ctx_open): the one-subgroup reductions rely on it; the
     * tiled products have no subgroup operations and their own workgroup size: not pinned */
    bool pin = vb->c.pin_sg && tile != VK_TILE_SMALL && tile != VK_TILE_LARGE;
    VkPipelineShaderStageRequiredSubgroupSizeCreateInfo pin_ci = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_REQUIRED_SUBGROUP_SIZE_CREATE_INFO,
        .requiredSubgroupSize = vb->c.pin_sg};
    VkComputePipelineCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                  .pNext = pin ? &pin_ci : NULL,
                  .flags = pin && vb->c.pin_full && sc[0] % vb->c.pin_sg == 0
                               ? VK_PIPELINE_SHADER_STAGE_CREATE_REQUIRE_FULL_SUBGROUPS_BIT
                               : 0,
                  .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                  .module = mod,
                  .pName = "main",
                  .pSpecializationInfo = &spec},
        .layout = vb->layout,
    };
    VkPipeline p = VK_NULL_HANDLE;
    VkResult r = f->vkCreateComputePipelines(vb->c.dev, VK_NULL_HANDLE, 1, &ci, NULL, &p);
    f->vkDestroyShaderModule(vb->c.dev, mod, NULL);
    if (r != VK_SUCCESS) {
        snprintf(err, errlen, "cannot create the compute pipeline '%s': %s", name,
                 vk_result_str(r));
        return VK_NULL_HANDLE;
    }
    struct vk_pipe *e = &vb->pipes[vb->n_pipes++];
    snprintf(e->name, sizeof e->name, "%s", name);
    e->nt = nt;
    e->tile = tile;
    e->pipe = p;
    return p;
}

void vk_pipes_free(struct vk_backend *vb)
{
    for (int32_t i = 0; i < vb->n_pipes; i++)
        vb->c.vi.f.vkDestroyPipeline(vb->c.dev, vb->pipes[i].pipe, NULL);
    vb->n_pipes = 0;
}

/* ---- hazard tracking: a barrier only where an op touches what earlier ops wrote ---- */

/* RES_XQ8: the int8 decode path's quantized product input (vb->xq8) */
enum { RES_KV = ACT_COUNT, RES_XQ8, RES_COUNT };

struct hazards {
    bool written[RES_COUNT], read[RES_COUNT];
};

static void op_access(const struct op *o, bool rd[RES_COUNT], bool wr[RES_COUNT])
{
    memset(rd, 0, RES_COUNT * sizeof *rd);
    memset(wr, 0, RES_COUNT * sizeof *wr);
    switch (o->kind) {
    case OP_EMBED: wr[o->dst] = true; break;
    case OP_RMSNORM: rd[o->src] = wr[o->dst] = true; break;
    case OP_MATMUL:
        rd[o->src] = wr[o->dst] = true;
        if (o->accumulate) rd[o->dst] = true;
        break;
    case OP_ROPE: rd[o->dst] = wr[o->dst] = true; break;
    case OP_KV_STORE: rd[o->src] = rd[o->src2] = wr[RES_KV] = true; break;
    case OP_ATTENTION: rd[o->src] = rd[RES_KV] = wr[o->dst] = true; break;
    case OP_SWIGLU: rd[o->src] = rd[o->dst] = wr[o->dst] = true; break;
    default: break;
    }
}

/* ---- dispatch ---- */

struct rec {
    struct vk_backend *vb;
    const struct vk_fns *f;
    VkCommandBuffer cb;
    VkPipeline bound;
    char *err;
    size_t errlen;
    struct vk_step *st;
    struct hazards h;
    int32_t n_dispatch, n_barrier;
    /* what xq8 holds: activation xq_src (ACT_NONE: nothing) from float xq_off, xq_rows rows */
    enum act xq_src;
    uint32_t xq_off;
    int32_t xq_rows;
};

static void barrier(struct rec *r)
{
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT};
    r->f->vkCmdPipelineBarrier(r->cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                               VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb, 0, NULL, 0, NULL);
    r->n_barrier++;
}

/* a barrier before a dispatch that reads rd and writes wr, where earlier ones touched them */
static void hazard_rw(struct rec *r, const bool rd[RES_COUNT], const bool wr[RES_COUNT])
{
    struct hazards *h = &r->h;
    bool need = false;
    for (int i = 0; i < RES_COUNT; i++)
        if ((rd[i] && h->written[i]) || (wr[i] && (h->written[i] || h->read[i]))) need = true;
    if (need) {
        barrier(r);
        memset(h, 0, sizeof *h);
    }
    for (int i = 0; i < RES_COUNT; i++) {
        h->read[i] |= rd[i];
        h->written[i] |= wr[i];
    }
}

static void hazard_check(struct rec *r, const struct op *o)
{
    bool rd[RES_COUNT], wr[RES_COUNT];
    op_access(o, rd, wr);
    hazard_rw(r, rd, wr);
}

/* An access to resource res by the next dispatch of op o (whose own accesses are already
 * in r->h): a barrier first where it conflicts with what earlier dispatches did. */
static void hazard_access(struct rec *r, const struct op *o, int res, bool write)
{
    struct hazards *h = &r->h;
    if (h->written[res] || (write && h->read[res])) {
        barrier(r);
        memset(h, 0, sizeof *h);
        op_access(o, h->read, h->written);
    }
    if (write)
        h->written[res] = true;
    else
        h->read[res] = true;
}

static uint32_t cdiv(uint64_t a, uint64_t b)
{
    return (uint32_t)((a + b - 1) / b);
}

static int dispatch(struct rec *r, const char *pipe, uint32_t nt, uint32_t tile,
                    VkDescriptorSet set, const void *pc, uint32_t pc_bytes, uint32_t gx,
                    uint32_t gy)
{
    struct vk_backend *vb = r->vb;
    VkPipeline p = get_pipe(vb, pipe, nt, tile, r->err, r->errlen);
    if (!p) return -1;
    if (p != r->bound) {
        r->f->vkCmdBindPipeline(r->cb, VK_PIPELINE_BIND_POINT_COMPUTE, p);
        r->bound = p;
    }
    r->f->vkCmdBindDescriptorSets(r->cb, VK_PIPELINE_BIND_POINT_COMPUTE, vb->layout, 0, 1, &set, 0,
                                  NULL);
    r->f->vkCmdPushConstants(r->cb, vb->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, pc_bytes, pc);
    /* more groups than the x limit fold into z (shaders use group_x()) */
    const uint32_t *lim = vb->c.info.props.limits.maxComputeWorkGroupCount;
    uint32_t gz = 1;
    if (gx > lim[0]) {
        gz = cdiv(gx, lim[0]);
        gx = lim[0];
    }
    if (gy > lim[1] || gz > lim[2]) {
        snprintf(r->err, r->errlen, "dispatch of %u x %u x %u groups exceeds the device limits", gx,
                 gy, gz);
        return -1;
    }
    if (gx && gy) {
        r->f->vkCmdDispatch(r->cb, gx, gy, gz);
        r->n_dispatch++;
    }
    return 0;
}

/* Matvec rows per workgroup. GPUs: mv_rows. CPU implementations run a workgroup on one
 * thread, and its rows are read as one stream per row: about 128 KiB of rows per group
 * (many short rows, few long ones) keeps those streams few and long enough for the
 * hardware prefetchers, and at least 8 groups keep every thread busy. Measured on
 * llvmpipe (qwen2.5-0.5b shapes): 32 rows for every weight gave 6.6 tokens/s, this 11. */
static uint32_t matvec_rows(const struct vk_ctx *c, uint64_t row_bytes, int64_t rows)
{
    if (c->mv_rows_forced) return c->mv_rows_forced;
    if (!c->cpu) return c->mv_rows;
    uint64_t r = ((uint64_t)128 << 10) / (row_bytes ? row_bytes : 1);
    uint64_t spread = ((uint64_t)rows + 7) / 8;
    if (r > spread) r = spread;
    if (r > c->mv_rows) r = c->mv_rows;
    return r < 1 ? 1 : (uint32_t)r;
}

/* the chooser's view of the device */
static struct vk_profile profile(const struct vk_backend *vb)
{
    const struct vk_ctx *c = &vb->c;
    return (struct vk_profile){.red = c->red,
                               .kv_f16 = c->kv_f16,
                               .unit = c->unit,
                               .mv_gpu = c->mv_gpu,
                               .tile = c->tile,
                               .coopmat = c->coopmat,
                               .int8 = vb->base.precision == PRECISION_FAST && vb->xq8.buf,
                               /* the fused kernels are float: not in the int8 path */
                               .fuse = c->fuse &&
                                       !(vb->base.precision == PRECISION_FAST && vb->xq8.buf)};
}

_Static_assert(sizeof(struct vk_pc_matmul) <= VK_PUSH_BYTES, "push constants exceed the layout");

/* Names kernel k, makes (or finds) its pipeline and dispatches it. */
static int dispatch_kernel(struct rec *r, const struct vk_kernel *k, VkDescriptorSet set,
                           const void *pc, uint32_t pc_bytes, uint32_t gx, uint32_t gy)
{
    char name[sizeof r->vb->pipes[0].name];
    if (vk_kernel_name(k, name, sizeof name) != 0) {
        snprintf(r->err, r->errlen, "no Vulkan kernel for family %d, type %u", (int)k->family,
                 k->type);
        return -1;
    }
    return dispatch(r, name, k->nt, k->tile, set, pc, pc_bytes, gx, gy);
}

/* The rows (tokens) op o computes in a batch of n (nl logits rows from lrow0) and where its
 * source and destination rows start (in floats). */
static int32_t op_rows(const struct vk_backend *vb, const struct op *o, int32_t n, int32_t lrow0,
                       int32_t nl, uint32_t *src_off, uint32_t *dst_off)
{
    const struct model_config *c = &vb->base.model->cfg;
    *src_off = *dst_off = 0;
    if (o->logits_rows) {
        *src_off = o->src != ACT_NONE ? (uint32_t)(lrow0 * act_width(c, o->src)) : 0;
        if (o->dst != ACT_LOGITS) *dst_off = (uint32_t)(lrow0 * act_width(c, o->dst));
    }
    return o->logits_rows ? nl : n;
}

/* The kernel of MATMUL op i over rows tokens from x's float src_off: the case as the
 * chooser sees it, and its choice. */
static struct vk_kernel matmul_kernel(const struct vk_backend *vb, int32_t i, int32_t rows,
                                      uint32_t src_off)
{
    const struct op *o = &vb->graph.ops[i];
    const struct vk_weight *vw = vb->op_w[i];
    const struct model_config *c = &vb->base.model->cfg;
    const uint32_t wg = vb->c.wg;
    bool aligned = src_off % 4 == 0 && act_width(c, o->src) % 4 == 0;
    /* groups of wg x 8 tokens filled to within 1/8 */
    uint64_t slots = (uint64_t)cdiv(rows, wg * 8) * wg * 8;
    struct vk_profile p = profile(vb);
    struct vk_matmul_case mc = {.type = vw->type,
                                .tokens = (uint32_t)rows,
                                .matvec = rows <= vb->matvec_max,
                                .x4_rows = o->w->ne0 % 4 == 0 && aligned,
                                .xtex = vb->act_views[o->src] && aligned,
                                .w_texel = vw->texel,
                                .w_unit = vw->unit,
                                .fill8 = (slots - (uint64_t)rows) * 8 <= (uint64_t)rows};
    return vk_choose_matmul(&p, &mc);
}

enum vk_family vk_matmul_family(const struct vk_backend *vb, int32_t i, int32_t n, int32_t lrow0,
                                int32_t nl)
{
    uint32_t src_off, dst_off;
    int32_t rows = op_rows(vb, &vb->graph.ops[i], n, lrow0, nl, &src_off, &dst_off);
    return matmul_kernel(vb, i, rows, src_off).family;
}

static int record_matmul(struct rec *r, int32_t i, VkDescriptorSet *sets, int32_t rows,
                         uint32_t src_off, uint32_t dst_off)
{
    struct vk_backend *vb = r->vb;
    const struct op *o = &vb->graph.ops[i];
    const struct vk_weight *vw = vb->op_w[i];
    const struct model_config *c = &vb->base.model->cfg;
    const uint32_t wg = vb->c.wg;
    struct vk_kernel k = matmul_kernel(vb, i, rows, src_off);
    uint32_t tn = k.tn ? k.tn : 4;
    /* matvec_gpu: mvg_rows rows x every token per group; the other matvecs: rpg rows x 1
     * token; matmul: mm_rows rows x wg x tn tokens; the tiled ones: a tile */
    bool gpu = k.family == VKF_MATVEC_GPU || k.family == VKF_MATVEC_Q8;
    if (k.family == VKF_MATVEC_Q8 &&
        (r->xq_src != o->src || r->xq_off != src_off || r->xq_rows != rows)) {
        /* the input quantized once for the products that share it (q/k/v, gate/up) */
        struct vk_kernel qk = vk_choose_quant_q8();
        struct vk_pc_matmul qp = {.ne0 = (uint32_t)o->w->ne0,
                                  .n = (uint32_t)rows,
                                  .x_off = src_off,
                                  .x_stride = (uint32_t)act_width(c, o->src)};
        hazard_access(r, o, RES_XQ8, true);
        if (dispatch_kernel(r, &qk, sets[0], &qp, sizeof qp,
                            cdiv((uint64_t)rows * (uint64_t)(o->w->ne0 / 32), wg), 1))
            return -1;
        r->xq_src = o->src;
        r->xq_off = src_off;
        r->xq_rows = rows;
    }
    if (k.family == VKF_MATVEC_Q8) hazard_access(r, o, RES_XQ8, false);
    bool per_token = k.family == VKF_MATVEC || k.family == VKF_CPU_MATVEC_UNIT ||
                     k.family == VKF_CPU_MATVEC_KUNIT;
    for (uint32_t ch = 0; ch < vw->n_chunks; ch++) {
        uint32_t rpg = gpu ? vb->c.mvg_rows : matvec_rows(&vb->c, vw->row_bytes, vw->rows[ch]);
        struct vk_pc_matmul pc = {.ne0 = (uint32_t)o->w->ne0,
                                  .rows = (uint32_t)vw->rows[ch],
                                  .row_bytes = (uint32_t)vw->row_bytes,
                                  .n = (uint32_t)rows,
                                  .x_off = src_off,
                                  .x_stride = (uint32_t)act_width(c, o->src),
                                  .y_off = dst_off,
                                  .y_stride = (uint32_t)act_width(c, o->dst),
                                  .row_base = (uint32_t)vw->row0[ch],
                                  .flags = (o->accumulate ? 1u : 0u) | (o->b ? 2u : 0u),
                                  .rpg = rpg};
        uint32_t gx = cdiv(vw->rows[ch], gpu || per_token ? rpg : vb->c.mm_rows);
        uint32_t gy = gpu ? 1 : per_token ? (uint32_t)rows : cdiv(rows, wg * tn);
        if (k.tile) { /* the tiled kernels: bm rows x bn tokens per group */
            gx = cdiv(vw->rows[ch], vb->c.tiles[k.tile].bm);
            gy = cdiv(rows, vb->c.tiles[k.tile].bn);
        }
        if (dispatch_kernel(r, &k, sets[ch], &pc, sizeof pc, gx, gy)) return -1;
    }
    return 0;
}

static int record_op(struct rec *r, int32_t i, int32_t n, int32_t lrow0, int32_t nl)
{
    struct vk_backend *vb = r->vb;
    const struct op *o = &vb->graph.ops[i];
    const struct model_config *c = &vb->base.model->cfg;
    const uint32_t wg = vb->c.wg;
    const struct vk_profile p = profile(vb);
    uint32_t src_off, dst_off;
    int32_t rows = op_rows(vb, o, n, lrow0, nl, &src_off, &dst_off);
    if (rows <= 0) return 0;
    VkDescriptorSet *sets = vb->op_sets[i];
    const struct vk_weight *vw = vb->op_w[i];
    switch (o->kind) {
    case OP_EMBED: {
        struct vk_kernel k = vk_choose_embed(vw->type);
        for (uint32_t ch = 0; ch < vw->n_chunks; ch++) {
            struct vk_pc_embed pc = {.ne0 = (uint32_t)o->w->ne0,
                                     .rows = (uint32_t)vw->rows[ch],
                                     .row_bytes = (uint32_t)vw->row_bytes,
                                     .n = (uint32_t)n,
                                     .row_first = (uint32_t)vw->row0[ch]};
            if (dispatch_kernel(r, &k, sets[ch], &pc, sizeof pc, cdiv(o->w->ne0, wg), (uint32_t)n))
                return -1;
        }
        return 0;
    }
    case OP_RMSNORM: {
        /* each dim-long piece of a row (a whole row, or one head for q/k norms) */
        int32_t dim = o->dim > 0 ? o->dim : c->n_embd;
        uint32_t pieces = (uint32_t)(act_width(c, o->dst) / dim);
        struct vk_pc_rmsnorm pc = {
            .dim = (uint32_t)dim, .x_off = src_off, .y_off = dst_off, .eps = c->rms_eps};
        struct vk_kernel k = vk_choose_rmsnorm(&p);
        return dispatch_kernel(r, &k, sets[0], &pc, sizeof pc, 1, (uint32_t)rows * pieces);
    }
    case OP_MATMUL: return record_matmul(r, i, sets, rows, src_off, dst_off);
    case OP_ROPE: {
        struct vk_pc_rope pc = {.n_heads = (uint32_t)o->n_heads,
                                .head_dim = (uint32_t)c->head_dim,
                                .rope_dim = (uint32_t)c->rope_dim,
                                .neox = c->rope_type == ROPE_NEOX ? 1u : 0u};
        struct vk_kernel k = vk_choose_rope();
        return dispatch_kernel(r, &k, sets[0], &pc, sizeof pc,
                               cdiv((uint64_t)o->n_heads * (c->rope_dim / 2), wg), (uint32_t)n);
    }
    case OP_KV_STORE: {
        struct vk_pc_kv_store pc = {.kv_dim = (uint32_t)vb->kv_dim};
        struct vk_kernel k = vk_choose_kv_store(&p);
        return dispatch_kernel(r, &k, sets[0], &pc, sizeof pc, cdiv(vb->kv_dim / 2, wg),
                               (uint32_t)n);
    }
    case OP_ATTENTION: {
        struct vk_pc_attention pc = {.n_head = (uint32_t)c->n_head,
                                     .n_head_kv = (uint32_t)c->n_head_kv,
                                     .head_dim = (uint32_t)c->head_dim,
                                     .scale = 1.0f / sqrtf((float)c->head_dim),
                                     .window = (uint32_t)(o->window > 0 ? o->window : 0)};
        /* q through its vec4 texel view too */
        struct vk_attn_case ac = {
            .texel = vb->kv_texel && vb->act_views[o->src],
            .head_dim = (uint32_t)c->head_dim,
            .wg = vb->c.wg,
            .splits =
                vk_attn_splits(vb->c.cpu, vb->split_forced, n, c->n_head, c->n_head_kv, c->head_dim,
                               vb->c.info.props.limits.maxComputeSharedMemorySize)};
        if (ac.splits > vb->split_max) ac.splits = vb->split_max;
        ac.tile =
            vk_attn_tile_rows(vb->c.cpu, vb->tile_forced, n, c->n_head, c->n_head_kv, c->head_dim,
                              vb->c.info.props.limits.maxComputeSharedMemorySize);
        struct vk_kernel k = vk_choose_attention(&p, &ac);
        if (k.family == VKF_ATTN_TILE) { /* one workgroup per KV head and tile of rows */
            pc.tq = ac.tile;
            pc.n_rows = (uint32_t)n;
            return dispatch_kernel(r, &k, sets[0], &pc, sizeof pc, pc.n_head_kv,
                                   cdiv((uint64_t)n, ac.tile));
        }
        if (k.family != VKF_ATTN_SPLIT)
            return dispatch_kernel(r, &k, sets[0], &pc, sizeof pc, pc.n_head, (uint32_t)n);
        /* n_head_kv x splits groups write the partials, a barrier, n_head merge them */
        pc.n_split = ac.splits;
        if (dispatch_kernel(r, &k, sets[0], &pc, sizeof pc, pc.n_head_kv * ac.splits,
                            (uint32_t)n) != 0)
            return -1;
        barrier(r);
        struct vk_kernel mk = vk_choose_attn_merge();
        return dispatch_kernel(r, &mk, sets[0], &pc, sizeof pc, pc.n_head, (uint32_t)n);
    }
    case OP_SWIGLU: {
        struct vk_pc_swiglu pc = {.width = (uint32_t)act_width(c, o->dst)};
        struct vk_kernel k = vk_choose_swiglu();
        return dispatch_kernel(r, &k, sets[0], &pc, sizeof pc, cdiv(pc.width, wg), (uint32_t)n);
    }
    default: snprintf(r->err, r->errlen, "op %s is not supported by Vulkan", op_name(o->kind));
    }
    return -1;
}

/* ---- fused units: graph runs (model.h's marks) as one dispatch ---- */

int32_t vk_run_head(const struct graph *g, int32_t i)
{
    int32_t h = 0;
    while (h < g->n_ops) {
        int32_t len = g->ops[h].n_fused > 1 ? g->ops[h].n_fused : 1;
        if (i < h + len) return h;
        h += len;
    }
    return i;
}

bool vk_fold_norm(const struct vk_backend *vb, int32_t h)
{
    const struct graph *g = &vb->graph;
    if (h < 1 || h >= g->n_ops || g->ops[h].kind != OP_MATMUL) return false;
    const struct op *nm = &g->ops[h - 1];
    const struct model_config *c = &vb->base.model->cfg;
    return nm->kind == OP_RMSNORM && nm->fold && nm->src != ACT_NONE &&
           nm->dim == act_width(c, nm->dst) && act_width(c, nm->src) == act_width(c, nm->dst) &&
           vb->op_w[h - 1] && g->ops[h].w->ne0 == nm->dim;
}

/* The products of the run at h (n of them) in a step of rows from float src_off: whether a
 * fused kernel takes every one (then the whole run is fused, with its RMSNorm where it
 * folds), and, into k, the kernel of each. */
static bool run_fused(const struct vk_backend *vb, int32_t h, int32_t rows, uint32_t src_off,
                      struct vk_kernel k[])
{
    const struct graph *g = &vb->graph;
    const struct op *o = &g->ops[h];
    if (o->kind != OP_MATMUL || !vb->fuse_sets[h]) return false;
    const struct model_config *c = &vb->base.model->cfg;
    const struct vk_profile p = profile(vb);
    const int32_t n = o->n_fused > 1 ? o->n_fused : 1;
    const bool glu = o->glu && vb->op_w[h]->type == vb->op_w[h + 1]->type;
    for (int32_t j = 0; j < n; j++) {
        const struct op *q = &g->ops[h + j];
        struct vk_fused_case fc = {.type = vb->op_w[h + j]->type,
                                   .tokens = (uint32_t)rows,
                                   .x4_rows = q->w->ne0 % 4 == 0 && src_off % 4 == 0 &&
                                              act_width(c, q->src) % 4 == 0,
                                   .glu = glu};
        /* (outputs at row 0: logits rows only into the logits) */
        if (!vb->fuse_sets[h + j] || (q->logits_rows && q->dst != ACT_LOGITS) ||
            !vk_choose_matmul_fused(&p, &fc, &k[j]))
            return false;
    }
    return true;
}

/* Records the fused run at h (run_fused said so, kernels k): gate + up + SwiGLU as one GLU
 * dispatch where glu holds and both types match, else sets of up to VK_FUSE_MAX_SET
 * products of one type; x normalised in the kernel where the RMSNorm folds. Returns the ops
 * done (the SwiGLU too when it went into the product). */
static int32_t record_fused_run(struct rec *r, int32_t h, const struct vk_kernel k[], int32_t rows,
                                uint32_t src_off)
{
    struct vk_backend *vb = r->vb;
    const struct graph *g = &vb->graph;
    const struct model_config *c = &vb->base.model->cfg;
    const struct op *o = &g->ops[h];
    const int32_t n = o->n_fused > 1 ? o->n_fused : 1;
    const bool fold = vk_fold_norm(vb, h), glu = k[0].fuse == VK_FUSE_GLU;
    const enum act x = fold ? g->ops[h - 1].src : o->src;
    const uint32_t R = vb->c.mvg_rows;
    for (int32_t j = 0; j < n;) {
        int32_t m = 1; /* products in this dispatch */
        if (glu)
            m = 2;
        else
            while (j + m < n && m < VK_FUSE_MAX_SET && k[j + m].type == k[j].type)
                m++;
        const struct op *q = &g->ops[h + j];
        struct vk_pc_mvg_fused pc = {.ne0 = (uint32_t)q->w->ne0,
                                     .row_bytes = (uint32_t)vb->op_w[h + j]->row_bytes,
                                     .x_off = src_off,
                                     .x_stride = (uint32_t)act_width(c, x),
                                     .flags = fold ? 1u : 0u,
                                     .eps = c->rms_eps};
        bool rd[RES_COUNT] = {false}, wr[RES_COUNT] = {false};
        rd[x] = true;
        uint32_t groups = 0;
        for (int32_t e = 0; e < m; e++) {
            const struct op *p = &q[e];
            pc.rows[e] = (uint32_t)p->w->ne1;
            pc.y_stride[e] = (uint32_t)act_width(c, p->dst);
            if (p->b) pc.flags |= 2u << e;
            if (e == 1) pc.g1 = groups;
            if (e == 2) pc.g2 = groups;
            if (!glu) groups += cdiv(pc.rows[e], R);
            wr[p->dst] = !glu || e == 0; /* GLU: up is never written */
        }
        if (m < 2) pc.g1 = groups;
        if (m < 3) pc.g2 = groups;
        if (glu) groups = cdiv(pc.rows[0], R);
        hazard_rw(r, rd, wr);
        if (dispatch_kernel(r, &k[j], vb->fuse_sets[h + j], &pc, sizeof pc, groups, 1)) return -1;
        vk_prof_mark(vb, r->st, h + j, true);
        j += m;
    }
    return glu ? n + 1 : n;
}

/* Records rope run i (rope q, rope k, KV store) as one rope_kv dispatch of n rows. */
static int32_t record_rope_kv(struct rec *r, int32_t i, const struct vk_kernel *k, int32_t n)
{
    struct vk_backend *vb = r->vb;
    const struct model_config *c = &vb->base.model->cfg;
    const struct op *o = &vb->graph.ops[i], *kv = o + 2;
    struct vk_pc_rope_kv pc = {.n_head = (uint32_t)o->n_heads,
                               .n_head_kv = (uint32_t)o[1].n_heads,
                               .head_dim = (uint32_t)c->head_dim,
                               .rope_dim = (uint32_t)c->rope_dim,
                               .neox = c->rope_type == ROPE_NEOX ? 1u : 0u};
    bool rd[RES_COUNT] = {false}, wr[RES_COUNT] = {false};
    rd[o->dst] = rd[o[1].dst] = rd[kv->src2] = true;
    wr[o->dst] = wr[RES_KV] = true;
    hazard_rw(r, rd, wr);
    uint64_t q_pairs = (uint64_t)pc.n_head * (uint32_t)(c->rope_dim / 2);
    uint64_t kv_pairs = (uint64_t)pc.n_head_kv * pc.head_dim / 2;
    uint64_t items = q_pairs > kv_pairs ? q_pairs : kv_pairs;
    if (dispatch_kernel(r, k, vb->fuse_sets[i], &pc, sizeof pc, cdiv(items, vb->c.wg), (uint32_t)n))
        return -1;
    vk_prof_mark(vb, r->st, i, true);
    return 3;
}

/* Records op i, or the graph run that starts there as one fused unit where the device fuses
 * it. Returns the ops done, or -1. */
static int32_t record_unit(struct rec *r, int32_t i)
{
    struct vk_backend *vb = r->vb;
    const struct vk_step *st = r->st;
    const struct op *o = &vb->graph.ops[i];
    uint32_t src_off, dst_off;
    int32_t rows = op_rows(vb, o, st->n, st->lrow0, st->nl, &src_off, &dst_off);
    struct vk_kernel k[8];
    const int32_t run = o->n_fused > 1 ? o->n_fused : 1;
    if (rows > 0 && vb->fuse_sets && run <= (int32_t)(sizeof k / sizeof k[0])) {
        /* an RMSNorm folded into the fused products after it: nothing to record (their
         * rows and x offset are the norm's: the same rows, widths and logits_rows) */
        if (o->kind == OP_RMSNORM && vk_fold_norm(vb, i + 1) &&
            run_fused(vb, i + 1, rows, src_off, k))
            return 1;
        if (o->kind == OP_MATMUL && run_fused(vb, i, rows, src_off, k))
            return record_fused_run(r, i, k, rows, src_off);
        const struct vk_profile p = profile(vb);
        if (o->kind == OP_ROPE && run == 3 && vb->fuse_sets[i] && vk_choose_rope_kv(&p, k))
            return record_rope_kv(r, i, k, st->n);
    }
    /* op by op (a run's products too) */
    const int32_t n = o->kind == OP_MATMUL ? run : 1;
    for (int32_t j = i; j < i + n; j++) {
        hazard_check(r, &vb->graph.ops[j]);
        if (record_op(r, j, st->n, st->lrow0, st->nl) != 0) return -1;
        vk_prof_mark(vb, r->st, j, false);
    }
    return n;
}

int vk_record_step(struct vk_backend *vb, struct vk_step *st, char *err, size_t errlen)
{
    const struct vk_fns *f = &vb->c.vi.f;
    if (!st->cb) {
        VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                          .commandPool = vb->c.pool,
                                          .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                          .commandBufferCount = 1};
        if (f->vkAllocateCommandBuffers(vb->c.dev, &ai, &st->cb) != VK_SUCCESS) {
            snprintf(err, errlen, "cannot allocate a command buffer");
            st->cb = VK_NULL_HANDLE;
            return -1;
        }
    }
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    if (f->vkBeginCommandBuffer(st->cb, &bi) != VK_SUCCESS) {
        snprintf(err, errlen, "vkBeginCommandBuffer failed");
        return -1;
    }
    if (vk_prof_begin(vb, st, err, errlen) != 0) {
        f->vkEndCommandBuffer(st->cb);
        return -1;
    }
    if (vb->staged_io) { /* this step's parameters into device-local memory */
        VkBufferCopy reg = {0, 0, vb->params.size};
        f->vkCmdCopyBuffer(st->cb, vb->params.buf, vb->params_dev.buf, 1, &reg);
        VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                              .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                              .dstAccessMask = VK_ACCESS_SHADER_READ_BIT};
        f->vkCmdPipelineBarrier(st->cb, VK_PIPELINE_STAGE_TRANSFER_BIT,
                                VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb, 0, NULL, 0, NULL);
    }
    struct rec r = {
        .vb = vb, .f = f, .cb = st->cb, .err = err, .errlen = errlen, .st = st, .xq_src = ACT_NONE};
    /* the previous step's writes (host reads and the next step's shaders are ordered by
     * the fence wait; the host-written params by the submit) */
    for (int32_t i = 0; i < vb->graph.n_ops;) {
        const struct op *o = &vb->graph.ops[i];
        if (o->logits_rows && st->nl <= 0) {
            i++;
            continue;
        }
        int32_t done = record_unit(&r, i);
        if (done <= 0) {
            f->vkEndCommandBuffer(st->cb);
            return -1;
        }
        for (int32_t j = i; j < i + done; j++) /* a quantized input made stale by a write */
            if (vb->graph.ops[j].dst == r.xq_src) r.xq_src = ACT_NONE;
        i += done;
    }
    st->n_dispatch = r.n_dispatch;
    st->n_barrier = r.n_barrier;
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_HOST_READ_BIT | VK_ACCESS_SHADER_READ_BIT |
                                           VK_ACCESS_SHADER_WRITE_BIT |
                                           VK_ACCESS_TRANSFER_READ_BIT};
    f->vkCmdPipelineBarrier(st->cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                            VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT |
                                VK_PIPELINE_STAGE_TRANSFER_BIT,
                            0, 1, &mb, 0, NULL, 0, NULL);
    if (vb->staged_io && st->nl > 0) { /* the logits rows to host-cached memory */
        VkBufferCopy reg = {0, 0,
                            (VkDeviceSize)st->nl * (VkDeviceSize)vb->base.model->cfg.n_vocab * 4};
        f->vkCmdCopyBuffer(st->cb, vb->act[ACT_LOGITS].buf, vb->logits_host.buf, 1, &reg);
        VkMemoryBarrier hb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                              .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                              .dstAccessMask = VK_ACCESS_HOST_READ_BIT};
        f->vkCmdPipelineBarrier(st->cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT,
                                0, 1, &hb, 0, NULL, 0, NULL);
    }
    if (f->vkEndCommandBuffer(st->cb) != VK_SUCCESS) {
        snprintf(err, errlen, "vkEndCommandBuffer failed");
        return -1;
    }
    return vk_check_validation(&vb->c.vi, err, errlen);
}
