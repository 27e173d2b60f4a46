"""Export a trained UNet to a diffband ONNX bundle, and check it against torch.

``export_run`` takes a training run folder (EMA weights + ``training.json``);
``import_diffusers`` takes a diffusers ``UNet2DModel`` directory in the layout of
the public audio-diffusion checkpoints (``unet/``, ``scheduler/``, ``mel/``).
"""

from __future__ import annotations

import json
import logging
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from diffusers import UNet2DModel

from diffband.engine.bundle import (
    INPUT_CONDITION, INPUT_SAMPLE, INPUT_TIMESTEP, OUTPUT_NOISE, PREFIX, BundleInfo, bundle_metadata, checked_pitch_range,
)
from diffband.engine.condition import ConditionSpec
from diffband.engine.mel import MelCodec
from diffband.engine.model import DiffusionModel, read_bundle_info
from diffband.engine.schedule import NoiseSchedule
from diffband.export.instruments import INSTRUMENTS
from diffband.export.precision import relocated, replace_metadata
from diffband.export.train import EMA_DIR, TRAINING_JSON

DEFAULT_OPSET = 18
MAX_ABS_ERROR = 1e-4


class ExportError(RuntimeError):
    """Export failed or the exported graph disagrees with torch."""


class _EpsilonGraph(torch.nn.Module):
    """``noise_pred = unet(sample, timestep)`` with plain tensor outputs."""

    def __init__(self, unet: UNet2DModel):
        super().__init__()
        self.unet = unet

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor) -> torch.Tensor:
        return self.unet(sample, timestep).sample


class _ConditionalEpsilonGraph(_EpsilonGraph):
    """``noise_pred = unet(concat(sample, condition), timestep)``: the condition is a graph input."""

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        return self.unet(torch.cat([sample, condition], dim=1), timestep).sample


