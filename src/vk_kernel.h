/* vk_kernel.h — which compute kernel runs an op, as a typed description, and the one
 * function that names it.
 *
 * Where each op's kernel is chosen: record_op (vk_record.c) describes the op's case
 * (weight type, batch size, which views exist) and asks the op's chooser here
 * (vk_choose_matmul, vk_choose_attention, ...) for a struct vk_kernel; vk_kernel_name()
 * turns it into the variant name under which build.sh embedded the SPIR-V (the
 * `// axes:` lines of shaders/<file>.comp); get_pipe() makes the pipeline once per name.
 * Choosers are pure functions of a device profile and the op's case, so the test
 * vk/kernels enumerates every description any profile can produce and checks that each
 * kernel exists in the binary (and that no embedded kernel is unreachable). A run of ops
 * the graph marks (model.h: n_fused, glu, fold) is recorded as one unit (record_unit) where
 * its fused chooser (vk_choose_matmul_fused, vk_choose_rope_kv) returns a kernel.
 *
 * The push constants of each kernel family are C structs mirroring the GLSL blocks.
 */
#ifndef JOULE_VK_KERNEL_H
#define JOULE_VK_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shaders.h"

enum vk_family {
    VKF_EMBED,
    VKF_RMSNORM,
    VKF_MATVEC, /* a few tokens: one workgroup reduces a few rows of one token */
    VKF_MATMUL, /* tiled: rows x tokens per workgroup */
    /* GPU decode (shaders/matvec_gpu.comp): one workgroup computes a few rows of every
     * token of a batch of 1..VK_MVG_MAX_TOKENS, several lanes sharing each weight block */
    VKF_MATVEC_GPU,
    VKF_ROPE,
    VKF_KV_STORE,
    VKF_ATTENTION,
    VKF_SWIGLU,
    /* CPU-Vulkan (lavapipe) kernels, shaders/cpu_*.comp: weights through 8-byte texels
     * (unit) or K super-blocks staged from 16-byte texels (kunit), x as vec4 texels */
    VKF_CPU_MATVEC_UNIT,
    VKF_CPU_MATVEC_KUNIT,
    VKF_CPU_MATMUL_UNIT,
    VKF_CPU_MATMUL_KUNIT,
    VKF_ATTN_SPLIT, /* decode attention split over the KV range, GQA group per workgroup */
    VKF_ATTN_MERGE, /* and the pass that combines the splits */
    VKF_ATTN_TILE,  /* prefill attention: tiles of rows x GQA heads, K/V tiles in shared memory */
    /* the int8 decode path (`fast` precision, shaders/matvec_q8.comp): MATVEC_GPU's layout
     * with x quantized per block (QUANT_Q8, shaders/quantize_q8.comp) and 4-byte integer
     * dot products; needs a glslc with GL_EXT_integer_dot_product ("int8dot") */
    VKF_MATVEC_Q8,
    VKF_QUANT_Q8,
    /* GPU prefill products (shaders/matmul_tile.comp, matmul_cm.comp): a workgroup computes a
     * tile of rows x tokens from weight and activation tiles in shared memory; fp32 tiles,
     * or fp16 tiles through cooperative matrices (CM) */
    VKF_MATMUL_TILE,
    VKF_MATMUL_CM,
    VKF_ROPE_KV, /* the graph's rope run: rope of q and k and the KV store in one pass */
    VKF_COUNT
};

/* How a kernel reduces across a workgroup (the name's suffix). */
enum vk_reduce {
    VK_RED_NONE,         /* the kernel has no reduction: no suffix */
    VK_RED_SUBGROUP,     /* subgroup arithmetic, combined through shared memory: "" */
    VK_RED_ONE_SUBGROUP, /* the workgroup is one subgroup, no barriers: "_sg" */
    VK_RED_SHARED,       /* shared memory only: "_ns" */
};

