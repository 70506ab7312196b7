#!/usr/bin/env bash
# Render the app icon's PNG sizes from bifsmn-workbench.svg (committed; rerun after editing the
# SVG). Needs rsvg-convert (apt-get install librsvg2-bin).
set -euo pipefail
cd "$(dirname "$0")"
for size in 256 128 64 48; do
    rsvg-convert -w "$size" -h "$size" bifsmn-workbench.svg -o "bifsmn-workbench-$size.png"
done
ls -l ./*.png
