"""Train the ``magnitude-net`` vocoder (:mod:`diffband.engine.magnitude_net`), export it to ONNX,
and name it in a bundle's metadata.

Pairs come from audio alone: every file's mel image (the codec the bundles use) and its true
STFT log-magnitude at the same frames.  A 1-D convolution stack over time (mel bands in,
FFT bins out, a few frames of context) learns the map; loss: L1 on the log-magnitude plus
spectral convergence on the magnitude (loud partials count more than the floor).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

import numpy as np

from diffband.engine.bundle import PREFIX, BundleInfo, required_format_version
from diffband.engine.digest import file_sha256
from diffband.engine.magnitude_net import FLOOR_DB, INPUT_IMAGE, OUTPUT_LOG_MAGNITUDE, log_magnitude
from diffband.engine.mel import MelCodec
from diffband.engine.vocoders import VocoderSpec
from diffband.export.data_prepare import find_audio_files, load_mono

#: The network's recipe in its ONNX ``metadata_props``.
METADATA_KEY = "diffband.magnitude_net"
#: Crop length in frames (one window and the extra column the vocoder decodes).
CROP_FRAMES = 97


def file_pairs(codec: MelCodec, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(image (n_mels, T), log magnitude (bins, T))`` of one audio file at the codec's rate; a file
    shorter than one crop is padded with silence."""
    y = load_mono(path, codec.sample_rate)
    y = np.pad(y, (0, max(0, (CROP_FRAMES - 1) * codec.hop_length - len(y))))
    return codec.mel_to_image(codec.mel_magnitude(y)), log_magnitude(codec, y)


