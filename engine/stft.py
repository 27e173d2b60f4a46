"""STFT, inverse STFT, Griffin-Lim and mel filters for the runtime, without librosa.

Importing librosa's spectral code pulls numba in (~200 MB of resident memory in an
engine process, measured 2026-11-24), so the runtime frames and overlap-adds with numpy
around ``scipy.fft`` in float32 (the same transform as ``librosa.stft(center=True)``;
scipy's ``ShortTimeFFT`` works in float64 and made the vocoder 25 % slower), and
implements to librosa's definitions the pieces scipy lacks: Slaney mel filters
(``librosa.filters.mel``) and fast Griffin-Lim with momentum (Perraudin et al., as
``librosa.griffinlim``).  Tests compare all of them with librosa.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft
from scipy.signal import get_window


@lru_cache(maxsize=8)
def hann_window(n_fft: int) -> np.ndarray:
    """Periodic Hann window, as librosa (cached and shared: read only)."""
    return get_window("hann", n_fft).astype(np.float32)


@lru_cache(maxsize=32)
def overlap_norm(n_fft: int, hop_length: int, frames: int) -> np.ndarray:
    """Sum of squared windows at each output sample (the ISTFT's normaliser), floored."""
    total = np.zeros(n_fft + hop_length * (frames - 1), dtype=np.float32)
    square = hann_window(n_fft) ** 2
    for k in range(frames):
        total[k * hop_length : k * hop_length + n_fft] += square
    return np.maximum(total, np.finfo(np.float32).tiny)


def window_sum(n_fft: int) -> float:
    return float(np.sum(hann_window(n_fft)))


def stft(audio: np.ndarray, n_fft: int, hop_length: int, frames: int | None = None) -> np.ndarray:
    """Complex ``(1 + n_fft // 2, frames)`` STFT, frame k centred on sample k * hop (zero padding),
    the same transform as ``librosa.stft(center=True)``."""
    audio = np.asarray(audio, dtype=np.float32)
    frames = 1 + len(audio) // hop_length if frames is None else frames
    half = n_fft // 2
    padded = np.zeros(n_fft + hop_length * (frames - 1), dtype=np.float32)
    usable = audio[: max(0, padded.size - half)]
    padded[half : half + usable.size] = usable
    framed = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop_length][:frames]
    return scipy.fft.rfft(framed * hann_window(n_fft), axis=-1).T


def istft(spectrum: np.ndarray, n_fft: int, hop_length: int, length: int) -> np.ndarray:
    """Inverse of ``stft`` (windowed overlap-add, normalised by the summed squared windows)."""
    frames = spectrum.shape[1]
    pieces = scipy.fft.irfft(spectrum.T, n=n_fft, axis=-1).astype(np.float32) * hann_window(n_fft)
    out = np.zeros(n_fft + hop_length * (frames - 1), dtype=np.float32)
    for k in range(frames):
        out[k * hop_length : k * hop_length + n_fft] += pieces[k]
    out /= overlap_norm(n_fft, hop_length, frames)
    half = n_fft // 2
    result = out[half : half + length]
    return np.pad(result, (0, length - result.size)) if result.size < length else result


#: Fast Griffin-Lim's momentum (librosa's default) and the guard of its phase normalisation.
GRIFFIN_LIM_MOMENTUM = 0.99
PHASE_EPSILON = 1e-16


def griffin_lim(
    magnitude: np.ndarray, n_fft: int, hop_length: int, n_iter: int, length: int,
    rng: np.random.Generator, momentum: float = GRIFFIN_LIM_MOMENTUM,
) -> np.ndarray:
    """Audio whose STFT magnitude approaches ``magnitude`` (fast Griffin-Lim, random phase start)."""
    frames = magnitude.shape[1]
    angles = np.exp(2j * np.pi * rng.random(magnitude.shape))
    rebuilt = np.zeros_like(angles)
    for _ in range(n_iter):
        previous = rebuilt
        rebuilt = stft(istft(magnitude * angles, n_fft, hop_length, length), n_fft, hop_length, frames)
        angles = rebuilt - (momentum / (1.0 + momentum)) * previous
        angles /= np.abs(angles) + PHASE_EPSILON
    return istft(magnitude * angles, n_fft, hop_length, length)


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above (librosa's default)."""
    hz = np.asarray(hz, dtype=np.float64)
    mel = hz / (200.0 / 3)
    log_region = hz >= 1000.0
    mel[log_region] = 15.0 + np.log(hz[log_region] / 1000.0) / (np.log(6.4) / 27.0)
    return mel


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    hz = mel * (200.0 / 3)
    log_region = mel >= 15.0
    hz[log_region] = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel[log_region] - 15.0))
    return hz


def mel_edges(sample_rate: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """The ``n_mels + 2`` frequencies (Hz) the mel filters' corners sit on, equally spaced in mel; band
    ``m`` peaks at entry ``m + 1`` (``librosa.mel_frequencies(n_mels + 2)``)."""
    fmax = sample_rate / 2.0 if fmax is None else fmax
    return _mel_to_hz(np.linspace(_hz_to_mel(np.array([fmin]))[0], _hz_to_mel(np.array([fmax]))[0], n_mels + 2))


def mel_filters(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None,
                norm: str | None = None) -> np.ndarray:
    """``(n_mels, 1 + n_fft // 2)`` triangular filters, as ``librosa.filters.mel(htk=False)``."""
    if norm not in (None, "slaney"):
        raise ValueError(f"mel norm must be None or 'slaney', got {norm!r}")
    fft_hz = np.linspace(0.0, sample_rate / 2.0, 1 + n_fft // 2)
    mel_hz = mel_edges(sample_rate, n_mels, fmin, fmax)
    spacing = np.diff(mel_hz)
    ramps = mel_hz[:, None] - fft_hz[None, :]
    rising = -ramps[:-2] / spacing[:-1, None]
    falling = ramps[2:] / spacing[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    if norm == "slaney":
        weights *= (2.0 / (mel_hz[2:] - mel_hz[:-2]))[:, None]
    return weights.astype(np.float32)
