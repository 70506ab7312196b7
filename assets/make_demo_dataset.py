#!/usr/bin/env python3
"""Generate the embedded demo keyword-spotting dataset in ``assets/demo``.

The clips are synthesised with espeak-ng (formant synthesis), resampled to 16 kHz by sox and
written as FLAC by the ``flac`` tool. The result uses the Google Speech Commands folder layout
(``<word>/<speaker>_nohash_<n>.flac``, ``validation_list.txt``, ``testing_list.txt``,
``_background_noise_/``) so that the workbench's Speech Commands loader reads it unchanged.
Every clip carries a seeded room-noise floor (per-speaker pink/brown mix, -62 to -48 dBFS RMS)
under the speech for the whole second, as real recordings do.

Only the Python 3 standard library and the Debian tools espeak-ng, sox and flac are needed.
Every random choice comes from a seed derived from the clip's own identity, so a rerun with the
same tool versions gives byte-identical files. See ``assets/README.md``.

Usage (from anywhere)::

    python3 assets/make_demo_dataset.py            # writes assets/demo and assets/demo_manifest.tsv
    python3 assets/make_demo_dataset.py --out /tmp/demo --manifest /tmp/demo_manifest.tsv
"""

from __future__ import annotations

import argparse
import array
import hashlib
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import wave
from dataclasses import dataclass

# --------------------------------------------------------------------------------------------
# Fixed configuration. Changing anything here changes the dataset.
# --------------------------------------------------------------------------------------------

SEED = "bifsmn-demo-v1"
SAMPLE_RATE = 16000
CLIP_SAMPLES = 16000  # exactly 1.0 s

COMMANDS = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]
# Speech Commands V1 words that are not commands; the 12-class task labels them "unknown".
UNKNOWN_WORDS = ["bed", "bird", "cat", "dog", "happy", "house", "marvin", "sheila", "tree", "wow"]

# espeak-ng voice variants (espeak-ng --voices=variant) used as "speakers", with the gender
# declared in the variant file (used only to stratify the split). klatt6 is left out because
# it renders identically to klatt.
VARIANTS_F = ["f1", "f2", "f3", "f4", "f5", "whisperf", "Annie", "aunty", "belinda", "linda",
              "steph", "grandma"]
VARIANTS_M = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "klatt", "klatt2", "klatt3",
              "klatt4", "klatt5", "croak", "whisper", "Andy", "adam", "david", "edward", "john",
              "max", "paul", "grandpa"]
# English accents (espeak-ng --voices=en, without the mbrola voices, which are not installed).
ACCENTS = ["en", "en-us", "en-us-nyc", "en-gb-x-rp", "en-gb-scotland", "en-gb-x-gbclan",
           "en-gb-x-gbcwmd", "en-029"]
BASE_PITCHES = [36, 43, 50, 57, 64]  # espeak-ng -p (0..99, default 50)

N_SPEAKERS = 40
UNKNOWN_PER_SPEAKER = 3  # 40 * 3 / 10 words = 12 clips per unknown word
EXTRA_TAKE_PROB = 0.25  # chance that a speaker says a command word a second time (n = 1)
# Position k of a voice variant in the (gender, sha1(variant))-sorted list: k % 8 == 3 ->
# validation, k % 8 == 6 -> testing, otherwise training. Speakers: N_SPEAKERS / 8 each in
# validation and testing, the rest (75 %) in training.
SPLIT_PERIOD, VAL_SLOT, TEST_SLOT = 8, 3, 6

PITCH_JITTER = 6  # per take: base pitch +- this
SPEED_RANGE = (140, 195)  # per take: espeak-ng -s, words per minute (default 175)
ESPEAK_AMPLITUDE = 70  # espeak-ng -a (default 100); lower keeps the loud klatt voices unclipped
MAX_ATTEMPTS = 4  # re-render a take with fresh jitter this many times before dropping it

