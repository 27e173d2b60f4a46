"""The CLI's defaults are the recommendation of ``diffband eval quality`` committed in
docs/results/, measured on the shipped bundles (their SHA-256 is in the recommendation)."""

from __future__ import annotations

import hashlib
import json

from diffband.engine.defaults import DEFAULT_GUIDANCE, DEFAULT_STEPS, DEFAULT_STRENGTH
from diffband.evaluation.csv_rows import read_rows
from diffband.evaluation.quality import recommend
from tests.conftest import REPO

RESULTS = REPO / "docs" / "results"
PAIRS = {"guitar->violin", "violin->guitar", "voice->violin", "voice->guitar"}


def test_defaults_are_the_measured_recommendation_on_the_shipped_models():
    rows = [r for r in read_rows(RESULTS / "quality.csv") if int(r["steps"]) == DEFAULT_STEPS]
    assert {r["pair"] for r in rows} == PAIRS
    for pair in PAIRS:  # the report's method beside melody following, and the controls, for every pair
        kinds = {(r["row"], r["follow"]) for r in rows if r["pair"] == pair}
        assert {("layer", "off"), ("layer", "notes"), ("roundtrip", "off"), ("noise", "off"), ("condition", "notes"),
                ("played", "off")} <= kinds  # ... and a real player of the target instrument on the same notes
    best = recommend(rows)
    assert (best["follow"], best["strength"], best["guidance"]) == ("notes", DEFAULT_STRENGTH, DEFAULT_GUIDANCE)
    saved = json.loads((RESULTS / "recommendation.json").read_text())
    assert (saved["strength"], saved["guidance"], saved["steps"]) == (DEFAULT_STRENGTH, DEFAULT_GUIDANCE, DEFAULT_STEPS)
    for name, digest in saved["models"].items():  # measured on the bundles that ship
        assert hashlib.sha256((REPO / "models" / f"{name}.onnx").read_bytes()).hexdigest() == digest, name
    page = (REPO / "docs" / "results.md").read_text()
    assert f"**strength {DEFAULT_STRENGTH:g}, guidance {DEFAULT_GUIDANCE:g}** with follow notes" in page


def test_cli_and_protocol_use_the_defaults():
    from diffband.bridge.cli import build_parser
    from diffband.bridge.protocol import OPTIONS

    args = build_parser().parse_args(["cross", "in.wav", "--to", "violin", "-o", "x.wav"])
    assert (args.strength, args.steps, args.guidance) == (DEFAULT_STRENGTH, DEFAULT_STEPS, DEFAULT_GUIDANCE)
    args = build_parser().parse_args(["accompany", "in.wav", "--with", "violin", "-o", "out"])
    assert (args.strength, args.steps, args.guidance) == (DEFAULT_STRENGTH, DEFAULT_STEPS, DEFAULT_GUIDANCE)
    assert OPTIONS["strength"].default == DEFAULT_STRENGTH and OPTIONS["steps"].default == DEFAULT_STEPS
    assert OPTIONS["guidance"].default == DEFAULT_GUIDANCE
