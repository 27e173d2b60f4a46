"""Rests in the input: filled before a model hears them, silent in the layers.

A model grows a window that holds a long stretch of silence into a noisy layer over the whole
window, the notes included: on held-out pieces, a 1.5 s rest inside a window made the layers
2.4-4.3x flatter over the notes and a 1.5 s silent lead-in 3.6-6.1x (voice->violin pitch within
50 cents 0.73 -> 0.39; ``docs/decisions.md``).  A player doubling a part rests where it rests.
So before windowing, each rest of at least ``MIN_REST_SECONDS`` (frames quieter than ``TOP_DB``
below the input's loudest, as ``librosa.effects.split`` measures them, and than ``SILENT_DBFS``;
written here in numpy, as the engine runs without librosa; or, in a recording with a noise floor,
within ``FLOOR_MARGIN_DB`` of it, as it stands in that part of the take: :func:`track_noise_floor`)
is filled with the sound before it (after it, for a rest at the start), looped, its joints faded
over ``JOIN_SECONDS``; once grown, the layers are silenced there: the note sounding into a rest
dies away over ``RELEASE_SECONDS``, and the layer comes back over the last ``JOIN_SECONDS`` before
the input does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffband.engine.runs import true_runs
from diffband.engine.windowing import edge_fade, raised_cosine_ramp

#: Shortest silence treated as a rest (shorter gaps, a staccato's, the models learned).
MIN_REST_SECONDS = 0.25
#: A frame is silent when its RMS level is this far below the input's loudest frame's ...
TOP_DB = 40.0
#: ... and below this level (dBFS), so quiet singing after one loud hit is not a rest (live's gate is the same).
SILENT_DBFS = -50.0
#: A recording's noise floor counts as silence up to this far above it ...
FLOOR_MARGIN_DB = 9.0
#: ... (a stretch over that margin shorter than ``MIN_REST_SECONDS`` sounds only if it rises this much higher
#: somewhere: pink room tone's own level swells 9 dB over its quietest quarter second now and then, for up to
#: 0.23 s and by up to 2.7 dB more in 30 takes of 27 s; a note rises far higher, a soft one lasts) ...
FLOOR_HYSTERESIS_DB = 3.0
#: ... when the input's sounding level lies at least this far above the floor ...
FLOOR_SEPARATION_DB = 12.0
#: ... and the floor sounds like noise: band-wise flatness near Gaussian noise's, exp(-Euler's gamma).
GAUSSIAN_FLATNESS = float(np.exp(-np.euler_gamma))
#: The bands :func:`noise_likeness` reads: this wide, from this frequency up (over mains hum).
NOISE_BAND_HZ, NOISE_LOWEST_HZ = 344.0, 250.0
#: Steady noise with nothing over it is room tone only up to this level (dBFS); louder, rain or a noise
#: pad someone sent on purpose, grown as any sound.
ROOM_TONE_MAX_DBFS = -40.0
#: A take's noise floor is read from windows this long (:func:`track_noise_floor`; a take up to 1.5x as
#: long is read once) ...
FLOOR_BLOCK_SECONDS = 10.0
#: ... one ending and one starting at every step this long ...
FLOOR_STEP_SECONDS = MIN_REST_SECONDS
#: ... and floors read more than this apart are a change (closer: one floor, read twice).  Under the margin:
#: a fan lifting pink room tone 7-8 dB, read as one floor, broke 4 of 24 rests after it; 3 dB here turned
#: more of the notes over loud room tone into rests (``docs/decisions.md``, 2026-11-30).
FLOOR_CHANGE_DB = 5.0
#: A window's floor louder than the take's quietest must be heard this long on end in the window (a
#: 1 s rest over a fan stays within ``FLOOR_MARGIN_DB`` of it for 0.95 s, a 0.4 s breath for 0.33 s).
FLOOR_PERSIST_SECONDS = 0.7
#: Frames under this level are digital silence, not a noise floor.
DIGITAL_SILENCE_DBFS = -120.0
#: Fade at each joint between the input and the sound a rest is filled with, and before the input resumes.
JOIN_SECONDS = 0.01
#: How long a layer's note takes to die away into a rest.
RELEASE_SECONDS = 0.05
#: Frames (centred, as librosa's) the level is measured over.
FRAME, HOP = 2048, 512
#: Samples squared at a time when a take's level is read (:func:`frame_levels`; a whole number of hops).
LEVEL_CHUNK = 2**20


@dataclass(frozen=True)
class NoiseFloor:
    """A take's noise floor: its level (dBFS), the stretch of the take it was read from, and the level
    frame (:func:`frame_levels`) that stretch starts at."""

    dbfs: float
    stretch: np.ndarray
    first_frame: int = 0


@dataclass(frozen=True)
class FloorTrack:
    """A take's noise floor over time (:func:`track_noise_floor`): ``floors[k]`` holds from level
    frame ``bounds[k]`` (:func:`frame_levels`) up to ``bounds[k + 1]``, the last one to the end."""

    floors: tuple[NoiseFloor, ...]
    bounds: tuple[int, ...]

    def blocks_of_frames(self, count: int) -> np.ndarray:
        """For each of ``count`` level frames (or STFT frames at ``HOP``), the index of its floor."""
        return np.searchsorted(np.asarray(self.bounds[1:]), np.arange(count), side="right")

    def dbfs_at(self, count: int) -> np.ndarray:
        """The floor's level (dBFS) at each of ``count`` level frames."""
        return np.array([floor.dbfs for floor in self.floors])[self.blocks_of_frames(count)]


