"""The CLI's defaults are the recommendation of the measured sweep committed in docs/results/."""

from __future__ import annotations

from diffband.engine.defaults import DEFAULT_STEPS, DEFAULT_STRENGTH
from diffband.evaluation.csv_rows import read_rows
from diffband.evaluation.sweep import recommend
from tests.conftest import REPO


def test_defaults_are_the_measured_recommendation():
    rows = read_rows(REPO / "docs" / "results" / "cross.csv")
    assert {r["direction"] for r in rows} == {"guitar->violin", "violin->guitar"}
    assert len(rows) == 2 * 6 * 5  # the full grid, both directions
    best = recommend(rows)
    assert (best["strength"], best["steps"]) == (DEFAULT_STRENGTH, DEFAULT_STEPS)
    assert f"strength {DEFAULT_STRENGTH:g}, {DEFAULT_STEPS} steps" in (REPO / "docs" / "results.md").read_text()


def test_cli_and_protocol_use_the_defaults():
    from diffband.bridge.cli import build_parser
    from diffband.bridge.protocol import OPTIONS

    args = build_parser().parse_args(["cross", "in.wav", "--to", "violin", "-o", "x.wav"])
    assert (args.strength, args.steps) == (DEFAULT_STRENGTH, DEFAULT_STEPS)
    args = build_parser().parse_args(["accompany", "in.wav", "--with", "violin", "-o", "out"])
    assert (args.strength, args.steps) == (DEFAULT_STRENGTH, DEFAULT_STEPS)
    assert OPTIONS["strength"].default == DEFAULT_STRENGTH and OPTIONS["steps"].default == DEFAULT_STEPS
