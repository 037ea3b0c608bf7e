/* vk_mem — the device context (logical device, queue, command pool), buffers and
 * their memory, and staged copies between host and device-local memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk.h"
#include "vk_env.h"
#include "vk_impl.h"

#define STAGING_BYTES ((VkDeviceSize)16 << 20)

static int find_type(const struct vk_devinfo *d, uint32_t bits, VkMemoryPropertyFlags want)
{
    for (uint32_t i = 0; i < d->mem.memoryTypeCount; i++)
        if ((bits & (1u << i)) && (d->mem.memoryTypes[i].propertyFlags & want) == want)
            return (int)i;
    return -1;
}

#define HV VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT
#define HC VK_MEMORY_PROPERTY_HOST_COHERENT_BIT
#define HCA VK_MEMORY_PROPERTY_HOST_CACHED_BIT
#define DL VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT

/* The heap of device-local memory (that of the first device-local type), -1 if none. */
static int device_heap(const struct vk_devinfo *d)
{
    int t = find_type(d, ~0u, DL);
    return t < 0 ? -1 : (int)d->mem.memoryTypes[t].heapIndex;
}

/* A device-local, host-visible, coherent type in the device-local heap itself (unified
 * memory, or a resizable BAR that maps all of it, not a 256 MiB window): weights are
 * written there directly. -1 if none. */
static int direct_type(const struct vk_ctx *c)
{
    const struct vk_devinfo *d = &c->info;
    int heap = device_heap(d);
    for (uint32_t i = 0; i < d->mem.memoryTypeCount && heap >= 0; i++)
        if ((d->mem.memoryTypes[i].propertyFlags & (DL | HV | HC)) == (DL | HV | HC) &&
            (int)d->mem.memoryTypes[i].heapIndex == heap)
            return (int)i;
    return -1;
}

/* The device-dependent choices of vk_ctx_open for device d with the environment in force
 * (`joule devices` prints them): workgroup size, subgroup pinning, the tiled / cooperative-
 * matrix prefill products and their tiles, the GPU decode kernel, the int8 decode path. */
void vk_ctx_plan(const struct vk_devinfo *d, struct vk_ctx *c)
{
    /* the subgroup size is pinned (every pipeline created with it) where the device can:
     * only then is a workgroup no larger than it one subgroup (MoltenVK on AMD reports 64
     * and runs 32; Intel's size varies per pipeline) */
    uint32_t lim = d->props.limits.maxComputeWorkGroupSize[0];
    if (d->props.limits.maxComputeWorkGroupInvocations < lim)
        lim = d->props.limits.maxComputeWorkGroupInvocations;
    const bool cpu = d->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
    uint32_t sg = d->subgroup_size;
    const uint32_t wg = vk_workgroup_size(cpu, sg, vk_env_long(VKS_WG, 0), lim);
    c->cpu = cpu;
    c->wg = wg;
    c->mv_gpu = vk_mv_gpu_on(cpu, vk_env_str(VKS_MV_GPU) ? vk_env_on(VKS_MV_GPU) : -1);
    c->pin_sg = d->pin_ok && !vk_env_on(VKS_NO_PIN)
                    ? vk_pinned_subgroup(sg, d->min_subgroup, d->max_subgroup)
                    : 0;
    c->pin_full = c->pin_sg && d->full_subgroups && wg % c->pin_sg == 0;
    /* the tiled prefill products and their tile sizes; cooperative matrices where the device
     * has them, the vendor rule allows (vk_coopmat_on) and this binary holds their kernels */
    uint32_t shared = d->props.limits.maxComputeSharedMemorySize;
    for (int s = VK_TILE_SMALL; s < VK_TILE_SHAPES; s++)
        c->tiles[s] =
            vk_matmul_tile((enum vk_tile_shape)s, shared, c->pin_sg ? c->pin_sg : sg, lim);
    c->tile = vk_tile_on(cpu, vk_env_str(VKS_MATMUL_TILE) ? vk_env_on(VKS_MATMUL_TILE) : -1) &&
              c->tiles[VK_TILE_LARGE].shared <= shared;
    struct vk_coop_dev cd = {.cpu = cpu,
                             .vendor = d->props.vendorID,
                             .device_id = d->props.deviceID,
                             .ready = d->coop_ready,
                             .m = d->coop_m,
                             .n = d->coop_n,
                             .k = d->coop_k,
                             .shared_bytes = shared,
                             .max_wg = lim};
    c->coopmat = c->tile &&
                 vk_coopmat_on(&cd, vk_env_str(VKS_COOPMAT) ? vk_env_on(VKS_COOPMAT) : -1) &&
                 vk_feature_built("coopmat") == 1;

    /* the int8 decode path: its kernels are SPIR-V 1.6 (Vulkan 1.3, where integer dot
     * products are core) */
    c->int8 = vk_int8_on(d->int8_dot, d->api13, vk_feature_built("int8dot") == 1, d->int8_accel,
                         vk_env_str(VKS_INT8) ? vk_env_on(VKS_INT8) : -1);
}

