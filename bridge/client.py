"""Python client for ``diffband serve`` (UDP or TCP), used by ``diffband send``, tests and scripts."""

from __future__ import annotations

import socket
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from pythonosc.osc_packet import OscPacket, ParseError

from diffband.bridge.chunks import INDEX, Upload, to_chunks
from diffband.bridge.protocol import DEFAULT_HOST, DEFAULT_PORT, TCP_CHUNK_SAMPLES, UDP_CHUNK_SAMPLES
from diffband.bridge.transport import SlipReader, encode_message
from pythonosc import slip


class ServerError(RuntimeError):
    """An ``/diffband/error`` reply (or no reply in time)."""

    def __init__(self, code: str, message: str, job_id: str = ""):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.job_id = job_id


@dataclass
class JobResult:
    job_id: str
    layers: dict[str, Any] = field(default_factory=dict)  # name -> path (file mode) or (frames[, ch]) array
    sample_rate: int = 0
    seconds: float = 0.0
    progress: list[float] = field(default_factory=list)
    accepted_position: int = -1
    octaves: dict[str, int] = field(default_factory=dict)  # layer name -> octaves grown from the input


class DiffbandClient:
    """One socket to the server. UDP replies come back to this socket's port unless
    ``reply_port`` is set (then they go to that port, where this client listens)."""

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        transport: str = "udp",
        timeout: float = 30.0,
        reply_port: int | None = None,
        listen: bool = True,
    ):
        """``listen=False`` with a ``reply_port``: send as that reply address without receiving
        (e.g. cancel a job while the process that submitted it holds the port)."""
        if transport not in ("udp", "tcp"):
            raise ValueError("transport must be udp or tcp")
        self.address = (host, port)
        self.transport = transport
        self.timeout = timeout
        self.reply_port = reply_port
        self.pending: deque[tuple[str, list[Any]]] = deque()
        if transport == "udp":
            family = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0][0]  # IPv4 or IPv6 (::1)
            self.sock = socket.socket(family, socket.SOCK_DGRAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 2**20)
            self.listen = None
            if reply_port is not None and listen:
                self.listen = socket.socket(family, socket.SOCK_DGRAM)
                self.listen.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 2**20)
                self.listen.bind((host, reply_port))
        else:
            self.sock = socket.create_connection(self.address, timeout=timeout)
            self.reader = SlipReader(64 * 2**20)
        self.chunk_samples = UDP_CHUNK_SAMPLES if transport == "udp" else TCP_CHUNK_SAMPLES

    def close(self) -> None:
        self.sock.close()
        if self.transport == "udp" and self.listen:
            self.listen.close()

    def __enter__(self) -> "DiffbandClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- raw messages ----
    def send(self, address: str, *args: Any, with_reply_port: bool = True) -> None:
        """Send one message; the reply port (when set) is appended as the last argument."""
        if with_reply_port and self.reply_port is not None and self.transport == "udp":
            args = (*args, self.reply_port)
        self.send_raw(encode_message(address, *args))

    def send_raw(self, data: bytes) -> None:
        if self.transport == "udp":
            self.sock.sendto(data, self.address)
        else:
            self.sock.sendall(slip.encode(data))

    def receive(self, timeout: float | None = None) -> tuple[str, list[Any]]:
        """The next reply ``(address, args)``; ``ServerError('timeout', ...)`` when none comes."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not self.pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ServerError("timeout", f"no reply from {self.address[0]}:{self.address[1]} ({self.transport})")
            sock = self.listen if self.transport == "udp" and self.listen else self.sock
            sock.settimeout(left)
            try:
                if self.transport == "udp":
                    packets = [sock.recvfrom(65536)[0]]
                else:
                    data = sock.recv(65536)
                    if not data:
                        raise ServerError("closed", "the server closed the connection")
                    packets = self.reader.feed(data)
            except (socket.timeout, TimeoutError):
                continue
            for packet in packets:
                try:
                    self.pending.extend((m.message.address, list(m.message.params)) for m in OscPacket(packet).messages)
                except ParseError:
                    continue
        return self.pending.popleft()

    def expect(self, address: str, timeout: float | None = None) -> list[Any]:
        """Wait for ``address``; an error reply raises ``ServerError``; other replies are skipped."""
        while True:
            got, args = self.receive(timeout)
            if got == address:
                return args
            if got == "/diffband/error":
                raise ServerError(args[1], args[2], args[0])

    # ---- queries ----
    def ping(self) -> str:
        self.send("/diffband/ping")
        return self.expect("/diffband/pong")[0]

    def models(self) -> list[dict[str, Any]]:
        self.send("/diffband/models")
        found = []
        while True:
            address, args = self.receive()
            if address == "/diffband/model":
                found.append(dict(zip(("name", "instrument", "sample_rate", "window_seconds"), args)))
            elif address == "/diffband/models/done":
                return found

    def status(self) -> dict[str, Any]:
        self.send("/diffband/status")
        args = self.expect("/diffband/state")
        return dict(zip(("queued", "running", "max_queue", "provider", "folder", "version"), args))

    def cancel(self, job_id: str) -> None:
        self.send("/diffband/cancel", job_id)

    # ---- jobs ----
    @staticmethod
    def _options(options: dict[str, Any]) -> list[Any]:
        flat: list[Any] = []
        for key, value in options.items():
            if value is None:
                continue
            if isinstance(value, (list, tuple)):
                value = ",".join(value)
            flat += [key, value]
        return flat

    def submit_file(self, job_id: str, technique: str, input_path: str | Path, output_dir: str | Path, **options: Any) -> None:
        self.send("/diffband/submit/file", job_id, technique, str(input_path), str(output_dir), *self._options(options))

    def submit_buffer(
        self,
        job_id: str,
        technique: str,
        audio: np.ndarray,
        sample_rate: int,
        skip_chunks: tuple[int, ...] = (),
        resend_missing: bool = True,
        **options: Any,
    ) -> list[bytes]:
        """Announce, stream the chunks (``skip_chunks`` left out, for tests) and end the upload.

        With ``resend_missing``, waits for ``/diffband/accepted`` and answers a
        ``missing_chunks`` error (UDP drops datagrams under load) by sending those again."""
        audio = np.asarray(audio, dtype=np.float32)
        channels = 1 if audio.ndim == 1 else audio.shape[1]
        chunks = to_chunks(audio, self.chunk_samples)
        self.send(
            "/diffband/submit/buffer", job_id, technique, int(sample_rate), channels, audio.shape[0], len(chunks),
            *self._options(options),
        )
        for index, blob in enumerate(chunks):
            if index not in skip_chunks:
                self.send("/diffband/chunk", job_id, index, blob, with_reply_port=False)
                if self.transport == "udp" and index % 16 == 15:
                    time.sleep(0.001)
        self.send("/diffband/end", job_id)
        if resend_missing:
            self._confirm_upload(job_id, chunks)
        return chunks

    def _confirm_upload(self, job_id: str, chunks: list[bytes], rounds: int = 8, patience: float = 10.0) -> None:
        """Wait for ``/diffband/accepted``; resend what a ``/diffband/missing`` lists, then ``/end``
        again.  If the report itself is lost (UDP), ``/end`` is sent again after ``patience`` s."""
        held: list[tuple[str, list[Any]]] = []  # other jobs' replies, put back afterwards
        try:
            for _round in range(rounds):
                while True:
                    try:
                        address, args = self.receive(min(patience, self.timeout))
                    except ServerError as error:
                        if error.code != "timeout":
                            raise
                        address, args = "", []
                        break
                    if not args or args[0] != job_id:
                        held.append((address, args))
                    elif address == "/diffband/accepted":
                        held.append((address, args))
                        return
                    elif address == "/diffband/missing":
                        break
                    elif address == "/diffband/error" and args[1] != "missing_chunks":
                        raise ServerError(args[1], args[2], job_id)
                    # the missing_chunks error is the readable twin of /diffband/missing: skip it
                for index in np.frombuffer(args[2], dtype=INDEX) if address else ():
                    self.send("/diffband/chunk", job_id, int(index), chunks[index], with_reply_port=False)
                    time.sleep(0.0005)
                self.send("/diffband/end", job_id)
            raise ServerError("missing_chunks", f"upload of {job_id} still incomplete after {rounds} rounds", job_id)
        finally:
            self.pending.extendleft(reversed(held))

    def wait(self, job_id: str, on_progress: Callable[[float], None] | None = None, timeout: float | None = None) -> JobResult:
        """Collect the job's replies until ``/diffband/done``; streamed layers are reassembled
        (missing chunks are asked for again with ``/diffband/resend``)."""
        result = JobResult(job_id)
        uploads: dict[str, Upload] = {}
        while True:
            address, args = self.receive(timeout)
            if not args or args[0] != job_id:
                continue
            if address == "/diffband/accepted":
                result.accepted_position = args[1]
            elif address == "/diffband/progress":
                result.progress.append(args[1])
                if on_progress:
                    on_progress(args[1])
            elif address == "/diffband/octave":
                result.octaves[args[1]] = args[2]
            elif address == "/diffband/layer":
                result.layers[args[1]] = Path(args[2])
            elif address == "/diffband/layer/begin":
                _, name, rate, channels, frames, chunks = args
                uploads[name] = Upload(job_id, rate, channels, frames, chunks)
                result.sample_rate = rate
            elif address == "/diffband/layer/chunk":
                uploads[args[1]].add(args[2], args[3])
            elif address == "/diffband/done":
                result.seconds = args[2]
                for name, upload in uploads.items():
                    self._complete(upload, name, timeout)
                    audio = upload.assemble()
                    result.layers[name] = audio[:, 0] if upload.channels == 1 else audio
                return result
            elif address == "/diffband/cancelled":
                raise ServerError("cancelled", f"job {job_id} was cancelled", job_id)
            elif address == "/diffband/error":
                raise ServerError(args[1], args[2], job_id)

    def _complete(self, upload: Upload, name: str, timeout: float | None) -> None:
        for _attempt in range(3):
            missing = upload.missing()
            if not missing:
                return
            for index in missing:
                self.send("/diffband/resend", upload.job_id, name, index)
            deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
            while upload.missing() and time.monotonic() < deadline:
                address, args = self.receive(timeout)
                if address == "/diffband/layer/chunk" and args[0] == upload.job_id and args[1] == name:
                    upload.add(args[2], args[3])
                elif address == "/diffband/error" and args[0] == upload.job_id:
                    raise ServerError(args[1], args[2], upload.job_id)
