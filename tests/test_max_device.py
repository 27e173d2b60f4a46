"""The Max for Live device: its patch is checked as data (Max does not run here), and its
logic (diffband.js) runs in node against the real server, with the test playing udpsend,
udpreceive and buffer~."""

from __future__ import annotations

import json
import queue
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import soundfile as sf
from pythonosc.osc_message_builder import build_msg
from pythonosc.osc_packet import OscPacket

from bridge import protocol
from bridge.server import DiffbandServer, ServerConfig
from engine.model import load_models
from tests.conftest import REPO

PATCHES = REPO / "max_patches"
PATCH = json.loads((PATCHES / "diffband.maxpat").read_text())["patcher"]
BOXES = {b["box"]["id"]: b["box"] for b in PATCH["boxes"]}
DOC = (REPO / "docs" / "osc.md").read_text()

#: Inlets/outlets of the Max objects the device uses, as Max itself saves them (read off
#: public patches), independent of the generator's own table.
MAX_IO = {
    "plugin~": (2, 2), "plugout~": (2, 2), "record~": (4, 1), "buffer~": (1, 2), "play~": (1, 3),
    "udpsend": (1, 0), "udpreceive": (1, 1), "prepend": (2, 1), "t": (1, 2), "sel": (2, 2), "*": (2, 1),
    "loadbang": (1, 1), "live.text": (1, 2), "live.tab": (1, 3), "live.menu": (1, 3), "live.dial": (1, 2),
    "live.numbox": (1, 2), "message": (2, 1), "comment": (1, 0), "button": (1, 1), "slider": (1, 1),
    "waveform~": (5, 6),
}


def kind(box: dict) -> str:
    return box["text"].split()[0] if box["maxclass"] == "newobj" else box["maxclass"]


def text_of(prefix: str) -> list[str]:
    return [b["text"] for b in BOXES.values() if b.get("text", "").startswith(prefix)]


def test_patch_is_the_generators_output():
    sys.path.insert(0, str(PATCHES))
    try:
        import build_device
    finally:
        sys.path.remove(str(PATCHES))
    assert build_device.build()["patcher"] == PATCH, "run python max_patches/build_device.py and commit"


def test_every_object_has_max_inlet_and_outlet_counts():
    js_source = (PATCHES / "diffband.js").read_text()
    js_io = (int(re.search(r"^inlets = (\d+);", js_source, re.M)[1]), int(re.search(r"^outlets = (\d+);", js_source, re.M)[1]))
    for box in BOXES.values():
        name = kind(box)
        if name == "route":
            expected = (2, len(box["text"].split()))  # one outlet per argument + reject
        else:
            expected = js_io if name == "js" else MAX_IO[name]
        assert (box["numinlets"], box["numoutlets"]) == expected, box["text"] if "text" in box else name
        assert len(box.get("outlettype", [])) == box["numoutlets"]


def test_every_patch_cord_joins_existing_boxes_at_valid_inlets_and_outlets():
    assert PATCH["lines"]
    for line in PATCH["lines"]:
        (src, outlet), (dst, inlet) = line["patchline"]["source"], line["patchline"]["destination"]
        assert src in BOXES and dst in BOXES, line
        assert 0 <= outlet < BOXES[src]["numoutlets"], (BOXES[src], outlet)
        assert 0 <= inlet < BOXES[dst]["numinlets"], (BOXES[dst], inlet)
    connected = {pl["patchline"][end][0] for pl in PATCH["lines"] for end in ("source", "destination")}
    for box in BOXES.values():
        if box["maxclass"] not in ("comment", "waveform~"):
            assert box["id"] in connected, f"{box.get('text', box['maxclass'])} is not wired"


def test_osc_ports_and_addresses_match_the_protocol():
    [send] = text_of("udpsend")
    [receive] = text_of("udpreceive")
    [js] = text_of("js ")
    assert send == f"udpsend {protocol.DEFAULT_HOST} {protocol.DEFAULT_PORT}"
    assert receive == f"udpreceive {protocol.DEFAULT_CLIENT_PORT}"
    assert js == f"js diffband.js {protocol.DEFAULT_CLIENT_PORT}"  # the reply port the script sends
    assert f"`{protocol.DEFAULT_PORT}`" in DOC and f"`{protocol.DEFAULT_CLIENT_PORT}`" in DOC
    used = set(re.findall(r'"(/diffband/[a-z/]+)"', (PATCHES / "diffband.js").read_text()))
    assert {"/diffband/status", "/diffband/submit/file", "/diffband/cancel", "/diffband/layer"} <= used
    for address in used:
        assert address in protocol.REQUESTS or address in protocol.REPLIES or address in protocol.LIVE_REPORTS, address
        assert f"`{address}`" in DOC, address