TRIM_DB = -45.0  # speech = samples within this many dB of the render's peak
TRIM_MARGIN = 320  # samples (20 ms) kept on each side of the detected speech
FADE = 128  # samples (8 ms) of linear fade at both ends of the kept segment
MAX_SPEECH = CLIP_SAMPLES - 2 * 400  # speech plus margins must leave 25 ms at each side
MIN_SPEECH = 1600  # 0.1 s: shorter renders count as empty
OFFSET_JITTER = 1600  # speech is centred, then shifted by up to +-0.1 s (clamped to the clip)
PEAK_DBFS = -3.0  # peak normalisation target
GAIN_JITTER_DB = (-1.0, 1.0)  # added to the target: peaks end up in [-4, -2] dBFS

# Room-noise floor under every clip, for the whole second (real recordings never contain digital
# silence; without a floor the log-mel features outside the word sit at the -100 dB clamp, far
# below anything the background-noise augmentation produces). Each speaker gets a "room": a mix of
# pink and brown noise with a slight high-shelf tilt, at a per-speaker RMS level. Each clip draws
# a fresh noise realisation and a small level jitter. The speech level is not changed.
FLOOR_LEVEL_DBFS = (-62.0, -48.0)  # per speaker: RMS of the floor over the 1 s clip
FLOOR_JITTER_DB = (-2.0, 2.0)  # per clip, added to the speaker's level
FLOOR_BROWN_SHARE = (0.2, 0.7)  # per speaker: power share of brown in the pink + brown mix
FLOOR_TILT_DB = (-3.0, 3.0)  # per speaker: high-shelf gain above about 1 kHz
FLOOR_SHELF_HZ = 1000.0
# per speaker: cutoff of a 4th-order Butterworth low-pass on the floor ("microphone bandwidth").
# Full-band noise does not compress in FLAC (about 14 KB per clip, 11 MB in all); above the
# cutoff the floor falls at 24 dB/octave down to the 16-bit quantisation noise.
FLOOR_LOWPASS_HZ = (3000.0, 5000.0)
FLOOR_WARMUP = 8000  # samples of noise-generator warm-up discarded
FLOOR_SETTLE = 1000  # further samples discarded after the shelf and low-pass filters
FLOOR_CHECK_DB = 3.0  # abort if the file's RMS outside the speech strays further from the target

NOISE_SECONDS = 5
NOISE_RMS_DBFS = -20.0
BABBLE_TALKERS = [  # (accent+variant, pitch)
    ("en-us+f2", 50), ("en-gb-x-rp+m3", 45), ("en+klatt2", 55), ("en-gb-scotland+f4", 60),
    ("en-029+m6", 40), ("en-us-nyc+steph", 50),
]
# Babble text: written for this project, avoiding every Speech Commands word and near homophones.
BABBLE_SENTENCES = [
    "The weather in the valley was warm and bright all afternoon.",
    "Please remember the small plants in the garden this evening.",
    "She painted a little picture of a lighthouse beside the sea.",
    "Many people gathered at the market with fresh bread and cheese.",
    "The library will open early tomorrow morning, the students said.",
    "A quiet river runs through the middle of the old city.",
    "We talked about music, travel and the price of coffee.",
    "The teacher asked the children about their summer holidays.",
    "An orange lamp was glowing in the window of the bakery.",
    "Nobody knew exactly when the concert would begin tonight.",
    "My neighbour keeps bees and sells honey at the weekend.",
    "The museum has a large collection of maps and paintings.",
]

# Tool versions the committed dataset was made with. Other versions still work, but the bytes
# (and possibly the audio) will differ from the committed files.
EXPECTED_VERSIONS = {
    "espeak-ng": "eSpeak NG text-to-speech: 1.51",
    "sox": "SoX v14.4.2",
    "flac": "flac 1.4.2",
}

FLAC_ARGS = ["flac", "--silent", "--force", "-8", "--no-padding", "--no-seektable",
             "--force-raw-format", "--endian=little", "--sign=signed", "--channels=1",
             "--bps=16", f"--sample-rate={SAMPLE_RATE}"]

TOOL_ENV = dict(os.environ, LC_ALL="C")


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------

def rng_for(*parts: object) -> random.Random:
    """A random generator seeded only by ``parts`` (independent of call order)."""
    key = "|".join([SEED, *map(str, parts)]).encode()
    return random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, env=TOOL_ENV, **kw)


