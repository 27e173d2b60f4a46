"""One command for a lent GPU machine: train, export and time every shipped instrument.

    bash bench/gpu_train.sh OUT              # on the GPU machine (python -m diffband.export.gpu OUT)
    bash bench/gpu_train.sh OUT --cpu-dry-run   # the same stages on the CPU, tiny and in seconds

Stages, each reported ok / failed / skipped with its reason (stdout, ``OUT/gpu_log.txt``):

1. ``install``: the carried wheels (``.whl/``, see :mod:`export.gpu_payload`) into a
   private site folder; prints torch's device.
2. ``data``: the carried mel datasets (``.gpu_data/``) unpacked; the dry run renders and
   packs a few seconds per instrument first, as ``gpu_payload build`` does.
3. ``train``: every instrument at once, one ``export.train`` process each on the one
   GPU, bf16 autocast, the shipped recipe (models/README.md: ``tiny`` UNet, melody
   condition with 15 % dropout when the carried data has condition images) at batch 64,
   for a fixed wall-clock budget with checkpoints.  A short first leg measures each run's
   speed; the run then resumes with its cosine LR schedule planned to end with the budget.
4. ``export``: each run's EMA weights to a bundle, checked against torch (ONNX Runtime,
   CPU), with ``--fp16`` also converted to fp16 (:mod:`export.fp16`, checked against the fp32 bundle),
   the instruments side by side.
5. ``time``: torch on the GPU (checked against the bundle first): UNet calls, generate
   and cross with the engine's sampler and vocoder -- the reference a GPU engine must beat.
6. ``imports``: every third-party module the device-side processes imported is in the
   GPU image or the carried wheels (what would fail there for lack of a package).
7. ``report``: into OUT, at most 8 files, each under 16 MiB, 64 MiB in all:
   ``gpu_report.md`` (a Markdown section), ``gpu_results.json``, ``losses.csv``,
   ``losses.png``, ``gpu_log.txt``, each run's EMA weights as ``NAME.run.tar`` (what
   ``diffband export`` makes the shipped fp32 bundle from, here) and, in the slots left,
   fp16 bundles (the rest stay in the work folder, named in the report).  Rewritten after
   every stage, so a killed run still leaves one.

The parent process imports no torch; the device-side work runs in child processes.
Exit status 0 when no stage failed.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from diffband.engine.defaults import DEFAULT_STEPS
from diffband.export.train_config import MIXED_PRECISION, UNET_SIZES
from diffband.export.gpu_payload import (
    CARRIED,
    DATA_DIR,
    DEVICE_PACKAGES,
    SHIPPED_INSTRUMENTS,
    WHEEL_DIR,
    half_precision_copy,
    megabytes,
    normalise,
    pack_datasets,
    payload_files,
    read_payload,
    render_and_prepare,
    unpack_dataset,
    wheel_files,
)

REPO = Path(__file__).resolve().parent.parent
#: What comes back from the machine: files per call, bytes per file (README of the device tool).
MAX_FILES_BACK = 8
MAX_FILE_BYTES = 16 * 2**20
MAX_TOTAL_BYTES = 64 * 2**20
#: First-leg planned steps: far beyond reach, so its cosine LR stays at the peak until replanned.
CALIBRATION_CEILING = 1_000_000
#: The project's training recipe (models/README.md); the GPU run changes only batch and precision.
RECIPE = {"lr": 3e-4, "warmup_steps": 100, "loss": "l1", "seed": 0, "condition_dropout": 0.15}
#: What a run's tar holds: what ``diffband export`` reads, and the run's curves and samples.
RUN_FILES = ("unet_ema", "training.json", "losses.csv", "loss.png", "samples")
#: The condition the dry run renders its data with (``--condition off``: none).
DRY_RUN_CONDITION = "basic-pitch"
REPORT_FILES = ("gpu_report.md", "gpu_results.json", "losses.csv", "losses.png", "gpu_log.txt")
#: Runs a module as __main__ (argv: LOG MODULE ARGS...) and appends the top-level names of
#: the modules it imported to LOG at exit, for the ``imports`` stage.
RUNNER = (
    "import atexit, runpy, sys\n"
    "log = sys.argv.pop(1)\n"
    "atexit.register(lambda: open(log, 'a').write('\\n'.join(sorted({m.split('.')[0] for m in list(sys.modules)})) + '\\n'))\n"
    "sys.argv.pop(0)\n"
    "runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)\n"
)



@dataclass
class Stage:
    name: str
    status: str = "pending"  # ok | failed | skipped
    detail: str = ""
    seconds: float = 0.0


@dataclass
class Settings:
    """Sizes and budgets of one mode (``gpu`` or the CPU dry run)."""

    size: str
    batch_size: int
    total_minutes: float
    train_minutes: float
    calibrate_minutes: float
    checkpoint_every: int
    num_samples: int
    sample_steps: int
    warmup_steps: int
    repeats: int
    file_seconds: float
    sampler_steps: int  # of the generate and cross timings
    timing_batch: int  # of the larger UNet calls timed
    render_minutes: float  # per instrument, rendered and packed when no payload is given (dry run)
    reserve_seconds: float  # kept after training for export, timing and the report


GPU = Settings(size="tiny", batch_size=64, total_minutes=8.0, train_minutes=4.5, calibrate_minutes=0.75,
               checkpoint_every=1000, num_samples=4, sample_steps=50, warmup_steps=RECIPE["warmup_steps"],
               repeats=5, file_seconds=30.0, sampler_steps=DEFAULT_STEPS, timing_batch=16, render_minutes=0.0, reserve_seconds=150.0)
DRY_RUN = Settings(size="tiny", batch_size=2, total_minutes=10.0, train_minutes=0.1, calibrate_minutes=0.02,
                   checkpoint_every=5, num_samples=1, sample_steps=2, warmup_steps=2,
                   repeats=1, file_seconds=5.0, sampler_steps=2, timing_batch=2, render_minutes=0.1, reserve_seconds=60.0)


@dataclass
class Context:
    args: argparse.Namespace
    settings: Settings
    out: Path
    work: Path
    started: float
    deadline: float
    env: dict = field(default_factory=dict)
    stages: list[Stage] = field(default_factory=list)
    results: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def instruments(self) -> list[str]:
        return self.args.instruments.split(",")

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def say(self, message: str) -> None:
        line = f"[{time.monotonic() - self.started:6.1f} s] {message}"
        with self.lock:
            print(line, flush=True)
            with open(self.out / "gpu_log.txt", "a") as handle:
                handle.write(line + "\n")


# ------------------------------------------------------------------ child processes
def run_child(ctx: Context, name: str, module: str, args: list[str], timeout: float) -> subprocess.CompletedProcess:
    """``python -m module args`` with the carried packages, its output in ``work/logs/name.log``
    and its imports in ``work/imports/name.txt``; raises on a non-zero exit or the timeout."""
    logs = ctx.work / "logs"
    logs.mkdir(exist_ok=True)
    (ctx.work / "imports").mkdir(exist_ok=True)
    command = [sys.executable, "-c", RUNNER, str(ctx.work / "imports" / f"{name}.txt"), module, *args]
    with open(logs / f"{name}.log", "w") as log:
        try:
            result = subprocess.run(command, cwd=REPO, env=ctx.env, stdout=log, stderr=subprocess.STDOUT,
                                    timeout=max(timeout, 1.0), text=True)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"{name}: no result within {timeout:.0f} s (log: {logs / name}.log)") from None
    if result.returncode != 0:
        tail = (logs / f"{name}.log").read_text(errors="replace").replace("\r", "\n").strip().splitlines()[-6:]
        raise RuntimeError(f"{name} exited {result.returncode}: " + " | ".join(tail))
    return result


def in_parallel(jobs: dict[str, Callable[[], dict]]) -> dict[str, dict | Exception]:
    """Run the jobs side by side (each one mostly waits on its child process); returns
    each one's value or the exception it raised, in the order of ``jobs``."""
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = {key: pool.submit(job) for key, job in jobs.items()}
    return {key: future.exception() or future.result() for key, future in futures.items()}


