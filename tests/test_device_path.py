"""The GPU path's pieces, run here on ONNX Runtime's CPU provider: the on-device DDIM
loop (IO binding, UNet + update fused in one graph) against the numpy loop, fp16
bundles against fp32 ones, and the provider options (TensorRT cache, CUDA graphs)."""

from __future__ import annotations

import os
import stat

import subprocess
import sys

import numpy as np
import pytest

from diffband.engine.denoise import denoise
from diffband.engine.cross import cross_images
from diffband.engine.device_loop import DEVICE_LOOP_ENV, DeviceLoop, wants_device_loop
from diffband.engine.model import DiffusionModel
from diffband.engine.providers import TRT_CACHE_ENV, provider_options
from diffband.engine.vocoders import NumpyGriffinLim, VocoderSpec, stft_magnitude
from diffband.engine.samplers import make_sampler
from tests.conftest import REPO, render_clip


@pytest.fixture(scope="module")
def violin():
    return DiffusionModel.load(REPO / "models" / "violin.onnx", device="cpu")


@pytest.fixture(scope="module")
def unconditional(tiny_bundle):
    """The fused loop feeds no condition, so it serves unconditional bundles (the shipped ones follow notes)."""
    return DiffusionModel.load(tiny_bundle, device="cpu")


def test_device_loop_is_used_on_gpus_and_on_request(monkeypatch, unconditional):
    monkeypatch.delenv(DEVICE_LOOP_ENV, raising=False)
    assert wants_device_loop("CUDAExecutionProvider") and wants_device_loop("TensorrtExecutionProvider")
    assert not wants_device_loop("CPUExecutionProvider") and unconditional.device_loop is None
    monkeypatch.setenv(DEVICE_LOOP_ENV, "1")
    assert isinstance(unconditional.device_loop, DeviceLoop) and unconditional.device_loop.device == "cpu"
    monkeypatch.setenv(DEVICE_LOOP_ENV, "0")
    assert not wants_device_loop("CUDAExecutionProvider")


@pytest.mark.parametrize("batch, start, stop, eps_scale", [(1, 0, None, 1.0), (3, 8, None, 1.0), (2, 5, 12, 1.0),
                                                       (2, 0, None, 1.02)])
def test_device_loop_equals_the_numpy_loop(monkeypatch, violin, batch, start, stop, eps_scale):
    sampler = make_sampler(violin.info.schedule, "ddim", eps_scale=eps_scale)
    x = np.random.default_rng(batch).standard_normal((batch, 1, *violin.info.image_shape), dtype=np.float32)
    before = x.copy()
    monkeypatch.setenv(DEVICE_LOOP_ENV, "0")
    expected = denoise(violin, sampler, x, 20, np.random.default_rng(0), start_index=start, stop_index=stop)
    monkeypatch.setenv(DEVICE_LOOP_ENV, "1")
    ticks: list[tuple[int, int]] = []
    got = denoise(violin, sampler, x, 20, np.random.default_rng(0), start_index=start, stop_index=stop,
                      progress=lambda d, n: ticks.append((d, n)))
    np.testing.assert_array_equal(x, before)  # the caller's array is not the device buffer
    assert got.shape == expected.shape and np.all(np.isfinite(got))
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    assert ticks[-1][0] == ticks[-1][1] and len(ticks) == ticks[-1][1]


