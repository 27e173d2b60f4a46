"""``python -m bench.chorus_pitch``: does a chorus agree with itself? (issue 13, item 2)

``chorus`` grows a lead layer from a captured clip and conditions every later layer on the
lead's notes.  On held-out windows (one per piece, the first ``--clips`` pieces of each
source, as ``diffband eval quality`` picks them), each window is made into a two-layer
chorus at the ``chorus`` defaults (strength 0.8, split 0.2, 20 steps, guidance
``DEFAULT_GUIDANCE``, register ``DEFAULT_REGISTER``, seed 0) with follow ``notes`` (later layers re-tuned to the lead,
``engine.tuning``), ``loose`` (the condition alone) and ``off`` (the report's lockstep
branches).  Per cell: the share of the lead's pyin-voiced frames where the later layer is
within 50 cents of the lead (what a listener hears as the pair in tune) and the share of
the source's voiced frames where the lead is (what the lead keeps of the clip).  Appends a
section to ``bench/RESULTS.md`` (``--out``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from bench.engine import append_results, heldout_parser, machine
from diffband.engine.defaults import DEFAULT_GUIDANCE
from diffband.engine.double import chorus
from diffband.engine.model import DiffusionModel, load_models
from diffband.evaluation.quality import f0, named_windows, pitch_agreement

#: (lead, later layer): each shipped melodic model leads once.
PAIRS = ("guitar:violin", "violin:guitar")
SOURCES = ("voice", "guitar", "violin")
FOLLOWS = ("notes", "loose", "off")
STRENGTH, SPLIT, STEPS = 0.8, 0.2, 20


def agreement(reference: list[np.ndarray], output: list[np.ndarray]) -> float:
    """Share of ``reference``'s voiced frames (summed over clips) where ``output`` is within 50 cents."""
    scores = [pitch_agreement(r, o) for r, o in zip(reference, output)]
    voiced = sum(v for _, v in scores)
    return sum(k for k, _ in scores) / voiced if voiced else float("nan")


def cell_rows(lead: DiffusionModel, later: DiffusionModel, source: str, heldout: Path, clips: int) -> list[dict[str, str]]:
    codec = lead.info.codec
    rate = codec.sample_rate
    windows, _, _ = named_windows(heldout / source, codec.window_samples, rate, clips)
    source_f0 = [f0(w, rate) for w in windows]
    rows = []
    for follow in FOLLOWS:
        made = [chorus(w, rate, [lead, later], STRENGTH, SPLIT, STEPS, seed=0, follow=follow, guidance=DEFAULT_GUIDANCE)
                for w in windows]
        lead_f0 = [f0(layers[0][1], rate) for layers in made]
        later_f0 = [f0(layers[1][1], rate) for layers in made]
        rows.append({"source": source, "lead": lead.name, "later": later.name, "follow": follow,
                     "pair": f"{agreement(lead_f0, later_f0):.2f}", "lead_source": f"{agreement(source_f0, lead_f0):.2f}",
                     "later_source": f"{agreement(source_f0, later_f0):.2f}"})
        print(rows[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = heldout_parser(__doc__, PAIRS, 4, pairs_help="lead:later pairs")
    parser.add_argument("--sources", default=",".join(SOURCES))
    args = parser.parse_args(argv)
    pairs = [p.split(":") for p in args.pairs.split(",")]
    models = {m.name: m for m in load_models(sorted({n for pair in pairs for n in pair}), device="cpu")}
    rows = [row for lead, later in pairs for source in args.sources.split(",")
            for row in cell_rows(models[lead], models[later], source, args.heldout, args.clips)]
    means = {follow: [np.mean([float(r[k]) for r in rows if r["follow"] == follow]) for k in ("pair", "lead_source", "later_source")]
             for follow in FOLLOWS}
    lines = [
        f"## {dt.datetime.now():%Y-%m-%d %H:%M} UTC — `python -m bench.chorus_pitch` — does a chorus agree with itself",
        "",
        f"Machine: {machine()}. {args.clips} held-out windows per source (`{args.heldout}`), a two-layer chorus "
        f"at strength {STRENGTH:g}, split {SPLIT:g}, {STEPS} steps, guidance {DEFAULT_GUIDANCE:g}, seed 0. "
        "*later vs lead*: share of the lead layer's pyin-voiced frames where the later layer is within 50 cents; "
        "*vs source*: share of the source window's voiced frames where the layer is.",
        "",
        "| source | lead -> later | follow | later vs lead | lead vs source | later vs source |",
        "|---|---|---|---|---|---|",
        *[f"| {r['source']} | {r['lead']} -> {r['later']} | {r['follow']} | {r['pair']} | {r['lead_source']} | "
          f"{r['later_source']} |" for r in rows],
        *[f"| mean | | {follow} | {m[0]:.2f} | {m[1]:.2f} | {m[2]:.2f} |" for follow, m in means.items()],
        "",
    ]
    append_results(args.out, "\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