def test_live_parameters_are_named_and_match_techniques_and_models():
    params = {b["varname"]: b["saved_attribute_attributes"]["valueof"] for b in BOXES.values() if b.get("parameter_enable")}
    assert set(params) == {"Capture", "Length", "Technique", "Instrument", "Second", "Strength", "Steps", "Seed"}
    assert all(b["maxclass"].startswith("live.") for b in BOXES.values() if b.get("parameter_enable"))
    assert sorted(params["Technique"]["parameter_enum"]) == sorted(protocol.TECHNIQUES)
    js_source = (PATCHES / "diffband.js").read_text()
    assert f"var TECHNIQUES = {json.dumps(params['Technique']['parameter_enum'])};" in js_source  # same order
    assert f"var INSTRUMENTS = {json.dumps(params['Instrument']['parameter_enum'])};" in js_source
    shipped = {p.stem for p in (REPO / "models").glob("*.onnx")}
    assert set(params["Instrument"]["parameter_enum"]) <= shipped
    assert params["Second"]["parameter_enum"][0] == "none"
    assert params["Strength"]["parameter_mmin"] == 0.0 and params["Strength"]["parameter_mmax"] == 1.0
    assert all(b.get("presentation") for b in BOXES.values() if b.get("parameter_enable"))


# ---- the device's logic against the real server ---------------------------------------------
class MaxHost:
    """node running diffband.js; this object plays udpsend, udpreceive and buffer~."""

    def __init__(self, server_port: int, reply_port: int):
        self.server = ("127.0.0.1", server_port)
        self.udp_send = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp_receive = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp_receive.bind(("127.0.0.1", reply_port))
        self.proc = subprocess.Popen(
            ["node", str(REPO / "tests" / "maxjs_host.js"), str(PATCHES / "diffband.js"), str(reply_port)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
        )
        assert json.loads(self.proc.stdout.readline()) == {"ready": True, "inlets": 1, "outlets": 5}
        self.outlets: list[tuple[int, list]] = []
        self.events: queue.Queue = queue.Queue()
        threading.Thread(target=self._read_node, daemon=True).start()
        threading.Thread(target=self._read_udp, daemon=True).start()

    def to_js(self, **msg) -> None:
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()

    def _read_node(self) -> None:
        for line in self.proc.stdout:
            self.events.put(("node", json.loads(line)))

    def _read_udp(self) -> None:
        while True:
            try:
                data = self.udp_receive.recvfrom(65536)[0]
            except OSError:
                return
            self.events.put(("udp", data))

    def pump(self, until, timeout: float = 120.0, on_outlet=None) -> None:
        """Move messages both ways until ``until()`` holds."""
        deadline = time.monotonic() + timeout
        while not until():
            assert time.monotonic() < deadline, f"timed out; outlets so far: {self.outlets[-5:]}"
            try:
                source, item = self.events.get(timeout=0.2)
            except queue.Empty:
                continue
            if source == "node":
                n, args = item["outlet"], item["args"]
                self.outlets.append((n, args))
                if n == 0:  # udpsend: first element is the OSC address
                    self.udp_send.sendto(build_msg(args[0], args[1:]).dgram, self.server)
                if on_outlet:
                    on_outlet(n, args)
            else:  # udpreceive -> js inlet
                for m in OscPacket(item).messages:
                    self.to_js(message=m.message.address, args=list(m.message.params))

    def close(self) -> None:
        self.proc.kill()
        self.udp_send.close()
        self.udp_receive.close()


@pytest.fixture
def max_host(tmp_path):
    if not shutil.which("node"):
        pytest.fail("node is needed to run the device's [js] logic (Debian: apt-get install nodejs)")
    models = {m.name: m for m in load_models([str(REPO / "models" / f"{n}.onnx") for n in ("violin", "guitar")], device="cpu")}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        reply_port = s.getsockname()[1]
    with DiffbandServer(models, ServerConfig(port=0, allow=[tmp_path]), log=lambda _: None) as server:
        host = MaxHost(server.port, reply_port)
        try:
            yield host, tmp_path
        finally:
            host.close()


def test_device_logic_captures_sends_and_loads_layers(max_host):
    host, folder = max_host
    vocal, rate = sf.read(REPO / "models" / "example_vocal.wav", dtype="float32")
    clip = np.stack([vocal[: 3 * rate]] * 2, axis=1)

    host.to_js(call="init")
    host.pump(lambda: any(n == 2 and "ready" in a[0] for n, a in host.outlets))
    for name, value in (("technique", 0), ("instrument1", 0), ("instrument2", 2), ("strength", 0.5), ("steps", 4)):
        host.to_js(call=name, args=[value])

    def buffer_tilde(n, args):  # [buffer~ ---capture] answering "writewave <path>"
        if n == 1:
            assert args[0] == "writewave"
            sf.write(args[1], clip, rate)

    host.to_js(call="capture")
    host.pump(lambda: any(n == 2 and a[0].startswith(("done", "error")) for n, a in host.outlets), on_outlet=buffer_tilde)

    statuses = [a[0] for n, a in host.outlets if n == 2]
    assert statuses[-1].startswith("done"), statuses
    [submit] = [a for n, a in host.outlets if n == 0 and a[0] == "/diffband/submit/file"]
    assert submit[2] == "accompany" and submit[6] == "violin+guitar" and submit[-1] == host.udp_receive.getsockname()[1]
    loads = [a for n, a in host.outlets if n == 4]
    assert [a[0] for a in loads] == [0, 1, 2] and all(a[1] == "replace" for a in loads)
    for _, _, path in loads:  # the layer files the buffers load: full length, stereo, finite
        audio, layer_rate = sf.read(path, dtype="float32")
        assert layer_rate == rate and audio.shape == clip.shape and np.all(np.isfinite(audio))
        assert str(folder.resolve()) in path
    progress = [a[0] for n, a in host.outlets if n == 3]
    assert progress[-1] == 1 and max(progress) <= 1


def test_device_logic_reports_a_missing_server(tmp_path):
    if not shutil.which("node"):
        pytest.fail("node is needed to run the device's [js] logic")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]  # nobody listens here once the socket is closed
    host = MaxHost(dead, 0)
    try:
        host.to_js(call="capture")  # no /diffband/state ever came
        host.pump(lambda: any(n == 2 and "diffband serve" in a[0] for n, a in host.outlets), timeout=10)
        assert not any(n == 1 for n, _ in host.outlets)  # nothing written, nothing sent as a job
    finally:
        host.close()


