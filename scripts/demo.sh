#!/usr/bin/env bash
# One command from a fresh Debian 12 checkout: install the system packages,
# build in release mode, then index the bundled sample photos and search them
# with the bundled TEST model. The test model has RANDOM weights: it runs the
# whole pipeline offline, but its rankings mean nothing. For real results
# install published weights: photosearch models install openai-vit-b-32
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-dependencies.sh
swift build -c release

photosearch=.build/release/photosearch
model=fixtures/models/oc-vit-gelu-p16
db=$(mktemp -d)/index.sqlite
echo
echo "== indexing fixtures/photos with the random test model ($model)"
$photosearch index fixtures/photos --model "$model" --db "$db"
$photosearch status --db "$db"
echo
echo "== photosearch search \"a cat on a rug\"   (random weights: the order is arbitrary)"
$photosearch search "a cat on a rug" --model "$model" --db "$db" --top 5
echo
echo "== photosearch similar fixtures/photos/chelsea.png"
$photosearch similar fixtures/photos/chelsea.png --db "$db" --top 3
echo
echo "== to browse them: $photosearch serve --model $model --db $db   (then open the address it prints)"
