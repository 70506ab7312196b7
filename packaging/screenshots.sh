#!/usr/bin/env bash
# Screenshots of the real workbench window, one launch per panel, under Xvfb:
#   docs/screenshots/data.png, train.png, train-distill.png, train-binarizers.png,
#   train-bits.png, inspect.png, test.png, test-confusion.png, teach-takes.png,
#   teach-finetune.png, teach-after.png, deploy.png
#
# Everything shown is computed here: a short FP32 teacher and a BNN baseline student are
# trained with the CLI on the embedded demo set, then the GUI trains a BiFSMNv2 (LPB + FID)
# student live and is photographed after a few epochs; Inspect opens that student's run
# folder (packed in memory); Deploy shows that student exported and benched on a throwaway
# sshd "board" (skipped without sshd, qemu-aarch64 and the runners). While the live student trains, the GUI logs every frame's
# duration; the script prints the frame-time summary at the end.
#
# Needs: xvfb-run (apt: xvfb xauth) and the Mesa GL drivers (libgl1-mesa-dri); for deploy.png
# also openssh-server, qemu-user and the runners (packaging/build-runner-*.sh).
# Usage: packaging/screenshots.sh [OUT_DIR]   (default docs/screenshots)
#        BIFSMN_SHOTS=teach packaging/screenshots.sh   (only the Teach it my voice steps:
#        teach-takes.png, teach-finetune.png, teach-after.png)
#        BIFSMN_SHOTS=model packaging/screenshots.sh   (every picture of the shipped model:
#        test.png, test-confusion.png and the Teach it my voice steps; after a new model ships)
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
export BIFSMN_CONFIG_DIR="$work/config"
demo="$(pwd)/assets/demo"

shot() { # NAME ARGS... : launch the window, save $out/NAME.png, exit
  local name="$1"; shift
  echo "== $name"
  xvfb-run -a -s "-screen 0 1400x900x24" "$bin" --dataset "$demo" \
    --screenshot "$out/$name.png" "$@" 2> >(grep -v -e '^ALSA' -e 'cannot find card' >&2)
}

# Teach it my voice, step by step, with the shipped demo student: five takes per keyword
# (espeak-ng's f3 variant at raised pitches and rates, standing in for a user's recordings),
# read from a takes folder; the fine-tune while it runs; the before/after table when done.
teach_shots() {
  local takes="$work/my-voice" w i
  # No dither (-D): the takes, and so the before/after figures, are the same on every run.
  for w in yes no up down left right on off stop go; do
    mkdir -p "$takes/$w"
    for i in 0 1 2 3 4; do
      espeak-ng -v en-us+f3 -p $((70 + 5 * i)) -s $((140 + 10 * i)) -w "$work/take.wav" "$w"
      sox -D "$work/take.wav" -r 16000 -c 1 -b 16 "$takes/$w/me_nohash_$i.wav"
    done
  done
  rm -f "$work/take.wav"
  shot teach-takes --panel test --test-view teach --takes "$takes" --screenshot-after-frames 30
  shot teach-finetune --panel test --test-view teach --takes "$takes" --start-finetune \
    --screenshot-after-frames 30 --screenshot-wait-frames 400
  shot teach-after --panel test --test-view teach --takes "$takes" --start-finetune \
    --screenshot-after-frames 30 --screenshot-wait-frames 100000000
}
# The Test panel opens the shipped demo student (assets/models/demo-student.bkw) by itself.
test_shots() {
  shot test --panel test --screenshot-after-frames 30
  shot test-confusion --panel test --test-view confusion --screenshot-after-frames 30
}
case "${BIFSMN_SHOTS:-}" in
  teach) teach_shots ;;
  model) test_shots; teach_shots ;;
esac
if [ -n "${BIFSMN_SHOTS:-}" ]; then
  echo "screenshots in $out"
  exit 0
fi

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

test_shots
teach_shots

# Deploy: a throwaway sshd on 127.0.0.1 plays two boards (the aarch64 runner under qemu, and
# the host's runner); the CLI benches the exported student on both; the GUI shows the reports.
start_board() { # DIR: sshd with fresh keys; prints its port
  local d="$1" port
  mkdir -p "$d/remote"
  ssh-keygen -q -t ed25519 -N "" -f "$d/hostkey"
  ssh-keygen -q -t ed25519 -N "" -f "$d/clientkey"
  cp "$d/clientkey.pub" "$d/authorized_keys"
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  printf '%s\n' "Port $port" "ListenAddress 127.0.0.1" "HostKey $d/hostkey" "PidFile $d/sshd.pid" \
    "AuthorizedKeysFile $d/authorized_keys" "PasswordAuthentication no" \
    "KbdInteractiveAuthentication no" "UsePAM no" "StrictModes no" \
    "Subsystem sftp internal-sftp" >"$d/sshd_config"
  mkdir -p /run/sshd 2>/dev/null || true
  /usr/sbin/sshd -D -e -f "$d/sshd_config" </dev/null >/dev/null 2>"$d/sshd.log" &
  echo "$!" >"$d/daemon.pid"
  for _ in $(seq 50); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  echo "$port"
}
if [ -x /usr/sbin/sshd ] && command -v qemu-aarch64 >/dev/null &&
  [ -x target/runners/aarch64/bifsmn-runner ] && [ -x target/runners/x86_64/bifsmn-runner ]; then
  echo "== deploy: exporting the student and benching it on two local boards"
  "$cli" export --model "$work/student" -o "$work/student/student.bkw" >/dev/null
  port="$(start_board "$work/board")"
  trap 'kill "$(cat "$work/board/daemon.pid")" 2>/dev/null; rm -rf "$work"' EXIT
  for b in "pi3-emu:qemu-aarch64 -cpu cortex-a53" "x86-host:"; do
    name="${b%%:*}" prefix="${b#*:}"
    "$cli" boards add "$name" --host 127.0.0.1 --port "$port" --user "$(id -un)" \
      --key "$work/board/clientkey" --workdir "$work/board/remote/$name" \
      --known-hosts "$work/board/known_hosts" ${prefix:+--exec-prefix "$prefix"} >/dev/null
    "$cli" deploy --board "$name" --model "$work/student/student.bkw" --path 0,1,2 \
      --bench 50 --warmup 5 --accept-new-host-key >/dev/null
  done
  shot deploy --panel deploy --model "$work/student/student.bkw" --screenshot-after-frames 40
else
  echo "== deploy.png skipped (needs /usr/sbin/sshd, qemu-aarch64 and both runners)"
fi

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
