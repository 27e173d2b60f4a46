"""A loaded instrument model: an ONNX Runtime session plus its bundle metadata."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort

from diffband.engine.bundle import (
    INPUT_CONDITION,
    INPUT_SAMPLE,
    INPUT_TIMESTEP,
    OUTPUT_NOISE,
    BundleError,
    BundleInfo,
    check_compatible,
    parse_metadata,
)
from diffband.engine.condition import ConditionError, null_conditions
from diffband.engine.device_loop import DeviceLoop, fused_step_graph, wants_device_loop
from diffband.engine.providers import ProviderError, create_session, device_key, resolve_device
from diffband.engine.settings import setting
from diffband.engine.vocoders import VOCODERS, Vocoder

BUNDLE_SUFFIX = ".onnx"
#: The runtime vocoder's Griffin-Lim iterations are ``DIFFBAND_GL_ITERS`` (16; bundles record the
#: training-time 32).  16 with momentum (fast Griffin-Lim, engine/stft.py): 35 % less decode time,
#: spectral convergence 0.053 vs 0.039 and mfcc-stats FAD to real violin within 1.2 % (bench/RESULTS.md, 2026-11-24).
#: The largest batch one session call gets on CPU is ``DIFFBAND_MAX_BATCH`` (2).  Measured on the 2-core CPU
#: (30 s accompany, two instruments): batch 1/2/4 all take the same time, while peak RSS grows with the batch
#: (264/273/292 MB without ORT arenas, 301/355/430 MB with them).
GPU_MAX_BATCH = 64


class DiffusionModel:
    """Callable ``eps = model(x, t)`` for ``x: (B, 1, n_mels, frames)``, ``t: (B,)``; a conditional
    bundle also takes ``condition`` like ``x`` (its null condition when none is given)."""

    def __init__(
        self, info: BundleInfo, session: ort.InferenceSession, max_batch: int | None = None, threads: int | None = None
    ):
        self.info = info
        self.session = session
        self.threads = threads
        self._device_loop: DeviceLoop | None = None
        self._vocoder: Vocoder | None = None
        on_cpu = session.get_providers()[0] == "CPUExecutionProvider"
        self.max_batch = max_batch or (setting("DIFFBAND_MAX_BATCH") if on_cpu else GPU_MAX_BATCH)
        names = {i.name for i in session.get_inputs()}
        if names != info.graph_inputs:
            raise BundleError(f"{info.path}: graph inputs {sorted(names)} are not ({', '.join(sorted(info.graph_inputs))})")

    @classmethod
    def load(cls, path: Path | str, device: str | None = None, threads: int | None = None) -> "DiffusionModel":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"model file not found: {path}")
        try:
            session = create_session(path, device=device, threads=threads)
        except ProviderError:
            raise
        except Exception as error:  # onnxruntime raises its own types for corrupt protobufs
            raise BundleError(f"{path} is not a readable ONNX model: {str(error).splitlines()[0][:200]}") from None
        info = parse_metadata(session.get_modelmeta().custom_metadata_map, path)
        return cls(info, session, threads=threads)

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def provider(self) -> str:
        return self.session.get_providers()[0]

    @property
    def device_loop(self) -> DeviceLoop | None:
        """The on-device DDIM loop (engine/device_loop.py) when this provider uses one; built
        on first use from the bundle's graph with the update step appended.  Conditional bundles
        run the numpy loop (the fused graph feeds no condition)."""
        if not wants_device_loop(self.provider) or self.info.condition is not None:
            return None
        if self._device_loop is None:
            graph, device = fused_step_graph(self.info.path), device_key(self.provider)
            session = None
            if setting("DIFFBAND_CUDA_GRAPH") and self.provider != "CPUExecutionProvider":
                try:  # capture needs every node on the GPU; otherwise run without graphs
                    session = create_session(graph, device=device, threads=self.threads, cuda_graph=True)
                except Exception as error:
                    warnings.warn(f"CUDA graphs unavailable for {self.name} ({str(error).splitlines()[0][:160]}); running without")
            cuda_graph = session is not None
            if session is None:
                session = create_session(graph, device=device, threads=self.threads)
            self._device_loop = DeviceLoop(self, session, cuda_graph=cuda_graph)
        return self._device_loop

    @property
    def vocoder(self) -> Vocoder:
        """The bundle's vocoder, at the runtime's settings: its ONNX implementation on this model's
        device with the on-device loop, else numpy + scipy.fft (faster on a CPU)."""
        if self._vocoder is None:
            spec = self.info.vocoder.at_runtime().located(self.info.path.parent)
            implementations = VOCODERS[spec.name]
            if wants_device_loop(self.provider) and "onnx" in implementations:
                def make_session(graph: bytes):
                    return create_session(graph, device=device_key(self.provider), threads=self.threads)

                self._vocoder = implementations["onnx"](self.info.codec, spec, make_session, self.max_batch)
            else:
                self._vocoder = implementations["numpy"](self.info.codec, spec)
        return self._vocoder

    def decode(self, images: np.ndarray) -> np.ndarray:
        """Window images ``(k, n_mels, frames)`` -> audio ``(k, samples)`` with :attr:`vocoder`."""
        if len(images) == 0:
            return np.zeros((0, self.info.codec.window_samples), dtype=np.float32)
        return self.vocoder(images)

    def __call__(self, x: np.ndarray, t: np.ndarray, condition: np.ndarray | None = None) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        feeds = {INPUT_SAMPLE: x, INPUT_TIMESTEP: np.ascontiguousarray(np.broadcast_to(t, (x.shape[0],)), dtype=np.float32)}
        spec = self.info.condition
        if spec is None and condition is not None:
            raise ConditionError(f"model {self.name} has no condition channel; use follow off")
        if spec is not None:
            condition = null_conditions(spec, self.info.image_shape, x.shape[0]) if condition is None else condition
            feeds[INPUT_CONDITION] = np.ascontiguousarray(condition, dtype=np.float32)
            if feeds[INPUT_CONDITION].shape != x.shape:
                raise ValueError(f"condition shape {condition.shape} differs from the sample's {x.shape}")
        if x.shape[0] <= self.max_batch:
            return self.session.run([OUTPUT_NOISE], feeds)[0]
        out = np.empty_like(x)
        for start in range(0, x.shape[0], self.max_batch):
            part = slice(start, start + self.max_batch)
            out[part] = self.session.run([OUTPUT_NOISE], {name: value[part] for name, value in feeds.items()})[0]
        return out


class Guided:
    """Classifier-free guidance as a denoiser ``(x, t) -> eps`` for the one loop (``engine.denoise``):
    ``eps = eps_null + scale * (eps_cond - eps_null)``, both halves in one batched model call.

    ``condition`` is ``(k, 1, n_mels, frames)``; a batch of several lanes (``n * k``) repeats it.
    Scale 0 runs only the null condition (bit-identical to follow off), scale 1 only the condition.
    It has no ``device_loop``: guided lanes run the numpy loop."""

    def __init__(self, model: DiffusionModel, condition: np.ndarray, scale: float):
        if model.info.condition is None:
            raise ConditionError(f"model {model.name} has no condition channel; use follow off")
        self.model, self.condition, self.scale = model, np.asarray(condition, dtype=np.float32), float(scale)
        self.info = model.info

    @property
    def name(self) -> str:
        return self.model.name

    def _conditions(self, batch: int) -> np.ndarray:
        repeats, rest = divmod(batch, self.condition.shape[0])
        if rest:
            raise ValueError(f"a batch of {batch} does not repeat {self.condition.shape[0]} conditions")
        return np.tile(self.condition, (repeats, 1, 1, 1))

    def __call__(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        if self.scale == 0.0:
            return self.model(x, t)
        condition = self._conditions(x.shape[0])
        if self.scale == 1.0:
            return self.model(x, t, condition)
        null = null_conditions(self.info.condition, self.info.image_shape, x.shape[0])
        t = np.broadcast_to(t, (x.shape[0],))
        both = self.model(np.concatenate([x, x]), np.concatenate([t, t]), np.concatenate([null, condition]))
        unconditioned, conditioned = both[: x.shape[0]], both[x.shape[0] :]
        return unconditioned + np.float32(self.scale) * (conditioned - unconditioned)


def model_dirs() -> list[Path]:
    """Where bundles are looked up by name: ``$DIFFBAND_MODELS`` (os.pathsep list), then ./models."""
    dirs = [Path(p) for p in setting("DIFFBAND_MODELS").split(os.pathsep) if p]
    dirs.append(Path("models"))
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file():  # a source checkout's shipped models; never site-packages
        dirs.append(checkout / "models")
    unique: list[Path] = []
    for d in dirs:
        if d.resolve() not in [u.resolve() for u in unique]:
            unique.append(d)
    return unique


def find_bundle(name: str) -> Path:
    """A bundle path from a name (``violin``) or a path (``models/violin.onnx``)."""
    candidate = Path(name)
    if candidate.suffix == BUNDLE_SUFFIX or os.sep in name:
        if candidate.is_file():
            return candidate
        raise FileNotFoundError(f"model file not found: {name}")
    for folder in model_dirs():
        path = folder / f"{name}{BUNDLE_SUFFIX}"
        if path.is_file():
            return path
    searched = ", ".join(str(d) for d in model_dirs())
    available = sorted({p.stem for d in model_dirs() if d.is_dir() for p in d.glob(f"*{BUNDLE_SUFFIX}")})
    raise FileNotFoundError(
        f"no model named {name!r} (looked in {searched}); available: {', '.join(available) or 'none'}"
    )


def threads_per_model(count: int) -> int | None:
    """Intra-op threads for ``count`` models that run concurrently: the cores shared out
    (None = ONNX Runtime's default, for a single model).  Measured on 2 cores: two
    instruments on one-thread sessions side by side took 0.30 s where two-thread
    sessions one after the other took 0.44 s (bench/RESULTS.md)."""
    if count <= 1:
        return None
    return max(1, (os.cpu_count() or 1) // count)


def load_models(names: list[str], device: str | None = None, threads: int | None = None) -> list[DiffusionModel]:
    """Load bundles by name or path and check they can be combined."""
    resolve_device(device)  # a bad --device fails before any file is read
    models = [DiffusionModel.load(find_bundle(n), device=device, threads=threads) for n in names]
    check_compatible([m.info for m in models])
    for model in models:  # a missing or altered vocoder network fails before any work, not at the first decode
        if model.info.vocoder.network:
            model.vocoder  # built now (its network checked: present, same SHA-256) and kept for the job
    return models


def layer_names(models: list[DiffusionModel]) -> list[str]:
    """The name each model's layer goes by: the model's, with ``_<index>`` for a model named again."""
    names: list[str] = []
    for index, model in enumerate(models):
        name, again = model.name, index
        while name in names:  # ``violin, violin_2, violin``: the third is violin_3, not a second violin_2
            name, again = f"{model.name}_{again}", again + 1
        names.append(name)
    return names


def list_bundles(folder: Path | None = None) -> list[BundleInfo | tuple[Path, str]]:
    """Bundles in ``folder`` (or every model dir): their info, or (path, error) for bad files."""
    folders = [Path(folder)] if folder else model_dirs()
    found: list[BundleInfo | tuple[Path, str]] = []
    seen: set[Path] = set()
    for d in folders:
        if not d.is_dir():
            continue
        for path in sorted(d.glob(f"*{BUNDLE_SUFFIX}")):
            if path.resolve() in seen:
                continue
            seen.add(path.resolve())
            try:
                found.append(read_bundle_info(path))
            except BundleError as error:
                found.append((path, str(error)))
    return found


def read_bundle_info(path: Path) -> BundleInfo:
    """Metadata of a bundle without choosing a GPU provider (a CPU session)."""
    return DiffusionModel.load(path, device="cpu").info
