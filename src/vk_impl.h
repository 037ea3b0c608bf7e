/* vk_impl.h — internals of the Vulkan backend shared by src/vk_*.c (and tests):
 * the function table loaded at run time, the instance and device descriptions,
 * buffers, and the test hooks that run single ops.
 *
 * Every Vulkan function is called through struct vk_fns, filled from
 * vkGetInstanceProcAddr / vkGetDeviceProcAddr: the binary never links libvulkan.
 */
#ifndef JOULE_VK_IMPL_H
#define JOULE_VK_IMPL_H

#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "model.h"
#include "vk_kernel.h"

#define VK_FNS_GLOBAL(X)                                                                           \
    X(vkCreateInstance)                                                                            \
    X(vkEnumerateInstanceLayerProperties)                                                          \
    X(vkEnumerateInstanceExtensionProperties)

#define VK_FNS_INSTANCE(X)                                                                         \
    X(vkDestroyInstance)                                                                           \
    X(vkEnumeratePhysicalDevices)                                                                  \
    X(vkGetPhysicalDeviceProperties)                                                               \
    X(vkGetPhysicalDeviceProperties2)                                                              \
    X(vkGetPhysicalDeviceFeatures2)                                                                \
    X(vkGetPhysicalDeviceMemoryProperties)                                                         \
    X(vkGetPhysicalDeviceMemoryProperties2)                                                        \
    X(vkGetPhysicalDeviceFormatProperties)                                                         \
    X(vkGetPhysicalDeviceQueueFamilyProperties)                                                    \
    X(vkEnumerateDeviceExtensionProperties)                                                        \
    X(vkCreateDevice)                                                                              \
    X(vkGetDeviceProcAddr)

#define VK_FNS_DEVICE(X)                                                                           \
    X(vkDestroyDevice)                                                                             \
    X(vkGetDeviceQueue)                                                                            \
    X(vkCreateBuffer)                                                                              \
    X(vkDestroyBuffer)                                                                             \
    X(vkCreateBufferView)                                                                          \
    X(vkDestroyBufferView)                                                                         \
    X(vkGetBufferMemoryRequirements)                                                               \
    X(vkAllocateMemory)                                                                            \
    X(vkFreeMemory)                                                                                \
    X(vkBindBufferMemory)                                                                          \
    X(vkMapMemory)                                                                                 \
    X(vkUnmapMemory)                                                                               \
    X(vkCreateShaderModule)                                                                        \
    X(vkDestroyShaderModule)                                                                       \
    X(vkCreateDescriptorSetLayout)                                                                 \
    X(vkDestroyDescriptorSetLayout)                                                                \
    X(vkCreatePipelineLayout)                                                                      \
    X(vkDestroyPipelineLayout)                                                                     \
    X(vkCreateComputePipelines)                                                                    \
    X(vkDestroyPipeline)                                                                           \
    X(vkCreateDescriptorPool)                                                                      \
    X(vkDestroyDescriptorPool)                                                                     \
    X(vkAllocateDescriptorSets)                                                                    \
    X(vkUpdateDescriptorSets)                                                                      \
    X(vkCreateCommandPool)                                                                         \
    X(vkDestroyCommandPool)                                                                        \
    X(vkAllocateCommandBuffers)                                                                    \
    X(vkFreeCommandBuffers)                                                                        \
    X(vkBeginCommandBuffer)                                                                        \
    X(vkEndCommandBuffer)                                                                          \
    X(vkCmdBindPipeline)                                                                           \
    X(vkCmdBindDescriptorSets)                                                                     \
    X(vkCmdPushConstants)                                                                          \
    X(vkCmdDispatch)                                                                               \
    X(vkCmdPipelineBarrier)                                                                        \
    X(vkCmdCopyBuffer)                                                                             \
    X(vkCmdFillBuffer)                                                                             \
    X(vkCreateFence)                                                                               \
    X(vkDestroyFence)                                                                              \
    X(vkResetFences)                                                                               \
    X(vkWaitForFences)                                                                             \
    X(vkQueueSubmit)                                                                               \
    X(vkDeviceWaitIdle)                                                                            \
    X(vkCreateQueryPool)                                                                           \
    X(vkDestroyQueryPool)                                                                          \
    X(vkGetQueryPoolResults)                                                                       \
    X(vkCmdResetQueryPool)                                                                         \
    X(vkCmdWriteTimestamp)

