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

/* The command line. */
struct report_cli {
    struct cli a;
    struct report_opts o;
    const char *out;    /* -o DIR; NULL: the Markdown to stdout */
    const char **paths; /* the RESULTS, np of them (malloc'd) */
    int np;
};

/* Parses the command line into c, whose paths the caller frees (on failure too): 0 to go on,
 * -1 after --help (exit 0), else the exit status. */
static int parse(int argc, char **argv, struct report_cli *c)
{
    memset(c, 0, sizeof *c);
    struct cli *a = &c->a;
    cli_init(a, "joule report", argc, argv);
    c->paths = calloc((size_t)argc + 1, sizeof *c->paths);
    if (!c->paths) return cli_fail(a, "out of memory");
    static const char *const costs[] = {"j", "usd", NULL};
    int k;
    while (cli_next(a)) {
        const char *arg = cli_arg(a);
        if (cli_is_help(a)) {
            printf("%s", help);
            return -1;
        }
        if (cli_is(a, NULL, "--skip-bad"))
            c->o.skip_bad = true;
        else if (arg[0] != '-' || !strcmp(arg, "-"))
            c->paths[c->np++] = arg;
        else if (cli_is(a, "-o", "--output")) {
            if (!cli_str(a, &c->out)) return 2;
        } else if (cli_is(a, NULL, "--quality")) {
            if (!cli_str(a, &c->o.quality)) return 2;
        } else if (cli_is(a, NULL, "--cost")) {
            if (!cli_choice(a, costs, &k)) return 2;
            c->o.cost_usd = k == 1;
        } else
            return cli_unknown(a);
    }
    if (!c->np) return cli_usage(a, "no results given (files or folders of JSON results)");
    return 0;
}

/* Loads the results and writes the report. */
static int report(struct report_cli *c)
{
    const struct report_opts *o = &c->o;
    struct report r;
    char err[1024];
    int rc = 0;
    if (report_load(c->paths, c->np, o, &r, err, sizeof err) != 0)
        return cli_fail(&c->a, "%s", err);
    if (o->quality && strcmp(o->quality, "mean")) {
        bool found = false;
        for (int s = 0; s < r.n_suites; s++)
            found |= !strcmp(r.suites[s], o->quality);
        if (!found)
            fprintf(stderr, "joule report: no results for suite '%s': no front\n", o->quality);
    }
    if (!c->out) {
        report_write_md(stdout, &r);
    } else if (report_write(&r, c->out, err, sizeof err) != 0) {
        rc = cli_fail(&c->a, "%s", err);
    } else {
        int front = 0;
        for (int i = 0; i < r.n_rows; i++)
            front += r.rows[i].front;
        fprintf(stderr,
                "joule report: %d rows (%d on the front) from %d files: %s/report.md, "
                "%s/report.html\n",
                r.n_rows, front, r.n_files, c->out, c->out);
    }
    report_free(&r);
    return rc;
}

int cli_report(int argc, char **argv)
{
    struct report_cli c;
    int rc = parse(argc, argv, &c);
    if (rc == 0) rc = report(&c);
    free(c.paths);
    return rc < 0 ? 0 : rc;
}
