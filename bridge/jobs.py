"""Jobs and the workers that own the engine: a bounded queue, cancel, progress, delivery.

The OSC receiving threads only validate and enqueue; inference, file reading and
writing, and streaming results back all happen on worker threads.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import numpy as np
import soundfile as sf

from diffband.bridge.chunks import to_chunks
from diffband.bridge.file_input import read_region
from diffband.bridge.protocol import BRIDGE_OPTIONS, ProtocolError
from diffband.bridge.sandbox import SandboxPath
from diffband.engine.model import DiffusionModel
from diffband.engine.techniques import Layer, Request
from diffband.engine.techniques import run as run_technique

#: Progress replies per job per second, at most.
PROGRESS_RATE = 20.0
#: Finished buffer-mode results kept for ``/diffband/resend``.
KEPT_RESULTS = 8


class Channel(Protocol):
    """Where a client's replies go (a UDP address or a TCP connection)."""

    key: str
    chunk_samples: int

    def send(self, address: str, *args: Any) -> None: ...


class JobCancelled(Exception):
    pass


@dataclass
class Job:
    job_id: str
    technique: str
    options: dict[str, Any]
    channel: Channel
    input_path: SandboxPath | None = None  # file mode: opened when the job runs
    output_dir: SandboxPath | None = None  # file mode
    audio: np.ndarray | None = None  # buffer mode: (frames, channels)
    sample_rate: int = 0
    cancel: threading.Event = field(default_factory=threading.Event)
    state: str = "queued"
    submitted: float = field(default_factory=time.monotonic)

    @property
    def mode(self) -> str:
        return "file" if self.input_path is not None else "buffer"


