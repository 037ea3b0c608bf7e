/* cli_bench_out — the bench report as Markdown (llama-bench's table plus energy and
 * cost columns), JSON (every figure, nulls with a reason) or CSV (one row per test). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli_bench_impl.h"

void bench_derive(const struct bench_report *r, const struct bench_result *x,
                  struct bench_derived *d)
{
    memset(d, 0, sizeof *d);
    const struct meter_reading *e = &x->energy;
    /* energy and cost per token over the energy window (which may hold extra repetitions) */
    double tokens = (double)x->energy_tokens;
    d->energy = e->src != METER_NONE && tokens > 0;
    cost_compute(r->cost, d->energy ? e->joules : 0, e->seconds, tokens, &d->cost);
    d->hw_known = d->cost.hw_known;
    if (!d->energy) return;
    d->joules = e->joules;
    d->j_per_tok = e->joules / tokens;
    d->tok_per_j_known = e->joules > 0;
    d->tok_per_j = d->tok_per_j_known ? tokens / e->joules : 0;
    d->above_idle = e->idle_known;
    d->above_j = e->above_idle_j;
}

static const char *why_short(const struct meter_reading *e)
{
    if (strstr(e->why, "under 1 s")) return "n/a (<1 s)";
    if (strstr(e->why, "not metered")) return "n/a (off)";
    return "n/a (no sensor)";
}

static const char *size_str(uint64_t bytes, char *buf, size_t len)
{
    if (bytes >= (1ull << 30))
        snprintf(buf, len, "%.2f GiB", (double)bytes / (1 << 30));
    else
        snprintf(buf, len, "%.2f MiB", (double)bytes / (1 << 20));
    return buf;
}

static const char *params_str(uint64_t n, char *buf, size_t len)
{
    if (n >= 1000000000ull)
        snprintf(buf, len, "%.2f B", (double)n / 1e9);
    else
        snprintf(buf, len, "%.2f M", (double)n / 1e6);
    return buf;
}

static void test_name(const struct bench_result *x, char *buf, size_t len)
{
    bench_test_name(&x->test, buf, len);
}

/* ---- Markdown ---- */

void bench_write_md(FILE *out, const struct bench_report *r)
{
    const struct bench_model *bm = r->model;
    const struct meter *m = r->meter;
    char size[32], params[32];
    size_str(bm->bytes, size, sizeof size);
    params_str(bm->params, params, sizeof params);
    fprintf(out, "joule bench: %s%s, %s, %s params, %s (%s)\n\n", bm->name,
            bm->synthetic ? " (synthetic weights)" : "", size, params, r->backend->name,
            r->backend->device);
    fprintf(out, "| model | size | params | backend | threads | test | t/s | energy J | source | "
                 "above idle J | J/token | token/J | $/Mtok energy | $/Mtok hw | $/Mtok |\n");
    fprintf(out,
            "| --- | ---: | ---: | --- | ---: | --- | ---: | ---: | --- | ---: | ---: | ---: | "
            "---: | ---: | ---: |\n");
    bool any_short = false;
    for (int i = 0; i < r->n; i++) {
        const struct bench_result *x = &r->res[i];
        struct bench_derived d;
        bench_derive(r, x, &d);
        char name[64];
        test_name(x, name, sizeof name);
        fprintf(out, "| %s%s | %s | %s | %s | %d | %s | %.2f ± %.2f | ", bm->name,
                bm->synthetic ? " (synthetic)" : "", size, params, r->backend->name, r->threads,
                name, x->tps.mean, x->tps.stddev);
        if (!d.energy) {
            const char *na = why_short(&x->energy);
            fprintf(out, "%s | n/a | n/a | %s | %s | n/a | ", na, na, na);
        } else {
            any_short |= x->energy.short_window;
            fprintf(out, "%.4g | %s%s | ", d.joules, meter_source_name(x->energy.src),
                    x->energy.short_window ? " *" : "");
            if (d.above_idle)
                fprintf(out, "%.4g | ", d.above_j);
            else
                fprintf(out, "n/a (no idle) | ");
            fprintf(out, "%.4g | ", d.j_per_tok);
            if (d.tok_per_j_known)
                fprintf(out, "%.4g | ", d.tok_per_j);
            else
                fprintf(out, "n/a (0 J) | ");
            fprintf(out, "%.4g | ", d.cost.energy_per_mtok);
        }
        if (d.hw_known)
            fprintf(out, "%.4g | ", d.cost.hw_per_mtok);
        else
            fprintf(out, "n/a | ");
        if (d.energy)
            fprintf(out, "%.4g%s |\n", d.cost.total_per_mtok, d.hw_known ? "" : " (energy only)");
        else
            fprintf(out, "n/a |\n");
    }
    fprintf(out, "\nenergy: scope %s; %s\n", meter_scope(m), meter_method(m));
    double idle;
    if (meter_idle_w(m, &idle))
        fprintf(out, "idle: %.4g W (measured before the tests)\n", idle);
    else
        fprintf(out, "idle: n/a (%s)\n",
                meter_source(m) == METER_ESTIMATE || meter_source(m) == METER_NONE
                    ? "no energy sensor to measure it"
                    : "not measured (--idle 0)");
    char desc[512];
    cost_describe(r->cost, desc, sizeof desc);
    fprintf(out, "cost: %s\n", desc);
    for (int i = 0; i < r->n; i++)
        if (r->res[i].energy.src == METER_NONE) {
            char name[64];
            test_name(&r->res[i], name, sizeof name);
            fprintf(out, "n/a %s: %s\n", name, r->res[i].energy.why);
        }
    if (any_short) fprintf(out, "* window under 10 s: the energy figure is rough\n");
    if (bm->synthetic)
        fprintf(out, "synthetic weights: random values in the model's exact shapes and tensor "
                     "types; speed does not depend on the values\n");
}

