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


def vocoded_copy(root: Path, bundle: str, out: Path, progress: Callable[[str], None] = print) -> Path:
    """Every file of ``root/<instrument>/`` sent through ``bundle``'s codec and vocoder, window by
    window, into ``out/<instrument>/`` (files already there are kept): the sound every layer has, so
    the embedding learns that the vocoder's artefacts belong to no instrument."""
    import soundfile as sf
    import soxr

    from diffband.engine.model import load_models

    model = load_models([bundle], device="cpu")[0]
    codec = model.info.codec
    w = codec.window_samples
    check_vocoded_stamp(Path(out), {"codec": codec.to_dict(), "vocoder": json.loads(model.info.vocoder.to_json())})
    for folder in sorted(p for p in Path(root).iterdir() if p.is_dir()):
        target = Path(out) / folder.name
        target.mkdir(parents=True, exist_ok=True)
        for path in audio_files(folder):
            if (target / path.name).exists():
                continue
            y, rate = read_mono(path)
            y = soxr.resample(y, rate, codec.sample_rate) if rate != codec.sample_rate else y
            y = np.pad(y, (0, -len(y) % w))
            images = np.stack([codec.encode(y[i : i + w]) for i in range(0, len(y), w)])
            sf.write(target / path.name, np.concatenate(list(model.decode(images))).astype(np.float32), codec.sample_rate)
        progress(f"{folder.name}: through {model.name}'s vocoder -> {target}")
    return Path(out)


#: The codec and vocoder a vocoded copy was made with, in its folder.
VOCODED_STAMP = "vocoded_with.json"


def check_vocoded_stamp(out: Path, made_with: dict) -> None:
    """Record in ``out`` what its copies are made with, or refuse to add to copies made with another
    codec or vocoder (a bundle given a new vocoder would otherwise train on a mix of both)."""
    stamp = out / VOCODED_STAMP
    if stamp.is_file():
        if json.loads(stamp.read_text()) != made_with:
            raise ValueError(f"{out} holds copies made with another codec or vocoder ({stamp}); move it aside "
                             "(or delete it) to make them again with this bundle's")
        return
    if out.is_dir() and any(p.is_dir() for p in out.iterdir()):
        raise ValueError(f"{out} holds copies that do not say what made them (no {VOCODED_STAMP}); move it aside "
                         "(or delete it) to make them again with this bundle's")
    out.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps(made_with, indent=2, sort_keys=True) + "\n")


def class_files(roots: list[Path], name: str) -> dict[str, list[Path]]:
    """Per piece (file name), its renders under each root's ``name`` subfolder: a piece and its
    vocoded copy stay together, on the same side of the validation split."""
    pieces: dict[str, list[Path]] = {}
    for root in roots:
        if (root / name).is_dir():
            for path in audio_files(root / name):
                pieces.setdefault(path.name, []).append(path)
    return pieces


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


def train_timbre(data: Path | list[Path], out: Path, epochs: int = 6, batch_size: int = 64, seed: int = 0,
                 threads: int = 2, step_frames: int = 43, heldout: Path | list[Path] | None = None,
                 progress: Callable[[str], None] = print) -> dict:
    """Train on ``data/<instrument>/*.wav`` (every subfolder of the first folder a class; further
    folders add renders of the same pieces, e.g. through the codec and vocoder; a tenth of each
    class's pieces held back for validation) and write ``out`` (ONNX, the classes and training
    summary in its metadata).  ``heldout``: renders of the same instruments through another
    soundfont (subfolders named as the classes), whose window accuracy the summary records.
    Returns that summary."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    roots = [Path(d) for d in (data if isinstance(data, list) else [data])]
    classes = sorted(p.name for p in roots[0].iterdir() if p.is_dir())
    if len(classes) < 2:
        raise ValueError(f"{roots[0]} needs one subfolder of audio per instrument (at least two)")
    train_x, train_y, val_x, val_y = [], [], [], []
    for label, name in enumerate(classes):
        pieces = class_files(roots, name)
        held = max(1, len(pieces) // 10)
        count = 0
        for rank, index in enumerate(rng.permutation(len(pieces))):
            x, y = (val_x, val_y) if rank < held else (train_x, train_y)
            for path in pieces[sorted(pieces)[index]]:
                w = windows(*read_mono(path), step_frames=step_frames)
                x.append(w)
                y.append(np.full(len(w), label))
                count += len(w)
        progress(f"{name}: {count} windows from {len(pieces)} pieces")
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
    summary = {"classes": classes, "data": [str(r) for r in roots], "windows": len(x_train), "epochs": epochs,
               "embedding_dims": EMBEDDING_DIMS, "history": history}
    if heldout is not None:
        per_class = {}
        held_roots = [Path(h) for h in (heldout if isinstance(heldout, list) else [heldout])]
        for label, name in enumerate(classes):
            found = [w for root in held_roots if (root / name).is_dir() for w in folder_windows(root / name, step_frames)]
            if found:
                x = torch.from_numpy(np.concatenate(found))
                per_class[name] = _accuracy(net, x, torch.full((len(x),), label))
        summary["heldout"] = [str(r) for r in held_roots]
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
