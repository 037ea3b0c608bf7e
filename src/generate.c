/* generate — see generate.h. */
#include "generate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "sample.h"
#include "tokenizer.h"

int gen_prefill(struct backend *b, const int32_t *ids, int32_t n, int32_t pos, float *logits,
                uint64_t *n_run, char *err, size_t errlen)
{
    int32_t step = b->max_batch > 0 ? b->max_batch : n;
    for (int32_t done = 0; done < n; done += step) {
        int32_t k = n - done < step ? n - done : step;
        if (backend_forward(b, ids + done, k, pos + done, false, logits, err, errlen) != 0)
            return -1;
        if (n_run) *n_run += (uint64_t)k;
    }
    return 0;
}

/* appends n bytes to the growing text */
static int text_add(char **t, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 256;
        while (*len + n + 1 > c)
            c *= 2;
        char *r = realloc(*t, c);
        if (!r) return -1;
        *t = r;
        *cap = c;
    }
    memcpy(*t + *len, s, n);
    *len += n;
    (*t)[*len] = 0;
    return 0;
}

/* the first stop string in text (searching from byte from), or NULL */
static char *find_stop(const struct gen_params *p, char *text, size_t from)
{
    char *best = NULL;
    for (int u = 0; u < p->n_until; u++) {
        if (!p->until[u][0]) continue;
        char *s = strstr(text + from, p->until[u]);
        if (s && (!best || s < best)) best = s;
    }
    return best;
}

int generate(struct gen_state *g, const struct gen_params *p, struct gen_result *out, char *err,
             size_t errlen)
{
    memset(out, 0, sizeof *out);
    const struct tokenizer *tok = g->tok;
    const int32_t n_vocab = g->b->model->cfg.n_vocab;
    size_t cap = detok_max_bytes(tok), tlen = 0, tcap = 0, longest = 0;
    char *piece = malloc(cap);
    char *text = NULL;
    int rc = 0;
    for (int u = 0; u < p->n_until; u++)
        if (strlen(p->until[u]) > longest) longest = strlen(p->until[u]);
    struct detok d;
    detok_init(&d, tok, false);
    if (!piece || text_add(&text, &tlen, &tcap, "", 0)) goto oom;
    bool stop = false;
    while ((p->max_new < 0 || out->n_gen < p->max_new) && g->len < g->cap) {
        int32_t id = p->smp ? sampler_sample(p->smp, g->logits) : sample_argmax(g->logits, n_vocab);
        if (!p->ignore_eos && tokenizer_is_eog(tok, id)) {
            out->eog = true;
            break;
        }
        if (p->smp) sampler_accept(p->smp, id);
        g->seq[g->len++] = id;
        out->n_gen++;
        size_t k = detok_push(&d, id, piece, cap);
        if (k) {
            size_t from = tlen > longest ? tlen - longest : 0;
            if (text_add(&text, &tlen, &tcap, piece, k)) goto oom;
            if (p->emit && (rc = p->emit(p->ctx, piece, k, err, errlen)) != 0) break;
            if (p->n_until && find_stop(p, text, from)) stop = true;
        }
        if (stop || out->n_gen == p->max_new || g->len == g->cap) break;
        if (backend_forward(g->b, &id, 1, g->len - 1, false, g->logits, err, errlen) != 0) {
            rc = -1;
            break;
        }
        g->n_run++;
    }
    if (rc == 0) {
        size_t k = detok_flush(&d, piece, cap);
        if (k) {
            if (text_add(&text, &tlen, &tcap, piece, k)) goto oom;
            if (p->emit) rc = p->emit(p->ctx, piece, k, err, errlen);
        }
    }
    free(piece);
    if (rc) {
        free(text);
        return -1;
    }
    if (p->decoded) {
        free(text);
        text = tokenizer_decode(tok, g->seq + g->len - out->n_gen, (size_t)out->n_gen);
        if (!text) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    char *s = find_stop(p, text, 0);
    if (s) *s = 0;
    out->text = text;
    return 0;
oom:
    free(piece);
    free(text);
    snprintf(err, errlen, "out of memory");
    return -1;
}
