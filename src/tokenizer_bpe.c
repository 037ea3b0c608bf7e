/* tokenizer_bpe — byte-level BPE (tokenizer.ggml.model = "gpt2"), as llama.cpp and the
 * Hugging Face tokenizers do it: the text is cut into words by the pre-tokenizer
 * (tokenizer_pre.c); each byte of a word becomes the token of its GPT-2 byte character
 * (space -> 'Ġ'); then, within the word, the adjacent pair with the lowest merge rank is
 * merged, ties to the leftmost, until no ranked pair is left.
 *
 * Speed: merges are resolved to token ids once at load, so a pair is looked up by two ids in
 * a hash table; each word keeps its symbols in a linked list and its candidate pairs in a
 * small heap (stale entries are skipped when popped), so a word of n bytes costs
 * O(n log n) and a text is linear in its number of words.
 *
 * A merge whose parts or result are not tokens, or whose result is a CONTROL token, is
 * dropped at load (Hugging Face refuses such merges; special tokens never come out of
 * merges). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "tokenizer_impl.h"

uint32_t bpe_byte_char(unsigned char b)
{
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE) return b;
    if (b <= 0x20) return 0x100u + b;
    if (b <= 0xA0) return 0x100u + 33 + (b - 0x7Fu);
    return 0x100u + 67; /* 0xAD */
}

int bpe_char_byte(uint32_t cp)
{
    if ((cp >= 0x21 && cp <= 0x7E) || (cp >= 0xA1 && cp <= 0xAC) || (cp >= 0xAE && cp <= 0xFF))
        return (int)cp;
    if (cp < 0x100 || cp > 0x143) return -1;
    uint32_t i = cp - 0x100;
    if (i < 33) return (int)i;
    if (i < 67) return (int)(0x7F + i - 33);
    return 0xAD;
}

static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    /* byte characters are below U+0800 */
    o[0] = (char)(0xC0 | cp >> 6);
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

uint32_t bpe_printable(const char *s, uint32_t len, char *out)
{
    uint32_t o = 0;
    const unsigned char *u = (const unsigned char *)s;
    for (uint32_t i = 0; i < len;) {
        int cl = tok_utf8_len(u + i, len - i);
        if (cl == 2) {
            int b = bpe_char_byte((uint32_t)(u[i] & 0x1F) << 6 | (u[i + 1] & 0x3Fu));
            if (b >= 0) {
                out[o++] = (char)b;
                i += 2;
                continue;
            }
        } else if (cl == 1 && bpe_char_byte(u[i]) >= 0) {
            out[o++] = (char)u[i++];
            continue;
        }
        /* not a byte character: kept as it is */
        uint32_t n = cl > 0 ? (uint32_t)cl : 1;
        memcpy(out + o, s + i, n);
        o += n;
        i += n;
    }
    return o;
}

/* ---- merges ---- */

static uint64_t merge_key(int32_t l, int32_t r)
{
    return (uint64_t)(uint32_t)(l + 1) << 32 | (uint32_t)(r + 1); /* never 0 */
}

