/* vk_kernel — the kernel choosers and the one naming function (see vk_kernel.h). */
#include "vk_kernel.h"

#include <stdio.h>
#include <string.h>

#include "quant.h"
#include "shaders.h"

const struct shader_blob *vk_shader_find(const char *name)
{
    for (const struct shader_blob *s = shader_blobs; s->name; s++)
        if (strcmp(s->name, name) == 0) return s;
    return NULL;
}

const char *vk_shader_missing(const char *name)
{
    for (const struct shader_missing *s = shader_missing; s->name; s++)
        if (strcmp(s->name, name) == 0) return s->needs;
    return NULL;
}

/* whether the space-separated list has word */
static bool has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)) != NULL; p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' ')) return true;
    return false;
}

int vk_feature_built(const char *feature)
{
    for (const struct shader_missing *s = shader_missing; s->name; s++)
        if (has_word(s->needs, feature)) return 0;
    /* built kernels do not record what they need: a build with a newer glslc has them */
    return shader_compiler_new[0] ? 1 : -1;
}

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

uint32_t vk_mvg_rows(uint32_t sg, uint32_t min_sg, uint32_t max_sg, uint32_t forced)
{
    if (forced >= 1 && forced <= VK_MVG_MAX_ROWS) return forced;
    bool wave64 = sg == 64 && (min_sg == 0 || (min_sg == 64 && max_sg == 64));
    return wave64 ? VK_MVG_ROWS_WAVE64 : VK_MVG_ROWS;
}

bool vk_mv_gpu_on(bool cpu, int forced)
{
    return forced < 0 ? !cpu : forced > 0;
}

bool vk_tile_on(bool cpu, int forced)
{
    return forced < 0 ? !cpu : forced > 0;
}

static uint32_t tile_shared(const struct vk_tile *t, uint32_t elem)
{
    return (t->bm + t->bn) * t->bk * elem;
}

struct vk_tile vk_matmul_tile(enum vk_tile_shape s, uint32_t shared_bytes, uint32_t sg,
                              uint32_t max_wg)
{
    if (s == VK_TILE_CM) {
        /* fp16 A and B tiles, the fp32 results (c_sh); 4 blocks of 2 x 2 matrices */
        struct vk_tile t = {.bm = 64, .bn = 64, .bk = 32, .wg = 4 * (sg ? sg : 32)};
        while (t.wg > max_wg && t.wg > 1)
            t.wg /= 2; /* fewer subgroups: more passes over K (matmul_cm.comp) */
        t.shared = tile_shared(&t, 2) + t.bm * t.bn * 4;
        return t;
    }
    bool small = s == VK_TILE_SMALL;
    struct vk_tile t = {.bm = 64, .bn = small ? 32 : 64, .bk = 32, .tm = 4, .tn = small ? 4 : 8};
#define TILE_WG(t) (((t).bm / (t).tm) * ((t).bn / (t).tn))
    while (TILE_WG(t) < sg && TILE_WG(t) * 2 <= max_wg && t.bm < 256)
        t.bm *= 2;
    while (TILE_WG(t) > max_wg && t.bm > t.tm)
        t.bm /= 2;
    while (tile_shared(&t, 4) > shared_bytes && t.bk > 16)
        t.bk /= 2;
    while (tile_shared(&t, 4) > shared_bytes && t.bm > t.tm)
        t.bm /= 2;
    t.wg = TILE_WG(t);
#undef TILE_WG
    t.shared = tile_shared(&t, 4);
    return t;
}

bool vk_coopmat_vendor(uint32_t vendor, uint32_t id)
{
    if (vendor == 0x1002) { /* AMD */
        /* RDNA3 APUs, then CDNA 1 and 2 */
        static const uint32_t ids[] = {0x15bf, 0x15c8, 0x1900, 0x1901, 0x150e, 0x1586,
                                       0x7388, 0x738c, 0x738e, 0x7408, 0x740c, 0x740f};
        for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
            if (id == ids[i]) return true;
        return id >= 0x7440 && id <= 0x75ff; /* Navi3x, MI300 (0x74a0..), Navi4x */
    }
    if (vendor == 0x8086) return (id & 0xff00) != 0x5600; /* not Alchemist */
    return true;
}

