"""The ``register`` option: grow each layer in its instrument's own range, not the input's.

A player doubling a part moves it by whole octaves into the instrument's range: a violinist
reading a guitar line (E2-E4, much of it below the violin's lowest G3) plays it an octave
up.  The models do the same thing best: they were trained on melodies inside their
instrument's range (the bundle's ``pitch_range``), and follow notes there far better than
outside it (``docs/decisions.md``, "register").

``register="instrument"`` measures the input's pitch in every voiced frame (basic-pitch's
contour, the extractor melody following already uses) and moves the input by the fewest
whole octaves that bring its median pitch into the middle half of each model's range,
where the training melodies lie thickest (``data render`` places each melody anywhere
inside the range), or nearest the range's middle when no shift does; ``"input"`` keeps the
input's register.  The ``octave`` option adds to the shift.

``register="fit"`` (the default) keeps the notes where the input plays them but grows them where
the model plays best: an input whose median lies below the middle half of a model's range is
moved up by those octaves (stopping at the first that puts it inside the range: :func:`fit_octaves`),
the layer grown there and brought back down on its mel image
(``engine.image_transpose``), as a sampler plays a note below its lowest sample; an input inside
or above the range is grown as it is (the models follow notes above their range about as well
as inside it, and far worse below: ``docs/decisions.md``, "fit register").

Each call decides from its own input, or from a ``context`` its caller gives: live mode, which
runs window by window, decides each window on the last seconds of input
(``bridge.live.RegisterContext``), so a layer's register holds until the player stays in another
one; under ``fit`` a window is then never grown past its model's range (a high phrase inside a
low passage).  ``octave`` alone gives a fixed shift.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Sequence

import numpy as np

from diffband.engine.condition import BP_SAMPLE_RATE, VOICED_SALIENCE, contour_at, contour_frequencies
from diffband.engine.heard import training_gain
from diffband.engine.options import MAX_OCTAVES, REGISTERS
from diffband.engine.windowing import DEFAULT_MAX_SECONDS, check_audio, to_model_mono

if TYPE_CHECKING:
    from diffband.engine.model import DiffusionModel



def hz_to_midi(hz: np.ndarray | float) -> np.ndarray:
    """Fractional MIDI note numbers (A4 = 440 Hz = 69)."""
    return 69.0 + 12.0 * np.log2(np.asarray(hz, dtype=np.float64) / 440.0)


def voiced_pitches(mono: np.ndarray, sample_rate: int) -> np.ndarray:
    """MIDI pitch (fractional) of the strongest contour bin in each voiced frame of ``mono``; empty
    when no frame is voiced (silence, noise, drums)."""
    _, salience = contour_at(mono, sample_rate)
    voiced = salience.max(axis=1) > VOICED_SALIENCE
    return hz_to_midi(contour_frequencies()[salience[voiced].argmax(axis=1)])


def octaves_into_range(pitches: np.ndarray, pitch_range: tuple[int, int], limit: int = MAX_OCTAVES) -> int:
    """The fewest whole octaves (within ``limit`` either way; up before down) that bring the median
    of ``pitches`` (MIDI) into the middle half of ``pitch_range`` (MIDI low, high), or nearest its
    middle when none does; 0 for no pitches."""
    pitches = np.asarray(pitches, dtype=np.float64)
    if pitches.size == 0:
        return 0
    low, high = pitch_range
    centre, quarter = (low + high) / 2.0, (high - low) / 4.0
    median = float(np.median(pitches))
    shifts = sorted(range(-limit, limit + 1), key=lambda k: (abs(k), -k))
    inside = [k for k in shifts if abs(median + 12 * k - centre) <= quarter]
    return inside[0] if inside else min(shifts, key=lambda k: abs(median + 12 * k - centre))


def fit_octaves(pitches: np.ndarray, pitch_range: tuple[int, int], limit: int = MAX_OCTAVES) -> int:
    """How far register ``fit`` grows a layer up from ``pitches`` (MIDI): as :func:`octaves_into_range`
    moves a low input up, but no further than the first octave that puts its median inside
    ``pitch_range`` (at least one).  A window grown two octaves up and lowered two on its mel image
    kept fewer notes than one grown one octave up, inside the range (``docs/decisions.md``); 0 or
    less (an input in or above the range's middle half) as :func:`octaves_into_range` gives it."""
    move = octaves_into_range(pitches, pitch_range, limit)
    if move <= 1:
        return move
    first_inside = int(np.ceil((pitch_range[0] - float(np.median(pitches))) / 12.0))
    return min(move, max(1, first_inside))


def layer_octaves(models: Sequence["DiffusionModel"], audio: np.ndarray, sample_rate: int, register: str,
                  octave: int = 0, max_seconds: float = DEFAULT_MAX_SECONDS) -> list[int]:
    """The octaves each model's layer sounds from the caller's ``audio`` (``(frames,)`` or
    ``(frames, channels)``): ``octave`` with register ``input`` or ``fit``; with ``instrument``, plus
    each model's shift into its range (none for a model whose bundle records no ``pitch_range``, or
    an input with no pitch).  Clipped to ``MAX_OCTAVES``."""
    return [sounding for _, sounding in layer_placements(models, audio, sample_rate, register, octave, max_seconds)]


def layer_placements(models: Sequence["DiffusionModel"], audio: np.ndarray, sample_rate: int, register: str,
                     octave: int = 0, max_seconds: float = DEFAULT_MAX_SECONDS,
                     context: np.ndarray | None = None) -> list[tuple[int, int]]:
    """Per model, ``(grown, sounding)``: the octaves from ``audio`` its layer is grown at, and the
    octaves it sounds at once brought down (``engine.image_transpose``); equal but with register
    ``fit``, where an input below a model's range is grown up to it (module docstring).  Decided on
    ``context`` (recent input ending with ``audio``, same rate) when given; ``fit`` then grows
    ``audio`` no higher than keeps its own median pitch inside each model's range."""
    if register not in REGISTERS:
        raise ValueError(f"register must be one of {', '.join(REGISTERS)}, got {register!r}")
    if register == "input":
        return [(octave, octave)] * len(models)
    decided_on = audio if context is None else context
    if register == "fit":  # decided from the input as it sounds, ``octave`` moved: grown higher only when that is low
        moves = range_moves(models, decided_on, sample_rate, max_seconds, warn=False, octave=octave, fit=True)
        if context is not None:
            moves = [min(move, room) for move, room in zip(moves, headroom(models, audio, sample_rate, octave, max_seconds))]
        return [(int(np.clip(octave + max(0, move), -MAX_OCTAVES, MAX_OCTAVES)), octave) for move in moves]
    moves = range_moves(models, decided_on, sample_rate, max_seconds)
    shifts = [int(np.clip(move + octave, -MAX_OCTAVES, MAX_OCTAVES)) for move in moves]
    return [(shift, shift) for shift in shifts]


def input_pitches(audio: np.ndarray, sample_rate: int, octave: int = 0,
                  max_seconds: float = DEFAULT_MAX_SECONDS) -> np.ndarray:
    """MIDI pitch of each voiced frame of the caller's ``audio`` (checked, mixed to mono, read at the
    level the layers are grown at: basic-pitch finds more voiced frames in a quieter take, which moved
    a phrase's median and so its register), moved ``octave``."""
    mono = to_model_mono(audio, check_audio(audio, sample_rate, max_seconds), BP_SAMPLE_RATE)
    return voiced_pitches(mono * np.float32(training_gain(mono)), BP_SAMPLE_RATE) + 12.0 * octave


def headroom(models: Sequence["DiffusionModel"], audio: np.ndarray, sample_rate: int, octave: int = 0,
             max_seconds: float = DEFAULT_MAX_SECONDS) -> list[int]:
    """Per model, the most whole octaves ``audio`` (moved ``octave``) can go up with its median pitch
    still at or below the top of the model's range; ``MAX_OCTAVES`` for a model with no range or an
    input with no pitch."""
    if not any(m.info.pitch_range for m in models):
        return [MAX_OCTAVES] * len(models)
    pitches = input_pitches(audio, sample_rate, octave, max_seconds)
    if pitches.size == 0:
        return [MAX_OCTAVES] * len(models)
    median = float(np.median(pitches))
    return [int(np.floor((m.info.pitch_range[1] - median) / 12.0)) if m.info.pitch_range else MAX_OCTAVES for m in models]


def range_moves(models: Sequence["DiffusionModel"], audio: np.ndarray, sample_rate: int,
                max_seconds: float = DEFAULT_MAX_SECONDS, warn: bool = True, octave: int = 0,
                fit: bool = False) -> list[int]:
    """Per model, the whole octaves that bring ``audio``'s pitch, moved ``octave`` octaves, into its
    range (:func:`octaves_into_range`; with ``fit``, as register ``fit`` grows it: :func:`fit_octaves`);
    0 for a model whose bundle records no ``pitch_range`` (with ``warn``, a warning says so) or an
    input with no pitch."""
    lacking = [m.name for m in models if not m.info.pitch_range]
    if lacking and warn:
        warnings.warn(f"model {', '.join(lacking)} records no pitch range: its layer keeps the input's register",
                      stacklevel=2)
    if len(lacking) == len(models):
        return [0] * len(models)
    pitches = input_pitches(audio, sample_rate, octave, max_seconds)
    moves = fit_octaves if fit else octaves_into_range
    return [moves(pitches, model.info.pitch_range) if model.info.pitch_range else 0 for model in models]