int vk_ctx_open(struct vk_ctx *c, const char *spec, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    int rc = vk_instance_open(&c->vi, err, errlen);
    if (rc != VK_OK) return rc;
    struct vk_devinfo *devs = NULL;
    uint32_t n = 0, idx = 0;
    rc = vk_enum_devices(&c->vi, &devs, &n, err, errlen);
    if (rc == VK_OK) rc = vk_choose_device(devs, n, spec, &idx, err, errlen);
    if (rc != VK_OK) {
        free(devs);
        vk_instance_close(&c->vi);
        return rc;
    }
    c->info = devs[idx];
    free(devs);
    const struct vk_fns *f = &c->vi.f;
    const struct vk_devinfo *d = &c->info;

    float prio = 1.0f;
    VkDeviceQueueCreateInfo qci = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                   .queueFamilyIndex = d->queue_family,
                                   .queueCount = 1,
                                   .pQueuePriorities = &prio};
    vk_ctx_plan(d, c);
    const bool cpu = c->cpu;
    const uint32_t wg = c->wg;
    /* extensions: only ones the device lists (describe() checked them) */
    const char *exts[5];
    uint32_t n_exts = 0;
    if (d->pci_bus_info) exts[n_exts++] = VK_EXT_PCI_BUS_INFO_EXTENSION_NAME;
    if (d->portability_subset) exts[n_exts++] = "VK_KHR_portability_subset";
    if (d->memory_budget) exts[n_exts++] = VK_EXT_MEMORY_BUDGET_EXTENSION_NAME;
    if (c->pin_sg && d->ext_size_control) exts[n_exts++] = "VK_EXT_subgroup_size_control";
    if (c->coopmat) exts[n_exts++] = "VK_KHR_cooperative_matrix";
    /* features: the ones the kernels use. Vulkan 1.3 devices take the core ones in one
     * structure, with maintenance4 (required there): the SPIR-V 1.6 kernels (the newer
     * glslc's) give their workgroup size as a specialization constant through LocalSizeId,
     * which needs it. Older devices: subgroup size control through its own structure. */
    VkPhysicalDeviceVulkan13Features v13 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES,
        .subgroupSizeControl = c->pin_sg != 0,
        .computeFullSubgroups = c->pin_full,
        .shaderIntegerDotProduct = c->int8,
        .maintenance4 = VK_TRUE};
    VkPhysicalDeviceSubgroupSizeControlFeatures scf = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES,
        .subgroupSizeControl = c->pin_sg != 0,
        .computeFullSubgroups = c->pin_full};
    /* matmul_cm (Vulkan 1.3 devices only): cooperative matrices of float16 under the Vulkan
     * memory model; the first is VkPhysicalDeviceCooperativeMatrixFeaturesKHR, newer than
     * Debian 12's headers */
    struct {
        VkStructureType sType;
        void *pNext;
        VkBool32 cooperativeMatrix, cooperativeMatrixRobustBufferAccess;
    } cmf = {(VkStructureType)1000506000, NULL, VK_TRUE, VK_FALSE};
    VkPhysicalDeviceShaderFloat16Int8Features f16 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES,
        .pNext = &cmf,
        .shaderFloat16 = VK_TRUE};
    VkPhysicalDeviceVulkanMemoryModelFeatures vmm = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES,
        .pNext = &f16,
        .vulkanMemoryModel = VK_TRUE};
    void *feats = NULL;
    if (d->api13) {
        if (c->coopmat) v13.pNext = &vmm;
        feats = &v13;
    } else if (c->pin_sg) {
        feats = &scf;
    }
    VkDeviceCreateInfo dci = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
                              .pNext = feats,
                              .queueCreateInfoCount = 1,
                              .pQueueCreateInfos = &qci,
                              .enabledExtensionCount = n_exts,
                              .ppEnabledExtensionNames = n_exts ? exts : NULL};
    VkResult r = f->vkCreateDevice(d->pd, &dci, NULL, &c->dev);
    if (r != VK_SUCCESS) {
        snprintf(err, errlen, "vkCreateDevice failed on %s: %s", d->props.deviceName,
                 vk_result_str(r));
        c->dev = VK_NULL_HANDLE;
        vk_ctx_close(c);
        return VK_FAILED;
    }
    if (vk_load_device_fns(&c->vi, c->dev, err, errlen) != 0) {
        vk_ctx_close(c);
        return VK_FAILED;
    }
    f->vkGetDeviceQueue(c->dev, d->queue_family, 0, &c->queue);
    VkCommandPoolCreateInfo pci = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                   .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
                                   .queueFamilyIndex = d->queue_family};
    VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    if (f->vkCreateCommandPool(c->dev, &pci, NULL, &c->pool) != VK_SUCCESS ||
        f->vkCreateFence(c->dev, &fci, NULL, &c->fence) != VK_SUCCESS) {
        snprintf(err, errlen, "cannot create a command pool / fence on %s", d->props.deviceName);
        vk_ctx_close(c);
        return VK_FAILED;
    }

    /* limits and choices (environment overrides are for tests and tuning): one binding
     * covers at most the storage-buffer range, one allocation and one buffer */
    uint64_t range = d->props.limits.maxStorageBufferRange;
    if (d->max_alloc && d->max_alloc < range) range = d->max_alloc;
    if (d->max_buffer && d->max_buffer < range) range = d->max_buffer;
    if (range > ((uint64_t)1 << 31)) range = (uint64_t)1 << 31; /* shaders index bytes in 32 bits */
    long forced = vk_env_long(VKS_MAX_RANGE, 0);
    if (forced >= 4096 && (uint64_t)forced < range) range = (uint64_t)forced;
    c->max_range = range & ~(uint64_t)15;
    long ms = vk_env_long(VKS_TIMEOUT_MS, -1);
    if (ms < 0) ms = cpu ? 600000 : 120000;
    c->timeout_ns = (uint64_t)ms * 1000000u;
    /* CPU implementations pay per workgroup: give each more rows */
    c->mv_rows_forced = (uint32_t)vk_env_long(VKS_MV_ROWS, 0);
    if (c->mv_rows_forced > 256) c->mv_rows_forced = 0;
    c->mv_rows = cpu ? 128 : 4;
    if (c->mv_rows_forced > c->mv_rows) c->mv_rows = c->mv_rows_forced;
    /* matvec_gpu: rows per workgroup are register arrays (a specialization constant): few,
     * per device (vk_mvg_rows), JOULE_VK_MV_ROWS where it is at most VK_MVG_MAX_ROWS */
    c->mvg_rows = vk_mvg_rows(d->subgroup_size, d->size_control ? d->min_subgroup : 0,
                              d->size_control ? d->max_subgroup : 0, c->mv_rows_forced);
    c->fuse = !vk_env_on(VKS_NO_FUSE); /* and the bindings (vk_backend.c, setup) */
    c->mm_rows = (uint32_t)vk_env_long(VKS_MM_ROWS, cpu ? 128 : 8);
    if (c->mm_rows < 1 || c->mm_rows > 256) c->mm_rows = 8;
    c->red = vk_reduce_form(d->subgroup_arith, d->subgroup_shuffle, wg, c->pin_sg,
                            vk_env_on(VKS_NO_SUBGROUP), vk_env_on(VKS_MULTI_SUBGROUP));
    c->direct = direct_type(c) >= 0 && !vk_env_on(VKS_STAGING);
    c->kv_f16 = !vk_env_on(VKS_KV_F32);
    VkFormatProperties fp;
    f->vkGetPhysicalDeviceFormatProperties(d->pd, VK_FORMAT_R32G32B32A32_UINT, &fp);
    c->max_texels = d->props.limits.maxTexelBufferElements;
    long forced_texels = vk_env_long(VKS_MAX_TEXELS, 0); /* tests: force the fallback */
    if (forced_texels > 0 && (uint64_t)forced_texels < c->max_texels)
        c->max_texels = (uint64_t)forced_texels;
    /* weights through texel fetches: on llvmpipe these gather in SIMD where storage-buffer
     * reads become a loop over lanes, even at an address every lane shares. Measured on
     * CPU implementations only: GPUs keep storage buffers unless JOULE_VK_TEXEL=1;
     * JOULE_VK_NO_TEXEL=1 turns it off everywhere. With it, the unit kernels (8-byte
     * weight texels, activations and the KV cache as 4-float texels; JOULE_VK_NO_UNIT=1
     * turns them off) where every format they view is supported. */
    c->texel = (fp.bufferFeatures & VK_FORMAT_FEATURE_UNIFORM_TEXEL_BUFFER_BIT) &&
               (cpu || vk_env_on(VKS_TEXEL)) && !vk_env_on(VKS_NO_TEXEL);
    c->unit = c->texel && !vk_env_on(VKS_NO_UNIT);
    static const VkFormat unit_formats[] = {VK_FORMAT_R32G32_UINT, VK_FORMAT_R32G32B32A32_SFLOAT,
                                            VK_FORMAT_R16G16B16A16_SFLOAT};
    for (size_t i = 0; i < sizeof unit_formats / sizeof unit_formats[0]; i++) {
        f->vkGetPhysicalDeviceFormatProperties(d->pd, unit_formats[i], &fp);
        if (!(fp.bufferFeatures & VK_FORMAT_FEATURE_UNIFORM_TEXEL_BUFFER_BIT)) c->unit = false;
    }
    if (vk_check_validation(&c->vi, err, errlen) != 0) {
        vk_ctx_close(c);
        return VK_FAILED;
    }
    return VK_OK;
}

