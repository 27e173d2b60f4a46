"""Training lowers the loss and resumes exactly; export writes a verified, self-describing bundle."""

from __future__ import annotations


import csv
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from diffusers import UNet2DModel

from diffband.engine.bundle import BundleError, check_compatible
from diffband.engine.mel import MelCodec
from diffband.engine.model import DiffusionModel
from diffband.engine.settings import setting
from diffband.engine.vocoders import VocoderSpec
from diffband.engine.schedule import NoiseSchedule
from diffband.export.onnx_export import ExportError, export_run, export_unet, import_diffusers, verify_against_torch
from diffband.export.train import CHECKPOINT, EMA_DIR, min_snr_weights, train
from diffband.export.train_config import TrainConfig
from tests.conftest import TINY_STEPS


def read_losses(run: Path) -> list[float]:
    with open(run / "losses.csv") as handle:
        return [float(row["loss"]) for row in csv.DictReader(handle)]


def test_training_lowers_the_loss_and_writes_its_artifacts(tiny_run):
    losses = read_losses(tiny_run)
    assert len(losses) == TINY_STEPS
    assert np.mean(losses[-6:]) < 0.8 * np.mean(losses[:3])
    provenance = json.loads((tiny_run / "training.json").read_text())
    assert provenance["steps"] == TINY_STEPS and provenance["loss"] == "l1"
    assert provenance["dataset"]["windows"] == 2
    for name in ("loss.png", "checkpoint.pt", f"{EMA_DIR}/config.json"):
        assert (tiny_run / name).exists(), name
    assert list((tiny_run / "samples").glob("*.png")) and list((tiny_run / "samples").glob("*.wav"))


def _config(dataset: Path, out: Path, steps: int) -> TrainConfig:
    return TrainConfig(
        dataset=str(dataset), instrument="guitar", out=str(out), steps=steps, batch_size=2,
        warmup_steps=2, checkpoint_every=3, num_samples=1, sample_steps=2, threads=1, max_minutes=0,
    )


def test_min_snr_weights_match_diffusers_snr_and_change_the_loss(tmp_path, tiny_dataset):
    from diffusers import DDPMScheduler
    from diffusers.training_utils import compute_snr

    schedule = NoiseSchedule("squaredcos_cap_v2", 1000)
    reference = DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2")
    t = torch.arange(1000)
    expected = torch.clamp(compute_snr(reference, t), max=5.0) / compute_snr(reference, t)
    weights = min_snr_weights(torch.tensor(schedule.alphas_cumprod, dtype=torch.float32), 5.0)
    torch.testing.assert_close(weights, expected.float(), rtol=1e-4, atol=1e-6)
    assert weights[0] < 0.01 and weights[-1] == 1.0  # the least noisy steps weigh least
    plain, weighted = _config(tiny_dataset, tmp_path / "plain", 3), _config(tiny_dataset, tmp_path / "weighted", 3)
    weighted.snr_gamma = 5.0
    train(plain)
    train(weighted)
    assert json.loads((tmp_path / "weighted" / "training.json").read_text())["snr_gamma"] == 5.0
    assert read_losses(tmp_path / "weighted") != pytest.approx(read_losses(tmp_path / "plain"), rel=1e-3)


def test_resume_continues_exactly_where_the_checkpoint_stopped(tmp_path, tiny_dataset):
    straight = tmp_path / "straight"
    train(_config(tiny_dataset, straight, 8))
    resumed = tmp_path / "resumed"
    first = _config(tiny_dataset, resumed, 8)
    first.max_minutes = 1e-9  # stop after the first step, as an interrupted run would
    train(first)
    assert json.loads((resumed / "training.json").read_text())["steps"] == 1
    train(_config(tiny_dataset, resumed, 8))
    assert json.loads((resumed / "training.json").read_text())["steps"] == 8
    assert read_losses(resumed) == pytest.approx(read_losses(straight), rel=1e-5)
    a = torch.load(straight / CHECKPOINT, weights_only=False)["model"]
    b = torch.load(resumed / CHECKPOINT, weights_only=False)["model"]
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)


def test_resume_refuses_a_different_run(tmp_path, tiny_run, tiny_dataset):
    config = _config(tiny_dataset, tiny_run, 30)
    config.config = "small"
    with pytest.raises(ValueError, match="belongs to another run"):
        train(config)


