"""docs/results.md from ``eval quality``'s CSVs: target table, control rows, the full
sweep per pair, heatmaps and generation flatness (issue 13, item 6)."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import numpy as np

from diffband.engine.condition import ConditionSpec
from diffband.engine.defaults import DEFAULT_REGISTER
from diffband.engine.digest import file_sha256
from diffband.engine.model import DiffusionModel
from diffband.evaluation.csv_rows import read_rows
from diffband.evaluation.plots import save_heatmaps, save_pitch_tracks, save_spectrograms
from diffband.evaluation.quality import (
    GENERATE_STEPS, HOP, ONSET_TOLERANCE, RATE, TARGET_F1, TARGET_FAD_RATIO, TARGET_FLATNESS, TARGET_PITCH, Cell, QualityPlan, Reference,
    as_measure, at_generate_default, f0, generation_eps_scale, growth_of, layers_of, mean_by_cell, piece_windows,
    recommend, scale, shift_each, value, window_placements, write_json,
)
from diffband.evaluation.fad import fad
from diffband.evaluation.timbre_cnn import TimbreCnn

MEASURES = [("pitch_50c", "pitch within 50 c", "{:.2f}"), ("pitch_octave", "same, any octave", "{:.2f}"),
            ("note_f1", "note F1", "{:.2f}"), ("note_f1_written", "note F1 vs score", "{:.2f}"),
            ("fad_ratio", "FAD target / FAD source", "{:.2f}"), ("fad_target", "FAD to target", "{:.0f}"),
            ("fad_source", "FAD to source", "{:.0f}"), ("flatness_ratio", "flatness / real", "{:.1f}"),
            ("fad_played_ratio", "FAD played / FAD source", "{:.2f}"),
            ("timbre_fad_ratio", "timbre-cnn: FAD target / FAD source", "{:.2f}")]
#: What the played columns mean, said once under the targets.
PLAYED_NOTE = (
    "*FAD played / FAD source*: the same ratio with the target instrument's references rendered from the "
    "*source's* held-out pieces (their notes through the target's GM program and the same soundfont, moved "
    "as the source was in a run that moves its sources), so both references sit in the register the layer "
    "was grown in and only timbre tells them apart. The plain ratio compares "
    "a layer with the target's own pieces, in the target's own range: a real player of the target instrument "
    "playing the source's notes (the `played` control) fails it too. *Note F1 vs score*: the layer's "
    "transcription against the notes the source window plays (its `render.json`), where *note F1* compares it "
    "with basic-pitch's transcription of the source, which misses notes of its own (a choir voice's most). "
    "*timbre-cnn*: the plain ratio on the learned timbre embedding (see Setup), which was trained on "
    "renders of every instrument across one pitch range, so register does not tell instruments apart in it.")


#: One line, written by hand beside ``quality_previous.csv``, on what the previous models were.
PREVIOUS_MODELS_FILE = "previous_models.txt"


def largest_per_instrument(generations: list[dict]) -> list[dict]:
    """Each instrument's generation row with the most clips (an earlier, smaller measurement stays in
    the CSV), in first-seen order."""
    best: dict[str, dict] = {}
    for g in generations:
        if g["instrument"] not in best or int(g["clips"]) > int(best[g["instrument"]]["clips"]):
            best[g["instrument"]] = g
    return list(best.values())


def _fmt(text: str | None, pattern: str) -> str:
    v = as_measure(text)
    return "n/a" if np.isnan(v) else pattern.format(v)


def _table(rows: list[dict], label: str) -> list[str]:
    head = f"| {label} | " + " | ".join(title for _, title, _ in MEASURES) + " |"
    lines = [head, "|---" * (len(MEASURES) + 1) + "|"]
    for r in rows:
        lines.append(f"| {r['_label']} | " + " | ".join(_fmt(r.get(k), p) for k, _, p in MEASURES) + " |")
    return lines


def _label(r: dict) -> str:
    if r["row"] != "layer":
        return {"roundtrip": "control: vocoder round trip", "noise": "control: white noise",
                "condition": "control: condition image through the vocoder",
                "played": "control: a real target instrument playing the source's notes",
                "played_roundtrip": "control: the same real player through the vocoder"}[r["row"]]
    if r["follow"] == "off":
        return f"follow off, strength {float(r['strength']):g}"
    return f"follow {r['follow']}, strength {float(r['strength']):g}, guidance {float(r['guidance']):g}"


def _check(ok: bool) -> str:
    return "met" if ok else "**not met**"


def save_quality_heatmaps(rows: list[dict], pair: str, path: Path) -> Path:
    """Follow-on grid (strength x guidance) of pitch, note F1 and FAD ratio for one pair."""
    mine = [r for r in rows if r["pair"] == pair and r["row"] == "layer" and r["follow"] == "notes"]
    strengths = sorted({float(r["strength"]) for r in mine})
    guidances = sorted({float(r["guidance"]) for r in mine})
    panels = []
    shown = [("pitch_50c", "pitch within 50 cents (higher is better)"), ("note_f1", "note F1 (higher is better)"),
             ("fad_ratio", "FAD target / FAD source (lower: more target)")]
    if any(np.isfinite(value(r, "fad_played_ratio")) for r in mine):
        shown.append(("fad_played_ratio", "FAD played / FAD source (lower: more target)"))
    for measure, title in shown:
        table = np.full((len(strengths), len(guidances)), np.nan)
        for r in mine:
            table[strengths.index(float(r["strength"])), guidances.index(float(r["guidance"]))] = value(r, measure)
        panels.append((table, title))
    return save_heatmaps(panels, path, f"{pair}, follow notes", ("guidance", [f"{g:g}" for g in guidances]),
                         ("strength", [f"{s:g}" for s in strengths]))


def _mean_rows(rows: list[dict], row_kind: str = "layer") -> list[dict]:
    """One table row per cell, its measures averaged over the pairs."""
    return [{"_label": (f"follow {k[0]}, strength {k[1]:g}" + (f", guidance {k[2]:g}" if k[0] != "off" else "")),
             **{m: str(v.get(m, float("nan"))) for m, _, _ in MEASURES}}
            for k, v in sorted(mean_by_cell(rows, row_kind).items())]


def _steps_section(rows: list[dict], other_steps: list[dict], best: dict) -> list[str]:
    """The default cell (mean over pairs) at each sampler step count measured on every pair."""
    pairs = {r["pair"] for r in rows}
    cell = lambda r: (r["row"], r["follow"], float(r["strength"]), float(r["guidance"])) == (  # noqa: E731
        "layer", best["follow"], best["strength"], best["guidance"])
    by_steps: dict[int, list[dict]] = {}
    for r in [*rows, *other_steps]:
        if cell(r):
            by_steps.setdefault(int(r["steps"]), []).append(r)
    complete = {n: g for n, g in sorted(by_steps.items()) if {r["pair"] for r in g} == pairs}
    if len(complete) < 2:
        return []
    table = [dict(_mean_rows(g)[0], _label=f"{n} DDIM steps") for n, g in complete.items()]
    return ["", "## Sampler steps", "",
            "The default cell at each step count measured on every pair (rows at other step counts stay in "
            "`quality.csv`; the page's other tables are at this run's step count). The engine's cost grows "
            "with the steps it runs (strength x steps).", ""] + _table(table, "steps")


def render(rows: list[dict], generations: list[dict], context: dict, figures: dict[str, dict[str, str]],
           previous: list[dict] | None = None, previous_generations: list[dict] | None = None,
           previous_models: str = "", other_steps: list[dict] | None = None,
           plain_generations: list[dict] | None = None) -> str:
    """The whole markdown page.  ``context``: models, data and command lines; ``figures``:
    per pair, relative paths of its heatmap and spectrogram PNGs; ``previous``: the same
    command's rows on the models these replaced, shown beside them, and ``previous_models``:
    one line on what those were; ``other_steps``: rows of the same cells measured at other
    sampler step counts (the steps table); ``plain_generations``: generation rows of the same models
    without epsilon scaling, when the default scales."""
    best = recommend(rows)
    follow, strength, guidance = best["follow"], best["strength"], best["guidance"]
    pairs = list(dict.fromkeys(r["pair"] for r in rows))
    out = ["# Results: melody-following layers, measured", "",
           "Written by `diffband eval quality` (do not edit by hand; rerun it). "
           + context.get("summary", ""), "",
           "## Setup", ""]
    out += [f"- {line}" for line in context.get("setup", [])]
    out += ["", "## Targets at the CLI defaults", "",
            context.get("chosen", "Defaults chosen by this run")
            + f": **strength {strength:g}, guidance {guidance:g}** with follow {follow} "
            f"(`engine/defaults.py`; the cell whose mean pitch and note F1 meet {TARGET_PITCH:g} / {TARGET_F1:g} "
            "with the lowest FAD ratio, or, when none meets them, the lowest FAD ratio among the cells within "
            "0.05 of the best pitch). The FAD ratio alone can be fooled (white noise, far from both "
            "instruments, scores low): read it beside each pair's control rows and FAD scale line. Follow notes "
            "re-tunes each layer's passages that stray 40 cents or more from the source's notes (`engine/tuning.py`); "
            "follow loose is the same cell without that step: the model's own intonation.", "",
            "| pair | pitch within 50 c (>= 0.8) | note F1 (>= 0.7) | note F1 vs score (>= 0.7) | "
            "FAD target / FAD source (<= 0.5) | FAD played / FAD source (<= 0.5) | timbre-cnn: FAD target / FAD "
            "source (<= 0.5) | same cell, follow off: pitch | FAD ratio | timbre-cnn | same cell, follow loose: pitch "
            "| note F1 |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for pair in pairs:
        on = next((r for r in rows if r["pair"] == pair and r["row"] == "layer" and r["follow"] == follow
                   and float(r["strength"]) == strength and float(r["guidance"]) == guidance), None)
        off = next((r for r in rows if r["pair"] == pair and r["row"] == "layer" and r["follow"] == "off"
                    and float(r["strength"]) == strength), None)
        if on is None:
            continue
        checked = lambda measure, ok: (  # noqa: E731
            f"{value(on, measure):.2f} ({_check(ok(value(on, measure)))})" if np.isfinite(value(on, measure)) else "n/a")
        cells = [checked("pitch_50c", lambda v: v >= TARGET_PITCH), checked("note_f1", lambda v: v >= TARGET_F1),
                 checked("note_f1_written", lambda v: v >= TARGET_F1),
                 checked("fad_ratio", lambda v: v <= TARGET_FAD_RATIO),
                 checked("fad_played_ratio", lambda v: v <= TARGET_FAD_RATIO),
                 checked("timbre_fad_ratio", lambda v: v <= TARGET_FAD_RATIO)]
        cells += ([_fmt(off[k], "{:.2f}") for k in ("pitch_50c", "fad_ratio")] + [_fmt(off.get("timbre_fad_ratio"), "{:.2f}")]
                  if off else ["", "", ""])
        loose = next((r for r in rows if r["pair"] == pair and r["row"] == "layer" and r["follow"] == "loose"
                      and float(r["strength"]) == strength and float(r["guidance"]) == guidance), None)
        cells += [_fmt(loose[k], "{:.2f}") for k in ("pitch_50c", "note_f1")] if loose else ["", ""]
        out.append(f"| {pair} | " + " | ".join(cells) + " |")
    players = [r for r in rows if r["row"] in ("played", "played_roundtrip")]
    if players:
        out += ["", PLAYED_NOTE, "", "What a real player of the target instrument scores on the same windows "
                "(the `played` control: the source's notes through the target's GM program), and the same player sent "
                "through the bundle's codec and vocoder (the best a layer, which that vocoder renders, can score):", "",
                "| pair | pitch within 50 c | note F1 | note F1 vs score | FAD target / FAD source | FAD played / FAD source "
                "| timbre-cnn: FAD target / FAD source |", "|---|---|---|---|---|---|---|"]
        for r in players:
            out.append(f"| {r['pair']}{' (through the vocoder)' if r['row'] == 'played_roundtrip' else ''} | " + " | ".join(_fmt(r.get(k), "{:.2f}") for k in (
                "pitch_50c", "note_f1", "note_f1_written", "fad_ratio", "fad_played_ratio", "timbre_fad_ratio")) + " |")
    if generations:
        out += ["", "### Unconditional generation (target: flatness within "
                f"{TARGET_FLATNESS:g}x that of real renders)", "",
                f"At `diffband generate`'s default {generations[0]['steps']} DDIM steps and epsilon scaling "
                f"{generation_eps_scale(generations[0]):g} (the model's noise estimate divided by it at every step; "
                "`docs/decisions.md`), seed 0. *Round trip*: the "
                "baseline no model can beat, held-out windows of the instrument (one per piece, as many as there "
                "are generations or pieces) encoded and decoded by the bundle's own codec and vocoder.", "",
                "| model | clips | flatness / real | FAD to own held-out renders | FAD to nearest other instrument "
                "| round trip: flatness / real | round trip: FAD to own | timbre-cnn: FAD to own | round trip: timbre-cnn "
                "FAD to own |", "|---|---|---|---|---|---|---|---|---|"]
        for g in generations:
            ok = _check(float(g["flatness_ratio"]) <= TARGET_FLATNESS)
            out.append(f"| {g['instrument']} | {g['clips']} | {float(g['flatness_ratio']):.1f} ({ok}) | "
                       f"{float(g['fad_own']):.0f} | {_fmt(g['fad_nearest_other'], '{:.0f}')} | "
                       f"{_fmt(g.get('roundtrip_flatness_ratio'), '{:.1f}')} | {_fmt(g.get('roundtrip_fad_own'), '{:.0f}')} | "
                       f"{_fmt(g.get('timbre_fad_own'), '{:.0f}')} | {_fmt(g.get('timbre_roundtrip_fad_own'), '{:.0f}')} |")
        if plain_generations:
            out += ["", "The same clips from the plain sampler (epsilon scaling 1): " + "; ".join(
                f"{g['instrument']} flatness {float(g['flatness_ratio']):.1f}x real, FAD to own {float(g['fad_own']):.0f}, "
                f"timbre-cnn {_fmt(g.get('timbre_fad_own'), '{:.0f}')}" for g in plain_generations) + "."]
        for g in generations:
            if g.get("_figure"):
                out += ["", f"![{g['instrument']}: a real window and generations of low, median and high flatness]"
                            f"({g['_figure']})"]
    out += ["", "## Mean over pairs", ""] + _table(_mean_rows(rows), "cell")
    if players:
        out += [""] + _table([dict(r, _label="control: a real target instrument playing the source's notes")
                              for r in _mean_rows(rows, "played")]
                             + [dict(r, _label="control: the same real player through the vocoder")
                                for r in _mean_rows(rows, "played_roundtrip")], "control, mean over pairs")
    out += _steps_section(rows, other_steps or [], best)
    if previous:
        out += ["", "### The previous models, measured the same way", "",
                f"The same command on the bundles these replaced ({previous_models or 'see git history'}; "
                f"`docs/results/quality_previous.csv`), mean over the same pairs, at {previous[0]['steps']} DDIM steps:", ""]
        out += _table(_mean_rows([r for r in previous if r["row"] == "layer"]), "cell")
        out += ["", "Their unconditional generations: " + ", ".join(
            f"{g['instrument']} flatness {float(g['flatness_ratio']):.1f}x real ({g['steps']} steps, epsilon scaling "
            f"{generation_eps_scale(g):g})" for g in previous_generations or [])
            + "."] if previous_generations else []
    for pair in pairs:
        mine = [dict(r, _label=_label(r)) for r in rows if r["pair"] == pair]
        out += ["", f"## {pair}", ""]
        fig = figures.get(pair, {})
        if "scale" in fig:
            out += [fig["scale"], ""]
        if "spectrograms" in fig:
            out += [f"![{pair}: source, layer at the defaults, a real target window]({fig['spectrograms']})", ""]
        if "pitch" in fig:
            out += [f"![{pair}: pitch of the source and of the layer before and after re-tuning]({fig['pitch']})", ""]
        if "heatmap" in fig:
            out += [f"![{pair} heatmaps]({fig['heatmap']})", ""]
        out += _table([r for r in mine if r["row"] != "layer"], "control (must score far from the target)")
        out += [""] + _table([r for r in mine if r["row"] == "layer"], "cell")
    out += ["", "## Reproduce", "", "```bash"] + context.get("commands", []) + ["```", ""]
    return "\n".join(out)


def _timbre_setup(timbre: TimbreCnn) -> str:
    """The setup line on the learned timbre embedding: what it was trained on and how well it tells instruments apart."""
    made = timbre.summary
    accuracy = made.get("history", [{}])[-1].get("val_accuracy", float("nan"))
    return (f"timbre-cnn: FAD on the {made.get('embedding_dims', '?')}-dimensional penultimate layer of a CNN trained "
            f"(`diffband eval train-timbre`, `{timbre.path.name}`) to tell {len(timbre.classes)} instruments apart "
            f"({', '.join(timbre.classes)}) from ~1 s log-mel windows, each scaled to its own peak, of training-soundfont "
            f"renders that all span MIDI 40-93"
            + (", each also sent through a bundle's codec and vocoder" if any(str(d).endswith("_vocoded") for d in made.get("data", [])) else "")
            + f", so neither register nor level separates the classes; validation accuracy "
            f"{accuracy:.2f} on training-soundfont pieces it did not train on"
            + (f", {made['heldout_accuracy']:.2f} on held-out pieces through the evaluation soundfont"
               if "heldout_accuracy" in made else ""))


def _render_settings(folder: Path) -> str:
    """``--minutes M --seed S `` of the render that made ``folder`` (its render.json), or nothing."""
    try:
        made = json.loads((folder / "render.json").read_text())
        return f"--minutes {made['seconds'] / 60:.0f} --seed {made['seed']} "
    except (OSError, ValueError, KeyError):
        return ""


def _drawing(spec: ConditionSpec) -> str:
    """How a bundle's condition draws the notes, for the setup line."""
    harmonics = "f0 only" if spec.harmonics == 1 else (
        f"{spec.harmonics} harmonics at 1/h" + ("" if spec.harmonic_decay == 1 else f"^{spec.harmonic_decay:g}"))
    return f"{spec.kind} ({spec.placement} placement, {harmonics})"


