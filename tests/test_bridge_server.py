"""diffband serve on loopback: real UDP and TCP sockets, real ONNX Runtime sessions, the shipped models."""

from __future__ import annotations

import os
import socket
import time

import numpy as np
import pytest
import soundfile as sf

from diffband.bridge.chunks import to_chunks
from diffband.bridge.client import DiffbandClient, ServerError
from diffband.bridge.protocol import UDP_CHUNK_SAMPLES, UDP_DATAGRAM_LIMIT
from diffband.bridge.server import DiffbandServer, ServerConfig
from diffband.bridge.transport import encode_message
from diffband.engine import __version__
from diffband.engine.model import load_models
from diffband.engine.register import layer_octaves
from tests.conftest import REPO

RATE = 44100
FAST = {"steps": 4}


@pytest.fixture(scope="module")
def models():
    loaded = load_models([str(REPO / "models" / f"{n}.onnx") for n in ("violin", "guitar")], device="cpu", threads=1)
    return {m.name: m for m in loaded}


@pytest.fixture(scope="module")
def vocal() -> np.ndarray:
    audio, rate = sf.read(REPO / "models" / "example_vocal.wav", dtype="float32")
    from soxr import resample

    return resample(audio, rate, RATE)[: int(2.5 * RATE)]  # 2.5 s at 44.1 kHz: resampled both ways


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("allowed")


@pytest.fixture(scope="module")
def server(models, folder):
    with DiffbandServer(models, ServerConfig(port=0, allow=[folder], max_seconds=30), log=lambda _: None) as srv:
        yield srv


def client(server, transport="udp", **kw) -> DiffbandClient:
    return DiffbandClient(port=server.port, transport=transport, timeout=60, **kw)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_alive(server) -> None:
    with client(server) as c:
        assert c.ping() == __version__


# ---- queries ---------------------------------------------------------------------------------
def test_ping_answers_the_sender_port_over_udp(server):
    with client(server) as c:
        assert c.ping() == __version__


def test_ping_with_reply_port_answers_there(server):
    port = free_udp_port()
    with client(server, reply_port=port) as c:
        c.send("/diffband/ping")
        assert c.expect("/diffband/pong") == [__version__]  # read from the listening socket at `port`
        c.sock.settimeout(0.3)
        with pytest.raises(socket.timeout):
            c.sock.recvfrom(65536)  # nothing came back to the sending port


def test_ping_over_tcp(server):
    with client(server, "tcp") as c:
        assert c.ping() == __version__


def test_models_and_status(server, folder):
    with client(server) as c:
        listed = {m["name"]: m for m in c.models()}
        assert set(listed) == {"violin", "guitar"}
        assert listed["violin"]["sample_rate"] == 22050
        assert 4.0 < listed["violin"]["window_seconds"] < 5.0
        state = c.status()
    assert state["provider"] == "CPUExecutionProvider"
    assert state["folder"] == str(folder.resolve())
    assert state["max_queue"] == 8 and state["queued"] == 0


# ---- jobs --------------------------------------------------------------------------------------
def test_file_mode_accompany_round_trip(server, folder, vocal, models):
    sf.write(folder / "take1.wav", vocal, RATE)
    with client(server) as c:
        c.submit_file("acc1", "accompany", folder / "take1.wav", folder / "out", **{"with": "violin,guitar"},
                      register="instrument", **FAST)
        result = c.wait("acc1")
    assert set(result.layers) == {"violin", "guitar", "mix"}
    # each layer's octave, as the engine chose it for that model's range; the mix keeps the vocal's
    chosen = layer_octaves([models["violin"], models["guitar"]], vocal, RATE, "instrument", 0, 30)
    assert result.octaves == {"violin": chosen[0], "guitar": chosen[1], "mix": 0}
    assert result.progress[-1] == 1.0 and result.progress == sorted(result.progress)
    for name, path in result.layers.items():
        assert path == (folder / "out" / f"acc1_{name}.wav").resolve()
        audio, rate = sf.read(path, dtype="float32")
        assert rate == RATE and audio.shape == vocal.shape, name
        assert np.all(np.isfinite(audio)) and np.max(np.abs(audio)) > 1e-3


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_buffer_mode_chorus_round_trip(server, vocal, transport):
    stereo = np.stack([vocal, 0.5 * vocal], axis=1)
    with client(server, transport) as c:
        sent = c.submit_buffer(f"ch-{transport}", "chorus", stereo, RATE, **{"with": "violin,guitar"}, **FAST)
        result = c.wait(f"ch-{transport}")
    if transport == "udp":  # every datagram fits a default 8 KB OSC receiver
        assert len(sent) > 1
        assert all(len(encode_message("/diffband/chunk", "ch-udp", 9999, blob)) < UDP_DATAGRAM_LIMIT for blob in sent)
    assert list(result.layers) == ["violin", "guitar"]
    assert result.octaves == {"violin": 0, "guitar": 0}
    assert result.sample_rate == RATE
    for layer in result.layers.values():
        assert layer.shape == stereo.shape
        assert np.all(np.isfinite(layer)) and 1e-3 < np.max(np.abs(layer)) <= 10 ** (-1 / 20) + 1e-6
    assert not np.allclose(result.layers["violin"], result.layers["guitar"])