def test_init_weights_starts_a_run_from_given_weights_and_refuses_another_architecture(tmp_path, tiny_run, tiny_dataset,
                                                                                       conditional_dataset):
    given = UNet2DModel.from_pretrained(tiny_run / EMA_DIR).state_dict()
    out = tmp_path / "finetune"
    # learning rate 0: one step changes nothing, so the run's weights and its EMA are the given ones
    train(TrainConfig(dataset=str(tiny_dataset), instrument="guitar", out=str(out), steps=1, batch_size=2, learning_rate=0.0,
                      warmup_steps=0, checkpoint_every=0, num_samples=1, sample_steps=2, threads=1,
                      init_weights=str(tiny_run / EMA_DIR)))
    started = UNet2DModel.from_pretrained(out / EMA_DIR).state_dict()
    assert all(torch.equal(given[k], started[k]) for k in given)
    assert json.loads((out / "training.json").read_text())["train_config"]["init_weights"] == str(tiny_run / EMA_DIR)
    # the bundle says where its training started, and how that run was trained
    export_run(out, tmp_path / "finetune.onnx")
    training = DiffusionModel.load(tmp_path / "finetune.onnx").info.training
    earlier = json.loads((tiny_run / "training.json").read_text())
    assert training["init_weights"] == str(tiny_run / EMA_DIR) and training["steps"] == 1
    assert training["init_training"]["steps"] == earlier["steps"] and training["init_training"]["device"] == earlier["device"]
    # a second leg from the fine-tune: the bundle records both legs before it
    train(TrainConfig(dataset=str(tiny_dataset), instrument="guitar", out=str(tmp_path / "leg2"), steps=1, batch_size=2,
                      learning_rate=0.0, warmup_steps=0, checkpoint_every=0, num_samples=1, sample_steps=2, threads=1,
                      init_weights=str(out / EMA_DIR)))
    export_run(tmp_path / "leg2", tmp_path / "leg2.onnx")
    chain = DiffusionModel.load(tmp_path / "leg2.onnx").info.training["init_training"]
    assert (chain["steps"], chain["init_weights"], chain["init_training"]["steps"]) == (1, str(tiny_run / EMA_DIR), earlier["steps"])

    with pytest.raises(ValueError, match="another architecture.*in_channels: 1 vs 2"):
        train(TrainConfig(dataset=str(conditional_dataset), instrument="guitar", out=str(tmp_path / "cond"), steps=1,
                          batch_size=2, checkpoint_every=0, threads=1, condition="basic-pitch",
                          init_weights=str(tiny_run / EMA_DIR)))
    with pytest.raises(FileNotFoundError, match="no config.json"):
        train(TrainConfig(dataset=str(tiny_dataset), instrument="guitar", out=str(tmp_path / "none"), steps=1,
                          batch_size=2, checkpoint_every=0, threads=1, init_weights=str(tmp_path)))


def test_unet_refuses_a_geometry_it_cannot_downsample():
    from diffband.export.unet import build_unet

    with pytest.raises(ValueError, match=r"image shape \(64, 100\) must be divisible by 8"):
        build_unet("tiny", (64, 100))


def test_exported_bundle_metadata_reads_back(tiny_bundle, tiny_run, tiny_codec):
    model = DiffusionModel.load(tiny_bundle, device="cpu")
    info = model.info
    assert info.instrument == "guitar" and info.format_version == 1
    # the bundle records its codec and vocoder; the runtime uses its faster Griffin-Lim setting
    assert info.codec == tiny_codec
    assert info.vocoder == VocoderSpec("griffin-lim", griffin_lim_iters=32, nnls_iters=100)
    assert info.vocoder.at_runtime().griffin_lim_iters == setting("DIFFBAND_GL_ITERS")
    assert info.schedule == NoiseSchedule()
    assert info.prediction_type == "epsilon"
    assert info.training["steps"] == TINY_STEPS and info.training["weights"] == "EMA"
    props = {p.key: p.value for p in onnx.load(str(tiny_bundle)).metadata_props}
    assert len(json.loads(props["diffband.betas"])) == 1000
    assert json.loads(props["diffband.image_shape"]) == list(tiny_codec.image_shape)


def test_exported_bundle_matches_torch_for_any_batch(tiny_bundle, tiny_run):
    unet = UNet2DModel.from_pretrained(tiny_run / EMA_DIR).eval()
    model = DiffusionModel.load(tiny_bundle, device="cpu")
    for batch in (1, 5):
        x = np.random.default_rng(batch).standard_normal((batch, 1, 64, 96), dtype=np.float32)
        t = np.linspace(0, 999, batch).astype(np.float32)
        with torch.no_grad():
            expected = unet(torch.from_numpy(x), torch.from_numpy(t)).sample.numpy()
        assert np.max(np.abs(model(x, t) - expected)) < 1e-4
    assert verify_against_torch(unet, tiny_bundle)["max_abs_error"] < 1e-4


