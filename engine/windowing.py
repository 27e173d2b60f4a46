"""Audio of any length, rate and channel count <-> model-rate mono windows.

Input is resampled to the model rate (soxr) and mixed to mono, cut into windows
that overlap by ``overlap`` of a window, the last one placed flush with the input's
end, processed, then overlap-added back with raised-cosine crossfades, resampled to
the caller's rate, trimmed to the caller's length and copied to its channels.

No window is padded with silence: a model grows a window whose last seconds are digital
silence into a noisy layer over the whole window (on the example vocal's last 2.7 s, a
violin layer 12x flatter, a guitar layer 7x, than from the same audio in a full window;
``docs/decisions.md``).  So the last window ends where the input ends (it overlaps its
neighbour by more than ``overlap``; only its part after the neighbour is heard), and an input
shorter than a window is looped to fill one (:func:`filled`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import soxr

from diffband.engine.transpose import shift_octaves

if TYPE_CHECKING:
    from diffband.engine.model import DiffusionModel

#: Longest input accepted, in seconds, unless a caller sets another bound.
DEFAULT_MAX_SECONDS = 600.0
#: Highest sample peak the techniques hand back: -1 dBFS.
PEAK_CEILING = 10 ** (-1.0 / 20)
#: Fade at the end of an input shorter than a window, before it is looped to fill one (seconds).
SHORT_INPUT_FADE = 0.01


class ShortInputWarning(UserWarning):
    """The input is shorter than one model window."""


@dataclass(frozen=True)
class AudioLayout:
    """What the caller gave: rate, length in frames, channel count (0 = 1-D mono)."""

    sample_rate: int
    frames: int
    channels: int


def check_audio(audio: np.ndarray, sample_rate: int, max_seconds: float = DEFAULT_MAX_SECONDS) -> AudioLayout:
    """Validate caller audio (``(frames,)`` or ``(frames, channels)``); raise ``ValueError`` with the reason."""
    audio = np.asarray(audio)
    if not isinstance(sample_rate, (int, np.integer)) or not 1000 <= sample_rate <= 768_000:
        raise ValueError(f"sample rate must be an integer between 1000 and 768000 Hz, got {sample_rate!r}")
    if audio.ndim not in (1, 2):
        raise ValueError(f"audio must be (frames,) or (frames, channels), got shape {audio.shape}")
    if audio.ndim == 2 and not 1 <= audio.shape[1] <= 64:
        raise ValueError(f"audio has {audio.shape[1]} channels; expected (frames, channels) with 1-64 channels")
    if not np.issubdtype(audio.dtype, np.floating) and not np.issubdtype(audio.dtype, np.integer):
        raise ValueError(f"audio must be numeric, got dtype {audio.dtype}")
    if audio.shape[0] == 0:
        raise ValueError("audio is empty")
    seconds = audio.shape[0] / sample_rate
    if seconds > max_seconds:
        raise ValueError(f"audio is {seconds:.1f} s long; the limit is {max_seconds:.0f} s")
    if not np.all(np.isfinite(audio)):
        raise ValueError("audio contains NaN or Inf samples")
    return AudioLayout(int(sample_rate), audio.shape[0], 0 if audio.ndim == 1 else audio.shape[1])


def as_float32(audio: np.ndarray) -> np.ndarray:
    """Float32 samples; PCM integers are scaled to [-1, 1)."""
    audio = np.asarray(audio)
    if np.issubdtype(audio.dtype, np.integer):
        return audio.astype(np.float32) / -float(np.iinfo(audio.dtype).min)
    return audio.astype(np.float32, copy=False)


def to_model_mono(audio: np.ndarray, layout: AudioLayout, model_rate: int) -> np.ndarray:
    """Mix to mono and resample to ``model_rate``."""
    audio = as_float32(audio)
    mono = audio if audio.ndim == 1 else audio.mean(axis=1)
    if layout.sample_rate != model_rate:
        mono = soxr.resample(mono, layout.sample_rate, model_rate, quality="HQ")
    return np.ascontiguousarray(mono, dtype=np.float32)


def from_model_mono(mono: np.ndarray, layout: AudioLayout, model_rate: int) -> np.ndarray:
    """Back to the caller's rate, length and channel layout."""
    if layout.sample_rate != model_rate:
        mono = soxr.resample(mono, model_rate, layout.sample_rate, quality="HQ")
    out = np.zeros(layout.frames, dtype=np.float32)
    n = min(layout.frames, mono.size)
    out[:n] = mono[:n]
    if layout.channels:
        out = np.repeat(out[:, None], layout.channels, axis=1)
    return out


