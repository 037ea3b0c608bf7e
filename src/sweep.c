/* sweep — plans, unit files and resume; see sweep.h. */
#include "sweep.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eval_json.h"
#include "eval_sha256.h"
#include "fileio.h"
#include "provenance.h"

const char *sweep_kind_name(enum sweep_kind k)
{
    return k == SWEEP_BENCH ? "bench" : "eval";
}

/* the file name without folders and without ".gguf" / ".suite" */
static void stem(const char *path, char *buf, size_t len)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    snprintf(buf, len, "%s", b);
    size_t n = strlen(buf);
    static const char *const ext[] = {".gguf", ".suite", ".json"};
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        size_t e = strlen(ext[i]);
        if (n > e && !strcmp(buf + n - e, ext[i])) {
            buf[n - e] = 0;
            break;
        }
    }
}

static void safe_name(char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok) *s = c == ':' ? '-' : '_';
    }
}

static int add_unit(struct sweep_plan *p, int cap, const struct sweep_unit *u, char *err,
                    size_t errlen)
{
    if (p->n >= cap) {
        snprintf(err, errlen, "the plan has more than %d units", cap);
        return -1;
    }
    p->units[p->n] = *u;
    p->units[p->n].index = p->n;
    p->n++;
    return 0;
}

int sweep_plan_make(const struct sweep_opts *o, struct sweep_plan *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (o->n_models < 1) {
        snprintf(err, errlen, "no models (give -m MODEL[,MODEL...])");
        return -1;
    }
    if (o->n_devices < 1) {
        snprintf(err, errlen, "no devices (give --device D[,D...])");
        return -1;
    }
    int shards = o->shards < 1 ? 1 : o->shards;
    long cap = (long)o->n_models * o->n_devices * ((o->bench ? 1 : 0) + (long)o->n_suites * shards);
    if (cap < 1) {
        snprintf(err, errlen, "nothing to do: no suites and --no-bench");
        return -1;
    }
    if (cap > 1000000) {
        snprintf(err, errlen, "the plan would have %ld units (at most 1000000)", cap);
        return -1;
    }
    out->units = calloc((size_t)cap, sizeof *out->units);
    if (!out->units) {
        snprintf(err, errlen, "out of memory for a plan of %ld units", cap);
        return -1;
    }
    for (int m = 0; m < o->n_models; m++) {
        char ms[160];
        stem(o->models[m], ms, sizeof ms);
        for (int d = 0; d < o->n_devices; d++) {
            struct sweep_unit u = {.model = o->models[m], .device = o->devices[d]};
            if (o->bench) {
                u.kind = SWEEP_BENCH;
                u.shard_i = u.shard_n = 1;
                snprintf(u.id, sizeof u.id, "%s.%s.bench", ms, o->devices[d]);
                safe_name(u.id);
                if (add_unit(out, (int)cap, &u, err, errlen)) goto fail;
            }
            for (int s = 0; s < o->n_suites; s++) {
                char ss[96];
                stem(o->suites[s], ss, sizeof ss);
                for (int k = 1; k <= shards; k++) {
                    u.kind = SWEEP_EVAL;
                    u.suite = o->suites[s];
                    u.shard_i = k, u.shard_n = shards;
                    int w;
                    if (shards > 1)
                        w = snprintf(u.id, sizeof u.id, "%s.%s.%s.%dof%d", ms, o->devices[d], ss, k,
                                     shards);
                    else
                        w = snprintf(u.id, sizeof u.id, "%s.%s.%s", ms, o->devices[d], ss);
                    if (w < 0 || (size_t)w >= sizeof u.id) {
                        snprintf(err, errlen, "unit name too long for model %s", o->models[m]);
                        goto fail;
                    }
                    safe_name(u.id);
                    if (add_unit(out, (int)cap, &u, err, errlen)) goto fail;
                }
            }
        }
    }
    /* two models with the same file name (from different folders) would share files */
    for (int i = 0; i < out->n; i++)
        for (int j = i + 1; j < out->n; j++)
            if (!strcmp(out->units[i].id, out->units[j].id)) {
                snprintf(err, errlen,
                         "units %d and %d would both write %s.json (two models or devices with "
                         "the same name?)",
                         i, j, out->units[i].id);
                goto fail;
            }
    return 0;
fail:
    sweep_plan_free(out);
    return -1;
}

void sweep_plan_free(struct sweep_plan *p)
{
    free(p->units);
    p->units = NULL;
    p->n = 0;
}

int sweep_unit_path(const struct sweep_opts *o, const struct sweep_unit *u, char *buf, size_t len)
{
    int w = snprintf(buf, len, "%s/%s.json", o->outdir, u->id);
    return w < 0 || (size_t)w >= len ? -1 : 0;
}

bool sweep_unit_done(const struct sweep_opts *o, const struct sweep_unit *u)
{
    char path[2048], err[256];
    if (sweep_unit_path(o, u, path, sizeof path)) return false;
    size_t len;
    char *text = file_read_all(path, &len, err, sizeof err);
    if (!text) return false;
    struct jval v;
    bool ok = false;
    if (json_parse(text, len, &v, err, sizeof err) == 0) {
        const struct jval *c = json_get(&v, "complete"), *un = json_get(&v, "unit");
        ok = json_num(json_get(&v, "joule_sweep_unit"), 0) == SWEEP_SCHEMA && c &&
             c->type == J_BOOL && !strcmp(c->str, "true") &&
             !strcmp(json_str(json_get(un, "id")), u->id) && json_get(&v, "result") &&
             json_get(&v, "result")->type == J_OBJ;
        json_free(&v);
    }
    free(text);
    return ok;
}

