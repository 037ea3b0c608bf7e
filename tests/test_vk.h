/* test_vk.h — what the two files of the vk suite (test_vk.c: ops, devices, choosers;
 * test_vk_model.c: whole models) share. */
#ifndef JOULE_TEST_VK_H
#define JOULE_TEST_VK_H

#include <check.h>
#include <stdlib.h>

#include "testutil.h"

/* ---- device selection ---- */

/* The device the tests use (test_vk_device: JOULE_TEST_DEVICE, else lavapipe when present),
 * under the Khronos validation layer; the test returns (skipped) when there is none. */
#define NEED_VK(spec)                                                                              \
    char spec[32];                                                                                 \
    setenv("JOULE_VK_VALIDATE", "1", 1);                                                           \
    if (!test_vk_device(spec, sizeof spec, __func__)) return

/* The weight types the op tests cover (test_vk.c), for the chooser test's count. */
extern const int vk_test_n_wtypes;
/* Adds the kernel-choice tests to the case "kernels" (test_vk_kernels.c). */
void vk_kernel_tests(TCase *tk);

/* The fixture of every vk test case: resets the JOULE_VK_* switches tests set. */
void vk_teardown(void);
/* Adds the whole-model tests to the suite's test cases (test_vk_model.c). */
void vk_model_tests(TCase *models, TCase *mv_gpu, TCase *tile, TCase *split, TCase *mm_tile);

#endif
