"""accompany (report 5.2): vocals -> a cross-diffused layer per instrument -> band-pass
clean-up -> loudness match against the vocal -> mix with the vocal, without clipping."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pyloudnorm
from scipy.signal import butter, sosfiltfilt

from diffband.engine.bundle import check_compatible
from diffband.engine.condition import follow_conditions, follows
from diffband.engine.defaults import DEFAULT_GUIDANCE, DEFAULT_REGISTER, DEFAULT_STEPS, DEFAULT_STRENGTH
from diffband.engine.cross import DEFAULT_OVERLAP, check_options, cross_images
from diffband.engine.model import DiffusionModel, layer_names
from diffband.engine.image_transpose import lower_images
from diffband.engine.heard import hear
from diffband.engine.register import layer_placements
from diffband.engine.tuning import asked_pitch, tune_layer, tunes
from diffband.engine.windowing import (
    DEFAULT_MAX_SECONDS, as_float32, checked_model_mono, decode_windows, edge_fade, encode_mono, from_model_mono, limit_peak,
    peak_gain,
)

Progress = Callable[[int, int], None]

#: Pass bands (Hz) that keep each instrument's range and drop rumble and hiss.
INSTRUMENT_BANDS: dict[str, tuple[float, float]] = {
    "guitar": (70.0, 6000.0),
    "violin": (180.0, 10000.0),
    "voice": (80.0, 8000.0),
    "flute": (240.0, 10000.0),
}
DEFAULT_BAND = (60.0, 10000.0)
#: Loudness given to layers when the vocal itself is silent.
FALLBACK_LUFS = -23.0


@dataclass
class Accompaniment:
    """Each layer and the mix, in the caller's rate, length and channel layout."""

    layers: dict[str, np.ndarray]
    mix: np.ndarray
    sample_rate: int
    layer_lufs: dict[str, float] = field(default_factory=dict)
    vocal_lufs: float = float("-inf")
    mix_gain_db: float = 0.0
    layer_octaves: dict[str, int] = field(default_factory=dict)  # octaves each layer sounds from the vocal
    layer_fitted: dict[str, int] = field(default_factory=dict)  # octaves above that each was grown (register fit)


def band_pass(audio: np.ndarray, sample_rate: int, low: float, high: float, order: int = 4) -> np.ndarray:
    """Zero-phase Butterworth band-pass (high edge capped below Nyquist)."""
    high = min(high, 0.45 * sample_rate)
    sos = butter(order, [low, high], btype="bandpass", fs=sample_rate, output="sos")
    return sosfiltfilt(sos, audio, axis=0).astype(np.float32)


#: Channels pyloudnorm's BS.1770 weights cover; more (7.1, ambisonics) are measured on a mono downmix.
METER_CHANNELS = 5


