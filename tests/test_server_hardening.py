"""Issue 11: packets and requests that used to hang, flood, escape or slip through the server.

Real sockets on loopback, the real server and ONNX Runtime sessions on the shipped models.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
import time

import numpy as np
import pytest
from pythonosc import slip

from diffband.bridge.client import DiffbandClient, ServerError
from diffband.bridge.jobs import Job, JobRunner
from diffband.bridge.osc_guard import PacketRejected, check_packet
from diffband.bridge.peer_log import PeerLog
from diffband.bridge.protocol import MAX_MODELS_PER_JOB, NO_JOB, ProtocolError, job_options, split_request
from diffband.bridge.server import DiffbandServer, ServerConfig
from diffband.bridge.transport import SlipReader, encode_message
from diffband.engine import __version__
from tests.test_bridge_server import RATE, assert_alive, client, expect_error, free_udp_port, models  # noqa: F401

NEGATIVE_BUNDLE = b"#bundle\0" + b"\0" * 8 + struct.pack(">i", -4)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("hardening")


@pytest.fixture()
def logged(models, folder):  # noqa: F811
    """A server on its own port whose log lines are collected."""
    lines: list[str] = []
    with DiffbandServer(models, ServerConfig(port=0, allow=[folder], max_seconds=30), log=lines.append) as srv:
        yield srv, lines


@pytest.fixture(scope="module")
def server(models, folder):  # noqa: F811
    with DiffbandServer(models, ServerConfig(port=0, allow=[folder], max_seconds=30), log=lambda _: None) as srv:
        yield srv


def send_paced(srv: DiffbandServer, packets: list[bytes], every: int = 8) -> None:
    """Send ``packets`` over UDP from one socket, pinging from another after every ``every``.

    The server reads its one UDP socket in order, so each pong proves the packets before it
    were handled; pacing keeps the kernel's receive buffer from dropping any.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw, client(srv) as sync:
        for index, packet in enumerate(packets, 1):
            raw.sendto(packet, ("127.0.0.1", srv.port))
            if index % every == 0 or index == len(packets):
                assert sync.ping() == __version__


