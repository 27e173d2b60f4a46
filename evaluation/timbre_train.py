"""Train the ``timbre-cnn`` embedding (:mod:`diffband.evaluation.timbre_cnn`) and export it to ONNX.

A small CNN classifies ~1 s log-mel windows by instrument; its 16-dimensional penultimate
layer is the embedding FAD is computed on (16 dimensions, like ``mfcc-stats``' 20, so a few
hundred windows estimate the covariance).  Training data: one subfolder of audio per
instrument, rendered across one shared pitch range through the training soundfonts only.
Needs torch (a training tool, like ``diffband train``); the exported model does not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np

from diffband.evaluation.embeddings import audio_files, read_mono
from diffband.evaluation.timbre_cnn import N_MELS, WINDOW_FRAMES, TimbreCnn, windows

EMBEDDING_DIMS = 16


def folder_windows(folder: Path, step_frames: int) -> list[np.ndarray]:
    """Network inputs of every audio file in ``folder``, one array per file."""
    return [windows(*read_mono(path), step_frames=step_frames) for path in audio_files(folder)]


def build_network(classes: int):
    import torch
    from torch import nn

    def block(cin: int, cout: int, pool: bool) -> list[nn.Module]:
        layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]
        return layers + ([nn.MaxPool2d(2)] if pool else [])

    class TimbreNet(nn.Module):
        """Conv stack -> mean over time (the spectral shape stays) -> 16-d embedding -> class logits."""

        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(*block(1, 16, True), *block(16, 32, True), *block(32, 64, True),
                                          *block(64, 64, False))
            self.embed = nn.Linear(64 * (N_MELS // 8), EMBEDDING_DIMS)
            self.head = nn.Sequential(nn.ReLU(), nn.Dropout(0.3), nn.Linear(EMBEDDING_DIMS, classes))

        def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            h = self.features(mel).mean(dim=3).flatten(1)
            embedding = self.embed(h)
            return embedding, self.head(embedding)

    return TimbreNet()


def train_timbre(data: Path, out: Path, epochs: int = 6, batch_size: int = 64, seed: int = 0, threads: int = 2,
                 step_frames: int = 43, heldout: Path | None = None, progress: Callable[[str], None] = print) -> dict:
    """Train on ``data/<instrument>/*.wav`` (every subfolder a class; a tenth of each class's files
    held back for validation) and write ``out`` (ONNX, the classes and training summary in its
    metadata).  ``heldout``: renders of the same instruments through another soundfont (subfolders
    named as the classes), whose window accuracy the summary records.  Returns that summary."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    classes = sorted(p.name for p in Path(data).iterdir() if p.is_dir())
    if len(classes) < 2:
        raise ValueError(f"{data} needs one subfolder of audio per instrument (at least two)")
    train_x, train_y, val_x, val_y = [], [], [], []
    for label, name in enumerate(classes):
        per_file = folder_windows(Path(data) / name, step_frames)
        held = max(1, len(per_file) // 10)
        order = rng.permutation(len(per_file))
        for rank, index in enumerate(order):
            x, y = (val_x, val_y) if rank < held else (train_x, train_y)
            x.append(per_file[index])
            y.append(np.full(len(per_file[index]), label))
        progress(f"{name}: {sum(len(w) for w in per_file)} windows from {len(per_file)} files")
    x_train, y_train = torch.from_numpy(np.concatenate(train_x)), torch.from_numpy(np.concatenate(train_y))
    x_val, y_val = torch.from_numpy(np.concatenate(val_x)), torch.from_numpy(np.concatenate(val_y))
    net = build_network(len(classes))
    optimiser = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    steps = epochs * (len(x_train) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=2e-3, total_steps=steps)
    loss_fn = nn.CrossEntropyLoss()
    history = []
    for epoch in range(epochs):
        net.train()
        order = torch.from_numpy(rng.permutation(len(x_train)))
        losses = []
        for i in range(len(x_train) // batch_size):
            idx = order[i * batch_size : (i + 1) * batch_size]
            batch = x_train[idx]
            shift = int(rng.integers(-2, 3))  # a mel band or two either way: no class owns exact band positions
            batch = torch.roll(batch, shifts=shift, dims=2)
            loss = loss_fn(net(batch)[1], y_train[idx])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            losses.append(loss.item())
        accuracy = _accuracy(net, x_val, y_val)
        history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)), "val_accuracy": accuracy})
        progress(f"epoch {epoch + 1}/{epochs}: loss {np.mean(losses):.3f}, validation accuracy {accuracy:.3f}")
    summary = {"classes": classes, "data": str(data), "windows": len(x_train), "epochs": epochs,
               "embedding_dims": EMBEDDING_DIMS, "history": history}
    if heldout is not None:
        per_class = {}
        for label, name in enumerate(classes):
            if (Path(heldout) / name).is_dir():
                x = torch.from_numpy(np.concatenate(folder_windows(Path(heldout) / name, step_frames)))
                per_class[name] = _accuracy(net, x, torch.full((len(x),), label))
        summary["heldout"] = str(heldout)
        summary["heldout_accuracy_per_class"] = per_class
        summary["heldout_accuracy"] = float(np.mean(list(per_class.values()))) if per_class else float("nan")
        progress(f"held-out accuracy {summary['heldout_accuracy']:.3f}: "
                 + ", ".join(f"{k} {v:.2f}" for k, v in per_class.items()))
    export_onnx(net, out, summary)
    return summary


def _accuracy(net, x, y) -> float:
    import torch

    net.eval()
    with torch.no_grad():
        predicted = torch.cat([net(x[i : i + 512])[1].argmax(1) for i in range(0, len(x), 512)])
    return float((predicted == y).float().mean())


def export_onnx(net, out: Path, summary: dict) -> Path:
    """The network as ONNX (inputs ``mel``, outputs ``embedding`` and ``logits``), with ``summary``
    as the ``diffband.timbre`` metadata."""
    import onnx
    import torch

    net.eval()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(2, 1, N_MELS, WINDOW_FRAMES)
    torch.onnx.export(net, (example,), str(out), input_names=["mel"], output_names=["embedding", "logits"],
                      dynamic_axes={"mel": {0: "n"}, "embedding": {0: "n"}, "logits": {0: "n"}}, opset_version=17,
                      dynamo=False)
    model = onnx.load(str(out))
    entry = model.metadata_props.add()
    entry.key, entry.value = "diffband.timbre", json.dumps(summary)
    onnx.save(model, str(out))
    return out


def confusion(model: TimbreCnn, folder: Path) -> dict[str, dict[str, float]]:
    """For each instrument subfolder of ``folder`` that the model knows, the mean class
    probabilities over its files (rows: true instrument)."""
    out = {}
    for sub in sorted(p for p in Path(folder).iterdir() if p.is_dir() and p.name in model.classes):
        probs = np.mean([model.classify(*read_mono(path)) for path in audio_files(sub)], axis=0)
        out[sub.name] = dict(zip(model.classes, map(float, probs)))
    return out
