/* tokenizer_special — finding special tokens in text in one scan (see tokenizer_impl.h).
 *
 * Matching is leftmost-longest, as the Hugging Face tokenizers do it (their added-vocabulary
 * Aho-Corasick automaton, MatchKind::LeftmostLongest): at each byte the longest eligible
 * special token that starts there is taken, ties going to the lowest id. llama.cpp instead
 * splits once per token, longest token first; the two agree unless a shorter token starts
 * before a longer one that overlaps it, which no published vector has. The cost is one pass
 * over the text, with at each byte that starts some special token one hash step per distinct
 * length of those tokens: linear in the text whatever the number of special tokens
 * (previously one pass per token whose first two bytes occur in the text). */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_impl.h"

#define FNV_BASIS 2166136261u
#define FNV_PRIME 16777619u

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

int special_index_build(struct tokenizer *t)
{
    size_t n = t->n_special;
    if (n == 0) return 0;
    uint32_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    t->sp_hash = malloc(cap * sizeof *t->sp_hash);
    t->sp_lens = malloc(n * sizeof *t->sp_lens);
    if (!t->sp_hash || !t->sp_lens) return -1;
    memset(t->sp_hash, 0xff, cap * sizeof *t->sp_hash);
    t->sp_hash_mask = cap - 1;
    /* t->special is longest first, ties by id: the first of equal texts stays in the hash */
    for (size_t k = 0; k < n; k++) {
        const struct tok_entry *e = &t->tok[t->special[k]];
        const char *s = t->text + e->text_off;
        uint32_t h = FNV_BASIS;
        for (uint32_t j = 0; j < e->text_len; j++)
            h = (h ^ (unsigned char)s[j]) * FNV_PRIME;
        for (uint32_t i = h & t->sp_hash_mask;; i = (i + 1) & t->sp_hash_mask) {
            int32_t old = t->sp_hash[i];
            if (old < 0) {
                t->sp_hash[i] = t->special[k];
                break;
            }
            const struct tok_entry *o = &t->tok[old];
            if (o->text_len == e->text_len && !memcmp(t->text + o->text_off, s, e->text_len)) break;
        }
    }
    /* the distinct lengths per first byte, shortest first (the scan hashes incrementally) */
    uint32_t count[257] = {0};
    for (size_t k = 0; k < n; k++) {
        const struct tok_entry *e = &t->tok[t->special[k]];
        count[(unsigned char)t->text[e->text_off] + 1]++;
    }
    for (int c = 0; c < 256; c++)
        count[c + 1] += count[c];
    memcpy(t->sp_off, count, sizeof count);
    uint32_t fill[256];
    memcpy(fill, count, sizeof fill);
    for (size_t k = n; k-- > 0;) { /* shortest first */
        const struct tok_entry *e = &t->tok[t->special[k]];
        unsigned c = (unsigned char)t->text[e->text_off];
        if (fill[c] > t->sp_off[c] && t->sp_lens[fill[c] - 1] == e->text_len) continue;
        t->sp_lens[fill[c]++] = e->text_len;
    }
    for (int c = 0; c < 256; c++)
        t->sp_end[c] = fill[c];
    return 0;
}

static int32_t sp_find(const struct tokenizer *t, uint32_t h, const char *s, uint32_t len)
{
    for (uint32_t i = h & t->sp_hash_mask;; i = (i + 1) & t->sp_hash_mask) {
        int32_t id = t->sp_hash[i];
        if (id < 0) return -1;
        const struct tok_entry *e = &t->tok[id];
        if (e->text_len == len && !memcmp(t->text + e->text_off, s, len)) return id;
    }
}

/* Whether [at, at + n) lies inside one of the sorted spans (binary search). */
static bool in_spans(const struct tok_span *sp, size_t n_sp, size_t at, size_t n)
{
    size_t lo = 0, hi = n_sp;
    while (lo < hi) { /* first span that ends after at */
        size_t mid = lo + (hi - lo) / 2;
        if (sp[mid].off + sp[mid].len <= at)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n_sp && sp[lo].off <= at && at + n <= sp[lo].off + sp[lo].len;
}

int frags_push(struct frags *fr, struct frag x)
{
    if (fr->n == fr->cap) {
        size_t cap = fr->cap ? fr->cap * 2 : 16;
        if (cap > SIZE_MAX / sizeof *fr->v) return -1;
        struct frag *v = realloc(fr->v, cap * sizeof *v);
        if (!v) return -1;
        fr->v = v;
        fr->cap = cap;
    }
    fr->v[fr->n++] = x;
    return 0;
}

int special_split(const struct tokenizer *t, const char *text, size_t len,
                  const struct tok_span *sp, size_t n_sp, struct frags *out)
{
    out->n = 0;
    size_t raw = 0; /* start of the raw text not yet emitted */
    for (size_t i = 0; i < len;) {
        unsigned c = (unsigned char)text[i];
        int32_t hit = -1;
        uint32_t hit_len = 0, k = 0, h = FNV_BASIS;
        for (uint32_t j = t->sp_off[c]; j < t->sp_end[c]; j++) {
            uint32_t l = t->sp_lens[j];
            if (l > len - i) break;
            for (; k < l; k++)
                h = (h ^ (unsigned char)text[i + k]) * FNV_PRIME;
            int32_t id = sp_find(t, h, text + i, l);
            if (id < 0) continue;
            if (t->tok[id].type != TOK_USER_DEFINED && !in_spans(sp, n_sp, i, l)) continue;
            hit = id; /* longer ones come later and win */
            hit_len = l;
        }
        if (hit < 0) {
            i++;
            continue;
        }
        const struct tok_entry *e = &t->tok[hit];
        size_t left = i - raw;
        if (e->flags & TOKF_LSTRIP)
            while (left > 0 && is_space(text[raw + left - 1]))
                left--;
        if (left > 0 && frags_push(out, (struct frag){-1, raw, left})) return -1;
        if (frags_push(out, (struct frag){hit, i, hit_len})) return -1;
        i += hit_len;
        if (e->flags & TOKF_RSTRIP)
            while (i < len && is_space(text[i]))
                i++;
        raw = i;
    }
    if (raw < len && frags_push(out, (struct frag){-1, raw, len - raw})) return -1;
    return 0;
}
