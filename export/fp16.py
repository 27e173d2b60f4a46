"""Half-precision bundles: an fp32 bundle's graph converted to fp16, checked against it.

Weights and activations become float16 (half the file, Tensor Cores on a GPU); the
graph's ``sample``/``timestep`` inputs and ``noise_pred`` output stay float32
(``keep_io_types``), so the engine feeds both kinds alike.  The conversion is
onnxconverter-common's; ONNX Runtime's own copy of it
(``onnxruntime.transformers.float16``) writes duplicate node names and breaks the
topological order on our dynamo-exported graphs.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnxconverter_common.float16 import convert_float_to_float16

from diffband.engine.model import DiffusionModel
from diffband.export.precision import relocated, set_metadata

#: Largest |eps_fp16 - eps_fp32| accepted on the check inputs.  Measured on the shipped
#: models: 1.0e-3 - 1.4e-3 at t = 10, 500, 990 for |eps| ~ 1 (CPU, 2026-11-24).
MAX_ABS_ERROR_FP16 = 1e-2
CHECK_TIMESTEPS = (10.0, 500.0, 990.0)


class Fp16Error(RuntimeError):
    """The conversion failed or the fp16 graph strays too far from the fp32 one."""


def convert_bundle_to_fp16(src: Path, out: Path, max_abs_error: float = MAX_ABS_ERROR_FP16) -> dict[str, Any]:
    """Write ``out``: the fp16 version of bundle ``src`` (metadata kept, precision set),
    then compare the two in ONNX Runtime; ``out`` is removed when they disagree."""
    src, out = Path(src), Path(out)
    reference = DiffusionModel.load(src, device="cpu")
    if reference.info.precision != "fp32":
        raise Fp16Error(f"{src} is already a {reference.info.precision} bundle")
    proto = onnx.load(str(src))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "float32 number ... truncated to 1e-07", once per tiny weight
        half = convert_float_to_float16(proto, keep_io_types=True)
    set_metadata(half, relocated({p.key: p.value for p in half.metadata_props}, src, out), "fp16")
    onnx.checker.check_model(half)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=out.parent, suffix=".onnx", delete=False) as tmp:
        staged = Path(tmp.name)
    try:
        onnx.save(half, str(staged))
        worst = compare_bundles(reference, DiffusionModel.load(staged, device="cpu"))
        if not worst <= max_abs_error:
            raise Fp16Error(f"fp16 graph disagrees with {src}: max abs error {worst:.3g} > {max_abs_error:g}; nothing written")
        umask = os.umask(0)
        os.umask(umask)
        staged.chmod(0o666 & ~umask)  # a bundle like any file the user writes (mkstemp made it 0600)
        staged.replace(out)
    finally:
        staged.unlink(missing_ok=True)
    return {"max_abs_error": worst, "bytes": out.stat().st_size, "fp32_bytes": src.stat().st_size}


def compare_bundles(reference: DiffusionModel, candidate: DiffusionModel, seed: int = 0) -> float:
    """Largest |eps| difference of two models on random samples at :data:`CHECK_TIMESTEPS`."""
    rng = np.random.default_rng(seed)
    sample = rng.standard_normal((2, 1, *reference.info.image_shape), dtype=np.float32)
    worst = 0.0
    for t in CHECK_TIMESTEPS:
        timestep = np.full((2,), t, dtype=np.float32)
        difference = candidate(sample, timestep) - reference(sample, timestep)
        worst = max(worst, float(np.max(np.abs(difference))))
    return worst
