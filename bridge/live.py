"""``diffband live``: audio in -> layers out, with a constant, reported latency.

The sounddevice callback only copies: input into a ring buffer, and a scheduled
block out of the output ring (then zeroes it).  A worker thread waits for each
filled window (hop = window minus a crossfade), turns it into layers with the
engine, and adds them, crossfaded, into the output ring at

    output start = input start + latency,   latency = window + compute budget,

so every window comes out the same time after it went in.  A window that is not
ready in time plays late and partially (counted as late); if the worker falls a
whole window behind it skips to the newest one (counted as dropped); device
under-/overflows are counted.  Nothing in the audio path raises.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from diffband.bridge.protocol import PREFIX
from diffband.engine.rests import FLOOR_MARGIN_DB, find_noise_floor, frame_levels
from diffband.engine.windowing import PEAK_CEILING, raised_cosine_edges

#: Share of the window crossfaded with its neighbour.
FADE_SHARE = 0.1
#: Seconds of recent input a live window's register decision reads (``RegisterContext``).
REGISTER_CONTEXT_SECONDS = 6.0
#: Shortest window ``--window auto`` picks: shorter ones lose the notes (``python -m bench.live_window``,
#: violin on the example vocal: a 0.5 s window keeps 0.51 of its voiced frames within 50 cents, 1 s 0.88).
MIN_AUTO_WINDOW_SECONDS = 1.0


@dataclass
class LiveStats:
    sample_rate: int = 0
    window_seconds: float = 0.0
    compute_budget_seconds: float = 0.0
    latency_seconds: float = 0.0  # window + compute budget: input -> output on the stream's timeline
    latency_samples: int = 0  # the same in frames at sample_rate (what a DAW compensates)
    device_latency_seconds: list[float] = field(default_factory=list)  # (input, output) reported by the device
    windows: int = 0
    late_windows: int = 0
    dropped_windows: int = 0
    input_overflows: int = 0
    output_underflows: int = 0
    callbacks: int = 0
    compute_seconds: list[float] = field(default_factory=list)
    output_peak: float = 0.0
    output_rms: float = 0.0
    input_rms: float = 0.0
    layer_octaves: dict[str, int] = field(default_factory=dict)  # the last window's, per layer (register, octave)

    def summary(self) -> str:
        mean = float(np.mean(self.compute_seconds)) if self.compute_seconds else 0.0
        return (
            f"windows {self.windows} (late {self.late_windows}, dropped {self.dropped_windows}), "
            f"compute {mean:.2f} s/window, latency {self.latency_seconds:.2f} s, "
            f"overflows {self.input_overflows}, underflows {self.output_underflows}, "
            f"output rms {20 * np.log10(self.output_rms + 1e-12):.1f} dBFS"
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


class Ring:
    """Fixed float32 ring addressed by absolute frame number (one writer, one reader)."""

    def __init__(self, frames: int, channels: int):
        self.data = np.zeros((frames, channels), dtype=np.float32)
        self.size = frames

    def _spans(self, start: int, count: int):
        first = start % self.size
        head = min(count, self.size - first)
        yield first, 0, head
        if head < count:
            yield 0, head, count - head

    def write(self, start: int, block: np.ndarray) -> None:
        for at, offset, n in self._spans(start, block.shape[0]):
            self.data[at : at + n] = block[offset : offset + n]

    def add(self, start: int, block: np.ndarray) -> None:
        for at, offset, n in self._spans(start, block.shape[0]):
            self.data[at : at + n] += block[offset : offset + n]

    def read(self, start: int, out: np.ndarray, clear: bool = False) -> None:
        for at, offset, n in self._spans(start, out.shape[0]):
            out[offset : offset + n] = self.data[at : at + n]
            if clear:
                self.data[at : at + n] = 0.0


Process = Callable[[np.ndarray, int], np.ndarray]  # mono window at the device rate -> mono layer mix


def _mono(window: np.ndarray) -> np.ndarray:
    """A live window ``(frames,)`` or ``(frames, channels)`` as float32 mono."""
    mono = np.asarray(window, np.float32)
    return mono.mean(axis=1) if mono.ndim == 2 else mono


class RegisterContext:
    """The last ``seconds`` of live input, for the register decisions (``fit``, ``instrument``): decided
    on each window alone, a layer's growth changed between neighbouring windows, and the seams where
    it did changed the sound more than the others (``python -m bench.live_window``); decided on the
    recent input, it changes only when the player stays in another register.  Silence fills the
    part not heard yet, so every window's decision reads the same length (the same compute, which
    the budget probe measures).  ``seconds`` 0: each window alone."""

    #: The longest context ``diffband live`` accepts (seconds).
    MAX_SECONDS = 60.0

    def __init__(self, seconds: float = REGISTER_CONTEXT_SECONDS):
        if not 0 <= seconds <= self.MAX_SECONDS:
            raise ValueError(f"the register context is 0 to {self.MAX_SECONDS:g} seconds, got {seconds:g}")
        self.seconds = seconds
        self._audio = np.zeros((0,), np.float32)
        self._rate: int | None = None

    def reset(self) -> None:
        """Forget the input so far (after the budget probe's windows)."""
        self._audio, self._rate = np.zeros((0,), np.float32), None

    def add(self, window: np.ndarray, rate: int, new_share: float = 1.0 - FADE_SHARE) -> np.ndarray:
        """Take one window (``(frames,)`` or ``(frames, channels)``) and return the audio to decide on
        (mono, at ``rate``): the last ``seconds`` of input ending with this window, of which the first
        ``1 - new_share`` repeats the end of the previous one (the crossfade)."""
        mono = _mono(window)
        if not self.seconds:
            return mono
        keep = max(int(round(self.seconds * rate)), mono.size)
        if rate != self._rate:
            self._audio, self._rate = np.zeros((keep,), np.float32), rate
            fresh = mono
        else:
            fresh = mono[mono.size - int(round(new_share * mono.size)):]
        self._audio = np.concatenate([self._audio, fresh])[-keep:]
        return self._audio


def grown_from(window: np.ndarray, recent: np.ndarray, seconds: float, rate: int) -> np.ndarray:
    """The audio a live window's layers are grown from: the last ``seconds`` (a model window) of the
    ``recent`` input, which ends with ``window`` (as much as it holds), or the window alone when it
    is longer.  A model grows a whole window either way (a short clip is looped to fill one); given
    the input before the window instead, it hears the notes leading into it, as offline
    (``python -m bench.live_window``).  The caller keeps the last ``window.size`` samples of the layer."""
    mono = _mono(window)
    if recent.size < mono.size or not np.array_equal(recent[-mono.size:], mono):
        return mono
    return recent[-max(mono.size, min(int(np.ceil(seconds * rate)), recent.size)):]


class RoomGate:
    """Which live windows give silence: those under ``gate_dbfs`` (RMS), and those that are nothing
    but the room's noise floor.  A window is grown with the input before it (:func:`grown_from`), so
    room tone after a phrase is a rest the techniques silence (``engine.rests``); but after a pause
    longer than that input, a window of room tone louder than the gate holds no note to tell the
    floor by, and was grown into a noise layer.  So the floor found in the recent input
    (``engine.rests.find_noise_floor``: under the notes, or the room tone alone, before the first
    phrase) is remembered, and a window whose every frame lies within ``FLOOR_MARGIN_DB`` of it is
    silence too."""

    def __init__(self, gate_dbfs: float):
        self.gate = 10 ** (gate_dbfs / 20)
        self.floor_dbfs: float | None = None

    def reset(self) -> None:
        """Forget the floor (after the budget probe's windows)."""
        self.floor_dbfs = None

    def silent(self, window: np.ndarray, recent: np.ndarray, rate: int) -> bool:
        """Whether ``window`` (``recent``, mono, ends with it) gives silence; learns the floor from ``recent``."""
        mono = _mono(window)
        if np.sqrt(np.mean(np.square(mono))) < self.gate:
            return True
        floor = find_noise_floor(recent, frame_levels(recent), rate)
        if floor is not None:
            self.floor_dbfs = floor.dbfs
        return self.floor_dbfs is not None and bool(frame_levels(mono).max() <= self.floor_dbfs + FLOOR_MARGIN_DB)


class LiveEngine:
    """The ring buffers, the callback and the worker; the stream itself is opened by ``run_live``."""

    def __init__(self, process: Process, sample_rate: int, window_seconds: float, budget_seconds: float, out_channels: int,
                 monitor: bool = False):
        self.process = process
        self.rate = sample_rate
        self.window = int(round(window_seconds * sample_rate))
        self.fade = int(FADE_SHARE * self.window)
        self.hop = self.window - self.fade
        self.delay = self.window + int(round(budget_seconds * sample_rate))
        self.monitor = monitor
        capacity = 4 * (self.window + self.delay)
        self.inputs = Ring(capacity, 1)
        self.outputs = Ring(capacity, out_channels)
        self.frames_in = 0  # frames the callback has seen (the stream's timeline)
        self.stop_event = threading.Event()
        self.stats = LiveStats(
            sample_rate=sample_rate, window_seconds=self.window / sample_rate,
            compute_budget_seconds=(self.delay - self.window) / sample_rate, latency_seconds=self.delay / sample_rate,
            latency_samples=self.delay,
        )
        self.weight = raised_cosine_edges(self.window, self.fade).astype(np.float32)
        self._energy_out = 0.0
        self._energy_in = 0.0
        self._block = np.zeros((0, out_channels), dtype=np.float32)

    # ---- audio thread: copy in, copy out, count; nothing else ----
    def callback(self, indata, outdata, frames, _time, status) -> None:
        if status.input_overflow:
            self.stats.input_overflows += 1
        if status.output_underflow:
            self.stats.output_underflows += 1
        start = self.frames_in
        mono = indata.mean(axis=1, keepdims=True) if indata.shape[1] > 1 else indata
        self.inputs.write(start, mono)
        self.outputs.read(start, outdata, clear=True)
        if self.monitor:
            outdata += mono
        peak = float(np.abs(outdata).max()) if frames else 0.0
        if peak > PEAK_CEILING:  # dry + layers over -1 dBFS: this block turned down, never clipped
            outdata *= PEAK_CEILING / peak
            peak = PEAK_CEILING
        self.frames_in = start + frames
        self.stats.callbacks += 1
        self._energy_out += float(np.square(outdata).sum()) / outdata.shape[1]
        self._energy_in += float(np.square(mono).sum())
        if peak > self.stats.output_peak:
            self.stats.output_peak = peak

    # ---- worker thread ----
    def work(self) -> None:
        next_start = 0
        window = np.zeros(self.window, dtype=np.float32)
        while not self.stop_event.is_set():
            if self.frames_in < next_start + self.window:
                time.sleep(0.005)
                continue
            newest = (self.frames_in - self.window) // self.hop * self.hop
            if newest > next_start:  # fell behind: skip to the newest complete window
                self.stats.dropped_windows += (newest - next_start) // self.hop
                next_start = newest
            self.inputs.read(next_start, window[:, None])
            began = time.perf_counter()
            try:
                layer = np.asarray(self.process(window.copy(), self.rate), dtype=np.float32).reshape(-1)[: self.window]
            except Exception as error:  # a failed window is silence, not a crash
                print(f"live: window at {next_start / self.rate:.1f} s failed: {error}")
                layer = np.zeros(self.window, dtype=np.float32)
            self.stats.compute_seconds.append(time.perf_counter() - began)
            if layer.size < self.window:
                layer = np.pad(layer, (0, self.window - layer.size))
            faded = (layer * self.weight)[:, None].repeat(self.outputs.data.shape[1], axis=1)
            out_start = next_start + self.delay
            now = self.frames_in
            if now > out_start:  # late: the part already played is lost
                self.stats.late_windows += 1
                skip = min(now - out_start, self.window)
                out_start, faded = out_start + skip, faded[skip:]
            self.outputs.add(out_start, faded)
            self.stats.windows += 1
            next_start += self.hop

    def finish(self) -> LiveStats:
        self.stop_event.set()
        frames = max(self.frames_in, 1)
        self.stats.output_rms = float(np.sqrt(self._energy_out / frames))
        self.stats.input_rms = float(np.sqrt(self._energy_in / frames))
        return self.stats


class LiveReporter:
    """Sends ``/diffband/live/*`` (bridge.protocol.LIVE_REPORTS) over UDP to a client, e.g. the
    Max for Live device's port, so the DAW side knows the layers' latency."""

    def __init__(self, host: str, port: int):
        from pythonosc.udp_client import SimpleUDPClient

        self.client = SimpleUDPClient(host, port)
        self._octaves_sent: dict[str, int] = {}

    def _send(self, name: str, *args) -> None:
        try:
            self.client.send_message(f"{PREFIX}/live/{name}", list(args))
        except OSError:
            pass  # nobody listening, or the network went away: live audio goes on

    def latency(self, stats: LiveStats) -> None:
        self._send("latency", float(stats.latency_seconds), int(stats.latency_samples), int(stats.sample_rate),
                   float(stats.window_seconds), float(stats.compute_budget_seconds))

    def progress(self, stats: LiveStats) -> None:
        mean = float(np.mean(stats.compute_seconds)) if stats.compute_seconds else 0.0
        self._send("stats", int(stats.windows), int(stats.late_windows), int(stats.dropped_windows), mean)

    def octaves(self, layer_octaves: dict[str, int]) -> None:
        """``/live/octave name octaves`` for each layer whose octave is new or changed since the last call."""
        for name, octaves in list(layer_octaves.items()):
            if self._octaves_sent.get(name) != octaves:
                self._send("octave", str(name), int(octaves))
                self._octaves_sent[name] = octaves

    def stopped(self, stats: LiveStats) -> None:
        self._send("stopped", int(stats.windows), int(stats.late_windows), int(stats.dropped_windows))


def probe_input(window_seconds: float, sample_rate: int) -> np.ndarray:
    """What the budget is measured on: a quiet sung-like line (a harmonic tone with vibrato, a new note
    every half second, over a little noise), so the pitch reading, the condition and the re-tuning of
    follow notes all do their work, as they do on a player's input."""
    t = np.arange(int(window_seconds * sample_rate)) / sample_rate
    notes = 220.0 * 2.0 ** (np.array([0, 2, 4, 5, 7, 9]) / 12.0)
    hz = notes[(t / 0.5).astype(int) % notes.size] * 2.0 ** (0.3 * np.sin(2 * np.pi * 5.5 * t) / 12.0)
    phase = 2 * np.pi * np.cumsum(hz) / sample_rate
    tone = sum(0.06 / k * np.sin(k * phase) for k in range(1, 6))
    return (tone + 0.005 * np.random.default_rng(0).standard_normal(t.size)).astype(np.float32)


def measure_budget(process: Process, sample_rate: int, window_seconds: float, runs: int = 2) -> float:
    """Compute time allowance: 1.5x the slowest of ``runs`` timed windows (after one untimed
    warm-up, which pays for first-run allocations), plus 50 ms."""
    probe = probe_input(window_seconds, sample_rate)
    times = []
    for _ in range(runs + 1):
        began = time.perf_counter()
        process(probe, sample_rate)
        times.append(time.perf_counter() - began)
    return 1.5 * max(times[1:]) + 0.05


def auto_window(budget_seconds: float, longest_seconds: float) -> float:
    """The window ``--window auto`` picks for a compute ``budget_seconds`` per window: the shortest whose
    hop (the window less its crossfade) is at least the budget, so the worker keeps up with the input with
    the budget's margin; never under ``MIN_AUTO_WINDOW_SECONDS`` nor over ``longest_seconds`` (a model
    window: longer ones add latency and no music)."""
    if budget_seconds <= 0:
        raise ValueError(f"the compute budget must be positive, got {budget_seconds} s")
    needed = budget_seconds / (1.0 - FADE_SHARE)
    return float(min(max(MIN_AUTO_WINDOW_SECONDS, needed), max(longest_seconds, MIN_AUTO_WINDOW_SECONDS)))


def run_live(
    process: Process,
    window_seconds: float | None,
    duration: float | None = None,
    input_device=None,
    output_device=None,
    budget_seconds: float | None = None,
    monitor: bool = False,
    report: Callable[[str], None] = print,
    reporter: LiveReporter | None = None,
    layer_octaves: dict[str, int] | None = None,
    after_probe: Callable[[], None] | None = None,
    longest_window: float | None = None,
) -> LiveStats:
    """Open a duplex stream, run until ``duration`` seconds pass (or Ctrl-C), return the stats;
    ``window_seconds`` None picks the window from the budget (:func:`auto_window`, at most
    ``longest_window``, the model's window, which it then needs); ``reporter`` gets the latency at start and every second, and the totals at the end.
    ``layer_octaves`` is the dict ``process`` keeps each layer's octave in (the register option
    decides per window): the reporter hears changes every second, the stats keep the last.
    ``after_probe`` runs once the compute budget is measured (``process`` forgets the probe's input)."""
    if window_seconds is None and longest_window is None:
        raise ValueError("an automatic window needs longest_window (the model's window length in seconds)")
    layer_octaves = {} if layer_octaves is None else layer_octaves
    import sounddevice as sd

    in_info = sd.query_devices(input_device, "input")
    out_info = sd.query_devices(output_device, "output")
    rate = int(out_info["default_samplerate"])
    in_channels = min(2, int(in_info["max_input_channels"]))
    out_channels = min(2, int(out_info["max_output_channels"]))
    if in_channels < 1 or out_channels < 1:
        raise ValueError(f"need an input and an output device; got {in_info['name']!r} and {out_info['name']!r}")
    if budget_seconds is None:
        budget_seconds = measure_budget(process, rate, window_seconds or MIN_AUTO_WINDOW_SECONDS)
        layer_octaves.clear()  # the timing probe is not the input
        if after_probe is not None:
            after_probe()
    picked = window_seconds is None
    if picked:
        window_seconds = auto_window(budget_seconds, longest_window)
    engine = LiveEngine(process, rate, window_seconds, budget_seconds, out_channels, monitor)
    report(
        f"live: {in_info['name']} -> {out_info['name']} at {rate} Hz; latency {engine.stats.latency_seconds:.2f} s "
        f"(window {engine.stats.window_seconds:.2f} s{' (auto)' if picked else ''} + compute budget "
        f"{engine.stats.compute_budget_seconds:.2f} s)"
    )
    worker = threading.Thread(target=engine.work, name="diffband-live", daemon=True)
    with sd.Stream(
        samplerate=rate, channels=(in_channels, out_channels), dtype="float32", callback=engine.callback,
        device=(input_device, output_device),
    ) as stream:
        engine.stats.device_latency_seconds = [float(x) for x in np.atleast_1d(stream.latency)]
        worker.start()
        began = last_report = time.monotonic()
        if reporter is not None:
            reporter.latency(engine.stats)
        try:
            while duration is None or time.monotonic() - began < duration:
                time.sleep(0.1)
                if reporter is not None and time.monotonic() - last_report >= 1.0:
                    last_report = time.monotonic()
                    reporter.latency(engine.stats)
                    reporter.progress(engine.stats)
                    reporter.octaves(layer_octaves)
        except KeyboardInterrupt:
            pass
        stats = engine.finish()
    worker.join(timeout=30)
    stats.layer_octaves = dict(layer_octaves)
    if reporter is not None:
        reporter.octaves(layer_octaves)
        reporter.stopped(stats)
    report("live: " + stats.summary())
    return stats