def test_cancel_a_running_job(server, vocal):
    with client(server) as c:
        c.submit_buffer("long1", "cross", vocal, RATE, **{"with": "violin", "steps": 1000, "strength": 1.0})
        while c.receive()[0] != "/diffband/progress":
            pass
        c.cancel("long1")
        with pytest.raises(ServerError) as err:
            c.wait("long1")
    assert err.value.code == "cancelled"
    assert_alive(server)


def test_missing_chunk_is_reported_then_resent(server, vocal):
    with client(server) as c:
        chunks = c.submit_buffer("gap1", "cross", vocal, RATE, skip_chunks=(1, 5), resend_missing=False, **{"with": "guitar"}, **FAST)
        with pytest.raises(ServerError) as err:
            c.wait("gap1")
        assert err.value.code == "missing_chunks"
        assert "2 of" in str(err.value) and "1, 5" in str(err.value)
        c.send("/diffband/end", "gap1")  # asked again: the machine-readable report comes first
        job_id, count, blob = c.expect("/diffband/missing")
        assert (job_id, count) == ("gap1", 2) and np.frombuffer(blob, dtype="<i4").tolist() == [1, 5]
        with pytest.raises(ServerError, match="1, 5"):
            c.expect("/diffband/never")  # the readable twin follows
        for index in (5, 1):  # out of order: placed by index
            c.send("/diffband/chunk", "gap1", index, chunks[index], with_reply_port=False)
        c.send("/diffband/end", "gap1")
        result = c.wait("gap1")
    assert result.layers["guitar"].shape == vocal.shape


def test_client_resends_what_the_missing_report_lists(server, vocal):
    """The client reads /diffband/missing (not the error text) and completes the upload."""
    with client(server) as c:
        c.submit_buffer("gap2", "cross", vocal, RATE, skip_chunks=(0, 3, 4), **{"with": "guitar"}, **FAST)
        result = c.wait("gap2")
    assert result.layers["guitar"].shape == vocal.shape and np.all(np.isfinite(result.layers["guitar"]))


# ---- security and robustness: every bad request gets an error reply, the server lives on ---------
def expect_error(c: DiffbandClient, code: str) -> str:
    with pytest.raises(ServerError) as err:
        c.expect("/diffband/never")
    assert err.value.code == code, str(err.value)
    return str(err.value)


@pytest.mark.parametrize(
    "make_path",
    [
        lambda folder, tmp: str(tmp / "outside.wav"),
        lambda folder, tmp: str(folder) + "/../" + tmp.name + "/outside.wav",
        lambda folder, tmp: str(folder / "link.wav"),
    ],
    ids=["outside", "dotdot", "symlink"],
)
def test_input_path_escape_is_refused(server, folder, tmp_path, vocal, make_path):
    sf.write(tmp_path / "outside.wav", vocal, RATE)
    link = folder / "link.wav"
    if not link.is_symlink():
        os.symlink(tmp_path / "outside.wav", link)
    with client(server) as c:
        c.submit_file("esc1", "cross", make_path(folder, tmp_path), folder / "out", **{"with": "violin"})
        expect_error(c, "path_refused")
    assert_alive(server)


def test_output_dir_escape_is_refused(server, folder, tmp_path, vocal):
    sf.write(folder / "in2.wav", vocal, RATE)
    os.symlink(tmp_path, folder / "outlink")
    with client(server) as c:
        for target in (tmp_path / "x", folder / "outlink" / "x", str(folder) + "/../x"):
            c.submit_file("esc2", "cross", folder / "in2.wav", target, **{"with": "violin"})
            expect_error(c, "path_refused")
    assert not (tmp_path / "x").exists()
    assert_alive(server)


def test_oversize_udp_packet(server):
    with client(server) as c:
        c.send_raw(encode_message("/diffband/chunk", "big", 0, bytes(40000)))
        assert "over" in expect_error(c, "too_large")
    assert_alive(server)


def test_oversize_tcp_frame_closes_only_that_connection(models, folder):
    config = ServerConfig(port=0, allow=[folder], max_frame=4096)
    with DiffbandServer(models, config, log=lambda _: None) as srv, client(srv, "tcp") as c:
        c.send_raw(encode_message("/diffband/chunk", "big", 0, bytes(10000)))
        expect_error(c, "too_large")
        assert_alive(srv)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_malformed_packets_get_error_replies(server, transport):
    with client(server, transport) as c:
        c.send_raw(b"this is not OSC at all")
        expect_error(c, "malformed")
        c.send("/diffband/nonsense", 1)
        expect_error(c, "malformed")
        c.send("/diffband/submit/file", "j", "cross", 42, "out")  # int where a path string belongs
        assert "input" in expect_error(c, "bad_args")
        c.send("/diffband/submit/file", "j", "cross", "a.wav", "out", "strength", "lots", "with", "violin")
        assert "strength" in expect_error(c, "bad_args")
        c.send("/diffband/submit/file", "../j", "cross", "a.wav", "out")
        assert "job_id" in expect_error(c, "bad_args")
        c.send("/diffband/submit/buffer", "j", "chorus", RATE, 1, 100, 1, "with", "violin")
        assert "2 or more model(s)" in expect_error(c, "bad_args")
        c.send("/diffband/submit/buffer", "j", "cross", RATE, 1, 10**9, 10, "with", "violin")
        expect_error(c, "too_large")
        c.send("/diffband/chunk", "nobody", 0, b"\0" * 8)
        expect_error(c, "unknown_job")
    assert_alive(server)


