"""Note-level melody preservation: basic-pitch transcribes both clips (its ONNX model
ships in the wheel), mir_eval scores onset + pitch agreement (50 ms onset tolerance,
half a semitone, offsets ignored).  Optional: ``pip install diffband[notes]`` plus
``pip install --no-deps basic-pitch`` (its declared dependencies pull TensorFlow,
which the ONNX path does not need)."""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf


def available() -> bool:
    try:
        _model()
        import mir_eval  # noqa: F401
    except Exception:
        return False
    return True


@lru_cache(maxsize=1)
def _model():
    previous = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)  # basic-pitch warns about every backend it lacks
    try:
        from basic_pitch import FilenameSuffix, build_icassp_2022_model_path
        from basic_pitch.inference import Model

        return Model(build_icassp_2022_model_path(FilenameSuffix.onnx))
    finally:
        logging.getLogger().setLevel(previous)


def transcribe(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Note ``(intervals (n, 2) seconds, pitches (n,) Hz)`` of a mono clip."""
    from basic_pitch.inference import predict

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.wav"
        sf.write(path, np.asarray(audio, dtype=np.float32), sample_rate)
        with contextlib.redirect_stdout(io.StringIO()):  # predict() prints a line per file
            _, _, events = predict(str(path), _model())
    if not events:
        return np.zeros((0, 2)), np.zeros(0)
    intervals = np.array([[start, end] for start, end, *_ in events], dtype=np.float64)
    pitches = 440.0 * 2.0 ** ((np.array([e[2] for e in events], dtype=np.float64) - 69) / 12)
    return intervals, pitches


def note_f1(source: np.ndarray, output: np.ndarray, sample_rate: int, onset_tolerance: float = 0.05,
            reference: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, float]:
    """Precision, recall and F1 of the output's notes against the source's (onset within
    ``onset_tolerance`` seconds + pitch within 50 cents, offsets ignored).  ``reference``: the
    source's transcription when the caller already has it."""
    return f1(reference if reference is not None else transcribe(source, sample_rate), transcribe(output, sample_rate),
              onset_tolerance)


def f1(reference: tuple[np.ndarray, np.ndarray], estimate: tuple[np.ndarray, np.ndarray],
       onset_tolerance: float = 0.05) -> dict[str, float]:
    """:func:`note_f1` of two note lists ``(intervals (n, 2) seconds, pitches (n,) Hz)``: a transcription
    or a score against a transcription."""
    import mir_eval

    (ref_intervals, ref_pitches), (est_intervals, est_pitches) = reference, estimate
    if len(ref_pitches) == 0:
        raise ValueError("no notes found in the source")
    if len(est_pitches) == 0:
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    precision, recall, f_measure, _ = mir_eval.transcription.precision_recall_f1_overlap(
        ref_intervals, ref_pitches, est_intervals, est_pitches, onset_tolerance=onset_tolerance, pitch_tolerance=50.0,
        offset_ratio=None,
    )
    return {"precision": float(precision), "recall": float(recall), "f1": float(f_measure)}