@dataclass(frozen=True)
class Rests:
    """The rests ``(start, stop)`` (samples) of an input of ``length`` samples at ``sample_rate``, and
    the noise floor they were told apart from, where the input has one (:func:`track_noise_floor`)."""

    spans: tuple[tuple[int, int], ...]
    length: int
    sample_rate: int
    floor: FloorTrack | None = None

    @property
    def everywhere(self) -> bool:
        """Whether the whole input is one rest (silence, room tone alone): its layers are silence."""
        return self.spans == ((0, self.length),) and self.length > 0

    def gate(self) -> np.ndarray:
        """Per sample, 1 where the input sounds, 0 in its rests, with the release and the re-entry fade."""
        gate = np.ones(self.length, dtype=np.float32)
        release = int(RELEASE_SECONDS * self.sample_rate)
        join = int(JOIN_SECONDS * self.sample_rate)
        for start, stop in self.spans:
            gate[start:stop] = 0.0
            if start > 0 and release:  # the note sounding into the rest dies away
                n = min(release, stop - start)
                gate[start : start + n] = raised_cosine_ramp(release)[::-1][:n]
            if stop < self.length and join:  # back in just before the input is
                n = min(join, stop - start)
                gate[stop - n : stop] = raised_cosine_ramp(n)
        return gate

    def silence(self, layer: np.ndarray) -> np.ndarray:
        """``layer`` (mono, the input's length at its rate) silent in the rests."""
        if not self.spans:
            return layer
        return (layer * self.gate()[: layer.shape[0]]).astype(np.float32)


