"""Offline rendering and 'data prepare' on real files, including broken and foreign ones."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import soxr

from diffband.bridge.cli import main as cli
from diffband.export.data_prepare import load_dataset, prepare
from diffband.export.data_render import PEAK_DBFS, SAMPLE_RATE, render_instrument


def test_render_writes_trimmed_normalised_mono_22k(tmp_path):
    pieces = render_instrument("voice", tmp_path, minutes=0.25, seed=5)
    assert pieces and sum(p.seconds for p in pieces) >= 15
    for piece in pieces:
        audio, rate = sf.read(tmp_path / "voice" / piece.file)
        assert rate == SAMPLE_RATE and audio.ndim == 1
        assert np.max(np.abs(audio)) == pytest.approx(10 ** (PEAK_DBFS / 20), abs=0.01)
        assert np.max(np.abs(audio[: SAMPLE_RATE // 20])) > 1e-3  # trimmed: sound starts at once
        assert piece.program in (52, 53)
        assert piece.source.startswith(("bach:", "abc:"))
    info = json.loads((tmp_path / "voice" / "render.json").read_text())
    assert info["instrument"] == "voice" and len(info["pieces"]) == len(pieces)


def test_render_is_deterministic_for_a_seed(tmp_path):
    a = render_instrument("violin", tmp_path / "a", minutes=0.1, seed=9)
    b = render_instrument("violin", tmp_path / "b", minutes=0.1, seed=9)
    assert [p.source for p in a] == [p.source for p in b]
    first_a, _ = sf.read(tmp_path / "a" / "violin" / a[0].file)
    first_b, _ = sf.read(tmp_path / "b" / "violin" / b[0].file)
    np.testing.assert_array_equal(first_a, first_b)


def test_render_pitch_range_places_melodies_outside_the_instruments_own(tmp_path):
    """A violin rendered over 40:93 plays notes below its G3, and they sound at the written pitch."""
    import librosa

    pieces = render_instrument("violin", tmp_path, minutes=0.5, seed=3, pitch_range=(40, 93))
    pitches = [note[2] for piece in pieces for note in piece.notes]
    assert min(pitches) >= 40 and max(pitches) <= 93
    assert min(pitches) < 55  # below the violin's own range: the override took effect
    info = json.loads((tmp_path / "violin" / "render.json").read_text())
    assert info["pitch_range"] == [40, 93]
    low = next(p for p in pieces if min(n[2] for n in p.notes) < 55)
    audio, rate = sf.read(tmp_path / "violin" / low.file)
    f0, voiced, _ = librosa.pyin(audio[: rate * 4], fmin=60.0, fmax=1000.0, sr=rate)
    median_midi = float(np.median(librosa.hz_to_midi(f0[voiced])))
    written = [n[2] for n in low.notes if n[0] < 4.0]
    assert min(written) - 1 <= median_midi <= max(written) + 1


def test_render_refuses_a_bad_pitch_range(tmp_path, capsys):
    with pytest.raises(ValueError, match=r"pitch range must be MIDI notes with 0 <= low < high <= 127, got \[93, 40\]"):
        render_instrument("violin", tmp_path, 0.1, pitch_range=(93, 40))
    assert cli(["data", "render", "--instruments", "violin", "--pitch-range", "40-93", "--out", str(tmp_path)]) == 1
    assert "--pitch-range must be LOW:HIGH in MIDI notes (e.g. 55:93), got '40-93'" in capsys.readouterr().err
    assert not (tmp_path / "violin").exists()


def test_render_refuses_unknown_instrument(tmp_path):
    with pytest.raises(ValueError, match="unknown instrument 'kazoo'"):
        render_instrument("kazoo", tmp_path, 0.1)


@pytest.fixture
def messy_folder(tmp_path, guitar_clip):
    """A stereo 48 kHz WAV, a mono FLAC, an MP3, a broken file, a silent file and a text file."""
    folder = tmp_path / "audio"
    (folder / "sub").mkdir(parents=True)
    at48 = soxr.resample(guitar_clip, 22050, 48000)
    stereo = np.stack([at48, 0.5 * at48], axis=1)
    sf.write(folder / "stereo48k.wav", stereo, 48000)
    sf.write(folder / "sub" / "mono.flac", guitar_clip, 22050)
    sf.write(folder / "clip.mp3", guitar_clip, 22050)
    (folder / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    sf.write(folder / "silence.wav", np.zeros(22050 * 6, dtype=np.float32), 22050)
    (folder / "notes.txt").write_text("not audio")
    return folder


def test_prepare_handles_any_rate_channels_and_broken_files(tmp_path, messy_folder, tiny_codec, guitar_clip):
    out = tmp_path / "dataset"
    report = prepare(messy_folder, out, tiny_codec, instrument="guitar")
    # 6 s of audio per readable clip holds one 4.46 s window; the silent file holds none.
    assert report.files_read == 4
    assert report.windows == 3
    assert report.silent_windows_skipped == 1
    assert [f["file"] for f in report.failed] == ["broken.wav"]
    images, manifest, codec = load_dataset(out)
    assert codec == tiny_codec
    assert images.shape == (3, *tiny_codec.image_shape)
    assert isinstance(images, np.memmap)
    assert np.all(np.isfinite(images)) and images.min() >= -1 and images.max() <= 1
    assert manifest["instrument"] == "guitar" and manifest["count"] == 3
    assert manifest["failed"][0]["error"]
    # The 48 kHz stereo file (left = clip, right = clip / 2) is downmixed and resampled:
    # one stored image matches the 22.05 kHz encoding of 0.75 * clip.
    expected = tiny_codec.encode(0.75 * guitar_clip[: tiny_codec.window_samples])
    assert min(float(np.abs(image - expected).mean()) for image in images) < 0.02


def test_prepare_cli_reports_skipped_file(tmp_path, messy_folder, capsys):
    code = cli(["data", "prepare", str(messy_folder), "--out", str(tmp_path / "ds"), "--preset", "tiny"])
    out = capsys.readouterr().out
    assert code == 0
    assert "3 windows from 4 files" in out and "skipped broken.wav" in out


def test_prepare_errors_are_clear(tmp_path, tiny_codec):
    with pytest.raises(FileNotFoundError, match="audio folder not found"):
        prepare(tmp_path / "nope", tmp_path / "out", tiny_codec)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no audio files"):
        prepare(tmp_path / "empty", tmp_path / "out", tiny_codec)
    (tmp_path / "short").mkdir()
    sf.write(tmp_path / "short" / "a.wav", np.ones(1000, dtype=np.float32) * 0.1, 22050)
    with pytest.raises(ValueError, match="no usable windows"):
        prepare(tmp_path / "short", tmp_path / "out", tiny_codec)


def test_heldout_pieces_never_enter_training_renders(tmp_path):
    from diffband.export.data_render import split_of

    train = render_instrument("guitar", tmp_path / "t", minutes=0.3, seed=2, split="train")
    held = render_instrument("guitar", tmp_path / "h", minutes=0.3, seed=2, split="heldout")
    assert {split_of(p.source) for p in train} == {"train"}
    assert {split_of(p.source) for p in held} == {"heldout"}
    assert not {p.source for p in train} & {p.source for p in held}
    info = json.loads((tmp_path / "h" / "guitar" / "render.json").read_text())
    assert info["split"] == "heldout"


def test_evaluation_soundfont_is_never_a_training_one(tmp_path):
    from diffband.export.instruments import EVALUATION_SOUNDFONTS, SOUNDFONTS

    assert not {p.name for p in EVALUATION_SOUNDFONTS} & {p.name for p in SOUNDFONTS}
    pieces = render_instrument("violin", tmp_path, minutes=0.2, seed=4, soundfont_set="evaluation")
    assert {p.soundfont for p in pieces} <= {p.name for p in EVALUATION_SOUNDFONTS if p.exists()}


def test_augmented_render_records_its_notes_articulation_and_room(tmp_path):
    pieces = render_instrument("violin", tmp_path, minutes=0.5, seed=11, augment=True)
    assert {p.articulation for p in pieces} <= {"legato", "detached", "staccato", "sustained"}
    assert all(p.room and all(-6 <= db <= 6 for db in p.room["eq_db"]) and len(p.room["reverb"]) == 4 for p in pieces)
    piece = pieces[0]
    audio, rate = sf.read(tmp_path / "violin" / piece.file)
    start, duration, pitch, _ = piece.notes[0]
    assert 0 <= piece.offset <= start + 0.05  # trimming cut silence before the first note, not the note
    onset = max(0, int((start - piece.offset) * rate))
    assert np.max(np.abs(audio[onset : onset + rate // 10])) > 0.01  # sound where the first note is written
    assert all(40 <= n[2] <= 100 and n[1] > 0 for n in piece.notes)


def test_render_does_not_depend_on_libc_random_state():
    """FluidSynth's 16-bit dither read libc's rand() state: a library calling srand() earlier
    in the process changed every render (and made a vocoder test fail depending on order)."""
    import subprocess
    import sys

    from tests.conftest import REPO

    code = (
        "import ctypes, hashlib, sys; ctypes.CDLL('libc.so.6').srand(int(sys.argv[1])); "
        "from tests.conftest import render_clip; "
        "print(hashlib.sha1(render_clip('violin', 1.5, 900).tobytes()).hexdigest())"
    )
    digests = {
        subprocess.run([sys.executable, "-c", code, seed], cwd=REPO, capture_output=True, text=True, check=True).stdout
        for seed in ("1", "777")
    }
    assert len(digests) == 1, digests


def test_prepare_cli_stores_melody_conditions(tmp_path, messy_folder):
    code = cli(["data", "prepare", str(messy_folder), "--out", str(tmp_path / "ds"), "--preset", "tiny",
                "--condition", "basic-pitch"])
    assert code == 0
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert manifest["condition"]["kind"] == "basic-pitch"
    images = np.fromfile(tmp_path / "ds" / "images.f32", dtype=np.float32)
    conditions = np.fromfile(tmp_path / "ds" / "conditions.f32", dtype=np.float32)
    assert conditions.size == images.size and 0.0 <= conditions.min() and conditions.max() <= 1.0


def test_prepare_cli_records_how_the_notes_were_drawn(tmp_path, messy_folder):
    code = cli(["data", "prepare", str(messy_folder), "--out", str(tmp_path / "ds"), "--preset", "tiny",
                "--condition", "basic-pitch", "--harmonics", "2", "--harmonic-decay", "2", "--placement", "row"])
    assert code == 0
    drawn = json.loads((tmp_path / "ds" / "manifest.json").read_text())["condition"]
    assert (drawn["harmonics"], drawn["harmonic_decay"], drawn["placement"]) == (2, 2.0, "row")
    with pytest.raises(SystemExit, match="add --condition basic-pitch"):  # a drawing without a condition is a mistake
        cli(["data", "prepare", str(messy_folder), "--out", str(tmp_path / "plain"), "--harmonic-decay", "2"])
