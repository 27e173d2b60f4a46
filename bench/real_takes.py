"""``python -m bench.real_takes``: are layers grown from a musician's take as clean as from a render? (issue 13)

The held-out renders ``eval quality`` grows from peak near full scale and hold no room tone.  A
take does neither.  On held-out windows (one per piece, the first ``--clips`` pieces, as ``eval
quality`` picks them), each pair's source window is grown by ``cross`` at its defaults as:

- *studio*: peak-normalised to -1 dBFS (the training level), nothing added;
- *headroom*: the same, peak at ``HEADROOM_DBFS``;
- *room*: a 1.5 s rest put in at 1.5 s, peak at ``ROOM_PEAK_DBFS``, pink room tone at
  ``ROOM_TONE_DBFS`` throughout.

Per take: pitch within 50 cents of the source's pyin-voiced frames (the window as played, the rest
included), note F1 against basic-pitch's notes of the window as played (at -1 dBFS, no room tone:
what the condition reads of the take, room tone gated out or not, shows here), the layer's spectral flatness over the notes against the studio take's (1: as clean),
and for *room* the layer's level in the rest's middle against its notes (silent: -inf).  Appends a
section to ``bench/RESULTS.md`` (``--out``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from bench.engine import append_results, machine, pair_bench_setup
from diffband.engine.cross import cross
from diffband.evaluation import notes
from diffband.evaluation.quality import ONSET_TOLERANCE, f0, flatness, named_windows, pitch_agreement

PAIRS = ("voice:violin", "voice:guitar", "guitar:violin", "violin:guitar")
HEADROOM_DBFS = -30.0
ROOM_PEAK_DBFS, ROOM_TONE_DBFS = -20.0, -55.0
REST_AT, REST_SECONDS = 1.5, 1.5
TAKES = ("studio", "headroom", "room")


def pink_noise(samples: int, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise of RMS 1 whose power falls as 1/f (room tone)."""
    spectrum = np.fft.rfft(rng.standard_normal(samples))
    spectrum /= np.sqrt(np.maximum(np.arange(spectrum.size), 1))
    noise = np.fft.irfft(spectrum, samples)
    return (noise / np.sqrt(np.mean(noise**2))).astype(np.float32)


def at_peak(audio: np.ndarray, dbfs: float) -> np.ndarray:
    return (audio / np.max(np.abs(audio)) * 10 ** (dbfs / 20)).astype(np.float32)


def takes_of(window: np.ndarray, rate: int, rng: np.random.Generator
             ) -> tuple[dict[str, tuple[np.ndarray, str, np.ndarray]], dict[str, np.ndarray]]:
    """Per take: (what is grown, which way the source is played in it, which samples sound); and each
    way of playing it (``whole``, ``rested``), without the room tone."""
    at, gap = int(REST_AT * rate), int(REST_SECONDS * rate)
    rested = np.concatenate([window[:at], np.zeros(gap, np.float32), window[at:]])[: window.size]
    sounding = np.ones(window.size, bool)
    sounding[at : at + gap] = False
    played = {"whole": at_peak(window, -1.0), "rested": at_peak(rested, ROOM_PEAK_DBFS)}
    room = played["rested"] + pink_noise(window.size, rng) * np.float32(10 ** (ROOM_TONE_DBFS / 20))
    return {"studio": (played["whole"], "whole", np.ones(window.size, bool)),
            "headroom": (at_peak(window, HEADROOM_DBFS), "whole", np.ones(window.size, bool)),
            "room": (room.astype(np.float32), "rested", sounding)}, played


def level_db(audio: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
    return 20 * np.log10(rms) if rms > 0 else float("-inf")


def pair_rows(source: str, target_name: str, models: dict, heldout: Path, clips: int) -> list[dict[str, str]]:
    target = models[target_name]
    rate = target.info.codec.sample_rate
    windows, _, _ = named_windows(heldout / source, target.info.codec.window_samples, rate, clips)
    rng = np.random.default_rng(0)
    scores: dict[str, list] = {take: [] for take in TAKES}
    at, gap = int(REST_AT * rate), int(REST_SECONDS * rate)
    middle = slice(at + int(0.2 * rate), at + gap - int(0.1 * rate))
    for window in windows:
        takes, played = takes_of(window, rate, rng)
        takes = {take: made for take, made in takes.items() if take in scores}
        # each way of playing the source read once: its pyin f0 and its notes (at -1 dBFS)
        reference = {way: (f0(played[way], rate), notes.transcribe(at_peak(played[way], -1.0), rate))
                     for way in {way for _, way, _ in takes.values()}}
        for take, (grown, way, sounding) in takes.items():
            layer = cross(grown, rate, target, seed=0)
            rest_db = level_db(layer[middle]) - level_db(layer[sounding]) if take == "room" else float("nan")
            source_f0, source_notes = reference[way]
            f1 = notes.f1(source_notes, notes.transcribe(layer, rate), ONSET_TOLERANCE)["f1"]
            scores[take].append((pitch_agreement(source_f0, f0(layer, rate)), flatness(layer[sounding], rate),
                                 rest_db, f1))
    studio_flatness = np.mean([s[1] for s in scores["studio"]])
    rows = []
    for take in TAKES:
        kept, voiced = sum(s[0][0] for s in scores[take]), sum(s[0][1] for s in scores[take])
        rows.append({"pair": f"{source}->{target_name}", "take": take, "pitch": f"{kept / voiced:.2f}" if voiced else "nan",
                     "f1": f"{np.mean([s[3] for s in scores[take]]):.2f}",
                     "flatness": f"{np.mean([s[1] for s in scores[take]]) / studio_flatness:.2f}",
                     "rest": "" if take != "room" else f"{max(s[2] for s in scores[take]):.0f} dB"})
        print(rows[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    args, pairs, models = pair_bench_setup(__doc__, PAIRS, 6, argv)
    rows = [row for source, target in pairs for row in pair_rows(source, target, models, args.heldout, args.clips)]
    lines = [
        f"## {dt.datetime.now():%Y-%m-%d %H:%M} UTC — `python -m bench.real_takes` — layers from a musician's take",
        "",
        f"Machine: {machine()}. {args.clips} held-out windows per source (`{args.heldout}`), `cross` at its defaults, "
        f"seed 0. Takes: *studio* peak -1 dBFS; *headroom* peak {HEADROOM_DBFS:g} dBFS; *room* a {REST_SECONDS:g} s "
        f"rest at {REST_AT:g} s, peak {ROOM_PEAK_DBFS:g} dBFS, pink room tone at {ROOM_TONE_DBFS:g} dBFS. *pitch*: share "
        "of the source's pyin-voiced frames the layer is within 50 cents of; *note F1*: the layer's basic-pitch notes against "
        "the window's as played (mean over windows); *flatness*: the layer's over the notes "
        "against the studio take's (mean over windows); *rest*: the loudest layer in the rest's middle against its "
        "notes, over the windows (-inf: silent in every one).",
        "",
        "| pair | take | pitch | note F1 | flatness / studio | layer in the rest |",
        "|---|---|---|---|---|---|",
        *[f"| {r['pair']} | {r['take']} | {r['pitch']} | {r['f1']} | {r['flatness']} | {r['rest']} |" for r in rows],
        "",
    ]
    append_results(args.out, "\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