def _example_inputs(shape: tuple[int, int], batch: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    sample = torch.randn((batch, 1, *shape), generator=generator)
    timestep = torch.randint(0, 1000, (batch,), generator=generator).float()
    return sample, timestep


def _example_condition(shape: tuple[int, int], batch: int, seed: int) -> torch.Tensor:
    """A condition-like input: values in [0, 1], the null value (-1) in the first sample."""
    condition = torch.rand((batch, 1, *shape), generator=torch.Generator().manual_seed(seed + 100))
    condition[0] = -1.0
    return condition


def export_unet(
    unet: UNet2DModel,
    out: Path,
    instrument: str,
    codec: MelCodec,
    schedule: NoiseSchedule,
    training: dict[str, Any],
    opset: int = DEFAULT_OPSET,
    max_abs_error: float = MAX_ABS_ERROR,
    condition: ConditionSpec | None = None,
    pitch_range: tuple[int, int] | None = None,
    verify: bool = True,
) -> dict[str, Any]:
    """Write ``out`` (one self-contained .onnx with metadata) and verify it; returns check figures.
    With ``condition`` the UNet takes two channels and the graph a ``condition`` input; ``pitch_range``
    (MIDI low, high) is the range the training melodies were kept within.  ``verify=False`` skips the
    ONNX Runtime check, for a throwaway graph only read for its structure."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    wanted = 1 if condition is None else 2
    if unet.config.in_channels != wanted:
        raise ExportError(f"the UNet takes {unet.config.in_channels} channels; a bundle with condition={condition} needs {wanted}")
    metadata = bundle_metadata(instrument, codec, schedule, training, condition=condition,  # validates before the slow export
                               pitch_range=pitch_range)
    sample, timestep = _example_inputs(codec.image_shape, 2, 0)
    batch = torch.export.Dim("batch", min=1, max=1024)
    inputs, names, dynamic = (sample, timestep), [INPUT_SAMPLE, INPUT_TIMESTEP], {"sample": {0: batch}, "timestep": {0: batch}}
    if condition is None:
        graph = _EpsilonGraph(unet.eval().float().cpu())
    else:
        graph = _ConditionalEpsilonGraph(unet.eval().float().cpu())
        inputs, names = (*inputs, _example_condition(codec.image_shape, 2, 0)), [*names, INPUT_CONDITION]
        dynamic["condition"] = {0: batch}
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in ("torch.onnx", "onnxscript", "torch._dynamo", "torch.export"):
            logging.getLogger(name).setLevel(logging.ERROR)
        raw = Path(tmp) / "model.onnx"
        try:
            torch.onnx.export(
                graph,
                inputs,
                str(raw),
                input_names=names,
                output_names=[OUTPUT_NOISE],
                dynamic_shapes=dynamic,
                opset_version=opset,
                dynamo=True,
                verbose=False,
            )
        except Exception as error:
            raise ExportError(f"torch.onnx.export failed: {error}") from error
        proto = onnx.load(str(raw), load_external_data=True)
    replace_metadata(proto, metadata)
    proto.producer_name = "diffband"
    onnx.checker.check_model(proto)
    onnx.save(proto, str(out))
    if not verify:
        return {"bytes": out.stat().st_size}
    return verify_against_torch(unet, out, max_abs_error)


@torch.no_grad()
def compare_with_torch(unet: UNet2DModel, bundle: Path) -> dict[str, Any]:
    """Run the bundle in ONNX Runtime (CPU) and torch on the same random inputs (conditions with a
    null one among them); their largest and mean relative difference, and the provider."""
    model = DiffusionModel.load(bundle, device="cpu")
    worst, difference, size = 0.0, 0.0, 0.0
    for batch, seed in ((1, 1), (3, 2)):
        sample, timestep = _example_inputs(model.info.image_shape, batch, seed)
        if model.info.condition is None:
            expected = unet(sample, timestep).sample.numpy()
            got = model(sample.numpy(), timestep.numpy())
        else:
            condition = _example_condition(model.info.image_shape, batch, seed)
            expected = unet(torch.cat([sample, condition], dim=1), timestep).sample.numpy()
            got = model(sample.numpy(), timestep.numpy(), condition.numpy())
        if got.shape != expected.shape:
            raise ExportError(f"ONNX output shape {got.shape} differs from torch {expected.shape}")
        worst = max(worst, float(np.max(np.abs(got - expected))))
        difference, size = difference + float(np.sum(np.abs(got - expected))), size + float(np.sum(np.abs(expected)))
    return {"max_abs_error": worst, "relative_error": difference / size, "provider": model.provider}


def verify_against_torch(unet: UNet2DModel, bundle: Path, max_abs_error: float = MAX_ABS_ERROR) -> dict[str, Any]:
    """:func:`compare_with_torch`, failing (and removing the bundle) above the bound."""
    result = compare_with_torch(unet, bundle)
    worst = result["max_abs_error"]
    if not worst <= max_abs_error:
        bundle.unlink(missing_ok=True)
        raise ExportError(f"ONNX Runtime disagrees with torch: max abs error {worst:.3g} > {max_abs_error:g}; bundle removed")
    return {"max_abs_error": worst, "provider": result["provider"], "bytes": bundle.stat().st_size}


#: What a bundle records of the run its training started from (``train --init-weights``).
PRIOR_RUN_FIELDS = ("steps", "batch_size", "device", "final_loss_mean_last_100", "dataset", "recovered_from")


def fine_tuned_from(init_weights: str | None, legs: int = 8) -> dict[str, Any]:
    """``{"init_weights": folder, "init_training": {...}}`` for a run that started from another run's
    weights (that run's own training record, when its ``training.json`` sits beside the folder, with
    its own ``init_training`` when it too continued a run: up to ``legs`` legs back), else ``{}``."""
    if not init_weights or legs < 1:
        return {}
    record: dict[str, Any] = {"init_weights": str(init_weights)}
    prior = Path(init_weights).parent / TRAINING_JSON
    if prior.exists():
        earlier = json.loads(prior.read_text())
        record["init_training"] = {k: earlier[k] for k in PRIOR_RUN_FIELDS if k in earlier}
        chain = fine_tuned_from(earlier.get("train_config", {}).get("init_weights"), legs - 1)
        if "init_training" not in chain and "init_training" in earlier:  # weights recovered from a bundle carry its chain inline
            chain = {k: earlier[k] for k in ("init_weights", "init_training") if k in earlier}
        record["init_training"].update(chain)
    return record


def recipe_pitch_range(instrument: str) -> tuple[int, int] | None:
    """The range ``data render`` keeps an instrument's melodies in (``export.instruments``), or None."""
    recipe = INSTRUMENTS.get(instrument)
    return (recipe.low, recipe.high) if recipe else None


def export_run(run_dir: Path, out: Path, instrument: str | None = None, opset: int = DEFAULT_OPSET,
               pitch_range: tuple[int, int] | None = None) -> dict[str, Any]:
    """Export the EMA weights of a training run folder; ``pitch_range`` defaults to the render
    recipe's range of the run's instrument (:func:`recipe_pitch_range`)."""
    run_dir = Path(run_dir)
    provenance_path = run_dir / TRAINING_JSON
    if not (run_dir / EMA_DIR).is_dir() or not provenance_path.exists():
        raise ExportError(f"{run_dir} is not a finished training run (needs {EMA_DIR}/ and {TRAINING_JSON}); run 'diffband train' first")
    provenance = json.loads(provenance_path.read_text())
    unet = UNet2DModel.from_pretrained(run_dir / EMA_DIR)
    codec = MelCodec.from_dict(provenance["codec"])
    schedule = NoiseSchedule.from_dict(provenance["noise_schedule"])
    training = {k: provenance[k] for k in provenance if k not in ("codec", "noise_schedule", "train_config", "condition")}
    training["weights"] = "EMA"
    training.update(fine_tuned_from(provenance.get("train_config", {}).get("init_weights")))
    condition = ConditionSpec.from_dict(provenance["condition"]) if "condition" in provenance else None
    name = instrument or provenance["instrument"]
    return export_unet(unet, out, name, codec, schedule, training, opset, condition=condition,
                       pitch_range=pitch_range or recipe_pitch_range(provenance["instrument"]))


def set_pitch_range(bundle: Path, out: Path, pitch_range: tuple[int, int]) -> BundleInfo:
    """Copy ``bundle`` to ``out`` (may be the same file) with its ``pitch_range`` set; returns the
    rewritten bundle's parsed metadata.  The graph is untouched."""
    proto = onnx.load(str(bundle))
    props = relocated({entry.key: entry.value for entry in proto.metadata_props}, bundle, out)
    props[PREFIX + "pitch_range"] = json.dumps(list(checked_pitch_range(pitch_range)))
    replace_metadata(proto, props)
    onnx.save(proto, str(out))
    return read_bundle_info(Path(out))


# ------------------------------------------------------------------ audio-diffusion import
def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


def import_diffusers(
    directory: Path,
    out: Path,
    instrument: str,
    mel_options: dict[str, Any] | None = None,
    opset: int = DEFAULT_OPSET,
    pitch_range: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """Import a diffusers ``UNet2DModel`` dir (audio-diffusion layout) as a bundle.

    Reads ``unet/`` (or the directory itself), ``scheduler/scheduler_config.json`` and
    ``mel/mel_config.json`` when present; ``mel_options`` fills or overrides the mel
    settings (keys: sample_rate, n_fft, hop_length, top_db).  audio-diffusion images
    are power mels scaled per slice to their peak (``ref=np.max``) over ``top_db``;
    the bundle records that as ``reference="peak"``.
    """
    directory = Path(directory)
    unet_dir = directory / "unet" if (directory / "unet").is_dir() else directory
    if not (unet_dir / "config.json").exists():
        raise ExportError(f"{directory} has no diffusers UNet (expected unet/config.json or config.json)")
    if (directory / "vqvae").is_dir():
        raise ExportError(f"{directory} is a latent audio-diffusion model (has vqvae/); only pixel-space UNets are supported")
    unet = UNet2DModel.from_pretrained(unet_dir)
    if unet.config.in_channels != 1 or unet.config.out_channels != 1:
        raise ExportError(f"{directory}: UNet has {unet.config.in_channels} input channels; a mel UNet has 1")
    mel = _read_json(directory / "mel" / "mel_config.json")
    mel.update(mel_options or {})
    sample_size = unet.config.sample_size
    height, width = (sample_size, sample_size) if isinstance(sample_size, int) else tuple(sample_size)
    height = int(mel.get("y_res", height))
    width = int(mel.get("x_res", width))
    top_db = float(mel.get("top_db", 80))
    codec = MelCodec(
        sample_rate=int(mel.get("sample_rate", 22050)),
        n_fft=int(mel.get("n_fft", 2048)),
        hop_length=int(mel.get("hop_length", 512)),
        n_mels=height,
        frames=width,
        power=2.0,
        mel_norm="slaney",
        db_min=-top_db,
        db_max=0.0,
        reference="peak",
    )
    scheduler = _read_json(directory / "scheduler" / "scheduler_config.json")
    schedule = NoiseSchedule(
        schedule=scheduler.get("beta_schedule", "linear"),
        num_train_timesteps=int(scheduler.get("num_train_timesteps", 1000)),
        beta_start=float(scheduler.get("beta_start", 1e-4)),
        beta_end=float(scheduler.get("beta_end", 0.02)),
    )
    if scheduler.get("prediction_type", "epsilon") != "epsilon":
        raise ExportError(f"{directory}: prediction type {scheduler['prediction_type']!r} is not supported (epsilon only)")
    training = {"imported_from": str(directory), "format": "diffusers UNet2DModel (audio-diffusion layout)"}
    return export_unet(unet, out, instrument, codec, schedule, training, opset, pitch_range=pitch_range)
