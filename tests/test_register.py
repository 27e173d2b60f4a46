"""The ``register`` option: layers grown in each instrument's own range, from the range its bundle records."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import soxr

from diffband.engine.bundle import BundleError, bundle_metadata, parse_metadata
from diffband.engine.register import layer_octaves, octaves_into_range, voiced_pitches

RATE = 22050
GUITAR, VIOLIN = (40, 76), (55, 93)  # export.instruments' render ranges


def harmonic_tone(midi: float, seconds: float = 3.0) -> np.ndarray:
    f0 = 440.0 * 2 ** ((midi - 69) / 12)
    t = np.arange(int(RATE * seconds)) / RATE
    return sum(0.4 / k * np.sin(2 * np.pi * k * f0 * t) for k in (1, 2, 3)).astype(np.float32)


@pytest.mark.parametrize("median, pitch_range, expected", [
    (60, VIOLIN, 1),    # C4 on the violin: up to C5, inside its middle half (64.5-83.5)
    (45, VIOLIN, 2),    # A2, below the violin's G3: two octaves up
    (77, GUITAR, -1),   # F5 on the guitar: down to F4
    (56, GUITAR, 0),    # already in the guitar's middle half (49-67): kept
    (110, GUITAR, -2),  # far above: the widest shift, nearest the middle
])
def test_the_fewest_octaves_into_the_middle_of_the_range(median, pitch_range, expected):
    assert octaves_into_range(np.full(50, float(median)), pitch_range) == expected
    assert octaves_into_range(np.array([]), pitch_range) == 0  # nothing voiced: nothing to move


@pytest.mark.parametrize("midi", [45, 57, 64.3, 81])
def test_the_pitch_of_a_tone_is_read_from_the_contour(midi):
    """Within half a contour bin (1/6 semitone): basic-pitch centres 27.5 Hz on bin 1, and a reading that
    took it for bin 0 put every pitch a third of a semitone sharp."""
    pitches = voiced_pitches(harmonic_tone(midi), RATE)
    assert pitches.size > 100 and np.median(pitches) == pytest.approx(midi, abs=1 / 6)


def test_silence_and_other_rates():
    assert voiced_pitches(np.zeros(3 * RATE, np.float32), RATE).size == 0  # silence has no pitch
    at_48k = voiced_pitches(soxr.resample(harmonic_tone(57), RATE, 48000), 48000)  # resampled to the contour's rate
    assert np.median(at_48k) == pytest.approx(57, abs=1 / 6)


def test_pitch_range_round_trips_through_bundle_metadata_and_bad_ranges_are_refused(tiny_codec):
    from diffband.engine.schedule import NoiseSchedule

    schedule = NoiseSchedule("squaredcos_cap_v2", 1000)
    info = parse_metadata(bundle_metadata("violin", tiny_codec, schedule, {}, pitch_range=VIOLIN), "v.onnx")
    assert info.pitch_range == VIOLIN and info.summary()["pitch_range"] == list(VIOLIN)
    assert parse_metadata(bundle_metadata("violin", tiny_codec, schedule, {}), "v.onnx").pitch_range is None
    with pytest.raises(BundleError, match="0 <= low < high <= 127, got \\[93, 55\\]"):
        bundle_metadata("violin", tiny_codec, schedule, {}, pitch_range=(93, 55))
    props = bundle_metadata("violin", tiny_codec, schedule, {}, pitch_range=VIOLIN)
    props["diffband.pitch_range"] = '["low", "high"]'
    with pytest.raises(BundleError, match="v.onnx: pitch range must be two MIDI notes"):
        parse_metadata(props, "v.onnx")


@pytest.fixture(scope="module")
def ranged_bundles(tmp_path_factory, conditional_bundle):
    """The tiny conditional guitar bundle, as a 'violin-ranged' and a 'guitar-ranged' copy and one with no range,
    made with ``diffband export --from-bundle --pitch-range`` (the graph untouched)."""
    from diffband.bridge.cli import main

    folder = tmp_path_factory.mktemp("ranged")
    paths = {}
    for name, text in (("high", "55:93"), ("low", "40:76")):
        paths[name] = folder / f"{name}.onnx"
        assert main(["export", "--from-bundle", str(conditional_bundle), "--pitch-range", text, "--out", str(paths[name])]) == 0
    import onnx

    proto = onnx.load(str(conditional_bundle))
    kept = [p for p in proto.metadata_props if p.key != "diffband.pitch_range"]
    del proto.metadata_props[:]
    proto.metadata_props.extend(kept)
    paths["unknown"] = folder / "unknown.onnx"
    onnx.save(proto, str(paths["unknown"]))
    return paths


def test_export_sets_a_range_and_refuses_a_malformed_one(ranged_bundles, conditional_bundle, tmp_path, capsys):
    from diffband.bridge.cli import main
    from diffband.engine.model import DiffusionModel

    high = DiffusionModel.load(ranged_bundles["high"])
    plain = DiffusionModel.load(conditional_bundle)
    assert high.info.pitch_range == VIOLIN and plain.info.pitch_range == GUITAR  # export_run: the recipe's guitar range
    x = np.random.default_rng(0).standard_normal((1, 1, *plain.info.image_shape)).astype(np.float32)
    t = np.array([500.0], np.float32)
    assert np.array_equal(high(x, t, np.zeros_like(x)), plain(x, t, np.zeros_like(x)))  # the graph is untouched
    assert main(["export", "--from-bundle", str(conditional_bundle), "--pitch-range", "55-93", "--out", str(tmp_path / "x.onnx")]) != 0
    assert "--pitch-range must be LOW:HIGH in MIDI notes (e.g. 55:93), got '55-93'" in capsys.readouterr().err
    assert not (tmp_path / "x.onnx").exists()


def test_each_model_gets_the_octaves_into_its_own_range(ranged_bundles):
    from diffband.engine.model import DiffusionModel

    high, low, unknown = (DiffusionModel.load(ranged_bundles[k]) for k in ("high", "low", "unknown"))
    a2 = harmonic_tone(45)  # A2: guitar's middle-low, two octaves below the violin's middle
    assert layer_octaves([high, low], a2, RATE, "instrument") == [2, 1]
    assert layer_octaves([high, low], a2, RATE, "instrument", octave=1) == [2, 2]  # octave adds, within +-2
    assert layer_octaves([high, low], a2, RATE, "input", octave=-1) == [-1, -1]
    stereo_44k = np.repeat(soxr.resample(a2, RATE, 44100)[:, None], 2, axis=1)
    assert layer_octaves([high], stereo_44k, 44100, "instrument") == [2]
    with pytest.warns(UserWarning, match="unknown records no pitch range"):
        assert layer_octaves([unknown, high], a2, RATE, "instrument") == [0, 2]
    with pytest.warns(UserWarning, match="unknown records no pitch range"):
        assert layer_octaves([unknown], a2, RATE, "instrument", octave=1) == [1]
    with pytest.raises(ValueError, match="register must be one of input, instrument, fit"):
        layer_octaves([high], a2, RATE, "violin")


def test_cross_and_accompany_grow_each_layer_from_its_instruments_octave(ranged_bundles):
    from diffband.engine.accompany import accompany
    from diffband.engine.cross import cross
    from diffband.engine.model import DiffusionModel

    high, low = DiffusionModel.load(ranged_bundles["high"]), DiffusionModel.load(ranged_bundles["low"])
    clip = harmonic_tone(45, seconds=5.0)
    options = {"strength": 0.8, "steps": 3, "seed": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # both models record a range: no warning
        moved = cross(clip, RATE, high, register="instrument", **options)
    assert np.array_equal(moved, cross(clip, RATE, high, octave=2, register="input", **options))
    assert np.array_equal(cross(clip, RATE, high, register="input", **options), cross(clip, RATE, high, octave=0,
                                                                                    register="input", **options))
    both = accompany(clip, RATE, [high, low], register="instrument", **options)
    alone_high = accompany(clip, RATE, [high], octave=2, register="input", **options)
    alone_low = accompany(clip, RATE, [low], octave=1, register="input", seed=1,
                          **{k: v for k, v in options.items() if k != "seed"})
    assert np.array_equal(both.layers["high"], alone_high.layers["high"])
    assert np.array_equal(both.layers["low"], alone_low.layers["low"])


def test_the_option_reaches_the_techniques_that_take_it():
    from diffband.engine.options import OptionError
    from diffband.engine.techniques import technique

    assert technique("cross").resolve({"register": "instrument"})["register"] == "instrument"
    assert technique("accompany").defaults["register"] == "fit"
    with pytest.raises(OptionError, match="register must be one of input, instrument, fit, got 'violin'"):
        technique("accompany").resolve({"register": "violin"})
    assert technique("chorus").defaults["register"] == "fit"  # for a chorus whose layers follow the clip
    assert "register" not in technique("generate").defaults


def test_the_shipped_bundles_record_the_range_they_were_trained_in():
    from diffband.engine.model import read_bundle_info
    from diffband.export.instruments import INSTRUMENTS

    for name in ("guitar", "violin", "voice"):
        info = read_bundle_info(Path(__file__).parents[1] / "models" / f"{name}.onnx")
        assert info.pitch_range == (INSTRUMENTS[name].low, INSTRUMENTS[name].high)


def technique_options(name: str, given: dict) -> dict:
    from diffband.engine.techniques import technique

    return technique(name).resolve(given)


def test_each_layer_says_which_octave_it_was_grown_in(ranged_bundles, tmp_path, capsys):
    import soundfile as sf

    from diffband.bridge.cli import main
    from diffband.engine.model import DiffusionModel
    from diffband.engine.techniques import Request, run

    high, low = DiffusionModel.load(ranged_bundles["high"]), DiffusionModel.load(ranged_bundles["low"])
    clip = harmonic_tone(45, seconds=5.0)
    options = {"strength": 0.8, "steps": 2, "register": "instrument"}
    layers = run("accompany", Request([high, low], technique_options("accompany", options), clip, RATE))
    assert [(layer.name, layer.octave) for layer in layers] == [("high", 2), ("low", 1), ("mix", 0)]
    [layer] = run("cross", Request([high], technique_options("cross", dict(options, octave=-1)), clip, RATE))
    assert layer.octave == 1
    sf.write(tmp_path / "a2.wav", clip, RATE)
    assert main(["cross", str(tmp_path / "a2.wav"), "--to", str(ranged_bundles["high"]), "--steps", "2",
                 "--register", "instrument", "-o", str(tmp_path / "out.wav")]) == 0
    assert f"{tmp_path / 'out.wav'} (grown +2 octaves from the input)" in capsys.readouterr().out


def test_fit_grows_a_low_input_in_range_and_leaves_the_layer_at_the_inputs_octave(ranged_bundles):
    from diffband.engine.model import DiffusionModel
    from diffband.engine.register import layer_placements

    high, low, unknown = (DiffusionModel.load(ranged_bundles[k]) for k in ("high", "low", "unknown"))
    a2, a5 = harmonic_tone(45), harmonic_tone(81)
    assert layer_placements([high, low], a2, RATE, "fit") == [(1, 0), (1, 0)]  # below both: grown up, sounds at A2
    # grown up to the first octave inside the range (A3, over the violin's G3), not on to its middle half (A4):
    assert layer_placements([high], harmonic_tone(33), RATE, "fit") == [(2, 0)]  # A1: two octaves to reach G3
    assert layer_placements([high, low], a5, RATE, "fit") == [(0, 0), (0, 0)]  # inside / above: grown where it plays
    assert layer_placements([high], a2, RATE, "fit", octave=-1) == [(1, -1)]
    assert layer_octaves([high, low], a2, RATE, "fit") == [0, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # fit is the default: a bundle with no range keeps the input's register quietly
        assert layer_placements([unknown, high], a2, RATE, "fit") == [(0, 0), (1, 0)]


def test_cross_accompany_and_the_technique_bring_a_fitted_layer_back_down(ranged_bundles):
    from diffband.engine.accompany import accompany
    from diffband.engine.cross import cross
    from diffband.engine.model import DiffusionModel
    from diffband.engine.techniques import Request, run

    high, low = DiffusionModel.load(ranged_bundles["high"]), DiffusionModel.load(ranged_bundles["low"])
    clip = harmonic_tone(33, seconds=5.0)  # A1: two octaves under the violin-ranged copy
    options = {"strength": 0.8, "steps": 3, "seed": 0}
    fitted = cross(clip, RATE, high, **options)  # the default register: fit
    assert fitted.shape == clip.shape and np.isfinite(fitted).all()
    assert np.array_equal(fitted, cross(clip, RATE, high, placement=(2, 0), **options))
    assert not np.allclose(fitted, cross(clip, RATE, high, register="instrument", **options))
    both = accompany(clip, RATE, [high, low], **options)
    assert both.layer_octaves == {"high": 0, "low": 0}
    as_played = accompany(clip, RATE, [high, low], register="input", **options)
    assert both.layers["high"].shape == as_played.layers["high"].shape == clip.shape
    assert not np.allclose(both.layers["high"], as_played.layers["high"])  # grown two octaves up, then brought down
    [layer] = run("cross", Request([high], technique_options("cross", {"strength": 0.8, "steps": 3}), clip, RATE))
    assert layer.octave == 0 and np.array_equal(layer.audio, fitted)


def test_the_cli_says_when_a_layer_was_grown_higher_and_brought_back(ranged_bundles, tmp_path, capsys):
    import soundfile as sf

    from diffband.bridge.cli import main
    from diffband.engine.model import DiffusionModel
    from diffband.engine.techniques import Request, run

    high, low = DiffusionModel.load(ranged_bundles["high"]), DiffusionModel.load(ranged_bundles["low"])
    clip = harmonic_tone(33, seconds=5.0)  # A1: two octaves under the violin-ranged copy
    layers = run("accompany", Request([high, low], technique_options("accompany", {"strength": 0.8, "steps": 2}), clip,
                                      RATE))
    assert [(layer.name, layer.octave, layer.fitted) for layer in layers] == [("high", 0, 2), ("low", 0, 1), ("mix", 0, 0)]
    sf.write(tmp_path / "a2.wav", clip, RATE)
    assert main(["cross", str(tmp_path / "a2.wav"), "--to", str(ranged_bundles["high"]), "--steps", "2",
                 "-o", str(tmp_path / "out.wav")]) == 0
    said = capsys.readouterr().out
    assert f"{tmp_path / 'out.wav'} (grown +2 octaves higher in the instrument's range, then brought back down)" in said
    assert main(["cross", str(tmp_path / "a2.wav"), "--to", str(ranged_bundles["high"]), "--steps", "2",
                 "--register", "input", "-o", str(tmp_path / "plain.wav")]) == 0
    assert capsys.readouterr().out.strip().endswith(str(tmp_path / "plain.wav"))


@pytest.mark.parametrize("register, octave, placed", [("fit", 0, (0, 1)), ("input", 0, (0, 0)), ("instrument", 0, (1, 0)),
                                                       ("fit", 1, (1, 0))])
def test_the_technique_places_a_layer_once_whatever_the_register(ranged_bundles, register, octave, placed):
    """The guitar-ranged model on A2: one octave below the middle of its range, so a second
    placement would show (the violin-ranged one needs two, the widest move, which hides it)."""
    from diffband.engine.cross import cross
    from diffband.engine.model import DiffusionModel
    from diffband.engine.register import layer_placements
    from diffband.engine.techniques import Request, run

    low = DiffusionModel.load(ranged_bundles["low"])
    clip = harmonic_tone(45, seconds=5.0)
    [(grown, sounding)] = layer_placements([low], clip, RATE, register, octave)
    assert (sounding, grown - sounding) == placed  # A2 moved an octave up already sits in the guitar's middle
    options = {"strength": 0.8, "steps": 2, "register": register, "octave": octave}
    [layer] = run("cross", Request([low], technique_options("cross", options), clip, RATE))
    assert (layer.octave, layer.fitted) == placed
    direct = cross(clip, RATE, low, 0.8, 2, register=register, octave=octave)
    assert np.array_equal(layer.audio, direct)


def test_a_live_window_decides_its_register_on_the_recent_input(ranged_bundles):
    """Live mode: the layer's register holds across a low passage, and a high phrase inside it is
    grown no further than the model's range (decided on the window alone, it would not be grown)."""
    from diffband.bridge.live import RegisterContext
    from diffband.engine.accompany import accompany
    from diffband.engine.model import DiffusionModel
    from diffband.engine.techniques import Request, run

    high = DiffusionModel.load(ranged_bundles["high"])  # range 55:93
    context = RegisterContext(6.0)
    for _ in range(3):
        recent = context.add(harmonic_tone(33, seconds=1.5), RATE)  # A1: two octaves under the range's low G3
    options = {"strength": 0.8, "steps": 2}
    a1 = harmonic_tone(33, seconds=1.5)
    assert accompany(a1, RATE, [high], register_audio=context.add(a1, RATE), **options).layer_fitted == {"high": 2}
    a5 = harmonic_tone(81, seconds=1.5)
    recent = context.add(a5, RATE)
    assert recent.size == int(6.0 * RATE)
    alone = accompany(a5, RATE, [high], **options)
    held = accompany(a5, RATE, [high], register_audio=recent, **options)
    assert alone.layer_fitted == {"high": 0}
    assert held.layer_fitted == {"high": 1}  # the passage's +2 would put A5 at A7, above the range's top (A6)
    assert held.layers["high"].shape == a5.shape and held.layer_octaves == {"high": 0}
    [layer] = run("cross", Request([high], technique_options("cross", options), a5, RATE, register_context=recent))
    assert (layer.octave, layer.fitted) == (0, 1)


