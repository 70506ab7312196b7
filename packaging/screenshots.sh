#!/usr/bin/env bash
# Screenshots of the real workbench window, one launch per panel, under Xvfb:
#   docs/screenshots/data.png, train.png, train-distill.png, train-binarizers.png,
#   train-bits.png, inspect.png, test.png
#
# Everything shown is computed here: a short FP32 teacher and a BNN baseline student are
# trained with the CLI on the embedded demo set, then the GUI trains a BiFSMNv2 (LPB + FID)
# student live and is photographed after a few epochs; Inspect opens that student's run
# folder (packed in memory). While the live student trains, the GUI logs every frame's
# duration; the script prints the frame-time summary at the end.
#
# Needs: xvfb-run (apt: xvfb xauth) and the Mesa GL drivers (libgl1-mesa-dri).
# Usage: packaging/screenshots.sh [OUT_DIR]   (default docs/screenshots)
set -euo pipefail
cd "$(dirname "$0")/.."

out="${1:-docs/screenshots}"
mkdir -p "$out"
command -v xvfb-run >/dev/null || { echo "screenshots.sh: xvfb-run is missing (apt-get install xvfb xauth)" >&2; exit 1; }

# The same package selection as every other build here (see the README): no feature rebuilds.
cargo test --workspace --no-run --quiet
bin=target/debug/bifsmn-workbench
cli=target/debug/bifsmn

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Keep the user's runs, bench history and remembered window state out of the pictures.
export BIFSMN_DATA_DIR="$work/data"
export XDG_DATA_HOME="$work/xdg"
demo="$(pwd)/assets/demo"

shot() { # NAME ARGS... : launch the window, save $out/NAME.png, exit
  local name="$1"; shift
  echo "== $name"
  xvfb-run -a -s "-screen 0 1400x900x24" "$bin" --dataset "$demo" \
    --screenshot "$out/$name.png" "$@" 2> >(grep -v -e '^ALSA' -e 'cannot find card' >&2)
}

shot data --panel data --screenshot-after-frames 30

echo "== training a short FP32 teacher and a BNN baseline student (CLI)"
"$cli" train teacher --root "$demo" --run-dir "$work/teacher" \
  --epochs 25 --batch-size 32 --lr 0.003 >/dev/null
"$cli" train student --root "$demo" --run-dir "$work/bnn-baseline" --teacher "$work/teacher" \
  --binarizer bnn --epochs 4 --batch-size 32 --lr 0.003 >/dev/null

# The live run: the paper's student (LPB, dual-scale activations, FID, three thin paths).
student_config() { # RUN_DIR
  cat <<EOF
{
  "role": "student", "dataset": "$demo", "protocol": "12", "run_dir": "$1",
  "epochs": 8, "batch_size": 32, "lr": 0.003, "momentum": 0.9, "weight_decay": 0.0001,
  "quant_lr_factor": 0.1, "binarizer": "lpb", "planes": 2, "learn_alpha": true,
  "distill": "fid", "distill_alpha": 0.01, "teacher": "$work/teacher",
  "path_weights": [1.0, 0.5, 0.25], "reference_code": false, "init_from_teacher": true,
  "augment": true, "seed": 1, "backend": "flex", "max_train_clips": null,
  "internals": true, "fixed_clip": 0
}
EOF
}

live() { # NAME VIEW EPOCHS [ARGS...]
  local name="$1" view="$2" epochs="$3"; shift 3
  rm -rf "$work/student"
  student_config "$work/student" >"$work/student.json"
  shot "$name" --panel train --train-view "$view" --train-config "$work/student.json" \
    --start-training --screenshot-after-epochs "$epochs" "$@"
}

live train charts 4 --demo-train-run "$work/bnn-baseline" --frame-log "$work/frames.csv"
live train-distill distill 2
live train-binarizers binarizers 2
live train-bits bits 2

shot inspect --panel inspect --model "$work/student" --screenshot-after-frames 30

# The Test panel opens the shipped demo student (assets/models/demo-student.bkw) by itself.
shot test --panel test --screenshot-after-frames 30

echo "== frame times while the student trained (debug build, Xvfb software GL)"
# Percentiles of one column of the frame log (frames while training, after the first 3 s).
percentiles() { # COLUMN LABEL
  awk -F, -v c="$1" 'NR > 1 && $5 == 1 && $2 > 3 { print $c }' "$work/frames.csv" | sort -n |
    awk -v label="$2" '{ a[NR] = $1; s += $1 }
      END {
        if (NR == 0) { print label ": no frames logged"; exit }
        printf "%s: %d frames, p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, mean %.1f ms\n", label, NR,
          a[int(0.5 * (NR - 1)) + 1], a[int(0.9 * (NR - 1)) + 1], a[int(0.99 * (NR - 1)) + 1], s / NR
      }'
}
percentiles 4 "frame interval"
percentiles 3 "UI build time "
echo "screenshots in $out"
