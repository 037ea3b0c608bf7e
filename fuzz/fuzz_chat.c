/* fuzz_chat — chat template rendering and encoding with arbitrary messages.
 * Input: byte 0 the template, byte 1 the vocabulary, byte 2 flags (1: generation prompt);
 * the rest is messages separated by 0x1E, each starting with a role byte (0 system,
 * 1 user, 2 assistant, 3: a role named by the text up to 0x1F).
 * Oracle: message text never adds control tokens: the conversation has as many CONTROL /
 * end-of-generation tokens as the same one with every message emptied. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "fuzz_util.h"
#include "tokenizer.h"

enum { MAX_MSGS = 16 };

static size_t n_ctl(const struct tokenizer *t, enum chat_tmpl tm, const struct chat_msg *m,
                    size_t n, bool gen)
{
    int32_t *ids;
    size_t k, c = 0;
    char err[256];
    if (chat_encode(t, tm, m, n, gen, &ids, &k, err, sizeof err) != 0)
        fuzz_fail("chat_encode failed: %s", err);
    for (size_t i = 0; i < k; i++)
        c += tokenizer_token_type(t, ids[i]) == TOK_CONTROL || tokenizer_is_eog(t, ids[i]);
    free(ids);
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) return 0;
    size_t nv;
    struct tokenizer *const *v = fuzz_vocabs(&nv);
    enum chat_tmpl tm = (enum chat_tmpl)(data[0] % CHAT_N_TMPL);
    const struct tokenizer *t = v[data[1] % nv];
    bool gen = data[2] & 1;
    char *buf = malloc(size + 1); /* the messages, NUL-terminated in place */
    if (!buf) return 0;
    memcpy(buf, data + 3, size - 3);
    buf[size - 3] = 0;
    struct chat_msg m[MAX_MSGS], empty[MAX_MSGS];
    size_t n = 0;
    static const char *const roles[] = {"system", "user", "assistant"};
    for (char *p = buf, *end = buf + (size - 3); p <= end && n < MAX_MSGS;) {
        char *sep = memchr(p, 0x1E, (size_t)(end - p));
        if (sep) *sep = 0;
        unsigned r = p < end ? (unsigned char)*p++ : 1;
        const char *role = roles[r % 3], *content = p;
        if (r % 4 == 3) {
            char *us = strchr(p, 0x1F);
            role = p;
            content = "";
            if (us) {
                *us = 0;
                content = us + 1;
            }
        }
        m[n] = (struct chat_msg){role, content};
        empty[n] = (struct chat_msg){role, ""};
        n++;
        if (!sep) break;
        p = sep + 1;
    }
    char *r = chat_render(tm, m, n, gen, "<s>", "</s>");
    if (!r) fuzz_fail("chat_render returned NULL");
    free(r);
    size_t a = n_ctl(t, tm, m, n, gen), b = n_ctl(t, tm, empty, n, gen);
    if (a != b)
        fuzz_fail("messages added control tokens: %zu, empty %zu (template %s)", a, b,
                  chat_tmpl_name(tm));
    free(buf);
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return fuzz_init_vocabs(argc, argv);
}