def tone(seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


# ---- 1. a negative bundle element size ------------------------------------------------------------
def test_negative_bundle_size_is_refused_in_bounded_time():
    started = time.process_time()
    with pytest.raises(PacketRejected, match="invalid size -4"):
        check_packet(NEGATIVE_BUNDLE)
    assert time.process_time() - started < 1.0  # python-osc looped forever on this packet


def test_negative_bundle_over_udp_keeps_the_server_answering(logged):
    srv, lines = logged
    with client(srv) as c:
        c.send_raw(NEGATIVE_BUNDLE)
        assert "invalid size" in expect_error(c, "malformed")
        assert c.ping() == __version__
    assert len(lines) == 1 and "refused a packet" in lines[0]


def test_negative_bundle_over_tcp_frees_the_connection(server):
    with client(server, "tcp") as c:
        c.send_raw(NEGATIVE_BUNDLE)
        expect_error(c, "malformed")
        assert c.ping() == __version__  # the same connection's thread is not pinned in a loop


# ---- 2. log flooding ---------------------------------------------------------------------------------
def test_a_flood_of_bad_bundles_writes_a_few_lines(logged, caplog):
    srv, lines = logged
    zeros = b"#bundle\0" + bytes(16384 - 8)
    with caplog.at_level(logging.WARNING):
        send_paced(srv, [zeros] * 200)
    assert len(lines) <= 3 and sum(map(len, lines)) < 1000
    assert not caplog.records  # python-osc's per-element warnings never run


def test_peer_log_counts_what_it_suppressed():
    now = [0.0]
    out: list[str] = []
    log = PeerLog(out.append, burst=2, interval=10.0, clock=lambda: now[0])
    for _ in range(50):
        log("udp:a", "bad packet")
    log("udp:b", "other peer")
    assert out == ["bad packet", "bad packet", "other peer"]
    now[0] = 10.5
    log("udp:a", "bad packet")
    assert out[-1] == "bad packet (48 similar line(s) from udp:a suppressed)"


# ---- 5. bounded work ---------------------------------------------------------------------------------
def test_a_bundle_of_many_pings_is_refused_whole(server):
    ping = encode_message("/diffband/ping")
    bundle = b"#bundle\0" + b"\0" * 7 + b"\x01" + (struct.pack(">i", len(ping)) + ping) * 100_000
    with client(server, "tcp") as c:
        started = time.process_time()
        c.send_raw(bundle)
        assert "more than 64" in expect_error(c, "malformed")
        assert c.ping() == __version__
    assert time.process_time() - started < 5.0


def test_the_with_list_is_bounded():
    names = ",".join(f"m{i}" for i in range(500))
    with pytest.raises(ProtocolError) as err:
        job_options("accompany", {"with": names})
    assert err.value.code == "too_large" and str(MAX_MODELS_PER_JOB) in str(err.value)
    assert len(job_options("accompany", {"with": ",".join(["violin"] * MAX_MODELS_PER_JOB)})["with"]) == MAX_MODELS_PER_JOB


def test_tcp_connections_are_bounded_and_idle_ones_closed(models, folder):  # noqa: F811
    config = ServerConfig(port=0, allow=[folder], max_connections=3, idle_timeout=0.5)
    with DiffbandServer(models, config, log=lambda _: None) as srv:
        held = [client(srv, "tcp") for _ in range(3)]
        try:
            for c in held:
                assert c.ping() == __version__
            with client(srv, "tcp") as extra:
                assert "connections open already" in expect_error(extra, "too_large")
                assert extra.sock.recv(1) == b""  # and closed
            time.sleep(1.0)  # past the idle timeout: the server closes the silent connections
            for c in held:
                c.sock.settimeout(5)
                assert c.sock.recv(1) == b""
        finally:
            for c in held:
                c.close()
        with client(srv, "tcp") as again:  # their slots are free again
            assert again.ping() == __version__


# ---- 6. bad numbers ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "key, value",
    [("layer_gain", float("inf")), ("layer_gain", 300.0), ("layer_gain", float("nan")), ("seed", -1),
     ("seed", 2.5), ("strength", float("-inf")), ("steps", 0), ("start", float("inf")), ("duration", -1.0),
     ("eta", 1.5)],
)
def test_out_of_range_options_are_refused_at_submit(key, value):
    with pytest.raises(ProtocolError) as err:
        job_options("accompany", {"with": "violin", key: value})
    assert err.value.code == "bad_args" and key in str(err.value)


def test_infinite_layer_gain_gets_an_error_not_a_nan_mix(server, folder):
    with client(server) as c:
        c.send("/diffband/submit/buffer", "inf1", "accompany", RATE, 1, RATE, 1, "with", "violin", "layer_gain", float("inf"))
        assert "layer_gain" in expect_error(c, "bad_args")


# ---- 7. smaller protocol defects ------------------------------------------------------------------------
def test_an_invalid_slip_frame_keeps_the_valid_ones_beside_it():
    reader = SlipReader(4096)
    ping = encode_message("/diffband/ping")
    packets = reader.feed(slip.encode(ping) + slip.END + b"\xdb\x01" + slip.END + slip.encode(ping))
    assert packets == [ping, ping] and reader.invalid == 1


def test_invalid_slip_frame_in_one_read_over_tcp(server):
    ping = encode_message("/diffband/ping")
    with client(server, "tcp") as c:
        c.sock.sendall(slip.END + b"\xdb\x01" + slip.END + slip.encode(ping))
        expect_error(c, "malformed")
        assert c.expect("/diffband/pong") == [__version__]


def test_error_replies_never_echo_a_blob(server):
    with client(server, "tcp") as c:
        c.send("/diffband/submit/file", "echo1", "cross", "a.wav", "out", "with", "violin", "strength", bytes(16384))
        message = expect_error(c, "bad_args")
    assert len(message) < 200 and "16384-byte blob" in message


