#!/usr/bin/env bash
# tools/gpu-check.sh — check joule's Vulkan backend on a machine with a real GPU.
#
# Prints `joule devices`, runs `joule logits --device D` on the shared tiny models
# and compares every position of every reference prompt with NAME.ref/logits-K.f32
# (max abs error <= 0.05, top-1 agreement >= 0.99), then a short `joule run`.
# Needs only the built binary, the models and a Vulkan loader (od and awk do the math).
#
#   tools/gpu-check.sh                  # device "vulkan" (the first GPU)
#   DEVICE=vulkan:1 tools/gpu-check.sh  # another device (CPU implementations: name them)
# Environment: JOULE (binary, default ./joule), JOULE_SHARED (default ../shared),
# TYPES (tiny-llama types, default: all of them, K-quants included), QWEN (tiny-qwen2 types,
# default F16 Q8_0 Q4_K_M).
set -u
cd "$(dirname "$0")/.."
BIN=${JOULE:-./joule}
SHARED=${JOULE_SHARED:-../shared}
DEV=${DEVICE:-vulkan}
TYPES=${TYPES:-"F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K_M Q4_K_M Q5_K_M Q6_K"}
QWEN=${QWEN:-"F16 Q8_0 Q4_K_M"}
STEMS=""
for t in $TYPES; do STEMS="$STEMS tiny-llama-$t"; done
for t in $QWEN; do STEMS="$STEMS tiny-qwen2-$t"; done
[ -x "$BIN" ] || { echo "gpu-check: $BIN not found (run ./build.sh)" >&2; exit 2; }
[ -d "$SHARED/models" ] || { echo "gpu-check: $SHARED/models not found (set JOULE_SHARED)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== joule devices"
"$BIN" devices || echo "(joule devices failed: rc $?)"

# compare OUT REF N_VOCAB: prints "maxerr top1agree rows"
compare() {
    paste <(od -An -v -tf4 -w4 "$1") <(od -An -v -tf4 -w4 "$2") | awk -v nv="$3" '
        function flush() { if (i > 0) { rows++; if (ba == br) agree++ } }
        {
            a = $1 + 0; r = $2 + 0; e = a - r; if (e < 0) e = -e; if (e > worst) worst = e
            if (i == 0 || a > va) { va = a; ba = i }
            if (i == 0 || r > vr) { vr = r; br = i }
            i++
            if (i == nv) { flush(); i = 0 }
        }
        END { printf "%.5f %.4f %d\n", worst, rows ? agree / rows : 0, rows }'
}

fail=0
echo "== logits on --device $DEV vs the references (tolerance: max abs 0.05, top-1 0.99)"
for s in $STEMS; do
    m=$SHARED/models/$s.gguf
    ref=$SHARED/models/$s.ref
    [ -f "$m" ] || { echo "$s: missing, skipped"; continue; }
    worst=0; agree_sum=0; rows_sum=0; ok=1
    for k in 0 1 2; do
        toks=$(cat "$ref/tokens-$k.txt")
        n=$(echo "$toks" | wc -w)
        start=$(date +%s.%N)
        if ! "$BIN" logits -m "$m" --tokens "$toks" -o "$tmp/out.f32" --device "$DEV" 2>"$tmp/err"; then
            echo "$s prompt $k: joule logits failed: $(tail -1 "$tmp/err")"
            ok=0; break
        fi
        secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
        bytes=$(stat -c %s "$ref/logits-$k.f32")
        nv=$((bytes / 4 / n))
        read -r e a r < <(compare "$tmp/out.f32" "$ref/logits-$k.f32" "$nv")
        worst=$(awk -v x="$worst" -v y="$e" 'BEGIN { print (y > x) ? y : x }')
        agree_sum=$(awk -v s="$agree_sum" -v a="$a" -v r="$r" 'BEGIN { print s + a * r }')
        rows_sum=$((rows_sum + r))
        echo "  $s prompt $k: $n tokens, max abs err $e, top-1 $a (${secs}s)"
    done
    if [ $ok = 1 ]; then
        top1=$(awk -v s="$agree_sum" -v r="$rows_sum" 'BEGIN { printf "%.4f", r ? s / r : 0 }')
        verdict=$(awk -v e="$worst" -v a="$top1" 'BEGIN { print (e <= 0.05 && a >= 0.99) ? "PASS" : "FAIL" }')
        echo "$s: $verdict (max abs err $worst, top-1 $top1 over $rows_sum rows)"
        [ "$verdict" = PASS ] || fail=1
    else
        fail=1
    fi
done

echo "== joule run --device $DEV"
"$BIN" run -m "$SHARED/models/tiny-llama-Q4_0.gguf" -p "Once upon a time" -n 32 --device "$DEV" ||
    { echo "(joule run failed: rc $?)"; fail=1; }

if [ $fail = 0 ]; then echo "gpu-check: all passed"; else echo "gpu-check: FAILURES above"; fi
exit $fail
