"""Rests in the input: filled before a model hears them, silent in the layers.

A model grows a window that holds a long stretch of silence into a noisy layer over the whole
window, the notes included: on held-out pieces, a 1.5 s rest inside a window made the layers
2.4-4.3x flatter over the notes and a 1.5 s silent lead-in 3.6-6.1x (voice->violin pitch within
50 cents 0.73 -> 0.39; ``docs/decisions.md``).  A player doubling a part rests where it rests.
So before windowing, each rest of at least ``MIN_REST_SECONDS`` (frames quieter than ``TOP_DB``
below the input's loudest, as ``librosa.effects.split`` measures them, and than ``SILENT_DBFS``;
written here in numpy, as the engine runs without librosa) is filled with the sound before it (after it, for
a rest at the start), looped, its joints faded over ``JOIN_SECONDS``; once grown, the layers are
silenced there: the note sounding into a rest dies away over ``RELEASE_SECONDS``, and the layer
comes back over the last ``JOIN_SECONDS`` before the input does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffband.engine.windowing import edge_fade, raised_cosine_ramp

#: Shortest silence treated as a rest (shorter gaps, a staccato's, the models learned).
MIN_REST_SECONDS = 0.25
#: A frame is silent when its RMS level is this far below the input's loudest frame's ...
TOP_DB = 40.0
#: ... and below this level (dBFS), so quiet singing after one loud hit is not a rest (live's gate is the same).
SILENT_DBFS = -50.0
#: Fade at each joint between the input and the sound a rest is filled with, and before the input resumes.
JOIN_SECONDS = 0.01
#: How long a layer's note takes to die away into a rest.
RELEASE_SECONDS = 0.05
#: Frames (centred, as librosa's) the level is measured over.
FRAME, HOP = 2048, 512


@dataclass(frozen=True)
class Rests:
    """The rests ``(start, stop)`` (samples) of an input of ``length`` samples at ``sample_rate``."""

    spans: tuple[tuple[int, int], ...]
    length: int
    sample_rate: int

    def gate(self) -> np.ndarray:
        """Per sample, 1 where the input sounds, 0 in its rests, with the release and the re-entry fade."""
        gate = np.ones(self.length, dtype=np.float32)
        release = int(RELEASE_SECONDS * self.sample_rate)
        join = int(JOIN_SECONDS * self.sample_rate)
        for start, stop in self.spans:
            gate[start:stop] = 0.0
            if start > 0 and release:  # the note sounding into the rest dies away
                n = min(release, stop - start)
                gate[start : start + n] = raised_cosine_ramp(release)[::-1][:n]
            if stop < self.length and join:  # back in just before the input is
                n = min(join, stop - start)
                gate[stop - n : stop] = raised_cosine_ramp(n)
        return gate

    def silence(self, layer: np.ndarray) -> np.ndarray:
        """``layer`` (mono, the input's length at its rate) silent in the rests."""
        if not self.spans:
            return layer
        return (layer * self.gate()[: layer.shape[0]]).astype(np.float32)


def sounding_samples(mono: np.ndarray) -> np.ndarray:
    """Per sample of ``mono``, whether the frame centred nearest it sounds: within ``TOP_DB`` of the
    loudest frame or above ``SILENT_DBFS`` (frame RMS over ``FRAME`` samples every ``HOP``, the signal
    zero-padded by half a frame)."""
    padded = np.pad(np.asarray(mono, dtype=np.float64), FRAME // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, FRAME)[::HOP]
    rms = np.sqrt(np.mean(frames**2, axis=1))
    loud = (rms > rms.max() * 10 ** (-TOP_DB / 20)) | (rms > 10 ** (SILENT_DBFS / 20))
    nearest = np.minimum((np.arange(mono.size) + HOP // 2) // HOP, loud.size - 1)
    return loud[nearest]


def find_rests(mono: np.ndarray, sample_rate: int) -> Rests:
    """The rests of ``mono``: stretches of at least ``MIN_REST_SECONDS`` more than ``TOP_DB`` below its
    loudest frame, lead-in and tail included; none in an input with no sound at all."""
    mono = np.asarray(mono, dtype=np.float32)
    if mono.size == 0 or not np.any(mono):
        return Rests((), mono.size, sample_rate)
    quiet = ~sounding_samples(mono)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], quiet.astype(np.int8), [0]])))
    shortest = int(MIN_REST_SECONDS * sample_rate)
    spans = tuple((int(a), int(b)) for a, b in zip(edges[::2], edges[1::2]) if b - a >= shortest)
    return Rests(spans, mono.size, sample_rate)


def fill_rests(mono: np.ndarray, rests: Rests) -> np.ndarray:
    """``mono`` with each rest filled by the sounding stretch before it (after it, for a rest at the
    start), looped to the rest's length, its ends faded over ``JOIN_SECONDS``."""
    mono = np.asarray(mono, dtype=np.float32)
    if not rests.spans:
        return mono
    out = mono.copy()
    bounds = [(0, 0), *rests.spans, (mono.size, mono.size)]
    for k in range(1, len(bounds) - 1):
        start, stop = bounds[k]
        before = mono[bounds[k - 1][1] : start]
        source = before if before.size else mono[stop : bounds[k + 1][0]]
        if source.size == 0:
            continue
        out[start:stop] = edge_fade(np.resize(source, stop - start), rests.sample_rate, JOIN_SECONDS)
    return out
