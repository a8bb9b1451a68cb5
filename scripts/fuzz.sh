#!/usr/bin/env bash
# Builds the fuzzers (libFuzzer with AddressSanitizer, Tests/Fuzz) and runs each
# for SECONDS (default 60) from a copy of its committed seed corpus. Fails on
# any crash, sanitizer report or input slower than 20 s; the reproducer is
# kept in .build-fuzz/findings/ and its path printed.
# Usage: bash scripts/fuzz.sh [SECONDS]
set -euo pipefail
seconds=${1:-60}
cd "$(dirname "$0")/.."
root=$PWD
swift build --package-path Tests/Fuzz --scratch-path .build-fuzz -c release \
    -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p .build-fuzz/findings
status=0
for seeds in Tests/Fuzz/Corpus/*/; do
    name=$(basename "$seeds")
    mkdir -p "$work/$name/corpus"
    cp "$seeds"* "$work/$name/corpus/"
    # Swift's runtime keeps global caches that LeakSanitizer would report at exit.
    if (cd "$work/$name" && ASAN_OPTIONS=detect_leaks=0 "$root/.build-fuzz/release/fuzz-$name" corpus \
            -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 >log 2>&1); then
        echo "fuzz-$name: no crash in ${seconds} s, $(grep -m1 -o 'number_of_executed_units: [0-9]*' "$work/$name/log" | cut -d' ' -f2) inputs"
    else
        status=1
        echo "fuzz-$name: FAILED"
        tail -n 40 "$work/$name/log"
        for finding in "$work/$name"/crash-* "$work/$name"/timeout-* "$work/$name"/oom-*; do
            [ -e "$finding" ] || continue
            cp "$finding" ".build-fuzz/findings/$name-$(basename "$finding")"
            echo "reproducer: .build-fuzz/findings/$name-$(basename "$finding")"
        done
    fi
done
exit $status
