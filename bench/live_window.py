"""``python -m bench.live_window``: how small can a live window be?

Runs the live engine offline (callback by callback, as a device would, with the worker
given time for each window) over the example vocal repeated to 24 s, accompanied by one
instrument, for several window lengths; compares each live output with the offline
``accompany`` of the whole file (the reference path) by mfcc-stats FAD and chroma
similarity, and reports the latency each window implies (window + measured compute
budget).  Appends the table to ``bench/RESULTS.md``.

Each window runs as ``diffband live`` runs it: the register decided on the recent input
(``bridge.live.RegisterContext``).  Then, at one window length (``--seams-window``), how the
seams between live windows sound under register ``fit`` decided on each window alone, on the
recent input, and under register ``input`` (every window grown where it is): the spectral
change across each crossfade (log-mel L1 between the frames ``SEAM_SPAN`` before and after
its centre) over the same change across each window's middle, split by whether the two
windows were grown at the same octave.  A seam that sounds like the inside of a window scores
near 1.
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

import librosa

from bench.engine import RESULTS, append_results, machine
from diffband.bridge.live import (MIN_AUTO_WINDOW_SECONDS, REGISTER_CONTEXT_SECONDS, LiveEngine, RegisterContext, auto_window,
                                  grown_from, measure_budget)
from diffband.engine.accompany import accompany
from diffband.evaluation.embeddings import MfccStats
from diffband.evaluation.fad import fad
from diffband.evaluation.melody import chroma_similarity
from diffband.evaluation.quality import f0, pitch_agreement
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


#: Seconds either side of a seam's (or a window middle's) centre that its spectral change compares.
SEAM_SPAN = 0.1


def spectral_change(audio: np.ndarray, rate: int, centres: np.ndarray) -> np.ndarray:
    """Mean |log-mel difference| (dB, 64 bands, hop 256) between the frames ``SEAM_SPAN`` before and
    after each centre (seconds); NaN where the frames fall outside or are silent."""
    mel = librosa.power_to_db(librosa.feature.melspectrogram(y=audio, sr=rate, n_fft=2048, hop_length=256, n_mels=64),
                              ref=1.0, top_db=None)
    floor = mel.max() - 60.0
    out = np.full(centres.size, np.nan)
    for i, centre in enumerate(centres):
        a, b = (int(round((centre + d) * rate / 256)) for d in (-SEAM_SPAN, SEAM_SPAN))
        if a < 0 or b >= mel.shape[1] or max(mel[:, a].max(), mel[:, b].max()) < floor:
            continue
        out[i] = np.mean(np.abs(np.maximum(mel[:, b], floor) - np.maximum(mel[:, a], floor)))
    return out


def live_process(models: list, steps: int, register: str, context_seconds: float, grown: list[int] | None = None,
                 lead_in: bool = True):
    """A live window's work as ``diffband live --technique accompany`` does it: every model's layer,
    summed; ``grown`` collects the octaves each window's first layer was grown above where it sounds.
    ``lead_in`` False: each window grown alone (padded to a model window), as live did before it was
    grown with the input leading into it."""
    context = RegisterContext(context_seconds)

    def process(window: np.ndarray, window_rate: int) -> np.ndarray:
        recent = context.add(window, window_rate)
        clip = grown_from(window, recent, models[0].info.codec.window_seconds, window_rate) if lead_in else window
        made = accompany(clip, window_rate, models, steps=steps, register=register, register_audio=recent)
        if grown is not None:
            grown.append(made.layer_fitted.get(models[0].name, 0))
        return np.sum([made.layers[m.name] for m in models], axis=0)[clip.size - window.size:]

    return process


def seam_rows(models: list, signal: np.ndarray, rate: int, seconds: float, steps: int) -> list[tuple[str, int, float, float]]:
    """Per variant (fit on each window, fit on the recent input, input) and seam kind: (label, seams,
    mean seam change / mean middle change, share of the input's voiced frames the output plays within
    50 cents)."""
    rows = []
    source_f0 = f0(signal, rate)
    variants = [("fit, decided on each window", "fit", 0.0),
                (f"fit, decided on the last {REGISTER_CONTEXT_SECONDS:g} s", "fit", REGISTER_CONTEXT_SECONDS),
                ("input", "input", 0.0)]
    for name, register, context_seconds in variants:
        grown: list[int] = []
        process = live_process(models, steps, register, context_seconds, grown)

        budget = measure_budget(process, rate, seconds)
        grown.clear()
        process = live_process(models, steps, register, context_seconds, grown)  # the timing probe's input forgotten
        played, engine = run_offline(process, signal, rate, seconds, budget)
        hop, window, fade = engine.hop / rate, engine.window / rate, engine.fade / rate
        count = len(grown)
        if count < 2:
            continue  # no seam to measure
        middles = spectral_change(played, rate, np.arange(count) * hop + window / 2)
        seams = spectral_change(played, rate, np.arange(count - 1) * hop + hop + fade / 2)
        inside = float(np.nanmean(middles))
        same = np.array([grown[k] == grown[k + 1] for k in range(count - 1)])
        kinds = [("every seam", np.ones_like(same))] if register == "input" else [
            ("seams between windows grown at the same octave", same), ("seams where the growth changes", ~same)]
        close, voiced = pitch_agreement(source_f0, f0(played, rate))
        for label, chosen in kinds:
            picked = seams[chosen & np.isfinite(seams)]
            rows.append((f"{name}: {label}", int(picked.size), float(np.mean(picked)) / inside if picked.size else float("nan"),
                         close / max(voiced, 1)))
        print(name, "grown per window", grown, rows[-len(kinds):], flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--with", dest="with_", default="violin")
    parser.add_argument("--windows", default="0.5,1,1.5,2,3,4.46,auto",
                        help="window lengths (s); auto: as `diffband live` picks it from the measured budget")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--seams-window", type=float, default=1.5, help="window (s) of the seam measure; 0: skip it")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)

    models = load_models(args.with_.split(","), device="cpu")
    names = ", ".join(f"`{m.name}`" for m in models)
    vocal, rate = sf.read(REPO / "models" / "example_vocal.wav", dtype="float32")
    signal = np.tile(vocal, 4)

    def offline(seed: int) -> np.ndarray:
        made = accompany(signal, rate, models, steps=args.steps, seed=seed)
        return np.sum([made.layers[m.name] for m in models], axis=0)

    reference = offline(0)
    embed = MfccStats()
    ref_emb = embed(reference, rate)

    other_seed = offline(1)
    floor = (fad(ref_emb, embed(other_seed, rate)), chroma_similarity(reference, other_seed, rate))
    source_f0 = f0(signal, rate)
    rows = []
    windows = [(None if w.strip() == "auto" else float(w), True) for w in args.windows.split(",")]
    windows += [(args.seams_window, False)] if args.seams_window else []  # the same window grown alone, as before
    for seconds, lead_in in windows:
        budget = measure_budget(live_process(models, args.steps, "fit", REGISTER_CONTEXT_SECONDS, lead_in=lead_in), rate,
                                seconds or MIN_AUTO_WINDOW_SECONDS)
        label = "" if seconds else "auto: "
        seconds = seconds or auto_window(budget, models[0].info.codec.window_seconds)
        played, engine = run_offline(live_process(models, args.steps, "fit", REGISTER_CONTEXT_SECONDS, lead_in=lead_in),
                                     signal, rate, seconds, budget)
        close, voiced = pitch_agreement(source_f0, f0(played, rate))
        rows.append((f"{label}{seconds:.3g} s" + ("" if lead_in else ", grown alone"), engine.stats.latency_seconds,
                     float(np.mean(engine.stats.compute_seconds)), fad(ref_emb, embed(played, rate)),
                     chroma_similarity(reference, played, rate), close / max(voiced, 1), engine.stats.dropped_windows))
        print(rows[-1], flush=True)

    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"## {stamp} — `python -m bench.live_window` — live window length vs latency and quality", "",
             f"- machine: {machine()}; accompany with {names} (layers summed, as `diffband live` plays them), strength default, {args.steps} steps, register fit "
             f"decided on the last {REGISTER_CONTEXT_SECONDS:g} s of input (as `diffband live`); input: "
             "the example vocal x4 (24 s); reference: offline `accompany` of the whole file; each window grown "
             "with the input leading into it (a model window's worth, `bridge.live.grown_from`), as `diffband live`, "
             "and at the seams window also grown alone (padded to a model window), as live did before; pitch: the "
             "input's voiced frames (pyin) the output plays within 50 cents", "",
             "| window | latency (window + budget) | compute per window | FAD to offline (mfcc-stats) | chroma vs offline "
             "| pitch within 50 c | windows dropped |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {w} | {lat:.2f} s | {comp:.3f} s | {f:.0f} | {c:.2f} | {pitch:.2f} | {dropped} |"
              for w, lat, comp, f, c, pitch, dropped in rows]
    offline_pitch = pitch_agreement(source_f0, f0(reference, rate))
    lines += [f"| offline, another seed (the noise floor) | | | {floor[0]:.0f} | {floor[1]:.2f} | "
              f"{offline_pitch[0] / max(offline_pitch[1], 1):.2f} (offline) | |"]
    if args.seams_window:
        lines += ["", f"Seams at the {args.seams_window:g} s window: spectral change across each crossfade (log-mel L1, "
                  f"frames {SEAM_SPAN:g} s either side) over the mean change across the windows' middles"
                  "; pitch: the input's voiced frames (pyin) the whole output plays within 50 cents", "",
                  "| register: seams | seams | change at seam / change mid-window | pitch within 50 c |", "|---|---|---|---|"]
        lines += [f"| {label} | {n} | {ratio:.2f} | {pitch:.2f} |"
                  for label, n, ratio, pitch in seam_rows(models, signal, rate, args.seams_window, args.steps)]
    append_results(Path(args.out), "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