def test_device_loop_reuses_its_buffers_safely(monkeypatch, unconditional):
    """Buffers are kept per batch size (fixed addresses, for CUDA graphs): later runs, and
    runs from two threads at once, still give each caller its own result."""
    from concurrent.futures import ThreadPoolExecutor

    sampler = make_sampler(unconditional.info.schedule, "ddim")
    xs = [np.random.default_rng(s).standard_normal((2, 1, *unconditional.info.image_shape), dtype=np.float32) for s in (7, 8, 9)]
    monkeypatch.setenv(DEVICE_LOOP_ENV, "0")
    expected = [denoise(unconditional, sampler, x, 10, np.random.default_rng(0), start_index=4) for x in xs]
    monkeypatch.setenv(DEVICE_LOOP_ENV, "1")
    with ThreadPoolExecutor(3) as pool:
        got = list(pool.map(lambda x: denoise(unconditional, sampler, x, 10, np.random.default_rng(0), start_index=4), xs))
    addresses = unconditional.device_loop.buffer_addresses(2)
    assert addresses is not None
    got.append(denoise(unconditional, sampler, xs[0], 10, np.random.default_rng(0), start_index=4))
    for g, e in zip(got, [*expected, expected[0]]):
        np.testing.assert_allclose(g, e, atol=1e-5, rtol=0)
    assert unconditional.device_loop.buffer_addresses(2) == addresses  # the same buffers, not new ones


def test_device_loop_leaves_other_samplers_to_numpy(monkeypatch, unconditional):
    monkeypatch.setenv(DEVICE_LOOP_ENV, "1")
    loop = unconditional.device_loop
    assert loop.supports(make_sampler(unconditional.info.schedule, "ddim"))
    assert not loop.supports(make_sampler(unconditional.info.schedule, "ddim", eta=0.5))
    assert not loop.supports(make_sampler(unconditional.info.schedule, "ddpm"))
    # eta > 0 still samples (numpy loop), reproducibly
    sampler = make_sampler(unconditional.info.schedule, "ddim", eta=0.5)
    x = np.random.default_rng(0).standard_normal((1, 1, *unconditional.info.image_shape), dtype=np.float32)
    a = denoise(unconditional, sampler, x, 10, np.random.default_rng(3), start_index=6)
    b = denoise(unconditional, sampler, x, 10, np.random.default_rng(3), start_index=6)
    np.testing.assert_array_equal(a, b)


#: The fp32 export of the shipped guitar (models/guitar.onnx is its int8 quantization): the
#: source of the fp16 conversion, which refuses an int8 bundle.
FP32_GUITAR = REPO / "models" / "fp32" / "guitar.onnx"


@pytest.fixture(scope="module")
def guitar_fp32():
    return DiffusionModel.load(FP32_GUITAR, device="cpu")


@pytest.fixture(scope="module")
def guitar_fp16(tmp_path_factory):
    pytest.importorskip("onnxconverter_common")
    from diffband.export.fp16 import convert_bundle_to_fp16

    out = tmp_path_factory.mktemp("fp16") / "guitar-fp16.onnx"
    result = convert_bundle_to_fp16(FP32_GUITAR, out)
    assert result["bytes"] < 0.7 * result["fp32_bytes"] and result["max_abs_error"] < 1e-2
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask  # readable like any file the user writes
    return DiffusionModel.load(out, device="cpu")


def test_fp16_bundle_keeps_metadata_and_float32_io(guitar_fp32, guitar_fp16):
    assert guitar_fp16.info.precision == "fp16" and guitar_fp32.info.precision == "fp32"
    assert guitar_fp16.info.instrument == "guitar" and guitar_fp16.info.codec == guitar_fp32.info.codec
    inputs = guitar_fp16.session.get_inputs()
    assert [i.name for i in inputs] == [i.name for i in guitar_fp32.session.get_inputs()]
    assert {i.type for i in inputs} == {"tensor(float)"}


