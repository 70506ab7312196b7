#!/usr/bin/env bash
# The whole test suite: what `make test` and CI (.ci/run) run, in order of increasing cost.
#
#   packaging/test.sh
#
# 1. format and lints           cargo fmt --check, cargo clippy -D warnings
# 2. board runners              static aarch64 runner (+ kernels' tests under qemu -cpu
#                               cortex-a53, bit-for-bit comparison with x86) and the host runner
# 3. workspace tests            unit, integration, parity (burn vs kernels), deploy to a local
#                               sshd running the aarch64 runner under qemu, GUI (egui_kittest)
#    GPU backend                the engine with --features wgpu trains on lavapipe (Mesa's
#                               software Vulkan) and matches flex (docs/SCALE.md)
# 4. package                    the .deb from the binaries of steps 2-3, unpacked and run
#                               (packaging/check-deb.sh)
# 5. fuzzing                    the packed-model reader for a bounded time
# 6. real window                the GUI under Xvfb, every panel opened and its screenshot
#                               checked (packaging/window-check.sh)
#
# Everything uses one cargo package selection (--workspace) so dependencies build once.
set -euo pipefail
cd "$(dirname "$0")/.."
packaging/bootstrap.sh

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
started=$(date +%s)

# Disk and memory at the start and on any failure: a link that fails for want of space or memory
# prints only "linking with cc failed", so the log must say what the machine had left.
resources() {
    printf 'disk: %s free in %s (target: %s); memory: %s MiB available\n' \
        "$(df -h --output=avail . | tail -1 | tr -d ' ')" "$PWD" \
        "$(du -sh target 2>/dev/null | cut -f1 || echo none)" \
        "$(awk '/MemAvailable/ {print int($2 / 1024)}' /proc/meminfo)"
    # A cold build needs about 5 GB in target/, and the GPU backends' build about 4 GB more
    # (measured); say so before the linker fails.
    local avail_kb
    avail_kb=$(df -k --output=avail . | tail -1 | tr -d ' ')
    if ((avail_kb < 10 * 1024 * 1024)); then
        printf 'warning: less than 10 GB free; a cold build of the test suite needs about 9 GB\n'
    fi
}
trap 'status=$?; printf "\nFAILED (exit %s) after %ss; " "$status" "$(( $(date +%s) - started ))"; resources' ERR
resources

step "format"
cargo fmt --all -- --check

step "clippy"
cargo clippy --workspace --all-targets -- -D warnings

step "board runners (aarch64 static under qemu, host)"
packaging/build-runner-aarch64.sh --test
packaging/build-runner-host.sh

step "workspace tests"
cargo test --workspace

# Its own feature set, so after the default build: see docs/SCALE.md for what it costs. The
# CUDA type-check is packaging/check-cuda.sh, outside this command (a third dependency build).
step "GPU backend (wgpu trains on lavapipe and matches flex)"
cargo test -p bifsmn-engine --features wgpu --test gpu_wgpu

step "package (.deb of the test build, unpacked and run)"
packaging/check-deb.sh

step "fuzz the packed-model reader (bounded)"
packaging/fuzz.sh "${BIFSMN_FUZZ_SECONDS:-60}"

step "real window under Xvfb (every panel opens, draws and saves a screenshot)"
packaging/window-check.sh target/debug/bifsmn-workbench

printf '\nall tests passed in %ss\n' "$(( $(date +%s) - started ))"