def tool_versions() -> dict[str, str]:
    out = {}
    out["espeak-ng"] = run(["espeak-ng", "--version"], capture_output=True, text=True).stdout
    out["sox"] = run(["sox", "--version"], capture_output=True, text=True).stdout
    out["flac"] = run(["flac", "--version"], capture_output=True, text=True).stdout
    return {k: v.strip() for k, v in out.items()}


def db(x: float) -> float:
    return 20.0 * math.log10(x) if x > 0 else -math.inf


def espeak_render(voice: str, pitch: int, speed: int, text: str, tmp: str) -> tuple[list[float], int]:
    """Render ``text`` and return (float samples at 16 kHz, count of full-scale samples in the
    raw 22.05 kHz espeak-ng output)."""
    wav = os.path.join(tmp, "espeak.wav")
    raw = os.path.join(tmp, "resampled.f32")
    run(["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(speed),
         "-a", str(ESPEAK_AMPLITUDE), "-w", wav, text])
    with wave.open(wav, "rb") as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2, "unexpected espeak-ng output"
        pcm = array.array("h", w.readframes(w.getnframes()))
    if sys.byteorder != "little":
        pcm.byteswap()
    full_scale = sum(1 for s in pcm if s >= 32767 or s <= -32768)
    # -R: repeatable; -D: no dither (the output is float anyway). rate -v: very high quality.
    run(["sox", "-R", "-D", "-V1", wav, "-t", "raw", "-e", "floating-point", "-b", "32",
         "-L", raw, "rate", "-v", str(SAMPLE_RATE)])
    samples = array.array("f")
    with open(raw, "rb") as f:
        samples.frombytes(f.read())
    if sys.byteorder != "little":
        samples.byteswap()
    return list(samples), full_scale


def to_int16(x: list[float]) -> array.array:
    out = array.array("h")
    for v in x:
        q = round(v * 32768.0)  # decoders read int16 / 32768
        out.append(32767 if q > 32767 else (-32768 if q < -32768 else q))
    return out


def write_flac(path: str, pcm: array.array) -> None:
    data = pcm.tobytes() if sys.byteorder == "little" else _swapped(pcm).tobytes()
    run(FLAC_ARGS + ["-o", path, "-"], input=data)


def _swapped(pcm: array.array) -> array.array:
    c = array.array(pcm.typecode, pcm)
    c.byteswap()
    return c


STAT_KEYS = {"Pk lev dB": "peak_db", "RMS lev dB": "rms_db", "Flat factor": "flat",
             "Pk count": "pk_count", "Length s": "length_s"}


def sox_stats(path: str) -> dict[str, float]:
    err = run(["sox", "-R", "-V1", path, "-n", "stats"], capture_output=True, text=True).stderr
    out = {}
    for line in err.splitlines():
        m = re.match(r"^(.*?)\s{2,}(\S+)", line)
        if m and m.group(1).strip() in STAT_KEYS:
            v = m.group(2)
            out[STAT_KEYS[m.group(1).strip()]] = float(v.replace("k", "e3").replace("M", "e6"))
    return out


def sox_samples(path: str) -> int:
    return int(run(["sox", "--i", "-s", path], capture_output=True, text=True).stdout.strip())


# --------------------------------------------------------------------------------------------
# Speakers and splits
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Speaker:
    accent: str
    variant: str
    pitch: int
    gender: str

    @property
    def voice(self) -> str:
        return f"{self.accent}+{self.variant}"

    @property
    def config(self) -> str:
        return f"espeak-ng voice={self.voice} pitch={self.pitch}"

    @property
    def sid(self) -> str:
        return hashlib.sha1(self.config.encode()).hexdigest()[:8]


