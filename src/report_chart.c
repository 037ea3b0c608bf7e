/* report_chart — the report's PNG charts, drawn on an RGB canvas and written with
 * stb_image_write. Text is set with stb_truetype and DejaVu Sans (fonts-dejavu-core); where
 * that file is absent, with stb_easy_font's built-in strokes, so charts never lack labels.
 * JOULE_FONT names another .ttf file (a missing one selects the built-in strokes).
 *
 * Every series differs by marker shape or fill pattern as well as by color, and the colors
 * are far apart in lightness (dark blue, black, orange, light grey), so a chart printed in
 * grayscale still reads.
 *
 *   quality_energy.png   quality vs the front's cost axis (J/token or $/Mtok of generation):
 *                        one marker per row (shape by backend), labels, the Pareto front as a
 *                        dashed line
 *   speed.png            pp and tg tokens/s of every row (bars, two panels)
 *   cost.png             $/Mtok of every row (energy, plus hardware when given: stacked bars)
 *   quant_<model>.png    for a model in several quantizations: quality and tg tokens/s
 *                        against bits per weight, one line per device
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
#define STBTT_STATIC
#define STB_TRUETYPE_IMPLEMENTATION
#include <stb/stb_easy_font.h>
#include <stb/stb_truetype.h>

#include "fileio.h"

#define FONT_PATH "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

struct rgb {
    unsigned char r, g, b;
};

static const struct rgb BLACK = {0, 0, 0}, GRID = {225, 225, 225}, AXIS = {60, 60, 60};
/* far apart in lightness: ~0.3, 0.0, ~0.65 (markers and lines), ~0.8 (fills) */
static const struct rgb SERIES[4] = {{31, 78, 156}, {0, 0, 0}, {230, 140, 0}, {200, 200, 200}};

struct canvas {
    int w, h;
    unsigned char *px;
};

struct font {
    bool tt;
    stbtt_fontinfo info;
    char *ttf;
};

static bool canvas_new(struct canvas *c, int w, int h)
{
    c->w = w, c->h = h;
    c->px = malloc((size_t)w * h * 3);
    if (!c->px) return false;
    memset(c->px, 255, (size_t)w * h * 3);
    return true;
}

static void blend(struct canvas *c, int x, int y, struct rgb col, int a)
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h || a <= 0) return;
    if (a > 255) a = 255;
    unsigned char *p = c->px + ((size_t)y * c->w + x) * 3;
    p[0] = (unsigned char)((p[0] * (255 - a) + col.r * a) / 255);
    p[1] = (unsigned char)((p[1] * (255 - a) + col.g * a) / 255);
    p[2] = (unsigned char)((p[2] * (255 - a) + col.b * a) / 255);
}

static void rect(struct canvas *c, int x0, int y0, int x1, int y1, struct rgb col)
{
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            blend(c, x, y, col, 255);
}

/* a filled disc of radius r (antialiased edge) */
static void disc(struct canvas *c, double cx, double cy, double r, struct rgb col)
{
    for (int y = (int)floor(cy - r - 1); y <= (int)ceil(cy + r + 1); y++)
        for (int x = (int)floor(cx - r - 1); x <= (int)ceil(cx + r + 1); x++) {
            double d = hypot(x + 0.5 - cx, y + 0.5 - cy);
            double a = r + 0.5 - d;
            if (a > 0) blend(c, x, y, col, (int)(255 * (a > 1 ? 1 : a)));
        }
}

/* a line of width w; dash > 0: on/off runs of that many pixels */
static void line(struct canvas *c, double x0, double y0, double x1, double y1, double w,
                 struct rgb col, double dash)
{
    double len = hypot(x1 - x0, y1 - y0);
    int steps = (int)(len * 2) + 1;
    if (steps > 100000) steps = 100000;
    for (int i = 0; i <= steps; i++) {
        double t = (double)i / steps;
        if (dash > 0 && fmod(t * len, 2 * dash) > dash) continue;
        double x = x0 + (x1 - x0) * t, y = y0 + (y1 - y0) * t;
        if (w <= 1.2)
            blend(c, (int)x, (int)y, col, 255);
        else
            disc(c, x, y, w / 2, col);
    }
}