void vk_ctx_close(struct vk_ctx *c)
{
    const struct vk_fns *f = &c->vi.f;
    if (c->dev) {
        /* after a timeout this waits for the driver to finish or give up on the work (drivers
         * reset a hung GPU and report the device lost) */
        f->vkDeviceWaitIdle(c->dev);
        for (int i = 0; i < 2; i++) {
            vk_buf_free(c, &c->stage[i].buf);
            if (c->stage[i].fence) f->vkDestroyFence(c->dev, c->stage[i].fence, NULL);
        }
        if (c->fence) f->vkDestroyFence(c->dev, c->fence, NULL);
        if (c->pool) f->vkDestroyCommandPool(c->dev, c->pool, NULL);
        f->vkDestroyDevice(c->dev, NULL);
    }
    c->dev = VK_NULL_HANDLE;
    vk_instance_close(&c->vi);
}

int vk_buf_new(struct vk_ctx *c, struct vk_buf *b, VkDeviceSize size, enum vk_mem_kind kind,
               char *err, size_t errlen)
{
    const struct vk_fns *f = &c->vi.f;
    memset(b, 0, sizeof *b);
    if (size == 0) size = 16;
    size = (size + 15) & ~(VkDeviceSize)15;
    VkBufferCreateInfo bci = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = size,
        .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT |
                 VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    VkResult r = f->vkCreateBuffer(c->dev, &bci, NULL, &b->buf);
    if (r != VK_SUCCESS) {
        snprintf(err, errlen, "vkCreateBuffer (%llu bytes) failed: %s", (unsigned long long)size,
                 vk_result_str(r));
        b->buf = VK_NULL_HANDLE;
        return -1;
    }
    VkMemoryRequirements req;
    f->vkGetBufferMemoryRequirements(c->dev, b->buf, &req);
    int t = -1;
    bool map = kind != VK_MEM_DEVICE;
    switch (kind) {
    case VK_MEM_DEVICE_FILL:
        t = c->direct ? direct_type(c) : -1;
        if (t >= 0 && (req.memoryTypeBits & (1u << t))) break;
        map = false;
        /* fall through */
    case VK_MEM_DEVICE:
        t = find_type(&c->info, req.memoryTypeBits, DL);
        if (t < 0) t = find_type(&c->info, req.memoryTypeBits, 0);
        break;
    case VK_MEM_HOST_WRITE: t = find_type(&c->info, req.memoryTypeBits, HV | HC); break;
    case VK_MEM_HOST_READ:
        t = find_type(&c->info, req.memoryTypeBits, HV | HC | HCA);
        if (t < 0) t = find_type(&c->info, req.memoryTypeBits, HV | HC);
        break;
    }
    if (t < 0) {
        snprintf(err, errlen, "no suitable Vulkan memory type for a buffer");
        vk_buf_free(c, b);
        return -1;
    }
    VkMemoryAllocateInfo mai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                                .allocationSize = req.size,
                                .memoryTypeIndex = (uint32_t)t};
    r = f->vkAllocateMemory(c->dev, &mai, NULL, &b->mem);
    if (r != VK_SUCCESS) {
        snprintf(err, errlen, "out of Vulkan memory allocating %.1f MiB: %s",
                 (double)size / 1048576.0, vk_result_str(r));
        b->mem = VK_NULL_HANDLE;
        vk_buf_free(c, b);
        return -1;
    }
    if (f->vkBindBufferMemory(c->dev, b->buf, b->mem, 0) != VK_SUCCESS) {
        snprintf(err, errlen, "vkBindBufferMemory failed");
        vk_buf_free(c, b);
        return -1;
    }
    if (map && f->vkMapMemory(c->dev, b->mem, 0, VK_WHOLE_SIZE, 0, &b->map) != VK_SUCCESS) {
        snprintf(err, errlen, "vkMapMemory failed");
        b->map = NULL;
        vk_buf_free(c, b);
        return -1;
    }
    b->size = size;
    return 0;
}