struct vk_fns {
    PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr;
    PFN_vkEnumerateInstanceVersion vkEnumerateInstanceVersion;           /* NULL on a 1.0 loader */
    PFN_vkCreateDebugUtilsMessengerEXT vkCreateDebugUtilsMessengerEXT;   /* validation only */
    PFN_vkDestroyDebugUtilsMessengerEXT vkDestroyDebugUtilsMessengerEXT; /* validation only */
#define X(n) PFN_##n n;
    VK_FNS_GLOBAL(X) VK_FNS_INSTANCE(X) VK_FNS_DEVICE(X)
#undef X
};

/* An instance with its loader library and (when JOULE_VK_VALIDATE=1) a messenger
 * that counts validation errors; operations check n_errors and fail on any. */
struct vk_instance {
    void *lib;
    struct vk_fns f;
    VkInstance inst;
    VkDebugUtilsMessengerEXT messenger;
    bool validate;
    uint32_t api_version;
    int n_errors; /* validation errors reported so far */
    char first_error[512];
};

/* vk_loader.c: opens the loader and creates the instance. VK_OK or VK_NO_DEVICE. */
int vk_instance_open(struct vk_instance *vi, char *err, size_t errlen);
void vk_instance_close(struct vk_instance *vi);
/* Loads the device-level functions of dev into vi->f. */
int vk_load_device_fns(struct vk_instance *vi, VkDevice dev, char *err, size_t errlen);
/* Non-zero (with the first message in err) when validation has reported errors. */
int vk_check_validation(struct vk_instance *vi, char *err, size_t errlen);
const char *vk_result_str(VkResult r);

/* What joule needs to know about a physical device. */
struct vk_devinfo {
    uint32_t index;
    VkPhysicalDevice pd;
    VkPhysicalDeviceProperties props;
    VkPhysicalDeviceMemoryProperties mem;
    char driver_name[VK_MAX_DRIVER_NAME_SIZE];
    char driver_info[VK_MAX_DRIVER_INFO_SIZE];
    uint32_t subgroup_size;
    bool subgroup_arith; /* subgroup arithmetic in compute shaders */
    bool subgroup_shuffle;
    bool size_control; /* subgroup size control available */
    uint32_t min_subgroup, max_subgroup;
    /* the subgroup size can be pinned in compute pipelines (the subgroupSizeControl feature,
     * compute among requiredSubgroupSizeStages); full_subgroups: computeFullSubgroups too;
     * ext_size_control: through VK_EXT_subgroup_size_control (enabled with the device) */
    bool pin_ok, full_subgroups, ext_size_control;
    bool fp16, storage16, int8_dot;
    bool int8_accel; /* integerDotProduct4x8BitPackedSignedAccelerated */
    bool api13;      /* device and instance at Vulkan 1.3 (SPIR-V 1.6 kernels) */
    /* VK_KHR_cooperative_matrix with a subgroup-scope shape of f16 A/B and f32 C (from the
     * property query, not the extension's presence); coop_m/n/k: 16 x 16 x 16 where listed,
     * else the first such shape; coop_ready: the features its kernels need too (the
     * cooperativeMatrix feature, shaderFloat16, vulkanMemoryModel, Vulkan 1.3) */
    bool coop_matrix, coop_ready;
    uint32_t coop_m, coop_n, coop_k;
    bool portability_subset; /* VK_KHR_portability_subset is listed: it must be enabled */
    bool memory_budget;      /* VK_EXT_memory_budget (heap budget and usage) */
    /* the largest buffer: maxMemoryAllocationSize (1.1) and maxBufferSize (1.3 or
     * VK_KHR_maintenance4); 0 when not reported */
    uint64_t max_alloc, max_buffer;
    bool usable;         /* Vulkan >= 1.1 with a compute queue */
    bool pci_bus_info;   /* VK_EXT_pci_bus_info: pci_bus_id is known (and enabled on the device) */
    char pci_bus_id[16]; /* "0000:01:00.0", or "" */
    uint32_t queue_family;
    uint32_t timestamp_bits; /* timestampValidBits of that family (0: no timestamps) */
};

