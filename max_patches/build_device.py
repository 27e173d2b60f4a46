"""Writes max_patches/diffband.maxpat, the diffband Max for Live audio-effect device.

Run ``python max_patches/build_device.py`` after editing; a test checks the committed
patch is this script's output, that every patch cord joins real inlets and outlets,
and that the OSC addresses and ports agree with docs/osc.md.  The device's logic lives
in diffband.js (a [js] object); the patch is wiring, audio and the live.* controls.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "diffband.maxpat"
SERVER_PORT = 9000
REPLY_PORT = 9001
TECHNIQUES = ["accompany", "chorus", "cross"]
INSTRUMENTS = ["violin", "guitar", "voice"]

#: (inlets, outlets, outlet types) of each Max object class used, as Max saves them.
OBJECTS = {
    "plugin~": (2, 2, ["signal", "signal"]),
    "plugout~": (2, 2, ["signal", "signal"]),
    "record~": (4, 1, ["signal"]),  # 2 channels: 2 signal inlets + start + end
    "buffer~": (1, 2, ["float", "bang"]),
    "play~": (1, 3, ["signal", "signal", "bang"]),  # 2 channels
    "udpsend": (1, 0, []),
    "udpreceive": (1, 1, [""]),
    "route": (2, 4, ["", "", "", ""]),  # 3 arguments + reject outlet
    "prepend": (2, 1, [""]),
    "t": (1, 2, ["int", "int"]),
    "sel": (2, 2, ["bang", ""]),
    "*": (2, 1, ["float"]),
    "loadbang": (1, 1, ["bang"]),
    "js": (1, 5, ["", "", "", "", ""]),
}
UI = {  # maxclass: (inlets, outlets, outlet types)
    "live.text": (1, 2, ["", ""]),
    "live.tab": (1, 3, ["", "", "float"]),
    "live.menu": (1, 3, ["", "", "float"]),
    "live.dial": (1, 2, ["", "float"]),
    "live.numbox": (1, 2, ["", "float"]),
    "message": (2, 1, [""]),
    "comment": (1, 0, []),
    "button": (1, 1, ["bang"]),
    "slider": (1, 1, [""]),
    "waveform~": (5, 6, ["float", "float", "float", "float", "list", ""]),
}


class Patch:
    def __init__(self) -> None:
        self.boxes: list[dict] = []
        self.lines: list[dict] = []

    def _add(self, box: dict, rect: list[float]) -> str:
        box["id"] = f"obj-{len(self.boxes) + 1}"
        box["patching_rect"] = rect
        self.boxes.append({"box": box})
        return box["id"]

    def obj(self, text: str, x: float, y: float, width: float = 110.0) -> str:
        inlets, outlets, types = OBJECTS[text.split()[0]]
        box = {"maxclass": "newobj", "text": text, "numinlets": inlets, "numoutlets": outlets, "outlettype": types}
        if text.startswith("js "):
            box["saved_object_attributes"] = {"filename": text.split()[1], "parameter_enable": 0}
        return self._add(box, [x, y, width, 22.0])

    def ui(self, maxclass: str, x: float, y: float, w: float, h: float, present: list[float] | None = None, **attrs) -> str:
        inlets, outlets, types = UI[maxclass]
        box = {"maxclass": maxclass, "numinlets": inlets, "numoutlets": outlets, "outlettype": types, **attrs}
        if present:
            box["presentation"] = 1
            box["presentation_rect"] = present
        return self._add(box, [x, y, w, h])

    def param(self, maxclass: str, name: str, x: float, y: float, present: list[float], ptype: int, **p) -> str:
        """A live.* control saved as a Live parameter (automatable, stored with the set)."""
        values = {"parameter_longname": name, "parameter_shortname": name, "parameter_type": ptype, **p}
        return self.ui(
            maxclass, x, y, present[2], present[3], present, varname=name, parameter_enable=1,
            saved_attribute_attributes={"valueof": values},
        )

    def connect(self, source: str, outlet: int, destination: str, inlet: int) -> None:
        self.lines.append({"patchline": {"source": [source, outlet], "destination": [destination, inlet]}})

    def document(self) -> dict:
        return {
            "patcher": {
                "fileversion": 1,
                "appversion": {"major": 8, "minor": 6, "revision": 0, "architecture": "x64", "modernui": 1},
                "classnamespace": "box",
                "rect": [100.0, 100.0, 1100.0, 700.0],
                "openinpresentation": 1,
                "default_fontsize": 10.0,
                "default_fontname": "Arial Bold",
                "description": "diffband: grow instrument layers from the captured audio with diffusion models",
                "boxes": self.boxes,
                "lines": self.lines,
                "dependency_cache": [{"name": "diffband.js", "bootpath": ".", "type": "TEXT", "implicit": 1}],
            }
        }


def build() -> dict:
    p = Patch()
    # audio passes through untouched; the device also records it
    plugin = p.obj("plugin~", 20, 20, 60)
    plugout = p.obj("plugout~", 20, 520, 60)
    p.connect(plugin, 0, plugout, 0)
    p.connect(plugin, 1, plugout, 1)
    record = p.obj("record~ ---capture 2", 120, 120, 130)
    p.connect(plugin, 0, record, 0)
    p.connect(plugin, 1, record, 1)
    capture_buffer = p.obj("buffer~ ---capture 10000 2", 300, 300, 150)

    # capture: record while "Capture" is on; when it goes off, write the WAV and send the job
    arm = p.param("live.text", "Capture", 120, 40, [8, 8, 60, 20], 2, parameter_enum=["off", "on"], parameter_mmax=1)
    split = p.obj("t i i", 120, 80, 40)
    p.connect(arm, 0, split, 0)
    p.connect(split, 1, record, 0)  # right to left: record~ starts/stops first
    stopped = p.obj("sel 0", 260, 80, 40)
    p.connect(split, 0, stopped, 0)
    capture_msg = p.ui("message", 260, 120, 50, 22, text="capture")
    p.connect(stopped, 0, capture_msg, 0)

    length = p.param("live.numbox", "Length", 460, 40, [72, 8, 44, 15], 0, parameter_mmin=1.0, parameter_mmax=60.0,
                     parameter_initial=[10.0], parameter_initial_enable=1, parameter_unitstyle=1)
    ms = p.obj("* 1000.", 460, 80, 50)
    size = p.obj("prepend size", 460, 120, 80)
    p.connect(length, 0, ms, 0)
    p.connect(ms, 0, size, 0)
    p.connect(size, 0, capture_buffer, 0)

    js = p.obj(f"js diffband.js {REPLY_PORT}", 300, 260, 140)
    p.connect(capture_msg, 0, js, 0)
    load = p.obj("loadbang", 560, 120, 60)
    init = p.ui("message", 560, 160, 30, 22, text="init")
    p.connect(load, 0, init, 0)
    p.connect(init, 0, js, 0)

    controls = [
        ("live.tab", "Technique", "technique", [8, 30, 150, 18], 2, {"parameter_enum": TECHNIQUES, "parameter_mmax": 2}),
        ("live.menu", "Instrument", "instrument1", [8, 52, 70, 15], 2,
         {"parameter_enum": INSTRUMENTS, "parameter_mmax": len(INSTRUMENTS) - 1}),
        ("live.menu", "Second", "instrument2", [82, 52, 70, 15], 2,
         {"parameter_enum": ["none", *INSTRUMENTS], "parameter_mmax": len(INSTRUMENTS), "parameter_initial": [2],
          "parameter_initial_enable": 1}),
        ("live.dial", "Strength", "strength", [160, 8, 44, 48], 0,
         {"parameter_mmin": 0.0, "parameter_mmax": 1.0, "parameter_initial": [0.5], "parameter_initial_enable": 1}),
        ("live.numbox", "Steps", "steps", [210, 8, 40, 15], 1,
         {"parameter_mmin": 1.0, "parameter_mmax": 200.0, "parameter_initial": [20], "parameter_initial_enable": 1}),
        ("live.numbox", "Seed", "seed", [210, 28, 40, 15], 1, {"parameter_mmin": 0.0, "parameter_mmax": 9999.0}),
    ]
    for i, (maxclass, name, selector, present, ptype, extra) in enumerate(controls):
        x = 640 + 110 * (i % 3)
        y = 40 + 90 * (i // 3)
        control = p.param(maxclass, name, x, y, present, ptype, **extra)
        prefix = p.obj(f"prepend {selector}", x, y + 40, 100)
        p.connect(control, 0, prefix, 0)
        p.connect(prefix, 0, js, 0)

    cancel_button = p.ui("button", 560, 220, 20, 20, [256, 8, 18, 18])
    cancel_msg = p.ui("message", 590, 220, 45, 22, text="cancel")
    p.connect(cancel_button, 0, cancel_msg, 0)
    p.connect(cancel_msg, 0, js, 0)
    p.ui("comment", 560, 250, 60, 20, [276, 8, 50, 18], text="cancel")

    send = p.obj(f"udpsend 127.0.0.1 {SERVER_PORT}", 300, 340, 150)
    receive = p.obj(f"udpreceive {REPLY_PORT}", 300, 200, 110)
    p.connect(js, 0, send, 0)
    p.connect(receive, 0, js, 0)
    p.connect(js, 1, capture_buffer, 0)
    status_set = p.obj("prepend set", 460, 340, 80)
    status = p.ui("comment", 460, 380, 400, 20, [8, 72, 330, 18], text="starting ...")
    p.connect(js, 2, status_set, 0)
    p.connect(status_set, 0, status, 0)
    progress = p.ui("slider", 460, 420, 200, 16, [8, 92, 330, 10], floatoutput=1, size=1.0, orientation=1)
    p.connect(js, 3, progress, 0)

    # returned layers: loaded into buffers, shown, auditioned through the device output
    router = p.obj("route 0 1 2", 20, 380, 90)
    p.connect(js, 4, router, 0)
    for slot in range(3):
        x = 20 + 140 * slot
        layer = p.obj(f"buffer~ ---layer{slot} 1000 2", x, 430, 130)
        p.connect(router, slot, layer, 0)
        p.ui("waveform~", x, 600, 130, 40, [8 + 112 * slot, 108, 108, 36], buffername=f"---layer{slot}")
        play_button = p.ui("button", x, 460, 20, 20, [8 + 112 * slot, 146, 14, 14])
        start = p.ui("message", x + 30, 460, 35, 22, text="start")
        player = p.obj(f"play~ ---layer{slot} 2", x, 490, 110)
        p.connect(play_button, 0, start, 0)
        p.connect(start, 0, player, 0)
        p.connect(player, 0, plugout, 0)
        p.connect(player, 1, plugout, 1)
    return p.document()


def main() -> None:
    OUT.write_text(json.dumps(build(), indent=2) + "\n")
    print(OUT)


if __name__ == "__main__":
    main()
