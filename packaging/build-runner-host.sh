#!/usr/bin/env bash
# Build the x86-64 board runner (for x86-64 boards and local tries) and publish it where
# `bifsmn deploy` looks for it in a checkout: target/runners/x86_64/bifsmn-runner.
#
#   packaging/build-runner-host.sh
#
# Builds in target/kh (CARGO_TARGET_DIR, the kernels' own target directory) so the main
# target directory, shared with the burn-heavy engine builds, is not touched.
set -euo pipefail

cd "$(dirname "$0")/.."
for arg in "$@"; do
    case "$arg" in
        -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
        *) echo "unknown argument: $arg" >&2; exit 2 ;;
    esac
done
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target/kh}"

if [ "$(uname -m)" != "x86_64" ]; then
    echo "error: this script builds the x86_64 runner natively; this machine is $(uname -m)" >&2
    exit 1
fi
cargo build --release -p bifsmn-kernels --bin bifsmn-runner
BIN="$CARGO_TARGET_DIR/release/bifsmn-runner"
"$BIN" --version

# Copy, then rename: a deploy running at the same moment never uploads a half-copied runner.
RUNNERS="$PWD/target/runners/x86_64"
mkdir -p "$RUNNERS"
cp "$BIN" "$RUNNERS/.bifsmn-runner.tmp"
mv -f "$RUNNERS/.bifsmn-runner.tmp" "$RUNNERS/bifsmn-runner"
SIZE=$(stat -c %s "$RUNNERS/bifsmn-runner")
echo "built $RUNNERS/bifsmn-runner: $SIZE bytes ($((SIZE / 1024)) KiB), x86_64"