void vk_buf_free(struct vk_ctx *c, struct vk_buf *b)
{
    const struct vk_fns *f = &c->vi.f;
    if (b->map) f->vkUnmapMemory(c->dev, b->mem);
    if (b->buf) f->vkDestroyBuffer(c->dev, b->buf, NULL);
    if (b->mem) f->vkFreeMemory(c->dev, b->mem, NULL);
    memset(b, 0, sizeof *b);
}

/* Waits for fence (submitted work) at most c->timeout_ns; a timeout or a lost device marks
 * the context lost (the fence stays in use: it is neither reset nor reused). */
static int wait_fence(struct vk_ctx *c, VkFence fence, const char *what, char *err, size_t errlen)
{
    const struct vk_fns *f = &c->vi.f;
    VkResult r = f->vkWaitForFences(c->dev, 1, &fence, VK_TRUE, c->timeout_ns);
    if (r == VK_SUCCESS) return f->vkResetFences(c->dev, 1, &fence) == VK_SUCCESS ? 0 : -1;
    c->lost = true;
    if (r == VK_TIMEOUT)
        snprintf(err, errlen,
                 "%s did not finish a %s within %.3g s (a hung or very slow shader; "
                 "JOULE_VK_TIMEOUT_MS sets the limit)",
                 c->info.props.deviceName, what, (double)c->timeout_ns / 1e9);
    else
        snprintf(err, errlen, "%s: waiting for a %s failed: %s", c->info.props.deviceName, what,
                 vk_result_str(r));
    return -1;
}

