/* eval_lmeval — see eval_lmeval.h. */
#include "eval_lmeval.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "eval_json.h"
#include "fileio.h"
#include "provenance.h"

void eval_lmeval_task(const struct eval_result *r, char *name, size_t len, char *version,
                      size_t vlen)
{
    /* the suite's task line: "lm-eval arc_easy 1.0" */
    char word[3][128] = {"", "", ""};
    int n = sscanf(r->task, "%127s %127s %127s", word[0], word[1], word[2]);
    if (n >= 2 && !strcmp(word[0], "lm-eval") && strcmp(word[1], "(default),")) {
        snprintf(name, len, "%s", word[1]);
        snprintf(version, vlen, "%.15s",
                 n >= 3 && strchr("0123456789", word[2][0]) ? word[2] : "1.0");
    } else {
        snprintf(name, len, "%s", r->suite);
        for (char *p = name; *p; p++)
            if (*p == '-') *p = '_';
        snprintf(version, vlen, "1.0");
    }
}

int eval_lmeval_dir(const char *dir, const char *model_path, char *out, size_t len, char *err,
                    size_t errlen)
{
    char sane[512];
    size_t k = 0;
    /* lm-eval's '/' -> "__", without leading "/", "./" or "../" (a hidden "..__x" folder) */
    const char *p = model_path;
    for (;;) {
        if (*p == '/')
            p++;
        else if (!strncmp(p, "./", 2))
            p += 2;
        else if (!strncmp(p, "../", 3))
            p += 3;
        else
            break;
    }
    for (; *p && k + 3 < sizeof sane; p++) {
        if (*p == '/') {
            sane[k++] = '_', sane[k++] = '_';
        } else
            sane[k++] = *p;
    }
    sane[k] = 0;
    if (file_mkdirs(dir, err, errlen)) return -1;
    int w = snprintf(out, len, "%s/%s", dir, sane);
    if (w < 0 || (size_t)w >= len) {
        snprintf(err, errlen, "%s: path too long", dir);
        return -1;
    }
    if (file_mkdirs(out, err, errlen)) return -1;
    return 0;
}

static bool higher_is_better(const char *metric)
{
    return !strstr(metric, "perplexity") && !strstr(metric, "bits_per_byte") &&
           strcmp(metric, "ppl");
}

