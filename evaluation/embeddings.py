"""Audio embeddings for FAD, always reported by name.

``mfcc-stats``: needs no downloaded weights and is sensitive to timbre: frame-wise
MFCCs, their deltas and spectral shape, pooled (mean, std) over 1 s windows every
0.25 s.  ``vggish``: the report's embedding (``evaluation.vggish``), weights from a file
the user supplies.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import librosa
import numpy as np
import soundfile as sf
import soxr

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff")


class Embedding(Protocol):
    name: str

    def __call__(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """``(frames, dims)`` embeddings of one mono clip."""


class MfccStats:
    """Timbre statistics over ~1 s windows; no weights needed.

    Per window: the mean of MFCC 1-12 (c0, the loudness, left out), of the 7 spectral
    contrast bands and of log spectral flatness (20 dimensions).  Kept small on purpose:
    FAD fits a covariance, and a few hundred windows estimate 20 dimensions well where
    they would not 60 (measured: guitar-vs-guitar FAD grew 8x with 65 dimensions and
    drowned the guitar-vs-violin difference).
    """

    name = "mfcc-stats"
    sample_rate = 22050
    n_mfcc = 13
    hop = 256
    window_seconds = 1.0
    step_seconds = 0.25

    def __call__(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        y = np.asarray(audio, dtype=np.float32)
        if sample_rate != self.sample_rate:
            y = soxr.resample(y, sample_rate, self.sample_rate)
        minimum = int(self.window_seconds * self.sample_rate)
        if y.size < minimum:
            y = np.pad(y, (0, minimum - y.size))
        sr, hop = self.sample_rate, self.hop
        mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=self.n_mfcc, n_fft=1024, hop_length=hop)[1:]
        spectrum = np.abs(librosa.stft(y, n_fft=1024, hop_length=hop))
        contrast = librosa.feature.spectral_contrast(S=spectrum, sr=sr)
        flatness = np.log(librosa.feature.spectral_flatness(S=spectrum) + 1e-6)
        n = min(mfcc.shape[1], contrast.shape[1], flatness.shape[1])
        frames = np.concatenate([mfcc[:, :n], contrast[:, :n], flatness[:, :n]])  # (20, T)
        width = int(self.window_seconds * sr / hop)
        step = max(1, int(self.step_seconds * sr / hop))
        starts = range(0, max(1, frames.shape[1] - width + 1), step)
        return np.stack([frames[:, s : s + width].mean(axis=1) for s in starts]).astype(np.float64)


def load_embedding(name: str, vggish_weights: str | None = None, vggish_pca: str | None = None) -> Embedding:
    if name == "mfcc-stats":
        return MfccStats()
    if name == "vggish":
        from diffband.evaluation.vggish import VGGish

        if not vggish_weights:
            raise ValueError("the vggish embedding needs --vggish-weights PATH (standard VGGish weights as .npz)")
        return VGGish.from_file(vggish_weights, vggish_pca)
    raise ValueError(f"unknown embedding {name!r}; choose mfcc-stats or vggish")


def audio_files(folder: Path | str) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"not a folder: {folder}")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise ValueError(f"no audio files in {folder}")
    return files


def read_mono(path: Path) -> tuple[np.ndarray, int]:
    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return audio.mean(axis=1), rate


def embed_clips(embedding: Embedding, clips: list[tuple[np.ndarray, int]]) -> np.ndarray:
    """All frames of all clips stacked: ``(total frames, dims)``."""
    return np.concatenate([embedding(audio, rate) for audio, rate in clips])


def embed_folder(embedding: Embedding, folder: Path | str) -> tuple[np.ndarray, int]:
    """Embeddings of every audio file under ``folder`` and the number of files."""
    files = audio_files(folder)
    return embed_clips(embedding, [read_mono(p) for p in files]), len(files)
