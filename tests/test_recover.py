"""``diffband export --to-diffusers``: a bundle's UNet back as diffusers weights, to fine-tune it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from diffusers import UNet2DModel

from diffband.bridge.cli import main
from diffband.engine.model import DiffusionModel, read_bundle_info
from diffband.export.onnx_export import fine_tuned_from

MODELS = Path(__file__).resolve().parents[1] / "models"


def predictions(unet: UNet2DModel, bundle: Path) -> tuple[np.ndarray, np.ndarray]:
    """The recovered UNet's and the bundle's noise predictions on the same noisy images and conditions."""
    rng = np.random.default_rng(7)
    model = DiffusionModel.load(bundle, device="cpu")
    shape = (3, 1, *model.info.image_shape)
    sample = rng.standard_normal(shape).astype(np.float32)
    condition = rng.random(shape).astype(np.float32)
    timestep = np.array([10.0, 400.0, 900.0], dtype=np.float32)
    with torch.no_grad():
        mine = unet(torch.from_numpy(np.concatenate([sample, condition], axis=1)), torch.from_numpy(timestep)).sample.numpy()
    return mine, model(sample, timestep, condition)


def test_an_fp32_bundle_comes_back_with_its_exact_weights(conditional_bundle, tmp_path, capsys):
    out = tmp_path / "recovered"
    assert main(["export", "--from-bundle", str(conditional_bundle), "--to-diffusers", "--out", str(out)]) == 0
    assert "train --init-weights" in capsys.readouterr().out
    unet = UNet2DModel.from_pretrained(out / "unet_ema").eval()
    mine, theirs = predictions(unet, conditional_bundle)
    np.testing.assert_allclose(mine, theirs, atol=1e-4)
    record = json.loads((out / "training.json").read_text())
    info = read_bundle_info(conditional_bundle)
    assert record["steps"] == info.training["steps"] and record["recovered_from"].startswith("condguitar.onnx (fp32")


def test_the_shipped_int8_violin_comes_back_dequantized_and_keeps_its_training_chain(tmp_path):
    """What fine-tuning a shipped bundle starts from: within int8's error of the bundle, and a run
    started from it records every earlier leg."""
    bundle = MODELS / "violin.onnx"
    out = tmp_path / "violin"
    assert main(["export", "--from-bundle", str(bundle), "--to-diffusers", "--out", str(out)]) == 0
    mine, theirs = predictions(UNet2DModel.from_pretrained(out / "unet_ema").eval(), bundle)
    assert np.mean(np.abs(mine - theirs)) / np.mean(np.abs(mine)) < 0.05  # activation rounding of the int8 graph only
    shipped = read_bundle_info(bundle).training
    chain = fine_tuned_from(str(out / "unet_ema"))
    assert chain["init_training"]["recovered_from"].startswith("violin.onnx (int8")
    assert chain["init_training"]["steps"] == shipped["steps"]
    assert chain["init_training"]["init_training"] == shipped["init_training"]


def test_to_diffusers_refuses_other_options(conditional_bundle, tmp_path, capsys):
    assert main(["export", "--from-bundle", str(conditional_bundle), "--to-diffusers", "--fp16", "--out", str(tmp_path / "x")]) == 1
    assert "--to-diffusers recovers the UNet of --from-bundle" in capsys.readouterr().err
    assert main(["export", "--to-diffusers", "--out", str(tmp_path / "x")]) == 1
    assert not (tmp_path / "x").exists()
