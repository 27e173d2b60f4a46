"""diffband layers — a Reaper (Python ReaScript) action.

Takes the selected media item(s), sends each item's audio to a running
``diffband serve`` as a file-mode job (OSC over UDP), shows progress in the
ReaScript console without freezing Reaper (``RPR_defer``), and inserts every
returned layer as a new item on a new track under the source track, at the
item's position and length.

Standard library only: Reaper's Python needs nothing installed.  The item's
source file is copied into the server's allowed folder (learned from
``/diffband/status``), the server reads just the item's region (``start`` /
``duration``), and the layers are copied into the project's folder before they
are inserted, so the project keeps working after the temp folder is cleaned.
Protocol: docs/osc.md.  Settings persist in Reaper's ExtState section "diffband".
"""

import os
import shutil
import socket
import struct
import time

try:
    from reaper_python import *  # noqa: F401,F403  (Reaper provides the RPR_* API)
except ImportError:  # outside Reaper (tests inject a fake module first)
    pass

SECTION = "diffband"
DEFAULTS = {"host": "127.0.0.1", "port": "9000", "technique": "accompany", "with": "violin guitar",
            "strength": "0.5", "steps": "50"}
TIMEOUT_SECONDS = 900.0


# ---- a minimal OSC 1.0 codec (int32, float32, string, blob) --------------------------------
def _pad(data):
    return data + b"\0" * (4 - len(data) % 4)


def osc_message(address, *args):
    tags, body = ",", b""
    for value in args:
        if isinstance(value, bool):
            tags += "T" if value else "F"
        elif isinstance(value, int):
            tags, body = tags + "i", body + struct.pack(">i", value)
        elif isinstance(value, float):
            tags, body = tags + "f", body + struct.pack(">f", value)
        else:
            tags, body = tags + "s", body + _pad(str(value).encode("utf-8"))
    return _pad(address.encode()) + _pad(tags.encode()) + body


