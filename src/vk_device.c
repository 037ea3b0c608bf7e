/* vk_device — physical devices: what each offers, which one to use, `joule devices`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk.h"
#include "vk_impl.h"

const char *vk_device_type_str(VkPhysicalDeviceType t)
{
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU";
    default: return "other";
    }
}

const char *vk_vendor_str(uint32_t id)
{
    switch (id) {
    case 0x10de: return "NVIDIA";
    case 0x1002: return "AMD";
    case 0x8086: return "Intel";
    case 0x13b5: return "ARM";
    case 0x5143: return "Qualcomm";
    case 0x1010: return "Imagination";
    case 0x106b: return "Apple";
    case 0x10005: return "Mesa";
    case 0x1ae0: return "Google";
    default: return "unknown";
    }
}

/* Appends s (a Vulkan output structure) to the pNext chain ending at tail; returns the
 * new end. */
static void **chain(void **tail, void *s)
{
    *tail = s;
    return (void **)&((VkBaseOutStructure *)s)->pNext;
}

/* The extensions a device offers. */
struct exts {
    const VkExtensionProperties *e;
    uint32_t n;
};

static bool has_ext(struct exts x, const char *name)
{
    for (uint32_t i = 0; i < x.n; i++)
        if (strcmp(x.e[i].extensionName, name) == 0) return true;
    return false;
}

/* One optional structure of the properties or the features pNext chain: linked in, its sType
 * set, where the device has it, in its core API version or through the extension ext. */
struct link {
    bool feature; /* of the features chain, else of the properties chain */
    void *s;      /* a Vulkan output structure */
    VkStructureType type;
    bool core;
    const char *ext;
    bool *has; /* set to whether it was linked in (NULL: not wanted) */
};

/* Links the structures of l[0..n) of one chain (feature) that the device has after head, a
 * VkPhysicalDeviceProperties2 or VkPhysicalDeviceFeatures2 with its sType set. */
static void link_chain(void *head, bool feature, const struct link *l, size_t n, struct exts x)
{
    void **tail = (void **)&((VkBaseOutStructure *)head)->pNext;
    for (size_t i = 0; i < n; i++) {
        if (l[i].feature != feature) continue;
        bool has = l[i].core || has_ext(x, l[i].ext);
        if (l[i].has) *l[i].has = has;
        if (!has) continue;
        ((VkBaseOutStructure *)l[i].s)->sType = l[i].type;
        tail = chain(tail, l[i].s);
    }
}

/* VK_KHR_cooperative_matrix's property structure and query (newer than Debian 12's headers) */
struct coop_props {
    VkStructureType sType;
    void *pNext;
    uint32_t m, n, k;
    uint32_t a, b, c, result; /* VkComponentTypeKHR: 0 = float16, 1 = float32 */
    VkBool32 saturating;
    uint32_t scope; /* VkScopeKHR: 3 = subgroup */
};
#define COOP_PROPS_STYPE ((VkStructureType)1000506001)
/* and its features structure (VkPhysicalDeviceCooperativeMatrixFeaturesKHR) */
struct coop_features {
    VkStructureType sType;
    void *pNext;
    VkBool32 cooperativeMatrix, cooperativeMatrixRobustBufferAccess;
};
#define COOP_FEATURES_STYPE ((VkStructureType)1000506000)
typedef VkResult(VKAPI_PTR *coop_query_fn)(VkPhysicalDevice, uint32_t *, struct coop_props *);

/* A shape with float16 A and B, float32 C and result at subgroup scope, 16 x 16 x 16 (the
 * kernels' shape) where listed, else the first: what the property query reports, since some
 * drivers list the extension without a usable shape. */
static void coop_shape(struct vk_instance *vi, VkPhysicalDevice pd, struct vk_devinfo *d)
{
    coop_query_fn q = (coop_query_fn)vi->f.vkGetInstanceProcAddr(
        vi->inst, "vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR");
    uint32_t n = 0;
    if (!q || q(pd, &n, NULL) != VK_SUCCESS || n == 0 || n > 1024) return;
    struct coop_props *p = calloc(n, sizeof *p);
    if (!p) return;
    for (uint32_t i = 0; i < n; i++)
        p[i].sType = COOP_PROPS_STYPE;
    if (q(pd, &n, p) >= VK_SUCCESS)
        for (uint32_t i = 0; i < n; i++)
            if (p[i].a == 0 && p[i].b == 0 && p[i].c == 1 && p[i].result == 1 && p[i].scope == 3 &&
                (!d->coop_matrix || (p[i].m == 16 && p[i].n == 16 && p[i].k == 16))) {
                d->coop_matrix = true;
                d->coop_m = p[i].m;
                d->coop_n = p[i].n;
                d->coop_k = p[i].k;
            }
    free(p);
}

