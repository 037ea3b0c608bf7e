/* eval_lmeval — eval results in lm-evaluation-harness's file shapes, so that scripts written
 * for that harness read joule's runs:
 *
 *   DIR/<model, '/' as "__">/results_<time>.json
 *       {"results": {"arc_easy": {"alias": "arc_easy", "acc,none": 0.61,
 *                                 "acc_stderr,none": 0.01, "acc_norm,none": ...}, ...},
 *        "groups": {...}, "configs": {...}, "versions": {...}, "n-shot": {...},
 *        "higher_is_better": {...}, "n-samples": {"arc_easy": {"original": N, "effective": n}},
 *        "config": {"model": "joule", "model_args": "pretrained=PATH", "limit": ...},
 *        "git_hash": ..., "date": ..., "model_name": ..., "model_name_sanitized": ...,
 *        "total_evaluation_time_seconds": "...", "joule": {sha256, device, energy, ...}}
 *   DIR/<model>/samples_<task>_<time>.jsonl   (--log-samples) one line per item: the prompt,
 *       the continuations, their log-likelihoods, the prediction, the gold answer and the
 *       item's scores (joule's --log-items lines)
 *
 * Task names are lm-eval's (from the suite's "task" line: arc-easy -> arc_easy); a metric
 * without a standard error is written "N/A" as lm-eval does.
 */
#ifndef JOULE_EVAL_LMEVAL_H
#define JOULE_EVAL_LMEVAL_H

#include <stddef.h>

#include "eval.h"

/* lm-eval's task name and version of a result ("arc_easy", "1.0"). */
void eval_lmeval_task(const struct eval_result *r, char *name, size_t len, char *version,
                      size_t vlen);
/* Makes DIR/<model>/ and puts its path in out. */
int eval_lmeval_dir(const char *dir, const char *model_path, char *out, size_t len, char *err,
                    size_t errlen);
/* Writes results_<stamp>.json into folder (from eval_lmeval_dir); its path into path. */
int eval_lmeval_write(const char *folder, const char *stamp, const struct eval_run_info *info,
                      const struct eval_result *res, int n, double seconds, char *path,
                      size_t pathlen, char *err, size_t errlen);

#endif
