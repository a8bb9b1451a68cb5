#!/usr/bin/env bash
# Installs the Debian packages photosearch builds against, only those missing.
# Non-interactive; uses sudo when not run as root.
set -euo pipefail

packages=(
    libjpeg-dev          # libjpeg-turbo
    libpng-dev
    libwebp-dev
    libheif-dev          # HEIC
    libde265-dev         # HEVC: photosearch gives libheif its own libde265 decoder (HEVCDecoder.c)
    libsqlite3-dev       # GRDB
    libssl-dev           # libcrypto: its header to build, its SHA-256 loaded by `models install` alone
    libcurl4-openssl-dev # libcurl: its header to build, its library loaded by `models install` alone
    sqlite3              # the tests read indexes with it, as a second process
    time                 # GNU time: the tests read a child's own peak memory from it
    zlib1g-dev
    pkg-config
    chromium             # headless, for the web gallery's browser test
    zsh                  # the completion tests run each shell's script
    fish
    tzdata               # the date tests run in zones whose clocks change
)

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-dependencies: all Debian packages present"
    exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "install-dependencies: installing ${missing[*]}"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
