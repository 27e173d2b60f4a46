"""The issue-13 groundwork benchmarks' scoring and extractors (bench.pitch_truth,
bench.pitch_extractors, bench.codec_resolution) on synthetic clips with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from bench.codec_resolution import GEOMETRIES, semitone_limit, spectral_distances
from bench.pitch_truth import WINDOW_SAMPLES, Clip, midi_to_hz, score_monophonic, score_multipitch
from diffband.export.data_render import SAMPLE_RATE

SECONDS = WINDOW_SAMPLES / SAMPLE_RATE
#: Two notes: A3 for the first half, C4 for the second.
NOTES = np.array([[0.0, SECONDS / 2, 57.0], [SECONDS / 2, SECONDS, 60.0]])


def harmonic_tone(hz: float, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return sum(0.3 / k * np.sin(2 * np.pi * k * hz * t) for k in range(1, 6)).astype(np.float32)


def clip(*lines: np.ndarray) -> Clip:
    return Clip("synthetic", ("violin",) * len(lines), np.zeros(WINDOW_SAMPLES, np.float32), lines)


def f0_of_notes(notes: np.ndarray, times: np.ndarray, cents_off: float = 0.0) -> np.ndarray:
    f0 = np.zeros(times.size)
    for start, end, midi in notes:
        f0[(times >= start) & (times < end)] = midi_to_hz(midi + cents_off / 100.0)
    return f0


def test_monophonic_score_counts_right_wrong_and_octave_frames():
    times = np.arange(0.0, SECONDS, 0.02)
    assert score_monophonic(clip(NOTES), times, f0_of_notes(NOTES, times, 30.0)) == {
        "pitch": 1.0, "voicing": 1.0, "octave": 0.0,
    }
    assert score_monophonic(clip(NOTES), times, f0_of_notes(NOTES, times, 70.0))["pitch"] == 0.0
    octave = score_monophonic(clip(NOTES), times, f0_of_notes(NOTES, times, 1200.0))
    assert octave["pitch"] == 0.0 and octave["octave"] == 1.0
    silent = score_monophonic(clip(NOTES), times, np.zeros(times.size))
    assert silent["pitch"] == 0.0 and silent["voicing"] == 0.0


def test_multipitch_score_needs_both_lines_for_full_recall():
    second = NOTES.copy()
    second[:, 2] += 7.0
    times = np.arange(0.0, SECONDS, 0.02)
    first_f0, second_f0 = f0_of_notes(NOTES, times), f0_of_notes(second, times)
    both = [np.array([a, b]) for a, b in zip(first_f0, second_f0)]
    one = [np.array([a]) for a in first_f0]
    assert score_multipitch(clip(NOTES, second), times, both) == {"recall": 1.0, "precision": 1.0, "any_line": 1.0}
    half = score_multipitch(clip(NOTES, second), times, one)
    assert half["recall"] == pytest.approx(0.5) and half["precision"] == 1.0 and half["any_line"] == 1.0


def test_finer_mel_geometries_resolve_semitones_lower_down():
    limits = [semitone_limit(codec) for codec in GEOMETRIES.values()]
    tiny, finer = limits[0], limits[1:]
    assert 700 < tiny < 900  # 64 Slaney bands to 11 kHz: ~51 Hz apart below 1 kHz
    assert all(limit < tiny for limit in finer)


def test_spectral_distance_is_zero_for_the_source_and_grows_with_noise():
    tone = harmonic_tone(220.0, SECONDS)
    assert spectral_distances(tone, tone) == (0.0, 0.0)
    noisy = tone + 0.05 * np.random.default_rng(0).standard_normal(tone.size).astype(np.float32)
    louder_noise = tone + 0.2 * np.random.default_rng(0).standard_normal(tone.size).astype(np.float32)
    assert 0 < spectral_distances(tone, noisy)[0] < spectral_distances(tone, louder_noise)[0]


def test_basic_pitch_contour_finds_two_simultaneous_tones():
    pytest.importorskip("basic_pitch")
    from bench.pitch_extractors import BASIC_PITCH_THRESHOLD, basic_pitch_contour, contour_peaks

    audio = harmonic_tone(220.0, SECONDS) + harmonic_tone(330.0, SECONDS)
    times, contour = basic_pitch_contour(audio)
    assert times[-1] == pytest.approx(SECONDS, abs=0.05) and np.all(np.diff(times) > 0)
    middle = contour_peaks(contour[len(times) // 4 : 3 * len(times) // 4], BASIC_PITCH_THRESHOLD, strongest_only=False)
    found = np.concatenate(middle)
    for hz in (220.0, 330.0):
        share = np.mean([np.any(np.abs(1200 * np.log2(frame / hz)) <= 50) for frame in middle if frame.size])
        assert share > 0.9, (hz, share)
    assert np.all(np.abs(1200 * np.log2(found[:, None] / np.array([220.0, 330.0])[None, :])).min(axis=1) <= 50)
