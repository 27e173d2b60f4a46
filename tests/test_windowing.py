"""Windows of an input: none reaches past its end (a window with a silent tail grows a noisy
layer), crossfades that add up, and the end of a clip as clean as its start."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from diffband.engine.condition import window_audio
from diffband.engine.cross import cross
from diffband.engine.model import load_models
from diffband.engine.windowing import filled, overlap_add, split, window_starts
from diffband.evaluation.quality import flatness
from tests.conftest import REPO

WINDOW, OVERLAP = 1000, 0.25
HOP = 750


def test_the_last_window_ends_where_the_input_ends():
    assert window_starts(2600, WINDOW, HOP) == [0, 750, 1500, 1600]
    assert window_starts(2500, WINDOW, HOP) == [0, 750, 1500]  # already flush
    assert window_starts(1000, WINDOW, HOP) == [0] and window_starts(10, WINDOW, HOP) == [0]
    signal = np.arange(1, 2601, dtype=np.float32)
    windows, starts = split(signal, WINDOW, OVERLAP)
    assert windows.shape == (4, WINDOW) and np.all(windows > 0)  # no silence anywhere
    assert np.array_equal(windows[-1], signal[-WINDOW:])
    assert np.array_equal(window_audio(signal, starts, WINDOW), windows)  # the condition reads the same audio


def test_a_short_input_is_looped_to_a_window_not_padded_with_silence():
    short = np.arange(1, 301, dtype=np.float32)
    windows, starts = split(short, WINDOW, OVERLAP)
    assert starts == [0] and np.all(windows > 0)
    assert np.array_equal(windows[0, :300], short) and np.array_equal(windows[0, 300:600], short)
    assert np.array_equal(window_audio(short, starts, WINDOW), windows)
    assert np.array_equal(filled(short, 100), short[:100])
    assert np.array_equal(filled(np.zeros(0, np.float32), 5), np.zeros(5, np.float32))


@pytest.mark.parametrize("length", [2600, 2500, 1700, 1001])
def test_overlap_add_of_unchanged_windows_is_the_input(length):
    signal = np.random.default_rng(0).standard_normal(length).astype(np.float32)
    windows, starts = split(signal, WINDOW, OVERLAP)
    out = overlap_add(windows, starts, length, int(OVERLAP * WINDOW))
    np.testing.assert_allclose(out, signal, atol=1e-6)


def test_a_flush_last_window_is_heard_only_after_its_neighbour():
    """Two renderings of the same notes are crossfaded, never averaged over the whole overlap."""
    starts = window_starts(2600, WINDOW, HOP)  # the last window starts 100 samples after the one before
    windows = np.stack([np.full(WINDOW, k + 1.0, np.float32) for k in range(len(starts))])
    out = overlap_add(windows, starts, 2600, int(OVERLAP * WINDOW))
    fade_from = starts[-2] + WINDOW - 250  # where the third window starts fading out
    faded_in = starts[-3] + WINDOW  # where the third window is done fading in over the second
    assert starts[-1] < faded_in < fade_from
    assert np.all(out[faded_in:fade_from] == 3.0)  # only the third window, though the fourth covers it too
    assert np.all(out[starts[-2] + WINDOW :] == 4.0)
    assert np.all(np.diff(out[fade_from : starts[-2] + WINDOW]) >= 0)  # one crossfade, 3 -> 4


def test_the_end_of_a_clip_is_as_clean_as_its_start():
    """The example vocal (6 s) is a window and 1.5 s: its last window used to be padded with 1.8 s of
    silence, and its layers came out 6-7x flatter (noisier) there than over the first window."""
    vocal, rate = sf.read(REPO / "models" / "example_vocal.wav", dtype="float32")
    for model in load_models(["violin", "guitar"], device="cpu", threads=1):
        layer = cross(vocal, rate, model, seed=0)
        split_at = int(round(model.info.codec.window_samples * 0.75))
        head, tail = flatness(layer[:split_at], rate), flatness(layer[split_at:], rate)
        assert tail < 2.5 * head, (model.name, head, tail)
