/* cli_sweep — the `joule sweep` command (argv[0] is "sweep"): bench and evaluate several
 * models on several devices, one result file per unit (see sweep.h). Returns the exit
 * status: 0, 1 (a unit failed; the others ran) or 2 (bad arguments). */
#ifndef JOULE_CLI_SWEEP_H
#define JOULE_CLI_SWEEP_H

int cli_sweep(int argc, char **argv);

#endif
