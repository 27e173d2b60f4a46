# @description diffband layers: grow instrument layers from the selected items
# @version 0.3.0
# @author diffband
# @about
#   Sends each selected audio item to a running `diffband serve` (OSC over UDP, file mode)
#   and inserts every returned layer as a new item on a new track under the item's track.
#   Python ReaScript, standard library only. Steps: max_patches/README.md in diffband.
"""diffband layers — a Reaper (Python ReaScript) action.

Takes the selected media item(s), sends each item's audio to a running
``diffband serve`` as a file-mode job (OSC over UDP), shows progress in the
ReaScript console without freezing Reaper (``RPR_defer``), and inserts every
returned layer as a new item on a new track under the source track, at the
item's position and length.

Standard library only: Reaper's Python needs nothing installed.  The item's audio
goes into the server's shared folder (learned from ``/diffband/status``): for a WAV
source only the item's region, otherwise the whole file with the region as the
job's ``start``/``duration``; the copy runs a few MB per UI cycle, so Reaper stays
usable on long sources.  The layers are copied into the project's folder before
they are inserted, so the project keeps working after the shared folder is cleaned.
File mode needs the server's folder on this computer: a server elsewhere works
when its folder is shared here (set ``local_folder``).  Protocol: docs/osc.md.
Settings persist in Reaper's ExtState section "diffband".
"""

import binascii
import os
import re
import shutil
import socket
import struct
import time

try:
    from reaper_python import *  # noqa: F401,F403  (Reaper provides the RPR_* API)
except ImportError:  # outside Reaper (tests inject a fake module first)
    pass

SECTION = "diffband"
#: Strength and steps left to the server: each technique's own default (chorus: strength 0.8 and
#: 20 steps; the others: the measured defaults of docs/results.md).
AUTO = "auto"
DEFAULTS = {"host": "127.0.0.1", "port": "9000", "technique": "accompany", "with": "violin guitar",
            "strength": AUTO, "steps": AUTO, "local_folder": ""}
#: What the dialog asks, in order; a test checks the ranges against the server's option table.
ASKED = ("technique", "with", "strength", "steps")
TECHNIQUES = ("accompany", "chorus", "cross")
TECHNIQUE_ALIASES = {"double": "chorus"}
STRENGTH_RANGE = (0.0, 1.0)
STEPS_RANGE = (1, 1000)
#: The dialog's field separator: not a comma, so "violin,guitar" stays one answer.
SEPARATOR = "|"
TIMEOUT_SECONDS = 900.0
#: Bytes of audio copied into the shared folder per UI cycle (a few ms of disk work).
COPY_BYTES_PER_TICK = 4 * 2**20


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


# ---- settings ----------------------------------------------------------------------------------
class BadSetting(ValueError):
    pass


def _number(text, kind, low, high, name):
    try:
        value = kind(float(text)) if kind is int else float(text)
    except (ValueError, OverflowError):  # not a number, or an infinite one
        raise BadSetting("%s must be a number from %s to %s, got %r" % (name, low, high, text))
    if kind is int and float(text) != value or not low <= value <= high:
        raise BadSetting("%s must be a%s number from %s to %s, got %r"
                         % (name, "" if kind is float else " whole", low, high, text))
    return value


def check_setting(key, text):
    """``text`` of setting ``key`` in its stored form; raises BadSetting with a readable reason."""
    text = text.strip()
    if key == "technique":
        name = TECHNIQUE_ALIASES.get(text.lower(), text.lower())
        if name not in TECHNIQUES:
            raise BadSetting("technique must be one of %s, got %r" % (", ".join(TECHNIQUES), text))
        return name
    if key == "with":
        names = [n for n in re.split(r"[,+\s]+", text) if n]
        if not names:
            raise BadSetting("name at least one instrument, e.g. violin guitar")
        return " ".join(names)
    if key in ("strength", "steps") and text.lower() in ("", AUTO):
        return AUTO
    if key == "strength":
        return repr(_number(text, float, STRENGTH_RANGE[0], STRENGTH_RANGE[1], "strength"))
    if key == "steps":
        return str(_number(text, int, STEPS_RANGE[0], STEPS_RANGE[1], "steps"))
    return text


