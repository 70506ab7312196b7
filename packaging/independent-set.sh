#!/usr/bin/env bash
# The independent evaluation set of docs/ROBUSTNESS.md: voices and words that no training or
# tuning step of this project ever uses.
#
#   packaging/independent-set.sh OUT_DIR
#   bifsmn eval --model assets/models/demo-student.bkw --root OUT_DIR --json
#
# - keywords: the ten commands spoken by flite's five general-purpose voices (kal, kal16, awb,
#   rms, slt) at six speaking rates: 300 clips;
# - non-keywords: every prompt of Debian's asterisk sound files (Allison's voice, a real human
#   recording, 8 kHz telephone audio) that lasts 0.3-1.0 s and is not one of the commands or
#   contains one as a word: 190 clips (digits, letters, short prompts);
# - silence: made by `eval` from nothing (the set has no background noise folder).
#
# Every clip is in the test list, so `eval` scores all of it. flite and the asterisk sounds are
# deliberately not in packaging/bootstrap.sh: nothing else may depend on them.
set -euo pipefail
out=${1:?usage: packaging/independent-set.sh OUT_DIR}
asterisk=/usr/share/asterisk/sounds/en_US_f_Allison
keywords=(yes no up down left right on off stop go)

if ! command -v flite >/dev/null || [[ ! -d $asterisk ]] || ! command -v sox >/dev/null; then
    echo "independent-set: needs flite, sox and the asterisk sounds:" >&2
    echo "  apt-get install flite sox asterisk-core-sounds-en-wav" >&2
    exit 1
fi

rm -rf "$out"
mkdir -p "$out"
: >"$out/validation_list.txt"
list="$out/testing_list.txt"
: >"$list"
tmp=$(mktemp --suffix=.wav)
trap 'rm -f "$tmp"' EXIT

stretches=(0.8 0.9 1.0 1.1 1.2 1.0)
for voice in kal kal16 awb rms slt; do
    for take in "${!stretches[@]}"; do
        for word in "${keywords[@]}"; do
            rel="$word/flite${voice}_nohash_$take.wav"
            mkdir -p "$out/$word"
            flite -voice "$voice" -t "$word" -o "$tmp" --setf "duration_stretch=${stretches[$take]}"
            # Cut or pad to one second at 16 kHz, as the Speech Commands clips are.
            sox -q -D "$tmp" -r 16000 -c 1 -b 16 "$out/$rel" trim 0 1.0 pad 0 0 2>/dev/null
            echo "$rel" >>"$list"
        done
    done
done

pattern=$(IFS='|'; echo "${keywords[*]}")
n=0
while IFS= read -r file; do
    case "$file" in */beep* | */silence/*) continue ;; esac
    name=$(basename "$file" .wav)
    if tr -- '-_' '\n\n' <<<"$name" | grep -qxE "$pattern"; then continue; fi
    seconds=$(soxi -D "$file")
    if awk "BEGIN { exit !($seconds >= 0.3 && $seconds <= 1.0) }"; then
        word=$(echo "ast_$(basename "$(dirname "$file")")_$name" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9\n' '_')
        mkdir -p "$out/$word"
        sox -q -D "$file" -r 16000 -c 1 -b 16 "$out/$word/asterisk_nohash_0.wav"
        echo "$word/asterisk_nohash_0.wav" >>"$list"
        n=$((n + 1))
    fi
done < <(find "$asterisk" -name '*.wav' | sort)

echo "independent-set: $(grep -c flite "$list") keyword clips (flite), $n non-keyword clips (asterisk) in $out"