static void describe(struct vk_instance *vi, VkPhysicalDevice pd, uint32_t index,
                     struct vk_devinfo *d)
{
    const struct vk_fns *f = &vi->f;
    memset(d, 0, sizeof *d);
    d->index = index;
    d->pd = pd;
    f->vkGetPhysicalDeviceProperties(pd, &d->props);
    f->vkGetPhysicalDeviceMemoryProperties(pd, &d->mem);
    snprintf(d->driver_name, sizeof d->driver_name, "?");
    uint32_t api = d->props.apiVersion;
    if (api < VK_API_VERSION_1_1) return; /* unusable; shown with its basic properties */

    uint32_t n_ext = 0;
    VkExtensionProperties *ext = NULL;
    if (f->vkEnumerateDeviceExtensionProperties(pd, NULL, &n_ext, NULL) == VK_SUCCESS && n_ext) {
        ext = calloc(n_ext, sizeof *ext);
        if (!ext || f->vkEnumerateDeviceExtensionProperties(pd, NULL, &n_ext, ext) != VK_SUCCESS)
            n_ext = 0;
    }
    struct exts x = {ext, n_ext};
    bool api12 = api >= VK_API_VERSION_1_2 && vi->api_version >= VK_API_VERSION_1_2;
    bool api13 = api >= VK_API_VERSION_1_3 && vi->api_version >= VK_API_VERSION_1_3;

    /* the optional structures of the properties and the features chains */
    VkPhysicalDeviceSubgroupProperties sg = {0};
    VkPhysicalDevicePCIBusInfoPropertiesEXT pci = {0};
    VkPhysicalDeviceDriverProperties drv = {0};
    VkPhysicalDeviceSubgroupSizeControlProperties sc = {0};
    VkPhysicalDevice16BitStorageFeatures s16 = {0};
    VkPhysicalDeviceShaderFloat16Int8Features f16 = {0};
    VkPhysicalDeviceShaderIntegerDotProductFeatures idot = {0};
    VkPhysicalDeviceSubgroupSizeControlFeatures scf = {0};
    VkPhysicalDeviceMaintenance3Properties m3 = {0};
    VkPhysicalDeviceMaintenance4Properties m4 = {0};
    VkPhysicalDeviceShaderIntegerDotProductProperties idp = {0};
    VkPhysicalDeviceVulkanMemoryModelFeatures vmm = {0};
    struct coop_features cmf = {0};
    bool has_drv, has_sc, has_f16, has_idot, has_scf, has_m4, has_idp, has_vmm, has_cmf;
    const struct link links[] = {
        {false, &sg, VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES, true, NULL, NULL},
        {false, &pci, VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PCI_BUS_INFO_PROPERTIES_EXT, false,
         VK_EXT_PCI_BUS_INFO_EXTENSION_NAME, &d->pci_bus_info},
        {false, &drv, VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES, api12,
         "VK_KHR_driver_properties", &has_drv},
        {false, &sc, VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES, api13,
         "VK_EXT_subgroup_size_control", &has_sc},
        {true, &s16, VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES, true, NULL, NULL},
        {true, &f16, VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES, api12,
         "VK_KHR_shader_float16_int8", &has_f16},
        {true, &idot, VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES, api13,
         "VK_KHR_shader_integer_dot_product", &has_idot},
        {true, &scf, VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES, api13,
         "VK_EXT_subgroup_size_control", &has_scf},
        {false, &m3, VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES, true, NULL, NULL},
        {false, &m4, VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_4_PROPERTIES, api13,
         "VK_KHR_maintenance4", &has_m4},
        {false, &idp, VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_PROPERTIES,
         api13, "VK_KHR_shader_integer_dot_product", &has_idp},
        {true, &vmm, VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES, api12,
         "VK_KHR_vulkan_memory_model", &has_vmm},
        {true, &cmf, COOP_FEATURES_STYPE, false, "VK_KHR_cooperative_matrix", &has_cmf},
    };
    size_t n_links = sizeof links / sizeof links[0];

