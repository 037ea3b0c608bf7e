/* cli_report — the `joule report` command (argv[0] is "report"): joins bench, eval and sweep
 * results into report.md, report.html and PNG charts (see report.h). */
#ifndef JOULE_CLI_REPORT_H
#define JOULE_CLI_REPORT_H

int cli_report(int argc, char **argv);

#endif
