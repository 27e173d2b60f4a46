"""``python -m bench.live_window``: how small can a live window be?

Runs the live engine offline (callback by callback, as a device would, with the worker
given time for each window) over the example vocal repeated to 24 s, accompanied by one
instrument, for several window lengths; compares each live output with the offline
``accompany`` of the whole file (the reference path) by mfcc-stats FAD and chroma
similarity, and reports the latency each window implies (window + measured compute
budget).  Appends the table to ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import soundfile as sf

from bench.engine import RESULTS, append_results, machine
from diffband.bridge.live import LiveEngine, measure_budget
from diffband.engine.accompany import accompany
from diffband.evaluation.embeddings import MfccStats
from diffband.evaluation.fad import fad
from diffband.evaluation.melody import chroma_similarity
from diffband.engine.model import load_models

REPO = Path(__file__).resolve().parent.parent
BLOCK = 256
OK = SimpleNamespace(input_overflow=False, output_underflow=False)


def run_offline(process, signal: np.ndarray, rate: int, window: float, budget: float) -> tuple[np.ndarray, LiveEngine]:
    """Feed ``signal`` (plus silence to flush) through a LiveEngine; return what it played."""
    engine = LiveEngine(process, rate, window, budget, out_channels=1)
    padded = np.concatenate([signal, np.zeros(engine.delay + engine.window + BLOCK, np.float32)])
    out = np.zeros((padded.size, 1), np.float32)
    worker = threading.Thread(target=engine.work, daemon=True)
    worker.start()
    for start in range(0, padded.size - BLOCK + 1, BLOCK):
        engine.callback(padded[start : start + BLOCK, None], out[start : start + BLOCK], BLOCK, None, OK)
        expected = max(0, (engine.frames_in - engine.window) // engine.hop + 1)
        deadline = time.monotonic() + 60
        while engine.stats.windows + engine.stats.dropped_windows < expected and time.monotonic() < deadline:
            time.sleep(0.002)
    engine.finish()
    worker.join(timeout=10)
    return out[engine.delay : engine.delay + signal.size, 0], engine


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--with", dest="with_", default="violin")
    parser.add_argument("--windows", default="0.5,1,1.5,2,3,4.46")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)

    [model] = load_models([args.with_], device="cpu")
    vocal, rate = sf.read(REPO / "models" / "example_vocal.wav", dtype="float32")
    signal = np.tile(vocal, 4)
    reference = accompany(signal, rate, [model], steps=args.steps).layers[model.name]
    embed = MfccStats()
    ref_emb = embed(reference, rate)

    def process(window: np.ndarray, window_rate: int) -> np.ndarray:
        return accompany(window, window_rate, [model], steps=args.steps).layers[model.name]

    other_seed = accompany(signal, rate, [model], steps=args.steps, seed=1).layers[model.name]
    floor = (fad(ref_emb, embed(other_seed, rate)), chroma_similarity(reference, other_seed, rate))
    rows = []
    for seconds in (float(w) for w in args.windows.split(",")):
        budget = measure_budget(process, rate, seconds)
        played, engine = run_offline(process, signal, rate, seconds, budget)
        rows.append((seconds, engine.stats.latency_seconds, float(np.mean(engine.stats.compute_seconds)),
                     fad(ref_emb, embed(played, rate)), chroma_similarity(reference, played, rate)))
        print(rows[-1], flush=True)

    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"## {stamp} — `python -m bench.live_window` — live window length vs latency and quality", "",
             f"- machine: {machine()}; accompany with `{model.name}`, strength default, {args.steps} steps; input: "
             "the example vocal x4 (24 s); reference: offline `accompany` of the whole file", "",
             "| window | latency (window + budget) | compute per window | FAD to offline (mfcc-stats) | chroma vs offline |",
             "|---|---|---|---|---|"]
    lines += [f"| {w:g} s | {lat:.2f} s | {comp:.3f} s | {f:.0f} | {c:.2f} |" for w, lat, comp, f, c in rows]
    lines += [f"| offline, another seed (the noise floor) | | | {floor[0]:.0f} | {floor[1]:.2f} |"]
    append_results(Path(args.out), "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
