/* meter_sysfs — energy and power files of the kernel: GPU hwmon (amdgpu, i915, xe)
 * under the PCI device, amdgpu gpu_metrics, and RAPL powercap package zones. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "meter_impl.h"

void sensor_note(struct sensor_list *l, const char *fmt, ...)
{
    if (l->n_notes >= METER_MAX_NOTES) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->notes[l->n_notes++], sizeof l->notes[0], fmt, ap);
    va_end(ap);
}

struct sensor *sensor_add(struct sensor_list *l)
{
    if (l->n >= METER_MAX_SENSORS) return NULL;
    struct sensor *s = &l->s[l->n++];
    memset(s, 0, sizeof *s);
    return s;
}

bool meter_parse_pci(const char *s, unsigned *dom, unsigned *bus, unsigned *dev, unsigned *fn)
{
    if (!s) return false;
    char tail;
    if (sscanf(s, "%x:%x:%x.%x%c", dom, bus, dev, fn, &tail) == 4) return true;
    *dom = 0;
    return sscanf(s, "%x:%x.%x%c", bus, dev, fn, &tail) == 3;
}

bool meter_same_pci(const char *a, const char *b)
{
    unsigned d1, b1, v1, f1, d2, b2, v2, f2;
    return meter_parse_pci(a, &d1, &b1, &v1, &f1) && meter_parse_pci(b, &d2, &b2, &v2, &f2) &&
           d1 == d2 && b1 == b2 && v1 == v2 && f1 == f2;
}

/* Reads the first line of a small file. 0, or errno. */
static int read_line(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f) return errno ? errno : EIO;
    bool ok = fgets(buf, (int)len, f) != NULL;
    int e = ok ? 0 : (ferror(f) ? (errno ? errno : EIO) : ENODATA);
    fclose(f);
    if (ok) buf[strcspn(buf, "\r\n")] = 0;
    return e;
}

static int read_u64(const char *path, uint64_t *v)
{
    char buf[64];
    int e = read_line(path, buf, sizeof buf);
    if (e) return e;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(buf, &end, 10);
    if (errno || end == buf || buf[0] == '-') return EINVAL;
    *v = x;
    return 0;
}

static void scopy(char *dst, size_t len, const char *src)
{
    size_t n = strlen(src);
    if (n >= len) n = len - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

static bool exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/* energy_accumulator of gpu_metrics v1.1-v1.3 (u64 at offset 24, 15.259 uJ units as
 * the SMU reports it); false when the table has another layout. */
static bool amd_metrics_energy(const char *path, uint64_t *v)
{
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    unsigned char b[32];
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    if (n < 32) return false;
    unsigned size = (unsigned)b[0] | (unsigned)b[1] << 8;
    if (b[2] != 1 || b[3] < 1 || b[3] > 3 || size < 32) return false;
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--)
        x = x << 8 | b[24 + i];
    *v = x;
    return true;
}

