"""Fuzz and soak: malformed packets by the thousand, and many clients at once, on loopback.

The fuzz draws from a fixed seed, so a failure replays exactly.  Every thousand packets the
server must still answer ping, and its memory stays within a stated bound.
"""

from __future__ import annotations

import os
import socket
import struct
import threading
import time

import numpy as np
import pytest
import soundfile as sf
from pythonosc import slip

from diffband.bridge.protocol import REPLIES
from diffband.bridge.server import DiffbandServer, ServerConfig
from diffband.bridge.transport import encode_message
from diffband.engine import __version__
from tests.test_bridge_server import RATE, client, models  # noqa: F401

UDP_PACKETS = 10_000
TCP_FRAMES = 1_000
#: Growth of this process's resident memory the fuzz may cause, at most.
RSS_BOUND_MB = 64
ADDRESSES = ["/diffband/ping", "/diffband/submit/file", "/diffband/submit/buffer", "/diffband/chunk", "/diffband/end",
             "/diffband/cancel", "/diffband/resend", "/diffband/status", "/x", ""]


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _osc_string(rng: np.random.Generator) -> bytes:
    raw = bytes(rng.integers(32, 127, int(rng.integers(0, 24)), dtype=np.uint8))
    return raw + b"\0" * (4 - len(raw) % 4)


def _message(rng: np.random.Generator) -> bytes:
    """A message that looks like OSC but has wrong types, sizes, tags or values."""
    address = ADDRESSES[int(rng.integers(len(ADDRESSES)))].encode()
    address += b"\0" * (4 - len(address) % 4)
    tags, body = ",", b""
    for _ in range(int(rng.integers(0, 8))):
        kind = "ifsbhdTN[]?"[int(rng.integers(11))]
        tags += kind
        if kind in "if":
            body += struct.pack(">i", int(rng.integers(-(2**31), 2**31)))
        elif kind in "hd":
            body += rng.bytes(8)
        elif kind == "s":
            body += _osc_string(rng)
        elif kind == "b":  # blob: a size that may lie (negative, huge, past the end)
            size = int(rng.choice([-1, -(2**31), 2**31 - 1, int(rng.integers(0, 64))]))
            body += struct.pack(">i", size) + rng.bytes(int(rng.integers(0, 64)))
    tag_bytes = tags.encode() + b"\0" * (4 - len(tags) % 4)
    packet = address + tag_bytes + body
    if rng.random() < 0.3:  # truncated anywhere
        packet = packet[: int(rng.integers(0, len(packet) + 1))]
    return packet


def _bundle(rng: np.random.Generator, depth: int = 0) -> bytes:
    """A bundle whose element sizes are negative, zero, too big, unaligned, or nested deep."""
    out = b"#bundle\0" + rng.bytes(8)
    for _ in range(int(rng.integers(0, 6))):
        element = _bundle(rng, depth + 1) if depth < 6 and rng.random() < 0.3 else _message(rng)
        size = len(element)
        roll = rng.random()
        if roll < 0.15:
            size = -int(rng.integers(1, 2**31))
        elif roll < 0.25:
            size = 0
        elif roll < 0.35:
            size = len(element) + int(rng.integers(1, 2**20))
        elif roll < 0.45:
            size = len(element) + int(rng.integers(1, 4))
        out += struct.pack(">i", size) + element
    return out


def malformed(rng: np.random.Generator) -> bytes:
    roll = rng.random()
    if roll < 0.4:
        return _bundle(rng)
    if roll < 0.8:
        return _message(rng)
    if roll < 0.95:
        return rng.bytes(int(rng.integers(0, 512)))
    return rng.bytes(int(rng.integers(16385, 20000)))  # over the datagram limit


def test_fuzz_udp_and_tcp(models, tmp_path):  # noqa: F811
    rng = np.random.default_rng(20261126)
    config = ServerConfig(port=0, allow=[tmp_path], max_seconds=10)
    with DiffbandServer(models, config, log=lambda _: None) as srv:
        before = rss_mb()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw, client(srv) as sync:
            for index in range(1, UDP_PACKETS + 1):
                raw.sendto(malformed(rng), ("127.0.0.1", srv.port))
                if index % 16 == 0:  # in step with the server: its receive buffer never drops a packet
                    assert sync.ping() == __version__, f"no pong after {index} datagrams"
        assert rss_mb() - before < RSS_BOUND_MB

        sent = 0
        while sent < TCP_FRAMES:
            with client(srv, "tcp") as c:  # a connection closed by an oversized frame is replaced
                for _ in range(20):
                    frame = malformed(rng)
                    if rng.random() < 0.2:  # broken SLIP escapes inside the frame
                        frame = slip.END + frame + b"\xdb" + bytes([int(rng.integers(0, 256))]) + slip.END
                    else:
                        frame = slip.encode(frame)
                    c.sock.sendall(frame)
                    sent += 1
                c.sock.sendall(slip.encode(encode_message("/diffband/ping")))
                while (reply := c.receive())[0] != "/diffband/pong":  # replies to the garbage come first
                    assert reply[0] in REPLIES, reply
                assert reply[1] == [__version__]
            if sent % 100 == 0:
                with client(srv, "tcp") as check:
                    assert check.ping() == __version__, f"no pong after {sent} TCP frames"
        assert rss_mb() - before < RSS_BOUND_MB
        with client(srv) as c:
            assert c.status()["queued"] == 0


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _entries(folder) -> set[str]:
    return {str(p) for p in folder.rglob("*")}