/* marker shapes: 0 circle, 1 square, 2 triangle, 3 diamond; filled, with a dark outline */
static void marker(struct canvas *c, double x, double y, int shape, struct rgb col, double r)
{
    shape %= 4;
    for (int py = (int)(y - r - 2); py <= (int)(y + r + 2); py++)
        for (int px = (int)(x - r - 2); px <= (int)(x + r + 2); px++) {
            double dx = px + 0.5 - x, dy = py + 0.5 - y, d; /* d: signed distance-ish */
            if (shape == 0)
                d = hypot(dx, dy) - r;
            else if (shape == 1)
                d = fmax(fabs(dx), fabs(dy)) - r * 0.85;
            else if (shape == 2)
                d = fmax(dy - r * 0.8, (fabs(dx) * 1.7 - (r * 0.8 - dy) * 1.0) / 1.97);
            else
                d = (fabs(dx) + fabs(dy)) / 1.41 - r * 0.8;
            if (d < -1.5)
                blend(c, px, py, col, 255);
            else if (d < 0.5)
                blend(c, px, py, BLACK, d < -0.5 ? 255 : (int)(255 * (0.5 - d)));
        }
}

/* ---- text ---- */

static void font_open(struct font *f)
{
    memset(f, 0, sizeof *f);
    char err[256];
    size_t len;
    const char *path = getenv("JOULE_FONT"); /* another TrueType font; a missing file: built-in */
    f->ttf = file_read_all(path && *path ? path : FONT_PATH, &len, err, sizeof err);
    if (f->ttf && stbtt_InitFont(&f->info, (const unsigned char *)f->ttf,
                                 stbtt_GetFontOffsetForIndex((const unsigned char *)f->ttf, 0)))
        f->tt = true;
    else {
        free(f->ttf);
        f->ttf = NULL;
    }
}

static void font_close(struct font *f)
{
    free(f->ttf);
}

/* next code point of UTF-8 text ('?' for a malformed byte) */
static int utf8_next(const char **s)
{
    const unsigned char *p = (const unsigned char *)*s;
    int cp = p[0], n = 0;
    if (cp >= 0xF0)
        cp &= 7, n = 3;
    else if (cp >= 0xE0)
        cp &= 15, n = 2;
    else if (cp >= 0xC0)
        cp &= 31, n = 1;
    else if (cp >= 0x80)
        cp = '?';
    int i = 1;
    for (; i <= n; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            *s += i;
            return '?';
        }
        cp = cp << 6 | (p[i] & 63);
    }
    *s += i;
    return cp;
}

