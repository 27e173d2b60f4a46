"""The ``magnitude-net`` vocoder's network contract: window image -> linear STFT magnitude.

Griffin-Lim recovers phase well from a true STFT magnitude; what the ``griffin-lim``
vocoder loses is the magnitude, rebuilt from 64 mel bands by NNLS, which smears every
harmonic over its band (on held-out renders, note F1 of the round trip 0.54 with NNLS,
0.83 with the true magnitude, both with the same Griffin-Lim; docs/decisions.md).  A small
network trained on audio predicts the magnitude instead.  Its ONNX graph maps
``image (B, n_mels, frames)`` in [-1, 1] to ``log_magnitude (B, 1 + n_fft // 2, frames)``:
``log10`` of the STFT magnitude over the codec's ``magnitude_scale``, floored at
:data:`FLOOR_DB`.  Training (``export.vocoder_train``) and runtime share these definitions.
"""

from __future__ import annotations

import numpy as np

from diffband.engine.mel import MelCodec
from diffband.engine.stft import stft

INPUT_IMAGE = "image"
OUTPUT_LOG_MAGNITUDE = "log_magnitude"
#: Magnitudes below this (dB re the codec's full-scale sine) are silence to the network.
FLOOR_DB = -100.0
#: No bin is louder than this: the network extrapolates without bound on images unlike any audio
#: (log-magnitudes in the thousands on an all-white image), which would overflow.
CEILING_DB = 20.0


def log_magnitude(codec: MelCodec, audio: np.ndarray) -> np.ndarray:
    """The network's target for mono audio: ``(1 + n_fft // 2, 1 + len // hop)`` log10 magnitudes."""
    magnitude = np.abs(stft(audio, codec.n_fft, codec.hop_length)) / codec.magnitude_scale
    return np.log10(np.maximum(magnitude, 10.0 ** (FLOOR_DB / 20.0))).astype(np.float32)


def magnitude_from_log(codec: MelCodec, log_mag: np.ndarray) -> np.ndarray:
    """The network's output -> STFT magnitude at audio scale (what Griffin-Lim takes), between
    silence and :data:`CEILING_DB`; NaN is silence."""
    floor, ceiling = FLOOR_DB / 20.0, CEILING_DB / 20.0
    log_mag = np.nan_to_num(np.asarray(log_mag, dtype=np.float32), nan=floor, posinf=ceiling, neginf=floor)
    magnitude = np.power(10.0, np.clip(log_mag, floor, ceiling)) * codec.magnitude_scale
    magnitude[log_mag <= floor] = 0.0
    return magnitude.astype(np.float32)
