"""double-diffusion (report eqs. 4.2-4.3), generalised to a chorus of N layers.

The source model denoises noise for the first ``split`` share of the DDIM steps;
the intermediate is then finished by the source model (its own layer) and by each
target model.  Every model is called once per step, with all of its layers batched.

``chorus`` is the same branching started from a captured clip instead of pure noise:
the clip is diffused to ``strength`` (as in cross-diffusion), the trunk model denoises
it down to the split, and every layer finishes from there; at strength 1 it is plain
double-diffusion with the clip's length.

With ``follow`` (auto, notes, loose, off; ``engine.condition``) the layers follow notes, at
classifier-free guidance ``guidance``:

- ``chorus`` whose trunk model has a condition channel: every layer, the trunk's included,
  follows the clip's notes, as ``cross`` does, placed by the ``register`` option as ``cross``
  places it (``fit``: grown higher where the clip lies below a model's range and brought back
  down); with ``notes`` (so ``auto`` on conditional models) each is also re-tuned to them
  (``engine.tuning``).  Measured against following the lead's decoded layer, the later layers
  agree more with the lead and with the clip (``python -m bench.chorus_pitch``, ``bench/RESULTS.md``);
- otherwise (``double`` from noise, or an unconditional trunk model) the later layers follow the
  lead layer's notes: the lead's layer is finished first, decoded, and its pitch content
  conditions every other model from the fork on; ``chorus`` with ``notes`` re-tunes them to it.

``loose`` leaves the layers as the models made them; with follow off every layer is denoised in
lockstep, the report's method.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from diffband.engine.bundle import check_compatible
from diffband.engine.condition import conditions_for, follow_conditions, follows
from diffband.engine.cross import DEFAULT_OVERLAP, diffuse, start_index
from diffband.engine.defaults import DEFAULT_GUIDANCE, DEFAULT_REGISTER
from diffband.engine.image_transpose import lower_images
from diffband.engine.heard import hear
from diffband.engine.model import DiffusionModel, Guided, layer_names
from diffband.engine.denoise import denoise, denoise_lanes
from diffband.engine.samplers import Denoiser, Sampler, make_sampler
from diffband.engine.register import layer_placements
from diffband.engine.tuning import AskedPitch, asked_pitch, tune_layer, tunes
from diffband.engine.windowing import (DEFAULT_MAX_SECONDS, checked_model_mono, decode_windows, encode_mono, from_model_mono,
                                      limit_peak)

Progress = Callable[[int, int], None]
#: Lead layer images ``(n, n_mels, frames)`` -> the denoisers of the later models, in order.
Guide = Callable[[np.ndarray], list[Denoiser]]


def _check_split(models: list[DiffusionModel], split: float) -> None:
    if len(models) < 2:
        raise ValueError("double-diffusion needs at least one target model")
    if not 0.0 <= split <= 1.0:
        raise ValueError(f"split must be between 0 and 1, got {split}")
    check_compatible([m.info for m in models])


def lead_guide(models: list[DiffusionModel], follow: str, guidance: float) -> Guide | None:
    """How the later models follow the lead layer's notes, or None when they do not
    (``follow`` auto: when every later model has a condition channel)."""
    followers = models[1:]
    if not follows(follow, followers):
        return None
    lead = models[0]

    def guide(lead_images: np.ndarray) -> list[Denoiser]:
        audio = lead.decode(lead_images)
        guided: dict[int, Guided] = {}  # one denoiser per model: its lanes still share a call
        for model in followers:
            if id(model) not in guided:
                guided[id(model)] = Guided(model, conditions_for(model, audio), guidance)
        return [guided[id(model)] for model in followers]

    return guide


def clip_denoisers(models: list[DiffusionModel], follow: str, guidance: float, mono: np.ndarray,
                   starts: list[int]) -> list[Denoiser]:
    """Each model guided by the notes of the clip ``mono`` (windows at ``starts``); one denoiser per
    distinct model, so a model named twice still denoises its lanes in one call."""
    conditions = follow_conditions(follow, models, mono, starts)
    assert conditions is not None, "every model follows here"
    guided: dict[int, Guided] = {}
    for model, condition in zip(models, conditions):
        guided.setdefault(id(model), Guided(model, condition, guidance))
    return [guided[id(model)] for model in models]


def branch(
    models: list[DiffusionModel],
    sampler: Sampler,
    x: np.ndarray,
    steps: int,
    first: int,
    split: float,
    rng: np.random.Generator,
    progress: Progress | None = None,
    guide: Guide | None = None,
    denoisers: list[Denoiser] | None = None,
) -> list[tuple[str, np.ndarray]]:
    """Denoise ``x`` (at sampler index ``first``) with ``models[0]`` down to the split,
    then finish one copy per model; ``[(name, images (n, H, W)), ...]`` in model order.
    With ``guide`` the lead's copy is finished first and ``guide(its images)`` gives the
    denoisers that finish the others.  ``denoisers``: what denoises in each model's place
    (the models following a clip's notes); the models themselves by default."""
    denoisers = list(models) if denoisers is None else denoisers
    timesteps = sampler.timesteps(steps)
    fork = max(first, int(round(split * steps)))
    after = len(timesteps) - fork
    total = fork - first + (after if guide is None else 2 * after)

    def from_step(offset: int) -> Progress | None:
        return (lambda i, _: progress(offset + i, total)) if progress else None

    x = denoise(denoisers[0], sampler, x, steps, rng, start_index=first, stop_index=fork, progress=from_step(0))
    if guide is None:
        # One lane per model from the shared intermediate; a model is called once per step on all its lanes.
        lanes = [(d, x.copy()) for d in denoisers]
        branches = denoise_lanes(lanes, sampler, steps, rng, start_index=fork, progress=from_step(fork - first))
        return [(m.name, lane[:, 0]) for m, lane in zip(models, branches)]
    finished = denoise(denoisers[0], sampler, x.copy(), steps, rng, start_index=fork,
                       progress=from_step(fork - first))[:, 0]
    lanes = [(denoiser, x.copy()) for denoiser in guide(finished)]
    rest = denoise_lanes(lanes, sampler, steps, rng, start_index=fork, progress=from_step(fork - first + after))
    return [(models[0].name, finished), *((m.name, lane[:, 0]) for m, lane in zip(models[1:], rest))]


def double(
    source: DiffusionModel,
    targets: list[DiffusionModel],
    steps: int = 50,
    split: float = 0.2,
    seed: int = 0,
    n: int = 1,
    eta: float = 0.0,
    progress: Progress | None = None,
    sampler_kind: str = "ddim",
    follow: str = "auto",
    guidance: float = DEFAULT_GUIDANCE,
    eps_scale: float = 1.0,
) -> list[tuple[str, np.ndarray]]:
    """Layers ``[(model name, images (n, n_mels, frames)), ...]``: the source's first, then each target's."""
    models = [source, *targets]
    _check_split(models, split)
    guide = lead_guide(models, follow, guidance)
    sampler = make_sampler(source.info.schedule, sampler_kind, eta, eps_scale)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 1, *source.info.image_shape), dtype=np.float32)
    return branch(models, sampler, x, steps, 0, split, rng, progress, guide)


