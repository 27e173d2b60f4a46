"""The Reaper action against a real diffband server, with a fake ``reaper_python`` module that
plays Reaper's part (returning tuples as Reaper's Python API does) and records every call."""

from __future__ import annotations

import hashlib
import io
import importlib.util
import os
import sys
import time
import types
import urllib.request
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pytest
import soundfile as sf
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import build_msg

from diffband.bridge import protocol
from diffband.bridge.server import DiffbandServer, ServerConfig
from diffband.engine.model import load_models
from diffband.engine.options import OPTIONS
from diffband.engine.techniques import technique
from tests.conftest import REPO

SCRIPT = REPO / "max_patches" / "reaper" / "diffband_layers.py"
RATE = 48000
#: An item 2 s long that starts 0.5 s into its source, at 12.5 s on track 3.
ITEM = {"D_POSITION": 12.5, "D_LENGTH": 2.0, "D_STARTOFFS": 0.5, "D_PLAYRATE": 1.0}


class FakeReaper:
    """A tiny saved project (``song.RPP``, recording into ``Audio/``): track 3 holds the selected
    items, each playing one of ``sources`` (a file, or a section of another source)."""

    def __init__(self, project: Path, port: int, answers: str, sources: dict, items: list[dict]):
        self.calls: list[tuple] = []
        self.deferred: list[str] = []
        self.console: list[str] = []
        self.ext = {"port": str(port)}
        self.project, self.answers, self.sources, self.items = project, answers, sources, items

    def module(self) -> types.ModuleType:
        mod = types.ModuleType("reaper_python")
        fake = self

        def record(name, result=None):
            def call(*args):
                fake.calls.append((name, *args))
                return result(*args) if callable(result) else result
            return call

        def item(name: str) -> dict:
            return fake.items[int(name.removeprefix("item"))]

        def section(src, *_):
            s = fake.sources[src]
            return (True, src, s["offset"], s["length"], s["reversed"])

        api = {
            "RPR_CountSelectedMediaItems": record("CountSelectedMediaItems", lambda p: len(fake.items)),
            "RPR_GetSelectedMediaItem": record("GetSelectedMediaItem", lambda p, i: f"item{i}"),
            "RPR_GetActiveTake": record("GetActiveTake", lambda i: f"take-{i}"),
            "RPR_GetMediaItemTake_Source": record("GetMediaItemTake_Source", lambda t: item(t[5:])["source"]),
            "RPR_GetMediaSourceType": record("GetMediaSourceType", lambda s, buf, n: (s, fake.sources[s]["type"], n)),
            "RPR_PCM_Source_GetSectionInfo": record("PCM_Source_GetSectionInfo", section),
            "RPR_GetMediaSourceParent": record("GetMediaSourceParent", lambda s: fake.sources[s]["parent"]),
            "RPR_GetMediaSourceFileName": record(
                "GetMediaSourceFileName", lambda s, buf, n: (s, fake.sources[s].get("file", ""), n)),  # "" for a section
            "RPR_GetMediaItem_Track": record("GetMediaItem_Track", "track3"),
            "RPR_GetMediaItemInfo_Value": record("GetMediaItemInfo_Value", lambda i, k: item(i)[k]),
            "RPR_GetMediaItemTakeInfo_Value": record("GetMediaItemTakeInfo_Value", lambda t, k: item(t[5:])[k]),
            "RPR_GetMediaTrackInfo_Value": record("GetMediaTrackInfo_Value", 3.0),
            "RPR_GetExtState": record("GetExtState", lambda s, k: fake.ext.get(k, "")),
            "RPR_SetExtState": record("SetExtState", lambda s, k, v, persist: fake.ext.__setitem__(k, v)),
            "RPR_GetUserInputs": record("GetUserInputs", lambda t, n, c, cur, size: (True, t, n, c, fake.answers, size)),
            "RPR_ShowConsoleMsg": record("ShowConsoleMsg", lambda m: fake.console.append(m)),
            "RPR_ShowMessageBox": record("ShowMessageBox", 1),
            "RPR_EnumProjects": record("EnumProjects", lambda i, buf, n: ("proj0", i, str(fake.project / "song.RPP"), n)),
            "RPR_GetProjectPath": record("GetProjectPath", lambda buf, n: (str(fake.project / "Audio"), n)),
            "RPR_InsertTrackAtIndex": record("InsertTrackAtIndex", None),
            "RPR_GetTrack": record("GetTrack", lambda p, i: f"track@{i}"),
            "RPR_GetSetMediaTrackInfo_String": record("GetSetMediaTrackInfo_String", lambda *a: (True, *a)),
            "RPR_AddMediaItemToTrack": record("AddMediaItemToTrack", lambda t: f"item-on-{t}"),
            "RPR_SetMediaItemInfo_Value": record("SetMediaItemInfo_Value", True),
            "RPR_AddTakeToMediaItem": record("AddTakeToMediaItem", lambda i: f"take-of-{i}"),
            "RPR_PCM_Source_CreateFromFile": record("PCM_Source_CreateFromFile", lambda p: f"pcm:{p}"),
            "RPR_SetMediaItemTake_Source": record("SetMediaItemTake_Source", True),
            "RPR_GetSetMediaItemTakeInfo_String": record("GetSetMediaItemTakeInfo_String", lambda *a: (True, *a)),
            "RPR_Undo_BeginBlock2": record("Undo_BeginBlock2", None),
            "RPR_Undo_EndBlock2": record("Undo_EndBlock2", None),
            "RPR_UpdateArrange": record("UpdateArrange", None),
            "RPR_defer": lambda code: fake.deferred.append(code),
        }
        for name, fn in api.items():
            setattr(mod, name, fn)
        return mod

    def named(self, name: str) -> list[tuple]:
        return [c for c in self.calls if c[0] == name]