/* ---- JSON ---- */

static void json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", out);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

static void json_num(FILE *out, double v, bool known)
{
    if (known && isfinite(v))
        fprintf(out, "%.9g", v);
    else
        fputs("null", out);
}

void bench_write_json(FILE *out, const struct bench_report *r)
{
    const struct bench_model *bm = r->model;
    const struct meter *m = r->meter;
    const struct cost_params *c = r->cost;
    fprintf(out, "{\n  \"model\": {\"name\": ");
    json_str(out, bm->name);
    fprintf(out,
            ", \"synthetic\": %s, \"weights\": \"%s\", \"default\": %s, \"size_bytes\": %" PRIu64
            ", \"params\": %" PRIu64 "},\n",
            bm->synthetic ? "true" : "false", bm->synthetic ? "synthetic weights" : "file",
            bm->is_default ? "true" : "false", bm->bytes, bm->params);
    fprintf(out, "  \"backend\": {\"name\": ");
    json_str(out, r->backend->name);
    fprintf(out, ", \"device\": ");
    json_str(out, r->backend->device);
    fprintf(out, ", \"threads\": %d},\n", r->threads);
    double idle = 0;
    bool idle_known = meter_idle_w(m, &idle);
    fprintf(out, "  \"energy\": {\"source\": \"%s\", \"scope\": \"%s\", \"method\": ",
            meter_source_name(meter_source(m)), meter_scope(m));
    json_str(out, meter_method(m));
    fprintf(out, ", \"estimate_w\": ");
    json_num(out, meter_estimate_w(m), meter_source(m) == METER_ESTIMATE);
    fprintf(out, ", \"idle_w\": ");
    json_num(out, idle, idle_known);
    if (!idle_known)
        fprintf(out, ", \"idle_why\": \"no energy sensor to measure it, or --idle 0\"");
    fprintf(out, "},\n");
    double hourly = 0;
    bool hw = cost_hw_hourly(c, &hourly);
    fprintf(out,
            "  \"cost_inputs\": {\"price_kwh\": %.9g, \"pue\": %.9g, \"hw_price\": ", c->price_kwh,
            c->pue);
    json_num(out, c->hw_price, c->hw_price >= 0);
    fprintf(out, ", \"hw_life_years\": %.9g, \"utilization\": %.9g, \"cloud_hourly\": ",
            c->hw_life_years, c->utilization);
    json_num(out, c->cloud_hourly, c->cloud_hourly >= 0);
    fprintf(out, ", \"hw_hourly\": ");
    json_num(out, hourly, hw);
    fprintf(out, "},\n  \"tests\": [");
    for (int i = 0; i < r->n; i++) {
        const struct bench_result *x = &r->res[i];
        struct bench_derived d;
        bench_derive(r, x, &d);
        char name[64];
        test_name(x, name, sizeof name);
        fprintf(out,
                "%s\n    {\"test\": \"%s\", \"kind\": \"%s\", \"n_tokens\": %d, \"depth\": %d, "
                "\"parallel\": %d, \"reps\": %d, \"samples_ts\": [",
                i ? "," : "", name, x->test.kind == BENCH_PP ? "pp" : "tg", x->test.n,
                x->test.depth, x->test.parallel > 1 ? x->test.parallel : 1, x->reps);
        for (int k = 0; k < x->reps; k++)
            fprintf(out, "%s%.6g", k ? ", " : "", x->ts[k]);
        fprintf(out,
                "], \"avg_ts\": %.6g, \"stddev_ts\": %.6g, \"seconds\": %.6g, \"tokens\": %" PRIu64
                ",\n     \"energy\": {\"source\": \"%s\", \"joules\": ",
                x->tps.mean, x->tps.stddev, x->seconds, x->tokens,
                meter_source_name(x->energy.src));
        json_num(out, d.joules, d.energy);
        fprintf(out, ", \"above_idle_joules\": ");
        json_num(out, d.above_j, d.energy && d.above_idle);
        fprintf(out, ", \"j_per_token\": ");
        json_num(out, d.j_per_tok, d.energy);
        fprintf(out, ", \"tokens_per_j\": ");
        json_num(out, d.tok_per_j, d.energy && d.tok_per_j_known);
        fprintf(out, ", \"seconds\": %.6g, \"tokens\": %" PRIu64 ", \"extra_reps\": %d",
                x->energy.seconds, x->energy_tokens, x->energy_extra_reps);
        fprintf(out, ", \"short_window\": %s", x->energy.short_window ? "true" : "false");
        if (!d.energy) {
            fprintf(out, ", \"why\": ");
            json_str(out, x->energy.why);
        }
        fprintf(out, "},\n     \"cost_per_mtok\": {\"energy\": ");
        json_num(out, d.cost.energy_per_mtok, d.energy);
        fprintf(out, ", \"hardware\": ");
        json_num(out, d.cost.hw_per_mtok, d.hw_known);
        fprintf(out, ", \"total\": ");
        json_num(out, d.cost.total_per_mtok, d.energy);
        fprintf(out, ", \"total_includes_hardware\": %s}}", d.hw_known ? "true" : "false");
    }
    fprintf(out, "\n  ]\n}\n");
}

