/* Helpers shared by the test suites that need more than testutil.h's inline ones: the
 * Vulkan device the suite tests. */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "testutil.h"
#include "vk.h"
#include "vk_impl.h"

bool test_vk_device(char *spec, size_t len, const char *who)
{
    const char *want = getenv("JOULE_TEST_DEVICE");
    bool named = want && *want;
    /* vulkan:N only: the tests run on a Vulkan device ("cpu" or "auto" would test nothing
     * of it, and the index keeps a CPU implementation from being chosen by surprise) */
    ck_assert_msg(!named || (strncmp(want, "vulkan:", 7) == 0 && strlen(want) < 24 &&
                             device_spec_valid(want)),
                  "JOULE_TEST_DEVICE='%.40s': give vulkan:N, N an index from `joule devices`",
                  named ? want : "");
    struct vk_instance vi;
    char err[512] = "";
    if (vk_instance_open(&vi, err, sizeof err) != VK_OK) {
        ck_assert_msg(!named, "JOULE_TEST_DEVICE=%s: no Vulkan (%s)", want, err);
        fprintf(stderr, "SKIP %s: no Vulkan (%s)\n", who, err);
        return false;
    }
    struct vk_devinfo *devs = NULL;
    uint32_t n = 0, idx = 0;
    int pick = -1;
    if (vk_enum_devices(&vi, &devs, &n, err, sizeof err) == VK_OK) {
        if (named) {
            if (vk_choose_device(devs, n, want, &idx, err, sizeof err) == VK_OK) pick = (int)idx;
        } else {
            /* a CPU implementation (lavapipe) when present, else the first usable device */
            for (uint32_t i = 0; i < n && pick < 0; i++)
                if (devs[i].usable && devs[i].props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU)
                    pick = (int)i;
            for (uint32_t i = 0; i < n && pick < 0; i++)
                if (devs[i].usable) pick = (int)i;
            if (pick < 0) snprintf(err, sizeof err, "%u device(s), none usable", n);
        }
    }
    free(devs);
    vk_instance_close(&vi);
    if (pick < 0) {
        ck_assert_msg(!named, "JOULE_TEST_DEVICE=%s: %s", want, err);
        fprintf(stderr, "SKIP %s: no usable Vulkan device (%s)\n", who, err);
        return false;
    }
    ck_assert_int_lt(snprintf(spec, len, "vulkan:%d", pick), (int)len);
    return true;
}
