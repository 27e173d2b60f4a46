"""Int8 bundles (export/int8.py): the CI-sized conditional pipeline's bundle quantized through
the export command, calibrated on its own prepared dataset, then loaded and run by the engine."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from diffband.engine.cross import cross
from diffband.engine.model import DiffusionModel
from tests.conftest import REPO, render_clip


def export(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "diffband.bridge.cli", "export", *args], capture_output=True, text=True,
                          cwd=REPO)


@pytest.fixture(scope="module")
def int8_bundle(tmp_path_factory, conditional_bundle, conditional_dataset) -> Path:
    out = tmp_path_factory.mktemp("int8") / "condguitar-int8.onnx"
    done = export("--int8", str(conditional_dataset), "--from-bundle", str(conditional_bundle), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "int8 convolutions" in done.stdout and "relative eps error" in done.stdout
    return out


def test_int8_bundle_keeps_metadata_float32_io_and_quantizes_the_convolutions(int8_bundle, conditional_bundle):
    import onnx

    fp32, int8 = DiffusionModel.load(conditional_bundle, device="cpu"), DiffusionModel.load(int8_bundle, device="cpu")
    assert (fp32.info.precision, int8.info.precision) == ("fp32", "int8")
    assert int8.info.condition == fp32.info.condition and int8.info.codec == fp32.info.codec
    assert int8.info.schedule == fp32.info.schedule and int8.info.instrument == fp32.info.instrument
    assert {i.name: i.type for i in int8.session.get_inputs()} == {i.name: i.type for i in fp32.session.get_inputs()}
    nodes = onnx.load(str(int8_bundle)).graph.node
    convs = [n for n in nodes if n.op_type == "Conv"]
    quantized = {n.output[0] for n in nodes if n.op_type == "DequantizeLinear"}
    assert len(convs) > 2
    fed = [any(i in quantized for i in conv.input) for conv in convs]
    assert not fed[0] and not fed[-1] and all(fed[1:-1])  # the input and output convolutions stay float
    assert int8_bundle.stat().st_size < 0.6 * conditional_bundle.stat().st_size


def test_int8_bundle_follows_notes_like_the_fp32_one(int8_bundle, conditional_bundle):
    """Same input, seed and condition: the int8 layer is a finite, audible layer of the same
    length, nearer the fp32 layer than the fp32 layer is to another seed's."""
    fp32, int8 = DiffusionModel.load(conditional_bundle, device="cpu"), DiffusionModel.load(int8_bundle, device="cpu")
    rate = fp32.info.sample_rate
    clip = render_clip("guitar", 3.0, seed=21)
    layers = {name: cross(clip, rate, model, 0.8, 6, seed=1, follow="notes") for name, model in (("fp32", fp32), ("int8", int8))}
    other_seed = cross(clip, rate, fp32, 0.8, 6, seed=2, follow="notes")
    assert layers["int8"].shape == clip.shape and np.all(np.isfinite(layers["int8"]))
    assert np.sqrt(np.mean(layers["int8"] ** 2)) > 1e-3

    def spectrum(audio: np.ndarray) -> np.ndarray:
        return fp32.info.codec.encode(audio[: fp32.info.codec.window_samples])

    apart = np.abs(spectrum(layers["int8"]) - spectrum(layers["fp32"])).mean()
    assert apart < np.abs(spectrum(other_seed) - spectrum(layers["fp32"])).mean()


def test_an_int8_graph_past_the_error_gate_is_not_written(tmp_path, conditional_bundle, conditional_dataset):
    from diffband.export.int8 import Int8Error, quantize_bundle_int8

    out = tmp_path / "models" / "x.onnx"
    with pytest.raises(Int8Error, match="relative eps error .* > 0; nothing written"):
        quantize_bundle_int8(conditional_bundle, out, conditional_dataset, count=8, max_relative_error=0.0)
    assert not out.exists() and not any(out.parent.iterdir())  # no bundle, no scratch left


def test_int8_refuses_what_it_cannot_quantize(tmp_path, int8_bundle, conditional_bundle, tiny_dataset):
    twice = export("--int8", str(tiny_dataset), "--from-bundle", str(int8_bundle), "--out", str(tmp_path / "x.onnx"))
    assert twice.returncode == 1 and "is a int8 bundle; quantize its fp32 bundle" in twice.stderr
    no_conditions = export("--int8", str(tiny_dataset), "--from-bundle", str(conditional_bundle), "--out", str(tmp_path / "y.onnx"))
    assert no_conditions.returncode == 1 and "has no condition images" in no_conditions.stderr
    both = export("--int8", str(tiny_dataset), "--fp16", "--from-bundle", str(conditional_bundle), "--out", str(tmp_path / "z.onnx"))
    assert both.returncode == 1 and "choose one of --fp16 and --int8" in both.stderr
    assert not any(tmp_path.iterdir())  # nothing half-written


def test_int8_refuses_conditions_drawn_another_way(tmp_path, conditional_bundle, conditional_dataset):
    """A dataset whose notes were drawn with another placement than the bundle's would calibrate
    the activations on inputs the model never sees."""
    from diffband.export.int8 import Int8Error, calibration_inputs

    legacy = tmp_path / "legacy"
    shutil.copytree(conditional_dataset, legacy)
    manifest = json.loads((legacy / "manifest.json").read_text())
    manifest["condition"]["placement"] = "row"
    (legacy / "manifest.json").write_text(json.dumps(manifest))
    model = DiffusionModel.load(conditional_bundle, device="cpu")
    with pytest.raises(Int8Error, match="conditions were drawn as .*placement='row'"):
        calibration_inputs(model, legacy, 4)
    assert len(calibration_inputs(model, conditional_dataset, 4)) == 4
