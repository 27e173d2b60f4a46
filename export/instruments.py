"""Instruments the offline data recipe can render: General MIDI programs and pitch ranges."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Instrument:
    """A rendered instrument: GM programs (one is drawn per piece) and a MIDI pitch range."""

    name: str
    programs: tuple[int, ...]
    low: int
    high: int


INSTRUMENTS: dict[str, Instrument] = {
    "guitar": Instrument("guitar", programs=(24, 25), low=40, high=76),  # E2..E5
    "violin": Instrument("violin", programs=(40,), low=55, high=93),  # G3..A6
    "voice": Instrument("voice", programs=(52, 53), low=48, high=74),  # C3..D5, choir aahs / voice oohs
    "flute": Instrument("flute", programs=(73,), low=60, high=93),  # C4..A6
    # Rendered as further classes for the learned timbre embedding (evaluation/timbre_cnn.py);
    # cello and clarinet share registers with the shipped instruments, so only timbre tells them apart.
    "cello": Instrument("cello", programs=(42,), low=36, high=76),  # C2..E5
    "piano": Instrument("piano", programs=(0, 1), low=36, high=96),  # C2..C7
    "trumpet": Instrument("trumpet", programs=(56,), low=52, high=84),  # E3..C6
    "clarinet": Instrument("clarinet", programs=(71,), low=50, high=91),  # D3..G6
}

#: Soundfonts training renders draw from, per piece (those installed).
SOUNDFONTS: tuple[Path, ...] = (
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    Path("/usr/share/sounds/sf2/TimGM6mb.sf2"),
    Path("/usr/share/sounds/sf2/sf_GMbank.sf2"),  # Debian csound-soundfont
)
#: Soundfonts that no training render uses: evaluation hears timbres the models never saw.
EVALUATION_SOUNDFONTS: tuple[Path, ...] = (
    Path("/usr/share/sounds/sf3/MuseScore_General_Lite.sf3"),  # Debian musescore-general-soundfont-small
)


def instrument(name: str) -> Instrument:
    try:
        return INSTRUMENTS[name]
    except KeyError:
        raise ValueError(f"unknown instrument {name!r}; choose from {sorted(INSTRUMENTS)}") from None
