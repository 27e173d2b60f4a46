"""The Max for Live device: its patch and .amxd are checked as data (Max does not run here), and
its logic (diffband.js) runs in node against the real server, with the test playing udpsend,
udpreceive and buffer~ for one or several devices of one Live set."""

from __future__ import annotations

import json
import queue
import re
import select
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import soundfile as sf
from pythonosc.osc_message_builder import build_msg
from pythonosc.osc_packet import OscPacket

from diffband.bridge import protocol
from diffband.bridge.protocol import NO_JOB
from diffband.bridge.server import DiffbandServer, ServerConfig
from diffband.bridge.transport import encode_message
from diffband.engine.model import load_models
from diffband.engine.options import OPTIONS as ENGINE_OPTIONS
from diffband.engine.techniques import TECHNIQUES as ENGINE_TECHNIQUES
from tests.conftest import REPO

PATCHES = REPO / "max_patches"
SCRIPT = PATCHES / "diffband.js"
PATCH = json.loads((PATCHES / "diffband.maxpat").read_text())["patcher"]
BOXES = {b["box"]["id"]: b["box"] for b in PATCH["boxes"]}
DOC = (REPO / "docs" / "osc.md").read_text()

#: Inlets/outlets of the Max objects the device uses, as Max itself saves them (read off
#: public patches), independent of the generator's own table.
MAX_IO = {
    "plugin~": (2, 2), "plugout~": (2, 2), "record~": (4, 1), "snapshot~": (2, 1), "buffer~": (1, 2), "play~": (1, 3),
    "udpsend": (1, 0), "udpreceive": (1, 1), "prepend": (2, 1), "*": (2, 1),
    "loadbang": (1, 1), "live.text": (1, 2), "live.tab": (1, 3), "live.menu": (1, 3),
    "live.numbox": (1, 2), "message": (2, 1), "comment": (1, 0), "button": (1, 1), "slider": (1, 1),
    "waveform~": (5, 6),
}


def kind(box: dict) -> str:
    return box["text"].split()[0] if box["maxclass"] == "newobj" else box["maxclass"]


def text_of(prefix: str) -> list[str]:
    return [b["text"] for b in BOXES.values() if b.get("text", "").startswith(prefix)]


def build_device():
    sys.path.insert(0, str(PATCHES))
    try:
        import build_device
    finally:
        sys.path.remove(str(PATCHES))
    return build_device


#: Seconds from 1904-01-01 (the HFS epoch a frozen device's ``mdat`` counts from) to 1970-01-01.
HFS_EPOCH_OFFSET = 2082844800


def read_device(data: bytes) -> dict[bytes, bytes]:
    """Live's container: chunks of a 4-byte tag and a little-endian size (ampf, meta, ptch)."""
    chunks, at = {}, 0
    while at < len(data):
        tag, size = data[at:at + 4], struct.unpack("<I", data[at + 4:at + 8])[0]
        chunks[tag] = data[at + 8:at + 8 + size]
        at += 8 + size
    assert at == len(data), "a chunk runs past the end of the file"
    return chunks


def read_frozen(patch: bytes) -> list[dict]:
    """The files of a frozen ``ptch``, read as Ableton's maxdevtools reads them (maxdiff's
    freezing_utils): ``mx@c``, a big-endian 64-bit offset of the ``dlst`` directory at byte 8,
    one ``dire`` per file of big-endian sized fields; every field a directory entry holds."""
    assert patch[:4] == b"mx@c"
    directory = patch[struct.unpack(">Q", patch[8:16])[0]:]
    assert directory[:4] == b"dlst" and struct.unpack(">I", directory[4:8])[0] == len(directory)
    entries, at = [], 8
    while at < len(directory):
        assert directory[at:at + 4] == b"dire"
        size = struct.unpack(">I", directory[at + 4:at + 8])[0]
        raw, fields, inner = directory[at + 8:at + size], {}, 0
        while inner < len(raw):
            tag, length = raw[inner:inner + 4].decode("ascii"), struct.unpack(">I", raw[inner + 4:inner + 8])[0]
            fields[tag] = raw[inner + 8:inner + length]
            inner += length
        assert list(fields) == ["type", "fnam", "sz32", "of32", "vers", "flag", "mdat"]
        assert len(fields["fnam"]) % 4 == 0 and fields["fnam"].endswith(b"\0")
        offset, length = (struct.unpack(">I", fields[k])[0] for k in ("of32", "sz32"))
        entries.append({"type": fields["type"], "name": fields["fnam"].rstrip(b"\0").decode("ascii"),
                        "flag": struct.unpack(">I", fields["flag"])[0], "data": patch[offset:offset + length],
                        "offset": offset, "size": length,
                        "modified": struct.unpack(">I", fields["mdat"])[0] - HFS_EPOCH_OFFSET})
        at += size
    return entries


