"""A file-mode job's input: the header is checked against the limits before any sample is decoded.

A header alone can claim any size (a 4 KB sparse WAV can announce 64 channels at
768 kHz), so channels, rate and the samples of the requested region are bounded first.
"""

from __future__ import annotations

from typing import BinaryIO

import numpy as np
import soundfile as sf

from diffband.bridge.protocol import ProtocolError

#: Most channels a file-mode input may have (7.1 surround is 8).
MAX_FILE_CHANNELS = 8
#: Highest sample rate a file-mode input may have (the buffer-mode limit too).
MAX_FILE_RATE = 384000
#: Samples (frames x channels) a job may read: the server's max_seconds of audio at this rate ...
BUDGET_RATE = 96000
#: ... with this many channels.
BUDGET_CHANNELS = 2


def sample_budget(max_seconds: float) -> int:
    """Frames x channels one file-mode job may read."""
    return int(max_seconds * BUDGET_RATE * BUDGET_CHANNELS)


def read_region(handle: BinaryIO, start: float, duration: float, max_seconds: float, job_id: str) -> tuple[np.ndarray, int]:
    """``(frames, channels)`` float32 samples from ``start`` s for ``duration`` s (0: to the end), and the rate.

    Raises ProtocolError ``too_large`` from the header alone when the file has too many
    channels, too high a rate, or the region is longer than ``max_seconds`` or over
    the sample budget.
    """
    with sf.SoundFile(handle) as sound:
        rate, channels = sound.samplerate, sound.channels
        if channels > MAX_FILE_CHANNELS:
            raise ProtocolError("too_large", f"{channels} channels; file mode takes at most {MAX_FILE_CHANNELS}", job_id)
        if rate > MAX_FILE_RATE:
            raise ProtocolError("too_large", f"{rate} Hz; file mode takes at most {MAX_FILE_RATE} Hz", job_id)
        first = int(start * rate)
        frames = max(sound.frames - first, 0)
        if duration:
            frames = min(frames, int(duration * rate))
        if frames / rate > max_seconds:
            raise ProtocolError("too_large", f"input is longer than the server's {max_seconds:.0f} s limit", job_id)
        if frames * channels > sample_budget(max_seconds):
            raise ProtocolError(
                "too_large", f"{frames} frames x {channels} channels is over the server's {sample_budget(max_seconds)} samples",
                job_id,
            )
        if frames == 0:
            return np.zeros((0, channels), dtype=np.float32), rate
        sound.seek(first)
        return sound.read(frames, dtype="float32", always_2d=True), rate
