"""Offline training data: music21 corpus melodies rendered in-process with FluidSynth.

Each piece is a Bach chorale soprano line or an ABC folk tune, transposed into the
instrument's range, given a random tempo, velocity shape and articulation (legato,
detached, staccato or sustained), rendered through one of the GM soundfonts and one
of the instrument's GM programs with a random room (FluidSynth's reverb) and a random
EQ tilt, trimmed and peak-normalised, and written as 22.05 kHz mono WAV.  Its notes
are kept in ``render.json`` (ground truth for pitch evaluation).

Corpus pieces are split once, by a hash of their name, into ``train`` and ``heldout``:
``--split heldout`` renders only pieces that ``--split train`` never draws, and
``--soundfonts evaluation`` renders through a soundfont no training render uses, so
evaluation measures melodies and timbres the models never saw.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import butter, sosfilt
from tqdm import tqdm

from diffband.engine.bundle import checked_pitch_range
from diffband.engine.heard import TRAINING_PEAK_DBFS
from diffband.export.instruments import EVALUATION_SOUNDFONTS, SOUNDFONTS, Instrument, instrument

SAMPLE_RATE = 22050
PEAK_DBFS = TRAINING_PEAK_DBFS  # the level the techniques grow their inputs at (engine.heard)
MAX_PIECE_SECONDS = 45.0
#: FluidSynth is quiet at its default gain; 0.8 brings pieces near full scale.
SYNTH_GAIN = 0.8


@dataclass(frozen=True)
class Note:
    start: float  # seconds
    duration: float  # seconds
    pitch: int  # MIDI
    velocity: int


#: Note length as a share of the written length, per articulation; "sustained" also plays slowly.
ARTICULATIONS: dict[str, tuple[float, float]] = {
    "legato": (0.92, 1.0),
    "detached": (0.6, 0.85),
    "staccato": (0.3, 0.5),
    "sustained": (1.0, 1.0),
}
SPLITS = ("train", "heldout")
#: One corpus piece in this many is held out of training.
HELDOUT_ONE_IN = 8


@dataclass(frozen=True)
class Room:
    """FluidSynth's reverb as (room size, damping, width, level), and an EQ tilt as (dB below
    300 Hz, dB above 3 kHz)."""

    reverb: tuple[float, float, float, float] = (0.2, 0.5, 0.5, 0.0)
    eq_db: tuple[float, float] = (0.0, 0.0)


@dataclass
class PieceInfo:
    file: str
    source: str
    soundfont: str
    program: int
    transpose: int
    bpm: float
    seconds: float
    articulation: str = "legato"
    room: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)  # [start s, duration s, MIDI pitch, velocity], before trimming
    offset: float = 0.0  # seconds trimmed from the start (note times minus this = times in the file)


def split_of(source: str) -> str:
    """``heldout`` for a fixed one-in-``HELDOUT_ONE_IN`` share of corpus pieces, else ``train``."""
    digest = hashlib.sha1(source.split("#")[0].encode()).digest()
    return "heldout" if digest[0] % HELDOUT_ONE_IN == 0 else "train"


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


def pick_melody(rng: random.Random, split: str | None = None) -> tuple[str, list[tuple[float, float, int]]]:
    """A random monophonic melody from the corpus, as (source, notes in quarters); with
    ``split``, only from that share of the corpus (see ``split_of``)."""
    from music21 import converter, stream as m21stream

    chorales, tunes = _corpus_paths()
    for _ in range(20 if split is None else 20 * HELDOUT_ONE_IN):
        try:
            if rng.random() < 0.5:
                path = rng.choice(chorales)
                if split is not None and split_of(f"bach:{path.name}") != split:
                    continue
                score = converter.parse(path)
                parts = getattr(score, "parts", None)
                if not parts:
                    continue
                notes = _melody_from_stream(parts[0])
                source = f"bach:{path.name}"
            else:
                path = rng.choice(tunes)
                if split is not None and split_of(f"abc:{path.parent.name}/{path.name}") != split:
                    continue
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
    notes: list[tuple[float, float, int]], inst: Instrument, rng: random.Random, articulation_name: str | None = None
) -> tuple[list[Note], int, float]:
    """Quarters -> seconds with a random tempo, transposition and velocity shape; notes are
    played for a share of their written length set by the articulation (random when None:
    the original recipe's 0.75-1.0)."""
    shift = transpose_into_range([p for _, _, p in notes], inst, rng)
    bpm = rng.uniform(50.0, 72.0) if articulation_name == "sustained" else rng.uniform(66.0, 144.0)
    seconds_per_quarter = 60.0 / bpm
    base_velocity = rng.randint(55, 110)
    low, high = ARTICULATIONS[articulation_name] if articulation_name else (0.75, 1.0)
    articulation = rng.uniform(low, high)
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


def _write_float(synth, frames: int) -> np.ndarray:
    """``(2, frames)`` float32 from FluidSynth without its 16-bit dither.

    pyfluidsynth's ``get_samples`` renders int16 with FluidSynth's dither, whose random
    table is filled from libc's ``rand()`` the first time a synth starts: any library that
    called ``srand`` or ``rand`` earlier in the process changed every render (the cause of
    an order-dependent test).  Float output has no dither and does not depend on it."""
    import ctypes

    import fluidsynth

    out = np.zeros((2, frames), dtype=np.float32)
    left, right = (ctypes.c_void_p(out[i].ctypes.data) for i in (0, 1))
    fluidsynth._fl.fluid_synth_write_float(ctypes.c_void_p(synth.synth), frames, left, 0, 1, right, 0, 1)
    return out


def render_notes(notes: list[Note], soundfont: Path, program: int, release: float = 1.0, room: Room | None = None) -> np.ndarray:
    """Render a monophonic note list to mono float32 audio at SAMPLE_RATE (in ``room``: its reverb, then its EQ)."""
    synth, sfid = _synth(str(soundfont))
    synth.program_select(0, sfid, 0, program)
    if room is not None:
        synth.set_reverb(*room.reverb)
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
            chunks.append(_write_float(synth, target - cursor))
            cursor = target
        if is_on:
            synth.noteon(0, pitch, velocity)
        else:
            synth.noteoff(0, pitch)
    chunks.append(_write_float(synth, int(release * SAMPLE_RATE)))
    synth.delete()
    mono = np.concatenate(chunks, axis=1).mean(axis=0)
    return tilt_eq(mono, *room.eq_db) if room is not None else mono


def tilt_eq(audio: np.ndarray, low_db: float, high_db: float, low_hz: float = 300.0, high_hz: float = 3000.0) -> np.ndarray:
    """Shelf-like EQ: the band below ``low_hz`` and above ``high_hz`` raised or cut by the given dB
    (added through second-order Butterworth low- and high-passes)."""
    out = audio.astype(np.float64)
    for gain_db, kind, cutoff in ((low_db, "lowpass", low_hz), (high_db, "highpass", high_hz)):
        if gain_db:
            band = sosfilt(butter(2, cutoff, btype=kind, fs=SAMPLE_RATE, output="sos"), audio)
            out += (10 ** (gain_db / 20) - 1.0) * band
    return out.astype(np.float32)


def random_room(rng: random.Random) -> Room:
    """A room for augmentation: dry to a medium hall, EQ within +-6 dB."""
    reverb = (rng.uniform(0.1, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.3, 1.0), rng.choice([0.0, rng.uniform(0.1, 0.6)]))
    return Room(tuple(round(v, 3) for v in reverb), (round(rng.uniform(-6.0, 6.0), 2), round(rng.uniform(-6.0, 6.0), 2)))


def trim_and_normalise(audio: np.ndarray, threshold_db: float = -60.0) -> np.ndarray:
    """Cut leading/trailing silence (FluidSynth runs past the last note) and peak-normalise."""
    return trim_offset_and_normalise(audio, threshold_db)[0]


def trim_offset_and_normalise(audio: np.ndarray, threshold_db: float = -60.0) -> tuple[np.ndarray, int]:
    """``trim_and_normalise``, and the number of samples cut from the start."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak <= 0:
        return audio[:0], 0
    loud = np.flatnonzero(np.abs(audio) > peak * 10 ** (threshold_db / 20))
    return peak_normalise(audio[loud[0] : loud[-1] + 1], peak), int(loud[0])


def peak_normalise(audio: np.ndarray, peak: float | None = None) -> np.ndarray:
    """``audio`` scaled so that ``peak`` (default: its own; silence stays silent) sits at PEAK_DBFS, as float32."""
    peak = float(np.max(np.abs(audio))) if peak is None and audio.size else peak
    return (audio / (peak or 1.0) * 10 ** (PEAK_DBFS / 20)).astype(np.float32)


# ------------------------------------------------------------------ command
def render_instrument(
    name: str, out_dir: Path, minutes: float, seed: int = 0, split: str | None = None, soundfont_set: str = "training",
    augment: bool = False, pitch_range: tuple[int, int] | None = None,
) -> list[PieceInfo]:
    """Render ``minutes`` of one instrument into ``out_dir/name``; returns the pieces written.

    ``split`` draws only ``train`` or ``heldout`` corpus pieces (None: any, the original
    recipe); ``soundfont_set`` is ``training`` or ``evaluation`` (a soundfont no training
    render uses); ``augment`` varies articulation, room and EQ per piece; ``pitch_range``
    (MIDI low, high) transposes melodies into that range instead of the instrument's own,
    so a model also learns to play notes a source brings from outside its register.
    """
    inst = instrument(name)
    if pitch_range is not None:
        low, high = checked_pitch_range(pitch_range)
        inst = replace(inst, low=low, high=high)
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    choices = {"training": SOUNDFONTS, "evaluation": EVALUATION_SOUNDFONTS}
    if soundfont_set not in choices:
        raise ValueError(f"soundfont set must be one of {sorted(choices)}, got {soundfont_set!r}")
    soundfonts = [sf2 for sf2 in choices[soundfont_set] if sf2.exists()]
    if not soundfonts:
        raise RuntimeError(
            f"no {soundfont_set} soundfont found ({', '.join(str(p) for p in choices[soundfont_set])}); install Debian's "
            "fluid-soundfont-gm, timgm6mb-soundfont, csound-soundfont and musescore-general-soundfont-small"
        )
    rng = random.Random(f"{seed}:{name}")
    folder = out_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    pieces: list[PieceInfo] = []
    total = 0.0
    goal = minutes * 60.0
    with tqdm(total=round(goal), desc=f"render {name}", unit="s") as bar:
        while total < goal:
            source, melody = pick_melody(rng, split)
            articulation = rng.choice(list(ARTICULATIONS)) if augment else None
            notes, shift, bpm = realise(melody, inst, rng, articulation)
            soundfont = rng.choice(soundfonts)
            program = rng.choice(inst.programs)
            room = random_room(rng) if augment else None
            audio, offset = trim_offset_and_normalise(render_notes(notes, soundfont, program, room=room))
            if audio.size < SAMPLE_RATE:  # under a second: nothing useful
                continue
            file = folder / f"{name}_{len(pieces):04d}.wav"
            sf.write(file, audio, SAMPLE_RATE, subtype="PCM_16")
            seconds = audio.size / SAMPLE_RATE
            pieces.append(PieceInfo(
                file.name, source, soundfont.name, program, shift, round(bpm, 1), round(seconds, 2),
                articulation or "mixed", asdict(room) if room else {},
                [[round(n.start, 4), round(n.duration, 4), n.pitch, n.velocity] for n in notes], round(offset / SAMPLE_RATE, 4),
            ))
            total += seconds
            bar.update(min(round(seconds), max(round(goal) - bar.n, 0)))
    (folder / "render.json").write_text(
        json.dumps(
            {"instrument": name, "sample_rate": SAMPLE_RATE, "seed": seed, "seconds": round(total, 1),
             "split": split or "any", "soundfonts": soundfont_set, "augment": augment,
             "pitch_range": [inst.low, inst.high],
             "pieces": [asdict(p) for p in pieces]},
            indent=1,
        )
    )
    return pieces