struct vk_kernel {
    enum vk_family family;
    uint32_t type;      /* weight type (Q_*) of EMBED, MATVEC, MATMUL and the CPU kernels */
    enum vk_reduce red; /* VK_RED_NONE for kernels without a reduction */
    bool x4;            /* MATVEC: x read as vec4 */
    bool texel;         /* weights (ATTENTION: q, K and V) through texel views */
    bool kv_f32;        /* KV_STORE, ATTENTION: a float32 cache */
    uint8_t tn;         /* CPU matmuls: tokens per invocation (4 or 8); else 0 */
    uint8_t nt;         /* specialization constant 4, not in the name (one pipeline per value):
                           MATVEC_GPU: the batch's tokens; ATTN_SPLIT: 16-byte words of a key
                           per lane (vk_attn_split_slices); else 0 */
    uint8_t tile;       /* MATMUL_TILE, MATMUL_CM: the tile shape (enum vk_tile_shape; the sizes
                           are the device's, specialization constants, not in the name); else 0 */
    uint8_t fuse;       /* MATVEC_GPU: enum vk_fuse (shaders/matvec_gpu_fused.comp); else 0 */
};

/* The tile shapes of the prefill products: small tiles (fewer tokens) for batches of up to
 * VK_TILE_SMALL_MAX tokens, so that the work scales with the tokens present, large ones
 * beyond; the cooperative-matrix kernel has one shape. */
enum vk_tile_shape { VK_TILE_NONE, VK_TILE_SMALL, VK_TILE_LARGE, VK_TILE_CM, VK_TILE_SHAPES };
enum { VK_TILE_SMALL_MAX = 64 };

/* A tile shape's sizes (specialization constants 5..9, and the workgroup size). */
struct vk_tile {
    uint32_t bm, bn, bk; /* rows x tokens of a workgroup's output tile; K elements per step */
    uint32_t tm, tn;     /* MATMUL_TILE: rows x tokens of an invocation's sub-tile; CM: 0 */
    uint32_t wg;         /* invocations: (bm / tm) x (bn / tn); CM: 4 subgroups */
    uint32_t shared;     /* bytes of shared memory the kernel declares */
};
/* The sizes of shape s on a device with shared_bytes of shared memory, subgroups of sg lanes
 * and workgroups of at most max_wg invocations. MATMUL_TILE: 64 rows x 32 tokens (small) or
 * 64 x 64 (large) in K steps of 32, 4 x 4 or 4 x 8 per invocation: 128 invocations, 12 or 16
 * KiB of fp32 tiles (Vulkan guarantees 16 KiB). Subgroups over 128 lanes double the rows
 * (the workgroup stays at least one subgroup); a smaller workgroup limit halves the rows, a
 * smaller shared memory halves K per step (to 16), then the rows. CM: 64 x 64 tiles in K
 * steps of 32, 4 subgroups (each a 32 x 32 block of 16 x 16 matrices), fewer where max_wg
 * says so; 24 KiB (fp16 tiles, the fp32 results). */
struct vk_tile vk_matmul_tile(enum vk_tile_shape s, uint32_t shared_bytes, uint32_t sg,
                              uint32_t max_wg);

/* The fused forms of the GPU decode product (a graph run of products, see model.h) */
enum vk_fuse {
    VK_FUSE_NONE,
    VK_FUSE_SET, /* "_set": up to VK_FUSE_MAX_SET weights of one type, one input, one dispatch */
    VK_FUSE_GLU, /* "_glu": gate and up of one type, silu(gate) * up written */
};
enum { VK_FUSE_MAX_SET = 3 };

/* MATVEC_GPU: the most tokens of a workgroup; rows per workgroup by default and at most
 * (JOULE_VK_MV_ROWS): register arrays, so few */
enum { VK_MVG_MAX_TOKENS = 8, VK_MVG_ROWS = 2, VK_MVG_ROWS_WAVE64 = 4, VK_MVG_MAX_ROWS = 8 };

