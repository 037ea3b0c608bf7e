/* roofline — bytes and multiply-adds per token, the CPU's measured bandwidth. See roofline.h. */
#include "roofline.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "fileio.h"
#include "meter.h"

static uint64_t wbytes(const struct weight *w)
{
    return w->data ? w->row_bytes * (uint64_t)w->ne1 : 0;
}

static uint64_t wmacs(const struct weight *w)
{
    return w->data && w->ne1 > 1 ? (uint64_t)w->ne0 * (uint64_t)w->ne1 : 0;
}

void roofline_model_of(const struct model *m, uint32_t kv_elem_bytes, struct roofline_model *out)
{
    memset(out, 0, sizeof *out);
    const struct model_config *c = &m->cfg;
    uint64_t b = wbytes(&m->output_norm) + wbytes(&m->output);
    if (!m->tied_output) b += m->tok_embd.row_bytes; /* one row of the embedding */
    uint64_t macs = 0;
    for (int32_t l = 0; l < c->n_layer; l++) {
        const struct layer_weights *L = &m->layers[l];
        const struct weight *w[] = {&L->attn_norm, &L->wq,     &L->wk,   &L->wv,     &L->wo,
                                    &L->bq,        &L->bk,     &L->bv,   &L->q_norm, &L->k_norm,
                                    &L->ffn_norm,  &L->w_gate, &L->w_up, &L->w_down};
        for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
            b += wbytes(w[i]);
            macs += wmacs(w[i]);
        }
    }
    out->weight_bytes = b;
    out->layer_macs = macs;
    out->output_macs = wmacs(&m->output);
    uint64_t kv_dim = (uint64_t)c->n_head_kv * (uint64_t)c->head_dim;
    out->kv_bytes_per_pos = 2 * (uint64_t)c->n_layer * kv_dim * kv_elem_bytes;
    out->attn_macs_per_pos = 2 * (uint64_t)c->n_layer * (uint64_t)c->n_head * (uint64_t)c->head_dim;
}

void roofline_test_of(const struct roofline_model *rm, const struct bench_test *t,
                      struct roofline_test *out)
{
    const double n = t->n > 0 ? t->n : 1;
    /* token i (0-based) attends to depth + i + 1 positions: on average depth + (n + 1) / 2 */
    const double pos = (double)t->depth + (n + 1) / 2;
    const double kv = (double)rm->kv_bytes_per_pos * pos,
                 attn = (double)rm->attn_macs_per_pos * pos;
    if (t->kind == BENCH_TG) {
        out->bytes_per_token = (double)rm->weight_bytes + kv;
        out->macs_per_token = (double)(rm->layer_macs + rm->output_macs) + attn;
    } else {
        out->bytes_per_token = (double)rm->weight_bytes / n + kv;
        out->macs_per_token = (double)rm->layer_macs + (double)rm->output_macs / n + attn;
    }
}

/* ---- bandwidth ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct slice {
    uint64_t *p;
    size_t n; /* uint64_t words */
    uint64_t sum;
    bool write;
    double cpu_s; /* this thread's CPU time for its slice */
};

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *read_slice(void *arg)
{
    struct slice *s = arg;
    double c0 = thread_cpu_s();
    if (s->write) { /* first touch: every page gets its own frame (zero pages would stay in cache)
                     */
        for (size_t i = 0; i < s->n; i++)
            s->p[i] = i * 0x9E3779B97F4A7C15ull;
        return NULL;
    }
    /* four independent sums keep several loads in flight */
    uint64_t a = 0, b = 0, c = 0, d = 0;
    size_t i = 0;
    for (; i + 4 <= s->n; i += 4) {
        a += s->p[i];
        b += s->p[i + 1];
        c += s->p[i + 2];
        d += s->p[i + 3];
    }
    for (; i < s->n; i++)
        a += s->p[i];
    s->sum = a + b + c + d;
    s->cpu_s = thread_cpu_s() - c0;
    return NULL;
}

/* One pass of all threads over their slices: its wall time (-1 when a thread could not
 * start); *clean says whether every thread ran nearly all of it (not preempted). */
static double pass(struct slice *sl, int threads, bool write, bool *clean)
{
    pthread_t tid[64];
    int started = 0;
    double t0 = now_s();
    for (int k = 1; k < threads; k++) {
        sl[k].write = write;
        if (pthread_create(&tid[k], NULL, read_slice, &sl[k]) != 0) break;
        started = k;
    }
    sl[0].write = write;
    read_slice(&sl[0]);
    for (int k = 1; k <= started; k++)
        pthread_join(tid[k], NULL);
    double t = now_s() - t0;
    *clean = true;
    for (int k = 0; k < threads; k++)
        if (sl[k].cpu_s < 0.8 * t) *clean = false;
    return started == threads - 1 ? t : -1;
}

volatile uint64_t roofline_sink; /* keeps the sums alive */

