"""The runtime vocoder (mel image -> audio) as one ONNX graph, for GPUs.

The same computation as :meth:`engine.mel.MelCodec.decode` (image -> mel -> NNLS through
the mel basis -> linear magnitude -> fast Griffin-Lim with momentum), written as ONNX
operators so a whole batch of windows is inverted on the device in one call: the STFT is a
strided ``Conv`` with windowed DFT kernels, the inverse STFT a ``ConvTranspose`` with the
inverse kernels, NNLS and Griffin-Lim iterations are unrolled.  FFTs would need far fewer
operations, but convolutions run on every provider (CUDA, TensorRT, CPU); on the CPU the
numpy/scipy.fft vocoder stays faster, so the engine uses this graph only with the
on-device loop (engine/device_loop.py).

The initial phase is an input, so the graph can be fed the numpy vocoder's own random
start and compared with it (tests/test_device_path.py).  For ``magnitude-net`` the graph also
takes the network's log-magnitude (``engine.magnitude_net``) and starts NNLS from it, as
``engine.vocoders.stft_magnitude(start=...)`` does.
"""

from __future__ import annotations

import numpy as np

from diffband.engine.mel import NNLS_FLOOR, NNLS_SPREAD_FLOOR, MelCodec
from diffband.engine.stft import GRIFFIN_LIM_MOMENTUM, PHASE_EPSILON, hann_window, overlap_norm

INPUT_IMAGES = "images"
INPUT_PHASE_COS = "phase_cos"
INPUT_PHASE_SIN = "phase_sin"
INPUT_LOG_MAGNITUDE = "log_magnitude"
OUTPUT_AUDIO = "audio"
#: ONNX IR version written (onnx 1.19+ defaults to 11+; onnxruntime 1.20 reads up to 10).
IR_VERSION = 10