class JobRunner:
    """Owns the loaded models; runs queued jobs on ``workers`` threads."""

    def __init__(
        self,
        models: dict[str, DiffusionModel],
        max_queue: int = 8,
        workers: int = 1,
        max_seconds: float = 300.0,
        log: Callable[[str], None] = print,
    ):
        self.models = models
        self.max_queue = max_queue
        self.max_seconds = max_seconds
        self.log = log
        self.queue: queue.Queue[Job | None] = queue.Queue(maxsize=max_queue)
        self.jobs: dict[str, Job] = {}
        self.results: OrderedDict[str, dict[str, np.ndarray]] = OrderedDict()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._work, name=f"diffband-worker-{i}", daemon=True) for i in range(workers)]
        for thread in self.threads:
            thread.start()

    # ---- called from the receiving threads: fast, never blocks on inference ----
    def submit(self, job: Job) -> int:
        """Queue ``job`` and send ``/diffband/accepted`` (before any worker can reply about it)."""
        with self.lock:  # every put happens under this lock, so the size check holds
            if job.job_id in self.jobs:
                raise ProtocolError("duplicate_job", f"job {job.job_id} is still queued or running", job.job_id)
            if self.queue.qsize() >= self.max_queue:
                raise ProtocolError("queue_full", f"the queue holds {self.max_queue} jobs already", job.job_id)
            position = self.queue.qsize() + 1
            job.channel.send("/diffband/accepted", job.job_id, position)
            self.jobs[job.job_id] = job
            self.queue.put_nowait(job)
            return position

    def active_for(self, key: str) -> int:
        with self.lock:
            return sum(1 for job in self.jobs.values() if job.channel.key == key)

    def counts(self) -> tuple[int, int]:
        with self.lock:
            running = sum(1 for job in self.jobs.values() if job.state == "running")
            return len(self.jobs) - running, running

    def cancel(self, job_id: str, owner: str) -> bool:
        """Cancel ``job_id`` if the client ``owner`` (a channel key) submitted it."""
        with self.lock:
            job = self.jobs.get(job_id)
        if job is None or job.channel.key != owner:
            return False
        job.cancel.set()
        return True

    def layer_chunk(self, job_id: str, layer: str, index: int, samples: int) -> bytes:
        with self.lock:
            audio = self.results.get(job_id, {}).get(layer)
        if audio is None:
            raise ProtocolError("unknown_job", f"no kept result for job {job_id} layer {layer}", job_id)
        chunks = to_chunks(audio, samples)
        if not 0 <= index < len(chunks):
            raise ProtocolError("bad_chunk", f"layer {layer} has chunks 0..{len(chunks) - 1}", job_id)
        return chunks[index]

    def stop(self) -> None:
        """Cancel everything still queued or running, then end the workers."""
        with self.lock:
            for job in self.jobs.values():
                job.cancel.set()
        for _ in self.threads:
            self.queue.put(None)
        for thread in self.threads:
            thread.join(timeout=10)

    # ---- worker side ----
    def _work(self) -> None:
        while True:
            job = self.queue.get()
            if job is None:
                return
            final = self._execute(job)
            with self.lock:  # released before the final reply: a client may resubmit at once
                self.jobs.pop(job.job_id, None)
            job.channel.send(*final)

    def _execute(self, job: Job) -> tuple[Any, ...]:
        """Run ``job`` and deliver its layers; the final reply (done, cancelled or error) to send."""
        started = time.monotonic()
        try:
            if job.cancel.is_set():
                raise JobCancelled
            job.state = "running"
            layers = self._run(job)
            self._deliver(job, layers)
            self.log(f"job {job.job_id}: {job.technique} done in {time.monotonic() - started:.1f} s")
            return ("/diffband/done", job.job_id, len(layers), float(time.monotonic() - started))
        except JobCancelled:
            self.log(f"job {job.job_id}: cancelled")
            return ("/diffband/cancelled", job.job_id)
        except ProtocolError as error:
            return ("/diffband/error", job.job_id, error.code, str(error))
        except Exception as error:  # the job fails, the server keeps serving
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            self.log(f"job {job.job_id}: failed: {message}")
            return ("/diffband/error", job.job_id, "failed", message[:500])

    def _progress(self, job: Job) -> Callable[[int, int], None]:
        last = [0.0]

        def report(done: int, total: int) -> None:
            if job.cancel.is_set():
                raise JobCancelled
            now = time.monotonic()
            if done == total or now - last[0] >= 1.0 / PROGRESS_RATE:
                last[0] = now
                job.channel.send("/diffband/progress", job.job_id, float(done) / max(total, 1))

        return report

    def _input(self, job: Job) -> tuple[np.ndarray, int]:
        if job.audio is not None:
            return job.audio, job.sample_rate
        with job.input_path.open_file(job.job_id) as handle:  # opened again now: no symlink swapped in since submit
            try:
                audio, rate = read_region(handle, job.options["start"], job.options["duration"], self.max_seconds, job.job_id)
            except ProtocolError:
                raise
            except Exception as error:
                raise ProtocolError("bad_audio", f"cannot read {job.input_path.name}: {error}", job.job_id) from None
        if audio.shape[0] == 0:
            raise ProtocolError("bad_audio", "the input (or the requested region) is empty", job.job_id)
        job.sample_rate = rate
        return audio, rate

    def _models(self, job: Job) -> list[DiffusionModel]:
        missing = [n for n in job.options["with"] if n not in self.models]
        if missing:
            raise ProtocolError(
                "bad_args", f"no model named {', '.join(missing)}; loaded: {', '.join(self.models)}", job.job_id
            )
        return [self.models[n] for n in job.options["with"]]

    def _run(self, job: Job) -> list[Layer]:
        """The job's technique from the registry, on its input audio: its layers."""
        models = self._models(job)
        audio, rate = self._input(job)
        if not np.all(np.isfinite(audio)):
            raise ProtocolError("bad_audio", "audio contains NaN or Inf samples", job.job_id)
        signal = audio[:, 0] if audio.shape[1] == 1 else audio
        options = {k: v for k, v in job.options.items() if k not in BRIDGE_OPTIONS and k != "technique"}
        request = Request(models, options, signal, rate, self._progress(job), self.max_seconds)
        return run_technique(job.technique, request)

    def _deliver(self, job: Job, grown: list[Layer]) -> None:
        """Each layer's octave, then the layer itself: a file path, or its chunks."""
        rate = job.sample_rate
        layers = [(layer.name, np.asarray(layer.audio, dtype=np.float32)) for layer in grown]
        for layer in grown:  # how far the register and octave options moved each layer from the input
            job.channel.send("/diffband/octave", job.job_id, layer.name, int(layer.octave))
        if job.mode == "file":
            for name, layer in layers:  # the folder is opened again for each layer, refusing symlinks
                filename = f"{job.job_id}_{name}.wav"
                with job.output_dir.new_file(filename, job.job_id) as handle:
                    sf.write(handle, layer, rate, subtype="FLOAT", format="WAV")
                job.channel.send("/diffband/layer", job.job_id, name, str(job.output_dir.path / filename))
            return
        with self.lock:
            self.results[job.job_id] = dict(layers)
            while len(self.results) > KEPT_RESULTS:
                self.results.popitem(last=False)
        samples = job.channel.chunk_samples
        for name, layer in layers:
            channels = 1 if layer.ndim == 1 else layer.shape[1]
            chunks = to_chunks(layer, samples)
            job.channel.send("/diffband/layer/begin", job.job_id, name, rate, channels, layer.shape[0], len(chunks))
            for index, blob in enumerate(chunks):
                if job.cancel.is_set():
                    raise JobCancelled
                job.channel.send("/diffband/layer/chunk", job.job_id, name, index, blob)
                if index % 16 == 15:
                    time.sleep(0.001)  # pace datagrams so a client's socket buffer keeps up