    /* properties */
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
    link_chain(&p2, false, links, n_links, x);
    f->vkGetPhysicalDeviceProperties2(pd, &p2);
    if (has_drv) {
        snprintf(d->driver_name, sizeof d->driver_name, "%s", drv.driverName);
        snprintf(d->driver_info, sizeof d->driver_info, "%s", drv.driverInfo);
    }
    if (d->pci_bus_info) /* the domain:bus:device.function that NVML and sysfs use */
        snprintf(d->pci_bus_id, sizeof d->pci_bus_id, "%04x:%02x:%02x.%x", pci.pciDomain & 0xffff,
                 pci.pciBus & 0xff, pci.pciDevice & 0x1f, pci.pciFunction & 0x7);
    d->subgroup_size = sg.subgroupSize ? sg.subgroupSize : 1;
    d->subgroup_arith = (sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                        (sg.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) &&
                        (sg.supportedOperations & VK_SUBGROUP_FEATURE_BASIC_BIT);
    d->subgroup_shuffle =
        d->subgroup_arith && (sg.supportedOperations & VK_SUBGROUP_FEATURE_SHUFFLE_BIT);
    if (has_sc && sc.minSubgroupSize) {
        d->size_control = true;
        d->min_subgroup = sc.minSubgroupSize;
        d->max_subgroup = sc.maxSubgroupSize;
    }
    d->max_alloc = m3.maxMemoryAllocationSize;
    d->max_buffer = has_m4 ? m4.maxBufferSize : 0;

    /* features */
    VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    link_chain(&f2, true, links, n_links, x);
    f->vkGetPhysicalDeviceFeatures2(pd, &f2);
    d->storage16 = s16.storageBuffer16BitAccess;
    d->fp16 = has_f16 && f16.shaderFloat16;
    d->int8_dot = has_idot && idot.shaderIntegerDotProduct;
    d->int8_accel = d->int8_dot && has_idp && idp.integerDotProduct4x8BitPackedSignedAccelerated;
    d->api13 = api13;
    d->pin_ok = d->size_control && has_scf && scf.subgroupSizeControl &&
                (sc.requiredSubgroupSizeStages & VK_SHADER_STAGE_COMPUTE_BIT);
    d->full_subgroups = d->pin_ok && scf.computeFullSubgroups;
    d->ext_size_control = d->pin_ok && !api13;
    d->portability_subset = has_ext(x, "VK_KHR_portability_subset");
    d->memory_budget = has_ext(x, VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);
    if (has_ext(x, "VK_KHR_cooperative_matrix")) coop_shape(vi, pd, d);
    /* the kernels (matmul_cm) are SPIR-V 1.6 with float16 and the Vulkan memory model */
    d->coop_ready = d->coop_matrix && api13 && has_cmf && cmf.cooperativeMatrix && d->fp16 &&
                    has_vmm && vmm.vulkanMemoryModel;
    free(ext);

    uint32_t nq = 0;
    f->vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, NULL);
    VkQueueFamilyProperties *q = calloc(nq ? nq : 1, sizeof *q);
    if (q) {
        f->vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, q);
        /* a compute-only family first (it may run beside graphics work), else any */
        for (int pass = 0; pass < 2 && !d->usable; pass++)
            for (uint32_t i = 0; i < nq && !d->usable; i++) {
                bool compute = q[i].queueFlags & VK_QUEUE_COMPUTE_BIT;
                bool graphics = q[i].queueFlags & VK_QUEUE_GRAPHICS_BIT;
                if (compute && q[i].queueCount > 0 && (pass == 1 || !graphics)) {
                    d->usable = true;
                    d->queue_family = i;
                    d->timestamp_bits = q[i].timestampValidBits;
                }
            }
        free(q);
    }
    /* every shader binds 6 storage buffers and needs a little shared memory */
    const VkPhysicalDeviceLimits *lim = &d->props.limits;
    if (lim->maxPerStageDescriptorStorageBuffers < 6 || lim->maxComputeSharedMemorySize < 4096 ||
        lim->maxComputeWorkGroupInvocations < 32)
        d->usable = false;
}

