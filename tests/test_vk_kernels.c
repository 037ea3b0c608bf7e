/* vk, kernel choice — no device needed: every description any device profile can produce
 * names a kernel built into the binary (and none built is unreachable), the kernel names, the
 * choosers' rules as pure functions (reduction forms, workgroup and tile sizes, splits,
 * vendor gates, the int8 path, fusion), and the environment switches (each in README.md).
 * Part of the vk suite (test_vk.c registers it as the case "kernels"). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant.h"
#include "shaders.h"
#include "test_vk.h"
#include "testutil.h"
#include "vk.h"
#include "vk_env.h"
#include "vk_impl.h"

/* ---- kernel choice: every description on every device profile names a built kernel ---- */

static int by_blob_name(const void *a, const void *b)
{
    return strcmp(shader_blobs[*(const int *)a].name, shader_blobs[*(const int *)b].name);
}

/* shader_blobs' index of name, -1 if absent: a binary search over the names sorted once (the
 * test looks up about a million descriptions) */
static int blob_index(const char *name)
{
    static int *order, n;
    if (!order) {
        while (shader_blobs[n].name)
            n++;
        order = malloc(sizeof *order * (size_t)(n ? n : 1));
        ck_assert(order);
        for (int i = 0; i < n; i++)
            order[i] = i;
        qsort(order, (size_t)n, sizeof *order, by_blob_name);
    }
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(shader_blobs[order[mid]].name, name);
        if (c == 0) return order[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

/* Marks the kernel k as reached; fails when it is not in the binary. */
static void reach(const struct vk_kernel *k, bool *reached, int *n_checked)
{
    char name[64];
    ck_assert_msg(vk_kernel_name(k, name, sizeof name) == 0,
                  "family %d type %u: the description has no name", (int)k->family, k->type);
    int i = blob_index(name);
    /* a kernel whose shader needs a newer glslc than the build had is listed as left out */
    ck_assert_msg(i >= 0 || vk_shader_missing(name),
                  "kernel %s (family %d, type %u) is not built into this binary", name,
                  (int)k->family, k->type);
    if (i >= 0) reached[i] = true;
    (*n_checked)++;
}

/* Device profiles: subgroups of 8/16/32/64 lanes or none, with and without shuffles, CPU or
 * GPU workgroup sizes (and forced ones), the subgroup switches; then KV cache f16/f32, texel
 * views on/off, unit kernels on/off; every weight type and every matmul case. */
START_TEST(test_kernels_exist)
{
    static const uint32_t sgs[] = {0, 8, 16, 32, 64};
    static const long forced_wg[] = {0, 4, 16, 32, 64, 256};
    bool red_seen[VK_RED_SHARED + 1] = {false};
    for (size_t s = 0; s < sizeof sgs / sizeof sgs[0]; s++)
        for (int bits = 0; bits < 32; bits++)
            for (size_t f = 0; f < sizeof forced_wg / sizeof forced_wg[0]; f++) {
                bool shuffle = bits & 1, cpu = bits & 2, no_sg = bits & 4, multi = bits & 8;
                uint32_t pinned = (bits & 16) ? sgs[s] : 0;
                uint32_t wg = vk_workgroup_size(cpu, sgs[s], forced_wg[f], 1024);
                ck_assert_msg(wg >= 4 && wg <= 1024 && (wg & (wg - 1)) == 0, "workgroup %u", wg);
                enum vk_reduce red = vk_reduce_form(sgs[s] > 0, shuffle, wg, pinned, no_sg, multi);
                ck_assert_msg(red != VK_RED_ONE_SUBGROUP || (pinned && wg <= pinned),
                              "one subgroup assumed without a pinned size");
                ck_assert_msg(red != VK_RED_NONE, "a device profile without a reduction form");
                red_seen[red] = true;
            }
    ck_assert_msg(red_seen[VK_RED_SUBGROUP] && red_seen[VK_RED_ONE_SUBGROUP] &&
                      red_seen[VK_RED_SHARED],
                  "the profiles do not reach every reduction form");
    int n_blobs = 0;
    while (shader_blobs[n_blobs].name)
        n_blobs++;
    bool *reached = calloc((size_t)n_blobs, sizeof *reached);
    ck_assert(reached);
    int n_checked = 0, n_types = 0;
    /* cooperative matrices only where the binary holds their kernels (vk_ctx_open) */
    bool cm_built = vk_shader_find("matmul_cm_q4_0") != NULL;
    /* (under the sanitizers one reduction form: the host code is the same for all three, and
     * the release run checks that every kernel is reachable) */
    const bool asan = getenv("JOULE_ASAN") != NULL;
    for (int red = VK_RED_SUBGROUP; red <= (asan ? VK_RED_SUBGROUP : VK_RED_SHARED); red++)
        for (int dev = 0; dev < 256; dev++) {
            bool kv_f16 = dev & 1, texel = dev & 2, unit = (dev & 4) && texel, mv_gpu = dev & 8;
            bool mm_tile = dev & 16, coopmat = dev & 32, int8 = dev & 64;
            if ((dev & 4) && !texel) continue; /* the unit kernels need texel views */
            if (coopmat && (!mm_tile || !cm_built)) continue;
            if (int8 && !mv_gpu) continue; /* the int8 path is matvec_gpu's */
            /* fused kernels: where matvec_gpu runs, never in the int8 path (profile()) */
            if ((dev & 128) && (!mv_gpu || int8)) continue;
            struct vk_profile p = {.red = (enum vk_reduce)red,
                                   .kv_f16 = kv_f16,
                                   .unit = unit,
                                   .mv_gpu = mv_gpu,
                                   .tile = mm_tile,
                                   .coopmat = coopmat,
                                   .int8 = int8,
                                   .fuse = dev & 128};
            struct vk_kernel fk;
            if (vk_choose_rope_kv(&p, &fk)) reach(&fk, reached, &n_checked);
            struct vk_kernel k = vk_choose_rmsnorm(&p);
            reach(&k, reached, &n_checked);
            k = vk_choose_rope();
            reach(&k, reached, &n_checked);
            k = vk_choose_swiglu();
            reach(&k, reached, &n_checked);
            k = vk_choose_kv_store(&p);
            reach(&k, reached, &n_checked);
            for (int tx = 0; tx <= (unit ? 1 : 0); tx++) /* K/V texel views with unit only */
                for (uint32_t splits = 0; splits <= 4; splits += 4)
                    for (uint32_t tile = 0; tile <= 8; tile += 8) {
                        struct vk_attn_case ac = {.texel = tx, .splits = splits, .tile = tile};
                        k = vk_choose_attention(&p, &ac);
                        reach(&k, reached, &n_checked);
                    }
            k = vk_choose_attn_merge();
            reach(&k, reached, &n_checked);
            k = vk_choose_quant_q8();
            reach(&k, reached, &n_checked);
            n_types = 0;
            for (uint32_t type = 0; type < Q_TYPE_LIMIT; type++) {
                if (!vk_type_suffix(type)) continue; /* the backend refuses the model */
                n_types++;
                k = vk_choose_embed(type);
                reach(&k, reached, &n_checked);
                /* batches of 1, 8 (matvec_gpu's limits), 9, 64 and 65 tokens (the small
                 * and large tiles) */
                static const uint32_t batch[5] = {1, 8, 9, 64, 65};
                for (int c = 0; c < 320; c++) {
                    struct vk_matmul_case m = {.type = type,
                                               .tokens = batch[c >> 6],
                                               .matvec = c & 1,
                                               .x4_rows = c & 2,
                                               .xtex = (c & 4) && unit,
                                               .w_texel = (c & 8) && texel,
                                               .w_unit = (c & 16) && (c & 8) && unit,
                                               .fill8 = c & 32};
                    k = vk_choose_matmul(&p, &m);
                    reach(&k, reached, &n_checked);
                    ck_assert_msg((k.family == VKF_MATMUL_TILE) ==
                                          (k.tile == VK_TILE_SMALL || k.tile == VK_TILE_LARGE) &&
                                      (k.family == VKF_MATMUL_CM) == (k.tile == VK_TILE_CM),
                                  "kernel family %d with tile shape %d", (int)k.family, k.tile);
                    /* the fused decode products (a run's products, vk_choose_matmul_fused) */
                    struct vk_fused_case fc = {
                        .type = type, .tokens = m.tokens, .x4_rows = m.x4_rows, .glu = c & 1};
                    if (vk_choose_matmul_fused(&p, &fc, &fk)) reach(&fk, reached, &n_checked);
                }
            }
        }
    ck_assert_int_eq(n_types, vk_test_n_wtypes);
    /* and no kernel in the binary that no choice can reach */
    for (int i = 0; i < n_blobs && !asan; i++)
        ck_assert_msg(reached[i], "kernel %s is built but no chooser returns it",
                      shader_blobs[i].name);
    ck_assert_int_gt(n_checked, asan ? 0 : n_blobs);
    free(reached);
}
END_TEST

/* The names are the ones the op tests and profiles know. */
START_TEST(test_kernel_names)
{
    char name[64];
    struct vk_profile p = {.red = VK_RED_ONE_SUBGROUP, .kv_f16 = true, .unit = true};
    struct vk_matmul_case m = {.type = Q_Q4_0, .matvec = true, .w_texel = true};
    struct vk_kernel k = vk_choose_matmul(&p, &m);
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "matvec_q4_0_tx_sg");
    m = (struct vk_matmul_case){
        .type = Q_F16, .matvec = true, .x4_rows = true, .xtex = false, .w_texel = false};
    p.red = VK_RED_SHARED;
    k = vk_choose_matmul(&p, &m);
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "matvec_f16_x4_ns");
    m = (struct vk_matmul_case){
        .type = Q_Q8_0, .xtex = true, .w_texel = true, .w_unit = true, .fill8 = true};
    k = vk_choose_matmul(&p, &m);
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "matmul_unit_q8_0_t8");
    m.type = Q_Q5_K, m.w_unit = false, m.fill8 = false, m.matvec = true;
    p.red = VK_RED_SUBGROUP;
    k = vk_choose_matmul(&p, &m);
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "matvec_kunit_q5_k");
    p.unit = false, m.matvec = false;
    k = vk_choose_matmul(&p, &m);
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "matmul_q5_k_tx");
    /* GPUs: 1..8 tokens of Q8_0, Q4_0, Q4_K and Q6_K (x as vec4) take matvec_gpu, the
     * batch its specialization constant; other types, 9 tokens or unaligned x do not */
    p.mv_gpu = true;
    m = (struct vk_matmul_case){.type = Q_Q6_K, .tokens = 3, .x4_rows = true, .w_texel = true};
    k = vk_choose_matmul(&p, &m);
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "matvec_gpu_q6_k");
    ck_assert_int_eq(k.nt, 3);
    p.red = VK_RED_ONE_SUBGROUP, p.unit = true;
    m = (struct vk_matmul_case){
        .type = Q_Q4_0, .tokens = 1, .matvec = true, .x4_rows = true, .xtex = true};
    m.w_texel = m.w_unit = true;
    k = vk_choose_matmul(&p, &m); /* (forced on CPU devices: before the unit kernels) */
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "matvec_gpu_q4_0_sg");
    ck_assert_int_eq(k.nt, 1);
    m.tokens = 8, m.matvec = false, m.type = Q_Q8_0;
    k = vk_choose_matmul(&p, &m);
    ck_assert_int_eq(k.family, VKF_MATVEC_GPU);
    ck_assert_int_eq(k.nt, 8);
    m.type = Q_Q4_K;
    k = vk_choose_matmul(&p, &m);
    ck_assert_int_eq(k.family, VKF_MATVEC_GPU);
    m.tokens = 9;
    k = vk_choose_matmul(&p, &m);
    ck_assert_int_eq(k.family, VKF_CPU_MATMUL_KUNIT);
    m.tokens = 2, m.matvec = true, m.type = Q_Q5_K;
    k = vk_choose_matmul(&p, &m);
    ck_assert_int_eq(k.family, VKF_CPU_MATVEC_KUNIT);
    m.type = Q_Q4_K, m.x4_rows = false;
    k = vk_choose_matmul(&p, &m);
    ck_assert_int_eq(k.family, VKF_CPU_MATVEC_KUNIT);
    m.tokens = 0, m.x4_rows = true;
    k = vk_choose_matmul(&p, &m);
    ck_assert_int_ne(k.family, VKF_MATVEC_GPU);
    p.mv_gpu = false, m.tokens = 1;
    k = vk_choose_matmul(&p, &m);
    ck_assert_int_eq(k.family, VKF_CPU_MATVEC_KUNIT);
    p.unit = false;
    k = vk_choose_matmul(&p, &m);
    ck_assert_int_eq(k.family, VKF_MATVEC);
    ck_assert_int_eq(k.nt, 0);
    p.red = VK_RED_SUBGROUP;
    /* prefill on GPUs (tile): past the matvec range every type takes matmul_tile, small tiles
     * up to 64 tokens; matvec_gpu keeps its batches; cooperative matrices (coopmat) instead
     * of the tiles, one shape */
    p.tile = true, p.mv_gpu = true;
    m = (struct vk_matmul_case){.type = Q_Q4_K, .tokens = 9, .x4_rows = true, .w_texel = true};
    k = vk_choose_matmul(&p, &m);
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "matmul_tile_q4_k");
    ck_assert_int_eq(k.tile, VK_TILE_SMALL);
    m.tokens = 64;
    ck_assert_int_eq(vk_choose_matmul(&p, &m).tile, VK_TILE_SMALL);
    m.tokens = 65, m.type = Q_BF16;
    k = vk_choose_matmul(&p, &m);
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "matmul_tile_bf16");
    ck_assert_int_eq(k.tile, VK_TILE_LARGE);
    m.tokens = 5, m.type = Q_Q5_K; /* no matvec_gpu kernel for the type */
    ck_assert_int_eq(vk_choose_matmul(&p, &m).family, VKF_MATMUL_TILE);
    m.type = Q_Q6_K;
    ck_assert_int_eq(vk_choose_matmul(&p, &m).family, VKF_MATVEC_GPU);
    m.tokens = 2, m.matvec = true, m.type = Q_Q5_K;
    ck_assert_int_eq(vk_choose_matmul(&p, &m).family, VKF_MATVEC);
    p.coopmat = true;
    m = (struct vk_matmul_case){.type = Q_Q4_0, .tokens = 300};
    k = vk_choose_matmul(&p, &m);
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "matmul_cm_q4_0");
    ck_assert_int_eq(k.tile, VK_TILE_CM);
    m.tokens = 9;
    ck_assert_int_eq(vk_choose_matmul(&p, &m).family, VKF_MATMUL_CM);
    p.tile = false; /* JOULE_VK_MATMUL_TILE=0: the old matmul, no matmul_cm either */
    k = vk_choose_matmul(&p, &m);
    ck_assert_int_eq(k.family, VKF_MATMUL);
    ck_assert_int_eq(k.tile, VK_TILE_NONE);
    p.coopmat = false, p.mv_gpu = false;
    ck_assert(vk_tile_on(false, -1) && !vk_tile_on(true, -1));
    ck_assert(vk_tile_on(true, 1) && vk_tile_on(false, 1));
    ck_assert(!vk_tile_on(false, 0) && !vk_tile_on(true, 0));
    /* tile sizes: a usual GPU (48 KiB, subgroups of 32, 1024 invocations); AMD's 64 lanes;
     * small limits; the cooperative-matrix shape */
    struct vk_tile t = vk_matmul_tile(VK_TILE_LARGE, 49152, 32, 1024);
    ck_assert(t.bm == 64 && t.bn == 64 && t.bk == 32 && t.tm == 4 && t.tn == 8 && t.wg == 128);
    ck_assert_uint_eq(t.shared, 16384);
    t = vk_matmul_tile(VK_TILE_SMALL, 49152, 64, 1024);
    ck_assert(t.bm == 64 && t.bn == 32 && t.bk == 32 && t.tm == 4 && t.tn == 4 && t.wg == 128);
    ck_assert_uint_eq(t.shared, 12288);
    t = vk_matmul_tile(VK_TILE_LARGE, 16384, 8, 128); /* Vulkan's minimum limits */
    ck_assert(t.bm == 64 && t.bk == 32 && t.wg == 128);
    t = vk_matmul_tile(VK_TILE_LARGE, 32768, 32, 64);
    ck_assert(t.bm == 32 && t.bn == 64 && t.wg == 64 && t.shared == 12288);
    t = vk_matmul_tile(VK_TILE_LARGE, 8192, 32, 1024);
    ck_assert(t.bm == 64 && t.bk == 16 && t.wg == 128 && t.shared == 8192);
    t = vk_matmul_tile(VK_TILE_LARGE, 4096, 32, 1024); /* no fit: vk_ctx_open turns tiles off */
    ck_assert(t.bk == 16 && t.bm == t.tm && t.shared > 4096);
    t = vk_matmul_tile(VK_TILE_SMALL, 65536, 256, 1024); /* subgroups over 128 lanes */
    ck_assert(t.bm == 128 && t.wg == 256);
    t = vk_matmul_tile(VK_TILE_CM, 49152, 32, 1024);
    ck_assert(t.bm == 64 && t.bn == 64 && t.bk == 32 && t.wg == 128 && t.shared == 24576);
    t = vk_matmul_tile(VK_TILE_CM, 65536, 64, 128);
    ck_assert_uint_eq(t.wg, 128);
    /* cooperative matrices: NVIDIA; AMD RDNA3+ / CDNA only; not Intel Alchemist */
    ck_assert(vk_coopmat_vendor(0x10de, 0x2330));  /* H100 */
    ck_assert(vk_coopmat_vendor(0x1002, 0x744c));  /* RX 7900 XTX */
    ck_assert(vk_coopmat_vendor(0x1002, 0x7550));  /* RX 9070 */
    ck_assert(vk_coopmat_vendor(0x1002, 0x15bf));  /* Phoenix APU */
    ck_assert(vk_coopmat_vendor(0x1002, 0x740f));  /* MI210 */
    ck_assert(!vk_coopmat_vendor(0x1002, 0x73bf)); /* RX 6900 XT: no matrix units */
    ck_assert(!vk_coopmat_vendor(0x1002, 0x731f)); /* RX 5700 XT */
    ck_assert(!vk_coopmat_vendor(0x8086, 0x56a0)); /* Arc A770 */
    ck_assert(vk_coopmat_vendor(0x8086, 0xe20b));  /* Arc B580 */
    struct vk_coop_dev cd = {.vendor = 0x10de,
                             .device_id = 0x2330,
                             .ready = true,
                             .m = 16,
                             .n = 16,
                             .k = 16,
                             .shared_bytes = 49152,
                             .max_wg = 1024};
    ck_assert(vk_coopmat_on(&cd, -1) && vk_coopmat_on(&cd, 1) && !vk_coopmat_on(&cd, 0));
    cd.vendor = 0x8086, cd.device_id = 0x56a0;
    ck_assert(!vk_coopmat_on(&cd, -1) && vk_coopmat_on(&cd, 1));
    cd.vendor = 0x1002, cd.device_id = 0x73bf;
    ck_assert(!vk_coopmat_on(&cd, -1) && vk_coopmat_on(&cd, 1));
    cd.device_id = 0x744c;
    ck_assert(vk_coopmat_on(&cd, -1));
    cd.n = 8; /* another shape: the kernel's blocks are 16 x 16 x 16 */
    ck_assert(!vk_coopmat_on(&cd, -1) && !vk_coopmat_on(&cd, 1));
    cd.n = 16, cd.ready = false;
    ck_assert(!vk_coopmat_on(&cd, 1));
    cd.ready = true, cd.shared_bytes = 16384;
    ck_assert(!vk_coopmat_on(&cd, 1));
    cd.shared_bytes = 65536, cd.cpu = true;
    ck_assert(!vk_coopmat_on(&cd, 1));
    /* on GPU devices unless JOULE_VK_MV_GPU says otherwise (1 everywhere, 0 nowhere) */
    ck_assert(vk_mv_gpu_on(false, -1) && !vk_mv_gpu_on(true, -1));
    ck_assert(vk_mv_gpu_on(true, 1) && vk_mv_gpu_on(false, 1));
    ck_assert(!vk_mv_gpu_on(false, 0) && !vk_mv_gpu_on(true, 0));
    /* fused decode products: where matvec_gpu runs and the profile fuses; a set of a run's
     * products, or gate + up + SwiGLU (glu) */
    p = (struct vk_profile){.red = VK_RED_SUBGROUP, .kv_f16 = true, .mv_gpu = true, .fuse = true};
    struct vk_fused_case fc = {.type = Q_Q4_K, .tokens = 1, .x4_rows = true};
    ck_assert(vk_choose_matmul_fused(&p, &fc, &k));
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "matvec_gpu_q4_k_set");
    ck_assert_int_eq(k.nt, 1);
    fc.type = Q_Q6_K, fc.glu = true, fc.tokens = 8, p.red = VK_RED_ONE_SUBGROUP;
    ck_assert(vk_choose_matmul_fused(&p, &fc, &k));
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "matvec_gpu_q6_k_glu_sg");
    ck_assert_int_eq(k.nt, 8);
    fc.tokens = 9;
    ck_assert(!vk_choose_matmul_fused(&p, &fc, &k));
    fc.tokens = 2, fc.type = Q_Q5_K;
    ck_assert(!vk_choose_matmul_fused(&p, &fc, &k));
    fc.type = Q_Q8_0, fc.x4_rows = false;
    ck_assert(!vk_choose_matmul_fused(&p, &fc, &k));
    fc.x4_rows = true;
    ck_assert(vk_choose_matmul_fused(&p, &fc, &k));
    ck_assert(vk_choose_rope_kv(&p, &k));
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "rope_kv");
    p.kv_f16 = false;
    ck_assert(vk_choose_rope_kv(&p, &k));
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "rope_kv_f32");
    p.fuse = false; /* JOULE_VK_NO_FUSE, or a device without the bindings */
    ck_assert(!vk_choose_matmul_fused(&p, &fc, &k) && !vk_choose_rope_kv(&p, &k));
    p.fuse = true, p.mv_gpu = false; /* only where matvec_gpu runs */
    ck_assert(!vk_choose_matmul_fused(&p, &fc, &k) && !vk_choose_rope_kv(&p, &k));
    p = (struct vk_profile){.red = VK_RED_SUBGROUP, .kv_f16 = false};
    struct vk_attn_case ac = {.texel = true};
    k = vk_choose_attention(&p, &ac);
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "attention_f32_tx");
    ac = (struct vk_attn_case){.splits = 8};
    k = vk_choose_attention(&p, &ac);
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "attn_split_f32");
    k = vk_choose_attn_merge();
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "attn_merge");
    ac = (struct vk_attn_case){.tile = 8};
    k = vk_choose_attention(&p, &ac);
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "attn_tile_f32");
    p.kv_f16 = true;
    k = vk_choose_attention(&p, &ac);
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), 0);
    ck_assert_str_eq(name, "attn_tile");
    p.kv_f16 = false;
    /* tiles: prefill (over 8 rows) on GPUs, 16 slots / group rows (8 slots over head_dim
     * 128); on CPU devices only when forced; groups over the slots, head_dim > 256 or odd,
     * small shared memory: not tiled */
    ck_assert_uint_eq(vk_attn_tile_rows(false, -1, 9, 32, 8, 128, 32768), 4);
    ck_assert_uint_eq(vk_attn_tile_rows(false, -1, 512, 32, 32, 64, 32768), 16);
    ck_assert_uint_eq(vk_attn_tile_rows(false, -1, 512, 32, 2, 64, 32768), 1);
    ck_assert_uint_eq(vk_attn_tile_rows(false, -1, 8, 32, 8, 128, 32768), 0);
    ck_assert_uint_eq(vk_attn_tile_rows(false, -1, 512, 64, 2, 64, 32768), 0);
    ck_assert_uint_eq(vk_attn_tile_rows(false, -1, 512, 32, 8, 256, 32768), 2);
    ck_assert_uint_eq(vk_attn_tile_rows(false, -1, 512, 16, 16, 256, 32768), 8);
    ck_assert_uint_eq(vk_attn_tile_rows(false, -1, 512, 32, 4, 256, 32768), 1);
    ck_assert_uint_eq(vk_attn_tile_rows(false, -1, 512, 32, 2, 256, 32768), 0);
    ck_assert_uint_eq(vk_attn_tile_rows(false, -1, 512, 32, 8, 130, 32768), 2);
    ck_assert_uint_eq(vk_attn_tile_rows(false, -1, 512, 32, 8, 258, 32768), 0);
    ck_assert_uint_eq(vk_attn_tile_rows(false, -1, 512, 32, 8, 256, 16384), 0);
    ck_assert_uint_eq(vk_attn_tile_rows(false, -1, 512, 32, 8, 66, 32768), 4);
    ck_assert_uint_eq(vk_attn_tile_rows(false, -1, 512, 32, 8, 63, 32768), 0);
    ck_assert_uint_eq(vk_attn_tile_rows(false, -1, 512, 32, 8, 128, 16384), 0);
    ck_assert_uint_eq(vk_attn_tile_rows(true, -1, 512, 32, 8, 128, 32768), 0);
    ck_assert_uint_eq(vk_attn_tile_rows(true, 1, 512, 32, 8, 128, 32768), 4);
    ck_assert_uint_eq(vk_attn_tile_rows(false, 0, 512, 32, 8, 128, 32768), 0);
    /* splits: decode steps on GPUs, ~256 groups; never on CPU devices unless forced; shapes
     * the split kernel cannot hold (groups over 8 heads, head_dim > 256 or not a multiple of
     * 8, small shared memory, prefill) keep the one-pass kernel, forced or not */
    ck_assert_uint_eq(vk_attn_splits(false, -1, 1, 28, 4, 256, 49152), 32);
    ck_assert_uint_eq(vk_attn_splits(false, -1, 1, 28, 4, 72, 49152), 32);
    ck_assert_uint_eq(vk_attn_splits(false, -1, 1, 32, 8, 68, 49152), 0);
    ck_assert_uint_eq(vk_attn_splits(false, 3, 1, 32, 8, 12, 49152), 0);
    ck_assert_uint_eq(vk_attn_splits(true, 3, 1, 32, 8, 66, 49152), 0);
    /* attn_split's words per lane: 1 where the team (words rounded up to a power of two)
     * fits the workgroup, else the words over the workgroup */
    ck_assert_uint_eq(vk_attn_split_slices(false, 128, 64), 1);
    ck_assert_uint_eq(vk_attn_split_slices(true, 256, 64), 1);
    ck_assert_uint_eq(vk_attn_split_slices(false, 96, 8), 2);
    ck_assert_uint_eq(vk_attn_split_slices(true, 96, 16), 2);
    ck_assert_uint_eq(vk_attn_split_slices(false, 256, 8), 4);
    ck_assert_uint_eq(vk_attn_split_slices(true, 256, 4), 16);
    ck_assert_uint_eq(vk_attn_split_slices(false, 8, 4), 1);
    /* every shape the split kernel takes, every workgroup size: the lanes' words cover a
     * key, and fit the specialization constant (uint8_t) */
    for (uint32_t hd = 8; hd <= 256; hd += 8)
        for (uint32_t wg = 4; wg <= 1024; wg *= 2)
            for (int f32 = 0; f32 < 2; f32++) {
                uint32_t words = hd / (f32 ? 4 : 8), ns = vk_attn_split_slices(f32, hd, wg);
                uint32_t team = (words + ns - 1) / ns;
                ck_assert_msg(ns >= 1 && ns <= 255 && team <= wg && ns * team >= words,
                              "hd %u wg %u: %u words per lane", hd, wg, ns);
            }
    ac = (struct vk_attn_case){.splits = 8, .head_dim = 256, .wg = 8};
    k = vk_choose_attention(&p, &ac);
    ck_assert_uint_eq(k.nt, 8); /* the profile above: an f32 cache */
    ck_assert_uint_eq(vk_attn_splits(false, -1, 1, 32, 8, 128, 49152), 32);
    ck_assert_uint_eq(vk_attn_splits(false, -1, 1, 64, 8, 128, 49152), 32);
    ck_assert_uint_eq(vk_attn_splits(false, -1, 4, 32, 8, 128, 49152), 8);
    ck_assert_uint_eq(vk_attn_splits(false, -1, 1, 32, 32, 128, 49152), 8);
    ck_assert_uint_eq(vk_attn_splits(false, -1, 1, 128, 2, 128, 49152), 0);
    ck_assert_uint_eq(vk_attn_splits(false, -1, 1, 32, 8, 512, 49152), 0);
    ck_assert_uint_eq(vk_attn_splits(false, -1, 1, 32, 8, 128, 16384), 0);
    ck_assert_uint_eq(vk_attn_splits(false, -1, 9, 32, 8, 128, 49152), 0);
    ck_assert_uint_eq(vk_attn_splits(true, -1, 1, 32, 8, 128, 32768), 0);
    ck_assert_uint_eq(vk_attn_splits(true, 3, 1, 32, 8, 128, 32768), 3);
    ck_assert_uint_eq(vk_attn_splits(false, 0, 1, 32, 8, 128, 49152), 0);
    ck_assert_uint_eq(vk_attn_splits(false, 1000, 1, 32, 8, 128, 49152), 64);
    k = (struct vk_kernel){.family = VKF_EMBED, .type = Q_Q8_1};
    ck_assert_int_eq(vk_kernel_name(&k, name, sizeof name), -1);
    k = vk_choose_embed(Q_Q6_K);
    ck_assert_int_eq(vk_kernel_name(&k, name, 8), -1); /* "embed_q6_k" does not fit */
    /* one subgroup only where the size is pinned, the workgroup fits it and shuffles exist
     * (a reported size is not enough: MoltenVK on AMD reports 64 and runs 32) */
    ck_assert_int_eq(vk_reduce_form(true, true, 32, 32, false, false), VK_RED_ONE_SUBGROUP);
    ck_assert_int_eq(vk_reduce_form(true, true, 64, 0, false, false), VK_RED_SUBGROUP);
    ck_assert_int_eq(vk_reduce_form(true, true, 8, 0, false, false), VK_RED_SUBGROUP);
    ck_assert_int_eq(vk_pinned_subgroup(64, 32, 64), 64);
    ck_assert_int_eq(vk_pinned_subgroup(64, 8, 32), 32);
    ck_assert_int_eq(vk_pinned_subgroup(4, 8, 32), 8);
    ck_assert_int_eq(vk_reduce_form(true, false, 32, 32, false, false), VK_RED_SUBGROUP);
    ck_assert_int_eq(vk_reduce_form(true, true, 64, 32, false, false), VK_RED_SUBGROUP);
    ck_assert_int_eq(vk_reduce_form(true, true, 32, 32, false, true), VK_RED_SUBGROUP);
    ck_assert_int_eq(vk_reduce_form(true, true, 32, 32, true, false), VK_RED_SHARED);
    ck_assert_int_eq(vk_reduce_form(false, false, 64, 0, false, false), VK_RED_SHARED);
    ck_assert_int_eq(vk_workgroup_size(false, 32, 0, 1024), 64);
    ck_assert_int_eq(vk_workgroup_size(true, 8, 0, 1024), 8);
    ck_assert_int_eq(vk_workgroup_size(false, 32, 48, 1024), 32);
    ck_assert_int_eq(vk_workgroup_size(false, 128, 0, 64), 64);
    /* matvec_gpu rows per workgroup: 4 where every subgroup is 64 lanes (GCN, CDNA), 2 on
     * NVIDIA (32), RDNA (32..64), Intel (8..32), lavapipe (8); forced 1..8 */
    ck_assert_uint_eq(vk_mvg_rows(64, 64, 64, 0), 4);
    ck_assert_uint_eq(vk_mvg_rows(64, 0, 0, 0), 4);
    ck_assert_uint_eq(vk_mvg_rows(32, 32, 32, 0), 2);
    ck_assert_uint_eq(vk_mvg_rows(64, 32, 64, 0), 2);
    ck_assert_uint_eq(vk_mvg_rows(32, 8, 32, 0), 2);
    ck_assert_uint_eq(vk_mvg_rows(8, 8, 8, 0), 2);
    ck_assert_uint_eq(vk_mvg_rows(32, 32, 32, 3), 3);
    ck_assert_uint_eq(vk_mvg_rows(64, 64, 64, 9), 4); /* out of range: not forced */
    /* the int8 decode path: integer dot products, Vulkan 1.3, the kernels built; accelerated
     * or forced; never when forced off */
    ck_assert(vk_int8_on(true, true, true, true, -1));
    ck_assert(!vk_int8_on(true, true, true, false, -1));
    ck_assert(vk_int8_on(true, true, true, false, 1));
    ck_assert(!vk_int8_on(true, true, true, true, 0));
    ck_assert(!vk_int8_on(false, true, true, true, 1));
    ck_assert(!vk_int8_on(true, false, true, true, 1));
    ck_assert(!vk_int8_on(true, true, false, true, 1));
    /* and its kernel replaces matvec_gpu's, same type and batch */
    struct vk_profile pi = {.red = VK_RED_SUBGROUP, .mv_gpu = true, .int8 = true};
    struct vk_matmul_case mi = {.type = Q_Q4_K, .tokens = 3, .x4_rows = true};
    struct vk_kernel ki = vk_choose_matmul(&pi, &mi);
    ck_assert_int_eq(ki.family, VKF_MATVEC_Q8);
    ck_assert_int_eq(ki.nt, 3);
    ck_assert_int_eq(vk_kernel_name(&ki, name, sizeof name), 0);
    ck_assert_str_eq(name, "matvec_q8_q4_k");
    mi.tokens = 9; /* prefill stays on the float kernels */
    ck_assert_int_ne(vk_choose_matmul(&pi, &mi).family, VKF_MATVEC_Q8);
    ki = vk_choose_quant_q8();
    ck_assert_int_eq(vk_kernel_name(&ki, name, sizeof name), 0);
    ck_assert_str_eq(name, "quantize_q8");
}
END_TEST

