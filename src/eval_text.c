/* eval_text — see eval_text.h. */
#include "eval_text.h"

#include <ctype.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* the finished string of b (never NULL unless out of memory) */
static char *sb_done(struct strbuf *b)
{
    if (b->oom) return free(b->s), NULL;
    if (!b->s) return strdup("");
    return b->s;
}

char *text_replace(const char *s, const char *from, const char *to)
{
    if (!s) return NULL;
    struct strbuf b = {0};
    size_t fl = strlen(from), tl = strlen(to);
    const char *p = s, *q;
    while (fl && (q = strstr(p, from))) {
        strbuf_put(&b, p, (size_t)(q - p));
        strbuf_put(&b, to, tl);
        p = q + fl;
    }
    strbuf_put(&b, p, strlen(p));
    return sb_done(&b);
}

/* replace in place of s (frees s) */
static char *repl(char *s, const char *from, const char *to)
{
    char *r = text_replace(s, from, to);
    free(s);
    return r;
}

size_t text_space_len(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    if (*u == ' ' || (*u >= 9 && *u <= 13) || (*u >= 0x1c && *u <= 0x1f)) return 1;
    if (u[0] == 0xC2 && (u[1] == 0x85 || u[1] == 0xA0)) return 2;
    if (u[0] == 0xE1 && u[1] == 0x9A && u[2] == 0x80) return 3; /* U+1680 */
    if (u[0] == 0xE2 && u[1] == 0x80 &&
        ((u[2] >= 0x80 && u[2] <= 0x8A) || u[2] == 0xA8 || u[2] == 0xA9 || u[2] == 0xAF))
        return 3;                                               /* U+2000-200A, 2028, 2029, 202F */
    if (u[0] == 0xE2 && u[1] == 0x81 && u[2] == 0x9F) return 3; /* U+205F */
    if (u[0] == 0xE3 && u[1] == 0x80 && u[2] == 0x80) return 3; /* U+3000 */
    return 0;
}

char *text_strip(const char *s)
{
    size_t n = strlen(s), a = 0, l;
    while (a < n && (l = text_space_len(s + a)))
        a += l;
    size_t e = a, i = a;
    while (i < n) {
        l = text_space_len(s + i);
        if (l)
            i += l;
        else {
            i++;
            while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80)
                i++;
            e = i;
        }
    }
    return strndup(s + a, e - a);
}

long text_count_words(const char *s)
{
    long n = 1;
    size_t l;
    while (*s) {
        if ((l = text_space_len(s))) {
            n++;
            while (*s && (l = text_space_len(s)))
                s += l;
        } else {
            s++;
        }
    }
    return n;
}

long text_count_chars(const char *s)
{
    long n = 0;
    const unsigned char *u = (const unsigned char *)s;
    while (*u) {
        int len = *u < 0x80         ? 1
                  : (*u >> 5) == 6  ? 2
                  : (*u >> 4) == 14 ? 3
                  : (*u >> 3) == 30 ? 4
                                    : 1;
        int k = 1;
        while (k < len && (u[k] & 0xC0) == 0x80)
            k++;
        u += k == len ? len : 1;
        n++;
    }
    return n;
}

/* re.sub(r"O\s*([^C]*?)\s*C", r"O\1C", s) */
static char *strip_inside(char *s, char o, char c)
{
    if (!s) return NULL;
    struct strbuf b = {0};
    const char *p = s;
    for (;;) {
        const char *q = strchr(p, o);
        const char *e = q ? strchr(q + 1, c) : NULL;
        if (!q || !e) break;
        const char *a = q + 1, *z = e;
        size_t l;
        while (a < z && (l = text_space_len(a)) && a + l <= z)
            a += l;
        while (z > a && (z[-1] == ' ' || (z[-1] >= 9 && z[-1] <= 13)))
            z--;
        strbuf_put(&b, p, (size_t)(q - p));
        strbuf_put(&b, &o, 1);
        strbuf_put(&b, a, (size_t)(z - a));
        strbuf_put(&b, &c, 1);
        p = e + 1;
    }
    strbuf_put(&b, p, strlen(p));
    free(s);
    return sb_done(&b);
}

