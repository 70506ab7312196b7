#!/usr/bin/env bash
# Packaging check (part of packaging/test.sh): build the .deb from the binaries the test run
# already built, unpack it into a temporary root and run what it ships from there.
#
#   packaging/check-deb.sh              package target/debug + target/runners (uncompressed),
#                                       then check it
#   packaging/check-deb.sh --deb FILE   only check FILE (release.sh checks its release .deb)
#
# Checks: control fields (version = Cargo.toml, Installed-Size, Depends), root ownership, every
# file of the layout; from the unpacked tree: bifsmn / bifsmn-workbench / bifsmn-runner
# --version (version and commit), bifsmn-runner info, the static aarch64 runner's info under
# qemu-aarch64 -cpu cortex-a53, the aarch64 runner where deploy looks for it
# (<exe>/../lib/bifsmn-workbench/runners, deploy/src/runners.rs), `bifsmn data info
# --demo` finding the unpacked demo set, `bifsmn eval` of the packaged demo student, the completions (bash -n, zsh, fish), the icons,
# copyright files, and desktop-file-validate on the desktop entry.
set -euo pipefail
CALLER=$PWD
cd "$(dirname "$0")/.."
started=$(date +%s%N)

DEB=""
while (($#)); do
    case "$1" in
        --deb) DEB=$2; [[ $DEB == /* ]] || DEB="$CALLER/$DEB"; shift 2 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "check-deb: unknown argument: $1" >&2; exit 2 ;;
    esac
done

FAILED=0
fail() { printf '\033[1;31mcheck-deb: FAIL: %s\033[0m\n' "$*" >&2; FAILED=$((FAILED + 1)); }
die() { printf '\033[1;31mcheck-deb: FAIL: %s\033[0m\n' "$*" >&2; exit 1; }
ok() { printf 'check-deb: ok   %s\n' "$*"; }
for tool in dpkg-deb desktop-file-validate qemu-aarch64; do
    command -v "$tool" >/dev/null || die "$tool not found (packaging/bootstrap.sh installs it)"
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bifsmn-check-deb.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

if [[ -z $DEB ]]; then
    TARGET=${CARGO_TARGET_DIR:-target}
    # A no-op after `cargo test --workspace` (same dev profile and package selection), but it
    # makes sure both programs exist when this script runs alone.
    cargo build --workspace --bins --quiet
    for f in "$TARGET/debug/bifsmn" "$TARGET/debug/bifsmn-workbench" target/runners/x86_64/bifsmn-runner target/runners/aarch64/bifsmn-runner; do
        [[ -x $f ]] || die "$f is missing: run packaging/build-runner-host.sh, packaging/build-runner-aarch64.sh and cargo build --workspace --bins first"
    done
    DEB=$(packaging/build-deb.sh --bins "$TARGET/debug" --out "$WORK/dist" --fast | tail -n 1) ||
        die "packaging/build-deb.sh failed"
fi
[[ -f $DEB ]] || die "no package at $DEB"
echo "check-deb: checking $DEB ($(du -h "$DEB" | cut -f1))"

# Control fields.
VERSION=$(awk '/^\[/ { sec = $0 } sec == "[workspace.package]" && $1 == "version" { gsub(/"/, "", $3); print $3; exit }' Cargo.toml)
field() { dpkg-deb -f "$DEB" "$1"; }
[[ $(field Package) == bifsmn-workbench ]] || fail "Package is '$(field Package)', expected bifsmn-workbench"
[[ $(field Version) == "$VERSION" ]] || fail "Version is '$(field Version)', Cargo.toml says $VERSION"
[[ $(field Architecture) == "$(dpkg --print-architecture)" ]] || fail "Architecture is '$(field Architecture)'"
[[ $(field Installed-Size) =~ ^[0-9]+$ ]] || fail "Installed-Size missing or not a number"
DEPENDS=$(field Depends)
for lib in libc6 libasound2 libssl3 libx11-6 libxkbcommon0 libgl1; do
    [[ $DEPENDS == *"$lib"* ]] || fail "Depends lacks $lib: $DEPENDS"
done
ok "control: $(field Package) $(field Version) $(field Architecture), Installed-Size $(field Installed-Size) KiB"
if dpkg-deb -c "$DEB" | awk '$2 != "root/root" { bad = 1; print } END { exit bad }' >&2; then
    ok "every file owned by root/root"
else
    fail "files not owned by root/root (listed above)"
fi

# Unpack and check the layout.
R="$WORK/root"
before=$FAILED
dpkg-deb -x "$DEB" "$R"
for f in usr/bin/bifsmn usr/bin/bifsmn-workbench usr/bin/bifsmn-runner \
    usr/lib/bifsmn-workbench/runners/aarch64/bifsmn-runner \
    usr/share/applications/bifsmn-workbench.desktop \
    usr/share/icons/hicolor/scalable/apps/bifsmn-workbench.svg \
    usr/share/icons/hicolor/256x256/apps/bifsmn-workbench.png \
    usr/share/bash-completion/completions/bifsmn \
    usr/share/zsh/vendor-completions/_bifsmn \
    usr/share/fish/vendor_completions.d/bifsmn.fish \
    usr/share/doc/bifsmn-workbench/copyright \
    usr/share/doc/bifsmn-workbench/THIRD-PARTY-LICENSES.gz \
    usr/share/bifsmn-workbench/demo/LICENSE \
    usr/share/bifsmn-workbench/demo/testing_list.txt \
    usr/share/bifsmn-workbench/models/demo-student.bkw \
    usr/share/bifsmn-workbench/models/demo-student/best-model.bpk \
    usr/share/bifsmn-workbench/models/demo-teacher/best-model.bpk; do
    [[ -s $R/$f ]] || fail "/$f is missing or empty"
done
[[ -x $R/usr/lib/bifsmn-workbench/runners/x86_64/bifsmn-runner ]] ||
    fail "/usr/lib/bifsmn-workbench/runners/x86_64/bifsmn-runner does not lead to an executable"
((FAILED > before)) || ok "layout"

# Programs, run from the unpacked tree. No variable may point them back at the checkout.
unset BIFSMN_DEMO_DIR BIFSMN_RUNNER_DIR
OUT=""
run() { # run NAME CMD...: CMD's output in $OUT; a failure (with that output) if it fails
    local name=$1 rc=0; shift
    OUT=$("$@" 2>&1) || rc=$?
    ((rc == 0)) || fail "$name failed (exit $rc): $OUT"
    return "$rc"
}
version_re="^%s $VERSION \\(([0-9a-f]{7,} [0-9]{4}-[0-9]{2}-[0-9]{2}|unknown( commit)?)\\)\$"
for prog in bifsmn bifsmn-workbench bifsmn-runner; do
    if run "$prog --version" "$R/usr/bin/$prog" --version; then
        # shellcheck disable=SC2059
        if [[ $OUT =~ $(printf "$version_re" "$prog") ]]; then ok "$OUT"; else fail "$prog --version printed '$OUT'"; fi
    fi
done
if run "bifsmn-runner info" "$R/usr/bin/bifsmn-runner" info; then
    ok "bifsmn-runner info: $(grep -m1 '^arch' <<<"$OUT")"
fi
ARM="$R/usr/lib/bifsmn-workbench/runners/aarch64/bifsmn-runner"
if command -v file >/dev/null; then
    file "$ARM" | grep -q "ARM aarch64.*statically linked" || fail "aarch64 runner is not a static aarch64 ELF: $(file -b "$ARM")"
fi
if run "aarch64 runner info under qemu" qemu-aarch64 -cpu cortex-a53 "$ARM" info; then
    if grep -q "^arch: *aarch64" <<<"$OUT"; then
        ok "aarch64 runner info under qemu-aarch64 -cpu cortex-a53: $(grep -m1 '^arch' <<<"$OUT")"
    else
        fail "aarch64 runner info does not say aarch64: $OUT"
    fi
fi
# Deploy's search rule (deploy/src/runners.rs): <dir of bifsmn>/../lib/bifsmn-workbench/runners/<arch>.
if [[ -f "$(dirname "$R/usr/bin/bifsmn")/../lib/bifsmn-workbench/runners/aarch64/bifsmn-runner" ]]; then
    ok "aarch64 runner at <exe>/../lib/bifsmn-workbench/runners/aarch64, where deploy looks"
else
    fail "the aarch64 runner is not where deploy looks"
fi
if run "bifsmn data info --demo" "$R/usr/bin/bifsmn" data info --demo --json; then
    root=$(sed -n 's/^ *"root": "\(.*\)",$/\1/p' <<<"$OUT" | head -n 1)
    want=$(realpath -m "$R/usr/share/bifsmn-workbench/demo")
    if [[ $root == "$want" ]]; then
        ok "bifsmn data info --demo uses the packaged demo set ($(grep -c '_nohash_' "$want/testing_list.txt") test clips listed)"
    else
        fail "bifsmn data info --demo used '$root', not the packaged $want"
    fi
fi

# The shipped student, run on the packaged demo set by the bit kernels.
if run "bifsmn eval of the packaged student" "$R/usr/bin/bifsmn" eval --json \
    --model "$R/usr/share/bifsmn-workbench/models/demo-student.bkw"; then
    paths=$(grep -c '"layers"' <<<"$OUT" || true)
    if ((paths == 3)); then
        ok "the packaged demo student evaluates on the packaged demo set (3 thin paths)"
    else
        fail "bifsmn eval of the packaged student reported $paths thin paths, not 3"
    fi
fi

# Completions, desktop entry, icons, docs.
before=$FAILED
bash -n "$R/usr/share/bash-completion/completions/bifsmn" || fail "bash completion has a syntax error"
grep -q "complete .*bifsmn" "$R/usr/share/bash-completion/completions/bifsmn" || fail "bash completion does not complete bifsmn"
head -n 1 "$R/usr/share/zsh/vendor-completions/_bifsmn" | grep -q "^#compdef bifsmn" || fail "zsh completion lacks #compdef bifsmn"
grep -q "complete -c bifsmn" "$R/usr/share/fish/vendor_completions.d/bifsmn.fish" || fail "fish completion does not complete bifsmn"
((FAILED > before)) || ok "completions: bash, zsh, fish"
if out=$(desktop-file-validate "$R/usr/share/applications/bifsmn-workbench.desktop" 2>&1) && [[ -z $out ]]; then
    ok "desktop-file-validate: clean"
else
    fail "desktop-file-validate: $out"
fi
if command -v file >/dev/null; then
    file "$R/usr/share/icons/hicolor/256x256/apps/bifsmn-workbench.png" | grep -q "PNG image data, 256 x 256" ||
        fail "the 256x256 icon is not a 256x256 PNG"
fi
C="$R/usr/share/doc/bifsmn-workbench/copyright"
if grep -q "^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/" "$C" &&
    grep -q "^License: MIT or Apache-2.0" "$C" && grep -q "^License: CC0-1.0" "$C"; then
    ok "icons and copyright"
else
    fail "copyright file incomplete"
fi

ms=$((($(date +%s%N) - started) / 1000000))
((FAILED == 0)) || die "the package check failed (see above)"
printf 'check-deb: package OK in %d.%01ds\n' $((ms / 1000)) $((ms % 1000 / 100))
