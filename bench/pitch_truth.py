"""Clips with known pitch, and frame-level pitch scores, for the issue-13 groundwork
benchmarks (``python -m bench.codec_resolution``, ``python -m bench.pitch_extractors``).

Clips are rendered by the project's own renderer (``export.data_render``: the music21
melody, tempo, transposition, soundfont and GM program that ``diffband data render
--seed S`` draws for each piece), but the note list is kept, so the ground-truth f0 of
every frame is known: the MIDI pitch of the note sounding then.  Frames within
``BOUNDARY_MARGIN`` of a note start or end are not scored (attacks, releases and the
renderer's reverb tail are ambiguous there).  A polyphonic clip mixes two instruments'
pieces, which are different melodies, so its truth has two lines.
"""

from __future__ import annotations

import argparse
import pickle
import random
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Iterator

import numpy as np

from diffband.export.data_render import SAMPLE_RATE, pick_melody, realise, render_notes, trim_and_normalise
from diffband.export.instruments import SOUNDFONTS, instrument

#: One window of the ``tiny`` preset: 96 frames x hop 1024 at 22.05 kHz (4.46 s).
WINDOW_SAMPLES = 96 * 1024
#: Frames this close (seconds) to a note start or end are not scored.
BOUNDARY_MARGIN = 0.05
#: A pitch is right within this many cents (half a semitone).
TOLERANCE_CENTS = 50.0
#: Scores are taken on a grid of this step (seconds), as mir_eval's melody metrics.
GRID_STEP = 0.01
#: Leading silence below this level (relative to the peak) is trimmed, as trim_and_normalise.
TRIM_THRESHOLD_DB = -60.0
#: Windows with less of their time inside a note than this are skipped.
MIN_VOICED_SHARE = 0.5


@dataclass(frozen=True)
class Clip:
    """One window of audio and, per melodic line, its notes ``(n, 3)``: start s, end s, MIDI."""

    name: str
    instruments: tuple[str, ...]
    audio: np.ndarray
    lines: tuple[np.ndarray, ...]

    @property
    def seconds(self) -> float:
        return self.audio.size / SAMPLE_RATE


def midi_to_hz(midi: np.ndarray | float) -> np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69.0) / 12.0)