def test_export_fails_when_onnx_disagrees_with_torch(tmp_path, tiny_bundle, tiny_run):
    unet = UNet2DModel.from_pretrained(tiny_run / EMA_DIR).eval()
    with torch.no_grad():
        unet.conv_out.bias += 0.01  # torch now differs from the exported graph
    copy = tmp_path / "copy.onnx"
    copy.write_bytes(tiny_bundle.read_bytes())
    with pytest.raises(ExportError, match="max abs error"):
        verify_against_torch(unet, copy)
    assert not copy.exists()


def test_corrupt_file_is_refused(tmp_path):
    path = tmp_path / "violin.onnx"
    path.write_bytes(b"\x08\x07this is not a protobuf" * 10)
    with pytest.raises(BundleError, match="not a readable ONNX model"):
        DiffusionModel.load(path)


def test_foreign_onnx_is_refused(tmp_path):
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Identity", ["sample"], ["noise_pred"])],
        "foreign",
        [onnx.helper.make_tensor_value_info("sample", onnx.TensorProto.FLOAT, [1, 4])],
        [onnx.helper.make_tensor_value_info("noise_pred", onnx.TensorProto.FLOAT, [1, 4])],
    )
    path = tmp_path / "foreign.onnx"
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 18)], ir_version=10)
    onnx.save(model, str(path))
    with pytest.raises(BundleError, match="not a diffband bundle"):
        DiffusionModel.load(path)


def test_bundle_with_tampered_betas_is_refused(tmp_path, tiny_bundle):
    proto = onnx.load(str(tiny_bundle))
    for prop in proto.metadata_props:
        if prop.key == "diffband.betas":
            prop.value = json.dumps([0.5] * 1000)
    path = tmp_path / "tampered.onnx"
    onnx.save(proto, str(path))
    with pytest.raises(BundleError, match="betas do not match"):
        DiffusionModel.load(path)


def test_models_with_different_audio_parameters_are_not_combined(tiny_bundle, tmp_path):
    info = DiffusionModel.load(tiny_bundle, device="cpu").info
    other = type(info)(tmp_path / "other.onnx", "violin", MelCodec(hop_length=512, frames=96), info.schedule)
    with pytest.raises(BundleError, match=r"different audio parameters \(hop_length: 1024 vs 512\)"):
        check_compatible([info, other])
    check_compatible([info, info])


def test_import_audio_diffusion_layout(tmp_path):
    """A diffusers UNet2DModel dir with unet/, scheduler/ and mel/ configs imports as a bundle."""
    source = tmp_path / "audio-diffusion-tiny"
    unet = UNet2DModel(
        sample_size=32, in_channels=1, out_channels=1, block_out_channels=(16, 32), layers_per_block=1,
        down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"), norm_num_groups=8,
    )
    unet.save_pretrained(source / "unet")
    (source / "scheduler").mkdir()
    (source / "scheduler" / "scheduler_config.json").write_text(
        json.dumps({"_class_name": "DDPMScheduler", "beta_schedule": "linear", "num_train_timesteps": 1000})
    )
    (source / "mel").mkdir()
    (source / "mel" / "mel_config.json").write_text(
        json.dumps({"x_res": 32, "y_res": 32, "sample_rate": 22050, "n_fft": 2048, "hop_length": 512, "top_db": 80})
    )
    out = tmp_path / "imported.onnx"
    result = import_diffusers(source, out, "piano")
    assert result["max_abs_error"] < 1e-4
    info = DiffusionModel.load(out, device="cpu").info
    assert info.instrument == "piano" and info.codec.reference == "peak"
    assert info.codec.image_shape == (32, 32) and info.codec.hop_length == 512 and info.codec.db_min == -80
    assert info.schedule.schedule == "linear"
    # Mel options override what the directory says.
    (source / "mel" / "mel_config.json").unlink()
    import_diffusers(source, out, "piano", {"hop_length": 256, "sample_rate": 16000})
    info = DiffusionModel.load(out, device="cpu").info
    assert info.codec.hop_length == 256 and info.codec.sample_rate == 16000


def test_import_refuses_non_unet_dirs(tmp_path):
    with pytest.raises(ExportError, match="no diffusers UNet"):
        import_diffusers(tmp_path, tmp_path / "x.onnx", "piano")


def test_export_refuses_bad_instrument_name(tmp_path, tiny_run):
    unet = UNet2DModel.from_pretrained(tiny_run / EMA_DIR)
    with pytest.raises(BundleError, match="instrument name"):
        export_unet(unet, tmp_path / "x.onnx", "../evil", MelCodec(), NoiseSchedule(), {})
