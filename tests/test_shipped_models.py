"""The demo bundles shipped in models/: present, well-formed, combinable, and they make sound."""

from __future__ import annotations

import numpy as np
import pytest

from engine.generate import generate, images_to_audio
from engine.model import DiffusionModel, load_models
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
    total = sum(p.stat().st_size for p in MODELS.glob("*.onnx"))
    assert total <= 40 * 1024 * 1024


def test_shipped_models_combine_and_make_finite_audible_audio():
    models = load_models([str(MODELS / f"{n}.onnx") for n in SHIPPED], device="cpu")
    for model in models:
        [audio] = images_to_audio(model, generate(model, n=1, steps=10, seed=0))
        assert audio.shape == (model.info.codec.window_samples,)
        assert np.all(np.isfinite(audio))
        rms_db = 20 * np.log10(np.sqrt(np.mean(audio**2)) + 1e-12)
        assert -60 < rms_db < 0, f"{model.name}: {rms_db:.1f} dBFS"
