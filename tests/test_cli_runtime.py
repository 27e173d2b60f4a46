"""The runtime without torch, the CLI on real bundles, and provider selection."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import REPO

# Makes torch & co. behave as not installed (ModuleNotFoundError on import).
def blocking(*modules: str) -> str:
    """Python source that makes importing any of ``modules`` (or their submodules) fail."""
    return (
        "import sys, importlib.abc\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        f"        if any(name == m or name.startswith(m + '.') for m in {modules!r}):\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
    )


#: The runtime without torch, diffusers, the torch side or the evaluation: what a host installs.
BLOCK_TORCH = blocking("torch", "diffusers", "diffband.export", "diffband.bridge", "diffband.evaluation")


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300,
        env={**os.environ, **env},
    )


def test_engine_imports_no_torch():
    code = (
        "import sys, pkgutil, importlib, diffband.engine as engine\n"
        "for m in pkgutil.iter_modules(engine.__path__): importlib.import_module('diffband.engine.' + m.name)\n"
        "bad = [m for m in ('torch', 'diffusers', 'diffband.export', 'diffband.bridge', 'diffband.evaluation', 'librosa')\n"
        "       if m in sys.modules]\n"
        "assert not bad, bad\n"
        "print('ok')"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_engine_generates_with_torch_unimportable(tiny_bundle):
    """What a runtime-only install does: load a bundle and generate, torch blocked."""
    code = BLOCK_TORCH + (
        "import numpy as np\n"
        "from diffband.engine.model import load_models\n"
        "from diffband.engine.generate import generate, images_to_audio\n"
        f"[m] = load_models([{str(tiny_bundle)!r}])\n"
        "audio = images_to_audio(m, generate(m, n=1, steps=3, seed=0))[0]\n"
        "assert audio.shape == (m.info.codec.window_samples,) and np.all(np.isfinite(audio))\n"
        "assert not [k for k in sys.modules if k.split('.')[0] in ('torch', 'diffusers')]\n"
        "print(m.provider)"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert "ExecutionProvider" in result.stdout


def diffband(*args: str, cwd: Path = REPO, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "diffband.bridge.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=600,
        env={**os.environ, **env},
    )


def test_cli_models_lists_bundles_from_env(tiny_bundle, tmp_path):
    result = diffband("models", cwd=tmp_path, DIFFBAND_MODELS=str(tiny_bundle.parent))
    assert result.returncode == 0, result.stderr
    line = next(l for l in result.stdout.splitlines() if l.startswith("tinyguitar"))
    assert "guitar" in line and "22050" in line and "64x96" in line


def test_cli_models_flags_foreign_files(tmp_path):
    (tmp_path / "junk.onnx").write_bytes(b"junk")
    result = diffband("models", str(tmp_path))
    assert result.returncode == 0
    assert "junk" in result.stdout and "NOT A BUNDLE" in result.stdout


def test_cli_generate_writes_audio_and_png(tiny_bundle, tmp_path, tiny_codec):
    out = tmp_path / "gen"
    result = diffband(
        "generate", "--model", "tinyguitar", "-n", "2", "--steps", "4", "--seed", "7", "-o", str(out), "--plot",
        "--device", "cpu", DIFFBAND_MODELS=str(tiny_bundle.parent),
    )
    assert result.returncode == 0, result.stderr
    for i in range(2):
        audio, rate = sf.read(out / f"tinyguitar_{i}.wav")
        assert rate == 22050 and audio.shape == (tiny_codec.window_samples,)
        assert np.all(np.isfinite(audio))
    assert (out / "generate.png").stat().st_size > 10_000
    ddpm = tmp_path / "ddpm"
    result = diffband("generate", "--model", str(tiny_bundle), "--sampler", "ddpm", "--steps", "4", "-o", str(ddpm))
    assert result.returncode == 0, result.stderr
    assert np.all(np.isfinite(sf.read(ddpm / "tinyguitar_0.wav")[0]))
    # Same seed, same output.
    again = tmp_path / "again"
    diffband("generate", "--model", str(tiny_bundle), "-n", "2", "--steps", "4", "--seed", "7", "-o", str(again))
    np.testing.assert_array_equal(sf.read(again / "tinyguitar_0.wav")[0], sf.read(out / "tinyguitar_0.wav")[0])
    # generate's measured epsilon scaling is its default; --eps-scale 1 is the plain sampler.
    from diffband.engine.defaults import GENERATE_EPS_SCALE

    named, plain = tmp_path / "named", tmp_path / "plain"
    for folder, scale in [(named, GENERATE_EPS_SCALE), (plain, 1.0)]:
        result = diffband("generate", "--model", str(tiny_bundle), "-n", "2", "--steps", "4", "--seed", "7",
                          "--eps-scale", str(scale), "-o", str(folder))
        assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(sf.read(named / "tinyguitar_0.wav")[0], sf.read(out / "tinyguitar_0.wav")[0])
    assert not np.array_equal(sf.read(plain / "tinyguitar_0.wav")[0], sf.read(out / "tinyguitar_0.wav")[0])


@pytest.mark.parametrize(
    "args, message",
    [
        (["generate", "--model", "nosuchmodel", "-o", "x"], "no model named 'nosuchmodel'"),
        (["generate", "--model", "guitar", "--device", "quantum", "-o", "x"], "unknown device 'quantum'"),
        (["export", "/nonexistent/run", "--out", "x.onnx"], "is not a finished training run"),
        (["train", "/nonexistent/ds", "--instrument", "x", "--out", "y"], "is not a prepared dataset"),
    ],
)
def test_cli_errors_are_one_readable_line(args, message, tmp_path):
    result = diffband(*args, cwd=tmp_path, DIFFBAND_MODELS=str(REPO / "models"))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("diffband: error:")
    assert message in lines[0]


def test_cuda_probe_falls_back_to_cpu_without_gpu(tiny_bundle):
    """onnxruntime-gpu lists CUDA even without a GPU; auto must still end on a provider that works."""
    from diffband.engine.model import DiffusionModel
    from diffband.engine.providers import CPU, resolve_device

    assert resolve_device("cpu") == [CPU]
    model = DiffusionModel.load(tiny_bundle)  # auto
    x = np.zeros((1, 1, 64, 96), dtype=np.float32)
    assert np.all(np.isfinite(model(x, np.array([10.0], dtype=np.float32))))
    gpu = Path("/dev/nvidia0").exists() or Path("/dev/dxg").exists()
    if not gpu:  # onnxruntime-gpu lists CUDA/TensorRT here, but they cannot run: auto must end on the CPU
        assert model.provider == CPU


def test_provider_probe_is_quiet(tiny_bundle):
    """Probing CUDA/TensorRT on a machine without them must not spray ORT's error banner."""
    result = run_python(
        "from diffband.engine.model import DiffusionModel\n"
        f"m = DiffusionModel.load({str(tiny_bundle)!r})\n"
        "print(m.provider)"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ExecutionProvider")
    assert "EP Error" not in result.stdout + result.stderr
    assert result.stderr.strip() == ""


@pytest.fixture(scope="module")
def vocal_file(tmp_path_factory, violin_clip) -> Path:
    """A 3 s stereo 44.1 kHz clip, as a DAW would bounce it."""
    import soxr

    audio = soxr.resample(violin_clip[: 3 * 22050], 22050, 44100)
    path = tmp_path_factory.mktemp("vocal") / "vocal.wav"
    sf.write(path, np.stack([audio, audio * 0.8], axis=1), 44100)
    return path


def test_cli_cross_keeps_the_input_layout(tiny_bundle, vocal_file, tmp_path):
    out = tmp_path / "x" / "cross.wav"
    result = diffband("cross", str(vocal_file), "--to", str(tiny_bundle), "--strength", "0.4", "--steps", "5",
                      "-o", str(out), "--plot")
    assert result.returncode == 0, result.stderr
    audio, rate = sf.read(out)
    source, _ = sf.read(vocal_file)
    assert rate == 44100 and audio.shape == source.shape and np.all(np.isfinite(audio))
    assert out.with_suffix(".png").exists()


def test_cli_double_writes_a_layer_per_model(tiny_bundle, tmp_path):
    result = diffband("double", "--from", str(tiny_bundle), "--to", f"{tiny_bundle},{tiny_bundle}", "--steps", "4",
                      "--split", "0.5", "-o", str(tmp_path), "--plot")
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in tmp_path.glob("*.wav"))
    assert names == ["0_tinyguitar_0.wav", "1_tinyguitar_0.wav", "2_tinyguitar_0.wav"]
    assert (tmp_path / "chorus.png").exists()  # double is chorus's other name


def test_cli_accompany_writes_layers_and_mix(tiny_bundle, vocal_file, tmp_path):
    result = diffband("accompany", str(vocal_file), "--with", str(tiny_bundle), "--steps", "4", "-o", str(tmp_path), "--plot")
    assert result.returncode == 0, result.stderr
    mix, rate = sf.read(tmp_path / "mix.wav")
    layer, _ = sf.read(tmp_path / "tinyguitar.wav")
    assert rate == 44100 and mix.shape == layer.shape == sf.read(vocal_file)[0].shape
    assert np.max(np.abs(mix)) <= 1.0 and (tmp_path / "accompany.png").exists()


def test_cli_refuses_unreadable_audio(tiny_bundle, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all")
    result = diffband("cross", str(bad), "--to", str(tiny_bundle), "-o", str(tmp_path / "o.wav"))
    assert result.returncode == 1 and "cannot read audio file" in result.stderr
