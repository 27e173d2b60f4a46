"""cross- and double-diffusion on real ONNX Runtime sessions: structure, layout, errors, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import soxr

from diffband.engine.cross import cross, cross_images, start_index
from diffband.engine.double import double
from diffband.engine.model import DiffusionModel


@pytest.fixture(scope="module")
def model(tiny_bundle) -> DiffusionModel:
    return DiffusionModel.load(tiny_bundle, device="cpu")


def test_strength_zero_returns_the_source_mel(model, guitar_clip):
    images = np.stack([model.info.codec.encode(guitar_clip[: model.info.codec.window_samples])])
    np.testing.assert_array_equal(cross_images(model, images, strength=0.0, steps=10), images)
    out = cross(guitar_clip[:22050 * 3], 22050, model, strength=0.0, steps=10)
    reference = model.info.codec.encode(np.pad(guitar_clip[:22050 * 3], (0, model.info.codec.window_samples - 22050 * 3)))
    again = model.info.codec.encode(np.pad(out, (0, model.info.codec.window_samples - out.size)))
    assert np.mean(np.abs(again - reference)) < 0.06  # only the codec's Griffin-Lim error


def test_strength_one_ignores_the_source(model, guitar_clip, violin_clip):
    w = model.info.codec.window_samples
    a = cross_images(model, model.info.codec.encode(guitar_clip[:w])[None], 1.0, steps=4, seed=3)
    b = cross_images(model, model.info.codec.encode(violin_clip[:w])[None], 1.0, steps=4, seed=3)
    np.testing.assert_array_equal(a, b)
    mid_a = cross_images(model, model.info.codec.encode(guitar_clip[:w])[None], 0.5, steps=4, seed=3)
    mid_b = cross_images(model, model.info.codec.encode(violin_clip[:w])[None], 0.5, steps=4, seed=3)
    assert not np.allclose(mid_a, mid_b)


def test_start_index_follows_strength():
    timesteps = np.array([980, 960, 500, 20, 0])
    assert start_index(timesteps, 1.0, 1000) == 0
    assert start_index(timesteps, 0.5, 1000) == 2
    assert start_index(timesteps, 0.0, 1000) == 4  # only the t = 0 step; cross_images skips even that
    with pytest.raises(ValueError, match="strength"):
        start_index(timesteps, 1.5, 1000)


@pytest.mark.parametrize("seconds", [1.0, 5.0, 17.0])
@pytest.mark.parametrize("rate, channels", [(22050, 0), (44100, 2), (48000, 1)])
def test_output_layout_equals_input(model, guitar_clip, seconds, rate, channels):
    source = np.tile(guitar_clip, 3)[: int(seconds * 22050)]
    audio = soxr.resample(source, 22050, rate)
    if channels:
        audio = np.stack([audio * (0.5 + 0.5 * c) for c in range(channels)], axis=1)
    out = cross(audio, rate, model, strength=0.5, steps=4, seed=0)
    assert out.shape == audio.shape and out.dtype == np.float32
    assert np.all(np.isfinite(out))
    assert np.sqrt(np.mean(out**2)) > 1e-4


def test_cross_is_deterministic_for_a_seed(model, guitar_clip):
    a = cross(guitar_clip, 22050, model, strength=0.6, steps=4, seed=11)
    b = cross(guitar_clip, 22050, model, strength=0.6, steps=4, seed=11)
    c = cross(guitar_clip, 22050, model, strength=0.6, steps=4, seed=12)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize(
    "audio, rate, message",
    [
        (np.array([0.1, np.nan, 0.2] * 1000, dtype=np.float32), 22050, "NaN or Inf"),
        (np.zeros(0, dtype=np.float32), 22050, "empty"),
        (np.zeros((10, 2, 2), dtype=np.float32), 22050, "frames, channels"),
        (np.zeros(1000, dtype=np.float32), 0, "sample rate"),
        (np.zeros(22050 * 11, dtype=np.float32), 22050, "limit is 10 s"),
    ],
)
def test_bad_input_is_a_clear_value_error(model, audio, rate, message):
    with pytest.raises(ValueError, match=message):
        cross(audio, rate, model, strength=0.5, steps=4, max_seconds=10)


def test_double_layers_branch_from_one_intermediate(model):
    layers = double(model, [model], steps=6, split=0.5, seed=1, n=2)
    assert [name for name, _ in layers] == [model.name, model.name]
    for _, images in layers:
        assert images.shape == (2, *model.info.image_shape) and np.all(np.isfinite(images))
    # The same model finishing the same intermediate deterministically gives the same layer.
    np.testing.assert_array_equal(layers[0][1], layers[1][1])
    with pytest.raises(ValueError, match="at least one target"):
        double(model, [], steps=4)
    with pytest.raises(ValueError, match="split"):
        double(model, [model], steps=4, split=2.0)


@pytest.mark.parametrize("split", [0.0, 0.5, 1.0])
def test_double_forks_at_the_split_step(split):
    """Two different models: the lead's layer is the lead's own run from noise, the other
    layer is the lead down to the split step and the second model after it."""
    from diffband.engine.denoise import denoise
    from diffband.engine.model import load_models
    from diffband.engine.samplers import make_sampler

    violin, guitar = load_models(["violin", "guitar"], device="cpu", threads=1)
    steps, seed = 6, 3
    layers = double(violin, [guitar], steps=steps, split=split, seed=seed, n=1, follow="off")  # the report's fork
    sampler = make_sampler(violin.info.schedule)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1, 1, *violin.info.image_shape), dtype=np.float32)
    fork = int(round(split * steps))
    trunk = denoise(violin, sampler, x, steps, rng, stop_index=fork)
    lead_alone = denoise(violin, sampler, trunk, steps, rng, start_index=fork)[:, 0]
    other = denoise(guitar, sampler, trunk, steps, rng, start_index=fork)[:, 0]
    np.testing.assert_array_equal(layers[0][1], lead_alone)
    np.testing.assert_array_equal(layers[1][1], other)
    if split < 1.0:
        assert not np.allclose(layers[0][1], layers[1][1])  # the layers differ after a fork before the end


def test_accompany_layers_are_matched_cleaned_and_mixed_without_clipping(model, violin_clip):
    from diffband.engine.accompany import INSTRUMENT_BANDS, accompany, loudness_lufs

    vocals = soxr.resample(violin_clip, 22050, 44100)
    stereo = np.stack([vocals, vocals * 0.9], axis=1) * 1.5  # hot input: the mix must not clip
    result = accompany(stereo, 44100, [model, model], strength=0.5, steps=4, seed=0, layer_gain_db=[-3.0, -9.0])
    assert list(result.layers) == [model.name, f"{model.name}_1"]
    assert result.mix.shape == stereo.shape
    for layer in result.layers.values():
        assert layer.shape == stereo.shape and np.all(np.isfinite(layer))
    lufs = [loudness_lufs(layer, 44100) for layer in result.layers.values()]
    for measured, (name, layer), gain in zip(lufs, result.layers.items(), (-3.0, -9.0)):
        assert measured == pytest.approx(result.layer_lufs[name], abs=0.1)  # what the result reports is true
        if np.max(np.abs(layer)) < 10 ** (-1 / 20) * 0.999:  # matched, unless the -1 dBFS rule turned it down
            assert measured == pytest.approx(result.vocal_lufs + gain, abs=0.5)
        else:
            assert measured < result.vocal_lufs + gain
    assert np.max(np.abs(result.mix)) <= 10 ** (-1 / 20) + 1e-6
    assert result.mix_gain_db < 0
    # Band-pass: almost nothing left below the guitar band's low edge.
    low_edge = INSTRUMENT_BANDS["guitar"][0]
    layer = next(iter(result.layers.values()))[:, 0]
    spectrum = np.abs(np.fft.rfft(layer)) ** 2
    freqs = np.fft.rfftfreq(layer.size, 1 / 44100)
    assert spectrum[freqs < low_edge / 2].sum() < 1e-3 * spectrum.sum()


def test_accompany_refuses_no_instruments(violin_clip):
    from diffband.engine.accompany import accompany

    with pytest.raises(ValueError, match="at least one instrument"):
        accompany(violin_clip, 22050, [])


def test_inversion_mode_is_deterministic_and_ignores_the_seed(model, guitar_clip):
    w = model.info.codec.window_samples
    images = model.info.codec.encode(guitar_clip[:w])[None]
    a = cross_images(model, images, 0.6, steps=5, seed=1, invert_with=model)
    b = cross_images(model, images, 0.6, steps=5, seed=2, invert_with=model)
    np.testing.assert_array_equal(a, b)
    noised = cross_images(model, images, 0.6, steps=5, seed=1)
    assert not np.allclose(a, noised)
    assert a.shape == images.shape and np.all(np.isfinite(a))


def test_ddpm_sampler_runs_the_techniques_repeatably(model, guitar_clip):
    from diffband.engine.samplers import make_sampler

    w = model.info.codec.window_samples
    images = model.info.codec.encode(guitar_clip[:w])[None]
    a = cross_images(model, images, 0.5, steps=6, seed=4, sampler_kind="ddpm")
    b = cross_images(model, images, 0.5, steps=6, seed=4, sampler_kind="ddpm")
    ddim = cross_images(model, images, 0.5, steps=6, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, ddim) and np.all(np.isfinite(a))
    layers = double(model, [model], steps=4, split=0.5, seed=0, sampler_kind="ddpm")
    assert all(np.all(np.isfinite(images)) for _, images in layers)
    with pytest.raises(ValueError, match="unknown sampler 'euler'"):
        make_sampler(model.info.schedule, "euler")


def test_accompany_matches_layer_loudness_to_a_quiet_vocal(model, violin_clip):
    from diffband.engine.accompany import accompany, loudness_lufs

    quiet = violin_clip * 0.1  # far from full scale: the -1 dBFS rule does not touch the layers
    result = accompany(quiet, 22050, [model], strength=0.5, steps=4, seed=0, layer_gain_db=-6.0)
    layer = next(iter(result.layers.values()))
    assert np.max(np.abs(layer)) < 10 ** (-1 / 20)
    assert loudness_lufs(layer, 22050) == pytest.approx(result.vocal_lufs - 6.0, abs=0.5)
