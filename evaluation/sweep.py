"""The report's tables 5.1/5.2 made properly: cross-diffusion over a grid of forward
strength x sampler steps, scored by FAD to the target instrument, FAD to the source and
melody preservation; and a double-diffusion split sweep (pair similarity vs split).

Rows are appended to a CSV as each cell finishes, so an interrupted sweep resumes.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from diffband.engine.cross import cross_images
from diffband.engine.double import double
from diffband.evaluation.csv_rows import append_row, done_keys
from diffband.evaluation import plots
from diffband.evaluation.embeddings import Embedding, embed_clips
from diffband.evaluation.fad import fad
from diffband.evaluation.melody import chroma_similarity
from diffband.engine.model import DiffusionModel

CROSS_FIELDS = ["direction", "embedding", "strength", "steps", "clips", "fad_target", "fad_source", "melody"]
SPLIT_FIELDS = ["pair", "embedding", "split", "steps", "clips", "pair_melody", "pair_image_corr", "fad_target_b"]


@dataclass
class SweepSet:
    """Window-length mono clips at the model rate, and their mel images."""

    audio: list[np.ndarray]
    images: np.ndarray
    rate: int


def window_clips(model: DiffusionModel, clips: list[tuple[np.ndarray, int]], limit: int | None = None) -> SweepSet:
    """Consecutive model-length windows of the clips (resampled to the model rate, the last
    one padded), up to ``limit`` of them; near-silent windows are skipped."""
    import soxr

    codec = model.info.codec
    n = codec.window_samples

    def audible_windows():  # lazily, so clips past the limit are never resampled
        for audio, rate in clips:
            y = soxr.resample(audio, rate, codec.sample_rate) if rate != codec.sample_rate else np.asarray(audio, np.float32)
            for start in range(0, max(1, y.size - n // 2), n):
                window = np.pad(y[start : start + n], (0, max(0, start + n - y.size))).astype(np.float32)
                if np.sqrt(np.mean(window**2)) > 1e-3:
                    yield window

    out = list(itertools.islice(audible_windows(), limit or None))
    if not out:
        raise ValueError("the source clips are silent")
    return SweepSet(out, np.stack([codec.encode(w) for w in out]), codec.sample_rate)


def generated_set(model: DiffusionModel, n: int, steps: int, seed: int) -> SweepSet:
    from diffband.engine.generate import generate

    images = generate(model, n=n, steps=steps, seed=seed)
    return SweepSet(list(model.decode(images)), images, model.info.sample_rate)


def cross_sweep(
    direction: str,
    source: SweepSet,
    target: DiffusionModel,
    reference: np.ndarray,
    embedding: Embedding,
    strengths: list[float],
    steps_list: list[int],
    csv_path: Path,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> None:
    """One CSV row per (strength, steps) cell not already in ``csv_path``."""
    done = done_keys(csv_path, ["direction", "embedding", "strength", "steps"])
    source_emb = embed_clips(embedding, [(a, source.rate) for a in source.audio])
    for steps in steps_list:
        for strength in strengths:
            key = (direction, embedding.name, f"{strength:g}", str(steps))
            if key in done:
                continue
            images = cross_images(target, source.images, strength, steps, seed)
            outputs = list(target.decode(images))
            emb = embed_clips(embedding, [(a, source.rate) for a in outputs])
            melody = float(np.mean([chroma_similarity(s, o, source.rate) for s, o in zip(source.audio, outputs)]))
            append_row(csv_path, CROSS_FIELDS, {
                "direction": direction, "embedding": embedding.name, "strength": f"{strength:g}", "steps": steps,
                "clips": len(outputs), "fad_target": f"{fad(reference, emb):.4f}",
                "fad_source": f"{fad(source_emb, emb):.4f}", "melody": f"{melody:.4f}",
            })
            if progress:
                progress(f"{direction} strength {strength:g} steps {steps}")


def split_sweep(
    pair: str,
    first: DiffusionModel,
    second: DiffusionModel,
    reference_b: np.ndarray,
    embedding: Embedding,
    splits: list[float],
    steps: int,
    clips: int,
    csv_path: Path,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> None:
    """Pair similarity of double-diffusion layers against the split point."""
    done = done_keys(csv_path, ["pair", "embedding", "split"])
    codec = first.info.codec
    for split in splits:
        if (pair, embedding.name, f"{split:g}") in done:
            continue
        (_, a), (_, b) = double(first, [second], steps=steps, split=split, seed=seed, n=clips)
        audio_a, audio_b = list(first.decode(a)), list(first.decode(b))
        melody = float(np.mean([chroma_similarity(x, y, codec.sample_rate) for x, y in zip(audio_a, audio_b)]))
        corr = float(np.mean([np.corrcoef(x.ravel(), y.ravel())[0, 1] for x, y in zip(a, b)]))
        emb_b = embed_clips(embedding, [(y, codec.sample_rate) for y in audio_b])
        append_row(csv_path, SPLIT_FIELDS, {
            "pair": pair, "embedding": embedding.name, "split": f"{split:g}", "steps": steps, "clips": clips,
            "pair_melody": f"{melody:.4f}", "pair_image_corr": f"{corr:.4f}", "fad_target_b": f"{fad(reference_b, emb_b):.4f}",
        })
        if progress:
            progress(f"{pair} split {split:g}")


def grid(rows: list[dict], value: str) -> tuple[list[float], list[int], np.ndarray]:
    strengths = sorted({float(r["strength"]) for r in rows})
    steps = sorted({int(r["steps"]) for r in rows})
    table = np.full((len(strengths), len(steps)), np.nan)
    for r in rows:
        table[strengths.index(float(r["strength"])), steps.index(int(r["steps"]))] = float(r[value])
    return strengths, steps, table


def recommend(rows: list[dict], min_melody: float = 0.6, step_tolerance: float = 0.02) -> dict:
    """The strength closest to the target (lowest FAD-to-target, averaged over directions)
    that keeps the melody (chroma similarity >= ``min_melody``); at that strength, the
    fewest steps whose FAD-to-target is within ``step_tolerance`` of the best."""
    cells: dict[tuple[float, int], list[dict]] = {}
    for r in rows:
        cells.setdefault((float(r["strength"]), int(r["steps"])), []).append(r)
    scored = []
    for (strength, steps), group in cells.items():
        melody = float(np.mean([float(r["melody"]) for r in group]))
        if strength == 0 or melody < min_melody:
            continue
        target = float(np.mean([float(r["fad_target"]) for r in group]))
        scored.append((target, steps, strength, melody))
    if not scored:
        raise ValueError(f"no cell keeps the melody (chroma similarity >= {min_melody})")
    best_strength = min(scored)[2]
    same = sorted((steps, target, melody) for target, steps, strength, melody in scored if strength == best_strength)
    floor = min(target for _, target, _ in same)
    steps, target, melody = next(c for c in same if c[1] <= floor * (1 + step_tolerance))
    return {"strength": best_strength, "steps": steps, "fad_target": target, "melody": melody}


def markdown_table(rows: list[dict], value: str, digits: int = 2) -> str:
    strengths, steps, table = grid(rows, value)
    lines = ["| strength \\ steps | " + " | ".join(str(s) for s in steps) + " |", "|---" * (len(steps) + 1) + "|"]
    for i, strength in enumerate(strengths):
        cells = " | ".join("" if np.isnan(v) else f"{v:.{digits}f}" for v in table[i])
        lines.append(f"| {strength:g} | {cells} |")
    return "\n".join(lines)


def save_heatmaps(rows: list[dict], path: Path, title: str) -> Path:
    values = [("fad_target", "FAD to target (lower = more like the target)"),
              ("fad_source", "FAD to source (higher = further from the source)"),
              ("melody", "melody preservation (chroma cosine)")]
    panels = [(grid(rows, value)[2], label) for value, label in values]
    strengths, steps, _ = grid(rows, values[0][0])
    return plots.save_heatmaps(panels, path, title, ("sampler steps", [str(s) for s in steps]),
                               ("strength (t/T)", [f"{s:g}" for s in strengths]))
