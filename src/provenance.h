/* provenance — where a result came from, written into every result file: the joule
 * version and the git commit it was built from, the result schema, a UTC timestamp, the
 * command line, the host, its CPU model, the device the backend reported (a GPU's name
 * and driver), the threads and the precision.
 *
 * prov_write_json writes one JSON object:
 *   {"joule_version": "0.1.0", "git_commit": "7ed071d...", "schema": "joule-sweep-unit/1",
 *    "timestamp": "2026-12-05T05:10:00Z", "command_line": ["joule", "sweep", ...],
 *    "host": "...", "cpu_model": "...", "device": "...", "threads": 2, "precision": "exact"}
 * A string that is unknown is written as null; the commit is "unknown" when the build had
 * no git checkout.
 */
#ifndef JOULE_PROVENANCE_H
#define JOULE_PROVENANCE_H

#include <stddef.h>
#include <stdio.h>

/* The release number; engine.c's --version prints the same. */
#define JOULE_RELEASE "0.1.0"

struct prov_info {
    const char *schema; /* "joule-sweep-unit/1", ... */
    int argc;           /* the command's arguments, argv[0] its name ("sweep"); written
                           after "joule" */
    char *const *argv;
    const char *device;    /* the backend's device description, or NULL */
    int threads;           /* 0: unknown */
    const char *precision; /* NULL: "exact" (the only precision today) */
};

/* The git commit joule was built from ("unknown" without a checkout). */
const char *prov_git_commit(void);
/* The CPU model name from /proc/cpuinfo into buf ("" when it cannot be read). */
void prov_cpu_model(char *buf, size_t len);
/* Now as "YYYY-MM-DDTHH:MM:SSZ". */
void prov_timestamp(char *buf, size_t len);
void prov_write_json(FILE *f, const struct prov_info *p);

#endif
