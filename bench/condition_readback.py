"""``python -m bench.condition_readback``: how exactly a condition image says which pitch sounds.

A model can only follow a pitch its condition tells it.  For each condition placement
(``engine.condition``: ``row``, each pitch on the one mel row that responds most, as
the bundles before 2026-11-27; ``filter``, each pitch on the rows around it by their
filter response), harmonic count and harmonic decay, every clip (4.46 s windows rendered by the
project's renderer with their notes kept, ``bench.pitch_truth``) is turned into its
condition image, and the pitch is read back from the image alone: per codec frame, the
contour bin whose own drawing (``placement_weights``) best matches the frame's column
(cosine; ties: the middle one).  Scored against the rendered notes: share of voiced
frames within 50 cents (``score_monophonic``).  A placement that scores low here leaves
the model to guess the note inside a band several semitones wide.

Appends a section to ``bench/RESULTS.md`` (``--out``).
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import numpy as np

from bench.engine import RESULTS, append_results, machine
from bench.pitch_truth import add_clip_arguments, load_clips, markdown_table, mean_of, score_monophonic
from diffband.engine.condition import ConditionSpec, PitchCondition, contour_frequencies, placement_weights
from diffband.engine.mel import preset

#: Below this a condition column is silence: no pitch is read back (unvoiced).
SILENT = 0.05
SPECS = {
    "row, f0 only (bundles before 2026-11-27)": ConditionSpec(placement="row", harmonics=1),
    "row, 3 harmonics": ConditionSpec(placement="row", harmonics=3),
    "filter, f0 only": ConditionSpec(placement="filter", harmonics=1),
    "filter, 3 harmonics (default since 2026-11-27)": ConditionSpec(placement="filter", harmonics=3),
    "filter, 3 harmonics at 1/h^2": ConditionSpec(placement="filter", harmonics=3, harmonic_decay=2.0),
    "filter, 6 harmonics": ConditionSpec(placement="filter", harmonics=6),
}


def read_back(image: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """f0 (Hz, 0 = unvoiced) per column of a condition image ``(n_mels, frames)``."""
    templates = weights / np.maximum(np.linalg.norm(weights, axis=0), 1e-9)
    frequencies = contour_frequencies()
    f0 = np.zeros(image.shape[1])
    for frame, column in enumerate(image.T):
        if column.max() < SILENT:
            continue
        match = templates.T @ (column / np.linalg.norm(column))
        best = np.flatnonzero(match >= match.max() - 1e-6)
        f0[frame] = frequencies[best[best.size // 2]]
    return f0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_clip_arguments(parser)
    parser.add_argument("--preset", default="tiny", help="mel geometry of the condition image")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    codec = preset(args.preset)
    instruments = tuple(args.instruments.split(","))
    clips = load_clips(instruments, args.clips, args.seed, Path(args.cache) if args.cache else None)
    frame_times = np.arange(codec.frames) * codec.hop_length / codec.sample_rate
    rows = []
    for label, spec in SPECS.items():
        extract, weights = PitchCondition(codec, spec), placement_weights(codec, spec)
        scores = {name: [score_monophonic(c, frame_times, read_back(extract(c.audio), weights)) for c in clips[name]]
                  for name in instruments}
        rows.append([label] + [f"{mean_of(scores[name], 'pitch'):.2f}" for name in instruments])
        print(" | ".join(rows[-1]), flush=True)
    counts = ", ".join(f"{len(clips[name])} {name}" for name in instruments)
    text = (
        f"## {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC — `python -m bench.condition_readback` — "
        "pitch read back from the condition image alone\n\n"
        f"- machine: {machine()}; preset `{args.preset}` ({codec.n_mels} mel bands, hop {codec.hop_length})\n"
        f"- clips: {counts} windows of 4.46 s (render seed {args.seed}); truth: the rendered notes\n"
        "- measure: share of voiced frames whose read-back pitch lies within 50 cents of the note\n\n"
        + markdown_table(["placement"] + [f"{name}: within 50 c" for name in instruments], rows) + "\n"
    )
    append_results(Path(args.out), text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
