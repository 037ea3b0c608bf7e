/* fuzz_json — the JSON reader (result files, jsonl suite data): parse any bytes, walk the
 * tree with the lookups the merge uses, and write every string back escaped.
 * Oracle: what json_write_str writes parses back to the same string. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval_json.h"
#include "fuzz_util.h"

static FILE *sink;

static void walk(const struct jval *v, int depth)
{
    (void)json_num(v, 0);
    (void)json_str(v);
    (void)json_get(v, "rows");
    (void)json_get(v, "suite");
    if (v->type == J_STR && v->len == strlen(v->str)) {
        /* escaped and read back: the same string */
        char *buf = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&buf, &len);
        if (m) {
            json_write_str(m, v->str);
            fclose(m);
            struct jval back;
            char err[128];
            if (json_parse(buf, len, &back, err, sizeof err) != 0)
                fuzz_fail("json_write_str output does not parse: %s", err);
            if (back.type != J_STR || strcmp(back.str, v->str) != 0)
                fuzz_fail("json_write_str does not read back");
            json_free(&back);
        }
        free(buf);
    }
    if (v->type == J_NUM) json_write_num(sink, json_num(v, 0));
    for (int i = 0; i < v->n && (v->type == J_ARR || v->type == J_OBJ); i++) {
        if (v->type == J_OBJ) json_write_str(sink, v->keys[i]);
        walk(&v->kids[i], depth + 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!sink) sink = fopen("/dev/null", "w");
    struct jval v;
    char err[256];
    if (json_parse((const char *)data, size, &v, err, sizeof err) == 0) {
        walk(&v, 0);
        json_free(&v);
    }
    return 0;
}
