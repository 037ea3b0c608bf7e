#!/usr/bin/env bash
# build.sh — build joule and its tests.
#   ./build.sh          build ./joule
#   ./build.sh test     build and run the test suite (Check)
#   ./build.sh asan     build and run the tests under AddressSanitizer + UBSan
#   ./build.sh fuzz [SECONDS]  build the libFuzzer harnesses (fuzz/, clang + ASan + UBSan), replay
#                       their seeds, then fuzz each for SECONDS (60; 0: replay only); FUZZ_JOBS at a time (2)
#   ./build.sh deps     install the Debian packages the build needs (apt-get), and a newer glslc
#                       (Debian 13's, unpacked in .deps/glslc without touching the system) for the
#                       kernels that need one (cooperative matrices, integer dot products)
#   ./build.sh clean    remove build outputs
# Environment: CC (gcc or clang), CI=1 adds -Werror, JOBS (parallel compiles),
#   GLSLC_NEW (the newer glslc; default .deps/glslc/glslc when ./build.sh deps fetched it).
set -euo pipefail
cd "$(dirname "$0")"

PKGS="build-essential pkg-config check glslc libvulkan-dev libstb-dev clang libclang-rt-14-dev"
RUNTIME_PKGS="libvulkan1 mesa-vulkan-drivers vulkan-validationlayers fonts-dejavu-core"
# tests/test_slurm.c: a real single-node Slurm (tools/slurm-local.sh starts it)
CLUSTER_PKGS="slurmctld slurmd slurm-client munge"

CC=${CC:-cc}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
CFLAGS_BASE="-std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter -Isrc -Ibuild/gen"
if [ "${CI:-}" != "" ] && [ "${CI:-}" != "0" ]; then CFLAGS_BASE="$CFLAGS_BASE -Werror"; fi
LIBS="-lm -lpthread -ldl"

die() { echo "build.sh: $*" >&2; exit 1; }

missing_pkgs() {
    local miss=""
    command -v "$CC" >/dev/null 2>&1 || miss="$miss build-essential"
    command -v pkg-config >/dev/null 2>&1 || miss="$miss pkg-config"
    command -v glslc >/dev/null 2>&1 || miss="$miss glslc"
    if [ "${1:-}" = test ] && ! pkg-config --exists check 2>/dev/null; then miss="$miss check"; fi
    [ -f /usr/include/vulkan/vulkan.h ] || miss="$miss libvulkan-dev"
    [ -f /usr/include/stb/stb_image_write.h ] || miss="$miss libstb-dev"
    echo "$miss"
}

check_deps() {
    local miss
    miss=$(missing_pkgs "${1:-}")
    if [ -n "$miss" ]; then
        echo "build.sh: missing:$miss" >&2
        echo "  install with:  sudo apt-get install -y$miss   (or: ./build.sh deps)" >&2
        exit 1
    fi
}

# Compile shaders/*.comp into SPIR-V and embed them as C arrays in build/gen/shaders.c.
# A shader declares its variants as axes, expanded here (the cross product):
#   // axes: BASE AXIS AXIS ...
# AXIS is a named set (@types, @floats, @k, @unit, @reduce) or options separated by '|',
# each SUFFIX:DEFINE[,DEFINE] or '-' (no suffix, no define). The variant's name is BASE
# followed by the chosen suffixes, in axis order. Exceptions, one by one:
#   // variants: NAME:DEFINES[,DEFINES] NAME2:...
# A shader with neither is one variant named after its file.
# A shader that uses GLSL extensions Debian 12's glslc (shaderc 2023.2) does not know declares
#   // needs: FEATURE     (coopmat: GL_KHR_cooperative_matrix; int8dot: GL_EXT_integer_dot_product)
# and is compiled with the newer glslc (GLSLC_NEW) for Vulkan 1.3; without one its variants
# are left out, listed in shader_missing[] (src/shaders.h) so `joule devices` can say so.
SHADER_FLOATS="f32 f16 bf16"
SHADER_BLOCKS="q8_0 q4_0 q4_1 q5_0 q5_1"
SHADER_KS="q2_k q3_k q4_k q5_k q6_k"

