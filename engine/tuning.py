"""Re-tuning a layer to the notes it was asked to follow (``follow notes``; ``loose`` skips it).

A conditioned model places most notes right, but where its mel rows are wider than a semitone
(a ``tiny`` codec's, below ~800 Hz) a layer often sits a semitone or two off the input: on
held-out voice->guitar windows, 0.24 of the voiced frames lay 50-250 cents away
(`docs/decisions.md`, 2026-11-29).  A player doubling a part would correct that; so does this,
as a pitch editor would, without touching the model's timbre beyond a small shift:

1. basic-pitch's contour (the condition's extractor, ``engine.condition``) of the input, moved to
   where the layer sounds, gives the pitch each frame asks for (the strongest bin, refined
   between bins), and of the layer, the strongest bin within ``SEARCH_BINS`` of it;
2. their offset, a running median over ``SMOOTH_FRAMES`` frames, held over gaps of up to
   ``GAP_FRAMES`` inside a voiced passage of the input;
3. where the layer strays ``MIN_STRAY_BINS`` or more, it is shifted back by whole contour bins
   (a third of a semitone): the layer pitch-shifted once per distinct shift
   (``engine.transpose.shift_cents``), each blended in where it applies with ``FADE_SECONDS`` fades.

Frames the input does not voice, a layer with nothing near the asked pitch (another note, an
octave, silence) and a layer within ``MIN_STRAY_BINS`` are left as the model made them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np
from scipy.ndimage import uniform_filter1d

from diffband.engine.condition import BP_BINS, BP_BINS_PER_SEMITONE, VOICED_SALIENCE, contour_at, follows
from diffband.engine.runs import true_runs
from diffband.engine.transpose import shift_cents, shift_octaves

if TYPE_CHECKING:
    from diffband.engine.model import DiffusionModel

#: A layer frame counts as playing near the asked pitch when a bin within ``SEARCH_BINS`` reaches this.
FOUND_SALIENCE = 0.15
#: How far from the asked pitch the layer's pitch is looked for: 7 bins, 2 1/3 semitones either way.
SEARCH_BINS = 7
#: Running median of the layer's offset (86 frames/s: 81 ms), so vibrato and single frames do not steer it.
SMOOTH_FRAMES = 7
#: An offset holds over this many frames (140 ms) without a reading, inside a voiced passage of the input.
GAP_FRAMES = 12
#: Strays below this (1.2 bins, 40 cents) stay: within the 50 cents a note is heard as in tune.
MIN_STRAY_BINS = 1.2
#: Crossfade between a shifted passage and its neighbours.
FADE_SECONDS = 0.02
CENTS_PER_BIN = 100.0 / BP_BINS_PER_SEMITONE
#: Audio either side of a shifted passage that goes through the shifter with it (one STFT frame, 2048
#: samples): the passage itself then shifts as the whole layer would.
SPAN_MARGIN = 2048


@dataclass(frozen=True)
class AskedPitch:
    """Per contour frame (``times``, s), the fractional contour bin a layer should play (NaN: not voiced)."""

    times: np.ndarray
    bins: np.ndarray

    @property
    def voiced(self) -> bool:
        return bool(np.isfinite(self.bins).any())


def tunes(follow: str, models: Sequence["DiffusionModel"], guidance: float) -> bool:
    """Whether layers of ``models`` are re-tuned: when they follow the notes (``engine.condition.follows``)
    at a ``guidance`` above 0 (0 ignores the notes), unless ``follow`` is ``loose`` (the condition alone:
    the model's own intonation)."""
    return follows(follow, models) and follow != "loose" and guidance > 0


def _refined(salience: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """``peaks`` (one bin per frame of ``salience``) moved to the vertex of a parabola through the
    peak and its neighbours."""
    rows = np.arange(peaks.size)
    inner = np.clip(peaks, 1, salience.shape[1] - 2)
    left, mid, right = salience[rows, inner - 1], salience[rows, inner], salience[rows, inner + 1]
    curve = left - 2.0 * mid + right
    with np.errstate(divide="ignore", invalid="ignore"):
        offset = np.where((curve < 0) & (inner == peaks), 0.5 * (left - right) / curve, 0.0)
    return peaks + np.clip(offset, -0.5, 0.5)


def asked_pitch(mono: np.ndarray, sample_rate: int, octaves: int = 0) -> AskedPitch:
    """The pitch line of the input ``mono`` (at ``sample_rate``) moved ``octaves`` octaves, where the
    layer sounds (read on the input as moved, as ``engine.transpose`` moves it for the condition);
    frames whose strongest contour bin reaches ``VOICED_SALIENCE`` are voiced."""
    times, salience = contour_at(shift_octaves(mono, sample_rate, octaves), sample_rate)
    peaks = salience.argmax(axis=1)
    voiced = salience.max(axis=1) >= VOICED_SALIENCE
    return AskedPitch(times, np.where(voiced, _refined(salience, peaks), np.nan))


def layer_offsets(asked: np.ndarray, salience: np.ndarray) -> np.ndarray:
    """Per frame, the layer's pitch (strongest bin of ``salience`` within ``SEARCH_BINS`` of the
    ``asked`` bin, refined) minus the asked bin; NaN where nothing there reaches ``FOUND_SALIENCE``."""
    frames = min(asked.size, salience.shape[0])
    asked, salience = asked[:frames], salience[:frames]
    out = np.full(frames, np.nan)
    rows = np.flatnonzero(np.isfinite(asked))
    if rows.size == 0:
        return out
    centre = np.rint(asked[rows]).astype(int)
    candidates = centre[:, None] + np.arange(-SEARCH_BINS, SEARCH_BINS + 1)
    inside = (candidates >= 0) & (candidates < BP_BINS)
    values = np.where(inside, salience[rows[:, None], np.clip(candidates, 0, BP_BINS - 1)], -np.inf)
    best = values.argmax(axis=1)
    found = values[np.arange(rows.size), best] >= FOUND_SALIENCE
    peaks = candidates[np.arange(rows.size), best]
    refined = _refined(salience[rows], peaks)
    out[rows[found]] = refined[found] - asked[rows[found]]
    return out


def _running_median(values: np.ndarray, width: int) -> np.ndarray:
    half = width // 2
    padded = np.pad(values, half, constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, width)
    out = np.full(values.size, np.nan)
    known = np.isfinite(windows).any(axis=1)
    out[known] = np.nanmedian(windows[known], axis=1)
    return out


def correction_bins(asked: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Per frame, the whole contour bins to shift the layer by (0: leave it), from the ``asked``
    line and the layer's ``offsets`` (:func:`layer_offsets`)."""
    frames = offsets.size
    voiced = np.isfinite(asked[:frames])
    held = np.full(frames, np.nan)
    for start, stop in true_runs(voiced):  # each voiced passage of the input on its own
        smooth = _running_median(offsets[start:stop], SMOOTH_FRAMES)
        known = np.flatnonzero(np.isfinite(smooth))
        if known.size == 0:
            continue
        gaps = np.flatnonzero(~np.isfinite(smooth))
        if gaps.size:  # the nearest frame with a reading: the known one just after each gap, or just before
            after = np.clip(np.searchsorted(known, gaps), 0, known.size - 1)
            before = np.clip(after - 1, 0, known.size - 1)
            nearest = np.where(np.abs(known[before] - gaps) <= np.abs(known[after] - gaps), known[before], known[after])
            near = np.abs(nearest - gaps) <= GAP_FRAMES
            smooth[gaps[near]] = smooth[nearest[near]]
        held[start:stop] = smooth
    stray = np.isfinite(held) & (np.abs(held) >= MIN_STRAY_BINS)
    return np.where(stray, -np.rint(np.where(stray, held, 0.0)), 0.0)


def tune_layer(layer: np.ndarray, sample_rate: int, asked: AskedPitch) -> np.ndarray:
    """Mono ``layer`` (at ``sample_rate``) with its passages that stray from ``asked`` (the pitch line
    of the input, moved to where the layer sounds) shifted back; same length; the layer itself
    when nothing strays."""
    if not asked.voiced:
        return layer
    _, salience = contour_at(layer, sample_rate)
    shifts = correction_bins(asked.bins, layer_offsets(asked.bins, salience))
    if not shifts.any():
        return layer
    times = asked.times[: shifts.size]
    sample_times = np.arange(layer.size) / sample_rate
    fade = max(1, int(FADE_SECONDS * sample_rate))
    out = layer.astype(np.float64)
    for bins in np.unique(shifts[shifts != 0]):
        frames = (shifts == bins).astype(np.float64)
        # the contour's frames stop short of the end (86 a second): its last frame's decision holds to the end
        where = uniform_filter1d(np.interp(sample_times, times, frames), fade, mode="nearest")
        for start, stop in _spans(where > 0, SPAN_MARGIN):  # only where it applies, with room for the shifter
            low, high = max(0, start - SPAN_MARGIN), min(layer.size, stop + SPAN_MARGIN)
            moved = shift_cents(layer[low:high], sample_rate, float(bins) * CENTS_PER_BIN)[start - low : stop - low]
            out[start:stop] += where[start:stop] * (moved - layer[start:stop])
    return out.astype(np.float32)


def _spans(active: np.ndarray, join: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of the runs of ``active``, runs less than ``2 * join`` apart merged."""
    spans: list[tuple[int, int]] = []
    for start, stop in true_runs(active).tolist():
        if spans and start - spans[-1][1] < 2 * join:
            spans[-1] = (spans[-1][0], stop)
        else:
            spans.append((start, stop))
    return spans
