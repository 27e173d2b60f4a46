"""``diffband serve``, ``diffband send`` and ``diffband live``: the DAW-facing commands."""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

from diffband.bridge.cli_options import add_option_flags, option_values
from diffband.bridge.live import MIN_AUTO_WINDOW_SECONDS, REGISTER_CONTEXT_SECONDS
from diffband.bridge.protocol import DEFAULT_CLIENT_PORT, DEFAULT_HOST, DEFAULT_PORT, MAX_MODELS_PER_JOB, OPTIONS, TECHNIQUES
from diffband.engine.rests import ROOM_TONE_MAX_DBFS
from diffband.engine.techniques import TECHNIQUES as TECHNIQUE_REGISTRY
from diffband.engine.techniques import options_of


def cmd_serve(args: argparse.Namespace) -> int:
    from diffband.bridge.sandbox import UnsafeFolderError, default_folder
    from diffband.bridge.server import DiffbandServer, ServerConfig
    from diffband.engine.model import list_bundles, load_models
    from diffband.engine.bundle import BundleInfo

    if not args.allow:
        try:
            default_folder()  # created and checked before the models load
        except UnsafeFolderError as error:
            print(f"diffband serve: {error}", file=sys.stderr)
            return 2
    names = [n for n in (args.models or "").split(",") if n]
    if not names:
        names = [item.name for item in list_bundles() if isinstance(item, BundleInfo)]
        if not names:
            raise ValueError("no model bundles found; pass --models or set $DIFFBAND_MODELS")
    models = {m.name: m for m in load_models(names, device=args.device, threads=args.threads)}
    config = ServerConfig(
        host=args.host, port=args.port, allow=[Path(a) for a in args.allow], max_seconds=args.max_seconds,
        max_queue=args.max_queue, max_jobs_per_client=args.max_jobs_per_client, workers=args.workers,
    )
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: listening on {args.host}: other machines can send jobs and read the allowed folders")
    server = DiffbandServer(models, config).start()
    provider = server.provider
    print(f"diffband serve: UDP+TCP {args.host}:{server.port}  models {', '.join(models)}  ({provider})")
    print(f"allowed folders: {server.sandbox.describe()}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("stopping")
    finally:
        server.stop()
    return 0


def _client(args: argparse.Namespace):
    from diffband.bridge.client import DiffbandClient

    return DiffbandClient(args.host, args.port, "tcp" if args.tcp else "udp", timeout=args.timeout, reply_port=args.reply_port,
                          listen=args.request != "cancel")


def cmd_send(args: argparse.Namespace) -> int:
    with _client(args) as client:
        if args.request == "ping":
            started = time.perf_counter()
            version = client.ping()
            print(f"pong {version} ({(time.perf_counter() - started) * 1000:.1f} ms)")
        elif args.request == "models":
            for m in client.models():
                print(f"{m['name']:<12} {m['instrument']:<10} {m['sample_rate']:>6} Hz {m['window_seconds']:.2f} s")
        elif args.request == "status":
            for key, value in client.status().items():
                print(f"{key}: {value}")
        elif args.request == "cancel":
            job_id = args.job or args.input
            if not job_id:
                raise ValueError("cancel needs the job id: diffband send cancel JOB_ID")
            client.cancel(job_id)
            print(f"cancel sent for {job_id}")
        else:
            return _send_job(client, args)
    return 0


def _send_job(client, args: argparse.Namespace) -> int:
    import numpy as np
    from tqdm import tqdm

    from diffband.bridge.audio_files import read_audio, write_audio

    if not args.input:
        raise ValueError(f"{args.request} needs an input audio file")
    options = {k: getattr(args, k) for k in OPTIONS if getattr(args, k, None) is not None}
    job_id = args.job or f"cli-{uuid.uuid4().hex[:8]}"
    source = Path(args.input).resolve()
    if args.buffer:  # the input is checked before any bar is drawn
        audio, rate = read_audio(source)
    elif not source.is_file():
        raise FileNotFoundError(f"not found: {args.input}")
    bar = tqdm(desc=f"{args.request} {job_id}", total=1.0, unit="job", bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}")

    def progress(fraction: float) -> None:
        bar.n = fraction
        bar.refresh()

    if args.buffer:
        client.submit_buffer(job_id, args.request, audio, rate, **options)
        result = client.wait(job_id, progress)
        bar.close()
        out = Path(args.out or source.parent / "diffband-out")
        for name, layer in result.layers.items():
            print(write_audio(out / f"{job_id}_{name}.wav", np.asarray(layer), result.sample_rate))
    else:
        out = Path(args.out).resolve() if args.out else source.parent / "diffband-out"
        client.submit_file(job_id, args.request, source, out, **options)
        result = client.wait(job_id, progress)
        bar.close()
        for path in result.layers.values():
            print(path)
    print(f"done in {result.seconds:.1f} s")
    return 0


#: Techniques ``diffband live`` can run window by window (the registry marks them).
LIVE_TECHNIQUES = [name for name, spec in TECHNIQUE_REGISTRY.items() if spec.live]
#: Sampler steps per live window: fewer than offline, so a window's compute fits its budget.
LIVE_STEPS = 10


def live_options() -> list:
    """The options of every live technique, once each."""
    return options_of(LIVE_TECHNIQUES)


def window_seconds(value: str) -> float | None:
    """``--window``: seconds (> 0), or ``auto`` (None: picked from the measured budget)."""
    if value.strip().lower() == "auto":
        return None
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"wants seconds or auto, got {value!r}") from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"wants a positive number of seconds or auto, got {value!r}")
    return seconds


