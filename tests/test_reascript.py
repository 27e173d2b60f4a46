"""The Reaper action against a real diffband server, with a fake ``reaper_python`` module that
plays Reaper's part (returning tuples as Reaper's Python API does) and records every call."""

from __future__ import annotations

import importlib.util
import sys
import time
import types

import numpy as np
import pytest
import soundfile as sf
from pythonosc.osc_message_builder import build_msg
from pythonosc.osc_message import OscMessage

from bridge.server import DiffbandServer, ServerConfig
from engine.model import load_models
from tests.conftest import REPO

SCRIPT = REPO / "max_patches" / "reaper" / "diffband_layers.py"
RATE = 48000


class FakeReaper:
    """State of a tiny project: one track (number 3) holding one selected item."""

    def __init__(self, source: str, project: str, port: int, answers: str):
        self.calls: list[tuple] = []
        self.deferred: list[str] = []
        self.console: list[str] = []
        self.ext = {"port": str(port)}
        self.source, self.project, self.answers = source, project, answers
        self.item_values = {"D_POSITION": 12.5, "D_LENGTH": 2.0}
        self.take_values = {"D_STARTOFFS": 0.5, "D_PLAYRATE": 1.0}

    def module(self) -> types.ModuleType:
        mod = types.ModuleType("reaper_python")
        fake = self

        def record(name, result=None):
            def call(*args):
                fake.calls.append((name, *args))
                return result(*args) if callable(result) else result
            return call

        api = {
            "RPR_CountSelectedMediaItems": record("CountSelectedMediaItems", 1),
            "RPR_GetSelectedMediaItem": record("GetSelectedMediaItem", "item0"),
            "RPR_GetActiveTake": record("GetActiveTake", "take0"),
            "RPR_GetMediaItemTake_Source": record("GetMediaItemTake_Source", "src0"),
            "RPR_GetMediaSourceFileName": record("GetMediaSourceFileName", lambda s, buf, n: (s, fake.source, n)),
            "RPR_GetMediaItem_Track": record("GetMediaItem_Track", "track3"),
            "RPR_GetMediaItemInfo_Value": record("GetMediaItemInfo_Value", lambda i, k: fake.item_values[k]),
            "RPR_GetMediaItemTakeInfo_Value": record("GetMediaItemTakeInfo_Value", lambda t, k: fake.take_values[k]),
            "RPR_GetMediaTrackInfo_Value": record("GetMediaTrackInfo_Value", 3.0),
            "RPR_GetExtState": record("GetExtState", lambda s, k: fake.ext.get(k, "")),
            "RPR_SetExtState": record("SetExtState", None),
            "RPR_GetUserInputs": record("GetUserInputs", lambda t, n, c, cur, size: (True, t, n, c, fake.answers, size)),
            "RPR_ShowConsoleMsg": record("ShowConsoleMsg", lambda m: fake.console.append(m)),
            "RPR_ShowMessageBox": record("ShowMessageBox", 1),
            "RPR_GetProjectPath": record("GetProjectPath", lambda buf, n: (fake.project, n)),
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


def run_script(fake: FakeReaper, monkeypatch, timeout: float = 180.0) -> types.ModuleType:
    """Load the action as Reaper would run it, then run its deferred callbacks until it stops."""
    monkeypatch.setitem(sys.modules, "reaper_python", fake.module())
    monkeypatch.setenv("DIFFBAND_REASCRIPT_NO_AUTORUN", "1")
    spec = importlib.util.spec_from_file_location("diffband_layers", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    script.main()
    deadline = time.monotonic() + timeout
    while fake.deferred and time.monotonic() < deadline:
        exec(fake.deferred.pop(0), vars(script))  # Reaper runs deferred code on its next UI cycle
        time.sleep(0.03)
    assert not fake.deferred, "the action was still waiting at the timeout"
    return script


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    models = {m.name: m for m in load_models([str(REPO / "models" / f"{n}.onnx") for n in ("violin", "guitar")], device="cpu")}
    allowed = tmp_path_factory.mktemp("server-folder")
    with DiffbandServer(models, ServerConfig(port=0, allow=[allowed]), log=lambda _: None) as srv:
        yield srv


def test_action_inserts_a_track_per_layer_aligned_with_the_item(server, tmp_path, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    vocal, rate = sf.read(REPO / "models" / "example_vocal.wav", dtype="float32")
    from soxr import resample

    source = project / "vocal take.wav"
    sf.write(source, resample(vocal, rate, RATE), RATE)  # a file outside the server's folder
    fake = FakeReaper(str(source), str(project), server.port, "accompany,violin guitar,0.5,4")
    run_script(fake, monkeypatch)

    console = "".join(fake.console)
    assert "failed" not in console and "2 layer(s) inserted" in console
    assert "100%" in console  # progress was shown
    assert [c[1] for c in fake.named("InsertTrackAtIndex")] == [3, 4]  # right under track 3
    names = [c[3] for c in fake.named("GetSetMediaTrackInfo_String")]
    assert names == ["diffband violin", "diffband guitar"]
    positions = [(c[2], c[3]) for c in fake.named("SetMediaItemInfo_Value")]
    assert positions == [("D_POSITION", 12.5), ("D_LENGTH", 2.0)] * 2
    files = [c[1] for c in fake.named("PCM_Source_CreateFromFile")]
    assert len(files) == 2
    for path in files:
        assert path.startswith(str(project / "diffband"))  # kept with the project
        audio, layer_rate = sf.read(path, dtype="float32")
        assert layer_rate == RATE and audio.shape[0] == int(2.0 * RATE)  # only the item's region
        assert np.all(np.isfinite(audio)) and np.max(np.abs(audio)) > 1e-3
    assert fake.named("Undo_BeginBlock2") and fake.named("Undo_EndBlock2")
    assert fake.ext  # settings were stored for next time
    assert ("SetExtState", "diffband", "with", "violin guitar", True) in fake.calls


def test_action_reports_a_missing_server(tmp_path, monkeypatch):
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    source = tmp_path / "a.wav"
    sf.write(source, np.zeros(4800, dtype=np.float32), RATE)
    fake = FakeReaper(str(source), str(tmp_path), dead_port, "cross,violin,0.5,4")
    run_script(fake, monkeypatch)
    [box] = fake.named("ShowMessageBox")
    assert "diffband serve" in box[1]
    assert not fake.named("InsertTrackAtIndex")


def test_action_with_no_selection_says_so(tmp_path, monkeypatch):
    fake = FakeReaper("", str(tmp_path), 9, "")
    module = fake.module()
    module.RPR_CountSelectedMediaItems = lambda proj: 0
    fake.module = lambda: module
    run_script(fake, monkeypatch)
    assert fake.named("ShowMessageBox") and "Select" in fake.named("ShowMessageBox")[0][1]


def test_script_osc_codec_agrees_with_python_osc(monkeypatch):
    monkeypatch.setenv("DIFFBAND_REASCRIPT_NO_AUTORUN", "1")
    spec = importlib.util.spec_from_file_location("diffband_layers_codec", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    ours = OscMessage(script.osc_message("/diffband/submit/file", "j1", "cross", "/tmp/ä.wav", 3, 0.25))
    assert ours.address == "/diffband/submit/file"
    assert ours.params == ["j1", "cross", "/tmp/ä.wav", 3, 0.25]
    theirs = build_msg("/diffband/layer/chunk", ["j1", "violin", 7, b"\x01\x02\x03\x04\x05", "end", True])
    assert script.osc_parse(theirs.dgram) == ("/diffband/layer/chunk", ["j1", "violin", 7, b"\x01\x02\x03\x04\x05", "end", True])
    assert script.osc_parse(b"garbage") is None