int vk_enum_devices(struct vk_instance *vi, struct vk_devinfo **out, uint32_t *n, char *err,
                    size_t errlen)
{
    *out = NULL;
    *n = 0;
    uint32_t count = 0;
    VkResult r = vi->f.vkEnumeratePhysicalDevices(vi->inst, &count, NULL);
    if (r != VK_SUCCESS || count == 0) {
        snprintf(err, errlen, "no Vulkan devices (%s)",
                 r != VK_SUCCESS ? vk_result_str(r) : "the loader found no driver");
        return VK_NO_DEVICE;
    }
    VkPhysicalDevice *pds = calloc(count, sizeof *pds);
    struct vk_devinfo *devs = calloc(count, sizeof *devs);
    if (!pds || !devs || vi->f.vkEnumeratePhysicalDevices(vi->inst, &count, pds) < VK_SUCCESS) {
        free(pds);
        free(devs);
        snprintf(err, errlen, "cannot enumerate the Vulkan devices");
        return VK_NO_DEVICE;
    }
    for (uint32_t i = 0; i < count; i++)
        describe(vi, pds[i], i, &devs[i]);
    free(pds);
    *out = devs;
    *n = count;
    return VK_OK;
}

int vk_choose_device(const struct vk_devinfo *devs, uint32_t n, const char *spec, uint32_t *idx,
                     char *err, size_t errlen)
{
    if (strncmp(spec, "vulkan:", 7) == 0) {
        char *end = NULL;
        long i = strtol(spec + 7, &end, 10);
        if (!end || *end || end == spec + 7 || i < 0 || (uint32_t)i >= n) {
            snprintf(err, errlen, "no Vulkan device '%s' (%u device(s): see `joule devices`)",
                     spec + 7, n);
            return VK_NO_DEVICE;
        }
        if (!devs[i].usable) {
            snprintf(err, errlen,
                     "Vulkan device %ld (%s) is not usable (needs Vulkan 1.1, a compute "
                     "queue and 6 storage buffers per stage)",
                     i, devs[i].props.deviceName);
            return VK_NO_DEVICE;
        }
        *idx = (uint32_t)i;
        return VK_OK;
    }
    static const VkPhysicalDeviceType order[] = {VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU,
                                                 VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU,
                                                 VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU};
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++)
        for (uint32_t i = 0; i < n; i++)
            if (devs[i].usable && devs[i].props.deviceType == order[k]) {
                *idx = i;
                return VK_OK;
            }
    snprintf(err, errlen,
             "no Vulkan GPU among %u device(s) (CPU implementations such as "
             "llvmpipe are used only when named: --device vulkan:N)",
             n);
    return VK_NO_DEVICE;
}

/* The kernels joule would choose on d (vk_ctx_plan, the environment switches in force). */
static void print_plan(FILE *out, const struct vk_devinfo *d)
{
    struct vk_ctx *c = calloc(1, sizeof *c);
    if (!c) return;
    vk_ctx_plan(d, c);
    fprintf(out, "  kernels:       prefill %s; decode %s; --precision fast: %s\n",
            c->coopmat ? "matmul_cm (fp16 matrix units, fp32 sums)"
            : c->tile  ? "matmul_tile (fp32 tiles)"
            : c->cpu   ? "the CPU-device kernels"
                       : "matmul",
            c->mv_gpu ? "matvec_gpu"
            : c->cpu  ? "the CPU-device kernels"
                      : "matvec",
            c->int8 && c->mv_gpu               ? "int8 decode (matvec_q8)"
            : !d->int8_dot                     ? "not offered (no integer dot products)"
            : !d->api13                        ? "not offered (needs Vulkan 1.3)"
            : vk_feature_built("int8dot") != 1 ? "not offered (kernels not in this build)"
            : !d->int8_accel ? "not offered (integer dot products not accelerated)"
                             : "not offered (JOULE_VK_INT8=0 or no matvec_gpu)");
    free(c);
}

/* After a feature the device has: a note when this build left out the kernels using it */
static const char *kernels_note(const char *feature)
{
    return vk_feature_built(feature) == 0
               ? " (its kernels are not in this build: the glslc used is too old; ./build.sh "
                 "deps fetches a newer one, then rebuild)"
               : "";
}

