/* tokenizer_spm — SentencePiece-style BPE over one raw-text fragment, as llama.cpp's SPM
 * tokenizer does it: characters become symbols in a linked list, a max-heap holds every
 * adjacent pair whose concatenation is a piece (keyed by the piece's score, ties to the
 * leftmost pair), the best pair is merged and its new neighbours are queued, until no
 * pair is left. Symbols that are not pieces fall back to byte tokens.
 *
 * Speed: one heap over a whole long text is slow (every pop misses the cache). But a merge
 * can only ever join two characters that sit side by side in some piece, so wherever the
 * text has an adjacent pair that occurs in no piece, nothing merges across: the text is
 * cut there into segments (about one word each) and each gets its own small heap. Within a
 * segment the order of merges is the same as with one global heap (ties go to the lower
 * index in both), so the result is identical. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer_impl.h"

struct spm_sym {
    uint32_t start, n; /* bytes in the escaped fragment; n == 0 once merged away */
    int32_t prev, next;
};

struct spm_bigram {
    float score;
    int32_t left, right;
    uint32_t size; /* n of left + right when queued: a mismatch later means it is stale */
};

/* a outranks b: higher score, then the leftmost pair */
static bool bigram_before(const struct spm_bigram *a, const struct spm_bigram *b)
{
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

struct spm_heap {
    struct spm_bigram *v;
    size_t n, cap;
};

static int heap_push(struct spm_heap *h, struct spm_bigram b)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 256;
        if (cap > SIZE_MAX / sizeof *h->v) return -1;
        struct spm_bigram *v = realloc(h->v, cap * sizeof *v);
        if (!v) return -1;
        h->v = v;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!bigram_before(&b, &h->v[p])) break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = b;
    return 0;
}

static struct spm_bigram heap_pop(struct spm_heap *h)
{
    struct spm_bigram top = h->v[0];
    struct spm_bigram last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && bigram_before(&h->v[c + 1], &h->v[c])) c++;
        if (!bigram_before(&h->v[c], &last)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n > 0) h->v[i] = last;
    return top;
}

/* A character as a number: its code point, or 0x110000 + byte for a byte that does not
 * start a valid character. */
static uint32_t char_code(const unsigned char *s, int len)
{
    switch (len) {
    case 2: return (uint32_t)(s[0] & 0x1F) << 6 | (s[1] & 0x3Fu);
    case 3: return (uint32_t)(s[0] & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3Fu);
    case 4:
        return (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 |
               (uint32_t)(s[2] & 0x3F) << 6 | (s[3] & 0x3Fu);
    case 1: return s[0] < 0x80 ? s[0] : 0x110000u + s[0];
    default: return 0x110000u + s[0];
    }
}

static uint64_t pair_key(uint32_t a, uint32_t b)
{
    return (uint64_t)(a + 1) << 32 | (b + 1); /* never 0 */
}

static uint32_t pair_slot(uint64_t key, uint32_t mask)
{
    return (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

static bool pair_known(const struct tokenizer *t, uint64_t key)
{
    for (uint32_t i = pair_slot(key, t->pairs_mask);; i = (i + 1) & t->pairs_mask) {
        if (t->pairs[i] == key) return true;
        if (t->pairs[i] == 0) return false;
    }
}

static int pair_insert(struct tokenizer *t, uint64_t key)
{
    if (2 * (t->n_pairs + 1) > t->pairs_mask + 1) { /* keep the load under one half */
        uint32_t cap = (t->pairs_mask + 1) * 2;
        uint64_t *v = calloc(cap, sizeof *v);
        if (!v) return -1;
        for (uint32_t i = 0; i <= t->pairs_mask; i++) {
            if (!t->pairs[i]) continue;
            uint32_t j = pair_slot(t->pairs[i], cap - 1);
            while (v[j])
                j = (j + 1) & (cap - 1);
            v[j] = t->pairs[i];
        }
        free(t->pairs);
        t->pairs = v;
        t->pairs_mask = cap - 1;
    }
    uint32_t i = pair_slot(key, t->pairs_mask);
    for (; t->pairs[i]; i = (i + 1) & t->pairs_mask)
        if (t->pairs[i] == key) return 0;
    t->pairs[i] = key;
    t->n_pairs++;
    return 0;
}

int spm_build_pairs(struct tokenizer *t)
{
    t->pairs_mask = 1023;
    t->n_pairs = 0;
    t->pairs = calloc(t->pairs_mask + 1, sizeof *t->pairs);
    if (!t->pairs) return -1;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        const unsigned char *s = (const unsigned char *)t->text + t->tok[id].text_off;
        size_t n = t->tok[id].text_len;
        uint32_t prev = 0;
        for (size_t off = 0; off < n;) {
            int cl = tok_utf8_len(s + off, n - off);
            if (cl <= 0) cl = 1;
            uint32_t c = char_code(s + off, cl);
            if (off > 0 && pair_insert(t, pair_key(prev, c))) return -1;
            prev = c;
            off += (size_t)cl;
        }
    }
    return 0;
}

void spm_scratch_free(struct spm_scratch *s)
{
    free(s->buf);
    free(s->syms);
    free(s->heap);
    memset(s, 0, sizeof *s);
}

/* Queues left+right when their concatenation is a piece (both within the segment). */
static int try_bigram(const struct tokenizer *t, const char *text, const struct spm_sym *syms,
                      int32_t left, int32_t right, struct spm_heap *h)
{
    uint32_t size = syms[left].n + syms[right].n;
    int32_t id = tok_lookup(t, text + syms[left].start, size);
    if (id < 0 || t->tok[id].type == TOK_CONTROL || t->tok[id].type == TOK_UNKNOWN)
        return 0; /* plain text never merges into a control token */
    struct spm_bigram b = {t->tok[id].score, left, right, size};
    return heap_push(h, b);
}

/* Runs the merges of symbols [first, end), all linked in a row. */
static int merge_segment(const struct tokenizer *t, const char *s, struct spm_sym *syms,
                         int32_t first, int32_t end, struct spm_heap *h)
{
    for (int32_t i = first + 1; i < end; i++)
        if (try_bigram(t, s, syms, i - 1, i, h)) return -1;
    while (h->n > 0) {
        struct spm_bigram b = heap_pop(h);
        struct spm_sym *l = &syms[b.left], *r = &syms[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size) continue; /* stale */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0 && r->next < end) syms[r->next].prev = b.left;
        if (l->prev >= first && try_bigram(t, s, syms, l->prev, b.left, h)) return -1;
        if (l->next >= 0 && l->next < end && try_bigram(t, s, syms, b.left, l->next, h)) return -1;
    }
    return 0;
}

/* Writes the fragment with the optional prefix and spaces escaped as U+2581 into sc->buf. */
static int escape(struct spm_scratch *sc, const char *text, size_t len, bool space_prefix,
                  size_t *out_len)
{
    /* callers cap len far below SIZE_MAX / 3 */
    size_t need = 3 * (len + 1);
    if (need > sc->buf_cap) {
        char *b = realloc(sc->buf, need);
        if (!b) return -1;
        sc->buf = b;
        sc->buf_cap = need;
    }
    char *o = sc->buf;
    if (space_prefix) {
        memcpy(o, "\xe2\x96\x81", 3);
        o += 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(o, "\xe2\x96\x81", 3);
            o += 3;
        } else {
            *o++ = text[i];
        }
    }
    *out_len = (size_t)(o - sc->buf);
    return 0;
}

