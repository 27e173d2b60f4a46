"""Vocoders: window images -> audio.  One registry, so a neural vocoder is one new entry.

A bundle names the vocoder it expects (``diffband.vocoder`` metadata: a name and its
settings); the runtime picks that vocoder's implementation for the model's device.
Two vocoders: ``griffin-lim`` (NNLS through the mel basis, then fast Griffin-Lim), with
two implementations that agree to float32 rounding: numpy + scipy.fft (faster on a CPU)
and one ONNX graph (``engine.vocoder_graph``, for the on-device loop on a GPU); and
``magnitude-net`` (a trained network predicts the STFT magnitude from the image,
``engine.magnitude_net``, then the same Griffin-Lim), whose network is an ONNX file
beside the bundle, named and hashed in the bundle's metadata.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np

from diffband.engine.digest import file_sha256
from diffband.engine.mel import MelCodec, nonnegative_least_squares
from diffband.engine.settings import setting
from diffband.engine.stft import griffin_lim


class Vocoder(Protocol):
    """``audio = vocoder(images)``: ``(k, n_mels, frames)`` -> ``(k, frames * hop_length)``."""

    name: str

    def __call__(self, images: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class VocoderSpec:
    """What a bundle says about its vocoder: the name and the settings it was made with."""

    name: str = "griffin-lim"
    griffin_lim_iters: int = 32
    nnls_iters: int = 100
    #: ``magnitude-net``: the network's ONNX file (relative to the bundle's folder until
    #: :meth:`located`) and its SHA-256.
    network: str = ""
    network_sha256: str = ""

    def to_json(self) -> str:
        fields = {k: v for k, v in asdict(self).items() if v != ""}  # griffin-lim bundles read as before
        return json.dumps(fields, sort_keys=True)

    def located(self, bundle_folder: Path) -> "VocoderSpec":
        """The spec with ``network`` as a path: relative names resolve against the bundle's folder."""
        if not self.network or Path(self.network).is_absolute():
            return self
        return replace(self, network=str(Path(bundle_folder) / self.network))

    def named_from(self, bundle_folder: Path) -> "VocoderSpec":
        """The inverse of :meth:`located`: ``network`` (a path as this process sees it) named relative
        to ``bundle_folder``, where the bundle is written, so the bundle and its network move together."""
        if not self.network:
            return self
        return replace(self, network=os.path.relpath(Path(self.network).resolve(), Path(bundle_folder).resolve()))

    @classmethod
    def from_json(cls, text: str) -> "VocoderSpec":
        data = json.loads(text)
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown vocoder settings: {sorted(unknown)}")
        return cls(**data)

    def at_runtime(self) -> "VocoderSpec":
        """The settings the runtime uses: Griffin-Lim iterations from ``DIFFBAND_GL_ITERS`` (16)."""
        return replace(self, griffin_lim_iters=setting("DIFFBAND_GL_ITERS"))


def stft_magnitude(codec: MelCodec, image: np.ndarray, nnls_iters: int, start: np.ndarray | None = None) -> np.ndarray:
    """Image -> linear STFT magnitude (NNLS through the mel basis), at audio scale; ``start`` (a
    magnitude at audio scale) is where the NNLS updates begin, else each band spread over its bins."""
    start_power = None if start is None else np.power(start / codec.magnitude_scale, codec.power)
    linear_power = nonnegative_least_squares(codec.mel_basis, codec.image_to_mel(image), nnls_iters, start=start_power)
    magnitude = np.power(np.maximum(linear_power, 0.0), 1.0 / codec.power)
    return magnitude * codec.magnitude_scale


