/* cli_eval — `joule eval`: parses the options, opens the model and backend, runs the
 * suites (eval.h) and prints the table or JSON. */
#include "cli_eval.h"

#include <errno.h>
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "cli_util.h"
#include "cpu.h"
#include "device.h"
#include "eval.h"
#include "eval_sha256.h"
#include "meter.h"
#include "model.h"
#include "tokenizer.h"

static const char *eval_help =
    "usage: joule eval -m MODEL --suite NAME[,NAME...] [options]\n"
    "       joule eval --list [--data DIR]\n"
    "       joule eval --merge FILE.json... [-o json|md]\n"
    "Scores a model on standard quality suites exactly as lm-evaluation-harness scores them\n"
    "(acc, acc_norm, mc1/mc2, exact match, word/byte perplexity, with standard errors), or in\n"
    "llama.cpp's conventions with --style llama.cpp.\n"
    "\n"
    "suites: wikitext, hellaswag, arc-easy, arc-challenge, mmlu, winogrande, piqa, "
    "truthfulqa-mc1,\n"
    "        truthfulqa-mc2, lambada, boolq, gsm8k, all (every one), or a path to a .suite file\n"
    "\n"
    "  -m, --model FILE      the GGUF model\n"
    "  --suite LIST          comma-separated suite names\n"
    "  --limit N             only the first N items of each suite (mmlu: of each subject, as\n"
    "                        lm-eval limits subtasks; wikitext: N articles and N chunks)\n"
    "  --shots K             few-shot examples (default: the suite's, e.g. mmlu 5, gsm8k 5, others "
    "0)\n"
    "  --seed S              few-shot sampling seed (default 1234, lm-eval's fewshot_random_seed)\n"
    "  --data DIR            suite data folder (default ${JOULE_DATA:-~/.cache/joule}/suites, "
    "which\n"
    "                        tools/fetch-suites.sh fills; ../shared/suites-data has the same "
    "layout)\n"
    "  --device D            auto (default), cpu, vulkan, vulkan:N\n"
    "  -t, --threads N       CPU threads (default: all cores)\n"
    "  --precision P         exact (float activations, the reference; default) or fast (8-bit\n"
    "                        activations and integer dot products; CPU backend)\n"
    "  --max-length N        context + continuation limit, left-truncated as lm-eval does "
    "(default:\n"
    "                        the model's training context, at most 4096)\n"
    "  --bos                 add the tokenizer's BOS to every request (lm-eval after 2025-11-10);\n"
    "  --no-bos              the default: no BOS, as every published lm-eval number up to then\n"
    "  --style S             lm-eval (default) or llama.cpp (multiple choice: mean token log-prob\n"
    "                        after the choices' common prefix, BOS, 0-shot; winogrande its rule)\n"
    "  -o, --output F        md (default: a table) or json (scores, settings, per-item rows, "
    "energy)\n"
    "  --log-items FILE      every item's log-likelihoods and decision as JSON lines\n"
    "  --shard I/N           evaluate only the I-th (1..N) of N contiguous slices of every suite;\n"
    "                        write -o json and combine the shards with --merge\n"
    "  --merge FILES...      combine --shard results (JSON) into the scores of a whole run\n"
    "  --list                the suites with item counts and whether their data is present\n"
    "  --progress, --no-progress   the progress bar on stderr (default: when stderr is a "
    "terminal)\n"
    "  --no-hash             do not compute the model file's sha256 for the JSON\n";

/* the progress bar on stderr: items done/total, items/s, ETA, running score */
static void show_progress(void *ctx, const struct eval_progress *p)
{
    (void)ctx;
    double rate = p->seconds > 0 ? p->done / p->seconds : 0;
    double eta = rate > 0 ? (p->total - p->done) / rate : 0;
    fprintf(stderr, "\r%-16s %ld/%ld  %.1f items/s  ETA %dm%02ds", p->suite, p->done, p->total,
            rate, (int)(eta / 60), (int)fmod(eta, 60));
    if (!isnan(p->running)) fprintf(stderr, "  running %.4f", p->running);
    fprintf(stderr, p->final ? "\n" : "   ");
}

static int usage(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "joule eval: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, " (see 'joule eval --help')\n");
    return 2;
}

static int fail(const char *msg)
{
    fprintf(stderr, "joule eval: %s\n", msg);
    return 1;
}

static void default_data_dir(char *out, size_t cap)
{
    const char *d = getenv("JOULE_DATA");
    if (d && *d)
        snprintf(out, cap, "%s/suites", d);
    else
        snprintf(out, cap, "%s/.cache/joule/suites", getenv("HOME") ? getenv("HOME") : ".");
}

