#!/usr/bin/env bash
# Fuzz the packed-model reader for a bounded time.
#
#   packaging/fuzz.sh [SECONDS] [extra libFuzzer flags...]     (default 60 s)
#
# Runs the cargo-fuzz target `parse_model` (fuzz/fuzz_targets/parse_model.rs) seeded with the
# committed corpus fuzz/corpus/parse_model (valid tiny models and truncated/corrupt variants).
# New interesting inputs go to a scratch corpus under the target directory, never into the
# committed one; crashes are written to fuzz/artifacts/parse_model/ and make the script fail.
#
# Only a stable toolchain is assumed: cargo-fuzz needs nightly flags, so RUSTC_BOOTSTRAP=1 is
# set for its build. cargo-fuzz (a pinned version) is installed with `cargo install` when missing.
set -euo pipefail

SECS="${1:-60}"
shift || true
case "$SECS" in
    ''|*[!0-9]*) echo "usage: $0 [SECONDS] [libFuzzer flags...]" >&2; exit 2 ;;
esac

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target/kh/fuzz}"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked --version 0.13.2
fi

SEEDS="$ROOT/fuzz/corpus/parse_model"
WORK="$CARGO_TARGET_DIR/corpus/parse_model"
mkdir -p "$WORK" "$ROOT/fuzz/artifacts/parse_model"

cd "$ROOT/fuzz"
# -max_len covers the seeds (tiny models are a few KiB); -rss_limit_mb bounds a runaway model.
cargo fuzz run parse_model "$WORK" "$SEEDS" -- \
    -max_total_time="$SECS" -max_len=32768 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 "$@"
echo "fuzzed parse_model for ${SECS}s; corpus: $(ls "$WORK" | wc -l) inputs in $WORK"