def stft_columns(codec: MelCodec, images: np.ndarray, ndim: int) -> np.ndarray:
    """Checked float32 images (``ndim`` 2: one ``(n_mels, frames)``; 3: ``(k, n_mels, frames)``)
    with the last column repeated: a centred STFT of ``frames * hop`` samples has ``frames + 1`` columns."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != ndim or images.shape[-2] != codec.n_mels:
        shape = f"({codec.n_mels}, frames)" if ndim == 2 else f"(k, {codec.n_mels}, frames)"
        raise ValueError(f"expected {'an image' if ndim == 2 else 'images'} of shape {shape}, got {images.shape}")
    if not np.all(np.isfinite(images)):
        raise ValueError("image contains NaN or Inf")
    return np.concatenate([images, images[..., -1:]], axis=-1)


def decode_image(codec: MelCodec, image: np.ndarray, spec: VocoderSpec = VocoderSpec(), seed: int = 0) -> np.ndarray:
    """One image ``(n_mels, frames)`` -> mono audio of ``frames * hop_length`` samples (numpy Griffin-Lim)."""
    image = stft_columns(codec, image, ndim=2)
    return audio_from_magnitude(codec, spec, stft_magnitude(codec, image, spec.nnls_iters), seed)


def audio_from_magnitude(codec: MelCodec, spec: VocoderSpec, magnitude: np.ndarray, seed: int = 0) -> np.ndarray:
    """STFT magnitude ``(bins, frames + 1)`` -> ``frames * hop_length`` samples: ``spec``'s Griffin-Lim
    from the random start phase of ``seed`` (both vocoders' last stage)."""
    length = (magnitude.shape[1] - 1) * codec.hop_length
    audio = griffin_lim(magnitude, codec.n_fft, codec.hop_length, spec.griffin_lim_iters, length, np.random.default_rng(seed))
    return audio.astype(np.float32)


class NumpyGriffinLim:
    """``griffin-lim`` in numpy + scipy.fft, one image at a time."""

    name = "griffin-lim"

    def __init__(self, codec: MelCodec, spec: VocoderSpec):
        self.codec, self.spec = codec, spec

    def __call__(self, images: np.ndarray) -> np.ndarray:
        if len(images) == 0:
            return np.zeros((0, self.codec.window_samples), dtype=np.float32)
        return np.stack([decode_image(self.codec, image, self.spec) for image in images])


class OnnxGriffinLim:
    """``griffin-lim`` as one ONNX graph on the model's device, all windows of a call at once."""

    name = "griffin-lim"

    def __init__(self, codec: MelCodec, spec: VocoderSpec, make_session: Callable[[bytes], Any], max_batch: int):
        from diffband.engine.vocoder_graph import GraphVocoder, vocoder_graph

        self.codec, self.spec, self.max_batch = codec, spec, max_batch
        self.graph = GraphVocoder(codec, make_session(vocoder_graph(codec, spec.griffin_lim_iters, spec.nnls_iters)))

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return in_batches(self.graph, images, self.max_batch, self.codec.window_samples)


def in_batches(decode: Callable[[np.ndarray], np.ndarray], images: np.ndarray, max_batch: int, samples: int) -> np.ndarray:
    """``decode`` (a device graph's call) over at most ``max_batch`` images at a time -> ``(k, samples)`` audio."""
    audio = np.empty((len(images), samples), dtype=np.float32)
    for start in range(0, len(images), max_batch):
        audio[start : start + max_batch] = decode(images[start : start + max_batch])
    return audio


def network_file(spec: VocoderSpec) -> Path:
    """The network file ``spec`` names (already located beside its bundle), checked: present and,
    when the bundle recorded one, of the same SHA-256.  Raises ``FileNotFoundError`` / ``ValueError``."""
    path = Path(spec.network)
    if not spec.network or not path.is_file():
        raise FileNotFoundError(
            f"the bundle's vocoder network {spec.network or '(none named)'} is missing: the bundle names it by a "
            "path relative to itself, so keep that vocoders/ folder beside it (the shipped bundles' is models/vocoders/)")
    if spec.network_sha256 and file_sha256(path) != spec.network_sha256:
        raise ValueError(f"vocoder network {path} is not the one the bundle was made with (SHA-256 differs)")
    return path


class MagnitudeNetGriffinLim:
    """``magnitude-net`` on the CPU: the network's STFT magnitude (ONNX Runtime), ``nnls_iters``
    NNLS updates from it toward the image's mel bands, then numpy Griffin-Lim from the same start
    phase as ``griffin-lim``."""

    name = "magnitude-net"

    def __init__(self, codec: MelCodec, spec: VocoderSpec):
        from diffband.engine.providers import create_session

        self.codec, self.spec = codec, spec
        self.session = create_session(network_file(spec), device="cpu")

    def magnitudes(self, images: np.ndarray) -> np.ndarray:
        """``(k, n_mels, frames)`` images -> ``(k, bins, frames + 1)`` STFT magnitudes at audio scale:
        the network's guess, then ``nnls_iters`` NNLS updates from it toward the image's mel bands
        (every band at the image's level, silence silent, the network's shape within it)."""
        from diffband.engine.magnitude_net import magnitude_from_log

        images, log_magnitudes = network_log_magnitude(self.session, self.codec, images)
        guesses = magnitude_from_log(self.codec, log_magnitudes)
        return np.stack([
            stft_magnitude(self.codec, image, self.spec.nnls_iters, start=guess).astype(np.float32)
            for guess, image in zip(guesses, images)])

    def __call__(self, images: np.ndarray) -> np.ndarray:
        if len(images) == 0:
            return np.zeros((0, self.codec.window_samples), dtype=np.float32)
        return np.stack([audio_from_magnitude(self.codec, self.spec, m) for m in self.magnitudes(images)])


def network_log_magnitude(session: Any, codec: MelCodec, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(k, n_mels, frames)`` window images as the magnitude-net network takes them (checked, the
    last column repeated, clipped to [-1, 1]) and its ``(k, bins, frames + 1)`` log-magnitude for them."""
    from diffband.engine.magnitude_net import INPUT_IMAGE

    columns = np.clip(stft_columns(codec, images, ndim=3), -1.0, 1.0)
    return columns, session.run(None, {INPUT_IMAGE: columns})[0]


class OnnxMagnitudeNet:
    """``magnitude-net`` on the model's device: the network, then NNLS from its guess and
    Griffin-Lim as one ONNX graph (:func:`engine.vocoder_graph.vocoder_graph` with
    ``network_start``), all windows of a call at once; the audio of :class:`MagnitudeNetGriffinLim`."""

    name = "magnitude-net"

    def __init__(self, codec: MelCodec, spec: VocoderSpec, make_session: Callable[[bytes], Any], max_batch: int):
        from diffband.engine.vocoder_graph import GraphVocoder, vocoder_graph

        self.codec, self.spec, self.max_batch = codec, spec, max_batch
        self.network = make_session(network_file(spec).read_bytes())
        self.graph = GraphVocoder(codec, make_session(vocoder_graph(
            codec, spec.griffin_lim_iters, spec.nnls_iters, network_start=True)))

    def _batch(self, images: np.ndarray) -> np.ndarray:
        return self.graph(images, network_log_magnitude(self.network, self.codec, images)[1])

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return in_batches(self._batch, images, self.max_batch, self.codec.window_samples)


#: Vocoder name -> implementations by where they run (``numpy`` on the CPU, ``onnx`` on the model's device).
VOCODERS: dict[str, dict[str, type]] = {
    "griffin-lim": {"numpy": NumpyGriffinLim, "onnx": OnnxGriffinLim},
    "magnitude-net": {"numpy": MagnitudeNetGriffinLim, "onnx": OnnxMagnitudeNet},
}


def check_vocoder(spec: VocoderSpec) -> None:
    if spec.name not in VOCODERS:
        raise ValueError(f"unknown vocoder {spec.name!r}; this diffband has {', '.join(VOCODERS)}")
    if spec.name == "magnitude-net" and not spec.network:
        raise ValueError("a magnitude-net vocoder needs its network file named (export --vocoder-network)")
