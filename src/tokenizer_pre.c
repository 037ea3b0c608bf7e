/* tokenizer_pre — the pre-tokenizers of byte-level BPE vocabularies: the text is cut into
 * words (merges never cross a word boundary) by the rules that tokenizer.ggml.pre names.
 *
 * The rules are those of llama.cpp (which reproduces the Hugging Face tokenizers on the
 * published test vectors): each pre-tokenizer is a list of regular expressions applied one
 * after another, each one cutting every piece of the previous pass into its matches and the
 * gaps between them. No regex engine is used: every expression is a small hand-written
 * matcher over code points and Unicode classes (unicode_tables.c), and the two long GPT-2 and
 * Llama 3 expressions follow llama.cpp's hand-written splitters step by step.
 *
 * Invalid UTF-8: a byte that does not begin a valid character is a character of its own
 * with no class (like an unassigned code point: not a letter, number or space), so it lands
 * in a word with neighbouring punctuation-like characters; its byte goes through the BPE
 * unchanged. (llama.cpp turns such bytes into U+FFFD first.) */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_impl.h"

/* bsearch's comparison of a code point (the key) with one range of a sorted, disjoint table:
 * below it, in it, above it. cmp_range below is the same for the pre-tokenizers' own ranges. */
static int cmp_uni_range(const void *key, const void *range)
{
    uint32_t c = *(const uint32_t *)key;
    const struct uni_range *r = range;
    return c < r->lo ? -1 : c > r->hi;
}

uint8_t uni_flags(uint32_t cp)
{
    if (cp < 0x80) {
        /* the generated table's first ranges, spelled out for speed */
        if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') return UNI_L;
        if (cp >= '0' && cp <= '9') return UNI_N;
    }
    const struct uni_range *r =
        bsearch(&cp, uni_ranges, uni_n_ranges, sizeof *uni_ranges, cmp_uni_range);
    return r ? r->flags : 0;
}

static const struct {
    const char *name;
    enum bpe_pre pre;
} pre_names[] = {
    {"default", PRE_DEFAULT},
    {"gpt-2", PRE_GPT2},
    {"gpt2", PRE_GPT2},
    {"phi-2", PRE_GPT2},
    {"mpt", PRE_GPT2},
    {"olmo", PRE_GPT2},
    {"jina-es", PRE_GPT2},
    {"jina-de", PRE_GPT2},
    {"jina-v1-en", PRE_GPT2},
    {"jina-v2-es", PRE_GPT2},
    {"jina-v2-de", PRE_GPT2},
    {"jina-v2-code", PRE_GPT2},
    {"roberta-bpe", PRE_GPT2},
    {"llama3", PRE_LLAMA3},
    {"llama-v3", PRE_LLAMA3},
    {"llama-bpe", PRE_LLAMA3},
    {"falcon3", PRE_LLAMA3},
    {"pixtral", PRE_LLAMA3},
    {"dbrx", PRE_LLAMA3},
    {"smaug-bpe", PRE_LLAMA3},
    {"qwen2", PRE_QWEN2},
    {"deepseek-r1-qwen", PRE_QWEN2},
    {"stablelm2", PRE_QWEN2},
    {"megrez", PRE_QWEN2},
    {"deepseek-llm", PRE_DEEPSEEK_LLM},
    {"deepseek-coder", PRE_DEEPSEEK_CODER},
    {"falcon", PRE_FALCON},
    {"starcoder", PRE_STARCODER},
    {"refact", PRE_STARCODER},
    {"smollm", PRE_STARCODER},
    {"command-r", PRE_STARCODER},
    {"codeshell", PRE_STARCODER},
    {"exaone", PRE_STARCODER},
    {"minerva-7b", PRE_STARCODER},
};

int bpe_pre_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof pre_names / sizeof pre_names[0]; i++)
        if (!strcmp(name, pre_names[i].name)) return (int)pre_names[i].pre;
    return -1;
}

const char *bpe_pre_supported(void)
{
    return "default, gpt-2, mpt, olmo, phi-2, llama-bpe (llama3), dbrx, smaug-bpe, qwen2, "
           "stablelm2, deepseek-llm, deepseek-coder, deepseek-r1-qwen, falcon, falcon3, "
           "starcoder, refact, smollm, command-r, codeshell, exaone, minerva-7b, jina-*";
}