/* What the choosers need to know about the device (struct vk_ctx holds one). */
struct vk_profile {
    enum vk_reduce red; /* the reduction form of the device (never VK_RED_NONE) */
    bool kv_f16;        /* float16 KV cache */
    bool unit;          /* the CPU unit kernels are on (JOULE_VK_NO_UNIT, texel formats) */
    bool mv_gpu;        /* the GPU decode kernel: GPU devices, or forced (JOULE_VK_MV_GPU) */
    bool int8;          /* the int8 decode path: the `fast` precision on a device with
                           integer dot products (vk_int8_on), with mv_gpu */
    bool tile;    /* the tiled prefill products: GPU devices, or forced (JOULE_VK_MATMUL_TILE) */
    bool coopmat; /* and through cooperative matrices (vk_coopmat_on, the kernels built) */
    bool fuse;    /* the fused kernels may run (not JOULE_VK_NO_FUSE; the device has the
                     storage bindings they need) */
};

/* Whether the int8 decode path can run (the backend then offers the `fast` precision):
 * the device has integer dot products (dot), Vulkan 1.3 (api13: the kernels are SPIR-V
 * 1.6), this build has the int8dot kernels (built) and the device accelerates them (accel);
 * forced (JOULE_VK_INT8) 1: also where not accelerated, 0: never, -1: not forced. */
bool vk_int8_on(bool dot, bool api13, bool built, bool accel, int forced);

/* The reduction form: subgroup arithmetic where the device has it (arith) and no_subgroup
 * is not set; one subgroup per workgroup only where the subgroup size is pinned (pinned_sg
 * > 0: every pipeline is created with that size) and the workgroup fits it (wg <= pinned_sg,
 * with shuffles), and multi is not set. A size reported but not pinned proves nothing: some
 * drivers run another (MoltenVK on AMD reports 64 and runs 32; Intel varies 8..32). */
enum vk_reduce vk_reduce_form(bool arith, bool shuffle, uint32_t wg, uint32_t pinned_sg,
                              bool no_subgroup, bool multi);
/* The subgroup size to pin: the reported size sg within the device's [min, max]. */
uint32_t vk_pinned_subgroup(uint32_t sg, uint32_t min, uint32_t max);
/* The workgroup size: the subgroup size on CPU devices, else at least 64; forced > 0
 * replaces it; a power of two from 4 to lim. */
uint32_t vk_workgroup_size(bool cpu, uint32_t sg, long forced, uint32_t lim);

/* matvec_gpu's rows per workgroup on a device whose subgroups are sg lanes (min_sg..max_sg
 * where it reports a range, else 0, 0): VK_MVG_ROWS_WAVE64 where every subgroup is 64 lanes
 * (AMD GCN and CDNA: a 64-lane workgroup is one wave, and more rows per wave amortize the x
 * reads and the reduction; ggml-vulkan's measured choice there is 4 rows of K-quant products,
 * against 2 elsewhere), else VK_MVG_ROWS; forced 1..VK_MVG_MAX_ROWS (JOULE_VK_MV_ROWS) replaces
 * it. To be tuned per vendor with device timings (tools/device-run.sh). */
uint32_t vk_mvg_rows(uint32_t sg, uint32_t min_sg, uint32_t max_sg, uint32_t forced);

/* Whether matvec_gpu runs (struct vk_profile's mv_gpu): on GPU devices; forced (JOULE_VK_MV_GPU)
 * 1: everywhere, 0: nowhere, -1: not forced. */
bool vk_mv_gpu_on(bool cpu, int forced);
/* Whether matmul_tile runs (struct vk_profile's tile): the same rule (JOULE_VK_MATMUL_TILE). */
bool vk_tile_on(bool cpu, int forced);