def test_device_shows_the_latency_diffband_live_reports(tmp_path):
    """``diffband live``'s reporter -> real UDP -> the device's [js]: the musician reads
    the layers' latency in samples (what the dry track must be delayed by)."""
    if not shutil.which("node"):
        pytest.fail("node is needed to run the device's [js] logic")
    from bridge.live import LiveReporter, LiveStats

    host = MaxHost(9, 0)
    try:
        reporter = LiveReporter("127.0.0.1", host.udp_receive.getsockname()[1])
        stats = LiveStats(sample_rate=48000, window_seconds=1.5, compute_budget_seconds=0.4, latency_seconds=1.9,
                          latency_samples=91200, windows=12, late_windows=1)
        reporter.latency(stats)
        host.pump(lambda: any(n == 2 and "91200 samples" in a[0] for n, a in host.outlets), timeout=10)
        reporter.latency(stats)  # the same latency again (every second): no new status line
        reporter.stopped(stats)
        host.pump(lambda: any(n == 2 and a[0].startswith("live stopped") for n, a in host.outlets), timeout=10)
        statuses = [a[0] for n, a in host.outlets if n == 2]
        assert statuses == ["live: layers come 1900 ms (91200 samples at 48000 Hz) after the input - delay the dry "
                            "track by as much to line them up", "live stopped: 12 windows (1 late, 0 dropped)"]
    finally:
        host.close()
