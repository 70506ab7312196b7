#!/usr/bin/env bash
# The real window, not the headless harness: launch bifsmn-workbench under Xvfb once per panel,
# let it draw, save a screenshot through eframe, and check each PNG (right size, not blank).
# Catches what egui_kittest cannot: GL context creation, fonts, the eframe event loop, the
# persistence store, launch options. Called by packaging/test.sh; needs xvfb-run and Mesa.
#
#   packaging/window-check.sh [BIN]   (default target/debug/bifsmn-workbench)
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${1:-target/debug/bifsmn-workbench}"
[[ -x "$bin" ]] || { echo "window-check: $bin is missing (cargo build --workspace --bins)" >&2; exit 1; }
command -v xvfb-run >/dev/null || { echo "window-check: xvfb-run is missing (apt-get install xvfb xauth)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Nothing of the user's (remembered state, boards, runs) is read or written.
export BIFSMN_DATA_DIR="$work/data" BIFSMN_CONFIG_DIR="$work/config" XDG_DATA_HOME="$work/xdg"

width=1280 height=800
for panel in data train inspect test deploy; do
  png="$work/$panel.png"
  if ! timeout 120 xvfb-run -a -s "-screen 0 ${width}x${height}x24" "$bin" --fresh \
      --dataset assets/demo --panel "$panel" --model assets/models/demo-student.bkw \
      --screenshot "$png" --screenshot-after-frames 20 >"$work/$panel.log" 2>&1; then
    echo "window-check: the $panel panel did not open and save a screenshot:" >&2
    grep -v -e '^ALSA' -e 'cannot find card' "$work/$panel.log" | tail -20 >&2
    exit 1
  fi
  python3 - "$png" "$panel" <<'PY'
import struct, sys, zlib
path, panel = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
if data[:8] != b"\x89PNG\r\n\x1a\n":
    sys.exit(f"window-check: {panel}: {path} is not a PNG")
w, h, depth, ctype = struct.unpack(">IIBB", data[16:26])
# Decode the image rows to count distinct colours: a blank or single-colour window fails.
pos, idat = 8, b""
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    if kind == b"IDAT":
        idat += data[pos + 8:pos + 8 + n]
    pos += 12 + n
raw = zlib.decompress(idat)
bpp = {2: 3, 6: 4}.get(ctype)
if depth != 8 or bpp is None:
    sys.exit(f"window-check: {panel}: unexpected PNG format (depth {depth}, colour type {ctype})")
stride = w * bpp + 1
# Filtered rows: sample raw bytes of every 8th row (filters keep distinct content distinct).
samples = {raw[r * stride + 1:(r + 1) * stride] for r in range(0, h, 8)}
colours = {row[i:i + 3] for row in samples for i in range(0, len(row) - 2, bpp * 7)}
if w < 600 or h < 400:
    sys.exit(f"window-check: {panel}: window only {w}x{h}")
if len(colours) < 16:
    sys.exit(f"window-check: {panel}: the window looks blank ({len(colours)} distinct colours)")
print(f"window-check: {panel:8} {w}x{h}, {len(colours)} distinct sampled colours")
PY
done