/* What decides the cooperative-matrix products on a device. */
struct vk_coop_dev {
    bool cpu;
    uint32_t vendor, device_id; /* VkPhysicalDeviceProperties' vendorID and deviceID */
    bool ready;                 /* the cooperativeMatrix, shaderFloat16 and vulkanMemoryModel
                                   features and Vulkan 1.3 (the kernels are SPIR-V 1.6) */
    uint32_t m, n, k;           /* a subgroup shape of f16 x f16 -> f32 (0: none) */
    uint32_t shared_bytes, max_wg;
};
/* Whether the vendor's hardware runs cooperative matrices faster than the tiled kernel.
 * AMD reports the extension on GPUs without matrix units (emulated): yes only for the
 * device IDs of parts with WMMA / matrix cores — RDNA3 and later (Navi3x, Navi4x: 0x7440 ..
 * 0x75ff; the RDNA3 APUs Phoenix, Hawk Point, Strix: 0x15bf, 0x15c8, 0x1900, 0x1901, 0x150e,
 * 0x1586) and CDNA (MI100 .. MI300: 0x7388, 0x738c, 0x738e, 0x7408, 0x740c, 0x740f, 0x74a0 ..
 * 0x74bf); an unknown AMD ID stays tiled until measured. Intel: not the first Arc generation
 * (Alchemist, 0x56xx), slower with it than tiled. Other vendors: yes. */
bool vk_coopmat_vendor(uint32_t vendor, uint32_t device_id);
/* Whether matmul_cm runs: never on CPU devices nor without the features (ready), a 16 x 16 x
 * 16 shape (the one the kernel's blocks are laid out for) and the kernel's shared memory
 * (vk_matmul_tile's CM shape); forced (JOULE_VK_COOPMAT) 0: nowhere, 1: past the vendor rule, -1:
 * the vendor rule. The host also requires the kernels to be built (vk_feature_built). */
bool vk_coopmat_on(const struct vk_coop_dev *d, int forced);

/* An OP_MATMUL, as the chooser sees it. */
struct vk_matmul_case {
    uint32_t type;
    uint32_t tokens; /* the batch */
    bool matvec;     /* few enough tokens for the matvec kernels (JOULE_VK_MATVEC_MAX) */
    bool x4_rows;    /* the row length, x's offset and stride are multiples of 4 */
    bool xtex;       /* x has a vec4 texel view usable at its offset and stride */
    bool w_texel;    /* every chunk of the weight has a 16-byte texel view */
    bool w_unit;     /* and an 8-byte one, rows splitting into whole units */
    bool fill8;      /* the batch fills 8 tokens per invocation to within 1/8 */
};

struct vk_kernel vk_choose_embed(uint32_t type);
struct vk_kernel vk_choose_rmsnorm(const struct vk_profile *p);
struct vk_kernel vk_choose_matmul(const struct vk_profile *p, const struct vk_matmul_case *m);
struct vk_kernel vk_choose_rope(void);
struct vk_kernel vk_choose_kv_store(const struct vk_profile *p);

/* One product of a fused run of products (the graph's n_fused, glu and fold marks), as the
 * chooser sees it: its case is a decode case of matvec_gpu. */
struct vk_fused_case {
    uint32_t type;
    uint32_t tokens; /* the batch */
    bool x4_rows;    /* the row length, x's offset and stride are multiples of 4 */
    bool glu;        /* gate or up of a glu run whose two weights have one type */
};
/* The fused decode product (matvec_gpu_fused: SET, or GLU for glu) where matvec_gpu would run
 * the product alone and the profile fuses; false: run the products one by one. A run is
 * fused when every product of it has a fused kernel; its RMSNorm (fold) then goes into it. */
bool vk_choose_matmul_fused(const struct vk_profile *p, const struct vk_fused_case *f,
                            struct vk_kernel *out);
/* The rope run (rope q, rope k, KV store) as one kernel where the profile fuses and the GPU
 * decode kernel runs; false: the three ops one by one. */
bool vk_choose_rope_kv(const struct vk_profile *p, struct vk_kernel *out);
/* An OP_ATTENTION, as the chooser sees it. */
struct vk_attn_case {
    bool texel;        /* q, K and V have vec4 texel views (CPU devices) */
    uint32_t splits;   /* vk_attn_splits: KV splits for this step, 0 = one pass */
    uint32_t tile;     /* vk_attn_tile_rows: rows per tile of attn_tile, 0 = not tiled */
    uint32_t head_dim; /* and the workgroup size: attn_split's words per lane */
    uint32_t wg;
};
/* attention.comp (one workgroup per query head and token), the split pair attn_split +
 * attn_merge (vk_choose_attn_merge) when the case has splits, or attn_tile when it has a
 * tile (prefill) */