def write_report(plan: QualityPlan, models: dict[str, DiffusionModel], references: dict[str, Reference], heldout: Path,
                 out: Path, report: Path, pairs_text: str, played: dict[str, Reference] | None = None,
                 timbre: TimbreCnn | None = None) -> dict:
    """Heatmaps, spectrogram PNGs (source, layer at the recommended cell, a real target window),
    ``recommendation.json`` and the markdown page from the CSVs in ``out``; returns the recommendation.
    ``played``: per pair (``source->target``), the target instrument playing the source's pieces."""
    cells_csv = out / "quality.csv"
    names = sorted({n for pair in plan.pairs for n in pair})
    measured = read_rows(cells_csv)
    rows = [r for r in measured if int(r["steps"]) == plan.steps]
    best = recommend(rows)
    figures: dict[str, dict[str, str]] = {}
    for source_name, target_name in plan.pairs:
        pair = f"{source_name}->{target_name}"
        tag = f"{source_name}_to_{target_name}"
        target = models[target_name]
        codec = target.info.codec
        played_as = piece_windows(heldout / source_name, codec.window_samples, codec.sample_rate, 1)
        placements = window_placements(played_as, codec.sample_rate, plan, target)
        source = shift_each(played_as, codec.sample_rate, [sounding for _, sounding in placements])
        real = piece_windows(heldout / target_name, codec.window_samples, codec.sample_rate, 1)
        images = np.stack([codec.encode(a) for a in source])
        growth = growth_of(played_as, codec.sample_rate, target, placements)
        cell = Cell("layer", best["follow"] if growth.conditions is not None else "off", best["strength"], best["guidance"])
        layer = layers_of(cell, target, source, images, plan.steps, plan.seed, growth)
        relative = lambda file: os.path.relpath(out / file, report.parent)  # noqa: E731
        scales = scale(references, (source_name, target_name))
        figure = {"scale": f"FAD scale: real {target_name} vs real {target_name} (half of the held-out pieces "
                           f"against the other half) {scales['same_instrument']:.0f}; real {target_name} vs "
                           f"real {source_name} {scales['between_instruments']:.0f}."
                           + (f" Real {target_name} playing the {source_name} pieces vs real {source_name} "
                              f"{fad(played[pair].embeddings, references[source_name].embeddings):.0f}, vs real "
                              f"{target_name} playing its own pieces "
                              f"{fad(played[pair].embeddings, references[target_name].embeddings):.0f}."
                              if played and pair in played else ""),
                  "spectrograms": relative(f"spectrograms_{tag}.png")}
        if any(r["pair"] == pair and r["follow"] == "notes" and r["row"] == "layer" for r in rows):
            figure["heatmap"] = relative(save_quality_heatmaps(rows, pair, out / f"quality_{tag}.png").name)
        figures[pair] = figure
        if cell.follow == "notes":  # where the re-tuning acted: the same window, the model alone beside it
            loose = layers_of(Cell("layer", "loose", cell.strength, cell.guidance), target, source, images, plan.steps,
                              plan.seed, growth)
            save_pitch_tracks([("source, as the layer should sound", f0(source[0], codec.sample_rate)),
                               ("layer, follow loose (the model alone)", f0(loose[0], codec.sample_rate)),
                               ("layer, follow notes (re-tuned)", f0(layer[0], codec.sample_rate))],
                              HOP / RATE, out / f"pitch_{tag}.png", f"{pair}: pyin pitch of one held-out window")
            figure["pitch"] = relative(f"pitch_{tag}.png")
        save_spectrograms([images[0], codec.encode(layer[0]), codec.encode(real[0])],
                          [f"source: held-out {source_name}" + (f", {plan.moved_text}" if plan.moves_sources else ""), f"layer: {target_name} model, follow {cell.follow}, "
                           f"strength {best['strength']:g}, guidance {best['guidance']:g}",
                           f"real {target_name} (held-out piece, evaluation soundfont)"],
                          out / f"spectrograms_{tag}.png", codec.window_seconds, pair)
    if not plan.is_defaults_evidence:  # no recommendation file beside it
        (out / "recommendation.json").unlink(missing_ok=True)
    else:
        write_json(out / "recommendation.json", {
            "follow": best["follow"], "strength": best["strength"], "guidance": best["guidance"], "steps": plan.steps,
            "models": {name: file_sha256(model.info.path) for name, model in models.items()},
        })
    provenance = []
    for name, model in models.items():
        t = model.info.training
        data = t.get("dataset", {})
        earlier, prior, word = "", t.get("init_training"), "continued"
        while prior:  # every earlier leg, newest first
            earlier += (f", {word} from a run of {prior.get('steps', '?')} steps at batch {prior.get('batch_size', '?')} on "
                        f"{prior.get('device', '?')}")
            prior, word = prior.get("init_training"), "itself continued"
        spec = model.info.condition
        provenance.append(f"`{name}`: {t.get('config', '?')} UNet, {t.get('steps', '?')} steps at batch "
                          f"{t.get('batch_size', '?')} on {data.get('seconds', 0) / 60:.0f} min of renders, trained on "
                          f"{t.get('device', '?')}{earlier}, condition "
                          f"{_drawing(spec) if spec else 'none'}, {model.info.precision} bundle, vocoder "
                          f"{model.info.vocoder.name}")
    context = {
        **({"chosen": "Best cell of this run (" + ("sources moved" if plan.moves_sources else f"register {plan.register}")
                      + ": not the CLI's defaults)"} if not plan.is_defaults_evidence else {}),
        "summary": f"{len(plan.pairs)} pairs, {plan.clips} source windows each, {plan.steps} DDIM steps, seed {plan.seed}."
                   + (f" Every source window is {plan.moved_text} before layers are grown from it (the `octave` "
                      "and `register` options; the round-trip control is the moved source), and pitch and notes are "
                      "measured against the source as moved: the notes each layer was asked to play, in the register "
                      "it was grown in (*same, any octave* compares with the source as played too). The real-player control plays each "
                      "piece moved by the octaves of its window, so *FAD played / FAD source* compares the layers "
                      "with a real player in the same register." if plan.moves_sources else "")
                   + (" Layers are grown with register `fit`: a source window whose pitch lies below the middle of "
                      "the target's range is moved up by whole octaves (no further than the first octave inside the range), "
                      "the layer grown there and brought back down "
                      "on its mel image (`engine.image_transpose`), so it plays the source's notes where the source "
                      "plays them. The round-trip and real-player controls use the source as played; the condition control "
                      "is grown and brought down as the layers are." if plan.register == "fit" else ""),
        "setup": [f"models: {'; '.join(provenance)}",
                  f"held-out data: `{heldout}` (pieces training never used, rendered through a soundfont training "
                  "never used); sources: one window a third of the way into each of the first pieces; "
                  "timbre references: all held-out renders of each instrument, and the source's held-out pieces "
                  "played by the target instrument (`played` references)",
                  f"pitch: pyin (C2-C7, hop 256 at 22.05 kHz); note F1: basic-pitch + mir_eval ({ONSET_TOLERANCE * 1000:.0f} ms onsets, "
                  "50 cents); timbre: FAD on the 20-dimensional mfcc-stats embedding; flatness: mean spectral "
                  "flatness of audible frames over that of the real target renders",
                  *([_timbre_setup(timbre)] if timbre is not None else []),
                  f"machine: {platform.machine()} CPU, {os.cpu_count()} cores"],
        "commands": [f"diffband data render --instruments {','.join(names)} --split heldout --soundfonts evaluation "
                     f"{_render_settings(heldout / names[0])}--out {heldout}",
                     f"diffband eval quality --heldout {heldout} --pairs {pairs_text} --clips {plan.clips} "
                     f"--steps {plan.steps}" + (f" --octave {plan.octave}" if plan.octave else "")
                     + (f" --register {plan.register}" if plan.register != DEFAULT_REGISTER else "")
                     + f" -o {out} --report {report}"],
    }
    optional = lambda name: read_rows(out / name) if (out / name).exists() else []  # noqa: E731
    others = [r for r in measured if int(r["steps"]) != plan.steps]
    described = out / PREVIOUS_MODELS_FILE
    at_steps = [g for g in optional("generation.csv") if int(g["steps"]) == GENERATE_STEPS]
    scaled = [g for g in at_steps if at_generate_default(g)]
    plain = [g for g in at_steps if generation_eps_scale(g) == 1.0 and not at_generate_default(g)]
    # a folder measured before generate scaled shows its plain rows as the table (which says so)
    generations = largest_per_instrument(scaled or plain)
    plain = largest_per_instrument(plain) if scaled else []
    for g in generations:
        figure = out / f"generations_{g['instrument']}.png"
        g["_figure"] = os.path.relpath(figure, report.parent) if figure.exists() else ""
    report.write_text(render(rows, generations, context, figures, optional("quality_previous.csv"),
                             optional("generation_previous.csv"),
                             described.read_text().strip() if described.exists() else "", others, plain))
    return best