/* The text as an alpha mask (w x h, malloc'd), px pixels high. */
static unsigned char *text_mask(const struct font *f, const char *s, double px, int *w, int *h)
{
    *w = *h = 0;
    if (!f->tt) {
        /* stb_easy_font: ASCII strokes on a grid ~12 units high; scaled by px / 12 */
        char ascii[256];
        size_t n = 0;
        for (const char *p = s; *p && n < sizeof ascii - 1;) {
            int cp = utf8_next(&p);
            ascii[n++] = cp >= 32 && cp < 127 ? (char)cp : cp == 0xB1 ? '+' : '?';
        }
        ascii[n] = 0;
        double k = px / 12.0;
        *w = (int)ceil(stb_easy_font_width(ascii) * k) + 2;
        *h = (int)ceil(px) + 2;
        unsigned char *m = calloc((size_t)*w * *h, 1);
        static float quads[4 * 4 * 1000];
        if (!m) return NULL;
        int nq = stb_easy_font_print(0, 1, ascii, NULL, quads, sizeof quads);
        for (int q = 0; q < nq; q++) {
            const float *v = quads + q * 16; /* 4 vertices of x, y, z, color */
            int x0 = (int)floor(v[0] * k), y0 = (int)floor(v[1] * k);
            int x1 = (int)ceil(v[8] * k), y1 = (int)ceil(v[9] * k);
            for (int y = y0; y < y1; y++)
                for (int x = x0; x < x1; x++)
                    if (x >= 0 && y >= 0 && x < *w && y < *h) m[(size_t)y * *w + x] = 255;
        }
        return m;
    }
    float scale = stbtt_ScaleForPixelHeight(&f->info, (float)px);
    int asc, desc, gap;
    stbtt_GetFontVMetrics(&f->info, &asc, &desc, &gap);
    int base = (int)ceil(asc * scale);
    *h = base + (int)ceil(-desc * scale) + 1;
    /* width first */
    double xw = 0;
    int prev = 0;
    for (const char *p = s; *p;) {
        int cp = utf8_next(&p), adv, lsb;
        stbtt_GetCodepointHMetrics(&f->info, cp, &adv, &lsb);
        if (prev) xw += stbtt_GetCodepointKernAdvance(&f->info, prev, cp) * scale;
        xw += adv * scale;
        prev = cp;
    }
    *w = (int)ceil(xw) + 6;
    unsigned char *m = calloc((size_t)*w * *h, 1);
    if (!m) return NULL;
    double x = 3; /* room for a glyph reaching left of its origin (J) */
    prev = 0;
    for (const char *p = s; *p;) {
        int cp = utf8_next(&p), adv, lsb, x0, y0, x1, y1;
        if (prev) x += stbtt_GetCodepointKernAdvance(&f->info, prev, cp) * scale;
        stbtt_GetCodepointHMetrics(&f->info, cp, &adv, &lsb);
        stbtt_GetCodepointBitmapBox(&f->info, cp, scale, scale, &x0, &y0, &x1, &y1);
        int gx = (int)x + x0, gy = base + y0, gw = x1 - x0, gh = y1 - y0;
        if (gw > 0 && gh > 0 && gx >= 0 && gy >= 0 && gx + gw <= *w && gy + gh <= *h)
            stbtt_MakeCodepointBitmap(&f->info, m + (size_t)gy * *w + gx, gw, gh, *w, scale, scale,
                                      cp);
        x += adv * scale;
        prev = cp;
    }
    return m;
}

static int text_width(const struct font *f, const char *s, double px)
{
    int w, h;
    unsigned char *m = text_mask(f, s, px, &w, &h);
    free(m);
    return w;
}

/* align: 0 left, 1 center, 2 right of x; y is the top. vertical: rotated to read upwards,
 * x,y then the center. */
static void text(struct canvas *c, const struct font *f, int x, int y, const char *s, double px,
                 struct rgb col, int align, bool vertical)
{
    int w, h;
    unsigned char *m = text_mask(f, s, px, &w, &h);
    if (!m) return;
    if (!vertical) {
        int x0 = align == 1 ? x - w / 2 : align == 2 ? x - w : x;
        for (int j = 0; j < h; j++)
            for (int i = 0; i < w; i++)
                blend(c, x0 + i, y + j, col, m[(size_t)j * w + i]);
    } else {
        int x0 = x - h / 2, y0 = y + w / 2;
        for (int j = 0; j < h; j++)
            for (int i = 0; i < w; i++)
                blend(c, x0 + j, y0 - i, col, m[(size_t)j * w + i]);
    }
    free(m);
}

/* ---- axes ---- */

struct axis {
    double lo, hi;
    bool log;
    int p0, p1; /* pixel of lo and hi */
};

static double axis_px(const struct axis *a, double v)
{
    double t = a->log ? (log10(v) - log10(a->lo)) / (log10(a->hi) - log10(a->lo))
                      : (v - a->lo) / (a->hi - a->lo);
    return a->p0 + t * (a->p1 - a->p0);
}

/* a range with room around the data; log when it spans more than 20x and is positive */
static void axis_fit(struct axis *a, double lo, double hi, bool allow_log, bool from_zero)
{
    a->log = allow_log && lo > 0 && hi / lo > 20;
    if (a->log) {
        a->lo = pow(10, floor(log10(lo)));
        a->hi = pow(10, ceil(log10(hi)));
        if (a->hi <= a->lo) a->hi = a->lo * 10;
        return;
    }
    if (from_zero && lo > 0) lo = 0;
    if (hi <= lo) {
        double d = fabs(lo) > 0 ? fabs(lo) * 0.1 : 1;
        lo -= d, hi += d;
    }
    double pad = (hi - lo) * 0.08;
    a->lo = from_zero && lo == 0 ? 0 : lo - pad;
    a->hi = hi + pad;
}

