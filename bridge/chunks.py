"""Float32 audio <-> numbered OSC blob chunks, and the checked reassembly of an upload.

Samples are little-endian float32, interleaved ``(frames, channels)``; every chunk
holds whole frames.  Chunks may arrive in any order (they are placed by index);
a missing, out-of-range, mis-sized or contradicting chunk is reported, never guessed.
"""

from __future__ import annotations

import time

import numpy as np

from diffband.bridge.protocol import ProtocolError

SAMPLE = np.dtype("<f4")
#: Missing chunk indices named in one reply (``/diffband/missing`` blob and error text, well under 8 KB).
MISSING_LISTED = 200
INDEX = np.dtype("<i4")


class MissingChunks(ProtocolError):
    """An upload ended without all its chunks: ``count`` missing, the first ``indices``."""

    def __init__(self, job_id: str, count: int, expected: int, indices: list[int]):
        shown = ", ".join(map(str, indices)) + (" ..." if count > len(indices) else "")
        super().__init__("missing_chunks", f"{count} of {expected} chunks missing: {shown}", job_id)
        self.count = count
        self.indices = indices

    def indices_blob(self) -> bytes:
        """The listed indices as int32 little-endian (the ``/diffband/missing`` blob)."""
        return np.asarray(self.indices, dtype=INDEX).tobytes()


def to_chunks(audio: np.ndarray, samples_per_chunk: int) -> list[bytes]:
    """Split ``(frames,)`` or ``(frames, channels)`` audio into blobs of whole frames."""
    frames = np.ascontiguousarray(audio, dtype=SAMPLE)
    channels = 1 if frames.ndim == 1 else frames.shape[1]
    per_chunk = max(channels, samples_per_chunk - samples_per_chunk % channels)
    flat = frames.reshape(-1)
    return [flat[i : i + per_chunk].tobytes() for i in range(0, flat.size, per_chunk)] or [b""]


class Upload:
    """Chunks of one announced buffer: ``add`` them in any order, then ``assemble``."""

    def __init__(self, job_id: str, sample_rate: int, channels: int, frames: int, chunks: int):
        self.job_id = job_id
        self.sample_rate = sample_rate
        self.channels = channels
        self.frames = frames
        self.expected = chunks
        self.parts: dict[int, bytes] = {}
        self.bytes = 0
        self.out_of_order = 0
        self.touched = time.monotonic()

    @property
    def total_bytes(self) -> int:
        return self.frames * self.channels * SAMPLE.itemsize

    def add(self, index: int, blob: bytes) -> None:
        self.touched = time.monotonic()
        if not 0 <= index < self.expected:
            raise ProtocolError("bad_chunk", f"chunk index {index} outside 0..{self.expected - 1}", self.job_id)
        if len(blob) % (SAMPLE.itemsize * self.channels):
            raise ProtocolError(
                "bad_chunk", f"chunk {index} has {len(blob)} bytes, not whole {self.channels}-channel float32 frames", self.job_id
            )
        if index in self.parts:
            if self.parts[index] != blob:
                raise ProtocolError("bad_chunk", f"chunk {index} arrived twice with different data", self.job_id)
            return
        if self.bytes + len(blob) > self.total_bytes:
            raise ProtocolError("bad_chunk", f"chunks exceed the announced {self.frames} frames", self.job_id)
        if self.parts and index < max(self.parts):
            self.out_of_order += 1
        self.parts[index] = bytes(blob)
        self.bytes += len(blob)

    def missing(self) -> list[int]:
        return [i for i in range(self.expected) if i not in self.parts]

    def assemble(self) -> np.ndarray:
        """``(frames, channels)`` float32; raises ``missing_chunks`` / ``bad_chunk`` when incomplete."""
        missing = self.missing()
        if missing:
            raise MissingChunks(self.job_id, len(missing), self.expected, missing[:MISSING_LISTED])
        if self.bytes != self.total_bytes:
            raise ProtocolError(
                "bad_chunk", f"chunks hold {self.bytes} bytes, the announced audio needs {self.total_bytes}", self.job_id
            )
        data = b"".join(self.parts[i] for i in range(self.expected))
        return np.frombuffer(data, dtype=SAMPLE).reshape(self.frames, self.channels).astype(np.float32)
