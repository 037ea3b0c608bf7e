/* fuzz_http — libFuzzer harness for the request parsing `joule serve` faces: the HTTP head
 * parser (src/http.c) on any bytes, and a head + JSON body as the server reads them.
 * Build and run with tools/fuzz-http.sh. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eval_json.h"
#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size copy, so ASan sees any read past the end */
    char *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    struct http_req r;
    int status = 0;
    char why[256];
    int rc = http_parse_head(buf, size, &r, &status, why, sizeof why);
    if (rc == -1 && (status < 400 || status > 599)) abort();
    if (rc == 1) {
        if (r.head_len > size || r.path[0] != '/' || !r.method[0]) abort();
        struct jval v;
        char err[256];
        if (json_parse(buf + r.head_len, size - r.head_len, &v, err, sizeof err) == 0) {
            json_get(&v, "prompt");
            json_free(&v);
        }
    }
    free(buf);
    return 0;
}
