"""``diffband eval quality`` (issue 13, item 6) end to end on a tiny conditional bundle and
real FluidSynth renders: the CSV rows, the controls, the report and the recommendation."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from diffband.evaluation.csv_rows import read_rows
from diffband.evaluation.quality import pitch_agreement, recommend
from tests.conftest import REPO, render_clip, render_piece

from diffband.evaluation import notes

if not notes.available():
    pytest.skip("note F1 needs basic-pitch (pip install 'diffband[notes]' && pip install --no-deps basic-pitch)",
                allow_module_level=True)


def test_pitch_agreement_counts_layer_frames_within_50_cents_of_the_voiced_source():
    source = np.array([440.0, 440.0, np.nan, 220.0])
    layer = np.array([450.0, 470.0, 440.0, np.nan])  # +39 cents, +114 cents, source unvoiced, layer unvoiced
    assert pitch_agreement(source, layer) == (1, 3)
    octaves = np.array([221.0, 1760.0, 300.0, 261.6])  # an octave down, two up, source unvoiced, 3 semitones up
    assert pitch_agreement(source, octaves) == (0, 3)
    assert pitch_agreement(source, octaves, any_octave=True) == (2, 3)


def test_recommend_prefers_the_most_target_like_cell_that_keeps_the_notes():
    def row(strength, guidance, pitch, f1, ratio, follow="notes"):
        return {"pair": "a->b", "row": "layer", "follow": follow, "strength": str(strength), "guidance": str(guidance),
                "pitch_50c": str(pitch), "pitch_octave": str(pitch), "note_f1": str(f1), "fad_target": "1", "fad_source": "1",
                "fad_ratio": str(ratio), "flatness_ratio": "1"}

    rows = [row(0.6, 1, 0.9, 0.8, 0.9), row(0.8, 2, 0.85, 0.75, 0.6), row(1.0, 3, 0.5, 0.3, 0.2),
            row(1.0, 0, 0.1, 0.1, 0.1, follow="off")]
    assert (recommend(rows)["strength"], recommend(rows)["guidance"]) == (0.8, 2.0)
    # none meets the targets: the best-pitch cells (within 0.05) decide, not the lowest ratio overall
    weak = [row(0.6, 1, 0.5, 0.4, 0.9), row(0.8, 2, 0.47, 0.4, 0.7), row(1.0, 3, 0.2, 0.1, 0.1)]
    assert recommend(weak)["strength"] == 0.8
    # unconditional models have only the report's method: the recommendation says so
    off_only = [row(0.6, 0, 0.5, 0.4, 0.9, "off"), row(0.8, 0, 0.2, 0.1, 0.5, "off")]
    assert (recommend(off_only)["follow"], recommend(off_only)["strength"]) == ("off", 0.6)


@pytest.fixture(scope="module")
def quality_run(tmp_path_factory, conditional_bundle) -> Path:
    from diffband.bridge.cli import main

    root = tmp_path_factory.mktemp("quality")
    for name, seed in (("guitar", 11), ("violin", 12)):
        folder = root / "heldout" / name
        folder.mkdir(parents=True)
        pieces = []
        for k in range(2):
            audio, piece = render_piece(name, 6.0, seed=seed + 10 * k)
            sf.write(folder / f"{name}_{k}.wav", audio, 22050)
            pieces.append(dict(piece, file=f"{name}_{k}.wav"))
        if name == "guitar":  # the source's notes, as `diffband data render` keeps them: the played references
            (folder / "render.json").write_text(json.dumps({"instrument": name, "sample_rate": 22050, "pieces": pieces}))
    models = root / "models"
    models.mkdir()
    shutil.copy(conditional_bundle, models / "violin.onnx")
    shutil.copy(conditional_bundle, models / "guitar.onnx")  # a source's bundle: measured for its generations only
    argv = ["eval", "quality", "--heldout", str(root / "heldout"), "--pairs", "guitar:violin", "--models", str(models),
            "--strengths", "0.8", "--guidances", "0,2", "--steps", "3", "--clips", "2", "--generations", "2",
            "-o", str(root / "results")]  # no --report: the page goes beside the results
    assert main(argv) == 0
    return root


def test_quality_writes_every_cell_with_controls(quality_run):
    rows = read_rows(quality_run / "results" / "quality.csv")
    kinds = {(r["row"], r["follow"], r["strength"], r["guidance"]) for r in rows}
    assert kinds == {("roundtrip", "off", "0", "0"), ("noise", "off", "0", "0"), ("condition", "notes", "0", "0"),
                     ("played", "off", "0", "0"), ("played_roundtrip", "off", "0", "0"),
                     ("layer", "off", "0.8", "0"), ("layer", "notes", "0.8", "0"), ("layer", "notes", "0.8", "2")}
    by = {(r["row"], r["follow"], r["guidance"]): r for r in rows}
    for r in rows:
        assert r["pair"] == "guitar->violin" and r["clips"] == "2"
        assert all(np.isfinite(float(r[k])) for k in ("fad_target", "fad_source", "fad_ratio", "flatness_ratio",
                                                      "fad_played", "fad_played_ratio", "note_f1_written"))
    # the shipped learned timbre embedding scores every row, and hears instruments, not register: a real
    # violin playing the guitar's notes (in the guitar's register) lies nearer the violin renders than the
    # guitar renders, the guitar's own round trip the other way round
    assert all(np.isfinite(float(r[k])) for r in rows for k in ("timbre_fad_target", "timbre_fad_source",
                                                                "timbre_fad_ratio", "timbre_fad_played_ratio"))
    assert float(by[("played", "off", "0")]["timbre_fad_ratio"]) < 1.0 < float(by[("roundtrip", "off", "0")]["timbre_fad_ratio"])
    # ... and after the vocoder too: the control row for the best a layer can score
    assert float(by[("played_roundtrip", "off", "0")]["timbre_fad_ratio"]) < float(by[("roundtrip", "off", "0")]["timbre_fad_ratio"])
    # guidance 0 is the unconditional model: the same layers, so the same measures as follow off
    same = ("pitch_50c", "note_f1", "fad_target", "fad_source", "flatness_ratio")
    assert [by[("layer", "notes", "0")][k] for k in same] == [by[("layer", "off", "0")][k] for k in same]
    # the round trip keeps the source's notes; white noise keeps none and is far flatter
    assert float(by[("roundtrip", "off", "0")]["pitch_50c"]) > 0.6
    assert float(by[("noise", "off", "0")]["pitch_50c"]) < 0.1
    # against the notes the guitar windows play (render.json): the round trip plays some, noise none
    assert float(by[("roundtrip", "off", "0")]["note_f1_written"]) > 0.3
    assert float(by[("noise", "off", "0")]["note_f1_written"]) == 0.0
    assert float(by[("noise", "off", "0")]["flatness_ratio"]) > 5 * float(by[("roundtrip", "off", "0")]["flatness_ratio"])
    generations = read_rows(quality_run / "results" / "generation.csv")
    assert [g["instrument"] for g in generations] == ["violin", "guitar"]  # the target's, then the source's
    assert {g["clips"] for g in generations} == {"2"}
    from diffband.engine.defaults import GENERATE_EPS_SCALE  # generated as `diffband generate` does by default

    assert {float(g["eps_scale"]) for g in generations} == {GENERATE_EPS_SCALE}
    for g in generations:  # the round trip of real renders: near their flatness, nearer them than a few-step model
        assert 0.3 < float(g["roundtrip_flatness_ratio"]) < 3.0
        assert float(g["roundtrip_fad_own"]) < float(g["fad_own"])
        assert float(g["timbre_roundtrip_fad_own"]) < float(g["timbre_fad_own"])
    report = (quality_run / "results" / "results.md").read_text()
    assert "| round trip: flatness / real |" in report
    for name in ("violin", "guitar"):  # a picture of the generations' spread, linked from the page
        assert (quality_run / "results" / f"generations_{name}.png").stat().st_size > 10_000
        assert f"(generations_{name}.png)" in report


def test_the_target_instrument_plays_the_sources_own_notes_at_the_same_place(quality_run):
    from diffband.evaluation.embeddings import read_mono
    from diffband.evaluation.quality import f0, pitch_agreement

    heldout = quality_run / "heldout"
    played = heldout / "played" / "guitar_as_violin"
    made = json.loads((played / "render.json").read_text())
    assert made["instrument"] == "violin" and made["played_from"] == "guitar"
    assert {p["program"] for p in made["pieces"]} == {40}  # violin's GM program, not the guitar's
    for k in range(2):
        guitar, rate = read_mono(heldout / "guitar" / f"guitar_{k}.wav")
        violin, _ = read_mono(played / f"guitar_{k}.wav")
        assert violin.size == guitar.size and 0.8 < np.max(np.abs(violin)) < 1.0
        agree, voiced = pitch_agreement(f0(guitar, rate), f0(violin, rate))
        assert voiced and agree / voiced > 0.6  # the same notes at the same times
        assert np.corrcoef(guitar, violin)[0, 1] < 0.5  # another instrument's waveform
    rows = {r["row"]: r for r in read_rows(quality_run / "results" / "quality.csv")}
    # a real violin playing the guitar's notes keeps them and sits nearer the violin references at that register
    assert float(rows["played"]["pitch_50c"]) > 0.6
    assert float(rows["played"]["fad_played_ratio"]) < 1.0
    assert float(rows["roundtrip"]["fad_played_ratio"]) > 1.0  # the guitar itself: nearer the guitar
    report = (quality_run / "results" / "results.md").read_text()
    assert "control: a real target instrument playing the source's notes" in report
    assert "FAD played / FAD source (<= 0.5)" in report


def test_a_windows_score_is_the_notes_whose_onsets_it_holds_in_the_files_time():
    from diffband.evaluation.played import notes_in_window

    piece = {"offset": 0.25, "notes": [[0.5, 0.4, 60, 100], [1.0, 0.5, 62, 90], [1.5, 2.0, 69, 90], [3.0, 1.0, 64, 80]]}
    intervals, pitches = notes_in_window(piece, start=0.5, seconds=2.0)  # the file's 0.5-2.5 s: notes' 0.75-2.75 s
    assert np.allclose(intervals, [[0.25, 0.75], [0.75, 2.0]])  # the A4 is cut at the window's end
    assert np.allclose(pitches, [293.66, 440.0], atol=0.01)
    assert notes_in_window(piece, start=10.0, seconds=2.0)[1].size == 0


def test_a_real_renders_transcription_matches_the_score_of_its_window(quality_run):
    from diffband.evaluation.quality import ONSET_TOLERANCE, SourceSet

    source = SourceSet.from_folder("guitar", quality_run / "heldout" / "guitar", 2 * 22050, 22050, 2, with_notes=True)
    assert [len(w[1]) > 2 for w in source.written] == [True, True]
    for transcribed, written in zip(source.notes, source.written):
        assert notes.f1(written, transcribed, ONSET_TOLERANCE)["f1"] > 0.6  # the render plays its score, in time
        late = (written[0] + 0.3, written[1])
        assert notes.f1(late, transcribed, ONSET_TOLERANCE)["f1"] < 0.3  # a 300 ms misalignment would show


def test_a_results_csv_from_before_a_new_measure_keeps_its_rows(tmp_path):
    from diffband.evaluation.csv_rows import append_row, done_keys
    from diffband.evaluation.quality import value

    path = tmp_path / "quality.csv"
    append_row(path, ["pair", "fad_ratio"], {"pair": "a->b", "fad_ratio": 1.5})
    append_row(path, ["pair", "fad_ratio", "fad_played_ratio"], {"pair": "c->d", "fad_ratio": 0.5, "fad_played_ratio": 0.25})
    rows = read_rows(path)
    assert [r["pair"] for r in rows] == ["a->b", "c->d"] and done_keys(path, ["pair"]) == {("a->b",), ("c->d",)}
    assert np.isnan(value(rows[0], "fad_played_ratio")) and value(rows[1], "fad_played_ratio") == 0.25
    with pytest.raises(ValueError, match="columns this version does not write"):
        append_row(path, ["pair"], {"pair": "e->f"})


def test_follow_notes_rows_from_before_the_retuning_are_measured_again(tmp_path, quality_run):
    import csv

    from diffband.evaluation.quality import CELL_FIELDS, drop_stale_rows

    made = read_rows(quality_run / "results" / "quality.csv")  # this version records how each row was made
    assert {r["method"] for r in made if r["row"] == "layer" and r["follow"] == "notes" and r["guidance"] == "2"} == {"retuned"}
    assert {r["method"] for r in made if not (r["row"] == "layer" and r["follow"] == "notes" and r["guidance"] == "2")} == {""}
    path = tmp_path / "quality.csv"
    old_fields = [f for f in CELL_FIELDS if f != "method"]
    with path.open("w", newline="") as f:  # a CSV written before the method column
        writer = csv.DictWriter(f, fieldnames=old_fields, restval="0.5")
        writer.writeheader()
        for row, follow, guidance in [("layer", "notes", "2"), ("layer", "notes", "0"), ("layer", "off", "0"),
                                      ("layer", "loose", "2"), ("roundtrip", "off", "0")]:
            writer.writerow({"pair": "a->b", "row": row, "follow": follow, "strength": "0.9", "guidance": guidance, "steps": "10"})
    said: list[str] = []
    drop_stale_rows(path, said.append)
    kept = read_rows(path)
    assert [(r["row"], r["follow"], r["guidance"]) for r in kept] == [("layer", "notes", "0"), ("layer", "off", "0"),
                                                                      ("layer", "loose", "2"), ("roundtrip", "off", "0")]
    assert all(r["method"] == "" and r["fad_ratio"] == "0.5" for r in kept)  # the others keep their values
    assert said == ["quality.csv: 1 rows measured before follow-notes layers were re-tuned are measured again"]
    drop_stale_rows(path, said.append)
    assert len(said) == 1  # nothing stale is left


def test_quality_report_and_recommendation_agree(quality_run):
    rows = read_rows(quality_run / "results" / "quality.csv")
    best = recommend(rows)
    saved = json.loads((quality_run / "results" / "recommendation.json").read_text())
    assert (saved["strength"], saved["guidance"], saved["steps"]) == (best["strength"], best["guidance"], 3)
    report = (quality_run / "results" / "results.md").read_text()
    assert not (REPO / "docs" / "results.md").read_text().count(str(quality_run))  # the published page untouched
    assert f"**strength {best['strength']:g}, guidance {best['guidance']:g}**" in report
    assert "control: white noise" in report and "| guitar->violin |" in report
    assert "condition basic-pitch (filter placement, 3 harmonics at 1/h)" in report  # how the bundle draws the notes
    for png in ("quality_guitar_to_violin.png", "spectrograms_guitar_to_violin.png"):
        assert (quality_run / "results" / png).stat().st_size > 10_000
        assert f"({png})" in report


def test_an_octave_run_grows_layers_from_moved_sources_and_measures_them_against_the_moved_notes(quality_run, capsys):
    from diffband.bridge.cli import main

    out = quality_run / "octave_up"
    argv = ["eval", "quality", "--heldout", str(quality_run / "heldout"), "--pairs", "guitar:violin", "--models",
            str(quality_run / "models"), "--strengths", "0.8", "--guidances", "2", "--steps", "3", "--clips", "2",
            "--generations", "0", "--octave", "1", "-o", str(out)]
    assert main(argv) == 0
    by = {r["row"]: r for r in read_rows(out / "quality.csv")}
    moved = float(by["roundtrip"]["pitch_50c"]), float(by["roundtrip"]["pitch_octave"])
    assert moved[0] > 0.8 and moved[1] > 0.8  # measured against the source as moved: the round trip keeps it
    assert float(by["played"]["pitch_50c"]) > 0.6  # the real player plays the moved notes too
    page = (out / "results.md").read_text()
    assert "Every source window is moved +1 octave before layers are grown from it" in page
    assert "Best cell of this run (sources moved: not the CLI's defaults)" in page
    assert not (out / "recommendation.json").exists()
    # never into the page that sets the defaults
    assert main(argv[:-1] + ["docs/results"]) != 0
    assert "a run with --octave 1 is not the defaults' evidence" in capsys.readouterr().err


def test_a_register_run_moves_each_source_window_into_the_targets_range(quality_run):
    from diffband.bridge.cli import main
    from diffband.engine.model import DiffusionModel
    from diffband.engine.register import layer_octaves
    from diffband.engine.transpose import shift_octaves
    from diffband.evaluation.plan import QualityPlan
    from diffband.evaluation.quality import SourceSet, piece_windows, shift_each, window_octaves

    out, models = quality_run / "register", quality_run / "register_models"
    shutil.copytree(quality_run / "models", models)  # the shared fixture's bundles stay as they are
    assert main(["export", "--from-bundle", str(models / "violin.onnx"), "--pitch-range", "55:93",
                 "--out", str(models / "violin.onnx")]) == 0  # the fixture's violin is a guitar-trained copy
    violin = DiffusionModel.load(models / "violin.onnx")
    windows = piece_windows(quality_run / "heldout" / "guitar", violin.info.codec.window_samples, 22050, 2)
    octaves = [layer_octaves([violin], w, 22050, "instrument")[0] for w in windows]
    assert 1 in octaves  # a guitar line below the middle of the violin's range goes up (one here sits high enough)
    plan = QualityPlan([("guitar", "violin")], register="instrument")
    expected = np.stack([shift_octaves(w, 22050, k) for w, k in zip(windows, octaves)])
    assert np.array_equal(shift_each(windows, 22050, window_octaves(windows, 22050, plan, violin)), expected)
    source = SourceSet.from_folder("guitar", quality_run / "heldout" / "guitar", violin.info.codec.window_samples, 22050, 2,
                                   with_notes=True)
    up = source.moved(octaves)  # the notes each layer is asked for: the source's, moved the same octaves
    assert np.array_equal(up.audio, expected)
    for k, before, after in zip(octaves, source.written, up.written):
        assert np.allclose(after[1], before[1] * 2**k) and np.array_equal(after[0], before[0])
    assert np.allclose(up.f0[1], source.f0[1] * 2, equal_nan=True)
    assert main(["eval", "quality", "--heldout", str(quality_run / "heldout"), "--pairs", "guitar:violin", "--models",
                 str(models), "--strengths", "0.8", "--guidances", "2", "--steps", "3", "--clips", "2",
                 "--generations", "0", "--register", "instrument", "-o", str(out)]) == 0
    by = {r["row"]: r for r in read_rows(out / "quality.csv")}
    # measured against the source as moved: its round trip and the real player moved the same way keep it
    assert float(by["roundtrip"]["pitch_50c"]) > 0.8 and float(by["played"]["pitch_50c"]) > 0.6
    page = (out / "results.md").read_text()
    assert "moved by whole octaves into the target's range (register instrument)" in page
    assert "--register instrument" in page and not (out / "recommendation.json").exists()
    # the real-player control plays each piece in the register its window was moved to
    from diffband.evaluation.played import played_folder
    from diffband.evaluation.quality import piece_octaves

    by_file = piece_octaves(quality_run / "heldout" / "guitar", violin, plan)
    assert list(by_file.values()) == octaves
    played = played_folder(quality_run / "heldout" / "guitar", "violin", quality_run / "heldout" / "played", by_file)
    assert played.name.startswith("guitar_as_violin_moved_")  # apart from the unmoved (and the --octave run's) renders
    pieces = json.loads((played / "render.json").read_text())["pieces"]
    assert [p.get("moved_octaves", 0) for p in pieces] == octaves
    source_pieces = json.loads((quality_run / "heldout" / "guitar" / "render.json").read_text())["pieces"]
    assert [n[2] for n in pieces[1]["notes"]] == [n[2] + 12 for n in source_pieces[1]["notes"]]


def test_quality_refuses_a_pair_without_held_out_renders(tmp_path, capsys):
    from diffband.bridge.cli import main

    (tmp_path / "guitar").mkdir()
    assert main(["eval", "quality", "--heldout", str(tmp_path), "--pairs", "guitar:violin"]) != 0
    assert "no held-out renders for violin" in capsys.readouterr().err
    assert main(["eval", "quality", "--heldout", str(tmp_path), "--pairs", "guitar-violin"]) != 0
    assert "a pair is SOURCE:TARGET" in capsys.readouterr().err


def test_the_page_shows_the_previous_models_beside_the_new_ones(quality_run):
    from diffband.evaluation.quality_report import render

    rows = read_rows(quality_run / "results" / "quality.csv")
    previous = [dict(r, pitch_50c="0.0123") for r in rows if r["follow"] == "off"]
    page = render(rows, [], {}, {}, previous, [{"instrument": "violin", "flatness_ratio": "14.0", "steps": "20"}],
                  "the CPU-trained ones, 1601 steps")
    assert "### The previous models, measured the same way" in page
    assert "bundles these replaced (the CPU-trained ones, 1601 steps;" in page  # docs/results/previous_models.txt
    assert "| follow off, strength 0.8 | 0.01 |" in page
    assert "violin flatness 14.0x real (20 steps, epsilon scaling 1)" in page
    assert "previous models" not in render(rows, [], {}, {})


def test_the_page_shows_the_plain_sampler_beside_the_default_generations(quality_run):
    from diffband.evaluation.quality_report import render

    rows = read_rows(quality_run / "results" / "quality.csv")
    [scaled] = [g for g in read_rows(quality_run / "results" / "generation.csv") if g["instrument"] == "violin"]
    plain = dict(scaled, eps_scale="", flatness_ratio="9.5", fad_own="4321")  # a row written before the column
    page = render(rows, [scaled], {}, {}, plain_generations=[plain])
    assert f"epsilon scaling {float(scaled['eps_scale']):g}" in page
    assert "plain sampler (epsilon scaling 1): violin flatness 9.5x real, FAD to own 4321" in page
    assert "plain sampler" not in render(rows, [scaled], {}, {})


def test_the_page_compares_the_default_cell_across_sampler_steps(quality_run):
    from diffband.evaluation.quality import recommend
    from diffband.evaluation.quality_report import render

    rows = read_rows(quality_run / "results" / "quality.csv")
    best = recommend(rows)
    fewer = [dict(r, steps="7", pitch_50c="0.4321") for r in rows]  # the fixture ran 3 steps
    page = render(rows, [], {}, {}, other_steps=fewer)
    assert "## Sampler steps" in page and "| 7 DDIM steps | 0.43 |" in page
    default_pitch = [r for r in page.split("\n") if r.startswith(f"| {rows[0]['steps']} DDIM steps |")]
    assert len(default_pitch) == 1 and best["follow"] in ("notes", "off")
    assert "## Sampler steps" not in render(rows, [], {}, {})  # one step count: no table
    partial = [r for r in fewer if r["pair"] == rows[0]["pair"]]
    if len({r["pair"] for r in rows}) > 1:  # a step count missing a pair is left out
        assert "## Sampler steps" not in render(rows, [], {}, {}, other_steps=partial)


def test_a_scratch_quality_run_never_rewrites_the_published_page(tmp_path, monkeypatch):
    """Without --report, a run into its own folder writes its page there; only a run into
    docs/results rewrites docs/results.md (a scratch run at other steps had overwritten it)."""
    from diffband.bridge.cli_eval import quality_report_path

    monkeypatch.chdir(tmp_path)
    assert quality_report_path(Path("docs/results")) == Path("docs/results.md")
    assert quality_report_path(tmp_path / "docs" / "results") == Path("docs/results.md")
    assert quality_report_path(Path("data/eval_steps/s5")) == Path("data/eval_steps/s5/results.md")


def test_a_fit_run_grows_low_windows_up_and_scores_them_against_the_source_as_played(quality_run):
    from diffband.bridge.cli import main
    from diffband.engine.model import DiffusionModel
    from diffband.engine.register import layer_octaves
    from diffband.evaluation.plan import QualityPlan
    from diffband.evaluation.quality import piece_windows, shift_each, window_octaves, window_placements

    models = quality_run / "fit_models"
    shutil.copytree(quality_run / "models", models)
    assert main(["export", "--from-bundle", str(models / "violin.onnx"), "--pitch-range", "55:93",
                 "--out", str(models / "violin.onnx")]) == 0
    violin = DiffusionModel.load(models / "violin.onnx")
    windows = piece_windows(quality_run / "heldout" / "guitar", violin.info.codec.window_samples, 22050, 2)
    octaves = [layer_octaves([violin], w, 22050, "instrument")[0] for w in windows]
    plan = QualityPlan([("guitar", "violin")])  # the CLI's register: fit
    assert plan.register == "fit" and plan.is_defaults_evidence and not plan.moves_sources
    assert [grown - sounding for grown, sounding in window_placements(windows, 22050, plan, violin)] == [
        max(0, k) for k in octaves] and 1 in octaves
    assert np.array_equal(shift_each(windows, 22050, window_octaves(windows, 22050, plan, violin)), windows)  # scored against the source as played
    up_one = QualityPlan([("guitar", "violin")], octave=1)  # fit with the octave option: each layer sounds one up
    assert window_octaves(windows, 22050, up_one, violin) == [1, 1] == [
        sounding for _, sounding in window_placements(windows, 22050, up_one, violin)]
    common = ["eval", "quality", "--heldout", str(quality_run / "heldout"), "--pairs", "guitar:violin", "--models",
              str(models), "--strengths", "0.8", "--guidances", "2", "--steps", "3", "--clips", "2", "--generations", "0"]
    fit_out, input_out = quality_run / "fit", quality_run / "fit_input"
    assert main(common + ["-o", str(fit_out)]) == 0
    by = {r["row"]: r for r in read_rows(fit_out / "quality.csv")}
    assert float(by["roundtrip"]["pitch_50c"]) > 0.8  # the control is the source as played, not moved
    assert "Layers are grown with register `fit`" in (fit_out / "results.md").read_text()
    assert (fit_out / "recommendation.json").exists()
    assert main(common + ["--register", "input", "-o", str(input_out)]) == 0
    assert "Best cell of this run (register input: not the CLI's defaults)" in (input_out / "results.md").read_text()
    assert not (input_out / "recommendation.json").exists()
    with_input = {(r["row"], r["follow"]): r for r in read_rows(input_out / "quality.csv")}
    fitted = {(r["row"], r["follow"]): r for r in read_rows(fit_out / "quality.csv")}
    assert with_input[("roundtrip", "off")]["pitch_50c"] == fitted[("roundtrip", "off")]["pitch_50c"]
    assert with_input[("layer", "notes")]["fad_target"] != fitted[("layer", "notes")]["fad_target"]  # grown elsewhere
