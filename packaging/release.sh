#!/usr/bin/env bash
# Build a release from this checkout (a clean clone works): the three programs in release mode
# and the .deb, into target/dist/.
#
#   packaging/release.sh
#
#   target/dist/bifsmn-workbench_<version>_<arch>.deb        the package (packaging/build-deb.sh)
#   target/dist/bifsmn-runner-<version>-aarch64               the static board runner on its own
#   target/dist/SHA256SUMS
#
# Steps: bootstrap (missing apt packages, the aarch64 target), `cargo build --locked --release
# --workspace --bins` (bifsmn-workbench, bifsmn), the host and static aarch64 runners
# (packaging/build-runner-{host,aarch64}.sh, their own target dir), the .deb (xz), and
# packaging/check-deb.sh on it. The first run compiles burn and eframe in release mode: about
# half an hour on two cores. Programs print `<version> (<commit> <date>)` with --version; set
# BIFSMN_GIT_COMMIT to override the commit (e.g. when building from a source tarball).
set -euo pipefail
cd "$(dirname "$0")/.."
for arg in "$@"; do
    case "$arg" in
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "release: unknown argument: $arg" >&2; exit 2 ;;
    esac
done
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
started=$(date +%s)

packaging/bootstrap.sh
if git rev-parse --git-dir >/dev/null 2>&1 && [[ -n $(git status --porcelain --untracked-files=no) ]]; then
    echo "release: warning: the working tree has uncommitted changes; --version will name HEAD" >&2
fi

TARGET=${CARGO_TARGET_DIR:-target}
DIST=target/dist

step "release build: bifsmn-workbench, bifsmn"
cargo build --locked --release --workspace --bins

step "board runners: host (x86_64) and static aarch64"
packaging/build-runner-host.sh
packaging/build-runner-aarch64.sh

step "package"
mkdir -p "$DIST"
DEB=$(packaging/build-deb.sh --bins "$TARGET/release" --out "$DIST" | tail -n 1)
VERSION=$(dpkg-deb -f "$DEB" Version)
cp target/runners/aarch64/bifsmn-runner "$DIST/bifsmn-runner-$VERSION-aarch64"
(cd "$DIST" && sha256sum "$(basename "$DEB")" "bifsmn-runner-$VERSION-aarch64" > SHA256SUMS)

step "check the package"
packaging/check-deb.sh --deb "$DEB"

step "done in $(( $(date +%s) - started ))s"
ls -l "$DIST"
echo "package: $DEB ($(stat -c %s "$DEB") bytes, $(du -h "$DEB" | cut -f1))"