def make_speakers() -> tuple[list[Speaker], dict[str, str]]:
    """The speakers (sorted by id) and each speaker's split.

    The split is decided per voice variant, so speakers that share a variant (same timbre,
    different accent or base pitch) always land in the same split: validation and testing share
    no speaker and no voice variant with training or with each other. Each variant gets one
    speaker; the remaining speakers reuse variants of the split that needs them, so that the
    speaker counts per split come out exactly at the target fractions."""
    variants = [(v, "F") for v in VARIANTS_F] + [(v, "M") for v in VARIANTS_M]
    ordered = sorted(variants, key=lambda vg: (vg[1], hashlib.sha1(vg[0].encode()).hexdigest()))
    vsplit = {}
    for k, (v, _) in enumerate(ordered):
        slot = k % SPLIT_PERIOD
        vsplit[v] = "validation" if slot == VAL_SLOT else "testing" if slot == TEST_SLOT else "training"
    n_held = round(N_SPEAKERS / SPLIT_PERIOD)
    target = {"training": N_SPEAKERS - 2 * n_held, "validation": n_held, "testing": n_held}

    rng = rng_for("speakers")
    shuffled = list(variants)
    rng.shuffle(shuffled)
    speakers: list[Speaker] = []
    split: dict[str, str] = {}
    for name in ("training", "validation", "testing"):
        pool = [vg for vg in shuffled if vsplit[vg[0]] == name]
        assert len(pool) <= target[name], f"more {name} variants than {name} speakers"
        i = 0
        while sum(1 for v in split.values() if v == name) < target[name]:
            variant, gender = pool[i % len(pool)]
            i += 1
            s = Speaker(rng.choice(ACCENTS), variant, rng.choice(BASE_PITCHES), gender)
            if s.sid in split:
                continue
            speakers.append(s)
            split[s.sid] = name
    return sorted(speakers, key=lambda s: s.sid), split


