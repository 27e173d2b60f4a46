"""diffband eval fad / eval sweep from the command line, on renders and the shipped models."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest
import soundfile as sf

from tests.conftest import REPO, render_clip


def diffband(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "diffband.bridge.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=900, env={**os.environ, "DIFFBAND_THREADS": "1"})


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("sets")
    for name, inst, seeds in (("guitar_a", "guitar", range(500, 506)), ("guitar_b", "guitar", range(600, 606)),
                              ("violin", "violin", range(700, 706))):
        (root / name).mkdir()
        for seed in seeds:
            sf.write(root / name / f"{seed}.wav", render_clip(inst, 5.0, seed), 22050)
    return root


def test_eval_fad_prints_the_value_last(folders):
    same = diffband("eval", "fad", str(folders / "guitar_a"), str(folders / "guitar_a"))
    assert same.returncode == 0, same.stderr
    assert "mfcc-stats" in same.stdout and float(same.stdout.split()[-1]) == pytest.approx(0.0, abs=1e-3)
    close = float(diffband("eval", "fad", str(folders / "guitar_a"), str(folders / "guitar_b")).stdout.split()[-1])
    far = float(diffband("eval", "fad", str(folders / "guitar_a"), str(folders / "violin")).stdout.split()[-1])
    assert far > 2 * close > 0
    inf = diffband("eval", "fad", str(folders / "guitar_a"), str(folders / "violin"), "--inf")
    assert inf.returncode == 0 and "FAD-inf fit" in inf.stdout
    missing = diffband("eval", "fad", str(folders / "guitar_a"), str(folders / "violin"), "--embedding", "vggish")
    assert missing.returncode == 1 and "--vggish-weights" in missing.stderr


def test_eval_sweep_small_grid_resumes_and_recommends(folders, tmp_path):
    out = tmp_path / "sweep"
    args = ["eval", "sweep", "--from", str(folders / "guitar_a"), "--to", "violin", "--reference", str(folders / "violin"),
            "--strengths", "0,0.6", "--steps", "4,8", "--clips", "3", "-o", str(out)]
    first = diffband(*args)
    assert first.returncode == 0, first.stderr
    rows = list(csv.DictReader((out / "cross.csv").open()))
    assert {(r["strength"], r["steps"]) for r in rows} == {("0", "4"), ("0.6", "4"), ("0", "8"), ("0.6", "8")}
    assert all(r["direction"] == "guitar_a->violin" and r["embedding"] == "mfcc-stats" for r in rows)
    strength0 = [float(r["melody"]) for r in rows if r["strength"] == "0"]
    moved = [float(r["melody"]) for r in rows if r["strength"] == "0.6"]
    assert min(strength0) > max(moved) - 0.05  # strength 0 keeps the source's melody best
    assert "recommended: strength 0.6" in first.stdout
    tables = (out / "tables.md").read_text()
    assert "## guitar_a->violin" in tables and "FAD to target" in tables and "melody preservation" in tables
    assert (out / "heatmap_guitar_a_to_violin.png").stat().st_size > 10_000

    again = diffband(*args)  # resumable: finished cells are not run again
    assert again.returncode == 0
    assert len(list(csv.DictReader((out / "cross.csv").open()))) == 4


def test_eval_sweep_on_shipped_models_with_split_sweep(tmp_path):
    out = tmp_path / "models"
    result = diffband("eval", "sweep", "--from", "guitar", "--to", "violin", "--strengths", "0.5", "--steps", "4",
                      "--clips", "2", "--splits", "0,1", "--split-steps", "4", "-o", str(out))
    assert result.returncode == 0, result.stderr
    split = list(csv.DictReader((out / "split.csv").open()))
    assert [r["split"] for r in split] == ["0", "1"]
    by_split = {r["split"]: float(r["pair_image_corr"]) for r in split}
    assert by_split["1"] == pytest.approx(1.0)  # split at the end: both layers are the source's trunk
    assert by_split["0"] < by_split["1"]
    assert "generations of the violin model" in (out / "tables.md").read_text()


def test_eval_melody_scores_identity_as_one(folders):
    clip = str(sorted((folders / "violin").iterdir())[0])
    result = diffband("eval", "melody", clip, clip)
    assert result.returncode == 0, result.stderr
    assert "chroma cosine: 1.0000" in result.stdout and "F1 1.000" in result.stdout