static void metric_key(char *buf, size_t len, const char *task, const struct eval_metric *m)
{
    if (!m->group[0]) {
        snprintf(buf, len, "%s", task);
        return;
    }
    snprintf(buf, len, "%s_%s", task, m->group);
    for (char *p = buf; *p; p++)
        *p = *p == ' ' || *p == '-' ? '_' : (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
}

static void write_metrics(FILE *f, const struct eval_result *r, const char *task, const char *group,
                          int *first)
{
    bool open = false;
    for (int i = 0; i < r->n_metrics; i++) {
        const struct eval_metric *m = &r->metrics[i];
        if (strcmp(m->group, group) || isnan(m->value)) continue;
        if (!open) {
            char key[256];
            metric_key(key, sizeof key, task, m);
            fprintf(f, "%s\n    ", *first ? "" : ",");
            json_write_str(f, key);
            fprintf(f, ": {\"alias\": ");
            if (m->group[0]) {
                char alias[128];
                snprintf(alias, sizeof alias, " - %s", m->group);
                json_write_str(f, alias);
            } else
                json_write_str(f, task);
            open = true;
            *first = 0;
        }
        char k[96];
        snprintf(k, sizeof k, "%s,none", m->name);
        fputs(", ", f);
        json_write_str(f, k);
        fputs(": ", f);
        json_write_num(f, m->value);
        snprintf(k, sizeof k, "%s_stderr,none", m->name);
        fputs(", ", f);
        json_write_str(f, k);
        fputs(": ", f);
        if (isnan(m->se))
            fputs("\"N/A\"", f);
        else
            json_write_num(f, m->se);
    }
    if (open) fputc('}', f);
}

/* Names result r's task (and its version in ver) and writes sep and the task as a JSON key. */
static void task_key(FILE *f, const struct eval_result *r, const char *sep, char *task,
                     size_t tasklen, char *ver, size_t verlen)
{
    eval_lmeval_task(r, task, tasklen, ver, verlen);
    fputs(sep, f);
    json_write_str(f, task);
}

int eval_lmeval_write(const char *folder, const char *stamp, const struct eval_run_info *info,
                      const struct eval_result *res, int n, double seconds, char *path,
                      size_t pathlen, char *err, size_t errlen)
{
    char tmp[2200];
    int w = snprintf(path, pathlen, "%s/results_%s.json", folder, stamp);
    if (w < 0 || (size_t)w >= pathlen) {
        snprintf(err, errlen, "%s: path too long", folder);
        return -1;
    }
    FILE *f = file_open_tmp(path, tmp, sizeof tmp, err, errlen);
    if (!f) return -1;
    char task[128], ver[32];
    int first = 1;
    fprintf(f, "{\n  \"results\": {");
    for (int s = 0; s < n; s++) {
        eval_lmeval_task(&res[s], task, sizeof task, ver, sizeof ver);
        write_metrics(f, &res[s], task, "", &first);
        /* subtasks and groups (MMLU's subjects and categories), each its own entry */
        for (int i = 0; i < res[s].n_metrics; i++) {
            const struct eval_metric *m = &res[s].metrics[i];
            bool seen = !m->group[0];
            for (int j = 0; j < i && !seen; j++)
                seen = !strcmp(res[s].metrics[j].group, m->group);
            if (!seen) write_metrics(f, &res[s], task, m->group, &first);
        }
    }
    fprintf(f, "\n  },\n  \"group_subtasks\": {");
    for (int s = 0; s < n; s++) {
        task_key(f, &res[s], s ? ",\n    " : "\n    ", task, sizeof task, ver, sizeof ver);
        fprintf(f, ": [");
        int k = 0;
        for (int i = 0; i < res[s].n_metrics; i++) {
            const struct eval_metric *m = &res[s].metrics[i];
            bool seen = m->level != 2 || !m->group[0];
            for (int j = 0; j < i && !seen; j++)
                seen = !strcmp(res[s].metrics[j].group, m->group);
            if (seen) continue;
            char key[256];
            metric_key(key, sizeof key, task, m);
            fputs(k++ ? ", " : "", f);
            json_write_str(f, key);
        }
        fputc(']', f);
    }
    fprintf(f, "\n  },\n  \"configs\": {");
    for (int s = 0; s < n; s++) {
        task_key(f, &res[s], s ? ",\n    " : "\n    ", task, sizeof task, ver, sizeof ver);
        fprintf(f, ": {\"task\": ");
        json_write_str(f, task);
        fprintf(f, ", \"num_fewshot\": %d, \"metadata\": {\"version\": %s}, \"joule_suite\": ",
                res[s].shots, ver);
        json_write_str(f, res[s].def);
        fputc('}', f);
    }
    fprintf(f, "\n  },\n  \"versions\": {");
    for (int s = 0; s < n; s++) {
        task_key(f, &res[s], s ? ", " : "", task, sizeof task, ver, sizeof ver);
        fprintf(f, ": %s", ver);
    }
    fprintf(f, "},\n  \"n-shot\": {");
    for (int s = 0; s < n; s++) {
        task_key(f, &res[s], s ? ", " : "", task, sizeof task, ver, sizeof ver);
        fprintf(f, ": %d", res[s].shots);
    }
    fprintf(f, "},\n  \"higher_is_better\": {");
    for (int s = 0; s < n; s++) {
        task_key(f, &res[s], s ? ", " : "", task, sizeof task, ver, sizeof ver);
        fputs(": {", f);
        int k = 0;
        for (int i = 0; i < res[s].n_metrics; i++) {
            const struct eval_metric *m = &res[s].metrics[i];
            if (m->group[0]) continue;
            fputs(k++ ? ", " : "", f);
            json_write_str(f, m->name);
            fprintf(f, ": %s", higher_is_better(m->name) ? "true" : "false");
        }
        fputc('}', f);
    }
    fprintf(f, "},\n  \"n-samples\": {");
    for (int s = 0; s < n; s++) {
        task_key(f, &res[s], s ? ", " : "", task, sizeof task, ver, sizeof ver);
        fprintf(f, ": {\"original\": %ld, \"effective\": %ld}", res[s].n_items, res[s].n_rows);
    }
    fprintf(f, "},\n  \"config\": {\"model\": \"joule\", \"model_args\": ");
    char args[1200];
    snprintf(args, sizeof args, "pretrained=%s", info->model_path ? info->model_path : "");
    json_write_str(f, args);
    fprintf(f, ", \"batch_size\": 1, \"batch_sizes\": [], \"device\": ");
    json_write_str(f, info->device ? info->device : "");
    fprintf(f, ", \"use_cache\": null, \"limit\": ");
    if (info->limit > 0)
        fprintf(f, "%ld", info->limit);
    else
        fputs("null", f);
    fprintf(f, ", \"bootstrap_iters\": 0, \"gen_kwargs\": null, \"fewshot_seed\": %ld},\n",
            info->seed >= 0 ? info->seed : 1234);
    fprintf(f, "  \"git_hash\": ");
    json_write_str(f, prov_git_commit());
    fprintf(f, ",\n  \"date\": %lld,\n  \"model_name\": ", (long long)time(NULL));
    json_write_str(f, info->model_path ? info->model_path : "");
    const char *slash = strrchr(folder, '/');
    fprintf(f, ",\n  \"model_name_sanitized\": ");
    json_write_str(f, slash ? slash + 1 : folder);
    fprintf(f, ",\n  \"total_evaluation_time_seconds\": \"%.3f\",\n  \"joule\": {\"sha256\": ",
            seconds);
    json_write_str(f, info->model_sha256 ? info->model_sha256 : "");
    fprintf(f, ", \"backend\": ");
    json_write_str(f, info->backend ? info->backend : "");
    fprintf(f, ", \"max_length\": %d, \"bos\": %s, \"style\": ", info->max_len,
            info->bos ? "true" : "false");
    json_write_str(f, info->style ? info->style : "lm-eval");
    if (info->energy_json) fprintf(f, ", \"energy\": %s", info->energy_json);
    fprintf(f, ", \"joule_version\": \"%s\"}\n}\n", JOULE_RELEASE);
    return file_commit(f, tmp, path, err, errlen);
}