def cents(estimate: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """1200 log2(estimate / reference); inf where either is unvoiced (<= 0)."""
    estimate, reference = np.asarray(estimate, np.float64), np.asarray(reference, np.float64)
    valid = (estimate > 0) & (reference > 0)
    out = np.full(np.broadcast(estimate, reference).shape, np.inf)
    ratio = np.broadcast_to(estimate, out.shape)[valid] / np.broadcast_to(reference, out.shape)[valid]
    out[valid] = 1200.0 * np.log2(ratio)
    return out


def pitch_range(instruments: tuple[str, ...]) -> tuple[float, float]:
    """fmin, fmax (Hz) covering the instruments' MIDI ranges with a semitone to spare."""
    low = min(instrument(name).low for name in instruments) - 1
    high = max(instrument(name).high for name in instruments) + 1
    return float(midi_to_hz(low)), float(midi_to_hz(high))


# ------------------------------------------------------------------ rendering
def _leading_silence(audio: np.ndarray) -> int:
    """Samples ``trim_and_normalise`` cuts from the start."""
    peak = float(np.max(np.abs(audio)))
    return int(np.flatnonzero(np.abs(audio) > peak * 10 ** (TRIM_THRESHOLD_DB / 20))[0])


def rendered_pieces(name: str, seed: int, max_seconds: float) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The pieces ``diffband data render --seed seed`` draws for ``name``, each cut to its
    notes starting before ``max_seconds``: (audio, notes (n, 3) in seconds of the trimmed audio)."""
    inst = instrument(name)
    soundfonts = [sf2 for sf2 in SOUNDFONTS if sf2.exists()]
    if not soundfonts:
        raise RuntimeError("no GM soundfont found; install fluid-soundfont-gm and timgm6mb-soundfont")
    rng = random.Random(f"{seed}:{name}")
    while True:
        _, melody = pick_melody(rng)
        notes, _, _ = realise(melody, inst, rng)
        soundfont = rng.choice(soundfonts)
        program = rng.choice(inst.programs)
        notes = [note for note in notes if note.start < max_seconds]
        raw = render_notes(notes, soundfont, program)
        audio = trim_and_normalise(raw)
        if audio.size < SAMPLE_RATE:
            continue
        offset = _leading_silence(raw) / SAMPLE_RATE
        table = np.array([[n.start - offset, n.start + n.duration - offset, n.pitch] for n in notes], np.float64)
        yield audio, table


def voiced_share(notes: np.ndarray, seconds: float, step: float = GRID_STEP) -> float:
    times = np.arange(0.0, seconds, step)
    inside = ((notes[:, 0][None, :] <= times[:, None]) & (times[:, None] < notes[:, 1][None, :])).any(axis=1)
    return float(inside.mean())


def _window_notes(notes: np.ndarray, start: float, seconds: float) -> np.ndarray:
    shifted = notes.copy()
    shifted[:, :2] -= start
    keep = (shifted[:, 1] > 0) & (shifted[:, 0] < seconds)
    return shifted[keep]


def monophonic_clips(name: str, count: int, seed: int, windows_per_piece: int = 2) -> list[Clip]:
    """``count`` windows of ``name``, at most ``windows_per_piece`` consecutive windows per piece."""
    seconds = WINDOW_SAMPLES / SAMPLE_RATE

    def windows() -> Iterator[Clip]:
        for index, (audio, notes) in enumerate(rendered_pieces(name, seed, windows_per_piece * seconds + 1.0)):
            for k in range(windows_per_piece):
                piece = audio[k * WINDOW_SAMPLES : (k + 1) * WINDOW_SAMPLES]
                if piece.size < WINDOW_SAMPLES:
                    break
                window_notes = _window_notes(notes, k * seconds, seconds)
                if len(window_notes) and voiced_share(window_notes, seconds) >= MIN_VOICED_SHARE:
                    yield Clip(f"{name}_{index:02d}_{k}", (name,), piece.astype(np.float32), (window_notes,))

    return list(islice(windows(), count))


def load_clips(instruments: tuple[str, ...], count: int, seed: int, cache: Path | None) -> dict[str, list[Clip]]:
    """``monophonic_clips`` per instrument, pickled to ``cache`` (rendering the voice's corpus
    pieces takes a while) and reused when it holds the same request."""
    request = (tuple(instruments), count, seed, WINDOW_SAMPLES)
    if cache is not None and cache.exists():
        stored_request, clips = pickle.loads(cache.read_bytes())
        if stored_request == request:
            return clips
    clips = {name: monophonic_clips(name, count, seed) for name in instruments}
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_bytes(pickle.dumps((request, clips)))
    return clips


def add_clip_arguments(parser: argparse.ArgumentParser) -> None:
    """The options both benchmarks take to choose their clips (``load_clips``)."""
    parser.add_argument("--instruments", default="guitar,violin,voice")
    parser.add_argument("--clips", type=int, default=20, help="windows per instrument")
    parser.add_argument("--seed", type=int, default=123, help="render seed (training data uses others)")
    parser.add_argument("--cache", default="/tmp/gw/clips.pkl", help="pickled clips ('' to render every time)")


def mean_of(rows: list[dict[str, float]], key: str) -> float:
    """Mean of one score over rows, ignoring NaN (a clip with nothing to score)."""
    return float(np.nanmean([row[key] for row in rows]))


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table of string cells."""
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def mix(first: Clip, second: Clip) -> Clip:
    """Both clips at equal peak level, summed at half gain: a two-line polyphonic clip."""
    audio = 0.5 * (first.audio / np.max(np.abs(first.audio)) + second.audio / np.max(np.abs(second.audio)))
    return Clip(f"{first.name}+{second.name}", first.instruments + second.instruments,
                audio.astype(np.float32), first.lines + second.lines)


# ------------------------------------------------------------------ scoring
def grid(clip: Clip) -> np.ndarray:
    return np.arange(0.0, clip.seconds, GRID_STEP)


def truth(clip: Clip, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(f0 per line ``(lines, len(times))``, 0 where the line is silent; scored mask)."""
    f0 = np.zeros((len(clip.lines), times.size))
    scored = np.ones(times.size, dtype=bool)
    for row, notes in enumerate(clip.lines):
        for start, end, midi in notes:
            f0[row, (times >= start) & (times < end)] = midi_to_hz(midi)
            for edge in (start, end):
                scored &= np.abs(times - edge) > BOUNDARY_MARGIN
    return f0, scored


def on_grid(times: np.ndarray, frame_times: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Nearest-frame lookup of per-frame ``values`` (last axis) at ``times``."""
    index = np.clip(np.searchsorted(frame_times, times), 1, len(frame_times) - 1)
    nearer_left = (times - frame_times[index - 1]) < (frame_times[index] - times)
    return values[..., np.where(nearer_left, index - 1, index)]


def score_monophonic(clip: Clip, frame_times: np.ndarray, f0: np.ndarray) -> dict[str, float]:
    """One estimated f0 per frame (0 = unvoiced) against a one-line clip.

    pitch: share of voiced truth frames estimated voiced and within 50 cents;
    voicing: share of frames whose voiced/unvoiced decision matches the truth;
    octave: share of voiced truth frames off by a whole number (>= 1) of octaves.
    """
    times = grid(clip)
    reference, scored = truth(clip, times)
    reference = reference[0]
    estimate = on_grid(times, frame_times, np.asarray(f0, np.float64))
    voiced = scored & (reference > 0)
    error = cents(estimate, reference)[voiced]
    finite = error[np.isfinite(error)]
    octaves = np.round(finite / 1200.0)
    octave_errors = (octaves != 0) & (np.abs(finite - 1200 * octaves) <= TOLERANCE_CENTS)
    return {
        "pitch": float(np.mean(np.abs(error) <= TOLERANCE_CENTS)),
        "voicing": float(np.mean((estimate > 0)[scored] == (reference > 0)[scored])),
        "octave": float(octave_errors.sum() / max(error.size, 1)),
    }


def score_multipitch(clip: Clip, frame_times: np.ndarray, pitches: list[np.ndarray]) -> dict[str, float]:
    """A set of estimated f0s per frame against every line of the clip.

    recall: share of (frame, sounding note) pairs some estimate matches within 50 cents;
    precision: share of estimates (on scored frames) that match a sounding note;
    any_line: share of frames with at least one note where some estimate matches one.
    """
    times = grid(clip)
    reference, scored = truth(clip, times)
    index = on_grid(times, frame_times, np.arange(len(frame_times)))
    hits = total_notes = right = total_estimates = frames_hit = frames_sounding = 0
    for column in np.flatnonzero(scored):
        sounding = reference[:, column][reference[:, column] > 0]
        estimates = np.asarray(pitches[index[column]], np.float64)
        estimates = estimates[estimates > 0]
        error = np.abs(cents(estimates[:, None], sounding[None, :])) <= TOLERANCE_CENTS
        hits += int(error.any(axis=0).sum())
        total_notes += sounding.size
        right += int(error.any(axis=1).sum())
        total_estimates += estimates.size
        if sounding.size:
            frames_sounding += 1
            frames_hit += int(error.any())
    return {
        "recall": hits / max(total_notes, 1),
        "precision": right / max(total_estimates, 1),
        "any_line": frames_hit / max(frames_sounding, 1),
    }


def agreement(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Share of frames voiced in ``reference`` that ``estimate`` (same frames) has within 50 cents."""
    voiced = reference > 0
    if not voiced.any():
        return float("nan")
    return float(np.mean(np.abs(cents(estimate[voiced], reference[voiced])) <= TOLERANCE_CENTS))


def median_cents(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Median |cents| between two f0 tracks on the frames both call voiced (finer than ``agreement``)."""
    both = (reference > 0) & (estimate > 0)
    return float(np.median(np.abs(cents(estimate[both], reference[both])))) if both.any() else float("nan")


def pyin(audio: np.ndarray, instruments: tuple[str, ...], hop_length: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """librosa's pyin over the instruments' range: (frame times s, f0 Hz with 0 where unvoiced)."""
    import librosa

    fmin, fmax = pitch_range(instruments)
    f0, voiced, _ = librosa.pyin(audio, fmin=fmin, fmax=fmax, sr=SAMPLE_RATE, frame_length=2048, hop_length=hop_length)
    f0 = np.where(voiced & np.isfinite(f0), f0, 0.0)
    return np.arange(f0.size) * hop_length / SAMPLE_RATE, f0