def cmd_live(args: argparse.Namespace) -> int:
    import numpy as np

    from diffband.bridge.live import LiveReporter, RegisterContext, RoomGate, grown_from, run_live
    from diffband.engine.model import load_models, threads_per_model
    from diffband.engine.techniques import Request, run
    from diffband.engine.windowing import limit_peak

    names = [n for n in args.with_.split(",") if n]
    spec = TECHNIQUE_REGISTRY[args.technique]
    spec.check_models(len(names))
    context = RegisterContext(args.register_context)  # a bad --register-context is refused before models load
    models = load_models(names, device=args.device, threads=args.threads or threads_per_model(len(names)))
    options = {k: v for k, v in option_values(args, live_options()).items() if k in spec.defaults}
    gate = RoomGate(args.gate)
    layer_octaves: dict[str, int] = {}  # each layer's octave in the last window (reported when it changes)

    model_seconds = models[0].info.codec.window_seconds

    def process(window: np.ndarray, rate: int) -> np.ndarray:
        recent = context.add(window, rate)
        if gate.silent(window, recent, rate):
            return np.zeros_like(window)  # silence (or the room alone) in, silence out
        clip = grown_from(window, recent, model_seconds, rate)  # the window with the input leading into it
        layers = run(spec.name, Request(models, dict(options), clip, rate, workers=len(models), register_context=recent))
        layer_octaves.update({layer.name: layer.octave for layer in layers if layer.name != "mix"})
        mix = np.sum([layer.audio for layer in layers if layer.name != "mix"], axis=0)  # layers, not the input
        return limit_peak(mix[mix.shape[0] - len(window):])

    def forget_probe() -> None:  # the budget probe's windows are not the input
        context.reset()
        gate.reset()

    def device(value: str | None):
        return int(value) if value is not None and value.isdigit() else value

    reporter = None
    if args.report_to.lower() != "none":
        host, _, port = args.report_to.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"--report-to wants HOST:PORT or none, got {args.report_to!r}")
        reporter = LiveReporter(host, int(port))
    stats = run_live(
        process, args.window, args.duration, device(args.input_device), device(args.output_device),
        args.budget, args.monitor, reporter=reporter, layer_octaves=layer_octaves, after_probe=forget_probe,
        longest_window=model_seconds,
    )
    if args.stats:
        Path(args.stats).write_text(stats.to_json())
        print(args.stats)
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("serve", help="OSC server for Ableton Live / Max for Live, Reaper and scripts (UDP + TCP)")
    p.add_argument("--host", default=DEFAULT_HOST, help="address to bind (default loopback only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="UDP and TCP port")
    p.add_argument("--models", help="model names or paths, comma-separated (default: every bundle found)")
    p.add_argument("--allow", action="append", default=[], metavar="DIR",
                   help="folder file-mode jobs may read and write (repeatable; default <temp>/diffband-<uid>, mode 0700)")
    p.add_argument("--max-seconds", type=float, default=300.0, help="longest audio per job")
    p.add_argument("--max-queue", type=int, default=8, help="jobs waiting at most")
    p.add_argument("--max-jobs-per-client", type=int, default=2)
    p.add_argument("--workers", type=int, default=1, help="worker threads running jobs")
    p.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads per model")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, tensorrt, coreml or directml")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("send", help="talk to a running diffband server: ping, models, status, cancel, or a job")
    p.add_argument("request", choices=["ping", "models", "status", "cancel", *TECHNIQUES])
    p.add_argument("input", nargs="?", help="audio file (jobs)")
    p.add_argument("--host", default=DEFAULT_HOST)
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    p.add_argument("--tcp", action="store_true", help="use TCP (SLIP) instead of UDP")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for each reply")
    p.add_argument("--reply-port", type=int, help="UDP: receive replies on this port; a job can be cancelled only "
                   "from the reply address that submitted it, so submit and cancel with the same --reply-port")
    p.add_argument("--buffer", action="store_true", help="stream the audio as chunks instead of sending its path")
    p.add_argument("--job", help="job id (default: random); for cancel, the job to cancel")
    p.add_argument("-o", "--out", help="output folder (default: diffband-out next to the input)")
    p.add_argument("--with", dest="with", metavar="MODEL[,MODEL...]",
                   help=f"{OPTIONS['with'].help} (at most {MAX_MODELS_PER_JOB}; required for jobs)")
    add_option_flags(p, [o for name, o in OPTIONS.items() if name != "with"], server_defaults=True)
    p.set_defaults(func=cmd_send)

    p = sub.add_parser("live", help="live input: play or sing, hear generated layers after a fixed, reported latency")
    p.add_argument("--with", dest="with_", required=True, metavar="MODEL[,MODEL...]", help="instrument model(s), comma-separated")
    p.add_argument("--technique", choices=LIVE_TECHNIQUES, default="accompany", help="technique run on each window (default accompany)")
    p.add_argument("--input-device", help="sounddevice input (index or name; default: the system default)")
    p.add_argument("--output-device", help="sounddevice output (index or name)")
    p.add_argument("--window", type=window_seconds, default=None, metavar="SECONDS|auto",
                   help="seconds of input per generated window (default auto: the shortest, at least "
                        f"{MIN_AUTO_WINDOW_SECONDS:g} s, whose hop covers the measured compute budget; bench/RESULTS.md)")
    p.add_argument("--budget", type=float, help="compute allowance per window, s (default: measured at start)")
    p.add_argument("--duration", type=float, help="stop after this many seconds (default: until Ctrl-C)")
    p.add_argument("--monitor", action="store_true", help="mix the dry input into the output")
    p.add_argument("--gate", type=float, default=-50.0, help="windows quieter than this (dBFS RMS) give silence, as do windows of nothing but the "
                   f"room's noise floor (found under a phrase, or in room tone alone under {ROOM_TONE_MAX_DBFS:g} dBFS)")
    p.add_argument("--register-context", type=float, default=REGISTER_CONTEXT_SECONDS, metavar="SECONDS",
                   help="recent input the register option decides on, so a layer's octave holds across windows; "
                        "each window's layers are also grown with up to a model window of it leading in "
                        f"(default {REGISTER_CONTEXT_SECONDS:g}, at most 60; 0: each window alone)")
    add_option_flags(p, live_options(), defaults={"steps": LIVE_STEPS})
    p.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads per model (default: the cores shared out)")
    p.add_argument("--device", default="auto", help="ONNX Runtime device: auto, cpu, cuda, ...")
    p.add_argument("--report-to", default=f"{DEFAULT_HOST}:{DEFAULT_CLIENT_PORT}", metavar="HOST:PORT",
                   help="send /diffband/live/latency and /stats here over OSC (default: the Max device's port; none = off)")
    p.add_argument("--stats", help="write the run's statistics (latency, late/dropped windows, levels) as JSON here")
    p.set_defaults(func=cmd_live)