static void fmt_tick(double v, char *buf, size_t len)
{
    double a = fabs(v);
    if (v == 0)
        snprintf(buf, len, "0");
    else if (a >= 1e5 || a < 1e-3)
        snprintf(buf, len, "%.0e", v);
    else
        snprintf(buf, len, "%g", v);
}

/* ticks and grid lines; horizontal: an x axis at the bottom of the plot (y from top..bottom) */
static void axis_draw(struct canvas *c, const struct font *f, const struct axis *a, bool horizontal,
                      int other0, int other1, const char *label)
{
    double ticks[64];
    int n = 0;
    if (a->log) {
        for (double v = a->lo; v <= a->hi * 1.0001 && n < 60; v *= 10) {
            ticks[n++] = v;
            if (a->hi / a->lo <= 1000) {
                if (v * 2 <= a->hi) ticks[n++] = v * 2;
                if (v * 5 <= a->hi) ticks[n++] = v * 5;
            }
        }
    } else {
        double span = a->hi - a->lo, raw = span / 6, mag = pow(10, floor(log10(raw)));
        double step = raw / mag < 1.5   ? mag
                      : raw / mag < 3.5 ? 2 * mag
                      : raw / mag < 7.5 ? 5 * mag
                                        : 10 * mag;
        for (double v = ceil(a->lo / step) * step; v <= a->hi + step * 1e-9 && n < 60; v += step)
            ticks[n++] = fabs(v) < step * 1e-9 ? 0 : v;
    }
    for (int i = 0; i < n; i++) {
        double p = axis_px(a, ticks[i]);
        char buf[32];
        fmt_tick(ticks[i], buf, sizeof buf);
        if (horizontal) {
            line(c, p, other0, p, other1, 1, GRID, 0);
            line(c, p, other1, p, other1 + 5, 1, AXIS, 0);
            text(c, f, (int)p, other1 + 8, buf, 15, AXIS, 1, false);
        } else {
            line(c, other0, p, other1, p, 1, GRID, 0);
            line(c, other0 - 5, p, other0, p, 1, AXIS, 0);
            text(c, f, other0 - 8, (int)p - 9, buf, 15, AXIS, 2, false);
        }
    }
    if (horizontal)
        text(c, f, (a->p0 + a->p1) / 2, other1 + 32, label, 17, BLACK, 1, false);
    else
        text(c, f, other0 - 70, (a->p0 + a->p1) / 2, label, 17, BLACK, 1, true);
}

static void frame(struct canvas *c, int x0, int y0, int x1, int y1)
{
    line(c, x0, y1, x1, y1, 1.5, AXIS, 0);
    line(c, x0, y0, x0, y1, 1.5, AXIS, 0);
}

static int save(struct canvas *c, const char *dir, const char *name, char names[][64], int max,
                int *n, char *err, size_t errlen)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int ok = stbi_write_png(path, c->w, c->h, 3, c->px, c->w * 3);
    free(c->px);
    c->px = NULL;
    if (!ok) {
        snprintf(err, errlen, "%s: cannot write the PNG", path);
        return -1;
    }
    if (*n < max) snprintf(names[(*n)++], 64, "%s", name);
    return 0;
}

/* the backends in row order: a marker shape and color each */
static int backend_index(const struct report *r, const char *backend, char seen[][32], int *ns)
{
    for (int i = 0; i < *ns; i++)
        if (!strcmp(seen[i], backend)) return i;
    if (*ns < 8) {
        snprintf(seen[*ns], 32, "%s", backend);
        return (*ns)++;
    }
    (void)r;
    return 7;
}

