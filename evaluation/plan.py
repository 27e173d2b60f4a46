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
    generations: int = 24  # 6 clips: violin flatness 1.8-5.2x real over draws (5-95 %); 24: 2.7-4.0x (decisions.md)
    seed: int = 0
    octave: int = 0  # sources moved this many octaves before the layers are grown (the ``octave`` option)
    register: str = "input"  # "instrument": each source window moved into the target's range (``register`` option)

    @property
    def moves_sources(self) -> bool:
        """Whether the sources are moved before layers grow: not the defaults' evidence."""
        return self.octave != 0 or self.register != "input"

    @property
    def moved_text(self) -> str:
        """How the sources were moved, for the report ("" when they were not)."""
        parts = ([f"moved by whole octaves into the target's range (register {self.register})"]
                 if self.register != "input" else [])
        if self.octave:
            parts.append(f"moved {self.octave:+d} octave" + (" more" if parts else ""))
        return ", ".join(parts)
