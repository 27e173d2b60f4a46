"""``python -m bench.changing_floor``: a take whose room tone rises during it (a fan switched on). (issue 13)

``bench.real_takes`` grows one window at a time; a DAW sends longer takes, and a room's floor can
change during one.  Per source, the first ``--clips`` held-out windows (as ``eval quality`` picks
them) are played one after another with a ``GAP_SECONDS`` rest after each, peak at
``ROOM_PEAK_DBFS``, over pink room tone at ``QUIET_DBFS`` that rises to ``FAN_DBFS`` after
``RISE_SHARE`` of the take (not on a block's edge: ``engine.rests.FLOOR_BLOCK_SECONDS``).  Each
take is grown by ``cross`` at its defaults with the floor read once for the whole take (as before
``engine.rests.track_noise_floor``) and read a block at a time (today), beside the
same take with the quiet room tone throughout.  Over the part after the rise: the loudest layer in
a rest's middle against the layer's notes (-inf: silent), the layer's spectral flatness over the
notes against the quiet take's, and pitch within 50 cents of the source's pyin-voiced frames.
Appends a section to ``bench/RESULTS.md`` (``--out``).
"""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from typing import Iterator

import numpy as np

from bench.engine import append_results, machine, pair_bench_setup
from bench.real_takes import at_peak, level_db, pink_noise
from diffband.engine import rests
from diffband.engine.cross import cross
from diffband.engine.runs import true_runs
from diffband.evaluation.quality import f0, flatness, named_windows, pitch_agreement

PAIRS = ("voice:violin", "voice:guitar", "guitar:violin", "violin:guitar")
GAP_SECONDS = 1.0
ROOM_PEAK_DBFS, QUIET_DBFS, FAN_DBFS = -20.0, -62.0, -44.0
RISE_SHARE = 0.4
WAYS = ("quiet room", "fan, floor read once", "fan, floor followed")


@contextmanager
def floor_read_once() -> Iterator[None]:
    """The take's floor read from the whole take, as one block."""
    kept = rests.FLOOR_BLOCK_SECONDS
    rests.FLOOR_BLOCK_SECONDS = float("inf")
    try:
        yield
    finally:
        rests.FLOOR_BLOCK_SECONDS = kept


def played_take(windows: list[np.ndarray], rate: int) -> tuple[np.ndarray, np.ndarray]:
    """The windows one after another, a rest after each, peak at ``ROOM_PEAK_DBFS``; and which samples sound."""
    gap = np.zeros(int(GAP_SECONDS * rate), np.float32)
    take = np.concatenate([part for window in windows for part in (window, gap)])
    sounding = np.concatenate([part for window in windows for part in (np.ones(window.size, bool), gap.astype(bool))])
    return at_peak(take, ROOM_PEAK_DBFS), sounding


def pair_row(source: str, target_name: str, models: dict, heldout, clips: int) -> dict[str, str]:
    target = models[target_name]
    rate = target.info.codec.sample_rate
    windows, _, _ = named_windows(heldout / source, target.info.codec.window_samples, rate, clips)
    take, sounding = played_take(windows, rate)
    rise = int(RISE_SHARE * take.size)
    room = pink_noise(take.size, np.random.default_rng(0))
    quiet = room * np.float32(10 ** (QUIET_DBFS / 20))
    fan = np.concatenate([quiet[:rise], room[rise:] * np.float32(10 ** (FAN_DBFS / 20))])
    late_notes = sounding.copy()
    late_notes[:rise] = False
    edge = int(0.2 * rate)  # a rest's middle: clear of the release and the re-entry
    late_rests = [slice(a + edge, b - edge) for a, b in true_runs(~sounding) if a >= rise]
    source_f0 = f0(np.where(late_notes, at_peak(take, -1.0), 0.0).astype(np.float32), rate)
    layers = {WAYS[0]: cross(take + quiet, rate, target, seed=0)}
    with floor_read_once():
        layers[WAYS[1]] = cross(take + fan, rate, target, seed=0)
    layers[WAYS[2]] = cross(take + fan, rate, target, seed=0)
    quiet_flatness = flatness(layers[WAYS[0]][late_notes], rate)
    row = {"pair": f"{source}->{target_name}", "rests": str(len(late_rests))}
    for way, layer in layers.items():
        notes_db = level_db(layer[late_notes])
        rest_db = max((level_db(layer[s]) - notes_db for s in late_rests), default=float("nan"))
        kept, voiced = pitch_agreement(source_f0, f0(layer, rate))
        row[way] = (f"{rest_db:.0f} dB / {flatness(layer[late_notes], rate) / quiet_flatness:.2f} / "
                    f"{kept / voiced if voiced else float('nan'):.2f}")
    print(row, flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    args, pairs, models = pair_bench_setup(__doc__, PAIRS, 6, argv)
    rows = [pair_row(source, target, models, args.heldout, args.clips) for source, target in pairs]
    lines = [
        f"## {dt.datetime.now():%Y-%m-%d %H:%M} UTC — `python -m bench.changing_floor` — room tone that rises during a take",
        "",
        f"Machine: {machine()}. Per source, {args.clips} held-out windows (`{args.heldout}`) one after another with a "
        f"{GAP_SECONDS:g} s rest after each, peak {ROOM_PEAK_DBFS:g} dBFS, pink room tone at {QUIET_DBFS:g} dBFS rising to "
        f"{FAN_DBFS:g} dBFS after {RISE_SHARE:g} of the take; `cross` at its defaults, seed 0. Each cell, over the part after the rise: "
        "the loudest layer in a rest's middle against the layer's notes (-inf: silent in every rest) / the layer's "
        "flatness over the notes against the quiet-room take's / pitch within 50 cents of the source's pyin-voiced frames.",
        "",
        f"| pair | rests after the rise | {' | '.join(WAYS)} |",
        "|---|---|" + "---|" * len(WAYS),
        *[f"| {r['pair']} | {r['rests']} | {' | '.join(r[w] for w in WAYS)} |" for r in rows],
        "",
    ]
    append_results(args.out, "\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