/* ---- the text as code points ---- */

#define CP_BAD 0x110000u /* + byte: a byte that does not begin a valid character */

static uint32_t decode_cp(const unsigned char *s, int len)
{
    switch (len) {
    case 1: return s[0];
    case 2: return (uint32_t)(s[0] & 0x1F) << 6 | (s[1] & 0x3Fu);
    case 3: return (uint32_t)(s[0] & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3Fu);
    default:
        return (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 |
               (uint32_t)(s[2] & 0x3F) << 6 | (s[3] & 0x3Fu);
    }
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 256;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q) return -1;
    *p = q;
    *cap = c;
    return 0;
}

void pre_scratch_free(struct pre_scratch *s)
{
    free(s->cp);
    free(s->fl);
    free(s->off);
    free(s->a);
    free(s->b);
    memset(s, 0, sizeof *s);
}

/* a pass reads piece ends from in and writes the refined ends to out */
struct pass {
    const uint32_t *cp;
    const uint8_t *fl;
    uint32_t *out;
    size_t n_out;
};

/* ends a piece at end; empty pieces are dropped */
static void emit(struct pass *p, size_t end)
{
    if (end > (p->n_out ? p->out[p->n_out - 1] : 0)) p->out[p->n_out++] = (uint32_t)end;
}

static bool is_rn(uint32_t c)
{
    return c == '\r' || c == '\n';
}

/* 's|'t|'re|'ve|'m|'ll|'d at pos (case-insensitive when ci): its length, or 0 */
static size_t contraction(const struct pass *p, size_t pos, size_t end, bool ci)
{
    if (p->cp[pos] != '\'' || pos + 1 >= end) return 0;
    uint32_t a = p->cp[pos + 1];
    if (ci && a >= 'A' && a <= 'Z') a += 32;
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if (pos + 2 >= end) return 0;
    uint32_t b = p->cp[pos + 2];
    if (ci && b >= 'A' && b <= 'Z') b += 32;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

/* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S) */
static void split_gpt2(struct pass *p, size_t ini, size_t end)
{
    const uint8_t *fl = p->fl;
    for (size_t pos = ini; pos < end;) {
        size_t k = contraction(p, pos, end, false);
        if (k) {
            pos += k;
            emit(p, pos);
            continue;
        }
        size_t q = pos + (p->cp[pos] == ' ');
        uint8_t f2 = q < end ? fl[q] : 0;
        if (q < end && ((f2 & UNI_L) || (f2 & UNI_N) || !(f2 & (UNI_WS | UNI_L | UNI_N)))) {
            uint8_t want = f2 & UNI_L ? UNI_L : f2 & UNI_N ? UNI_N : 0;
            q++;
            if (want)
                while (q < end && (fl[q] & want))
                    q++;
            else
                while (q < end && !(fl[q] & (UNI_WS | UNI_L | UNI_N)))
                    q++;
            pos = q;
            emit(p, pos);
            continue;
        }
        size_t nws = 0;
        while (pos + nws < end && (fl[pos + nws] & UNI_WS))
            nws++;
        if (nws > 1 && pos + nws < end) {
            pos += nws - 1; /* \s+(?!\S): leave one space for the next word */
        } else if (nws > 0) {
            pos += nws;
        } else {
            pos++;
        }
        emit(p, pos);
    }
}

/* Llama 3 (max_digits 3) and Qwen2 (1):
 * (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max}|
 *  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
static void split_llama3(struct pass *p, size_t ini, size_t end, size_t max_digits)
{
    const uint8_t *fl = p->fl;
    const uint32_t *cp = p->cp;
    for (size_t pos = ini; pos < end;) {
        uint32_t c = cp[pos];
        uint8_t f = fl[pos];
        size_t k = contraction(p, pos, end, true);
        if (k) {
            pos += k;
            emit(p, pos);
            continue;
        }
        if (!is_rn(c) && !(f & UNI_N) &&
            ((f & UNI_L) || (pos + 1 < end && (fl[pos + 1] & UNI_L)))) {
            pos++;
            while (pos < end && (fl[pos] & UNI_L))
                pos++;
            emit(p, pos);
            continue;
        }
        if (f & UNI_N) {
            size_t run = 0;
            while (pos < end && (fl[pos] & UNI_N)) {
                pos++;
                if (++run == max_digits) {
                    emit(p, pos);
                    run = 0;
                }
            }
            emit(p, pos);
            continue;
        }
        size_t q = pos + (c == ' ');
        uint8_t f2 = q < end ? fl[q] : 0;
        if (!(f2 & (UNI_WS | UNI_L | UNI_N))) {
            while (q < end && !(fl[q] & (UNI_WS | UNI_L | UNI_N)))
                q++;
            while (q < end && is_rn(cp[q]))
                q++;
            pos = q;
            emit(p, pos);
            continue;
        }
        size_t nws = 0, last_rn = 0;
        while (pos + nws < end && (fl[pos + nws] & UNI_WS)) {
            if (is_rn(cp[pos + nws])) last_rn = pos + nws + 1;
            nws++;
        }
        if (last_rn > 0) {
            pos = last_rn; /* \s*[\r\n]+ */
        } else if (nws > 1 && pos + nws < end) {
            pos += nws - 1; /* \s+(?!\S) */
        } else if (nws > 0) {
            pos += nws;
        } else {
            pos++;
        }
        emit(p, pos);
    }
}

