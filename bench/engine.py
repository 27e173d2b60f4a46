"""Engine benchmark: ONNX Runtime vs torch eager on the same weights, in one run.

Times (a) one UNet call and (b) a whole ``accompany`` of one window with two
instruments at 20 DDIM steps (vocoder included), once with the engine's ONNX
Runtime sessions and once with the same pipeline calling the torch UNet, and
appends the medians, ratios and real-time factors to ``bench/RESULTS.md``.

    python -m bench.engine --model guitar --torch-weights models/torch/guitar

Needs the ``[train]`` extra (torch, diffusers) for the torch side.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Callable

import numpy as np

from engine.accompany import accompany
from engine.model import DiffusionModel, find_bundle

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


class TorchModel:
    """The torch UNet behind the engine's model interface (``info``, ``name``, ``__call__``)."""

    def __init__(self, weights: Path, bundle: DiffusionModel, threads: int | None):
        import torch
        from diffusers import UNet2DModel

        if threads:
            torch.set_num_threads(threads)
        self.torch = torch
        self.unet = UNet2DModel.from_pretrained(weights).eval()
        self.info = bundle.info
        self.name = bundle.name

    def __call__(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        with self.torch.inference_mode():
            sample = self.torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
            timestep = self.torch.from_numpy(np.asarray(t, dtype=np.float32))
            return self.unet(sample, timestep).sample.numpy()


def median_seconds(fn: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def append_results(path: Path, text: str) -> None:
    """Append one run's section to the results file (created with a header) and print it."""
    path = Path(path)
    if not path.exists():
        path.write_text("# Benchmark results\n\nAppended by the `bench` commands; each section is one run.\n\n")
    with open(path, "a") as handle:
        handle.write(text + "\n")
    print(text)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs ({cpu})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="guitar", help="shipped bundle name or path")
    parser.add_argument("--torch-weights", default="models/torch/guitar", help="diffusers UNet2DModel folder with the same weights")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=0, help="threads for both runtimes (0: each one's default)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=20, help="repeats of the single UNet call")
    parser.add_argument("--job-repeats", type=int, default=3, help="repeats of the whole accompany job")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)

    onnx_model = DiffusionModel.load(find_bundle(args.model), device=args.device, threads=args.threads or None)
    torch_model = TorchModel(Path(args.torch_weights), onnx_model, args.threads or None)
    codec = onnx_model.info.codec
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 1, *codec.image_shape), dtype=np.float32)
    t = np.array([500], dtype=np.float32)
    worst = float(np.max(np.abs(onnx_model(x, t) - torch_model(x, t))))

    unet_ort = median_seconds(lambda: onnx_model(x, t), args.repeats)
    unet_torch = median_seconds(lambda: torch_model(x, t), args.repeats)

    seconds = codec.window_seconds
    t_axis = np.arange(codec.window_samples) / codec.sample_rate
    vocal = (0.3 * np.sin(2 * np.pi * 220 * t_axis) * (1 + np.sin(2 * np.pi * 3 * t_axis)) / 2).astype(np.float32)

    def job(model) -> Callable[[], object]:
        return lambda: accompany(vocal, codec.sample_rate, [model, model], strength=1.0, steps=args.steps, seed=0)

    job_ort = median_seconds(job(onnx_model), args.job_repeats, warmup=1)
    job_torch = median_seconds(job(torch_model), args.job_repeats, warmup=1)

    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## {stamp} — {onnx_model.name} on {onnx_model.provider}",
        "",
        f"- machine: {machine()}; threads: {args.threads or 'runtime default'}",
        f"- model: `{onnx_model.info.path}` ({codec.image_shape[0]}x{codec.image_shape[1]} mel, {seconds:.2f} s window); "
        f"ONNX vs torch max abs diff on this input: {worst:.1e}",
        f"- job: accompany one {seconds:.2f} s window with two instruments, {args.steps} DDIM steps from pure noise "
        "(strength 1, so every step runs), band-pass, loudness match, Griffin-Lim vocoder included",
        "",
        "| measure | ONNX Runtime (engine) | torch eager | torch / engine |",
        "|---|---|---|---|",
        f"| one UNet call, batch 1 (median of {args.repeats}) | {unet_ort * 1e3:.2f} ms | {unet_torch * 1e3:.2f} ms | {unet_torch / unet_ort:.2f}x |",
        f"| accompany job (median of {args.job_repeats}) | {job_ort:.3f} s | {job_torch:.3f} s | {job_torch / job_ort:.2f}x |",
        f"| real-time factor of the job (time / audio) | {job_ort / seconds:.3f} | {job_torch / seconds:.3f} | |",
        "",
    ]
    append_results(Path(args.out), "\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
