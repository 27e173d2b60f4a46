"""``timbre-cnn``: a learned instrument embedding for FAD, run by ONNX Runtime.

The ``mfcc-stats`` embedding hears register and note density as well as timbre
(``docs/decisions.md``: a real violin playing a guitar line in the guitar's register scores
*nearer the guitar*).  This one is the penultimate layer of a small CNN trained
(:mod:`diffband.evaluation.timbre_train`) to tell instruments apart on renders that all
span the same wide pitch range (``data render --pitch-range 40:93``), through the training
soundfonts only, each also sent through a bundle's codec and vocoder (``--through-vocoder``), so
neither register nor the vocoder's artefacts tell the classes apart and the held-out
evaluation soundfont stays unheard.  Each ~1 s window's log-mel image is normalised to its own peak,
so level does not count either.

The features are computed here, once, for training and for evaluation alike.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import librosa
import numpy as np
import soxr

SAMPLE_RATE = 22050
N_FFT = 1024
HOP = 256
N_MELS = 64
FMIN = 30.0
WINDOW_FRAMES = 86  # ~1 s
FLOOR_DB = 80.0
#: Windows whose peak lies further than this below the clip's peak are silence: skipped.
SILENCE_DB = 50.0


def log_mel(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """``(N_MELS, frames)`` log-mel power of one mono clip at :data:`SAMPLE_RATE`, in dB below the
    clip's peak (so a clip's level does not move its floor)."""
    y = np.asarray(audio, np.float32)
    if sample_rate != SAMPLE_RATE:
        y = soxr.resample(y, sample_rate, SAMPLE_RATE)
    if y.size < N_FFT:
        y = np.pad(y, (0, N_FFT - y.size))
    power = librosa.feature.melspectrogram(y=y, sr=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS, fmin=FMIN)
    return librosa.power_to_db(power / max(float(power.max()), 1e-20), ref=1.0, amin=1e-10, top_db=None)


def windows(audio: np.ndarray, sample_rate: int, step_frames: int = 22) -> np.ndarray:
    """``(n, 1, N_MELS, WINDOW_FRAMES)`` float32 network inputs: ~1 s windows every ``step_frames``
    (0.25 s by default), each scaled to [0, 1] from :data:`FLOOR_DB` below its own peak; silent
    windows are left out (the loudest one is kept when all are)."""
    mel = log_mel(audio, sample_rate)
    if mel.shape[1] < WINDOW_FRAMES:
        mel = np.pad(mel, ((0, 0), (0, WINDOW_FRAMES - mel.shape[1])), constant_values=mel.min())
    starts = range(0, mel.shape[1] - WINDOW_FRAMES + 1, step_frames)
    cut = np.stack([mel[:, s : s + WINDOW_FRAMES] for s in starts])
    peaks = cut.max(axis=(1, 2))
    keep = peaks >= peaks.max() - SILENCE_DB
    cut = cut[keep]
    scaled = np.clip((cut - cut.max(axis=(1, 2), keepdims=True) + FLOOR_DB) / FLOOR_DB, 0.0, 1.0)
    return scaled[:, None].astype(np.float32)


@dataclass
class TimbreCnn:
    """The embedding of an exported timbre CNN (``.onnx`` with its classes in the metadata)."""

    path: Path
    classes: list[str]
    summary: dict = field(default_factory=dict)  # how it was trained (``diffband.timbre`` metadata)
    name: str = "timbre-cnn"

    def __post_init__(self) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = 1
        self._session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])

    @classmethod
    def from_file(cls, path: Path | str) -> "TimbreCnn":
        import onnx

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no timbre model at {path} (train one with `diffband eval train-timbre`)")
        meta = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
        if "diffband.timbre" not in meta:
            raise ValueError(f"{path} is not a diffband timbre model (no diffband.timbre metadata)")
        summary = json.loads(meta["diffband.timbre"])
        return cls(path, summary["classes"], summary)

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(embeddings, class logits) of network inputs ``(n, 1, N_MELS, WINDOW_FRAMES)``."""
        out: list[tuple[np.ndarray, np.ndarray]] = []
        for i in range(0, len(batch), 256):
            emb, logits = self._session.run(["embedding", "logits"], {"mel": batch[i : i + 256]})
            out.append((emb, logits))
        return np.concatenate([e for e, _ in out]), np.concatenate([l for _, l in out])

    def __call__(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """``(windows, dims)`` embeddings of one mono clip (for FAD)."""
        return self.run(windows(audio, sample_rate))[0].astype(np.float64)

    def classify(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Mean class probabilities over the clip's windows, in :attr:`classes` order."""
        logits = self.run(windows(audio, sample_rate))[1]
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        return (p / p.sum(axis=1, keepdims=True)).mean(axis=0)
