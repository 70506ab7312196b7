#!/usr/bin/env bash
# Measure the training pipeline at scale (docs/SCALE.md): for each clip count, make a dataset of
# that many clips from the demo set (`bifsmn data scale`), fill its feature cache (`bifsmn data
# cache`), train the BiFSMNv2 student for one epoch on it (3 thin paths, distillation from the
# shipped teacher, batch 32, burn flex) and print one table row: cache build time, epoch time,
# clips/s, peak resident memory of the training process, audio and cache size on disk.
#
#   packaging/scale-test.sh [--work DIR] [--epochs N] [CLIPS...]     (default: 10000 30000 100000)
#
# Uses the release binary (built if missing). Every count gets its own folder under --work
# (default target/scale) and its own feature cache there (XDG_CACHE_HOME), so a run never
# reads a cache an earlier one filled. A count whose dataset exists is resumed, not remade.
set -euo pipefail

cd "$(dirname "$0")/.."
WORK="$PWD/target/scale"
EPOCHS=1
COUNTS=()
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        --work) WORK="$2"; shift 2 ;;
        --epochs) EPOCHS="$2"; shift 2 ;;
        [0-9]*) COUNTS+=("$1"); shift ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
[ ${#COUNTS[@]} -gt 0 ] || COUNTS=(10000 30000 100000)
for tool in /usr/bin/time python3; do
    command -v "$tool" >/dev/null || { echo "error: $tool is missing (apt-get install time python3)" >&2; exit 1; }
done

BIN="$PWD/target/release/bifsmn"
[ -x "$BIN" ] || cargo build --release -p bifsmn-cli
mkdir -p "$WORK"

echo "| clips | make dataset (s) | fill cache (s) | epoch (s) | clips/s | peak RSS (MB) | audio (MB) | cache (MB) |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
for n in "${COUNTS[@]}"; do
    dir="$WORK/clips-$n"
    export XDG_CACHE_HOME="$dir/xdg-cache"
    "$BIN" data scale --demo --clips "$n" --out "$dir/data" --json > "$dir.scale.json"
    "$BIN" data cache --root "$dir/data" --json > "$dir.cache.json"
    rm -rf "$dir/run"
    /usr/bin/time -v -o "$dir.time.txt" "$BIN" train student --root "$dir/data" \
        --teacher assets/models/demo-teacher --run-dir "$dir/run" --epochs "$EPOCHS" \
        --batch-size 32 --json > "$dir.train.jsonl"
    python3 - "$n" "$dir" <<'EOF'
import json, re, sys
n, d = sys.argv[1], sys.argv[2]
scale = json.load(open(d + ".scale.json"))
cache = json.load(open(d + ".cache.json"))
epochs = [json.loads(l) for l in open(d + ".train.jsonl") if '"clips_per_sec"' in l]
rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(d + ".time.txt").read()).group(1))
secs = sum(e["seconds"] for e in epochs) / len(epochs)
cps = sum(e["clips_per_sec"] for e in epochs) / len(epochs)
print(f"| {int(n):,} | {scale['seconds']:.1f} | {cache['seconds']:.1f} | {secs:.1f} | {cps:.0f} | "
      f"{rss_kb / 1024:.0f} | {scale['audio_bytes'] / 1e6:.0f} | {cache['entry_bytes'] / 1e6:.0f} |")
EOF
done