def test_patch_device_and_script_are_the_generators_output():
    builder = build_device()
    document = builder.build()
    assert document["patcher"] == PATCH, "run python max_patches/build_device.py and commit"
    script = SCRIPT.read_text()
    assert builder.with_config(script) == script, "run python max_patches/build_device.py"
    device = (PATCHES / "diffband.amxd").read_bytes()
    files = {entry["name"]: entry["data"] for entry in read_frozen(read_device(device)[b"ptch"])}
    assert files == {"diffband.amxd": builder.patch_text(document).encode() + b"\0", "diffband.js": script.encode()}, \
        "run python max_patches/build_device.py"
    assert builder.device_bytes(document, script) == device  # a rebuild of the same sources changes no byte


def test_the_amxd_is_one_frozen_audio_effect_carrying_its_script():
    """One file is the install: the device is frozen with diffband.js inside, laid out as the
    frozen device Max wrote in Ableton's maxdevtools tests: files back to back after a 16-byte
    header, the device's own patch first (type JSON, flag 0x11), the script as TEXT (flag 0)."""
    chunks = read_device((PATCHES / "diffband.amxd").read_bytes())
    assert list(chunks) == [b"ampf", b"meta", b"ptch"]
    assert chunks[b"ampf"] == b"aaaa"  # audio effect: Live offers it on audio tracks
    assert struct.unpack("<I", chunks[b"meta"])[0] == 7  # frozen, as Max marks it
    assert struct.unpack(">I", chunks[b"ptch"][4:8])[0] == 16
    entries = read_frozen(chunks[b"ptch"])
    assert [(e["type"], e["name"], e["flag"]) for e in entries] == [(b"JSON", "diffband.amxd", 0x11), (b"TEXT", "diffband.js", 0)]
    assert [e["offset"] for e in entries] == [16, 16 + entries[0]["size"]]
    assert 16 + sum(e["size"] for e in entries) == struct.unpack(">Q", chunks[b"ptch"][8:16])[0]
    assert all(2026 <= time.gmtime(e["modified"]).tm_year < 2040 for e in entries)  # a real date, not the HFS epoch
    patch = entries[0]["data"]
    assert patch.endswith(b"\0")
    assert json.loads(patch[:-1]) == json.loads((PATCHES / "diffband.maxpat").read_text())
    dependencies = json.loads(patch[:-1])["patcher"]["dependency_cache"]
    assert {"name": "diffband.js", "type": "TEXT"}.items() <= dependencies[0].items()
    js_boxes = [box["box"]["text"] for box in PATCH["boxes"] if box["box"].get("text", "").startswith("js ")]
    assert js_boxes and all(text.split()[1] == "diffband.js" for text in js_boxes)


def test_every_object_has_max_inlet_and_outlet_counts():
    js_source = SCRIPT.read_text()
    js_io = (int(re.search(r"^inlets = (\d+);", js_source, re.M)[1]), int(re.search(r"^outlets = (\d+);", js_source, re.M)[1]))
    for box in BOXES.values():
        name = kind(box)
        if name in ("route", "t"):
            args = box["text"].split()[1:]  # one outlet per argument (route: and one for the rest)
            expected = (2, len(args) + 1) if name == "route" else (1, len(args))
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


