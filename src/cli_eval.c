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
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "cli_util.h"
#include "cpu.h"
#include "device.h"
#include "eval.h"
#include "eval_json.h"
#include "eval_lmeval.h"
#include "eval_sha256.h"
#include "fileio.h"
#include "meter.h"
#include "model.h"
#include "tokenizer.h"

static const char *eval_help =
    "usage: joule eval -m MODEL --suite NAME[,NAME...] [options]\n"
    "       joule eval --list [--data DIR]\n"
    "       joule eval --merge FILE.json... [-o json|md]   (options before or after the files)\n"
    "Scores a model on standard quality suites exactly as lm-evaluation-harness scores them\n"
    "(acc, acc_norm, mc1/mc2, exact match, word/byte perplexity, with standard errors), or in\n"
    "llama.cpp's conventions with --style llama.cpp.\n"
    "\n"
    "suites: wikitext, hellaswag, arc-easy, arc-challenge, mmlu, winogrande, piqa, "
    "truthfulqa-mc1,\n"
    "        truthfulqa-mc2, lambada, boolq, gsm8k, all (every one), or a path to a .suite file;\n"
    "        lm-eval's task names too (arc_easy, arc_challenge, lambada_openai, truthfulqa_mc1,\n"
    "        truthfulqa_mc2)\n"
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
    "  --log-items FILE      every item's prompt, continuations, log-likelihoods and decision as\n"
    "                        JSON lines\n"
    "  --output-path DIR     also write lm-evaluation-harness's results file,\n"
    "                        DIR/<model>/results_<time>.json (results.<task>.\"acc,none\", ...)\n"
    "  --log-samples         with --output-path: every item of each task in\n"
    "                        DIR/<model>/samples_<task>_<time>.jsonl (lines as --log-items)\n"
    "  --resume FILE         continue an interrupted run from its -o json result: its items are\n"
    "                        kept, the rest run, the result is that of an uninterrupted run\n"
    "                        (same settings; write the new result to another file)\n"
    "Ctrl-C (or SIGTERM) finishes the item in progress, writes the results so far marked\n"
    "\"partial\": true and \"interrupted\": true, and exits with status 130; again quits at once.\n"
    "  --shard I/N           evaluate only the I-th (1..N) of N contiguous slices of every suite;\n"
    "                        write -o json and combine the shards with --merge\n"
    "  --merge FILES...      combine --shard results (JSON) into the scores of a whole run (the\n"
    "                        files are checked, never trusted; options may come anywhere; a suite\n"
    "                        that is not built in needs its file: --suite PATH); refuses files\n"
    "                        of other models, settings or suite versions; keeps the model,\n"
    "                        device and settings, and sums the shards' energy\n"
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

/* lm-evaluation-harness's task names for the same suites, accepted wherever a suite is named */
static const char *suite_alias(const char *name)
{
    static const char *const alias[][2] = {{"arc_easy", "arc-easy"},
                                           {"arc_challenge", "arc-challenge"},
                                           {"lambada_openai", "lambada"},
                                           {"truthfulqa_mc1", "truthfulqa-mc1"},
                                           {"truthfulqa_mc2", "truthfulqa-mc2"}};
    for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++)
        if (!strcmp(name, alias[i][0])) return alias[i][1];
    return name;
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

enum { EVAL_MAX_SUITES = 32, EVAL_MAX_MERGE = 4096 };

static bool is_builtin(const char *name)
{
    for (int i = 0; i < suite_builtin_count(); i++)
        if (!strcmp(suite_builtin_name(i), name)) return true;
    return false;
}

/* The suites of a --suite list ("all": every built-in one) into defs; with data_dir, their
 * data is checked too. An empty list or name, a name given twice and an unknown built-in
 * name are usage errors (2); a suite file that cannot be read is 1. */
