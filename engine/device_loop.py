"""A DDIM loop that keeps the image on the model's device between steps.

The bundle's UNet graph gets the DDIM update appended (``sample``, ``timestep`` and five
step coefficients in, ``prev_sample`` out), so one session call per step does UNet +
update.  The image lives in two ONNX Runtime ``OrtValue`` buffers on the session's
device, bound once with IO binding and used in turn as input and output: on a GPU
nothing but the timestep and the coefficients (24 bytes) crosses the bus until the
last step.  With ``DIFFBAND_CUDA_GRAPH=1`` the two bindings are captured as two CUDA
graphs (``gpu_graph_id`` 0 and 1) and replayed: buffers, shapes and addresses are
fixed for the whole loop, which is what CUDA graph capture needs.

The arithmetic is :meth:`engine.samplers.DDIMSampler.coefficients`, the same numbers
the numpy loop uses; outputs agree with it to float32 rounding (tests/test_fast_paths.py).
Covers DDIM with ``eta = 0`` (the engine's default); DDPM and ``eta > 0`` keep the numpy loop.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
import onnxruntime as ort

from engine.bundle import INPUT_SAMPLE, INPUT_TIMESTEP, OUTPUT_NOISE
from engine.samplers import DDIMSampler, Sampler

if TYPE_CHECKING:
    from engine.model import DiffusionModel

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
    setting = os.environ.get(DEVICE_LOOP_ENV, "")
    if setting in ("0", "1"):
        return setting == "1"
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

    def __init__(self, model: "DiffusionModel", session: ort.InferenceSession):
        self.model = model
        self.session = session
        self.device = device_type(session.get_providers()[0])
        self.cuda_graph = os.environ.get(CUDA_GRAPH_ENV) == "1" and self.device == "cuda"

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
        out = np.empty_like(x)
        coefficients = [self._coefficients(sampler, int(t), num_steps) for t in timesteps]
        size = self.model.max_batch
        chunks = [slice(s, s + size) for s in range(0, x.shape[0], size)]
        done, total = 0, len(timesteps) * len(chunks)
        for part in chunks:
            for _ in self._chunk_steps(x[part], timesteps, coefficients, out[part]):
                done += 1
                if progress is not None:
                    progress(done, total)
        return out

    def _chunk_steps(self, x: np.ndarray, timesteps: np.ndarray, coefficients: list[np.ndarray], out: np.ndarray):
        """Run the loop on one chunk, yielding after each step; the result lands in ``out``."""
        if len(timesteps) == 0:
            out[...] = x
            return
        start = x.copy()  # a CPU OrtValue shares its numpy array's memory: never the caller's
        buffers = [ort.OrtValue.ortvalue_from_numpy(start, self.device, 0),
                   ort.OrtValue.ortvalue_from_shape_and_type(x.shape, np.float32, self.device, 0)]
        t_value = ort.OrtValue.ortvalue_from_shape_and_type((x.shape[0],), np.float32, self.device, 0)
        c_value = ort.OrtValue.ortvalue_from_shape_and_type(coefficients[0].shape, np.float32, self.device, 0)
        bindings = []
        for parity in (0, 1):
            binding = self.session.io_binding()
            binding.bind_ortvalue_input(INPUT_SAMPLE, buffers[parity])
            binding.bind_ortvalue_input(INPUT_TIMESTEP, t_value)
            binding.bind_ortvalue_input(STEP_COEFFICIENTS, c_value)
            binding.bind_ortvalue_output(OUTPUT_PREV_SAMPLE, buffers[1 - parity])
            run_options = ort.RunOptions()
            if self.cuda_graph:
                run_options.add_run_config_entry("gpu_graph_id", str(parity))
            bindings.append((binding, run_options))
        for i, t in enumerate(timesteps):
            t_value.update_inplace(np.full(x.shape[0], t, dtype=np.float32))
            c_value.update_inplace(coefficients[i])
            binding, run_options = bindings[i % 2]
            self.session.run_with_iobinding(binding, run_options)
            yield i
        out[...] = buffers[len(timesteps) % 2].numpy()
