"""Offline training data: music21 corpus melodies rendered in-process with FluidSynth.

Each piece is a Bach chorale soprano line or an ABC folk tune, transposed into the
instrument's range, given a random tempo and velocity shape, rendered through one of
the GM soundfonts, trimmed and peak-normalised, and written as 22.05 kHz mono WAV.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from export.instruments import SOUNDFONTS, Instrument, instrument

SAMPLE_RATE = 22050
PEAK_DBFS = -1.0
MAX_PIECE_SECONDS = 45.0
#: FluidSynth is quiet at its default gain; 0.8 brings pieces near full scale.
SYNTH_GAIN = 0.8


@dataclass(frozen=True)
class Note:
    start: float  # seconds
    duration: float  # seconds
    pitch: int  # MIDI
    velocity: int


@dataclass
class PieceInfo:
    file: str
    source: str
    soundfont: str
    program: int
    transpose: int
    bpm: float
    seconds: float


# ------------------------------------------------------------------ melodies
@lru_cache(maxsize=1)
def _corpus_paths() -> tuple[list[Path], list[Path]]:
    from music21 import corpus

    chorales = [Path(p) for p in corpus.getComposer("bach")]
    tunes = [Path(p) for p in corpus.getPaths(fileExtensions=("abc",))]
    if not chorales or not tunes:
        raise RuntimeError("music21's corpus is missing; install the 'music21' package")
    return chorales, tunes


def _melody_from_stream(stream) -> list[tuple[float, float, int]]:
    """(offset in quarters, duration in quarters, MIDI pitch) of the top line."""
    notes = []
    for element in stream.stripTies().flatten().notes:
        pitches = [p.midi for p in element.pitches]
        if not pitches or element.quarterLength <= 0:
            continue
        notes.append((float(element.offset), float(element.quarterLength), max(pitches)))
    return notes


def pick_melody(rng: random.Random) -> tuple[str, list[tuple[float, float, int]]]:
    """A random monophonic melody from the corpus, as (source, notes in quarters)."""
    from music21 import converter, stream as m21stream

    chorales, tunes = _corpus_paths()
    for _ in range(20):
        try:
            if rng.random() < 0.5:
                path = rng.choice(chorales)
                score = converter.parse(path)
                parts = getattr(score, "parts", None)
                if not parts:
                    continue
                notes = _melody_from_stream(parts[0])
                source = f"bach:{path.name}"
            else:
                path = rng.choice(tunes)
                parsed = converter.parse(path)
                if isinstance(parsed, m21stream.Opus):
                    scores = list(parsed.scores)
                    if not scores:
                        continue
                    parsed = rng.choice(scores)
                notes = _melody_from_stream(parsed)
                source = f"abc:{path.parent.name}/{path.name}"
        except Exception:  # music21 rejects some corpus files; draw another
            continue
        if len(notes) >= 8:
            return source, notes
    raise RuntimeError("could not draw a usable melody from the music21 corpus")


def transpose_into_range(pitches: list[int], inst: Instrument, rng: random.Random) -> int:
    """A semitone shift that puts the melody inside the instrument's range (octave-folded)."""
    low, high = min(pitches), max(pitches)
    span = high - low
    if span > inst.high - inst.low:
        return inst.low - low
    return rng.randint(inst.low - low, inst.high - high)


def realise(
    notes: list[tuple[float, float, int]], inst: Instrument, rng: random.Random
) -> tuple[list[Note], int, float]:
    """Quarters -> seconds with a random tempo, transposition and velocity shape."""
    shift = transpose_into_range([p for _, _, p in notes], inst, rng)
    bpm = rng.uniform(66.0, 144.0)
    seconds_per_quarter = 60.0 / bpm
    base_velocity = rng.randint(55, 110)
    articulation = rng.uniform(0.75, 1.0)
    out: list[Note] = []
    first = notes[0][0]
    for offset, length, pitch in notes:
        start = (offset - first) * seconds_per_quarter
        if start > MAX_PIECE_SECONDS:
            break
        accent = 8 if abs(offset - round(offset)) < 1e-6 and round(offset) % 2 == 0 else 0
        velocity = int(np.clip(base_velocity + accent + rng.randint(-10, 10), 20, 127))
        midi = int(np.clip(pitch + shift, inst.low, inst.high))
        out.append(Note(start, max(length * seconds_per_quarter * articulation, 0.05), midi, velocity))
    return out, shift, bpm