char *text_wikitext_detok(const char *page)
{
    char *s = strdup(page);
    s = repl(s, "s '", "s'");
    if (s) { /* re.sub(r"/' [0-9]/", r"/'[0-9]/") — literal, as upstream wrote it */
        struct strbuf b = {0};
        const char *p = s, *r = s, *q;
        while ((q = strstr(r, "/' "))) {
            if (isdigit((unsigned char)q[3]) && q[4] == '/') {
                strbuf_put(&b, p, (size_t)(q - p));
                strbuf_put(&b, "/'[0-9]/", 8);
                r = p = q + 5;
            } else {
                r = q + 1;
            }
        }
        strbuf_put(&b, p, strlen(p));
        free(s);
        s = sb_done(&b);
    }
    static const char *const pairs[][2] = {
        {" @-@ ", "-"}, {" @,@ ", ","}, {" @.@ ", "."}, {" : ", ": "}, {" ; ", "; "},
        {" . ", ". "},  {" ! ", "! "},  {" ? ", "? "},  {" , ", ", "},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        s = repl(s, pairs[i][0], pairs[i][1]);
    s = strip_inside(s, '(', ')');
    s = strip_inside(s, '[', ']');
    s = strip_inside(s, '{', '}');
    s = strip_inside(s, '"', '"');
    s = strip_inside(s, '\'', '\'');
    static const char *const misc[][2] = {
        {"= = = =", "===="}, {"= = =", "==="}, {"= =", "=="},  {" \xC2\xB0 ", "\xC2\xB0"},
        {" \n", "\n"},       {"\n ", "\n"},    {" N ", " 1 "}, {" 's", "'s"},
    };
    for (size_t i = 0; i < sizeof misc / sizeof misc[0]; i++)
        s = repl(s, misc[i][0], misc[i][1]);
    return s;
}

static bool is_heading(const char *line, size_t len)
{
    char *l = strndup(line, len), *r;
    if (!l) return false;
    r = repl(repl(l, "= = =", "==="), "= =", "==");
    if (!r) return false;
    char *t = text_strip(r);
    free(r);
    if (!t) return false;
    size_t tl = strlen(t);
    bool h = tl >= 2 && !strncmp(t, "= ", 2) && tl >= 2 && !strcmp(t + tl - 2, " =");
    free(t);
    return h;
}

int text_wikitext_articles(const char *raw, char ***pages)
{
    int n = 0, cap = 0;
    char **out = NULL;
    struct strbuf cur = {0};
    bool any = false; /* cur holds at least one line */
    const char *p = raw;
    for (;;) {
        const char *e = strchr(p, '\n');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (is_heading(p, l)) {
            char *page = sb_done(&cur);
            memset(&cur, 0, sizeof cur);
            bool keep = false;
            if (page && any) {
                char *t = text_strip(page);
                keep = t && *t;
                free(t);
            }
            if (keep) {
                if (n == cap) {
                    cap = cap ? cap * 2 : 64;
                    char **no = realloc(out, sizeof *no * (size_t)cap);
                    if (!no) break;
                    out = no;
                }
                out[n++] = page;
            } else {
                free(page);
            }
            any = false;
        }
        if (any) strbuf_put(&cur, "\n", 1);
        strbuf_put(&cur, p, l);
        if (!cur.s) strbuf_put(&cur, "", 0);
        any = true;
        if (!e) break;
        p = e + 1;
    }
    char *last = sb_done(&cur);
    if (n == cap) {
        char **no = realloc(out, sizeof *no * (size_t)(cap + 1));
        if (no) out = no;
    }
    if (out && last)
        out[n++] = last;
    else
        free(last);
    *pages = out;
    return n;
}

char *text_hellaswag(const char *s)
{
    char *t = text_strip(s);
    t = repl(t, " [title]", ". ");
    if (t) { /* re.sub("\\[.*?\\]", "", t) */
        struct strbuf b = {0};
        const char *p = t, *q, *e;
        while ((q = strchr(p, '[')) && (e = strchr(q, ']'))) {
            const char *nl = memchr(q, '\n', (size_t)(e - q));
            if (nl) { /* '.' does not match a newline: no match starting at q */
                strbuf_put(&b, p, (size_t)(q - p) + 1);
                p = q + 1;
                continue;
            }
            strbuf_put(&b, p, (size_t)(q - p));
            p = e + 1;
        }
        strbuf_put(&b, p, strlen(p));
        free(t);
        t = sb_done(&b);
    }
    return repl(t, "  ", " ");
}

char *text_but_last_word(const char *s)
{
    const char *sp = strrchr(s, ' ');
    return sp ? strndup(s, (size_t)(sp - s)) : strdup("");
}

char *text_last_word(const char *s)
{
    const char *sp = strrchr(s, ' ');
    return strdup(sp ? sp + 1 : s);
}

/* all matches of an ERE, non-overlapping left to right; returns group g of match `which`
 * (-1: last) — for the flexible filter, the first non-empty group. */
static char *regex_pick(const char *s, const char *re, bool first, bool any_group)
{
    regex_t rx;
    if (regcomp(&rx, re, REG_EXTENDED)) return strdup("[invalid]");
    regmatch_t m[4];
    const char *p = s;
    char *found = NULL;
    int flags = 0;
    while (*p && regexec(&rx, p, 4, m, flags) == 0) {
        int g = 1;
        if (any_group)
            while (g < 3 && (m[g].rm_so < 0 || m[g].rm_eo == m[g].rm_so))
                g++;
        if (g < 4 && m[g].rm_so >= 0) {
            free(found);
            found = strndup(p + m[g].rm_so, (size_t)(m[g].rm_eo - m[g].rm_so));
        }
        if (first) break;
        p += m[0].rm_eo > m[0].rm_so ? m[0].rm_eo : m[0].rm_so + 1;
        flags = REG_NOTBOL;
    }
    regfree(&rx);
    if (!found) return strdup("[invalid]");
    char *t = text_strip(found);
    free(found);
    return t;
}

char *text_gsm8k_strict(const char *s)
{
    return regex_pick(s, "#### (-?[0-9.,]+)", true, false);
}

char *text_gsm8k_flexible(const char *s)
{
    return regex_pick(s, "(-?[$0-9.,]{2,})|(-?[0-9]+)", false, true);
}

char *text_gsm8k_norm(const char *s)
{
    char *t = repl(repl(strdup(s), ",", ""), "$", "");
    if (!t) return NULL;
    const char *last = NULL, *q = t;
    while ((q = strstr(q, "#### ")))
        last = q++;
    if (last) memmove(t, last + 5, strlen(last + 5) + 1);
    size_t n = strlen(t);
    if (n && t[n - 1] == '.')
        t[n - 1] = 0;
    else if (n >= 2 && t[n - 1] == '\n' && t[n - 2] == '.')
        memmove(t + n - 2, t + n - 1, 2);
    for (char *c = t; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    return t;
}
