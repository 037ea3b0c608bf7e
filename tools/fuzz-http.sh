#!/usr/bin/env bash
# fuzz-http.sh — fuzzes the HTTP head parser and the JSON body reader of `joule serve` with
# libFuzzer (clang), under AddressSanitizer and UBSan.
#   tools/fuzz-http.sh [SECONDS]    (default 60; the corpus stays in build/fuzz-http-corpus)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang >/dev/null || { echo "fuzz-http.sh: needs clang (apt-get install clang)" >&2; exit 1; }
mkdir -p build/fuzz-http-corpus
printf 'POST /v1/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 17\r\n\r\n{"prompt":"a b"}\n' \
    >build/fuzz-http-corpus/seed-post
printf 'GET /health HTTP/1.1\r\nAuthorization: Bearer k\r\n\r\n' >build/fuzz-http-corpus/seed-get
clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
    tools/fuzz_http.c src/http.c src/eval_json.c -lm -o build/fuzz-http
./build/fuzz-http -max_total_time="${1:-60}" -max_len=20000 -print_final_stats=1 build/fuzz-http-corpus
