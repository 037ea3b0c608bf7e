/* provenance — see provenance.h. */
#include "provenance.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

#include "eval_json.h"

/* build.sh writes build/gen/version.h with JOULE_GIT_COMMIT; a build without it (or without
 * git) still works and says "unknown". */
#if defined(__has_include)
#if __has_include("version.h")
#include "version.h"
#endif
#endif
#ifndef JOULE_GIT_COMMIT
#define JOULE_GIT_COMMIT "unknown"
#endif

const char *prov_git_commit(void)
{
    return JOULE_GIT_COMMIT;
}

void prov_cpu_model(char *buf, size_t len)
{
    if (len) buf[0] = 0;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        /* x86: "model name"; arm64: no model name, "CPU part" is not a name: leave "" */
        if (strncmp(line, "model name", 10) != 0) continue;
        const char *p = strchr(line, ':');
        if (!p) continue;
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        snprintf(buf, len, "%s", p);
        buf[strcspn(buf, "\n")] = 0;
        break;
    }
    fclose(f);
}

void prov_timestamp(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, len, "unknown");
}

static void str_or_null(FILE *f, const char *s)
{
    if (s && *s)
        json_write_str(f, s);
    else
        fputs("null", f);
}

void prov_write_json(FILE *f, const struct prov_info *p)
{
    char ts[64], cpu[256], host[256];
    prov_timestamp(ts, sizeof ts);
    prov_cpu_model(cpu, sizeof cpu);
    if (gethostname(host, sizeof host) != 0) host[0] = 0;
    host[sizeof host - 1] = 0;
    fprintf(f, "{\"joule_version\": \"%s\", \"git_commit\": ", JOULE_RELEASE);
    json_write_str(f, prov_git_commit());
    fprintf(f, ", \"schema\": ");
    str_or_null(f, p->schema);
    fprintf(f, ", \"timestamp\": \"%s\", \"command_line\": [", ts);
    fputs("\"joule\"", f);
    for (int i = 0; i < p->argc; i++) {
        fputs(", ", f);
        json_write_str(f, p->argv[i]);
    }
    fprintf(f, "], \"host\": ");
    str_or_null(f, host);
    fprintf(f, ", \"cpu_model\": ");
    str_or_null(f, cpu);
    fprintf(f, ", \"device\": ");
    str_or_null(f, p->device);
    fprintf(f, ", \"threads\": ");
    if (p->threads > 0)
        fprintf(f, "%d", p->threads);
    else
        fputs("null", f);
    fprintf(f, ", \"precision\": ");
    json_write_str(f, p->precision ? p->precision : "exact");
    fputc('}', f);
}