def initial_phase(codec: MelCodec, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin of the numpy vocoder's random start phase (``decode(seed=seed)``)."""
    shape = (codec.n_fft // 2 + 1, codec.frames + 1)
    angles = 2 * np.pi * np.random.default_rng(seed).random(shape)
    return np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)


def _dft_kernels(n_fft: int) -> tuple[np.ndarray, np.ndarray]:
    """Forward (windowed rfft, real rows then imaginary rows) and inverse (irfft times the
    synthesis window) kernels, each ``(2 * bins, 1, n_fft)``."""
    bins = n_fft // 2 + 1
    n = np.arange(n_fft)
    k = np.arange(bins)[:, None]
    phase = 2.0 * np.pi * k * n / n_fft
    window = hann_window(n_fft).astype(np.float64)
    forward = np.concatenate([np.cos(phase) * window, -np.sin(phase) * window])
    weight = np.full((bins, 1), 2.0)
    weight[0] = weight[-1] = 1.0  # DC and Nyquist appear once in an irfft
    inverse = np.concatenate([weight * np.cos(phase), -weight * np.sin(phase)]) * window / n_fft
    return forward[:, None, :].astype(np.float32), inverse[:, None, :].astype(np.float32)


def vocoder_graph(
    codec: MelCodec, griffin_lim_iters: int = 16, nnls_iters: int = 100, opset: int = 18, network_start: bool = False
) -> bytes:
    """Serialised ONNX graph: ``images`` ``(B, n_mels, frames)`` -> ``audio`` ``(B, frames * hop)``,
    ``nnls_iters`` NNLS and ``griffin_lim_iters`` Griffin-Lim iterations unrolled.  With
    ``network_start`` NNLS starts from a further input, ``log_magnitude`` ``(B, bins, frames + 1)``
    (the magnitude-net network's output), instead of each band spread over its bins."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from diffband.engine.magnitude_net import CEILING_DB, FLOOR_DB

    iters = griffin_lim_iters
    n_fft, hop, frames = codec.n_fft, codec.hop_length, codec.frames + 1
    length = codec.frames * hop
    bins = n_fft // 2 + 1
    half = n_fft // 2
    nodes: list = []
    constants: dict[str, np.ndarray] = {}

    def const(name: str, value) -> str:
        constants[name] = np.asarray(value, dtype=np.float32) if not isinstance(value, np.ndarray) else value
        return name

    def node(op: str, inputs: list[str], output: str, **attributes) -> str:
        nodes.append(helper.make_node(op, inputs, [output], **attributes))
        return output

    basis = codec.mel_basis.astype(np.float32)
    forward, inverse = _dft_kernels(n_fft)
    const("mel_basis", basis)
    const("mel_basis_t", np.ascontiguousarray(basis.T))
    const("stft_kernel", forward)
    const("istft_kernel", inverse)
    # istft -> crop -> zero-pad -> stft == stft(istft_raw / norm * keep): one constant per sample
    norm = overlap_norm(n_fft, hop, frames)
    keep = np.zeros_like(norm)
    keep[half : half + length] = 1.0
    const("ola_scale_masked", (keep / norm).astype(np.float32))
    const("ola_scale", (1.0 / norm).astype(np.float32))
    constants["last_column"] = np.array([-1], dtype=np.int64)
    constants["split_bins"] = np.array([bins, bins], dtype=np.int64)
    constants["squeeze_channel"] = np.array([1], dtype=np.int64)

    # image (B, n_mels, frames) -> frames + 1 columns (a centred STFT has one more), -> mel
    last = node("Gather", [INPUT_IMAGES, "last_column"], "last_column_values", axis=2)
    image = node("Concat", [INPUT_IMAGES, last], "image_padded", axis=2)
    image = node("Clip", [image, const("minus_one", -1.0), const("one", 1.0)], "image_clipped")
    db_scale = (codec.db_max - codec.db_min) / 2.0
    db = node("Mul", [node("Add", [image, "one"], "image_plus_one"), const("db_scale", db_scale)], "db_scaled")
    db = node("Add", [db, const("db_min", codec.db_min)], "db")
    mel = node("Pow", [const("ten", 10.0), node("Mul", [db, const("db_to_exponent", codec.power / 20.0)], "exponent")], "mel_raw")
    silent = node("LessOrEqual", [image, "minus_one"], "silent")
    mel = node("Where", [silent, const("zero", 0.0), mel], "mel")

    # NNLS by multiplicative updates (engine.mel.nonnegative_least_squares), unrolled
    gram_target = node("MatMul", ["mel_basis_t", mel], "gram_target")
    if network_start:  # engine.magnitude_net.magnitude_from_log, then to power: NaN and the floor are silence
        log_mag = node("Where", [node("IsNaN", [INPUT_LOG_MAGNITUDE], "log_mag_nan"), const("log_floor", FLOOR_DB / 20.0),
                                 INPUT_LOG_MAGNITUDE], "log_mag_finite")
        log_mag = node("Clip", [log_mag, "log_floor", const("log_ceiling", CEILING_DB / 20.0)], "log_mag_clipped")
        x = node("Pow", ["ten", node("Mul", [log_mag, const("log_to_exponent", codec.power)], "start_exponent")], "start_power")
        x = node("Where", [node("LessOrEqual", [log_mag, "log_floor"], "start_silent"), "zero", x], "nnls_start")
    else:
        spread = basis @ basis.T.sum(axis=1, keepdims=True)
        x = node("MatMul", ["mel_basis_t", node("Div", [mel, const("spread", np.maximum(spread, NNLS_SPREAD_FLOOR).astype(np.float32))], "mel_spread")], "nnls_start")
    x = node("Max", [x, const("floor", NNLS_FLOOR)], "nnls_0")
    for i in range(nnls_iters):
        projected = node("MatMul", ["mel_basis_t", node("MatMul", ["mel_basis", x], f"nnls_fwd_{i}")], f"nnls_back_{i}")
        ratio = node("Div", [gram_target, node("Max", [projected, "floor"], f"nnls_den_{i}")], f"nnls_ratio_{i}")
        x = node("Max", [node("Mul", [x, ratio], f"nnls_upd_{i}"), "floor"], f"nnls_{i + 1}")
    magnitude = node("Pow", [node("Max", [x, "zero"], "linear_power"), const("inv_power", 1.0 / codec.power)], "magnitude_raw")
    magnitude = node("Mul", [magnitude, const("magnitude_scale", codec.magnitude_scale)], "magnitude")

    # fast Griffin-Lim on (re, im) pairs
    def istft_raw(re: str, im: str, tag: str) -> str:
        spectrum = node("Concat", [node("Mul", [magnitude, re], f"re_{tag}"), node("Mul", [magnitude, im], f"im_{tag}")], f"spec_{tag}", axis=1)
        return node("ConvTranspose", [spectrum, "istft_kernel"], f"ola_{tag}", strides=[hop])

    re, im = INPUT_PHASE_COS, INPUT_PHASE_SIN
    prev_re = prev_im = None
    step = GRIFFIN_LIM_MOMENTUM / (1.0 + GRIFFIN_LIM_MOMENTUM)
    for i in range(iters):
        audio = node("Mul", [istft_raw(re, im, f"gl{i}"), "ola_scale_masked"], f"signal_{i}")
        rebuilt = node("Conv", [audio, "stft_kernel"], f"stft_{i}", strides=[hop])
        new_re, new_im = f"rebuilt_re_{i}", f"rebuilt_im_{i}"
        nodes.append(helper.make_node("Split", [rebuilt, "split_bins"], [new_re, new_im], axis=1))
        if prev_re is None:
            a_re, a_im = new_re, new_im
        else:
            a_re = node("Sub", [new_re, node("Mul", [prev_re, const("momentum", step)], f"mom_re_{i}")], f"a_re_{i}")
            a_im = node("Sub", [new_im, node("Mul", [prev_im, "momentum"], f"mom_im_{i}")], f"a_im_{i}")
        power = node("Add", [node("Mul", [a_re, a_re], f"re2_{i}"), node("Mul", [a_im, a_im], f"im2_{i}")], f"abs2_{i}")
        scale = node("Add", [node("Sqrt", [power], f"abs_{i}"), const("tiny", PHASE_EPSILON)], f"absd_{i}")
        re, im = node("Div", [a_re, scale], f"phase_re_{i}"), node("Div", [a_im, scale], f"phase_im_{i}")
        prev_re, prev_im = new_re, new_im
    signal = node("Mul", [istft_raw(re, im, "final"), "ola_scale"], "signal_final")
    constants["crop_start"] = np.array([half], dtype=np.int64)
    constants["crop_stop"] = np.array([half + length], dtype=np.int64)
    constants["crop_axis"] = np.array([2], dtype=np.int64)
    cropped = node("Slice", [signal, "crop_start", "crop_stop", "crop_axis"], "cropped")
    node("Squeeze", [cropped, "squeeze_channel"], OUTPUT_AUDIO)

    inputs = [
        helper.make_tensor_value_info(INPUT_IMAGES, TensorProto.FLOAT, ["batch", codec.n_mels, codec.frames]),
        helper.make_tensor_value_info(INPUT_PHASE_COS, TensorProto.FLOAT, [bins, frames]),
        helper.make_tensor_value_info(INPUT_PHASE_SIN, TensorProto.FLOAT, [bins, frames]),
    ]
    if network_start:
        inputs.append(helper.make_tensor_value_info(INPUT_LOG_MAGNITUDE, TensorProto.FLOAT, ["batch", bins, frames]))
    graph = helper.make_graph(
        nodes,
        "diffband_vocoder",
        inputs,
        [helper.make_tensor_value_info(OUTPUT_AUDIO, TensorProto.FLOAT, ["batch", length])],
        [numpy_helper.from_array(value, name) for name, value in constants.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="diffband")
    model.ir_version = min(model.ir_version, IR_VERSION)  # what onnxruntime 1.2x reads
    onnx.checker.check_model(model)
    return model.SerializeToString()


class GraphVocoder:
    """``audio = vocoder(images)`` for a batch of window images on an ONNX Runtime session of
    :func:`vocoder_graph`; the same start phase as ``engine.vocoders.decode_image`` (seed 0)."""

    def __init__(self, codec: MelCodec, session):
        self.codec = codec
        self.session = session
        self.phase_cos, self.phase_sin = initial_phase(codec)

    def __call__(self, images: np.ndarray, log_magnitude: np.ndarray | None = None) -> np.ndarray:
        """``log_magnitude``: the network's output for these images, for a ``network_start`` graph."""
        images = np.ascontiguousarray(images, dtype=np.float32)
        if images.ndim != 3 or images.shape[1:] != self.codec.image_shape:
            raise ValueError(f"expected images of shape (k, {self.codec.n_mels}, {self.codec.frames}), got {images.shape}")
        if not np.all(np.isfinite(images)):
            raise ValueError("image contains NaN or Inf")
        feed = {INPUT_IMAGES: images, INPUT_PHASE_COS: self.phase_cos, INPUT_PHASE_SIN: self.phase_sin}
        if log_magnitude is not None:
            feed[INPUT_LOG_MAGNITUDE] = np.ascontiguousarray(log_magnitude, dtype=np.float32)
        return self.session.run([OUTPUT_AUDIO], feed)[0]
