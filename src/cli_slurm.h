/* cli_slurm — the Slurm options of `joule sweep` (slurm.h does the work):
 *
 *   --slurm                submit the units that have no result as a job array, and a report
 *                          job after it (--dependency=afterany)
 *   --slurm-args "OPTS"    sbatch options for both jobs (partition, account, time, GPUs ...)
 *   --slurm-concurrency N  at most N array tasks at once (--array=...%N)
 *   --slurm-name NAME      the job name (default joule-sweep)
 *   --dry-run              with --slurm: print the plan, the array and both scripts; submit
 *                          nothing, write nothing
 *   --slurm-status         how many units have a result; the missing ones with the last lines
 *                          of their latest task log; the array jobs still queued. Exit 0 when
 *                          every unit has a result, 3 when the results are PARTIAL.
 */
#ifndef JOULE_CLI_SLURM_H
#define JOULE_CLI_SLURM_H

#include <stdbool.h>

#include "cli_util.h"
#include "sweep.h"

enum { CLI_SLURM_MAX_TAKEN = 32 };

struct cli_slurm {
    bool submit, status, dry_run;
    const char *extra;              /* --slurm-args */
    const char *name;               /* --slurm-name */
    long concurrency;               /* 0: no limit */
    int taken[CLI_SLURM_MAX_TAKEN]; /* argv positions these options used (not for the tasks) */
    int n_taken;
};

/* The option lines for `joule sweep --help`. */
extern const char cli_slurm_help[];

/* If the current argument is one of the options above, takes it (and its value), records
 * their positions and returns 1; 0 when it is not one; -1 after printing a usage error. */
int cli_slurm_option(struct cli_slurm *s, struct cli *a);

/* Runs --slurm (submit, or the dry run) or --slurm-status for the plan p of options o.
 * a holds the sweep's arguments (argv[0] "sweep"); the tasks get them without the options
 * above. plan and unit say whether --plan or --unit was given too (an error). Returns the exit
 * status. */
int cli_slurm_run(const struct cli_slurm *s, const struct cli *a, const struct sweep_opts *o,
                  const struct sweep_plan *p, bool force, bool plan, bool unit);

#endif
