"""Octave transposition of the input before layers are grown from it (the ``octave`` option).

The instrument models follow notes inside the range they were trained on: a violin model
asked to follow a guitar line (E2-E4, below the violin's lowest G3) keeps 0.64 of the
source's voiced frames, and 0.90 (in any octave) when the line is first moved up an octave
(`docs/decisions.md`).  So a layer can be grown an octave or two above or below the input,
as a player doubling a part in their own register would.

The shift is a phase-vocoder time stretch by ``2 ** octaves`` on the engine's STFT
(librosa's ``phase_vocoder`` algorithm; the runtime does not load librosa, see
``engine.stft``) followed by soxr resampling back to the input's duration, as
``librosa.effects.pitch_shift`` does.
"""

from __future__ import annotations

import numpy as np
import soxr

from diffband.engine.options import MAX_OCTAVES
from diffband.engine.stft import istft, stft

N_FFT = 2048
HOP = N_FFT // 4


def phase_vocoder(spectrum: np.ndarray, rate: float, hop_length: int) -> np.ndarray:
    """Time-stretch an STFT ``(bins, frames)`` by ``rate`` (> 1 faster, < 1 slower), keeping each
    bin's phase advance (librosa.phase_vocoder's algorithm)."""
    bins, frames = spectrum.shape
    steps = np.arange(0, frames, rate, dtype=np.float64)
    padded = np.pad(spectrum, ((0, 0), (0, 2)))
    expected = np.linspace(0, np.pi * hop_length, bins)  # phase advance of each bin per hop
    phase = np.angle(spectrum[:, 0])
    out = np.empty((bins, steps.size), dtype=np.complex64)
    for t, step in enumerate(steps):
        left, right = padded[:, int(step)], padded[:, int(step) + 1]
        alpha = step - int(step)
        out[:, t] = ((1.0 - alpha) * np.abs(left) + alpha * np.abs(right)) * np.exp(1j * phase)
        delta = np.angle(right) - np.angle(left) - expected
        phase = phase + expected + delta - 2.0 * np.pi * np.round(delta / (2.0 * np.pi))
    return out


def _shift_mono(audio: np.ndarray, sample_rate: int, octaves: float) -> np.ndarray:
    factor = 2.0 ** octaves  # frequency ratio
    stretched_length = int(round(audio.size * factor))
    spectrum = stft(audio, N_FFT, HOP)
    stretched = istft(phase_vocoder(spectrum, 1.0 / factor, HOP), N_FFT, HOP, stretched_length)
    out = soxr.resample(stretched.astype(np.float32), sample_rate * factor, sample_rate)
    return np.pad(out[: audio.size], (0, max(0, audio.size - out.size))).astype(np.float32)


def shift_octaves(audio: np.ndarray, sample_rate: int, octaves: int) -> np.ndarray:
    """``audio`` (samples,) or (samples, channels) moved ``octaves`` up (positive) or down, same
    length and rate; 0 returns it unchanged."""
    if int(octaves) != octaves or abs(octaves) > MAX_OCTAVES:
        raise ValueError(f"octave must be a whole number between {-MAX_OCTAVES} and {MAX_OCTAVES}, got {octaves}")
    if octaves == 0:
        return audio
    audio = np.asarray(audio, dtype=np.float32)  # PCM integers: scale them first (engine.windowing.as_float32)
    if audio.ndim == 1:
        return _shift_mono(audio, sample_rate, int(octaves))
    return np.stack([_shift_mono(audio[:, c], sample_rate, int(octaves)) for c in range(audio.shape[1])], axis=1)


def shift_cents(audio: np.ndarray, sample_rate: int, cents: float) -> np.ndarray:
    """Mono ``audio`` moved ``cents`` up (negative: down), same length and rate (the re-tuning of
    ``engine.tuning``); 0 returns it unchanged."""
    if cents == 0:
        return audio
    return _shift_mono(np.asarray(audio, dtype=np.float32), sample_rate, cents / 1200.0)
