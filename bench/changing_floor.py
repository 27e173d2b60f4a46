"""``python -m bench.changing_floor``: a take whose room tone changes during it (a fan switched on, or off). (issue 13)

``bench.real_takes`` grows one window at a time; a DAW sends longer takes, and a room's floor can
change during one.  Per source, the first ``--clips`` held-out windows (as ``eval quality`` picks
them) are played one after another with a ``GAP_SECONDS`` rest after each, peak at
``ROOM_PEAK_DBFS``, over pink room tone at ``QUIET_DBFS`` that rises to ``FAN_DBFS`` after
``CHANGE_SHARE`` of the take (``rise``), or starts at ``FAN_DBFS`` and falls to ``QUIET_DBFS``
there (``fall``).  Each take is grown by ``cross`` at its defaults with the floor read once for the
whole take (as before ``engine.rests.track_noise_floor``) and followed (today), beside the same
take with the quiet room tone throughout.  Over the part of the take the fan runs in: the loudest
layer in a rest's middle against the layer's notes (-inf: silent), the layer's spectral flatness
over the notes against the quiet take's, and pitch within 50 cents of the source's pyin-voiced
frames.  Appends a section to ``bench/RESULTS.md`` (``--out``).
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
CHANGE_SHARE = 0.4
CHANGES = ("rise", "fall")
WAYS = ("quiet room", "fan, floor read once", "fan, floor followed")


@contextmanager
def floor_read_once() -> Iterator[None]:
    """The take's floor read from the whole take, as one block."""
    kept = rests.FLOOR_BLOCK_SECONDS
    rests.FLOOR_BLOCK_SECONDS = 1e9
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


def pair_row(source: str, target_name: str, change: str, models: dict, heldout, clips: int) -> dict[str, str]:
    target = models[target_name]
    rate = target.info.codec.sample_rate
    windows, _, _ = named_windows(heldout / source, target.info.codec.window_samples, rate, clips)
    take, sounding = played_take(windows, rate)
    at = int(CHANGE_SHARE * take.size)
    fan_on = np.arange(take.size) >= at if change == "rise" else np.arange(take.size) < at
    room = pink_noise(take.size, np.random.default_rng(0))
    quiet = room * np.float32(10 ** (QUIET_DBFS / 20))
    fan = np.where(fan_on, room * np.float32(10 ** (FAN_DBFS / 20)), quiet).astype(np.float32)
    fan_notes = sounding & fan_on
    edge = int(0.2 * rate)  # a rest's middle: clear of the release and the re-entry
    fan_rests = [slice(a + edge, b - edge) for a, b in true_runs(~sounding) if fan_on[a] and fan_on[b - 1]]
    source_f0 = f0(np.where(fan_notes, at_peak(take, -1.0), 0.0).astype(np.float32), rate)
    layers = {WAYS[0]: cross(take + quiet, rate, target, seed=0)}
    with floor_read_once():
        layers[WAYS[1]] = cross(take + fan, rate, target, seed=0)
    layers[WAYS[2]] = cross(take + fan, rate, target, seed=0)
    quiet_flatness = flatness(layers[WAYS[0]][fan_notes], rate)
    row = {"pair": f"{source}->{target_name}", "change": change, "rests": str(len(fan_rests))}
    for way, layer in layers.items():
        notes_db = level_db(layer[fan_notes])
        rest_db = max((level_db(layer[s]) - notes_db for s in fan_rests), default=float("nan"))
        kept, voiced = pitch_agreement(source_f0, f0(layer, rate))
        row[way] = (f"{rest_db:.0f} dB / {flatness(layer[fan_notes], rate) / quiet_flatness:.2f} / "
                    f"{kept / voiced if voiced else float('nan'):.2f}")
    print(row, flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    args, pairs, models = pair_bench_setup(__doc__, PAIRS, 6, argv)
    rows = [pair_row(source, target, change, models, args.heldout, args.clips)
            for change in CHANGES for source, target in pairs]
    lines = [
        f"## {dt.datetime.now():%Y-%m-%d %H:%M} UTC — `python -m bench.changing_floor` — room tone that changes during a take",
        "",
        f"Machine: {machine()}. Per source, {args.clips} held-out windows (`{args.heldout}`) one after another with a "
        f"{GAP_SECONDS:g} s rest after each, peak {ROOM_PEAK_DBFS:g} dBFS, pink room tone at {QUIET_DBFS:g} dBFS rising to "
        f"{FAN_DBFS:g} dBFS after {CHANGE_SHARE:g} of the take (rise), or falling from {FAN_DBFS:g} to {QUIET_DBFS:g} dBFS there "
        "(fall); `cross` at its defaults, seed 0. Each cell, over the part of the take the fan runs in: "
        "the loudest layer in a rest's middle against the layer's notes (-inf: silent in every rest) / the layer's "
        "flatness over the notes against the quiet-room take's / pitch within 50 cents of the source's pyin-voiced frames.",
        "",
        f"| pair | change | rests with the fan on | {' | '.join(WAYS)} |",
        "|---|---|---|" + "---|" * len(WAYS),
        *[f"| {r['pair']} | {r['change']} | {r['rests']} | {' | '.join(r[w] for w in WAYS)} |" for r in rows],
        "",
    ]
    append_results(args.out, "\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