static int load_suites(const struct cli *a, const char *list, const char *data_dir,
                       struct suite_def *defs, int *nd)
{
    char names[2048], err[1024];
    *nd = 0;
    if (strlen(list) >= sizeof names) return cli_usage(a, "--suite list too long");
    size_t ll = strlen(list);
    if (!ll || list[0] == ',' || list[ll - 1] == ',' || strstr(list, ",,"))
        return cli_usage(a, "bad value '%s' for --suite (an empty suite name)", list);
    snprintf(names, sizeof names, "%s", !strcmp(list, "all") ? "" : list);
    if (!strcmp(list, "all"))
        for (size_t i = 0; i < sizeof all_suites / sizeof all_suites[0]; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? "," : "",
                     all_suites[i]);
    int rc = 0;
    for (char *p = names, *next; p && !rc; p = next) {
        next = strchr(p, ',');
        if (next) *next++ = 0;
        bool path = strchr(p, '/') || (strlen(p) > 6 && !strcmp(p + strlen(p) - 6, ".suite"));
        if (!*p)
            rc = cli_usage(a, "bad value '%s' for --suite (an empty suite name)", list);
        else if (!path && !is_builtin(suite_alias(p)))
            rc = cli_usage(a, "unknown suite '%s' (see --list; a suite file needs a '/' or .suite)",
                           p);
        else if (*nd == EVAL_MAX_SUITES)
            rc = cli_usage(a, "too many suites (at most %d)", EVAL_MAX_SUITES);
        else if (suite_load(path ? p : suite_alias(p), &defs[*nd], err, sizeof err))
            rc = cli_fail(a, "%s", err);
        else {
            (*nd)++;
            for (int k = 0; k < *nd - 1 && !rc; k++)
                if (!strcmp(defs[k].name, defs[*nd - 1].name))
                    rc = cli_usage(a, "suite %s given twice in --suite", defs[k].name);
        }
    }
    for (int k = 0; k < *nd && !rc && data_dir; k++)
        if (suite_check_data(&defs[k], data_dir, err, sizeof err)) rc = cli_fail(a, "%s", err);
    if (rc) {
        for (int k = 0; k < *nd; k++)
            suite_free(&defs[k]);
        *nd = 0;
    }
    return rc;
}

/* What the shards of a merge share (read from the files eval_merge accepted), and their
 * energy summed. */
struct merge_meta {
    char path[512], sha[80], name[128], arch[32], backend[32], device[256], style[16];
    long limit, seed;
    int shots, max_len;
    bool bos;
    char energy[512];
};

static void merge_meta(const char *const *files, int n, struct merge_meta *mm)
{
    memset(mm, 0, sizeof *mm);
    mm->shots = -1, mm->seed = -1;
    double joules = 0, seconds = 0, tokens = 0;
    char source[32] = "";
    bool energy = true;
    for (int f = 0; f < n; f++) {
        char err[256];
        size_t len;
        char *text = file_read_all(files[f], &len, err, sizeof err);
        struct jval v;
        if (!text || json_parse(text, len, &v, err, sizeof err)) {
            free(text);
            energy = false;
            continue;
        }
        free(text);
        const struct jval *m = json_get(&v, "model"), *st = json_get(&v, "settings"),
                          *e = json_get(&v, "energy");
        const char *dev = json_str(json_get(&v, "device"));
        if (f == 0) {
            snprintf(mm->path, sizeof mm->path, "%s", json_str(json_get(m, "path")));
            snprintf(mm->sha, sizeof mm->sha, "%s", json_str(json_get(m, "sha256")));
            snprintf(mm->name, sizeof mm->name, "%s", json_str(json_get(m, "name")));
            snprintf(mm->arch, sizeof mm->arch, "%s", json_str(json_get(m, "arch")));
            snprintf(mm->backend, sizeof mm->backend, "%s", json_str(json_get(&v, "backend")));
            snprintf(mm->device, sizeof mm->device, "%s", dev);
            mm->limit = (long)json_num(json_get(st, "limit"), 0);
            mm->shots = (int)json_num(json_get(st, "shots"), -1);
            mm->seed = (long)json_num(json_get(st, "seed"), -1);
            mm->max_len = (int)json_num(json_get(st, "max_length"), 0);
            mm->bos = !strcmp(json_str(json_get(st, "bos")), "true");
        } else if (strcmp(mm->device, dev)) {
            snprintf(mm->device, sizeof mm->device, "several devices");
        }
        double j = json_num(json_get(e, "joules"), NAN), t = json_num(json_get(e, "tokens"), NAN);
        const char *src = json_str(json_get(e, "source"));
        if (isnan(j) || isnan(t))
            energy = false;
        else {
            joules += j, tokens += t, seconds += json_num(json_get(e, "seconds"), 0);
            if (!source[0])
                snprintf(source, sizeof source, "%s", src);
            else if (strcmp(source, src))
                snprintf(source, sizeof source, "mixed");
        }
        json_free(&v);
    }
    if (energy && joules > 0)
        snprintf(mm->energy, sizeof mm->energy,
                 "{\"source\":\"%s\",\"seconds\":%.3f,\"joules\":%.3f,\"tokens\":%.0f,"
                 "\"tokens_per_j\":%.6g,\"shards\":%d}",
                 source, seconds, joules, tokens, tokens / joules, n);
}

