#!/usr/bin/env bash
# Type-check and lint the engine with the GPU features (wgpu and cuda) on a machine without a
# GPU, a CUDA toolkit or network access (docs/SCALE.md, "GPU backends").
#
#   packaging/check-cuda.sh
#
# cubecl-cuda compiles kernels through LLVM's NVPTX backend, and its build script downloads an
# LLVM bundle from GitHub; DOCS_RS=1 makes it skip that (as on docs.rs), so this checks the
# CUDA path offline. It does not link: a real cuda build downloads the bundle once. Not part of
# the test command: it is one more build of the whole dependency tree (about 6 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
for arg in "$@"; do
    case "$arg" in
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "unknown argument: $arg" >&2; exit 2 ;;
    esac
done
DOCS_RS=1 cargo clippy -p bifsmn-engine --features wgpu,cuda --all-targets -- -D warnings