@pytest.mark.parametrize("job_id", ["", "nl\n", "x" * 65])
def test_bad_job_ids_are_refused(job_id):
    for address, args in (("/diffband/submit/buffer", [job_id, "cross", RATE, 1, 100, 1]), ("/diffband/cancel", [job_id])):
        with pytest.raises(ProtocolError, match="job_id must be"):
            split_request(address, args)


def test_only_the_submitting_client_may_cancel(server):
    slow = {"with": "violin", "steps": 1000, "strength": 1.0}
    with client(server) as owner, client(server) as other:
        owner.submit_buffer("mine1", "cross", tone(), RATE, **slow)
        owner.expect("/diffband/accepted")
        other.cancel("mine1")
        assert "of this client" in expect_error(other, "unknown_job")
        owner.cancel("mine1")
        with pytest.raises(ServerError) as err:
            owner.wait("mine1")
    assert err.value.code == "cancelled"


def test_a_job_is_released_before_its_done_reply(models):  # noqa: F811
    """A client that resubmits the moment /done arrives must not be told it is busy."""
    runner = JobRunner(models, log=lambda _: None)
    seen: list[tuple[str, bool]] = []

    class Recorder:
        key = "rec"
        chunk_samples = 1536

        def send(self, address: str, *args) -> None:
            if address in ("/diffband/done", "/diffband/error", "/diffband/cancelled"):
                seen.append((address, args[0] not in runner.jobs))

    try:
        options = job_options("cross", {"with": "violin", "steps": 1})
        for index in range(2):
            runner.submit(Job(f"r{index}", "cross", options, Recorder(), audio=tone(0.5)[:, None], sample_rate=RATE))
        deadline = time.monotonic() + 60
        while len(seen) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        runner.stop()
    assert seen == [("/diffband/done", True), ("/diffband/done", True)]


def test_reply_port_as_an_integral_float(server):
    port = free_udp_port()
    with DiffbandClient(port=server.port, timeout=30, reply_port=port) as c:
        c.send("/diffband/ping", float(port), with_reply_port=False)  # Pure Data sends every number as a float
        assert c.expect("/diffband/pong") == [__version__]


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="this machine has no IPv6 loopback")
def test_the_server_binds_ipv6_loopback(models, folder):  # noqa: F811
    with DiffbandServer(models, ServerConfig(host="::1", port=0, allow=[folder]), log=lambda _: None) as srv:
        for transport in ("udp", "tcp"):
            with DiffbandClient(host="::1", port=srv.port, transport=transport, timeout=30) as c:
                assert c.ping() == __version__


def test_the_server_keeps_serving_while_a_client_floods(server):
    """Bad packets from one peer do not starve another peer's requests."""
    stop = threading.Event()

    def flood() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            while not stop.is_set():
                s.sendto(NEGATIVE_BUNDLE, ("127.0.0.1", server.port))

    thread = threading.Thread(target=flood, daemon=True)
    thread.start()
    try:
        with client(server, "tcp") as c:
            for _ in range(20):
                assert c.ping() == __version__
    finally:
        stop.set()
        thread.join()
    assert_alive(server)


def test_errors_of_no_job_carry_a_routable_id_and_go_to_the_reply_port(server):
    port = free_udp_port()
    with DiffbandClient(port=server.port, timeout=30, reply_port=port) as c:
        c.send("/diffband/cancel", "bad id!")  # refused before any job exists: still answered at reply_port
        with pytest.raises(ServerError) as err:
            c.expect("/diffband/never")
        assert err.value.code == "bad_args" and err.value.job_id == NO_JOB
    with client(server) as c:
        c.send_raw(NEGATIVE_BUNDLE)
        with pytest.raises(ServerError) as err:
            c.expect("/diffband/never")
        assert err.value.code == "malformed" and err.value.job_id == NO_JOB
