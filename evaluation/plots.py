"""Spectrogram and curve PNGs (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path: Path | str) -> Path:
    """Write the figure as a 128-colour palette PNG (a third of the RGBA file's size; the
    results page's figures are committed)."""
    import io

    from PIL import Image

    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=110, format="png")
    plt.close(fig)
    Image.open(buffer).convert("RGB").quantize(colors=128).save(path, optimize=True)
    return path


def save_spectrograms(
    images: Sequence[np.ndarray],
    titles: Sequence[str],
    path: Path,
    seconds_per_image: float | None = None,
    suptitle: str | None = None,
) -> Path:
    """One row per mel image (values in [-1, 1], low bands at the bottom) -> PNG."""
    plt = _pyplot()
    rows = len(images)
    fig, axes = plt.subplots(rows, 1, figsize=(8, 1.9 * rows + 0.4), squeeze=False)
    for ax, image, title in zip(axes[:, 0], images, titles):
        extent = None
        if seconds_per_image is not None:
            extent = (0.0, seconds_per_image * image.shape[1] / images[0].shape[1], 0, image.shape[0])
        ax.imshow(image, origin="lower", aspect="auto", vmin=-1, vmax=1, cmap="magma", extent=extent)
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("mel band")
    axes[-1, 0].set_xlabel("seconds" if seconds_per_image is not None else "frame")
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    return _save(plt, fig, path)


def save_pitch_tracks(tracks: Sequence[tuple[str, np.ndarray]], frame_seconds: float, path: Path,
                      title: str | None = None) -> Path:
    """Pitch tracks ``(label, f0 Hz per frame, NaN unvoiced)`` on one axis, in MIDI notes, the first one
    (the asked line) drawn thick beneath the others -> PNG."""
    from diffband.engine.register import hz_to_midi

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.2))
    for index, (label, f0) in enumerate(tracks):
        midi = hz_to_midi(f0)
        times = np.arange(midi.size) * frame_seconds
        ax.plot(times, midi, label=label, linewidth=5 if index == 0 else 1.3, alpha=0.35 if index == 0 else 0.9)
    ax.set_xlabel("seconds")
    ax.set_ylabel("pitch (MIDI note)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    if title:
        ax.set_title(title, fontsize=10)
    return _save(plt, fig, path)


def save_loss_curve(steps: Sequence[int], losses: Sequence[float], path: Path, title: str) -> Path:
    """Raw and smoothed training loss against step -> PNG."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(steps, losses, color="0.75", linewidth=0.6, label="loss")
    if len(losses) >= 10:
        width = max(len(losses) // 50, 5)
        kernel = np.ones(width) / width
        smooth = np.convolve(losses, kernel, mode="valid")
        ax.plot(steps[width - 1 :], smooth, color="C0", label=f"moving mean ({width})")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title, fontsize=10)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def save_heatmaps(panels: Sequence[tuple[np.ndarray, str]], path: Path, suptitle: str, x: tuple[str, Sequence[str]],
                  y: tuple[str, Sequence[str]], digits: int = 2) -> Path:
    """Side-by-side annotated heatmaps of same-shape tables ``(len(y ticks), len(x ticks))`` -> PNG."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.8), squeeze=False)
    for ax, (table, title) in zip(axes[0], panels):
        image = ax.imshow(table, origin="lower", aspect="auto", cmap="viridis")
        ax.set_xticks(range(len(x[1])), list(x[1]))
        ax.set_yticks(range(len(y[1])), list(y[1]))
        ax.set_xlabel(x[0])
        ax.set_ylabel(y[0])
        ax.set_title(title, fontsize=9)
        for i in range(table.shape[0]):
            for j in range(table.shape[1]):
                ax.text(j, i, f"{table[i, j]:.{digits}f}", ha="center", va="center", fontsize=7, color="w")
        fig.colorbar(image, ax=ax)
    fig.suptitle(suptitle)
    return _save(plt, fig, path)
