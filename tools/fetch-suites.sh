#!/usr/bin/env bash
# fetch-suites.sh — download the data of joule's evaluation suites from their upstream
# sources into ${JOULE_DATA:-~/.cache/joule}/suites (the folder `joule eval` reads by
# default; --data DIR points elsewhere), verify each file's sha256, and say what failed.
#
#   tools/fetch-suites.sh                 every suite in suites/
#   tools/fetch-suites.sh mmlu gsm8k      only these
#
# What to fetch comes from the `file` lines of suites/NAME.suite (see suites/README.md):
#   file PATH SHA256 URL [HOW]    HOW: (none) as is, bz2, zip:MEMBER; {subject} expands over
#                                 the suite's group members, their hashes on `sha256` lines.
# A file already present with the right hash is not downloaded again. Needs curl (or wget),
# sha256sum, and bzip2 / unzip for the files that use them.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest=${JOULE_DATA:-$HOME/.cache/joule}/suites
cache=$dest/.downloads
failed=()

if [ "${1:-}" = -h ] || [ "${1:-}" = --help ]; then sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0; fi
mkdir -p "$dest" "$cache" || { echo "fetch-suites: cannot create $dest" >&2; exit 1; }

download() { # URL OUT
    if command -v curl >/dev/null 2>&1; then curl -fsSL --retry 3 -o "$2" "$1"
    elif command -v wget >/dev/null 2>&1; then wget -q -O "$2" "$1"
    else echo "fetch-suites: needs curl or wget" >&2; return 1; fi
}

# fetch_one SUITE PATH SHA URL HOW
fetch_one() {
    local suite=$1 path=$2 sha=$3 url=$4 how=$5 out=$dest/$2 tmp
    if [ -f "$out" ] && [ "${sha#\~}" != "-" ] && [ "$(sha256sum "$out" | cut -d' ' -f1)" = "${sha#\~}" ]; then
        echo "  ok       $path"; return 0
    fi
    if [ -f "$out" ] && [ "$sha" = "-" ]; then echo "  present  $path (no known sha256 to check)"; return 0; fi
    mkdir -p "$(dirname "$out")"
    tmp=$(mktemp "$out.part.XXXXXX") || return 1
    case "$how" in
    "")  download "$url" "$tmp" || { echo "  FAILED   $path: download of $url failed" >&2; rm -f "$tmp"; return 1; } ;;
    bz2) download "$url" "$tmp.bz2" && bzip2 -dc "$tmp.bz2" >"$tmp" \
             || { echo "  FAILED   $path: download or bunzip2 of $url failed" >&2; rm -f "$tmp" "$tmp.bz2"; return 1; }
         rm -f "$tmp.bz2" ;;
    zip:*)
        local z=$cache/$(echo "$url" | sha256sum | cut -c1-16).zip
        if [ ! -s "$z" ]; then download "$url" "$z.part" && mv "$z.part" "$z" \
            || { echo "  FAILED   $path: download of $url failed" >&2; rm -f "$tmp" "$z.part"; return 1; }; fi
        unzip -p "$z" "${how#zip:}" >"$tmp" 2>/dev/null && [ -s "$tmp" ] \
            || { echo "  FAILED   $path: ${how#zip:} not found in $url (or no unzip)" >&2; rm -f "$tmp"; return 1; } ;;
    *) echo "  FAILED   $path: unknown fetch method '$how' in suites/$suite.suite" >&2; rm -f "$tmp"; return 1 ;;
    esac
    local got; got=$(sha256sum "$tmp" | cut -d' ' -f1)
    case "$sha" in
    -)  echo "  fetched  $path (no known sha256; got $got)" ;;
    \~*) if [ "$got" = "${sha#\~}" ]; then echo "  fetched  $path (sha256 ok)"
         else echo "  WARNING  $path: sha256 $got differs from the expected ${sha#\~} (kept; see suites/$suite.suite)" >&2; fi ;;
    *)  if [ "$got" != "$sha" ]; then
            echo "  FAILED   $path: sha256 $got, expected $sha (upstream changed? file removed)" >&2
            rm -f "$tmp"; return 1
        fi
        echo "  fetched  $path (sha256 ok)" ;;
    esac
    mv "$tmp" "$out"
}

if [ $# -eq 0 ] || [ "$1" = all ]; then
    set -- $(for f in "$root"/suites/*.suite; do basename "$f" .suite; done)
fi
for name in "$@"; do
    def=$root/suites/$name.suite
    if [ ! -f "$def" ]; then echo "fetch-suites: unknown suite '$name' (no $def)" >&2; failed+=("$name"); continue; fi
    echo "$name:"
    members=$(awk '$1 == "group" { for (i = 3; i <= NF; i++) print $i }' "$def")
    while read -r _ path sha url how; do
        if [[ $path == *"{subject}"* ]]; then
            for s in $members; do
                p=${path//\{subject\}/$s}
                h=$(awk -v p="$p" '$1 == "sha256" && $2 == p { print $3 }' "$def")
                fetch_one "$name" "$p" "${h:--}" "${url//\{subject\}/$s}" "${how:-}" || failed+=("$name:$p")
            done
        else
            fetch_one "$name" "$path" "$sha" "$url" "${how:-}" || failed+=("$name:$path")
        fi
    done < <(awk '$1 == "file"' "$def")
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fetch-suites: ${#failed[@]} failed: ${failed[*]}" >&2
    exit 1
fi
echo "all present in $dest"
