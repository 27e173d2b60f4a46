"""Recover a bundle's UNet as diffusers weights, so a shipped bundle can be fine-tuned
(``diffband export --to-diffusers BUNDLE --out RUN``, then ``diffband train --init-weights RUN/unet_ema``).

A bundle keeps the UNet's weights as ONNX initializers: under their torch names where the
exporter kept them (convolutions; an int8 bundle as ``NAME_quantized`` with its scale and
zero point), under anonymous names for the rest (group-norm affines, attention matrices,
stored transposed).  The map from torch name to initializer comes from exporting a fresh
UNet of the bundle's recorded size, its every parameter a distinct random value, with the
same exporter and finding each value among that export's initializers; a bundle made by a
different exporter whose graph does not match is refused by name.  int8 weights come back
dequantized (their 7-bit rounding stays).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from diffusers import UNet2DModel
from onnx import numpy_helper

from diffband.engine.bundle import BundleInfo
from diffband.engine.model import read_bundle_info
from diffband.export.onnx_export import ExportError, compare_with_torch, export_unet
from diffband.export.train import EMA_DIR, TRAINING_JSON
from diffband.export.unet import build_unet


def float_initializers(path: Path) -> dict[str, np.ndarray]:
    """A graph's initializers as float32, int8/int32 ones dequantized under their unquantized name."""
    stored = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer}
    out: dict[str, np.ndarray] = {}
    for name, array in stored.items():
        if name.endswith("_quantized"):
            base = name[: -len("_quantized")]
            scale = stored.get(f"{name}_scale", stored.get(f"{base}_scale"))
            zero = stored.get(f"{name}_zero_point", stored.get(f"{base}_zero_point"))
            if scale is None or zero is None:
                continue
            shape = [-1] + [1] * (array.ndim - 1) if scale.ndim == 1 and array.ndim > 1 else list(scale.shape)
            value = (array.astype(np.float32) - zero.astype(np.float32).reshape(shape)) * scale.astype(np.float32).reshape(shape)
            out.setdefault(base, value)
        elif np.issubdtype(array.dtype, np.floating):
            out[name] = array.astype(np.float32)  # a float copy wins over a dequantized one
    return out


def _locate(value: np.ndarray, reference: dict[str, np.ndarray], torch_name: str) -> tuple[str, bool]:
    """The initializer holding ``value`` in the fresh export: (name, stored transposed)."""
    if torch_name in reference and reference[torch_name].size == value.size and np.array_equal(
            reference[torch_name].reshape(value.shape), value):
        return torch_name, False
    for name, array in reference.items():
        if array.size != value.size:
            continue
        if np.array_equal(array.reshape(value.shape), value):
            return name, False
        if array.ndim == 2 and array.T.shape == value.shape and np.array_equal(array.T, value):
            return name, True
    raise ExportError(f"parameter {torch_name} is not among the exported graph's initializers")


def recover_unet(bundle: Path) -> tuple[UNet2DModel, BundleInfo]:
    """The bundle's UNet with its weights, and what the bundle's metadata says."""
    info = read_bundle_info(Path(bundle))
    size = info.training.get("config")
    if not size:
        raise ExportError(f"{bundle} does not record its UNet size (training.config); only bundles 'diffband train' made can be recovered")
    unet = build_unet(size, info.image_shape, conditional=info.condition is not None)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in unet.parameters():  # distinct values, so each is found in exactly one place
            parameter.copy_(0.02 * torch.randn(parameter.shape, generator=generator))
    probe = {name: p.detach().numpy().copy() for name, p in unet.named_parameters()}
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "fresh.onnx"
        export_unet(unet, fresh, info.instrument, info.codec, info.schedule, {}, condition=info.condition,
                    pitch_range=info.pitch_range, verify=False)
        reference = float_initializers(fresh)
    weights = float_initializers(Path(bundle))
    state: dict[str, torch.Tensor] = {}
    for name, value in probe.items():
        where, transposed = _locate(value, reference, f"unet.{name}")
        if where not in weights or weights[where].size != value.size:
            raise ExportError(f"{bundle}'s graph differs from a fresh export of a {size!r} UNet (no {where}); "
                              "it was made by another exporter")
        array = weights[where].T if transposed else weights[where]
        state[name] = torch.from_numpy(np.ascontiguousarray(array.reshape(value.shape)))
    unet.load_state_dict(state)
    return unet.eval(), info


def write_run(bundle: Path, out: Path) -> dict[str, Any]:
    """``out/unet_ema`` (diffusers folder) and ``out/training.json`` (the bundle's training record,
    so a run started from it records the whole chain); returns the check against the bundle."""
    unet, info = recover_unet(bundle)
    out = Path(out)
    unet.save_pretrained(out / EMA_DIR)
    record = dict(info.training) | {"recovered_from": f"{Path(bundle).name} ({info.precision} weights)"}
    (out / TRAINING_JSON).write_text(json.dumps(record, indent=1))
    return compare_with_torch(unet, Path(bundle))