static int check_lost(const struct vk_ctx *c, char *err, size_t errlen)
{
    if (!c->lost) return 0;
    snprintf(err, errlen, "%s stopped answering earlier (timeout or device lost)",
             c->info.props.deviceName);
    return -1;
}

int vk_upload_flush(struct vk_ctx *c, char *err, size_t errlen)
{
    if (check_lost(c, err, errlen)) return -1;
    for (int i = 0; i < 2; i++)
        if (c->stage[i].pending) {
            c->stage[i].pending = false;
            if (wait_fence(c, c->stage[i].fence, "copy", err, errlen) != 0) return -1;
        }
    return 0;
}

int vk_submit_wait(struct vk_ctx *c, VkCommandBuffer cb, char *err, size_t errlen)
{
    const struct vk_fns *f = &c->vi.f;
    if (vk_upload_flush(c, err, errlen) != 0) return -1;
    VkSubmitInfo si = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &cb};
    VkResult r = f->vkQueueSubmit(c->queue, 1, &si, c->fence);
    if (r != VK_SUCCESS) {
        if (r == VK_ERROR_DEVICE_LOST) c->lost = true;
        snprintf(err, errlen, "Vulkan submit failed: %s", vk_result_str(r));
        return -1;
    }
    if (wait_fence(c, c->fence, "step", err, errlen) != 0) return -1;
    return vk_check_validation(&c->vi, err, errlen);
}