static void legend_entry(struct canvas *c, const struct font *f, int x, int y, int shape,
                         struct rgb col, const char *label)
{
    if (shape >= 0)
        marker(c, x + 10, y + 10, shape, col, 7);
    else
        line(c, x, y + 10, x + 22, y + 10, 2.5, col, 5);
    text(c, f, x + 30, y + 1, label, 15, BLACK, 0, false);
}

/* ---- the charts ---- */

static int chart_scatter(const struct report *r, const struct font *f, const char *dir,
                         char names[][64], int max, int *n, char *err, size_t errlen)
{
    int idx[4096], m = 0;
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (int i = 0; i < r->n_rows && m < 4096; i++) {
        const struct report_row *x = &r->rows[i];
        if (isnan(x->quality) || isnan(x->cost) || x->cost <= 0) continue;
        idx[m++] = i;
        xlo = fmin(xlo, x->cost), xhi = fmax(xhi, x->cost);
        ylo = fmin(ylo, x->quality), yhi = fmax(yhi, x->quality);
    }
    if (!m) return 0;
    struct canvas c;
    if (!canvas_new(&c, 1100, 720)) return snprintf(err, errlen, "out of memory"), -1;
    int L = 110, R = 1100 - 230, T = 70, B = 720 - 80; /* the legend right of the plot */
    struct axis ax = {.p0 = L, .p1 = R}, ay = {.p0 = B, .p1 = T};
    axis_fit(&ax, xlo, xhi, true, false);
    axis_fit(&ay, ylo, yhi, false, false);
    text(&c, f, L, 18,
         r->cost_usd ? "Quality vs cost: $ per million generated tokens"
                     : "Quality vs energy: joules per generated token",
         22, BLACK, 0, false);
    text(&c, f, L, 46, "up and to the left is better; the dashed line joins the Pareto front", 15,
         AXIS, 0, false);
    axis_draw(&c, f, &ax, true, T, B,
              r->cost_usd ? (ax.log ? "$/Mtok (tg), log scale" : "$/Mtok (tg)")
                          : (ax.log ? "J/token (tg), log scale" : "J/token (tg)"));
    char ylabel[96];
    snprintf(ylabel, sizeof ylabel, "quality (%s)", r->quality_by);
    axis_draw(&c, f, &ay, false, L, R, ylabel);
    frame(&c, L, T, R, B);
    /* the front, by cost */
    int fr[4096], nf = 0;
    for (int k = 0; k < m; k++)
        if (r->rows[idx[k]].front) fr[nf++] = idx[k];
    for (int a = 1; a < nf; a++)
        for (int b = a; b > 0 && r->rows[fr[b]].cost < r->rows[fr[b - 1]].cost; b--) {
            int t = fr[b];
            fr[b] = fr[b - 1], fr[b - 1] = t;
        }
    for (int k = 1; k < nf; k++)
        line(&c, axis_px(&ax, r->rows[fr[k - 1]].cost), axis_px(&ay, r->rows[fr[k - 1]].quality),
             axis_px(&ax, r->rows[fr[k]].cost), axis_px(&ay, r->rows[fr[k]].quality), 2.5,
             SERIES[2], 6);
    char seen[8][32];
    int ns = 0;
    int boxes[4096][4], nb = 0;
    for (int k = 0; k < m; k++) {
        const struct report_row *x = &r->rows[idx[k]];
        int b = backend_index(r, x->backend, seen, &ns);
        double px = axis_px(&ax, x->cost), py = axis_px(&ay, x->quality);
        marker(&c, px, py, b, SERIES[b % 3], x->front ? 9 : 7);
        /* the label right of the marker, moved down past labels already there */
        char label[200];
        snprintf(label, sizeof label, "%s%s", x->model, x->front ? " *" : "");
        int w = text_width(f, label, 14), lx = (int)px + 12, ly = (int)py - 9;
        if (lx + w > R + 4) lx = (int)px - 12 - w; /* not into the legend */
        for (int tries = 0; tries < 8; tries++) {
            bool hit = false;
            for (int q = 0; q < nb && !hit; q++)
                hit = lx < boxes[q][2] && lx + w > boxes[q][0] && ly < boxes[q][3] &&
                      ly + 18 > boxes[q][1];
            if (!hit) break;
            ly += 18;
        }
        if (nb < 4096) {
            boxes[nb][0] = lx, boxes[nb][1] = ly, boxes[nb][2] = lx + w, boxes[nb][3] = ly + 18;
            nb++;
        }
        text(&c, f, lx, ly, label, 14, BLACK, 0, false);
    }
    /* legend, right of the plot: it never hides a point */
    int lx = R + 24, ly = T + 8;
    for (int i = 0; i < ns; i++)
        legend_entry(&c, f, lx, ly + 26 * i, i, SERIES[i % 3], seen[i]);
    legend_entry(&c, f, lx, ly + 26 * ns, -1, SERIES[2], "Pareto front (*)");
    return save(&c, dir, "quality_energy.png", names, max, n, err, errlen);
}

