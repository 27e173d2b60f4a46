"""``python -m bench.pitch_extractors``: which f0 extractor for the condition channel (issue 13, item 1).

Candidates, each run on the same 4.46 s windows with known notes (``bench.pitch_truth``):

- basic-pitch's ONNX model on ONNX Runtime (torch-free): its contour posteriorgram
  (3 bins a semitone from 27.5 Hz, ~86 frames/s), windowed over the clip exactly as
  ``basic_pitch.inference.run_inference`` but from memory.  One f0: the strongest bin
  when it reaches ``BASIC_PITCH_THRESHOLD``; several f0s: every local peak reaching it.
  The position is refined by the salience-weighted mean of the peak and its two neighbours.
- pyin (librosa: numpy + numba), over the instruments' MIDI range, hop 512;
- torchcrepe ``tiny`` and ``full`` (torch; 10 ms hop, Viterbi decoding, voiced where the
  median-filtered periodicity reaches ``CREPE_THRESHOLD``), when ``import torchcrepe`` works.

Monophonic clips score pitch (share of voiced note frames within 50 cents), voicing
and octave errors; two-instrument mixes score multi-pitch recall and precision and the
share of frames where some estimate matches some line.  The run time is per 4.46 s
window on one CPU thread.  Appends a section to ``bench/RESULTS.md`` (``--out``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Callable

import numpy as np

from bench.engine import RESULTS, append_results, machine
from bench.pitch_truth import (
    Clip, add_clip_arguments, load_clips, markdown_table, mean_of, mix, pitch_range, pyin, score_monophonic,
    score_multipitch,
)
from diffband.export.data_render import SAMPLE_RATE

#: Contour salience at which basic-pitch calls a frame voiced (its own default frame threshold).
BASIC_PITCH_THRESHOLD = 0.3
#: Frames of overlap between basic-pitch's 2 s windows, as run_inference.
BASIC_PITCH_OVERLAP_FRAMES = 30
#: torchcrepe: periodicity at which a frame is voiced (its README's example), and the median filter.
CREPE_THRESHOLD = 0.21
CREPE_FILTER = 3
CREPE_SAMPLE_RATE = 16000
CREPE_HOP = 160  # 10 ms at 16 kHz

#: One extractor: clip -> (frame times, the f0s (Hz) of each frame, strongest first).
Extract = Callable[[Clip], tuple[np.ndarray, list[np.ndarray]]]


@dataclass(frozen=True)
class Extractor:
    """A candidate; ``max_clips`` limits the windows per instrument and per mix (for slow ones)."""

    name: str
    run: Extract
    torch_free: str
    max_clips: int | None = None


# ------------------------------------------------------------------ basic-pitch
@lru_cache(maxsize=1)
def _basic_pitch_session():
    import onnxruntime as ort
    from basic_pitch import FilenameSuffix, build_icassp_2022_model_path

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    path = build_icassp_2022_model_path(FilenameSuffix.onnx)
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def basic_pitch_contour(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frame times s, contour posteriorgram ``(frames, 264)``) of 22.05 kHz mono audio."""
    from basic_pitch.constants import AUDIO_N_SAMPLES, AUDIO_SAMPLE_RATE, FFT_HOP

    assert AUDIO_SAMPLE_RATE == SAMPLE_RATE
    overlap = BASIC_PITCH_OVERLAP_FRAMES * FFT_HOP
    hop = AUDIO_N_SAMPLES - overlap
    padded = np.concatenate([np.zeros(overlap // 2, np.float32), np.asarray(audio, np.float32)])
    starts = range(0, padded.size, hop)
    windows = np.stack(
        [np.pad(padded[s : s + AUDIO_N_SAMPLES], (0, max(0, s + AUDIO_N_SAMPLES - padded.size))) for s in starts]
    )
    feeds = {"serving_default_input_2:0": windows[:, :, None]}
    contour = _basic_pitch_session().run(["StatefulPartitionedCall:0"], feeds)[0]
    half = BASIC_PITCH_OVERLAP_FRAMES // 2
    kept = contour[:, half:-half, :]
    per_window = kept.shape[1]
    frames = int(np.floor(audio.size * (AUDIO_SAMPLE_RATE // FFT_HOP) / AUDIO_SAMPLE_RATE))
    contour = kept.reshape(-1, kept.shape[2])[:frames]
    index = np.arange(contour.shape[0])
    times = ((index // per_window) * hop + (index % per_window) * FFT_HOP) / SAMPLE_RATE
    return times, contour


def contour_peaks(contour: np.ndarray, threshold: float, strongest_only: bool) -> list[np.ndarray]:
    """f0s (Hz) per frame, strongest first: the strongest bin, or every local peak, that reaches ``threshold``."""
    from basic_pitch.constants import FREQ_BINS_CONTOURS

    log_freq = np.log2(FREQ_BINS_CONTOURS)
    padded = np.pad(contour, ((0, 0), (1, 1)))
    out = []
    for row, salience in enumerate(contour):
        if strongest_only:
            peaks = np.array([int(np.argmax(salience))])
        else:
            peaks = np.flatnonzero((salience >= padded[row, :-2]) & (salience > padded[row, 2:]))
        peaks = peaks[salience[peaks] >= threshold]
        peaks = peaks[np.argsort(-salience[peaks])]
        hz = []
        for peak in peaks:
            neighbours = np.arange(max(peak - 1, 0), min(peak + 2, salience.size))
            weights = salience[neighbours]
            hz.append(2.0 ** (np.sum(weights * log_freq[neighbours]) / np.sum(weights)))
        out.append(np.array(hz))
    return out


def basic_pitch_extractor(strongest_only: bool) -> Extract:
    def run(clip: Clip) -> tuple[np.ndarray, list[np.ndarray]]:
        times, contour = basic_pitch_contour(clip.audio)
        return times, contour_peaks(contour, BASIC_PITCH_THRESHOLD, strongest_only)

    return run


# ------------------------------------------------------------------ pyin, torchcrepe
def pyin_extractor(clip: Clip) -> tuple[np.ndarray, list[np.ndarray]]:
    times, f0 = pyin(clip.audio, clip.instruments)
    return times, [np.array([hz]) if hz > 0 else np.zeros(0) for hz in f0]


def crepe_available() -> bool:
    try:
        import torchcrepe  # noqa: F401
    except ImportError:
        return False
    return True


def crepe_extractor(model: str) -> Extract:
    def run(clip: Clip) -> tuple[np.ndarray, list[np.ndarray]]:
        import resampy
        import torch
        import torchcrepe

        audio = resampy.resample(clip.audio, SAMPLE_RATE, CREPE_SAMPLE_RATE)
        fmin, fmax = pitch_range(clip.instruments)
        with torch.no_grad():
            pitch, periodicity = torchcrepe.predict(
                torch.from_numpy(audio[None, :].astype(np.float32)), CREPE_SAMPLE_RATE, CREPE_HOP, fmin, fmax,
                model=model, return_periodicity=True, batch_size=512, device="cpu",
            )
        periodicity = torchcrepe.filter.median(periodicity, CREPE_FILTER)
        pitch, periodicity = pitch[0].numpy(), periodicity[0].numpy()
        times = np.arange(pitch.size) * CREPE_HOP / CREPE_SAMPLE_RATE
        return times, [np.array([hz]) if p >= CREPE_THRESHOLD else np.zeros(0) for hz, p in zip(pitch, periodicity)]

    return run


def extractors(with_crepe: bool, crepe_full_clips: int) -> list[Extractor]:
    found = [
        Extractor("basic-pitch ONNX, strongest contour peak", basic_pitch_extractor(True), "yes (onnxruntime)"),
        Extractor("basic-pitch ONNX, every contour peak", basic_pitch_extractor(False), "yes (onnxruntime)"),
        Extractor("pyin (librosa)", pyin_extractor, "yes, but librosa + numba"),
    ]
    if with_crepe:
        found += [
            Extractor("torchcrepe tiny", crepe_extractor("tiny"), "no (torch; an ONNX export would be needed)"),
            Extractor("torchcrepe full", crepe_extractor("full"), "no (torch; an ONNX export would be needed)",
                      crepe_full_clips),
        ]
    return found


# ------------------------------------------------------------------ the run
def strongest(pitches: list[np.ndarray]) -> np.ndarray:
    """The first (strongest) f0 of each frame, 0 where there is none."""
    return np.array([p[0] if p.size else 0.0 for p in pitches])


def evaluate(extractor: Extractor, mono: dict[str, list[Clip]], poly: dict[str, list[Clip]]) -> dict:
    seconds: list[float] = []

    def timed(clip: Clip) -> tuple[np.ndarray, list[np.ndarray]]:
        start = time.perf_counter()
        out = extractor.run(clip)
        seconds.append(time.perf_counter() - start)
        return out

    per_instrument = {}
    for name, clips in mono.items():
        rows = []
        for clip in clips[: extractor.max_clips]:
            times, pitches = timed(clip)
            rows.append(score_monophonic(clip, times, strongest(pitches)) | score_multipitch(clip, times, pitches))
        per_instrument[name] = rows
    poly_rows = []
    for clip in (clip for clips in poly.values() for clip in clips[: extractor.max_clips]):
        times, pitches = timed(clip)
        poly_rows.append(score_multipitch(clip, times, pitches))
    return {"mono": per_instrument, "poly": poly_rows, "seconds": float(np.median(seconds[1:] or seconds)),
            "windows": f"{sum(len(rows) for rows in per_instrument.values())} + {len(poly_rows)}"}


def table(results: dict[str, dict], instruments: tuple[str, ...], torch_free: dict[str, str]) -> str:
    header = (["extractor"] + [f"pitch, {name}" for name in instruments]
              + ["pitch, all", "voicing, all", "octave errors", "mono precision", "poly recall", "poly precision",
                 "poly any line", "time / 4.46 s window", "windows (mono + mixes)", "torch-free at run time"])
    rows = []
    for name, result in results.items():
        mono, poly = result["mono"], result["poly"]
        every = [row for clips in mono.values() for row in clips]
        rows.append(
            [name] + [f"{mean_of(mono[i], 'pitch'):.3f}" for i in instruments]
            + [f"{mean_of(every, key):.3f}" for key in ("pitch", "voicing", "octave", "precision")]
            + [f"{mean_of(poly, key):.3f}" for key in ("recall", "precision", "any_line")]
            + [f"{result['seconds'] * 1e3:.0f} ms", result["windows"], torch_free[name]]
        )
    return markdown_table(header, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_clip_arguments(parser)
    parser.add_argument("--mixes", default="violin+guitar,voice+guitar", help="two-instrument mixes (polyphony)")
    parser.add_argument("--mix-clips", type=int, default=10, help="windows per mix")
    parser.add_argument("--no-crepe", action="store_true", help="skip torchcrepe even when it imports")
    parser.add_argument("--crepe-full-clips", type=int, default=4,
                        help="windows per instrument and per mix for torchcrepe full (~27 s a window on one thread)")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    instruments = tuple(args.instruments.split(","))
    mixes = [tuple(pair.split("+")) for pair in args.mixes.split(",") if pair]
    needed = tuple(dict.fromkeys(instruments + tuple(name for pair in mixes for name in pair)))
    clips = load_clips(needed, args.clips, args.seed, Path(args.cache) if args.cache else None)
    mono = {name: clips[name] for name in instruments}
    poly = {
        f"{first}+{second}": [mix(a, b) for a, b in zip(clips[first][: args.mix_clips], clips[second][: args.mix_clips])]
        for first, second in mixes
    }
    with_crepe = crepe_available() and not args.no_crepe
    chosen = extractors(with_crepe, args.crepe_full_clips)
    results = {}
    for extractor in chosen:
        results[extractor.name] = evaluate(extractor, mono, poly)
        print(f"{extractor.name}: done", flush=True)
    counts = ", ".join(f"{len(mono[name])} {name}" for name in instruments)
    mix_counts = ", ".join(f"{args.mix_clips} {a}+{b}" for a, b in mixes)
    crepe_note = (f"; torchcrepe {metadata.version('torchcrepe')}" if with_crepe
                  else "; torchcrepe not importable (or skipped): not measured")
    text = (
        f"## {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC — `python -m bench.pitch_extractors` — "
        "f0 extractors for the condition channel\n\n"
        f"- machine: {machine()}; every extractor on one thread (ONNX Runtime intra/inter 1, torch 1, OMP 1)\n"
        f"- clips: {counts} windows of 4.46 s (render seed {args.seed}, notes kept); mixes: {mix_counts} "
        f"(equal peak levels, different melodies); frames within 50 ms of a note edge not scored{crepe_note}\n"
        f"- pitch = voiced note frames within 50 cents (strongest estimate); voicing = voiced/unvoiced "
        f"agrees with the notes (release tails count as unvoiced); mono precision = estimates that match the note; "
        f"poly recall/precision = multi-pitch over both lines; any line = frames where some estimate matches "
        f"some sounding line; basic-pitch threshold {BASIC_PITCH_THRESHOLD}, torchcrepe periodicity "
        f"{CREPE_THRESHOLD}\n\n" + table(results, instruments, {e.name: e.torch_free for e in chosen}) + "\n"
    )
    append_results(Path(args.out), text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
