"""An input is grown at the training level: a take recorded with headroom gets the layer a full-level
take gets, brought back to its own level."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from diffband.engine.cross import cross
from diffband.engine.heard import TRAINING_PEAK_DBFS, hear
from diffband.engine.model import load_models
from diffband.engine.register import input_pitches
from diffband.evaluation.quality import flatness
from tests.conftest import REPO

RATE = 22050


def test_hear_brings_the_peak_to_the_training_level_and_restore_undoes_it():
    t = np.arange(RATE) / RATE
    quiet = np.concatenate([0.02 * np.sin(2 * np.pi * 220 * t), np.zeros(RATE // 2)]).astype(np.float32)
    heard = hear(quiet, RATE)
    assert np.max(np.abs(heard.audio)) == pytest.approx(10 ** (TRAINING_PEAK_DBFS / 20), rel=1e-5)
    assert len(heard.rests.spans) == 1  # found on the take as recorded
    layer = np.ones(quiet.size, np.float32)
    restored = heard.restore(layer)
    assert restored[RATE // 2] == pytest.approx(1 / heard.gain) and np.all(restored[RATE + 4000 :] == 0.0)
    assert hear(np.zeros(RATE, np.float32), RATE).gain == 1.0  # silence stays silence


def test_a_take_with_headroom_gets_the_layer_a_full_level_take_gets():
    """Before, the example vocal peaking at -30 dBFS was grown as the dim image it is: a layer 13x
    flatter than from the same take at -1 dBFS, and only 8.6 dB quieter for a take 29 dB quieter.
    (The layers are not compared sample by sample: a 1e-6 change in the input already moves them.)"""
    vocal, rate = sf.read(REPO / "models" / "example_vocal.wav", dtype="float32")
    vocal = vocal[: 98304] / np.max(np.abs(vocal[: 98304]))
    model = load_models(["violin"], device="cpu", threads=1)[0]
    loud = cross(vocal * np.float32(10 ** (-1 / 20)), rate, model, seed=0)
    quiet = cross(vocal * np.float32(10 ** (-30 / 20)), rate, model, seed=0)
    level = lambda x: 20 * np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    assert level(quiet) - level(loud) == pytest.approx(-29.0, abs=0.5)  # the layer follows the take's level
    assert flatness(quiet, rate) < 1.1 * flatness(loud, rate)


def test_the_register_is_decided_as_at_the_training_level():
    """basic-pitch finds more voiced frames in a quieter take; a held-out phrase's median moved by 1.4
    semitones between -1 and -36 dBFS and its layer was grown an octave lower."""
    vocal, rate = sf.read(REPO / "models" / "example_vocal.wav", dtype="float32")
    loud = input_pitches(vocal * np.float32(0.9), rate)
    quiet = input_pitches(vocal * np.float32(0.015), rate)
    assert loud.size > 100 and np.array_equal(loud, quiet)
