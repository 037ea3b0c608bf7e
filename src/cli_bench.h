/* cli_bench — the `joule bench` command (argv[0] is "bench"). Returns the exit status:
 * 0, 1 (a failure, message on stderr) or 2 (bad arguments). */
#ifndef JOULE_CLI_BENCH_H
#define JOULE_CLI_BENCH_H

int cli_bench(int argc, char **argv);

#endif
