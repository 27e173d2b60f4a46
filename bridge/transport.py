"""Reply channels (UDP address, TCP connection) and OSC 1.1 SLIP stream framing."""

from __future__ import annotations

import socket
import threading
from typing import Any

import numpy as np
from pythonosc import slip
from pythonosc.osc_message_builder import build_msg

from bridge.protocol import TCP_CHUNK_SAMPLES, UDP_CHUNK_SAMPLES


def _plain(value: Any) -> Any:
    """numpy scalars -> Python ones, so python-osc picks the right type tag."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def encode_message(address: str, *args: Any) -> bytes:
    return build_msg(address, [_plain(a) for a in args]).dgram


class FrameTooLarge(ValueError):
    pass


class SlipReader:
    """Split a TCP byte stream into SLIP-decoded OSC packets, bounding the unfinished frame.

    An invalid frame is counted and skipped; the valid frames around it are kept.
    """

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
    """Replies SLIP-framed on the client's TCP connection."""

    chunk_samples = TCP_CHUNK_SAMPLES

    def __init__(self, sock: socket.socket, peer: tuple[str, int]):
        self.sock = sock
        self.key = f"tcp:{peer[0]}:{peer[1]}"
        self.lock = threading.Lock()
        self.closed = False

    def send(self, address: str, *args: Any) -> None:
        if self.closed:
            return
        try:
            with self.lock:
                self.sock.sendall(slip.encode(encode_message(address, *args)))
        except OSError:
            self.closed = True