bool sysfs_read(const struct sensor *s, uint64_t *raw, char *why, size_t len)
{
    if (s->kind == S_AMD_METRICS) {
        if (amd_metrics_energy(s->path, raw)) return true;
        snprintf(why, len, "%s: unreadable gpu_metrics", s->path);
        return false;
    }
    int e = read_u64(s->path, raw);
    if (e == 0) return true;
    snprintf(why, len, "%s: %s", s->path, strerror(e));
    return false;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* One hwmon directory of a GPU: the best sensor it offers. */
static void gpu_hwmon(const char *dir, const char *pci, struct sensor_list *l)
{
    char path[1400], name[64];
    snprintf(path, sizeof path, "%s/name", dir);
    if (read_line(path, name, sizeof name) != 0) return;
    bool amd = !strcmp(name, "amdgpu"), intel = !strcmp(name, "i915") || !strcmp(name, "xe");
    if (!amd && !intel) return;
    uint64_t v;
    snprintf(path, sizeof path, "%s/energy1_input", dir);
    if (exists(path)) {
        int e = read_u64(path, &v);
        if (e == 0) {
            struct sensor *s = sensor_add(l);
            if (!s) return;
            snprintf(s->name, sizeof s->name, "%s hwmon energy1_input (GPU %s)", name, pci);
            scopy(s->path, sizeof s->path, path);
            s->gpu = true;
            s->kind = S_ENERGY_FILE;
            s->unit = 1e-6;
            return;
        }
        sensor_note(l, "%s GPU %s: %s: %s%s", name, pci, path, strerror(e),
                    e == EACCES ? " (root-only on this kernel)" : "");
    }
    if (!amd) return;
    /* gpu_metrics' accumulator, where it moves (not every ASIC updates it) */
    char metrics[1400];
    snprintf(metrics, sizeof metrics, "%s/../../gpu_metrics", dir);
    uint64_t a, b;
    if (amd_metrics_energy(metrics, &a)) {
        sleep_s(0.25);
        if (amd_metrics_energy(metrics, &b) && b != a) {
            struct sensor *s = sensor_add(l);
            if (!s) return;
            snprintf(s->name, sizeof s->name, "amdgpu gpu_metrics energy_accumulator (GPU %s)",
                     pci);
            scopy(s->path, sizeof s->path, metrics);
            s->gpu = true;
            s->kind = S_AMD_METRICS;
            s->unit = 15.259e-6;
            return;
        }
    }
    static const char *powers[] = {"power1_average", "power1_input"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, powers[i]);
        if (!exists(path)) continue;
        int e = read_u64(path, &v);
        if (e != 0) {
            sensor_note(l, "amdgpu GPU %s: %s: %s", pci, path, strerror(e));
            continue;
        }
        struct sensor *s = sensor_add(l);
        if (!s) return;
        snprintf(s->name, sizeof s->name, "amdgpu hwmon %s (GPU %s)", powers[i], pci);
        scopy(s->path, sizeof s->path, path);
        s->gpu = true;
        s->kind = S_POWER_FILE;
        s->unit = 1e-6;
        return;
    }
    sensor_note(l, "amdgpu GPU %s: no energy or power file in %s", pci, dir);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted entries of a directory that start with prefix; caller frees. */
static int list_dir(const char *dir, const char *prefix, char ***out)
{
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0, cap = 0;
    char **v = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strncmp(e->d_name, prefix, strlen(prefix)) != 0) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nv = realloc(v, sizeof *v * (size_t)cap);
            if (!nv) break;
            v = nv;
        }
        if (!(v[n] = strdup(e->d_name))) break;
        n++;
    }
    closedir(d);
    if (n) qsort(v, (size_t)n, sizeof *v, name_cmp);
    *out = v;
    return n;
}

static void free_list(char **v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void sysfs_find_gpus(const char *root, const char *pci, struct sensor_list *l)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/bus/pci/devices", root);
    char **devs;
    int n = list_dir(dir, "", &devs);
    for (int i = 0; i < n; i++) {
        if (pci && !meter_same_pci(pci, devs[i])) continue;
        char hw[600];
        snprintf(hw, sizeof hw, "%s/%s/hwmon", dir, devs[i]);
        char **mons;
        int k = list_dir(hw, "hwmon", &mons);
        for (int j = 0; j < k; j++) {
            char one[1200];
            snprintf(one, sizeof one, "%s/%s", hw, mons[j]);
            gpu_hwmon(one, devs[i], l);
        }
        free_list(mons, k);
    }
    free_list(devs, n);
}

void sysfs_find_rapl(const char *root, struct sensor_list *l)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/class/powercap", root);
    char **zones;
    int n = list_dir(dir, "intel-rapl:", &zones);
    for (int i = 0; i < n; i++) {
        if (strchr(zones[i] + strlen("intel-rapl:"), ':')) continue; /* subzones (core, dram) */
        char zone[600], path[700], name[64];
        snprintf(zone, sizeof zone, "%s/%s", dir, zones[i]);
        snprintf(path, sizeof path, "%s/name", zone);
        if (read_line(path, name, sizeof name) != 0 || strncmp(name, "package", 7) != 0) continue;
        uint64_t v, range = 0;
        snprintf(path, sizeof path, "%s/max_energy_range_uj", zone);
        read_u64(path, &range);
        snprintf(path, sizeof path, "%s/energy_uj", zone);
        int e = read_u64(path, &v);
        if (e != 0) {
            sensor_note(l, "rapl %s: %s: %s%s", name, path, strerror(e),
                        e == EACCES ? " (RAPL energy is root-only since Linux 5.10; run as root "
                                      "or make energy_uj readable)"
                                    : "");
            continue;
        }
        struct sensor *s = sensor_add(l);
        if (!s) break;
        snprintf(s->name, sizeof s->name, "rapl %s energy_uj (powercap %s)", name, zones[i]);
        scopy(s->path, sizeof s->path, path);
        s->kind = S_ENERGY_FILE;
        s->unit = 1e-6;
        s->max_range = range;
    }
    if (n == 0) sensor_note(l, "rapl: no powercap zones under %s", dir);
    free_list(zones, n);
}
