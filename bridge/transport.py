"""Reply channels (UDP address, TCP connection) and the two OSC stream framings over TCP:
OSC 1.1 SLIP and OSC 1.0's int32 length prefix (liblo and most OSC 1.0 clients)."""

from __future__ import annotations

import socket
import struct
import threading
from typing import Any, Literal

import numpy as np
from pythonosc import slip
from pythonosc.osc_message_builder import build_msg

from diffband.bridge.protocol import TCP_CHUNK_SAMPLES, UDP_CHUNK_SAMPLES


def _plain(value: Any) -> Any:
    """numpy scalars -> Python ones, so python-osc picks the right type tag."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def encode_message(address: str, *args: Any) -> bytes:
    return build_msg(address, [_plain(a) for a in args]).dgram


class FrameTooLarge(ValueError):
    pass


Framing = Literal["slip", "length"]
#: First bytes that open a SLIP stream: END, or a packet sent without a leading END.
SLIP_FIRST_BYTES = frozenset(slip.END + b"/#")


def frame(packet: bytes, framing: Framing) -> bytes:
    """``packet`` framed for a TCP stream: SLIP-encoded, or after its size as int32 big-endian."""
    return slip.encode(packet) if framing == "slip" else struct.pack(">I", len(packet)) + packet


class SlipReader:
    """Split a TCP byte stream into SLIP-decoded OSC packets, bounding the unfinished frame.

    An invalid frame is counted and skipped; the valid frames around it are kept.
    """

    framing: Framing = "slip"

    def __init__(self, max_frame: int):
        self.max_frame = max_frame
        self.buffer = bytearray()
        self.invalid = 0  # frames that were not valid SLIP, so far

    def feed(self, data: bytes) -> list[bytes]:
        if slip.END not in data:  # mid-frame: collect, without re-splitting the whole buffer
            self.buffer += data
            complete, rest = [], self.buffer
        else:
            *complete, rest = (bytes(self.buffer) + data).split(slip.END)
        self.buffer = bytearray(rest)
        if len(self.buffer) > self.max_frame:
            self.buffer.clear()
            raise FrameTooLarge(f"a SLIP frame is longer than {self.max_frame} bytes")
        packets = []
        for piece in complete:
            if not piece:
                continue
            if len(piece) > self.max_frame:
                raise FrameTooLarge(f"a SLIP frame is longer than {self.max_frame} bytes")
            try:
                packets.append(slip.decode(piece))
            except slip.ProtocolError:
                self.invalid += 1
        return packets


class LengthPrefixReader:
    """Split an OSC 1.0 TCP stream (each packet after its size, int32 big-endian) into packets.

    A size over ``max_frame`` raises ``FrameTooLarge``: the stream cannot be resynchronised
    after it, so the connection ends.  Empty packets are skipped.
    """

    framing: Framing = "length"
    invalid = 0  # a length-prefixed stream has no invalid frame that can be skipped

    def __init__(self, max_frame: int):
        self.max_frame = max_frame
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self.buffer += data
        packets, at = [], 0
        while len(self.buffer) - at >= 4:
            size = int.from_bytes(self.buffer[at:at + 4], "big")
            if size > self.max_frame:
                self.buffer.clear()
                raise FrameTooLarge(f"a length-prefixed packet of {size} bytes is over {self.max_frame} bytes")
            if len(self.buffer) - at - 4 < size:
                break
            if size:
                packets.append(bytes(self.buffer[at + 4:at + 4 + size]))
            at += 4 + size
        del self.buffer[:at]
        return packets


def stream_reader(first: bytes, max_frame: int) -> SlipReader | LengthPrefixReader:
    """The reader for a TCP connection whose first received bytes are ``first``: SLIP when
    they open with END, ``/`` or ``#``, else a length prefix (its first byte is 0 for any
    packet under 16 MiB)."""
    if first[:1] and first[0] in SLIP_FIRST_BYTES:
        return SlipReader(max_frame)
    return LengthPrefixReader(max_frame)


class UdpChannel:
    """Replies as datagrams to ``(host, port)`` from the server's own socket."""

    chunk_samples = UDP_CHUNK_SAMPLES

    def __init__(self, sock: socket.socket, address: tuple[str, int]):
        self.sock = sock
        self.address = address
        self.key = f"udp:{address[0]}:{address[1]}"

    def send(self, address: str, *args: Any) -> None:
        try:
            self.sock.sendto(encode_message(address, *args), self.address)
        except OSError:
            pass  # the client went away; UDP has no one to tell


class TcpChannel:
    """Replies on the client's TCP connection, in the framing it sends (SLIP until known)."""

    chunk_samples = TCP_CHUNK_SAMPLES

    def __init__(self, sock: socket.socket, peer: tuple[str, int], framing: Framing = "slip"):
        self.sock = sock
        self.key = f"tcp:{peer[0]}:{peer[1]}"
        self.framing = framing
        self.lock = threading.Lock()
        self.closed = False

    def send(self, address: str, *args: Any) -> None:
        if self.closed:
            return
        try:
            with self.lock:
                self.sock.sendall(frame(encode_message(address, *args), self.framing))
        except OSError:
            self.closed = True
