"""OSC over TCP in both stream framings: OSC 1.1 SLIP and OSC 1.0's int32 length prefix (what
liblo and other OSC 1.0 clients send).  The server reads the framing off each connection's
first bytes and answers in it; real sockets, the real server and the shipped models."""

from __future__ import annotations

import socket
import struct

import numpy as np
import pytest
from pythonosc import slip
from pythonosc.osc_message import OscMessage

from diffband.bridge.chunks import to_chunks
from diffband.bridge.server import DiffbandServer, ServerConfig
from diffband.bridge.transport import LengthPrefixReader, SlipReader, encode_message, frame, stream_reader
from diffband.engine import __version__
from tests.test_bridge_server import models  # noqa: F401

TIMEOUT = 60.0


class LengthPrefixedClient:
    """An OSC 1.0 TCP client as liblo frames it: each packet after its size, int32 big-endian."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)

    def send(self, address: str, *args) -> None:
        packet = encode_message(address, *args)
        self.sock.sendall(struct.pack(">i", len(packet)) + packet)

    def _exactly(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            piece = self.sock.recv(size - len(data))
            if not piece:
                raise ConnectionError(f"closed after {len(data)} of {size} bytes")
            data += piece
        return data

    def receive(self) -> tuple[str, list]:
        """The next reply; it must be length-prefixed, or parsing it fails."""
        size = struct.unpack(">i", self._exactly(4))[0]
        message = OscMessage(self._exactly(size))
        return message.address, list(message.params)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def server(models, tmp_path_factory):  # noqa: F811
    folder = tmp_path_factory.mktemp("framing")
    with DiffbandServer(models, ServerConfig(port=0, allow=[folder], max_seconds=30), log=lambda _: None) as srv:
        yield srv


@pytest.fixture()
def liblo_client(server):
    c = LengthPrefixedClient(server.port)
    yield c
    c.close()


def test_a_length_prefixed_ping_gets_a_length_prefixed_pong(liblo_client):
    liblo_client.send("/diffband/ping")
    assert liblo_client.receive() == ("/diffband/pong", [__version__])


def test_packets_joined_in_one_send_and_split_across_sends(liblo_client):
    ping = encode_message("/diffband/ping")
    framed = struct.pack(">i", len(ping)) + ping
    liblo_client.sock.sendall(framed + framed)  # two packets in one segment
    for piece in (framed[:2], framed[2:5], framed[5:]):  # one packet split inside its prefix and body
        liblo_client.sock.sendall(piece)
    assert [liblo_client.receive()[0] for _ in range(3)] == ["/diffband/pong"] * 3


def test_a_buffer_mode_job_round_trip_in_length_prefixed_framing(liblo_client):
    """Audio up and layers back on the same OSC 1.0 connection: large frames, many chunks."""
    rate = 22050
    t = np.arange(rate, dtype=np.float32) / rate
    audio = (0.3 * np.sin(2 * np.pi * 330 * t))[:, None].astype(np.float32)
    chunks = to_chunks(audio, 8192)
    liblo_client.send("/diffband/submit/buffer", "lp1", "cross", rate, 1, len(audio), len(chunks), "with", "violin",
                      "steps", 2)
    for index, blob in enumerate(chunks):
        liblo_client.send("/diffband/chunk", "lp1", index, blob)
    liblo_client.send("/diffband/end", "lp1")
    begin, received = None, {}
    while True:
        address, args = liblo_client.receive()
        assert address != "/diffband/error", args
        if address == "/diffband/layer/begin":
            begin = args
        elif address == "/diffband/layer/chunk":
            received[args[2]] = args[3]
        elif address == "/diffband/done":
            break
    assert begin[:5] == ["lp1", "violin", rate, 1, len(audio)]
    assert sorted(received) == list(range(begin[5]))
    layer = np.frombuffer(b"".join(received[i] for i in sorted(received)), dtype="<f4")
    assert layer.shape == (len(audio),) and np.all(np.isfinite(layer)) and np.max(np.abs(layer)) > 0


def test_an_oversized_length_prefix_is_refused_and_the_connection_closed(models, tmp_path):  # noqa: F811
    config = ServerConfig(port=0, allow=[tmp_path], max_frame=4096)
    with DiffbandServer(models, config, log=lambda _: None) as srv:
        c = LengthPrefixedClient(srv.port)
        try:
            c.sock.sendall(struct.pack(">i", 5000) + b"\0" * 64)
            address, args = c.receive()  # the refusal comes in the connection's own framing
            assert address == "/diffband/error" and args[1] == "too_large"
            assert c.sock.recv(16) == b""  # and then the server hangs up
        finally:
            c.close()


def test_a_slip_connection_is_still_answered_in_slip(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(slip.encode(encode_message("/diffband/ping")))
        reader, packets = SlipReader(2**16), []
        while not packets:
            packets = reader.feed(sock.recv(4096))
    assert OscMessage(packets[0]).params == [__version__]


@pytest.mark.parametrize("first, kind", [(slip.END + b"/d", "slip"), (b"/diffband/ping\0\0", "slip"),
                                         (b"#bundle\0", "slip"), (struct.pack(">i", 20), "length")])
def test_the_framing_is_read_off_the_first_byte(first, kind):
    reader = stream_reader(first, 1024)
    assert reader.framing == kind
    assert isinstance(reader, SlipReader if kind == "slip" else LengthPrefixReader)


def test_frame_and_reader_agree_and_skip_empty_packets():
    packets = [encode_message("/a", 1), encode_message("/b", "x" * 300)]
    stream = frame(packets[0], "length") + struct.pack(">i", 0) + frame(packets[1], "length")
    reader = LengthPrefixReader(1024)
    got = [p for i in range(0, len(stream), 7) for p in reader.feed(stream[i:i + 7])]
    assert got == packets and not reader.buffer
