/* vk_loader — opens the Vulkan loader with dlopen, fills the function table, creates
 * the instance (with the Khronos validation layer and an error-recording messenger
 * when JOULE_VK_VALIDATE=1). */
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk.h"
#include "vk_env.h"
#include "vk_impl.h"

const char *vk_result_str(VkResult r)
{
    switch (r) {
    case VK_SUCCESS: return "VK_SUCCESS";
    case VK_NOT_READY: return "VK_NOT_READY";
    case VK_TIMEOUT: return "VK_TIMEOUT";
    case VK_INCOMPLETE: return "VK_INCOMPLETE";
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_MEMORY_MAP_FAILED: return "VK_ERROR_MEMORY_MAP_FAILED";
    case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER";
    case VK_ERROR_TOO_MANY_OBJECTS: return "VK_ERROR_TOO_MANY_OBJECTS";
    case VK_ERROR_OUT_OF_POOL_MEMORY: return "VK_ERROR_OUT_OF_POOL_MEMORY";
    default: return "VkResult error";
    }
}

static VKAPI_ATTR VkBool32 VKAPI_CALL on_message(VkDebugUtilsMessageSeverityFlagBitsEXT sev,
                                                 VkDebugUtilsMessageTypeFlagsEXT type,
                                                 const VkDebugUtilsMessengerCallbackDataEXT *data,
                                                 void *user)
{
    struct vk_instance *vi = user;
    if (!(sev & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT)) return VK_FALSE;
    const char *msg = data && data->pMessage ? data->pMessage : "(no message)";
    if (vi->n_errors++ == 0) snprintf(vi->first_error, sizeof vi->first_error, "%s", msg);
    fprintf(stderr, "joule: Vulkan validation error: %s\n", msg);
    return VK_FALSE;
}

int vk_check_validation(struct vk_instance *vi, char *err, size_t errlen)
{
    if (vi->n_errors == 0) return 0;
    snprintf(err, errlen, "Vulkan validation reported %d error(s); first: %s", vi->n_errors,
             vi->first_error);
    return -1;
}

static bool has_layer(struct vk_instance *vi, const char *name)
{
    uint32_t n = 0;
    if (vi->f.vkEnumerateInstanceLayerProperties(&n, NULL) != VK_SUCCESS || n == 0) return false;
    VkLayerProperties *p = calloc(n, sizeof *p);
    bool found = false;
    if (p && vi->f.vkEnumerateInstanceLayerProperties(&n, p) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++)
            found = strcmp(p[i].layerName, name) == 0;
    free(p);
    return found;
}

static bool has_instance_ext(struct vk_instance *vi, const char *name)
{
    uint32_t n = 0;
    if (vi->f.vkEnumerateInstanceExtensionProperties(NULL, &n, NULL) != VK_SUCCESS || n == 0)
        return false;
    VkExtensionProperties *p = calloc(n, sizeof *p);
    bool found = false;
    if (p && vi->f.vkEnumerateInstanceExtensionProperties(NULL, &n, p) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++)
            found = strcmp(p[i].extensionName, name) == 0;
    free(p);
    return found;
}

int vk_instance_open(struct vk_instance *vi, char *err, size_t errlen)
{
    memset(vi, 0, sizeof *vi);
    const char *path = vk_env_str(VKS_LOADER);
    if (!path) path = "libvulkan.so.1";
    vi->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!vi->lib) {
        const char *why = dlerror();
        snprintf(err, errlen, "cannot open the Vulkan loader %s (%s)", path, why ? why : "?");
        return VK_NO_DEVICE;
    }
    void *sym = dlsym(vi->lib, "vkGetInstanceProcAddr");
    if (!sym) {
        snprintf(err, errlen, "the Vulkan loader %s has no vkGetInstanceProcAddr", path);
        vk_instance_close(vi);
        return VK_NO_DEVICE;
    }
    memcpy(&vi->f.vkGetInstanceProcAddr, &sym, sizeof sym);
    struct vk_fns *f = &vi->f;