/* ---- CSV ---- */

static void csv_str(FILE *out, const char *s)
{
    if (!strpbrk(s, ",\"\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"') fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

static void csv_num(FILE *out, double v, bool known)
{
    fputc(',', out);
    if (known && isfinite(v)) fprintf(out, "%.9g", v);
}

void bench_write_csv(FILE *out, const struct bench_report *r)
{
    const struct bench_model *bm = r->model;
    fprintf(out, "model,synthetic,size_bytes,params,backend,device,threads,test,kind,n_tokens,"
                 "depth,reps,avg_ts,stddev_ts,seconds,tokens,energy_source,scope,joules,"
                 "above_idle_joules,idle_w,j_per_token,tokens_per_j,cost_energy_per_mtok,"
                 "cost_hw_per_mtok,cost_total_per_mtok,short_window,price_kwh,pue,hw_hourly,"
                 "energy_method,note\n");
    double idle = 0, hourly = 0;
    bool idle_known = meter_idle_w(r->meter, &idle);
    bool hw = cost_hw_hourly(r->cost, &hourly);
    for (int i = 0; i < r->n; i++) {
        const struct bench_result *x = &r->res[i];
        struct bench_derived d;
        bench_derive(r, x, &d);
        char name[64];
        test_name(x, name, sizeof name);
        csv_str(out, bm->name);
        fprintf(out, ",%s,%" PRIu64 ",%" PRIu64 ",", bm->synthetic ? "true" : "false", bm->bytes,
                bm->params);
        csv_str(out, r->backend->name);
        fputc(',', out);
        csv_str(out, r->backend->device);
        fprintf(out, ",%d,%s,%s,%d,%d,%d,%.6g,%.6g,%.6g,%" PRIu64 ",%s,%s", r->threads, name,
                x->test.kind == BENCH_PP ? "pp" : "tg", x->test.n, x->test.depth, x->reps,
                x->tps.mean, x->tps.stddev, x->seconds, x->tokens, meter_source_name(x->energy.src),
                meter_scope(r->meter));
        csv_num(out, d.joules, d.energy);
        csv_num(out, d.above_j, d.energy && d.above_idle);
        csv_num(out, idle, idle_known);
        csv_num(out, d.j_per_tok, d.energy);
        csv_num(out, d.tok_per_j, d.energy && d.tok_per_j_known);
        csv_num(out, d.cost.energy_per_mtok, d.energy);
        csv_num(out, d.cost.hw_per_mtok, d.hw_known);
        csv_num(out, d.cost.total_per_mtok, d.energy);
        fprintf(out, ",%s", x->energy.short_window ? "true" : "false");
        csv_num(out, r->cost->price_kwh, true);
        csv_num(out, r->cost->pue, true);
        csv_num(out, hourly, hw);
        fputc(',', out);
        csv_str(out, meter_method(r->meter));
        fputc(',', out);
        csv_str(out, d.energy ? (d.hw_known ? "" : "cost total is energy only (no hardware price)")
                              : x->energy.why);
        fputc('\n', out);
    }
}
