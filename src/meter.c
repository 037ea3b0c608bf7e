/* meter — sensor choice, the sampling thread, windows, idle, and the estimate. See
 * meter.h; sensors live in meter_sysfs.c and meter_nvml.c, the TDP table in
 * meter_tdp.c, the cost model in meter_cost.c. */
#include "meter.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "meter_impl.h"

struct meter {
    struct meter_opts o;
    double (*clock)(void);
    struct sensor_list l;
    struct nvml *nvml;
    enum meter_source src;
    char scope[16];
    char method[1024];
    char why[256]; /* when src == METER_NONE */
    double est_w;  /* METER_ESTIMATE */
    bool idle_known;
    double idle_w;
    /* sampling thread */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    bool thread, quit;
    double period;
    char last_error[256];
};

const char *meter_source_name(enum meter_source s)
{
    switch (s) {
    case METER_COUNTER: return "counter";
    case METER_POWER: return "power-integrated";
    case METER_ESTIMATE: return "estimate";
    default: return "n/a";
    }
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char *sysfs_root(const struct meter_opts *o)
{
    if (o->sysfs_root) return o->sysfs_root;
    const char *e = getenv("JOULE_SYSFS_ROOT");
    return e && *e ? e : "/sys";
}

static const char *nvml_lib(const struct meter_opts *o)
{
    if (o->nvml_lib) return o->nvml_lib;
    const char *e = getenv("JOULE_NVML_LIB");
    return e && *e ? e : "libnvidia-ml.so.1";
}

/* "model name" of /proc/cpuinfo */
static void cpu_model(char *buf, size_t len)
{
    snprintf(buf, len, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0) continue;
        char *c = strchr(line, ':');
        if (!c) continue;
        c++;
        while (*c == ' ' || *c == '\t')
            c++;
        c[strcspn(c, "\n")] = 0;
        snprintf(buf, len, "%s", c);
        break;
    }
    fclose(f);
}

void meter_cpu_model(char *buf, size_t len)
{
    cpu_model(buf, len);
}

/* ---- reading ---- */

static void sensor_update(struct meter *m, struct sensor *s, double t)
{
    uint64_t raw;
    char why[256];
    bool ok = (s->kind == S_NVML_ENERGY || s->kind == S_NVML_POWER)
                  ? (m->nvml && nvml_read(m->nvml, s, &raw, why, sizeof why))
                  : sysfs_read(s, &raw, why, sizeof why);
    if (!ok) {
        snprintf(m->last_error, sizeof m->last_error, "%s", why);
        return;
    }
    bool power = s->kind == S_POWER_FILE || s->kind == S_NVML_POWER;
    if (power) {
        double w = (double)raw * s->unit;
        if (s->have_last && t > s->last_t) s->joules += 0.5 * (w + s->last_w) * (t - s->last_t);
        s->last_w = w;
    } else if (s->have_last) {
        uint64_t d;
        if (raw >= s->last_raw)
            d = raw - s->last_raw;
        else if (s->max_range && s->last_raw <= s->max_range)
            d = raw + (s->max_range - s->last_raw); /* wrapped at max_energy_range */
        else {
            d = 0;
            s->glitches++;
        }
        s->joules += (double)d * s->unit;
    }
    s->last_raw = raw;
    s->last_t = t;
    s->have_last = true;
}

static double poll_locked(struct meter *m)
{
    double t = m->clock();
    for (int i = 0; i < m->l.n; i++)
        sensor_update(m, &m->l.s[i], t);
    return t;
}

void meter_poll(struct meter *m)
{
    if (!m || m->l.n == 0) return;
    pthread_mutex_lock(&m->mu);
    poll_locked(m);
    pthread_mutex_unlock(&m->mu);
}

/* Accumulated joules of every sensor, read now. */
static double total_now(struct meter *m, double *t)
{
    pthread_mutex_lock(&m->mu);
    *t = poll_locked(m);
    double j = 0;
    for (int i = 0; i < m->l.n; i++)
        j += m->l.s[i].joules;
    pthread_mutex_unlock(&m->mu);
    return j;
}

