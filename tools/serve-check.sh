#!/usr/bin/env bash
# serve-check.sh — end-to-end check of `joule serve` with real clients on 127.0.0.1:
# curl, then the official `openai` npm package (tools/serve-openai-check.mjs).
#   tools/serve-check.sh MODEL.gguf [OPENAI_NODE_MODULES_DIR]
# Without the second argument it installs `openai` into a temporary folder with npm.
# The server runs with --port 0 (a free port) and is stopped with Ctrl-C (SIGINT) at the end,
# which must exit 0.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:?usage: tools/serve-check.sh MODEL.gguf [NODE_MODULES_DIR]}
mods=${2:-}
tmp=$(mktemp -d)
trap 'kill -INT "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
if [ -z "$mods" ]; then
    (cd "$tmp" && npm install --silent --no-audit --no-fund openai@7 >/dev/null)
    mods="$tmp/node_modules"
fi
./joule serve -m "$model" --port 0 --parallel 4 --device cpu -c 512 -q 2>"$tmp/log" &
pid=$!
port=""
for _ in $(seq 1 100); do
    port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$tmp/log")
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { cat "$tmp/log" >&2; echo "serve-check: the server did not start" >&2; exit 1; }
url="http://127.0.0.1:$port"
id=$(basename "$model")

# curl: health, a completion with energy in usage, a malformed body
curl -sf "$url/health" | grep -q '"status":"ok"'
curl -sf "$url/v1/completions" -d '{"prompt":"Hello","max_tokens":4}' | grep -q '"energy_joules"'
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/v1/completions" -d '{"prompt":')
[ "$code" = 400 ] || { echo "serve-check: malformed JSON gave $code, not 400" >&2; exit 1; }
curl -sf "$url/metrics" | grep -q '^joule_requests_total'
echo "serve-check: curl ok"

# the .mjs resolves `openai` from its own folder or NODE_PATH: link the modules beside a copy
cp tools/serve-openai-check.mjs "$tmp/check.mjs"
[ -e "$tmp/node_modules" ] || ln -s "$mods" "$tmp/node_modules"
node "$tmp/check.mjs" "$url/v1" "$id"

kill -INT "$pid"
wait "$pid"
trap 'rm -rf "$tmp"' EXIT
grep -q "interrupted, stopping" "$tmp/log" || { cat "$tmp/log" >&2; exit 1; }
echo "serve-check: ok"