int cli_eval(int argc, char **argv)
{
    struct cli a;
    cli_init(&a, "joule eval", argc, argv);
    struct cli_common c;
    cli_common_init(&c, CLI_MODEL | CLI_DEVICE | CLI_SEED | CLI_TDP | CLI_COST);
    const char *suites = NULL, *log_path = NULL, *data = NULL, *resume_path = NULL;
    const char *out_path = NULL;
    bool log_samples = false;
    char data_dir[1024];
    default_data_dir(data_dir, sizeof data_dir);
    struct eval_opts o = {0};
    o.shots = -1, o.seed = -1, o.shard_i = 1, o.shard_n = 1;
    o.progress = isatty(2) ? show_progress : NULL;
    long max_len = 0;
    bool json = false, list = false, hash = true, bos = false;
    bool merge = false;
    int n_merge = 0;
    const char *merge_files[EVAL_MAX_MERGE];
    static const char *const outputs[] = {"md", "json", NULL};
    static const char *const styles[] = {"lm-eval", "llama.cpp", NULL};
    while (cli_next(&a)) {
        int k;
        if (cli_is_help(&a))
            return printf("%s%s%s%s%s%s", eval_help,
                          "  -s, --seed S          few-shot sampling seed, 0 to 2^32-1 (default "
                          "1234, lm-eval's\n"
                          "                        fewshot_random_seed; -1 = random, printed)\n",
                          cli_help_device, cli_help_threads, cli_help_tdp, cli_help_cost),
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
        else if (cli_is(&a, NULL, "--log-samples"))
            log_samples = true;
        else if (cli_is(&a, NULL, "--output-path")) {
            if (!cli_str(&a, &out_path)) return 2;
        } else if (cli_is(&a, NULL, "--merge"))
            merge = true; /* the files follow; other options may come before or after */
        else if (merge && (cli_arg(&a)[0] != '-' || !strcmp(cli_arg(&a), "-"))) {
            if (n_merge == EVAL_MAX_MERGE)
                return cli_usage(&a, "too many files for --merge (at most %d)", EVAL_MAX_MERGE);
            merge_files[n_merge++] = cli_arg(&a);
        } else if (cli_is(&a, NULL, "--suite") || cli_is(&a, NULL, "--suites")) {
            if (!cli_str(&a, &suites)) return 2;
        } else if (cli_is(&a, NULL, "--data")) {
            if (!cli_str(&a, &data)) return 2;
            snprintf(data_dir, sizeof data_dir, "%s", data);
        } else if (cli_is(&a, NULL, "--resume")) {
            if (!cli_str(&a, &resume_path)) return 2;
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
            char part[32];
            long si = 0, sn = 0;
            if (!cli_str(&a, &val)) return 2;
            const char *slash = strchr(val, '/');
            size_t pl = slash ? (size_t)(slash - val) : 0;
            if (pl < sizeof part) memcpy(part, val, pl), part[pl] = 0;
            if (!slash || pl >= sizeof part || !cli_parse_long(slash + 1, 1, 1000000, &sn) ||
                !cli_parse_long(part, 1, sn, &si))
                return cli_usage(&a, "bad value '%s' for --shard (I/N with 1 <= I <= N <= 1000000)",
                                 val);
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
    struct suite_def defs[EVAL_MAX_SUITES];
    int nd = 0;
    if (merge) {
        if (n_merge == 0) return cli_usage(&a, "--merge needs result files");
        /* --suite names the suite files of suites that are not built in */
        if (suites && (rc = load_suites(&a, suites, NULL, defs, &nd))) return rc;
        struct eval_result *res;
        int n;
        rc = eval_merge_defs(merge_files, n_merge, defs, nd, &res, &n, err, sizeof err);
        for (int k = 0; k < nd; k++)
            suite_free(&defs[k]);
        if (rc) return cli_fail(&a, "%s", err);
        /* the merged file keeps what the shards share: model, device, settings, energy summed */
        struct merge_meta mm;
        merge_meta(merge_files, n_merge, &mm);
        struct eval_run_info info = {.model_path = mm.path,
                                     .model_sha256 = mm.sha,
                                     .model_name = mm.name,
                                     .arch = mm.arch,
                                     .backend = mm.backend,
                                     .device = mm.device,
                                     .max_len = mm.max_len,
                                     .bos = mm.bos,
                                     .limit = mm.limit,
                                     .shots = mm.shots,
                                     .seed = mm.seed,
                                     .style = res && n ? res[0].style : "lm-eval",
                                     .shard_i = 1,
                                     .shard_n = 1,
                                     .energy_json = mm.energy[0] ? mm.energy : NULL,
                                     .argc = argc,
                                     .argv = argv};
        print_results(json, &info, res, n);
        for (int k = 0; k < n; k++)
            eval_result_free(&res[k]);
        free(res);
        return 0;
    }
    if (!model_path) return cli_usage(&a, "missing -m MODEL");
    if (log_samples && !out_path) return cli_usage(&a, "--log-samples needs --output-path DIR");
    if (log_samples && log_path)
        return cli_usage(&a, "give --log-items FILE or --log-samples, not both");
    if (!suites) return cli_usage(&a, "missing --suite NAME[,NAME...] (see --list)");
    /* suites first: a typo should not cost a model load */
    if ((rc = load_suites(&a, suites, data_dir, defs, &nd))) return rc;
    struct model *m = NULL;
    struct backend *b = NULL;
    struct eval_runner r = {0};
    struct eval_result *res = calloc((size_t)nd, sizeof *res);
    struct meter *mt = NULL;
    int done = 0;
    FILE *log = NULL;
    char sha[65] = "", *ejson = NULL, eline[512] = "";
    struct eval_result *prev = NULL;
    int n_prev = 0;
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
    if ((rc = cli_open_backend(&a, &c, m, need, 1, &b))) goto out;
    if (runner_init(&r, b, m, ml, bos, err, sizeof err)) {
        rc = cli_fail(&a, "%s", err);
        goto out;
    }
    if (log_path && !(log = fopen(log_path, resume_path ? "a" : "w"))) {
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
    char folder[1400] = "", stamp[64] = "";
    if (out_path) {
        time_t now = time(NULL);
        struct tm tm;
        if (!gmtime_r(&now, &tm) || !strftime(stamp, sizeof stamp, "%Y-%m-%dT%H-%M-%S", &tm))
            snprintf(stamp, sizeof stamp, "%lld", (long long)now);
        if (eval_lmeval_dir(out_path, model_path, folder, sizeof folder, err, sizeof err)) {
            rc = cli_fail(&a, "%s", err);
            goto out;
        }
    }
    struct timespec t_start;
    clock_gettime(CLOCK_MONOTONIC, &t_start);
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
                                 .resume_from = resume_path,
                                 .argc = argc,
                                 .argv = argv};
    if (resume_path &&
        eval_read_resume(resume_path, &info, defs, nd, &prev, &n_prev, err, sizeof err)) {
        rc = cli_fail(&a, "%s", err);
        goto out;
    }
    mt = cli_meter_open(&c, b);
    struct meter_window w;
    if (mt) meter_window_begin(mt, &w);
    uint64_t tok0 = r.tokens;
    long items = 0;
    /* Ctrl-C: the item in progress finishes, the results so far are written (partial), 130 */
    cli_catch_interrupts();
    o.stop = &cli_stop;
    for (int k = 0; k < nd && !info.interrupted; k++) {
        const struct eval_result *pr = NULL;
        for (int q = 0; q < n_prev; q++)
            if (!strcmp(prev[q].suite, defs[k].name)) pr = &prev[q];
        o.resume = pr;
        char spath[1600] = "";
        if (log_samples) { /* lm-eval's per-task samples file */
            char task[128], ver[32];
            struct eval_result named = {0};
            snprintf(named.suite, sizeof named.suite, "%.63s", defs[k].name);
            snprintf(named.task, sizeof named.task, "%.127s", defs[k].task);
            eval_lmeval_task(&named, task, sizeof task, ver, sizeof ver);
            if (snprintf(spath, sizeof spath, "%s/samples_%s_%s.jsonl", folder, task, stamp) >=
                (int)sizeof spath) {
                rc = cli_fail(&a, "%s: path too long", folder);
                goto out;
            }
            if (!(log = fopen(spath, "w"))) {
                rc = cli_fail(&a, "%s: %s", spath, strerror(errno));
                goto out;
            }
            log_path = spath;
            o.log_items = log;
        }
        int run = eval_run_suite(&defs[k], &r, &o, &res[k], err, sizeof err);
        if (log_samples) {
            char cerr[512];
            int closed = file_close(log, spath, cerr, sizeof cerr);
            log = NULL, log_path = NULL, o.log_items = NULL;
            if (closed != 0 && !run) {
                eval_result_free(&res[k]);
                rc = cli_fail(&a, "%s", cerr);
                goto out;
            }
        }
        if (run) {
            eval_result_free(&res[k]);
            rc = cli_fail(&a, "%s", err);
            goto out;
        }
        if (pr) { /* the time and tokens of the items done before count too */
            res[k].seconds += pr->seconds;
            res[k].tokens += pr->tokens;
        }
        items += res[k].n_rows;
        done++;
        info.interrupted = res[k].interrupted;
    }
    if (mt) {
        meter_window_end(mt, &w);
        ejson = energy_json(mt, &w, &c.cost, r.tokens - tok0, items, eline, sizeof eline);
    }
    info.energy_json = ejson;
    print_results(json, &info, res, done);
    if (out_path) {
        struct timespec t_end;
        clock_gettime(CLOCK_MONOTONIC, &t_end);
        double secs =
            (double)(t_end.tv_sec - t_start.tv_sec) + (t_end.tv_nsec - t_start.tv_nsec) * 1e-9;
        char rpath[1700];
        if (eval_lmeval_write(folder, stamp, &info, res, done, secs, rpath, sizeof rpath, err,
                              sizeof err)) {
            rc = cli_fail(&a, "%s", err);
            goto out;
        }
        fprintf(stderr, "joule eval: lm-eval results in %s\n", rpath);
    }
    if (!json) {
        printf("\nmodel %s (%s), %s on %s, max length %d, %s BOS, style %s%s\n", model_path,
               m->cfg.arch_name, b->name, b->device, ml, bos ? "with" : "no", info.style,
               o.shard_n > 1 ? " (a shard: merge with --merge)" : "");
        if (eline[0]) printf("%s\n", eline);
        if (info.interrupted)
            printf("interrupted (Ctrl-C): the scores are those of the items finished; -o json "
                   "keeps them for --resume FILE\n");
    }
    if (info.interrupted) rc = CLI_EXIT_INTERRUPTED;
out:
    for (int k = 0; k < nd; k++)
        suite_free(&defs[k]);
    for (int k = 0; res && k < done; k++)
        eval_result_free(&res[k]);
    for (int k = 0; k < n_prev; k++)
        eval_result_free(&prev[k]);
    free(prev);
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