def load_script(fake: FakeReaper, monkeypatch) -> types.ModuleType:
    """The action as Reaper loads it for one run: its own namespace, the fake API."""
    monkeypatch.setitem(sys.modules, "reaper_python", fake.module())
    monkeypatch.setenv("DIFFBAND_REASCRIPT_NO_AUTORUN", "1")
    spec = importlib.util.spec_from_file_location("diffband_layers", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def drain(fake: FakeReaper, runs: list[tuple[types.ModuleType, list[str]]], timeout: float = 180.0) -> int:
    """Run the runs' deferred callbacks, in turn, as Reaper's UI cycles would; the cycles run."""
    cycles, deadline = 0, time.monotonic() + timeout
    while any(queue for _, queue in runs):
        assert time.monotonic() < deadline, "the action was still waiting at the timeout"
        for script, queue in runs:
            if queue:
                fake.deferred = []
                exec(queue.pop(0), vars(script))  # deferred code runs in its own script's namespace
                queue.extend(fake.deferred)
                cycles += 1
        time.sleep(0.02)
    return cycles


def run_script(fake: FakeReaper, monkeypatch, **settings) -> types.ModuleType:
    """Load the action, run it, then its deferred callbacks until it stops."""
    script = load_script(fake, monkeypatch)
    vars(script).update(settings)
    script.main()
    drain(fake, [(script, fake.deferred)])
    return script


@pytest.fixture(scope="module")
def models():
    return {m.name: m for m in load_models([str(REPO / "models" / f"{n}.onnx") for n in ("violin", "guitar")], device="cpu")}


@pytest.fixture(scope="module")
def server(models, tmp_path_factory):
    allowed = tmp_path_factory.mktemp("server-folder")
    with DiffbandServer(models, ServerConfig(port=0, allow=[allowed]), log=lambda _: None) as srv:
        yield srv


def vocal_take(path: Path, seconds: float = 10.0, **write) -> np.ndarray:
    """A take of the example vocal at 48 kHz, written to ``path``; its samples."""
    from soxr import resample

    vocal, rate = sf.read(REPO / "models" / "example_vocal.wav", dtype="float32")
    sf.write(path, resample(vocal, rate, RATE)[: int(seconds * RATE)], RATE, **write)
    return sf.read(path, dtype="float32")[0]  # as stored (16-bit)


def project_with_take(tmp_path: Path, name: str = "vocal take.wav", **write) -> tuple[Path, Path, np.ndarray]:
    project = tmp_path / "project"
    (project / "Audio").mkdir(parents=True)
    source = project / "Audio" / name  # a file outside the server's folder
    return project, source, vocal_take(source, **write)


def layer_files(fake: FakeReaper) -> list[str]:
    return [c[1].removeprefix("pcm:") for c in fake.named("PCM_Source_CreateFromFile")]


def record_removals(monkeypatch) -> dict[str, bytes]:
    """os.remove that keeps each removed file's bytes first: what the shared folder held when the
    action tidied it (the tests check what was sent, after the action removed it)."""
    removed, real_remove = {}, os.remove

    def remove(path):
        removed[str(path)] = Path(path).read_bytes()
        real_remove(path)

    monkeypatch.setattr(os, "remove", remove)
    return removed


def test_action_inserts_a_track_per_layer_aligned_with_the_item(server, tmp_path, monkeypatch):
    project, source, audio = project_with_take(tmp_path)
    answers = "accompany|violin,guitar|0.5|4"  # a comma inside an answer is just part of it
    fake = FakeReaper(project, server.port, answers, {"src0": {"type": "WAVE", "file": str(source)}},
                      [{"source": "src0", **ITEM}])
    removed = record_removals(monkeypatch)
    script = run_script(fake, monkeypatch)

    console = "".join(fake.console)
    assert "failed" not in console and "2 layer(s) inserted" in console
    assert "100%" in console  # progress was shown
    assert [c[1] for c in fake.named("InsertTrackAtIndex")] == [3, 4]  # right under track 3
    names = [c[3] for c in fake.named("GetSetMediaTrackInfo_String")]
    assert names == ["diffband violin", "diffband guitar"]
    positions = [(c[2], c[3]) for c in fake.named("SetMediaItemInfo_Value")]
    assert positions == [("D_POSITION", 12.5), ("D_LENGTH", 2.0)] * 2
    files = layer_files(fake)
    assert len(files) == 2
    for path in files:
        assert Path(path).parent == project / "diffband"  # the project's folder, not its recording folder
        layer, layer_rate = sf.read(path, dtype="float32")
        assert layer_rate == RATE and layer.shape[0] == int(2.0 * RATE)  # only the item's region
        assert np.all(np.isfinite(layer)) and np.max(np.abs(layer)) > 1e-3
    [job] = script.SESSION.jobs.values()
    sent, _ = sf.read(io.BytesIO(removed[job["copy"].target]), dtype="float32")  # the region alone
    np.testing.assert_array_equal(sent, audio[int(0.5 * RATE):int(2.5 * RATE)])
    # nothing is left in the shared folder: the source's copy and the server's layer files are gone
    assert not Path(job["copy"].target).exists()
    assert job["layers"] and not any(Path(path).exists() for _, path in job["layers"])
    assert fake.named("Undo_BeginBlock2") and fake.named("Undo_EndBlock2")
    assert fake.ext["with"] == "violin guitar" and fake.ext["strength"] == "0.5" and fake.ext["steps"] == "4"


@pytest.mark.parametrize("answers, reason", [
    ("accompany|violin guitar|guitar|4", "strength must be a number"),
    ("accompany,violin,guitar,0.5,4", "expected 4 answers, got 1"),  # commas are not the separator
    ("accompany|violin|0.5|4.5", "steps must be a whole number"),
    ("accompany|violin|0.5|inf", "steps must be a number"),
    ("accompany|violin|nan|4", "strength must be a number"),
    ("remix|violin|0.5|4", "technique must be one of"),
    ("cross||0.5|4", "name at least one instrument"),
])
def test_a_bad_answer_is_refused_and_nothing_is_saved(tmp_path, monkeypatch, answers, reason):
    fake = FakeReaper(tmp_path, 9, answers, {}, [{"source": "src0", **ITEM}])
    fake.ext.update(strength="guitar", steps="violin")  # a broken state an older version saved
    run_script(fake, monkeypatch)
    [box] = fake.named("ShowMessageBox")
    assert reason in box[1] and "Nothing was sent" in box[1]
    assert not fake.named("SetExtState")
    [dialog] = fake.named("GetUserInputs")  # and the broken stored values were not offered again
    assert dialog[4].split("|")[2:] == ["auto", "auto"]
    assert "separator=|" in dialog[3]


def test_auto_leaves_each_technique_its_own_strength_and_steps(server, tmp_path, monkeypatch):
    """The pre-filled "auto" sends no strength and no steps, so the server runs the technique's
    registry defaults (chorus: strength 0.8, 20 steps; the others the measured ones); a number
    is sent as given."""
    project, source, _ = project_with_take(tmp_path, seconds=4.0)
    requests = {}
    for answers in ("chorus|violin guitar|auto|auto", "chorus|violin guitar|0.5|3"):
        fake = FakeReaper(project, server.port, answers, {"src0": {"type": "WAVE", "file": str(source)}},
                          [{"source": "src0", **ITEM}])
        [job] = run_script(fake, monkeypatch).SESSION.jobs.values()
        assert "2 layer(s) inserted" in "".join(fake.console), fake.console
        requests[answers.rsplit("|", 1)[1]] = job["request"]
    assert "steps" not in requests["auto"] and "strength" not in requests["auto"]
    assert requests["3"][requests["3"].index("steps") + 1] == 3
    assert requests["3"][requests["3"].index("strength") + 1] == 0.5
    chorus = protocol.job_options("chorus", {"with": "violin,guitar"})
    assert chorus["strength"] == technique("chorus").defaults["strength"] != OPTIONS["strength"].default
    assert chorus["steps"] == technique("chorus").defaults["steps"] != OPTIONS["steps"].default


def test_section_items_are_read_from_their_parent_and_reversed_ones_skipped(server, tmp_path, monkeypatch):
    project, source, audio = project_with_take(tmp_path)
    sources = {
        "file": {"type": "WAVE", "file": str(source)},
        "part": {"type": "SECTION", "parent": "file", "offset": 1.0, "length": 6.0, "reversed": False},
        "back": {"type": "SECTION", "parent": "file", "offset": 1.0, "length": 6.0, "reversed": True},
    }
    fake = FakeReaper(project, server.port, "cross|violin|0.5|2", sources,
                      [{"source": "part", **ITEM}, {"source": "back", **ITEM}])
    removed = record_removals(monkeypatch)
    script = run_script(fake, monkeypatch)
    console = "".join(fake.console)
    assert "item 2 skipped: it plays its source reversed: glue it first" in console
    assert "1 layer(s) inserted" in console and "failed" not in console
    [job] = script.SESSION.jobs.values()
    sent, _ = sf.read(io.BytesIO(removed[job["copy"].target]), dtype="float32")  # section start + take offset = 1.5 s
    np.testing.assert_array_equal(sent, audio[int(1.5 * RATE):int(3.5 * RATE)])


def test_a_long_source_is_copied_over_several_ui_cycles(server, tmp_path, monkeypatch):
    """The copy happens in deferred steps: the action returns to Reaper before it is done.  A
    FLAC source is copied whole and the server reads the item's region from it."""
    project, source, _ = project_with_take(tmp_path, "take.flac", format="FLAC")
    fake = FakeReaper(project, server.port, "cross|violin|0.5|2", {"src0": {"type": "FLAC", "file": str(source)}},
                      [{"source": "src0", **ITEM}])
    removed = record_removals(monkeypatch)
    script = load_script(fake, monkeypatch)
    script.COPY_BYTES_PER_TICK = 64 * 1024
    script.main()
    [job] = script.SESSION.jobs.values()
    assert job["state"] == "copying" and os.path.getsize(job["copy"].target) < os.path.getsize(source)
    cycles = drain(fake, [(script, fake.deferred)])
    assert cycles > os.path.getsize(source) // script.COPY_BYTES_PER_TICK
    assert removed[job["copy"].target] == source.read_bytes()
    assert job["request"][-4:] == ["start", 0.5, "duration", 2.0]
    [path] = layer_files(fake)
    assert sf.info(path).frames == int(2.0 * RATE)


def test_two_runs_in_the_same_second_get_their_own_jobs(server, tmp_path, monkeypatch):
    project, source, _ = project_with_take(tmp_path)
    frozen = types.SimpleNamespace(time=lambda: 1.7e9, strftime=lambda fmt, *a: "120000", sleep=time.sleep)
    runs = []
    for _ in range(2):  # the action started twice within one second, the first still running
        fake = FakeReaper(project, server.port, "cross|violin|0.5|2", {"src0": {"type": "WAVE", "file": str(source)}},
                          [{"source": "src0", **ITEM}])
        script = load_script(fake, monkeypatch)
        script.time = frozen
        script.main()
        runs.append((script, fake.deferred))
    drain(fake, runs)
    ids = [job_id for script, _ in runs for job_id in script.SESSION.jobs]
    assert len(set(ids)) == 2
    for script, _ in runs:
        [job] = script.SESSION.jobs.values()
        assert job["state"] == "done"


def test_a_server_folder_this_computer_cannot_see(models, tmp_path, monkeypatch):
    """A server elsewhere names a folder this computer does not have: the action says file mode
    needs a shared folder; with ``local_folder`` naming where it is shared here, it works."""
    served = tmp_path / "on-the-server"
    served.mkdir()
    project, source, _ = project_with_take(tmp_path)
    with DiffbandServer(models, ServerConfig(port=0, allow=[served]), log=lambda _: None) as srv:
        mounted = served.rename(tmp_path / "mounted-here")  # the server keeps its folder open, by its old name
        fake = FakeReaper(project, srv.port, "cross|violin|0.5|2", {"src0": {"type": "WAVE", "file": str(source)}},
                          [{"source": "src0", **ITEM}])
        run_script(fake, monkeypatch)
        [box] = fake.named("ShowMessageBox")
        assert str(served) in box[1] and "File mode needs a folder both computers share" in box[1]
        assert "local_folder" in box[1] and not fake.named("InsertTrackAtIndex")

        fake.ext["local_folder"] = str(mounted)
        fake.calls.clear()
        removed = record_removals(monkeypatch)
        run_script(fake, monkeypatch)
        assert "1 layer(s) inserted" in "".join(fake.console)
        [path] = layer_files(fake)
        assert sf.info(path).frames == int(2.0 * RATE)
        # the layer was read through the share as this computer mounts it, then tidied away there
        assert any(Path(p).parent == mounted / "reaper" / "out" and p.endswith("_violin.wav") for p in removed)
        assert not list((mounted / "reaper" / "out").glob("*_violin.wav"))


def test_layer_paths_are_mapped_from_the_servers_folder_to_the_share_here(tmp_path, monkeypatch):
    script = load_script(FakeReaper(tmp_path, 9, "", {}, []), monkeypatch)
    folder = script.SharedFolder("/tmp/diffband-1000", str(tmp_path / "share"))
    assert folder.to_local("/tmp/diffband-1000/reaper/out/j_violin.wav") == str(tmp_path / "share/reaper/out/j_violin.wav")
    assert folder.to_local("/tmp/diffband-10000/x.wav") == "/tmp/diffband-10000/x.wav"  # another folder entirely
    windows = script.SharedFolder("C:\\Temp\\diffband", str(tmp_path))
    assert windows.to_local("C:\\Temp\\diffband\\reaper\\out\\a.wav") == str(tmp_path / "reaper/out/a.wav")


def test_action_reports_a_missing_server(tmp_path, monkeypatch):
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    source = tmp_path / "a.wav"
    sf.write(source, np.zeros(4800, dtype=np.float32), RATE)
    fake = FakeReaper(tmp_path, dead_port, "cross|violin|0.5|4", {"s": {"type": "WAVE", "file": str(source)}},
                      [{"source": "s", **ITEM}])
    run_script(fake, monkeypatch)
    [box] = fake.named("ShowMessageBox")
    assert "diffband serve" in box[1]
    assert not fake.named("InsertTrackAtIndex")


def test_action_with_no_selection_says_so(tmp_path, monkeypatch):
    fake = FakeReaper(tmp_path, 9, "", {}, [])
    run_script(fake, monkeypatch)
    assert fake.named("ShowMessageBox") and "Select" in fake.named("ShowMessageBox")[0][1]


def test_the_scripts_choices_match_the_server(tmp_path, monkeypatch):
    script = load_script(FakeReaper(tmp_path, 9, "", {}, []), monkeypatch)
    assert sorted(script.TECHNIQUES) == sorted(protocol.TECHNIQUES)
    for alias, name in script.TECHNIQUE_ALIASES.items():
        assert technique(alias).name == name
    assert script.STRENGTH_RANGE == (OPTIONS["strength"].low, OPTIONS["strength"].high)
    assert script.STEPS_RANGE == (OPTIONS["steps"].low, OPTIONS["steps"].high)
    assert script.DEFAULTS["strength"] == script.DEFAULTS["steps"] == "auto"  # each technique's own, chosen by the server


def test_script_osc_codec_agrees_with_python_osc(tmp_path, monkeypatch):
    script = load_script(FakeReaper(tmp_path, 9, "", {}, []), monkeypatch)
    ours = OscMessage(script.osc_message("/diffband/submit/file", "j1", "cross", "/tmp/ä.wav", 3, 0.25))
    assert ours.address == "/diffband/submit/file"
    assert ours.params == ["j1", "cross", "/tmp/ä.wav", 3, 0.25]
    theirs = build_msg("/diffband/layer/chunk", ["j1", "violin", 7, b"\x01\x02\x03\x04\x05", "end", True])
    assert script.osc_parse(theirs.dgram) == ("/diffband/layer/chunk", ["j1", "violin", 7, b"\x01\x02\x03\x04\x05", "end", True])
    assert script.osc_parse(b"garbage") is None


# ---- ReaPack -------------------------------------------------------------------------------------
def build_index():
    spec = importlib.util.spec_from_file_location("build_index", SCRIPT.parent / "build_index.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_reapack_index_describes_the_action_and_its_download_is_the_script():
    builder = build_index()
    index = ET.fromstring(builder.build(REPO.as_uri()))
    assert index.tag == "index" and index.get("version") == "1" and index.get("name") == "diffband"
    [package] = index.findall("./category/reapack")
    assert package.get("type") == "script" and package.get("name") == SCRIPT.name
    [version] = package.findall("version")
    assert version.get("name") == builder.header(SCRIPT.read_text())["version"]
    [source] = version.findall("source")
    assert source.get("main") == "main"  # listed in Reaper's Actions > Main section
    data = urllib.request.urlopen(source.text).read()  # what ReaPack downloads (file:// for a checkout)
    assert data == SCRIPT.read_bytes()
    assert source.get("hash") == "1220" + hashlib.sha256(data).hexdigest()
    published = ET.fromstring(builder.build("https://example.org/diffband/raw/main/"))
    assert published.find(".//source").text == "https://example.org/diffband/raw/main/max_patches/reaper/diffband_layers.py"


def test_a_refused_job_says_why_and_leaves_nothing_in_the_shared_folder(server, tmp_path, monkeypatch):
    project, source, _ = project_with_take(tmp_path)
    fake = FakeReaper(project, server.port, "cross|cello|0.5|2", {"src0": {"type": "WAVE", "file": str(source)}},
                      [{"source": "src0", **ITEM}])
    removed = record_removals(monkeypatch)
    script = run_script(fake, monkeypatch)
    [job] = script.SESSION.jobs.values()
    console = "".join(fake.console)
    assert job["state"] == "failed" and "failed:" in console and "cello" in console, console
    assert job["copy"].target in removed and not Path(job["copy"].target).exists()
    assert not fake.named("InsertTrackAtIndex")


def test_tidy_removes_only_what_lies_in_the_shared_folder(tmp_path, monkeypatch):
    """A server could name a layer path outside the shared folder: the action never deletes it."""
    script = load_script(FakeReaper(tmp_path, 9, "", {}, []), monkeypatch)
    shared, elsewhere = tmp_path / "share", tmp_path / "mine"
    (shared / "reaper" / "out").mkdir(parents=True)
    elsewhere.mkdir()
    copy, layer, outside = shared / "reaper" / "j.wav", shared / "reaper" / "out" / "j_violin.wav", elsewhere / "keep.wav"
    for path in (copy, layer, outside):
        path.write_bytes(b"RIFF")
    job = {"copy": types.SimpleNamespace(target=str(copy)), "layers": [("violin", str(layer)), ("guitar", str(outside))]}
    script.tidy(job, str(shared))
    assert not copy.exists() and not layer.exists() and outside.exists()