def test_the_capture_reports_how_far_record_got_before_it_stops():
    """Capture's [t i i b] fires right to left: snapshot~ of record~'s sync outlet (the share of
    the buffer recorded), then record~'s start/stop, then the script's "capture"."""
    [trigger] = [b for b in BOXES.values() if b.get("text") == "t i i b"]
    [record] = [b for b in BOXES.values() if kind(b) == "record~"]
    [snapshot] = [b for b in BOXES.values() if kind(b) == "snapshot~"]
    wires = {(pl["patchline"]["source"][0], pl["patchline"]["source"][1], pl["patchline"]["destination"][0])
             for pl in PATCH["lines"]}
    assert (record["id"], 0, snapshot["id"]) in wires
    assert (trigger["id"], 2, snapshot["id"]) in wires and (trigger["id"], 1, record["id"]) in wires
    into = {src: BOXES[dst].get("text") for src, _, dst in wires if src in (snapshot["id"], trigger["id"])}
    assert into[snapshot["id"]] == "prepend recorded"
    assert any(BOXES[d].get("text") == "prepend capture" for s, o, d in wires if s == trigger["id"] and o == 0)


def test_osc_ports_and_addresses_match_the_protocol():
    [send] = text_of("udpsend")
    [receive] = text_of("udpreceive")
    [js] = text_of("js ")
    assert send == f"udpsend {protocol.DEFAULT_HOST} {protocol.DEFAULT_PORT}"
    assert receive == f"udpreceive {protocol.DEFAULT_CLIENT_PORT}"
    assert js == f"js diffband.js {protocol.DEFAULT_CLIENT_PORT}"  # the first reply port a device tries
    assert f"`{protocol.DEFAULT_PORT}`" in DOC and f"`{protocol.DEFAULT_CLIENT_PORT}`" in DOC
    used = set(re.findall(r'"(/diffband/[a-z/]+)"', SCRIPT.read_text()))
    assert {"/diffband/status", "/diffband/models", "/diffband/submit/file", "/diffband/cancel", "/diffband/layer"} <= used
    for address in used:
        assert address in protocol.REQUESTS or address in protocol.REPLIES or address in protocol.LIVE_REPORTS, address
        assert f"`{address}`" in DOC, address


def test_live_parameters_come_from_the_technique_registry():
    params = {b["varname"]: b["saved_attribute_attributes"]["valueof"] for b in BOXES.values() if b.get("parameter_enable")}
    job_options = [o for o in protocol.OPTIONS if o not in protocol.BRIDGE_OPTIONS]  # what a job may set
    names = {o.replace("_", " ").title(): o for o in job_options}
    assert set(params) == {"Capture", "Length", "Technique", "Instrument", "Second", *names}
    assert all(b["maxclass"].startswith("live.") for b in BOXES.values() if b.get("parameter_enable"))
    assert sorted(params["Technique"]["parameter_enum"]) == sorted(protocol.TECHNIQUES)
    for label, name in names.items():
        option, values = ENGINE_OPTIONS[name], params[label]
        assert values["parameter_info"] == option.help
        if option.choices:
            assert values["parameter_enum"] == list(option.choices)
            assert values["parameter_initial"] == [option.choices.index(option.default)]
        else:
            assert (values["parameter_mmin"], values["parameter_mmax"]) == (option.low, option.high), name
            assert values["parameter_initial"] == [option.default]
            assert values["parameter_type"] == (1 if option.kind is int else 0)
    shipped = {p.stem for p in (REPO / "models").glob("*.onnx")}
    assert set(params["Instrument"]["parameter_enum"]) == shipped  # until the server lists its models
    assert params["Second"]["parameter_enum"][0] == "none"
    assert all(b.get("presentation") for b in BOXES.values() if b.get("parameter_enable"))


def test_every_control_lies_inside_the_device_live_shows():
    """Live shows a device DEVICE_HEIGHT px tall and devicewidth wide: a control placed outside is unreachable."""
    height = build_device().DEVICE_HEIGHT
    shown = [b for b in BOXES.values() if b.get("presentation")]
    assert shown
    for box in shown:
        x, y, w, h = box["presentation_rect"]
        assert x >= 0 and y >= 0 and x + w <= PATCH["devicewidth"] and y + h <= height, box.get("varname", box["id"])