/* ---- the short expressions: each a matcher giving the match length at pos (0: none) ---- */

enum rx {
    RX_END,           /* ends a list */
    RX_RN,            /* [\r\n] */
    RX_SP_LETTERS,    /* \s?\p{L}+ */
    RX_SP_PUNCT,      /* \s?\p{P}+ */
    RX_CJK,           /* [一-龥ࠀ-一가-퟿]+ */
    RX_DIGIT,         /* \p{N} */
    RX_DIGITS,        /* \p{N}+ */
    RX_ASCII3,        /* [0-9][0-9][0-9] */
    RX_PUNCT_FALCON,  /* [\p{P}\$\+<=>\^~\|`]+ */
    RX_PUNCT_DEFAULT, /* [\p{P}\$\+<=>\^~\|]+ */
    RX_DS_LETTERS,    /* \s?[A-Za-zµÀ-ÖØ-öø-ƺ...]+ (deepseek-llm's list of cased letters) */
    RX_DS_PUNCT,      /* \s?[!-/:-~！-／：-～‘-‟　-。]+ */
    RX_WS_END,        /* \s+$ */
    RX_GPT2,          /* split_gpt2 */
    RX_LLAMA3,        /* split_llama3, 3 digits */
    RX_QWEN2,         /* split_llama3, 1 digit */
};

struct range {
    uint32_t lo, hi;
};

static const struct range ds_letters[] = {
    {0x41, 0x5A},       {0x61, 0x7A},       {0xB5, 0xB5},       {0xC0, 0xD6},
    {0xD8, 0xF6},       {0xF8, 0x1BA},      {0x1BC, 0x1BF},     {0x1C4, 0x293},
    {0x295, 0x2AF},     {0x370, 0x373},     {0x376, 0x377},     {0x37B, 0x37D},
    {0x37F, 0x37F},     {0x386, 0x386},     {0x388, 0x38A},     {0x38C, 0x38C},
    {0x38E, 0x3A1},     {0x3A3, 0x3F5},     {0x3F7, 0x481},     {0x48A, 0x52F},
    {0x531, 0x556},     {0x10A0, 0x10C5},   {0x13A0, 0x13F5},   {0x13F8, 0x13FD},
    {0x1C90, 0x1CBA},   {0x1CBD, 0x1CBF},   {0x1D00, 0x1D2B},   {0x1D6B, 0x1D77},
    {0x1D79, 0x1D9A},   {0x1E00, 0x1F15},   {0x1F18, 0x1F1D},   {0x1F20, 0x1F45},
    {0x1F48, 0x1F4D},   {0x1F50, 0x1F57},   {0x1F59, 0x1F59},   {0x1F5B, 0x1F5B},
    {0x1F5D, 0x1F5D},   {0x1F5F, 0x1F7D},   {0x1F80, 0x1FB4},   {0x1FB6, 0x1FBC},
    {0x1FBE, 0x1FBE},   {0x1FC2, 0x1FC4},   {0x1FC6, 0x1FCC},   {0x1FD0, 0x1FD3},
    {0x1FD6, 0x1FDB},   {0x1FE0, 0x1FEC},   {0x1FF2, 0x1FF4},   {0x1FF6, 0x1FFC},
    {0x2102, 0x2102},   {0x2107, 0x2107},   {0x210A, 0x2113},   {0x2115, 0x2115},
    {0x2119, 0x211D},   {0x2124, 0x2124},   {0x2126, 0x2126},   {0x2128, 0x2128},
    {0x212A, 0x212D},   {0x212F, 0x2134},   {0x2139, 0x2139},   {0x213C, 0x213F},
    {0x2145, 0x2149},   {0x214E, 0x214E},   {0x2183, 0x2184},   {0x2C00, 0x2C7B},
    {0x2C7E, 0x2CE4},   {0x2CEB, 0x2CEE},   {0x2CF2, 0x2CF3},   {0xA640, 0xA66D},
    {0xA680, 0xA69B},   {0xA722, 0xA76F},   {0xA771, 0xA787},   {0xA78B, 0xA78E},
    {0xAB70, 0xABBF},   {0xFB00, 0xFB06},   {0xFB13, 0xFB17},   {0xFF21, 0xFF3A},
    {0xFF41, 0xFF5A},   {0x10400, 0x1044F}, {0x104B0, 0x104D3}, {0x104D8, 0x104FB},
    {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF}, {0x1E900, 0x1E943},
};

