"""Model bundle: one self-describing ``.onnx`` file per instrument.

Its ``metadata_props`` carry what the runtime needs (all values are strings):

=========================  ===================================================
``diffband.format``        ``"diffband-bundle"``
``diffband.format_version``  integer: ``2`` when the vocoder names a network file beside
                           the bundle (``magnitude-net``), else ``1``, so a diffband
                           that cannot run the bundle says "upgrade" rather than "corrupt"
``diffband.instrument``    instrument name, e.g. ``"violin"``
``diffband.sample_rate``   model sample rate in Hz
``diffband.codec``         JSON of :class:`engine.mel.MelCodec` (STFT/mel, dB range, reference)
``diffband.image_shape``   JSON ``[n_mels, frames]``
``diffband.schedule``      JSON of :class:`engine.schedule.NoiseSchedule` (type, T, beta range)
``diffband.betas``         JSON list of the T betas (checked against the schedule on load)
``diffband.prediction_type``  ``"epsilon"``
``diffband.training``      JSON provenance (steps, data, wall time, loss, ...)
``diffband.precision``     optional: ``"fp32"`` (default), ``"fp16"`` (weights and
                           activations in half precision) or ``"int8"`` (convolutions
                           quantized, QDQ: ``export/int8.py``); inputs/outputs stay float32
``diffband.vocoder``       optional: JSON of :class:`engine.vocoders.VocoderSpec` (the
                           vocoder the model expects and its settings); older bundles
                           kept the Griffin-Lim settings in ``diffband.codec``
``diffband.condition``     optional: JSON of :class:`engine.condition.ConditionSpec` (the
                           model takes a melody condition, and how it is made); absent:
                           an unconditional model (older bundles, imported checkpoints)
``diffband.pitch_range``   optional: JSON ``[low, high]``, the MIDI notes the training
                           melodies were kept within (the ``register`` option moves
                           input into it); absent: unknown, the input's register is kept
=========================  ===================================================

The graph takes ``sample`` (float32, ``[batch, 1, n_mels, frames]``) and
``timestep`` (float32, ``[batch]``) and returns ``noise_pred`` like ``sample``.
A conditional bundle's graph also takes ``condition`` (float32, like ``sample``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from diffband.engine.condition import ConditionError, ConditionSpec
from diffband.engine.mel import LEGACY_VOCODER_FIELDS, MelCodec
from diffband.engine.schedule import NoiseSchedule
from diffband.engine.vocoders import VocoderSpec, check_vocoder

FORMAT = "diffband-bundle"
FORMAT_VERSION = 2
PREFIX = "diffband."
INPUT_SAMPLE = "sample"
INPUT_TIMESTEP = "timestep"
INPUT_CONDITION = "condition"
OUTPUT_NOISE = "noise_pred"
PREDICTION_TYPES = ("epsilon",)
PRECISIONS = ("fp32", "fp16", "int8")


def required_format_version(vocoder: VocoderSpec) -> int:
    """The oldest format that can run a bundle with this vocoder: 2 once it names a network file."""
    return 2 if vocoder.network else 1


class BundleError(ValueError):
    """A file is not a usable diffband bundle, or bundles cannot be combined."""


@dataclass(frozen=True)
class BundleInfo:
    """Everything a bundle's metadata says, parsed and checked."""

    path: Path
    instrument: str
    codec: MelCodec
    schedule: NoiseSchedule
    prediction_type: str = "epsilon"
    format_version: int = FORMAT_VERSION
    training: dict[str, Any] = field(default_factory=dict)
    precision: str = "fp32"
    vocoder: VocoderSpec = VocoderSpec()
    condition: ConditionSpec | None = None
    pitch_range: tuple[int, int] | None = None

    @property
    def graph_inputs(self) -> set[str]:
        """The input names the bundle's graph must have."""
        return {INPUT_SAMPLE, INPUT_TIMESTEP} | ({INPUT_CONDITION} if self.condition else set())

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def sample_rate(self) -> int:
        return self.codec.sample_rate

    @property
    def image_shape(self) -> tuple[int, int]:
        return self.codec.image_shape

    def summary(self) -> dict[str, Any]:
        """A flat description for listings."""
        return {
            "name": self.name,
            "instrument": self.instrument,
            "sample_rate": self.sample_rate,
            "window_seconds": round(self.codec.window_seconds, 3),
            "image_shape": list(self.image_shape),
            "schedule": f"{self.schedule.schedule}/{self.schedule.num_train_timesteps}",
            "prediction_type": self.prediction_type,
            "train_steps": self.training.get("steps"),
            "precision": self.precision,
            "condition": self.condition.kind if self.condition else None,
            "pitch_range": list(self.pitch_range) if self.pitch_range else None,
            "path": str(self.path),
        }


