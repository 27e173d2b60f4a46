"""The technique registry: what each technique is called, what it takes, and how it runs.

One entry per technique: its function, how many models it takes, whether it takes
input audio, and its options (``engine.options``) with their defaults.  The CLI
subcommands, the OSC option table and validation, job dispatch, live mode, the
protocol doc check and the Max device builder all read this table: adding a
technique is one function and one entry here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Literal

import numpy as np

from diffband.engine.defaults import GENERATE_EPS_SCALE
from diffband.engine.options import OPTIONS, Option, OptionError
from diffband.engine.windowing import DEFAULT_MAX_SECONDS

if TYPE_CHECKING:
    from diffband.engine.model import DiffusionModel

Progress = Callable[[int, int], None]
InputKind = Literal["audio", "none", "optional"]


@dataclass(frozen=True)
class Layer:
    """One output: its name, audio ``(frames,)`` or ``(frames, channels)``, sample rate, the
    octaves it sounds from the input (the ``octave`` and ``register`` options), and how many
    octaves above that it was grown before being brought back down (register ``fit``)."""

    name: str
    audio: np.ndarray
    sample_rate: int
    octave: int = 0
    fitted: int = 0


@dataclass
class Request:
    """Everything a technique needs to run once."""

    models: list[DiffusionModel]
    options: dict[str, Any]
    audio: np.ndarray | None = None
    sample_rate: int | None = None
    progress: Progress | None = None
    max_seconds: float = DEFAULT_MAX_SECONDS
    workers: int = 1  # instruments rendered at once, where a technique can
    invert_with: DiffusionModel | None = None  # cross: reach t by DDIM inversion with this source model
    #: Live: the recent input (at ``sample_rate``) that register decisions read instead of ``audio`` alone,
    #: so a layer's register holds across windows (``bridge.live.RegisterContext``).
    register_context: np.ndarray | None = None


@dataclass(frozen=True)
class Technique:
    name: str
    help: str
    input: InputKind
    min_models: int
    max_models: int | None
    models_help: str
    options: tuple[Option, ...]
    run: Callable[[Request], list[Layer]]
    aliases: tuple[str, ...] = ()
    live: bool = False  # runs window by window on a live input (diffband live)
    layers_help: str = ""

    @property
    def defaults(self) -> dict[str, Any]:
        return {option.name: option.default for option in self.options}

    def option(self, name: str) -> Option:
        for option in self.options:
            if option.name == name:
                return option
        raise KeyError(name)

    def check_models(self, count: int) -> None:
        """Raise ``OptionError`` when ``count`` models do not fit this technique."""
        most = self.max_models
        if count < self.min_models or (most is not None and count > most):
            wanted = (f"exactly {most}" if most == self.min_models else
                      f"{self.min_models} or more" if most is None else f"{self.min_models}-{most}")
            raise OptionError(f"{self.name} takes {wanted} model(s) ({self.models_help}), got {count}")

    def resolve(self, given: dict[str, Any]) -> dict[str, Any]:
        """Defaults overlaid with ``given``, each checked; unknown names raise ``OptionError``."""
        names = {option.name for option in self.options}
        unknown = sorted(set(given) - names)
        if unknown:
            raise OptionError(f"{self.name} has no option {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        values = self.defaults
        for name, value in given.items():
            if value is not None:
                values[name] = self.option(name).check(value)
        return values


def _pick(*names: str, **defaults: Any) -> tuple[Option, ...]:
    return tuple(OPTIONS[n].with_default(defaults[n]) if n in defaults else OPTIONS[n] for n in names)


def _sampling(o: dict[str, Any]) -> dict[str, Any]:
    return {"steps": o["steps"], "seed": o["seed"], "eta": o["eta"], "sampler_kind": o["sampler"],
            "eps_scale": o["eps_scale"]}


def _following(o: dict[str, Any]) -> dict[str, Any]:
    return {"follow": o["follow"], "guidance": o["guidance"]}


def _run_generate(request: Request) -> list[Layer]:
    from diffband.engine.generate import generate, images_to_audio

    o, layers = request.options, []
    for index, model in enumerate(request.models):
        def tick(done: int, total: int, index: int = index) -> None:
            if request.progress:
                request.progress(index * total + done, total * len(request.models))

        images = generate(model, o["n"], progress=tick, **_sampling(o))
        for i, audio in enumerate(images_to_audio(model, images)):
            layers.append(Layer(f"{model.name}_{i}", audio, model.info.sample_rate))
    return layers


def _run_cross(request: Request) -> list[Layer]:
    from diffband.engine.cross import cross

    from diffband.engine.register import layer_placements

    target, o = request.models[0], request.options
    [(grown, sounding)] = layer_placements([target], request.audio, request.sample_rate, o["register"], o["octave"],
                                           request.max_seconds, context=request.register_context)
    out = cross(request.audio, request.sample_rate, target, o["strength"], max_seconds=request.max_seconds,
                placement=(grown, sounding), progress=request.progress, invert_with=request.invert_with, **_sampling(o),
                **_following(o))
    return [Layer(target.name, out, request.sample_rate, sounding, grown - sounding)]


def _run_chorus(request: Request) -> list[Layer]:
    from diffband.engine.double import chorus, chorus_placements, double
    from diffband.engine.generate import images_to_audio

    models, o = request.models, request.options
    if request.audio is not None:  # chorus: started from the clip
        placements = chorus_placements(models, request.audio, request.sample_rate, o["follow"], o["register"],
                                       request.max_seconds, context=request.register_context)
        layers = chorus(request.audio, request.sample_rate, models, o["strength"], o["split"],
                        max_seconds=request.max_seconds, progress=request.progress, placements=placements,
                        **_sampling(o), **_following(o))
        return [Layer(name, audio, request.sample_rate, sounding, grown - sounding)
                for (name, audio), (grown, sounding) in zip(layers, placements)]
    lead = models[0]
    branches = double(lead, models[1:], split=o["split"], n=o["n"], progress=request.progress, **_sampling(o),
                      **_following(o))
    return [
        Layer(f"{index}_{name}_{i}", audio, lead.info.sample_rate)
        for index, (name, images) in enumerate(branches)
        for i, audio in enumerate(images_to_audio(lead, images))
    ]


def _run_accompany(request: Request) -> list[Layer]:
    from diffband.engine.accompany import accompany

    o, rate = request.options, request.sample_rate
    result = accompany(request.audio, rate, request.models, o["strength"], layer_gain_db=o["layer_gain"], octave=o["octave"],
                       register=o["register"], max_seconds=request.max_seconds, progress=request.progress, workers=request.workers,
                       register_audio=request.register_context, **_sampling(o), **_following(o))
    return [*(Layer(name, audio, rate, result.layer_octaves.get(name, 0), result.layer_fitted.get(name, 0))
              for name, audio in result.layers.items()),
            Layer("mix", result.mix, rate)]


SAMPLING = ("steps", "seed", "sampler", "eta", "eps_scale")
FOLLOWING = ("follow", "guidance")

TECHNIQUES: dict[str, Technique] = {
    t.name: t
    for t in [
        Technique(
            "generate", "generate audio from noise with each instrument model", "none", 1, None,
            "one or more instruments; clips of each", _pick("n", *SAMPLING, steps=50, eps_scale=GENERATE_EPS_SCALE),
            _run_generate,
            layers_help="`MODEL_i` per model and clip, at the model's rate and window length",
        ),
        Technique(
            "cross", "style transfer: diffuse the input to t and denoise with the target model (report eq. 4.1)",
            "audio", 1, 1, "the target instrument", _pick("strength", *SAMPLING, *FOLLOWING, "octave", "register"), _run_cross, live=True,
            layers_help="the target model's name",
        ),
        Technique(
            "chorus", "double-diffusion (report eqs. 4.2-4.3): one generation branched into several models, paired "
            "layers; with input audio it starts from the clip", "optional", 2, None,
            "the first model denoises the shared trunk, every model finishes a layer",
            _pick("split", "strength", "n", *SAMPLING, *FOLLOWING, "register", strength=0.8, steps=20), _run_chorus, aliases=("double",),
            layers_help="one per model in `with` (a name given twice gets `_<index>`)",
        ),
        Technique(
            "accompany", "input (vocals) in: a cleaned, loudness-matched layer per instrument, and the mix (report 5.2)",
            "audio", 1, None, "one or more instruments", _pick("strength", "layer_gain", *SAMPLING, *FOLLOWING, "octave", "register"),
            _run_accompany,
            live=True, layers_help="one per instrument (band-passed, loudness-matched to the input), then `mix`",
        ),
    ]
}
_ALIASES = {alias: t.name for t in TECHNIQUES.values() for alias in t.aliases}


def options_of(names: list[str]) -> list[Option]:
    """The options the techniques ``names`` take, each once, in the order they first appear,
    with the option table's default (a technique's own default is its entry's)."""
    seen: dict[str, Option] = {}
    for name in names:
        for option in TECHNIQUES[name].options:
            seen.setdefault(option.name, OPTIONS[option.name])
    return list(seen.values())


def technique(name: str) -> Technique:
    """The technique called ``name`` (or one of its aliases), with a clear error."""
    key = _ALIASES.get(name, name)
    if key not in TECHNIQUES:
        known = ", ".join(sorted([*TECHNIQUES, *_ALIASES]))
        raise OptionError(f"unknown technique {name!r}; choose one of {known}")
    return TECHNIQUES[key]


def run(name: str, request: Request) -> list[Layer]:
    """Check ``request`` against technique ``name`` and run it."""
    spec = technique(name)
    spec.check_models(len(request.models))
    if spec.input == "audio" and request.audio is None:
        raise OptionError(f"{spec.name} needs input audio")
    if spec.input == "none" and request.audio is not None:
        raise OptionError(f"{spec.name} takes no input audio")
    request.options = spec.resolve(request.options)
    return spec.run(request)