double roofline_measure_read(int threads, uint32_t mib, int passes, bool *clean_out)
{
    if (threads < 1) threads = 1;
    if (threads > 64) threads = 64;
    size_t bytes = (size_t)mib << 20, words = bytes / 8;
    uint64_t *buf = malloc(bytes);
    *clean_out = false;
    if (!buf) return 0;
    struct slice sl[64];
    for (int k = 0; k < threads; k++) {
        size_t a = words * (size_t)k / (size_t)threads,
               b = words * (size_t)(k + 1) / (size_t)threads;
        sl[k] = (struct slice){buf + a, b - a, 0, false, 0};
    }
    double best = 0, best_clean = 0;
    bool clean;
    if (pass(sl, threads, true, &clean) >= 0) {
        /* passes, or 3 s on a busy machine (at least 3 passes) */
        double t_start = now_s();
        for (int i = 0; i < passes && (i < 3 || now_s() - t_start < 3.0); i++) {
            double t = pass(sl, threads, false, &clean);
            if (t <= 0) {
                best = best_clean = 0;
                break;
            }
            double bw = (double)bytes / t;
            if (bw > best) best = bw;
            if (clean && bw > best_clean) best_clean = bw;
            for (int k = 0; k < threads; k++)
                roofline_sink += sl[k].sum;
        }
    }
    free(buf);
    *clean_out = best_clean > 0;
    return best_clean > 0 ? best_clean : best;
}

/* ---- the cache ---- */

static bool cache_path(char *buf, size_t len, bool create)
{
    const char *dir = getenv("JOULE_CACHE_DIR");
    char d[512];
    if (dir && *dir)
        snprintf(d, sizeof d, "%s", dir);
    else if ((dir = getenv("XDG_CACHE_HOME")) && *dir)
        snprintf(d, sizeof d, "%s/joule", dir);
    else if ((dir = getenv("HOME")) && *dir)
        snprintf(d, sizeof d, "%s/.cache/joule", dir);
    else
        return false;
    char err[600];
    if (create && file_mkdirs(d, err, sizeof err)) return false; /* $HOME/.cache too */
    return (size_t)snprintf(buf, len, "%s/bandwidth.tsv", d) < len;
}

/* "KEY\tBYTES_PER_S\tUNIX_TIME" lines; the last line for the key wins */
static bool cache_get(const char *key, double *bw)
{
    char path[600];
    if (!cache_path(path, sizeof path, false)) return false;
    FILE *f = fopen(path, "r");
    if (!f) return false;
    char line[512];
    bool found = false;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, kl) != 0 || line[kl] != '\t') continue;
        double v = strtod(line + kl + 1, NULL);
        if (v > 1e6 && v < 1e15) {
            *bw = v;
            found = true;
        }
    }
    fclose(f);
    return found;
}

static void cache_put(const char *key, double bw)
{
    char path[600];
    if (!cache_path(path, sizeof path, true)) return;
    FILE *f = fopen(path, "a");
    if (!f) return; /* a read-only home: measured again next time */
    fprintf(f, "%s\t%.6g\t%lld\n", key, bw, (long long)time(NULL));
    fclose(f);
}

/* 128 MiB: four times the L3 of the EPYC CCX we run on, and short passes (5 ms at 25 GB/s)
 * that a busy machine's scheduler leaves alone more often; the best undisturbed pass of 64. */
enum { BW_MIB = 128, BW_PASSES = 64 };

void roofline_cpu_bandwidth(int threads, struct roofline_bandwidth *out)
{
    memset(out, 0, sizeof *out);
    char model[160];
    meter_cpu_model(model, sizeof model);
    for (char *p = model; *p; p++)
        if (*p == '\t' || *p == '\n') *p = ' ';
    snprintf(out->key, sizeof out->key, "cpu:%s:threads=%d", model, threads);
    double bw = 0;
    if (cache_get(out->key, &bw)) {
        out->known = out->cached = true;
        out->bytes_per_s = bw;
        snprintf(out->how, sizeof out->how,
                 "%d-thread streaming read, measured earlier (cache bandwidth.tsv)", threads);
        return;
    }
    bool clean;
    bw = roofline_measure_read(threads, BW_MIB, BW_PASSES, &clean);
    if (bw <= 0) {
        snprintf(out->how, sizeof out->how, "not measured (no memory for a %d MiB buffer)", BW_MIB);
        return;
    }
    out->known = true;
    out->bytes_per_s = bw;
    if (!clean) { /* a busy machine: a low figure, not kept */
        out->disturbed = true;
        snprintf(out->how, sizeof out->how,
                 "%d-thread streaming read of %d MiB; the machine was busy (no pass ran "
                 "undisturbed): a low bound, not cached",
                 threads, BW_MIB);
        return;
    }
    snprintf(out->how, sizeof out->how, "%d-thread streaming read of %d MiB, best undisturbed pass",
             threads, BW_MIB);
    cache_put(out->key, bw);
}

uint64_t roofline_peak_rss(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (uint64_t)ru.ru_maxrss * 1024; /* Linux: kilobytes */
}