/* horizontal bars, one per row; panels side by side (values[p][row], NaN: none) */
static int chart_bars(const struct report *r, const struct font *f, const char *dir,
                      const char *file, const char *title, int panels, const char *const *plabel,
                      double *const *v1, double *const *v2, const char *l1, const char *l2,
                      char names[][64], int max, int *n, char *err, size_t errlen)
{
    int rows = r->n_rows > 200 ? 200 : r->n_rows;
    bool any = false;
    for (int p = 0; p < panels; p++)
        for (int i = 0; i < rows; i++)
            any |= !isnan(v1[p][i]) && v1[p][i] > 0;
    if (!any) return 0;
    int lw = 0;
    char label[200];
    for (int i = 0; i < rows; i++) {
        snprintf(label, sizeof label, "%s @ %s", r->rows[i].model, r->rows[i].backend);
        int w = text_width(f, label, 14);
        if (w > lw) lw = w;
    }
    if (lw > 420) lw = 420;
    int W = 1100, bar = 28, T = 96, H = T + rows * bar + 70;
    struct canvas c;
    if (!canvas_new(&c, W, H)) return snprintf(err, errlen, "out of memory"), -1;
    text(&c, f, 20, 16, title, 22, BLACK, 0, false);
    int L = lw + 30, pw = (W - L - 30) / panels;
    for (int i = 0; i < rows; i++) {
        snprintf(label, sizeof label, "%s @ %s", r->rows[i].model, r->rows[i].backend);
        text(&c, f, L - 10, T + i * bar + 5, label, 14, BLACK, 2, false);
    }
    for (int p = 0; p < panels; p++) {
        int x0 = L + p * pw + (p ? 20 : 0), x1 = L + (p + 1) * pw - 10;
        double hi = 0;
        for (int i = 0; i < rows; i++) {
            double t = (isnan(v1[p][i]) ? 0 : v1[p][i]) + (v2 && !isnan(v2[p][i]) ? v2[p][i] : 0);
            hi = fmax(hi, t);
        }
        if (hi <= 0) hi = 1;
        struct axis a = {.p0 = x0, .p1 = x1};
        axis_fit(&a, 0, hi, false, true);
        text(&c, f, (x0 + x1) / 2, 56, plabel[p], 16, BLACK, 1, false);
        axis_draw(&c, f, &a, true, T - 4, T + rows * bar, "");
        for (int i = 0; i < rows; i++) {
            int y = T + i * bar + 4;
            double a1 = isnan(v1[p][i]) ? 0 : v1[p][i];
            int e1 = (int)axis_px(&a, a1);
            if (isnan(v1[p][i])) {
                text(&c, f, x0 + 6, y + 1, "n/a", 13, AXIS, 0, false);
                continue;
            }
            rect(&c, x0, y, e1, y + bar - 8, SERIES[0]);
            int end = e1;
            if (v2 && !isnan(v2[p][i]) && v2[p][i] > 0) {
                int e2 = (int)axis_px(&a, a1 + v2[p][i]);
                rect(&c, e1, y, e2, y + bar - 8, SERIES[2]);
                for (int k = e1; k < e2; k += 6) /* hatching: tells the parts apart in gray */
                    line(&c, k, y + bar - 8, k + 5, y, 1, BLACK, 0);
                end = e2;
            }
            char val[32];
            snprintf(val, sizeof val, "%.3g", a1 + (v2 && !isnan(v2[p][i]) ? v2[p][i] : 0));
            text(&c, f, end + 4, y + 1, val, 13, BLACK, 0, false);
        }
        frame(&c, x0, T - 4, x1, T + rows * bar);
    }
    if (l1) {
        int ly = H - 34;
        rect(&c, 20, ly + 3, 40, ly + 17, SERIES[0]);
        text(&c, f, 48, ly, l1, 14, BLACK, 0, false);
        bool any2 = false;
        for (int p = 0; v2 && p < panels; p++)
            for (int i = 0; i < rows; i++)
                any2 |= !isnan(v2[p][i]) && v2[p][i] > 0;
        if (l2 && any2) {
            int x = 60 + text_width(f, l1, 14);
            rect(&c, x, ly + 3, x + 20, ly + 17, SERIES[2]);
            for (int k = x; k < x + 20; k += 6)
                line(&c, k, ly + 17, k + 5, ly + 3, 1, BLACK, 0);
            text(&c, f, x + 28, ly, l2, 14, BLACK, 0, false);
        }
    }
    return save(&c, dir, file, names, max, n, err, errlen);
}