# ------------------------------------------------------------------ synthesis
def _synth(soundfont: str):
    """A fresh synthesiser per piece: no reverb tail or LFO phase carries over, so renders
    are deterministic for a seed (loading FluidR3 costs ~0.3 s)."""
    import fluidsynth

    synth = fluidsynth.Synth(gain=SYNTH_GAIN, samplerate=float(SAMPLE_RATE))
    sfid = synth.sfload(soundfont)
    if sfid < 0:
        raise RuntimeError(f"FluidSynth could not load soundfont {soundfont}")
    return synth, sfid


def render_notes(notes: list[Note], soundfont: Path, program: int, release: float = 1.0) -> np.ndarray:
    """Render a monophonic note list to mono float32 audio at SAMPLE_RATE."""
    synth, sfid = _synth(str(soundfont))
    synth.program_select(0, sfid, 0, program)
    events: list[tuple[float, int, int, int]] = []  # (time, order, pitch, velocity); note-offs first
    for note in notes:
        events.append((note.start, 1, note.pitch, note.velocity))
        events.append((note.start + note.duration, 0, note.pitch, 0))
    events.sort()
    chunks: list[np.ndarray] = []
    cursor = 0
    for time, is_on, pitch, velocity in events:
        target = int(round(time * SAMPLE_RATE))
        if target > cursor:
            chunks.append(synth.get_samples(target - cursor))
            cursor = target
        if is_on:
            synth.noteon(0, pitch, velocity)
        else:
            synth.noteoff(0, pitch)
    chunks.append(synth.get_samples(int(release * SAMPLE_RATE)))
    synth.delete()
    stereo = np.concatenate(chunks).astype(np.float32).reshape(-1, 2) / 32768.0
    return stereo.mean(axis=1)


def trim_and_normalise(audio: np.ndarray, threshold_db: float = -60.0) -> np.ndarray:
    """Cut leading/trailing silence (FluidSynth runs past the last note) and peak-normalise."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak <= 0:
        return audio[:0]
    loud = np.flatnonzero(np.abs(audio) > peak * 10 ** (threshold_db / 20))
    audio = audio[loud[0] : loud[-1] + 1]
    return (audio / peak * 10 ** (PEAK_DBFS / 20)).astype(np.float32)


# ------------------------------------------------------------------ command
def render_instrument(name: str, out_dir: Path, minutes: float, seed: int = 0) -> list[PieceInfo]:
    """Render ``minutes`` of one instrument into ``out_dir/name``; returns the pieces written."""
    inst = instrument(name)
    soundfonts = [sf2 for sf2 in SOUNDFONTS if sf2.exists()]
    if not soundfonts:
        raise RuntimeError(
            "no GM soundfont found; install Debian's fluid-soundfont-gm and timgm6mb-soundfont"
        )
    rng = random.Random(f"{seed}:{name}")
    folder = out_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    pieces: list[PieceInfo] = []
    total = 0.0
    goal = minutes * 60.0
    with tqdm(total=round(goal), desc=f"render {name}", unit="s") as bar:
        while total < goal:
            source, melody = pick_melody(rng)
            notes, shift, bpm = realise(melody, inst, rng)
            soundfont = rng.choice(soundfonts)
            program = rng.choice(inst.programs)
            audio = trim_and_normalise(render_notes(notes, soundfont, program))
            if audio.size < SAMPLE_RATE:  # under a second: nothing useful
                continue
            file = folder / f"{name}_{len(pieces):04d}.wav"
            sf.write(file, audio, SAMPLE_RATE, subtype="PCM_16")
            seconds = audio.size / SAMPLE_RATE
            pieces.append(PieceInfo(file.name, source, soundfont.name, program, shift, round(bpm, 1), round(seconds, 2)))
            total += seconds
            bar.update(min(round(seconds), max(round(goal) - bar.n, 0)))
    (folder / "render.json").write_text(
        json.dumps(
            {"instrument": name, "sample_rate": SAMPLE_RATE, "seed": seed, "seconds": round(total, 1),
             "pieces": [asdict(p) for p in pieces]},
            indent=1,
        )
    )
    return pieces