/* A final symbol: the piece itself, or its bytes one token each. */
static int emit_symbol(const struct tokenizer *t, const char *s, uint32_t n, struct tok_ids *out,
                       char *err, size_t errlen)
{
    int32_t id = tok_lookup(t, s, n);
    if (id >= 0 && t->tok[id].type != TOK_CONTROL && t->tok[id].type != TOK_UNKNOWN) {
        if (tok_ids_push(out, id)) goto oom;
        return 0;
    }
    for (uint32_t j = 0; j < n; j++) {
        unsigned char c = (unsigned char)s[j];
        id = t->byte_tok[c] >= 0 ? t->byte_tok[c] : tok_unk_fallback(t);
        if (id >= 0 && tok_ids_push(out, id)) goto oom;
    }
    return 0;
oom:
    return tok_fail(err, errlen, "tokenizer: out of memory");
}

int spm_encode_fragment(const struct tokenizer *t, struct spm_scratch *sc, const char *text,
                        size_t len, bool space_prefix, struct tok_ids *out, char *err,
                        size_t errlen)
{
    size_t n;
    if (escape(sc, text, len, space_prefix, &n)) goto oom;
    if (n == 0) return 0;
    const char *s = sc->buf;

    /* one symbol per UTF-8 character; a byte that does not start a valid one stands alone */
    if (n > sc->syms_cap) {
        void *p = realloc(sc->syms, n * sizeof(struct spm_sym));
        if (!p) goto oom;
        sc->syms = p;
        sc->syms_cap = n;
    }
    struct spm_sym *syms = sc->syms;
    struct spm_heap h = {sc->heap, 0, sc->heap_cap};
    int32_t n_syms = 0, first = 0;
    uint32_t prev = 0;
    for (size_t off = 0; off < n;) {
        int cl = tok_utf8_len((const unsigned char *)s + off, n - off);
        if (cl <= 0) cl = 1;
        uint32_t c = char_code((const unsigned char *)s + off, cl);
        if (n_syms > 0 && !pair_known(t, pair_key(prev, c))) {
            if (merge_segment(t, s, syms, first, n_syms, &h)) goto oom_heap;
            first = n_syms;
        }
        syms[n_syms] = (struct spm_sym){(uint32_t)off, (uint32_t)cl, n_syms - 1, n_syms + 1};
        n_syms++;
        off += (size_t)cl;
        prev = c;
    }
    syms[n_syms - 1].next = -1;
    if (merge_segment(t, s, syms, first, n_syms, &h)) goto oom_heap;
    sc->heap = h.v;
    sc->heap_cap = h.cap;

    /* merges only ever fold the right symbol into the left, so symbol 0 heads the list */
    for (int32_t i = 0; i != -1; i = syms[i].next)
        if (emit_symbol(t, s + syms[i].start, syms[i].n, out, err, errlen)) return -1;
    return 0;

oom_heap:
    sc->heap = h.v;
    sc->heap_cap = h.cap;
oom:
    return tok_fail(err, errlen, "tokenizer: out of memory encoding %zu bytes", len);
}
