"""Rests in the input: found, filled before a model hears them, silent in the layers, and the notes
around a rest grown as cleanly as without it."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from diffband.engine.accompany import accompany
from diffband.engine.cross import cross
from diffband.engine.double import chorus
from diffband.engine.model import DiffusionModel, load_models
from diffband.engine.rests import (FRAME, GAUSSIAN_FLATNESS, HOP, MIN_REST_SECONDS, fill_rests, find_noise_floor,
                                   find_rests, frame_levels, noise_likeness)
from diffband.engine.room_tone import without_room_tone
from diffband.evaluation.quality import flatness
from tests.conftest import REPO

RATE = 22050


def tone(seconds: float, hz: float = 330.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), np.float32)


def harmonic(seconds: float, hz: float = 220.0) -> np.ndarray:
    """A note with eight partials, as an instrument's (peak about 0.5)."""
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.25 * sum(np.sin(2 * np.pi * k * hz * t) / k for k in range(1, 9))).astype(np.float32)


def coloured_noise(samples: int, slope: float, seed: int = 0) -> np.ndarray:
    """Gaussian noise of RMS 1 whose power falls as 1/f**slope (0 white, 1 pink, 2 brown)."""
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(samples))
    spectrum /= np.maximum(np.arange(spectrum.size), 1) ** (slope / 2)
    noise = np.fft.irfft(spectrum, samples)
    return (noise / np.sqrt(np.mean(noise**2))).astype(np.float32)


def test_rests_are_the_long_silences_lead_in_and_tail_included():
    audio = np.concatenate([silence(0.5), tone(1.0), silence(0.6), tone(1.0), silence(0.1), tone(0.5), silence(0.5)])
    spans = [(a / RATE, b / RATE) for a, b in find_rests(audio, RATE).spans]
    assert len(spans) == 3, spans  # the 0.1 s gap is a staccato's, not a rest
    for (start, stop), (want_start, want_stop) in zip(spans, [(0.0, 0.5), (1.5, 2.1), (3.7, 4.2)]):
        assert start == pytest.approx(want_start, abs=0.07) and stop == pytest.approx(want_stop, abs=0.07)
    assert find_rests(tone(2.0), RATE).spans == ()
    assert find_rests(silence(2.0), RATE).spans == ((0, 2 * RATE),)  # nothing to grow: its layers are silence


def test_quiet_singing_after_a_loud_hit_is_not_a_rest():
    hit = np.concatenate([np.full(int(0.1 * RATE), 0.9, np.float32), silence(0.05)])
    quiet = tone(1.5) * 10 ** (-32 / 20)  # about -45 dBFS RMS: 44 dB under the hit, still singing
    audio = np.concatenate([hit, quiet, silence(0.6)])
    spans = find_rests(audio, RATE).spans
    assert len(spans) == 1 and spans[0][0] / RATE > 1.5, [(a / RATE, b / RATE) for a, b in spans]  # only the tail


def test_a_filled_input_has_no_rest_left_and_keeps_its_sound():
    audio = np.concatenate([silence(0.8), tone(1.0, 220), silence(1.2), tone(0.7, 440)])
    rests = find_rests(audio, RATE)
    filled = fill_rests(audio, rests)
    assert filled.shape == audio.shape and find_rests(filled, RATE).spans == ()
    sounding = rests.gate() == 1.0
    assert np.array_equal(filled[sounding], audio[sounding])
    first, second = rests.spans
    assert np.sqrt(np.mean(filled[first[0] : first[1]] ** 2)) > 0.1  # the lead-in: the tone after it
    assert np.all(rests.gate()[first[0] : first[1] - int(0.01 * RATE)] == 0.0)
    assert MIN_REST_SECONDS <= 0.8


