/* slurm — a sweep as a Slurm job array: the sbatch scripts, submission, and what is left.
 *
 * `joule sweep OPTIONS --slurm` plans the sweep as the local sweep does (sweep.h), then writes
 * two scripts into <outdir>/slurm/:
 *
 *   array.sh   one array task per unit that has no result yet (the array index is the unit
 *              number K of the plan, so `--array=0-7` or, on a resubmission, `--array=2,5`);
 *              each task runs `joule sweep OPTIONS --unit $SLURM_ARRAY_TASK_ID`, which writes
 *              <outdir>/<unit id>.json atomically. Logs: <outdir>/slurm/logs/unit-K.JOBID.log.
 *   report.sh  submitted with --dependency=afterany:<array job>, so it runs when every task
 *              has ended, whether it succeeded, failed, was cancelled or preempted; it runs
 *              `joule sweep OPTIONS --slurm-status` (complete or PARTIAL, with the missing units
 *              and their logs) into <report dir>/STATUS and then `joule report`.
 *
 * The task's GPU: when Slurm assigned GPUs (--gres=gpu:1 or --gpus-per-task in --slurm-args),
 * the task exports JOULE_VK_DEVICE=<first of CUDA_VISIBLE_DEVICES, ROCR_VISIBLE_DEVICES,
 * SLURM_STEP_GPUS, SLURM_JOB_GPUS> (numeric entries only), which makes the device specs
 * "vulkan" and "auto" mean that Vulkan device (device.h) while the unit's name, and so the
 * plan, stay the same as a local sweep's. A JOULE_VK_DEVICE already in the environment wins.
 *
 * This module builds text and runs sbatch/squeue; it prints nothing.
 */
#ifndef JOULE_SLURM_H
#define JOULE_SLURM_H

#include <stdbool.h>
#include <stddef.h>

/* One submission. Paths should be absolute (tasks run on other machines, with --chdir=workdir). */
struct slurm_job {
    const char *joule;       /* the joule binary the tasks run */
    const char *workdir;     /* the tasks' working directory (#SBATCH --chdir) */
    const char *const *args; /* the sweep's options; a task appends --unit K */
    int n_args;
    const char *outdir;    /* the results folder (shared file system) */
    const char *statedir;  /* scripts, logs and job ids: <outdir>/slurm */
    const char *reportdir; /* where report.sh writes the report */
    const int *units;      /* the unit numbers to run (ascending), the array indices */
    int n_units;
    int n_plan;           /* units in the whole plan */
    int concurrency;      /* array tasks running at once (%N); 0 = no limit */
    const char *job_name; /* NULL: "joule-sweep" */
    const char *extra;    /* --slurm-args: sbatch options for both jobs, or NULL */
};

/* Slurm's --array value for ascending unit numbers: ranges and singles, "0-3,5,7-9", then
 * "%N" when concurrency > 0. Returns 0, or -1 when it does not fit (or the list is empty
 * or not ascending). */
int slurm_array_spec(const int *units, int n, int concurrency, char *buf, size_t len);

/* Checks --slurm-args: printable text, no newline, no quote characters, and none of the
 * options the scripts own (--array, --dependency, --output, --error, --chdir and their short
 * forms). Returns 0, or -1 with a message. */
int slurm_check_extra(const char *extra, char *err, size_t errlen);

/* The two scripts, malloc'd NUL-terminated text in *out. Return 0, or -1 with a message (a
 * path that cannot go into an #SBATCH line: a newline or a double quote). */
int slurm_array_script(const struct slurm_job *j, char **out, char *err, size_t errlen);
int slurm_report_script(const struct slurm_job *j, char **out, char *err, size_t errlen);

/* Whether sbatch is on PATH. */
bool slurm_available(void);

/* Runs `sbatch --parsable [--dependency=afterany:DEP] SCRIPT` and puts the job id in id.
 * Returns 0, or -1 with sbatch's message. */
int slurm_submit(const char *script, const char *dep, char *id, size_t idlen, char *err,
                 size_t errlen);

/* Which of the job ids in ids (comma-separated) squeue still lists (pending or running), into
 * active (comma-separated, "" when none). Returns 0, or -1 when squeue fails. */
int slurm_active(const char *ids, char *active, size_t len, char *err, size_t errlen);

#endif
