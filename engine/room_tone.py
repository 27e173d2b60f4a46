"""Room tone under the notes: taken out of a take before a model hears it.

A take's noise floor (``engine.rests.track_noise_floor``) also lies under every note, where no rest
can silence it; the models, trained on clean renders, grow it into the layer: on held-out windows
with pink room tone 35 dB under the peak, the layers' notes came out 1.2-1.7x flatter than from
the clean take (``python -m bench.real_takes``).  So, where a take has a noise floor, a stationary
spectral gate (as ``noisereduce``'s stationary mode, which the engine cannot import: it imports
torch where torch is installed) keeps each STFT bin only where it stands ``GATE_STD`` standard
deviations above that bin's level in the floor's stretch, with the mask smoothed over
``SMOOTH_BINS`` bins and ``SMOOTH_FRAMES`` frames so no lone bin flickers.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter

from diffband.engine.rests import HOP, FloorTrack, NoiseFloor
from diffband.engine.stft import istft, stft

#: STFT of the gate: frame and hop (samples, Hann window); its frames are the rest finder's level frames.
GATE_FRAME, GATE_HOP = 2048, HOP
#: A bin is kept where its level (dB) is this many standard deviations over the floor's mean there.
GATE_STD = 1.5
#: The keep-mask is averaged over this many bins (about 54 Hz at 22.05 kHz) and frames (about 70 ms).
SMOOTH_BINS, SMOOTH_FRAMES = 5, 3
#: A take is gated this many frames at a time (12 s at 22.05 kHz), each chunk read with this many more either
#: side: an output sample hears frames 2 either side, each smoothed with 1 more, each reading 2 hops around it.
CHUNK_FRAMES, MARGIN_FRAMES = 512, 8


def bin_thresholds(floor: NoiseFloor) -> np.ndarray:
    """Per STFT bin, the level (dB) a bin must exceed to stand out of ``floor``."""
    noise_db = 20 * np.log10(np.abs(stft(floor.stretch, GATE_FRAME, GATE_HOP)) + 1e-12)
    return noise_db.mean(axis=1) + GATE_STD * noise_db.std(axis=1)


def without_room_tone(mono: np.ndarray, floor: NoiseFloor | FloorTrack) -> np.ndarray:
    """``mono`` with the bins that do not stand out of ``floor`` (read from the same take; a
    :class:`FloorTrack`'s floor where each frame lies) gated out.  A long take is gated
    ``CHUNK_FRAMES`` frames at a time, each read with ``MARGIN_FRAMES`` more either side (more than
    a frame, its smoothing and the overlap reach), so the whole take's STFT is never held at once."""
    floors = (floor,) if isinstance(floor, NoiseFloor) else floor.floors
    thresholds = {id(f): bin_thresholds(f)[:, None] for f in floors}  # once per distinct floor (spans share them)
    frames = mono.size // GATE_HOP + 1  # the take's centred STFT frames
    blocks = np.zeros(frames, int) if isinstance(floor, NoiseFloor) else floor.blocks_of_frames(frames)
    out = np.empty(mono.size, np.float32)
    step, margin = CHUNK_FRAMES * GATE_HOP, MARGIN_FRAMES * GATE_HOP
    for begin in range(0, mono.size, step):
        end = min(begin + step, mono.size)
        low, high = max(begin - margin, 0), min(end + margin, mono.size)  # low: a whole number of hops
        chunk_frames = (high - low) // GATE_HOP + 1
        gated = _gated(mono[low:high], floors, thresholds, blocks[low // GATE_HOP : low // GATE_HOP + chunk_frames])
        out[begin:end] = gated[begin - low : end - low]
    return out


def _gated(chunk: np.ndarray, floors: tuple[NoiseFloor, ...], thresholds: dict[int, np.ndarray],
           blocks: np.ndarray) -> np.ndarray:
    """``chunk`` gated, each of its STFT frames by the floor ``blocks`` names for it."""
    spectrum = stft(chunk, GATE_FRAME, GATE_HOP)
    level = 20 * np.log10(np.abs(spectrum) + 1e-12)
    used = np.unique(blocks)
    if used.size == 1:
        keep = (level > thresholds[id(floors[used[0]])]).astype(np.float32)
    else:  # the gate's frames are the level frames (hop HOP, centred), so each takes its span's floor
        keep = np.empty(spectrum.shape, np.float32)
        for k in used:
            span = blocks == k
            keep[:, span] = level[:, span] > thresholds[id(floors[k])]
    keep = uniform_filter(keep, size=(SMOOTH_BINS, SMOOTH_FRAMES), mode="nearest")
    return istft(spectrum * keep, GATE_FRAME, GATE_HOP, chunk.size)
