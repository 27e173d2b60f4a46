"""Melody preservation between a source clip and its cross-diffused output.

Chroma cosine similarity (as audiocraft's chroma metric): 12-bin CQT chroma of both
clips at the same rate, cosine similarity per frame, averaged over the frames where
the source has energy.  1.0 for identical pitch content; unrelated melodies score low.
"""

from __future__ import annotations

import librosa
import numpy as np
import soxr

RATE = 22050
HOP = 512


def chroma(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """``(12, frames)`` CQT chroma and each frame's RMS at a common rate."""
    y = np.asarray(audio, dtype=np.float32)
    if sample_rate != RATE:
        y = soxr.resample(y, sample_rate, RATE)
    c = librosa.feature.chroma_cqt(y=y, sr=RATE, hop_length=HOP, tuning=0.0)  # A440: no per-clip tuning guess
    rms = librosa.feature.rms(y=y, frame_length=2048, hop_length=HOP)[0]
    n = min(c.shape[1], rms.size)
    return c[:, :n], rms[:n]


def chroma_similarity(source: np.ndarray, output: np.ndarray, sample_rate: int, gate_db: float = -50.0) -> float:
    """Mean frame-wise cosine similarity of the two chromagrams over the source's audible frames."""
    a, rms = chroma(source, sample_rate)
    b, _ = chroma(output, sample_rate)
    n = min(a.shape[1], b.shape[1])
    a, b, rms = a[:, :n], b[:, :n], rms[:n]
    audible = 20 * np.log10(rms + 1e-12) > gate_db
    if not audible.any():
        raise ValueError("the source is silent: nothing to compare")
    a, b = a[:, audible], b[:, audible]
    cos = (a * b).sum(axis=0) / (np.linalg.norm(a, axis=0) * np.linalg.norm(b, axis=0) + 1e-12)
    return float(cos.mean())
