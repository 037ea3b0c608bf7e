/* cli_report — `joule report`: options, then report.h does the work. */
#include "cli_report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"
#include "report.h"

static const char *help =
    "usage: joule report RESULTS... [-o DIR] [--quality SUITE|mean] [--cost j|usd] [--skip-bad]\n"
    "Joins the results of `joule sweep`, `joule bench -o json` and `joule eval -o json` (files, "
    "or\n"
    "folders of *.json files; from any number of runs and machines) by model (sha256, else file\n"
    "name), device and precision, and writes\n"
    "  DIR/report.md     one row per (model, quantization, device, precision): size, parameters,\n"
    "                    each suite's score ± standard error, pp and tg tokens/s, J/token,\n"
    "                    tokens/J, $/Mtok (energy, hardware), the energy source of each figure;\n"
    "                    the Pareto front; what differs between inputs that were not joined\n"
    "  DIR/report.html   the same with the charts inline, in one file\n"
    "  DIR/*.png         quality vs J/token (or $/Mtok) with the front, tokens/s and $/Mtok by\n"
    "                    model and device, quality and speed vs bits per weight per model\n"
    "Without -o the Markdown goes to stdout (no charts).\n"
    "  -o, --output DIR      the report folder (made when missing)\n"
    "  --quality Q           the front's quality axis: a suite name, or mean (default: the mean "
    "of\n"
    "                        the accuracy-like suites every evaluated row has)\n"
    "  --cost C              the front's cost axis: j (joules per generated token, default) or\n"
    "                        usd ($ per million generated tokens)\n"
    "  --skip-bad            report malformed input files on stderr and go on without them\n"
    "                        (default: stop at the first, naming the file and the field)\n";

int cli_report(int argc, char **argv)
{
    struct cli a;
    cli_init(&a, "joule report", argc, argv);
    const char *out = NULL;
    struct report_opts o = {0};
    const char **paths = calloc((size_t)argc + 1, sizeof *paths);
    int np = 0, k;
    static const char *const costs[] = {"j", "usd", NULL};
    if (!paths) return cli_fail(&a, "out of memory");
    while (cli_next(&a)) {
        const char *arg = cli_arg(&a);
        int rc = -1;
        if (cli_is_help(&a)) {
            printf("%s", help);
            rc = 0;
        } else if (cli_is(&a, NULL, "--skip-bad"))
            o.skip_bad = true;
        else if (arg[0] != '-' || !strcmp(arg, "-"))
            paths[np++] = arg;
        else if (cli_is(&a, "-o", "--output")) {
            if (!cli_str(&a, &out)) rc = 2;
        } else if (cli_is(&a, NULL, "--quality")) {
            if (!cli_str(&a, &o.quality)) rc = 2;
        } else if (cli_is(&a, NULL, "--cost")) {
            if (!cli_choice(&a, costs, &k))
                rc = 2;
            else
                o.cost_usd = k == 1;
        } else
            rc = cli_unknown(&a);
        if (rc >= 0) {
            free(paths);
            return rc;
        }
    }
    if (!np) {
        free(paths);
        return cli_usage(&a, "no results given (files or folders of JSON results)");
    }
    struct report r;
    char err[1024];
    int rc = 0;
    if (report_load(paths, np, &o, &r, err, sizeof err) != 0) {
        free(paths);
        return cli_fail(&a, "%s", err);
    }
    if (o.quality && strcmp(o.quality, "mean")) {
        bool found = false;
        for (int s = 0; s < r.n_suites; s++)
            found |= !strcmp(r.suites[s], o.quality);
        if (!found)
            fprintf(stderr, "joule report: no results for suite '%s': no front\n", o.quality);
    }
    if (!out) {
        report_write_md(stdout, &r);
    } else if (report_write(&r, out, err, sizeof err) != 0) {
        rc = cli_fail(&a, "%s", err);
    } else {
        int front = 0;
        for (int i = 0; i < r.n_rows; i++)
            front += r.rows[i].front;
        fprintf(stderr,
                "joule report: %d rows (%d on the front) from %d files: %s/report.md, "
                "%s/report.html\n",
                r.n_rows, front, r.n_files, out, out);
    }
    report_free(&r);
    free(paths);
    return rc;
}