def test_nan_audio_is_refused(server, vocal):
    bad = vocal.copy()
    bad[1000] = np.nan
    with client(server) as c:
        with pytest.raises(ServerError) as err:
            c.submit_buffer("nan1", "cross", bad, RATE, **{"with": "violin"}, **FAST)
    assert err.value.code == "bad_audio" and "NaN" in str(err.value)
    assert_alive(server)


def test_unknown_model_and_bad_chunk(server, vocal):
    with client(server) as c:
        c.submit_buffer("unk1", "cross", vocal, RATE, **{"with": "tuba"}, **FAST)
        with pytest.raises(ServerError) as err:
            c.wait("unk1")
        assert err.value.code == "bad_args" and "tuba" in str(err.value)
        c.send("/diffband/submit/buffer", "odd1", "cross", RATE, 2, 100, 1, "with", "violin")
        c.send("/diffband/chunk", "odd1", 0, b"\0" * 6, with_reply_port=False)  # not whole stereo frames
        expect_error(c, "bad_chunk")
        c.cancel("odd1")
        c.expect("/diffband/cancelled")


def test_queue_and_per_client_limits(models, folder, vocal):
    config = ServerConfig(port=0, allow=[folder], max_queue=1, max_jobs_per_client=1)
    with DiffbandServer(models, config, log=lambda _: None) as srv:
        slow = {"with": "violin", "steps": 1000, "strength": 1.0}
        with client(srv) as a, client(srv) as b, client(srv) as d:
            a.submit_buffer("a1", "cross", vocal, RATE, **slow)
            a.expect("/diffband/accepted")
            with pytest.raises(ServerError, match="busy"):
                a.submit_buffer("a2", "cross", vocal, RATE, **slow)
            b.submit_buffer("b1", "cross", vocal, RATE, **slow)  # queued behind a1 (or running if a1 started)
            b.expect("/diffband/accepted")
            with pytest.raises(ServerError, match="queue_full"):
                d.submit_buffer("d1", "cross", vocal, RATE, **slow)
            a.cancel("a1")
            b.cancel("b1")
            a.expect("/diffband/cancelled")
            b.expect("/diffband/cancelled")
        assert_alive(srv)


# ---- the commands: diffband serve in its own process (torch blocked), diffband send ---------------
def test_cli_serve_and_send(tmp_path, vocal):
    import subprocess
    import sys

    from tests.test_cli_runtime import blocking

    port = free_udp_port()
    allowed = tmp_path / "allowed"
    block = blocking("torch", "diffusers")  # the server runs without torch (the CLI still registers export commands)
    code = block + "import sys; from bridge.cli import main; sys.exit(main(sys.argv[1:]))"
    server = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--port", str(port), "--allow", str(allowed), "--models", "violin,guitar",
         "--threads", "1"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )

    def send(*args: str, timeout: str = "120") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "diffband.bridge.cli", "send", *args, "--port", str(port), "--timeout", timeout],
                              cwd=REPO, capture_output=True, text=True, timeout=300)

    try:
        deadline = time.monotonic() + 60
        while (ping := send("ping", timeout="1")).returncode != 0:  # until the server is up
            assert server.poll() is None and time.monotonic() < deadline, server.stdout.read() if server.poll() is not None else ping.stderr
        assert ping.stdout.startswith(f"pong {__version__}")
        status = send("status", "--tcp")
        assert f"folder: {allowed.resolve()}" in status.stdout

        sf.write(allowed / "take.wav", vocal, RATE)
        job = send("accompany", str(allowed / "take.wav"), "--with", "violin,guitar", "--steps", "4", "--job", "cli1")
        assert job.returncode == 0, job.stderr
        assert (allowed / "diffband-out" / "cli1_mix.wav").exists() and "done in" in job.stdout

        outside = tmp_path / "outside.wav"
        sf.write(outside, vocal, RATE)
        refused = send("cross", str(outside), "--with", "violin")
        assert refused.returncode == 1 and "path_refused" in refused.stderr
        streamed = send("cross", str(outside), "--with", "violin", "--steps", "4", "--buffer", "--job", "cli2",
                        "-o", str(tmp_path / "back"))
        assert streamed.returncode == 0, streamed.stderr
        audio, rate = sf.read(tmp_path / "back" / "cli2_violin.wav")
        assert rate == RATE and audio.shape == vocal.shape
    finally:
        server.terminate()
        server.wait(timeout=20)