/* vk_device.c */
int vk_enum_devices(struct vk_instance *vi, struct vk_devinfo **out, uint32_t *n, char *err,
                    size_t errlen);
/* Picks a device for spec ("auto", "vulkan", "vulkan:N"); VK_OK or VK_NO_DEVICE. */
int vk_choose_device(const struct vk_devinfo *devs, uint32_t n, const char *spec, uint32_t *idx,
                     char *err, size_t errlen);
const char *vk_device_type_str(VkPhysicalDeviceType t);
const char *vk_vendor_str(uint32_t vendor_id);

/* A buffer with its own memory; map is non-NULL for host-visible ones. */
struct vk_buf {
    VkBuffer buf;
    VkDeviceMemory mem;
    VkDeviceSize size;
    void *map;
};

/* The device context: logical device, queue, one command pool, limits. */
struct vk_ctx {
    struct vk_instance vi;
    struct vk_devinfo info;
    VkDevice dev;
    VkQueue queue;
    VkCommandPool pool;
    VkFence fence;
    uint64_t timeout_ns; /* a submit not finished by then is an error (JOULE_VK_TIMEOUT_MS) */
    bool lost;           /* a submit timed out or the device was lost: nothing more is submitted */
    uint32_t pin_sg;     /* the subgroup size every pipeline is created with; 0: not pinned */
    bool pin_full;       /* and with full subgroups (the workgroup is a multiple of it) */
    bool direct;         /* weights written straight into mapped device-local memory */
    /* uploads: two staging buffers used in turn, each with its command buffer and fence, so
     * that the host fills one while the device copies the other (vk_upload_flush waits) */
    struct vk_stage {
        struct vk_buf buf;
        VkCommandBuffer cb;
        VkFence fence;
        bool pending;
    } stage[2];
    uint32_t stage_next;
    uint64_t max_range;        /* bytes a single storage binding may cover (<= 2 GiB) */
    uint32_t wg;               /* default workgroup size */
    uint32_t mv_rows, mm_rows; /* (most) rows per workgroup of matvec / matmul */
    uint32_t mv_rows_forced;   /* JOULE_VK_MV_ROWS: matvec rows per workgroup, 0 = chosen */
    uint32_t mvg_rows;         /* rows per workgroup of matvec_gpu (1..VK_MVG_MAX_ROWS) */
    bool mv_gpu;               /* matvec_gpu for its types: GPU devices, or JOULE_VK_MV_GPU */
    bool int8;                 /* the int8 decode path can run (vk_int8_on; the device's
                                  shaderIntegerDotProduct feature is enabled) */
    bool tile;                 /* matmul_tile for prefill: GPU devices, or JOULE_VK_MATMUL_TILE */
    bool coopmat;              /* matmul_cm instead (vk_coopmat_on; the feature enabled) */
    struct vk_tile tiles[VK_TILE_SHAPES]; /* the tile sizes of each shape (vk_matmul_tile) */
    bool fuse; /* the fused decode kernels (graph runs as one dispatch): not JOULE_VK_NO_FUSE,
                  and (set up by the backend) matvec_gpu runs and the device has the storage
                  bindings they need */
    bool cpu;  /* a CPU implementation (llvmpipe, SwiftShader) */
    enum vk_reduce red; /* how kernels reduce across a workgroup (vk_kernel.h) */
    bool kv_f16;
    bool texel;          /* matvec weights through R32G32B32A32_UINT uniform texel buffers */
    bool unit;           /* and the unit kernels (8-byte weight texels, activation and KV texels) */
    uint64_t max_texels; /* maxTexelBufferElements */
};

