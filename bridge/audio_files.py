"""Reading and writing the audio files the commands take and make."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """``(audio, sample rate)`` of a file, float32; a clear error for a missing or unreadable one."""
    import soundfile as sf

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"not found: {path}")
    if not path.is_file():
        raise ValueError(f"not a file: {path}")
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=False)
    except Exception as error:
        raise ValueError(f"cannot read audio file {path}: {error}") from None
    if audio.shape[0] == 0:
        raise ValueError(f"no audio in {path}")
    return audio, rate


def write_audio(path: Path, audio: np.ndarray, rate: int) -> Path:
    """32-bit float WAV at ``path`` (folders created)."""
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio, rate, subtype="FLOAT")
    return path
