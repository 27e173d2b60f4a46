"""A layer grown octaves up is brought back down on its mel image (``engine.image_transpose``)."""

from __future__ import annotations

import numpy as np
import pytest

from diffband.engine.image_transpose import KEEP_ABOVE_HZ, lower_image, lower_images
from diffband.engine.mel import preset
from diffband.engine.stft import mel_edges

CODEC = preset("tiny")


def tone(f0: float) -> np.ndarray:
    t = np.arange(CODEC.window_samples) / CODEC.sample_rate
    return (0.3 * sum(np.sin(2 * np.pi * k * f0 * t) / k for k in (1, 2, 3))).astype(np.float32)


@pytest.mark.parametrize("f0, octaves", [(440.0, 1), (392.0, 1), (600.0, 1)])
def test_a_lowered_tone_peaks_where_the_tone_an_octave_lower_does(f0, octaves):
    below = mel_edges(CODEC.sample_rate, CODEC.n_mels, CODEC.fmin, CODEC.fmax)[1:-1] < KEEP_ABOVE_HZ
    lowered = lower_image(CODEC.encode(tone(f0)), CODEC, octaves)[below]
    played_low = CODEC.encode(tone(f0 / 2**octaves))[below]
    assert lowered[:, 48].argmax() == played_low[:, 48].argmax()  # the notes move down where they move


def test_the_upper_spectrum_is_the_grown_layers_own_and_nothing_moves_at_zero():
    image = CODEC.encode(tone(440.0))
    centres = mel_edges(CODEC.sample_rate, CODEC.n_mels, CODEC.fmin, CODEC.fmax)[1:-1]
    lowered = lower_image(image, CODEC, 1)
    above = centres >= 2 * KEEP_ABOVE_HZ
    assert above.any() and np.array_equal(lowered[above], image[above])
    assert not np.allclose(lowered[centres < KEEP_ABOVE_HZ], image[centres < KEEP_ABOVE_HZ])
    assert np.array_equal(lower_image(image, CODEC, 0), image)
    assert lowered.dtype == np.float32 and lowered.min() >= -1.0 and lowered.max() <= 1.0


def test_each_image_of_a_batch_moves_by_its_own_octaves_and_bad_counts_are_refused():
    images = np.stack([CODEC.encode(tone(440.0)), CODEC.encode(tone(880.0))])
    out = lower_images(images, CODEC, [0, 1])
    assert np.array_equal(out[0], images[0]) and np.array_equal(out[1], lower_image(images[1], CODEC, 1))
    with pytest.raises(ValueError, match="2 octave counts given for 1 images"):
        lower_images(images[:1], CODEC, [1, 1])
    with pytest.raises(ValueError, match="whole number of octaves >= 0, got -1"):
        lower_image(images[0], CODEC, -1)
