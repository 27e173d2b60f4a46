"""Mel codec: level-preserving round trip on real rendered audio, fixed reference, errors."""

from __future__ import annotations

import numpy as np
import pytest

from diffband.engine.vocoders import decode_image
from diffband.engine.mel import PRESETS, MelCodec, preset


def rms_db(audio: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(np.square(audio, dtype=np.float64))) + 1e-12))


def band_profile_db(codec: MelCodec, audio: np.ndarray) -> np.ndarray:
    """Mean energy per mel band in dB: the clip's spectral shape."""
    return 10 * np.log10(codec.mel_magnitude(audio).mean(axis=1) + 1e-10)


@pytest.mark.parametrize("clip_name", ["guitar_clip", "violin_clip"])
def test_round_trip_keeps_level_and_spectral_shape(request, tiny_codec, clip_name):
    audio = request.getfixturevalue(clip_name)[: tiny_codec.window_samples]
    image = tiny_codec.encode(audio)
    assert image.shape == tiny_codec.image_shape
    assert image.dtype == np.float32 and np.all(np.abs(image) <= 1.0)
    decoded = decode_image(tiny_codec, image)
    assert decoded.shape == audio.shape and np.all(np.isfinite(decoded))
    assert abs(rms_db(decoded) - rms_db(audio)) < 1.0
    original, rebuilt = band_profile_db(tiny_codec, audio), band_profile_db(tiny_codec, decoded)
    audible = original > original.max() - 60
    assert np.corrcoef(original[audible], rebuilt[audible])[0, 1] > 0.95
    assert np.median(np.abs(original[audible] - rebuilt[audible])) < 3.0


def test_absolute_level_is_recoverable(tiny_codec, violin_clip):
    """A clip 12 dB quieter encodes 12 dB lower and decodes 12 dB quieter (fixed dB reference)."""
    audio = violin_clip[: tiny_codec.window_samples]
    loud, quiet = tiny_codec.encode(audio), tiny_codec.encode(audio * 10 ** (-12 / 20))
    span = tiny_codec.db_max - tiny_codec.db_min
    unclipped = (loud > -0.5) & (quiet > -0.5)
    shift_db = float(np.median(loud[unclipped] - quiet[unclipped])) / 2 * span
    assert shift_db == pytest.approx(12.0, abs=0.2)
    assert rms_db(decode_image(tiny_codec, quiet)) == pytest.approx(rms_db(audio) - 12.0, abs=1.0)


def test_full_scale_sine_reads_about_zero_db(tiny_codec):
    t = np.arange(tiny_codec.window_samples) / tiny_codec.sample_rate
    mel = tiny_codec.mel_magnitude(np.sin(2 * np.pi * 440 * t))
    assert 10 * np.log10(mel.max()) == pytest.approx(0.0, abs=1.5)


def test_silence_encodes_to_floor(tiny_codec):
    image = tiny_codec.encode(np.zeros(tiny_codec.window_samples, dtype=np.float32))
    assert np.all(image == -1.0)
    assert np.max(np.abs(decode_image(tiny_codec, image))) < 1e-6  # below -120 dBFS


def test_codec_json_round_trip_and_presets():
    for codec in PRESETS.values():
        assert MelCodec.from_json(codec.to_json()) == codec
        assert codec.frames * codec.hop_length == codec.window_samples
        assert 4.0 < codec.window_seconds < 6.5  # the report's 5-second-class windows
    with pytest.raises(ValueError, match="unknown mel preset"):
        preset("huge")
    with pytest.raises(ValueError, match="unknown mel codec fields"):
        MelCodec.from_dict({"sample_rate": 22050, "colour": "red"})


def test_bad_input_is_refused(tiny_codec):
    with pytest.raises(ValueError, match="mono"):
        tiny_codec.encode(np.zeros((2, 1000), dtype=np.float32))
    bad = np.zeros(tiny_codec.image_shape, dtype=np.float32)
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        decode_image(tiny_codec, bad)
    with pytest.raises(ValueError, match="shape"):
        decode_image(tiny_codec, np.zeros((3, 10), dtype=np.float32))
