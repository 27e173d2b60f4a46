"""A DDIM loop that keeps the image on the model's device between steps.

The bundle's UNet graph gets the DDIM update appended (``sample``, ``timestep`` and five
step coefficients in, ``prev_sample`` out), so one session call per step does UNet +
update.  The image lives in two ONNX Runtime ``OrtValue`` buffers on the session's
device, bound once with IO binding and used in turn as input and output: on a GPU
nothing but the timesteps and the five coefficients crosses the bus until the last step.  Buffers and bindings are made once per batch size and kept, so with
``DIFFBAND_CUDA_GRAPH=1`` each binding can be captured as a CUDA graph (one
``gpu_graph_id`` per binding) and replayed: shapes and addresses never change,
which is what CUDA graph capture needs.

The arithmetic is :meth:`engine.samplers.DDIMSampler.coefficients`, the same numbers
the numpy loop uses; outputs agree with it to float32 rounding (tests/test_device_path.py).
Covers DDIM with ``eta = 0`` (the engine's default); DDPM and ``eta > 0`` keep the numpy loop.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
import onnxruntime as ort

from diffband.engine.bundle import INPUT_SAMPLE, INPUT_TIMESTEP, OUTPUT_NOISE
from diffband.engine.samplers import DDIMSampler, Sampler
from diffband.engine.settings import setting

if TYPE_CHECKING:
    from diffband.engine.model import DiffusionModel

STEP_COEFFICIENTS = "ddim_coefficients"
OUTPUT_PREV_SAMPLE = "prev_sample"
#: Env switch: "1" uses the loop on every provider (CPU included), "0" never; unset = on GPUs only.
DEVICE_LOOP_ENV = "DIFFBAND_DEVICE_LOOP"
CUDA_GRAPH_ENV = "DIFFBAND_CUDA_GRAPH"
NO_CLIP = 3.0e38
#: ONNX Runtime device names by provider, for OrtValue allocation.
_DEVICE_TYPES = {
    "CUDAExecutionProvider": "cuda",
    "TensorrtExecutionProvider": "cuda",
    "DmlExecutionProvider": "dml",
}


def device_type(provider: str) -> str:
    """Where a provider's tensors live: ``cuda``, ``dml`` or ``cpu``."""
    return _DEVICE_TYPES.get(provider, "cpu")


def wants_device_loop(provider: str) -> bool:
    """Whether models on ``provider`` use the on-device loop (``$DIFFBAND_DEVICE_LOOP`` overrides)."""
    forced = setting(DEVICE_LOOP_ENV)
    if forced in ("0", "1"):
        return forced == "1"
    return device_type(provider) != "cpu"


def fused_step_graph(bundle: Path) -> bytes:
    """The bundle's graph with the DDIM update appended, serialised.

    New input ``ddim_coefficients`` (float32 ``[5]``: c_eps, c_x, c_x0, c_dir, clip);
    the single output is ``prev_sample`` = c_x0 * clip((sample - c_eps*eps)/c_x) + c_dir*eps.
    """
    import onnx  # only this path needs it; the numpy loop runs without onnx installed
    from onnx import TensorProto, helper

    model = onnx.load(str(bundle))
    graph = model.graph
    if [o.name for o in graph.output] != [OUTPUT_NOISE]:
        raise ValueError(f"{bundle}: expected the single output {OUTPUT_NOISE!r}")
    noise_type = graph.output[0].type
    graph.input.append(helper.make_tensor_value_info(STEP_COEFFICIENTS, TensorProto.FLOAT, [5]))
    names = ["ddim_c_eps", "ddim_c_x", "ddim_c_x0", "ddim_c_dir", "ddim_clip"]
    graph.initializer.append(helper.make_tensor("ddim_split_sizes", TensorProto.INT64, [5], [1] * 5))
    graph.node.extend(
        [
            helper.make_node("Split", [STEP_COEFFICIENTS, "ddim_split_sizes"], names, axis=0),
            helper.make_node("Neg", ["ddim_clip"], ["ddim_clip_low"]),
            helper.make_node("Mul", ["ddim_c_eps", OUTPUT_NOISE], ["ddim_scaled_eps"]),
            helper.make_node("Sub", [INPUT_SAMPLE, "ddim_scaled_eps"], ["ddim_x0_numerator"]),
            helper.make_node("Div", ["ddim_x0_numerator", "ddim_c_x"], ["ddim_x0_raw"]),
            helper.make_node("Squeeze", ["ddim_clip_low"], ["ddim_clip_low_scalar"]),
            helper.make_node("Squeeze", ["ddim_clip"], ["ddim_clip_scalar"]),
            helper.make_node("Clip", ["ddim_x0_raw", "ddim_clip_low_scalar", "ddim_clip_scalar"], ["ddim_x0"]),
            helper.make_node("Mul", ["ddim_c_x0", "ddim_x0"], ["ddim_x0_part"]),
            helper.make_node("Mul", ["ddim_c_dir", OUTPUT_NOISE], ["ddim_direction"]),
            helper.make_node("Add", ["ddim_x0_part", "ddim_direction"], [OUTPUT_PREV_SAMPLE]),
        ]
    )
    del graph.output[:]
    output = helper.make_empty_tensor_value_info(OUTPUT_PREV_SAMPLE)
    output.type.CopyFrom(noise_type)
    graph.output.append(output)
    onnx.checker.check_model(model)
    return model.SerializeToString()


