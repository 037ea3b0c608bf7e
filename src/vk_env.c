/* vk_env — the table of JOULE_VK_* switches (see vk_env.h). */
#include "vk_env.h"

#include <stdlib.h>
#include <string.h>

#include "vk.h"

const struct vk_switch_info vk_switches[VKS_COUNT] = {
    [VKS_VALIDATE] = {"JOULE_VK_VALIDATE", "off",
                      "Khronos validation layer; any message fails the operation"},
    [VKS_PROFILE] = {"JOULE_VK_PROFILE", "off",
                     "device time per op (timestamp queries), printed when the backend closes"},
    [VKS_LOADER] = {"JOULE_VK_LOADER", "libvulkan.so.1",
                    "the loader library (a missing one: no Vulkan, the CPU with a notice)"},
    [VKS_DEVICE] = {"JOULE_VK_DEVICE", "unset",
                    "`vulkan` and `auto` mean `vulkan:N` (see Cluster)"},
    [VKS_KV_F32] = {"JOULE_VK_KV_F32", "off (f16 cache)", "keep the KV cache in f32"},
    [VKS_TEXEL] = {"JOULE_VK_TEXEL", "on for CPU devices only",
                   "weights through texel buffers on GPUs too"},
    [VKS_NO_TEXEL] = {"JOULE_VK_NO_TEXEL", "off", "no texel buffers (nor unit kernels) anywhere"},
    [VKS_NO_UNIT] = {"JOULE_VK_NO_UNIT", "off", "no unit kernels (shaders/cpu_*.comp)"},
    [VKS_NO_SUBGROUP] = {"JOULE_VK_NO_SUBGROUP", "off",
                         "reductions through shared memory only, no subgroup operations"},
    [VKS_MULTI_SUBGROUP] = {"JOULE_VK_MULTI_SUBGROUP", "off",
                            "no one-subgroup (barrier-free) reductions"},
    [VKS_WG] = {"JOULE_VK_WG", "the subgroup size on CPU devices, else max(64, subgroup)",
                "workgroup size (rounded down to a power of two)"},
    [VKS_MV_ROWS] = {"JOULE_VK_MV_ROWS",
                     "matvec_gpu 2 (4 where every subgroup is 64 lanes); matvec 4 on GPUs, on "
                     "CPU devices about 128 KiB of rows",
                     "matvec rows per workgroup (1..256; matvec_gpu: 1..8)"},
    [VKS_MV_GPU] = {"JOULE_VK_MV_GPU", "on for GPU devices only",
                    "1: the GPU decode kernel (matvec_gpu: Q8_0, Q4_0, Q4_K, Q6_K, 1..8 tokens) "
                    "on CPU devices too; 0: nowhere (matvec / matmul, for comparisons)"},
    [VKS_MM_ROWS] = {"JOULE_VK_MM_ROWS", "8 on GPUs, 128 on CPU devices",
                     "matmul rows per workgroup (1..256)"},
    [VKS_MATVEC_MAX] = {"JOULE_VK_MATVEC_MAX", "2",
                        "batches of up to this many tokens use matvec, larger ones matmul "
                        "(matvec_gpu takes 1..8 tokens of its types)"},
    [VKS_MAX_RANGE] = {"JOULE_VK_MAX_RANGE", "the device's storage-buffer range (<= 2 GiB)",
                       "lower the storage-buffer range (>= 4096; to test splitting)"},
    [VKS_MAX_TEXELS] = {"JOULE_VK_MAX_TEXELS", "the device's maxTexelBufferElements",
                        "lower the texel limit (to test the fallback)"},
    [VKS_NO_PIN] = {"JOULE_VK_NO_PIN", "off (pinned where the device can)",
                    "do not pin the subgroup size (then no one-subgroup reductions)"},
    [VKS_STAGING] = {"JOULE_VK_STAGING", "off (direct writes on unified or resizable-BAR memory)",
                     "upload the weights through staging copies everywhere"},
    [VKS_TIMEOUT_MS] = {"JOULE_VK_TIMEOUT_MS", "120000 on GPUs, 600000 on CPU devices",
                        "a step or copy not finished by then is an error (0: poll once)"},
    [VKS_MEM_BUDGET] = {"JOULE_VK_MEM_BUDGET", "the device's free memory (VK_EXT_memory_budget)",
                        "pretend this many bytes of device memory are free (tests)"},
    [VKS_SPLIT_KV] = {"JOULE_VK_SPLIT_KV", "chosen on GPUs (decode), off on CPU devices",
                      "KV splits of decode attention (0: one pass; up to 64)"},
    [VKS_ATTN_TILE] = {"JOULE_VK_ATTN_TILE", "on for GPU devices only (batches over 8 rows)",
                       "1: the tiled prefill attention (attn_tile) on CPU devices too; 0: nowhere"},
    [VKS_INT8] = {"JOULE_VK_INT8", "offered where the device accelerates integer dot products",
                  "1: the int8 decode path (--precision fast) also where not accelerated; 0: "
                  "never"},
    [VKS_MATMUL_TILE] = {"JOULE_VK_MATMUL_TILE", "on for GPU devices only (batches over 8 tokens)",
                         "1: the tiled prefill products (matmul_tile) on CPU devices too; 0: "
                         "nowhere (matmul, for comparisons; no matmul_cm either)"},
    [VKS_COOPMAT] = {"JOULE_VK_COOPMAT",
                     "on where the device has 16x16x16 f16 cooperative "
                     "matrices and the vendor rule allows",
                     "0: no cooperative matrices (matmul_tile instead); 1: past the vendor "
                     "rule (AMD without matrix units, Intel Alchemist)"},
    [VKS_NO_FUSE] = {"JOULE_VK_NO_FUSE", "off (fused where matvec_gpu runs)",
                     "no fused decode kernels (RMSNorm in the products, q/k/v and gate + up + "
                     "SwiGLU as one product, rope + KV store): the graph's ops one by one"},
};

const char *vk_env_str(enum vk_switch s)
{
    const char *v = getenv(vk_switches[s].name);
    return v && *v ? v : NULL;
}

bool vk_env_on(enum vk_switch s)
{
    const char *v = vk_env_str(s);
    return v && strcmp(v, "0") != 0;
}

long vk_env_long(enum vk_switch s, long dflt)
{
    const char *v = vk_env_str(s);
    if (!v) return dflt;
    char *end = NULL;
    long x = strtol(v, &end, 0);
    return (end && *end == 0) ? x : dflt;
}

void vk_print_switches(FILE *out)
{
    fprintf(out, "environment switches (tests, tuning, diagnosis):\n");
    for (int i = 0; i < VKS_COUNT; i++) {
        const char *v = vk_env_str((enum vk_switch)i);
        fprintf(out, "  %-24s %s%s%s — %s\n", vk_switches[i].name, v ? "= " : "unset (",
                v ? v : vk_switches[i].dflt, v ? "" : ")", vk_switches[i].meaning);
    }
}
