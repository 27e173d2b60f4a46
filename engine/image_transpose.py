"""Bring a layer grown octaves above its input back down to the input's pitch, on its mel image.

The ``fit`` register (``engine.register``) grows a layer whose input lies below the instrument's
range in that range, where the model learned the instrument, then moves it back down, as a
sampler plays a note below its lowest sample.  Moving the audio (a phase vocoder, as
``engine.transpose`` moves inputs) would also move the instrument's resonances: a violin two
octaves down came out nearer the guitar it was grown from than a violin on the learned timbre
embedding (``docs/decisions.md``, "fit register").  So the move happens on the mel image before
the vocoder: below ``KEEP_ABOVE_HZ`` each band reads the grown image ``octaves`` higher (the
notes move down; values interpolate linearly between the grown bands, in the image's dB: taking
the loudest grown band in each band's span instead made the low bands denser, and the guitar->violin
layers scored further from a violin on both timbre embeddings), above twice that it keeps the grown image (the instrument's upper spectrum,
whose harmonics are also harmonics of the lowered notes), with a crossfade over the octave
between, linear in log frequency.

Known limit: reading every second (third, fourth) band, a move of two octaves can step over a
harmonic that sits between the bands it reads, and that harmonic comes out weaker; a move that
gathers each band's span measured worse (above), so the plain reading stays until one measures better.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from diffband.engine.mel import MelCodec
from diffband.engine.stft import mel_edges

#: Frequency (Hz) below which a lowered layer is the grown one moved down; above twice it, the grown
#: layer as it was.
KEEP_ABOVE_HZ = 1000.0


def lower_image(image: np.ndarray, codec: MelCodec, octaves: int, keep_above_hz: float = KEEP_ABOVE_HZ) -> np.ndarray:
    """One mel image ``(n_mels, frames)`` moved ``octaves`` (>= 0) down below ``keep_above_hz``, kept
    above twice it (module docstring)."""
    if int(octaves) != octaves or octaves < 0:
        raise ValueError(f"a layer is lowered by a whole number of octaves >= 0, got {octaves}")
    image = np.asarray(image, dtype=np.float32)
    if octaves == 0:
        return image
    centres = mel_edges(codec.sample_rate, codec.n_mels, codec.fmin, codec.fmax)[1:-1]
    read_at = np.interp(centres * 2.0 ** octaves, centres, np.arange(centres.size), right=np.nan)
    beyond = np.isnan(read_at)  # above the top band: nothing grown there to move down
    position = np.where(beyond, centres.size - 1, read_at)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, centres.size - 1)
    frac = (position - low)[:, None].astype(np.float32)
    moved = (1.0 - frac) * image[low] + frac * image[high]
    moved[beyond] = image[beyond]
    weight = np.clip(np.log2(2.0 * keep_above_hz / centres), 0.0, 1.0)[:, None].astype(np.float32)
    return (weight * moved + (1.0 - weight) * image).astype(np.float32)


def lower_images(images: np.ndarray, codec: MelCodec, octaves: int | Sequence[int],
                 keep_above_hz: float = KEEP_ABOVE_HZ) -> np.ndarray:
    """Images ``(k, n_mels, frames)`` each lowered by ``octaves`` (one number, or one per image)."""
    images = np.asarray(images, dtype=np.float32)
    each = [int(octaves)] * len(images) if np.isscalar(octaves) else [int(o) for o in octaves]
    if len(each) != len(images):
        raise ValueError(f"{len(each)} octave counts given for {len(images)} images")
    if not any(each):
        return images
    return np.stack([lower_image(image, codec, k, keep_above_hz) for image, k in zip(images, each)])
