"""Any audio folder -> a dataset of mel images on disk (memory-mapped ``.npy``) + manifest.

Files of any format librosa/soundfile read, any rate and channel count, are made
mono at the codec's rate and cut into consecutive windows of ``codec.window_samples``
(the report's 5-second-class chunking).  Windows quieter than ``silence_db`` are
skipped.  Unreadable files are reported in the manifest and skipped.

With a condition spec (``engine.condition``), each window's melody condition image is
stored alongside (``conditions.f32``, same order and shape), computed from the same
window by the extractor the runtime uses.
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import librosa
import numpy as np
from tqdm import tqdm

from diffband.engine.condition import ConditionSpec, extractor
from diffband.engine.mel import MelCodec

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff", ".m4a", ".opus")
IMAGES_FILE = "images.f32"  # raw float32, C order; shape in the manifest
CONDITIONS_FILE = "conditions.f32"  # the same, one condition image per mel image
MANIFEST_FILE = "manifest.json"


@dataclass
class PrepareReport:
    files_read: int = 0
    windows: int = 0
    silent_windows_skipped: int = 0
    seconds_read: float = 0.0
    failed: list[dict[str, str]] = field(default_factory=list)


def find_audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)


def load_mono(path: Path, sample_rate: int) -> np.ndarray:
    """Any audio file -> mono float32 at ``sample_rate`` (soxr resampling)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # audioread fallback warnings; failures still raise
        audio, _ = librosa.load(path, sr=sample_rate, mono=True, res_type="soxr_hq")
    if audio.size == 0:
        raise ValueError("file holds no audio")
    if not np.all(np.isfinite(audio)):
        raise ValueError("file holds NaN or Inf samples")
    return audio.astype(np.float32)


def windows_of(audio: np.ndarray, codec: MelCodec, silence_db: float) -> tuple[list[np.ndarray], int]:
    """Consecutive full windows of ``audio`` and the count of silent ones skipped."""
    size = codec.window_samples
    kept, silent = [], 0
    for start in range(0, audio.size - size + 1, size):
        window = audio[start : start + size]
        rms_db = 10 * np.log10(np.mean(window.astype(np.float64) ** 2) + 1e-20)
        if rms_db < silence_db:
            silent += 1
        else:
            kept.append(window)
    return kept, silent


def _encode_files(
    files: list[Path], audio_dir: Path, codec: MelCodec, silence_db: float, report: PrepareReport, sink,
    condition_sink=None, condition: ConditionSpec | None = None,
) -> None:
    """Append the image of every non-silent window of ``files`` to ``sink`` (and its condition
    image to ``condition_sink``)."""
    for path in tqdm(files, desc="prepare", unit="file"):
        try:
            audio = load_mono(path, codec.sample_rate)
        except Exception as error:  # any unreadable file is reported, never fatal
            message = f"{type(error).__name__}: {error}".strip()
            log.warning("skipping %s: %s", path, message)
            report.failed.append({"file": str(path.relative_to(audio_dir)), "error": message[:300]})
            continue
        report.files_read += 1
        report.seconds_read += audio.size / codec.sample_rate
        kept, silent = windows_of(audio, codec, silence_db)
        report.silent_windows_skipped += silent
        for window in kept:
            sink.write(codec.encode(window).astype(np.float32).tobytes())
            if condition is not None:
                condition_sink.write(extractor(codec, condition)(window).tobytes())
        report.windows += len(kept)


def prepare(
    audio_dir: Path,
    out_dir: Path,
    codec: MelCodec,
    instrument: str | None = None,
    silence_db: float = -50.0,
    condition: ConditionSpec | None = None,
) -> PrepareReport:
    """Encode every window of every audio file under ``audio_dir`` into ``out_dir`` (with
    each window's condition image when ``condition`` is given)."""
    audio_dir, out_dir = Path(audio_dir), Path(out_dir)
    if not audio_dir.is_dir():
        raise FileNotFoundError(f"audio folder not found: {audio_dir}")
    files = find_audio_files(audio_dir)
    if not files:
        raise ValueError(f"no audio files ({', '.join(AUDIO_SUFFIXES)}) under {audio_dir}")
    out_dir.mkdir(parents=True, exist_ok=True)
    report = PrepareReport()
    images_path = out_dir / IMAGES_FILE
    conditions_path = out_dir / CONDITIONS_FILE
    if condition is not None:
        extractor(codec, condition)  # a missing extractor fails before any file is read
    with open(images_path, "wb") as sink, open(conditions_path, "wb") as condition_sink:  # streamed: flat memory
        _encode_files(files, audio_dir, codec, silence_db, report, sink, condition_sink, condition)
    if condition is None:
        conditions_path.unlink()
    if not report.windows:
        images_path.unlink()
        conditions_path.unlink(missing_ok=True)
        raise ValueError(
            f"no usable windows of {codec.window_seconds:.2f} s in {audio_dir} "
            f"({report.files_read} files read, {len(report.failed)} failed)"
        )
    manifest = {
        "instrument": instrument or audio_dir.name,
        "source": str(audio_dir),
        "images": IMAGES_FILE,
        "count": report.windows,
        "image_shape": list(codec.image_shape),
        "window_seconds": round(codec.window_seconds, 4),
        "silence_db": silence_db,
        "files_read": report.files_read,
        "seconds_read": round(report.seconds_read, 2),
        "silent_windows_skipped": report.silent_windows_skipped,
        "failed": report.failed,
        "codec": codec.to_dict(),
        **({"conditions": CONDITIONS_FILE, "condition": condition.to_dict()} if condition else {}),
    }
    (out_dir / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1))
    return report


def load_dataset(dataset_dir: Path) -> tuple[np.ndarray, dict, MelCodec]:
    """Memory-map a prepared dataset: (images (N, n_mels, frames), manifest, codec)."""
    dataset_dir = Path(dataset_dir)
    manifest_path = dataset_dir / MANIFEST_FILE
    if not manifest_path.exists():
        raise FileNotFoundError(
            f"{dataset_dir} is not a prepared dataset (no {MANIFEST_FILE}); run 'diffband data prepare'"
        )
    manifest = json.loads(manifest_path.read_text())
    shape = (manifest["count"], *manifest["image_shape"])
    images = np.memmap(dataset_dir / manifest["images"], dtype=np.float32, mode="r", shape=shape)
    return images, manifest, MelCodec.from_dict(manifest["codec"])


def load_conditions(dataset_dir: Path, manifest: dict) -> tuple[np.ndarray, ConditionSpec] | None:
    """Memory-map a dataset's condition images ``(N, n_mels, frames)`` and their spec; None if it has none."""
    if "conditions" not in manifest:
        return None
    shape = (manifest["count"], *manifest["image_shape"])
    images = np.memmap(Path(dataset_dir) / manifest["conditions"], dtype=np.float32, mode="r", shape=shape)
    return images, ConditionSpec.from_dict(manifest["condition"])
