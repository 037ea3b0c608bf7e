/* vk_kernel — the kernel choosers and the one naming function (see vk_kernel.h). */
#include "vk_kernel.h"

#include <stdio.h>

#include "quant.h"

const char *vk_type_suffix(uint32_t type)
{
    switch (type) {
    case Q_F32: return "f32";
    case Q_F16: return "f16";
    case Q_BF16: return "bf16";
    case Q_Q8_0: return "q8_0";
    case Q_Q4_0: return "q4_0";
    case Q_Q4_1: return "q4_1";
    case Q_Q5_0: return "q5_0";
    case Q_Q5_1: return "q5_1";
    case Q_Q2_K: return "q2_k";
    case Q_Q3_K: return "q3_k";
    case Q_Q4_K: return "q4_k";
    case Q_Q5_K: return "q5_k";
    case Q_Q6_K: return "q6_k";
    default: return NULL;
    }
}

int64_t vk_unit_elems(uint32_t type)
{
    /* shaders/common.glsl, UNIT: 4 blocks (2 for f32, whose 16-element blocks are 64 bytes) */
    switch (type) {
    case Q_F32: return 32;
    case Q_F16:
    case Q_BF16: return 64;
    case Q_Q8_0:
    case Q_Q4_0:
    case Q_Q4_1:
    case Q_Q5_0:
    case Q_Q5_1: return 128;
    default: return 0;
    }
}

static bool is_float(uint32_t t)
{
    return t == Q_F32 || t == Q_F16 || t == Q_BF16;
}

static bool is_k(uint32_t t)
{
    return t >= Q_Q2_K && t <= Q_Q6_K;
}

enum vk_reduce vk_reduce_form(bool arith, bool shuffle, uint32_t wg, uint32_t pinned_sg,
                              bool no_subgroup, bool multi)
{
    bool use = arith && !no_subgroup;
    if (use && shuffle && pinned_sg && wg <= pinned_sg && !multi) return VK_RED_ONE_SUBGROUP;
    return use ? VK_RED_SUBGROUP : VK_RED_SHARED;
}

uint32_t vk_pinned_subgroup(uint32_t sg, uint32_t min, uint32_t max)
{
    if (sg < min) sg = min;
    if (sg > max) sg = max;
    return sg;
}

uint32_t vk_workgroup_size(bool cpu, uint32_t sg, long forced, uint32_t lim)
{
    uint32_t wg = cpu ? sg : (sg > 64 ? sg : 64);
    if (forced > 0) wg = (uint32_t)forced;
    if (wg < 4) wg = 4;
    while (wg & (wg - 1))
        wg &= wg - 1; /* power of two (tree reductions) */
    while (wg > lim)
        wg /= 2;
    return wg;
}

bool vk_mv_gpu_on(bool cpu, int forced)
{
    return forced < 0 ? !cpu : forced > 0;
}

struct vk_kernel vk_choose_embed(uint32_t type)
{
    return (struct vk_kernel){.family = VKF_EMBED, .type = type};
}

struct vk_kernel vk_choose_rmsnorm(const struct vk_profile *p)
{
    return (struct vk_kernel){.family = VKF_RMSNORM, .red = p->red};
}

bool vk_mv_gpu_type(uint32_t type)
{
    return type == Q_Q8_0 || type == Q_Q4_0 || type == Q_Q4_K || type == Q_Q6_K;
}

struct vk_kernel vk_choose_matmul(const struct vk_profile *p, const struct vk_matmul_case *m)
{
    /* GPUs: batches of up to VK_MVG_MAX_TOKENS tokens of the common types in one workgroup
     * per few rows (every weight block read and decoded once for all tokens), x as vec4 */
    if (p->mv_gpu && vk_mv_gpu_type(m->type) && m->x4_rows && m->tokens >= 1 &&
        m->tokens <= VK_MVG_MAX_TOKENS)
        return (struct vk_kernel){
            .family = VKF_MATVEC_GPU, .type = m->type, .red = p->red, .nt = (uint8_t)m->tokens};
    /* the unit kernels (CPU devices) read x as vec4 texels; K types stage whole
     * super-blocks from 16-byte texels */
    bool unit = m->w_unit && m->xtex && p->unit && vk_unit_elems(m->type) > 0;
    bool kunit = m->w_texel && p->unit && is_k(m->type) && m->xtex;
    if (m->matvec) {
        if (unit || kunit)
            return (struct vk_kernel){.family = unit ? VKF_CPU_MATVEC_UNIT : VKF_CPU_MATVEC_KUNIT,
                                      .type = m->type,
                                      .red = p->red};
        /* float rows of a multiple of 4 (and so 4-aligned x rows) read x as vec4 */
        return (struct vk_kernel){.family = VKF_MATVEC,
                                  .type = m->type,
                                  .red = p->red,
                                  .x4 = is_float(m->type) && m->x4_rows,
                                  .texel = m->w_texel};
    }
    /* unit kernels: 8 tokens per invocation where the batch fills the groups to within
     * 1/8 (half the weight reads and decoding per token), else 4 */
    uint8_t tn = m->fill8 ? 8 : 4;
    if (unit || kunit)
        return (struct vk_kernel){
            .family = unit ? VKF_CPU_MATMUL_UNIT : VKF_CPU_MATMUL_KUNIT, .type = m->type, .tn = tn};
    return (struct vk_kernel){
        .family = VKF_MATMUL, .type = m->type, .texel = m->w_texel && is_k(m->type)};
}

