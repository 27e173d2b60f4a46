"""Follow ``notes`` re-tunes a layer's passages that stray from the input's notes (``engine.tuning``)."""

from __future__ import annotations

import numpy as np
import pytest

import diffband.engine.accompany as accompany_module
import diffband.engine.cross as cross_module
import diffband.engine.double as double_module
from diffband.engine.heard import hear
from diffband.engine.model import DiffusionModel
from diffband.engine.transpose import shift_cents, shift_octaves
from diffband.engine.tuning import AskedPitch, asked_pitch, correction_bins, tune_layer

RATE = 22050


def grown_from(clip: np.ndarray) -> np.ndarray:
    """``clip`` as the techniques grow it and read its notes: at the training level (``engine.heard``)."""
    return hear(clip, RATE).audio


def tone(hz: float | list[float], seconds: float = 3.0, partials: int = 4) -> np.ndarray:
    """A harmonic tone; a list of pitches plays them one after another, each ``seconds`` long."""
    pitches = [hz] if np.isscalar(hz) else hz
    t = np.arange(int(RATE * seconds)) / RATE
    return np.concatenate([sum(0.4 / k * np.sin(2 * np.pi * k * f * t) for k in range(1, partials + 1))
                           for f in pitches]).astype(np.float32)


def peak_hz(audio: np.ndarray) -> float:
    """The strongest frequency of ``audio``'s middle (its ends fade between passages)."""
    middle = audio[RATE // 2 : -RATE // 2]
    spectrum = np.abs(np.fft.rfft(middle * np.hanning(middle.size)))
    return float(np.fft.rfftfreq(middle.size, 1 / RATE)[spectrum.argmax()])


def cents(a: float, b: float) -> float:
    return float(1200 * np.log2(a / b))


def test_a_layer_a_semitone_sharp_is_brought_to_the_asked_note_and_keeps_length_and_level():
    asked = asked_pitch(tone(220.0), RATE)
    layer = tone(220.0 * 2 ** (1 / 12), partials=6)  # another timbre, a semitone sharp
    tuned = tune_layer(layer, RATE, asked)
    assert tuned.shape == layer.shape and tuned.dtype == np.float32 and np.isfinite(tuned).all()
    assert abs(cents(peak_hz(tuned), 220.0)) < 20
    tail = tuned[-RATE // 4 :]  # to the last sample: the contour's frames stop short of the end
    spectrum = np.abs(np.fft.rfft(tail * np.hanning(tail.size)))
    assert abs(cents(float(np.fft.rfftfreq(tail.size, 1 / RATE)[spectrum.argmax()]), 220.0)) < 30
    rms = [np.sqrt(np.mean(x[RATE // 2 : -RATE // 2] ** 2)) for x in (layer, tuned)]
    assert rms[1] == pytest.approx(rms[0], rel=0.1)


def test_only_the_passage_that_strays_moves():
    asked = asked_pitch(tone([220.0, 330.0]), RATE)
    layer = tone([220.0, 330.0 * 2 ** (-1 / 12)], partials=6)  # the second note a semitone flat
    tuned = tune_layer(layer, RATE, asked)
    first, second = tuned[: 3 * RATE], tuned[3 * RATE :]
    np.testing.assert_allclose(first[: 2 * RATE], layer[: 2 * RATE], atol=1e-6)  # untouched away from the change
    assert abs(cents(peak_hz(second), 330.0)) < 20


def worst_high_band_db(audio: np.ndarray) -> float:
    """The loudest 5 ms of ``audio`` above 4 kHz, in dB under its whole RMS: a click is broadband."""
    from scipy.signal import butter, sosfilt

    high = sosfilt(butter(8, 4000, "highpass", fs=RATE, output="sos"), audio)[RATE // 2 :]  # past the filter's start
    frame = RATE // 200
    rms = np.sqrt(np.mean(high[: high.size // frame * frame].reshape(-1, frame) ** 2, axis=1))
    return float(20 * np.log10(rms.max() / np.sqrt(np.mean(audio**2))))


def test_a_shifted_passage_meets_the_rest_of_the_layer_without_a_click():
    asked = asked_pitch(tone([220.0, 330.0]), RATE)  # the second note: a fifth from the layer, left alone
    t = np.arange(6 * RATE) / RATE
    layer = sum(0.4 / k * np.sin(2 * np.pi * k * 233.08 * t) for k in range(1, 7)).astype(np.float32)  # one held note
    tuned = tune_layer(layer, RATE, asked)
    assert abs(cents(peak_hz(tuned[: 3 * RATE]), 220.0)) < 20 and abs(cents(peak_hz(tuned[3 * RATE :]), 233.08)) < 20
    cut = int(np.flatnonzero(np.abs(tuned - layer) > 1e-4)[-1])  # where the shift ends, inside the held note
    hard = np.concatenate([shift_cents(layer, RATE, -100.0)[:cut], layer[cut:]])  # the same edit without the fade
    assert worst_high_band_db(hard) > -60  # the measure hears a click
    assert worst_high_band_db(tuned) < worst_high_band_db(layer) + 6  # the partials alone reach nothing up there


@pytest.mark.parametrize("layer_hz, why", [(220.0 * 2 ** (15 / 1200), "within 40 cents: heard in tune"),
                                           (220.0 * 2 ** (7 / 12), "a fifth away: another note, not a stray"),
                                           (110.0, "an octave down: the register's call")])
def test_a_layer_in_tune_or_on_another_note_is_left_as_made(layer_hz, why):
    layer = tone(layer_hz, partials=6)
    assert tune_layer(layer, RATE, asked_pitch(tone(220.0), RATE)) is layer, why


def test_an_input_without_notes_leaves_the_layer_alone():
    layer = tone(233.0)
    noise = np.random.default_rng(0).standard_normal(3 * RATE).astype(np.float32) * 0.1
    silence = asked_pitch(np.zeros(3 * RATE, np.float32), RATE)
    assert not silence.voiced and tune_layer(layer, RATE, silence) is layer
    assert tune_layer(layer, RATE, asked_pitch(noise, RATE)) is layer  # a stray reading of noise asks nothing near it


def test_the_asked_line_is_read_where_the_layer_sounds():
    low = tone(110.0)
    up = asked_pitch(low, RATE, 1)
    np.testing.assert_array_equal(up.bins, asked_pitch(shift_octaves(low, RATE, 1), RATE).bins)
    plain = asked_pitch(low, RATE).bins
    assert np.isfinite(up.bins).mean() > 0.8 and abs(np.nanmedian(up.bins) - np.nanmedian(plain) - 36) < 0.5
    tuned = tune_layer(tone(220.0 * 2 ** (-1 / 12)), RATE, up)  # a layer an octave up, a semitone flat
    assert abs(cents(peak_hz(tuned), 220.0)) < 20


def test_short_gaps_hold_the_correction_and_single_frames_do_not_steer_it():
    asked = np.full(40, 100.0)
    offsets = np.full(40, 3.0)
    offsets[10:14] = np.nan  # no reading for 4 frames: held
    offsets[25] = -3.0  # one frame the other way: outvoted
    shifts = correction_bins(asked, offsets)
    np.testing.assert_array_equal(shifts, np.full(40, -3.0))
    asked[20] = np.nan  # the input stops: a new passage, nothing carried over its silence
    offsets[20:] = np.nan
    shifts = correction_bins(asked, offsets)
    assert (shifts[:20] == -3.0).all() and (shifts[20:] == 0.0).all()


def test_shift_cents_moves_a_tone_by_a_fraction_of_a_semitone():
    shifted = shift_cents(tone(220.0), RATE, 50.0)
    assert shifted.shape == (3 * RATE,)
    assert abs(cents(peak_hz(shifted), 220.0) - 50.0) < 10
    same = tone(220.0)
    assert shift_cents(same, RATE, 0.0) is same


# ------------------------------------------------------------------ which techniques re-tune
@pytest.fixture(scope="module")
def conditional(conditional_bundle) -> DiffusionModel:
    return DiffusionModel.load(conditional_bundle, device="cpu")


def spy(monkeypatch, module) -> list[AskedPitch]:
    """Record each ``tune_layer`` call of ``module`` (which still tunes)."""
    calls: list[AskedPitch] = []

    def recording(layer: np.ndarray, rate: int, asked: AskedPitch) -> np.ndarray:
        calls.append(asked)
        return tune_layer(layer, rate, asked)

    monkeypatch.setattr(module, "tune_layer", recording)
    return calls


@pytest.mark.parametrize("follow, guidance, tuned", [("notes", 2.0, True), ("auto", 2.0, True), ("loose", 2.0, False),
                                                     ("notes", 0.0, False), ("off", 2.0, False)])
def test_cross_retunes_with_follow_notes_only(monkeypatch, conditional, follow, guidance, tuned):
    calls = spy(monkeypatch, cross_module)
    clip = tone(196.0, seconds=5.0)
    out = cross_module.cross(clip, RATE, conditional, 0.8, steps=3, seed=1, follow=follow, guidance=guidance, register="input")
    assert out.shape == clip.shape and np.isfinite(out).all()
    assert len(calls) == (1 if tuned else 0)
    if tuned:  # the asked line is the input's, where the layer sounds (register input: as played)
        np.testing.assert_allclose(calls[0].bins, asked_pitch(grown_from(clip), RATE).bins, equal_nan=True)


def test_loose_follows_the_notes_like_notes_before_the_tuning(conditional):
    clip = tone(196.0, seconds=5.0)
    loose = cross_module.cross(clip, RATE, conditional, 0.8, steps=3, seed=1, follow="loose", guidance=2.0)
    off = cross_module.cross(clip, RATE, conditional, 0.8, steps=3, seed=1, follow="off")
    assert not np.allclose(loose, off)  # the condition is used


def test_accompany_tunes_each_layer_to_the_vocal_where_it_sounds(monkeypatch, conditional):
    calls = spy(monkeypatch, accompany_module)
    vocal = tone(196.0, seconds=5.0)
    result = accompany_module.accompany(vocal, RATE, [conditional, conditional], 0.8, steps=3, follow="notes",
                                        octave=1, register="input")
    assert len(calls) == 2
    for asked in calls:
        np.testing.assert_array_equal(asked.bins, asked_pitch(grown_from(vocal), RATE, 1).bins)
    assert all(np.isfinite(layer).all() and layer.shape == vocal.shape for layer in result.layers.values())
    loose = spy(monkeypatch, accompany_module)
    accompany_module.accompany(vocal, RATE, [conditional], 0.8, steps=3, follow="loose")
    assert loose == []


@pytest.mark.parametrize("follow, guidance, tuned", [("notes", 2.0, True), ("loose", 2.0, False), ("notes", 0.0, False),
                                                     ("off", 2.0, False)])
def test_chorus_retunes_each_later_layer_to_the_lead_layer(monkeypatch, conditional, follow, guidance, tuned):
    calls = spy(monkeypatch, double_module)
    clip = tone(196.0, seconds=5.0)
    layers = double_module.chorus(clip, RATE, [conditional] * 3, 0.8, split=0.5, steps=3, seed=1, follow=follow,
                                  guidance=guidance)
    assert [name for name, _ in layers] == ["condguitar", "condguitar_1", "condguitar_2"]
    assert all(audio.shape == clip.shape and np.isfinite(audio).all() for _, audio in layers)
    assert len(calls) == (3 if tuned else 0)
    if tuned:  # every layer, the lead's included, to the clip's notes (one reading of them)
        np.testing.assert_allclose(calls[0].bins, asked_pitch(grown_from(clip), RATE).bins, equal_nan=True)
        assert calls[0] is calls[1] is calls[2]


def test_a_chorus_with_an_unconditional_lead_tunes_the_later_layers_to_the_lead(monkeypatch, conditional, tiny_bundle):
    calls = spy(monkeypatch, double_module)
    lead = DiffusionModel.load(tiny_bundle, device="cpu")
    clip = tone(196.0, seconds=5.0)
    layers = double_module.chorus(clip, RATE, [lead, conditional, conditional], 0.8, split=0.5, steps=3, seed=1,
                                  follow="notes")
    assert len(layers) == 3 and all(np.isfinite(audio).all() for _, audio in layers)
    assert len(calls) == 2 and calls[0] is calls[1]  # the lead stays as made, the later two go to its notes
    assert not np.allclose(calls[0].bins, asked_pitch(grown_from(clip), RATE).bins, equal_nan=True)  # the lead's, not the clip's


def test_a_conditional_chorus_lead_follows_the_clip(conditional):
    clip = tone(196.0, seconds=5.0)

    def lead(follow: str, guidance: float) -> np.ndarray:
        return double_module.chorus(clip, RATE, [conditional] * 2, 0.8, split=0.5, steps=3, seed=1, follow=follow,
                                    guidance=guidance)[0][1]

    off = lead("off", 2.0)
    assert not np.allclose(lead("loose", 2.0), off)  # the clip's notes steer the lead
    np.testing.assert_allclose(lead("loose", 0.0), off, atol=1e-6)  # guidance 0: the unconditional lead