def window_starts(length: int, window: int, hop: int) -> list[int]:
    """Start of each window so that ``length`` samples are covered (at least one window): every
    ``hop``, the last one flush with the end (so no window reaches past the input)."""
    if length <= window:
        return [0]
    starts = list(range(0, length - window, hop))
    starts.append(length - window)
    return starts


def filled(mono: np.ndarray, length: int) -> np.ndarray:
    """``mono`` (float32) made ``length`` samples long: cut, or looped (repeated from its start) when
    shorter, never padded with silence (module docstring)."""
    mono = np.asarray(mono, dtype=np.float32)
    if mono.size == 0:
        return np.zeros(length, dtype=np.float32)
    return np.resize(mono, length).astype(np.float32, copy=False)


def windows_at(mono: np.ndarray, starts: list[int] | tuple[int, ...], window: int) -> np.ndarray:
    """The ``(k, window)`` windows of ``mono`` at ``starts`` (:func:`window_starts`), a short ``mono`` looped."""
    audio = filled(mono, max(mono.size, starts[-1] + window))
    return np.stack([audio[s : s + window] for s in starts])


def split(mono: np.ndarray, window: int, overlap: float) -> tuple[np.ndarray, list[int]]:
    """``(k, window)`` array of overlapping windows (the last flush with the end; a short ``mono``
    looped to one window) and their starts."""
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    hop = max(1, int(round(window * (1.0 - overlap))))
    starts = window_starts(mono.size, window, hop)
    return windows_at(mono, starts, window), starts