@pytest.fixture(scope="module")
def rested_vocal():
    """The example vocal's first window with 1.5 s of silence put in at 2 s (a singer's rest)."""
    vocal, rate = sf.read(REPO / "models" / "example_vocal.wav", dtype="float32")
    window = 98304
    at, gap = int(2.0 * rate), int(1.5 * rate)
    rested = np.concatenate([vocal[:at], np.zeros(gap, np.float32), vocal[at : window - gap]])
    return vocal[:window], rested, rate, (at, gap)


def test_a_layer_rests_where_the_input_rests_and_its_notes_stay_clean(rested_vocal):
    """A window holding a rest used to grow a noisy layer over its notes too (6.9-9.6x flatter here)."""
    contiguous, rested, rate, (at, gap) = rested_vocal
    sounding = np.ones(rested.size, bool)
    sounding[at : at + gap] = False
    for model in load_models(["violin", "guitar"], device="cpu", threads=1):
        plain, layer = cross(contiguous, rate, model, seed=0), cross(rested, rate, model, seed=0)
        assert layer.shape == rested.shape and np.all(np.isfinite(layer))
        assert np.all(layer[at + int(0.2 * rate) : at + gap - int(0.1 * rate)] == 0.0)  # silent in the rest
        assert np.sqrt(np.mean(layer[sounding] ** 2)) > 0.01  # and playing around it
        assert flatness(layer[sounding], rate) < 2.0 * flatness(plain, rate), model.name


def test_accompany_rests_too(rested_vocal):
    _, rested, rate, (at, gap) = rested_vocal
    made = accompany(rested, rate, load_models(["violin"], device="cpu", threads=1), steps=4, seed=0)
    inner = slice(at + int(0.2 * rate), at + gap - int(0.1 * rate))
    assert np.sqrt(np.mean(made.layers["violin"][inner] ** 2)) < 1e-4  # the band-pass may ring a little, no more


