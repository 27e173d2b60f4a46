"""The melody condition: a source's pitch content drawn on a model's mel grid (issue 13).

One extractor, used identically by ``data prepare`` (on each training window) and at
run time (on each input window): basic-pitch's ONNX model (ICASSP 2022, Apache-2.0),
run on ONNX Runtime, gives a contour posteriorgram — a multi-pitch salience map,
3 bins a semitone from 27.5 Hz, ~86 frames/s (chosen by measurement in
``docs/quality_groundwork.md``: torch-free, fastest, and the only candidate that
hears both lines of a mix, so chords and band recordings need no fallback).

The condition image has the model's shape ``(n_mels, frames)`` and says *which*
pitches sound and how loud, never the source's timbre:

- each contour bin's salience is put on the mel rows around its frequency, weighted by
  each row's filter response there (``placement="filter"``: a tone between two row
  centres lights both, in the ratio a real spectrum would, so the exact pitch survives
  rows three semitones wide below ~250 Hz), and, when the spec asks for harmonics, on
  the rows of its harmonics ``h`` with the fixed weight ``1/h**harmonic_decay`` (an
  instrument-independent template, never the source's harmonic amplitudes: a condition
  carrying those lets the model paint them as steady stripes); several bins on one row
  keep the largest.  Bundles made before 2026-11-27 used ``placement="row"``: each bin
  on the single row that responds most, which tells a model only which 3-9 semitone
  band a low note lies in;
- contour frames are max-pooled to the codec's frames (nearest frame centre);
- the whole frame is scaled by a smoothed loudness in ``[0, 1]`` (frame RMS in dB
  over ``loudness_floor_db .. 0``, moving average over ``smooth_frames`` frames).

Values lie in ``[0, 1]``: silence is 0 everywhere.  The *null* condition (training's
dropped condition and the unconditional half of classifier-free guidance) is the
constant image ``null_value`` (-1), which no real condition can be.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from diffband.engine.mel import MelCodec
from diffband.engine.options import FOLLOW_CHOICES
from diffband.engine.settings import setting

if TYPE_CHECKING:
    from diffband.engine.model import DiffusionModel

CONDITION_KINDS = ("basic-pitch",)
#: How a pitch reaches the mel rows: ``filter`` (each row by its filter's response, so adjacent rows
#: carry the position between them) or ``row`` (the one row responding most; bundles before 2026-11-27).
PLACEMENTS = ("filter", "row")
#: basic-pitch 0.4.0's ONNX model (``saved_models/icassp_2022/nmp.onnx``, 230 KB, Apache-2.0: LICENSE and
#: NOTICE beside it) ships inside the engine, so melody following needs no basic-pitch package (whose
#: declared dependencies pull TensorFlow).  Its SHA-256, checked against the package's file by a test:
BASIC_PITCH_MODEL = Path(__file__).resolve().parent / "pitch_model" / "nmp.onnx"
BASIC_PITCH_SHA256 = "2c3c1d144bfa61ad236e92e169c13535c880469a12a047d4e73451f2c059a0ec"
#: basic-pitch's constants (basic_pitch.constants, 0.4.0): rate, input window, hop, contour bins.
BP_SAMPLE_RATE = 22050
BP_WINDOW = 43844
BP_HOP = 256
BP_BINS = 264
BP_BINS_PER_SEMITONE = 3
#: The centre of contour bin 1, not bin 0: basic-pitch's ``ANNOTATIONS_BASE_FREQUENCY`` is "the CENTRAL
#: bin of the first semitone (i.e., the second bin if annotations_bins_per_semitone is 3)".
BP_LOWEST_HZ = 27.5
BP_LOWEST_HZ_BIN = 1
#: Contour salience at which a frame counts as voiced (basic-pitch's own frame threshold).
VOICED_SALIENCE = 0.3
#: Frames of overlap between basic-pitch's windows, as ``basic_pitch.inference.run_inference``.
BP_OVERLAP_FRAMES = 30
BP_INPUT = "serving_default_input_2:0"
BP_CONTOUR = "StatefulPartitionedCall:0"


class ConditionError(ValueError):
    """The condition cannot be computed or used (extractor missing, model without a condition channel)."""


@dataclass(frozen=True)
class ConditionSpec:
    """How a bundle's condition channel is made; stored in its metadata (``diffband.condition``).

    ``dropout`` records the share of training steps that saw the null condition (the model
    generates unconditionally, and guidance works, only when it is above 0)."""

    kind: str = "basic-pitch"
    harmonics: int = 3
    loudness_floor_db: float = -60.0
    smooth_frames: int = 3
    null_value: float = -1.0
    dropout: float = 0.15
    placement: str = "filter"
    #: Harmonic ``h`` is drawn at ``1 / h**harmonic_decay`` of the fundamental (1: the ``1/h`` template
    #: every spec before this field used, so stored specs without it read unchanged).
    harmonic_decay: float = 1.0
    #: Each contour bin is drawn this many bins (1/3 semitone each) above its centre.  1 in every spec
    #: written before 2026-11-29, which took 27.5 Hz for bin 0's centre where basic-pitch puts it at
    #: bin 1, so every pitch was drawn a third of a semitone sharp (models trained on those conditions
    #: expect it; stored specs without the field read as 1).
    draw_offset_bins: int = 0

    def __post_init__(self) -> None:
        if self.placement not in PLACEMENTS:
            raise ConditionError(f"unknown condition placement {self.placement!r}; this diffband knows {', '.join(PLACEMENTS)}")
        if self.kind not in CONDITION_KINDS:
            raise ConditionError(f"unknown condition {self.kind!r}; this diffband knows {', '.join(CONDITION_KINDS)}")
        if self.harmonics < 1 or self.smooth_frames < 1 or self.loudness_floor_db >= 0 or self.harmonic_decay < 0:
            raise ConditionError(f"bad condition settings: {self}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConditionError(f"condition dropout must be in [0, 1), got {self.dropout}")
        if 0.0 <= self.null_value <= 1.0:
            raise ConditionError(f"the null value {self.null_value} lies inside the condition's range [0, 1]")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ConditionSpec":
        """The spec stored in a bundle or dataset; one written before ``placement`` existed used ``row``,
        one written before ``draw_offset_bins`` existed drew every bin one bin sharp."""
        try:
            return cls(**{"placement": "row", "draw_offset_bins": 1, **data})
        except TypeError as error:
            raise ConditionError(f"bad condition metadata {data!r}: {error}") from None

    @classmethod
    def from_json(cls, text: str) -> "ConditionSpec":
        return cls.from_dict(json.loads(text))


# ------------------------------------------------------------------ basic-pitch on ONNX Runtime
def basic_pitch_model_path() -> Path:
    """The engine's copy of basic-pitch's ONNX model."""
    if not BASIC_PITCH_MODEL.is_file():
        raise ConditionError(f"melody following needs the pitch model {BASIC_PITCH_MODEL}, which is missing from this "
                             "install; reinstall diffband")
    return BASIC_PITCH_MODEL


#: Intra-op threads of the pitch model's session.
PITCH_THREADS = 2


@lru_cache(maxsize=1)
def _session():
    import onnxruntime as ort

    from diffband.engine.providers import session_options

    # The pitch runs alone, before the instruments start.  Measured on 2 cores: 0.122 s a 4.46 s window
    # on one thread, 0.063 s on two (bench/RESULTS.md, 2026-11-27).  A fixed count rather than "every
    # core": the thread count changes the salience's rounding, and the same input must give the same
    # condition on any machine (DIFFBAND_THREADS, when set, still wins).
    threads = setting("DIFFBAND_THREADS") or PITCH_THREADS
    return ort.InferenceSession(str(basic_pitch_model_path()), session_options(threads), providers=["CPUExecutionProvider"])


#: basic-pitch windows per model call: a model window (4.46 s) is 3, and a long input's peak memory stays
#: that of 4 (one 30 s read at once peaked 200 MB above the process).
CONTOUR_BATCH = 4
#: The last reads of :func:`contour`, by content: the register, the condition and the re-tuning of one
#: job often read the same input (one read of a 4.46 s window: 47 ms on 2 cores), and ``eval quality``
#: reads each source window once per cell.  Kept while they total at most ``CONTOUR_CACHE_BYTES`` (a
#: 4.46 s read is 0.4 MB, a minute 5.5 MB) and number at most ``CONTOUR_CACHE_SIZE``; the newest is
#: always kept.
CONTOUR_CACHE_SIZE = 32
CONTOUR_CACHE_BYTES = 64 << 20
_contour_cache: OrderedDict[bytes, tuple[np.ndarray, np.ndarray]] = OrderedDict()
_contour_lock = threading.Lock()


def contour(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(frame times s, salience (frames, 264))`` of mono 22.05 kHz audio, windowed as basic-pitch's
    own inference (2 s windows overlapping by 30 frames, half of the overlap dropped at each side).
    Read-only arrays: a recent read of the same samples is returned again."""
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    key = hashlib.blake2b(audio.tobytes(), digest_size=16).digest() + audio.size.to_bytes(8, "little")
    with _contour_lock:
        if key in _contour_cache:
            _contour_cache.move_to_end(key)
            return _contour_cache[key]
    read = _read_contour(audio)
    for array in read:
        array.setflags(write=False)
    with _contour_lock:
        _contour_cache[key] = read
        while len(_contour_cache) > 1 and (len(_contour_cache) > CONTOUR_CACHE_SIZE or _cached_bytes() > CONTOUR_CACHE_BYTES):
            _contour_cache.popitem(last=False)
    return read