def setting(key):
    """The stored setting, or its default when none is stored or the stored one is broken."""
    value = RPR_GetExtState(SECTION, key)
    try:
        return check_setting(key, value) if value else DEFAULTS[key]
    except BadSetting:
        return DEFAULTS[key]


def ask_settings():
    """Technique, instruments, strength, steps from the dialog; None when the user cancels or an
    answer is invalid (then nothing is saved and a message says what was wrong)."""
    captions = ("technique (accompany/chorus/cross),instruments (e.g. violin guitar),strength %g-%g or auto,steps %d-%d or auto,"
                "separator=%s,extrawidth=120" % (STRENGTH_RANGE + STEPS_RANGE + (SEPARATOR,)))
    current = SEPARATOR.join(setting(k) for k in ASKED)
    answer = RPR_GetUserInputs("diffband layers", len(ASKED), captions, current, 1024)
    if not answer[0]:
        return None
    fields = answer[4].split(SEPARATOR)
    try:
        if len(fields) != len(ASKED):
            raise BadSetting("expected %d answers, got %d" % (len(ASKED), len(fields)))
        values = dict((key, check_setting(key, text)) for key, text in zip(ASKED, fields))
    except BadSetting as error:
        RPR_ShowMessageBox("Nothing was sent: %s." % error, "diffband layers", 0)
        return None
    for key, value in values.items():
        RPR_SetExtState(SECTION, key, value, True)
    return values


def say(text):
    RPR_ShowConsoleMsg("diffband: " + text + "\n")


# ---- the shared folder ---------------------------------------------------------------------------
class SharedFolder(object):
    """The server's folder, as the server names it and as this computer reaches it."""

    def __init__(self, server, local):
        self.server = server
        self.local = local

    def to_local(self, server_path):
        """A path the server reported, on this computer."""
        rest = server_path[len(self.server):]
        if not server_path.startswith(self.server) or rest[:1] not in ("", "/", "\\"):
            return server_path  # not inside the server's folder
        return os.path.join(self.local, *[p for p in re.split(r"[\\/]", rest) if p])


def shared_folder(server_folder):
    """The SharedFolder for the server's reported folder, or None after telling the user why."""
    local = setting("local_folder") or server_folder
    if os.path.isdir(local):
        return SharedFolder(server_folder, local)
    RPR_ShowMessageBox(
        "The diffband server at %s:%s works in the folder\n%s\nwhich this computer cannot see.\n\n"
        "File mode needs a folder both computers share: share that folder here and set the\n"
        "ExtState key diffband/local_folder to its path on this computer, or run diffband serve\n"
        "on this computer." % (setting("host"), setting("port"), server_folder), "diffband layers", 0)
    return None


# ---- the item's audio ------------------------------------------------------------------------------
def wav_layout(path):
    """(fmt chunk, data offset, data bytes, bytes per frame, rate) of a RIFF/WAVE file; None otherwise."""
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        fmt = None
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return None
            tag, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if tag == b"data":
                if fmt is None or len(fmt) < 16 or not struct.unpack("<H", fmt[12:14])[0]:
                    return None
                start = f.tell()
                size = min(size, os.path.getsize(path) - start)  # streamed WAVs may claim more
                return fmt, start, size, struct.unpack("<H", fmt[12:14])[0], struct.unpack("<I", fmt[4:8])[0]
            if tag == b"fmt ":
                fmt = f.read(size)
                f.seek(size % 2, 1)
            else:
                f.seek(size + size % 2, 1)


class Copy(object):
    """Copies ``source[start:end]`` after ``header`` into ``target``, a budget of bytes at a time."""

    def __init__(self, source, target, start, end, header=b"", trailer=b""):
        self.source, self.target = source, target
        self.at, self.end = start, end
        self.trailer = trailer
        with open(target, "wb") as out:
            out.write(header)

    @property
    def done(self):
        return self.at >= self.end

    def step(self, budget):
        """Copy up to ``budget`` bytes; the number copied."""
        count = min(budget, self.end - self.at)
        with open(self.source, "rb") as src, open(self.target, "ab") as out:
            src.seek(self.at)
            out.write(src.read(count))
            self.at += count
            if self.done:
                out.write(self.trailer)
        return count


