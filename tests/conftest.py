"""Shared fixtures: real rendered audio, a tiny trained run and its exported bundle."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent

from diffband.engine.mel import MelCodec  # noqa: E402 - the installed package (pip install -e .)

TINY_STEPS = 24


def render_clip(instrument: str, seconds: float, seed: int) -> np.ndarray:
    """A few seconds of a real FluidSynth render of a corpus melody (22.05 kHz mono)."""
    return render_piece(instrument, seconds, seed)[0]


def render_piece(instrument: str, seconds: float, seed: int) -> tuple[np.ndarray, dict]:
    """:func:`render_clip` and its entry for a ``render.json`` (soundfont, program, notes, offset), as
    ``diffband data render`` writes it."""
    from diffband.export.data_render import SAMPLE_RATE, SOUNDFONTS, pick_melody, realise, render_notes, trim_offset_and_normalise
    from diffband.export.instruments import instrument as get_instrument

    rng = random.Random(seed)
    inst = get_instrument(instrument)
    while True:
        source, melody = pick_melody(rng)
        notes, shift, bpm = realise(melody, inst, rng)
        audio, offset = trim_offset_and_normalise(render_notes(notes, SOUNDFONTS[0], inst.programs[0]))
        if audio.size >= seconds * SAMPLE_RATE:
            clip = audio[: int(seconds * SAMPLE_RATE)]
            piece = {"source": source, "soundfont": SOUNDFONTS[0].name, "program": inst.programs[0], "transpose": shift,
                     "bpm": round(bpm, 1), "seconds": seconds, "room": {}, "offset": round(offset / SAMPLE_RATE, 4),
                     "notes": [[round(n.start, 4), round(n.duration, 4), n.pitch, n.velocity] for n in notes]}
            return clip, piece


@pytest.fixture(scope="session")
def guitar_clip() -> np.ndarray:
    return render_clip("guitar", 6.0, seed=1)


@pytest.fixture(scope="session")
def violin_clip() -> np.ndarray:
    return render_clip("violin", 6.0, seed=2)


@pytest.fixture(scope="session")
def tiny_codec() -> MelCodec:
    from diffband.engine.mel import preset

    return preset("tiny")


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory, guitar_clip, tiny_codec) -> Path:
    """A prepared dataset from ~12 s of rendered guitar."""
    import soundfile as sf

    from diffband.export.data_prepare import prepare

    audio_dir = tmp_path_factory.mktemp("audio")
    sf.write(audio_dir / "a.wav", guitar_clip, 22050)
    sf.write(audio_dir / "b.wav", render_clip("guitar", 6.0, seed=3), 22050)
    out = tmp_path_factory.mktemp("dataset")
    prepare(audio_dir, out, tiny_codec, instrument="guitar")
    return out


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_dataset) -> Path:
    """A tiny UNet trained for a few steps (with a checkpoint), as a run folder."""
    from diffband.export.train import train
    from diffband.export.train_config import TrainConfig

    out = tmp_path_factory.mktemp("run")
    train(
        TrainConfig(
            dataset=str(tiny_dataset), instrument="guitar", out=str(out), steps=TINY_STEPS, batch_size=4,
            warmup_steps=4, checkpoint_every=8, num_samples=1, sample_steps=4, threads=1,
        )
    )
    return out


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory, tiny_run) -> Path:
    from diffband.export.onnx_export import export_run

    out = tmp_path_factory.mktemp("models") / "tinyguitar.onnx"
    export_run(tiny_run, out, instrument="guitar")
    return out


@pytest.fixture(scope="session")
def conditional_dataset(tmp_path_factory, tiny_dataset, tiny_codec) -> Path:
    """The tiny guitar dataset prepared again with basic-pitch condition images."""
    from diffband.engine.condition import ConditionSpec
    from diffband.export.data_prepare import load_conditions, load_dataset, prepare

    audio = Path(load_dataset(tiny_dataset)[1]["source"])  # the unconditional fixture's rendered guitar
    dataset = tmp_path_factory.mktemp("cond_dataset")
    prepare(audio, dataset, tiny_codec, instrument="guitar", condition=ConditionSpec())
    images, manifest, _ = load_dataset(dataset)
    conditions, spec = load_conditions(dataset, manifest)
    assert conditions.shape == images.shape and spec == ConditionSpec() and conditions.max() > 0.3
    return dataset


@pytest.fixture(scope="session")
def conditional_bundle(tmp_path_factory, conditional_dataset) -> Path:
    """Prepare (with conditions), train a few steps with dropout, export: the CI-sized pipeline."""
    from diffband.export.onnx_export import export_run
    from diffband.export.train import train
    from diffband.export.train_config import TrainConfig

    dataset = conditional_dataset
    run_dir = tmp_path_factory.mktemp("cond_run")
    train(TrainConfig(dataset=str(dataset), instrument="guitar", out=str(run_dir), steps=6, batch_size=2,
                      warmup_steps=2, checkpoint_every=0, num_samples=1, sample_steps=2, threads=1,
                      condition="basic-pitch", condition_dropout=0.5))
    bundle = tmp_path_factory.mktemp("cond_models") / "condguitar.onnx"
    export_run(run_dir, bundle)
    return bundle