def plan_takes(speakers: list[Speaker], split: dict[str, str]) -> list[tuple[Speaker, str, int]]:
    """(speaker, word, n) for every clip to render.

    Every speaker says every command once, and a second time (n = 1) with probability
    EXTRA_TAKE_PROB. Unknown words are dealt out in rotation within each split (validation
    starting at the first word, testing half-way round), so that every unknown word occurs in
    validation or testing and each word gets the same total.
    """
    takes = []
    start = {"training": 0, "validation": 0, "testing": len(UNKNOWN_WORDS) // 2}
    rank = {name: 0 for name in start}
    for s in speakers:  # sorted by id
        for word in COMMANDS:
            reps = 2 if rng_for("reps", s.sid, word).random() < EXTRA_TAKE_PROB else 1
            takes.extend((s, word, n) for n in range(reps))
        sp = split[s.sid]
        for j in range(UNKNOWN_PER_SPEAKER):
            k = start[sp] + rank[sp] * UNKNOWN_PER_SPEAKER + j
            takes.append((s, UNKNOWN_WORDS[k % len(UNKNOWN_WORDS)], 0))
        rank[sp] += 1
    return takes


# --------------------------------------------------------------------------------------------
# Clips
# --------------------------------------------------------------------------------------------

@dataclass
class Clip:
    path: str
    split: str
    speaker: Speaker
    word: str
    n: int
    attempt: int
    pitch: int
    speed: int
    offset: int
    speech_samples: int
    gain_db: float
    speech_rms_dbfs: float
    room: "Room"
    floor_rms_dbfs: float  # RMS of the added floor over the whole clip (exact, before quantising)
    floor_out_dbfs: float  # RMS of the written file outside the speech segment (floor only)
    stats: dict

    @property
    def snr_db(self) -> float:
        """Speech-segment RMS (speech alone) over the floor's RMS."""
        return self.speech_rms_dbfs - self.floor_rms_dbfs


def render_take(s: Speaker, word: str, n: int, tmp: str, log) -> tuple[list[float], dict] | None:
    for attempt in range(MAX_ATTEMPTS):
        r = rng_for("take", s.sid, word, n, attempt)
        pitch = min(99, max(0, s.pitch + r.randint(-PITCH_JITTER, PITCH_JITTER)))
        speed = r.randint(*SPEED_RANGE)
        x, full_scale = espeak_render(s.voice, pitch, speed, word, tmp)
        peak = max((abs(v) for v in x), default=0.0)
        why = None
        if full_scale > 0:
            why = f"clipped ({full_scale} full-scale samples in the espeak-ng output)"
        elif peak >= 1.0:
            why = f"at full scale after resampling (peak {db(peak):+.2f} dBFS)"
        elif peak < 10 ** (-40 / 20):
            why = f"empty (peak {db(peak):.1f} dBFS)"
        else:
            thr = peak * 10 ** (TRIM_DB / 20)
            first = next(i for i, v in enumerate(x) if abs(v) >= thr)
            last = len(x) - 1 - next(i for i, v in enumerate(reversed(x)) if abs(v) >= thr)
            if last - first + 1 < MIN_SPEECH:
                why = f"empty ({last - first + 1} samples of speech)"
            else:
                a = max(0, first - TRIM_MARGIN)
                b = min(len(x), last + 1 + TRIM_MARGIN)
                seg = x[a:b]
                if len(seg) > MAX_SPEECH:
                    why = f"too long ({len(seg)} samples)"
        if why:
            log(f"  drop render {s.sid} {word} n={n} attempt={attempt}: {why}")
            continue
        for i in range(min(FADE, len(seg) // 2)):
            g = (i + 0.5) / FADE
            seg[i] *= g
            seg[-1 - i] *= g
        speech_rms = math.sqrt(sum(v * v for v in seg) / len(seg))
        target = PEAK_DBFS + r.uniform(*GAIN_JITTER_DB)
        gain_db = target - db(max(abs(v) for v in seg))
        g = 10 ** (gain_db / 20)
        centre = (CLIP_SAMPLES - len(seg)) // 2
        offset = min(CLIP_SAMPLES - len(seg), max(0, centre + r.randint(-OFFSET_JITTER, OFFSET_JITTER)))
        out = [0.0] * CLIP_SAMPLES  # the room-noise floor is added by the caller
        for i, v in enumerate(seg):
            out[offset + i] = v * g
        info = dict(attempt=attempt, pitch=pitch, speed=speed, offset=offset,
                    speech_samples=len(seg), gain_db=gain_db,
                    speech_rms_dbfs=db(speech_rms) + gain_db)
        return out, info
    return None


# --------------------------------------------------------------------------------------------
# Background noise
# --------------------------------------------------------------------------------------------

def normalise_rms(x: list[float], rms_dbfs: float) -> list[float]:
    mean = sum(x) / len(x)
    x = [v - mean for v in x]
    rms = math.sqrt(sum(v * v for v in x) / len(x))
    g = 10 ** (rms_dbfs / 20) / rms
    peak = max(abs(v) for v in x) * g
    if peak > 10 ** (-1 / 20):  # keep 1 dB of headroom
        g *= 10 ** (-1 / 20) / peak
    return [v * g for v in x]


def white_noise(n: int, rng: random.Random) -> list[float]:
    return [rng.gauss(0.0, 1.0) for _ in range(n)]


def pink_noise(n: int, rng: random.Random, warmup: int = SAMPLE_RATE) -> list[float]:
    # Paul Kellet's refined pink filter applied to white noise; `warmup` samples discarded.
    b = [0.0] * 7
    out = []
    for i in range(n + warmup):
        w = rng.gauss(0.0, 1.0)
        b[0] = 0.99886 * b[0] + w * 0.0555179
        b[1] = 0.99332 * b[1] + w * 0.0750759
        b[2] = 0.96900 * b[2] + w * 0.1538520
        b[3] = 0.86650 * b[3] + w * 0.3104856
        b[4] = 0.55000 * b[4] + w * 0.5329522
        b[5] = -0.7616 * b[5] - w * 0.0168980
        y = b[0] + b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + w * 0.5362
        b[6] = w * 0.115926
        if i >= warmup:
            out.append(y)
    return out


def brown_noise(n: int, rng: random.Random, warmup: int = SAMPLE_RATE) -> list[float]:
    # Leaky integrator (-6 dB/octave above ~13 Hz) followed by a one-pole high-pass at ~20 Hz;
    # `warmup` samples discarded.
    y = hp = prev = 0.0
    a = math.exp(-2 * math.pi * 20 / SAMPLE_RATE)
    out = []
    for i in range(n + warmup):
        y = 0.995 * y + rng.gauss(0.0, 1.0)
        hp = a * (hp + y - prev)
        prev = y
        if i >= warmup:
            out.append(hp)
    return out


def rms_of(x) -> float:
    return math.sqrt(sum(v * v for v in x) / len(x))


@dataclass(frozen=True)
class Room:
    """A speaker's recording room: the spectrum and level of its noise floor."""
    level_dbfs: float  # RMS of the floor, before the per-clip jitter
    brown_share: float  # power share of brown noise in the pink + brown mix
    tilt_db: float  # high-shelf gain above FLOOR_SHELF_HZ
    lowpass_hz: float  # 4th-order Butterworth low-pass cutoff


def room_for(s: "Speaker") -> Room:
    r = rng_for("room", s.sid)
    return Room(level_dbfs=r.uniform(*FLOOR_LEVEL_DBFS), brown_share=r.uniform(*FLOOR_BROWN_SHARE),
                tilt_db=r.uniform(*FLOOR_TILT_DB), lowpass_hz=r.uniform(*FLOOR_LOWPASS_HZ))


def lowpass_biquad(x: list[float], fc: float, q: float) -> list[float]:
    """2nd-order low-pass (RBJ audio-EQ cookbook), direct form I."""
    w0 = 2 * math.pi * fc / SAMPLE_RATE
    alpha = math.sin(w0) / (2 * q)
    c = math.cos(w0)
    a0 = 1 + alpha
    b0 = b2 = (1 - c) / 2 / a0
    b1 = (1 - c) / a0
    a1 = -2 * c / a0
    a2 = (1 - alpha) / a0
    x1 = x2 = y1 = y2 = 0.0
    out = []
    for v in x:
        y = b0 * v + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2
        x2, x1, y2, y1 = x1, v, y1, y
        out.append(y)
    return out


def noise_floor(room: Room, rng: random.Random, n: int) -> tuple[list[float], float]:
    """One clip's room noise: ``n`` samples, mean zero, RMS exactly the room's level plus a
    jitter drawn from ``rng``. Returns (samples, RMS in dBFS)."""
    level = room.level_dbfs + rng.uniform(*FLOOR_JITTER_DB)
    m = n + FLOOR_SETTLE
    pink = pink_noise(m, rng, FLOOR_WARMUP)
    brown = brown_noise(m, rng, FLOOR_WARMUP)
    wp = math.sqrt(1.0 - room.brown_share) / rms_of(pink)
    wb = math.sqrt(room.brown_share) / rms_of(brown)
    # High shelf: x + (g - 1) * highpass(x), one-pole high-pass at FLOOR_SHELF_HZ.
    a = math.exp(-2 * math.pi * FLOOR_SHELF_HZ / SAMPLE_RATE)
    g1 = 10 ** (room.tilt_db / 20) - 1.0
    hp = prev = 0.0
    x = []
    for p, b in zip(pink, brown):
        v = wp * p + wb * b
        hp = a * (hp + v - prev)
        prev = v
        x.append(v + g1 * hp)
    # 4th-order Butterworth low-pass: two biquads with Q = 1 / (2 cos(pi/8)), 1 / (2 cos(3 pi/8)).
    for q in (1 / (2 * math.cos(math.pi / 8)), 1 / (2 * math.cos(3 * math.pi / 8))):
        x = lowpass_biquad(x, room.lowpass_hz, q)
    x = x[FLOOR_SETTLE:]
    mean = sum(x) / n
    g = 10 ** (level / 20) / rms_of([v - mean for v in x])
    return [(v - mean) * g for v in x], level


def babble(n: int, tmp: str) -> list[float]:
    rng = rng_for("babble")
    mix = [0.0] * n
    sentences = list(BABBLE_SENTENCES)
    rng.shuffle(sentences)
    per = len(sentences) // len(BABBLE_TALKERS)
    for t, (voice, pitch) in enumerate(BABBLE_TALKERS):
        talk: list[float] = []
        for sent in sentences[t * per:(t + 1) * per]:
            x, full_scale = espeak_render(voice, pitch, rng.randint(150, 185), sent, tmp)
            assert full_scale == 0, f"babble render clipped: {voice}"
            talk.extend(x)
        rms = math.sqrt(sum(v * v for v in talk) / len(talk))
        start = rng.randrange(len(talk))
        for i in range(n):  # loop the talker's speech over the whole file
            mix[i] += talk[(start + i) % len(talk)] / rms
    return mix


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------

def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(here, "demo"), help="output folder (replaced)")
    ap.add_argument("--manifest", default=os.path.join(here, "demo_manifest.tsv"),
                    help="per-clip manifest (TSV)")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    log = (lambda *_: None) if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))

    versions = tool_versions()
    for tool, want in EXPECTED_VERSIONS.items():
        if want not in versions[tool]:
            log(f"WARNING: {tool} is {versions[tool]!r}, the committed dataset used {want!r}; "
                "the output will not be byte-identical to it")

    out_dir = os.path.abspath(args.out)
    stage = out_dir + ".partial"
    shutil.rmtree(stage, ignore_errors=True)
    os.makedirs(stage)

    speakers, split = make_speakers()
    takes = plan_takes(speakers, split)
    log(f"{len(speakers)} speakers, {len(takes)} planned clips")

    clips: list[Clip] = []
    dropped: list[tuple[str, str, int]] = []
    with tempfile.TemporaryDirectory(prefix="bifsmn-demo-") as tmp:
        for k, (s, word, n) in enumerate(takes):
            res = render_take(s, word, n, tmp, log)
            if res is None:
                dropped.append((s.sid, word, n))
                continue
            samples, info = res
            room = room_for(s)
            floor, floor_db = noise_floor(room, rng_for("floor", s.sid, word, n), CLIP_SAMPLES)
            samples = [v + f for v, f in zip(samples, floor)]
            rel = f"{word}/{s.sid}_nohash_{n}.flac"
            path = os.path.join(stage, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            pcm = to_int16(samples)
            write_flac(path, pcm)
            a, b = info["offset"], info["offset"] + info["speech_samples"]
            outside = [v / 32768.0 for v in pcm[:a]] + [v / 32768.0 for v in pcm[b:]]
            floor_out = db(rms_of(outside))
            st = sox_stats(path)
            ns = sox_samples(path)
            if ns != CLIP_SAMPLES or st["peak_db"] > -1.0 or st["rms_db"] < -45.0 or st["flat"] > 0:
                raise SystemExit(f"{rel}: failed the final check: {ns} samples, {st}")
            if abs(floor_out - floor_db) > FLOOR_CHECK_DB:
                raise SystemExit(f"{rel}: floor outside the speech is {floor_out:.2f} dBFS, "
                                 f"{floor_db:.2f} dBFS intended")
            clips.append(Clip(rel, split[s.sid], s, word, n, room=room, floor_rms_dbfs=floor_db,
                              floor_out_dbfs=floor_out, stats=st, **info))
            if (k + 1) % 50 == 0:
                log(f"  {k + 1}/{len(takes)}")

        noise_dir = os.path.join(stage, "_background_noise_")
        os.makedirs(noise_dir)
        n = NOISE_SECONDS * SAMPLE_RATE
        noises = {
            "white_noise": white_noise(n, rng_for("white")),
            "pink_noise": pink_noise(n, rng_for("pink")),
            "brown_noise": brown_noise(n, rng_for("brown")),
            "babble": babble(n, tmp),
        }
        for name, x in noises.items():
            path = os.path.join(noise_dir, name + ".flac")
            write_flac(path, to_int16(normalise_rms(x, NOISE_RMS_DBFS)))
            log(f"  {name}: {sox_stats(path)}")

    for name in ("validation", "testing"):
        rels = sorted(c.path for c in clips if c.split == name)
        with open(os.path.join(stage, f"{name}_list.txt"), "w", newline="\n") as f:
            f.write("".join(r + "\n" for r in rels))
    with open(os.path.join(stage, "LICENSE"), "w", newline="\n") as f:
        f.write(
            "BiFSMN Workbench demo keyword dataset (synthetic, generated by\n"
            "assets/make_demo_dataset.py with espeak-ng, sox and flac).\n"
            "\n"
            "SPDX-License-Identifier: CC0-1.0\n"
            "\n"
            "To the extent possible under law, the BiFSMN Workbench authors have waived all\n"
            "copyright and related or neighboring rights to this dataset (the audio files and\n"
            "the list files in this folder, and assets/demo_manifest.tsv): CC0 1.0 Universal,\n"
            "https://creativecommons.org/publicdomain/zero/1.0/\n"
            "\n"
            "The clips were made by running espeak-ng (GPL-3.0-or-later), sox and flac as\n"
            "programs. Their licences cover the programs, not what they produce: the audio is\n"
            "program output, not a derivative of their code, and carries only the CC0\n"
            "dedication above. The babble sentences were written for this project.\n"
            "\n"
            "It contains no Google Speech Commands audio. See assets/README.md.\n")

    with open(args.manifest, "w", newline="\n") as f:
        f.write("path\tsplit\tlabel\tspeaker\tvoice\tgender\tbase_pitch\tpitch\tspeed_wpm\t"
                "attempt\toffset\tspeech_samples\tgain_db\tspeech_rms_dbfs\tpeak_dbfs\trms_dbfs\t"
                "room_level_dbfs\troom_brown_share\troom_tilt_db\troom_lowpass_hz\tfloor_rms_dbfs\t"
                "floor_outside_dbfs\tsnr_db\n")
        for c in sorted(clips, key=lambda c: c.path):
            label = c.word if c.word in COMMANDS else "unknown"
            f.write("\t".join(map(str, [
                c.path, c.split, label, c.speaker.sid, c.speaker.voice, c.speaker.gender,
                c.speaker.pitch, c.pitch, c.speed, c.attempt, c.offset, c.speech_samples,
                f"{c.gain_db:.2f}", f"{c.speech_rms_dbfs:.2f}", f"{c.stats['peak_db']:.2f}",
                f"{c.stats['rms_db']:.2f}", f"{c.room.level_dbfs:.2f}",
                f"{c.room.brown_share:.3f}", f"{c.room.tilt_db:.2f}", f"{c.room.lowpass_hz:.0f}",
                f"{c.floor_rms_dbfs:.2f}",
                f"{c.floor_out_dbfs:.2f}", f"{c.snr_db:.2f}"])) + "\n")

    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(stage, out_dir)

    # Summary
    words = COMMANDS + UNKNOWN_WORDS
    print(f"{'word':8s} {'train':>5s} {'val':>5s} {'test':>5s} {'total':>5s}")
    for w in words:
        c = [sum(1 for x in clips if x.word == w and x.split == sp)
             for sp in ("training", "validation", "testing")]
        print(f"{w:8s} {c[0]:5d} {c[1]:5d} {c[2]:5d} {sum(c):5d}")
    tot = [sum(1 for x in clips if x.split == sp) for sp in ("training", "validation", "testing")]
    print(f"{'all':8s} {tot[0]:5d} {tot[1]:5d} {tot[2]:5d} {sum(tot):5d}")
    spk = [sum(1 for s in speakers if split[s.sid] == sp) for sp in ("training", "validation", "testing")]
    print(f"speakers: train {spk[0]}, validation {spk[1]}, test {spk[2]}")
    for key in ("peak_db", "rms_db"):
        vals = [c.stats[key] for c in clips]
        print(f"sox stats {key}: {min(vals):.2f} .. {max(vals):.2f} dB")
    vals = [c.speech_rms_dbfs for c in clips]
    print(f"speech-segment RMS: {min(vals):.2f} .. {max(vals):.2f} dBFS")
    rooms = [room_for(s) for s in speakers]
    print(f"room levels (per speaker): {min(r.level_dbfs for r in rooms):.2f} .. "
          f"{max(r.level_dbfs for r in rooms):.2f} dBFS")
    for name, key in (("floor RMS (whole clip, exact)", "floor_rms_dbfs"),
                      ("file RMS outside the speech", "floor_out_dbfs"),
                      ("SNR (speech segment / floor)", "snr_db")):
        vals = [getattr(c, key) for c in clips]
        print(f"{name}: {min(vals):.2f} .. {max(vals):.2f} dB, median {sorted(vals)[len(vals) // 2]:.2f}")
    retried = sum(1 for c in clips if c.attempt > 0)
    print(f"clips needing a re-render: {retried}; takes dropped: {len(dropped)} {dropped}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