# the options of a type axis: _q4_0:TYPE_Q4_0|...
type_axis() {
    local t out=""
    for t in "$@"; do out="$out${out:+|}_$t:TYPE_${t^^}"; done
    echo "$out"
}

axis_set() {
    case $1 in
    @types) type_axis $SHADER_FLOATS $SHADER_BLOCKS $SHADER_KS ;;
    @floats) type_axis $SHADER_FLOATS ;;
    @k) type_axis $SHADER_KS ;;
    @unit) type_axis $SHADER_FLOATS $SHADER_BLOCKS ;; # types with unit kernels (common.glsl UNIT)
    @reduce) echo "-|_ns:NO_SUBGROUP|_sg:ONE_SUBGROUP" ;; # subgroup+shared, shared only, one subgroup
    *) die "unknown shader axis '$1'" ;;
    esac
}

# expand_axes BASE AXIS...: prints NAME:DEFINES for every combination
expand_axes() {
    local out=("$1:") next axis opt v suf defs vn vd
    shift
    for axis in "$@"; do
        if [ "${axis#@}" != "$axis" ]; then axis=$(axis_set "$axis") || exit 1; fi
        next=()
        IFS='|' read -ra opts <<<"$axis"
        for v in "${out[@]}"; do
            for opt in "${opts[@]}"; do
                if [ "$opt" = - ]; then next+=("$v"); continue; fi
                suf=${opt%%:*} defs=""
                [[ $opt == *:* ]] && defs=${opt#*:}
                vn=${v%%:*} vd=${v#*:}
                next+=("$vn$suf:${vd:+$vd${defs:+,}}$defs")
            done
        done
        out=("${next[@]}")
    done
    echo "${out[@]}"
}

# the .glsl files src includes, directly or through others
shader_includes() {
    local todo=("$1") seen=" " f inc
    while [ ${#todo[@]} -gt 0 ]; do
        f=${todo[0]}
        todo=("${todo[@]:1}")
        for inc in $(sed -n 's|^#include "\([^"]*\)".*|\1|p' "$f"); do
            case "$seen" in *" shaders/$inc "*) continue ;; esac
            seen="$seen shaders/$inc "
            todo+=("shaders/$inc")
        done
    done
    echo "$seen"
}

# The newer glslc, when there is one that works: prints its path
glslc_new() {
    local g=${GLSLC_NEW:-.deps/glslc/glslc}
    [ -x "$g" ] && "$g" --version >/dev/null 2>&1 && echo "$g"
}

build_shaders() {
    mkdir -p build/gen build/spv
    local gen=build/gen/shaders.c.tmp.$$ # per process: concurrent builds do not mix
    {
        echo "/* generated by build.sh from the shaders/<op>.comp files — do not edit */"
        echo "#include <stddef.h>"
        echo "#include <stdint.h>"
        echo "#include \"shaders.h\""
    } >"$gen"
    local names=() missing=() newc newv=""
    newc=$(glslc_new) && newv=$("$newc" --version 2>/dev/null | sed -n 1p)
    shopt -s nullglob
    for src in shaders/*.comp; do
        local base variants line incs needs compiler env
        base=$(basename "$src" .comp)
        variants=$(sed -n 's|^// variants:[[:space:]]*||p' "$src" | tr '\n' ' ')
        while read -r line; do
            # shellcheck disable=SC2086
            [ -n "$line" ] && variants="$variants $(expand_axes $line)"
        done < <(sed -n 's|^// axes:[[:space:]]*||p' "$src")
        [ -n "${variants// /}" ] || variants="$base:"
        needs=$(sed -n 's|^// needs:[[:space:]]*||p' "$src" | tr '\n' ' ' | xargs)
        compiler=glslc env=vulkan1.1
        if [ -n "$needs" ]; then compiler=$newc env=vulkan1.3; fi
        incs=$(shader_includes "$src")
        for v in $variants; do
            local name=${v%%:*} defs=${v#*:} dflags=""
            if [ -n "$needs" ] && [ -z "$newc" ]; then
                missing+=("$name:$needs")
                continue
            fi
            IFS=',' read -ra dl <<<"$defs"
            for d in "${dl[@]}"; do [ -n "$d" ] && dflags="$dflags -D$d"; done
            local spv=build/spv/$name.spv
            local cmd="$compiler --target-env=$env -O -Ishaders$dflags $src"
            local stale=0 inc
            # rebuilt when the source, a file it includes or the command line changed
            if [ ! -f "$spv" ] || [ "$src" -nt "$spv" ]; then stale=1; fi
            [ "$(cat "$spv.cmd" 2>/dev/null)" = "$cmd" ] || stale=1
            for inc in $incs; do [ "$inc" -nt "$spv" ] && stale=1; done
            if [ $stale = 1 ]; then
                # shellcheck disable=SC2086
                "$compiler" --target-env=$env -O -Ishaders $dflags -o "$spv.$$" "$src" || die "shader $src ($name) failed to compile"
                mv -f "$spv.$$" "$spv"
                echo "$cmd" >"$spv.cmd"
            fi
            names+=("$name")
            echo "static const uint32_t spv_$name[] = {" >>"$gen"
            od -An -v -tx4 -w16 "$spv" | sed 's/\([0-9a-f]\{8\}\)/0x\1,/g' >>"$gen"
            echo "};" >>"$gen"
        done
    done
    echo "const struct shader_blob shader_blobs[] = {" >>"$gen"
    for n in "${names[@]+"${names[@]}"}"; do echo "    {\"$n\", spv_$n, sizeof spv_$n}," >>"$gen"; done
    echo "    {NULL, NULL, 0}};" >>"$gen"
    echo "const struct shader_missing shader_missing[] = {" >>"$gen"
    for n in "${missing[@]+"${missing[@]}"}"; do echo "    {\"${n%%:*}\", \"${n#*:}\"}," >>"$gen"; done
    echo "    {NULL, NULL}};" >>"$gen"
    echo "const char shader_compiler_new[] = \"${newv//\"/}\";" >>"$gen"
    if [ ${#missing[@]} -gt 0 ] && [ "${SHADER_NOTE_SHOWN:-}" = "" ]; then
        echo "build.sh: note: ${#missing[@]} kernel variants need a newer glslc than this one (features:" \
            "$(printf '%s\n' "${missing[@]}" | sed 's/^[^:]*://' | sort -u | xargs)); built without them" \
            "(./build.sh deps fetches one into .deps/glslc)" >&2
        export SHADER_NOTE_SHOWN=1
    fi
    if ! cmp -s "$gen" build/gen/shaders.c; then mv "$gen" build/gen/shaders.c; else rm -f "$gen"; fi
}

# Generate the list of Check suites from tests/test_*.c ("Suite *NAME_suite(void)").
gen_suites() {
    mkdir -p build/gen
    local out=build/gen/suites.h.tmp
    : >"$out"
    grep -ho '^Suite \*[a-z0-9_]*_suite(void)' tests/test_*.c 2>/dev/null | sed 's/^Suite \*\([a-z0-9_]*\)(void)/X(\1)/' >>"$out" || true
    if ! cmp -s "$out" build/gen/suites.h; then mv "$out" build/gen/suites.h; else rm -f "$out"; fi
}

# compile SRC... into objects under $1, in parallel; prints the object list
compile_all() {
    local objdir=$1 cflags=$2; shift 2
    mkdir -p "$objdir"
    local objs=() todo=()
    for s in "$@"; do
        local o="$objdir/$(echo "${s%.c}" | tr '/' '_').o"
        objs+=("$o")
        local dep="$o.d" stale=0
        if [ ! -f "$o" ] || [ "$s" -nt "$o" ] || [ build.sh -nt "$o" ]; then stale=1
        elif [ -f "$dep" ]; then
            for h in $(sed -e 's/\\$//' -e 's/^[^:]*://' "$dep"); do
                if [ "$h" -nt "$o" ]; then stale=1; break; fi
            done
        fi
        [ $stale = 1 ] && todo+=("$s|$o")
    done
    if [ ${#todo[@]} -gt 0 ]; then
        printf '%s\n' "${todo[@]}" | xargs -P "$JOBS" -I{} sh -c \
            's="${1%%|*}"; o="${1#*|}"; echo "  CC $s" >&2; '"$CC"' '"$cflags"' -MMD -MF "$o.d" -c "$s" -o "$o"' _ {} >&2 \
            || die "compile failed"
    fi
    printf '%s\n' "${objs[@]}"
}

# Embed suites/*.suite (the eval suite definitions) as C strings in build/gen/suites_embed.h,
# included by src/eval_suite.c.
build_suites() {
    mkdir -p build/gen
    local gen=build/gen/suites_embed.h.tmp f
    {
        echo "/* generated by build.sh from the suites/NAME.suite files — do not edit */"
        echo "static const struct suite_embedded {"
        echo "    const char *name, *text;"
        echo "} suite_embedded[] = {"
        shopt -s nullglob
        for f in suites/*.suite; do
            echo "    {\"$(basename "$f" .suite)\","
            sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/?/\\?/g' -e 's/^/     "/' -e 's/$/\\n"/' "$f"
            echo "    },"
        done
        echo "    {NULL, NULL}};"
    } >"$gen"
    if ! cmp -s "$gen" build/gen/suites_embed.h; then mv "$gen" build/gen/suites_embed.h; else rm -f "$gen"; fi
}

# build/gen/version.h: the git commit (for provenance.c), rewritten only when it changes.
gen_version() {
    mkdir -p build/gen
    local c
    c=$(git rev-parse HEAD 2>/dev/null || echo unknown)
    git diff --quiet HEAD 2>/dev/null || c="$c-dirty"
    echo "#define JOULE_GIT_COMMIT \"$c\"" >build/gen/version.h.tmp
    if ! cmp -s build/gen/version.h.tmp build/gen/version.h; then mv build/gen/version.h.tmp build/gen/version.h; else rm -f build/gen/version.h.tmp; fi
}

build_joule() {
    local variant=$1 cflags=$2 ldflags=$3
    gen_version
    build_shaders
    build_suites
    local objdir=build/$variant
    local objs
    objs=$(compile_all "$objdir" "$cflags" src/*.c build/gen/shaders.c engine.c) || exit 1
    # shellcheck disable=SC2086
    $CC $cflags -o "$4" $objs $ldflags $LIBS || die "link failed"
}

build_tests() {
    local variant=$1 cflags=$2 ldflags=$3 out=$4
    gen_version
    build_shaders
    build_suites
    gen_suites
    local check_cflags check_libs
    check_cflags=$(pkg-config --cflags check)
    check_libs=$(pkg-config --libs check)
    local objs
    objs=$(compile_all "build/$variant" "$cflags $check_cflags -Itests" src/*.c build/gen/shaders.c tests/*.c) || exit 1
    # shellcheck disable=SC2086
    $CC $cflags -o "$out" $objs $ldflags $check_libs $LIBS || die "link failed"
}

# Debian 13's glslc (shaderc 2025.2, glslang 15: GL_KHR_cooperative_matrix and
# GL_EXT_integer_dot_product) with the libraries it needs, downloaded through a private apt
# configuration (the machine's own mirror, suite $GLSLC_SUITE) and unpacked in .deps/glslc,
# where it runs through its own dynamic loader: nothing on the system changes. Checked by
# compiling a cooperative-matrix + integer-dot shader. Returns non-zero, saying why, when it
# cannot.
GLSLC_SUITE=${GLSLC_SUITE:-trixie}
fetch_glslc_new() {
    local dir=.deps/glslc tmp site arch f ld
    if [ -x "$dir/glslc" ] && "$dir/glslc" --version >/dev/null 2>&1; then
        echo "newer glslc: $("$dir/glslc" --version | sed -n 1p) (in $dir)"
        return 0
    fi
    arch=$(dpkg --print-architecture) || return 1
    # the mirror this machine's apt uses for its main archive
    site=$(apt-get indextargets --format '$(SITE) $(RELEASE)' 2>/dev/null | awk '$2 !~ /-/ {print $1; exit}')
    [ -n "$site" ] || { echo "build.sh: glslc: no Debian archive in this machine's apt sources" >&2; return 1; }
    tmp=$(mktemp -d) || return 1
    mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/deb"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $site $GLSLC_SUITE main" >"$tmp/sources.list"
    local o=(-qq -o "Dir::Etc::SourceList=$tmp/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache" -o "APT::Architecture=$arch"
        -o APT::Sandbox::User=root)
    echo "+ apt-get download glslc libshaderc1 libstdc++6 libgcc-s1 libc6 (Debian $GLSLC_SUITE, into $dir)"
    if ! apt-get "${o[@]}" update || ! (cd "$tmp/deb" && apt-get "${o[@]}" download glslc libshaderc1 libstdc++6 libgcc-s1 libc6); then
        echo "build.sh: glslc: could not download Debian $GLSLC_SUITE's glslc" >&2
        rm -rf "$tmp"
        return 1
    fi
    rm -rf "$dir.new" && mkdir -p "$dir.new/root"
    for f in "$tmp"/deb/*.deb; do
        dpkg-deb -x "$f" "$dir.new/root" || { rm -rf "$tmp" "$dir.new"; return 1; }
    done
    rm -rf "$tmp"
    ld=$(cd "$dir.new" && find root -name "ld-linux*.so.*" -print -quit)
    [ -n "$ld" ] || { echo "build.sh: glslc: no dynamic loader in the packages" >&2; rm -rf "$dir.new"; return 1; }
    {
        echo '#!/bin/sh'
        echo "# Debian $GLSLC_SUITE's glslc through its own loader and libraries (written by ./build.sh deps)"
        echo 'd=$(cd "$(dirname "$0")" && pwd)'
        echo "exec \"\$d/$ld\" --library-path \"\$d/$(dirname "$ld")\" \"\$d/root/usr/bin/glslc\" \"\$@\""
    } >"$dir.new/glslc"
    chmod +x "$dir.new/glslc"
    cat >"$dir.new/probe.comp" <<'PROBE'
#version 450
#extension GL_KHR_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_integer_dot_product : require
layout(local_size_x = 32) in;
layout(std430, binding = 0) buffer B { int d[]; };
void main()
{
    coopmat<float, gl_ScopeSubgroup, 16, 16, gl_MatrixUseAccumulator> c =
        coopmat<float, gl_ScopeSubgroup, 16, 16, gl_MatrixUseAccumulator>(1.0);
    coopMatStore(c, d, 0, 16, gl_CooperativeMatrixLayoutRowMajor);
    d[0] += dotPacked4x8EXT(d[1], d[2]);
}
PROBE
    if ! "$dir.new/glslc" --target-env=vulkan1.3 -o "$dir.new/probe.spv" "$dir.new/probe.comp"; then
        echo "build.sh: glslc: Debian $GLSLC_SUITE's glslc does not run here or lacks the extensions" >&2
        rm -rf "$dir.new"
        return 1
    fi
    rm -rf "$dir" && mv "$dir.new" "$dir"
    echo "newer glslc: $("$dir/glslc" --version | sed -n 1p) (in $dir)"
}

cmd=${1:-build}
case "$cmd" in
deps)
    all="$PKGS $RUNTIME_PKGS $CLUSTER_PKGS"
    echo "+ apt-get install -y $all"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $all
    fetch_glslc_new || echo "build.sh: no newer glslc (above: why); joule builds without the kernels that need one" >&2
    ;;
build)
    check_deps
    build_joule release "$CFLAGS_BASE -O2 -g" "" ./joule
    echo "built ./joule"
    ;;
test)
    check_deps test
    build_joule release "$CFLAGS_BASE -O2 -g" "" ./joule
    build_tests release "$CFLAGS_BASE -O2 -g" "" build/test_joule
    echo "running tests (build/test_joule)"
    JOULE_BIN="$PWD/joule" ./build/test_joule
    ;;
asan)
    check_deps test
    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
    build_joule asan "$CFLAGS_BASE -O1 -g $SAN" "$SAN" build/joule-asan
    build_tests asan "$CFLAGS_BASE -O1 -g $SAN" "$SAN" build/test_joule-asan
    echo "running tests under ASan+UBSan (build/test_joule-asan)"
    # CK_FORK=no keeps sanitizer reports attached to the failing test's output.
    # The Vulkan driver (lavapipe/LLVM) and loader leak a little at exit; the suppressions
    # name only those libraries, so a leak in joule itself still fails the run.
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
        LSAN_OPTIONS=suppressions="$PWD/tests/lsan_vulkan.supp" \
        JOULE_BIN="$PWD/build/joule-asan" JOULE_ASAN=1 ./build/test_joule-asan
    ;;
fuzz)
    # Harnesses: fuzz/fuzz_NAME.c (LLVMFuzzerTestOneInput), seeds in fuzz/corpus/NAME (regression
    # inputs of past findings included); new inputs found go to build/fuzz/corpus/NAME.
    check_deps
    command -v clang >/dev/null 2>&1 || die "fuzz needs clang (and libclang-rt-14-dev): ./build.sh deps"
    secs=${2:-60}
    case "$secs" in '' | *[!0-9]*) die "fuzz: SECONDS must be a whole number, not '$secs'" ;; esac
    CC=${FUZZ_CC:-clang}
    SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
    fcflags="$CFLAGS_BASE -O1 -g $SAN -Itests -Ifuzz"
    build_shaders
    build_suites
    objs=$(compile_all build/fuzz/obj "$fcflags -fsanitize=fuzzer-no-link" src/*.c \
        build/gen/shaders.c tests/gguf_writer.c fuzz/fuzz_util.c) || exit 1
    names=()
    for h in fuzz/fuzz_*.c; do
        n=$(basename "$h" .c)
        [ "$n" = fuzz_util ] && continue
        names+=("$n")
        if [ ! -x "build/fuzz/$n" ] || [ "$h" -nt "build/fuzz/$n" ] || [ -n "$(find build/fuzz/obj -newer "build/fuzz/$n" -name '*.o' | head -1)" ]; then
            echo "  LD build/fuzz/$n" >&2
            # shellcheck disable=SC2086
            $CC $fcflags -fsanitize=fuzzer -o "build/fuzz/$n" "$h" $objs $LIBS || die "link of $n failed"
        fi
    done
    # ASan's leak check stays on; the limits make a hang or a memory blow-up a finding too
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    mkdir -p build/fuzz/artifacts
    run_one() { # NAME SECONDS: replay the seeds, then fuzz; output in build/fuzz/NAME.log
        local n=$1 s=$2 seeds="fuzz/corpus/${1#fuzz_}"
        mkdir -p "build/fuzz/corpus/$n" "$seeds"
        # SECONDS 0: replay the seeds only (libFuzzer reads -max_total_time=0 as no limit)
        local budget="-max_total_time=$s"
        [ "$s" = 0 ] && budget="-runs=0"
        "build/fuzz/$n" "$budget" -timeout=20 -rss_limit_mb=2560 -max_len=65536 \
            -print_final_stats=1 -artifact_prefix="build/fuzz/artifacts/$n-" \
            "build/fuzz/corpus/$n" "$seeds" >"build/fuzz/$n.log" 2>&1
        echo $? >"build/fuzz/$n.rc"
    }
    rm -f build/fuzz/artifacts/*
    fail=0
    for n in "${names[@]}"; do
        while [ "$(jobs -rp | wc -l)" -ge "${FUZZ_JOBS:-2}" ]; do sleep 1; done
        echo "fuzz: $n for ${secs}s" >&2
        rm -f "build/fuzz/$n.rc"
        (set +e; run_one "$n" "$secs") &
    done
    wait
    for n in "${names[@]}"; do
        if [ "$(cat "build/fuzz/$n.rc" 2>/dev/null)" = 0 ]; then
            echo "fuzz: $n: $(grep -o 'stat::number_of_executed_units: [0-9]*' "build/fuzz/$n.log" | grep -o '[0-9]*$') executions, no findings"
        else
            fail=1
            echo "fuzz: $n FAILED; the end of build/fuzz/$n.log:" >&2
            tail -n 40 "build/fuzz/$n.log" >&2
            for a in build/fuzz/artifacts/"$n"-*; do
                [ -f "$a" ] || continue
                echo "reproducer $a ($(wc -c <"$a") bytes; rerun: build/fuzz/$n $a), base64:" >&2
                head -c 4096 "$a" | base64 >&2
            done
        fi
    done
    [ $fail = 0 ] || die "fuzz: findings (add each reproducer to fuzz/corpus/NAME with its fix)"
    ;;
clean)
    rm -rf build joule
    ;;
*)
    die "unknown command '$cmd' (use: build, test, asan, fuzz, deps, clean)"
    ;;
esac
