"""What one ``diffband eval quality`` run measures: pairs and the sweep over them.  Its own module,
free of audio libraries, so the CLI takes its defaults from here without loading librosa."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class QualityPlan:
    """What one run measures; its defaults are the CLI's."""

    pairs: list[tuple[str, str]]
    strengths: list[float] = field(default_factory=lambda: [0.6, 0.8, 0.9, 1.0])
    guidances: list[float] = field(default_factory=lambda: [1.0, 2.0, 3.0])
    steps: int = 20
    clips: int = 6
    generations: int = 6
    seed: int = 0
    octave: int = 0  # sources moved this many octaves before the layers are grown (the ``octave`` option)
