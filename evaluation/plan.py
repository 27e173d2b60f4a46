"""What one ``diffband eval quality`` run measures: pairs and the sweep over them.  Its own module,
free of audio libraries, so the CLI takes its defaults from here without loading librosa."""

from __future__ import annotations

from dataclasses import dataclass, field

from diffband.engine.defaults import DEFAULT_REGISTER


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
    register: str = DEFAULT_REGISTER  # the ``register`` option; "instrument" moves each source into the target's range

    @property
    def moves_sources(self) -> bool:
        """Whether the layers sound moved from their sources (pitch is then measured against the
        source as moved): ``fit`` and ``input`` keep them where the source plays."""
        return self.octave != 0 or self.register == "instrument"

    @property
    def is_defaults_evidence(self) -> bool:
        """Whether this run measures what the CLI does by default (its page may set the defaults)."""
        return self.octave == 0 and self.register == DEFAULT_REGISTER

    @property
    def moved_text(self) -> str:
        """How the sources were moved, for the report ("" when they were not)."""
        parts = ([f"moved by whole octaves into the target's range (register {self.register})"]
                 if self.register == "instrument" else [])
        if self.octave:
            parts.append(f"moved {self.octave:+d} octave" + (" more" if parts else ""))
        return ", ".join(parts)
