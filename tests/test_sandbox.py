"""The file-mode sandbox of diffband serve: paths opened at the moment of use, the private
default folder, header limits before decoding, and no existence oracle outside.

Real servers on loopback, real files, real symlinks.
"""

from __future__ import annotations

import os
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import soundfile as sf

from diffband.bridge.client import DiffbandClient, ServerError
from diffband.bridge.sandbox import Sandbox, UnsafeFolderError, default_folder
from diffband.bridge.server import DiffbandServer, ServerConfig
from tests.conftest import REPO
from tests.test_bridge_server import FAST, RATE, client, models, vocal  # noqa: F401 (fixtures)

SLOW = {"with": "violin", "steps": 1000, "strength": 1.0}


@contextmanager
def serving(models, allowed: Path, **config) -> Iterator[DiffbandServer]:
    allowed.mkdir(exist_ok=True)
    with DiffbandServer(models, ServerConfig(port=0, allow=[allowed], max_seconds=30, **config), log=lambda _: None) as srv:
        yield srv


def refusal(c: DiffbandClient, job_id: str) -> ServerError:
    with pytest.raises(ServerError) as err:
        c.wait(job_id)
    return err.value


# ---- item 3: a path checked at submit is opened again, without symlinks, when the job runs -----------
@pytest.fixture
def held(models, vocal, tmp_path):  # noqa: F811
    """(server, allowed folder, outside folder, release): the only worker is busy until ``release()``."""
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    outside.mkdir()
    with serving(models, allowed, workers=1) as srv, client(srv) as holder:
        holder.submit_buffer("hold", "cross", vocal, RATE, **SLOW)
        holder.expect("/diffband/progress")  # running: whatever is submitted now waits behind it
        yield srv, allowed, outside, lambda: holder.cancel("hold")
        holder.cancel("hold")


def test_output_folder_swapped_for_a_symlink_while_queued(held, vocal):  # noqa: F811
    srv, allowed, outside, release = held
    sf.write(allowed / "take.wav", vocal, RATE)
    (allowed / "race").mkdir()
    with client(srv) as c:
        c.submit_file("b", "cross", allowed / "take.wav", allowed / "race", **{"with": "violin"}, **FAST)
        c.expect("/diffband/accepted")
        (allowed / "race").rmdir()
        os.symlink(outside, allowed / "race")
        release()
        error = refusal(c, "b")
    assert error.code == "path_refused", str(error)
    assert os.listdir(outside) == []


@pytest.mark.parametrize("swapped", ["folder", "file"])
def test_input_swapped_for_a_symlink_while_queued(held, vocal, swapped):  # noqa: F811
    srv, allowed, outside, release = held
    (allowed / "src").mkdir()
    sf.write(allowed / "src" / "take.wav", vocal, RATE)
    sf.write(outside / "take.wav", vocal[::-1].copy(), RATE)  # what must not be read
    with client(srv) as c:
        c.submit_file("b", "cross", allowed / "src" / "take.wav", allowed / "out", **{"with": "violin"}, **FAST)
        c.expect("/diffband/accepted")
        if swapped == "folder":
            shutil.rmtree(allowed / "src")
            os.symlink(outside, allowed / "src")
        else:
            os.unlink(allowed / "src" / "take.wav")
            os.symlink(outside / "take.wav", allowed / "src" / "take.wav")
        release()
        error = refusal(c, "b")
    assert error.code == "path_refused", str(error)
    assert not list((allowed / "out").glob("b_*"))


def test_symlinks_inside_the_folder_are_not_followed(models, vocal, tmp_path):  # noqa: F811
    """Even one that stays inside: no symlink below an allowed folder is followed."""
    allowed = tmp_path / "allowed"
    with serving(models, allowed) as srv, client(srv) as c:
        sf.write(allowed / "real.wav", vocal, RATE)
        os.symlink(allowed / "real.wav", allowed / "alias.wav")
        os.symlink(allowed, allowed / "loop")
        c.submit_file("in1", "cross", allowed / "alias.wav", allowed / "out", **{"with": "violin"}, **FAST)
        assert refusal(c, "in1").code == "path_refused"
        c.submit_file("out1", "cross", allowed / "real.wav", allowed / "loop" / "out", **{"with": "violin"}, **FAST)
        assert refusal(c, "out1").code == "path_refused"
    assert not (allowed / "out").exists()


