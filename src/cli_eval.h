/* cli_eval — the `joule eval` command: quality suites scored as lm-evaluation-harness
 * scores them (see src/eval.h, suites/README.md). argv[0] is "eval". */
#ifndef JOULE_CLI_EVAL_H
#define JOULE_CLI_EVAL_H

int cli_eval(int argc, char **argv);

#endif
