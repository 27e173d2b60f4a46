"""Issue 11, items 8-10: no layer leaves -1 dBFS, whatever the technique, the input's level,
channel count or length; short inputs keep their length and say so once.

The shipped models on real FluidSynth renders; every path a layer can take out
(engine functions, the registry, the CLI, live mode).
"""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
import soundfile as sf

from diffband.engine.accompany import accompany
from diffband.engine.cross import cross
from diffband.engine.double import chorus
from diffband.engine.generate import generate, images_to_audio
from diffband.engine.model import load_models
from diffband.engine.techniques import Request, run
from diffband.engine.windowing import PEAK_CEILING, ShortInputWarning
from tests.conftest import REPO

CEILING = PEAK_CEILING * (1 + 1e-6)  # -1 dBFS, float32 rounding allowed
FAST = {"steps": 6}


@pytest.fixture(scope="module")
def models():
    violin, guitar = load_models(["violin", "guitar"], device="cpu", threads=1)
    return violin, guitar


@pytest.fixture(scope="module")
def hot_guitar() -> np.ndarray:
    """A guitar melody the models never heard, through the evaluation soundfont, at full scale
    (before the level rule, cross to violin brought this one to 1.22, +1.7 dBFS)."""
    import random

    from diffband.export.data_render import pick_melody, realise, render_notes, trim_and_normalise
    from diffband.export.instruments import EVALUATION_SOUNDFONTS, instrument

    rng = random.Random(6)
    _, melody = pick_melody(rng)
    notes, _, _ = realise(melody, instrument("guitar"), rng)
    clip = trim_and_normalise(render_notes(notes, EVALUATION_SOUNDFONTS[0], 24))[: 22050 * 6]
    return (clip / np.max(np.abs(clip))).astype(np.float32)


def peak(audio: np.ndarray) -> float:
    return float(np.max(np.abs(audio)))


@pytest.mark.parametrize("strength", [0.6, 0.9])
def test_cross_stays_below_minus_one_dbfs(models, hot_guitar, strength):
    violin, _ = models
    for level in (0.5, 1.0):
        out = cross(hot_guitar * level, 22050, violin, strength, steps=20, seed=0)
        assert out.shape == hot_guitar.shape and np.all(np.isfinite(out))
        assert peak(out) <= CEILING, (level, peak(out))


def test_generate_and_chorus_layers_stay_below_minus_one_dbfs(models, hot_guitar):
    violin, guitar = models
    for audio in images_to_audio(violin, generate(violin, n=2, seed=2, **FAST)):
        assert peak(audio) <= CEILING
    for _, layer in chorus(hot_guitar, 22050, [violin, guitar], 0.8, 0.3, seed=3, **FAST):
        assert peak(layer) <= CEILING
    for layer in run("chorus", Request([violin, guitar], {"steps": 6, "n": 2})):
        assert peak(layer.audio) <= CEILING, layer.name


def test_accompany_layers_and_mix_stay_below_minus_one_dbfs_at_the_loudest_gain(models, hot_guitar):
    violin, guitar = models
    result = accompany(hot_guitar, 22050, [violin, guitar], 0.6, seed=4, layer_gain_db=12.0, **FAST)
    for name, layer in [*result.layers.items(), ("mix", result.mix)]:
        assert peak(layer) <= CEILING, (name, peak(layer))
        assert np.all(np.isfinite(layer))


@pytest.mark.parametrize("channels", [6, 8])
def test_accompany_takes_surround_input_and_returns_its_channels(models, hot_guitar, channels):
    violin, _ = models
    surround = np.stack([hot_guitar * (0.2 + 0.1 * c) for c in range(channels)], axis=1)
    result = accompany(surround, 22050, [violin], 0.6, seed=5, **FAST)
    for layer in [*result.layers.values(), result.mix]:
        assert layer.shape == surround.shape and np.all(np.isfinite(layer))
        assert peak(layer) <= CEILING
    assert np.isfinite(result.vocal_lufs)


def tone(seconds: float, rate: int = 44100) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)


@pytest.mark.parametrize("register", ["input", "instrument"])
def test_short_input_keeps_its_length_and_level_and_warns_once(models, register):
    """Once even when the layers sit in different octaves (the input is checked once, then moved per octave)."""
    violin, guitar = models
    short = tone(0.6)  # E4: the middle of the guitar's range, below the middle of the violin's
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = accompany(short, 44100, [violin, guitar], 0.6, seed=6, register=register, **FAST)
    if register == "instrument":
        assert len(set(result.layer_octaves.values())) == 2, result.layer_octaves
    assert [w.category for w in caught].count(ShortInputWarning) == 1
    assert "shorter than one model window" in str(next(w.message for w in caught if w.category is ShortInputWarning))
    for layer in [*result.layers.values(), result.mix]:
        assert layer.shape == short.shape and peak(layer) <= CEILING


def test_cli_says_once_that_a_short_input_is_padded(tmp_path):
    source = tmp_path / "short.wav"
    sf.write(source, tone(0.2), 44100)
    done = subprocess.run(
        [sys.executable, "-m", "diffband.bridge.cli", "accompany", str(source), "--with", "violin,guitar", "--steps", "4",
         "-o", str(tmp_path / "out")], cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("shorter than one model window") == 1
    for name in ("violin", "guitar", "mix"):
        audio, rate = sf.read(tmp_path / "out" / f"{name}.wav")
        assert rate == 44100 and audio.shape == (8820,) and peak(audio) <= CEILING


def test_cli_help_states_the_peak_rule():
    for technique in ("generate", "cross", "chorus", "accompany"):
        done = subprocess.run([sys.executable, "-m", "diffband.bridge.cli", technique, "--help"], cwd=REPO, capture_output=True, text=True)
        assert "-1 dBFS" in done.stdout, technique


def test_live_monitor_never_leaves_minus_one_dbfs():
    from tests.test_live_engine import RATE, drive

    from diffband.bridge.live import LiveEngine

    t = np.arange(RATE * 3) / RATE
    loud = (0.95 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    engine = LiveEngine(lambda window, rate: 0.9 * window, RATE, window_seconds=0.5, budget_seconds=0.25,
                        out_channels=1, monitor=True)
    out = drive(engine, loud)
    assert peak(out) <= CEILING and engine.stats.output_peak <= CEILING