# ---- item 7: outside the folders, existing or not, the same answer -----------------------------------
def test_outside_paths_answer_the_same_whether_or_not_they_exist(models, vocal, tmp_path):  # noqa: F811
    outside = tmp_path / "outside"
    outside.mkdir()
    sf.write(outside / "there.wav", vocal, RATE)
    answers = []
    with serving(models, tmp_path / "allowed") as srv, client(srv) as c:
        for name in ("there.wav", "absent.wav", "no-folder/absent.wav"):
            c.submit_file("o1", "cross", outside / name, tmp_path / "allowed" / "out", **{"with": "violin"})
            error = refusal(c, "o1")
            answers.append((error.code, str(error).replace(name, "NAME")))
    assert answers[0][0] == "path_refused"
    assert answers[1:] == answers[:1] * 2


# ---- item 5: the header is checked before any sample is decoded ------------------------------------
def sparse_wav(path: Path, channels: int, rate: int, seconds: float) -> Path:
    """A 16-bit PCM WAV whose header claims ``seconds`` of audio; the data is a hole (no disk blocks)."""
    data = int(seconds * rate) * channels * 2
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * channels * 2, channels * 2, 16)
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 36 + data) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt)
        f.write(b"data" + struct.pack("<I", data))
        f.truncate(44 + data)
    return path


@pytest.fixture
def no_decoding(monkeypatch) -> list:
    """Every attempt to decode samples, recorded and stopped (so a regression cannot eat gigabytes)."""
    attempts = []

    def refuse(self, *args, **kwargs):
        attempts.append(args)
        raise RuntimeError("samples decoded")

    monkeypatch.setattr(sf.SoundFile, "read", refuse)
    return attempts


@pytest.mark.parametrize(
    "channels, rate, seconds",
    [(64, 768000, 20.0), (9, 48000, 1.0), (2, 768000, 1.0), (8, 384000, 20.0)],
    ids=["64ch-768k", "9ch", "768k", "over-the-sample-budget"],
)
def test_oversized_header_is_too_large_before_decoding(models, tmp_path, no_decoding, channels, rate, seconds):  # noqa: F811
    allowed = tmp_path / "allowed"
    with serving(models, allowed) as srv, client(srv) as c:
        big = sparse_wav(allowed / "big.wav", channels, rate, seconds)
        assert big.stat().st_blocks * 512 < 64 * 1024  # the claim is all there is on disk
        c.submit_file("big1", "cross", big, allowed / "out", **{"with": "violin"}, **FAST)
        error = refusal(c, "big1")
    assert error.code == "too_large", str(error)
    assert no_decoding == []


def test_surround_7_1_still_passes(models, tmp_path):  # noqa: F811
    allowed = tmp_path / "allowed"
    audio = np.random.default_rng(0).uniform(-0.3, 0.3, (24000, 8)).astype(np.float32)
    with serving(models, allowed) as srv, client(srv) as c:
        sf.write(allowed / "surround.wav", audio, 48000)
        c.submit_file("s71", "cross", allowed / "surround.wav", allowed / "out", **{"with": "violin"}, **FAST)
        layer = c.wait("s71").layers["violin"]
    out, rate = sf.read(layer, dtype="float32")
    assert rate == 48000 and out.shape == audio.shape


# ---- item 4: the default folder is the user's own --------------------------------------------------
@pytest.fixture
def own_folder(tmp_path, monkeypatch) -> Path:
    """Where default_folder() goes when the system temp folder is ``tmp_path``."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path / f"diffband-{os.getuid()}"


def test_default_folder_is_created_private(own_folder):
    assert default_folder() == own_folder
    info = os.lstat(own_folder)
    assert stat.S_ISDIR(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o700 and info.st_uid == os.getuid()
    assert Sandbox().primary == own_folder.resolve()


def test_default_folder_that_is_a_symlink_is_refused(own_folder, tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    os.symlink(target, own_folder)
    for make in (default_folder, Sandbox):
        with pytest.raises(UnsafeFolderError, match="symlink"):
            make()


def test_default_folder_writable_by_others_is_refused(own_folder):
    own_folder.mkdir()
    own_folder.chmod(0o777)
    with pytest.raises(UnsafeFolderError, match="writable by other users"):
        default_folder()


@pytest.mark.skipif(os.getuid() != 0, reason="giving a folder to another user needs root")
def test_default_folder_owned_by_someone_else_is_refused(own_folder):
    own_folder.mkdir(mode=0o700)
    os.chown(own_folder, 65534, 65534)
    with pytest.raises(UnsafeFolderError, match="owned by uid 65534"):
        default_folder()


def test_serve_exits_2_with_a_clear_message_when_the_default_folder_is_unsafe(tmp_path):
    os.symlink(tmp_path, tmp_path / f"diffband-{os.getuid()}")
    run = subprocess.run(
        [sys.executable, "-m", "diffband.bridge.cli", "serve", "--port", "0", "--models", "violin"],
        cwd=REPO, env={**os.environ, "TMPDIR": str(tmp_path)}, capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 2
    assert "is a symlink" in run.stderr and "--allow" in run.stderr
