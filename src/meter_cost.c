/* meter_cost — $/Mtok from energy and time.
 *   energy part   = kWh x price x PUE
 *   hardware part = hours x hourly cost, where hourly cost is --cloud-hourly, or
 *                   purchase price / (lifetime years x 8766 h x utilization)
 * Defaults: 0.15 per kWh (a round figure near the 2024 US average retail price, EIA),
 * PUE 1.0 (a machine on a desk; data centres run 1.1-1.6), a 4-year life at 50 %
 * utilization; no purchase price, so the hardware part is n/a until one is given. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meter.h"
#include "util.h"

void cost_defaults(struct cost_params *p)
{
    p->price_kwh = 0.15;
    p->pue = 1.0;
    p->hw_price = -1;
    p->hw_life_years = 4;
    p->utilization = 0.5;
    p->cloud_hourly = -1;
}

int cost_set(struct cost_params *p, const char *key, const char *value, char *err, size_t errlen)
{
    static const struct {
        const char *key;
        size_t off;
        double lo, hi;
    } keys[] = {
        {"price-kwh", offsetof(struct cost_params, price_kwh), 0, 1e6},
        {"pue", offsetof(struct cost_params, pue), 1, 10},
        {"hw-price", offsetof(struct cost_params, hw_price), 0, 1e12},
        {"hw-life-years", offsetof(struct cost_params, hw_life_years), 0.01, 100},
        {"utilization", offsetof(struct cost_params, utilization), 0.001, 1},
        {"cloud-hourly", offsetof(struct cost_params, cloud_hourly), 0, 1e9},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (strcmp(key, keys[i].key) != 0) continue;
        char *end;
        errno = 0;
        double v = strtod(value, &end);
        if (errno || end == value || *end || !(v >= keys[i].lo && v <= keys[i].hi))
            return fail(err, errlen, "bad value '%s' for %s (a number from %g to %g)", value, key,
                        keys[i].lo, keys[i].hi);
        *(double *)((char *)p + keys[i].off) = v;
        return 0;
    }
    return fail(err, errlen,
                "unknown cost setting '%s' (price-kwh, pue, hw-price, hw-life-years, utilization, "
                "cloud-hourly)",
                key);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = 0;
    return s;
}

int cost_load(struct cost_params *p, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) return fail(err, errlen, "%s: %s", path, strerror(errno));
    char line[512];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash) *hash = 0;
        char *s = trim(line);
        if (!*s) continue;
        char *eq = strchr(s, '=');
        if (!eq) eq = strpbrk(s, " \t");
        if (!eq) {
            rc = fail(err, errlen, "%s:%d: expected 'key = value'", path, lineno);
            break;
        }
        *eq = 0;
        char *k = trim(s), *v = trim(eq + 1);
        char msg[256];
        if (cost_set(p, k, v, msg, sizeof msg) != 0)
            rc = fail(err, errlen, "%s:%d: %s", path, lineno, msg);
    }
    fclose(f);
    return rc;
}

bool cost_hw_hourly(const struct cost_params *p, double *per_hour)
{
    if (p->cloud_hourly >= 0) {
        *per_hour = p->cloud_hourly;
        return true;
    }
    if (p->hw_price < 0) return false;
    *per_hour = p->hw_price / (p->hw_life_years * 8766.0 * p->utilization);
    return true;
}

void cost_compute(const struct cost_params *p, double joules, double seconds, double tokens,
                  struct cost_result *out)
{
    memset(out, 0, sizeof *out);
    double mtok = tokens / 1e6;
    if (!(mtok > 0)) return;
    out->energy_per_mtok = joules / 3.6e6 * p->price_kwh * p->pue / mtok;
    double hourly;
    out->hw_known = cost_hw_hourly(p, &hourly);
    if (out->hw_known) out->hw_per_mtok = seconds / 3600.0 * hourly / mtok;
    out->total_per_mtok = out->energy_per_mtok + out->hw_per_mtok;
}

void cost_describe(const struct cost_params *p, char *buf, size_t len)
{
    double hourly;
    int k = snprintf(buf, len, "electricity %.4g/kWh x PUE %.3g; ", p->price_kwh, p->pue);
    if (k < 0 || (size_t)k >= len) return;
    if (p->cloud_hourly >= 0)
        snprintf(buf + k, len - (size_t)k, "hardware %.4g/h (--cloud-hourly)", p->cloud_hourly);
    else if (cost_hw_hourly(p, &hourly))
        snprintf(buf + k, len - (size_t)k,
                 "hardware %.4g/h = price %.6g / (%.3g years x 8766 h x utilization %.3g)", hourly,
                 p->hw_price, p->hw_life_years, p->utilization);
    else
        snprintf(buf + k, len - (size_t)k,
                 "hardware n/a (give --hw-price or --cloud-hourly; life %.3g years, utilization "
                 "%.3g)",
                 p->hw_life_years, p->utilization);
}
