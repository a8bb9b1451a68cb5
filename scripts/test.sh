#!/usr/bin/env bash
# The test command (README; .ci/run runs exactly this): the test suite, then
# each fuzzer for PHOTOSEARCH_FUZZ_SECONDS (default 30) from its seed corpus.
# Each phase's time is printed, to keep an eye on CI's 30-minute limit.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
swift build --build-tests
echo "test.sh: tests built in $((SECONDS - started)) s"
phase=$SECONDS
swift test --skip-build
echo "test.sh: tests ran in $((SECONDS - phase)) s"
phase=$SECONDS
bash scripts/fuzz.sh "${PHOTOSEARCH_FUZZ_SECONDS:-30}"
echo "test.sh: fuzzers built and ran in $((SECONDS - phase)) s; $((SECONDS - started)) s in all"