def test_fp16_cross_stays_within_a_spectral_bound_of_fp32(guitar_fp32, guitar_fp16):
    """At the default strength and steps the fp16 model's layer differs from the fp32 one
    by a spectral convergence under 1 % (measured ~0.2 %), against ~100 % between two
    fp32 runs with different seeds."""
    codec = guitar_fp32.info.codec
    clips = [render_clip("guitar", codec.window_seconds + 0.1, s)[: codec.window_samples] for s in (910, 911)]
    images = np.stack([codec.encode(c) for c in clips])
    fp32 = cross_images(guitar_fp32, images, 0.6, 20, seed=1)
    fp16 = cross_images(guitar_fp16, images, 0.6, 20, seed=1)
    other_seed = cross_images(guitar_fp32, images, 0.6, 20, seed=2)

    def distance(a: np.ndarray, b: np.ndarray) -> float:
        x, y = stft_magnitude(codec, a, 100), stft_magnitude(codec, b, 100)
        return float(np.linalg.norm(x - y) / np.linalg.norm(x))

    for k in range(len(clips)):
        assert distance(fp32[k], fp16[k]) < 0.01
        assert distance(fp32[k], fp16[k]) < 0.02 * distance(fp32[k], other_seed[k])
    audio = guitar_fp16.decode(fp16[:1])[0]
    assert audio.shape == (codec.window_samples,) and np.all(np.isfinite(audio))


def test_fp16_bundle_runs_on_the_device_loop(monkeypatch, guitar_fp16):
    """The GPU combination: the DDIM update appended to an fp16 graph (float32 at its edges)."""
    sampler = make_sampler(guitar_fp16.info.schedule, "ddim")
    x = np.random.default_rng(5).standard_normal((2, 1, *guitar_fp16.info.image_shape), dtype=np.float32)
    monkeypatch.setenv(DEVICE_LOOP_ENV, "0")
    expected = denoise(guitar_fp16, sampler, x, 20, np.random.default_rng(0), start_index=8)
    monkeypatch.setenv(DEVICE_LOOP_ENV, "1")
    got = denoise(guitar_fp16, sampler, x, 20, np.random.default_rng(0), start_index=8)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