static const struct range ds_punct[] = {
    {0x21, 0x2F},     {0x3A, 0x7E},     {0x2018, 0x201F},
    {0x3000, 0x3002}, {0xFF01, 0xFF0F}, {0xFF1A, 0xFF5E}, /* sorted */
};

static const struct range cjk[] = {{0x800, 0x9FA5}, {0xAC00, 0xD7FF}}; /* 一-龥ࠀ-一가-퟿ */

static int cmp_range(const void *key, const void *range)
{
    uint32_t c = *(const uint32_t *)key;
    const struct range *r = range;
    return c < r->lo ? -1 : c > r->hi;
}

/* r sorted and disjoint */
static bool in_ranges(const struct range *r, size_t n, uint32_t c)
{
    return bsearch(&c, r, n, sizeof *r, cmp_range) != NULL;
}

/* The character as llama.cpp's expressions see it: white space outside ASCII stands in as
 * \v (so it is \s and matches no explicit range). */
static uint32_t rx_char(const struct pass *p, size_t i)
{
    uint32_t c = p->cp[i];
    return c > 0x7F && (p->fl[i] & UNI_WS) ? 0x0B : c;
}

static bool rx_class(const struct pass *p, enum rx rx, size_t i)
{
    uint32_t c = rx_char(p, i);
    uint8_t f = p->fl[i];
    switch (rx) {
    case RX_SP_LETTERS: return f & UNI_L;
    case RX_SP_PUNCT: return f & UNI_P;
    case RX_CJK: return in_ranges(cjk, 2, c);
    case RX_DIGITS: return f & UNI_N;
    case RX_PUNCT_FALCON:
        if (c == '`') return true;
        /* fall through */
    case RX_PUNCT_DEFAULT:
        return (f & UNI_P) || c == '$' || c == '+' || c == '<' || c == '=' || c == '>' ||
               c == '^' || c == '~' || c == '|';
    case RX_DS_LETTERS: return in_ranges(ds_letters, sizeof ds_letters / sizeof ds_letters[0], c);
    case RX_DS_PUNCT: return in_ranges(ds_punct, sizeof ds_punct / sizeof ds_punct[0], c);
    default: return false;
    }
}

static size_t rx_match(const struct pass *p, enum rx rx, size_t pos, size_t end)
{
    size_t q = pos;
    switch (rx) {
    case RX_RN: return is_rn(p->cp[pos]);
    case RX_DIGIT: return (p->fl[pos] & UNI_N) != 0;
    case RX_ASCII3:
        for (; q < pos + 3; q++)
            if (q >= end || p->cp[q] < '0' || p->cp[q] > '9') return 0;
        return 3;
    case RX_SP_LETTERS:
    case RX_SP_PUNCT:
    case RX_DS_LETTERS:
    case RX_DS_PUNCT:
        /* \s? then the class: the space is taken only when the class follows */
        if ((p->fl[q] & UNI_WS) && q + 1 < end && rx_class(p, rx, q + 1)) q++;
        /* fall through */
    default:
        while (q < end && rx_class(p, rx, q))
            q++;
        return q - pos;
    }
}

