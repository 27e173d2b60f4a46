"""Mel codec: audio <-> normalised log-mel image (the vocoder, image -> audio, is ``engine.vocoders``).

The image is a float array of shape ``(n_mels, frames)`` in ``[-1, 1]``; row 0 is
the lowest mel band.  No 8-bit quantisation happens anywhere.

Absolute level is recoverable because the dB scale has a *fixed* reference
(``reference="fixed"``): the STFT magnitude is divided by half the window sum, so
a full-scale sine reads about 0 dB in its band (``db_max`` leaves 10 dB of
headroom for energy that several FFT bins add to one band), and an
image value maps to the same dB value in every clip.  ``decode(encode(x))``
(through the vocoder) therefore returns audio at the level of ``x`` (within Griffin-Lim's error), unlike
audio-diffusion, whose ``ref=np.max`` rescales every slice to its own peak.

``reference="peak"`` reproduces that audio-diffusion convention for imported
checkpoints; decoding such an image cannot know the original level, so callers
restore it from the source audio.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np
import scipy.sparse

from diffband.engine.stft import mel_filters, stft, window_sum

Reference = Literal["fixed", "peak"]

#: Floor added before the log so silence maps to ``db_min`` rather than -inf.
_AMIN = 1e-10
#: Vocoder settings that format-1 bundles kept in the codec's JSON.
LEGACY_VOCODER_FIELDS = ("griffin_lim_iters", "nnls_iters")


@dataclass(frozen=True)
class MelCodec:
    """Parameters of the mel representation; shared by training and runtime.

    power=2 (default, as audio-diffusion) is a power mel: its NNLS inverse keeps
    energy, so decoded audio keeps its level; power=1 is a magnitude mel.
    ``db_min``/``db_max`` map linearly to image values -1/+1 (clipped).
    """

    sample_rate: int = 22050
    n_fft: int = 2048
    hop_length: int = 1024
    n_mels: int = 64
    frames: int = 96
    fmin: float = 0.0
    fmax: float | None = None
    power: float = 2.0
    mel_norm: str | None = None
    db_min: float = -80.0
    db_max: float = 10.0
    reference: Reference = "fixed"

    def __post_init__(self) -> None:
        if self.reference not in ("fixed", "peak"):
            raise ValueError(f"reference must be 'fixed' or 'peak', got {self.reference!r}")
        if self.db_max <= self.db_min:
            raise ValueError("db_max must be greater than db_min")
        if self.hop_length <= 0 or self.n_fft <= 0 or self.n_mels <= 0 or self.frames <= 0:
            raise ValueError("n_fft, hop_length, n_mels and frames must be positive")

    # ----------------------------------------------------------------- geometry
    @property
    def window_samples(self) -> int:
        """Samples covered by one image (frames * hop_length)."""
        return self.frames * self.hop_length

    @property
    def window_seconds(self) -> float:
        return self.window_samples / self.sample_rate

    @property
    def image_shape(self) -> tuple[int, int]:
        return (self.n_mels, self.frames)

    @cached_property
    def mel_basis(self) -> np.ndarray:
        return mel_filters(self.sample_rate, self.n_fft, self.n_mels, self.fmin, self.fmax, self.mel_norm)

    @cached_property
    def magnitude_scale(self) -> float:
        """STFT magnitude of a full-scale sine with a Hann window (fixed reference)."""
        if self.reference == "peak":
            return 1.0
        return window_sum(self.n_fft) / 2.0

    # ------------------------------------------------------------- serialise
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "MelCodec":
        """A codec from its fields; the vocoder settings older bundles stored here are skipped
        (``engine.bundle`` reads them into the bundle's ``VocoderSpec``)."""
        names = {f.name for f in dataclasses.fields(cls)}
        data = {k: v for k, v in data.items() if k not in LEGACY_VOCODER_FIELDS}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown mel codec fields: {sorted(unknown)}")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> "MelCodec":
        return cls.from_dict(json.loads(text))

    def audio_parameters(self) -> dict[str, Any]:
        """The fields two models must share to be combined on the same audio (all of them)."""
        return self.to_dict()

    # ------------------------------------------------------------ analysis
    def mel_magnitude(self, audio: np.ndarray) -> np.ndarray:
        """Mel spectrogram (``power`` applied, fixed reference) of mono audio."""
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim != 1:
            raise ValueError(f"mel codec takes mono audio (1-D), got shape {audio.shape}")
        magnitude = (np.abs(stft(audio, self.n_fft, self.hop_length)) / self.magnitude_scale).astype(np.float32)
        return self.mel_basis @ (magnitude**self.power)

    def encode(self, audio: np.ndarray) -> np.ndarray:
        """Mono audio of exactly ``window_samples`` samples -> image ``(n_mels, frames)``.

        Longer or shorter audio is accepted; the result then has
        ``1 + len(audio) // hop_length`` frames, and callers slice it.
        """
        mel = self.mel_magnitude(audio)
        if len(audio) == self.window_samples:
            mel = mel[:, : self.frames]
        return self.mel_to_image(mel)

    def mel_to_image(self, mel: np.ndarray) -> np.ndarray:
        """Mel spectrogram (``power`` applied) -> image in [-1, 1]."""
        # 20/power * log10: 10*log10 of a power mel, 20*log10 of a magnitude mel.
        db = (20.0 / self.power) * np.log10(np.maximum(mel, _AMIN))
        if self.reference == "peak":
            db = db - db.max()
        image = (db - self.db_min) / (self.db_max - self.db_min) * 2.0 - 1.0
        return np.clip(image, -1.0, 1.0).astype(np.float32)

    def image_to_mel(self, image: np.ndarray) -> np.ndarray:
        """Image in [-1, 1] -> mel spectrogram (``power`` applied); values below -1 are silence."""
        image = np.clip(np.asarray(image, dtype=np.float32), -1.0, 1.0)
        db = (image + 1.0) / 2.0 * (self.db_max - self.db_min) + self.db_min
        mel = 10.0 ** (db * self.power / 20.0)
        mel[image <= -1.0] = 0.0
        return mel


#: NNLS keeps every value >= -200 dB: out of denormals, which are ~100x slower.
NNLS_FLOOR = 1e-20
#: Smallest band energy the NNLS start divides by.
NNLS_SPREAD_FLOOR = 1e-12


def nonnegative_least_squares(basis: np.ndarray, target: np.ndarray, iters: int,
                              start: np.ndarray | None = None) -> np.ndarray:
    """``x >= 0`` minimising ``||basis @ x - target||`` by multiplicative updates (Lee & Seung).

    Bounded time for any input: librosa's L-BFGS-B ``nnls`` took minutes on noise-like
    images and stopped with a larger residual on music.  Starts from the energy of
    each band spread over its FFT bins by the filter weights, or from ``start`` (a guess of
    ``x``, e.g. a network's: the updates keep its shape within each band and its zeros).  The mel basis is 97 %
    zeros, so the products go through a sparse matrix (2.6x faster, same result to
    float32 rounding).
    """
    basis = np.asarray(basis, dtype=np.float32)
    forward = scipy.sparse.csr_matrix(basis)
    backward = scipy.sparse.csr_matrix(basis.T)
    target = np.maximum(target, 0.0).astype(np.float32)
    gram_target = backward @ target
    if start is None:
        spread = basis @ basis.T.sum(axis=1, keepdims=True)
        x = backward @ (target / np.maximum(spread, NNLS_SPREAD_FLOOR))
    else:
        x = np.array(start, dtype=np.float32)
    floor = np.float32(NNLS_FLOOR)
    x = np.maximum(x, floor)
    for _ in range(iters):
        x *= gram_target / np.maximum(backward @ (forward @ x), floor)
        np.maximum(x, floor, out=x)
    return x


#: Named geometries.  ``tiny`` trains on a 2-core CPU in about an hour;
#: ``base`` is the audio-diffusion 256x256 geometry (5.9 s at 22.05 kHz).
PRESETS: dict[str, MelCodec] = {
    "tiny": MelCodec(n_fft=2048, hop_length=1024, n_mels=64, frames=96),
    "small": MelCodec(n_fft=2048, hop_length=512, n_mels=128, frames=192),
    "base": MelCodec(n_fft=2048, hop_length=512, n_mels=256, frames=256),
}


def preset(name: str) -> MelCodec:
    """Look up a named codec geometry with a clear error."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown mel preset {name!r}; choose one of {sorted(PRESETS)}") from None