static uint32_t merge_slot(uint64_t key, uint32_t mask)
{
    return (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

static const struct bpe_merge *merge_find(const struct tokenizer *t, int32_t l, int32_t r)
{
    uint64_t key = merge_key(l, r);
    for (uint32_t i = merge_slot(key, t->merges_mask);; i = (i + 1) & t->merges_mask) {
        const struct bpe_merge *m = &t->merges[i];
        if (m->key == key) return m;
        if (m->key == 0) return NULL;
    }
}

int bpe_load(struct tokenizer *t, const struct gguf_file *f, char *err, size_t errlen)
{
    const char *path = f->path;
    char *pre = gguf_get_str(f, "tokenizer.ggml.pre");
    if (!pre && gguf_find(f, "tokenizer.ggml.pre"))
        return tok_fail(err, errlen, "%s: metadata 'tokenizer.ggml.pre' is not a string", path);
    snprintf(t->pre_name, sizeof t->pre_name, "%s", pre ? pre : "default");
    t->pre = bpe_pre_from_name(pre ? pre : "default");
    if (t->pre < 0) {
        tok_fail(err, errlen,
                 "%s: pre-tokenizer (tokenizer.ggml.pre) '%.40s' is not supported (supported: %s)",
                 path, pre, bpe_pre_supported());
        free(pre);
        return -1;
    }
    free(pre);
    t->ignore_merges = t->pre == PRE_LLAMA3;

    uint64_t n = 0;
    const struct gguf_value *mv = gguf_get_arr(f, "tokenizer.ggml.merges", GGUF_STRING, &n);
    if (!mv) {
        if (gguf_find(f, "tokenizer.ggml.merges"))
            return tok_fail(err, errlen,
                            "%s: metadata 'tokenizer.ggml.merges' is not an array of strings",
                            path);
        return tok_fail(err, errlen,
                        "%s: metadata 'tokenizer.ggml.merges' is missing (a gpt2 vocabulary "
                        "needs its merges)",
                        path);
    }
    if (n > (1u << 24))
        return tok_fail(err, errlen, "%s: tokenizer.ggml.merges has %" PRIu64 " entries (max %u)",
                        path, n, 1u << 24);
    uint32_t cap = 16;
    while (cap < 2 * n + 2)
        cap *= 2;
    t->merges = calloc(cap, sizeof *t->merges);
    size_t buf_cap = 256;
    char *buf = malloc(buf_cap);
    if (!t->merges || !buf) {
        free(buf);
        return tok_fail(err, errlen, "%s: out of memory", path);
    }
    t->merges_mask = cap - 1;
    for (uint64_t i = 0; i < n; i++) {
        const char *s = mv[i].v.s.ptr;
        size_t len = mv[i].v.s.len;
        /* "left right": split at the first space after the first byte (as llama.cpp) */
        const char *sp = len > 1 ? memchr(s + 1, ' ', len - 1) : NULL;
        if (!sp) continue;
        size_t ll = (size_t)(sp - s), rl = len - ll - 1;
        int32_t l = tok_lookup(t, s, ll), r = tok_lookup(t, sp + 1, rl);
        if (l < 0 || r < 0) continue;
        if (ll + rl > buf_cap) {
            char *nb = realloc(buf, ll + rl);
            if (!nb) {
                free(buf);
                return tok_fail(err, errlen, "%s: out of memory", path);
            }
            buf = nb;
            buf_cap = ll + rl;
        }
        memcpy(buf, s, ll);
        memcpy(buf + ll, sp + 1, rl);
        int32_t id = tok_lookup(t, buf, ll + rl);
        if (id < 0 || t->tok[id].type == TOK_CONTROL) continue;
        uint64_t key = merge_key(l, r);
        uint32_t k = merge_slot(key, t->merges_mask);
        while (t->merges[k].key && t->merges[k].key != key)
            k = (k + 1) & t->merges_mask;
        if (t->merges[k].key) continue; /* a repeated pair keeps its first rank */
        t->merges[k] = (struct bpe_merge){key, (int32_t)i, id};
        t->n_merges++;
    }
    free(buf);

    for (int c = 0; c < 256; c++) {
        char ch[2];
        size_t cl = put_utf8(ch, bpe_byte_char((unsigned char)c));
        t->byte_tok[c] = tok_lookup(t, ch, cl);
    }
    return 0;
}

/* ---- encoding ---- */

void bpe_scratch_free(struct bpe_scratch *s)
{
    pre_scratch_free(&s->pre);
    free(s->clean);
    free(s->word);
    free(s->syms);
    free(s->heap);
    memset(s, 0, sizeof *s);
}

struct bpe_sym {
    int32_t id; /* -1 once merged into its left neighbour, or a byte without a token */
    int32_t prev, next;
};

struct bpe_pair {
    int32_t rank, left, right;
    int32_t lid, rid; /* the ids when queued: a change means the entry is stale */
    int32_t id;       /* what they merge into */
};

static bool pair_before(const struct bpe_pair *a, const struct bpe_pair *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

struct heap {
    struct bpe_pair *v;
    size_t n, cap;
};

static int heap_push(struct heap *h, struct bpe_pair p)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        struct bpe_pair *v = realloc(h->v, cap * sizeof *v);
        if (!v) return -1;
        h->v = v;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!pair_before(&p, &h->v[up])) break;
        h->v[i] = h->v[up];
        i = up;
    }
    h->v[i] = p;
    return 0;
}

static struct bpe_pair heap_pop(struct heap *h)
{
    struct bpe_pair top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && pair_before(&h->v[c + 1], &h->v[c])) c++;
        if (!pair_before(&h->v[c], &last)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n > 0) h->v[i] = last;
    return top;
}

static int try_pair(const struct tokenizer *t, const struct bpe_sym *s, int32_t l, int32_t r,
                    struct heap *h)
{
    if (l < 0 || r < 0 || s[l].id < 0 || s[r].id < 0) return 0;
    const struct bpe_merge *m = merge_find(t, s[l].id, s[r].id);
    /* bpe_load skips merges into CONTROL tokens, but USER_DEFINED ones are made CONTROL
     * after it (tokenizer.c mark_control) */
    if (!m || t->tok[m->id].type == TOK_CONTROL) return 0;
    return heap_push(h, (struct bpe_pair){m->rank, l, r, s[l].id, s[r].id, m->id});
}

/* A byte alone: its token, else the unknown token when that is no control token, else
 * nothing (llama.cpp emits the bytes it has and skips the rest; Falcon has no token for
 * most control characters). */
static int emit_byte(const struct tokenizer *t, unsigned char b, struct tok_ids *out, char *err,
                     size_t errlen)
{
    int32_t id = t->byte_tok[b] >= 0 ? t->byte_tok[b] : tok_unk_fallback(t);
    if (id < 0) return 0;
    return tok_ids_push(out, id) ? tok_fail(err, errlen, "tokenizer: out of memory") : 0;
}