/* Records a copy between buffers, with the barriers that order it after earlier shader
 * and transfer work and before later shader and host reads. */
static void record_copy(struct vk_ctx *c, VkCommandBuffer cb, VkBuffer src, VkDeviceSize soff,
                        VkBuffer dst, VkDeviceSize doff, VkDeviceSize size)
{
    const struct vk_fns *f = &c->vi.f;
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                   .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    f->vkBeginCommandBuffer(cb, &bi);
    VkMemoryBarrier mb = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT};
    f->vkCmdPipelineBarrier(cb,
                            VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                            VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &mb, 0, NULL, 0, NULL);
    VkBufferCopy reg = {soff, doff, size};
    f->vkCmdCopyBuffer(cb, src, dst, 1, &reg);
    VkMemoryBarrier after = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                             .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                             .dstAccessMask = VK_ACCESS_SHADER_READ_BIT |
                                              VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_HOST_READ_BIT};
    f->vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT,
                            VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_HOST_BIT, 0, 1,
                            &after, 0, NULL, 0, NULL);
    f->vkEndCommandBuffer(cb);
}

/* The next of the two upload slots, made at first use, its earlier copy finished. */
static struct vk_stage *next_stage(struct vk_ctx *c, char *err, size_t errlen)
{
    const struct vk_fns *f = &c->vi.f;
    struct vk_stage *s = &c->stage[c->stage_next];
    c->stage_next ^= 1;
    if (!s->buf.buf) {
        VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                          .commandPool = c->pool,
                                          .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                          .commandBufferCount = 1};
        VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
        if (vk_buf_new(c, &s->buf, STAGING_BYTES, VK_MEM_HOST_WRITE, err, errlen) != 0) return NULL;
        if (f->vkAllocateCommandBuffers(c->dev, &ai, &s->cb) != VK_SUCCESS ||
            f->vkCreateFence(c->dev, &fci, NULL, &s->fence) != VK_SUCCESS) {
            s->fence = VK_NULL_HANDLE;
            snprintf(err, errlen, "cannot allocate an upload command buffer");
            return NULL;
        }
    }
    if (s->pending) {
        s->pending = false;
        if (wait_fence(c, s->fence, "copy", err, errlen) != 0) return NULL;
    }
    return s;
}