def _cached_bytes() -> int:
    return sum(times.nbytes + salience.nbytes for times, salience in _contour_cache.values())


def contour_at(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`contour` of mono ``audio`` at ``sample_rate``, resampled to basic-pitch's rate first."""
    audio = np.asarray(audio, dtype=np.float32)
    if sample_rate != BP_SAMPLE_RATE:
        import soxr  # here, so that the spec and the null condition import with numpy alone (the GPU command's parent)

        audio = soxr.resample(audio, sample_rate, BP_SAMPLE_RATE)
    return contour(audio)


def _read_contour(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    overlap = BP_OVERLAP_FRAMES * BP_HOP
    hop = BP_WINDOW - overlap
    padded = np.concatenate([np.zeros(overlap // 2, np.float32), audio])
    starts = range(0, padded.size, hop)
    windows = np.zeros((len(starts), BP_WINDOW, 1), dtype=np.float32)
    for row, start in enumerate(starts):
        piece = padded[start : start + BP_WINDOW]
        windows[row, : piece.size, 0] = piece
    session = _session()
    salience = np.concatenate([session.run([BP_CONTOUR], {BP_INPUT: windows[i : i + CONTOUR_BATCH]})[0]
                               for i in range(0, len(windows), CONTOUR_BATCH)])
    half = BP_OVERLAP_FRAMES // 2
    kept = salience[:, half:-half, :]
    per_window = kept.shape[1]
    frames = int(audio.size * (BP_SAMPLE_RATE // BP_HOP) / BP_SAMPLE_RATE)  # as basic-pitch: 86 frames/s
    salience = kept.reshape(-1, BP_BINS)[:frames]
    index = np.arange(salience.shape[0])
    times = ((index // per_window) * hop + (index % per_window) * BP_HOP) / BP_SAMPLE_RATE
    return times, salience


def contour_frequencies() -> np.ndarray:
    """Centre frequency (Hz) of each of the 264 contour bins (bin 1 at 27.5 Hz, as basic-pitch)."""
    return BP_LOWEST_HZ * 2.0 ** ((np.arange(BP_BINS) - BP_LOWEST_HZ_BIN) / (12 * BP_BINS_PER_SEMITONE))


def drawn_frequencies(spec: "ConditionSpec") -> np.ndarray:
    """The frequency (Hz) at which ``spec`` draws each contour bin on the mel rows."""
    return contour_frequencies() * 2.0 ** (spec.draw_offset_bins / (12 * BP_BINS_PER_SEMITONE))


# ------------------------------------------------------------------ the mel-grid condition
def null_conditions(spec: ConditionSpec, image_shape: tuple[int, int], count: int) -> np.ndarray:
    """``count`` null conditions ``(count, 1, n_mels, frames)``: the constant ``spec.null_value``
    (needs no extractor, so follow off runs without basic-pitch)."""
    return np.full((count, 1, *image_shape), spec.null_value, dtype=np.float32)


def filter_response(codec: MelCodec, frequencies: np.ndarray) -> np.ndarray:
    """``(n_mels, len(frequencies))``: each mel row's filter response at each frequency (the codec's
    filters, interpolated between FFT bins)."""
    fft_hz = np.arange(codec.mel_basis.shape[1]) * codec.sample_rate / codec.n_fft
    return np.stack([np.interp(frequencies, fft_hz, row, left=0.0, right=0.0) for row in codec.mel_basis])


def mel_rows(codec: MelCodec, frequencies: np.ndarray) -> np.ndarray:
    """The mel row whose filter responds most at each frequency; -1 where no filter reaches."""
    response = filter_response(codec, frequencies)
    rows = np.argmax(response, axis=0)
    return np.where(response.max(axis=0) > 0, rows, -1)


def placement_weights(codec: MelCodec, spec: ConditionSpec) -> np.ndarray:
    """``(n_mels, 264)``: how much of each contour bin's salience each mel row shows (harmonic ``h``
    with weight ``1/h**harmonic_decay``; the largest where several reach one row)."""
    base = drawn_frequencies(spec)
    weights = np.zeros((codec.n_mels, BP_BINS), dtype=np.float32)
    for h in range(1, spec.harmonics + 1):
        if spec.placement == "filter":  # every row peaking at 1, so a tone on a row's centre reads as loud as ever
            reach = filter_response(codec, base * h) / np.maximum(codec.mel_basis.max(axis=1, keepdims=True), 1e-12)
        else:
            rows = mel_rows(codec, base * h)
            reach = np.zeros_like(weights)
            reach[rows[rows >= 0], np.flatnonzero(rows >= 0)] = 1.0
        weights = np.maximum(weights, reach / h**spec.harmonic_decay)
    return weights


class PitchCondition:
    """The condition extractor for one codec and spec: window audio -> condition image."""

    def __init__(self, codec: MelCodec, spec: ConditionSpec):
        basic_pitch_model_path()  # a broken install learns so before any audio is read
        self.codec, self.spec = codec, spec
        self._weights = placement_weights(codec, spec)

    def loudness(self, audio: np.ndarray) -> np.ndarray:
        """Smoothed loudness in [0, 1] at each codec frame (frames centred on ``k * hop``)."""
        codec = self.codec
        half = codec.n_fft // 2
        padded = np.zeros(codec.n_fft + codec.hop_length * (codec.frames - 1), dtype=np.float64)
        usable = audio[: padded.size - half]
        padded[half : half + usable.size] = usable
        framed = np.lib.stride_tricks.sliding_window_view(padded, codec.n_fft)[:: codec.hop_length][: codec.frames]
        db = 10 * np.log10(np.mean(framed**2, axis=1) + 1e-12)
        kernel = np.ones(self.spec.smooth_frames) / self.spec.smooth_frames
        pad = self.spec.smooth_frames // 2
        db = np.convolve(np.pad(db, (pad, self.spec.smooth_frames - 1 - pad), mode="edge"), kernel, mode="valid")
        return np.clip(1.0 - db / self.spec.loudness_floor_db, 0.0, 1.0)

    def __call__(self, window: np.ndarray) -> np.ndarray:
        """One window of mono audio at the codec's rate (``window_samples`` long) -> ``(n_mels, frames)``."""
        codec = self.codec
        window = np.asarray(window, dtype=np.float32)
        if window.shape != (codec.window_samples,):
            raise ValueError(f"a condition window is {codec.window_samples} samples, got shape {window.shape}")
        times, salience = contour_at(window, codec.sample_rate)
        frame = np.rint(times * codec.sample_rate / codec.hop_length).astype(int)
        inside = frame < codec.frames
        pooled = np.zeros((codec.frames, BP_BINS), dtype=np.float32)
        np.maximum.at(pooled, frame[inside], salience[inside])
        image = np.max(self._weights[:, :, None] * pooled.T[None], axis=1)
        return np.clip(image * self.loudness(window)[None, :], 0.0, 1.0).astype(np.float32)

    def images(self, windows: np.ndarray) -> np.ndarray:
        """Windows ``(k, window_samples)`` -> conditions ``(k, 1, n_mels, frames)``."""
        return np.stack([self(w) for w in windows])[:, None]


@lru_cache(maxsize=8)
def extractor(codec: MelCodec, spec: ConditionSpec) -> PitchCondition:
    return PitchCondition(codec, spec)


def window_audio(mono: np.ndarray, starts: Sequence[int], window: int) -> np.ndarray:
    """The windows ``(k, window)`` that ``engine.windowing.split`` cut at ``starts`` (``windows_at``)."""
    from diffband.engine.windowing import windows_at  # here: importing this module needs no soxr (export.gpu)

    return windows_at(mono, list(starts), window)


# ------------------------------------------------------------------ follow: which models, which condition
def follows(follow: str, models: Sequence["DiffusionModel"]) -> bool:
    """Whether ``models`` follow the notes: ``auto`` when every one has a condition channel, ``notes`` or
    ``loose`` (refused with a clear error when one has none; ``engine.tuning`` tells them apart) or
    ``off`` (the report's unconditional method)."""
    if follow not in FOLLOW_CHOICES:
        raise ConditionError(f"follow must be one of {', '.join(FOLLOW_CHOICES)}, got {follow!r}")
    if follow == "off" or not models:
        return False
    lacking = [m.name for m in models if m.info.condition is None]
    if follow == "auto":
        return not lacking
    if lacking:
        raise ConditionError(f"model {', '.join(lacking)} has no condition channel; use follow off")
    return True


def conditions_for(model: "DiffusionModel", windows: np.ndarray) -> np.ndarray:
    """``model``'s condition images ``(k, 1, n_mels, frames)`` of windows at its codec's rate."""
    if model.info.condition is None:
        raise ConditionError(f"model {model.name} has no condition channel; use follow off")
    return extractor(model.info.codec, model.info.condition).images(windows)


def follow_conditions(
    follow: str, models: Sequence["DiffusionModel"], mono: np.ndarray, starts: Sequence[int]
) -> list[np.ndarray] | None:
    """Each model's conditions ``(k, 1, n_mels, frames)`` of the windows of ``mono`` cut at ``starts``
    (models sharing a codec and spec share one extraction), or None when they do not follow."""
    if not follows(follow, models):
        return None
    computed: dict[tuple[MelCodec, ConditionSpec], np.ndarray] = {}
    out = []
    for model in models:
        key = (model.info.codec, model.info.condition)
        if key not in computed:
            computed[key] = conditions_for(model, window_audio(mono, starts, model.info.codec.window_samples))
        out.append(computed[key])
    return out