def bundle_metadata(
    instrument: str,
    codec: MelCodec,
    schedule: NoiseSchedule,
    training: dict[str, Any],
    prediction_type: str = "epsilon",
    vocoder: VocoderSpec = VocoderSpec(),
    condition: ConditionSpec | None = None,
    pitch_range: tuple[int, int] | None = None,
) -> dict[str, str]:
    """The ``metadata_props`` that make an ONNX file a diffband bundle."""
    if prediction_type not in PREDICTION_TYPES:
        raise BundleError(f"prediction type {prediction_type!r} is not supported; use one of {PREDICTION_TYPES}")
    if not instrument or not instrument.replace("_", "").replace("-", "").isalnum():
        raise BundleError(f"instrument name {instrument!r} must be letters, digits, '-' or '_'")
    return {
        PREFIX + "format": FORMAT,
        PREFIX + "format_version": str(required_format_version(vocoder)),
        PREFIX + "instrument": instrument,
        PREFIX + "sample_rate": str(codec.sample_rate),
        PREFIX + "codec": codec.to_json(),
        PREFIX + "image_shape": json.dumps(list(codec.image_shape)),
        PREFIX + "schedule": schedule.to_json(),
        PREFIX + "betas": json.dumps([float(b) for b in schedule.betas]),
        PREFIX + "prediction_type": prediction_type,
        PREFIX + "training": json.dumps(training, sort_keys=True, default=str),
        PREFIX + "vocoder": vocoder.to_json(),
        **({PREFIX + "condition": condition.to_json()} if condition else {}),
        **({PREFIX + "pitch_range": json.dumps(list(checked_pitch_range(pitch_range)))} if pitch_range else {}),
    }


def checked_pitch_range(pitch_range: Any) -> tuple[int, int]:
    """``(low, high)`` MIDI notes, ``0 <= low < high <= 127``; raises :class:`BundleError` otherwise."""
    try:
        low, high = (int(v) for v in pitch_range)
    except (TypeError, ValueError):
        raise BundleError(f"pitch range must be two MIDI notes [low, high], got {pitch_range!r}") from None
    if not 0 <= low < high <= 127:
        raise BundleError(f"pitch range must be MIDI notes with 0 <= low < high <= 127, got [{low}, {high}]")
    return low, high


def parse_metadata(props: dict[str, str], path: Path) -> BundleInfo:
    """Check and parse ``metadata_props``; raise :class:`BundleError` naming what is wrong."""
    if props.get(PREFIX + "format") != FORMAT:
        raise BundleError(
            f"{path} is an ONNX model but not a diffband bundle (no '{PREFIX}format' metadata); "
            "export it with 'diffband export'"
        )
    try:
        version = int(props[PREFIX + "format_version"])
    except (KeyError, ValueError):
        raise BundleError(f"{path}: missing or invalid {PREFIX}format_version") from None
    if version > FORMAT_VERSION:
        raise BundleError(f"{path}: bundle format {version} is newer than this diffband supports ({FORMAT_VERSION}); upgrade diffband")
    try:
        codec_fields = json.loads(props[PREFIX + "codec"])
        codec = MelCodec.from_dict(codec_fields)
        if PREFIX + "vocoder" in props:
            vocoder = VocoderSpec.from_json(props[PREFIX + "vocoder"])
        else:  # format 1 before the vocoder key: Griffin-Lim settings inside the codec
            vocoder = VocoderSpec(**{k: codec_fields[k] for k in LEGACY_VOCODER_FIELDS if k in codec_fields})
        check_vocoder(vocoder)
        schedule = NoiseSchedule.from_dict(json.loads(props[PREFIX + "schedule"]))
        betas = np.asarray(json.loads(props[PREFIX + "betas"]), dtype=np.float64)
        image_shape = tuple(json.loads(props[PREFIX + "image_shape"]))
        training = json.loads(props.get(PREFIX + "training", "{}"))
        instrument = props[PREFIX + "instrument"]
        prediction_type = props.get(PREFIX + "prediction_type", "epsilon")
        precision = props.get(PREFIX + "precision", "fp32")
        sample_rate = int(props[PREFIX + "sample_rate"])
        condition = ConditionSpec.from_json(props[PREFIX + "condition"]) if PREFIX + "condition" in props else None
        pitch_range = checked_pitch_range(json.loads(props[PREFIX + "pitch_range"])) if PREFIX + "pitch_range" in props else None
    except (ConditionError, BundleError) as error:
        raise BundleError(f"{path}: {error}") from None
    except (KeyError, ValueError, TypeError) as error:
        raise BundleError(f"{path}: corrupt diffband metadata ({type(error).__name__}: {error})") from None
    if image_shape != codec.image_shape:
        raise BundleError(f"{path}: image_shape {image_shape} disagrees with the codec {codec.image_shape}")
    if sample_rate != codec.sample_rate:
        raise BundleError(f"{path}: sample_rate {sample_rate} disagrees with the codec {codec.sample_rate}")
    if betas.shape != schedule.betas.shape or not np.allclose(betas, schedule.betas, rtol=1e-5, atol=1e-8):
        raise BundleError(f"{path}: stored betas do not match the '{schedule.schedule}' schedule")
    if prediction_type not in PREDICTION_TYPES:
        raise BundleError(f"{path}: prediction type {prediction_type!r} is not supported")
    if precision not in PRECISIONS:
        raise BundleError(f"{path}: precision {precision!r} is not one of {PRECISIONS}")
    return BundleInfo(Path(path), instrument, codec, schedule, prediction_type, version, training, precision, vocoder, condition,
                      pitch_range)


def check_compatible(bundles: list[BundleInfo]) -> None:
    """Refuse to combine bundles whose audio parameters or noise schedules differ."""
    if len(bundles) < 2:
        return
    first = bundles[0]
    reference = first.codec.audio_parameters()
    for other in bundles[1:]:
        params = other.codec.audio_parameters()
        differing = [k for k in reference if reference[k] != params.get(k)]
        if differing:
            details = ", ".join(f"{k}: {reference[k]} vs {params.get(k)}" for k in differing)
            raise BundleError(f"models '{first.name}' and '{other.name}' use different audio parameters ({details})")
        if first.schedule != other.schedule:
            raise BundleError(
                f"models '{first.name}' and '{other.name}' use different noise schedules "
                f"({first.schedule.to_json()} vs {other.schedule.to_json()})"
            )
