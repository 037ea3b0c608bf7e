/* report_out — report.md and report.html from one description of the document: each piece
 * (heading, paragraph, table, list, image) is written by one function for both formats, so
 * the two files always say the same. The HTML is self-contained: images inline (base64). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "report.h"
#include "util.h"

struct doc {
    FILE *f;
    bool html;
    const char *dir; /* where the images are (html reads them to inline) */
};

static void esc(struct doc *d, const char *s)
{
    for (; *s; s++) {
        if (d->html && *s == '<')
            fputs("&lt;", d->f);
        else if (d->html && *s == '>')
            fputs("&gt;", d->f);
        else if (d->html && *s == '&')
            fputs("&amp;", d->f);
        else if (!d->html && *s == '|')
            fputs("\\|", d->f);
        else if (*s == '\n')
            fputc(' ', d->f);
        else
            fputc(*s, d->f);
    }
}

static void heading(struct doc *d, int level, const char *text)
{
    if (d->html) {
        fprintf(d->f, "<h%d>", level);
        esc(d, text);
        fprintf(d->f, "</h%d>\n", level);
    } else {
        fprintf(d->f, "\n%.*s ", level, "######");
        esc(d, text);
        fputs("\n\n", d->f);
    }
}

/* Writes the formatted text, escaped, between open and close. */
static void vblock(struct doc *d, const char *open, const char *close, const char *fmt, va_list ap)
{
    char buf[4096];
    vsnprintf(buf, sizeof buf, fmt, ap);
    fputs(open, d->f);
    esc(d, buf);
    fputs(close, d->f);
}

__attribute__((format(printf, 2, 3))) static void para(struct doc *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vblock(d, d->html ? "<p>" : "", d->html ? "</p>\n" : "\n\n", fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 2, 3))) static void item(struct doc *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vblock(d, d->html ? "<li>" : "- ", d->html ? "</li>\n" : "\n", fmt, ap);
    va_end(ap);
}

static void list_begin(struct doc *d)
{
    if (d->html) fputs("<ul>\n", d->f);
}

static void list_end(struct doc *d)
{
    fputs(d->html ? "</ul>\n" : "\n", d->f);
}

/* cells separated by '\t'; right-aligned columns flagged in align ('r') */
static void table_row(struct doc *d, const char *cells, bool header, const char *align)
{
    fputs(d->html ? "<tr>" : "|", d->f);
    int c = 0;
    for (const char *p = cells;; c++) {
        size_t k = strcspn(p, "\t");
        char cell[512];
        snprintf(cell, sizeof cell, "%.*s", (int)(k < 511 ? k : 511), p);
        if (d->html) {
            bool right = align && c < (int)strlen(align) && align[c] == 'r';
            fprintf(d->f, "<%s%s>", header ? "th" : "td", right ? " class=r" : "");
            esc(d, cell);
            fprintf(d->f, "</%s>", header ? "th" : "td");
        } else {
            fputc(' ', d->f);
            esc(d, cell);
            fputs(" |", d->f);
        }
        if (!p[k]) break;
        p += k + 1;
    }
    fputc('\n', d->f);
    if (header && !d->html) {
        fputc('|', d->f);
        for (int i = 0; i <= c; i++)
            fputs(align && i < (int)strlen(align) && align[i] == 'r' ? " ---: |" : " --- |", d->f);
        fputc('\n', d->f);
    }
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void image(struct doc *d, const char *file, const char *alt)
{
    if (!d->html) {
        fprintf(d->f, "![%s](%s)\n\n", alt, file);
        return;
    }
    char path[2048], err[256];
    snprintf(path, sizeof path, "%s/%s", d->dir, file);
    size_t len;
    unsigned char *png = (unsigned char *)file_read_all(path, &len, err, sizeof err);
    if (!png) {
        fprintf(d->f, "<p>(chart %s missing: ", file);
        esc(d, err);
        fputs(")</p>\n", d->f);
        return;
    }
    fprintf(d->f, "<p><img alt=\"");
    esc(d, alt);
    fprintf(d->f, "\" src=\"data:image/png;base64,");
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)png[i] << 16;
        if (i + 1 < len) v |= (unsigned)png[i + 1] << 8;
        if (i + 2 < len) v |= png[i + 2];
        fputc(b64[v >> 18 & 63], d->f);
        fputc(b64[v >> 12 & 63], d->f);
        fputc(i + 1 < len ? b64[v >> 6 & 63] : '=', d->f);
        fputc(i + 2 < len ? b64[v & 63] : '=', d->f);
    }
    fputs("\"></p>\n", d->f);
    free(png);
}

/* ---- number formats ---- */

static const char *fnum(double v, const char *fmt, char *buf, size_t len)
{
    if (isnan(v))
        snprintf(buf, len, "n/a");
    else
        snprintf(buf, len, fmt, v);
    return buf;
}