def overlap_add(windows: np.ndarray, starts: list[int], length: int, fade: int) -> np.ndarray:
    """Join processed windows with raised-cosine crossfades of ``fade`` samples; trim to ``length``.
    A window fades in over its predecessor's last ``fade`` samples and is silent before them, so a
    last window placed flush with the end is heard only after its neighbour (two renderings of the
    same notes are never averaged)."""
    window = windows.shape[-1]
    fade = int(min(fade, window // 2))
    ramp = raised_cosine_ramp(fade)
    total = np.zeros(starts[-1] + window, dtype=np.float64)
    norm = np.zeros_like(total)
    for i, (chunk, start) in enumerate(zip(windows, starts)):
        w = np.ones(window, dtype=np.float64)
        if i > 0:  # fade in where the previous window fades out
            lead = min(max(0, starts[i - 1] + window - fade - start), window - fade)
            w[:lead] = 0.0
            w[lead : lead + fade] = ramp
        if i < len(starts) - 1:
            w[window - fade :] = ramp[::-1]
        total[start : start + window] += w * chunk
        norm[start : start + window] += w
    return (total / np.maximum(norm, 1e-8))[:length].astype(np.float32)


def peak_gain(audio: np.ndarray, ceiling: float = PEAK_CEILING) -> float:
    """Gain (<= 1) that brings ``audio``'s sample peak down to ``ceiling``."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    return ceiling / peak if peak > ceiling else 1.0


def limit_peak(audio: np.ndarray, ceiling: float = PEAK_CEILING) -> np.ndarray:
    """``audio`` scaled down (as a whole: no clipping, no distortion) so its peak is at most
    ``ceiling`` (-1 dBFS); quieter audio is returned unchanged.  Every technique's layers pass here."""
    gain = peak_gain(audio, ceiling)
    return audio if gain == 1.0 else (audio * np.float32(gain)).astype(np.float32)


def raised_cosine_ramp(fade: int) -> np.ndarray:
    """A raised-cosine fade-in of ``fade`` samples, 0 -> 1 (reversed, the fade-out it adds up to 1 with)."""
    return 0.5 - 0.5 * np.cos(np.pi * (np.arange(fade) + 0.5) / fade)


def raised_cosine_edges(length: int, fade: int) -> np.ndarray:
    """Weights of ``length`` samples: 1, with raised-cosine ramps of ``fade`` samples at both
    ends (complementary ramps of neighbouring windows add up to 1)."""
    weight = np.ones(length, dtype=np.float64)
    if fade > 0:
        ramp = raised_cosine_ramp(fade)
        weight[:fade] = ramp
        weight[length - fade :] = ramp[::-1]
    return weight


def edge_fade(audio: np.ndarray, sample_rate: int, seconds: float = 0.01) -> np.ndarray:
    """Raised-cosine fade-in and fade-out of ``seconds`` at the ends: generated audio
    starts and stops mid-waveform, which clicks (and leaves filter edge transients)."""
    n = min(int(seconds * sample_rate), audio.shape[0] // 2)
    weight = raised_cosine_edges(audio.shape[0], n).astype(np.float32)
    return audio * weight.reshape((-1,) + (1,) * (audio.ndim - 1))


def encode_windows(model: "DiffusionModel", audio: np.ndarray, sample_rate: int, overlap: float, max_seconds: float,
                   octave: int = 0):
    """Caller audio -> (layout, mono at model rate, window images, window starts); with ``octave``, the
    mono is moved that many octaves first (``engine.transpose``: the layers grow from the moved input).

    Input shorter than one model window is faded at its edges and looped to fill a window
    (a warning says so, once); the caller still gets layers of the input's length."""
    layout, mono = checked_model_mono(model, audio, sample_rate, max_seconds, stacklevel=4)
    moved, images, starts = encode_mono(model, mono, overlap, octave)
    return layout, moved, images, starts


def checked_model_mono(model: "DiffusionModel", audio: np.ndarray, sample_rate: int, max_seconds: float,
                       stacklevel: int = 3):
    """Caller audio, checked -> (layout, mono at the model's rate); a short input is warned about
    (once; ``stacklevel`` points the warning at the technique's caller) and faded at its edges."""
    layout = check_audio(audio, sample_rate, max_seconds)
    codec = model.info.codec
    mono = to_model_mono(audio, layout, codec.sample_rate)
    if mono.size < codec.window_samples:
        warnings.warn(
            f"the input is {mono.size / codec.sample_rate:.2f} s, shorter than one model window "
            f"({codec.window_seconds:.2f} s): it is looped to fill one, and the layers keep its length",
            ShortInputWarning, stacklevel=stacklevel,
        )
        mono = edge_fade(mono, codec.sample_rate, SHORT_INPUT_FADE)
    return layout, mono


def encode_mono(model: "DiffusionModel", mono: np.ndarray, overlap: float, octave: int = 0):
    """Mono at the model's rate, moved ``octave`` octaves -> (moved mono, window images, window starts)."""
    codec = model.info.codec
    moved = shift_octaves(mono, codec.sample_rate, octave)
    windows, starts = split(moved, codec.window_samples, overlap)
    return moved, np.stack([codec.encode(w) for w in windows]), starts


def decode_windows(model: "DiffusionModel", images: np.ndarray, starts: list[int], length: int, overlap: float) -> np.ndarray:
    """Window images -> one mono signal of ``length`` samples at the model rate."""
    audio = model.decode(images)
    return overlap_add(audio, starts, length, int(overlap * model.info.codec.window_samples))
