#!/usr/bin/env python3
"""Independent reference values for the workbench's log-mel front end (kernels/src/features.rs).

The features are the BiFSMN front end (spec section 1), i.e. torchaudio
``MelSpectrogram(sample_rate=16000, n_fft=2048, hop_length=512, n_mels=32, f_min=0, f_max=8000,
center=True, pad_mode="reflect", power=2, normalized=True, mel_scale="htk", norm=None)`` followed
by ``AmplitudeToDB(stype="power", top_db=None)`` (ref 1, amin 1e-10). They are computed here in
float64 with librosa, which shares no code with the Rust implementation, and cross-checked against a
plain-numpy implementation of the same formulas written out below (max abs diff < 1e-6 dB).

Output: ``assets/reference/features_reference.json`` and ``assets/reference/chirp.wav``.

Run (outside the repo's own tooling; any venv)::

    python3 -m venv /tmp/ref-venv
    /tmp/ref-venv/bin/pip install librosa soundfile numpy
    /tmp/ref-venv/bin/python assets/reference/make_features_reference.py
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import wave

import librosa
import numpy as np
import scipy
import scipy.fft
import soundfile as sf

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

SR = 16000
CLIP_SAMPLES = 16000
N_FFT = 2048
HOP = 512
N_MELS = 32
F_MIN = 0.0
F_MAX = 8000.0
AMIN = 1e-10
FRAMES = 1 + CLIP_SAMPLES // HOP  # 32
ROUND = 4  # decimals: values are rounded to 1e-4 dB
CROSS_CHECK_TOL_DB = 1e-6

# Demo clips: five training clips across classes (four commands and one unknown word) and one
# validation clip. Paths relative to the repository root.
CLIPS = [
    "assets/demo/yes/00314bcb_nohash_0.flac",  # en-us-nyc+klatt5
    "assets/demo/down/1b06b76c_nohash_1.flac",  # en+f1, second take
    "assets/demo/left/11c26948_nohash_0.flac",  # en-us+paul (re-rendered once by the generator)
    "assets/demo/off/023a11fe_nohash_0.flac",  # en-us+Annie
    "assets/demo/sheila/0c2db33f_nohash_0.flac",  # en-us-nyc+whisper, unknown word
    "assets/demo/stop/388a3f1e_nohash_0.flac",  # en-gb-scotland+grandma, validation split
]
CHIRP = "assets/reference/chirp.wav"


# ---------------------------------------------------------------------------------------------
# Input
# ---------------------------------------------------------------------------------------------

def make_chirp(path: str) -> None:
    """1 s: linear chirp 300 -> 3000 Hz (amplitude 0.4) plus a 1 kHz tone (amplitude 0.25),
    quantised to 16-bit PCM and written with the stdlib wave module (plain 44-byte header)."""
    t = np.arange(CLIP_SAMPLES, dtype=np.float64) / SR
    f0, f1, dur = 300.0, 3000.0, CLIP_SAMPLES / SR
    phase = 2 * np.pi * (f0 * t + 0.5 * (f1 - f0) / dur * t * t)
    x = 0.4 * np.sin(phase) + 0.25 * np.sin(2 * np.pi * 1000.0 * t)
    pcm = np.clip(np.round(x * 32768.0), -32768, 32767).astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(pcm.tobytes())


def load(path: str) -> tuple[np.ndarray, int]:
    """Decode as int16 / 32768 in float64, zero-pad or crop at the end to 16000 samples.
    Returns the fixed-length signal and the decoded length."""
    pcm, sr = sf.read(path, dtype="int16", always_2d=True)
    assert sr == SR, f"{path}: sample rate {sr}"
    assert pcm.shape[1] == 1, f"{path}: {pcm.shape[1]} channels"
    x = pcm[:, 0].astype(np.float64) / 32768.0
    n = len(x)
    out = np.zeros(CLIP_SAMPLES, dtype=np.float64)
    out[: min(n, CLIP_SAMPLES)] = x[:CLIP_SAMPLES]
    return out, n


# ---------------------------------------------------------------------------------------------
# Reference: librosa
# ---------------------------------------------------------------------------------------------

def features_librosa(x: np.ndarray) -> np.ndarray:
    window = librosa.filters.get_window("hann", N_FFT, fftbins=True)  # periodic Hann
    mel = librosa.feature.melspectrogram(
        y=x, sr=SR, n_fft=N_FFT, hop_length=HOP, win_length=N_FFT, window="hann",
        center=True, pad_mode="reflect", power=2.0,
        n_mels=N_MELS, fmin=F_MIN, fmax=F_MAX, htk=True, norm=None, dtype=np.float64,
    )
    assert mel.dtype == np.float64, mel.dtype
    mel = mel / np.sum(window ** 2)  # torchaudio normalized=True (on power: / sum w^2)
    return librosa.power_to_db(mel, ref=1.0, amin=AMIN, top_db=None)


# ---------------------------------------------------------------------------------------------
# Cross-check: the same formulas in plain numpy
# ---------------------------------------------------------------------------------------------

def hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)


def mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)


def mel_filterbank() -> np.ndarray:
    """(n_mels, n_fft/2+1) HTK triangles without area normalisation (torchaudio melscale_fbanks)."""
    n_freqs = N_FFT // 2 + 1
    freqs = np.linspace(0.0, SR / 2, n_freqs)
    pts = mel_to_hz(np.linspace(hz_to_mel(F_MIN), hz_to_mel(F_MAX), N_MELS + 2))
    fb = np.zeros((N_MELS, n_freqs))
    for m in range(N_MELS):
        lo, mid, hi = pts[m], pts[m + 1], pts[m + 2]
        fb[m] = np.maximum(0.0, np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)))
    return fb


def features_numpy(x: np.ndarray, dtype=np.float64) -> np.ndarray:
    i = np.arange(N_FFT)
    w = 0.5 - 0.5 * np.cos(2 * np.pi * i / N_FFT)  # periodic Hann
    norm = np.sum(w ** 2)  # = 3 N / 8 = 768
    xp = np.pad(x, N_FFT // 2, mode="reflect")  # "reflect": edge sample not repeated
    frames = np.stack([xp[t * HOP: t * HOP + N_FFT] for t in range(FRAMES)])
    if dtype == np.float64:
        spec = np.fft.rfft(frames * w, axis=1)
        power = (spec.real ** 2 + spec.imag ** 2) / norm
        mel = power @ mel_filterbank().T  # (frames, mels)
    else:  # single-precision emulation (window pre-scaled by 1/sqrt(norm), as in the Rust code)
        wn = (w / np.sqrt(norm)).astype(dtype)
        spec = scipy.fft.rfft(frames.astype(dtype) * wn, axis=1)
        assert spec.dtype == np.complex64
        power = spec.real * spec.real + spec.imag * spec.imag
        mel = power @ mel_filterbank().astype(dtype).T
    return (10.0 * np.log10(np.maximum(mel, AMIN))).T  # (mels, frames)


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------

def clip_info(rel: str) -> dict:
    parts = rel.split("/")
    info = {}
    if rel.startswith("assets/demo/"):
        word = parts[2]
        inner = "/".join(parts[2:])
        demo = os.path.join(REPO, "assets/demo")
        lists = {}
        for name in ("validation", "testing"):
            with open(os.path.join(demo, f"{name}_list.txt")) as f:
                lists[name] = set(f.read().split())
        split = ("validation" if inner in lists["validation"]
                 else "testing" if inner in lists["testing"] else "training")
        info["word"] = word
        info["split"] = split
    else:
        info["word"] = None
        info["split"] = None
    return info


def main() -> int:
    make_chirp(os.path.join(REPO, CHIRP))

    fb_lib = librosa.filters.mel(sr=SR, n_fft=N_FFT, n_mels=N_MELS, fmin=F_MIN, fmax=F_MAX,
                                 htk=True, norm=None, dtype=np.float64)
    fb_diff = np.max(np.abs(fb_lib - mel_filterbank()))
    assert fb_diff < 1e-12, f"mel filterbanks differ by {fb_diff}"

    clips = []
    worst = 0.0
    f32_rows = []
    for rel in CLIPS + [CHIRP]:
        path = os.path.join(REPO, rel)
        x, n = load(path)
        ref = features_librosa(x)
        assert ref.shape == (N_MELS, FRAMES), ref.shape
        check = features_numpy(x)
        diff = float(np.max(np.abs(ref - check)))
        worst = max(worst, diff)
        assert diff < CROSS_CHECK_TOL_DB, f"{rel}: librosa vs numpy differ by {diff} dB"
        # How far a float32 implementation can be expected to drift (informational).
        f32 = features_numpy(x, np.float32)
        top = ref.max()
        loud = ref > top - 60.0
        f32_all = float(np.max(np.abs(f32 - ref)))
        f32_loud = float(np.max(np.abs(f32 - ref)[loud]))
        f32_rows.append((rel, f32_all, f32_loud))
        with open(path, "rb") as f:
            sha = hashlib.sha256(f.read()).hexdigest()
        rounded = [[round(float(v), ROUND) + 0.0 for v in row] for row in ref]
        clips.append({
            "path": rel,
            **clip_info(rel),
            "sha256": sha,
            "decoded_samples": n,
            "shape": [N_MELS, FRAMES],
            "max_db": round(float(top), ROUND),
            "log_mel_db": rounded,
        })
        print(f"{rel}: librosa vs numpy max |diff| {diff:.2e} dB; float32 emulation max |diff| "
              f"{f32_all:.4f} dB overall, {f32_loud:.5f} dB within 60 dB of the clip max "
              f"({top:.2f} dB)")

    doc = {
        "generator": "assets/reference/make_features_reference.py",
        "librosa_version": librosa.__version__,
        "numpy_version": np.__version__,
        "scipy_version": scipy.__version__,
        "soundfile_version": sf.__version__,
        "libsndfile_version": sf.__libsndfile_version__,
        "python_version": platform.python_version(),
        "params": {
            "sample_rate": SR,
            "clip_samples": CLIP_SAMPLES,
            "decode": "int16 / 32768, zero-padded or cropped at the end to clip_samples",
            "n_fft": N_FFT,
            "win_length": N_FFT,
            "hop": HOP,
            "window": "hann, periodic (w[i] = 0.5 - 0.5 cos(2 pi i / n_fft))",
            "center": True,
            "pad_mode": "reflect",
            "power": 2.0,
            "normalized": "power divided by sum(w^2) = 768",
            "n_mels": N_MELS,
            "f_min": F_MIN,
            "f_max": F_MAX,
            "mel_scale": "htk",
            "mel_norm": None,
            "amin": AMIN,
            "ref": 1.0,
            "top_db": None,
            "db": "10 * log10(max(mel_power, amin))",
            "layout": "log_mel_db[mel][frame]",
            "rounding_db": 10.0 ** -ROUND,
            "dtype": "float64",
        },
        "cross_check": {
            "against": "plain numpy implementation in the same script (float64)",
            "max_abs_diff_db": float(f"{worst:.3e}"),
            "tolerance_db": CROSS_CHECK_TOL_DB,
        },
        "clips": clips,
    }
    # One mel row per line: readable diffs, still plain JSON.
    text = json.dumps(doc, indent=2)
    for c in clips:
        rows = c["log_mel_db"]
        compact = "[\n" + ",\n".join("        " + json.dumps(r) for r in rows) + "\n      ]"
        text = text.replace(json.dumps(rows, indent=2).replace("\n", "\n      "), compact, 1)
    json.loads(text)  # still valid
    assert json.loads(text) == json.loads(json.dumps(doc))
    with open(os.path.join(HERE, "features_reference.json"), "w", newline="\n") as f:
        f.write(text + "\n")
    print(f"wrote {len(clips)} clips; librosa vs numpy worst |diff| {worst:.2e} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