/* quality and tg speed against bits per weight for each model in >= 2 quantizations */
static int chart_quants(const struct report *r, const struct font *f, const char *dir,
                        char names[][64], int max, int *n, char *err, size_t errlen)
{
    int charts = 0;
    for (int i = 0; i < r->n_rows && charts < 6; i++) {
        const struct report_row *x = &r->rows[i];
        if (!x->base[0] || !x->quant[0] || isnan(x->bpw)) continue;
        bool first = true; /* one chart per base, at its first row */
        for (int j = 0; j < i; j++)
            if (!strcmp(r->rows[j].base, x->base) && r->rows[j].quant[0]) first = false;
        if (!first) continue;
        int members[256], nm = 0;
        for (int j = 0; j < r->n_rows && nm < 256; j++)
            if (!strcmp(r->rows[j].base, x->base) && !isnan(r->rows[j].bpw)) members[nm++] = j;
        int quants = 0;
        for (int a = 0; a < nm; a++) {
            bool dup = false;
            for (int b = 0; b < a; b++)
                dup |= !strcmp(r->rows[members[a]].quant, r->rows[members[b]].quant);
            quants += !dup;
        }
        if (quants < 2) continue;
        struct canvas c;
        if (!canvas_new(&c, 1100, 560)) return snprintf(err, errlen, "out of memory"), -1;
        char title[256];
        snprintf(title, sizeof title, "%s: quantizations compared by bits per weight", x->base);
        text(&c, f, 20, 16, title, 22, BLACK, 0, false);
        double blo = INFINITY, bhi = -INFINITY;
        for (int a = 0; a < nm; a++)
            blo = fmin(blo, r->rows[members[a]].bpw), bhi = fmax(bhi, r->rows[members[a]].bpw);
        for (int p = 0; p < 2; p++) {
            int L = 110 + p * 540, R = L + 400, T = 80, B = 560 - 90;
            double lo = INFINITY, hi = -INFINITY;
            for (int a = 0; a < nm; a++) {
                double v = p ? r->rows[members[a]].tg_ts : r->rows[members[a]].quality;
                if (!isnan(v)) lo = fmin(lo, v), hi = fmax(hi, v);
            }
            text(&c, f, (L + R) / 2, 52, p ? "generation speed" : "quality", 16, BLACK, 1, false);
            if (lo > hi) {
                text(&c, f, (L + R) / 2, (T + B) / 2, "no data", 16, AXIS, 1, false);
                continue;
            }
            struct axis ax = {.p0 = L, .p1 = R}, ay = {.p0 = B, .p1 = T};
            axis_fit(&ax, blo, bhi, false, false);
            axis_fit(&ay, lo, hi, false, p == 1);
            axis_draw(&c, f, &ax, true, T, B, "bits per weight");
            char yl[96];
            snprintf(yl, sizeof yl, p ? "tg tokens/s" : "quality (%s)", r->quality_by);
            axis_draw(&c, f, &ay, false, L, R, yl);
            frame(&c, L, T, R, B);
            char seen[8][32];
            int ns = 0;
            for (int a = 0; a < nm; a++)
                backend_index(r, r->rows[members[a]].backend, seen, &ns);
            for (int s = 0; s < ns; s++) {
                /* the device's points by bpw, joined */
                int pts[256], np = 0;
                for (int a = 0; a < nm; a++) {
                    const struct report_row *y = &r->rows[members[a]];
                    double v = p ? y->tg_ts : y->quality;
                    if (!strcmp(y->backend, seen[s]) && !isnan(v)) pts[np++] = members[a];
                }
                for (int a = 1; a < np; a++)
                    for (int b = a; b > 0 && r->rows[pts[b]].bpw < r->rows[pts[b - 1]].bpw; b--) {
                        int t = pts[b];
                        pts[b] = pts[b - 1], pts[b - 1] = t;
                    }
                struct rgb col = SERIES[s % 3];
                for (int a = 0; a < np; a++) {
                    const struct report_row *y = &r->rows[pts[a]];
                    double px = axis_px(&ax, y->bpw), py = axis_px(&ay, p ? y->tg_ts : y->quality);
                    if (a) {
                        const struct report_row *z = &r->rows[pts[a - 1]];
                        line(&c, axis_px(&ax, z->bpw), axis_px(&ay, p ? z->tg_ts : z->quality), px,
                             py, 2, col, s ? 5 : 0);
                    }
                    marker(&c, px, py, s, col, 7);
                    text(&c, f, (int)px + 9, (int)py - 22, y->quant, 13, BLACK, 0, false);
                }
                legend_entry(&c, f, 110 + s * 200, 560 - 40, s, col, seen[s]);
            }
        }
        char file[64];
        snprintf(file, sizeof file, "quant_%.40s.png", x->base);
        for (char *q = file; *q; q++)
            if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
                  (*q >= '0' && *q <= '9') || *q == '.' || *q == '_' || *q == '-'))
                *q = '_';
        if (save(&c, dir, file, names, max, n, err, errlen)) return -1;
        charts++;
    }
    return 0;
}