static const char *const all_suites[] = {
    "wikitext", "hellaswag",      "arc-easy",       "arc-challenge", "mmlu",  "winogrande",
    "piqa",     "truthfulqa-mc1", "truthfulqa-mc2", "lambada",       "boolq", "gsm8k"};

static bool data_present(const struct suite_def *d, const char *dir)
{
    char p[1400];
    snprintf(p, sizeof p, "%s/%s", dir, d->data);
    glob_t g;
    bool ok = glob(p, 0, NULL, &g) == 0 && g.gl_pathc > 0;
    if (ok) globfree(&g);
    return ok;
}

static int list_suites(const char *dir)
{
    printf("%-16s %7s  %-8s %s\n", "suite", "items", "data", "description");
    for (int i = 0; i < suite_builtin_count(); i++) {
        struct suite_def d;
        char err[512];
        if (suite_load(suite_builtin_name(i), &d, err, sizeof err)) return fail(err);
        printf("%-16s %7d  %-8s %s\n", d.name, d.items,
               data_present(&d, dir) ? "present" : "missing", d.description);
        suite_free(&d);
    }
    printf("\ndata folder: %s\n(fetch missing data with tools/fetch-suites.sh NAME...)\n", dir);
    return 0;
}

static int open_backend(const char *dev, const struct model *m, int32_t n_ctx, int32_t threads,
                        struct backend **out)
{
    char err[512], notice[600];
    if (device_open(dev, m, n_ctx, threads, out, notice, sizeof notice, err, sizeof err) != 0)
        return fail(err);
    if (notice[0]) fprintf(stderr, "joule eval: %s\n", notice);
    return 0;
}

static void print_results(bool json, const struct eval_run_info *info, struct eval_result *res,
                          int n)
{
    if (json)
        eval_print_json(stdout, info, res, n);
    else
        eval_print_md(stdout, res, n);
}

/* energy of the whole run as a JSON object, or NULL */
static char *energy_json(struct meter *mt, const struct meter_window *w, uint64_t tokens,
                         long items, char *line, size_t linecap)
{
    struct meter_reading rd;
    meter_read(mt, w, &rd);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    fprintf(f, "{\"source\":\"%s\",\"scope\":\"%s\"", meter_source_name(rd.src), meter_scope(mt));
    fprintf(f, ",\"method\":\"");
    for (const char *p = meter_method(mt); *p; p++)
        fputc(*p == '"' || *p == '\\' ? '\'' : *p, f);
    fputc('"', f);
    if (rd.src == METER_NONE) {
        fprintf(f, ",\"why\":\"");
        for (const char *p = rd.why; *p; p++)
            fputc(*p == '"' || *p == '\\' ? '\'' : *p, f);
        fprintf(f, "\"}");
        snprintf(line, linecap, "energy: n/a (%s)", rd.why);
    } else {
        struct cost_params cp;
        struct cost_result cr;
        cost_defaults(&cp);
        cost_compute(&cp, rd.joules, rd.seconds, (double)tokens, &cr);
        fprintf(f, ",\"seconds\":%.3f,\"joules\":%.3f,\"short_window\":%s", rd.seconds, rd.joules,
                rd.short_window ? "true" : "false");
        if (rd.idle_known)
            fprintf(f, ",\"idle_w\":%.3f,\"above_idle_j\":%.3f", rd.idle_w, rd.above_idle_j);
        fprintf(f, ",\"tokens\":%llu,\"tokens_per_j\":%.6g,\"joules_per_item\":%.6g",
                (unsigned long long)tokens, rd.joules > 0 ? tokens / rd.joules : 0.0,
                items ? rd.joules / items : 0.0);
        fprintf(f, ",\"energy_cost_per_mtok\":%.6g}", cr.energy_per_mtok);
        snprintf(line, linecap,
                 "energy: %.1f J over %.1f s (%s, %s), %.1f tokens/J, %.3g J per item", rd.joules,
                 rd.seconds, meter_source_name(rd.src), meter_scope(mt),
                 rd.joules > 0 ? tokens / rd.joules : 0.0, items ? rd.joules / items : 0.0);
    }
    fclose(f);
    return buf;
}