static int encode_word(const struct tokenizer *t, struct bpe_scratch *sc, const unsigned char *w,
                       size_t n, struct tok_ids *out, char *err, size_t errlen)
{
    if (n == 1) return emit_byte(t, w[0], out, err, errlen);
    if (t->ignore_merges) {
        if (2 * n > sc->word_cap) {
            char *p = realloc(sc->word, 2 * n);
            if (!p) goto oom;
            sc->word = p;
            sc->word_cap = 2 * n;
        }
        size_t wl = 0;
        for (size_t i = 0; i < n; i++)
            wl += put_utf8(sc->word + wl, bpe_byte_char(w[i]));
        int32_t id = tok_lookup(t, sc->word, wl);
        if (id >= 0 && t->tok[id].type != TOK_CONTROL)
            return tok_ids_push(out, id) ? tok_fail(err, errlen, "tokenizer: out of memory") : 0;
    }
    if (n > sc->syms_cap) {
        void *p = realloc(sc->syms, n * sizeof(struct bpe_sym));
        if (!p) goto oom;
        sc->syms = p;
        sc->syms_cap = n;
    }
    struct bpe_sym *s = sc->syms;
    for (size_t i = 0; i < n; i++)
        s[i] = (struct bpe_sym){t->byte_tok[w[i]], (int32_t)i - 1, (int32_t)i + 1};
    s[n - 1].next = -1;
    struct heap h = {sc->heap, 0, sc->heap_cap};
    int rc = 0;
    for (size_t i = 1; i < n && rc == 0; i++)
        rc = try_pair(t, s, (int32_t)i - 1, (int32_t)i, &h);
    while (rc == 0 && h.n > 0) {
        struct bpe_pair p = heap_pop(&h);
        struct bpe_sym *l = &s[p.left], *r = &s[p.right];
        if (l->id != p.lid || r->id != p.rid || l->next != p.right) continue; /* stale */
        l->id = p.id;
        r->id = -1;
        l->next = r->next;
        if (r->next >= 0) s[r->next].prev = p.left;
        rc = try_pair(t, s, l->prev, p.left, &h);
        if (rc == 0) rc = try_pair(t, s, p.left, l->next, &h);
    }
    sc->heap = h.v;
    sc->heap_cap = h.cap;
    if (rc) goto oom;
    /* merges fold the right symbol into the left, so symbol 0 heads the list */
    for (int32_t i = 0; i != -1; i = s[i].next) {
        if (s[i].id >= 0) {
            if (tok_ids_push(out, s[i].id)) goto oom;
        } else if (emit_byte(t, w[i], out, err, errlen)) {
            return -1; /* a byte with no token never merged, so it is alone */
        }
    }
    return 0;
oom:
    return tok_fail(err, errlen, "tokenizer: out of memory encoding a word of %zu bytes", n);
}

/* Invalid UTF-8 becomes U+FFFD before pre-tokenizing, one per byte that does not start a
 * valid character (a cut sequence at the end too), as llama.cpp does (unicode_cpts_from_utf8)
 * and as Hugging Face sees text decoded with errors="replace". Returns text itself when it
 * is valid, NULL when out of memory. */
static const char *bpe_clean(struct bpe_scratch *sc, const char *text, size_t len, size_t *out_len)
{
    const unsigned char *u = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        int cl = tok_utf8_len(u + i, len - i);
        if (cl <= 0) break;
        i += (size_t)cl;
    }
    *out_len = len;
    if (i == len) return text;
    size_t need = i + 3 * (len - i); /* callers cap len far below SIZE_MAX / 3 */
    if (need > sc->clean_cap) {
        char *p = realloc(sc->clean, need);
        if (!p) return NULL;
        sc->clean = p;
        sc->clean_cap = need;
    }
    memcpy(sc->clean, text, i);
    size_t o = i;
    while (i < len) {
        int cl = tok_utf8_len(u + i, len - i);
        if (cl <= 0) {
            memcpy(sc->clean + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        } else {
            memcpy(sc->clean + o, text + i, (size_t)cl);
            o += (size_t)cl;
            i += (size_t)cl;
        }
    }
    *out_len = o;
    return sc->clean;
}

int bpe_encode_fragment(const struct tokenizer *t, struct bpe_scratch *sc, const char *text,
                        size_t len, struct tok_ids *out, char *err, size_t errlen)
{
    text = bpe_clean(sc, text, len, &len);
    if (!text) return tok_fail(err, errlen, "tokenizer: out of memory encoding %zu bytes", len);
    const uint32_t *ends;
    size_t n_ends;
    if (pre_split(t->pre, &sc->pre, text, len, &ends, &n_ends))
        return tok_fail(err, errlen, "tokenizer: out of memory encoding %zu bytes", len);
    size_t start = 0;
    for (size_t k = 0; k < n_ends; k++) {
        if (encode_word(t, sc, (const unsigned char *)text + start, ends[k] - start, out, err,
                        errlen))
            return -1;
        start = ends[k];
    }
    return 0;
}