def plan_copy(facts, target_base):
    """(Copy, job options) that put the item's audio into the shared folder: a WAV source's
    region alone, any other file whole with the region as start/duration."""
    layout = wav_layout(facts["path"])
    if layout is None:
        target = target_base + os.path.splitext(facts["path"])[1]
        copy = Copy(facts["path"], target, 0, os.path.getsize(facts["path"]))
        return copy, ["start", float(facts["offset"]), "duration", float(facts["length"])]
    fmt, data_start, data_size, frame_bytes, rate = layout
    first = min(int(round(facts["offset"] * rate)), data_size // frame_bytes)
    frames = min(int(round(facts["length"] * rate)), data_size // frame_bytes - first)
    size = frames * frame_bytes
    fmt_chunk = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"\0" * (len(fmt) % 2)
    riff_size = 4 + len(fmt_chunk) + 8 + size + size % 2
    header = b"RIFF" + struct.pack("<I", riff_size) + b"WAVE" + fmt_chunk + b"data" + struct.pack("<I", size)
    start = data_start + first * frame_bytes
    copy = Copy(facts["path"], target_base + ".wav", start, start + size, header, b"\0" * (size % 2))
    return copy, []


def item_facts(item):
    """The item's audio file, region and place; or a string saying why it is skipped."""
    take = RPR_GetActiveTake(item)
    if not take:
        return "it has no take"
    source = RPR_GetMediaItemTake_Source(take)
    offset = RPR_GetMediaItemTakeInfo_Value(take, "D_STARTOFFS")
    kind = RPR_GetMediaSourceType(source, "", 64)[1]
    while kind == "SECTION":  # Item properties > Section, or Reverse: a part of a parent source
        section = RPR_PCM_Source_GetSectionInfo(source, 0.0, 0.0, False)  # (ok, src, offset, length, reversed)
        if section[4]:
            return "it plays its source reversed: glue it first (Item > Glue items) and run this again"
        offset += section[2]
        source = RPR_GetMediaSourceParent(source)
        kind = RPR_GetMediaSourceType(source, "", 64)[1]
    if kind.startswith("MIDI"):
        return "it is MIDI, not audio"
    path = RPR_GetMediaSourceFileName(source, "", 4096)[1]  # (source, filename, size)
    if not path or not os.path.isfile(path):
        return "its take has no audio file"
    return {
        "item": item,
        "track": RPR_GetMediaItem_Track(item),
        "path": path,
        "position": RPR_GetMediaItemInfo_Value(item, "D_POSITION"),
        "length": RPR_GetMediaItemInfo_Value(item, "D_LENGTH"),
        "offset": offset,
        "rate": RPR_GetMediaItemTakeInfo_Value(take, "D_PLAYRATE"),
        "name": os.path.splitext(os.path.basename(path))[0],
    }


def new_job_id(index):
    """Unique even for runs in the same second: the clock, then random bits."""
    return "reaper-%s-%s-%d" % (time.strftime("%H%M%S"), binascii.hexlify(os.urandom(4)).decode("ascii"), index)


def project_folder(fallback):
    """The folder of the project file (Reaper's GetProjectPath is its recording folder); for a
    project not saved yet, the recording folder."""
    project_file = RPR_EnumProjects(-1, "", 4096)[2]  # (project, index, filename, size)
    if project_file:
        return os.path.dirname(project_file)
    return RPR_GetProjectPath("", 4096)[0] or fallback


def insert_layers(job):
    """Each layer (not the mix) -> project folder -> a new track under the source, same position and length."""
    media = os.path.join(project_folder(os.path.dirname(job["path"])), "diffband")
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


def tidy(job, shared):
    """A job has ended: remove what it left in the ``shared`` folder (as this computer reaches
    it), its copy of the source and the server's layer files (the layers live on in the project
    folder), so nothing piles up there.  A path outside that folder is never touched."""
    root = os.path.join(os.path.realpath(shared), "")
    for path in [job["copy"].target] + [p for _, p in job["layers"]]:
        if not os.path.realpath(path).startswith(root):
            continue
        try:
            os.remove(path)
        except OSError:
            pass  # already gone, or held open by another program: harmless


class Session(object):
    """One UDP socket, the jobs of this run (copying, running, ended), and what to insert when they finish."""

    def __init__(self, host, port):
        self.server = (host, int(port))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1" if host in ("127.0.0.1", "localhost") else "", 0))
        self.jobs = {}  # job id -> dict(item facts, state, copy, request, layers, progress)
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

    def waiting(self):
        return [j for j in self.jobs.values() if j["state"] in ("copying", "running")]

    def step(self):
        """One UI cycle's work: a budget of copying, the submits it allows, the replies waiting."""
        budget = COPY_BYTES_PER_TICK
        for job_id, job in self.jobs.items():
            if job["state"] != "copying":
                continue
            budget -= job["copy"].step(budget)
            if job["copy"].done:
                job["state"] = "running"
                self.send(*job["request"])
                say("sent %s (%s, %.1f s)" % (job["name"], job["request"][2], job["length"]))
            if budget <= 0:
                break
        self.poll()

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
            if address == "/diffband/error":  # belongs to no job (job_id ""): still worth saying
                say("the server refused a request: %s" % " ".join(str(a) for a in args[1:]))
            return
        if address == "/diffband/progress":
            step = int(args[1] * 10)
            if step > job["shown"]:
                job["shown"] = step
                say("%s %d%%" % (job["name"], step * 10))
        elif address == "/diffband/layer":
            job["layers"].append((args[1], self.folder.to_local(args[2])))
        elif address == "/diffband/done":
            job["state"] = "done"
            try:
                insert_layers(job)
            finally:
                tidy(job, self.folder.local)
        elif address in ("/diffband/error", "/diffband/cancelled"):
            job["state"] = "failed"
            say("%s failed: %s" % (job["name"], " ".join(str(a) for a in args[1:])))
            tidy(job, self.folder.local)


SESSION = None


def loop():
    """Deferred work: keeps Reaper responsive while files copy and the server works."""
    SESSION.step()
    if SESSION.waiting() and time.time() - SESSION.started < TIMEOUT_SECONDS:
        RPR_defer("loop()")
    elif SESSION.waiting():
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
    SESSION.folder = shared_folder(state[4])
    if SESSION.folder is None:
        return
    folder = os.path.join(SESSION.folder.local, "reaper")
    if not os.path.isdir(folder):
        os.makedirs(folder)
    for i in range(count):
        facts = item_facts(RPR_GetSelectedMediaItem(0, i))
        if not isinstance(facts, dict):
            say("item %d skipped: %s" % (i + 1, facts))
            continue
        if abs(facts["rate"] - 1.0) > 1e-6:
            say("%s: play rate %.3f is ignored (the layer follows the source at rate 1)" % (facts["name"], facts["rate"]))
        job_id = new_job_id(i)
        copy, region = plan_copy(facts, os.path.join(folder, job_id))
        on_server = "reaper/" + os.path.basename(copy.target)  # relative paths are in the server's folder
        facts.update(layers=[], state="copying", shown=-1, copy=copy, request=[
            "/diffband/submit/file", job_id, options["technique"], on_server, "reaper/out",
            "with", ",".join(options["with"].split()),
        ] + ([] if options["strength"] == AUTO else ["strength", float(options["strength"])])
          + ([] if options["steps"] == AUTO else ["steps", int(options["steps"])]) + region)
        SESSION.jobs[job_id] = facts
    if SESSION.jobs:
        RPR_defer("loop()")


if not os.environ.get("DIFFBAND_REASCRIPT_NO_AUTORUN"):
    main()
