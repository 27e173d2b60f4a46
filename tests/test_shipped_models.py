"""The demo bundles shipped in models/: present, well-formed, combinable, and they make sound."""

from __future__ import annotations

import numpy as np
import pytest

from diffband.engine.generate import generate, images_to_audio
from diffband.engine.model import DiffusionModel, load_models
from tests.conftest import REPO

SHIPPED = ("guitar", "violin", "voice")
MODELS = REPO / "models"


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_bundle_is_described(name):
    info = DiffusionModel.load(MODELS / f"{name}.onnx", device="cpu").info
    assert info.instrument == name
    assert info.training["steps"] >= 500
    assert info.training["weights"] == "EMA"
    assert 4.0 < info.codec.window_seconds < 6.5


def test_shipped_bundles_fit_the_size_budget():
    total = sum(p.stat().st_size for p in MODELS.rglob("*.onnx"))  # bundles, their vocoder network, eval models
    assert total <= 40 * 1024 * 1024


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_bundles_decode_with_the_shipped_vocoder_network(name):
    model = DiffusionModel.load(MODELS / f"{name}.onnx", device="cpu")
    assert model.info.vocoder.name == model.vocoder.name == "magnitude-net"
    assert (MODELS / model.info.vocoder.network).resolve() == (MODELS / "vocoders" / "magnitude_net_tiny.onnx").resolve()


def test_shipped_models_combine_and_make_finite_audible_audio():
    models = load_models([str(MODELS / f"{n}.onnx") for n in SHIPPED], device="cpu")
    for model in models:
        [audio] = images_to_audio(model, generate(model, n=1, steps=10, seed=0))
        assert audio.shape == (model.info.codec.window_samples,)
        assert np.all(np.isfinite(audio))
        rms_db = 20 * np.log10(np.sqrt(np.mean(audio**2)) + 1e-12)
        assert -60 < rms_db < 0, f"{model.name}: {rms_db:.1f} dBFS"


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_double_layers_share_structure():
    """Layers branched from one intermediate correlate more than independent generations."""
    from diffband.engine.double import double

    guitar, violin = load_models([str(MODELS / "guitar.onnx"), str(MODELS / "violin.onnx")], device="cpu")
    layers = dict(double(guitar, [violin], steps=20, split=0.3, seed=0, n=3))
    paired = np.mean([_corr(layers["guitar"][i], layers["violin"][i]) for i in range(3)])
    independent_g = generate(guitar, n=3, steps=20, seed=1)
    independent_v = generate(violin, n=3, steps=20, seed=2)
    independent = np.mean([_corr(independent_g[i], independent_v[i]) for i in range(3)])
    assert paired > independent + 0.1, (paired, independent)


def test_main_job_accompanies_the_example_vocal(tmp_path):
    """The README's main command on the shipped models and example vocal."""
    import subprocess
    import sys

    import soundfile as sf

    result = subprocess.run(
        [sys.executable, "-m", "diffband.bridge.cli", "accompany", str(MODELS / "example_vocal.wav"), "--with", "violin,guitar",
         "-o", str(tmp_path), "--plot"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    vocal, rate = sf.read(MODELS / "example_vocal.wav")
    for name in ("violin", "guitar", "mix"):
        audio, out_rate = sf.read(tmp_path / f"{name}.wav")
        assert out_rate == rate and audio.shape == vocal.shape and np.all(np.isfinite(audio))
        assert 20 * np.log10(np.sqrt(np.mean(audio**2))) > -40, name
    assert (tmp_path / "accompany.png").stat().st_size > 10_000