def load_pairs(codec: MelCodec, roots: list[Path], progress: Callable[[str], None] = print
               ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Pairs of every audio file under ``roots`` (float16, to keep hours of audio in memory)."""
    images, targets = [], []
    for root in roots:
        files = find_audio_files(Path(root))
        if not files:
            raise ValueError(f"no audio files in {root}")
        for path in files:
            try:
                image, target = file_pairs(codec, path)
            except Exception as error:
                raise ValueError(f"{path}: {error}") from None
            images.append(image.astype(np.float16))
            targets.append(target.astype(np.float16))
        progress(f"{root}: {len(files)} files")
    return images, targets


def receptive_field(kernel: int, dilations: tuple[int, ...]) -> int:
    """Frames one output frame sees: the input convolution and every residual block."""
    return 1 + (kernel - 1) * (1 + sum(dilations))


def build_network(n_mels: int, bins: int, width: int, dilations: tuple[int, ...], kernel: int):
    """The network: one residual block per entry of ``dilations`` (its convolution's dilation)."""
    import torch
    from torch import nn

    class MagnitudeNet(nn.Module):
        """Conv1d over time: mel bands -> ``width`` channels -> residual blocks -> FFT bins."""

        def __init__(self) -> None:
            super().__init__()
            self.inp = nn.Conv1d(n_mels, width, kernel, padding=kernel // 2)
            self.blocks = nn.ModuleList(
                nn.Sequential(nn.GELU(), nn.Conv1d(width, width, kernel, padding=d * (kernel // 2), dilation=d))
                for d in dilations)
            self.out = nn.Sequential(nn.GELU(), nn.Conv1d(width, bins, 1))
            nn.init.constant_(self.out[1].bias, -3.0)  # start quiet (-60 dB), not at full scale
            self.out[1].weight.data.mul_(0.1)

        def forward(self, image: torch.Tensor) -> torch.Tensor:
            h = self.inp(image)
            for block in self.blocks:
                h = h + block(h)
            return self.out(h)

    return MagnitudeNet()


def train_magnitude_net(codec: MelCodec, roots: list[Path], out: Path, steps: int = 3000, batch_size: int = 16,
                        width: int = 384, dilations: tuple[int, ...] = (1, 1, 1), kernel: int = 3, lr: float = 2e-3,
                        threads: int = 2,
                        seed: int = 0, half: bool = False, progress: Callable[[str], None] = print) -> dict:
    """Train on every file under ``roots`` and write the ONNX vocoder network to ``out``."""
    import torch

    if steps < 10:
        raise ValueError(f"--steps must be at least 10, got {steps}")
    if not dilations or min(dilations) < 1 or kernel < 1 or kernel % 2 == 0:
        raise ValueError(f"--dilations needs one or more whole numbers >= 1 and --kernel an odd number, "
                         f"got {','.join(map(str, dilations))} and {kernel}")
    if receptive_field(kernel, dilations) > CROP_FRAMES:
        raise ValueError(f"the network would see {receptive_field(kernel, dilations)} frames, more than the "
                         f"{CROP_FRAMES}-frame crops it trains on: use fewer or smaller dilations")
    if half:
        import onnxconverter_common  # noqa: F401 - fail before training, not after it
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    images, targets = load_pairs(codec, roots, progress)
    lengths = np.array([im.shape[1] for im in images])
    weights = lengths / lengths.sum()
    bins = 1 + codec.n_fft // 2
    net = build_network(codec.n_mels, bins, width, tuple(dilations), kernel)
    optimiser = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=lr, total_steps=steps, pct_start=0.05 if steps >= 60 else 0.5)
    started, history = time.time(), []
    for step in range(1, steps + 1):
        picks = rng.choice(len(images), size=batch_size, p=weights)
        starts = [rng.integers(0, images[i].shape[1] - CROP_FRAMES + 1) for i in picks]
        x = torch.from_numpy(np.stack([images[i][:, s : s + CROP_FRAMES] for i, s in zip(picks, starts)]).astype(np.float32))
        y = torch.from_numpy(np.stack([targets[i][:, s : s + CROP_FRAMES] for i, s in zip(picks, starts)]).astype(np.float32))
        pred = net(x)
        log_loss = (pred - y).abs().mean()  # no clamp below the floor: a bin that falls under it still learns
        magnitude, predicted = 10.0 ** y, 10.0 ** pred.clamp(max=2.0)
        convergence = torch.linalg.norm(magnitude - predicted, dim=(1, 2)) / torch.linalg.norm(magnitude, dim=(1, 2)).clamp(min=1e-6)
        loss = log_loss + convergence.mean()
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        history.append(loss.item())
        if step % 100 == 0 or step == steps:
            progress(f"step {step}/{steps} loss {np.mean(history[-100:]):.4f} "
                     f"(log {log_loss.item():.4f}, convergence {convergence.mean().item():.4f}) {time.time() - started:.0f} s")
    summary = {"steps": steps, "batch_size": batch_size, "width": width, "layers": len(dilations),
               "dilations": list(dilations), "kernel": kernel,
               "files": len(images), "minutes": float(lengths.sum() * codec.hop_length / codec.sample_rate / 60),
               "final_loss": float(np.mean(history[-100:])), "seconds": round(time.time() - started),
               "data": [str(r) for r in roots], "codec": codec.to_dict()}
    export_onnx(net.eval(), codec, out, summary, half)
    return summary


def export_onnx(net, codec: MelCodec, out: Path, summary: dict, half: bool = False) -> None:
    """The network as ONNX (dynamic batch and frames; ``half``: fp16 weights, float32 I/O), its
    recipe in :data:`METADATA_KEY`."""
    import onnx
    import torch

    out.parent.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(1, codec.n_mels, CROP_FRAMES)
    torch.onnx.export(net, (example,), str(out), input_names=[INPUT_IMAGE], output_names=[OUTPUT_LOG_MAGNITUDE],
                      dynamic_axes={INPUT_IMAGE: {0: "batch", 2: "frames"}, OUTPUT_LOG_MAGNITUDE: {0: "batch", 2: "frames"}},
                      opset_version=17, dynamo=False)
    model = onnx.load(str(out))
    if half:
        from onnxconverter_common.float16 import convert_float_to_float16

        model = convert_float_to_float16(model, keep_io_types=True)
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps({**summary, "precision": "fp16" if half else "fp32"}, sort_keys=True)
    onnx.save(model, str(out))


def network_recipe(network: Path) -> dict:
    """The recipe a trained network carries; a clear error for any other ONNX file."""
    import onnx

    props = {p.key: p.value for p in onnx.load(str(network), load_external_data=False).metadata_props}
    if METADATA_KEY not in props:
        raise ValueError(f"{network} is not a magnitude-net vocoder (no {METADATA_KEY} metadata); "
                         "train one with `diffband train-vocoder`")
    return json.loads(props[METADATA_KEY])


def check_network(network: Path, codec: MelCodec) -> None:
    """A clear error unless ``network`` is a magnitude-net trained for ``codec``."""
    trained_for = MelCodec.from_dict(network_recipe(network)["codec"])
    if trained_for.audio_parameters() != codec.audio_parameters():
        raise ValueError(f"{network} was trained for another mel codec than the bundle's")


#: NNLS updates from the network's magnitude toward the image's mel bands (measured: docs/decisions.md).
MEL_CONSISTENCY_ITERS = 10


def set_vocoder_network(bundle: Path, out: Path, network: Path | None,
                        nnls_iters: int = MEL_CONSISTENCY_ITERS) -> BundleInfo:
    """Copy ``bundle`` to ``out`` (may be the same file) with its vocoder set to ``magnitude-net``
    on ``network`` (stored relative to ``out``'s folder, with its SHA-256), or back to
    ``griffin-lim`` when ``network`` is None (with the bundle's Griffin-Lim settings, and ``nnls_iters``
    mel-consistency updates for the network).  The graph is untouched."""
    import onnx

    from diffband.engine.model import read_bundle_info
    from diffband.export.precision import replace_metadata

    info = read_bundle_info(Path(bundle))
    plain = VocoderSpec(griffin_lim_iters=info.vocoder.griffin_lim_iters)  # griffin-lim's own NNLS iterations
    if network is None:
        spec = plain
    else:
        check_network(Path(network), info.codec)
        spec = VocoderSpec("magnitude-net", plain.griffin_lim_iters, nnls_iters, str(network),
                           file_sha256(network)).named_from(Path(out).parent)
    proto = onnx.load(str(bundle))
    props = {entry.key: entry.value for entry in proto.metadata_props}
    props[PREFIX + "vocoder"] = spec.to_json()
    props[PREFIX + "format_version"] = str(required_format_version(spec))
    replace_metadata(proto, props)
    onnx.save(proto, str(out))
    return read_bundle_info(Path(out))
