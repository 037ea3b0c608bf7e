/* tokenizer_decode — token ids back to text: the printable form of each piece, and a
 * streaming detokenizer that releases only complete, valid UTF-8. See tokenizer.h. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_impl.h"

static const char replacement[3] = {'\xef', '\xbf', '\xbd'}; /* U+FFFD */

/* The printable bytes of id, or an empty piece for hidden and out-of-range ids. */
static const char *piece(const struct tokenizer *t, int32_t id, bool show_special, size_t *len)
{
    *len = 0;
    if (id < 0 || id >= t->n_vocab) return "";
    const struct tok_entry *e = &t->tok[id];
    if (!show_special && (e->type == TOK_CONTROL || e->type == TOK_UNKNOWN)) return "";
    *len = e->dec_len;
    return t->dec + e->dec_off;
}

size_t tokenizer_token_bytes(const struct tokenizer *t, int32_t id, bool show_special, char *buf,
                             size_t cap)
{
    size_t len;
    const char *p = piece(t, id, show_special, &len);
    if (buf && cap) memcpy(buf, p, len < cap ? len : cap);
    return len;
}

size_t detok_max_bytes(const struct tokenizer *t)
{
    /* every byte of a piece, plus up to 3 held back, may come out as a 3-byte U+FFFD */
    return 3 * (t->max_dec_len + 4);
}

void detok_init(struct detok *d, const struct tokenizer *t, bool strip_leading_space)
{
    memset(d, 0, sizeof *d);
    d->t = t;
    d->show_special = false;
    d->at_start = strip_leading_space;
}

struct sink {
    char *out;
    size_t cap, n;
};

/* Whole characters only: one that does not fit is dropped rather than cut. */
static void put(struct sink *s, const void *p, size_t len)
{
    if (len > s->cap - s->n) return;
    memcpy(s->out + s->n, p, len);
    s->n += len;
}

static void feed(struct detok *d, struct sink *s, unsigned char c)
{
    if (d->n_pend == 0 && c < 0x80) {
        put(s, &c, 1);
        return;
    }
    d->pend[d->n_pend++] = (char)c;
    for (;;) {
        int r = tok_utf8_len((const unsigned char *)d->pend, d->n_pend);
        if (r == 0) return; /* a valid start: wait for more */
        if (r > 0) {
            put(s, d->pend, (size_t)r);
            d->n_pend = 0;
            return;
        }
        /* what was held is a valid but truncated sequence (one U+FFFD for all of it, the
         * "maximal subpart" rule); the new byte then starts afresh */
        put(s, replacement, sizeof replacement);
        if (d->n_pend == 1) {
            d->n_pend = 0;
            return;
        }
        d->pend[0] = d->pend[d->n_pend - 1];
        d->n_pend = 1;
    }
}

size_t detok_push(struct detok *d, int32_t id, char *out, size_t cap)
{
    size_t len;
    const char *p = piece(d->t, id, d->show_special, &len);
    if (len == 0) return 0;
    if (d->at_start) {
        d->at_start = false;
        if (p[0] == ' ') {
            p++;
            len--;
        }
    }
    struct sink s = {out, out ? cap : 0, 0};
    for (size_t i = 0; i < len; i++)
        feed(d, &s, (unsigned char)p[i]);
    return s.n;
}

size_t detok_flush(struct detok *d, char *out, size_t cap)
{
    struct sink s = {out, out ? cap : 0, 0};
    if (d->n_pend > 0) put(&s, replacement, sizeof replacement);
    d->n_pend = 0;
    return s.n;
}

char *tokenizer_decode(const struct tokenizer *t, const int32_t *ids, size_t n)
{
    struct detok d;
    detok_init(&d, t, t->add_space_prefix);
    size_t step = detok_max_bytes(t), cap = step + 1, len = 0;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    for (size_t i = 0; i < n; i++) {
        if (cap - len < step + 1) {
            if (cap > SIZE_MAX / 2) goto fail;
            char *b = realloc(buf, cap * 2);
            if (!b) goto fail;
            buf = b;
            cap *= 2;
        }
        len += detok_push(&d, ids[i], buf + len, cap - len - 1);
    }
    if (cap - len < 4) {
        char *b = realloc(buf, cap + 4);
        if (!b) goto fail;
        buf = b;
        cap += 4;
    }
    len += detok_flush(&d, buf + len, cap - len - 1);
    buf[len] = 0;
    return buf;
fail:
    free(buf);
    return NULL;
}
