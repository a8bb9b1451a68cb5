#!/usr/bin/env bash
# One command from a fresh Debian 12 checkout: install the system packages,
# build in release mode, and run photosearch on the bundled sample photos with
# the bundled TEST model. The test model has RANDOM weights: it exercises the
# whole pipeline offline, but its similarities mean nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-dependencies.sh
swift build -c release

model=fixtures/models/oc-vit-gelu-p16
db=$(mktemp -d)/index.sqlite
echo
echo "== photosearch index fixtures/photos with the random test model ($model)"
.build/release/photosearch index fixtures/photos --model "$model" --db "$db"
.build/release/photosearch status --db "$db"
echo
echo "== photosearch embed with the random test model"
.build/release/photosearch embed --model "$model" --normalize \
    --image fixtures/photos/chelsea.png \
    --image fixtures/photos/rocket.jpg \
    --text "a cat lying on a rug" | cut -c1-160
