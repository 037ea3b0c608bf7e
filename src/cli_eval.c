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
#include "fileio.h"
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
    "  --data DIR            suite data folder (default ${JOULE_DATA:-~/.cache/joule}/suites, "
    "which\n"
    "                        tools/fetch-suites.sh fills; ../shared/suites-data has the same "
    "layout)\n"
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

static int list_suites(const struct cli *a, const char *dir)
{
    printf("%-16s %7s  %-8s %s\n", "suite", "items", "data", "description");
    for (int i = 0; i < suite_builtin_count(); i++) {
        struct suite_def d;
        char err[512];
        if (suite_load(suite_builtin_name(i), &d, err, sizeof err)) return cli_fail(a, "%s", err);
        printf("%-16s %7d  %-8s %s\n", d.name, d.items,
               data_present(&d, dir) ? "present" : "missing", d.description);
        suite_free(&d);
    }
    printf("\ndata folder: %s\n(fetch missing data with tools/fetch-suites.sh NAME...)\n", dir);
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
static char *energy_json(struct meter *mt, const struct meter_window *w,
                         const struct cost_params *cp, uint64_t tokens, long items, char *line,
                         size_t linecap)
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
        struct cost_result cr;
        cost_compute(cp, rd.joules, rd.seconds, (double)tokens, &cr);
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
    struct cli a;
    cli_init(&a, "joule eval", argc, argv);
    struct cli_common c;
    cli_common_init(&c, CLI_MODEL | CLI_DEVICE | CLI_SEED | CLI_TDP | CLI_COST);
    const char *suites = NULL, *log_path = NULL, *data = NULL;
    char data_dir[1024];
    default_data_dir(data_dir, sizeof data_dir);
    struct eval_opts o = {0};
    o.shots = -1, o.seed = -1, o.shard_i = 1, o.shard_n = 1;
    o.progress = isatty(2) ? show_progress : NULL;
    long max_len = 0;
    bool json = false, list = false, hash = true, bos = false;
    int merge_from = 0;
    static const char *const outputs[] = {"md", "json", NULL};
    static const char *const styles[] = {"lm-eval", "llama.cpp", NULL};
    while (cli_next(&a)) {
        int k;
        if (cli_is_help(&a))
            return printf("%s%s%s%s%s", eval_help,
                          "  -s, --seed S          few-shot sampling seed, 0 to 2^32-1 (default "
                          "1234, lm-eval's\n"
                          "                        fewshot_random_seed; -1 = random, printed)\n",
                          cli_help_device, cli_help_tdp, cli_help_cost),
                   0;
        int r = cli_common_flag(&a, &c);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (cli_is(&a, NULL, "--list"))
            list = true;
        else if (cli_is(&a, NULL, "--bos"))
            bos = true;
        else if (cli_is(&a, NULL, "--no-bos"))
            bos = false;
        else if (cli_is(&a, NULL, "--progress"))
            o.progress = show_progress;
        else if (cli_is(&a, NULL, "--no-progress"))
            o.progress = NULL;
        else if (cli_is(&a, NULL, "--no-hash"))
            hash = false;
        else if (cli_is(&a, NULL, "--merge")) {
            merge_from = a.i + 1;
            break;
        } else if (cli_is(&a, NULL, "--suite") || cli_is(&a, NULL, "--suites")) {
            if (!cli_str(&a, &suites)) return 2;
        } else if (cli_is(&a, NULL, "--data")) {
            if (!cli_str(&a, &data)) return 2;
            snprintf(data_dir, sizeof data_dir, "%s", data);
        } else if (cli_is(&a, NULL, "--log-items")) {
            if (!cli_str(&a, &log_path)) return 2;
        } else if (cli_is(&a, "-o", "--output")) {
            if (!cli_choice(&a, outputs, &k)) return 2;
            json = k == 1;
        } else if (cli_is(&a, NULL, "--style")) {
            if (!cli_choice(&a, styles, &k)) return 2;
            o.style = k == 1 ? STYLE_LLAMACPP : STYLE_LMEVAL;
        } else if (cli_is(&a, NULL, "--limit")) {
            if (!cli_long(&a, 1, 1L << 40, &o.limit)) return 2;
        } else if (cli_is(&a, NULL, "--shots")) {
            long v;
            if (!cli_long(&a, 0, 1000, &v)) return 2;
            o.shots = (int)v;
        } else if (cli_is(&a, NULL, "--max-length")) {
            if (!cli_long(&a, 16, 1 << 20, &max_len)) return 2;
        } else if (cli_is(&a, NULL, "--shard")) {
            const char *val;
            long si, sn;
            char tail;
            if (!cli_str(&a, &val)) return 2;
            if (sscanf(val, "%ld/%ld%c", &si, &sn, &tail) != 2 || sn < 1 || si < 1 || si > sn ||
                sn > 1000000)
                return cli_usage(&a, "bad value '%s' for --shard (I/N with 1 <= I <= N)", val);
            o.shard_i = (int)si, o.shard_n = (int)sn;
        } else
            return cli_unknown(&a);
    }
    int rc = cli_common_finish(&a, &c);
    if (rc) return rc;
    if (c.seed_set) {
        if (c.seed > 4294967295u)
            return cli_usage(&a, "bad value %llu for --seed (an integer from 0 to 2^32-1, or -1)",
                             (unsigned long long)c.seed);
        o.seed = (long)c.seed;
    }
    const char *model_path = c.model;
    char err[1024] = "";
    if (list) return list_suites(&a, data_dir);
    if (merge_from) {
        if (merge_from >= argc) return cli_usage(&a, "--merge needs result files");
        struct eval_result *res;
        int n;
        if (eval_merge((const char *const *)argv + merge_from, argc - merge_from, &res, &n, err,
                       sizeof err))
            return cli_fail(&a, "%s", err);
        struct eval_run_info info = {
            .shard_i = 1, .shard_n = 1, .style = res && n ? res[0].style : "lm-eval"};
        print_results(json, &info, res, n);
        for (int k = 0; k < n; k++)
            eval_result_free(&res[k]);
        free(res);
        return 0;
    }
    if (!model_path) return cli_usage(&a, "missing -m MODEL");
    if (!suites) return cli_usage(&a, "missing --suite NAME[,NAME...] (see --list)");

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
        if (nd == 32) return cli_usage(&a, "too many suites");
        if (suite_load(s, &defs[nd], err, sizeof err)) {
            for (int k = 0; k < nd; k++)
                suite_free(&defs[k]);
            return cli_fail(&a, "%s", err);
        }
        nd++;
        if (suite_check_data(&defs[nd - 1], data_dir, err, sizeof err)) {
            for (int k = 0; k < nd; k++)
                suite_free(&defs[k]);
            return cli_fail(&a, "%s", err);
        }
    }
    struct model *m = NULL;
    struct backend *b = NULL;
    struct eval_runner r = {0};
    struct eval_result *res = calloc((size_t)nd, sizeof *res);
    struct meter *mt = NULL;
    int done = 0;
    FILE *log = NULL;
    char sha[65] = "", *ejson = NULL, eline[512] = "";
    if (!res) {
        rc = cli_fail(&a, "out of memory");
        goto out;
    }
    if (model_load(model_path, &m, err, sizeof err)) {
        rc = cli_fail(&a, "%s", err);
        goto out;
    }
    if (!m->tok) {
        snprintf(err, sizeof err, "%s: the vocabulary cannot be used for evaluation yet: %s",
                 model_path, m->tok_err);
        rc = cli_fail(&a, "%s", err);
        goto out;
    }
    int32_t ml = max_len ? (int32_t)max_len : m->cfg.n_ctx_train;
    if (!max_len && ml > 4096) ml = 4096;
    if (ml < 16) ml = 16;
    int32_t need = ml;
    for (int k = 0; k < nd; k++)
        if (defs[k].type == SUITE_PPL && defs[k].ppl_ctx > need) need = defs[k].ppl_ctx;
    if ((rc = cli_open_backend(&a, &c, m, need, &b))) goto out;
    if (runner_init(&r, b, m, ml, bos, err, sizeof err)) {
        rc = cli_fail(&a, "%s", err);
        goto out;
    }
    if (log_path && !(log = fopen(log_path, "w"))) {
        snprintf(err, sizeof err, "%s: %s", log_path, strerror(errno));
        rc = cli_fail(&a, "%s", err);
        goto out;
    }
    o.data_dir = data_dir;
    o.log_items = log;
    if (hash && sha256_file(model_path, sha, err, sizeof err)) {
        rc = cli_fail(&a, "%s", err);
        goto out;
    }
    mt = cli_meter_open(&c, b);
    struct meter_window w;
    if (mt) meter_window_begin(mt, &w);
    uint64_t tok0 = r.tokens;
    long items = 0;
    for (int k = 0; k < nd; k++) {
        if (eval_run_suite(&defs[k], &r, &o, &res[k], err, sizeof err)) {
            eval_result_free(&res[k]);
            rc = cli_fail(&a, "%s", err);
            goto out;
        }
        items += res[k].n_rows;
        done++;
    }
    if (mt) {
        meter_window_end(mt, &w);
        ejson = energy_json(mt, &w, &c.cost, r.tokens - tok0, items, eline, sizeof eline);
    }
    struct eval_run_info info = {.model_path = model_path,
                                 .model_sha256 = sha,
                                 .model_name = m->cfg.name,
                                 .arch = m->cfg.arch_name,
                                 .backend = b->name,
                                 .device = b->device,
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
    if (log && file_close(log, log_path, err, sizeof err) != 0 && rc == 0)
        rc = cli_fail(&a, "%s", err);
    if (mt) meter_close(mt);
    runner_free(&r);
    backend_destroy(b);
    if (m) model_free(m);
    return rc;
}
