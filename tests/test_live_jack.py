"""diffband live on a real JACK dummy server: real PortAudio duplex stream, a metronome
as the performer, an independent recorder on our output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import soundfile as sf
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import ThreadingOSCUDPServer

from diffband.bridge.live import FADE_SHARE, MIN_AUTO_WINDOW_SECONDS
from tests.conftest import REPO


def jack_env(name: str) -> dict[str, str]:
    return {**os.environ, "JACK_DEFAULT_SERVER": name, "JACK_NO_AUDIO_RESERVATION": "1"}


def wait_for_ports(env: dict[str, str], pattern: str, count: int, timeout: float = 60.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ports = subprocess.run(["jack_lsp"], env=env, capture_output=True, text=True).stdout.split()
        found = [p for p in ports if p.startswith(pattern)]
        if len(found) >= count:
            return found
        time.sleep(0.25)
    raise AssertionError(f"JACK ports {pattern}* did not appear; have {ports}")


@pytest.fixture
def jack_server():
    if not shutil.which("jackd"):
        pytest.fail("jackd is not installed (Debian: apt-get install jackd2 libportaudio2); .ci/setup installs it")
    name = f"diffband-test-{os.getpid()}"
    env = jack_env(name)
    server = subprocess.Popen(
        ["jackd", "-n", name, "-d", "dummy", "-r", "48000", "-p", "256"], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    helpers: list[subprocess.Popen] = []
    try:
        wait_for_ports(env, "system:playback", 1, timeout=20)
        yield env, helpers
    finally:
        for proc in [*helpers, server]:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_live_cross_on_jack_dummy(jack_server, tmp_path):
    env, helpers = jack_server
    helpers.append(subprocess.Popen(["jack_metro", "-n", "metro", "-b", "150", "-f", "330", "-D", "300", "-A", "0.5"],
                                    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    stats_path = tmp_path / "stats.json"
    reports: list[tuple] = []  # what a DAW-side client hears from `diffband live` (docs/osc.md)
    dispatcher = Dispatcher()
    dispatcher.map("/diffband/live/*", lambda address, *args: reports.append((address, *args)))
    listener = ThreadingOSCUDPServer(("127.0.0.1", 0), dispatcher)
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    live = subprocess.Popen(
        [sys.executable, "-m", "diffband.bridge.cli", "live", "--with", "violin", "--technique", "cross",
         "--steps", "4", "--duration", "14", "--threads", "1", "--stats", str(stats_path),
         "--report-to", f"127.0.0.1:{listener.server_address[1]}"],
        env={**env, "DIFFBAND_MODELS": str(REPO / "models")}, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        inputs = wait_for_ports(env, "PortAudio:in_", 1)
        outputs = wait_for_ports(env, "PortAudio:out_", 1)
        metro = wait_for_ports(env, "metro:", 1)[0]
        for port in inputs:
            subprocess.run(["jack_connect", metro, port], env=env, check=True)
        recording = tmp_path / "heard.wav"
        recorder = subprocess.Popen(["jack_rec", "-f", str(recording), "-d", "9", outputs[0]], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        helpers.append(recorder)
        recorder.wait(timeout=60)
        output, _ = live.communicate(timeout=120)
    finally:
        if live.poll() is None:
            live.kill()
        listener.shutdown()
        listener.server_close()
    assert live.returncode == 0, output
    stats = json.loads(stats_path.read_text())

    window = stats["window_seconds"]  # the default window: picked from the measured budget
    assert "latency" in output and f"window {window:.2f} s (auto)" in output
    assert stats["sample_rate"] == 48000
    assert stats["latency_seconds"] == pytest.approx(window + stats["compute_budget_seconds"], abs=1e-3)
    assert window >= MIN_AUTO_WINDOW_SECONDS
    assert window == pytest.approx(MIN_AUTO_WINDOW_SECONDS, abs=1e-3) or window * (1 - FADE_SHARE) >= stats["compute_budget_seconds"] - 1e-3
    assert stats["windows"] >= 3
    assert stats["input_rms"] > 0.05  # the metronome reached our input
    assert stats["output_rms"] > 1e-3 and np.isfinite(stats["output_peak"])  # layers came out
    for key in ("late_windows", "dropped_windows", "input_overflows", "output_underflows"):
        assert isinstance(stats[key], int) and stats[key] >= 0

    # the latency went to the client: at start and every second, the same figure as the stats
    latency = [r for r in reports if r[0] == "/diffband/live/latency"]
    assert len(latency) >= 5
    seconds, samples, rate, reported_window, budget = latency[0][1:]
    assert samples == stats["latency_samples"] and rate == 48000
    assert seconds == pytest.approx(stats["latency_seconds"], abs=1e-5) and reported_window == pytest.approx(window, abs=1e-5)
    assert samples == round((reported_window + budget) * rate)
    assert all(r[1:] == latency[0][1:] for r in latency)  # constant for the run
    progress = [r for r in reports if r[0] == "/diffband/live/stats"]
    assert progress and [r[1] for r in progress] == sorted(r[1] for r in progress)
    assert reports[-1] == ("/diffband/live/stopped", stats["windows"], stats["late_windows"], stats["dropped_windows"])
    # each layer's octave: said once it is known, again only on a change; the last one is the stats' (the metronome
    # sits at E4, inside the violin's range: no move)
    octaves = [r for r in reports if r[0] == "/diffband/live/octave"]
    assert octaves and octaves[-1] == ("/diffband/live/octave", "violin", stats["layer_octaves"]["violin"])
    assert all(a[2] != b[2] for a, b in zip(octaves, octaves[1:]))
    heard, rate = sf.read(recording, dtype="float32")  # what an outside JACK client received from us
    assert rate == 48000 and heard.shape[0] > rate
    assert np.all(np.isfinite(heard)) and np.sqrt(np.mean(heard**2)) > 1e-3
