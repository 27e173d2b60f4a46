"""The OSC protocol of ``diffband serve``: addresses, argument types, limits and options.

``docs/osc.md`` documents exactly these tables; a test checks the two agree.
Type tags follow OSC: ``i`` int32, ``f`` float32, ``s`` string, ``b`` blob.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from diffband.engine.options import Option, OptionError, as_integer, describe
from diffband.engine.techniques import TECHNIQUES as ENGINE_TECHNIQUES
from diffband.engine.techniques import options_of
from diffband.engine.techniques import technique as find_technique

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9000  # UDP and TCP (OSC 1.1, SLIP framing) on the same number
#: Port the Max for Live device listens on for replies (it sends ``reply_port`` = this).
DEFAULT_CLIENT_PORT = 9001
#: Float32 samples per audio chunk over UDP: 6144-byte blob, datagram < 8 KB.
UDP_CHUNK_SAMPLES = 1536
#: Float32 samples per audio chunk the server streams over TCP.
TCP_CHUNK_SAMPLES = 65536
UDP_DATAGRAM_LIMIT = 8192

PREFIX = "/diffband"


@dataclass(frozen=True)
class Message:
    """One OSC address: its required arguments and what may follow them."""

    address: str
    args: tuple[tuple[str, str], ...]  # (name, type tag)
    tail: str = ""  # "reply_port": optional trailing int; "options+reply_port": key/value pairs, then it
    doc: str = ""

    @property
    def typetags(self) -> str:
        return "".join(tag for _, tag in self.args)


def _m(address: str, args: str, tail: str = "", doc: str = "") -> Message:
    pairs = tuple((item.split(":")[0], item.split(":")[1]) for item in args.split()) if args else ()
    return Message(PREFIX + address, pairs, tail, doc)


REQUESTS: dict[str, Message] = {
    m.address: m
    for m in [
        _m("/ping", "", "reply_port", "answer /diffband/pong"),
        _m("/models", "", "reply_port", "one /diffband/model per loaded model, then /diffband/models/done"),
        _m("/status", "", "reply_port", "answer /diffband/state"),
        _m("/submit/file", "job_id:s technique:s input:s output_dir:s", "options+reply_port",
           "file mode job: read INPUT, write one WAV per layer into OUTPUT_DIR"),
        _m("/submit/buffer", "job_id:s technique:s sample_rate:i channels:i frames:i chunks:i", "options+reply_port",
           "buffer mode job: announce an upload of CHUNKS /diffband/chunk messages"),
        _m("/chunk", "job_id:s index:i samples:b", "", "one piece of an upload: float32 little-endian, interleaved"),
        _m("/end", "job_id:s", "reply_port", "upload complete: check the chunks and queue the job"),
        _m("/cancel", "job_id:s", "reply_port", "cancel a queued, running or uploading job"),
        _m("/resend", "job_id:s layer:s index:i", "reply_port", "send one chunk of a finished buffer-mode layer again"),
    ]
}

REPLIES: dict[str, Message] = {
    m.address: m
    for m in [
        _m("/pong", "version:s"),
        _m("/model", "name:s instrument:s sample_rate:i window_seconds:f"),
        _m("/models/done", "count:i"),
        _m("/state", "queued:i running:i max_queue:i provider:s folder:s version:s"),
        _m("/accepted", "job_id:s position:i"),
        _m("/missing", "job_id:s count:i indices:b"),
        _m("/progress", "job_id:s fraction:f"),
        _m("/octave", "job_id:s name:s octaves:i"),
        _m("/layer", "job_id:s name:s path:s"),
        _m("/layer/begin", "job_id:s name:s sample_rate:i channels:i frames:i chunks:i"),
        _m("/layer/chunk", "job_id:s name:s index:i samples:b"),
        _m("/done", "job_id:s layers:i seconds:f"),
        _m("/cancelled", "job_id:s"),
        _m("/error", "job_id:s code:s message:s"),
    ]
}

#: What ``diffband live`` sends to the client port while it runs (``--report-to``): its
#: latency as a DAW needs it for delay compensation, then running counts.
LIVE_REPORTS: dict[str, Message] = {
    m.address: m
    for m in [
        _m("/live/latency", "latency_seconds:f latency_samples:i sample_rate:i window_seconds:f compute_budget_seconds:f",
           doc="input -> output delay of the layers; at start, then every second"),
        _m("/live/stats", "windows:i late_windows:i dropped_windows:i compute_seconds:f",
           doc="every second: windows done, late or dropped so far, mean compute per window"),
        _m("/live/octave", "name:s octaves:i",
           doc="a layer's octave from the input (register, octave options), with the first window and when it changes"),
        _m("/live/stopped", "windows:i late_windows:i dropped_windows:i", doc="once, when the stream closes"),
    ]
}

#: ``code`` values of ``/diffband/error``.
ERROR_CODES = {
    "malformed": "not an OSC packet, or an unknown address",
    "bad_args": "wrong argument count, type or value",
    "path_refused": "a file path outside the allowed folders (or a symlink leading out)",
    "too_large": "packet, chunk, upload or audio over the server's limits",
    "queue_full": "the job queue is full; try again later",
    "busy": "this client already has the most jobs it may have at once",
    "duplicate_job": "a job with this id is still known to the server",
    "unknown_job": "no such job (or it already finished)",
    "missing_chunks": "the upload lacks chunks (listed in the /diffband/missing just before); resend them and /end again",
    "bad_chunk": "a chunk with a wrong index or size, or one that repeats with other data",
    "bad_audio": "unreadable audio, NaN/Inf samples, or empty",
    "failed": "the job failed while running",
}

#: Techniques a job can run: the registry's techniques that take input audio.
TECHNIQUES: tuple[str, ...] = tuple(name for name, spec in ENGINE_TECHNIQUES.items() if spec.input != "none")
#: Registry options a job does not take: ``n`` counts generations from noise, and a job always has input.
NOT_JOB_OPTIONS = frozenset({"n"})
#: Models named in one job's ``with``, at most.
MAX_MODELS_PER_JOB = 8
#: Options of the bridge itself, beside the techniques' own: the models, and the region of a file.
BRIDGE_OPTIONS: dict[str, Option] = {
    option.name: option
    for option in (
        Option("with", str, None, "instrument model name(s), separated by `,` or `+`"),
        Option("start", float, 0.0, "file mode: read the input from this second", 0.0, 86400.0),
        Option("duration", float, 0.0, "file mode: seconds to read (0 = to the end)", 0.0, 86400.0),
    )
}


def _job_options() -> dict[str, Option]:
    """Every option a job may carry, once (with the option table's default)."""
    table = {"with": BRIDGE_OPTIONS["with"]}
    table.update((o.name, o) for o in options_of(list(TECHNIQUES)) if o.name not in NOT_JOB_OPTIONS)
    table.update((k, v) for k, v in BRIDGE_OPTIONS.items() if k != "with")
    return table


#: Job options by name (docs/osc.md documents exactly these).
OPTIONS: dict[str, Option] = _job_options()


def default_text(name: str) -> str:
    """An option's default as docs/osc.md shows it: ``0.6 (chorus 0.8)`` where a technique differs."""
    option = OPTIONS[name]
    if option.default is None:
        return "(required)"
    others = [
        f"{t} {spec.defaults[name]}" for t in TECHNIQUES
        if name in (spec := ENGINE_TECHNIQUES[t]).defaults and spec.defaults[name] != option.default
    ]
    return f"{option.default}" + (f" ({', '.join(others)})" if others else "")

JOB_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")  # used with fullmatch: no trailing newline slips through
JOB_ID_RULE = "job_id must be 1-64 characters of A-Z a-z 0-9 _ . -"
#: The job id of errors that belong to no job: never a valid job id, and a symbol Max's and
#: Pure Data's ``[route]`` can match (an empty string cannot be routed).
NO_JOB = "*"


class ProtocolError(ValueError):
    """A request the server answers with ``/diffband/error`` (``code``, message)."""

    def __init__(self, code: str, message: str, job_id: str = NO_JOB, reply_port: int | None = None):
        super().__init__(message)
        self.code = code
        self.job_id = job_id or NO_JOB
        self.reply_port = reply_port  # where the error goes when the request named one


def _tag(value: Any) -> str:
    if isinstance(value, bool):
        return "T"
    if isinstance(value, int):
        return "i"
    if isinstance(value, float):
        return "f"
    if isinstance(value, str):
        return "s"
    if isinstance(value, (bytes, bytearray)):
        return "b"
    return "?"


def job_id_text(value: Any) -> Any:
    """A job id typed as a number (Pure Data and Max send ``7`` as a float or an int) as its
    decimal text, ``"7"``, which replies then carry; any other value is returned as it is."""
    number = as_integer(value)
    return str(number) if number is not None else value


def check_job_id(job_id: Any) -> str:
    if not isinstance(job_id, str) or not JOB_ID.fullmatch(job_id):
        raise ProtocolError("bad_args", f"{JOB_ID_RULE}, got {describe(job_id)}")
    return job_id


def _reply_port(address: str, spec: Message, params: list[Any]) -> int | None:
    """The trailing ``reply_port`` of a request, read before anything else is checked, so
    even an error about the request goes where the client listens."""
    n = len(spec.args)
    if not spec.tail.endswith("reply_port") or len(params) <= n or (len(params) - n) % 2 == 0:
        return None
    port = as_integer(params[-1])
    if port is None or not 1 <= port <= 65535:
        raise ProtocolError("bad_args", f"{address}: reply_port must be an int in 1-65535, got {describe(params[-1])}")
    return port


def split_request(address: str, params: list[Any]) -> tuple[Message, list[Any], dict[str, Any], int | None]:
    """Check a request against its ``Message``: (spec, required args, options, reply_port).

    A ``ProtocolError`` raised here carries the request's ``reply_port`` when it had a valid one."""
    spec = REQUESTS.get(address)
    if spec is None:
        raise ProtocolError("malformed", f"unknown address {describe(address)}")
    reply_port = _reply_port(address, spec, params)
    try:
        fixed, options = _check_arguments(address, spec, params[:-1] if reply_port is not None else params)
    except ProtocolError as error:
        error.reply_port = reply_port
        raise
    return spec, fixed, options, reply_port


def _check_arguments(address: str, spec: Message, params: list[Any]) -> tuple[list[Any], dict[str, Any]]:
    n = len(spec.args)
    has_job_id = bool(spec.args) and spec.args[0][0] == "job_id"
    if has_job_id and params:
        params = [job_id_text(params[0]), *params[1:]]
    job_id = check_job_id(params[0] if params else None) if has_job_id else NO_JOB
    if len(params) < n:
        raise ProtocolError("bad_args", f"{address} needs {n} arguments ({spec.typetags}), got {len(params)}", job_id)
    fixed, rest = list(params[:n]), list(params[n:])
    for (name, tag), value in zip(spec.args, fixed):
        got = _tag(value)
        if got != tag and not (tag == "f" and got == "i"):
            raise ProtocolError("bad_args", f"{address}: argument {name} must be type {tag}, got {got}", job_id)
    if rest and not spec.tail.startswith("options"):
        raise ProtocolError("bad_args", f"{address}: {len(rest)} unexpected extra argument(s)", job_id)
    if len(rest) % 2:
        raise ProtocolError("bad_args", f"{address}: options come in key value pairs; one is left over", job_id)
    options: dict[str, Any] = {}
    for key, value in zip(rest[::2], rest[1::2]):
        if not isinstance(key, str):
            raise ProtocolError("bad_args", f"{address}: option names must be strings, got {describe(key)}", job_id)
        options[key] = value
    return fixed, options


def job_options(technique: str, raw: dict[str, Any], job_id: str = NO_JOB) -> dict[str, Any]:
    """Every option of a job, typed and range-checked, with its technique's defaults; ``technique``
    holds the registry's name (an alias resolved) and ``with`` the list of model names."""
    try:
        spec = find_technique(technique) if isinstance(technique, str) else None
    except OptionError:
        spec = None
    if spec is None or spec.name not in TECHNIQUES:
        raise ProtocolError("bad_args", f"technique must be one of {', '.join(TECHNIQUES)}, got {describe(technique)}", job_id)
    allowed = [name for name in OPTIONS if name in BRIDGE_OPTIONS or name in spec.defaults]
    unknown = [key for key in raw if key not in allowed]
    if unknown:
        raise ProtocolError("bad_args", f"unknown option {describe(unknown[0])} for {spec.name}; known: {', '.join(allowed)}", job_id)
    try:
        out = spec.resolve({k: v for k, v in raw.items() if k not in BRIDGE_OPTIONS})
        for name, option in BRIDGE_OPTIONS.items():
            out[name] = option.check(raw[name]) if name in raw else option.default
    except OptionError as error:
        raise ProtocolError("bad_args", f"option {error}", job_id) from None
    names = [n for n in re.split(r"[,+\s]+", out["with"] or "") if n]  # Max sends "+": "," splits its messages
    if not names:
        raise ProtocolError("bad_args", f"{spec.name} needs the option 'with' (instrument model names)", job_id)
    if len(names) > MAX_MODELS_PER_JOB:
        raise ProtocolError("too_large", f"'with' names {len(names)} models; a job takes at most {MAX_MODELS_PER_JOB}", job_id)
    try:
        spec.check_models(len(names))
    except OptionError as error:
        raise ProtocolError("bad_args", f"{error} in 'with'", job_id) from None
    out["with"] = names
    out["technique"] = spec.name
    return out