bool vk_choose_matmul_fused(const struct vk_profile *p, const struct vk_fused_case *f,
                            struct vk_kernel *out)
{
    /* matvec_gpu's cases (vk_choose_matmul) */
    if (!p->fuse || !p->mv_gpu || !vk_mv_gpu_type(f->type) || !f->x4_rows || f->tokens < 1 ||
        f->tokens > VK_MVG_MAX_TOKENS)
        return false;
    *out = (struct vk_kernel){.family = VKF_MATVEC_GPU,
                              .type = f->type,
                              .red = p->red,
                              .nt = (uint8_t)f->tokens,
                              .fuse = f->glu ? VK_FUSE_GLU : VK_FUSE_SET};
    return true;
}

bool vk_choose_rope_kv(const struct vk_profile *p, struct vk_kernel *out)
{
    if (!p->fuse || !p->mv_gpu) return false;
    *out = (struct vk_kernel){.family = VKF_ROPE_KV, .kv_f32 = !p->kv_f16};
    return true;
}

struct vk_kernel vk_choose_rope(void)
{
    return (struct vk_kernel){.family = VKF_ROPE};
}

struct vk_kernel vk_choose_kv_store(const struct vk_profile *p)
{
    return (struct vk_kernel){.family = VKF_KV_STORE, .kv_f32 = !p->kv_f16};
}

struct vk_kernel vk_choose_attention(const struct vk_profile *p, const struct vk_attn_case *a)
{
    if (a->splits > 0)
        return (struct vk_kernel){.family = VKF_ATTN_SPLIT, .red = p->red, .kv_f32 = !p->kv_f16};
    if (a->tile > 0) return (struct vk_kernel){.family = VKF_ATTN_TILE, .kv_f32 = !p->kv_f16};
    return (struct vk_kernel){
        .family = VKF_ATTENTION, .red = p->red, .texel = a->texel, .kv_f32 = !p->kv_f16};
}

struct vk_kernel vk_choose_attn_merge(void)
{
    return (struct vk_kernel){.family = VKF_ATTN_MERGE};
}

uint32_t vk_attn_splits(bool cpu, long forced, int32_t n_tokens, int32_t n_head, int32_t n_head_kv,
                        int32_t head_dim, uint32_t shared_bytes)
{
    if (n_tokens < 1 || n_tokens > 8 || n_head_kv < 1 || n_head % n_head_kv != 0 ||
        n_head / n_head_kv > 8 || head_dim > 256 || head_dim % 2 != 0 || shared_bytes < 20480)
        return 0;
    if (forced >= 0) return forced > 64 ? 64 : (uint32_t)forced;
    if (cpu) return 0;
    int32_t s = (256 + n_head_kv * n_tokens - 1) / (n_head_kv * n_tokens);
    return (uint32_t)(s < 1 ? 1 : s > 32 ? 32 : s);
}

uint32_t vk_attn_tile_rows(bool cpu, long forced, int32_t n_tokens, int32_t n_head,
                           int32_t n_head_kv, int32_t head_dim, uint32_t shared_bytes)
{
    if (n_tokens <= 8 || n_head_kv < 1 || n_head % n_head_kv != 0 ||
        n_head / n_head_kv > VK_ATTN_TILE_SLOTS || head_dim > VK_ATTN_TILE_HD ||
        head_dim % 2 != 0 || shared_bytes < VK_ATTN_TILE_SHARED)
        return 0;
    if (forced == 0 || (forced < 0 && cpu)) return 0;
    return (uint32_t)(VK_ATTN_TILE_SLOTS / (n_head / n_head_kv));
}

struct vk_kernel vk_choose_swiglu(void)
{
    return (struct vk_kernel){.family = VKF_SWIGLU};
}

int vk_kernel_name(const struct vk_kernel *k, char *buf, size_t len)
{
    static const struct {
        const char *base;
        bool typed;
    } fam[VKF_COUNT] = {
        [VKF_EMBED] = {"embed", true},
        [VKF_RMSNORM] = {"rmsnorm", false},
        [VKF_MATVEC] = {"matvec", true},
        [VKF_MATMUL] = {"matmul", true},
        [VKF_MATVEC_GPU] = {"matvec_gpu", true},
        [VKF_ROPE] = {"rope", false},
        [VKF_KV_STORE] = {"kv_store", false},
        [VKF_ATTENTION] = {"attention", false},
        [VKF_SWIGLU] = {"swiglu", false},
        [VKF_CPU_MATVEC_UNIT] = {"matvec_unit", true},
        [VKF_CPU_MATVEC_KUNIT] = {"matvec_kunit", true},
        [VKF_CPU_MATMUL_UNIT] = {"matmul_unit", true},
        [VKF_CPU_MATMUL_KUNIT] = {"matmul_kunit", true},
        [VKF_ATTN_SPLIT] = {"attn_split", false},
        [VKF_ATTN_MERGE] = {"attn_merge", false},
        [VKF_ATTN_TILE] = {"attn_tile", false},
        [VKF_ROPE_KV] = {"rope_kv", false},
    };
    if ((unsigned)k->family >= VKF_COUNT) return -1;
    const char *ts = fam[k->family].typed ? vk_type_suffix(k->type) : "";
    if (!ts) return -1;
    static const char *const red[] = {"", "", "_sg", "_ns"};
    static const char *const fuse[] = {"", "_set", "_glu"};
    if ((unsigned)k->red > VK_RED_SHARED || k->fuse > VK_FUSE_GLU) return -1;
    int w = snprintf(buf, len, "%s%s%s%s%s%s%s%s%s", fam[k->family].base, *ts ? "_" : "", ts,
                     fuse[k->fuse], k->kv_f32 ? "_f32" : "", k->x4 ? "_x4" : "",
                     k->texel ? "_tx" : "", k->tn == 8 ? "_t8" : "", red[k->red]);
    return w < 0 || (size_t)w >= len ? -1 : 0;
}