static void print_device(FILE *out, const struct vk_devinfo *d)
{
    const VkPhysicalDeviceProperties *p = &d->props;
    fprintf(out, "vulkan:%u  %s\n", d->index, p->deviceName);
    fprintf(out, "  vendor:        %s (0x%04x), device 0x%04x\n", vk_vendor_str(p->vendorID),
            p->vendorID, p->deviceID);
    fprintf(out, "  type:          %s%s\n", vk_device_type_str(p->deviceType),
            p->deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU ? " (used only when named)" : "");
    fprintf(out, "  api:           Vulkan %u.%u.%u\n", VK_API_VERSION_MAJOR(p->apiVersion),
            VK_API_VERSION_MINOR(p->apiVersion), VK_API_VERSION_PATCH(p->apiVersion));
    fprintf(out, "  driver:        %s%s%s\n", d->driver_name, d->driver_info[0] ? " — " : "",
            d->driver_info);
    fprintf(out, "  pci bus:       %s\n",
            d->pci_bus_id[0] ? d->pci_bus_id : "unknown (no VK_EXT_pci_bus_info)");
    for (uint32_t h = 0; h < d->mem.memoryHeapCount; h++) {
        const VkMemoryHeap *hp = &d->mem.memoryHeaps[h];
        fprintf(out, "  heap %u:        %.2f GiB%s\n", h, (double)hp->size / (1024.0 * 1024 * 1024),
                hp->flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT ? ", device-local" : "");
    }
    if (!d->usable) {
        fprintf(out, "  not usable:    needs Vulkan 1.1, a compute queue, 6 storage buffers per "
                     "stage\n");
        fprintf(out, "  energy sensors: none\n");
        return;
    }
    fprintf(out, "  subgroup size: %u", d->subgroup_size);
    if (d->size_control)
        fprintf(out, " (size control %u..%u%s)", d->min_subgroup, d->max_subgroup,
                d->pin_ok ? ", pinned in compute" : ", not in compute");
    fprintf(out, ", arithmetic %s\n", d->subgroup_arith ? "yes" : "no");
    fprintf(out, "  fp16:          %s (16-bit storage %s)\n", d->fp16 ? "yes" : "no",
            d->storage16 ? "yes" : "no");
    fprintf(out, "  int8 dot:      %s%s\n",
            !d->int8_dot    ? "no"
            : d->int8_accel ? "yes, accelerated"
                            : "yes, not accelerated",
            d->int8_dot ? kernels_note("int8dot") : "");
    if (d->coop_matrix)
        fprintf(out, "  coop matrix:   %ux%ux%u f16 x f16 -> f32%s\n", d->coop_m, d->coop_n,
                d->coop_k, kernels_note("coopmat"));
    else
        fprintf(out, "  coop matrix:   no\n");
    fprintf(out, "  max storage buffer range: %u bytes (%.0f MiB)", p->limits.maxStorageBufferRange,
            p->limits.maxStorageBufferRange / 1048576.0);
    if (d->max_alloc) fprintf(out, ", allocation %.0f MiB", (double)d->max_alloc / 1048576.0);
    if (d->max_buffer) fprintf(out, ", buffer %.0f MiB", (double)d->max_buffer / 1048576.0);
    fprintf(out, "\n");
    fprintf(out, "  max workgroup: %u invocations, shared memory %u bytes\n",
            p->limits.maxComputeWorkGroupInvocations, p->limits.maxComputeSharedMemorySize);
    print_plan(out, d);
    fprintf(out, "  energy sensors: none\n");
}

int vk_print_devices(FILE *out, char *err, size_t errlen)
{
    struct vk_instance vi;
    int rc = vk_instance_open(&vi, err, errlen);
    if (rc != VK_OK) return rc;
    struct vk_devinfo *devs = NULL;
    uint32_t n = 0;
    rc = vk_enum_devices(&vi, &devs, &n, err, errlen);
    if (rc == VK_OK) {
        uint32_t pick = 0;
        char why[256];
        int chosen = vk_choose_device(devs, n, "auto", &pick, why, sizeof why);
        for (uint32_t i = 0; i < n; i++)
            print_device(out, &devs[i]);
        static const char *const feats[][2] = {{"coopmat", "cooperative-matrix products"},
                                               {"int8dot", "integer dot products"}};
        for (size_t i = 0; i < sizeof feats / sizeof feats[0]; i++)
            if (vk_feature_built(feats[i][0]) == 0)
                fprintf(out,
                        "this build has no %s kernels (%s: its glslc is too old; "
                        "./build.sh deps fetches a newer one, then rebuild)\n",
                        feats[i][0], feats[i][1]);
        if (chosen == VK_OK)
            fprintf(out, "default (--device auto / vulkan): vulkan:%u\n", pick);
        else
            fprintf(out, "default (--device auto): the CPU — %s\n", why);
    }
    free(devs);
    vk_instance_close(&vi);
    return rc;
}
