"""The ``octave`` option: the input is pitch-shifted by whole octaves before layers are grown."""

from __future__ import annotations

import numpy as np
import pytest

from diffband.engine.transpose import shift_octaves

RATE = 22050


def tone(seconds: float = 3.0, f0: float = 220.0) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return (0.5 * np.sin(2 * np.pi * f0 * t) + 0.2 * np.sin(2 * np.pi * 2 * f0 * t)).astype(np.float32)


def peak_hz(audio: np.ndarray) -> float:
    middle = audio[RATE // 2 : -RATE // 2]
    return float(np.fft.rfftfreq(middle.size, 1 / RATE)[np.abs(np.fft.rfft(middle)).argmax()])


@pytest.mark.parametrize("octaves, expected", [(1, 440.0), (-1, 110.0), (2, 880.0)])
def test_a_tone_moves_by_whole_octaves_and_keeps_its_length(octaves, expected):
    shifted = shift_octaves(tone(), RATE, octaves)
    assert shifted.shape == tone().shape and shifted.dtype == np.float32
    assert peak_hz(shifted) == pytest.approx(expected, abs=1.0)


def test_the_shift_matches_librosas_pitch_shift():
    librosa = pytest.importorskip("librosa")
    ours = shift_octaves(tone(), RATE, 1)
    reference = librosa.effects.pitch_shift(tone(), sr=RATE, n_steps=12)
    spectra = [np.abs(np.fft.rfft(x[RATE // 2 : -RATE // 2])) for x in (ours, reference)]
    assert np.corrcoef(*spectra)[0, 1] > 0.999
    assert np.sqrt(np.mean(ours**2)) == pytest.approx(np.sqrt(np.mean(reference**2)), rel=0.01)


def test_stereo_keeps_its_channels_and_zero_octaves_is_the_input():
    stereo = np.stack([tone(), tone(f0=330.0)], axis=1)
    shifted = shift_octaves(stereo, RATE, -1)
    assert shifted.shape == stereo.shape
    assert peak_hz(shifted[:, 0]) == pytest.approx(110.0, abs=1.0) and peak_hz(shifted[:, 1]) == pytest.approx(165.0, abs=1.0)
    assert shift_octaves(stereo, RATE, 0) is stereo


def test_an_octave_outside_the_range_is_refused_by_name():
    from diffband.engine.options import OptionError
    from diffband.engine.techniques import technique

    with pytest.raises(ValueError, match="octave must be a whole number between -2 and 2"):
        shift_octaves(tone(), RATE, 3)
    with pytest.raises(OptionError, match="octave must be between -2 and 2, got 3"):
        technique("cross").resolve({"octave": 3})
    assert technique("accompany").resolve({"octave": -1})["octave"] == -1
    assert "octave" not in technique("generate").defaults


def test_cross_and_accompany_grow_layers_from_the_shifted_input(conditional_bundle, guitar_clip):
    from diffband.engine.accompany import accompany
    from diffband.engine.cross import cross
    from diffband.engine.model import DiffusionModel

    model = DiffusionModel.load(conditional_bundle)
    clip = guitar_clip[: int(5.0 * RATE)]
    up = shift_octaves(clip, RATE, 1)
    options = {"strength": 0.8, "steps": 3, "seed": 0}
    unfollowed = {**options, "follow": "off"}  # no note reading, whose thresholds a rounding can tip
    moved, grown_up, plain = (cross(clip, RATE, model, octave=1, **unfollowed), cross(up, RATE, model, **unfollowed),
                              cross(clip, RATE, model, **unfollowed))
    # each input is brought to the training level (engine.heard) before it is moved: the same layer, but for the
    # rounding of the two gains (the shifted input peaks elsewhere)
    same, other = np.corrcoef(moved, grown_up)[0, 1], np.corrcoef(moved, plain)[0, 1]
    assert same > 0.999 and other < 0.9, (same, other)
    shifted = accompany(clip, RATE, [model], octave=1, **unfollowed)
    layers_only = accompany(up, RATE, [model], **unfollowed)
    ours, theirs = shifted.layers[model.name], layers_only.layers[model.name]
    # the same layer, loudness-matched to a different vocal: equal up to one gain (and the two gains' rounding)
    assert np.corrcoef(ours, theirs)[0, 1] > 0.999
    assert shifted.vocal_lufs == pytest.approx(accompany(clip, RATE, [model], **unfollowed).vocal_lufs)  # the input, as it came
    assert not np.allclose(shifted.mix, layers_only.mix)  # mixed with the vocal as sung, not the shifted one