def frame_levels(mono: np.ndarray) -> np.ndarray:
    """RMS level (dBFS, floored at -200) of each frame of ``mono``: ``FRAME`` samples every ``HOP``,
    centred, the signal zero-padded by half a frame (as librosa frames it).  Summed a hop at a time
    (a frame is ``FRAME // HOP`` hops, and the padding whole hops), a million samples at a time, so a
    long take needs no float64 copy of itself."""
    mono = np.asarray(mono)
    per_frame, lead = FRAME // HOP, FRAME // 2 // HOP
    hops = np.zeros(mono.size // HOP + per_frame, dtype=np.float64)  # the padded signal's hops, each's energy
    for start in range(0, mono.size, LEVEL_CHUNK):
        part = np.asarray(mono[start : start + LEVEL_CHUNK], dtype=np.float64) ** 2
        whole = part.size // HOP * HOP
        at = lead + start // HOP
        hops[at : at + whole // HOP] = part[:whole].reshape(-1, HOP).sum(axis=1)
        if whole < part.size:  # the take's last, partial hop
            hops[at + whole // HOP] = part[whole:].sum()
    frames = mono.size // HOP + 1
    energy = sum(hops[k : k + frames] for k in range(per_frame))
    return 20.0 * np.log10(np.maximum(np.sqrt(energy / FRAME), 1e-10))


def frames_audio(mono: np.ndarray, first: int, stop: int) -> np.ndarray:
    """The samples level frames ``first`` to ``stop`` (:func:`frame_levels`) cover, zero-padded at the
    input's ends as the frames are: a copy, so holding it keeps no long take alive."""
    lead = first * HOP - FRAME // 2  # frame k is centred on sample k * HOP
    tail = (stop - 1) * HOP + FRAME // 2
    inner = np.asarray(mono[max(lead, 0) : max(min(tail, mono.size), 0)], dtype=np.float64)
    return np.pad(inner, (max(-lead, 0), max(tail - max(mono.size, lead), 0)))


def noise_likeness(segment: np.ndarray, sample_rate: int) -> float:
    """How noise-like ``segment`` sounds, from 0 (a few partials) to about ``GAUSSIAN_FLATNESS`` (noise):
    the spectral flatness (geometric over arithmetic mean power) of each ``NOISE_BAND_HZ``-wide band from
    ``NOISE_LOWEST_HZ`` up, weighted by the band's power, median over frames.  Band by band, so a noise
    floor's slope (pink, brown) or hum does not read as tonal, while a quiet note's partials do."""
    frames = np.lib.stride_tricks.sliding_window_view(np.asarray(segment, np.float64), FRAME)[::HOP]
    power = np.abs(np.fft.rfft(frames * np.hanning(FRAME), axis=1)) ** 2 + 1e-30
    hz = sample_rate / FRAME
    low, width = int(np.ceil(NOISE_LOWEST_HZ / hz)), max(2, int(round(NOISE_BAND_HZ / hz)))
    bands = (power.shape[1] - low) // width
    if frames.shape[0] == 0 or bands < 1:
        return 0.0
    power = power[:, low : low + bands * width].reshape(frames.shape[0], bands, width)
    mean = power.mean(axis=2)
    flatness = np.exp(np.log(power).mean(axis=2)) / mean
    return float(np.median((mean * flatness).sum(axis=1) / mean.sum(axis=1)))


def find_noise_floor(mono: np.ndarray, levels: np.ndarray, sample_rate: int, frames: slice = slice(None),
                     sounding_dbfs: float | None = None) -> NoiseFloor | None:
    """``mono``'s noise floor, read from its level ``frames`` (all by default; :func:`frame_levels`
    gives ``levels``): their quietest ``MIN_REST_SECONDS`` that is not digital silence, when that
    stretch sounds like noise (:func:`noise_likeness` at least half ``GAUSSIAN_FLATNESS``; a quiet
    note's stretch scores 0.0005-0.14 on held-out pieces, hiss, pink or brown noise and hum
    0.50-0.60) and either lies ``FLOOR_SEPARATION_DB`` under the input's sounding level
    (``sounding_dbfs``, by default the 90th-percentile frame of ``levels``) or is all those frames
    hold (none more than ``FLOOR_MARGIN_DB`` over it, and under ``ROOM_TONE_MAX_DBFS``: room tone
    before anyone plays); else None."""
    first, stop, _ = frames.indices(levels.size)
    block = levels[first:stop]
    span = max(1, int(round(MIN_REST_SECONDS * sample_rate / HOP)))
    if block.size < span:
        return None
    mean_power = np.convolve(10 ** (block / 10), np.ones(span) / span, mode="valid")
    digital = np.convolve((block <= DIGITAL_SILENCE_DBFS).astype(float), np.ones(span), mode="valid") > 0
    if digital.all():
        return None
    start = int(np.argmin(np.where(digital, np.inf, mean_power)))
    floor = float(10 * np.log10(mean_power[start]))
    start += first
    sounding = float(np.percentile(levels, 90)) if sounding_dbfs is None else sounding_dbfs
    room_tone_only = block.max() - floor <= FLOOR_MARGIN_DB and floor <= ROOM_TONE_MAX_DBFS
    if sounding - floor < FLOOR_SEPARATION_DB and not room_tone_only:
        return None
    stretch = frames_audio(mono, start, start + span)
    return NoiseFloor(floor, stretch, start) if noise_likeness(stretch, sample_rate) >= GAUSSIAN_FLATNESS / 2 else None


def longest_run(flags: np.ndarray) -> int:
    """The most consecutive True values in ``flags``."""
    runs = true_runs(flags)
    return int((runs[:, 1] - runs[:, 0]).max()) if runs.size else 0


def settled(floors: list[NoiseFloor]) -> NoiseFloor | None:
    """One floor of those read around a moment: the quietest, unless the loudest lies more than
    ``FLOOR_CHANGE_DB`` over it (a change: the louder is the moment's own side's); None for none."""
    if not floors:
        return None
    quietest, loudest = min(floors, key=lambda f: f.dbfs), max(floors, key=lambda f: f.dbfs)
    return loudest if loudest.dbfs > quietest.dbfs + FLOOR_CHANGE_DB else quietest


def window_floors(mono: np.ndarray, levels: np.ndarray, sample_rate: int, firsts: list[int],
                  whole: int) -> dict[int, NoiseFloor]:
    """The floor read (:func:`find_noise_floor`, against the whole take's sounding level) from each
    window of ``whole`` level frames starting at one of ``firsts``, where it has one it can be
    trusted with; windows that find the same stretch share one floor.  A floor within
    ``FLOOR_CHANGE_DB`` of the take's quietest is that quietest one (one steady floor, read in many
    windows); one more than ``FLOOR_MARGIN_DB`` over it counts only where its window stays within
    ``FLOOR_MARGIN_DB`` of it for ``FLOOR_PERSIST_SECONDS`` on end (a rest over a new floor), so
    breaths between phrases are not read as a floor however many there are."""
    sounding = float(np.percentile(levels, 90))
    same: dict[int, NoiseFloor] = {}  # by the frame its stretch starts at: one object (and one stretch) each
    found: dict[int, NoiseFloor] = {}
    for first in firsts:
        floor = find_noise_floor(mono, levels, sample_rate, slice(first, first + whole), sounding)
        if floor is not None:
            found[first] = same.setdefault(floor.first_frame, floor)
    if not found:
        return {}
    quietest = min(same.values(), key=lambda floor: floor.dbfs)
    lasting = int(np.ceil(FLOOR_PERSIST_SECONDS * sample_rate / HOP))
    trusted = {}
    for first, floor in found.items():
        if floor.dbfs <= quietest.dbfs + FLOOR_CHANGE_DB:
            trusted[first] = quietest
        elif floor.dbfs <= quietest.dbfs + FLOOR_MARGIN_DB or longest_run(
                levels[first : first + whole] <= floor.dbfs + FLOOR_MARGIN_DB) >= lasting:
            trusted[first] = floor
    return trusted


def track_noise_floor(mono: np.ndarray, levels: np.ndarray, sample_rate: int) -> FloorTrack | None:
    """``mono``'s noise floor over time, so a floor that changes during a take (a fan switched on or
    off) is followed.  A take up to 1.5x ``FLOOR_BLOCK_SECONDS`` is read once
    (:func:`find_noise_floor`).  A longer one is cut in ``FLOOR_STEP_SECONDS`` steps, and each step's
    floor is :func:`settled` from the floors (:func:`window_floors`) of the ``FLOOR_BLOCK_SECONDS``
    starting where it starts and of those ending where it ends (moved inside the take at its ends).
    The quietest stretch of a window reaching across a change lies on its quieter side, so where the
    two disagree the louder is the step's own side's: right after a fan comes on, the window ahead
    hears only the fan; right before it goes off, the window behind.  A change is followed to within
    a step where the room is heard on both sides of it (a rest); one that falls in a note moves to the
    note's edge (the window ahead of a note that runs into the fan hears only the fan).  A step
    whose windows have no floor (all notes) takes the take's quietest, and each step also settles
    with the steps either side: the stretch read around a change mixes both floors, so the step the
    change falls in may read the quieter one after the change too.  None when no window has a floor."""
    whole = int(round(FLOOR_BLOCK_SECONDS * sample_rate / HOP))
    if levels.size <= 1.5 * whole:
        floor = find_noise_floor(mono, levels, sample_rate)
        return None if floor is None else FloorTrack((floor,), (0,))
    step = max(1, int(round(FLOOR_STEP_SECONDS * sample_rate / HOP)))
    bounds = list(range(0, levels.size, step))
    inside = lambda first: min(max(first, 0), levels.size - whole)  # a window's first frame, moved inside the take
    around = [{inside(a), inside(b - whole)} for a, b in zip(bounds, [*bounds[1:], levels.size])]  # from it, to it
    trusted = window_floors(mono, levels, sample_rate, sorted(set().union(*around)), whole)
    if not trusted:
        return None
    quietest = min(trusted.values(), key=lambda floor: floor.dbfs)
    filled = [settled([trusted[f] for f in firsts if f in trusted]) or quietest for firsts in around]
    steps = [settled(filled[max(k - 1, 0) : k + 2]) for k in range(len(filled))]
    keep = [k for k in range(len(steps)) if k == 0 or steps[k] is not steps[k - 1]]  # one span per run of a floor
    return FloorTrack(tuple(steps[k] for k in keep), tuple(bounds[k] for k in keep))


def sounding_samples(levels: np.ndarray, length: int, floor: FloorTrack | None, sample_rate: int) -> np.ndarray:
    """Per sample of an input of ``length`` samples, whether the frame centred nearest it sounds (its
    ``levels``, from :func:`frame_levels`): within ``TOP_DB`` of the loudest frame or above
    ``SILENT_DBFS``, and more than ``FLOOR_MARGIN_DB`` above the input's noise ``floor`` there, where
    it has one, in a run of such frames that lasts ``MIN_REST_SECONDS`` or rises ``FLOOR_HYSTERESIS_DB``
    higher somewhere."""
    loud = (levels > levels.max() - TOP_DB) | (levels > SILENT_DBFS)
    if floor is not None:
        over = levels - (floor.dbfs_at(levels.size) + FLOOR_MARGIN_DB)
        loud &= over > 0
        shortest = int(np.ceil(MIN_REST_SECONDS * sample_rate / HOP))
        for start, stop in true_runs(loud):
            if stop - start < shortest and over[start:stop].max() <= FLOOR_HYSTERESIS_DB:  # the room tone's swell
                loud[start:stop] = False
    per_sample = np.repeat(loud, HOP)[HOP // 2 : HOP // 2 + length]  # sample i: frame (i + HOP // 2) // HOP
    return np.concatenate([per_sample, np.full(length - per_sample.size, loud[-1])])  # the last frame to the end


def find_rests(mono: np.ndarray, sample_rate: int) -> Rests:
    """The rests of ``mono``: stretches of at least ``MIN_REST_SECONDS`` more than ``TOP_DB`` below its
    loudest frame, lead-in and tail included; an input with no sound at all is one rest (its layers
    are silence: a model grew digital silence into a violin layer at -35 dBFS of noise)."""
    mono = np.asarray(mono, dtype=np.float32)
    if not np.any(mono):
        return Rests(((0, mono.size),) if mono.size else (), mono.size, sample_rate)
    levels = frame_levels(mono)
    floor = track_noise_floor(mono, levels, sample_rate)
    quiet = ~sounding_samples(levels, mono.size, floor, sample_rate)
    shortest = int(MIN_REST_SECONDS * sample_rate)
    spans = tuple((int(a), int(b)) for a, b in true_runs(quiet) if b - a >= shortest)
    return Rests(spans, mono.size, sample_rate, floor)


def fill_rests(mono: np.ndarray, rests: Rests) -> np.ndarray:
    """``mono`` with each rest filled by the sounding stretch before it (after it, for a rest at the
    start), looped to the rest's length, its ends faded over ``JOIN_SECONDS``."""
    mono = np.asarray(mono, dtype=np.float32)
    if not rests.spans:
        return mono
    out = mono.copy()
    bounds = [(0, 0), *rests.spans, (mono.size, mono.size)]
    for k in range(1, len(bounds) - 1):
        start, stop = bounds[k]
        before = mono[bounds[k - 1][1] : start]
        source = before if before.size else mono[stop : bounds[k + 1][0]]
        if source.size == 0:
            continue
        out[start:stop] = edge_fade(np.resize(source, stop - start), rests.sample_rate, JOIN_SECONDS)
    return out
