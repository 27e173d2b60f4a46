"""The engine's fast paths against their reference paths, with stated tolerances:
batch chunking is exact; the 16-iteration vocoder stays within a spectral-distance
bound of the training-time 32-iteration one (numbers in bench/RESULTS.md)."""

from __future__ import annotations



import librosa
import numpy as np
import pytest

from diffband.evaluation.embeddings import MfccStats, embed_clips
from diffband.evaluation.fad import fad
from diffband.engine.model import DiffusionModel
from diffband.engine.settings import setting
from diffband.engine.vocoders import VocoderSpec, decode_image, stft_magnitude
from tests.conftest import REPO, render_clip


@pytest.fixture(scope="module")
def violin():
    return DiffusionModel.load(REPO / "models" / "violin.onnx", device="cpu")


def test_chunked_batches_equal_one_big_batch(violin):
    x = np.random.default_rng(0).standard_normal((9, 1, *violin.info.image_shape), dtype=np.float32)
    t = np.full(9, 321.0)
    assert violin.max_batch < 9
    chunked = violin(x, t)
    violin.max_batch, saved = 64, violin.max_batch
    try:
        whole = violin(x, t)
    finally:
        violin.max_batch = saved
    np.testing.assert_array_equal(chunked, whole)


def spectral_convergence(codec, image, audio) -> float:
    target = stft_magnitude(codec, np.concatenate([image, image[:, -1:]], axis=1), VocoderSpec().nnls_iters)
    got = np.abs(librosa.stft(audio, n_fft=codec.n_fft, hop_length=codec.hop_length))
    n = min(target.shape[1], got.shape[1])
    return float(np.linalg.norm(target[:, :n] - got[:, :n]) / np.linalg.norm(target[:, :n]))


def test_fast_vocoder_within_bounds_of_the_reference(violin):
    fast = violin.info.codec
    reference = VocoderSpec()  # the griffin-lim vocoder (the shipped bundles now name magnitude-net, same Griffin-Lim)
    runtime = reference.at_runtime()
    assert (runtime.griffin_lim_iters, reference.griffin_lim_iters, violin.info.vocoder.griffin_lim_iters) == (
        setting("DIFFBAND_GL_ITERS"), 32, 32)
    clips = [render_clip("violin", fast.window_seconds + 0.1, seed)[: fast.window_samples] for seed in (900, 901, 902, 903)]
    images = [fast.encode(c) for c in clips]
    fast_audio = [decode_image(fast, i, runtime) for i in images]
    ref_audio = [decode_image(fast, i, reference) for i in images]
    sc_fast = np.mean([spectral_convergence(fast, i, a) for i, a in zip(images, fast_audio)])
    sc_ref = np.mean([spectral_convergence(fast, i, a) for i, a in zip(images, ref_audio)])
    assert sc_ref < sc_fast < sc_ref + 0.03 and sc_fast < 0.08, (sc_fast, sc_ref)
    # the timbre metric of the evaluation barely moves: FAD to the original clips
    embed = MfccStats()
    original = embed_clips(embed, [(c, fast.sample_rate) for c in clips])
    fad_fast = fad(original, embed_clips(embed, [(a, fast.sample_rate) for a in fast_audio]))
    fad_ref = fad(original, embed_clips(embed, [(a, fast.sample_rate) for a in ref_audio]))
    assert fad_fast < 1.15 * fad_ref + 50, (fad_fast, fad_ref)
    for a in fast_audio:  # same level as the reference decode (the codec keeps level)
        assert a.shape == (fast.window_samples,)
    rms = lambda xs: 20 * np.log10(np.sqrt(np.mean(np.concatenate(xs) ** 2)))  # noqa: E731
    assert abs(rms(fast_audio) - rms(ref_audio)) < 0.5


def test_concurrent_instruments_give_the_same_accompaniment(violin):
    from diffband.engine.accompany import accompany
    from diffband.engine.model import threads_per_model

    guitar = DiffusionModel.load(REPO / "models" / "guitar.onnx", device="cpu", threads=threads_per_model(2))
    violin_1 = DiffusionModel.load(REPO / "models" / "violin.onnx", device="cpu", threads=threads_per_model(2))
    vocal = render_clip("voice", 5.0, 77)
    ticks: list[tuple[int, int]] = []
    together = accompany(vocal, 22050, [guitar, violin_1], steps=6, workers=2, progress=lambda d, n: ticks.append((d, n)))
    apart = accompany(vocal, 22050, [guitar, violin_1], steps=6, workers=1)
    for name in apart.layers:
        np.testing.assert_array_equal(together.layers[name], apart.layers[name])
    np.testing.assert_array_equal(together.mix, apart.mix)
    assert ticks[-1][0] == ticks[-1][1] and [d for d, _ in ticks] == sorted(d for d, _ in ticks)