int cli_eval(int argc, char **argv)
{
    const char *model_path = NULL, *suites = NULL, *device = "auto", *log_path = NULL;
    char data_dir[1024];
    default_data_dir(data_dir, sizeof data_dir);
    struct eval_opts o = {0};
    o.shots = -1, o.seed = -1, o.shard_i = 1, o.shard_n = 1;
    o.progress = isatty(2) ? show_progress : NULL;
    long threads = 0, max_len = 0;
    enum precision prec = PRECISION_DEFAULT;
    bool json = false, list = false, hash = true, bos = false;
    int merge_from = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        long v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return printf("%s", eval_help), 0;
        if (!strcmp(a, "--list")) {
            list = true;
            continue;
        }
        if (!strcmp(a, "--bos")) {
            bos = true;
            continue;
        }
        if (!strcmp(a, "--no-bos")) {
            bos = false;
            continue;
        }
        if (!strcmp(a, "--progress")) {
            o.progress = show_progress;
            continue;
        }
        if (!strcmp(a, "--no-progress")) {
            o.progress = NULL;
            continue;
        }
        if (!strcmp(a, "--no-hash")) {
            hash = false;
            continue;
        }
        if (!strcmp(a, "--merge")) {
            merge_from = i + 1;
            break;
        }
        if (a[0] != '-') return usage("unexpected argument '%s'%s", a, "");
        if (i + 1 >= argc) return usage("option '%s' needs a value%s", a, "");
        const char *val = argv[++i];
        if (!strcmp(a, "-m") || !strcmp(a, "--model"))
            model_path = val;
        else if (!strcmp(a, "--suite") || !strcmp(a, "--suites"))
            suites = val;
        else if (!strcmp(a, "--data"))
            snprintf(data_dir, sizeof data_dir, "%s", val);
        else if (!strcmp(a, "--log-items"))
            log_path = val;
        else if (!strcmp(a, "--device")) {
            if (!device_spec_valid(val))
                return usage("bad value '%s' for --device (auto, cpu, vulkan or vulkan:N)%s", val,
                             "");
            device = val;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (strcmp(val, "json") && strcmp(val, "md"))
                return usage("bad value '%s' for %s (json or md)", val, a);
            json = !strcmp(val, "json");
        } else if (!strcmp(a, "--style")) {
            if (!strcmp(val, "lm-eval"))
                o.style = STYLE_LMEVAL;
            else if (!strcmp(val, "llama.cpp"))
                o.style = STYLE_LLAMACPP;
            else
                return usage("bad value '%s' for --style (lm-eval or llama.cpp)%s", val, "");
        } else if (!strcmp(a, "--limit")) {
            if (!cli_parse_long(val, 1, 1L << 40, &o.limit))
                return usage("bad value '%s' for %s (a positive integer)", val, a);
        } else if (!strcmp(a, "--shots")) {
            if (!cli_parse_long(val, 0, 1000, &v))
                return usage("bad value '%s' for %s (0 to 1000)", val, a);
            o.shots = (int)v;
        } else if (!strcmp(a, "--seed")) {
            if (!cli_parse_long(val, 0, 4294967295L, &o.seed))
                return usage("bad value '%s' for %s (0 to 2^32-1)", val, a);
        } else if (!strcmp(a, "--precision")) {
            if (precision_parse(val, &prec) != 0)
                return usage("bad value '%s' for --precision (exact or fast)%s", val, "");
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!cli_parse_long(val, 1, 1024, &threads))
                return usage("bad value '%s' for %s (1 to 1024)", val, a);
        } else if (!strcmp(a, "--max-length")) {
            if (!cli_parse_long(val, 16, 1 << 20, &max_len))
                return usage("bad value '%s' for %s (16 to 1048576)", val, a);
        } else if (!strcmp(a, "--shard")) {
            long si, sn;
            char tail;
            if (sscanf(val, "%ld/%ld%c", &si, &sn, &tail) != 2 || sn < 1 || si < 1 || si > sn ||
                sn > 1000000)
                return usage("bad value '%s' for --shard (I/N with 1 <= I <= N)%s", val, "");
            o.shard_i = (int)si, o.shard_n = (int)sn;
        } else {
            return usage("unknown option '%s'%s", a, "");
        }
    }
    char err[1024] = "";
    if (list) return list_suites(data_dir);
    if (merge_from) {
        if (merge_from >= argc) return usage("--merge needs result files%s%s", "", "");
        struct eval_result *res;
        int n;
        if (eval_merge((const char *const *)argv + merge_from, argc - merge_from, &res, &n, err,
                       sizeof err))
            return fail(err);
        struct eval_run_info info = {
            .shard_i = 1, .shard_n = 1, .style = res && n ? res[0].style : "lm-eval"};
        print_results(json, &info, res, n);
        for (int k = 0; k < n; k++)
            eval_result_free(&res[k]);
        free(res);
        return 0;
    }
    if (!model_path) return usage("missing -m MODEL%s%s", "", "");
    if (!suites) return usage("missing --suite NAME[,NAME...] (see --list)%s%s", "", "");

    /* suites first: a typo should not cost a model load */
    char names[2048];
    snprintf(names, sizeof names, "%s", !strcmp(suites, "all") ? "" : suites);
    if (!strcmp(suites, "all"))
        for (size_t i = 0; i < sizeof all_suites / sizeof all_suites[0]; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? "," : "",
                     all_suites[i]);
    struct suite_def defs[32];
    int nd = 0;
    for (char *save = NULL, *s = strtok_r(names, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
        if (nd == 32) return usage("too many suites%s%s", "", "");
        if (suite_load(s, &defs[nd], err, sizeof err)) {
            for (int k = 0; k < nd; k++)
                suite_free(&defs[k]);
            return fail(err);
        }
        nd++;
        if (suite_check_data(&defs[nd - 1], data_dir, err, sizeof err)) {
            for (int k = 0; k < nd; k++)
                suite_free(&defs[k]);
            return fail(err);
        }
    }
    struct model *m = NULL;
    struct backend *b = NULL;
    struct eval_runner r = {0};
    struct eval_result *res = calloc((size_t)nd, sizeof *res);
    struct meter *mt = NULL;
    int rc = 0, done = 0;
    FILE *log = NULL;
    char sha[65] = "", *ejson = NULL, eline[512] = "";
    if (!res) {
        rc = fail("out of memory");
        goto out;
    }
    if (model_load(model_path, &m, err, sizeof err)) {
        rc = fail(err);
        goto out;
    }
    if (!m->tok) {
        snprintf(err, sizeof err, "%s: the vocabulary cannot be used for evaluation yet: %s",
                 model_path, m->tok_err);
        rc = fail(err);
        goto out;
    }
    int32_t ml = max_len ? (int32_t)max_len : m->cfg.n_ctx_train;
    if (!max_len && ml > 4096) ml = 4096;
    if (ml < 16) ml = 16;
    int32_t need = ml;
    for (int k = 0; k < nd; k++)
        if (defs[k].type == SUITE_PPL && defs[k].ppl_ctx > need) need = defs[k].ppl_ctx;
    if ((rc = open_backend(device, m, need, (int32_t)threads, &b))) goto out;
    if (backend_set_precision(b, prec) != prec)
        fprintf(stderr, "joule eval: %s has no '%s' precision; running '%s'\n", b->name,
                precision_name(prec), precision_name(b->precision));
    if (runner_init(&r, b, m, ml, bos, err, sizeof err)) {
        rc = fail(err);
        goto out;
    }
    if (log_path && !(log = fopen(log_path, "w"))) {
        snprintf(err, sizeof err, "%s: %s", log_path, strerror(errno));
        rc = fail(err);
        goto out;
    }
    o.data_dir = data_dir;
    o.log_items = log;
    if (hash && sha256_file(model_path, sha, err, sizeof err)) {
        rc = fail(err);
        goto out;
    }
    struct meter_opts mo = {.gpu = strcmp(b->name, "cpu") != 0,
                            .device_name = b->device,
                            .cpu_threads = threads ? (int32_t)threads : cpu_default_threads()};
    mt = meter_open(&mo);
    struct meter_window w;
    if (mt) meter_window_begin(mt, &w);
    uint64_t tok0 = r.tokens;
    long items = 0;
    for (int k = 0; k < nd; k++) {
        if (eval_run_suite(&defs[k], &r, &o, &res[k], err, sizeof err)) {
            eval_result_free(&res[k]);
            rc = fail(err);
            goto out;
        }
        items += res[k].n_rows;
        done++;
    }
    if (mt) {
        meter_window_end(mt, &w);
        ejson = energy_json(mt, &w, r.tokens - tok0, items, eline, sizeof eline);
    }
    struct eval_run_info info = {.model_path = model_path,
                                 .model_sha256 = sha,
                                 .model_name = m->cfg.name,
                                 .arch = m->cfg.arch_name,
                                 .backend = b->name,
                                 .device = b->device,
                                 .precision = precision_name(b->precision),
                                 .max_len = ml,
                                 .bos = bos,
                                 .limit = o.limit,
                                 .shots = o.shots,
                                 .seed = o.seed,
                                 .style = o.style == STYLE_LLAMACPP ? "llama.cpp" : "lm-eval",
                                 .shard_i = o.shard_i,
                                 .shard_n = o.shard_n,
                                 .energy_json = ejson};
    print_results(json, &info, res, done);
    if (!json) {
        printf("\nmodel %s (%s), %s on %s, max length %d, %s BOS, style %s%s\n", model_path,
               m->cfg.arch_name, b->name, b->device, ml, bos ? "with" : "no", info.style,
               o.shard_n > 1 ? " (a shard: merge with --merge)" : "");
        if (eline[0]) printf("%s\n", eline);
    }
out:
    for (int k = 0; k < nd; k++)
        suite_free(&defs[k]);
    for (int k = 0; res && k < done; k++)
        eval_result_free(&res[k]);
    free(res);
    free(ejson);
    if (log) fclose(log);
    if (mt) meter_close(mt);
    runner_free(&r);
    backend_destroy(b);
    if (m) model_free(m);
    return rc;
}
