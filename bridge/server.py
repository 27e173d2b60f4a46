"""``diffband serve``: the OSC server DAW clients talk to (UDP and TCP/SLIP on one port).

Receiving threads parse and validate each packet, answer queries at once, collect
uploads, and hand jobs to the ``JobRunner``; they never wait on inference.  Every bad
packet gets ``/diffband/error`` and the server keeps serving.
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from pythonosc.osc_packet import OscPacket, ParseError

from diffband.bridge.chunks import MissingChunks, Upload
from diffband.bridge.jobs import Channel, Job, JobRunner
from diffband.bridge.osc_guard import PacketLimits, PacketRejected, check_packet
from diffband.bridge.peer_log import PeerLog
from diffband.bridge.protocol import DEFAULT_HOST, DEFAULT_PORT, NO_JOB, ProtocolError, check_job_id, job_options, split_request
from diffband.bridge.sandbox import Sandbox
from diffband.bridge.transport import FrameTooLarge, TcpChannel, UdpChannel, stream_reader
from diffband.engine import __version__
from diffband.engine.model import DiffusionModel


@dataclass
class ServerConfig:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    allow: list[Path] = field(default_factory=list)  # empty: the default temp folder
    max_packet: int = 16384  # bytes per UDP datagram
    max_frame: int = 8 * 2**20  # bytes per TCP (SLIP) packet
    max_seconds: float = 300.0  # audio length per job
    max_queue: int = 8
    max_jobs_per_client: int = 2
    max_upload_bytes: int = 256 * 2**20  # all open uploads together
    max_channels: int = 2  # buffer mode
    upload_timeout: float = 30.0
    workers: int = 1
    max_messages: int = 64  # OSC messages in one packet (bundles included)
    max_connections: int = 16  # TCP connections open at once
    idle_timeout: float = 300.0  # a TCP connection silent this long is closed


class DiffbandServer:
    """Binds UDP and TCP on ``host:port`` (port 0: any free number, the same for both)."""

    def __init__(self, models: dict[str, DiffusionModel], config: ServerConfig | None = None, log: Callable[[str], None] = print):
        if not models:
            raise ValueError("the server needs at least one model")
        self.config = config or ServerConfig()
        self.models = models
        self.log = log
        self.peer_log = PeerLog(log)
        self.packet_limits = PacketLimits(max_messages=self.config.max_messages)
        self.sandbox = Sandbox(self.config.allow or None)
        self.runner = JobRunner(models, self.config.max_queue, self.config.workers, self.config.max_seconds, log)
        self.uploads: dict[str, tuple[Upload, Job]] = {}
        self.upload_lock = threading.Lock()
        self._refused: OrderedDict[str, None] = OrderedDict()
        self.udp: socketserver.UDPServer | None = None
        self.tcp: socketserver.ThreadingTCPServer | None = None
        self.threads: list[threading.Thread] = []

    # ---- lifecycle ----
    @property
    def port(self) -> int:
        return self.udp.server_address[1] if self.udp else self.config.port

    @property
    def provider(self) -> str:
        return next(iter(self.models.values())).provider

    def start(self) -> "DiffbandServer":
        host, port = self.config.host, self.config.port
        for _attempt in range(20):
            udp = _UdpServer((host, port), self)
            try:
                tcp = _TcpServer((host, udp.server_address[1]), self)
                break
            except OSError:
                udp.server_close()
                if port:
                    raise
        else:
            raise OSError(f"no port free for both UDP and TCP on {host}")
        self.udp, self.tcp = udp, tcp
        for srv, name in ((udp, "udp"), (tcp, "tcp")):
            thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2}, name=f"diffband-{name}", daemon=True)
            thread.start()
            self.threads.append(thread)
        sweeper = threading.Thread(target=self._sweep_uploads, name="diffband-sweeper", daemon=True)
        sweeper.start()
        return self

    def stop(self) -> None:
        for srv in (self.udp, self.tcp):
            if srv:
                srv.shutdown()
                srv.server_close()
        self.runner.stop()

    def __enter__(self) -> "DiffbandServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- packets ----
    def handle_packet(self, data: bytes, channel_for: Callable[[int | None], Channel], peer: str) -> None:
        """Check, parse and answer one OSC packet (message or bundle) from ``peer``.

        The structure is checked before python-osc sees it, so a bad packet costs time
        linear in its size and at most a rate-limited log line.
        """
        try:
            check_packet(data, self.packet_limits)
            messages = [m.message for m in OscPacket(data).messages]
        except (PacketRejected, ParseError, Exception) as error:
            reason = str(error) if isinstance(error, PacketRejected) else "python-osc could not parse it"
            self.peer_log(peer, f"refused a packet from {peer}: {reason}")
            channel_for(None).send("/diffband/error", NO_JOB, "malformed", f"not a valid OSC packet: {reason}")
            return
        for message in messages:
            reply_port = None
            try:
                spec, fixed, options, reply_port = split_request(message.address, list(message.params))
                self._dispatch(spec.address, fixed, options, channel_for(reply_port))
            except ProtocolError as error:
                channel_for(reply_port or error.reply_port).send("/diffband/error", error.job_id, error.code, str(error))
            except Exception as error:  # a bug must not take the server down
                self.peer_log(peer, f"error handling {message.address} from {peer}: {error!r}")
                channel_for(reply_port).send("/diffband/error", NO_JOB, "failed", f"internal error: {error}")

    def _dispatch(self, address: str, fixed: list[Any], options: dict[str, Any], channel: Channel) -> None:
        name = address.removeprefix("/diffband/")
        if name == "ping":
            channel.send("/diffband/pong", __version__)
        elif name == "models":
            for model in self.models.values():
                info = model.info
                channel.send("/diffband/model", model.name, info.instrument, info.sample_rate, float(info.codec.window_seconds))
            channel.send("/diffband/models/done", len(self.models))
        elif name == "status":
            queued, running = self.runner.counts()
            channel.send(
                "/diffband/state", queued, running, self.config.max_queue, self.provider, str(self.sandbox.primary), __version__
            )
        elif name == "submit/file":
            self._submit_file(*fixed, options=options, channel=channel)
        elif name == "submit/buffer":
            try:
                self._begin_upload(*fixed, options=options, channel=channel)
            except ProtocolError:
                self._refused[fixed[0]] = None  # its chunks are dropped quietly: one error is enough
                while len(self._refused) > 256:
                    self._refused.popitem(last=False)
                raise
        elif name == "chunk":
            self._chunk(*fixed)
        elif name == "end":
            self._end_upload(fixed[0])
        elif name == "cancel":
            self._cancel(fixed[0], channel)
        elif name == "resend":
            job_id, layer, index = fixed
            blob = self.runner.layer_chunk(job_id, layer, index, channel.chunk_samples)
            channel.send("/diffband/layer/chunk", job_id, layer, index, blob)

    def _check_client(self, channel: Channel, job_id: str) -> None:
        with self.upload_lock:
            uploading = sum(1 for _, job in self.uploads.values() if job.channel.key == channel.key)
        if self.runner.active_for(channel.key) + uploading >= self.config.max_jobs_per_client:
            raise ProtocolError("busy", f"this client already has {self.config.max_jobs_per_client} jobs; wait for one to finish", job_id)

    def _queue(self, job: Job) -> None:
        position = self.runner.submit(job)
        self.log(f"job {job.job_id}: {job.technique} ({job.mode} mode) queued at {position}")

    def _submit_file(self, job_id: str, technique: str, input_path: str, output_dir: str, options: dict, channel: Channel) -> None:
        opts = job_options(technique, options, job_id)
        self._check_client(channel, job_id)
        source = self.sandbox.readable(input_path, job_id)
        out = self.sandbox.writable_dir(output_dir, job_id)
        self._queue(Job(job_id, opts["technique"], opts, channel, input_path=source, output_dir=out))

    def _begin_upload(self, job_id, technique, sample_rate, channels, frames, chunks, options, channel) -> None:
        opts = job_options(technique, options, job_id)
        cfg = self.config
        if not 1000 <= sample_rate <= 384000:
            raise ProtocolError("bad_args", f"sample_rate must be 1000-384000, got {sample_rate}", job_id)
        if not 1 <= channels <= cfg.max_channels:
            raise ProtocolError("bad_args", f"channels must be 1-{cfg.max_channels}, got {channels}", job_id)
        if frames < 1 or chunks < 1:
            raise ProtocolError("bad_args", "frames and chunks must be positive", job_id)
        if frames / sample_rate > cfg.max_seconds:
            raise ProtocolError("too_large", f"{frames / sample_rate:.1f} s of audio; the limit is {cfg.max_seconds:.0f} s", job_id)
        if chunks > frames:
            raise ProtocolError("bad_args", f"{chunks} chunks for {frames} frames", job_id)
        self._check_client(channel, job_id)
        upload = Upload(job_id, sample_rate, channels, frames, chunks)
        with self.upload_lock:
            if job_id in self.uploads or job_id in self.runner.jobs:
                raise ProtocolError("duplicate_job", f"job {job_id} is still uploading, queued or running", job_id)
            pending = sum(u.total_bytes for u, _ in self.uploads.values())
            if pending + upload.total_bytes > cfg.max_upload_bytes:
                raise ProtocolError("too_large", "the server holds too much uploading audio; try again later", job_id)
            self.uploads[job_id] = (upload, Job(job_id, opts["technique"], opts, channel, sample_rate=sample_rate))

    def _open_upload(self, job_id: str) -> tuple[Upload, Job] | None:
        """The open upload of ``job_id``; None for a refused one (its error was sent at submit)."""
        with self.upload_lock:
            entry = self.uploads.get(job_id)
        if entry is None and job_id not in self._refused:
            raise ProtocolError("unknown_job", f"no upload open for job {job_id}", job_id)
        return entry

    def _chunk(self, job_id: str, index: int, blob: bytes) -> None:
        entry = self._open_upload(job_id)
        if entry is None:
            return
        try:
            entry[0].add(index, blob)
        except ProtocolError as error:  # to where the job's replies go: a chunk carries no reply port
            entry[1].channel.send("/diffband/error", job_id, error.code, str(error))

    def _end_upload(self, job_id: str) -> None:
        entry = self._open_upload(job_id)
        if entry is None:
            return
        upload, job = entry
        try:
            audio = upload.assemble()  # missing chunks: error, the upload stays open for resends
            if not np.all(np.isfinite(audio)):
                with self.upload_lock:
                    self.uploads.pop(job_id, None)
                raise ProtocolError("bad_audio", "audio contains NaN or Inf samples", job_id)
        except ProtocolError as error:
            if isinstance(error, MissingChunks):  # machine-readable first, then the readable error
                job.channel.send("/diffband/missing", job_id, error.count, error.indices_blob())
            job.channel.send("/diffband/error", job_id, error.code, str(error))
            return
        with self.upload_lock:
            self.uploads.pop(job_id, None)
        if upload.out_of_order:
            self.log(f"job {job_id}: {upload.out_of_order} chunk(s) arrived out of order (placed by index)")
        job.audio = audio
        self._queue(job)

    def _cancel(self, job_id: str, channel: Channel) -> None:
        """Only the client that submitted a job (same reply address or connection) may cancel it."""
        check_job_id(job_id)
        with self.upload_lock:
            entry = self.uploads.get(job_id)
            if entry is not None and entry[1].channel.key == channel.key:
                del self.uploads[job_id]
            else:
                entry = None
        if entry is not None:
            entry[1].channel.send("/diffband/cancelled", job_id)
        elif not self.runner.cancel(job_id, channel.key):  # another client's job looks like no job
            raise ProtocolError("unknown_job", f"no job {job_id} of this client to cancel", job_id)

    def _sweep_uploads(self) -> None:
        while True:
            time.sleep(1.0)
            now = time.monotonic()
            with self.upload_lock:
                stale = [k for k, (u, _) in self.uploads.items() if now - u.touched > self.config.upload_timeout]
                expired = [self.uploads.pop(k) for k in stale]
            for upload, job in expired:
                job.channel.send(
                    "/diffband/error", job.job_id, "missing_chunks",
                    f"upload abandoned after {self.config.upload_timeout:.0f} s; missing {len(upload.missing())} chunk(s)",
                )


UDP_RECEIVE_BUFFER = 8 * 2**20


def _address_family(host: str) -> socket.AddressFamily:
    """AF_INET6 for an IPv6 host (``::1``), else AF_INET."""
    try:
        return socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM)[0][0]
    except socket.gaierror:
        return socket.AF_INET


class _UdpHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data, sock = self.request
        owner: DiffbandServer = self.server.owner
        host, port = self.client_address[:2]
        peer = f"udp:{host}:{port}"

        def channel_for(reply_port: int | None) -> UdpChannel:
            return UdpChannel(sock, (host, reply_port or port))

        if len(data) > owner.config.max_packet:
            owner.peer_log(peer, f"refused a {len(data)}-byte datagram from {peer}")
            channel_for(None).send("/diffband/error", NO_JOB, "too_large", f"packet over {owner.config.max_packet} bytes")
            return
        owner.handle_packet(data, channel_for, peer)


class _UdpServer(socketserver.UDPServer):
    allow_reuse_address = False

    def __init__(self, address: tuple[str, int], owner: DiffbandServer):
        self.owner = owner
        self.address_family = _address_family(address[0])
        self.max_packet_size = owner.config.max_packet + 1  # read one byte more to see oversize packets
        super().__init__(address, _UdpHandler)
        # Room for uploads while workers hold the CPU (the kernel caps it at net.core.rmem_max).
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)


class _TcpHandler(socketserver.BaseRequestHandler):
    """One TCP connection: its framing (SLIP or int32 length prefix) is read off its first
    bytes, and every reply on it uses the same framing."""

    def handle(self) -> None:
        owner: DiffbandServer = self.server.owner
        channel = TcpChannel(self.request, self.client_address[:2])
        reader = None
        self.request.settimeout(owner.config.idle_timeout)
        while True:
            try:
                data = self.request.recv(65536)
            except OSError:  # idle timeout, reset
                break
            if not data:
                break
            if reader is None:
                reader = stream_reader(data, owner.config.max_frame)
                channel.framing = reader.framing
            invalid = reader.invalid
            try:
                packets = reader.feed(data)
            except FrameTooLarge as error:
                channel.send("/diffband/error", NO_JOB, "too_large", f"{error}; closing the connection")
                break
            if reader.invalid > invalid:
                owner.peer_log(channel.key, f"{reader.invalid - invalid} invalid SLIP frame(s) from {channel.key}")
                channel.send("/diffband/error", NO_JOB, "malformed", "invalid SLIP framing")
            for packet in packets:
                owner.handle_packet(packet, lambda _port: channel, channel.key)
        channel.closed = True

    def finish(self) -> None:
        self.server.release_connection()


class _TcpServer(socketserver.ThreadingTCPServer):
    """Threads per connection, at most ``max_connections`` at once; more are refused and closed."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], owner: DiffbandServer):
        self.owner = owner
        self.address_family = _address_family(address[0])
        self.connections = 0
        self.connections_lock = threading.Lock()
        super().__init__(address, _TcpHandler)

    def verify_request(self, request: socket.socket, client_address) -> bool:
        limit = self.owner.config.max_connections
        with self.connections_lock:
            if self.connections < limit:
                self.connections += 1
                return True
        TcpChannel(request, client_address[:2]).send(
            "/diffband/error", NO_JOB, "too_large", f"the server has {limit} connections open already; closing this one"
        )
        self.owner.peer_log("tcp", f"refused a TCP connection from {client_address[0]}: {limit} open already")
        return False

    def release_connection(self) -> None:
        with self.connections_lock:
            self.connections -= 1
