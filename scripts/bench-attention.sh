#!/usr/bin/env bash
# Builds and runs scripts/bench-attention.c against photosearch's kernels
# (compiled from Sources/CKernels as SwiftPM compiles them, -O3): one
# attention head at 50 to 1 024 keys, single-threaded.
# Usage: bash scripts/bench-attention.sh [SECONDS per figure]
set -euo pipefail
cd "$(dirname "$0")/.."
out=.build-bench/bench-attention
mkdir -p .build-bench/attention
for file in Sources/CKernels/*.c; do
    clang -O3 -c -I Sources/CKernels/include "$file" -o ".build-bench/attention/$(basename "$file" .c).o"
done
clang -O3 -I Sources/CKernels/include scripts/bench-attention.c .build-bench/attention/*.o -lpthread -lm -o "$out"
exec "$out" "${1:-1}"
