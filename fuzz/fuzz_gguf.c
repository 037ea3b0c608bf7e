/* fuzz_gguf — GGUF open (header, metadata, tensor table), every metadata getter, the
 * tokenizer loader, and model binding (architecture config, weight shapes) on any bytes; a
 * file the strict open refuses goes through the damaged open of joule info. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "gguf.h"
#include "model.h"
#include "tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64], err[512];
    int fd = fuzz_memfd(data, size, path, sizeof path);
    if (fd < 0) return 0;
    struct gguf_file *f = NULL;
    if (gguf_open(path, &f, err, sizeof err) == 0) {
        for (uint64_t i = 0; i < f->n_kv; i++) {
            char key[128];
            size_t kl = f->kv[i].key.len < sizeof key - 1 ? f->kv[i].key.len : sizeof key - 1;
            memcpy(key, f->kv[i].key.ptr, kl);
            key[kl] = 0;
            uint32_t u32;
            int64_t i64;
            float f32;
            bool b;
            uint64_t n;
            (void)gguf_get_u32(f, key, &u32);
            (void)gguf_get_i64(f, key, &i64);
            (void)gguf_get_f32(f, key, &f32);
            (void)gguf_get_bool(f, key, &b);
            free(gguf_get_str(f, key));
            (void)gguf_get_arr(f, key, GGUF_VTYPE_COUNT, &n);
        }
        for (uint64_t i = 0; i < f->n_tensors; i++)
            if (gguf_find_tensor(f, f->tensors[i].name) == NULL)
                fuzz_fail("tensor %llu not found", (unsigned long long)i);
        struct tokenizer *t = NULL;
        if (tokenizer_load(f, &t, err, sizeof err) == 0) {
            int32_t *ids;
            size_t n;
            if (tokenizer_encode(t, "Hello <s> world\xff", 16, false, true, &ids, &n, err,
                                 sizeof err) == 0) {
                free(tokenizer_decode(t, ids, n));
                free(ids);
            }
            tokenizer_free(t);
        }
        gguf_close(f);
        struct model *m = NULL;
        if (model_load(path, &m, err, sizeof err) == 0) model_free(m);
    } else {
        /* joule info's reading of a damaged file: data of a tensor is in the file or NULL */
        char damage[512];
        if (gguf_open_damaged(path, &f, damage, sizeof damage, err, sizeof err) == 0) {
            for (uint64_t i = 0; i < f->n_tensors; i++) {
                const struct gguf_tensor *t = &f->tensors[i];
                const uint8_t *d = t->data;
                if (d && (d < f->map || (uint64_t)(d - f->map) + t->nbytes > f->file_size))
                    fuzz_fail("tensor %llu outside the file", (unsigned long long)i);
            }
            if (!damage[0]) fuzz_fail("damaged open of a file the strict open refused: no damage");
            gguf_close(f);
        }
    }
    fuzz_memfd_close(fd);
    return 0;
}
