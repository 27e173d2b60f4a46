"""Technique options: one definition of each knob's type, default, range and help.

The technique registry (``engine.techniques``) names which options each technique
takes; the CLI, the OSC protocol, live mode and the DAW clients read them from there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from diffband.engine.defaults import DEFAULT_GUIDANCE, DEFAULT_REGISTER, DEFAULT_STEPS, DEFAULT_STRENGTH
from diffband.engine.samplers import SAMPLERS


#: ``follow``: auto (notes when every model has a condition channel), notes, loose (the condition without
#: re-tuning, engine.tuning), off (engine.condition).
FOLLOW_CHOICES = ("auto", "notes", "loose", "off")
#: ``octave``: the widest shift either way (engine.transpose).
MAX_OCTAVES = 2
#: ``register``: grow below-range inputs in range and bring them back (fit), keep the input's, or move it into each
#: instrument's range (engine.register).
REGISTERS = ("input", "instrument", "fit")


class OptionError(ValueError):
    """A value outside an option's type or range."""


def describe(value: Any) -> str:
    """A short, safe description of a received value for an error message (never echoes a blob)."""
    if isinstance(value, (bytes, bytearray)):
        return f"a {len(value)}-byte blob"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def as_integer(value: Any) -> int | None:
    """``value`` as an int when it is one (not a bool), or a finite float with an integral value
    (Pure Data and Max send every number as a float); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def plain_number(value: float) -> str:
    """``2147483647``, ``-60``, ``0.5``: a bound as the docs write it."""
    return str(int(value)) if float(value).is_integer() else str(value)


@dataclass(frozen=True)
class Option:
    """One knob: ``kind`` is int, float or str; numbers have an inclusive range, strings may have choices."""

    name: str
    kind: type
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()

    @property
    def range_text(self) -> str:
        """``0-1``, ``ddim, ddpm`` or ``any``, as the docs show it."""
        if self.choices:
            return ", ".join(self.choices)
        if self.low is not None and self.high is not None:
            return f"{plain_number(self.low)}-{plain_number(self.high)}"
        return "any"

    def with_default(self, default: Any) -> "Option":
        return replace(self, default=default)

    def check(self, value: Any) -> Any:
        """``value`` converted to ``kind`` and checked; raises ``OptionError`` with a readable reason.

        Ints are accepted for floats, and integral floats for ints (Max and Pure Data send floats)."""
        if isinstance(value, bool):
            raise OptionError(f"{self.name} must be {self.kind.__name__}, got a boolean")
        if self.kind is float and isinstance(value, (int, float)):
            value = float(value)
            if not math.isfinite(value):
                raise OptionError(f"{self.name} must be a finite number, got {value}")
        elif self.kind is int and as_integer(value) is not None:
            value = as_integer(value)
        elif self.kind is str and isinstance(value, str):
            if self.choices and value not in self.choices:
                raise OptionError(f"{self.name} must be one of {', '.join(self.choices)}, got {value!r}")
            return value
        else:
            raise OptionError(f"{self.name} must be {self.kind.__name__}, got {describe(value)}")
        if self.low is not None and self.high is not None and not self.low <= value <= self.high:
            raise OptionError(
                f"{self.name} must be between {plain_number(self.low)} and {plain_number(self.high)}, got {value}"
            )
        return value


def _options(*items: Option) -> dict[str, Option]:
    return {item.name: item for item in items}


#: Every technique option, once.  Defaults of strength and steps come from the measured sweep (engine.defaults).
OPTIONS: dict[str, Option] = _options(
    Option("strength", float, DEFAULT_STRENGTH, "t/T the input is diffused to: 0 keeps it, 1 ignores it", 0.0, 1.0),
    Option("steps", int, DEFAULT_STEPS, "sampler steps over the whole schedule", 1, 1000),
    Option("seed", int, 0, "random seed; the same seed gives the same layers", 0, 2**31 - 1),
    Option("sampler", str, "ddim", "ddim (deterministic at eta 0) or ddpm (ancestral)", choices=SAMPLERS),
    Option("eta", float, 0.0, "DDIM eta (0: deterministic)", 0.0, 1.0),
    Option("eps_scale", float, 1.0, "epsilon scaling: the model's noise estimate is divided by this at every step "
           "(above 1 counters a small model's drift toward noisy images)", 1.0, 1.2),
    Option("layer_gain", float, -3.0, "layer loudness relative to the input, dB", -60.0, 12.0),
    Option("split", float, 0.2, "share of the steps the first model does alone before the layers branch", 0.0, 1.0),
    Option("n", int, 1, "clips per model (generate) or pairs (double without input)", 1, 64),
    Option("follow", str, "auto", "follow the input's notes with the models' condition channel: notes (and re-tune "
           "a layer's passages that stray 40 cents or more from them), loose (the condition alone: the model's own "
           "intonation), off (the report's method) or auto (notes when every model has one)", choices=FOLLOW_CHOICES),
    Option("guidance", float, DEFAULT_GUIDANCE, "classifier-free guidance scale of follow: 0 ignores the notes, 1 plain "
           "conditional, above 1 stronger", 0.0, 10.0),
    Option("octave", int, 0, "grow the layers this many octaves above (or below, negative) the input, which is "
           "pitch-shifted first: a model follows notes best in its instrument's own range (a violin over a guitar "
           "part: 1)", -MAX_OCTAVES, MAX_OCTAVES),
    Option("register", str, DEFAULT_REGISTER, "fit keeps the input's notes but grows a layer whose input lies below the "
           "instrument's range up in that range, then brings it back down, as a sampler would; input grows every layer "
           "where the input plays; instrument moves it by the fewest whole octaves into the middle half of each model's "
           "range (models that record one), as a player doubling a part would; octave adds to each",
           choices=REGISTERS),
)
