"""The live engine's timing, driven callback by callback: constant latency, crossfades that
add up, and late windows counted instead of crashing."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import numpy as np

import pytest

from diffband.bridge.live import FADE_SHARE, MIN_AUTO_WINDOW_SECONDS, LiveEngine, RoomGate, auto_window, run_live

RATE = 8000
BLOCK = 256
OK = SimpleNamespace(input_overflow=False, output_underflow=False)


def drive(engine: LiveEngine, signal: np.ndarray, wait_for_windows: bool = True) -> np.ndarray:
    """Feed ``signal`` through ``engine.callback`` block by block, as an audio device would."""
    worker = threading.Thread(target=engine.work, daemon=True)
    worker.start()
    out = np.zeros((signal.size, 1), dtype=np.float32)
    for start in range(0, signal.size - BLOCK + 1, BLOCK):
        before = engine.frames_in
        engine.callback(signal[start : start + BLOCK, None], out[start : start + BLOCK], BLOCK, None, OK)
        due = (engine.frames_in - engine.window) // engine.hop + 1 if engine.frames_in >= engine.window else 0
        crossed = before < engine.window + (due - 1) * engine.hop <= engine.frames_in
        deadline = time.monotonic() + 5
        while wait_for_windows and crossed and engine.stats.windows < due and time.monotonic() < deadline:
            time.sleep(0.001)
    engine.finish()
    worker.join(timeout=5)
    return out[:, 0]


def test_output_is_the_processed_input_after_exactly_the_reported_latency():
    t = np.arange(RATE * 6) / RATE
    signal = (0.5 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.7 * t))).astype(np.float32)
    engine = LiveEngine(lambda window, rate: 0.5 * window, RATE, window_seconds=0.5, budget_seconds=0.25, out_channels=1)
    out = drive(engine, signal)
    delay = engine.delay
    assert engine.stats.latency_seconds == delay / RATE == 0.75
    assert np.all(out[:delay] == 0)  # nothing before the latency has passed
    steady = slice(delay + engine.fade, signal.size - engine.window)  # after the first fade-in
    np.testing.assert_allclose(out[steady], 0.5 * signal[steady.start - delay : steady.stop - delay], atol=1e-5)
    assert engine.stats.late_windows == engine.stats.dropped_windows == 0
    assert engine.stats.windows >= 9


def test_slow_windows_are_counted_late_and_dropped_not_crashed():
    def slow(window, rate):
        time.sleep(0.3)
        return window

    engine = LiveEngine(slow, RATE, window_seconds=0.25, budget_seconds=0.01, out_channels=2)
    signal = np.ones(RATE * 3, dtype=np.float32) * 0.1
    worker = threading.Thread(target=engine.work, daemon=True)
    worker.start()
    out = np.zeros((BLOCK, 2), dtype=np.float32)
    for _ in range(signal.size // BLOCK):  # real time: the device does not wait for the worker
        engine.callback(signal[:BLOCK, None], out, BLOCK, None, OK)
        time.sleep(BLOCK / RATE)
    stats = engine.finish()
    worker.join(timeout=5)
    assert stats.windows >= 2
    assert stats.late_windows >= 1 and stats.dropped_windows >= 1


def test_failing_window_gives_silence_and_overflows_are_counted():
    def broken(window, rate):
        raise RuntimeError("model exploded")

    engine = LiveEngine(broken, RATE, window_seconds=0.25, budget_seconds=0.05, out_channels=1)
    bad = SimpleNamespace(input_overflow=True, output_underflow=True)
    engine.callback(np.zeros((BLOCK, 1), np.float32), np.zeros((BLOCK, 1), np.float32), BLOCK, None, bad)
    out = drive(engine, np.full(RATE * 2, 0.2, dtype=np.float32))
    assert np.all(out == 0)
    assert engine.stats.windows >= 3
    assert engine.stats.input_overflows == 1 and engine.stats.output_underflows == 1


def test_the_budget_is_measured_on_a_sung_like_line_that_the_pitch_reader_voices():
    from diffband.bridge.live import probe_input
    from diffband.engine.tuning import asked_pitch

    probe = probe_input(1.5, 48000)
    assert probe.shape == (72000,) and probe.dtype == np.float32 and 0.05 < np.abs(probe).max() < 0.5
    import soxr

    asked = asked_pitch(soxr.resample(probe, 48000, 22050), 22050)
    voiced = np.isfinite(asked.bins)
    assert voiced.mean() > 0.8  # the re-tuning and the condition have notes to work on, as with a player
    midi = 21 + (asked.bins[voiced] - 1) / 3
    assert 56 < np.median(midi) < 67  # A3 up to F#4


def test_auto_window_is_the_shortest_whose_hop_covers_the_budget():
    # a fast machine gets the shortest window that keeps the notes, a slow one a window its worker keeps up with
    assert auto_window(0.3, 4.46) == MIN_AUTO_WINDOW_SECONDS
    slow = auto_window(1.8, 4.46)
    assert slow * (1 - FADE_SHARE) == pytest.approx(1.8) and slow > MIN_AUTO_WINDOW_SECONDS
    engine = LiveEngine(lambda window, rate: window, RATE, slow, 1.8, out_channels=1)
    assert engine.hop / RATE >= 1.8 - 1 / RATE  # the worker gets the whole budget between windows
    assert auto_window(9.0, 4.46) == 4.46  # never past a model window: the latency would grow, the music not
    with pytest.raises(ValueError, match="budget must be positive"):
        auto_window(0.0, 4.46)
    with pytest.raises(ValueError, match="needs longest_window"):  # said before any audio device opens
        run_live(lambda window, rate: window, None, duration=0.1)


def test_room_tone_alone_is_silence_before_and_after_a_phrase():
    """A window of room tone louder than the gate used to be grown into a noise layer before the first
    phrase and after a pause longer than the input a window is grown with."""
    rate = 16000
    rng = np.random.default_rng(0)
    room = lambda seconds: (rng.standard_normal(int(seconds * rate)) * 10 ** (-45 / 20)).astype(np.float32)
    t = np.arange(2 * rate) / rate
    phrase = (0.3 * sum(np.sin(2 * np.pi * k * 220 * t) / k for k in range(1, 6))).astype(np.float32) + room(2.0)
    gate = RoomGate(-50.0)
    before = room(6.0)
    assert gate.silent(before[-rate:], before, rate)  # no note yet: nothing but room tone, its floor
    gate.reset()
    recent = np.concatenate([phrase, room(4.0)])
    assert gate.silent(recent[-rate:], recent, rate) and gate.floor_dbfs == pytest.approx(-45, abs=2)
    later = room(6.0)  # a long pause: no note left in the recent input, the floor remembered
    assert gate.silent(later[-rate:], later, rate)
    sung = np.concatenate([later[: 5 * rate], phrase[:rate]])
    assert not gate.silent(sung[-rate:], sung, rate)  # a note again
    assert gate.silent(np.zeros(rate, np.float32), np.zeros(6 * rate, np.float32), rate)  # under the gate
    gate.reset()
    assert gate.silent(later[-rate:], later, rate)  # forgotten, and found again in the room tone itself
    drone = np.concatenate([later[: 5 * rate], phrase[:rate] * 0.1])  # a soft note, 13 dB over the room tone
    gate.reset()
    assert not gate.silent(drone[-rate:], drone, rate)
