#!/usr/bin/env bash
# Remakes the README's gallery screenshots (docs/gallery*.png): the fixture
# photos indexed with the random SigLIP 2 test model (its results mean
# nothing), served, and photographed by headless Chromium at desktop and
# phone sizes, with Debian's fonts-noto-cjk for the Chinese query. Needs a
# debug build, chromium, fonts-noto-cjk and Python's Pillow (to reduce the
# PNGs to 256 colours). Not run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir "$work/photos"
cp fixtures/photos/*.jpg fixtures/photos/*.png fixtures/photos/*.webp fixtures/photos/*.heic fixtures/photos/places/*.jpg "$work/photos/"
model=fixtures/models/siglip2-p8
.build/debug/photosearch index "$work/photos" --db "$work/index.sqlite" --model "$model"
.build/debug/photosearch serve --db "$work/index.sqlite" --model "$model" --port 18123 &
server=$!
until curl -sf http://127.0.0.1:18123/api/status >/dev/null; do sleep 0.2; done
lisbon=$(curl -s 'http://127.0.0.1:18123/api/timeline?top=100' | python3 -c 'import json,sys; print([h["id"] for h in json.load(sys.stdin)["results"] if h["path"].endswith("/lisbon.jpg")][0])')
shoot() {   # name, window size, address
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --virtual-time-budget=10000 \
        --user-data-dir="$work/chromium" --window-size="$2" --screenshot="$work/$1.png" "http://127.0.0.1:18123$3" 2>/dev/null
    python3 -c 'import sys; from PIL import Image; Image.open(sys.argv[1]).convert("RGB").quantize(256, dither=Image.Dither.NONE).save(sys.argv[2], optimize=True)' \
        "$work/$1.png" "docs/$1.png"
}
shoot gallery 1280,800 '/?q=%E6%B5%B7%E8%BE%B9%E7%9A%84%E6%97%A5%E8%90%BD'
shoot gallery-timeline 1280,800 /
shoot gallery-phone 390,844 /
shoot gallery-phone-viewer 390,844 "/?photo=$lisbon"
echo "docs/gallery*.png remade"