def _read_string(data, at):
    end = data.index(b"\0", at)
    return data[at:end].decode("utf-8", "replace"), (end // 4 + 1) * 4


def osc_parse(data):
    """(address, [args]) of one OSC message; None for anything else."""
    try:
        address, at = _read_string(data, 0)
        tags, at = _read_string(data, at)
        args = []
        for tag in tags[1:]:
            if tag == "i":
                args.append(struct.unpack(">i", data[at:at + 4])[0])
                at += 4
            elif tag == "f":
                args.append(struct.unpack(">f", data[at:at + 4])[0])
                at += 4
            elif tag == "s":
                value, at = _read_string(data, at)
                args.append(value)
            elif tag == "b":
                size = struct.unpack(">i", data[at:at + 4])[0]
                args.append(data[at + 4:at + 4 + size])
                at += 4 + (size + 3) // 4 * 4
            elif tag in "TF":
                args.append(tag == "T")
        return address, args
    except (ValueError, struct.error, IndexError):
        return None


# ---- settings and Reaper helpers ---------------------------------------------------------------
def setting(key):
    value = RPR_GetExtState(SECTION, key)
    return value if value else DEFAULTS[key]


def ask_settings():
    """Technique, instruments, strength, steps; None when the user cancels."""
    keys = ["technique", "with", "strength", "steps"]
    captions = "technique (accompany/chorus/cross),instruments (space-separated),strength 0-1,steps"
    current = ",".join(setting(k) for k in keys)
    answer = RPR_GetUserInputs("diffband layers", len(keys), captions, current, 1024)
    if not answer[0]:
        return None
    values = dict(zip(keys, [v.strip() for v in answer[4].split(",")]))
    for key, value in values.items():
        RPR_SetExtState(SECTION, key, value, True)
    return values


def say(text):
    RPR_ShowConsoleMsg("diffband: " + text + "\n")


class Session(object):
    """One UDP socket, the jobs in flight, and what to insert when they finish."""

    def __init__(self, host, port):
        self.server = (host, int(port))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1" if host in ("127.0.0.1", "localhost") else "", 0))
        self.jobs = {}  # job id -> dict(item facts, layers, progress)
        self.started = time.time()

    def send(self, address, *args):
        self.sock.sendto(osc_message(address, *args), self.server)

    def request(self, address, answer, timeout=3.0):
        self.send(address)
        self.sock.settimeout(timeout)
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                parsed = osc_parse(self.sock.recvfrom(65536)[0])
            except socket.timeout:
                break
            except socket.error:  # Windows reports an unreachable port as a reset; keep waiting
                time.sleep(0.05)
                continue
            if parsed and parsed[0] == answer:
                return parsed[1]
        return None

    def poll(self):
        """Read every waiting reply without blocking."""
        self.sock.setblocking(False)
        try:
            while True:
                try:
                    data = self.sock.recvfrom(65536)[0]
                except (BlockingIOError, socket.error):
                    return
                parsed = osc_parse(data)
                if parsed:
                    self.handle(*parsed)
        finally:
            self.sock.setblocking(True)

    def handle(self, address, args):
        job = self.jobs.get(args[0]) if args else None
        if job is None:
            return
        if address == "/diffband/progress":
            step = int(args[1] * 10)
            if step > job["shown"]:
                job["shown"] = step
                say("%s %d%%" % (job["name"], step * 10))
        elif address == "/diffband/layer":
            job["layers"].append((args[1], args[2]))
        elif address == "/diffband/done":
            job["state"] = "done"
            insert_layers(job)
        elif address in ("/diffband/error", "/diffband/cancelled"):
            job["state"] = "failed"
            say("%s failed: %s" % (job["name"], " ".join(str(a) for a in args[1:])))


def item_facts(item):
    take = RPR_GetActiveTake(item)
    if not take:
        return None
    source = RPR_GetMediaItemTake_Source(take)
    path = RPR_GetMediaSourceFileName(source, "", 4096)[1]  # (source, filename, size)
    return {
        "item": item,
        "track": RPR_GetMediaItem_Track(item),
        "path": path,
        "position": RPR_GetMediaItemInfo_Value(item, "D_POSITION"),
        "length": RPR_GetMediaItemInfo_Value(item, "D_LENGTH"),
        "offset": RPR_GetMediaItemTakeInfo_Value(take, "D_STARTOFFS"),
        "rate": RPR_GetMediaItemTakeInfo_Value(take, "D_PLAYRATE"),
        "name": os.path.splitext(os.path.basename(path))[0],
    }


def insert_layers(job):
    """Each layer (not the mix) -> project folder -> a new track under the source, same position and length."""
    project_dir = RPR_GetProjectPath("", 4096)[0] or os.path.dirname(job["path"])
    media = os.path.join(project_dir, "diffband")
    if not os.path.isdir(media):
        os.makedirs(media)
    track_number = int(RPR_GetMediaTrackInfo_Value(job["track"], "IP_TRACKNUMBER"))  # 1-based
    RPR_Undo_BeginBlock2(0)
    inserted = 0
    for name, path in job["layers"]:
        if name == "mix":
            continue  # the mix already contains the source; the layers are what to arrange
        kept = os.path.join(media, os.path.basename(path))
        shutil.copyfile(path, kept)
        index = track_number + inserted  # 0-based index just under the source track
        RPR_InsertTrackAtIndex(index, True)
        track = RPR_GetTrack(0, index)
        RPR_GetSetMediaTrackInfo_String(track, "P_NAME", "diffband " + name, True)
        item = RPR_AddMediaItemToTrack(track)
        RPR_SetMediaItemInfo_Value(item, "D_POSITION", job["position"])
        RPR_SetMediaItemInfo_Value(item, "D_LENGTH", job["length"])
        take = RPR_AddTakeToMediaItem(item)
        RPR_SetMediaItemTake_Source(take, RPR_PCM_Source_CreateFromFile(kept))
        RPR_GetSetMediaItemTakeInfo_String(take, "P_NAME", "%s %s" % (job["name"], name), True)
        inserted += 1
    RPR_Undo_EndBlock2(0, "diffband: insert %d layer(s)" % inserted, -1)
    RPR_UpdateArrange()
    say("%s: %d layer(s) inserted" % (job["name"], inserted))


SESSION = None


def loop():
    """Deferred poll: keeps Reaper responsive while the server works."""
    SESSION.poll()
    waiting = [j for j in SESSION.jobs.values() if j["state"] == "running"]
    if waiting and time.time() - SESSION.started < TIMEOUT_SECONDS:
        RPR_defer("loop()")
    elif waiting:
        say("gave up waiting after %d s" % TIMEOUT_SECONDS)


def main():
    global SESSION
    count = RPR_CountSelectedMediaItems(0)
    if count == 0:
        RPR_ShowMessageBox("Select one or more audio items first.", "diffband layers", 0)
        return
    options = ask_settings()
    if options is None:
        return
    SESSION = Session(setting("host"), setting("port"))
    state = SESSION.request("/diffband/status", "/diffband/state")
    if state is None:
        RPR_ShowMessageBox("No diffband server answered on %s:%s.\nStart it with:  diffband serve" % SESSION.server,
                           "diffband layers", 0)
        return
    folder = os.path.join(state[4], "reaper")
    if not os.path.isdir(folder):
        os.makedirs(folder)
    stamp = time.strftime("%H%M%S")
    for i in range(count):
        facts = item_facts(RPR_GetSelectedMediaItem(0, i))
        if facts is None or not facts["path"]:
            say("item %d has no audio take; skipped" % (i + 1))
            continue
        if abs(facts["rate"] - 1.0) > 1e-6:
            say("%s: play rate %.3f is ignored (the layer follows the source at rate 1)" % (facts["name"], facts["rate"]))
        job_id = "reaper-%s-%d" % (stamp, i)
        copy = os.path.join(folder, job_id + os.path.splitext(facts["path"])[1])
        shutil.copyfile(facts["path"], copy)
        facts.update(layers=[], state="running", shown=-1)
        SESSION.jobs[job_id] = facts
        SESSION.send(
            "/diffband/submit/file", job_id, options["technique"], copy, os.path.join(folder, "out"),
            "with", ",".join(options["with"].replace(",", " ").split()),
            "strength", float(options["strength"]), "steps", int(float(options["steps"])),
            "start", float(facts["offset"]), "duration", float(facts["length"]),
        )
        say("sent %s (%s, %.1f s)" % (facts["name"], options["technique"], facts["length"]))
    RPR_defer("loop()")


if not os.environ.get("DIFFBAND_REASCRIPT_NO_AUTORUN"):
    main()
