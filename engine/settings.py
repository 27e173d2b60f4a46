"""Every ``DIFFBAND_*`` environment variable, in one table.

Settings a host rarely changes (tuning, caches, debugging) are read from the
environment; each one is declared here with its type, default and meaning, read
through :func:`setting`, and listed in ``docs/configuration.md`` (a test checks the
two agree).  Nothing else in diffband reads a ``DIFFBAND_*`` variable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Setting:
    name: str
    kind: type  # int, str, bool (``"1"`` is true) or Path
    default: Any
    meaning: str


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in [
        Setting("DIFFBAND_MODELS", str, "", "folders searched for bundles by name (`:`-separated), before ./models"),
        Setting("DIFFBAND_THREADS", int, 0, "ONNX Runtime intra-op threads per session when no --threads is given "
                "(0: ONNX Runtime's default)"),
        Setting("DIFFBAND_MAX_BATCH", int, 2, "largest batch one session call gets on the CPU (GPU: 64)"),
        Setting("DIFFBAND_GL_ITERS", int, 16, "Griffin-Lim iterations of the runtime vocoder"),
        Setting("DIFFBAND_ORT_ARENA", bool, False, "1: ONNX Runtime's CPU memory arena on (faster allocation, more memory)"),
        Setting("DIFFBAND_ORT_LOG_LEVEL", int, 3, "ONNX Runtime log severity (0 verbose .. 4 fatal)"),
        Setting("DIFFBAND_DEVICE_LOOP", str, "", "1: the on-device DDIM loop on every provider, 0: never; unset: on GPUs only"),
        Setting("DIFFBAND_CUDA_GRAPH", bool, False, "1: capture the on-device loop as CUDA graphs"),
        Setting("DIFFBAND_TRT_CACHE", Path, Path.home() / ".cache" / "diffband" / "tensorrt",
                "folder of TensorRT engine and timing caches"),
        Setting("DIFFBAND_TRT_FP16", bool, False, "1: TensorRT may use fp16 kernels"),
        Setting("DIFFBAND_DEBUG", bool, False, "1: the CLI shows full tracebacks (as --debug)"),
    ]
}


def setting(name: str) -> Any:
    """The value of ``name`` from the environment, or its default; a bad value raises ValueError naming it."""
    spec = SETTINGS[name]
    raw = os.environ.get(name, "")
    if raw == "":
        return spec.default
    if spec.kind is bool:
        return raw == "1"
    try:
        return spec.kind(raw)
    except ValueError:
        raise ValueError(f"${name} must be {spec.kind.__name__}, got {raw!r} ({spec.meaning})") from None