def test_the_script_knows_which_options_each_technique_takes():
    source = SCRIPT.read_text()
    taken = json.loads(re.search(r"^var TECHNIQUE_OPTIONS = (.*);$", source, re.M)[1])
    assert set(taken) == set(protocol.TECHNIQUES)
    for name, options in taken.items():
        assert set(options) == set(ENGINE_TECHNIQUES[name].defaults) - protocol.NOT_JOB_OPTIONS, name


# ---- the device's logic against the real server ---------------------------------------------
class MaxHost:
    """node running diffband.js for each device of a Live set; this object plays each device's
    udpsend, udpreceive (bound to the port the script asks for) and, by callback, buffer~."""

    def __init__(self, server_port: int):
        if not shutil.which("node"):
            pytest.fail("node is needed to run the device's [js] logic (Debian: apt-get install nodejs)")
        self.server = ("127.0.0.1", server_port)
        self.proc = subprocess.Popen(
            ["node", str(REPO / "tests" / "maxjs_host.js"), str(SCRIPT)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
        )
        self.outlets: list[tuple[int, int, list]] = []  # (device, outlet, args)
        self.events: queue.Queue = queue.Queue()
        self.senders: dict[int, socket.socket] = {}
        self.receivers: dict[int, socket.socket] = {}
        self.listeners: dict[int, tuple[threading.Event, threading.Thread]] = {}
        self.ready: set[int] = set()
        threading.Thread(target=self._read_node, daemon=True).start()

    def add_device(self, base_port: int) -> int:
        """A device [js diffband.js base_port] in the set; its id."""
        device = len(self.senders)
        self.senders[device] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._write({"create": device, "args": [base_port]})
        self.pump(lambda: device in self.ready, timeout=10)
        return device

    def call(self, device: int, name: str, *args) -> None:
        self._write({"device": device, "call": name, "args": list(args)})

    def delete(self, device: int) -> None:
        """The device leaves the set: its script hears notifydeleted, its [udpreceive] closes."""
        self._write({"device": device, "delete": True})
        self._stop_listening(device)

    def _stop_listening(self, device: int) -> None:
        stop, thread = self.listeners.pop(device)
        stop.set()
        thread.join()
        self.receivers.pop(device).close()

    def _write(self, msg: dict) -> None:
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()

    def _read_node(self) -> None:
        for line in self.proc.stdout:
            self.events.put(("node", json.loads(line)))

    def _listen(self, device: int, port: int) -> None:
        """[udpreceive] told "port N": bind it (a second device on the same port would fail here)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", port))
        stop = threading.Event()

        def read() -> None:
            while not stop.is_set():
                if select.select([sock], [], [], 0.1)[0]:
                    self.events.put(("udp", (device, sock.recvfrom(65536)[0])))

        thread = threading.Thread(target=read, daemon=True)
        thread.start()
        self.receivers[device] = sock
        self.listeners[device] = (stop, thread)

    def statuses(self, device: int = 0) -> list[str]:
        return [a[0] for d, n, a in self.outlets if d == device and n == 2]

    def of(self, device: int, outlet: int) -> list[list]:
        return [a for d, n, a in self.outlets if d == device and n == outlet]

    def pump(self, until, timeout: float = 120.0, on_outlet=None) -> None:
        """Move messages both ways until ``until()`` holds."""
        deadline = time.monotonic() + timeout
        while not until():
            assert time.monotonic() < deadline, f"timed out; outlets so far: {self.outlets[-6:]}"
            try:
                source, item = self.events.get(timeout=0.2)
            except queue.Empty:
                continue
            if source == "udp":  # udpreceive -> js inlet
                device, data = item
                for m in OscPacket(data).messages:
                    self._write({"device": device, "message": m.message.address, "args": list(m.message.params)})
                continue
            if item.get("ready"):
                assert (item["inlets"], item["outlets"]) == (1, 7)
                self.ready.add(item["device"])
                continue
            device, n, args = item["device"], item["outlet"], item["args"]
            self.outlets.append((device, n, args))
            if n == 0:  # udpsend: first element is the OSC address
                if not on_outlet or on_outlet(device, n, args) is not False:
                    self.senders[device].sendto(build_msg(args[0], args[1:]).dgram, self.server)
                continue
            if n == 5:
                assert args[0] == "port"
                self._listen(device, args[1])
            if on_outlet:
                on_outlet(device, n, args)

    def close(self) -> None:
        self.proc.kill()
        for device in list(self.listeners):
            self._stop_listening(device)
        for sock in self.senders.values():
            sock.close()


def free_port_pair() -> int:
    """A port P with P and P + 1 free for UDP on loopback (two devices' reply ports)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b:
                try:
                    b.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return port
    raise RuntimeError("no free pair of UDP ports")


VOCAL, VOCAL_RATE = sf.read(REPO / "models" / "example_vocal.wav", dtype="float32")


def buffer_tilde(takes: dict[int, np.ndarray], seconds: float = 10.0):
    """[buffer~ ---capture] answering "writewave <path>": the whole buffer (``seconds`` long) is
    written, the device's take first and, after it, older audio that must never be sent."""
    stale = 0.5 * np.sign(np.sin(2 * np.pi * 50 * np.arange(int(seconds * VOCAL_RATE)) / VOCAL_RATE))

    def answer(device: int, n: int, args: list) -> None:
        if n == 1:
            assert args[0] == "writewave"
            take = takes[device]
            whole = np.stack([stale, stale], axis=1).astype(np.float32)
            whole[: len(take)] = take
            sf.write(args[1], whole, VOCAL_RATE)

    return answer


def stereo_take(seconds: float, offset: float = 0.0) -> np.ndarray:
    start = int(offset * VOCAL_RATE)
    mono = VOCAL[start:start + int(seconds * VOCAL_RATE)]
    return np.stack([mono, mono], axis=1)


def capture(host: MaxHost, device: int, fraction: float) -> None:
    """Capture on, record~ reaching ``fraction`` of the buffer, capture off."""
    host.call(device, "capture", 1)
    host.call(device, "recorded", fraction)
    host.call(device, "capture", 0)


def ready(host: MaxHost, device: int) -> None:
    host.call(device, "init")
    host.pump(lambda: any(s.startswith("models:") for s in host.statuses(device))
              and any(s.startswith("ready") for s in host.statuses(device)))


def ended(host: MaxHost, device: int, jobs: int = 1):
    return lambda: sum(s.startswith(("done", "error")) for s in host.statuses(device)) >= jobs


@pytest.fixture(scope="module")
def models():
    return {m.name: m for m in load_models([str(REPO / "models" / f"{n}.onnx") for n in ("violin", "guitar")], device="cpu")}


@pytest.fixture
def max_host(models, tmp_path):
    with DiffbandServer(models, ServerConfig(port=0, allow=[tmp_path]), log=lambda _: None) as server:
        host = MaxHost(server.port)
        try:
            yield host, tmp_path
        finally:
            host.close()


def test_device_sends_exactly_the_recorded_seconds_with_the_registry_options(max_host):
    host, folder = max_host
    device = host.add_device(free_port_pair())
    ready(host, device)
    # the menus are filled from the server's /diffband/models reply, not a list in the device
    assert host.of(device, 6) == [["instrument1", "_parameter_range", "violin", "guitar"],
                                  ["instrument2", "_parameter_range", "none", "violin", "guitar"]]
    for name, args in (("technique", [0]), ("instrument1", [0]), ("instrument2", [2]), ("seconds", [10]),
                       ("option", ["steps", 4]), ("option", ["layer_gain", -6.0]), ("option", ["sampler", 1])):
        host.call(device, name, *args)
    take = stereo_take(2.5)
    capture(host, device, 0.25)  # record~ got a quarter through the 10 s buffer: 2.5 s
    host.pump(ended(host, device), on_outlet=buffer_tilde({device: take}))

    statuses = host.statuses(device)
    assert statuses[-1].startswith("done"), statuses
    [submit] = [a for a in host.of(device, 0) if a[0] == "/diffband/submit/file"]
    job = submit[1]
    options = dict(zip(submit[5:-1:2], submit[6:-1:2]))
    assert submit[2] == "accompany" and options.pop("with") == "violin+guitar"
    assert options == {"strength": ENGINE_OPTIONS["strength"].default, "layer_gain": -6.0, "steps": 4,
                       "seed": 0, "sampler": "ddpm", "eta": 0.0, "eps_scale": ENGINE_OPTIONS["eps_scale"].default,
                       "follow": "auto", "guidance": ENGINE_OPTIONS["guidance"].default,
                       "octave": 0, "register": ENGINE_OPTIONS["register"].default, "duration": 2.5}
    assert submit[-1] == host.receivers[device].getsockname()[1]
    loads = host.of(device, 4)
    assert [a[:2] for a in loads] == [[0, "replace"], [1, "replace"], [2, "replace"]]
    for _, _, path in loads:  # only the take: not the buffer's older audio after it
        audio, rate = sf.read(path, dtype="float32")
        assert job in path and str(folder.resolve()) in path
        assert rate == VOCAL_RATE and audio.shape == take.shape and np.all(np.isfinite(audio))
    progress = [a[0] for a in host.of(device, 3)]
    assert progress[-1] == 1 and max(progress) <= 1


def test_the_status_says_how_many_octaves_a_layer_was_grown(max_host, models):
    """With register instrument, each layer's status line carries the octave the server reports."""
    from diffband.engine.register import layer_octaves

    host, _ = max_host
    device = host.add_device(free_port_pair())
    ready(host, device)
    for name, args in (("technique", [0]), ("instrument1", [0]), ("instrument2", [2]), ("seconds", [10]),
                       ("option", ["steps", 2]), ("option", ["register", 1])):
        host.call(device, name, *args)
    take = stereo_take(2.5)
    capture(host, device, 0.25)
    host.pump(ended(host, device), on_outlet=buffer_tilde({device: take}))
    violin, guitar = layer_octaves([models["violin"], models["guitar"]], take, VOCAL_RATE, "instrument", 0, 30)
    assert violin != 0 or guitar != 0  # the take moves at least one layer: the line is tested, not skipped

    def named(octaves: int) -> str:
        return "" if octaves == 0 else f" ({octaves:+d} octave{'' if abs(octaves) == 1 else 's'})"

    lines = [s for s in host.statuses(device) if s.startswith("layer ")]
    assert any(s.startswith(f"layer violin{named(violin)}: ") for s in lines), lines
    assert any(s.startswith(f"layer guitar{named(guitar)}: ") for s in lines), lines
    assert any(s.startswith("layer mix: ") for s in lines), lines


def test_two_devices_in_a_set_claim_their_own_reply_ports(max_host):
    host, folder = max_host
    base = free_port_pair()
    first, second = host.add_device(base), host.add_device(base)
    ready(host, first)
    ready(host, second)
    assert [host.of(d, 5) for d in (first, second)] == [[["port", base]], [["port", base + 1]]]
    takes = {first: stereo_take(1.0), second: stereo_take(1.0, offset=2.0)}
    for device in (first, second):
        for name, args in (("technique", [2]), ("instrument1", [0]), ("option", ["steps", 2])):
            host.call(device, name, *args)
        capture(host, device, 0.1)
    host.pump(lambda: ended(host, first)() and ended(host, second)(), on_outlet=buffer_tilde(takes))
    for device in (first, second):  # each device got its own job's replies, and only those
        [job] = [a[1] for a in host.of(device, 0) if a[0] == "/diffband/submit/file"]
        assert host.statuses(device)[-1].startswith("done"), host.statuses(device)
        [(_, _, path)] = host.of(device, 4)
        assert f"{job}_violin.wav" in path
    host.delete(first)  # its port is free again for the next device
    third = host.add_device(base)
    host.call(third, "init")
    host.pump(lambda: host.of(third, 5) == [["port", base]], timeout=10)


def test_a_technique_sends_its_own_registry_defaults(max_host):
    """Options the musician left alone go out at the technique's default: chorus keeps its own
    20 steps (its entry in the registry), cross the option table's."""
    host, folder = max_host
    device = host.add_device(free_port_pair())
    ready(host, device)
    answer = buffer_tilde({device: stereo_take(1.0)})
    techniques = json.loads(re.search(r"^var TECHNIQUES = (.*);$", SCRIPT.read_text(), re.M)[1])
    for jobs, name in enumerate(("chorus", "cross"), start=1):
        for call, args in (("technique", [techniques.index(name)]), ("instrument1", [0]), ("instrument2", [2])):
            host.call(device, call, *args)
        capture(host, device, 0.1)
        host.pump(ended(host, device, jobs=jobs), on_outlet=answer)
        submit = [a for a in host.of(device, 0) if a[0] == "/diffband/submit/file"][-1]
        options = dict(zip(submit[5:-1:2], submit[6:-1:2]))
        assert submit[2] == name and options["steps"] == ENGINE_TECHNIQUES[name].defaults["steps"], (name, options)
    assert ENGINE_TECHNIQUES["chorus"].defaults["steps"] != ENGINE_OPTIONS["steps"].default  # the case this covers


def test_switching_technique_sets_the_controls_to_its_defaults_as_live_restores_them(max_host):
    """In Live every control sends its value as the device loads, so "the musician left it alone"
    cannot be told from a restored value: switching to chorus moves the Steps control to chorus's
    20 (and back to 10 for cross), what the control shows goes out, and a value the musician
    then sets wins.  The first technique at load is a restore and moves nothing."""
    host, folder = max_host
    device = host.add_device(free_port_pair())
    ready(host, device)
    techniques = json.loads(re.search(r"^var TECHNIQUES = (.*);$", SCRIPT.read_text(), re.M)[1])
    take = buffer_tilde({device: stereo_take(1.0)})

    def control_echo(d: int, n: int, args: list) -> None:  # [route ...] -> the control -> "option"
        take(d, n, args)
        if n == 6 and args[0] in ENGINE_OPTIONS:
            host.call(d, "option", *args)

    host.call(device, "option", "steps", ENGINE_OPTIONS["steps"].default)  # Live's load: initial values
    host.call(device, "technique", techniques.index("chorus"))  # a set saved on chorus, restored
    host.call(device, "technique", techniques.index("chorus"))
    sent = []
    for jobs, (name, steps_set) in enumerate((("chorus", None), ("accompany", None), ("chorus", None), ("chorus", 7), ("cross", None)), start=1):
        host.call(device, "technique", techniques.index(name))
        for call, args in (("instrument1", [0]), ("instrument2", [2])) + ((("option", ["steps", steps_set]),) if steps_set else ()):
            host.call(device, call, *args)
        capture(host, device, 0.1)
        host.pump(ended(host, device, jobs=jobs), on_outlet=control_echo)
        submit = [a for a in host.of(device, 0) if a[0] == "/diffband/submit/file"][-1]
        sent.append((submit[2], dict(zip(submit[5:-1:2], submit[6:-1:2]))["steps"]))
    chorus_steps, table_steps = ENGINE_TECHNIQUES["chorus"].defaults["steps"], ENGINE_OPTIONS["steps"].default
    # restored on chorus with the control at 10: 10 goes out; switching away and back shows 20
    assert sent == [("chorus", table_steps), ("accompany", table_steps), ("chorus", chorus_steps), ("chorus", 7),
                    ("cross", table_steps)]
    assert [a for a in host.of(device, 6) if a[0] == "steps"] == [["steps", s] for s in (table_steps, chorus_steps, table_steps)]
    route = next(key for key, box in BOXES.items() if box.get("text", "").startswith("route instrument1"))
    steps = next(key for key, box in BOXES.items() if box.get("varname") == "Steps")
    outlet = BOXES[route]["text"].split()[1:].index("steps")
    assert {"source": [route, outlet], "destination": [steps, 0]} in [line["patchline"] for line in PATCH["lines"]]


def test_capture_files_are_reused_not_piled_up(max_host):
    """Each device writes its takes into two files of its own, overwritten once their jobs end."""
    host, folder = max_host
    device = host.add_device(free_port_pair())
    ready(host, device)
    for name, args in (("technique", [2]), ("instrument1", [0]), ("option", ["steps", 2])):
        host.call(device, name, *args)
    answer = buffer_tilde({device: stereo_take(1.0)})
    for _ in range(3):  # the third take comes while the first two jobs are still the device's
        capture(host, device, 0.1)
    host.pump(ended(host, device, jobs=2), on_outlet=answer)
    assert any("2 jobs are still running" in s for s in host.statuses(device))
    capture(host, device, 0.1)  # and once they ended, the next take reuses a file
    host.pump(ended(host, device, jobs=3), on_outlet=answer)
    written = [a[1] for a in host.of(device, 1)]
    assert len(written) == 3 and len(set(written)) == 2
    assert sorted(p.name for p in folder.glob("*.wav")) == sorted({p.rsplit("/", 1)[1] for p in written})


def test_an_error_that_names_no_job_is_shown_and_frees_the_take(max_host):
    """The server answers a request it cannot tie to a job with job_id NO_JOB (docs/osc.md): the
    device shows it instead of waiting on "sent ..." forever, and frees the take's file."""
    host, folder = max_host
    device = host.add_device(free_port_pair())
    ready(host, device)
    answer = buffer_tilde({device: stereo_take(1.0)})
    dropped = []

    def lose_the_submit(d, n, args):  # the submit reaches no job: the server's reply names none
        if n == 0 and args[0] == "/diffband/submit/file":
            dropped.append(args)
            return False
        return answer(d, n, args)

    capture(host, device, 0.1)
    host.pump(lambda: dropped, on_outlet=lose_the_submit, timeout=10)
    reply_port = host.receivers[device].getsockname()[1]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server_side:
        server_side.sendto(encode_message("/diffband/error", "other-client", "failed", "not ours"), ("127.0.0.1", reply_port))
        server_side.sendto(encode_message("/diffband/error", NO_JOB, "bad_args", "job_id must be ..."), ("127.0.0.1", reply_port))
        host.pump(lambda: any(s.startswith("error") for s in host.statuses(device)), timeout=10)
    assert host.statuses(device)[-1] == "error (bad_args): job_id must be ..."
    capture(host, device, 0.1)  # the refused take's file is free: the next take writes it again
    host.pump(lambda: len(host.of(device, 1)) == 2, on_outlet=lose_the_submit, timeout=10)
    assert host.of(device, 1)[0] == host.of(device, 1)[1]


def test_device_logic_reports_a_missing_server(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]  # nobody listens here once the socket is closed
    host = MaxHost(dead)
    try:
        device = host.add_device(free_port_pair())
        capture(host, device, 0.5)  # no /diffband/state ever came
        host.pump(lambda: any("diffband serve" in s for s in host.statuses(device)), timeout=10)
        assert not host.of(device, 1)  # nothing written, nothing sent as a job
    finally:
        host.close()


def test_device_shows_the_latency_diffband_live_reports(tmp_path):
    """``diffband live``'s reporter -> real UDP -> the device's [js]: the musician reads
    the layers' latency in samples (what the dry track must be delayed by)."""
    from diffband.bridge.live import LiveReporter, LiveStats

    host = MaxHost(9)
    try:
        device = host.add_device(free_port_pair())
        host.call(device, "init")
        host.pump(lambda: device in host.receivers, timeout=10)
        reporter = LiveReporter("127.0.0.1", host.receivers[device].getsockname()[1])
        stats = LiveStats(sample_rate=48000, window_seconds=1.5, compute_budget_seconds=0.4, latency_seconds=1.9,
                          latency_samples=91200, windows=12, late_windows=1)
        reporter.latency(stats)
        host.pump(lambda: any("91200 samples" in s for s in host.statuses(device)), timeout=10)
        reporter.latency(stats)  # the same latency again (every second): no new status line
        reporter.octaves({"violin": 1, "guitar": 0})
        reporter.octaves({"violin": 1, "guitar": 0})  # unchanged: nothing sent
        reporter.octaves({"violin": -2, "guitar": 0})
        reporter.stopped(stats)
        host.pump(lambda: any(s.startswith("live stopped") for s in host.statuses(device)), timeout=10)
        statuses = [s for s in host.statuses(device) if not s.startswith("looking")]
        assert statuses == ["live: layers come 1900 ms (91200 samples at 48000 Hz) after the input - delay the dry "
                            "track by as much to line them up", "live: violin (+1 octave)", "live: guitar at the input's pitch",
                            "live: violin (-2 octaves)", "live stopped: 12 windows (1 late, 0 dropped)"]
    finally:
        host.close()


def test_the_device_routes_no_job_errors_by_the_servers_id():
    source = (REPO / "max_patches" / "diffband.js").read_text()
    assert f'var NO_JOB = "{NO_JOB}";' in source