static void *sampler(void *arg)
{
    struct meter *m = arg;
    pthread_mutex_lock(&m->mu);
    while (!m->quit) {
        poll_locked(m);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double when = (double)ts.tv_nsec * 1e-9 + m->period;
        ts.tv_sec += (time_t)when;
        ts.tv_nsec = (long)((when - floor(when)) * 1e9);
        pthread_cond_timedwait(&m->cv, &m->mu, &ts);
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

/* ---- choosing ---- */

static void choose_estimate(struct meter *m)
{
    const struct meter_opts *o = &m->o;
    char cpu[256];
    const char *name = o->gpu ? o->device_name : o->cpu_name;
    if (!o->gpu && !name) {
        cpu_model(cpu, sizeof cpu);
        name = cpu;
    }
    snprintf(m->scope, sizeof m->scope, "%s", o->gpu ? "gpu" : "cpu-package");
    if (o->tdp_w > 0) {
        m->src = METER_ESTIMATE;
        m->est_w = o->tdp_w;
        snprintf(m->method, sizeof m->method, "estimate: --tdp %.4g W x time (no energy sensor)",
                 o->tdp_w);
        return;
    }
    const struct meter_tdp_row *r = meter_tdp_lookup(name, o->gpu);
    if (!r) {
        m->src = METER_NONE;
        snprintf(m->why, sizeof m->why,
                 "no energy sensor, and '%.120s' is not in the TDP table; give --tdp W",
                 name ? name : "the device");
        snprintf(m->method, sizeof m->method, "n/a (%s)", m->why);
        return;
    }
    m->src = METER_ESTIMATE;
    if (o->gpu || r->cores <= 0) {
        m->est_w = r->watts;
        snprintf(m->method, sizeof m->method,
                 "estimate: %.4g W board power x time, an upper bound at full load ('%s' ~ %s; %s, "
                 "%s); --tdp W overrides",
                 r->watts, name, r->match, r->source, r->date);
        return;
    }
    /* Threads beyond the cores online share those cores: -t 128 on 2 cores draws 2 cores'
     * power, not 128 (nor the 64 of the table's part). */
    int32_t threads = o->cpu_threads > 0 ? o->cpu_threads : 1;
    long online = o->cores_online > 0 ? o->cores_online : sysconf(_SC_NPROCESSORS_ONLN);
    if (online < 1) online = 1;
    int32_t used = threads;
    if (used > online) used = (int32_t)online;
    if (used > r->cores) used = r->cores;
    m->est_w = r->watts * used / r->cores;
    char capped[96] = "";
    if (used < threads)
        snprintf(capped, sizeof capped, " (-t %d capped at %s)", threads,
                 used == r->cores && r->cores < online ? "the part's cores" : "the cores online");
    snprintf(m->method, sizeof m->method,
             "estimate: TDP share %.4g W / %d cores x %d threads%s = %.3g W x time; threads "
             "charged: at most the %ld cores online ('%s' ~ %s; %s, %s); --tdp W overrides",
             r->watts, r->cores, used, capped, m->est_w, online, name, r->match, r->source,
             r->date);
}

static void describe_sensors(struct meter *m)
{
    size_t k = (size_t)snprintf(m->method, sizeof m->method, "%s:", meter_source_name(m->src));
    for (int i = 0; i < m->l.n && k < sizeof m->method; i++)
        k += (size_t)snprintf(m->method + k, sizeof m->method - k, "%s %s", i ? " +" : "",
                              m->l.s[i].name);
}

/* Keeps only the GPU (or only the CPU) sensors. */
static void filter(struct sensor_list *l, bool gpu)
{
    int k = 0;
    for (int i = 0; i < l->n; i++)
        if (l->s[i].gpu == gpu) l->s[k++] = l->s[i];
    l->n = k;
}

struct meter *meter_open(const struct meter_opts *o)
{
    struct meter *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->o = *o;
    m->clock = o->clock ? o->clock : mono_now;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    const char *root = sysfs_root(o);
    if (o->gpu) {
        char why[256];
        m->nvml = nvml_open(nvml_lib(o), why, sizeof why);
        if (m->nvml)
            nvml_find(m->nvml, o->pci_bus_id, &m->l);
        else
            sensor_note(&m->l, "%s", why);
        sysfs_find_gpus(root, o->pci_bus_id, &m->l);
        if (!o->pci_bus_id && m->l.n > 1) {
            sensor_note(&m->l, "%d GPU sensors and the GPU's PCI address is unknown: none is used",
                        m->l.n);
            m->l.n = 0;
        }
        if (m->l.n > 0) {
            struct sensor_list cpu;
            memset(&cpu, 0, sizeof cpu);
            sysfs_find_rapl(root, &cpu);
            for (int i = 0; i < cpu.n; i++) {
                struct sensor *s = sensor_add(&m->l);
                if (s) *s = cpu.s[i];
            }
        }
    } else {
        sysfs_find_rapl(root, &m->l);
        filter(&m->l, false);
    }
    if (m->l.n == 0) {
        choose_estimate(m);
        /* say why the sensors that exist could not be used */
        size_t k = strlen(m->method);
        for (int i = 0; i < m->l.n_notes && k + 8 < sizeof m->method; i++)
            k += (size_t)snprintf(m->method + k, sizeof m->method - k, "%s%s",
                                  i ? "; " : "; sensors not usable: ", m->l.notes[i]);
    } else {
        bool any_power = false, any_gpu = false, any_cpu = false;
        for (int i = 0; i < m->l.n; i++) {
            const struct sensor *s = &m->l.s[i];
            any_power |= s->kind == S_POWER_FILE || s->kind == S_NVML_POWER;
            any_gpu |= s->gpu;
            any_cpu |= !s->gpu;
        }
        m->src = any_power ? METER_POWER : METER_COUNTER;
        snprintf(m->scope, sizeof m->scope, "%s",
                 any_gpu && any_cpu ? "gpu+cpu"
                 : any_gpu          ? "gpu"
                                    : "cpu-package");
        describe_sensors(m);
        double hz = o->sample_hz == 0 ? 20 : o->sample_hz;
        m->period = any_power ? 1.0 / hz : 1.0; /* counters: at least every 30 s; 1 s is cheap */
        poll_locked(m);
        if (o->sample_hz >= 0 && pthread_create(&m->th, NULL, sampler, m) == 0) m->thread = true;
    }
    return m;
}

void meter_close(struct meter *m)
{
    if (!m) return;
    if (m->thread) {
        pthread_mutex_lock(&m->mu);
        m->quit = true;
        pthread_cond_signal(&m->cv);
        pthread_mutex_unlock(&m->mu);
        pthread_join(m->th, NULL);
    }
    nvml_close(m->nvml);
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    free(m);
}

enum meter_source meter_source(const struct meter *m)
{
    return m->src;
}
const char *meter_scope(const struct meter *m)
{
    return m->scope;
}
const char *meter_method(const struct meter *m)
{
    return m->method;
}
double meter_estimate_w(const struct meter *m)
{
    return m->src == METER_ESTIMATE ? m->est_w : 0;
}

bool meter_measure_idle(struct meter *m, double seconds)
{
    if (m->l.n == 0) return false;
    double t0, t1;
    double j0 = total_now(m, &t0);
    /* sleep in sampler periods; without a thread, poll here */
    for (;;) {
        double left = seconds - (m->clock() - t0);
        if (left <= 0) break;
        double step = left < m->period ? left : m->period;
        struct timespec ts = {(time_t)step, (long)((step - floor(step)) * 1e9)};
        if (m->o.clock == NULL) nanosleep(&ts, NULL);
        if (!m->thread) meter_poll(m);
    }
    double j1 = total_now(m, &t1);
    if (!(t1 > t0)) return false;
    m->idle_w = (j1 - j0) / (t1 - t0);
    m->idle_known = true;
    return true;
}

bool meter_idle_w(const struct meter *m, double *w)
{
    if (m->idle_known) *w = m->idle_w;
    return m->idle_known;
}

void meter_window_begin(struct meter *m, struct meter_window *w)
{
    if (m->l.n)
        w->j0 = total_now(m, &w->t0);
    else
        w->t0 = m->clock(), w->j0 = 0;
    w->open = true;
}

void meter_window_end(struct meter *m, struct meter_window *w)
{
    if (!w->open) return;
    double t, j = 0;
    if (m->l.n)
        j = total_now(m, &t);
    else
        t = m->clock();
    w->seconds += t - w->t0;
    w->joules += j - w->j0;
    w->open = false;
}

void meter_read(const struct meter *m, const struct meter_window *w, struct meter_reading *r)
{
    memset(r, 0, sizeof *r);
    r->seconds = w->seconds;
    r->src = m->src;
    if (m->src == METER_NONE) {
        snprintf(r->why, sizeof r->why, "%s", m->why);
        return;
    }
    if (w->seconds < 1.0) {
        r->src = METER_NONE;
        snprintf(r->why, sizeof r->why, "window of %.2f s is under 1 s", w->seconds);
        return;
    }
    r->joules = m->src == METER_ESTIMATE ? m->est_w * w->seconds : w->joules;
    r->short_window = w->seconds < 10.0;
    r->idle_known = m->idle_known;
    if (m->idle_known) {
        r->idle_w = m->idle_w;
        r->above_idle_j = r->joules - m->idle_w * w->seconds;
    }
}

void meter_print_sensors(FILE *out, const char *pci_bus_id)
{
    struct sensor_list l;
    memset(&l, 0, sizeof l);
    struct meter_opts o = {0};
    const char *root = sysfs_root(&o);
    char why[256];
    struct nvml *nv = nvml_open(nvml_lib(&o), why, sizeof why);
    if (nv)
        nvml_find(nv, pci_bus_id, &l);
    else
        sensor_note(&l, "%s", why);
    sysfs_find_gpus(root, pci_bus_id, &l);
    sysfs_find_rapl(root, &l);
    fprintf(out, "energy sensors:\n");
    for (int i = 0; i < l.n; i++) {
        const struct sensor *s = &l.s[i];
        bool power = s->kind == S_POWER_FILE || s->kind == S_NVML_POWER;
        fprintf(out, "  %-4s %s: %s\n", s->gpu ? "gpu" : "cpu", s->name,
                power ? "power-integrated" : "counter");
    }
    if (l.n == 0) fprintf(out, "  none found\n");
    for (int i = 0; i < l.n_notes; i++)
        fprintf(out, "  n/a: %s\n", l.notes[i]);
    char cpu[256];
    cpu_model(cpu, sizeof cpu);
    const struct meter_tdp_row *r = meter_tdp_lookup(cpu, false);
    if (r)
        fprintf(out, "  cpu estimate fallback: '%s' ~ %s, %.4g W / %d cores (%s, %s)\n", cpu,
                r->match, r->watts, r->cores, r->source, r->date);
    else
        fprintf(out, "  cpu estimate fallback: n/a ('%s' is not in the TDP table; use --tdp W)\n",
                cpu);
    nvml_close(nv);
}