#define X(n)                                                                                       \
    f->n = (PFN_##n)f->vkGetInstanceProcAddr(NULL, #n);                                            \
    if (!f->n) {                                                                                   \
        snprintf(err, errlen, "the Vulkan loader %s lacks %s", path, #n);                          \
        vk_instance_close(vi);                                                                     \
        return VK_NO_DEVICE;                                                                       \
    }
    VK_FNS_GLOBAL(X)
#undef X
    f->vkEnumerateInstanceVersion = (PFN_vkEnumerateInstanceVersion)f->vkGetInstanceProcAddr(
        NULL, "vkEnumerateInstanceVersion");
    uint32_t ver = VK_API_VERSION_1_0;
    if (f->vkEnumerateInstanceVersion) f->vkEnumerateInstanceVersion(&ver);
    if (ver < VK_API_VERSION_1_1) {
        snprintf(err, errlen, "the Vulkan loader supports only Vulkan 1.0 (1.1 is needed)");
        vk_instance_close(vi);
        return VK_NO_DEVICE;
    }
    vi->api_version = ver >= VK_API_VERSION_1_3 ? VK_API_VERSION_1_3 : ver;

    vi->validate = vk_env_on(VKS_VALIDATE);
    const char *layers[1] = {"VK_LAYER_KHRONOS_validation"};
    const char *exts[2];
    uint32_t n_exts = 0;
    if (vi->validate) {
        if (!has_layer(vi, layers[0])) {
            snprintf(err, errlen,
                     "JOULE_VK_VALIDATE is set but the layer VK_LAYER_KHRONOS_validation is not "
                     "installed (package vulkan-validationlayers)");
            vk_instance_close(vi);
            return VK_NO_DEVICE;
        }
        if (!has_instance_ext(vi, VK_EXT_DEBUG_UTILS_EXTENSION_NAME)) {
            snprintf(err, errlen, "JOULE_VK_VALIDATE is set but VK_EXT_debug_utils is missing");
            vk_instance_close(vi);
            return VK_NO_DEVICE;
        }
        exts[n_exts++] = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
    }
    bool portability = has_instance_ext(vi, "VK_KHR_portability_enumeration");
    if (portability) exts[n_exts++] = "VK_KHR_portability_enumeration";

    VkApplicationInfo app = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
        .pApplicationName = "joule",
        .pEngineName = "joule",
        .apiVersion = vi->api_version,
    };
    VkDebugUtilsMessengerCreateInfoEXT mci = {
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
        .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT,
        .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
        .pfnUserCallback = on_message,
        .pUserData = vi,
    };
    VkInstanceCreateInfo ici = {
        .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
        .pNext = vi->validate ? &mci : NULL,
        .flags = portability ? 0x00000001 /* ENUMERATE_PORTABILITY_BIT_KHR */ : 0,
        .pApplicationInfo = &app,
        .enabledLayerCount = vi->validate ? 1 : 0,
        .ppEnabledLayerNames = layers,
        .enabledExtensionCount = n_exts,
        .ppEnabledExtensionNames = exts,
    };
    VkResult r = f->vkCreateInstance(&ici, NULL, &vi->inst);
    if (r != VK_SUCCESS) {
        snprintf(err, errlen, "vkCreateInstance failed: %s", vk_result_str(r));
        vi->inst = VK_NULL_HANDLE;
        vk_instance_close(vi);
        return VK_NO_DEVICE;
    }
#define X(n)                                                                                       \
    f->n = (PFN_##n)f->vkGetInstanceProcAddr(vi->inst, #n);                                        \
    if (!f->n) {                                                                                   \
        snprintf(err, errlen, "the Vulkan loader %s lacks %s", path, #n);                          \
        vk_instance_close(vi);                                                                     \
        return VK_NO_DEVICE;                                                                       \
    }
    VK_FNS_INSTANCE(X)
#undef X
    if (vi->validate) {
        f->vkCreateDebugUtilsMessengerEXT =
            (PFN_vkCreateDebugUtilsMessengerEXT)f->vkGetInstanceProcAddr(
                vi->inst, "vkCreateDebugUtilsMessengerEXT");
        f->vkDestroyDebugUtilsMessengerEXT =
            (PFN_vkDestroyDebugUtilsMessengerEXT)f->vkGetInstanceProcAddr(
                vi->inst, "vkDestroyDebugUtilsMessengerEXT");
        if (!f->vkCreateDebugUtilsMessengerEXT || !f->vkDestroyDebugUtilsMessengerEXT ||
            f->vkCreateDebugUtilsMessengerEXT(vi->inst, &mci, NULL, &vi->messenger) != VK_SUCCESS) {
            snprintf(err, errlen, "cannot create the validation messenger");
            vk_instance_close(vi);
            return VK_NO_DEVICE;
        }
    }
    return VK_OK;
}

int vk_load_device_fns(struct vk_instance *vi, VkDevice dev, char *err, size_t errlen)
{
    struct vk_fns *f = &vi->f;
#define X(n)                                                                                       \
    f->n = (PFN_##n)f->vkGetDeviceProcAddr(dev, #n);                                               \
    if (!f->n) {                                                                                   \
        snprintf(err, errlen, "the Vulkan device lacks %s", #n);                                   \
        return -1;                                                                                 \
    }
    VK_FNS_DEVICE(X)
#undef X
    return 0;
}

/* Under ASan (JOULE_ASAN=1) the driver libraries the loader opened are pinned in memory,
 * so that leak reports from them keep their module names (and the LSan suppression file
 * tests/lsan_vulkan.supp can name them) instead of pointing into unmapped code. */
static int pin_one(struct dl_phdr_info *info, size_t size, void *data)
{
    const char *n = info->dlpi_name;
    if (n && (strstr(n, "vulkan") || strstr(n, "VkLayer") || strstr(n, "libLLVM")))
        dlopen(n, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE); /* a reference kept on purpose */
    return 0;
}

void vk_instance_close(struct vk_instance *vi)
{
    if (vi->inst && getenv("JOULE_ASAN")) dl_iterate_phdr(pin_one, NULL);
    if (vi->messenger && vi->f.vkDestroyDebugUtilsMessengerEXT)
        vi->f.vkDestroyDebugUtilsMessengerEXT(vi->inst, vi->messenger, NULL);
    vi->messenger = VK_NULL_HANDLE;
    if (vi->inst && vi->f.vkDestroyInstance) vi->f.vkDestroyInstance(vi->inst, NULL);
    vi->inst = VK_NULL_HANDLE;
    /* dlclose is skipped under ASan (JOULE_ASAN) so leak reports keep driver symbols. */
    if (vi->lib && !getenv("JOULE_ASAN")) dlclose(vi->lib);
    vi->lib = NULL;
}
