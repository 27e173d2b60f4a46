"""An input as the models hear it: rests filled, room tone gated out, at the level they were trained at.

Three things a take has that the training renders had not, each of which turns a layer to noise:
rests of silence or room tone inside a window (``engine.rests``), room tone under the notes
(``engine.room_tone``), and a level far from the training level.  The mel codec keeps absolute
level (a fixed dB reference, ``engine.mel``), and every training piece was peak-normalised to
``TRAINING_PEAK_DBFS`` (``export.data_render``), so a take recorded with headroom is a dimmer image than any the models learned: on held-out windows
peaking at -24 dBFS, violin->guitar kept 0.54 of the source's voiced frames within 50 cents against
0.79 at -1 dBFS, and at -36 dBFS every pair lost 0.09-0.37 of them and grew layers 4-13x flatter
(``docs/decisions.md``).  So a technique grows its input with its peak at ``TRAINING_PEAK_DBFS``
and brings each layer back by the same gain: a layer still follows the level of the take.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffband.engine.rests import Rests, fill_rests, find_rests
from diffband.engine.room_tone import without_room_tone

#: Every training piece's sample peak (dBFS); the level a technique grows its input at.
TRAINING_PEAK_DBFS = -1.0


@dataclass(frozen=True)
class Heard:
    """``audio`` (model-rate mono) with its ``rests`` filled and scaled by ``gain`` to the training level."""

    audio: np.ndarray
    rests: Rests
    gain: float

    @property
    def nothing_to_grow(self) -> bool:
        """Whether the input is all rest, so every layer is silence and no model need run."""
        return self.rests.everywhere

    def restore(self, layer: np.ndarray) -> np.ndarray:
        """A layer grown from :attr:`audio` (mono, same length and rate) at the input's own level,
        silent in its rests."""
        return self.rests.silence((np.asarray(layer, np.float32) / np.float32(self.gain)).astype(np.float32))


def training_gain(mono: np.ndarray) -> float:
    """The gain that brings ``mono``'s sample peak to ``TRAINING_PEAK_DBFS``; 1 for silence."""
    peak = float(np.max(np.abs(mono))) if mono.size else 0.0
    return 10 ** (TRAINING_PEAK_DBFS / 20) / peak if peak > 0 else 1.0


def hear(mono: np.ndarray, sample_rate: int) -> Heard:
    """``mono`` (model-rate) as the models hear it: rests found (on the take's own level, as recorded),
    filled, room tone gated out where the take has a noise floor, and the whole brought to the
    training level."""
    rests = find_rests(mono, sample_rate)
    filled = fill_rests(mono, rests)
    if rests.floor is not None:  # room tone under the notes too (engine.room_tone)
        filled = without_room_tone(filled, rests.floor)
    gain = training_gain(filled)
    return Heard((filled * np.float32(gain)).astype(np.float32), rests, gain)
