/* fuzz_data — the suite data readers (jsonl, json, csv with and without a header row,
 * lines N, text) and the template renderer over the records they give.
 * Input: byte 0 the format, byte 1 the group size for "lines", the rest the file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval_data.h"
#include "eval_suite.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    static const char *const formats[] = {"jsonl", "json", "csv", "csv", "lines", "text"};
    int f = data[0] % 6;
    int group = 1 + data[1] % 6;
    char path[64], err[512];
    int fd = fuzz_memfd(data + 2, size - 2, path, sizeof path);
    if (fd < 0) return 0;
    struct eval_recs recs = {0};
    const char *columns = f == 3 || f == 4 ? "a b c a" : NULL;
    if (eval_read_records(path, formats[f], group, columns, f == 2, &recs, err, sizeof err) == 0) {
        for (int i = 0; i < recs.n && i < 64; i++) {
            const struct eval_rec *r = &recs.r[i];
            const char *all[8];
            (void)rec_all(r, "a", all, 8);
            char *s = suite_render("{a|strip} {b|hellaswag}{c|last_word}\\n{text|but_last_word}", r,
                                   err, sizeof err);
            free(s);
            char **list = NULL;
            int n = suite_render_list("{a}", r, &list, err, sizeof err);
            for (int k = 0; k < n; k++)
                free(list[k]);
            free(list);
        }
    }
    eval_recs_free(&recs);
    fuzz_memfd_close(fd);
    return 0;
}
