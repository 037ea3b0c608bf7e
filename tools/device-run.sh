#!/usr/bin/env bash
# tools/device-run.sh — the one prepared script for a session lent a GPU machine (issues 13
# and 14: "run ONE prepared script"): everything a GPU check needs, each step time-limited,
# the whole run under about 8 minutes on an H100/H200, its output also kept in $OUT.
#
#   build and test here first, then (see /work/.library/device/README.md for .gl, the loader):
#     echo /.models/ >>.git/info/exclude; mkdir -p .models
#     cp -r ../shared/models/{tiny-llama-{Q4_K_M,Q8_0,F16,Q4_0},tiny-qwen2-Q8_0}.{gguf,ref} \
#         ../shared/models/{README.md,ppl-text.txt} .models/      (about 16 MB)
#     run: carry [".gl", ".models", "joule"], command "tools/device-run.sh"
#
# Steps: the Vulkan loader (.gl/*.deb unpacked where present, the NVIDIA ICD named if the
# loader finds none); `joule devices`; tools/gpu-check.sh on the carried models; bench of
# the 8B shapes (q4_k_m, q8_0: pp512, tg128 at depth 0 and 4096, 3 repetitions) with the
# energy columns from NVML; the same tg128 with the new decode kernels off (JOULE_VK_MV_GPU=0,
# JOULE_VK_SPLIT_KV=0) and pp512 with the old prefill products (JOULE_VK_MATMUL_TILE=0) for
# the before/after; one JOULE_VK_PROFILE=1 decode run (per-op
# device times); nvidia-smi's power draw sampled beside one bench to check J/token.
# Environment: JOULE (default ./joule), MODELS (default .models, as JOULE_SHARED/models),
# STEP (seconds per step, default 150).
set -u
cd "$(dirname "$0")/.." || exit 2
BIN=${JOULE:-./joule}
MODELS=${MODELS:-.models}
STEP=${STEP:-150}
OUTDIR=${OUT:-/tmp/device-run}
mkdir -p "$OUTDIR"
exec > >(tee "$OUTDIR/device-run.log") 2>&1

if ! ldconfig -p 2>/dev/null | grep -q libvulkan.so.1; then
    for f in .gl/*.deb; do [ -f "$f" ] && dpkg -x "$f" /; done
    ldconfig 2>/dev/null || true
fi
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -f "$icd" ] && [ -z "${VK_DRIVER_FILES:-}" ] && ! "$BIN" devices 2>/dev/null | grep -q "GPU"; then
    export VK_DRIVER_FILES=$icd
fi

step() { # step NAME COMMAND...: runs it under the time limit, says how it ended
    local name=$1 t0 rc
    shift
    echo "== $name"
    t0=$(date +%s)
    timeout "$STEP" "$@"
    rc=$?
    echo "-- $name: rc $rc, $(($(date +%s) - t0)) s$([ $rc = 124 ] && echo ' (time limit)')"
}

step "devices" "$BIN" devices --verbose
nvidia-smi --query-gpu=name,memory.total,clocks.max.memory,power.limit --format=csv 2>/dev/null
if [ -d "$MODELS" ]; then
    mkdir -p /tmp/dr-shared && ln -sfn "$(cd "$MODELS" && pwd)" /tmp/dr-shared/models
    step "gpu-check" env JOULE="$BIN" JOULE_SHARED=/tmp/dr-shared TYPES="Q4_K_M Q8_0 F16" \
        QWEN="Q8_0" tools/gpu-check.sh
else
    echo "== gpu-check skipped: no $MODELS (carry the shared models, see the top of this script)"
fi

# power draw beside the q4_k_m bench: J/token from NVML's counter vs nvidia-smi's watts x time
smi_pid=""
if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=timestamp,power.draw --format=csv,noheader -lms 200 \
        >"$OUTDIR/power.csv" 2>/dev/null &
    smi_pid=$!
fi
# the 8B files once (random weights in the real shapes and types), then every bench reads them
for q in q4_k_m q8_0; do
    [ -s "/tmp/llama-3.1-8b-$q.gguf" ] ||
        step "synth llama-3.1-8b-$q" "$BIN" synth "llama-3.1-8b-$q" -o "/tmp/llama-3.1-8b-$q.gguf"
done
for q in q4_k_m q8_0; do
    step "bench llama-3.1-8b-$q" "$BIN" bench -m "/tmp/llama-3.1-8b-$q.gguf" --device vulkan \
        -p 512 -n 128 -d 0,4096 -r 3 --idle 2 --energy-min 0
done
[ -n "$smi_pid" ] && kill "$smi_pid" 2>/dev/null
[ -s "$OUTDIR/power.csv" ] && echo "nvidia-smi power samples: $(wc -l <"$OUTDIR/power.csv") in $OUTDIR/power.csv"

step "tg128 before (old decode kernels)" env JOULE_VK_MV_GPU=0 JOULE_VK_SPLIT_KV=0 "$BIN" bench \
    -m /tmp/llama-3.1-8b-q4_k_m.gguf --device vulkan -p 0 -n 128 -d 0,4096 -r 3 --idle 0 --energy-min 0
step "pp512 before (old matmul, no tiles)" env JOULE_VK_MATMUL_TILE=0 "$BIN" bench \
    -m /tmp/llama-3.1-8b-q4_k_m.gguf --device vulkan -p 512 -n 0 -r 2 --idle 0 --energy-min 0
step "profile (decode)" env JOULE_VK_PROFILE=1 "$BIN" bench -m /tmp/llama-3.1-8b-q4_k_m.gguf \
    --device vulkan -p 0 -n 32 -d 4096 -r 1 --idle 0 --energy-min 0
echo "== done: $OUTDIR/device-run.log"