def test_the_register_context_keeps_the_last_seconds_in_order():
    from diffband.bridge.live import RegisterContext

    context = RegisterContext(3.0)
    ramp = np.arange(5 * RATE, dtype=np.float32) / RATE  # each sample says when it was played
    first = context.add(ramp[:RATE], RATE)
    assert first.shape == (3 * RATE,) and not first[: 2 * RATE].any()  # silence where nothing was heard yet
    assert np.array_equal(first[2 * RATE :], ramp[:RATE])
    fade = RATE // 10  # each later window repeats the previous one's last tenth (the crossfade)
    start = RATE - fade
    while start + RATE <= ramp.size:
        window = ramp[start : start + RATE]
        recent = context.add(np.stack([window, window], axis=1), RATE)  # stereo is heard as mono
        start += RATE - fade
    end = start - (RATE - fade) + RATE
    assert np.array_equal(recent, ramp[end - 3 * RATE : end])  # the last 3 s, in order, nothing twice
    assert context.add(np.ones(24000, np.float32), 24000).size == 3 * 24000  # another rate starts afresh
    context.reset()
    assert not context.add(ramp[:RATE], RATE)[: 2 * RATE].any()  # reset forgets what was heard
    assert np.array_equal(RegisterContext(0).add(ramp[:RATE], RATE), ramp[:RATE])  # 0 s: the window alone
    for bad in (-1, 61):
        with pytest.raises(ValueError, match="0 to 60 seconds"):
            RegisterContext(bad)