def follows_clip(models: list[DiffusionModel], follow: str) -> bool:
    """Whether every layer of a chorus from a clip follows the clip's notes: the chorus follows
    (``lead_guide``) and its trunk model has a condition channel."""
    return follows(follow, models[1:]) and models[0].info.condition is not None


def chorus_placements(models: list[DiffusionModel], audio: np.ndarray, sample_rate: int, follow: str, register: str,
                      max_seconds: float = DEFAULT_MAX_SECONDS,
                      context: np.ndarray | None = None) -> list[tuple[int, int]]:
    """Each layer's ``(grown, sounding)`` octaves in a chorus from ``audio``: placed by ``register``
    (``engine.register.layer_placements``, decided on ``context`` when given) when the layers follow
    the clip, else where the clip is played."""
    if not follows_clip(models, follow):
        return [(0, 0)] * len(models)
    return layer_placements(models, audio, sample_rate, register, 0, max_seconds, context=context)


def chorus(
    audio: np.ndarray,
    sample_rate: int,
    models: list[DiffusionModel],
    strength: float = 1.0,
    split: float = 0.2,
    steps: int = 50,
    seed: int = 0,
    eta: float = 0.0,
    overlap: float = DEFAULT_OVERLAP,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    progress: Progress | None = None,
    sampler_kind: str = "ddim",
    follow: str = "auto",
    guidance: float = DEFAULT_GUIDANCE,
    eps_scale: float = 1.0,
    register: str = DEFAULT_REGISTER,
    placements: list[tuple[int, int]] | None = None,
) -> list[tuple[str, np.ndarray]]:
    """Paired layers the length of ``audio``: ``models[0]`` denoises the shared trunk; with
    ``follow`` the layers follow the clip's notes (an unconditional trunk model: the later layers
    follow the lead layer's), with ``notes`` re-tuned to them (module docstring).  Layers that follow
    the clip are placed by ``register`` as ``cross`` places them (``engine.register``; ``placements``:
    each model's ``(grown, sounding)`` octaves, decided by the caller); models grown at one octave
    share a trunk, and every octave's trunk starts from the same noise.  Otherwise every layer grows
    where the clip is played.

    Returns ``[(name, audio in the caller's rate, length and channels), ...]`` in model
    order (each peak-limited to -1 dBFS); a model named twice gets a ``_<index>`` suffix."""
    _check_split(models, split)
    guide = lead_guide(models, follow, guidance)
    from_clip = follows_clip(models, follow)
    if placements is None or not from_clip:  # a caller's placements apply only to layers that follow the clip
        placements = chorus_placements(models, audio, sample_rate, follow, register, max_seconds)
    first_model = models[0]
    layout, plain = checked_model_mono(first_model, audio, sample_rate, max_seconds)
    heard = hear(plain, first_model.info.sample_rate)  # rests filled, at the training level (engine.heard)
    plain = heard.audio
    schedule = first_model.info.schedule
    sampler = make_sampler(schedule, sampler_kind, eta, eps_scale)
    timesteps = sampler.timesteps(steps)
    first = start_index(timesteps, strength, schedule.num_train_timesteps)
    if strength == 0.0 or first >= len(timesteps):
        raise ValueError("chorus strength must be above 0 (at 0 every layer would be the input itself)")
    if heard.nothing_to_grow:  # silence or room tone alone: silent layers, no model run
        if progress:
            progress(1, 1)
        silent = from_model_mono(np.zeros_like(plain), layout, first_model.info.sample_rate)
        return [(label, silent.copy()) for label in layer_names(models)]
    octaves = list(dict.fromkeys(grown for grown, _ in placements))
    grown_images: list[np.ndarray] = [np.empty(0)] * len(models)
    for k, grown in enumerate(octaves):  # one trunk per octave the layers are grown at
        members = [i for i, (g, _) in enumerate(placements) if g == grown]
        group = [models[i] for i in members]
        mono, images, starts = encode_mono(first_model, plain, overlap, grown)
        rng = np.random.default_rng(seed)
        x = diffuse(schedule, images, strength, int(timesteps[first]), rng)
        denoisers = clip_denoisers(group, follow, guidance, mono, starts) if from_clip else None
        part = (lambda i, n, k=k: progress(k * n + i, n * len(octaves))) if progress else None
        made = branch(group, sampler, x, steps, first, split, rng, part, None if from_clip else guide, denoisers)
        for i, (_, layer_images) in zip(members, made):
            grown_images[i] = layer_images
    tuning = guide is not None and tunes(follow, models[1:], guidance)
    rate = first_model.info.sample_rate
    asked: dict[int, AskedPitch] = {}  # the clip's notes the layers are tuned to, by the octave they sound at
    lead_line: AskedPitch | None = None  # an unconditional lead's notes, which the later layers are tuned to
    out: list[tuple[str, np.ndarray]] = []
    for index, (label, layer_images) in enumerate(zip(layer_names(models), grown_images)):
        grown, sounding = placements[index]
        layer_images = lower_images(layer_images, first_model.info.codec, grown - sounding)
        signal = decode_windows(first_model, layer_images, starts, plain.size, overlap)
        if tuning and from_clip:  # every layer to the clip's notes, where it sounds
            if sounding not in asked:
                asked[sounding] = asked_pitch(plain, rate, sounding)
            signal = tune_layer(signal, rate, asked[sounding])
        elif tuning and lead_line is None:  # an unconditional lead stays as made; the others go to its notes
            lead_line = asked_pitch(signal, rate)
        elif tuning:
            signal = tune_layer(signal, rate, lead_line)
        signal = from_model_mono(heard.restore(signal), layout, rate)
        out.append((label, limit_peak(signal)))
    return out
