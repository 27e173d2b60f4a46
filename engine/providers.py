"""ONNX Runtime execution providers: which really work here, best first.

``onnxruntime-gpu`` lists CUDA and TensorRT in ``get_available_providers()`` even on
machines without a GPU or CUDA libraries; asking for them then logs errors and
silently falls back to CPU.  So a provider counts as usable only after a session
created with it reports it in ``get_providers()``.
"""

from __future__ import annotations

import io
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Iterator

import onnxruntime as ort

from diffband.engine.settings import setting

#: Best first.
PREFERENCE: tuple[str, ...] = (
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "CoreMLExecutionProvider",
    "DmlExecutionProvider",
    "CPUExecutionProvider",
)
DEVICE_NAMES: dict[str, str] = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "directml": "DmlExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
CPU = "CPUExecutionProvider"



class ProviderError(ValueError):
    """The requested device cannot be used with this onnxruntime build or machine."""


#: Providers that failed a real probe in this process; not tried again.
_unusable: dict[str, str] = {}


@contextmanager
def quiet_ort_logs() -> Iterator[None]:
    """Silence ORT's default logger and the "EP Error ... Falling back" banner its Python
    layer prints when a provider fails to load, for a block."""
    ort.set_default_logger_severity(4)
    try:
        with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
            yield
    finally:
        ort.set_default_logger_severity(setting("DIFFBAND_ORT_LOG_LEVEL"))


def session_options(threads: int | None = None) -> ort.SessionOptions:
    """Session options for inference: full graph optimisation, quiet logs, thread count."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    if threads is None:
        threads = setting("DIFFBAND_THREADS")
    if threads:
        options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # No per-session memory arena: with several instrument sessions each arena keeps its
    # own peak; without them activations are freed after every call.  Engine-only 30 s
    # accompany: 355 -> 273 MB peak RSS at batch 2, same wall time (DIFFBAND_ORT_ARENA=1 restores).
    options.enable_cpu_mem_arena = setting("DIFFBAND_ORT_ARENA")
    return options


#: Where TensorRT keeps its built engines and timing cache (built once per model and shape).
TRT_CACHE_ENV = "DIFFBAND_TRT_CACHE"


def provider_options(provider: str, cuda_graph: bool = False) -> dict[str, str]:
    """ONNX Runtime options for a GPU provider: TensorRT with its engine and timing caches
    on disk (the first session builds for minutes, later ones load in seconds; fp16
    kernels with ``DIFFBAND_TRT_FP16=1``), CUDA with exhaustive cuDNN algorithm search
    (shapes are static within a job) and, for the on-device loop, CUDA graphs."""
    if provider == "TensorrtExecutionProvider":
        cache = str(setting(TRT_CACHE_ENV))
        return {
            "trt_engine_cache_enable": "1",
            "trt_engine_cache_path": cache,
            "trt_timing_cache_enable": "1",
            "trt_timing_cache_path": cache,
            "trt_fp16_enable": "1" if setting("DIFFBAND_TRT_FP16") else "0",
        }
    if provider == "CUDAExecutionProvider":
        options = {"cudnn_conv_algo_search": "EXHAUSTIVE", "do_copy_in_default_stream": "1"}
        if cuda_graph:
            options["enable_cuda_graph"] = "1"
        return options
    return {}


def resolve_device(device: str | None) -> list[str]:
    """``None``/``"auto"`` -> all listed providers best first; ``"cuda"`` etc. -> that one."""
    listed = ort.get_available_providers()
    if device in (None, "", "auto"):
        return [p for p in PREFERENCE if p in listed] or [CPU]
    key = device.lower()
    provider = DEVICE_NAMES.get(key, device if device.endswith("ExecutionProvider") else None)
    if provider is None:
        raise ProviderError(f"unknown device {device!r}; choose auto or one of {sorted(DEVICE_NAMES)}")
    if provider not in listed:
        raise ProviderError(f"device {device!r} ({provider}) is not offered by this onnxruntime build (it has {listed})")
    return [provider]


def create_session(
    model: Path | str | bytes, device: str | None = None, threads: int | None = None, cuda_graph: bool = False
) -> ort.InferenceSession:
    """A session on the best provider that really loads, trying each candidate in turn.

    ``model`` is a file or serialised ONNX bytes.  With an explicit ``device`` other
    than cpu, failure to run there is an error rather than a silent CPU fallback.
    """
    candidates = resolve_device(device)
    options = session_options(threads)
    source = model if isinstance(model, bytes) else str(model)
    errors: list[str] = []
    for provider in candidates:
        if provider in _unusable and device in (None, "", "auto"):
            continue
        providers: list = [CPU]
        if provider != CPU:
            providers.insert(0, (provider, provider_options(provider, cuda_graph)))
        if provider == "TensorrtExecutionProvider" and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(1, ("CUDAExecutionProvider", provider_options("CUDAExecutionProvider")))  # what TensorRT cannot take
        try:
            with quiet_ort_logs():
                session = ort.InferenceSession(source, sess_options=options, providers=providers)
        except Exception as error:  # provider libraries missing, bad file, ...
            if provider == CPU:
                raise
            _unusable[provider] = str(error)
            errors.append(f"{provider}: {error}")
            continue
        if session.get_providers()[0] == provider:
            return session
        _unusable[provider] = f"fell back to {session.get_providers()[0]}"
        errors.append(f"{provider}: not usable on this machine ({_unusable[provider]})")
    if device not in (None, "", "auto"):
        raise ProviderError(f"device {device!r} is not usable here: " + "; ".join(errors))
    raise RuntimeError("no usable ONNX Runtime provider: " + "; ".join(errors))


def device_key(provider: str) -> str:
    """The ``--device`` name of a provider (``CUDAExecutionProvider`` -> ``cuda``)."""
    return next((key for key, name in DEVICE_NAMES.items() if name == provider), provider)