class DeviceLoop:
    """``run`` = the numpy DDIM loop of :class:`Sampler` for one model, on its device."""

    def __init__(self, model: "DiffusionModel", session: ort.InferenceSession, cuda_graph: bool = False):
        self.model = model
        self.session = session
        self.device = device_type(session.get_providers()[0])
        self.cuda_graph = cuda_graph and self.device == "cuda"
        self._slots: dict[int, _Slots] = {}  # per batch size: buffers and bindings, kept for good
        self._lock = threading.Lock()  # the buffers serve one run at a time

    def supports(self, sampler: Sampler) -> bool:
        return isinstance(sampler, DDIMSampler) and sampler.eta == 0

    def _coefficients(self, sampler: DDIMSampler, t: int, num_steps: int) -> np.ndarray:
        c_eps, c_x, c_x0, c_dir, _ = sampler.coefficients(t, num_steps)
        clip = sampler.clip_sample_range if sampler.clip_sample else NO_CLIP
        return np.array([c_eps, c_x, c_x0, c_dir, clip], dtype=np.float32)

    def run(
        self,
        sampler: DDIMSampler,
        x: np.ndarray,
        num_steps: int,
        timesteps: np.ndarray,
        progress: Callable[[int, int], None] | None = None,
    ) -> np.ndarray:
        """Denoise ``x`` through ``timesteps`` (a slice of ``sampler.timesteps(num_steps)``)."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if len(timesteps) == 0:
            return x.copy()
        out = np.empty_like(x)
        coefficients = [self._coefficients(sampler, int(t), num_steps) for t in timesteps]
        size = self.model.max_batch
        chunks = [slice(s, s + size) for s in range(0, x.shape[0], size)]
        done, total = 0, len(timesteps) * len(chunks)
        for part in chunks:
            chunk = x[part]
            with self._lock:
                slots = self._slots_for(chunk.shape)
                slots.images[0].update_inplace(chunk)
                for i, t in enumerate(timesteps):
                    slots.timestep.update_inplace(np.full(chunk.shape[0], t, dtype=np.float32))
                    slots.coefficients.update_inplace(coefficients[i])
                    binding, run_options = slots.bindings[i % 2]
                    self.session.run_with_iobinding(binding, run_options)
                    done += 1
                    if progress is not None:
                        progress(done, total)
                out[part] = slots.images[len(timesteps) % 2].numpy()
        return out

    def buffer_addresses(self, batch: int) -> tuple[int, ...] | None:
        """Device addresses of the image buffers kept for ``batch`` (None before a run at that
        size): fixed for the loop's life, which CUDA graph replay needs."""
        slots = self._slots.get(batch)
        return None if slots is None else tuple(value.data_ptr() for value in slots.images)

    def _slots_for(self, shape: tuple[int, ...]) -> "_Slots":
        """Buffers and the two bindings (image A -> B, B -> A) for one batch size, made once:
        fixed addresses are what lets CUDA graphs replay (graph ids 2k and 2k + 1)."""
        if shape[0] not in self._slots:
            def value(dims: tuple[int, ...]) -> ort.OrtValue:
                return ort.OrtValue.ortvalue_from_shape_and_type(dims, np.float32, self.device, 0)

            images = (value(shape), value(shape))
            timestep, coefficients = value((shape[0],)), value((5,))
            bindings = []
            for parity in (0, 1):
                binding = self.session.io_binding()
                binding.bind_ortvalue_input(INPUT_SAMPLE, images[parity])
                binding.bind_ortvalue_input(INPUT_TIMESTEP, timestep)
                binding.bind_ortvalue_input(STEP_COEFFICIENTS, coefficients)
                binding.bind_ortvalue_output(OUTPUT_PREV_SAMPLE, images[1 - parity])
                run_options = ort.RunOptions()
                if self.cuda_graph:
                    run_options.add_run_config_entry("gpu_graph_id", str(2 * len(self._slots) + parity))
                bindings.append((binding, run_options))
            self._slots[shape[0]] = _Slots(images, timestep, coefficients, bindings)
        return self._slots[shape[0]]


@dataclass
class _Slots:
    images: tuple[ort.OrtValue, ort.OrtValue]
    timestep: ort.OrtValue
    coefficients: ort.OrtValue
    bindings: list[tuple[ort.IOBinding, ort.RunOptions]]