def test_soak_eight_clients_one_vanishing(models, tmp_path):  # noqa: F811
    """8 clients submit at once (file and buffer mode, UDP and TCP); a 9th vanishes mid-upload."""
    allowed = tmp_path / "allowed"
    config = ServerConfig(port=0, allow=[allowed], max_seconds=10, upload_timeout=1.0)
    t = np.arange(RATE) / RATE
    clip = (0.3 * np.sin(2 * np.pi * 196 * t)).astype(np.float32)
    with DiffbandServer(models, config, log=lambda _: None) as srv:
        sf.write(allowed / "take.wav", clip, RATE)
        with client(srv) as c:
            assert c.ping() == __version__
        fds, entries = _open_fds(), _entries(allowed)
        results: dict[str, object] = {}

        def run(index: int) -> None:
            job_id = f"soak{index}"
            technique = ("cross", "accompany")[index % 2]
            options = {"with": "violin" if technique == "cross" else "violin,guitar", "steps": 2}
            transport = ("udp", "tcp")[index // 2 % 2]
            try:
                with client(srv, transport) as c:
                    if index < 4:
                        c.submit_file(job_id, technique, allowed / "take.wav", allowed / "out", **options)
                    else:
                        c.submit_buffer(job_id, technique, clip, RATE, **options)
                    results[job_id] = c.wait(job_id, timeout=120)
            except Exception as error:  # noqa: BLE001 - recorded and asserted below
                results[job_id] = error

        def vanish() -> None:
            sock = socket.create_connection(("127.0.0.1", srv.port))
            header = ["gone1", "cross", RATE, 1, RATE, 8, "with", "violin"]
            sock.sendall(slip.encode(encode_message("/diffband/submit/buffer", *header)))
            blob = clip[: RATE // 8].tobytes()
            for index in range(3):
                sock.sendall(slip.encode(encode_message("/diffband/chunk", "gone1", index, blob)))
            sock.close()  # mid-upload, without /end

        threads = [threading.Thread(target=run, args=(i,)) for i in range(8)] + [threading.Thread(target=vanish)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        failures = {k: v for k, v in results.items() if isinstance(v, Exception)}
        assert len(results) == 8 and not failures, failures
        for job_id, result in results.items():
            expected = {"violin"} if int(job_id[-1]) % 2 == 0 else {"violin", "guitar", "mix"}
            assert set(result.layers) == expected, job_id

        deadline = time.monotonic() + 30  # the abandoned upload is swept after upload_timeout
        while (srv.uploads or _open_fds() > fds) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not srv.uploads
        assert _open_fds() <= fds
        left = _entries(allowed) - entries  # the layers of the file-mode jobs, and no temporary file
        assert left == {str(allowed / "out")} | {str(allowed / "out" / name) for name in (
            "soak0_violin.wav", "soak1_violin.wav", "soak1_guitar.wav", "soak1_mix.wav",
            "soak2_violin.wav", "soak3_violin.wav", "soak3_guitar.wav", "soak3_mix.wav")}, left
        with client(srv) as c:
            state = c.status()
        assert (state["queued"], state["running"]) == (0, 0)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_fuzzed_client_cannot_break_a_normal_job(models, tmp_path, transport):  # noqa: F811
    """A job submitted between bursts of garbage still completes."""
    rng = np.random.default_rng(7)
    config = ServerConfig(port=0, allow=[tmp_path], max_seconds=10)
    clip = (0.3 * np.sin(2 * np.pi * 330 * np.arange(RATE // 2) / RATE)).astype(np.float32)
    with DiffbandServer(models, config, log=lambda _: None) as srv, client(srv, transport) as c:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
            for _ in range(200):
                raw.sendto(malformed(rng), ("127.0.0.1", srv.port))
        c.submit_buffer("ok1", "cross", clip, RATE, **{"with": "guitar", "steps": 2})
        result = c.wait("ok1", timeout=120)
    assert result.layers["guitar"].shape == clip.shape