def loudness_lufs(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness (ITU-R BS.1770 via pyloudnorm); -inf for silence or very short audio.

    Audio with more than ``METER_CHANNELS`` channels is measured on its mono downmix."""
    if audio.ndim == 2 and audio.shape[1] > METER_CHANNELS:
        audio = audio.mean(axis=1)
    if audio.shape[0] < int(0.4 * sample_rate) + 1:
        audio = np.pad(audio, [(0, int(0.4 * sample_rate) + 1 - audio.shape[0])] + [(0, 0)] * (audio.ndim - 1))
    with np.errstate(divide="ignore"):
        return float(pyloudnorm.Meter(sample_rate).integrated_loudness(audio.astype(np.float64)))


def match_loudness(audio: np.ndarray, sample_rate: int, target_lufs: float) -> tuple[np.ndarray, float]:
    """Scale ``audio`` to ``target_lufs``; silence stays silence."""
    current = loudness_lufs(audio, sample_rate)
    if not np.isfinite(current):
        return audio, current
    return (audio * 10 ** ((target_lufs - current) / 20)).astype(np.float32), target_lufs


def accompany(
    vocals: np.ndarray,
    sample_rate: int,
    instruments: list[DiffusionModel],
    strength: float = DEFAULT_STRENGTH,
    steps: int = DEFAULT_STEPS,
    seed: int = 0,
    layer_gain_db: float | list[float] = -3.0,
    overlap: float = DEFAULT_OVERLAP,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    progress: Progress | None = None,
    eta: float = 0.0,
    sampler_kind: str = "ddim",
    workers: int = 1,
    follow: str = "auto",
    guidance: float = DEFAULT_GUIDANCE,
    octave: int = 0,
    register: str = DEFAULT_REGISTER,
    eps_scale: float = 1.0,
    register_audio: np.ndarray | None = None,
) -> Accompaniment:
    """Grow one layer per instrument from ``vocals`` and mix them under it; with ``follow``
    (auto, notes, loose, off) conditional instruments follow the vocal's notes (``engine.condition``;
    with ``notes`` each layer is re-tuned to them, ``engine.tuning``);
    ``octave`` grows the layers that many octaves from the vocal (the mix keeps the vocal as it is), and
    ``register="instrument"`` moves it into each instrument's range first (``engine.register``), decided
    on ``register_audio`` (recent input ending with ``vocals``, at ``sample_rate``) when given.

    ``workers > 1`` renders instruments concurrently (same result; pair it with
    one-thread sessions on a CPU, see ``engine.model.threads_per_model``)."""
    if not instruments:
        raise ValueError("accompany needs at least one instrument model")
    check_compatible([m.info for m in instruments])
    gains = [layer_gain_db] * len(instruments) if np.isscalar(layer_gain_db) else list(layer_gain_db)
    if len(gains) != len(instruments):
        raise ValueError(f"{len(gains)} layer gains given for {len(instruments)} instruments")
    first = instruments[0]
    placements = layer_placements(instruments, vocals, sample_rate, register, octave, max_seconds, context=register_audio)
    octaves = [grown for grown, _ in placements]  # where each layer is grown; it sounds at placements[i][1]
    following = "notes" if follows(follow, instruments) else "off"
    tuning = tunes(follow, instruments, guidance)
    images: dict[int, np.ndarray] = {}  # the vocal's window images, moved by each octave a layer uses
    conditions: list[np.ndarray | None] = [None] * len(instruments)
    layout, plain = checked_model_mono(first, vocals, sample_rate, max_seconds)  # checked and resampled once
    heard = hear(plain, first.info.sample_rate)  # rests filled, at the training level (engine.heard)
    sung = heard.audio
    if heard.nothing_to_grow:  # all rest: nothing to encode, every layer silence (below)
        check_options(first, instruments, strength, steps, sampler_kind, eta, eps_scale, follow)
        if progress:
            progress(1, 1)
    else:
        for shift in dict.fromkeys(octaves):
            mono, images[shift], starts = encode_mono(first, sung, overlap, shift)
            members = [i for i, o in enumerate(octaves) if o == shift]
            made = follow_conditions(following, [instruments[i] for i in members], mono, starts)
            for i, condition in zip(members, made or [None] * len(members)):
                conditions[i] = condition
    model_rate = first.info.sample_rate
    vocal = as_float32(vocals)
    vocal_lufs = loudness_lufs(vocal, sample_rate)
    target_base = vocal_lufs if np.isfinite(vocal_lufs) else FALLBACK_LUFS

    done = [0] * len(instruments)
    lock = threading.Lock()

    def render(index: int) -> tuple[np.ndarray, float]:
        """One instrument's layer, finished: cross-diffused, decoded, cleaned, loudness-matched."""
        model = instruments[index]

        def tick(i: int, n: int) -> None:
            if progress:
                with lock:
                    done[index] = i
                    progress(sum(done), n * len(instruments))

        grown, sounding = placements[index]
        if heard.nothing_to_grow:  # silence or room tone alone: a silent layer, no model run
            layer = np.zeros_like(sung)
        else:
            out_images = cross_images(model, images[octaves[index]], strength, steps, seed + index, eta, tick,
                                      sampler_kind=sampler_kind, condition=conditions[index], guidance=guidance,
                                      eps_scale=eps_scale)
            out_images = lower_images(out_images, model.info.codec, grown - sounding)
            layer = decode_windows(model, out_images, starts, sung.size, overlap)  # a move keeps the length
            if tuning:
                layer = tune_layer(layer, model_rate, asked_pitch(sung, model_rate, sounding))
        layer = heard.restore(layer)  # silent in the rests; the level no longer matters, matched below
        low, high = INSTRUMENT_BANDS.get(model.info.instrument, DEFAULT_BAND)
        low /= 2.0 ** (grown - sounding)  # a layer brought down (register fit) keeps its notes' fundamentals
        layer = edge_fade(band_pass(layer, model_rate, low, high), model_rate)
        layer = from_model_mono(layer, layout, model_rate)
        layer, lufs = match_loudness(layer, sample_rate, target_base + gains[index])
        limited = limit_peak(layer)  # the level rule wins over the loudness match
        return limited, (lufs if limited is layer else loudness_lufs(limited, sample_rate))

    if workers > 1 and len(instruments) > 1:  # ONNX Runtime runs without the GIL: instruments overlap
        with ThreadPoolExecutor(min(workers, len(instruments))) as pool:
            rendered = list(pool.map(render, range(len(instruments))))
    else:
        rendered = [render(index) for index in range(len(instruments))]

    layers: dict[str, np.ndarray] = {}
    layer_lufs: dict[str, float] = {}
    moved: dict[str, int] = {}
    fitted: dict[str, int] = {}
    for index, (name, (layer, lufs)) in enumerate(zip(layer_names(instruments), rendered)):
        layers[name] = layer
        layer_lufs[name] = lufs
        grown, sounding = placements[index]
        moved[name], fitted[name] = sounding, grown - sounding

    mix = vocal.astype(np.float64) + sum(layer.astype(np.float64) for layer in layers.values())
    mix_gain = peak_gain(mix)
    return Accompaniment(
        layers=layers,
        mix=(mix * mix_gain).astype(np.float32),
        sample_rate=sample_rate,
        layer_lufs=layer_lufs,
        vocal_lufs=vocal_lufs,
        mix_gain_db=float(20 * np.log10(mix_gain)),
        layer_octaves=moved,
        layer_fitted=fitted,
    )