int report_charts(const struct report *r, const char *dir, char names[][64], int max, int *n,
                  char *err, size_t errlen)
{
    *n = 0;
    struct font f;
    font_open(&f);
    int rows = r->n_rows > 200 ? 200 : r->n_rows;
    double *buf = malloc(sizeof(double) * 5 * (size_t)(rows ? rows : 1));
    int rc = -1;
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    double *pp = buf, *tg = buf + rows, *ue = buf + 2 * rows, *uh = buf + 3 * rows,
           *none = buf + 4 * rows;
    for (int i = 0; i < rows; i++) {
        pp[i] = r->rows[i].pp_ts, tg[i] = r->rows[i].tg_ts;
        ue[i] = r->rows[i].usd_energy, uh[i] = r->rows[i].usd_hw, none[i] = NAN;
    }
    if (chart_scatter(r, &f, dir, names, max, n, err, errlen)) goto out;
    {
        const char *pl[2] = {"prompt processing (pp), tokens/s", "generation (tg), tokens/s"};
        double *v1[2] = {pp, tg};
        if (chart_bars(r, &f, dir, "speed.png", "Speed by model and device", 2, pl, v1, NULL, NULL,
                       NULL, names, max, n, err, errlen))
            goto out;
    }
    {
        const char *pl[1] = {"$ per million generated tokens (tg)"};
        double *v1[1] = {ue}, *v2[1] = {uh};
        if (chart_bars(r, &f, dir, "cost.png", "Cost by model and device", 1, pl, v1, v2, "energy",
                       "hardware", names, max, n, err, errlen))
            goto out;
    }
    (void)none;
    if (chart_quants(r, &f, dir, names, max, n, err, errlen)) goto out;
    rc = 0;
out:
    free(buf);
    font_close(&f);
    return rc;
}
