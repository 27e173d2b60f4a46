"""Int8 bundles for CPUs: an fp32 bundle's convolutions quantized by ONNX Runtime's static
quantizer (QDQ format: per-channel weights in 7 bits, ``reduce_range``, so CPUs without
VNNI cannot saturate their u8 x s8 sums; uint8 activations), calibrated on the
inputs the UNet sees when it runs: windows of a prepared dataset noised to timesteps
across the schedule, half with their melody condition and half with the null one (the
two halves of classifier-free guidance).

Convolutions are ~3/4 of the UNet's CPU time; ONNX Runtime runs them as int8 kernels
(the first and last stay float: the most sensitive, and cheap).  Inputs and output stay float32, so the engine feeds
an int8 bundle as any other.  The quality this costs is measured by ``eval quality``
(bench/RESULTS.md), never assumed.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from diffband.engine.bundle import INPUT_CONDITION, INPUT_SAMPLE, INPUT_TIMESTEP
from diffband.engine.condition import null_conditions
from diffband.engine.model import DiffusionModel
from diffband.export.data_prepare import load_conditions, load_dataset
from diffband.export.precision import relocated, set_metadata

#: Calibration inputs per bundle (one UNet call each) and the share checked after quantizing.
CALIBRATION_COUNT = 128
#: Largest mean |eps_int8 - eps_fp32| / mean |eps_fp32| accepted on the check inputs: a gate
#: against a broken graph, not the quality measure (``eval quality`` is).  Measured: 0.025-0.030
#: for the shipped models, 0.095 for CI's 6-step model (untrained weights quantize worse).
MAX_RELATIVE_ERROR_INT8 = 0.2


class Int8Error(RuntimeError):
    """The quantization failed or the int8 graph strays too far from the fp32 one."""


def calibration_inputs(model: DiffusionModel, dataset_dir: Path, count: int, seed: int = 0,
                       part: tuple[int, int] = (0, 1)) -> list[dict[str, np.ndarray]]:
    """``count`` feeds of one window each: dataset windows noised to timesteps spread over the
    schedule; a conditional model gets the window's own condition for half of them, the null one
    for the other half.  ``part`` (k, n): windows are drawn from the k-th of n interleaved shares
    of the dataset, so the calibration and the check never share a window."""
    images, manifest, codec = load_dataset(dataset_dir)
    if tuple(manifest["image_shape"]) != model.info.image_shape or codec != model.info.codec:
        raise Int8Error(f"{dataset_dir} was prepared with another mel codec than {model.name}'s")
    if manifest.get("instrument") not in (None, model.info.instrument):
        raise Int8Error(f"{dataset_dir} holds {manifest['instrument']} windows; {model.name} is a {model.info.instrument} model")
    conditions = load_conditions(dataset_dir, manifest) if model.info.condition is not None else None
    if model.info.condition is not None and conditions is None:
        raise Int8Error(f"{model.name} follows notes but {dataset_dir} has no condition images (prepare it with a condition)")
    # the same drawing of the notes (extractor, placement, harmonics, loudness); dropout is the training's own
    if conditions is not None and replace(conditions[1], dropout=model.info.condition.dropout) != model.info.condition:
        raise Int8Error(f"{dataset_dir}'s conditions were drawn as {conditions[1]}; {model.name} follows {model.info.condition}")
    rng = np.random.default_rng(seed)
    share = np.arange(part[0], len(images), part[1])
    if share.size == 0:
        raise Int8Error(f"{dataset_dir} has too few windows to calibrate on")
    picks = rng.choice(share, size=count, replace=share.size < count)
    schedule = model.info.schedule
    timesteps = np.linspace(0, schedule.num_train_timesteps - 1, count).round().astype(np.int64)
    feeds = []
    for k, (index, t) in enumerate(zip(picks, rng.permutation(timesteps))):
        clean = np.asarray(images[index], dtype=np.float32)[None, None]
        noise = rng.standard_normal(clean.shape, dtype=np.float32)
        feed = {INPUT_SAMPLE: schedule.add_noise(clean, noise, int(t)).astype(np.float32),
                INPUT_TIMESTEP: np.array([t], dtype=np.float32)}
        if conditions is not None:
            feed[INPUT_CONDITION] = (np.asarray(conditions[0][index], dtype=np.float32)[None, None] if k % 2 == 0
                                     else null_conditions(model.info.condition, model.info.image_shape, 1))
        feeds.append(feed)
    return feeds


class _Feeds(CalibrationDataReader):
    def __init__(self, feeds: list[dict[str, np.ndarray]]):
        self._feeds = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)


def relative_error(reference: DiffusionModel, candidate: DiffusionModel, feeds: list[dict[str, np.ndarray]]) -> float:
    """Mean |eps difference| over mean |eps| of two models on ``feeds``."""
    difference = total = 0.0
    for feed in feeds:
        args = (feed[INPUT_SAMPLE], feed[INPUT_TIMESTEP], feed.get(INPUT_CONDITION))
        eps = reference(*args)
        difference += float(np.abs(candidate(*args) - eps).mean())
        total += float(np.abs(eps).mean())
    return difference / total


def quantize_bundle_int8(src: Path, out: Path, dataset_dir: Path, count: int = CALIBRATION_COUNT, seed: int = 0,
                         max_relative_error: float = MAX_RELATIVE_ERROR_INT8) -> dict[str, Any]:
    """Write ``out``: bundle ``src`` with int8 convolutions, calibrated on ``dataset_dir`` (the
    instrument's prepared dataset), metadata kept and precision set; checked against ``src`` on
    other inputs from the same dataset, and removed when it strays more than ``max_relative_error``."""
    src, out = Path(src), Path(out)
    reference = DiffusionModel.load(src, device="cpu")
    if reference.info.precision != "fp32":
        raise Int8Error(f"{src} is a {reference.info.precision} bundle; quantize its fp32 bundle")
    feeds = calibration_inputs(reference, dataset_dir, count, seed, part=(0, 2))
    checks = calibration_inputs(reference, dataset_dir, max(8, count // 8), seed + 1, part=(1, 2))
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as scratch:
        prepared, quantized = Path(scratch) / "prepared.onnx", Path(scratch) / "int8.onnx"
        quant_pre_process(str(src), str(prepared), skip_symbolic_shape=True)
        convs = [node.name for node in onnx.load(str(prepared)).graph.node if node.op_type == "Conv"]
        if len(convs) < 3:
            raise Int8Error(f"{src} has {len(convs)} convolutions; int8 keeps the first and last float, nothing would be quantized")
        quantize_static(str(prepared), str(quantized), _Feeds(feeds), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True, reduce_range=True,
                        op_types_to_quantize=["Conv"], nodes_to_exclude=[convs[0], convs[-1]])
        proto = onnx.load(str(quantized))
        set_metadata(proto, relocated(dict(reference.session.get_modelmeta().custom_metadata_map), src, out), "int8")
        onnx.save(proto, str(quantized))
        error = relative_error(reference, DiffusionModel.load(quantized, device="cpu"), checks)
        if not error <= max_relative_error:
            raise Int8Error(f"int8 graph disagrees with {src}: relative eps error {error:.3g} > {max_relative_error:g}; "
                            "nothing written")
        quantized.replace(out)  # onnx.save created it as any file the user writes
    return {"relative_error": error, "bytes": out.stat().st_size, "fp32_bytes": src.stat().st_size,
            "calibration": {"dataset": str(dataset_dir), "count": count, "seed": seed}}
