"""The learned timbre embedding (``timbre-cnn``): its features, a tiny training run exported to
ONNX and read back by ONNX Runtime, and the errors a user sees for a wrong file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from diffband.evaluation.fad import fad
from diffband.evaluation.timbre_cnn import N_MELS, WINDOW_FRAMES, TimbreCnn, windows
from tests.conftest import REPO

RATE = 22050


def tone(f0: float, seconds: float, harmonics: np.ndarray, rate: int = RATE) -> np.ndarray:
    """A steady tone with the given harmonic amplitudes and a short fade in and out."""
    t = np.arange(int(seconds * rate)) / rate
    y = sum(a * np.sin(2 * np.pi * f0 * (h + 1) * t) for h, a in enumerate(harmonics) if f0 * (h + 1) < rate / 2)
    fade = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.05)
    return (0.3 * y * fade / np.max(np.abs(y))).astype(np.float32)


#: Two synthetic "instruments" over the same notes: only the spectrum's shape tells them apart.
TIMBRES = {"bright": 1.0 / np.arange(1, 16), "hollow": np.array([1.0 if h % 2 == 0 else 0.0 for h in range(15)]) / np.arange(1, 16) ** 2}


def test_windows_are_level_free_and_skip_silence():
    y = tone(220.0, 2.0, TIMBRES["bright"])
    loud, quiet = windows(y, RATE), windows(0.01 * y, RATE)
    assert loud.shape[1:] == (1, N_MELS, WINDOW_FRAMES) and loud.dtype == np.float32
    np.testing.assert_allclose(loud, quiet, atol=1e-3)  # each window scaled to its own peak
    padded = np.concatenate([y, np.zeros(3 * RATE, np.float32)])  # three seconds of silence after the tone
    assert len(windows(padded, RATE)) < len(windows(np.concatenate([y, y, y]), RATE))


@pytest.fixture(scope="module")
def tiny_timbre_model(tmp_path_factory) -> Path:
    from diffband.bridge.cli import main

    root = tmp_path_factory.mktemp("timbre")
    rng = np.random.default_rng(0)
    for name, harmonics in TIMBRES.items():
        for split, pitches in (("train", rng.uniform(45, 80, 16)), ("heldout", rng.uniform(45, 80, 3))):
            folder = root / split / name
            folder.mkdir(parents=True)
            for k, midi in enumerate(pitches):
                sf.write(folder / f"{k}.wav", tone(440.0 * 2 ** ((midi - 69) / 12), 3.0, harmonics), RATE)
    out = root / "timbre.onnx"
    assert main(["eval", "train-timbre", str(root / "train"), "--heldout", str(root / "heldout"), "--out", str(out),
                 "--epochs", "4", "--batch-size", "32", "--step-frames", "11", "--threads", "1",
                 "--through-vocoder", str(REPO / "models" / "violin.onnx")]) == 0
    # every file also went through the bundle's vocoder, into a cache beside its folder, at the codec's rate
    for folder in ("train", "heldout"):
        for name in TIMBRES:
            made = sorted((root / f"{folder}_vocoded" / name).glob("*.wav"))
            assert [p.name for p in made] == sorted(p.name for p in (root / folder / name).glob("*.wav"))
            audio, rate = sf.read(made[0])
            assert rate == 22050 and np.isfinite(audio).all() and np.abs(audio).max() > 0.01
    return out


def test_a_tiny_timbre_model_tells_the_instruments_apart_in_onnx_runtime(tiny_timbre_model):
    model = TimbreCnn.from_file(tiny_timbre_model)
    assert model.classes == ["bright", "hollow"] and model.summary["heldout_accuracy"] > 0.9
    assert len(model.summary["data"]) == 2  # the renders and their vocoded copies
    notes = [52.0, 61.5, 77.0]  # pitches no training file had
    clips = {name: [tone(440.0 * 2 ** ((m - 69) / 12), 2.0, h) for m in notes] for name, h in TIMBRES.items()}
    for label, name in enumerate(model.classes):
        for clip in clips[name]:
            assert int(np.argmax(model.classify(clip, RATE))) == label
    embedded = {name: np.concatenate([model(c, RATE) for c in cs]) for name, cs in clips.items()}
    assert embedded["bright"].shape[1] == model.summary["embedding_dims"] == 16
    more_bright = np.concatenate([model(tone(440.0 * 2 ** ((m - 69) / 12), 2.0, TIMBRES["bright"]), RATE) for m in (55.0, 70.0)])
    assert fad(embedded["bright"], more_bright) < fad(embedded["hollow"], more_bright)


def test_a_missing_or_foreign_timbre_model_is_a_clear_error(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    with pytest.raises(FileNotFoundError, match="eval train-timbre"):
        TimbreCnn.from_file(tmp_path / "nope.onnx")
    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1]) for n in ("x", "y")]
    foreign = helper.make_model(helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", io[:1], io[1:]))
    onnx.save(foreign, str(tmp_path / "foreign.onnx"))  # a valid model, not a timbre model (e.g. a diffusion bundle)
    with pytest.raises(ValueError, match="not a diffband timbre model"):
        TimbreCnn.from_file(tmp_path / "foreign.onnx")


def test_a_vocoded_copy_is_not_mixed_with_another_vocoders(tiny_timbre_model, tiny_bundle, tmp_path):
    """The cache says what made it; a bundle with another vocoder (or codec) must not add to it,
    and a folder of copies that says nothing is not trusted either."""
    from diffband.evaluation.timbre_train import VOCODED_STAMP, vocoded_copy

    cache = tiny_timbre_model.parent / "heldout_vocoded"
    assert json.loads((cache / VOCODED_STAMP).read_text())["vocoder"]["name"] == "magnitude-net"
    with pytest.raises(ValueError, match="another codec or vocoder"):
        vocoded_copy(tiny_timbre_model.parent / "heldout", str(tiny_bundle), cache)
    unstamped = tmp_path / "old_vocoded"
    (unstamped / "bright").mkdir(parents=True)
    with pytest.raises(ValueError, match="do not say what made them"):
        vocoded_copy(tiny_timbre_model.parent / "heldout", str(REPO / "models" / "violin.onnx"), unstamped)
