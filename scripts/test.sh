#!/usr/bin/env bash
# The test command (README; .ci/run runs exactly this): the test suite, then
# each fuzzer for PHOTOSEARCH_FUZZ_SECONDS (default 30) from its seed corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
swift test
bash scripts/fuzz.sh "${PHOTOSEARCH_FUZZ_SECONDS:-30}"