/* One pass of expression rx over the piece [ini, end). */
static void split_rx(struct pass *p, enum rx rx, size_t ini, size_t end)
{
    if (rx == RX_GPT2) return split_gpt2(p, ini, end);
    if (rx == RX_LLAMA3) return split_llama3(p, ini, end, 3);
    if (rx == RX_QWEN2) return split_llama3(p, ini, end, 1);
    if (rx == RX_WS_END) {
        size_t s = end;
        while (s > ini && (p->fl[s - 1] & UNI_WS))
            s--;
        emit(p, s > ini ? s : ini);
        emit(p, end);
        return;
    }
    for (size_t pos = ini; pos < end;) {
        size_t k = rx_match(p, rx, pos, end);
        if (!k) {
            pos++;
            continue;
        }
        emit(p, pos); /* the gap before the match, if any (emit skips empty pieces) */
        pos += k;
        emit(p, pos);
    }
    emit(p, end);
}

static const enum rx pre_rx[][7] = {
    [PRE_DEFAULT] = {RX_PUNCT_DEFAULT, RX_GPT2, RX_DIGITS, RX_ASCII3, RX_END},
    [PRE_GPT2] = {RX_GPT2, RX_END},
    [PRE_LLAMA3] = {RX_LLAMA3, RX_END},
    [PRE_QWEN2] = {RX_QWEN2, RX_END},
    [PRE_DEEPSEEK_LLM] = {RX_RN, RX_DS_LETTERS, RX_DS_PUNCT, RX_WS_END, RX_CJK, RX_DIGITS, RX_END},
    [PRE_DEEPSEEK_CODER] = {RX_RN, RX_SP_LETTERS, RX_SP_PUNCT, RX_CJK, RX_DIGIT, RX_END},
    [PRE_FALCON] = {RX_PUNCT_FALCON, RX_GPT2, RX_ASCII3, RX_END},
    [PRE_STARCODER] = {RX_DIGIT, RX_GPT2, RX_END},
};

int pre_split(int pre, struct pre_scratch *sc, const char *text, size_t len, const uint32_t **ends,
              size_t *n_ends)
{
    *n_ends = 0;
    if (len == 0) return 0;
    /* one entry per byte covers every character; +1 for the end offset */
    if (grow((void **)&sc->cp, &sc->cap_cp, len + 1, sizeof *sc->cp) ||
        grow((void **)&sc->fl, &sc->cap_fl, len + 1, sizeof *sc->fl) ||
        grow((void **)&sc->off, &sc->cap_off, len + 1, sizeof *sc->off) ||
        grow((void **)&sc->a, &sc->cap_a, len + 1, sizeof *sc->a) ||
        grow((void **)&sc->b, &sc->cap_b, len + 1, sizeof *sc->b))
        return -1;
    const unsigned char *s = (const unsigned char *)text;
    size_t n = 0;
    for (size_t i = 0; i < len; n++) {
        int cl = s[i] < 0x80 ? 1 : tok_utf8_len(s + i, len - i);
        sc->off[n] = (uint32_t)i;
        if (cl <= 0) {
            sc->cp[n] = CP_BAD + s[i];
            sc->fl[n] = 0;
            i++;
        } else {
            sc->cp[n] = decode_cp(s + i, cl);
            sc->fl[n] = uni_flags(sc->cp[n]);
            i += (size_t)cl;
        }
    }
    sc->off[n] = (uint32_t)len;

    uint32_t *in = sc->a, *out = sc->b;
    size_t n_in = 1;
    in[0] = (uint32_t)n;
    for (const enum rx *rx = pre_rx[pre]; *rx != RX_END; rx++) {
        struct pass p = {sc->cp, sc->fl, out, 0};
        size_t ini = 0;
        for (size_t k = 0; k < n_in; k++) {
            split_rx(&p, *rx, ini, in[k]);
            ini = in[k];
        }
        uint32_t *tmp = in;
        in = out;
        out = tmp;
        n_in = p.n_out;
    }
    for (size_t k = 0; k < n_in; k++)
        in[k] = sc->off[in[k]];
    *ends = in;
    *n_ends = n_in;
    return 0;
}
