#!/usr/bin/env bash
# Builds and runs scripts/bench-gemm.cpp: photosearch's kernels (compiled
# from Sources/CKernels as SwiftPM compiles them, -O3) against oneDNN's
# matmul. Needs clang and libdnnl-dev (apt-get install libdnnl-dev).
# Usage: bash scripts/bench-gemm.sh [SECONDS per figure] [ROWS (default 400)]
set -euo pipefail
cd "$(dirname "$0")/.."
out=.build-bench/bench-gemm
mkdir -p .build-bench
for file in Sources/CKernels/*.c; do
    clang -O3 -c -I Sources/CKernels/include "$file" -o ".build-bench/$(basename "$file" .c).o"
done
clang++ -O3 -std=c++17 -I Sources/CKernels/include scripts/bench-gemm.cpp .build-bench/*.o -ldnnl -lpthread -o "$out"
exec "$out" "${1:-2}" "${2:-400}"
