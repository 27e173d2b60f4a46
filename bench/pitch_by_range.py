"""``python -m bench.pitch_by_range``: where the layers' pitch is lost, inside or outside the
target instrument's range (issue 13).

On the held-out windows ``diffband eval quality`` scores (one per piece, the first
``--clips`` pieces of each source), each source window is crossed into the target at the
CLI defaults (follow notes, ``engine/defaults.py``).  Every frame pyin calls voiced in the
source is put on one side of the target bundle's ``pitch_range`` (the MIDI notes its
training melodies were kept within): *inside* or *outside* (below or above).  Per side:
the share of the source's voiced frames there, and the share where the layer is within 50
cents of the source; the same for a real player of the target instrument on the source's
notes (the ``played`` control of ``eval quality``) sent through the bundle's codec and
vocoder, the best a layer can score.  Appends a section to ``bench/RESULTS.md`` (``--out``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import librosa
import numpy as np

from bench.engine import append_results, heldout_parser, machine
from diffband.bridge.cli_eval import PLAYED_FOLDER
from diffband.engine.condition import conditions_for
from diffband.engine.cross import cross_images
from diffband.engine.defaults import DEFAULT_GUIDANCE, DEFAULT_STEPS, DEFAULT_STRENGTH
from diffband.engine.model import DiffusionModel, load_models
from diffband.evaluation.played import played_folder
from diffband.evaluation.quality import f0, named_windows, pitch_agreement

PAIRS = ("guitar:violin", "violin:guitar", "voice:violin", "voice:guitar")


def split_scores(source_f0: list[np.ndarray], layer_f0: list[np.ndarray], low: int, high: int) -> dict[str, tuple[int, int]]:
    """(frames within 50 cents, voiced source frames) for the source frames inside ``[low, high]``,
    below and above it, summed over the clips."""
    totals = {"inside": [0, 0], "below": [0, 0], "above": [0, 0]}
    for s, o in zip(source_f0, layer_f0):
        n = min(s.size, o.size)
        s, o = s[:n], o[:n]
        note = np.round(librosa.hz_to_midi(s))  # NaN (unvoiced) on no side
        sides = {"inside": (note >= low) & (note <= high), "below": note < low, "above": note > high}
        for side, mask in sides.items():
            kept, voiced = pitch_agreement(np.where(mask, s, np.nan), o)
            totals[side][0] += kept
            totals[side][1] += voiced
    return {side: (kept, voiced) for side, (kept, voiced) in totals.items()}


def pair_rows(source_name: str, target: DiffusionModel, heldout: Path, clips: int) -> list[dict[str, str]]:
    codec = target.info.codec
    audio, files, _ = named_windows(heldout / source_name, codec.window_samples, codec.sample_rate, clips)
    played = named_windows(played_folder(heldout / source_name, target.name, heldout / PLAYED_FOLDER),
                           codec.window_samples, codec.sample_rate, len(files), files)[0]
    images = np.stack([codec.encode(a) for a in audio])
    layers = target.decode(cross_images(target, images, DEFAULT_STRENGTH, DEFAULT_STEPS, 0,
                                        condition=conditions_for(target, audio), guidance=DEFAULT_GUIDANCE))
    through_vocoder = target.decode(np.stack([codec.encode(a) for a in played]))
    source_f0 = [f0(a, codec.sample_rate) for a in audio]
    low, high = target.info.pitch_range
    rows = []
    for label, outputs in (("layer", layers), ("real player through the vocoder", through_vocoder)):
        scores = split_scores(source_f0, [f0(a, codec.sample_rate) for a in outputs], low, high)
        voiced = sum(v for _, v in scores.values())
        kept = sum(k for k, _ in scores.values())
        row = {"pair": f"{source_name}->{target.name}", "output": label, "all": f"{kept / voiced:.2f}"}
        for side, (k, v) in scores.items():
            row[side] = f"{k / v:.2f} ({v / voiced:.0%} of frames)" if v else "-"
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = heldout_parser(__doc__, PAIRS, 6, heldout_help="held-out renders as `eval quality` uses them "
                                                          "(with their played/ folder)")
    args = parser.parse_args(argv)
    pairs = [p.split(":") for p in args.pairs.split(",")]
    targets = {m.name: m for m in load_models(sorted({t for _, t in pairs}), device="cpu")}
    rows = [row for source, target in pairs for row in pair_rows(source, targets[target], args.heldout, args.clips)]
    lines = [
        f"## Pitch inside and outside the target's range ({dt.datetime.now():%Y-%m-%d %H:%M}, `python -m bench.pitch_by_range`)",
        "",
        f"Machine: {machine()}. {args.clips} held-out windows per pair (`{args.heldout}`), cross at the CLI defaults "
        f"(follow notes, strength {DEFAULT_STRENGTH:g}, guidance {DEFAULT_GUIDANCE:g}, {DEFAULT_STEPS} steps, seed 0). "
        "Share of the source's pyin-voiced frames within 50 cents, split by the source note against the target "
        "bundle's pitch_range " + ", ".join(f"{n} {m.info.pitch_range[0]}-{m.info.pitch_range[1]}" for n, m in targets.items())
        + "; in brackets, the share of the voiced frames on that side.",
        "",
        "| pair | output | all | inside the range | below | above |",
        "|---|---|---|---|---|---|",
        *[f"| {r['pair']} | {r['output']} | {r['all']} | {r['inside']} | {r['below']} | {r['above']} |" for r in rows],
        "",
    ]
    append_results(args.out, "\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
