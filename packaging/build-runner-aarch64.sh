#!/usr/bin/env bash
# Build the static aarch64 board runner (Raspberry Pi 3 / Cortex-A53 and newer, ARMv8.0 + NEON).
#
#   packaging/build-runner-aarch64.sh          build, check it is static, print its size
#   packaging/build-runner-aarch64.sh --test   also run the kernels' tests under
#                                              qemu-aarch64 -cpu cortex-a53 and the runner's
#                                              self-test, and compare it bit for bit with x86
#
# Needs: rustup target aarch64-unknown-linux-gnu, gcc-aarch64-linux-gnu (linker), file or
# readelf; for --test also qemu-user. The linker, +crt-static and the qemu runner come from
# .cargo/config.toml. Output: $CARGO_TARGET_DIR/aarch64-unknown-linux-gnu/<profile>/bifsmn-runner
# (CARGO_TARGET_DIR defaults to target/kh, the kernels' own target directory), also copied to
# target/runners/aarch64/bifsmn-runner, where `bifsmn deploy` looks for it in a checkout.
set -euo pipefail

cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target/kh}"
TARGET=aarch64-unknown-linux-gnu
PROFILE=release-small
RUN_TESTS=0
for arg in "$@"; do
    case "$arg" in
        --test) RUN_TESTS=1 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "unknown argument: $arg" >&2; exit 2 ;;
    esac
done

if ! rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
    echo "installing the $TARGET standard library" >&2
    rustup target add "$TARGET"
fi
command -v aarch64-linux-gnu-gcc >/dev/null || {
    echo "aarch64-linux-gnu-gcc not found (apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross)" >&2
    exit 1
}

# release-small (opt-level s, LTO, abort on panic, stripped) is the shipping profile; fall back
# to plain release if a toolchain cannot build it.
# The workspace's release-small uses opt-level "s", which stops the compiler vectorising the
# float kernels (measured on x86-64: binary forward 4x and FP32 baseline 13x slower). Keep its LTO,
# codegen-units = 1, panic = abort and strip, but at opt-level 3.
if ! cargo build --profile "$PROFILE" --config "profile.$PROFILE.opt-level=3" -p bifsmn-kernels --bin bifsmn-runner --target "$TARGET"; then
    echo "profile $PROFILE failed, building --release" >&2
    PROFILE=release
    cargo build --release -p bifsmn-kernels --bin bifsmn-runner --target "$TARGET"
fi
BIN="$CARGO_TARGET_DIR/$TARGET/$PROFILE/bifsmn-runner"

# Static check: no program interpreter and no dynamic section.
if command -v file >/dev/null; then
    file "$BIN"
    file "$BIN" | grep -q "statically linked" || { echo "error: $BIN is not statically linked" >&2; exit 1; }
fi
if command -v readelf >/dev/null; then
    if readelf -l "$BIN" | grep -q "Requesting program interpreter"; then
        echo "error: $BIN requests a dynamic loader" >&2
        exit 1
    fi
    readelf -h "$BIN" | grep -q "AArch64" || { echo "error: $BIN is not an AArch64 ELF" >&2; exit 1; }
fi
SIZE=$(stat -c %s "$BIN")
echo "built $BIN: $SIZE bytes ($((SIZE / 1024)) KiB), static, aarch64"

# Publish for deploy (deploy/src/runners.rs): copy, then rename, so a deploy running at
# the same moment never uploads a half-copied runner.
RUNNERS="$PWD/target/runners/aarch64"
mkdir -p "$RUNNERS"
cp "$BIN" "$RUNNERS/.bifsmn-runner.tmp"
mv -f "$RUNNERS/.bifsmn-runner.tmp" "$RUNNERS/bifsmn-runner"
echo "copied to $RUNNERS/bifsmn-runner"

if [ "$RUN_TESTS" = 1 ]; then
    command -v qemu-aarch64 >/dev/null || { echo "qemu-aarch64 not found (apt-get install qemu-user)" >&2; exit 1; }
    echo "== kernels unit tests under qemu-aarch64 -cpu cortex-a53"
    cargo test -p bifsmn-kernels --lib --target "$TARGET"
    echo "== runner self-test under qemu (every ISA, against the f64 reference)"
    qemu-aarch64 -cpu cortex-a53 "$BIN" selftest
    echo "== aarch64 runner vs x86-64 runner, bit for bit"
    BIFSMN_AARCH64_RUNNER="$BIN" cargo test -p bifsmn-kernels --test cross_arch -- --nocapture
fi
