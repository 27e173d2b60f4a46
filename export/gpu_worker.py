"""The torch side of the GPU command, run by ``export.gpu`` in processes of their own.

    python -m diffband.export.gpu_worker export RUN BUNDLE RESULT.json [--fp16]  # bundle + ONNX Runtime vs torch check
    python -m diffband.export.gpu_worker time RESULT.json RUN=BUNDLE ... # torch on the GPU: UNet, generate, cross

``time`` is the reference a GPU engine must beat: the torch UNet (the run's EMA weights)
inside the engine's sampler and vocoder, as ``python -m bench`` runs it, on CUDA when
torch sees a GPU.  It first checks the bundle against torch on that device.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import numpy as np
import torch

from bench.engine import TorchModel, median_seconds
from diffband.engine.cross import cross
from diffband.engine.defaults import DEFAULT_STEPS, DEFAULT_STRENGTH
from diffband.engine.generate import generate
from diffband.engine.model import DiffusionModel
from diffband.export.fp16 import convert_bundle_to_fp16
from diffband.export.onnx_export import export_run
from diffband.export.train import EMA_DIR

#: Torch on the GPU (TF32 off) against the bundle in ONNX Runtime (CPU): a wrong weight or
#: graph shows as errors of order 1, float32 kernels of different order stay far below this.
DEVICE_CHECK_MAX_ABS_ERROR = 1e-3
FILE_RATE = 44100


def _write(path: Path, result: dict) -> None:
    Path(path).write_text(json.dumps(result, indent=1))


def export_one(run: Path, bundle: Path, fp16: bool = False) -> dict:
    """Export the run's EMA weights to ``bundle``; :func:`export_run` fails when ONNX
    Runtime and torch disagree above its bound.  With ``fp16`` also ``NAME.fp16.onnx``
    beside it (what comes back from the machine), checked against the fp32 bundle; a
    failed conversion is reported as ``fp16_error``, the fp32 bundle kept."""
    result = export_run(run, bundle)
    summary = {"bundle": str(bundle), "bytes": result["bytes"], "max_abs_error": result["max_abs_error"],
               "provider": result["provider"]}
    if fp16:
        half = bundle.with_suffix(".fp16.onnx")
        try:
            converted = convert_bundle_to_fp16(bundle, half)
        except Exception as error:  # reported; the fp32 bundle is still timed
            return summary | {"fp16_error": f"{type(error).__name__}: {error}"}
        summary |= {"fp16_bundle": str(half), "fp16_bytes": converted["bytes"], "fp16_max_abs_error": converted["max_abs_error"]}
    return summary


def device_description(device: torch.device) -> dict:
    info = {"torch": torch.__version__, "device": str(device), "machine": platform.platform()}
    if device.type == "cuda":
        info |= {"name": torch.cuda.get_device_name(device), "cuda": torch.version.cuda,
                 "cudnn": torch.backends.cudnn.version()}
    return info


def check_on_device(model: TorchModel, bundle: DiffusionModel) -> float:
    """Max abs difference of torch on its device (strict float32) and the bundle."""
    x = np.random.default_rng(7).standard_normal((2, 1, *bundle.info.image_shape), dtype=np.float32)
    t = np.array([10.0, 900.0], dtype=np.float32)
    conv, matmul = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        return float(np.max(np.abs(model(x, t) - bundle(x, t))))
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = conv, matmul


def tone(seconds: float, rate: int) -> np.ndarray:
    """A gliding, swelling tone: the input of the cross timings (its content does not change the cost)."""
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * (196 + 40 * t / seconds) * t) * (0.6 + 0.4 * np.cos(2 * np.pi * 2 * t))).astype(np.float32)


def time_one(run: Path, bundle_path: Path, device: torch.device, repeats: int, file_seconds: float,
             steps: int = DEFAULT_STEPS, batch: int = 16) -> dict:
    """Median seconds of the torch UNet and of generate/cross with it, on ``device``."""
    bundle = DiffusionModel.load(bundle_path, device="cpu")
    model = TorchModel(run / EMA_DIR, bundle, None, str(device))
    error = check_on_device(model, bundle)
    if not error <= DEVICE_CHECK_MAX_ABS_ERROR:
        raise RuntimeError(f"torch on {device} disagrees with {bundle_path.name}: max abs error {error:.3g}")
    codec = bundle.info.codec
    rng = np.random.default_rng(0)
    one = rng.standard_normal((1, 1, *codec.image_shape), dtype=np.float32)
    many = rng.standard_normal((batch, 1, *codec.image_shape), dtype=np.float32)
    many_t = np.full(batch, 500.0, dtype=np.float32)
    mid = np.array([500.0], dtype=np.float32)

    unet_input = model.unet_input(many)

    def bf16_call():
        with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16):
            sample = torch.from_numpy(unet_input).to(device)
            timestep = torch.from_numpy(many_t).to(device)
            return model.unet(sample, timestep).sample.float().cpu().numpy()

    window, long = tone(codec.window_seconds, codec.sample_rate), tone(file_seconds, FILE_RATE)
    warmup = 1 if repeats > 1 else 0
    rows = [
        ("UNet call, batch 1, float32", 0.0, lambda: model(one, mid), repeats * 5),
        (f"UNet call, batch {batch}, float32", 0.0, lambda: model(many, many_t), repeats * 2),
        (f"UNet call, batch {batch}, bf16 autocast", 0.0, bf16_call, repeats * 2),
        (f"generate, 1 window, {steps} DDIM steps (images)", 0.0, lambda: generate(model, 1, steps), repeats),
        (f"cross, one {codec.window_seconds:.2f} s window (audio)", codec.window_seconds,
         lambda: cross(window, codec.sample_rate, model, DEFAULT_STRENGTH, steps), repeats),
        (f"cross, {file_seconds:g} s file at {FILE_RATE} Hz (audio)", file_seconds,
         lambda: cross(long, FILE_RATE, model, DEFAULT_STRENGTH, steps), max(1, repeats // 2)),
    ]
    timings = [{"measure": name, "audio_seconds": seconds, "seconds": median_seconds(fn, reps, warmup)}
               for name, seconds, fn, reps in rows]
    result = {"instrument": bundle.info.instrument, "device_max_abs_error": error, "timings": timings,
              "strength": DEFAULT_STRENGTH, "steps": steps}
    if device.type == "cuda":
        result["peak_gpu_memory_mb"] = torch.cuda.max_memory_allocated(device) / 1e6
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m diffband.export.gpu_worker", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="action", required=True)
    p = sub.add_parser("export", help="one run -> bundle, checked against torch")
    p.add_argument("run", type=Path)
    p.add_argument("bundle", type=Path)
    p.add_argument("result", type=Path)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--fp16", action="store_true", help="also write the fp16 bundle BUNDLE.fp16.onnx")
    p = sub.add_parser("time", help="torch timings of runs with their bundles, one after the other")
    p.add_argument("result", type=Path)
    p.add_argument("pairs", nargs="+", help="RUN=BUNDLE")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--file-seconds", type=float, default=30.0)
    p.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="sampler steps of generate and cross")
    p.add_argument("--batch", type=int, default=16, help="batch of the larger UNet calls")
    args = parser.parse_args(argv)
    if args.action == "export":
        if args.threads:
            torch.set_num_threads(args.threads)
        _write(args.result, export_one(args.run, args.bundle, args.fp16))
        return 0
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    results = []
    for pair in args.pairs:
        run, bundle = pair.split("=", 1)
        try:
            results.append(time_one(Path(run), Path(bundle), device, args.repeats, args.file_seconds, args.steps, args.batch))
        except Exception as error:  # one instrument's failure is reported, the others still run
            results.append({"run": run, "error": f"{type(error).__name__}: {error}"})
            print(f"{run}: {results[-1]['error']}", file=sys.stderr)
        _write(args.result, {"device": device_description(device), "instruments": results})
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
