"""The Pure Data abstraction max_patches/pd/diffband.pd, run headless (pd -nogui) against the
real server: a patch submits file-mode jobs through it and prints every reply."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from diffband.bridge.server import DiffbandServer, ServerConfig
from tests.conftest import REPO
from tests.test_bridge_server import models  # noqa: F401

ABSTRACTION = REPO / "max_patches" / "pd" / "diffband.pd"
#: Vanilla Pd classes the abstraction may use (no externals: it must open in any Pd >= 0.51).
VANILLA = {"inlet", "outlet", "route", "list", "oscformat", "oscparse", "netsend", "loadbang"}
RATE = 22050
PD_SECONDS = 150


@pytest.fixture(scope="module")
def server(models, tmp_path_factory):  # noqa: F811
    folder = tmp_path_factory.mktemp("pd")
    with DiffbandServer(models, ServerConfig(port=0, allow=[folder], max_seconds=30), log=lambda _: None) as srv:
        yield srv, folder


def pd_patch(path: Path, port: int, requests: list[str], jobs: int) -> Path:
    """A patch that sends ``status`` and ``requests`` through [diffband] at load, prints every
    reply as ``diffband: ...`` and quits once ``jobs`` jobs have ended (done or error)."""
    lines = [
        "#N canvas 0 50 600 400 12;",
        "#X obj 10 10 loadbang;",  # 0
        "#X msg 10 40 status;",  # 1
        f"#X obj 10 200 diffband 127.0.0.1 {port};",  # 2
        "#X obj 10 230 print diffband;",  # 3
        "#X obj 200 230 route done error;",  # 4
        "#X obj 200 260 t b;",  # 5
        "#X obj 200 290 f;",  # 6
        "#X obj 240 290 + 1;",  # 7
        f"#X obj 200 320 sel {jobs};",  # 8
        "#X msg 200 350 \\; pd quit;",  # 9
        f"#X obj 400 10 del {(PD_SECONDS - 10) * 1000};",  # 10: never hang a test run
    ]
    lines += [f"#X msg 10 {70 + 30 * i} {request};" for i, request in enumerate(requests)]
    wires = [(0, 0, 1, 0), (1, 0, 2, 0), (2, 0, 3, 0), (2, 0, 4, 0), (4, 0, 5, 0), (4, 1, 5, 0), (5, 0, 6, 0),
             (6, 0, 7, 0), (7, 0, 6, 1), (7, 0, 8, 0), (8, 0, 9, 0), (0, 0, 10, 0), (10, 0, 9, 0)]
    wires += [(0, 0, 11 + i, 0) for i in range(len(requests))] + [(11 + i, 0, 2, 0) for i in range(len(requests))]
    lines += [f"#X connect {a} {b} {c} {d};" for a, b, c, d in wires]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_pd(patch: Path) -> list[str]:
    """Run ``patch`` headless; the replies it printed, without the ``diffband: `` prefix."""
    if not shutil.which("pd"):
        pytest.fail("Pure Data is needed (Debian: apt-get install puredata-core; .ci/setup installs it)")
    result = subprocess.run(
        ["pd", "-nogui", "-noaudio", "-nomidi", "-stderr", "-path", str(ABSTRACTION.parent), "-open", str(patch)],
        capture_output=True, text=True, timeout=PD_SECONDS,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "couldn't create" not in result.stderr, result.stderr[-2000:]
    return [line.removeprefix("diffband: ") for line in result.stderr.splitlines() if line.startswith("diffband: ")]


def write_take(folder: Path, name: str, seconds: float) -> Path:
    audio, rate = sf.read(REPO / "models" / "example_vocal.wav", dtype="float32")
    path = folder / name
    sf.write(path, audio[: int(seconds * rate)], rate)
    return path


def test_the_abstraction_is_vanilla_and_wired_to_real_objects():
    text = ABSTRACTION.read_text()
    objects = re.findall(r"^#X (obj|msg|text) \d+ \d+ ?([^ ;]*)", text, re.M)
    classes = {name for kind, name in objects if kind == "obj"}
    assert classes <= VANILLA, classes - VANILLA
    assert {"oscformat", "oscparse", "netsend"} <= classes
    assert "netsend -u -b;" in text  # UDP, binary: OSC packets, replies on its own socket
    for source, _, sink, _ in (map(int, c) for c in re.findall(r"^#X connect (\d+) (\d+) (\d+) (\d+);", text, re.M)):
        assert objects[source][0] != "text" and objects[sink][0] != "text"


def test_pd_submits_a_file_job_and_receives_the_layers(server, tmp_path):
    srv, folder = server
    take = write_take(folder, "pd_take.wav", 2.0)
    out = folder / "pd_out"
    submit = f"submit pd1 accompany {take} {out} with violin+guitar steps 4 seed 3 strength 0.5"  # Pd sends floats
    replies = run_pd(pd_patch(tmp_path / "main.pd", srv.port, [submit], jobs=1))

    [state] = [r for r in replies if r.startswith("state ")]
    assert state.split()[5] == str(folder.resolve())  # the folder a Pd patch writes its takes into
    assert "accepted pd1 1" in replies
    assert replies[-1].startswith("done pd1 3 "), replies
    layers = [r.split() for r in replies if r.startswith("layer ")]
    assert [name for _, _, name, _ in layers] == ["violin", "guitar", "mix"]
    assert [r for r in replies if r.startswith("octave ")] == ["octave pd1 violin 0", "octave pd1 guitar 0", "octave pd1 mix 0"]
    expected = sf.info(take).frames
    for _, _, name, path in layers:
        audio, _ = sf.read(path, dtype="float32")
        assert Path(path) == (out / f"pd1_{name}.wav").resolve()
        assert audio.shape[0] == expected and np.all(np.isfinite(audio))


def test_pd_may_number_its_jobs(server, tmp_path):
    """A job id typed as a number reaches the server as a float; it is taken as its text."""
    srv, folder = server
    take = write_take(folder, "pd_numbered.wav", 1.0)
    submit = f"submit 7 cross {take} {folder / 'pd_out'} with violin steps 2"
    replies = run_pd(pd_patch(tmp_path / "numbered.pd", srv.port, [submit], jobs=1))
    assert replies[-1].startswith("done 7 1 "), replies
    assert (folder / "pd_out" / "7_violin.wav").is_file()