@pytest.mark.parametrize("samples", [0, 300, 512, 2049, 9000, 9216])
def test_frame_levels_are_each_centred_frame_rms(monkeypatch, samples):
    """The level is read a hop at a time and a chunk at a time (a small chunk here), as librosa frames a
    take: each ``FRAME``-sample frame every ``HOP``, centred, zero-padded; a silent frame at -200 dBFS."""
    monkeypatch.setattr("diffband.engine.rests.LEVEL_CHUNK", 4 * HOP)
    mono = (np.random.default_rng(samples).standard_normal(samples) * 0.1).astype(np.float32)
    mono[samples // 3 : samples // 3 + 3000] = 0.0
    padded = np.pad(mono.astype(np.float64), FRAME // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, FRAME)[::HOP]
    expected = 20 * np.log10(np.maximum(np.sqrt(np.mean(frames**2, axis=1)), 1e-10))
    np.testing.assert_allclose(frame_levels(mono), expected, atol=1e-6)


def test_noise_reads_as_noise_and_a_note_does_not():
    for slope in (0, 1, 2):  # hiss, room tone, rumble
        assert noise_likeness(coloured_noise(RATE, slope), RATE) > 0.8 * GAUSSIAN_FLATNESS, slope
    hum = 0.5 * np.sin(2 * np.pi * 50 * np.arange(RATE) / RATE) + 0.05 * coloured_noise(RATE, 1)
    assert noise_likeness(hum, RATE) > 0.8 * GAUSSIAN_FLATNESS  # mains hum under the bands read
    assert noise_likeness(harmonic(1.0) * 0.01, RATE) < 0.2 * GAUSSIAN_FLATNESS  # however quiet


def test_a_rest_on_a_recording_noise_floor_is_found():
    """A quiet take (peak -30 dBFS) with room tone at -60 dBFS: its rest is 30 dB under the notes but not
    under -50 dBFS or 40 dB under the peak, so only the noise floor tells it apart."""
    clean = np.concatenate([harmonic(1.5), silence(1.2), harmonic(1.5, 330.0)])
    take = clean / np.abs(clean).max() * 10 ** (-30 / 20) + coloured_noise(clean.size, 1) * 10 ** (-60 / 20)
    spans = [(a / RATE, b / RATE) for a, b in find_rests(take, RATE).spans]
    assert len(spans) == 1 and spans[0] == pytest.approx((1.5, 2.7), abs=0.07), spans


def test_a_quiet_passage_is_not_a_rest():
    """A phrase 26 dB under the others is the quietest stretch, far under the take's level, but it sounds
    notes: it is not a noise floor, and the layers play it."""
    audio = np.concatenate([harmonic(1.0), harmonic(1.2, 330.0) * 0.05, harmonic(1.0)])
    assert find_rests(audio, RATE).spans == ()
    noisy = audio + coloured_noise(audio.size, 1) * 10 ** (-75 / 20)  # a floor far under even the quiet phrase
    assert find_rests(noisy, RATE).spans == ()


@pytest.mark.parametrize("slope", [0, 1])  # hiss, room tone (brown noise's level wanders with its infrasound)
def test_room_tone_alone_is_one_rest_and_a_soft_note_over_it_is_not(slope):
    """A take of nothing but room tone (before anyone plays) has no sound above its floor: one rest,
    so its layers are silence, not grown room tone.  A soft note over the same room tone is played."""
    room = coloured_noise(3 * RATE, slope) * 10 ** (-45 / 20)
    rests = find_rests(room, RATE)
    assert rests.spans == ((0, room.size),) and [f.dbfs for f in rests.floor.floors] == [pytest.approx(-45, abs=3)]
    soft = room + harmonic(3.0) * 10 ** (-20 / 20)  # the note about 17 dB over the room tone
    assert find_rests(soft, RATE).spans == ()
    assert find_rests(room * 10 ** (25 / 20), RATE).spans == ()  # at -20 dBFS: rain, a noise pad; sent to be grown


def test_silence_and_room_tone_alone_give_silent_layers(monkeypatch):
    """Before, a model grew an empty region into a violin layer at -35 dBFS of noise, and room tone too;
    then it grew them only for the rest to zero the layers.  Now every technique gives silence in the
    input's shape at once, and no model runs."""
    violin, guitar = load_models(["violin", "guitar"], device="cpu", threads=1)
    calls: list[str] = []
    model_call = DiffusionModel.__call__
    monkeypatch.setattr(DiffusionModel, "__call__", lambda self, *a, **k: calls.append(self.name) or model_call(self, *a, **k))
    room = coloured_noise(5 * RATE, 1) * 10 ** (-50 / 20)
    for name, clip in (("digital silence", silence(5.0)), ("room tone", room), ("stereo silence", np.zeros((RATE * 5, 2), np.float32))):
        layer = cross(clip, RATE, violin, steps=4, seed=0)
        assert layer.shape == clip.shape and not np.any(layer), name
        made = accompany(clip, RATE, [violin, guitar, violin], steps=4, seed=0)
        assert list(made.layers) == ["violin", "guitar", "violin_2"], name
        assert all(layer.shape == clip.shape and not np.any(layer) for layer in made.layers.values()), name
        assert np.array_equal(made.mix, clip * np.float32(10 ** (made.mix_gain_db / 20))), name
        layers = chorus(clip, RATE, [violin, guitar], steps=4, seed=0)
        assert [label for label, _ in layers] == ["violin", "guitar"], name
        assert all(layer.shape == clip.shape and not np.any(layer) for _, layer in layers), name
    assert calls == []
    ticks: list[tuple[int, int]] = []
    cross(silence(5.0), RATE, violin, steps=4, seed=0, progress=lambda i, n: ticks.append((i, n)))
    accompany(silence(5.0), RATE, [violin], steps=4, seed=0, progress=lambda i, n: ticks.append((i, n)))
    chorus(silence(5.0), RATE, [violin, guitar], steps=4, seed=0, progress=lambda i, n: ticks.append((i, n)))
    assert ticks == [(1, 1)] * 3  # a client's progress bar still reaches the end
    for bad, message in (({"steps": 0}, "steps"), ({"strength": 1.5}, "strength"), ({"sampler_kind": "euler"}, "sampler")):
        with pytest.raises(ValueError, match=message):  # the options are checked as when a model runs
            cross(silence(5.0), RATE, violin, **bad)
        with pytest.raises(ValueError, match=message):
            accompany(silence(5.0), RATE, [violin], **bad)
    assert calls == []
    cross(harmonic(5.0), RATE, violin, steps=4, seed=0)
    assert calls and set(calls) == {"violin"}  # the counter sees a model run


def test_a_layer_rests_on_a_noisy_take(rested_vocal):
    """The rested vocal recorded quietly in a room: peak -30 dBFS, pink room tone at -62 dBFS throughout.
    Before the noise floor was read, the layers grew the room tone into a noisy layer 27 dB under their notes."""
    _, rested, rate, (at, gap) = rested_vocal
    take = rested / np.abs(rested).max() * 10 ** (-30 / 20) + coloured_noise(rested.size, 1) * 10 ** (-62 / 20)
    layer = cross(take.astype(np.float32), rate, load_models(["violin"], device="cpu", threads=1)[0], seed=0)
    assert np.all(layer[at + int(0.2 * rate) : at + gap - int(0.1 * rate)] == 0.0)
    rms = lambda x: np.sqrt(np.mean(x.astype(np.float64) ** 2))
    assert rms(layer[:at]) > 0.1 * rms(take[:at])  # playing before it, at the take's level (engine.heard)


def test_room_tone_under_the_notes_is_gated_out_and_the_notes_kept():
    """A take with pink room tone 40 dB under its notes and a rest that shows the floor: the gate takes
    the room tone out between the partials and leaves the partials' level."""
    clean = np.concatenate([harmonic(2.0), silence(0.8), harmonic(2.0, 330.0)])
    room = coloured_noise(clean.size, 1) * np.float32(10 ** (-46 / 20))
    take = clean * np.float32(0.5) + room
    floor = find_noise_floor(take, frame_levels(take), RATE)
    assert floor is not None and floor.dbfs == pytest.approx(-46, abs=3)
    gated = without_room_tone(take, floor)
    assert gated.shape == take.shape
    spectrum = lambda x: np.abs(np.fft.rfft(x[int(0.5 * RATE) : int(1.5 * RATE)]))  # one second of the first note
    hz = np.fft.rfftfreq(RATE, 1 / RATE)
    partials = np.isin(np.round(hz), 220 * np.arange(1, 9))
    between = (hz > 250) & (hz < 2000) & (np.abs(hz / 220 - np.round(hz / 220)) > 0.3)  # away from every partial
    db = lambda x: 20 * np.log10(np.sqrt(np.mean(x**2)))
    assert db(spectrum(gated)[partials]) == pytest.approx(db(spectrum(take)[partials]), abs=1.0)
    assert db(spectrum(gated)[between]) < db(spectrum(take)[between]) - 10.0
    assert find_noise_floor(clean, frame_levels(clean), RATE) is None  # a clean take has no floor, and is not gated


def phrases_with_rests(seconds: float) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Phrases of 1.5 s (a note each, the pitch moving) with a 1 s rest after each; and the rests."""
    parts, rests, at = [], [], 0
    for k in range(int(seconds // 2.5)):
        parts += [harmonic(1.5, 220.0 * 2 ** ((k % 5) / 12)), silence(1.0)]
        at += int(1.5 * RATE)
        rests.append((at, at + int(1.0 * RATE)))
        at += int(1.0 * RATE)
    return np.concatenate(parts), rests


def test_a_floor_that_rises_during_a_take_is_followed(monkeypatch):
    """A fan switched on halfway through a 20 s take lifts the room tone from -66 to -46 dBFS.  Read once
    for the whole take, the floor was the quiet half's, so the rests after the fan came on were grown
    as notes and its noise stayed under them; the floor is now read a block at a time."""
    clean, true_rests = phrases_with_rests(20.0)
    half = clean.size // 2
    room = coloured_noise(clean.size, 1)
    room[:half] *= 10 ** (-66 / 20)
    room[half:] *= 10 ** (-46 / 20)
    take = (clean + room).astype(np.float32)
    rests = find_rests(take, RATE)
    floor_db = rests.floor.dbfs_at(frame_levels(take).size)
    change = half // HOP
    per_second = RATE // HOP
    assert np.all(np.abs(floor_db[: change - per_second] + 66) < 4)  # the quiet room's floor up to the fan ...
    assert np.all(np.abs(floor_db[change + per_second :] + 46) < 4)  # ... and the fan's within a second of it
    found = lambda spans: [any(a <= start + int(0.1 * RATE) and stop - int(0.1 * RATE) <= b for a, b in spans)
                           for start, stop in true_rests]
    assert all(found(rests.spans))  # every rest, both sides of the change, lies inside one found
    assert sum(b - a for a, b in rests.spans) < 1.2 * sum(b - a for a, b in true_rests)  # and no note is a rest
    gated = without_room_tone(take, rests.floor)
    hz = np.fft.rfftfreq(RATE, 1 / RATE)
    late = next(start for start, _ in true_rests if start > half) - int(1.5 * RATE)  # a note after the change
    partials = 220 * 2 ** ((late // int(2.5 * RATE) % 5) / 12) * np.arange(1, 9)
    between = (hz > 250) & (hz < 2000) & (np.min(np.abs(hz[:, None] - partials[None]), axis=1) > 60)
    level = lambda x: 20 * np.log10(np.sqrt(np.mean(np.abs(np.fft.rfft(x[late + 2000 : late + 2000 + RATE] * np.hanning(RATE)))[between] ** 2)))
    assert level(gated) < level(take) - 10.0  # the fan's noise is gated out under the note
    monkeypatch.setattr("diffband.engine.rests.FLOOR_BLOCK_SECONDS", 1000.0)  # the floor read once, as before
    assert found(find_rests(take, RATE).spans) == [start < half for start, _ in true_rests]  # none after the fan


@pytest.mark.parametrize("seed", range(3))
def test_a_floor_that_rises_a_little_is_followed(seed):
    """A fan that lifts the room tone by 8 dB, less than the 9 dB a rest may lie over its floor: the
    pink room tone's own swells over the quiet floor's margin broke rests after it when both were read
    as one floor."""
    clean, true_rests = phrases_with_rests(40.0)
    half = clean.size // 2
    room = coloured_noise(clean.size, 1, seed)
    room[:half] *= 10 ** (-66 / 20)
    room[half:] *= 10 ** (-58 / 20)
    spans = find_rests((clean + room).astype(np.float32), RATE).spans
    for start, stop in true_rests:
        assert any(a <= start + int(0.1 * RATE) and stop - int(0.1 * RATE) <= b for a, b in spans), start / RATE


def test_a_floor_that_falls_during_a_take_is_followed(monkeypatch):
    """A fan switched off 15 s into a 25 s take: the room tone falls from -46 to -66 dBFS.  Every rest
    while the fan runs is a rest too, the last ones before it stops included (read in 10 s blocks,
    the floor of the block it stopped in was the quiet one, and those rests were grown)."""
    clean, true_rests = phrases_with_rests(25.0)
    stop = 15 * RATE
    room = coloured_noise(clean.size, 1)
    room[:stop] *= 10 ** (-46 / 20)
    room[stop:] *= 10 ** (-66 / 20)
    take = (clean + room).astype(np.float32)
    found = lambda spans: [any(a <= start + int(0.1 * RATE) and stop - int(0.1 * RATE) <= b for a, b in spans)
                           for start, stop in true_rests]
    rests = find_rests(take, RATE)
    assert all(found(rests.spans))
    assert sum(b - a for a, b in rests.spans) < 1.2 * sum(b - a for a, b in true_rests)
    monkeypatch.setattr("diffband.engine.rests.FLOOR_BLOCK_SECONDS", 1000.0)  # the floor read once
    assert found(find_rests(take, RATE).spans) == [start >= stop for start, _ in true_rests]


def test_room_tone_alone_that_steps_up_is_one_rest():
    """Room tone alone that steps from -62 to -45 dBFS 13 s into a 30 s take (nobody plays yet, a fan
    comes on) is one rest, its layers silence: before, the block the step fell in grew ~2 s of it."""
    room = coloured_noise(30 * RATE, 1)
    room[: 13 * RATE] *= 10 ** (-62 / 20)
    room[13 * RATE :] *= 10 ** (-45 / 20)
    assert find_rests(room, RATE).everywhere


@pytest.mark.parametrize("seed", range(5))
def test_room_tone_swelling_over_its_margin_does_not_split_a_rest(seed):
    """Pink room tone's level swells 9 dB over its quietest quarter second now and then (30 takes of
    27 s at -62 dBFS: 50 swells over that margin, none more than 2.7 dB further): each split a rest
    and played a burst of layer in it.  A stretch over the margin sounds only if it rises 3 dB
    further, as the soft note here does."""
    take = coloured_noise(30 * RATE, 1, seed) * np.float32(10 ** (-62 / 20))
    take[: 3 * RATE] += harmonic(3.0) * np.float32(0.2)
    take[20 * RATE : 21 * RATE] += harmonic(1.0) * np.float32(10 ** (-36 / 20))  # a soft note 14 dB over the room tone
    spans = find_rests(take, RATE).spans
    assert len(spans) == 2 and spans[0][0] < int(3.2 * RATE) and spans[1][1] == take.size
    assert 19.8 * RATE < spans[0][1] < 20.2 * RATE and 20.8 * RATE < spans[1][0] < 21.2 * RATE


def test_a_long_take_is_gated_a_chunk_at_a_time_as_if_whole(monkeypatch):
    """The room-tone gate reads a long take 12 s at a time (a 10-minute take's STFT held whole peaked
    2 GB); each chunk's margins make the result the same, sample for sample, as gating it whole."""
    clean, _ = phrases_with_rests(40.0)
    room = coloured_noise(clean.size, 1)
    room[: clean.size // 2] *= 10 ** (-66 / 20)
    room[clean.size // 2 :] *= 10 ** (-46 / 20)
    take = (clean + room).astype(np.float32)[: 30 * RATE + 5]  # not a whole number of hops
    floor = find_rests(take, RATE).floor
    assert len(floor.floors) >= 2 and take.size > 2 * 512 * 512  # two floors, three chunks
    chunked = without_room_tone(take, floor)
    monkeypatch.setattr("diffband.engine.room_tone.CHUNK_FRAMES", 10**9)
    np.testing.assert_array_equal(chunked, without_room_tone(take, floor))


def test_breaths_between_phrases_are_not_a_new_floor():
    """A take whose second half is one long phrase, broken by four 0.4 s breaths (noise at -35 dBFS),
    over room tone at -66 dBFS: the breaths are not read as that half's floor, so nothing in it is a
    rest and its notes are not gated by the breaths' spectrum."""
    first, true_rests = phrases_with_rests(10.0)
    breath = lambda seed: (np.random.default_rng(seed).standard_normal(int(0.4 * RATE)) * 10 ** (-35 / 20)).astype(np.float32)
    second = np.concatenate([harmonic(2.2, 262.0), breath(1), harmonic(2.2, 294.0), breath(2), harmonic(2.2, 330.0),
                             breath(3), harmonic(2.2, 294.0), breath(4), harmonic(0.4, 262.0)])  # four breaths: 1.6 s in all
    clean = np.concatenate([first, second])
    take = (clean + coloured_noise(clean.size, 1) * np.float32(10 ** (-66 / 20))).astype(np.float32)
    rests = find_rests(take, RATE)
    assert np.all(np.abs(rests.floor.dbfs_at(frame_levels(take).size) + 66) < 4)
    assert all(b <= first.size for _, b in rests.spans) and len(rests.spans) == len(true_rests)
