#!/usr/bin/env bash
# fuzz-long.sh — long fuzzing runs of every harness in fuzz/ (see fuzz/README.md).
#   tools/fuzz-long.sh [HOURS [RUNS [NAME...]]]
#                                       default 4 hours, no execution limit; FUZZ_JOBS
#                                       harnesses at a time (default: cores / 2); NAMEs (chat,
#                                       gguf, ...) run only those harnesses (to top up some
#                                       from their saved corpora: executions add across runs)
# Builds with ./build.sh fuzz 0 (seed replay only), then runs each harness for HOURS, with -fork
# over its cores when it has more than one (with one core, FUZZ_JOBS=cores, it also stops at RUNS
# executions), keeping what it finds in build/fuzz/corpus/NAME. Prints executions
# per harness and the findings (reproducers in build/fuzz/artifacts/) at the end; a finding
# makes the exit status 1. Add each reproducer to fuzz/corpus/NAME/regress-* with its fix.
set -euo pipefail
cd "$(dirname "$0")/.."
hours=${1:-4}
runs=${2:-0}
shift $(( $# < 2 ? $# : 2 ))
case "$hours" in '' | *[!0-9.]*) echo "fuzz-long.sh: HOURS must be a number" >&2; exit 2 ;; esac
case "$runs" in '' | *[!0-9]*) echo "fuzz-long.sh: RUNS must be a whole number" >&2; exit 2 ;; esac
secs=$(awk -v h="$hours" 'BEGIN { printf "%d", h * 3600 }')
cores=$(nproc 2>/dev/null || echo 2)
jobs=${FUZZ_JOBS:-$(( cores / 2 > 0 ? cores / 2 : 1 ))}
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
mkdir -p build/fuzz/artifacts build/fuzz/long
names=()
for h in fuzz/fuzz_*.c; do
    n=$(basename "$h" .c)
    [ "$n" = fuzz_util ] || names+=("$n")
done
if [ $# -gt 0 ]; then
    for w in "$@"; do
        [ -f "fuzz/fuzz_${w#fuzz_}.c" ] || { echo "fuzz-long.sh: no harness '$w' (fuzz/fuzz_*.c: ${names[*]#fuzz_})" >&2; exit 2; }
    done
    names=()
    for w in "$@"; do names+=("fuzz_${w#fuzz_}"); done
fi
./build.sh fuzz 0
fork=$(( cores / jobs > 1 ? cores / jobs : 1 ))
# one process per harness when it has one core: -runs then counts its executions exactly
# (a crash ends that harness's run; its reproducer is kept all the same)
mode=(-runs="$runs")
[ "$fork" = 1 ] || mode=(-fork="$fork" -ignore_crashes=1)
[ "$runs" != 0 ] || [ "$fork" != 1 ] || mode=()
for n in "${names[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 5; done
    echo "fuzz-long: $n for ${hours} h$([ "$runs" = 0 ] || echo " or $runs executions") (fork $fork)"
    mkdir -p "build/fuzz/corpus/$n"
    ( "build/fuzz/$n" ${mode[@]+"${mode[@]}"} -max_total_time="$secs" -timeout=20 \
        -rss_limit_mb=2560 -max_len=65536 -print_final_stats=1 \
        -artifact_prefix="build/fuzz/artifacts/$n-" "build/fuzz/corpus/$n" "fuzz/corpus/${n#fuzz_}" \
        >"build/fuzz/long/$n.log" 2>&1 || true ) &
done
wait
found=0
for n in "${names[@]}"; do
    # -print_final_stats: the exact count (one process); with -fork, the last status line's #N
    execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "build/fuzz/long/$n.log" | grep -o '[0-9]*$' | tail -1)
    [ -n "$execs" ] || execs=$(grep -o '^#[0-9]*' "build/fuzz/long/$n.log" | tail -1 | tr -d '#')
    cov=$(grep -o 'cov: [0-9]*' "build/fuzz/long/$n.log" | tail -1)
    arts=$(find build/fuzz/artifacts -name "$n-*" | wc -l)
    echo "$n: ${execs:-?} executions, ${cov:-cov: ?} edges, $arts findings"
    [ "$arts" = 0 ] || found=1
done
exit $found
