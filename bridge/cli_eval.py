"""``diffband eval fad``, ``melody``, ``sweep`` and ``quality``."""

from __future__ import annotations

import argparse
from pathlib import Path

from diffband.engine.defaults import DEFAULT_REGISTER
from diffband.engine.options import MAX_OCTAVES, REGISTERS
from diffband.evaluation.plan import QualityPlan


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x]


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x]


def _embedding(args: argparse.Namespace):
    from diffband.evaluation.embeddings import load_embedding

    return load_embedding(args.embedding, args.vggish_weights, args.vggish_pca)


def cmd_fad(args: argparse.Namespace) -> int:
    from diffband.evaluation.embeddings import embed_folder
    from diffband.evaluation.fad import fad, fad_inf

    embedding = _embedding(args)
    reference, n_ref = embed_folder(embedding, args.reference)
    test, n_test = embed_folder(embedding, args.test)
    print(f"embedding {embedding.name}: reference {n_ref} files / {len(reference)} frames, "
          f"test {n_test} files / {len(test)} frames")
    if args.inf:
        result = fad_inf(reference, test)
        print(f"FAD-inf fit: slope {result.slope:.3f}, r2 {result.r2:.3f}, subsets {[n for n, _ in result.points]}")
        print(f"{result.score:.4f}")
    else:
        print(f"{fad(reference, test):.4f}")
    return 0


def cmd_melody(args: argparse.Namespace) -> int:
    from diffband.evaluation import notes
    from diffband.evaluation.embeddings import read_mono
    from diffband.evaluation.melody import chroma_similarity

    import soxr

    source, rate = read_mono(Path(args.source))
    output, out_rate = read_mono(Path(args.output))
    if out_rate != rate:
        output = soxr.resample(output, out_rate, rate)
    print(f"chroma cosine: {chroma_similarity(source, output, rate):.4f}")
    if notes.available():
        scores = notes.note_f1(source, output, rate)
        print(f"note onset+pitch (basic-pitch, mir_eval): precision {scores['precision']:.3f} "
              f"recall {scores['recall']:.3f} F1 {scores['f1']:.3f}")
    else:
        print("note F1: basic-pitch not installed (pip install 'diffband[notes]' && pip install --no-deps basic-pitch)")
    return 0


def _source_set(spec: str, clips: int, seed: int, like, device: str):
    from diffband.evaluation.embeddings import audio_files, read_mono
    from diffband.engine.model import load_models
    from diffband.evaluation.sweep import generated_set, window_clips

    if Path(spec).is_dir():
        return Path(spec).name, window_clips(like, [read_mono(p) for p in audio_files(spec)], clips), None
    [model] = load_models([spec], device=device)
    return model.name, generated_set(model, clips, 50, seed), model