int vk_buf_upload(struct vk_ctx *c, struct vk_buf *dst, VkDeviceSize off, const void *src,
                  VkDeviceSize size, char *err, size_t errlen)
{
    if (check_lost(c, err, errlen)) return -1;
    if (dst->map) {
        memcpy((char *)dst->map + off, src, size);
        return 0;
    }
    /* chunks through the two slots in turn: the host fills one while the device copies the
     * other; the last copies finish before the next step or download (vk_upload_flush) */
    for (VkDeviceSize done = 0; done < size;) {
        VkDeviceSize m = size - done < STAGING_BYTES ? size - done : STAGING_BYTES;
        struct vk_stage *s = next_stage(c, err, errlen);
        if (!s) return -1;
        memcpy(s->buf.map, (const char *)src + done, m);
        record_copy(c, s->cb, s->buf.buf, 0, dst->buf, off + done, m);
        VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
                           .commandBufferCount = 1,
                           .pCommandBuffers = &s->cb};
        VkResult r = c->vi.f.vkQueueSubmit(c->queue, 1, &si, s->fence);
        if (r != VK_SUCCESS) {
            if (r == VK_ERROR_DEVICE_LOST) c->lost = true;
            snprintf(err, errlen, "Vulkan submit (copy) failed: %s", vk_result_str(r));
            return -1;
        }
        s->pending = true;
        done += m;
    }
    return vk_check_validation(&c->vi, err, errlen);
}

int vk_buf_download(struct vk_ctx *c, struct vk_buf *src, VkDeviceSize off, void *dst,
                    VkDeviceSize size, char *err, size_t errlen)
{
    if (vk_upload_flush(c, err, errlen) != 0) return -1;
    if (src->map) {
        memcpy(dst, (const char *)src->map + off, size);
        return 0;
    }
    const struct vk_fns *f = &c->vi.f;
    struct vk_buf st;
    VkDeviceSize chunk = size < STAGING_BYTES ? size : STAGING_BYTES;
    if (vk_buf_new(c, &st, chunk, VK_MEM_HOST_READ, err, errlen) != 0) return -1;
    VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                      .commandPool = c->pool,
                                      .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                      .commandBufferCount = 1};
    VkCommandBuffer cb;
    if (f->vkAllocateCommandBuffers(c->dev, &ai, &cb) != VK_SUCCESS) {
        vk_buf_free(c, &st);
        snprintf(err, errlen, "cannot allocate a command buffer");
        return -1;
    }
    int rc = 0;
    for (VkDeviceSize done = 0; done < size && rc == 0; done += chunk) {
        VkDeviceSize m = size - done < chunk ? size - done : chunk;
        record_copy(c, cb, src->buf, off + done, st.buf, 0, m);
        rc = vk_submit_wait(c, cb, err, errlen);
        if (rc == 0) memcpy((char *)dst + done, st.map, m);
    }
    /* a command buffer still pending (timeout) is freed with the pool when the device closes */
    if (!c->lost) f->vkFreeCommandBuffers(c->dev, c->pool, 1, &cb);
    vk_buf_free(c, &st);
    return rc;
}

uint64_t vk_device_free(const struct vk_ctx *c, uint32_t *heap, bool *from_budget)
{
    const struct vk_devinfo *d = &c->info;
    int h = device_heap(d);
    if (h < 0) h = 0;
    *heap = (uint32_t)h;
    *from_budget = false;
    long forced = vk_env_long(VKS_MEM_BUDGET, -1);
    if (forced >= 0) return (uint64_t)forced;
    uint64_t total = d->mem.memoryHeaps[h].size;
    if (!d->memory_budget) return total;
    VkPhysicalDeviceMemoryBudgetPropertiesEXT b = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_BUDGET_PROPERTIES_EXT};
    VkPhysicalDeviceMemoryProperties2 p2 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PROPERTIES_2, .pNext = &b};
    c->vi.f.vkGetPhysicalDeviceMemoryProperties2(d->pd, &p2);
    if (b.heapBudget[h] == 0) return total;
    *from_budget = true;
    return b.heapBudget[h] > b.heapUsage[h] ? b.heapBudget[h] - b.heapUsage[h] : 0;
}
