"""The ``magnitude-net`` vocoder: its network contract, a tiny network trained by the CLI on
tones, named in a bundle by ``export --vocoder-network``, and decoding through the engine."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from diffband.engine.magnitude_net import log_magnitude, magnitude_from_log
from diffband.engine.model import DiffusionModel, load_models
from diffband.engine.stft import stft
from diffband.engine.vocoders import VocoderSpec

RATE = 22050


def tone(midi: float, seconds: float = 5.0) -> np.ndarray:
    """A bright harmonic tone (partials 1/h up to 8 kHz) with short fades."""
    f0 = 440.0 * 2 ** ((midi - 69) / 12)
    t = np.arange(int(seconds * RATE)) / RATE
    y = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, int(8000 / f0) + 1))
    fade = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.05)
    return (0.25 * y * fade / np.max(np.abs(y))).astype(np.float32)


def test_wild_network_outputs_become_bounded_magnitudes(tiny_codec):
    from diffband.engine.magnitude_net import CEILING_DB

    out = magnitude_from_log(tiny_codec, np.array([[1e4, -1e4, np.nan, np.inf, -np.inf, 0.0]], np.float32))
    ceiling = 10 ** (CEILING_DB / 20) * tiny_codec.magnitude_scale
    np.testing.assert_allclose(out[0], [ceiling, 0, 0, ceiling, 0, tiny_codec.magnitude_scale], rtol=1e-5)


def test_log_magnitude_round_trips_to_the_stft_magnitude(tiny_codec):
    y = tone(60)
    back = magnitude_from_log(tiny_codec, log_magnitude(tiny_codec, y))
    truth = np.abs(stft(y, tiny_codec.n_fft, tiny_codec.hop_length))
    loud = truth > 1e-3 * truth.max()
    np.testing.assert_allclose(back[loud], truth[loud], rtol=1e-4)
    assert np.all(back[truth < 1e-7 * tiny_codec.magnitude_scale] == 0.0)  # below the floor: silence


@pytest.fixture(scope="module")
def tone_network(tmp_path_factory) -> Path:
    from diffband.bridge.cli import main

    root = tmp_path_factory.mktemp("vocoder")
    (root / "audio").mkdir()
    for k, midi in enumerate(np.random.default_rng(0).uniform(50, 80, 96)):  # 8 min of tones
        sf.write(root / "audio" / f"{k}.wav", tone(midi), RATE)
    out = root / "vocoders" / "net.onnx"
    assert main(["train-vocoder", str(root / "audio"), "--out", str(out), "--steps", "1000", "--batch-size", "8",
                 "--width", "64", "--dilations", "1,2,1", "--lr", "3e-3", "--threads", "1"]) == 0
    return out


def peak_midi(audio: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.size)))
    return 69 + 12 * np.log2(np.argmax(spectrum) * RATE / audio.size / 440.0)


def test_a_bundle_named_to_a_trained_network_decodes_with_it(tmp_path, tone_network, tiny_bundle, tiny_codec):
    from diffband.bridge.cli import main

    bundle = tone_network.parent.parent / "guitar.onnx"
    assert main(["export", "--from-bundle", str(tiny_bundle), "--vocoder-network", str(tone_network),
                 "--out", str(bundle)]) == 0
    model = DiffusionModel.load(bundle, device="cpu")
    assert model.info.vocoder.name == "magnitude-net" and model.info.vocoder.network == "vocoders/net.onnx"
    assert model.vocoder.name == "magnitude-net"
    held_out = [tone(m) for m in (55.5, 64.0, 73.5)]  # pitches no training file had
    images = np.stack([tiny_codec.encode(y[: tiny_codec.window_samples]) for y in held_out])
    audio = model.decode(images)
    assert audio.shape == (3, tiny_codec.window_samples) and np.isfinite(audio).all()
    for source, decoded in zip(held_out, audio):
        middle = slice(RATE // 2, 3 * RATE // 2)
        assert abs(peak_midi(decoded[middle]) - peak_midi(source[middle])) < 0.5  # the fundamental in its place
        level = 20 * np.log10(np.std(decoded[middle]) / np.std(source[middle]))
        assert abs(level) < 6.0  # the level kept (an untrained network starts 60 dB down)
    silent = model.decode(-np.ones((1, *tiny_codec.image_shape), np.float32))
    assert np.max(np.abs(silent)) < 1e-4
    # images unlike any audio (a sampler's first steps, an untrained model) still decode to bounded audio
    wild = np.stack([np.ones(tiny_codec.image_shape), np.random.default_rng(0).uniform(-1, 1, tiny_codec.image_shape)])
    loud = model.decode(wild.astype(np.float32))
    assert np.isfinite(loud).all() and np.max(np.abs(loud)) < 100.0

    # the bundle names its network relative to itself: moved together they work, apart they say why
    moved = tmp_path / "moved"
    shutil.copytree(bundle.parent, moved)
    on_net = DiffusionModel.load(moved / "guitar.onnx", device="cpu")
    # format 2, so a diffband without magnitude-net says "upgrade diffband", not "corrupt metadata"
    assert on_net.vocoder.name == "magnitude-net" and on_net.info.format_version == 2
    alone = tmp_path / "alone.onnx"
    shutil.copy(bundle, alone)
    with pytest.raises(FileNotFoundError, match="vocoders/ folder"):  # a job's load fails, not its first decode
        load_models([str(alone)], device="cpu")
    (moved / "vocoders" / "net.onnx").write_bytes(b"not the network")
    with pytest.raises(ValueError, match="SHA-256"):
        load_models([str(moved / "guitar.onnx")], device="cpu")

    # a conversion written to another folder still finds the network
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert main(["export", "--from-bundle", str(bundle), "--pitch-range", "40:76", "--out", str(elsewhere / "g.onnx")]) == 0
    assert DiffusionModel.load(elsewhere / "g.onnx", device="cpu").vocoder.name == "magnitude-net"

    assert main(["export", "--from-bundle", str(bundle), "--vocoder-network", "none", "--out", str(tmp_path / "gl.onnx")]) == 0
    back = DiffusionModel.load(tmp_path / "gl.onnx", device="cpu")
    assert back.vocoder.name == "griffin-lim" and back.info.vocoder == VocoderSpec()  # griffin-lim's own NNLS iterations
    assert back.info.format_version == 1  # readable by every diffband again


@pytest.mark.parametrize("options, message", [
    (["--dilations", "1,two"], "--dilations must be comma-separated whole numbers"),
    (["--dilations", "1,0"], "--dilations needs one or more whole numbers >= 1"),
    (["--kernel", "4"], "--kernel an odd number"),
    (["--dilations", "16,16,16"], "more than the 97-frame crops"),
])
def test_a_network_shape_it_cannot_train_is_refused_before_any_audio_is_read(tmp_path, capsys, options, message):
    from diffband.bridge.cli import main

    out = tmp_path / "net.onnx"
    assert main(["train-vocoder", str(tmp_path / "missing"), "--out", str(out), *options]) != 0
    assert message in capsys.readouterr().err and not out.exists()


def test_a_foreign_network_is_refused(tmp_path, tiny_bundle, capsys):
    from diffband.bridge.cli import main

    out = tmp_path / "x.onnx"
    assert main(["export", "--from-bundle", str(tiny_bundle), "--vocoder-network", str(tiny_bundle), "--out", str(out)]) != 0
    assert "not a magnitude-net vocoder" in capsys.readouterr().err and not out.exists()
