/* fuzz_suite — suite files (suite_parse) and, for a suite that parses, its documents built
 * from the data that follows: input is the suite text, a NUL, then the data file (read in
 * the suite's format), so templates, choices, gold answers and few-shot plans all meet
 * hostile records. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval_suite.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t tl = nul ? (size_t)(nul - data) : size;
    char *text = malloc(tl + 1);
    if (!text) return 0;
    memcpy(text, data, tl);
    text[tl] = 0;
    struct suite_def d;
    char err[512];
    if (suite_parse(text, "fuzz", &d, err, sizeof err) == 0) {
        if (nul) {
            char path[64];
            int fd = fuzz_memfd(nul + 1, size - tl - 1, path, sizeof path);
            /* the data file is the memfd: data_dir /proc/self/fd, data "N" */
            if (fd >= 0) {
                snprintf(d.data, sizeof d.data, "%d", fd);
                d.join[0] = 0;
                if (d.fewshot[0] && strcmp(d.fewshot, "test") != 0) d.fewshot[0] = 0;
                struct suite_data sd;
                memset(&sd, 0, sizeof sd);
                if (suite_load_data(&d, "/proc/self/fd", &sd, err, sizeof err) == 0) {
                    int k = d.shots > 5 ? 5 : d.shots < 0 ? 0 : d.shots;
                    if (suite_plan_shots(&d, &sd, "/proc/self/fd", k, 1234, NULL, 0, err,
                                         sizeof err) == 0) {
                        for (int i = 0; i < sd.n_docs && i < 32; i++) {
                            struct eval_doc doc;
                            memset(&doc, 0, sizeof doc);
                            if (suite_doc(&d, &sd, "/proc/self/fd", i, &doc, err, sizeof err) == 0)
                                eval_doc_free(&doc);
                        }
                    }
                }
                suite_data_free(&sd);
                fuzz_memfd_close(fd);
            }
        }
        suite_free(&d);
    }
    free(text);
    return 0;
}
