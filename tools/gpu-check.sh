#!/usr/bin/env bash
# tools/gpu-check.sh — check joule's Vulkan backend on a machine with a real GPU.
#
# Prints `joule devices`, then, for every shared tiny model (NAME.ref in ../shared/models,
# tolerance: max abs logit error <= 0.05, top-1 agreement >= 0.99 over all rows):
#   prefill   `joule logits` of each reference prompt as one batch vs logits-K.f32, and the
#             same run twice: the two outputs must be bit-identical (cmp)
#   decode    `joule logits --batch 1` (one decode step per token, the KV cache carried
#             along) vs logits-K.f32
#   greedy    prompt 0 followed by greedy.txt's ids, --batch 1: the argmax at each of the 32
#             steps must be the reference's id (a step whose reference margin is under 0.05
#             may differ, as the Check tests allow)
#   validate  prompt 2 in batches of 32 under JOULE_VK_VALIDATE=1 (any validation message
#             fails the run) vs logits-2.f32
#   range     prompt 2 with JOULE_VK_MAX_RANGE lowered (MAX_RANGE bytes, so that tensors
#             split across bindings and the batch is cut to fit) and -c 128 vs logits-2.f32
#   long      the first LONG (300) tokens of ppl-text.txt (no reference prompt is over 256
#             tokens): the device's logits vs the CPU backend's for the same tokens
#   tiled     the prompts as one batch with JOULE_VK_COOPMAT=0 (the tiled prefill products
#             where the device would take cooperative matrices) vs logits-K.f32
#   int8      where the device offers --precision fast (the int8 decode path): --batch 1 with
#             it vs logits-K.f32 with the fast precision's bounds (max abs err < 2, top-1 >=
#             0.90, as tests/test_cpu.c); skipped where it is not offered
# then decode tokens/s from `joule bench` on one model and a short `joule run`. Every joule
# command runs under `timeout` (STEP_TIMEOUT seconds). Needs only the built binary, the
# models and a Vulkan loader (od and awk do the math); a few minutes on a GPU.
#
#   tools/gpu-check.sh                  # device "vulkan" (the first GPU)
#   DEVICE=vulkan:1 tools/gpu-check.sh  # another device (CPU implementations: name them)
# Environment: JOULE (binary, default ./joule), JOULE_SHARED (default ../shared),
# TYPES (tiny-llama types, default: all of them, K-quants included; empty: none), QWEN
# (tiny-qwen2 types, default F16 Q8_0 Q4_K_M), STEP_TIMEOUT (seconds per command, default
# 60), MAX_RANGE (default 65536: the tiny models' tensors are 64 KiB..1 MiB, so 4 MiB would
# split nothing), LONG (tokens of the long prompt, default 300), BENCH (bench's model
# arguments, default "--synthetic llama-3.2-1b-q8_0", e.g. "-m ../shared/models/X.gguf").
set -u
cd "$(dirname "$0")/.." || exit 2
BIN=${JOULE:-./joule}
SHARED=${JOULE_SHARED:-../shared}
DEV=${DEVICE:-vulkan}
TYPES=${TYPES-"F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K_M Q4_K_M Q5_K_M Q6_K"}
QWEN=${QWEN-"F16 Q8_0 Q4_K_M"}
STEP_TIMEOUT=${STEP_TIMEOUT:-60}
MAX_RANGE=${MAX_RANGE:-65536}
LONG=${LONG:-300}
BENCH=${BENCH:-"--synthetic llama-3.2-1b-q8_0"}
STEMS=""
for t in $TYPES; do STEMS="$STEMS tiny-llama-$t"; done
for t in $QWEN; do STEMS="$STEMS tiny-qwen2-$t"; done
[ -x "$BIN" ] || { echo "gpu-check: $BIN not found (run ./build.sh)" >&2; exit 2; }
[ -d "$SHARED/models" ] || { echo "gpu-check: $SHARED/models not found (set JOULE_SHARED)" >&2; exit 2; }
command -v timeout >/dev/null || { echo "gpu-check: needs timeout (coreutils)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
t_start=$(date +%s)

# j ARGS...: the joule binary under the time limit, stderr into $tmp/err. Environment
# switches go before the call (VAR=x j ...). On failure prints why and returns non-zero.
j() {
    timeout -k 10 "$STEP_TIMEOUT" "$BIN" "$@" 2>"$tmp/err"
    local rc=$?
    if [ $rc = 124 ] || [ $rc = 137 ]; then
        echo "    joule $1 timed out after ${STEP_TIMEOUT}s"
    elif [ $rc != 0 ]; then
        echo "    joule $1 failed (rc $rc): $(tail -3 "$tmp/err" | tr '\n' ' ')"
    fi
    return $rc
}

# compare OUT REF N_VOCAB: prints "maxerr top1agree rows" (a NaN or inf counts as error 1e30;
# outputs of different sizes as error 1e30)
compare() {
    if [ "$(stat -c %s "$1")" != "$(stat -c %s "$2")" ]; then
        echo "1e30 0 0"
        return
    fi
    paste <(od -An -v -tf4 -w4 "$1") <(od -An -v -tf4 -w4 "$2") | awk -v nv="$3" '
        function flush() { if (i > 0) { rows++; if (ba == br) agree++ } }
        {
            a = $1 + 0; r = $2 + 0; e = a - r; if (e < 0) e = -e
            if ($0 ~ /[nN][aA][nN]|[iI][nN][fF]/) e = 1e30
            if (e > worst) worst = e
            if (i == 0 || a > va) { va = a; ba = i }
            if (i == 0 || r > vr) { vr = r; br = i }
            i++
            if (i == nv) { flush(); i = 0 }
        }
        END { printf "%.5f %.4f %d\n", worst, rows ? agree / rows : 0, rows }'
}

# greedy OUT GREEDY_TXT N_VOCAB N_PROMPT: the argmax of rows N_PROMPT-1.. against the ids of
# greedy.txt; prints "matched soft hard steps" (soft: a different id where the reference's
# margin is under 0.05; hard: a different id otherwise)
greedy() {
    od -An -v -tf4 -w4 "$1" | awk -v nv="$3" -v n="$4" -v gf="$2" '
        BEGIN {
            while ((getline line < gf) > 0) {
                if (line ~ /^#/ || line !~ /[0-9]/) continue
                split(line, f, " "); id[k] = f[1] + 0; mg[k] = f[2] + 0; k++
            }
            steps = k
        }
        {
            v = $1 + 0
            if ($0 ~ /[nN][aA][nN]/) v = -1e30
            if (i == 0 || v > best) { best = v; bi = i }
            i++
            if (i == nv) {
                s = row - (n - 1)
                if (s >= 0 && s < steps) {
                    if (bi == id[s]) ok++; else if (mg[s] < 0.05) soft++; else hard++
                }
                row++; i = 0
            }
        }
        END { printf "%d %d %d %d\n", ok, soft, hard, steps }'
}

fail=0
failures=""
# verdict STEM PASS WORST TOP1 ROWS [MAXERR MINTOP1]: prints and records PASS or FAIL (bounds
# 0.05 and 0.99 unless given)
verdict() {
    local v
    v=$(awk -v e="$3" -v a="$4" -v r="$5" -v me="${6:-0.05}" -v mt="${7:-0.99}" \
        'BEGIN { print (r > 0 && e <= me && a >= mt) ? "PASS" : "FAIL" }')
    printf '%-18s %-8s %s  max abs err %s, top-1 %s over %s rows\n' "$1" "$2" "$v" "$3" "$4" "$5"
    if [ "$v" != PASS ]; then fail=1; failures="$failures $1/$2"; fi
}

# accumulate E A R into the running worst / agree_sum / rows_sum
worst=0 agree_sum=0 rows_sum=0
acc_reset() { worst=0; agree_sum=0; rows_sum=0; }
acc() {
    worst=$(awk -v x="$worst" -v y="$1" 'BEGIN { print (y > x) ? y : x }')
    agree_sum=$(awk -v s="$agree_sum" -v a="$2" -v r="$3" 'BEGIN { print s + a * r }')
    rows_sum=$((rows_sum + $3))
}
top1() { awk -v s="$agree_sum" -v r="$rows_sum" 'BEGIN { printf "%.4f", r ? s / r : 0 }'; }

# vs_ref STEM K OUT: compares OUT with STEM's logits-K.f32 and accumulates
vs_ref() {
    local ref=$SHARED/models/$1.ref n nv e a r
    n=$(wc -w <"$ref/tokens-$2.txt")
    nv=$(($(stat -c %s "$ref/logits-$2.f32") / 4 / n))
    read -r e a r < <(compare "$3" "$ref/logits-$2.f32" "$nv")
    acc "$e" "$a" "$r"
    echo "  $1 prompt $2: $n tokens, max abs err $e, top-1 $a"
}

secs() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

echo "== joule devices"
timeout 60 "$BIN" devices || echo "(joule devices failed: rc $?)"

echo "== on --device $DEV, against the references (max abs 0.05, top-1 0.99); step limit ${STEP_TIMEOUT}s"
for s in $STEMS; do
    m=$SHARED/models/$s.gguf
    ref=$SHARED/models/$s.ref
    [ -f "$m" ] || { echo "$s: missing, skipped"; continue; }
    t0=$(date +%s.%N)

    # prefill, each prompt twice (bit-identical)
    acc_reset; ok=1
    for k in 0 1 2; do
        toks=$(cat "$ref/tokens-$k.txt")
        j logits -m "$m" --tokens "$toks" -o "$tmp/a.f32" --device "$DEV" || { ok=0; break; }
        vs_ref "$s" "$k" "$tmp/a.f32"
        j logits -m "$m" --tokens "$toks" -o "$tmp/b.f32" --device "$DEV" || { ok=0; break; }
        if ! cmp -s "$tmp/a.f32" "$tmp/b.f32"; then
            echo "  $s prompt $k: the second run's logits differ from the first's"
            fail=1; failures="$failures $s/repeat"
        fi
    done
    if [ $ok = 1 ]; then verdict "$s" prefill "$worst" "$(top1)" "$rows_sum"; else verdict "$s" prefill 1e30 0 0; fi

    # decode: one token a step
    acc_reset; ok=1
    for k in 0 1 2; do
        j logits -m "$m" --tokens "$(cat "$ref/tokens-$k.txt")" -o "$tmp/a.f32" --device "$DEV" \
            --batch 1 || { ok=0; break; }
        vs_ref "$s" "$k" "$tmp/a.f32"
    done
    if [ $ok = 1 ]; then verdict "$s" decode "$worst" "$(top1)" "$rows_sum"; else verdict "$s" decode 1e30 0 0; fi

    # greedy: prompt 0 and the reference's greedy ids but the last, one step each
    n=$(wc -w <"$ref/tokens-0.txt")
    nv=$(($(stat -c %s "$ref/logits-0.f32") / 4 / n))
    ids=$(grep -v '^#' "$ref/greedy.txt" | awk 'NF { print $1 }' | head -n -1 | tr '\n' ' ')
    if j logits -m "$m" --tokens "$(cat "$ref/tokens-0.txt") $ids" -o "$tmp/g.f32" --device "$DEV" --batch 1; then
        read -r gok gsoft ghard gsteps < <(greedy "$tmp/g.f32" "$ref/greedy.txt" "$nv" "$n")
        v=PASS
        if [ "$ghard" != 0 ] || [ "$gsteps" -lt 32 ] || [ $((gok + gsoft)) != "$gsteps" ]; then v=FAIL; fi
        printf '%-18s %-8s %s  %s of %s greedy steps chose the reference id (%s under margin 0.05 differ)\n' \
            "$s" greedy "$v" "$gok" "$gsteps" "$gsoft"
        [ $v = PASS ] || { fail=1; failures="$failures $s/greedy"; }
    else
        fail=1; failures="$failures $s/greedy"
    fi

    # validation layer, batches of 32 (a remainder batch and positions > 0)
    acc_reset
    if JOULE_VK_VALIDATE=1 j logits -m "$m" --tokens "$(cat "$ref/tokens-2.txt")" -o "$tmp/a.f32" \
        --device "$DEV" --batch 32; then
        vs_ref "$s" 2 "$tmp/a.f32" >/dev/null
        verdict "$s" validate "$worst" "$(top1)" "$rows_sum"
    else
        verdict "$s" validate 1e30 0 0
    fi

    # a lowered storage-buffer range: tensors split across bindings (a 128-position context,
    # whose KV cache layer fits the range)
    acc_reset
    if JOULE_VK_MAX_RANGE=$MAX_RANGE j logits -m "$m" --tokens "$(cat "$ref/tokens-2.txt")" \
        -o "$tmp/a.f32" --device "$DEV" -c 128; then
        vs_ref "$s" 2 "$tmp/a.f32" >/dev/null
        verdict "$s" range "$worst" "$(top1)" "$rows_sum"
    else
        verdict "$s" range 1e30 0 0
    fi

    # a prompt over 256 tokens, against the CPU backend
    acc_reset; ok=0
    if j tokenize -m "$m" --file "$SHARED/models/ppl-text.txt" >"$tmp/ids.txt"; then
        long=$(tr ' ' '\n' <"$tmp/ids.txt" | head -n "$LONG" | tr '\n' ' ')
        nl=$(echo "$long" | wc -w)
        if [ "$nl" -ge "$LONG" ] &&
            j logits -m "$m" --tokens "$long" -o "$tmp/cpu.f32" --device cpu &&
            j logits -m "$m" --tokens "$long" -o "$tmp/a.f32" --device "$DEV"; then
            read -r e a r < <(compare "$tmp/a.f32" "$tmp/cpu.f32" "$nv")
            acc "$e" "$a" "$r"; ok=1
        fi
    fi
    if [ $ok = 1 ]; then verdict "$s" long"$LONG" "$worst" "$(top1)" "$rows_sum"; else verdict "$s" long"$LONG" 1e30 0 0; fi

    # the tiled prefill products where cooperative matrices would run
    acc_reset; ok=1
    for k in 0 1 2; do
        JOULE_VK_COOPMAT=0 j logits -m "$m" --tokens "$(cat "$ref/tokens-$k.txt")" -o "$tmp/a.f32" \
            --device "$DEV" || { ok=0; break; }
        vs_ref "$s" "$k" "$tmp/a.f32" >/dev/null
    done
    if [ $ok = 1 ]; then verdict "$s" tiled "$worst" "$(top1)" "$rows_sum"; else verdict "$s" tiled 1e30 0 0; fi

    # the int8 decode path, where offered
    acc_reset; ok=1
    for k in 0 1 2; do
        j logits -m "$m" --tokens "$(cat "$ref/tokens-$k.txt")" -o "$tmp/a.f32" --device "$DEV" \
            --batch 1 --precision fast || { ok=0; break; }
        if grep -q "no 'fast' precision" "$tmp/err"; then ok=2; break; fi
        vs_ref "$s" "$k" "$tmp/a.f32" >/dev/null
    done
    if [ $ok = 2 ]; then
        printf '%-18s %-8s skipped (the device does not offer --precision fast)\n' "$s" int8
    elif [ $ok = 1 ]; then
        verdict "$s" int8 "$worst" "$(top1)" "$rows_sum" 2 0.90
    else
        verdict "$s" int8 1e30 0 0
    fi
    echo "  ($s: $(secs "$t0")s)"
done

echo "== decode speed: joule bench $BENCH --device $DEV -p 0 -n 128 -r 3"
# shellcheck disable=SC2086 # BENCH is a list of arguments
if j bench $BENCH --device "$DEV" -p 0 -n 128 -r 3 --idle 0 --energy-min 0 -o jsonl >"$tmp/bench.jsonl"; then
    sed -n 's/.*"model_filename": "\([^"]*\)".*"n_gen": \([0-9]*\).*"avg_ts": \([0-9.]*\),.*/decode: \3 tokens\/s (tg\2, \1)/p' \
        "$tmp/bench.jsonl"
else
    fail=1; failures="$failures bench"
fi

echo "== joule run --device $DEV"
if j run -m "$SHARED/models/tiny-llama-Q4_0.gguf" -p "Once upon a time" -n 32 --device "$DEV"; then
    echo; grep 'tok/s' "$tmp/err" | tail -1
else
    fail=1; failures="$failures run"
fi

echo "gpu-check: $(($(date +%s) - t_start))s"
if [ $fail = 0 ]; then echo "gpu-check: all passed"; else echo "gpu-check: FAILURES:$failures"; fi
exit $fail