/* Every JOULE_VK_* switch is in the table, README.md lists each, and the verbose listing
 * prints each with the value in force. */
START_TEST(test_switches)
{
    setenv("JOULE_VK_MM_ROWS", "5", 1);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    ck_assert(out);
    vk_print_switches(out);
    fclose(out);
    unsetenv("JOULE_VK_MM_ROWS");
    ck_assert_msg(strstr(buf, "JOULE_VK_MM_ROWS") && strstr(buf, "= 5"), "%s", buf);
    ck_assert_msg(strstr(buf, "JOULE_VK_WG") && strstr(buf, "unset ("), "%s", buf);
    for (int i = 0; i < VKS_COUNT; i++) {
        ck_assert_msg(vk_switches[i].name && strncmp(vk_switches[i].name, "JOULE_VK_", 9) == 0,
                      "switch %d has no JOULE_VK_ name", i);
        ck_assert_msg(vk_switches[i].dflt && vk_switches[i].meaning, "%s: no default or meaning",
                      vk_switches[i].name);
        ck_assert_msg(strstr(buf, vk_switches[i].name), "%s is not listed", vk_switches[i].name);
    }
    free(buf);
    /* flags: on unless unset, empty or 0; numbers: the whole value, else the default */
    setenv("JOULE_VK_NO_UNIT", "0", 1);
    ck_assert(!vk_env_on(VKS_NO_UNIT));
    setenv("JOULE_VK_NO_UNIT", "1", 1);
    ck_assert(vk_env_on(VKS_NO_UNIT));
    unsetenv("JOULE_VK_NO_UNIT");
    ck_assert(!vk_env_on(VKS_NO_UNIT));
    setenv("JOULE_VK_MATVEC_MAX", "0x10", 1);
    ck_assert_int_eq(vk_env_long(VKS_MATVEC_MAX, 2), 16);
    setenv("JOULE_VK_MATVEC_MAX", "4x", 1);
    ck_assert_int_eq(vk_env_long(VKS_MATVEC_MAX, 2), 2);
    unsetenv("JOULE_VK_MATVEC_MAX");
    char *readme = NULL;
    FILE *f = fopen("README.md", "rb");
    if (!f) {
        fprintf(stderr, "SKIP %s: README.md not found (run from the repository root)\n", __func__);
        return;
    }
    readme = calloc(1, 1 << 20);
    ck_assert(readme);
    size_t got = fread(readme, 1, (1 << 20) - 1, f);
    fclose(f);
    ck_assert_uint_gt(got, 0);
    for (int i = 0; i < VKS_COUNT; i++)
        ck_assert_msg(strstr(readme, vk_switches[i].name), "README.md does not list %s",
                      vk_switches[i].name);
    free(readme);
}
END_TEST

void vk_kernel_tests(TCase *tk)
{
    tcase_add_test(tk, test_kernels_exist);
    tcase_add_test(tk, test_kernel_names);
    tcase_add_test(tk, test_switches);
}
