/* cli_bench_out — the bench report as Markdown (llama-bench's table plus energy and
 * cost columns), JSON (every figure, nulls with a reason) or CSV (one row per test). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli_bench_impl.h"
#include "gguf.h"
#include "model.h"
#include "provenance.h"
#include "quant.h"
#include "util.h"

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

void bench_measure_limits(struct bench_report *r)
{
    const struct backend *b = r->backend;
    r->peak_rss = roofline_peak_rss();
    if (!b->model) return;
    /* the CPU backend keeps K and V in float32; the Vulkan one does not say (fp16 or fp32) */
    r->kv_known = !strcmp(b->name, "cpu");
    roofline_model_of(b->model, 4, &r->roof);
    r->roof_known = true;
    r->kv_bytes = r->kv_known ? r->roof.kv_bytes_per_pos * (uint64_t)b->n_ctx : 0;
    if (!strcmp(b->name, "cpu"))
        roofline_cpu_bandwidth(r->threads, &r->bw);
    else
        snprintf(r->bw.how, sizeof r->bw.how,
                 "not measured on Vulkan devices yet (a read shader is to come)");
}

bool bench_roof_of(const struct bench_report *r, const struct bench_result *x,
                   struct bench_roof *out)
{
    memset(out, 0, sizeof *out);
    if (!r->roof_known) return false;
    struct roofline_test t;
    roofline_test_of(&r->roof, &x->test, &t);
    double tps = x->tps.mean;
    out->macs_per_token = t.macs_per_token;
    out->macs_per_s = t.macs_per_token * tps;
    out->bytes_known = r->kv_known;
    out->bytes_per_token = t.bytes_per_token;
    out->bytes_per_s = t.bytes_per_token * tps;
    out->share_known = r->kv_known && r->bw.known && x->test.kind == BENCH_TG;
    out->share = out->share_known ? out->bytes_per_s / r->bw.bytes_per_s : 0;
    return true;
}

/* "52% of 27.3 GB/s" for tg, "103 GMAC/s" for pp */
static const char *roof_cell(const struct bench_report *r, const struct bench_result *x, char *buf,
                             size_t len)
{
    struct bench_roof f;
    if (!bench_roof_of(r, x, &f))
        snprintf(buf, len, "n/a");
    else if (x->test.kind == BENCH_PP)
        snprintf(buf, len, "%.1f GMAC/s", f.macs_per_s / 1e9);
    else if (f.share_known)
        snprintf(buf, len, "%.0f%% of %.1f GB/s", 100 * f.share, r->bw.bytes_per_s / 1e9);
    else if (f.bytes_known)
        snprintf(buf, len, "%.1f GB/s", f.bytes_per_s / 1e9);
    else
        snprintf(buf, len, "%.1f GMAC/s", f.macs_per_s / 1e9);
    return buf;
}

static const char *why_short(const struct meter_reading *e)
{
    if (strstr(e->why, "under 1 s")) return "n/a (<1 s)";
    if (strstr(e->why, "not metered")) return "n/a (off)";
    return "n/a (no sensor)";
}

static const char *params_str(uint64_t n, char *buf, size_t len)
{
    if (n >= 1000000000ull)
        snprintf(buf, len, "%.2f B", (double)n / 1e9);
    else
        snprintf(buf, len, "%.2f M", (double)n / 1e6);
    return buf;
}

/* Result i of r, with its derived energy and cost figures in d and its test's name in name. */
static const struct bench_result *row(const struct bench_report *r, int i, struct bench_derived *d,
                                      char *name, size_t len)
{
    const struct bench_result *x = &r->res[i];
    bench_derive(r, x, d);
    bench_test_name(&x->test, name, len);
    return x;
}

/* ---- Markdown ---- */