int sweep_unit_argv(const struct sweep_opts *o, const struct sweep_unit *u, const char **argv,
                    int max, char *buf, size_t buflen)
{
    int n = 0;
#define PUSH(s)                                                                                    \
    do {                                                                                           \
        if (n >= max) return -1;                                                                   \
        argv[n++] = (s);                                                                           \
    } while (0)
    PUSH(sweep_kind_name(u->kind));
    PUSH("-m");
    PUSH(u->model);
    PUSH("--device");
    PUSH(u->device);
    PUSH("-o");
    PUSH("json");
    if (u->kind == SWEEP_BENCH) {
        for (int i = 0; i < o->n_bench_args; i++)
            PUSH(o->bench_args[i]);
    } else {
        PUSH("--suite");
        PUSH(u->suite);
        PUSH("--no-progress");
        if (u->shard_n > 1) {
            if (buflen < 32) return -1;
            snprintf(buf, buflen, "%d/%d", u->shard_i, u->shard_n);
            PUSH("--shard");
            PUSH(buf);
        }
        for (int i = 0; i < o->n_eval_args; i++)
            PUSH(o->eval_args[i]);
    }
#undef PUSH
    if (n >= max) return -1;
    argv[n] = NULL;
    return n;
}

static void tmp_name(const struct sweep_opts *o, const struct sweep_unit *u, char *buf, size_t len)
{
    char host[128];
    if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "host");
    host[sizeof host - 1] = 0;
    safe_name(host);
    snprintf(buf, len, "%s/.%s.json.tmp.%s.%ld", o->outdir, u->id, host, (long)getpid());
}

int sweep_unit_write(const struct sweep_opts *o, const struct sweep_unit *u,
                     const char *result_json, size_t result_len, int argc, char *const *argv,
                     int threads, bool hash, char *err, size_t errlen)
{
    char path[2048], tmp[2400];
    if (sweep_unit_path(o, u, path, sizeof path)) {
        snprintf(err, errlen, "%s: output folder name too long", o->outdir);
        return -1;
    }
    struct jval res;
    char perr[256];
    if (json_parse(result_json, result_len, &res, perr, sizeof perr) != 0) {
        snprintf(err, errlen, "%s: the %s command's output is not JSON: %s", path,
                 sweep_kind_name(u->kind), perr);
        return -1;
    }
    if (res.type != J_OBJ) {
        json_free(&res);
        snprintf(err, errlen, "%s: the %s command's output is not a JSON object", path,
                 sweep_kind_name(u->kind));
        return -1;
    }
    const char *device = json_str(json_get(json_get(&res, "backend"), "device"));
    if (!*device) device = json_str(json_get(&res, "device"));
    char device_copy[512];
    snprintf(device_copy, sizeof device_copy, "%s", device);
    json_free(&res);

    struct stat st;
    if (stat(u->model, &st) != 0) {
        snprintf(err, errlen, "%s: %s", u->model, strerror(errno));
        return -1;
    }
    char sha[65] = "";
    if (hash && sha256_file(u->model, sha, err, errlen) != 0) return -1;

    tmp_name(o, u, tmp, sizeof tmp);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        return -1;
    }
    char ms[160];
    stem(u->model, ms, sizeof ms);
    fprintf(f, "{\"joule_sweep_unit\": %d, \"complete\": true,\n\"unit\": {\"index\": %d, \"id\": ",
            SWEEP_SCHEMA, u->index);
    json_write_str(f, u->id);
    fprintf(f, ", \"kind\": \"%s\", \"model\": ", sweep_kind_name(u->kind));
    json_write_str(f, u->model);
    fprintf(f, ", \"device\": ");
    json_write_str(f, u->device);
    fprintf(f, ", \"suite\": ");
    if (u->suite)
        json_write_str(f, u->suite);
    else
        fputs("null", f);
    fprintf(f, ", \"shard\": \"%d/%d\"},\n\"provenance\": ", u->shard_i, u->shard_n);
    struct prov_info pi = {.schema = "joule-sweep-unit/1",
                           .argc = argc,
                           .argv = argv,
                           .device = device_copy,
                           .threads = threads};
    prov_write_json(f, &pi);
    fprintf(f, ",\n\"model\": {\"path\": ");
    json_write_str(f, u->model);
    fprintf(f, ", \"file\": ");
    json_write_str(f, ms);
    fprintf(f, ", \"size_bytes\": %lld, \"sha256\": ", (long long)st.st_size);
    if (sha[0])
        json_write_str(f, sha);
    else
        fputs("null", f);
    fprintf(f, "},\n\"result\": ");
    fwrite(result_json, 1, result_len, f);
    fprintf(f, "\n}\n");
    bool bad = ferror(f) != 0;
    bad |= fflush(f) != 0;
    bad |= fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad) {
        snprintf(err, errlen, "%s: write failed: %s", tmp, strerror(errno));
        remove(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}

void sweep_clean_tmp(const struct sweep_opts *o, const struct sweep_plan *p)
{
    char host[128];
    if (gethostname(host, sizeof host) != 0) return;
    host[sizeof host - 1] = 0;
    safe_name(host);
    DIR *d = opendir(o->outdir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (n[0] != '.') continue;
        for (int i = 0; i < p->n; i++) {
            size_t il = strlen(p->units[i].id);
            if (strncmp(n + 1, p->units[i].id, il) || strncmp(n + 1 + il, ".json.tmp.", 10))
                continue;
            const char *h = n + 1 + il + 10;
            size_t hl = strlen(host);
            if (strncmp(h, host, hl) || h[hl] != '.') break;
            char *end;
            long pid = strtol(h + hl + 1, &end, 10);
            if (*end || pid <= 0) break;
            if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) break; /* alive, or not ours */
            char path[2400];
            snprintf(path, sizeof path, "%s/%s", o->outdir, n);
            remove(path);
            break;
        }
    }
    closedir(d);
}