/* vk_mem.c */
int vk_ctx_open(struct vk_ctx *c, const char *spec, char *err, size_t errlen);
/* The device-dependent kernel choices vk_ctx_open makes for d (environment switches in
 * force) into c: cpu, wg, mv_gpu, pin_sg, pin_full, tiles, tile, coopmat, int8. */
void vk_ctx_plan(const struct vk_devinfo *d, struct vk_ctx *c);
void vk_ctx_close(struct vk_ctx *c);
/* VK_MEM_DEVICE_FILL: device-local memory that is written once from the host (weights,
 * tables): mapped when c->direct (unified memory, resizable BAR), else filled by copies */
enum vk_mem_kind { VK_MEM_DEVICE, VK_MEM_DEVICE_FILL, VK_MEM_HOST_WRITE, VK_MEM_HOST_READ };
int vk_buf_new(struct vk_ctx *c, struct vk_buf *b, VkDeviceSize size, enum vk_mem_kind kind,
               char *err, size_t errlen);
void vk_buf_free(struct vk_ctx *c, struct vk_buf *b);
/* Copies host data into / out of a device-local buffer through a staging buffer. */
int vk_buf_upload(struct vk_ctx *c, struct vk_buf *dst, VkDeviceSize off, const void *src,
                  VkDeviceSize size, char *err, size_t errlen);
int vk_buf_download(struct vk_ctx *c, struct vk_buf *src, VkDeviceSize off, void *dst,
                    VkDeviceSize size, char *err, size_t errlen);
/* Submits one command buffer and waits for it (and for the uploads before it), at most
 * c->timeout_ns: a timeout or a lost device is an error that stops every later submit. */
int vk_submit_wait(struct vk_ctx *c, VkCommandBuffer cb, char *err, size_t errlen);
/* Waits for the uploads in flight. */
int vk_upload_flush(struct vk_ctx *c, char *err, size_t errlen);
/* Bytes of device-local memory free for this process: the heap's budget minus its usage
 * (VK_EXT_memory_budget), else the largest device-local heap's size; JOULE_VK_MEM_BUDGET
 * replaces it (tests). *heap: that heap's index, *from_budget: whether the extension told. */
uint64_t vk_device_free(const struct vk_ctx *c, uint32_t *heap, bool *from_budget);

/* ---- test hooks (vk_backend.c): run a graph given by the caller, access buffers ---- */
struct vk_backend;
/* A backend for model m that runs g instead of the model's graph (g is copied). */
int vk_backend_new_graph(const struct model *m, const struct graph *g, const char *spec,
                         int32_t n_ctx, struct backend **out, char *err, size_t errlen);
int vk_test_set_act(struct backend *b, enum act a, const float *data, int32_t rows, char *err,
                    size_t errlen);
int vk_test_get_act(struct backend *b, enum act a, float *data, int32_t rows, char *err,
                    size_t errlen);
/* Runs the graph once on n rows at pos; logits ops on rows lrow0..lrow0+nl-1. */
int vk_test_run(struct backend *b, const int32_t *tokens, int32_t n, int32_t pos, int32_t lrow0,
                int32_t nl, char *err, size_t errlen);
/* The cache of a layer as floats (n_ctx x kv_dim each). */
int vk_test_get_kv(struct backend *b, int32_t layer, float *k, float *v, char *err, size_t errlen);
/* Whether the backend's KV cache is float16. */
bool vk_test_kv_f16(struct backend *b);
/* Whether b has made a pipeline whose name starts with name. */
bool vk_test_used_pipe(struct backend *b, const char *name);
/* The backend's workgroup size. */
uint32_t vk_test_wg(struct backend *b);
/* Whether b runs on a CPU implementation (llvmpipe): the unit kernels run there. */
bool vk_test_is_cpu(struct backend *b);
/* The compute dispatches and barriers recorded for the step of n rows with logits rows
 * lrow0..lrow0+nl-1 (one that has run); -1 when there is none. */
int vk_test_step_counts(struct backend *b, int32_t n, int32_t lrow0, int32_t nl,
                        int32_t *dispatches, int32_t *barriers);

#endif
