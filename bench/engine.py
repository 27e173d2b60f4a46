"""Shared pieces of the benchmarks (``python -m bench``, ``python -m bench.live_window``):
the torch UNet behind the engine's model interface, timing, machine description, and
the results file.  (``python -m bench.engine``, the first ORT-vs-torch benchmark, was
folded into ``python -m bench``; its runs stay in ``bench/RESULTS.md``.)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

from diffband.engine.condition import null_conditions
from diffband.engine.model import DiffusionModel, load_models

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


class TorchModel:
    """The torch UNet behind the engine's model interface (``info``, ``name``, ``__call__``)."""

    def __init__(self, weights: Path, bundle: DiffusionModel, threads: int | None, device: str = "cpu"):
        import torch
        from diffusers import UNet2DModel

        if threads:
            torch.set_num_threads(threads)
        self.torch = torch
        self.device = torch.device(device)
        self.unet = UNet2DModel.from_pretrained(weights).eval().to(self.device)
        self.info = bundle.info
        self.name = bundle.name
        self.bundle = bundle

    def decode(self, images: np.ndarray) -> np.ndarray:
        """The bundle's vocoder as the engine runs it (the torch way has no vocoder of its own)."""
        return self.bundle.decode(images)

    def unet_input(self, x: np.ndarray, condition: np.ndarray | None = None) -> np.ndarray:
        """What the UNet itself takes: a conditional one gets ``concat(sample, condition)``
        (the null condition when none is given), as its exported graph does."""
        if self.info.condition is None:
            return x
        if condition is None:
            condition = null_conditions(self.info.condition, self.info.image_shape, x.shape[0])
        return np.concatenate([x, condition], axis=1)

    def __call__(self, x: np.ndarray, t: np.ndarray, condition: np.ndarray | None = None) -> np.ndarray:
        """As ``DiffusionModel.__call__``, on :meth:`unet_input`."""
        x = self.unet_input(x, condition)
        with self.torch.inference_mode():
            sample = self.torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(self.device)
            timestep = self.torch.from_numpy(np.asarray(t, dtype=np.float32)).to(self.device)
            return self.unet(sample, timestep).sample.cpu().numpy()


def median_seconds(fn: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def heldout_parser(doc: str, pairs: tuple[str, ...], clips: int, pairs_help: str | None = None,
                   heldout_help: str = "held-out renders as `eval quality` uses them") -> argparse.ArgumentParser:
    """The arguments every bench that reads held-out windows takes: ``--heldout``, ``--pairs`` (default
    ``pairs``), ``--clips`` (default ``clips``) and ``--out`` (``bench/RESULTS.md``)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--heldout", type=Path, default=Path("data/heldout_eval"), help=heldout_help)
    parser.add_argument("--pairs", default=",".join(pairs), help=pairs_help)
    parser.add_argument("--clips", type=int, default=clips)
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser


def pair_bench_setup(doc: str, pairs: tuple[str, ...], clips: int, argv: list[str] | None = None
                     ) -> tuple[argparse.Namespace, list[tuple[str, str]], dict]:
    """A bench over source:target pairs: its arguments (:func:`heldout_parser`), the pairs as
    ``(source, target)`` and the target models by name, loaded on the CPU."""
    args = heldout_parser(doc, pairs, clips, pairs_help="source:target pairs").parse_args(argv)
    chosen = [tuple(p.split(":")) for p in args.pairs.split(",")]
    models = {m.name: m for m in load_models(sorted({target for _, target in chosen}), device="cpu")}
    return args, chosen, models


def fresh_process_json(script: str, *args: object, timeout: float = 1800) -> dict:
    """Run ``script`` (Python source) with ``args`` in a fresh interpreter from the repository root, so
    its memory and imports are its own; the JSON object its last line prints."""
    result = subprocess.run([sys.executable, "-c", script, *map(str, args)], cwd=RESULTS.parent.parent,
                            capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


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
