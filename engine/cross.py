"""cross-diffusion (report eq. 4.1): diffuse the source to step t, denoise with the target model.

``strength = t / T`` is the share of the schedule the source is diffused through:
0 returns the source's own mel (no model call), 1 starts from pure noise and so
ignores the source (plain generation).  The source needs no model.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from diffband.engine.bundle import check_compatible
from diffband.engine.condition import follow_conditions, follows
from diffband.engine.defaults import DEFAULT_GUIDANCE, DEFAULT_REGISTER, DEFAULT_STEPS, DEFAULT_STRENGTH
from diffband.engine.model import DiffusionModel, Guided
from diffband.engine.denoise import denoise
from diffband.engine.samplers import DDIMInverseSampler, make_sampler
from diffband.engine.image_transpose import lower_images
from diffband.engine.heard import hear
from diffband.engine.register import layer_placements
from diffband.engine.schedule import NoiseSchedule
from diffband.engine.tuning import asked_pitch, tune_layer, tunes
from diffband.engine.windowing import (DEFAULT_MAX_SECONDS, checked_model_mono, decode_windows, encode_mono,
                                       from_model_mono, limit_peak)

Progress = Callable[[int, int], None]
#: Share of a window that neighbouring windows overlap (crossfaded).
DEFAULT_OVERLAP = 0.25


def start_index(timesteps: np.ndarray, strength: float, num_train_timesteps: int) -> int:
    """Index of the first sampler step at or below ``t = strength * T``."""
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be between 0 and 1, got {strength}")
    limit = strength * num_train_timesteps
    below = np.flatnonzero(timesteps <= limit)
    return int(below[0]) if below.size else len(timesteps)


def check_options(model: DiffusionModel, followers: Sequence[DiffusionModel], strength: float, steps: int,
                  sampler_kind: str, eta: float, eps_scale: float, follow: str) -> None:
    """The errors a job's options raise once its models run, raised without running them (an input
    that is all rest, whose layers are silence at once)."""
    sampler = make_sampler(model.info.schedule, sampler_kind, eta, eps_scale)
    start_index(sampler.timesteps(steps), strength, model.info.schedule.num_train_timesteps)
    follows(follow, followers)


def diffuse(schedule: NoiseSchedule, images: np.ndarray, strength: float, t: int, rng: np.random.Generator) -> np.ndarray:
    """``D_t(x)`` (eq. 4.1) of images ``(k, H, W)`` as ``(k, 1, H, W)``; at strength 1 pure
    noise (the source is gone at t = T)."""
    noise = rng.standard_normal((images.shape[0], 1, *images.shape[1:]), dtype=np.float32)
    return noise if strength >= 1.0 else schedule.add_noise(images[:, None], noise, t)


def ddim_invert(source: DiffusionModel, images: np.ndarray, num_steps: int, levels: int) -> np.ndarray:
    """Deterministic DDIM inversion: clean images ``(k, H, W)`` walked up the lowest ``levels``
    timesteps of a ``num_steps`` DDIM run with the source model; returns x there ``(k, 1, H, W)``."""
    sampler = DDIMInverseSampler(source.info.schedule)
    x = images[:, None].astype(np.float32)
    return denoise(source, sampler, x, num_steps, np.random.default_rng(0), stop_index=levels)


def cross_images(
    target: DiffusionModel,
    images: np.ndarray,
    strength: float,
    steps: int = DEFAULT_STEPS,
    seed: int = 0,
    eta: float = 0.0,
    progress: Progress | None = None,
    invert_with: DiffusionModel | None = None,
    sampler_kind: str = "ddim",
    condition: np.ndarray | None = None,
    guidance: float = DEFAULT_GUIDANCE,
    eps_scale: float = 1.0,
) -> np.ndarray:
    """Cross-diffuse a batch of source mel images ``(k, n_mels, frames)`` into ``target``.

    With ``invert_with`` (a model of the source's instrument), the source is taken to
    step t by deterministic DDIM inversion instead of random noising (the DDIB variant).
    With ``condition`` (``(k, 1, n_mels, frames)``, ``engine.condition``) the target follows
    it at classifier-free guidance scale ``guidance``.  ``eps_scale``: epsilon scaling
    (``engine.samplers``).
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 3 or images.shape[1:] != target.info.image_shape:
        raise ValueError(f"images must be (k, {target.info.image_shape[0]}, {target.info.image_shape[1]}), got {images.shape}")
    schedule = target.info.schedule
    sampler = make_sampler(schedule, sampler_kind, eta, eps_scale)
    timesteps = sampler.timesteps(steps)
    first = start_index(timesteps, strength, schedule.num_train_timesteps)
    if strength == 0.0 or first >= len(timesteps):
        return images.copy()  # D_0(x) = x: nothing to denoise
    rng = np.random.default_rng(seed)
    if invert_with is not None:
        check_compatible([invert_with.info, target.info])
        x = ddim_invert(invert_with, images, steps, len(timesteps) - first)
    else:
        x = diffuse(schedule, images, strength, int(timesteps[first]), rng)
    denoiser = target if condition is None else Guided(target, condition, guidance)
    return denoise(denoiser, sampler, x, steps, rng, start_index=first, progress=progress)[:, 0]


def cross(
    audio: np.ndarray,
    sample_rate: int,
    target: DiffusionModel,
    strength: float = DEFAULT_STRENGTH,
    steps: int = DEFAULT_STEPS,
    seed: int = 0,
    eta: float = 0.0,
    overlap: float = DEFAULT_OVERLAP,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    progress: Progress | None = None,
    invert_with: DiffusionModel | None = None,
    sampler_kind: str = "ddim",
    follow: str = "auto",
    guidance: float = DEFAULT_GUIDANCE,
    octave: int = 0,
    register: str = DEFAULT_REGISTER,
    eps_scale: float = 1.0,
    placement: tuple[int, int] | None = None,
) -> np.ndarray:
    """Style-transfer ``audio`` into ``target``'s instrument; same rate, length and channels out,
    peak at or below -1 dBFS (a gain, never clipping).  ``follow`` (auto, notes, loose, off) makes a
    conditional target follow the input's notes (``engine.condition.follows``; with ``notes`` the layer is
    re-tuned to them, ``engine.tuning``); ``octave`` grows
    the layer that many octaves from the input (``engine.transpose``), ``register`` places it
    (``engine.register``: ``instrument`` moves it into the target's range, ``fit`` grows an input
    below that range up in it and brings the layer back down); ``placement``: the ``(grown, sounding)``
    octaves of a caller that placed the layer already (``engine.register.layer_placements``), in
    place of ``register`` and ``octave``."""
    [(grown, sounding)] = ([placement] if placement is not None
                           else layer_placements([target], audio, sample_rate, register, octave, max_seconds))
    layout, plain = checked_model_mono(target, audio, sample_rate, max_seconds)
    heard = hear(plain, target.info.sample_rate)  # rests filled, at the training level (engine.heard)
    if heard.nothing_to_grow:  # silence or room tone alone: a silent layer, no model run
        check_options(target, [target], strength, steps, sampler_kind, eta, eps_scale, follow)
        if invert_with is not None:
            check_compatible([invert_with.info, target.info])
        if progress:
            progress(1, 1)
        return from_model_mono(np.zeros_like(heard.audio), layout, target.info.sample_rate)
    mono, images, starts = encode_mono(target, heard.audio, overlap, grown)
    conditions = follow_conditions(follow, [target], mono, starts)
    out_images = cross_images(target, images, strength, steps, seed, eta, progress, invert_with, sampler_kind,
                              None if conditions is None else conditions[0], guidance, eps_scale)
    out_images = lower_images(out_images, target.info.codec, grown - sounding)
    out = decode_windows(target, out_images, starts, mono.size, overlap)
    if tunes(follow, [target], guidance):
        out = tune_layer(out, target.info.sample_rate, asked_pitch(heard.audio, target.info.sample_rate, sounding))
    return limit_peak(from_model_mono(heard.restore(out), layout, target.info.sample_rate))
