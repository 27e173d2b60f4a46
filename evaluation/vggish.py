"""VGGish (Hershey et al., 2017), the embedding the report's FAD used, in numpy.

Preprocessing follows the reference ``vggish_input``/``mel_features``: 16 kHz mono,
25 ms periodic-Hann frames every 10 ms, 512-point FFT magnitude, 64 HTK-mel bands
125-7500 Hz (triangles in mel space, DC bin zeroed), log(mel + 0.01), examples of
96 frames (0.96 s) every 96 frames.  The network is the VGG stack of the PyTorch port
(``torchvggish``): its state-dict names are the weight names here, so its standard
``vggish-10086976.pth``, converted to ``.npz`` by ``export.vggish_weights``, loads as is.  Weights
cannot be downloaded here: the user supplies the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

SAMPLE_RATE = 16000
WINDOW = 400  # 25 ms
HOP = 160  # 10 ms
FFT = 512
MEL_BANDS = 64
MEL_LOW, MEL_HIGH = 125.0, 7500.0
LOG_OFFSET = 0.01
EXAMPLE_FRAMES = 96  # 0.96 s
CONVS = [("features.0", 1, 64), ("features.3", 64, 128), ("features.6", 128, 256), ("features.8", 256, 256),
         ("features.11", 256, 512), ("features.13", 512, 512)]
POOL_AFTER = {"features.0", "features.3", "features.8", "features.13"}
DENSE = [("embeddings.0", 512 * 4 * 6, 4096), ("embeddings.2", 4096, 4096), ("embeddings.4", 4096, 128)]


def hertz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    return 1127.0 * np.log(1.0 + np.asarray(hz) / 700.0)


def mel_matrix(bins: int = FFT // 2 + 1, bands: int = MEL_BANDS, rate: int = SAMPLE_RATE,
               low: float = MEL_LOW, high: float = MEL_HIGH) -> np.ndarray:
    """``(bins, bands)`` weights as ``mel_features.spectrogram_to_mel_matrix``."""
    bin_mel = hertz_to_mel(np.linspace(0.0, rate / 2.0, bins))
    edges = np.linspace(hertz_to_mel(low), hertz_to_mel(high), bands + 2)
    weights = np.empty((bins, bands))
    for i in range(bands):
        lower, center, upper = edges[i : i + 3]
        rising = (bin_mel - lower) / (center - lower)
        falling = (upper - bin_mel) / (upper - center)
        weights[:, i] = np.maximum(0.0, np.minimum(rising, falling))
    weights[0, :] = 0.0
    return weights


def log_mel(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """``(frames, 64)`` log-mel of a mono clip, resampled to 16 kHz."""
    y = np.asarray(audio, dtype=np.float64)
    if sample_rate != SAMPLE_RATE:
        y = soxr.resample(y, sample_rate, SAMPLE_RATE)
    if y.size < WINDOW:
        y = np.pad(y, (0, WINDOW - y.size))
    frames = np.lib.stride_tricks.sliding_window_view(y, WINDOW)[::HOP]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WINDOW) / WINDOW)  # periodic Hann
    spectrum = np.abs(np.fft.rfft(frames * window, FFT))
    return np.log(spectrum @ mel_matrix() + LOG_OFFSET)


def examples(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """``(n, 96, 64)`` non-overlapping 0.96 s log-mel patches (at least one, zero-padded)."""
    mel = log_mel(audio, sample_rate)
    if mel.shape[0] < EXAMPLE_FRAMES:
        mel = np.pad(mel, ((0, EXAMPLE_FRAMES - mel.shape[0]), (0, 0)), constant_values=np.log(LOG_OFFSET))
    count = mel.shape[0] // EXAMPLE_FRAMES
    return mel[: count * EXAMPLE_FRAMES].reshape(count, EXAMPLE_FRAMES, MEL_BANDS)


def _conv3x3(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    patches = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(2, 3))  # (n, c, h, w, 3, 3)
    return np.einsum("nchwij,ocij->nohw", patches, weight, optimize=True) + bias[None, :, None, None]


def _pool2(x: np.ndarray) -> np.ndarray:
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


@dataclass
class VGGish:
    weights: dict[str, np.ndarray]
    pca_vectors: np.ndarray | None = None
    pca_means: np.ndarray | None = None
    name: str = "vggish"

    @classmethod
    def from_file(cls, path: str | Path, pca_path: str | Path | None = None) -> "VGGish":
        weights = _load_arrays(path)
        missing = [f"{p}.{k}" for p, _, _ in CONVS + DENSE for k in ("weight", "bias") if f"{p}.{k}" not in weights]
        if missing:
            raise ValueError(f"{path} is not a VGGish state dict: missing {', '.join(missing[:4])}")
        model = cls(weights)
        if pca_path:
            pca = _load_arrays(pca_path)
            model.pca_vectors, model.pca_means = pca["pca_eigen_vectors"], pca["pca_means"].reshape(-1)
            model.name = "vggish-pca"
        return model

    @classmethod
    def random(cls, seed: int = 0) -> "VGGish":
        """He-initialised weights: for tests of shapes and plumbing, not for measuring."""
        rng = np.random.default_rng(seed)
        weights = {}
        for prefix, cin, cout in CONVS:
            weights[f"{prefix}.weight"] = rng.normal(0, np.sqrt(2 / (9 * cin)), (cout, cin, 3, 3)).astype(np.float32)
            weights[f"{prefix}.bias"] = np.zeros(cout, np.float32)
        for prefix, fin, fout in DENSE:
            weights[f"{prefix}.weight"] = rng.normal(0, np.sqrt(2 / fin), (fout, fin)).astype(np.float32)
            weights[f"{prefix}.bias"] = np.zeros(fout, np.float32)
        return cls(weights, name="vggish-random")

    def forward(self, batch: np.ndarray) -> np.ndarray:
        """``(n, 96, 64)`` log-mel examples -> ``(n, 128)`` embeddings."""
        x = np.asarray(batch, dtype=np.float32)[:, None]
        for prefix, _, _ in CONVS:
            x = np.maximum(_conv3x3(x, self.weights[f"{prefix}.weight"], self.weights[f"{prefix}.bias"]), 0.0)
            if prefix in POOL_AFTER:
                x = _pool2(x)
        x = x.transpose(0, 2, 3, 1).reshape(x.shape[0], -1)  # TF's (h, w, c) flattening order, as torchvggish
        for prefix, _, _ in DENSE:
            x = np.maximum(x @ self.weights[f"{prefix}.weight"].T + self.weights[f"{prefix}.bias"], 0.0)
        if self.pca_vectors is not None:
            x = (x - self.pca_means) @ self.pca_vectors.T
        return x.astype(np.float64)

    def __call__(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        return self.forward(examples(audio, sample_rate))


def _load_arrays(path: str | Path) -> dict[str, np.ndarray]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    if path.suffix != ".npz":  # the engine never imports torch, which reading a .pth would need
        raise ValueError(f"{path}: VGGish weights must be .npz; convert a torchvggish .pth with "
                         "`python -m diffband.export.vggish_weights IN.pth OUT.npz`")
    with np.load(path) as data:
        return {k: np.asarray(data[k], dtype=np.float32) for k in data.files}