struct vk_kernel vk_choose_attention(const struct vk_profile *p, const struct vk_attn_case *a);
struct vk_kernel vk_choose_attn_merge(void);
/* attn_split: a team of lanes reads a key, each lane 16-byte words (8 halves or 4 floats) of
 * it; the team is head_dim / (8 or 4) lanes rounded up to a power of two, at most wg, and
 * each lane reads this many words of a key (1 when the team fits the workgroup) */
uint32_t vk_attn_split_slices(bool kv_f32, uint32_t head_dim, uint32_t wg);
/* KV splits of a step of n_tokens rows (flash-decoding), 0 for the one-pass kernel: decode
 * steps (up to 8 rows) on GPUs, enough splits that n_head_kv x splits x n_tokens reaches
 * about 256 workgroups (twice the compute units of the largest GPUs), at most 32; never on
 * CPU devices (one workgroup runs on one thread there), nor for groups of more than 8
 * query heads per KV head, head_dim over 256 or not a multiple of 8 (attn_split reads keys
 * in 16-byte words, from rows that must start on one), or under 20 KiB of shared memory
 * (attn_split needs 4 KiB + 20 bytes per invocation: workgroups up to 512).
 * forced >= 0 (JOULE_VK_SPLIT_KV) replaces the count (0: off), up to 64, where the shapes
 * allow. */
uint32_t vk_attn_splits(bool cpu, long forced, int32_t n_tokens, int32_t n_head, int32_t n_head_kv,
                        int32_t head_dim, uint32_t shared_bytes);
/* shaders/attn_tile.comp: query slots (rows x GQA heads) of a workgroup up to head_dim
 * VK_ATTN_TILE_HD / 2, half of them (and half the keys of a tile) up to VK_ATTN_TILE_HD, and
 * the shared memory it needs for either */
enum { VK_ATTN_TILE_SLOTS = 16, VK_ATTN_TILE_HD = 256, VK_ATTN_TILE_SHARED = 24576 };
/* Rows per tile of the tiled prefill attention (attn_tile), 0 for the other kernels: batches
 * of more than 8 rows on GPUs, its slots (VK_ATTN_TILE_SLOTS, half over head_dim 128) / (query
 * heads per KV head) rows; never on CPU devices, nor for groups of more heads than slots,
 * head_dim over VK_ATTN_TILE_HD or odd, or under VK_ATTN_TILE_SHARED bytes of shared memory.
 * forced (JOULE_VK_ATTN_TILE) 1: on CPU devices too, 0: nowhere, -1: not forced. */
uint32_t vk_attn_tile_rows(bool cpu, long forced, int32_t n_tokens, int32_t n_head,
                           int32_t n_head_kv, int32_t head_dim, uint32_t shared_bytes);
struct vk_kernel vk_choose_swiglu(void);

/* whether MATVEC_GPU (and MATVEC_Q8) has a kernel for the weight type (Q8_0, Q4_0, Q4_K,
 * Q6_K) */
bool vk_mv_gpu_type(uint32_t type);
/* The kernel that quantizes a MATVEC_Q8 product's input (run before it, once per input). */
struct vk_kernel vk_choose_quant_q8(void);

/* The kernel's name ("matvec_q4_0_tx_sg") into buf; -1 when the description names no
 * kernel (an unknown family or type) or buf is too small. */
int vk_kernel_name(const struct vk_kernel *k, char *buf, size_t len);

/* The embedded SPIR-V of kernel name, NULL when it is not in this binary. */
const struct shader_blob *vk_shader_find(const char *name);
/* What a kernel left out of this build needs ("coopmat"; build.sh's `// needs:`), NULL when
 * it is built or unknown. */
