"""Structural check of an OSC packet before python-osc parses it.

python-osc trusts the sizes inside a packet: a bundle element of negative size sends its
bundle parser into an endless loop, zero-size elements log a warning each, and a bundle
may hold any number of messages.  ``check_packet`` walks the packet once, in time linear
in its length, and refuses anything python-osc could mis-parse or that would cost more
than the limits allow; what passes is safe to hand to ``OscPacket``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

BUNDLE_PREFIX = b"#bundle\x00"
_INT = struct.Struct(">i")
#: Argument type tags python-osc reads, with their fixed sizes in bytes.
_FIXED_SIZE = {"i": 4, "f": 4, "c": 4, "r": 4, "m": 4, "h": 8, "d": 8, "t": 8, "T": 0, "F": 0, "N": 0, "I": 0}


class PacketRejected(ValueError):
    """The packet is not well-formed OSC, or it exceeds a structural limit."""


@dataclass(frozen=True)
class PacketLimits:
    """Bounds on one packet's structure (sizes are bounded by the transport)."""

    max_depth: int = 4  # bundles inside bundles
    max_messages: int = 64  # messages in one packet, all bundles together
    max_args: int = 256  # arguments of one message


def _padded_string_end(data: bytes, start: int, end: int, what: str) -> int:
    """Index after the NUL-terminated, 4-byte padded string that starts at ``start``."""
    nul = data.find(b"\x00", start, end)
    if nul < 0:
        raise PacketRejected(f"unterminated {what}")
    after = (nul // 4 + 1) * 4
    if after > end:
        raise PacketRejected(f"{what} padding runs past the element")
    return after


def _check_message(data: bytes, start: int, end: int, limits: PacketLimits) -> None:
    if data[start : start + 1] != b"/":
        raise PacketRejected("an OSC address must start with '/'")
    index = _padded_string_end(data, start, end, "address")
    if data[index : index + 1] != b",":
        raise PacketRejected("message without a type tag string")
    tags_end = _padded_string_end(data, index, end, "type tag string")
    tags = data[index + 1 : data.index(b"\x00", index)].decode("ascii", errors="replace")
    if len(tags) > limits.max_args:
        raise PacketRejected(f"more than {limits.max_args} arguments in one message")
    index = tags_end
    depth = 0
    for tag in tags:
        if tag in _FIXED_SIZE:
            index += _FIXED_SIZE[tag]
        elif tag in "sS":
            index = _padded_string_end(data, index, end, "string argument")
        elif tag == "b":
            if index + 4 > end:
                raise PacketRejected("blob size runs past the element")
            (size,) = _INT.unpack_from(data, index)
            if size < 0:
                raise PacketRejected("negative blob size")
            index += 4 + size + (-size % 4)
        elif tag == "[":
            depth += 1
        elif tag == "]":
            depth -= 1
            if depth < 0:
                raise PacketRejected("unbalanced ']' in type tags")
        else:
            raise PacketRejected(f"unknown type tag {tag!r}")
        if index > end:
            raise PacketRejected("arguments run past the element")
    if depth:
        raise PacketRejected("unbalanced '[' in type tags")


def check_packet(data: bytes, limits: PacketLimits = PacketLimits()) -> int:
    """Validate ``data`` as one OSC message or bundle; the number of messages it holds.

    Raises ``PacketRejected`` (with a short reason) for anything malformed or over ``limits``.
    """
    if len(data) % 4:
        raise PacketRejected("packet length is not a multiple of 4")
    messages = 0
    pending = [(0, len(data), 0)]  # (start, end, depth) of elements still to check
    while pending:
        start, end, depth = pending.pop()
        if not data.startswith(BUNDLE_PREFIX, start):
            _check_message(data, start, end, limits)
            messages += 1
            if messages > limits.max_messages:
                raise PacketRejected(f"more than {limits.max_messages} messages in one packet")
            continue
        if depth >= limits.max_depth:
            raise PacketRejected(f"bundles nested deeper than {limits.max_depth}")
        index = start + len(BUNDLE_PREFIX) + 8  # the time tag
        if index > end:
            raise PacketRejected("bundle without a time tag")
        while index < end:
            if index + 4 > end:
                raise PacketRejected("bundle element size runs past the bundle")
            (size,) = _INT.unpack_from(data, index)
            if size <= 0 or size % 4 or index + 4 + size > end:
                raise PacketRejected(f"bundle element of invalid size {size}")
            pending.append((index + 4, index + 4 + size, depth + 1))
            if len(pending) > limits.max_messages:
                raise PacketRejected(f"more than {limits.max_messages} elements in one packet")
            index += 4 + size
    if messages == 0:
        raise PacketRejected("an empty bundle")
    return messages