def test_live_refuses_a_register_context_it_cannot_keep(capsys):
    from diffband.bridge.cli import main

    assert main(["live", "--with", "violin", "--register-context", "100", "--duration", "1"]) != 0
    assert "the register context is 0 to 60 seconds, got 100" in capsys.readouterr().err


def test_a_live_window_is_grown_with_the_input_leading_into_it():
    from diffband.bridge.live import RegisterContext, grown_from

    context = RegisterContext(6.0)
    ramp = np.arange(8 * RATE, dtype=np.float32) / RATE  # each sample says when it was played
    fade = RATE // 10
    for start in range(0, 5 * RATE, RATE - fade):
        window = ramp[start : start + RATE]
        recent = context.add(window, RATE)
    clip = grown_from(window, recent, 4.46, RATE)
    assert clip.size == int(np.ceil(4.46 * RATE)) and np.array_equal(clip[-RATE:], window)
    assert np.array_equal(clip, ramp[start + RATE - clip.size : start + RATE])  # what was played before, in order
    assert np.array_equal(grown_from(window, recent, 0.5, RATE), window)  # a window longer than a model window: alone
    assert np.array_equal(grown_from(window, RegisterContext(0).add(window, RATE), 4.46, RATE), window)  # no context kept
    assert np.array_equal(grown_from(window, recent[:-1], 4.46, RATE), window)  # a context not ending with it: the window
    assert np.array_equal(grown_from(window, recent[-2 * RATE:], 4.46, RATE), recent[-2 * RATE:])  # as much as kept