void bench_write_md(FILE *out, const struct bench_report *r)
{
    const struct bench_model *bm = r->model;
    const struct meter *m = r->meter;
    char size[32], params[32];
    fmt_bytes(bm->bytes, size, sizeof size);
    params_str(bm->params, params, sizeof params);
    fprintf(out, "joule bench: %s%s, %s, %s params, %s (%s)\n\n", bm->name,
            bm->synthetic ? " (synthetic weights)" : "", size, params, r->backend->name,
            r->backend->device);
    fprintf(out,
            "| model | size | params | backend | threads | precision | test | t/s | limit | "
            "energy J | source | above idle J | J/token | token/J | $/Mtok energy | $/Mtok hw | "
            "$/Mtok |\n");
    fprintf(out,
            "| --- | ---: | ---: | --- | ---: | --- | --- | ---: | ---: | ---: | --- | ---: | ---: "
            "| ---: | ---: | ---: | ---: |\n");
    bool any_short = false;
    for (int i = 0; i < r->n; i++) {
        struct bench_derived d;
        char name[64];
        const struct bench_result *x = row(r, i, &d, name, sizeof name);
        char roof[64];
        fprintf(out, "| %s%s | %s | %s | %s | %d | %s | %s | %.2f ± %.2f | %s | ", bm->name,
                bm->synthetic ? " (synthetic)" : "", size, params, r->backend->name, r->threads,
                precision_name(r->backend->precision), name, x->tps.mean, x->tps.stddev,
                roof_cell(r, x, roof, sizeof roof));
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
            bench_test_name(&r->res[i].test, name, sizeof name);
            fprintf(out, "n/a %s: %s\n", name, r->res[i].energy.why);
        }
    if (any_short) fprintf(out, "* window under 10 s: the energy figure is rough\n");
    if (r->roof_known) {
        fprintf(out, "limit: tg as bytes read per token (weights + KV) x t/s against the memory "
                     "bandwidth; pp as multiply-adds per second\n");
        if (r->bw.known)
            fprintf(out, "bandwidth: %.1f GB/s (%s)\n", r->bw.bytes_per_s / 1e9, r->bw.how);
        else
            fprintf(out, "bandwidth: n/a (%s)\n", r->bw.how);
    }
    if (r->peak_rss) {
        char a[32], w[32], k[32];
        fprintf(out, "memory: peak RSS %s = weights %s + KV cache %s + %.1f MiB other",
                fmt_bytes(r->peak_rss, a, sizeof a), fmt_bytes(bm->bytes, w, sizeof w),
                r->kv_known ? fmt_bytes(r->kv_bytes, k, sizeof k) : "n/a",
                ((double)r->peak_rss - (double)bm->bytes - (double)r->kv_bytes) / (1 << 20));
        fprintf(out, " (activations, scratch, code; negative: weights not all paged in)\n");
    }
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

/* The three $/Mtok figures of d (null where unknown): energy, then hw_key and hardware, then
 * total_key and the total. */
static void json_costs(FILE *out, const struct bench_derived *d, const char *hw_key,
                       const char *total_key)
{
    json_num(out, d->cost.energy_per_mtok, d->energy);
    fputs(hw_key, out);
    json_num(out, d->cost.hw_per_mtok, d->hw_known);
    fputs(total_key, out);
    json_num(out, d->cost.total_per_mtok, d->energy);
}

void bench_write_json(FILE *out, const struct bench_report *r)
{
    const struct bench_model *bm = r->model;
    const struct meter *m = r->meter;
    const struct cost_params *c = r->cost;
    fprintf(out, "{\n  \"provenance\": ");
    struct prov_info pi = {.schema = "joule-bench/1",
                           .argc = r->argc,
                           .argv = r->argv,
                           .device = r->backend->device,
                           .threads = r->threads};
    prov_write_json(out, &pi);
    fprintf(out, ",\n  \"model\": {\"name\": ");
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
    fprintf(out, ", \"threads\": %d, \"precision\": \"%s\"},\n", r->threads,
            precision_name(r->backend->precision));
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
    fprintf(out, "},\n  \"limits\": {\"bandwidth_bytes_per_s\": ");
    json_num(out, r->bw.bytes_per_s, r->bw.known);
    fprintf(out, ", \"bandwidth_how\": ");
    json_str(out, r->bw.how);
    fprintf(out,
            ", \"bandwidth_cached\": %s, \"bandwidth_disturbed\": %s, \"weight_bytes_per_token\": ",
            r->bw.cached ? "true" : "false", r->bw.disturbed ? "true" : "false");
    json_num(out, (double)r->roof.weight_bytes, r->roof_known);
    fprintf(out, ", \"kv_bytes_per_position\": ");
    json_num(out, (double)r->roof.kv_bytes_per_pos, r->roof_known && r->kv_known);
    fprintf(out, "},\n  \"memory\": {\"peak_rss_bytes\": ");
    json_num(out, (double)r->peak_rss, r->peak_rss > 0);
    fprintf(out, ", \"weight_bytes\": %" PRIu64 ", \"kv_cache_bytes\": ", bm->bytes);
    json_num(out, (double)r->kv_bytes, r->kv_known);
    fprintf(out, "},\n  \"tests\": [");
    for (int i = 0; i < r->n; i++) {
        struct bench_derived d;
        char name[64];
        const struct bench_result *x = row(r, i, &d, name, sizeof name);
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
        json_costs(out, &d, ", \"hardware\": ", ", \"total\": ");
        fprintf(out, ", \"total_includes_hardware\": %s}", d.hw_known ? "true" : "false");
        struct bench_roof f;
        bool rk = bench_roof_of(r, x, &f);
        fprintf(out, ",\n     \"roofline\": {\"bytes_per_token\": ");
        json_num(out, f.bytes_per_token, rk && f.bytes_known);
        fprintf(out, ", \"bytes_per_s\": ");
        json_num(out, f.bytes_per_s, rk && f.bytes_known);
        fprintf(out, ", \"bandwidth_share\": ");
        json_num(out, f.share, rk && f.share_known);
        fprintf(out, ", \"macs_per_token\": ");
        json_num(out, f.macs_per_token, rk);
        fprintf(out, ", \"macs_per_s\": ");
        json_num(out, f.macs_per_s, rk);
        fprintf(out, "}}");
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
    if (!r->no_header)
        fprintf(out,
                "model,synthetic,size_bytes,params,backend,device,threads,precision,test,kind,"
                "n_tokens,depth,reps,avg_ts,stddev_ts,seconds,tokens,energy_source,scope,joules,"
                "above_idle_joules,idle_w,j_per_token,tokens_per_j,cost_energy_per_mtok,"
                "cost_hw_per_mtok,cost_total_per_mtok,short_window,price_kwh,pue,hw_hourly,"
                "energy_method,note,bytes_per_token,bytes_per_s,bandwidth_bytes_per_s,"
                "bandwidth_share,macs_per_token,macs_per_s,peak_rss_bytes\n");
    double idle = 0, hourly = 0;
    bool idle_known = meter_idle_w(r->meter, &idle);
    bool hw = cost_hw_hourly(r->cost, &hourly);
    for (int i = 0; i < r->n; i++) {
        struct bench_derived d;
        char name[64];
        const struct bench_result *x = row(r, i, &d, name, sizeof name);
        csv_str(out, bm->name);
        fprintf(out, ",%s,%" PRIu64 ",%" PRIu64 ",", bm->synthetic ? "true" : "false", bm->bytes,
                bm->params);
        csv_str(out, r->backend->name);
        fputc(',', out);
        csv_str(out, r->backend->device);
        fprintf(out, ",%d,%s,%s,%s,%d,%d,%d,%.6g,%.6g,%.6g,%" PRIu64 ",%s,%s", r->threads,
                precision_name(r->backend->precision), name, x->test.kind == BENCH_PP ? "pp" : "tg",
                x->test.n, x->test.depth, x->reps, x->tps.mean, x->tps.stddev, x->seconds,
                x->tokens, meter_source_name(x->energy.src), meter_scope(r->meter));
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
        struct bench_roof f;
        bool rk = bench_roof_of(r, x, &f);
        csv_num(out, f.bytes_per_token, rk && f.bytes_known);
        csv_num(out, f.bytes_per_s, rk && f.bytes_known);
        csv_num(out, r->bw.bytes_per_s, r->bw.known);
        csv_num(out, f.share, rk && f.share_known);
        csv_num(out, f.macs_per_token, rk);
        csv_num(out, f.macs_per_s, rk);
        csv_num(out, (double)r->peak_rss, r->peak_rss > 0);
        fputc('\n', out);
    }
}

/* ---- JSONL, llama-bench's fields ---- */

void bench_model_type(const struct model *m, char *buf, size_t len)
{
    /* the weight type holding the most bytes names the file, as a quantizer's "Q4_0" does */
    uint64_t bytes[64] = {0};
    uint32_t best = 0;
    for (uint64_t i = 0; m->gguf && i < m->gguf->n_tensors; i++) {
        uint32_t t = m->gguf->tensors[i].type;
        if (t < 64) bytes[t] += m->gguf->tensors[i].nbytes;
        if (t < 64 && bytes[t] > bytes[best]) best = t;
    }
    double p = (double)m->n_params;
    char size[32];
    if (p >= 1e9)
        snprintf(size, sizeof size, "%.0fB", p / 1e9);
    else
        snprintf(size, sizeof size, "%.0fM", p / 1e6);
    snprintf(buf, len, "%s %s %s", m->cfg.arch_name, size,
             m->gguf ? quant_name(best) : "synthetic");
}

void bench_write_jsonl(FILE *out, const struct bench_report *r)
{
    const struct bench_model *bm = r->model;
    char cpu[256], ts[64];
    prov_cpu_model(cpu, sizeof cpu);
    prov_timestamp(ts, sizeof ts);
    bool gpu = strcmp(r->backend->name, "cpu") != 0;
    for (int i = 0; i < r->n; i++) {
        const struct bench_result *x = &r->res[i];
        struct bench_derived d;
        bench_derive(r, x, &d);
        /* llama-bench times each repetition: ns per run of n tokens */
        double ns_mean = 0, ns_sd = 0;
        for (int k = 0; k < x->reps; k++)
            ns_mean += x->test.n * 1e9 / x->ts[k] / x->reps;
        for (int k = 0; k < x->reps && x->reps > 1; k++) {
            double e = x->test.n * 1e9 / x->ts[k] - ns_mean;
            ns_sd += e * e / (x->reps - 1);
        }
        ns_sd = sqrt(ns_sd);
        fprintf(out, "{\"build_commit\": ");
        json_str(out, prov_git_commit());
        fprintf(out, ", \"build_number\": 0, \"cpu_info\": ");
        json_str(out, cpu);
        fprintf(out, ", \"gpu_info\": ");
        json_str(out, gpu ? r->backend->device : "");
        fprintf(out, ", \"backends\": \"%s\", \"model_filename\": ", gpu ? "Vulkan" : "CPU");
        json_str(out, bm->path[0] ? bm->path : bm->name);
        fprintf(out, ", \"model_type\": ");
        json_str(out, bm->type);
        fprintf(out,
                ", \"model_size\": %" PRIu64 ", \"model_n_params\": %" PRIu64
                ", \"n_batch\": %d, \"n_ubatch\": %d, \"n_threads\": %d, \"type_k\": \"f32\", "
                "\"type_v\": \"f32\", \"n_gpu_layers\": %d, \"n_prompt\": %d, \"n_gen\": %d, "
                "\"n_depth\": %d, \"test_time\": \"%s\", \"avg_ns\": %.0f, \"stddev_ns\": %.0f, "
                "\"avg_ts\": %.6f, \"stddev_ts\": %.6f, \"samples_ns\": [",
                bm->bytes, bm->params, r->backend->max_batch, r->backend->max_batch, r->threads,
                gpu ? 99 : 0, x->test.kind == BENCH_PP ? x->test.n : 0,
                x->test.kind == BENCH_TG ? x->test.n : 0, x->test.depth, ts, ns_mean, ns_sd,
                x->tps.mean, x->tps.stddev);
        for (int k = 0; k < x->reps; k++)
            fprintf(out, "%s%.0f", k ? ", " : "", x->test.n * 1e9 / x->ts[k]);
        fprintf(out, "], \"samples_ts\": [");
        for (int k = 0; k < x->reps; k++)
            fprintf(out, "%s%.6f", k ? ", " : "", x->ts[k]);
        fprintf(out, "], \"joule_energy_source\": \"%s\", \"joule_joules\": ",
                meter_source_name(x->energy.src));
        json_num(out, d.joules, d.energy);
        fprintf(out, ", \"joule_j_per_token\": ");
        json_num(out, d.j_per_tok, d.energy);
        fprintf(out, ", \"joule_tokens_per_j\": ");
        json_num(out, d.tok_per_j, d.energy && d.tok_per_j_known);
        fprintf(out, ", \"joule_cost_energy_per_mtok\": ");
        json_costs(out, &d, ", \"joule_cost_hw_per_mtok\": ", ", \"joule_cost_per_mtok\": ");
        fprintf(out, ", \"joule_precision\": \"exact\", \"joule_version\": \"%s\"}\n",
                JOULE_RELEASE);
    }
}