def cmd_sweep(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from diffband.evaluation.embeddings import embed_clips, embed_folder
    from diffband.engine.model import load_models
    from diffband.evaluation.csv_rows import read_rows
    from diffband.evaluation.sweep import (
        cross_sweep, generated_set, markdown_table, recommend, save_heatmaps, split_sweep,
    )

    [target] = load_models([args.to], device=args.device)
    embedding = _embedding(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name, source, source_model = _source_set(args.source, args.clips, args.seed, target, args.device)
    if args.reference:
        reference, n_ref = embed_folder(embedding, args.reference)
        reference_label = f"{n_ref} files in {args.reference}"
    else:
        ref_set = generated_set(target, 2 * args.clips, 50, args.seed + 1)
        reference = embed_clips(embedding, [(a, ref_set.rate) for a in ref_set.audio])
        reference_label = f"{2 * args.clips} generations of the {target.name} model (no --reference given)"
    direction = f"{name}->{target.name}"
    strengths, steps = _floats(args.strengths), _ints(args.steps)
    splits = _floats(args.splits) if args.splits and source_model is not None else []
    bar = tqdm(total=len(strengths) * len(steps) + len(splits), desc=f"sweep {direction}", unit="cell")
    tick = lambda label: (bar.set_postfix_str(label), bar.update(1))  # noqa: E731
    cross_csv = out / "cross.csv"
    cross_sweep(direction, source, target, reference, embedding, strengths, steps, cross_csv, args.seed, tick)
    if splits:
        split_sweep(direction, source_model, target, reference, embedding, splits, args.split_steps, args.clips,
                    out / "split.csv", args.seed, tick)
    bar.close()

    rows = [r for r in read_rows(cross_csv) if r["embedding"] == embedding.name]
    report = [f"# Cross-diffusion sweep ({embedding.name} embedding)", "",
              f"Source clips: {len(source.audio)} windows of {source.audio[0].size / source.rate:.2f} s; "
              f"reference for {target.name}: {reference_label}.", ""]
    for d in sorted({r["direction"] for r in rows}):
        mine = [r for r in rows if r["direction"] == d]
        png = save_heatmaps(mine, out / f"heatmap_{d.replace('->', '_to_')}.png", f"{d} ({embedding.name})")
        report += [f"## {d}", "", f"![heatmaps]({png.name})", ""]
        for value, label in (("fad_target", "FAD to target"), ("fad_source", "FAD to source"), ("melody", "melody preservation")):
            report += [f"**{label}**", "", markdown_table(mine, value), ""]
    if rows:
        best = recommend(rows)
        report += [f"Recommended (lowest FAD to target with melody >= 0.6, over all directions): strength "
                   f"{best['strength']:g}, {best['steps']} steps (FAD to target {best['fad_target']:.2f}, melody {best['melody']:.2f})."]
        print(f"recommended: strength {best['strength']:g}, steps {best['steps']}")
    if (out / "split.csv").exists():
        split_rows = [r for r in read_rows(out / "split.csv") if r["embedding"] == embedding.name]
        report += ["", "## Double-diffusion: pair similarity vs split", "",
                   "| pair | split | pair melody | pair image corr | FAD(second layer, target ref) |", "|---|---|---|---|---|"]
        report += [f"| {r['pair']} | {r['split']} | {r['pair_melody']} | {r['pair_image_corr']} | {r['fad_target_b']} |"
                   for r in split_rows]
    (out / "tables.md").write_text("\n".join(report) + "\n")
    print(out / "tables.md")
    return 0


def _pairs(text: str) -> list[tuple[str, str]]:
    pairs = []
    for item in text.split(","):
        source, sep, target = item.strip().partition(":")
        if not sep or not source or not target:
            raise ValueError(f"a pair is SOURCE:TARGET (e.g. guitar:violin), got {item!r}")
        pairs.append((source, target))
    return pairs


#: Where ``eval quality`` publishes by default: its tables and pictures, and the page that shows them.
PUBLISHED_RESULTS, PUBLISHED_PAGE = Path("docs/results"), Path("docs/results.md")
#: The learned timbre embedding ``eval quality`` also scores with (``diffband eval train-timbre`` makes it).
SHIPPED_TIMBRE_MODEL = Path(__file__).resolve().parent.parent / "models" / "eval" / "timbre_cnn.onnx"
#: Under ``--heldout``: each source's pieces played by each target instrument, rendered once.
PLAYED_FOLDER = "played"


def quality_report_path(out: Path) -> Path:
    """The page ``eval quality`` writes for results in ``out``: the published page for the
    published folder, else a page inside ``out``."""
    return PUBLISHED_PAGE if out.resolve() == PUBLISHED_RESULTS.resolve() else out / "results.md"


def cmd_quality(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from diffband.engine.model import load_models
    from diffband.evaluation import notes
    from diffband.evaluation.embeddings import MfccStats
    from diffband.evaluation.played import played_folder
    from diffband.evaluation.quality import Reference, piece_octaves, run_generations, run_pair
    from diffband.evaluation.quality_report import write_report

    heldout = Path(args.heldout)
    plan = QualityPlan(_pairs(args.pairs), _floats(args.strengths), _floats(args.guidances), args.steps, args.clips,
                       args.generations, args.seed, args.octave, args.register)
    if not plan.is_defaults_evidence and Path(args.out).resolve() == PUBLISHED_RESULTS.resolve():
        given = " ".join([f"--octave {plan.octave}"] * bool(plan.octave)
                         + [f"--register {plan.register}"] * (plan.register != DEFAULT_REGISTER))
        raise ValueError(f"a run with {given} is not the defaults' evidence: write it elsewhere "
                         f"(-o {PUBLISHED_RESULTS}/octave_up)")
    names = sorted({n for pair in plan.pairs for n in pair})
    missing = [n for n in names if not (heldout / n).is_dir()]
    if missing:
        raise FileNotFoundError(f"no held-out renders for {', '.join(missing)} in {heldout} "
                                "(diffband data render --split heldout --soundfonts evaluation)")
    targets = sorted({t for _, t in plan.pairs})
    models = dict(zip(targets, load_models([str(Path(args.models) / f"{t}.onnx") if args.models else t for t in targets],
                                           device=args.device)))
    with_notes = notes.available()
    if not with_notes:
        print("note F1 skipped: basic-pitch not installed (pip install 'diffband[notes]' && pip install --no-deps basic-pitch)")
    embedding = MfccStats()
    timbre = _timbre_model(args.timbre_model)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    references = {}
    for name in tqdm(names, desc="held-out references", unit="instrument"):
        references[name] = Reference.from_folder(name, heldout / name, embedding, timbre)
    played = {}  # per pair: the target instrument playing the source's pieces (cached beside the held-out renders)
    for source, target in plan.pairs:  # moved as the run moves each piece's window
        octaves = piece_octaves(heldout / source, models[target], plan)
        folder = played_folder(heldout / source, target, heldout / PLAYED_FOLDER, octaves)
        if folder is None:
            print(f"{heldout / source} has no render.json with notes: no played references for {source}->{target}")
            continue
        played[f"{source}->{target}"] = (folder, Reference.from_folder(target, folder, embedding, timbre))
    cells_csv, generation_csv = out / "quality.csv", out / "generation.csv"
    for pair in tqdm(plan.pairs, desc="pairs", unit="pair"):
        run_pair(pair, models, heldout, plan, references, embedding, cells_csv, with_notes, tqdm.write,
                 played.get(f"{pair[0]}->{pair[1]}"), timbre)
    if plan.generations:  # every instrument with held-out renders and a bundle, sources too (voice)
        generators = dict(models)
        for name in (n for n in names if n not in models):
            try:
                generators[name] = load_models([str(Path(args.models) / f"{name}.onnx") if args.models else name],
                                               device=args.device)[0]
            except FileNotFoundError:
                print(f"no {name} bundle: its unconditional generations are not measured")
        run_generations(generators, plan, references, embedding, generation_csv, heldout, tqdm.write, timbre)

    report = Path(args.report) if args.report else quality_report_path(out)
    best = write_report(plan, models, references, heldout, out, report, args.pairs,
                        {pair: reference for pair, (_, reference) in played.items()}, timbre)
    print(f"recommended: strength {best['strength']:g}, guidance {best['guidance']:g}")
    print(report)
    return 0


def _timbre_model(path: str):
    """The learned timbre embedding ``--timbre-model`` names (``auto``: the shipped one where it
    exists; ``none``: only mfcc-stats)."""
    from diffband.evaluation.timbre_cnn import TimbreCnn

    if path == "none" or (path == "auto" and not SHIPPED_TIMBRE_MODEL.is_file()):
        return None
    return TimbreCnn.from_file(SHIPPED_TIMBRE_MODEL if path == "auto" else path)


def cmd_train_timbre(args: argparse.Namespace) -> int:
    from diffband.evaluation.timbre_train import train_timbre, vocoded_copy

    data = [Path(d) for d in args.data]
    heldout = [Path(h) for h in args.heldout or []]
    if args.through_vocoder:  # each folder also as the bundle's vocoder renders it (cached beside it)
        data += [vocoded_copy(d, args.through_vocoder, d.with_name(d.name + "_vocoded")) for d in data]
        heldout += [vocoded_copy(h, args.through_vocoder, h.with_name(h.name + "_vocoded")) for h in heldout]
    summary = train_timbre(data, Path(args.out), epochs=args.epochs, batch_size=args.batch_size,
                           seed=args.seed, threads=args.threads, step_frames=args.step_frames, heldout=heldout or None)
    print(f"validation accuracy {summary['history'][-1]['val_accuracy']:.3f} over {len(summary['classes'])} instruments")
    print(args.out)
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("eval", help="evaluation: Fréchet Audio Distance, cross-diffusion sweeps")
    eval_sub = p.add_subparsers(dest="eval_command", metavar="EVAL", required=True)

    def embedding_options(q: argparse.ArgumentParser) -> None:
        q.add_argument("--embedding", default="mfcc-stats", choices=["mfcc-stats", "vggish"])
        q.add_argument("--vggish-weights", help="standard VGGish weights as .npz (python -m diffband.export.vggish_weights converts torchvggish's .pth)")
        q.add_argument("--vggish-pca", help="optional VGGish PCA parameters as .npz (pca_eigen_vectors, pca_means)")

    q = eval_sub.add_parser("fad", help="FAD between two folders of audio (value on the last line)")
    q.add_argument("reference")
    q.add_argument("test")
    q.add_argument("--inf", action="store_true", help="FAD-inf: extrapolate to an infinite test set")
    embedding_options(q)
    q.set_defaults(func=cmd_fad)

    q = eval_sub.add_parser("melody", help="melody preservation of OUTPUT against SOURCE (chroma cosine, note F1)")
    q.add_argument("source")
    q.add_argument("output")
    q.set_defaults(func=cmd_melody)

    q = eval_sub.add_parser("sweep", help="cross-diffusion over strength x steps: FAD tables, heatmaps, a recommendation")
    q.add_argument("--from", dest="source", required=True, help="folder of source audio, or a source model name")
    q.add_argument("--to", required=True, help="target model")
    q.add_argument("--reference", help="folder of real target-instrument audio (default: target model generations)")
    q.add_argument("--strengths", default="0,0.2,0.4,0.6,0.8,1.0", help="the report's 0,100..500 of 500 steps")
    q.add_argument("--steps", default="10,20,30,40,50", help="sampler steps over the whole schedule")
    q.add_argument("--clips", type=int, default=8)
    q.add_argument("--splits", help="double-diffusion splits to sweep, e.g. 0,0.2,0.4,0.6,0.8 (source must be a model)")
    q.add_argument("--split-steps", type=int, default=30)
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--device", default="auto")
    q.add_argument("-o", "--out", default="out/sweep")
    embedding_options(q)
    q.set_defaults(func=cmd_sweep)

    q = eval_sub.add_parser("quality", help="melody-following layers on held-out renders: pitch, note F1, FAD "
                            "to target and source, flatness, controls; writes docs/results.md")
    q.add_argument("--heldout", required=True, help="folder with one subfolder of held-out renders per instrument "
                   f"(their render.json notes are also played by each target instrument, once, into HELDOUT/{PLAYED_FOLDER})")
    q.add_argument("--pairs", default="guitar:violin,violin:guitar,voice:violin,voice:guitar",
                   help="SOURCE:TARGET pairs, comma-separated")
    q.add_argument("--models", help="folder of the target bundles NAME.onnx (default: the model search path)")
    plan = QualityPlan(pairs=[])  # the sweep's defaults
    q.add_argument("--strengths", default=",".join(f"{s:g}" for s in plan.strengths), help="default %(default)s")
    q.add_argument("--guidances", default=",".join(f"{g:g}" for g in plan.guidances),
                   help="guidance scales of the follow-on cells (default %(default)s)")
    q.add_argument("--steps", type=int, default=plan.steps, help="default %(default)s")
    q.add_argument("--clips", type=int, default=plan.clips, help="source windows per pair, one per held-out piece (default %(default)s)")
    q.add_argument("--generations", type=int, default=plan.generations,
                   help="unconditional generations per model, 0: skip (default %(default)s)")
    q.add_argument("--seed", type=int, default=plan.seed, help="default %(default)s")
    q.add_argument("--octave", type=int, default=0, choices=range(-MAX_OCTAVES, MAX_OCTAVES + 1), metavar="N",
                   help="move every source window N octaves before layers are grown (the octave option); pitch and "
                   "notes are measured against the source as moved (default 0)")
    q.add_argument("--register", default=plan.register, choices=REGISTERS,
                   help="where layers are grown, as the register option (fit: below-range sources grown in the "
                   "target's range and brought back down; input: where the source plays; instrument: moved into the "
                   "target's range, pitch measured against the moved source); default %(default)s")
    q.add_argument("--timbre-model", default="auto", help="learned timbre embedding (.onnx from `eval train-timbre`) "
                   "scored beside mfcc-stats; auto: the shipped models/eval/timbre_cnn.onnx; none: skip")
    q.add_argument("--device", default="auto")
    q.add_argument("-o", "--out", default=str(PUBLISHED_RESULTS), help="CSVs and PNGs (rows resume)")
    q.add_argument("--report", help="the results page (default: docs/results.md for the default --out, "
                   "else OUT/results.md, so a scratch run never rewrites the published page)")
    q.set_defaults(func=cmd_quality)

    q = eval_sub.add_parser("train-timbre", help="train the learned timbre embedding eval quality scores with "
                            "(needs torch): a small CNN classifying instruments")
    q.add_argument("data", nargs="+", help="folders with one subfolder of audio per instrument, all rendered across one "
                   "pitch range (diffband data render --instruments all --split train --augment --pitch-range 40:93); "
                   "further folders add the same pieces otherwise rendered (e.g. through the codec and vocoder)")
    q.add_argument("--out", default=str(SHIPPED_TIMBRE_MODEL))
    q.add_argument("--heldout", nargs="+", help="renders of the same instruments through the evaluation soundfont "
                   "(one subfolder each; several folders allowed): their accuracy is recorded in the model")
    q.add_argument("--through-vocoder", metavar="BUNDLE", help="also train (and test) on every file sent through this "
                   "bundle's codec and vocoder (cached in FOLDER_vocoded), so its artefacts tell no instrument apart")
    q.add_argument("--epochs", type=int, default=6)
    q.add_argument("--batch-size", type=int, default=64)
    q.add_argument("--step-frames", type=int, default=43, help="hop between training windows in mel frames "
                   "(43: 0.5 s; windows are 86 frames, ~1 s)")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--threads", type=int, default=2)
    q.set_defaults(func=cmd_train_timbre)