static const char *fsize(uint64_t b, char *buf, size_t len)
{
    if (!b) {
        snprintf(buf, len, "n/a");
        return buf;
    }
    return fmt_bytes(b, buf, len);
}

static const char *fparams(uint64_t n, char *buf, size_t len)
{
    if (!n)
        snprintf(buf, len, "n/a");
    else if (n >= 1000000000ull)
        snprintf(buf, len, "%.2f B", (double)n / 1e9);
    else
        snprintf(buf, len, "%.2f M", (double)n / 1e6);
    return buf;
}

/* the label a chart and the front list use for a row */
static void row_label(const struct report_row *x, char *buf, size_t len)
{
    snprintf(buf, len, "%s @ %s", x->model, x->backend);
}

#define CAT(...) snprintf(line + strlen(line), sizeof line - strlen(line), __VA_ARGS__)

static void write_doc(struct doc *d, const struct report *r, char charts[][64], int n_charts)
{
    char a[64], b[64], c[64];
    if (d->html)
        fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>joule report</title>\n"
              "<style>body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
              "table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #999;"
              "padding:3px 6px}th{background:#eee}td.r{text-align:right}"
              "img{max-width:100%}</style>\n</head><body>\n",
              d->f);
    heading(d, 1, "joule report: quality x speed x energy x cost");
    bool any_score = false;
    for (int i = 0; i < r->n_rows; i++)
        for (int s = 0; s < r->n_suites; s++)
            any_score |= r->rows[i].scores[s].have;
    para(d,
         "%d result files joined into %d rows, one per (model, device, precision). Quality: %s%s. "
         "Cost axis of the front: %s of generation (tg). A star marks the Pareto front: the rows "
         "that no other row beats on both quality and cost.",
         r->n_files, r->n_rows,
         strcmp(r->quality_by, "mean") ? "the suite "
                                       : "the mean of the accuracy-like suites every "
                                         "evaluated row has",
         strcmp(r->quality_by, "mean") ? r->quality_by : "",
         r->cost_usd ? "$/Mtok (energy + hardware when given)" : "joules per token");

    heading(d, 2, "Results");
    char line[4096] = "front\tmodel\tquant\tdevice\tsize\tparams\tbits/weight";
    char align[64] = "llllrrr";
    for (int s = 0; s < r->n_suites; s++) {
        const char *metric = "";
        for (int i = 0; i < r->n_rows && !metric[0]; i++)
            if (r->rows[i].scores[s].have) metric = r->rows[i].scores[s].metric;
        CAT("\t%s (%s)", r->suites[s], metric);
        if (strlen(align) < sizeof align - 1) strcat(align, "r");
    }
    CAT("\tquality\tpp t/s\ttg t/s\tJ/token (tg)\ttokens/J (tg)\t$/Mtok energy\t$/Mtok hw\t$/Mtok "
        "total\tenergy source\tJ/token (eval)");
    strncat(align, "rrrrrrrrlr", sizeof align - strlen(align) - 1);
    if (d->html) fputs("<table>\n", d->f);
    table_row(d, line, true, align);
    for (int i = 0; i < r->n_rows; i++) {
        const struct report_row *x = &r->rows[i];
        line[0] = 0;
        CAT("%s\t%s\t%s\t%s\t%s\t%s\t%s", x->front ? "★" : "", x->model,
            x->quant[0] ? x->quant : "?", x->device, fsize(x->size_bytes, a, sizeof a),
            fparams(x->params, b, sizeof b), fnum(x->bpw, "%.2f", c, sizeof c));
        for (int s = 0; s < r->n_suites; s++) {
            const struct report_score *sc = &x->scores[s];
            if (!sc->have)
                CAT("\tn/a");
            else if (isnan(sc->se))
                CAT("\t%.4f (n=%ld%s)", sc->value, sc->items, sc->shards > 1 ? ", shards" : "");
            else
                CAT("\t%.4f ± %.4f (n=%ld%s)", sc->value, sc->se, sc->items,
                    sc->shards > 1 ? ", shards" : "");
        }
        CAT("\t%s", fnum(x->quality, "%.4f", a, sizeof a));
        if (isnan(x->pp_ts))
            CAT("\tn/a");
        else
            CAT("\t%.2f ± %.2f", x->pp_ts, isnan(x->pp_sd) ? 0 : x->pp_sd);
        if (isnan(x->tg_ts))
            CAT("\tn/a");
        else
            CAT("\t%.2f ± %.2f", x->tg_ts, isnan(x->tg_sd) ? 0 : x->tg_sd);
        CAT("\t%s", fnum(x->tg_jtok, "%.4g", a, sizeof a));
        CAT("\t%s", fnum(x->tg_tokj, "%.4g", a, sizeof a));
        CAT("\t%s", fnum(x->usd_energy, "%.4g", a, sizeof a));
        CAT("\t%s", fnum(x->usd_hw, "%.4g", a, sizeof a));
        CAT("\t%s", fnum(x->usd_total, "%.4g", a, sizeof a));
        CAT("\tpp %s, tg %s%s%s", x->pp_src[0] ? x->pp_src : "n/a",
            x->tg_src[0] ? x->tg_src : "n/a", x->eval_src[0] ? ", eval " : "", x->eval_src);
        CAT("\t%s", fnum(x->eval_jtok, "%.4g", a, sizeof a));
        table_row(d, line, false, align);
    }
    fputs(d->html ? "</table>\n" : "\n", d->f);
    para(d, "Scores: each suite's headline metric ± its standard error, n items scored. pp/tg: "
            "tokens per second, mean ± standard deviation over the repetitions (llama-bench's "
            "tests). J/token and $/Mtok of generation; 'n/a' where no energy figure exists (no "
            "sensor, or a window under 1 s). Energy source: counter (a hardware energy counter), "
            "power-integrated (power readings integrated over time), estimate (rated power x "
            "time, a rough figure), n/a (none).");

    heading(d, 2, "Pareto front");
    int n_front = 0, n_axes = 0;
    for (int i = 0; i < r->n_rows; i++) {
        n_front += r->rows[i].front;
        n_axes += !isnan(r->rows[i].quality) && !isnan(r->rows[i].cost);
    }
    if (!n_front) {
        para(d, "No row has both a quality figure and a %s figure, so there is no front (%s).",
             r->cost_usd ? "$/Mtok" : "J/token",
             any_score ? "no energy figure of generation" : "no eval results");
    } else {
        para(d, "%d of the %d rows with both figures are on the front (best first by quality):",
             n_front, n_axes);
        list_begin(d);
        bool *done = calloc((size_t)r->n_rows, sizeof *done);
        for (int k = 0; k < n_front; k++) {
            int best = -1;
            for (int i = 0; i < r->n_rows; i++)
                if (r->rows[i].front && (!done || !done[i]) &&
                    (best < 0 || r->rows[i].quality > r->rows[best].quality))
                    best = i;
            if (best < 0) break;
            if (done) done[best] = true;
            row_label(&r->rows[best], line, sizeof line);
            item(d, "%s: quality %.4f, %.4g %s", line, r->rows[best].quality, r->rows[best].cost,
                 r->cost_usd ? "$/Mtok" : "J/token");
            if (!done) break; /* out of memory: the best one only */
        }
        free(done);
        list_end(d);
    }

    if (n_charts) {
        heading(d, 2, "Charts");
        for (int i = 0; i < n_charts; i++)
            image(d, charts[i], charts[i]);
    }

    heading(d, 2, "Differences");
    if (!r->n_diffs) {
        para(d, "None: every input joined into a row had the same settings, and every suite was "
                "run with the same settings on every row.");
    } else {
        para(d, "Inputs that were not joined, or rows that are not measured alike:");
        list_begin(d);
        for (int i = 0; i < r->n_diffs; i++)
            item(d, "%s", r->diffs[i].text);
        list_end(d);
    }

    heading(d, 2, "Provenance");
    list_begin(d);
    for (int i = 0; i < r->n_rows; i++) {
        const struct report_row *x = &r->rows[i];
        row_label(x, line, sizeof line);
        item(d, "%s: %d input%s; sha256 %.16s%s; %s; bench %s", line, x->n_inputs,
             x->n_inputs == 1 ? "" : "s", x->sha256[0] ? x->sha256 : "n/a",
             x->sha256[0] ? "..." : "", x->provenance[0] ? x->provenance : "no provenance",
             x->bench_settings[0] ? x->bench_settings : "n/a");
    }
    list_end(d);
    if (d->html) fputs("</body></html>\n", d->f);
}

void report_write_md(FILE *f, const struct report *r)
{
    struct doc d = {f, false, "."};
    write_doc(&d, r, NULL, 0);
}

static int write_file(const struct report *r, const char *dir, const char *name, bool html,
                      char charts[][64], int n_charts, char *err, size_t errlen)
{
    char path[2048], tmp[2100];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = file_open_tmp(path, tmp, sizeof tmp, err, errlen);
    if (!f) return -1;
    struct doc d = {f, html, dir};
    write_doc(&d, r, charts, n_charts);
    return file_commit(f, tmp, path, err, errlen);
}

int report_write(const struct report *r, const char *dir, char *err, size_t errlen)
{
    if (file_mkdirs(dir, err, errlen)) return -1;
    char charts[16][64];
    int n = 0;
    if (report_charts(r, dir, charts, 16, &n, err, errlen) != 0) return -1;
    if (write_file(r, dir, "report.md", false, charts, n, err, errlen) != 0) return -1;
    return write_file(r, dir, "report.html", true, charts, n, err, errlen);
}