def test_export_fp16_command(tmp_path):
    pytest.importorskip("onnxconverter_common")
    out = tmp_path / "guitar-fp16.onnx"
    cmd = [sys.executable, "-m", "diffband.bridge.cli", "export", "--fp16", "--from-bundle", str(FP32_GUITAR), "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert "fp16" in done.stdout and out.is_file()
    listing = subprocess.run([sys.executable, "-m", "diffband.bridge.cli", "models", str(tmp_path)], capture_output=True, text=True, cwd=REPO)
    assert "guitar-fp16" in listing.stdout and " fp16 " in listing.stdout
    again = subprocess.run(cmd[:-1] + [str(tmp_path / "x.onnx")], capture_output=True, text=True, cwd=REPO)
    assert again.returncode == 0  # converting the fp32 bundle again is fine
    twice = subprocess.run([*cmd[:6], str(out), "--out", str(tmp_path / "y.onnx")], capture_output=True, text=True, cwd=REPO)
    assert twice.returncode == 1 and "already a fp16 bundle" in twice.stderr
    assert not (tmp_path / "y.onnx").exists()


def test_provider_options(monkeypatch, tmp_path):
    monkeypatch.setenv(TRT_CACHE_ENV, str(tmp_path))
    trt = provider_options("TensorrtExecutionProvider")
    assert trt["trt_engine_cache_enable"] == "1" and trt["trt_engine_cache_path"] == str(tmp_path)
    assert trt["trt_timing_cache_enable"] == "1"
    assert provider_options("CUDAExecutionProvider", cuda_graph=True)["enable_cuda_graph"] == "1"
    assert "enable_cuda_graph" not in provider_options("CUDAExecutionProvider")
    assert provider_options("CPUExecutionProvider") == {}


def test_vocoder_graph_matches_the_numpy_vocoder(violin):
    """STFT by convolution, NNLS and Griffin-Lim unrolled in ONNX: the same audio as
    the numpy vocoder to float32 rounding (measured relative L2 error 8e-5)."""
    import onnxruntime as ort

    from diffband.engine.vocoder_graph import GraphVocoder, vocoder_graph

    codec = violin.info.codec
    spec = VocoderSpec().at_runtime()  # griffin-lim's settings (the shipped bundles name magnitude-net)
    session = ort.InferenceSession(vocoder_graph(codec, spec.griffin_lim_iters, spec.nnls_iters), providers=["CPUExecutionProvider"])
    vocoder = GraphVocoder(codec, session)
    clips = [render_clip("violin", codec.window_seconds + 0.1, s)[: codec.window_samples] for s in (900, 901)]
    images = np.stack([codec.encode(c) for c in clips])
    images[1, :, :10] = -1.0  # silent columns take the mask path
    got = vocoder(images)
    expected = NumpyGriffinLim(codec, spec)(images)
    assert got.shape == expected.shape == (2, codec.window_samples)
    assert np.linalg.norm(got - expected) / np.linalg.norm(expected) < 1e-3
    with pytest.raises(ValueError, match="NaN"):
        vocoder(np.full((1, *codec.image_shape), np.nan, dtype=np.float32))


def test_magnitude_net_on_the_device_matches_the_cpu_vocoder(violin):
    """The shipped vocoder on a GPU: the network and the graph that starts NNLS from its guess,
    the same audio as the CPU's numpy NNLS and Griffin-Lim, window by window through batches."""
    from diffband.engine.providers import create_session
    from diffband.engine.vocoders import MagnitudeNetGriffinLim, OnnxMagnitudeNet

    codec = violin.info.codec
    spec = violin.info.vocoder.at_runtime().located(violin.info.path.parent)
    assert spec.name == "magnitude-net"
    device = OnnxMagnitudeNet(codec, spec, lambda graph: create_session(graph, device="cpu"), max_batch=2)
    clips = [render_clip("violin", codec.window_seconds + 0.1, s)[: codec.window_samples] for s in (902, 903, 904)]
    images = np.stack([codec.encode(c) for c in clips])
    images[1, :, :10] = -1.0  # silent columns: the network's floor and the mel mask
    got = device(images)
    expected = MagnitudeNetGriffinLim(codec, spec)(images)
    assert got.shape == expected.shape == (3, codec.window_samples)
    for window, reference in zip(got, expected):
        assert np.linalg.norm(window - reference) / np.linalg.norm(reference) < 1e-3
    assert np.abs(got[1, : 9 * codec.hop_length]).max() < 1e-6  # silence stays silent
    with pytest.raises(ValueError, match="NaN"):
        device(np.full((1, *codec.image_shape), np.nan, dtype=np.float32))


def test_cross_on_the_device_path_gives_the_cpu_path_audio(monkeypatch, violin):
    from diffband.engine.cross import cross

    source = render_clip("guitar", 6.0, 920)
    monkeypatch.setenv(DEVICE_LOOP_ENV, "0")
    reference = cross(source, 22050, violin, strength=0.6, steps=10, seed=4)
    monkeypatch.setenv(DEVICE_LOOP_ENV, "1")
    got = cross(source, 22050, violin, strength=0.6, steps=10, seed=4)
    assert got.shape == reference.shape == source.shape
    assert np.linalg.norm(got - reference) / np.linalg.norm(reference) < 1e-3


@pytest.mark.slow
def test_export_fp16_from_a_training_run(tiny_run, tmp_path):
    pytest.importorskip("onnxconverter_common")
    out = tmp_path / "tiny-fp16.onnx"
    done = subprocess.run([sys.executable, "-m", "diffband.bridge.cli", "export", str(tiny_run), "--out", str(out), "--fp16"],
                          capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert "vs torch" in done.stdout and "fp16 vs fp32" in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny-fp16.onnx"]  # the fp32 staging file is gone
    model = DiffusionModel.load(out, device="cpu")
    assert model.info.precision == "fp16" and model.info.instrument == "guitar"
    x = np.random.default_rng(0).standard_normal((2, 1, *model.info.image_shape), dtype=np.float32)
    assert np.all(np.isfinite(model(x, np.array([10.0, 900.0]))))