def test_a_chorus_that_follows_the_clip_places_each_layer_by_its_range(ranged_bundles, monkeypatch):
    """On A1, register fit grows the violin-ranged layer two octaves higher and the guitar-ranged one
    one octave higher, each brought back down; both play the clip's notes where it plays them."""
    import diffband.engine.double as double_module
    from diffband.engine.model import DiffusionModel
    from diffband.engine.techniques import Request, run

    high, low = (DiffusionModel.load(ranged_bundles[name]) for name in ("high", "low"))
    clip = harmonic_tone(33, seconds=5.0)
    grown_at: list[int] = []
    encode = double_module.encode_mono
    monkeypatch.setattr(double_module, "encode_mono", lambda model, mono, overlap, octave: grown_at.append(octave)
                        or encode(model, mono, overlap, octave))
    options = {"strength": 0.8, "steps": 2, "split": 0.5}
    layers = run("chorus", Request([high, low], technique_options("chorus", options), clip, RATE))
    assert [(layer.name, layer.octave, layer.fitted) for layer in layers] == [("high", 0, 2), ("low", 0, 1)]
    assert grown_at == [2, 1]  # one trunk per octave the layers grow at
    assert all(layer.audio.shape == clip.shape and np.isfinite(layer.audio).all() for layer in layers)
    grown_at.clear()
    plain = run("chorus", Request([high, low], technique_options("chorus", {**options, "register": "input"}), clip, RATE))
    assert [(layer.octave, layer.fitted) for layer in plain] == [(0, 0), (0, 0)] and grown_at == [0]
    grown_at.clear()
    off = run("chorus", Request([high, low], technique_options("chorus", {**options, "follow": "off"}), clip, RATE))
    assert [(layer.octave, layer.fitted) for layer in off] == [(0, 0), (0, 0)] and grown_at == [0]  # the report's method
