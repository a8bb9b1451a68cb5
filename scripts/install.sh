#!/usr/bin/env bash
# Installs photosearch for the current user, no root needed:
#   PREFIX/bin/photosearch                      (default PREFIX: ~/.local)
#   PREFIX/share/man/man1/photosearch.1
#   PREFIX/share/bash-completion/completions/photosearch
#   PREFIX/share/zsh/site-functions/_photosearch
#   PREFIX/share/fish/vendor_completions.d/photosearch.fish
# The binary carries the Swift runtime (--static-swift-stdlib) and its BPE
# vocabulary: it runs without the toolchain or this build folder. It links
# Debian's libraries (scripts/install-dependencies.sh installs them).
# Usage: bash scripts/install.sh [PREFIX]
set -euo pipefail
prefix=${1:-$HOME/.local}
cd "$(dirname "$0")/.."
scratch=${PHOTOSEARCH_INSTALL_SCRATCH:-.build-install}

swift build -c release --static-swift-stdlib --scratch-path "$scratch" --product photosearch

install -d "$prefix/bin" "$prefix/share/man/man1" "$prefix/share/bash-completion/completions" \
    "$prefix/share/zsh/site-functions" "$prefix/share/fish/vendor_completions.d"
install -m 0755 "$scratch/release/photosearch" "$prefix/bin/photosearch"
strip "$prefix/bin/photosearch"
# The man page from the commands' own help, with defaults, exit statuses and examples.
"$prefix/bin/photosearch" --generate-manual >"$prefix/share/man/man1/photosearch.1"
"$prefix/bin/photosearch" --generate-completion-script bash >"$prefix/share/bash-completion/completions/photosearch"
"$prefix/bin/photosearch" --generate-completion-script zsh >"$prefix/share/zsh/site-functions/_photosearch"
"$prefix/bin/photosearch" --generate-completion-script fish >"$prefix/share/fish/vendor_completions.d/photosearch.fish"

echo "installed $prefix/bin/photosearch"
case ":$PATH:" in
    *":$prefix/bin:"*) ;;
    *) echo "note: $prefix/bin is not on your PATH; add it, e.g. in ~/.profile: export PATH=\"$prefix/bin:\$PATH\"" ;;
esac