# ------------------------------------------------------------------ stages
def stage_install(ctx: Context) -> str:
    folder, site = Path(ctx.args.wheels), ctx.work / "site"
    found, missing = wheel_files(folder) if folder.is_dir() else ([], list(CARRIED))
    if ctx.args.cpu_dry_run:
        note = (f"the dry run uses this environment's packages ({len(found)} of {len(CARRIED)} "
                f"carried wheels in {folder}, {megabytes(found):.1f} MB, not installed)")
    else:
        note = f"no wheels of {', '.join(missing)} in {folder}; " if missing else ""
        if found:
            pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
                                  "--no-cache-dir", "--upgrade", "--target", str(site), *map(str, found)],
                                 capture_output=True, text=True)
            if pip.returncode != 0:
                raise RuntimeError(f"{note}pip install of {len(found)} wheels failed: {pip.stderr.strip()[-600:]}")
            note += f"installed {len(found)} wheels ({megabytes(found):.1f} MB) into {site}"
    paths = [str(site)] if site.is_dir() else []
    ctx.env["PYTHONPATH"] = os.pathsep.join([*paths, str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
    sys.path[:0] = paths  # so the imports stage finds the carried distributions
    probe = ctx.work / "probe.json"
    try:
        run_child(ctx, "probe", "diffband.export.gpu", ["--probe", str(probe)], 300)
    except RuntimeError as error:
        raise RuntimeError(f"{note}; {error}" if note else str(error)) from None
    device = json.loads(probe.read_text())
    ctx.results["device"] = device
    ctx.say(f"torch {device['torch']} device: {device['device']} ({device['name']}), CUDA {device['cuda']}, "
            f"diffusers {device['diffusers']}, onnxruntime {device['onnxruntime']}")
    if not ctx.args.cpu_dry_run and device["device"] != "cuda":
        raise RuntimeError(f"torch sees no CUDA device ({note}); on a CPU machine run with --cpu-dry-run")
    if ctx.args.cpu_dry_run:
        raise Skipped(f"{note}; torch on {device['device']}")
    return f"{note}; torch {device['torch']} on {device['device']} ({device['name']})"


class Skipped(Exception):
    """A stage that did not apply, with the reason (the run goes on)."""


def stage_data(ctx: Context) -> str:
    source = Path(ctx.args.data) if ctx.args.data else None
    built = ""
    if source is None and ctx.args.cpu_dry_run:
        source = ctx.work / "payload"
        minutes = ctx.settings.render_minutes
        kind = "" if ctx.args.condition == "off" else DRY_RUN_CONDITION
        datasets = render_and_prepare(tuple(ctx.instruments), ctx.work / "render", minutes, seed=0, condition=kind)
        pack_datasets(datasets, source)
        built = f"rendered {minutes:g} min per instrument{f' with {kind} conditions' if kind else ''} and packed it; "
    source = source or DATA_DIR
    payload = read_payload(source)
    ctx.results["datasets"] = {}
    for name in ctx.instruments:
        unpack_dataset(source, name, ctx.work / "datasets" / name)
        entry = payload["datasets"][name]
        ctx.results["datasets"][name] = {k: entry[k] for k in ("count", "image_shape", "max_abs_rounding_error", "condition")} | {
            "source": entry["manifest"].get("source"), "seconds": entry["manifest"].get("seconds_read")}
    counts = ", ".join(f"{n} {d['count']}" + (f" with {d['condition']} conditions" if d["condition"] else "")
                       for n, d in ctx.results["datasets"].items())
    return f"{built}unpacked {source} ({megabytes(payload_files(source)):.1f} MB): windows {counts}"


def plan_second_leg(done_steps: int, loop_seconds: float, process_seconds: float, seconds_left: float,
                    ceiling: int = CALIBRATION_CEILING) -> tuple[int, float]:
    """Planned steps and wall-clock cap (minutes) of the leg that resumes a calibration leg
    of ``done_steps`` in ``loop_seconds`` (its process took ``process_seconds``), so that its
    LR schedule ends when ``seconds_left`` run out.  At least one more step is planned."""
    rate = done_steps / max(loop_seconds, 1e-6)
    overhead = max(process_seconds - loop_seconds, 0.0)
    loop_left = max(seconds_left - overhead, 0.0)
    planned = min(ceiling, done_steps + max(1, int(rate * loop_left)))
    return planned, max(loop_left, 1.0) / 60.0


def training_condition(ctx: Context, name: str) -> str:
    """The condition kind instrument ``name`` trains with: its carried data's, unless ``--condition off``."""
    if ctx.args.condition == "off":
        return ""
    return ctx.results.get("datasets", {}).get(name, {}).get("condition") or ""


def _train_args(ctx: Context, name: str, steps: int, minutes: float, samples: int) -> list[str]:
    s = ctx.settings
    threads = max(1, (os.cpu_count() or 1) // len(ctx.instruments))
    kind = training_condition(ctx, name)
    recipe = ["--condition", kind, "--condition-dropout", str(RECIPE["condition_dropout"])] if kind else []
    if ctx.args.init_from:  # a resumed leg loads its checkpoint over these
        recipe += ["--init-weights", str(Path(ctx.args.init_from) / name)]
    return [*recipe, str(ctx.work / "datasets" / name), "--instrument", name, "--config", ctx.args.size,
            "--out", str(ctx.work / "runs" / name), "--steps", str(steps), "--batch-size", str(ctx.args.batch_size),
            "--lr", str(RECIPE["lr"]), "--warmup-steps", str(s.warmup_steps), "--loss", RECIPE["loss"],
            "--seed", str(RECIPE["seed"]), "--checkpoint-every", str(s.checkpoint_every), "--threads", str(threads),
            "--max-minutes", f"{minutes:.4f}", "--mixed-precision", ctx.args.precision,
            "--num-samples", str(samples), "--sample-steps", str(s.sample_steps)]


def train_one(ctx: Context, name: str, deadline: float) -> dict:
    """Train one instrument until ``deadline`` (monotonic): a calibration leg, then the resumed,
    replanned leg (or one leg of ``--steps`` when calibration is off)."""
    s, run = ctx.settings, ctx.work / "runs" / name
    legs = []
    if ctx.args.calibrate_minutes > 0:
        begun = time.monotonic()
        run_child(ctx, f"train-{name}-calibrate", "diffband.export.train",
                  _train_args(ctx, name, CALIBRATION_CEILING, ctx.args.calibrate_minutes, 1), deadline - begun + 120)
        first = json.loads((run / "training.json").read_text())
        planned, minutes = plan_second_leg(first["steps"], first["wall_seconds"], time.monotonic() - begun,
                                           deadline - time.monotonic())
        legs.append({"steps": first["steps"], "loop_seconds": first["wall_seconds"],
                     "process_seconds": round(time.monotonic() - begun, 1), "planned_next": planned})
        ctx.say(f"train {name}: calibration leg {first['steps']} steps in {first['wall_seconds']} s; "
                f"resuming with {planned} planned steps, at most {minutes * 60:.0f} s")
    else:
        planned, minutes = ctx.args.steps, max(deadline - time.monotonic(), 1.0) / 60.0
    run_child(ctx, f"train-{name}", "diffband.export.train", _train_args(ctx, name, planned, minutes, s.num_samples),
              deadline - time.monotonic() + 180)
    result = json.loads((run / "training.json").read_text())
    summary = {k: result[k] for k in ("config", "unet_parameters", "steps", "planned_steps", "stopped_early",
                                      "batch_size", "mixed_precision", "final_loss_mean_last_100", "wall_seconds", "device")}
    summary["condition"] = (result.get("condition") or {}).get("kind")
    summary["init_weights"] = result.get("train_config", {}).get("init_weights") or None
    ctx.say(f"train {name}: {summary['steps']} steps of {summary['planned_steps']} planned, "
            f"loss {summary['final_loss_mean_last_100']}, {summary['wall_seconds']} s")
    return summary | {"legs": legs}


def stage_train(ctx: Context) -> str:
    if ctx.args.calibrate_minutes <= 0 and ctx.args.steps <= 0:
        raise ValueError("give --steps when --calibrate-minutes is 0")
    init = Path(ctx.args.init_from) if ctx.args.init_from else None
    missing = [n for n in ctx.instruments if init and not (init / n / "config.json").is_file()]
    if missing:
        raise FileNotFoundError(f"--init-from {ctx.args.init_from} has no UNet folder for {', '.join(missing)}")
    deadline = min(time.monotonic() + ctx.args.train_minutes * 60, ctx.deadline - ctx.settings.reserve_seconds)
    ctx.say(f"training {', '.join(ctx.instruments)} at once ({ctx.args.size}, {ctx.args.precision}, "
            f"batch {ctx.args.batch_size}) for {deadline - time.monotonic():.0f} s")
    outcomes = in_parallel({name: (lambda name=name: train_one(ctx, name, deadline)) for name in ctx.instruments})
    ctx.results["training"] = {n: (o if isinstance(o, dict) else {"error": str(o)}) for n, o in outcomes.items()}
    return _per_instrument(outcomes, lambda r: f"{r['steps']} steps")


def _per_instrument(outcomes: dict[str, object], describe) -> str:
    """Detail line of a per-instrument stage; raises when any instrument failed."""
    parts = [f"{n}: {describe(o) if not isinstance(o, Exception) else 'FAILED ' + str(o)}" for n, o in outcomes.items()]
    if any(isinstance(o, Exception) for o in outcomes.values()):
        raise RuntimeError("; ".join(parts))
    return "; ".join(parts)


def _trained(ctx: Context) -> list[str]:
    return [n for n in ctx.instruments if (ctx.work / "runs" / n / "training.json").exists()]


def stage_export(ctx: Context) -> str:
    names = _trained(ctx)
    if not names:
        raise Skipped("no instrument finished training")
    timeout = ctx.left() - ctx.settings.reserve_seconds / 2
    threads = max(1, (os.cpu_count() or 1) // len(names))
    bundles = ctx.work / "bundles"
    bundles.mkdir(exist_ok=True)

    def export(name: str) -> dict:
        result = ctx.work / f"export-{name}.json"
        run_child(ctx, f"export-{name}", "diffband.export.gpu_worker",
                  ["export", str(ctx.work / "runs" / name), str(bundles / f"{name}.onnx"), str(result),
                   "--threads", str(threads), *(["--fp16"] if ctx.args.fp16 else [])], timeout)
        return json.loads(result.read_text())

    outcomes = in_parallel({name: (lambda name=name: export(name)) for name in names})
    ctx.results["bundles"] = {n: (o if isinstance(o, dict) else {"error": str(o)}) for n, o in outcomes.items()}
    detail = _per_instrument(outcomes, lambda r: f"{r['bytes'] / 1e6:.1f} MB, ORT vs torch {r['max_abs_error']:.1e}"
                             + ("" if not ctx.args.fp16 else ", " +
                                f"fp16 {r['fp16_bytes'] / 1e6:.1f} MB ({r['fp16_max_abs_error']:.1e} vs fp32)"
                                if "fp16_bytes" in r else f"fp16 FAILED {r.get('fp16_error')}"))
    if ctx.args.fp16 and any("fp16_bytes" not in r for r in outcomes.values()):
        raise RuntimeError(detail)  # the fp32 bundles are still timed, but the fp16 ones were asked for
    return detail


def stage_time(ctx: Context) -> str:
    names = [n for n in ctx.instruments if "bytes" in ctx.results.get("bundles", {}).get(n, {})]
    if not names:
        raise Skipped("no bundle to check and time")
    result = ctx.work / "timings.json"
    pairs = [f"{ctx.work / 'runs' / n}={ctx.work / 'bundles' / n}.onnx" for n in names]
    try:
        run_child(ctx, "time", "diffband.export.gpu_worker",
                  ["time", str(result), *pairs, "--repeats", str(ctx.settings.repeats),
                   "--file-seconds", str(ctx.settings.file_seconds), "--steps", str(ctx.settings.sampler_steps),
                   "--batch", str(ctx.settings.timing_batch)],
                  ctx.left() - 10)
    finally:
        if result.exists():
            ctx.results["timings"] = json.loads(result.read_text())
    timings = ctx.results["timings"]
    return f"torch on {timings['device']['device']}: " + "; ".join(
        f"{r['instrument']} " + ", ".join(f"{t['measure'].split(',')[0]} {t['seconds']:.3f} s" for t in r["timings"][3:])
        for r in timings["instruments"])


def third_party_distributions(module_names: set[str]) -> tuple[dict[str, list[str]], list[str]]:
    """``{distribution: [modules]}`` of the names that are not the standard library or this
    repository, and the names no installed distribution provides."""
    owners = importlib.metadata.packages_distributions()
    local = {p.name for p in REPO.iterdir() if p.is_dir()} | {"__main__", "__mp_main__"}
    found: dict[str, list[str]] = {}
    unknown = []
    for name in sorted(module_names):
        if not name or name in sys.stdlib_module_names or name in sys.builtin_module_names or name in local:
            continue
        dists = owners.get(name)
        if not dists:
            unknown.append(name)
            continue
        for dist in {normalise(d) for d in dists}:
            found.setdefault(dist, []).append(name)
    return found, unknown


#: Distributions here that stand for one of the GPU image's: onnxruntime-gpu is the same
#: ``onnxruntime`` module (the image has the CPU build).
SAME_MODULE_AS = {"onnxruntime-gpu": "onnxruntime"}
#: Modules a library imports only if present and works without (requests tries chardet).
OPTIONAL_IMPORTS = {"chardet"}


def requirement_closure(names: set[str]) -> set[str]:
    """``names`` and everything they require here (extras left out), as normalised names."""
    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requirements = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for line in requirements:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(normalise(requirement.name))
    return seen


def missing_on_device(distributions: dict[str, list[str]]) -> list[str]:
    """The distributions the GPU image lacks and the payload does not carry (what the
    image's or the carried packages require in this environment counts as theirs)."""
    allowed = requirement_closure(set(DEVICE_PACKAGES) | {normalise(c) for c in CARRIED})
    return sorted(d for d in distributions
                  if SAME_MODULE_AS.get(d, d) not in allowed and not set(distributions[d]) <= OPTIONAL_IMPORTS)


def stage_imports(ctx: Context) -> str:
    logs = sorted((ctx.work / "imports").glob("*.txt"))
    if not logs:
        raise Skipped("no device-side process ran")
    names = {line.strip() for log in logs for line in log.read_text().splitlines()}
    found, unknown = third_party_distributions(names)
    missing = missing_on_device(found)
    ctx.results["imports"] = {"distributions": sorted(found), "missing_on_device": missing, "unknown_modules": unknown}
    if missing:
        raise RuntimeError("imported but neither in the GPU image nor carried: "
                           + ", ".join(f"{d} ({', '.join(found[d])})" for d in missing))
    return f"{len(found)} third-party distributions from {len(logs)} processes, all in the GPU image or carried"


# ------------------------------------------------------------------ report
def write_losses(ctx: Context) -> list[str]:
    """``losses.csv`` (instrument, step, loss, lr) and ``losses.png`` of every run."""
    curves: dict[str, list[tuple[int, float]]] = {}
    with open(ctx.out / "losses.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["instrument", "step", "loss", "lr"])
        for name in ctx.instruments:
            path = ctx.work / "runs" / name / "losses.csv"
            if path.exists():
                with open(path) as rows:
                    for row in csv.DictReader(rows):
                        writer.writerow([name, row["step"], row["loss"], row["lr"]])
                        curves.setdefault(name, []).append((int(row["step"]), float(row["loss"])))
    if not curves:
        return ["losses.csv"]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(7, 3.5))
    for name, points in curves.items():
        steps, losses = np.array(points).T
        bins = np.array_split(np.arange(len(losses)), min(len(losses), 100))
        ax.plot([steps[b[-1]] for b in bins], [losses[b].mean() for b in bins], label=name)
    ax.set_xlabel("step")
    ax.set_ylabel(f"{RECIPE['loss']} loss (mean per 1 % of the run)")
    ax.set_title(f"{ctx.args.size} UNet, {ctx.args.precision}, batch {ctx.args.batch_size}", fontsize=10)
    ax.legend()
    fig.tight_layout()
    fig.savefig(ctx.out / "losses.png", dpi=100)
    plt.close(fig)
    return ["losses.csv", "losses.png"]


@dataclass
class BringBack:
    """What may still come back from OUT beside the report files: file slots and bytes."""

    slots: int = MAX_FILES_BACK - len(REPORT_FILES)
    room: int = MAX_TOTAL_BYTES - MAX_FILE_BYTES  # all but one file's worth left to the report files

    def take(self, source: Path, dest: Path) -> str:
        """Copy ``source`` to ``dest`` in OUT when it fits what is left: ``dest``'s name, or why
        not and where it stays (``dest`` is then removed, so no stale copy comes back)."""
        size = Path(source).stat().st_size
        if size >= MAX_FILE_BYTES:
            reason = f"over the {MAX_FILE_BYTES / 2**20:.0f} MiB a file may weigh to come back"
        elif self.slots <= 0:
            reason = f"no file left of the {MAX_FILES_BACK} that come back"
        elif size > self.room:
            reason = f"over what is left of the {MAX_TOTAL_BYTES / 2**20:.0f} MiB that come back in all"
        else:
            shutil.copyfile(source, dest)  # not the staging file's 0600 mode
            self.slots, self.room = self.slots - 1, self.room - size
            return dest.name
        dest.unlink(missing_ok=True)
        return f"no: {size / 1e6:.1f} MB, {reason}; stays at {source}"


#: Room kept in a run's tar for its curves and sample picture beside the weights.
RUN_TAR_EXTRAS_BYTES = 2 * 2**20


def weights_that_come_back(weights: Path, staging: Path) -> tuple[Path, str]:
    """``weights`` (a diffusers UNet folder), or its copy in ``staging`` with fp16 tensors when
    the fp32 files would leave a run's tar over what one file may weigh to come back (the
    ``compact`` and larger sizes); ``diffband export`` loads either.  Returns the folder and
    the precision it holds."""
    if sum(f.stat().st_size for f in weights.iterdir()) + RUN_TAR_EXTRAS_BYTES < MAX_FILE_BYTES:
        return weights, "fp32"
    return half_precision_copy(weights, staging), "fp16"  # safetensors: in the GPU image


def bring_back_runs(ctx: Context, budget: BringBack) -> None:
    """Tar each finished run's :data:`RUN_FILES` as ``NAME.run.tar`` (what ``diffband export``
    makes a bundle from) and bring it back within ``budget``; weights too heavy to come back in
    fp32 travel in fp16 (:func:`weights_that_come_back`)."""
    for name in _trained(ctx):
        run = ctx.work / "runs" / name
        if not (run / "unet_ema").is_dir():
            continue
        staging = ctx.work / f"{name}.run.tar"
        weights, precision = weights_that_come_back(run / "unet_ema", ctx.work / "fp16" / name / "unet_ema")
        with tarfile.open(staging, "w") as archive:
            for part in RUN_FILES:
                path = weights if part == "unet_ema" else run / part
                if path.is_file():
                    archive.add(path, arcname=part)
                elif path.is_dir():  # the weights; of the samples, only the last picture
                    files = sorted(path.iterdir())
                    for file in files if part != "samples" else [f for f in files if f.suffix == ".png"][-1:]:
                        archive.add(file, arcname=f"{part}/{file.name}")
        entry = ctx.results.get("training", {}).get(name, {})  # noted there when the train stage recorded the run
        entry["weights_brought_back_in"] = precision
        entry["brought_back"] = budget.take(staging, ctx.out / staging.name)


def bring_back_bundles(ctx: Context, budget: BringBack | None = None) -> None:
    """Bring back each bundle (its fp16 version when there is one) as ``NAME.onnx`` within
    ``budget`` (by default all the report files leave); the report says why others stay."""
    budget = budget or BringBack()
    for name, entry in ctx.results.get("bundles", {}).items():
        if "bytes" in entry:
            entry["brought_back"] = budget.take(entry.get("fp16_bundle", entry["bundle"]), ctx.out / f"{name}.onnx")


def markdown(ctx: Context) -> str:
    device = ctx.results.get("device", {})
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    mode = "CPU dry run" if ctx.args.cpu_dry_run else f"GPU run on {device.get('name', '?')}"
    lines = [
        f"## {stamp} — `bash bench/gpu_train.sh` — {mode}",
        "",
        f"- `{' '.join(ctx.args.argv)}`; torch {device.get('torch', '?')} (CUDA {device.get('cuda')}), "
        f"diffusers {device.get('diffusers', '?')}; wall {(time.monotonic() - ctx.started) / 60:.1f} min",
        f"- recipe: {ctx.args.size} UNet, batch {ctx.args.batch_size}, AdamW lr {RECIPE['lr']:g}, "
        f"{ctx.settings.warmup_steps} warm-up steps then cosine decay, {RECIPE['loss']} loss, EMA, seed {RECIPE['seed']}, "
        f"autocast {ctx.args.precision}; all instruments at once on one device, {ctx.args.train_minutes:g} min "
        f"(a {ctx.args.calibrate_minutes:g} min first leg measures the speed, the resumed leg's LR plan ends with the budget)",
        "",
        "| stage | status | seconds | detail |",
        "|---|---|---|---|",
    ]
    lines += [f"| {s.name} | {s.status} | {s.seconds:.1f} | {s.detail.replace('|', '/')} |" for s in ctx.stages]
    training = ctx.results.get("training", {})
    if training:
        lines += ["", "| instrument | UNet | params | steps | planned | batch | precision | final loss (mean of last 100) "
                  "| training wall | steps/s | stopped early | condition | weights brought back |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for name, r in training.items():
            if "error" in r:
                lines.append(f"| {name} | failed: {r['error'][:200]} |")
                continue
            lines.append(f"| {name} | `{r['config']}` | {r['unet_parameters'] / 1e6:.2f} M | {r['steps']} | "
                         f"{r['planned_steps']} | {r['batch_size']} | {r['mixed_precision']} | "
                         f"{r['final_loss_mean_last_100']} | {r['wall_seconds']:.0f} s | "
                         f"{r['steps'] / max(r['wall_seconds'], 1e-9):.1f} | {r['stopped_early']} | "
                         f"{r.get('condition') or 'none'} | {r.get('brought_back', '')} |")
    bundles = ctx.results.get("bundles", {})
    if bundles:
        lines += ["", "| bundle | MB | ONNX Runtime vs torch (CPU) | torch on device vs bundle | fp16 MB "
                  "| fp16 vs fp32 (CPU) | brought back |", "|---|---|---|---|---|---|---|"]
        checks = {r.get("instrument"): r for r in ctx.results.get("timings", {}).get("instruments", [])}
        for name, r in bundles.items():
            if "error" in r:
                lines.append(f"| {name} | failed: {r['error'][:200]} |")
                continue
            device_error = checks.get(name, {}).get("device_max_abs_error")
            fp16 = (f"{r['fp16_bytes'] / 1e6:.1f} | {r['fp16_max_abs_error']:.1e}" if "fp16_bytes" in r
                    else f"failed: {str(r.get('fp16_error'))[:200].replace('|', '/')} |" if "fp16_error" in r else "not asked |")
            lines.append(f"| {name} | {r['bytes'] / 1e6:.1f} | {r['max_abs_error']:.1e} | "
                         f"{'' if device_error is None else f'{device_error:.1e}'} | {fp16} | {r.get('brought_back', '')} |")
    timed = [r for r in ctx.results.get("timings", {}).get("instruments", []) if "timings" in r]
    if timed:
        where = ctx.results["timings"]["device"]
        lines += ["", f"torch on {where['device']} ({where.get('name', 'CPU')}), engine's DDIM sampler and numpy "
                  f"vocoder, strength {timed[0]['strength']}, {timed[0]['steps']} steps, median seconds "
                  "(PyTorch's defaults: on CUDA, TF32 convolutions):", "",
                  "| measure | " + " | ".join(r["instrument"] for r in timed) + " |",
                  "|---|" + "---|" * len(timed)]
        for i, row in enumerate(timed[0]["timings"]):
            lines.append(f"| {row['measure']} | " + " | ".join(f"{r['timings'][i]['seconds']:.4f}" for r in timed) + " |")
    return "\n".join(lines) + "\n"


def write_report(ctx: Context) -> None:
    write_losses(ctx)
    budget = BringBack()
    bring_back_runs(ctx, budget)
    bring_back_bundles(ctx, budget)
    (ctx.out / "gpu_results.json").write_text(json.dumps(
        {"mode": "cpu-dry-run" if ctx.args.cpu_dry_run else "gpu", "argv": ctx.args.argv, "work": str(ctx.work),
         "settings": asdict(ctx.settings), "stages": [asdict(s) for s in ctx.stages]} | ctx.results, indent=1, default=str))
    (ctx.out / "gpu_report.md").write_text(markdown(ctx))


def run_stage(ctx: Context, name: str, body, needs: list[str]) -> Stage:
    stage = Stage(name)
    ctx.stages.append(stage)
    begun = time.monotonic()
    failed = [s.name for s in ctx.stages if s.name in needs and s.status == "failed"]
    try:
        if failed:
            raise Skipped(f"{', '.join(failed)} failed")
        stage.detail = body(ctx)
        stage.status = "ok"
    except Skipped as reason:
        stage.status, stage.detail = "skipped", str(reason)
    except Exception as error:  # every failure is reported; later stages decide whether they can go on
        stage.status, stage.detail = "failed", f"{type(error).__name__}: {error}"
    stage.seconds = time.monotonic() - begun
    ctx.say(f"stage {name}: {stage.status.upper()} ({stage.seconds:.1f} s) {stage.detail}")
    try:
        write_report(ctx)
    except Exception as error:  # the report of a failed report is the log line
        ctx.say(f"report not written: {type(error).__name__}: {error}")
    return stage


STAGES = (
    ("install", stage_install, []),
    ("data", stage_data, []),
    ("train", stage_train, ["install", "data"]),
    ("export", stage_export, ["install", "data"]),
    ("time", stage_time, ["install", "data"]),
    ("imports", stage_imports, []),
)


def check_out_folder(out: Path) -> list[str]:
    """What would not come back from OUT: too many files, too large, too deep."""
    files = [p for p in out.rglob("*") if p.is_file()]
    problems = [f"{p.name}: {p.stat().st_size / 1e6:.1f} MB" for p in files if p.stat().st_size >= MAX_FILE_BYTES]
    problems += [str(p.relative_to(out)) + ": too deep" for p in files if len(p.relative_to(out).parts) > 3]
    if len(files) > MAX_FILES_BACK:
        problems.append(f"{len(files)} files, at most {MAX_FILES_BACK} come back")
    total = sum(p.stat().st_size for p in files)
    if total > MAX_TOTAL_BYTES:
        problems.append(f"{total / 2**20:.1f} MiB in all, at most {MAX_TOTAL_BYTES / 2**20:.0f} MiB come back")
    return problems


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m diffband.export.gpu", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", nargs="?", help="output folder (on the device machine: $OUT)")
    p.add_argument("--cpu-dry-run", action="store_true", help="the same stages on the CPU, tiny sizes, seconds-long budgets")
    p.add_argument("--work", help="work folder for runs, bundles, logs (default: a new temporary folder)")
    p.add_argument("--wheels", default=str(WHEEL_DIR), help="folder of the carried wheels")
    p.add_argument("--data", help=f"folder of the carried data (default {DATA_DIR.name}/; the dry run renders its own)")
    p.add_argument("--instruments", default=",".join(SHIPPED_INSTRUMENTS))
    p.add_argument("--size", choices=UNET_SIZES,
                   help="UNet size (default tiny, the shipped recipe's; each run's EMA weights come back as a tar "
                   "in fp32 while under 16 MiB (tiny 8.4 MB), else in fp16 (compact 11.8 MB))")
    p.add_argument("--fp16", action="store_true", help="also convert each bundle to fp16 (brought back in the file slots left)")
    p.add_argument("--batch-size", type=int, help="per run (default 64 on the GPU, the CPU recipe's 16 x 4; 2 in the dry run)")
    p.add_argument("--condition", default="auto", choices=("auto", "off"),
                   help="auto: train with the carried data's condition images where it has them (the shipped recipe); "
                   "off: unconditional models")
    p.add_argument("--init-from", help="continue from DIR/<instrument> (diffusers UNet folders, e.g. .gpu_data/init made by "
                   "'gpu_payload build --init-runs') instead of random weights")
    p.add_argument("--precision", default="bf16", choices=MIXED_PRECISION, help="autocast of training")
    p.add_argument("--minutes", type=float, help="wall-clock budget of the whole command (default 8)")
    p.add_argument("--train-minutes", type=float, help="training budget, all instruments at once (default 4.5)")
    p.add_argument("--calibrate-minutes", type=float, help="first leg that measures speed (default 0.75; 0: one leg of --steps)")
    p.add_argument("--steps", type=int, default=0, help="planned steps when --calibrate-minutes is 0")
    p.add_argument("--probe", help=argparse.SUPPRESS)
    return p


def probe(path: Path) -> None:
    """(In a child process) import what the device side needs; write torch's device to ``path``."""
    import diffusers
    import librosa  # noqa: F401  (export.data_prepare)
    import onnxruntime
    import soundfile  # noqa: F401  (export.train)
    import soxr  # noqa: F401  (engine.windowing)
    import torch

    cuda = torch.cuda.is_available()
    Path(path).write_text(json.dumps({
        "torch": torch.__version__, "cuda": torch.version.cuda, "device": "cuda" if cuda else "cpu",
        "name": torch.cuda.get_device_name(0) if cuda else "CPU", "diffusers": diffusers.__version__,
        "onnxruntime": onnxruntime.__version__}))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    if args.probe:
        probe(Path(args.probe))
        return 0
    if not args.out:
        build_parser().error("give the output folder")
    settings = DRY_RUN if args.cpu_dry_run else GPU
    args.argv = ["python -m diffband.export.gpu", *argv]
    args.size = args.size or settings.size
    args.batch_size = args.batch_size or settings.batch_size
    for name in ("minutes", "train_minutes", "calibrate_minutes"):
        if getattr(args, name) is None:
            setattr(args, name, getattr(settings, "total_minutes" if name == "minutes" else name))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in REPORT_FILES:
        (out / name).unlink(missing_ok=True)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="diffband-gpu-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    ctx = Context(args, settings, out, work, started, started + args.minutes * 60)
    ctx.env = dict(os.environ, PYTHONUNBUFFERED="1")
    if args.cpu_dry_run:
        ctx.env["CUDA_VISIBLE_DEVICES"] = ""  # the CPU, even on a machine with a GPU
    ctx.say(f"{'CPU dry run' if args.cpu_dry_run else 'GPU run'}: out {out}, work {work}, budget {args.minutes:g} min")
    for name, body, needs in STAGES:
        run_stage(ctx, name, body, needs)
    report = Stage("report", "ok", f"{', '.join(sorted(p.name for p in out.iterdir()))} in {out}")
    problems = check_out_folder(out)
    if problems:
        report.status, report.detail = "failed", "would not all come back: " + "; ".join(problems)
    ctx.stages.append(report)
    ctx.say(f"stage report: {report.status.upper()} {report.detail}")
    write_report(ctx)
    failed = [s.name for s in ctx.stages if s.status == "failed"]
    ctx.say(f"done in {(time.monotonic() - started) / 60:.1f} min; " + (f"FAILED: {', '.join(failed)}" if failed else "no stage failed"))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