const char *vk_shader_missing(const char *name);
/* Whether the kernels needing feature ("coopmat", "int8dot") are in this binary: 1 all of
 * them, 0 not (the glslc used did not know the feature), -1 no kernel needs it. */
int vk_feature_built(const char *feature);

/* type suffix of kernel names ("q4_0"), NULL when the type has no kernels */
const char *vk_type_suffix(uint32_t type);
/* elements per unit of the CPU unit kernels for the type, 0 if none */
int64_t vk_unit_elems(uint32_t type);

/* ---- push constants: one struct per GLSL block (4-byte members, std430 push layout) ---- */

/* shaders/matmul_io.glsl (matvec, matmul and the cpu_ matmul kernels) */
struct vk_pc_matmul {
    uint32_t ne0, rows, row_bytes, n, x_off, x_stride, y_off, y_stride, row_base;
    uint32_t flags; /* 1: accumulate into y, 2: add the bias */
    uint32_t rpg;   /* matvec rows per workgroup */
};
_Static_assert(sizeof(struct vk_pc_matmul) == 11 * 4, "matmul_io.glsl PC");

/* shaders/embed.comp */
struct vk_pc_embed {
    uint32_t ne0, rows, row_bytes, n, row_first;
};
_Static_assert(sizeof(struct vk_pc_embed) == 5 * 4, "embed.comp PC");

/* shaders/rmsnorm.comp */
struct vk_pc_rmsnorm {
    uint32_t dim, x_off, y_off;
    float eps;
};
_Static_assert(sizeof(struct vk_pc_rmsnorm) == 4 * 4, "rmsnorm.comp PC");

/* shaders/rope.comp */
struct vk_pc_rope {
    uint32_t n_heads, head_dim, rope_dim, neox;
};
_Static_assert(sizeof(struct vk_pc_rope) == 4 * 4, "rope.comp PC");

/* shaders/matvec_gpu_fused.comp */
struct vk_pc_mvg_fused {
    uint32_t ne0, row_bytes, x_off, x_stride;
    uint32_t flags;       /* 1: x is normalised (RMSNorm, weight at binding 15); 2 << k: weight k's
                             bias (bindings 3, 13, 14) */
    uint32_t rows[3];     /* rows of each weight (bindings 0, 9, 10); GLU: rows[0] of both */
    uint32_t y_stride[3]; /* row strides of each output (bindings 2, 11, 12) */
    uint32_t g1, g2;      /* SET: the first workgroup of weights 1 and 2 */
    float eps;
};
_Static_assert(sizeof(struct vk_pc_mvg_fused) == 14 * 4, "matvec_gpu_fused.comp PC");

/* shaders/rope_kv.comp */
struct vk_pc_rope_kv {
    uint32_t n_head, n_head_kv, head_dim, rope_dim, neox;
};
_Static_assert(sizeof(struct vk_pc_rope_kv) == 5 * 4, "rope_kv.comp PC");

/* shaders/kv_store.comp */
struct vk_pc_kv_store {
    uint32_t kv_dim;
};
_Static_assert(sizeof(struct vk_pc_kv_store) == 4, "kv_store.comp PC");

/* the attention family (shaders/attention.comp, attn_split.comp, attn_merge.comp,
 * attn_tile.comp): one block, each kernel declaring the prefix it reads */
struct vk_pc_attention {
    uint32_t n_head, n_head_kv, head_dim;
    float scale;
    uint32_t window;
    uint32_t n_split;    /* attn_split, attn_merge: KV splits */
    uint32_t tq, n_rows; /* attn_tile: rows per tile, rows of the batch */
};
_Static_assert(sizeof(struct vk_pc_attention) == 8 * 4, "attention PC");

/* shaders/swiglu.comp */
struct vk_pc_swiglu {
    uint32_t width;
};
_Static_assert(sizeof(struct vk_pc_swiglu) == 4, "swiglu.comp PC");

#endif