bool vk_coopmat_on(const struct vk_coop_dev *d, int forced)
{
    if (forced == 0 || d->cpu || !d->ready || d->m != 16 || d->n != 16 || d->k != 16) return false;
    struct vk_tile t = vk_matmul_tile(VK_TILE_CM, d->shared_bytes, 32, d->max_wg);
    if (t.shared > d->shared_bytes) return false;
    return forced > 0 || vk_coopmat_vendor(d->vendor, d->device_id);
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

bool vk_int8_on(bool dot, bool api13, bool built, bool accel, int forced)
{
    return dot && api13 && built && forced != 0 && (accel || forced > 0);
}

struct vk_kernel vk_choose_quant_q8(void)
{
    return (struct vk_kernel){.family = VKF_QUANT_Q8};
}

struct vk_kernel vk_choose_matmul(const struct vk_profile *p, const struct vk_matmul_case *m)
{
    /* GPUs: the first check below takes decode batches; larger ones (and small batches of
     * the other types, past the matvec range) the tiled kernels, small tiles up to
     * VK_TILE_SMALL_MAX tokens; cooperative matrices where the device has them */
    /* GPUs: batches of up to VK_MVG_MAX_TOKENS tokens of the common types in one workgroup
     * per few rows (every weight block read and decoded once for all tokens), x as vec4 */
    if (p->mv_gpu && vk_mv_gpu_type(m->type) && m->x4_rows && m->tokens >= 1 &&
        m->tokens <= VK_MVG_MAX_TOKENS)
        return (struct vk_kernel){.family = p->int8 ? VKF_MATVEC_Q8 : VKF_MATVEC_GPU,
                                  .type = m->type,
                                  .red = p->red,
                                  .nt = (uint8_t)m->tokens};
    if (p->tile && !m->matvec) {
        if (p->coopmat)
            return (struct vk_kernel){.family = VKF_MATMUL_CM, .type = m->type, .tile = VK_TILE_CM};
        return (struct vk_kernel){.family = VKF_MATMUL_TILE,
                                  .type = m->type,
                                  .tile = m->tokens <= VK_TILE_SMALL_MAX ? VK_TILE_SMALL
                                                                         : VK_TILE_LARGE};
    }
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
        return (struct vk_kernel){
            .family = VKF_ATTN_SPLIT,
            .red = p->red,
            .kv_f32 = !p->kv_f16,
            .nt = (uint8_t)vk_attn_split_slices(!p->kv_f16, a->head_dim, a->wg)};
    if (a->tile > 0) return (struct vk_kernel){.family = VKF_ATTN_TILE, .kv_f32 = !p->kv_f16};
    return (struct vk_kernel){
        .family = VKF_ATTENTION, .red = p->red, .texel = a->texel, .kv_f32 = !p->kv_f16};
}

struct vk_kernel vk_choose_attn_merge(void)
{
    return (struct vk_kernel){.family = VKF_ATTN_MERGE};
}

uint32_t vk_attn_split_slices(bool kv_f32, uint32_t head_dim, uint32_t wg)
{
    uint32_t words = head_dim / (kv_f32 ? 4 : 8), team = 1;
    while (team < words)
        team *= 2;
    if (team > wg) team = wg;
    return team ? (words + team - 1) / team : 0;
}

uint32_t vk_attn_splits(bool cpu, long forced, int32_t n_tokens, int32_t n_head, int32_t n_head_kv,
                        int32_t head_dim, uint32_t shared_bytes)
{
    if (n_tokens < 1 || n_tokens > 8 || n_head_kv < 1 || n_head % n_head_kv != 0 ||
        n_head / n_head_kv > 8 || head_dim > 256 || head_dim % 8 != 0 || shared_bytes < 20480)
        return 0;
    if (forced >= 0) return forced > 64 ? 64 : (uint32_t)forced;
    if (cpu) return 0;
    int32_t s = (256 + n_head_kv * n_tokens - 1) / (n_head_kv * n_tokens);
    return (uint32_t)(s < 1 ? 1 : s > 32 ? 32 : s);
}

uint32_t vk_attn_tile_rows(bool cpu, long forced, int32_t n_tokens, int32_t n_head,
                           int32_t n_head_kv, int32_t head_dim, uint32_t shared_bytes)
{
    /* over head_dim 128 the same shared bytes hold half the slots (and keys of a tile) */
    int32_t slots = head_dim > VK_ATTN_TILE_HD / 2 ? VK_ATTN_TILE_SLOTS / 2 : VK_ATTN_TILE_SLOTS;
    if (n_tokens <= 8 || n_head_kv < 1 || n_head % n_head_kv != 0 || n_head / n_head_kv > slots ||
        head_dim > VK_ATTN_TILE_HD || head_dim % 2 != 0 || shared_bytes < VK_ATTN_TILE_SHARED)
        return 0;
    if (forced == 0 || (forced < 0 && cpu)) return 0;
    return (uint32_t)(slots / (n_head / n_head_kv));
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
        [VKF_MATVEC_Q8] = {"matvec_q8", true},
        [VKF_QUANT_Q8] = {"quantize_q8", false},
        [VKF_MATMUL_TILE] = {"matmul_tile", true},
        [VKF_MATMUL_CM] = {"matmul_cm", true},
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
