"""``python -m bench.codec_resolution``: what the mel codec alone does to pitch (issue 13, item 4).

Round trip without a model: each clip (a 4.46 s window rendered by the project's
renderer with its notes kept, see ``bench.pitch_truth``) is encoded to a mel image and
decoded by the runtime vocoder (``engine.vocoders``: NNLS + Griffin-Lim at the runtime's
``DIFFBAND_GL_ITERS`` iterations) for several codec
geometries that all cover the same 4.46 s.  Per geometry:

- pitch kept: share of the frames pyin finds voiced in the source where pyin on the
  decoded audio is voiced and within 50 cents of it; median cents off: on the frames
  both call voiced (mean of the clips' medians); pitch vs notes: the same against
  the rendered notes (the source's own row is the ceiling);
- spectral distance on one common analysis (n_fft 2048, hop 256): log-mel L1 in dB
  (128 bands, -80 dB floor) and spectral convergence of the linear magnitude;
- the vocoder's time per window, the image size, and one forward (and forward +
  backward) pass of the tiny UNet at that size with torch on one CPU thread: what a
  model pays per step in inference (and training).

Two "STFT magnitude" rows run Griffin-Lim from the source's exact linear magnitude
(no mel): the part of the loss that is phase reconstruction, not mel resolution.  The
"magnitude-net" row decodes the ``tiny`` image with the shipped bundles' vocoder (a network's
STFT magnitude, 10 NNLS updates, the same Griffin-Lim).  ``--ways`` keeps the rows whose name
contains one of its comma-separated words.
Appends a section to ``bench/RESULTS.md`` (``--out``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from bench.engine import RESULTS, append_results, machine, median_seconds
from bench.pitch_truth import (
    WINDOW_SAMPLES, Clip, add_clip_arguments, agreement, load_clips, markdown_table, mean_of, median_cents, pyin,
    score_monophonic,
)
from diffband.engine.mel import MelCodec
from diffband.engine.stft import griffin_lim, stft
from diffband.engine.model import DiffusionModel
from diffband.engine.vocoders import VocoderSpec, decode_image

#: The codec geometries compared; every one covers WINDOW_SAMPLES (4.46 s at 22.05 kHz).
GEOMETRIES: dict[str, MelCodec] = {
    "64 mels, hop 1024 (tiny, today)": MelCodec(n_fft=2048, hop_length=1024, n_mels=64, frames=96),
    "128 mels, hop 1024": MelCodec(n_fft=2048, hop_length=1024, n_mels=128, frames=96),
    "96 mels, hop 512": MelCodec(n_fft=2048, hop_length=512, n_mels=96, frames=192),
    "128 mels, hop 512 (small)": MelCodec(n_fft=2048, hop_length=512, n_mels=128, frames=192),
    "128 mels, hop 512, n_fft 4096": MelCodec(n_fft=4096, hop_length=512, n_mels=128, frames=192),
    "256 mels, hop 256": MelCodec(n_fft=2048, hop_length=256, n_mels=256, frames=384),
}
#: Griffin-Lim from the exact STFT magnitude at these hops (n_fft 2048): the phase-only loss.
ORACLE_HOPS = (1024, 512)
#: The common analysis every decoded clip is compared on.
ANALYSIS = MelCodec(n_fft=2048, hop_length=256, n_mels=128, frames=WINDOW_SAMPLES // 256)
#: The runtime vocoder's settings (Griffin-Lim iterations from DIFFBAND_GL_ITERS).
VOCODER = VocoderSpec().at_runtime()
SEMITONE = 2.0 ** (1.0 / 12.0)
REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class RoundTrip:
    """One way from a source window to audio: its name, the function, and its image size."""

    name: str
    run: Callable[[np.ndarray], np.ndarray]
    image_shape: tuple[int, int] | None
    codec: MelCodec | None


def codec_round_trip(codec: MelCodec) -> Callable[[np.ndarray], np.ndarray]:
    def run(audio: np.ndarray) -> np.ndarray:
        return decode_image(codec, codec.encode(audio), VOCODER, seed=0)

    return run


def oracle_round_trip(hop_length: int, n_fft: int = 2048) -> Callable[[np.ndarray], np.ndarray]:
    def run(audio: np.ndarray) -> np.ndarray:
        magnitude = np.abs(stft(audio, n_fft, hop_length))
        rng = np.random.default_rng(0)
        return griffin_lim(magnitude, n_fft, hop_length, VOCODER.griffin_lim_iters, audio.size, rng)

    return run


def network_round_trip(bundle: Path) -> RoundTrip:
    """``bundle``'s codec decoded by its own vocoder, as the runtime does (``DiffusionModel.decode``)."""
    model = DiffusionModel.load(bundle, device="cpu")
    codec = model.info.codec

    def run(audio: np.ndarray) -> np.ndarray:
        return model.decode(codec.encode(audio)[None])[0]

    name = f"{codec.n_mels} mels, hop {codec.hop_length}, {model.info.vocoder.name} ({bundle.name}'s)"
    return RoundTrip(name, run, codec.image_shape, codec)


def round_trips(bundle: Path | None = None) -> list[RoundTrip]:
    ways = [RoundTrip(name, codec_round_trip(codec), codec.image_shape, codec) for name, codec in GEOMETRIES.items()]
    if bundle is not None:
        ways.insert(1, network_round_trip(bundle))
    ways += [
        RoundTrip(f"STFT magnitude, hop {hop} (no mel)", oracle_round_trip(hop), None, None) for hop in ORACLE_HOPS
    ]
    return ways


def semitone_limit(codec: MelCodec) -> float:
    """Highest band centre (Hz) where the step to the next band is wider than a semitone,
    counting the FFT bin spacing as the finest step: below it, neighbouring semitones share a band."""
    filters = codec.mel_basis
    bin_hz = codec.sample_rate / codec.n_fft
    weighted_bins = (filters * np.arange(filters.shape[1])[None, :]).sum(axis=1)
    centres = weighted_bins / np.maximum(filters.sum(axis=1), 1e-12) * bin_hz
    steps = np.maximum(np.diff(centres), bin_hz)
    coarse = steps > centres[:-1] * (SEMITONE - 1.0)
    return float(centres[:-1][coarse].max()) if coarse.any() else 0.0


def spectral_distances(source: np.ndarray, decoded: np.ndarray) -> tuple[float, float]:
    """(log-mel L1 in dB, spectral convergence) on the common analysis."""
    floor = ANALYSIS.db_min

    def log_mel(audio: np.ndarray) -> np.ndarray:
        return np.maximum(10.0 * np.log10(np.maximum(ANALYSIS.mel_magnitude(audio), 1e-10)), floor)

    l1 = float(np.mean(np.abs(log_mel(source) - log_mel(decoded))))
    reference = np.abs(stft(source, ANALYSIS.n_fft, ANALYSIS.hop_length))
    estimate = np.abs(stft(decoded, ANALYSIS.n_fft, ANALYSIS.hop_length))
    convergence = float(np.linalg.norm(reference - estimate) / max(np.linalg.norm(reference), 1e-12))
    return l1, convergence


def unet_seconds(image_shape: tuple[int, int], repeats: int) -> tuple[float, float]:
    """Median seconds of one tiny-UNet forward, and forward + backward, at batch 1 (torch, 1 thread)."""
    import torch

    from diffband.export.unet import build_unet

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = build_unet("tiny", image_shape)
    x = torch.randn(1, 1, *image_shape)
    t = torch.tensor([500])

    def forward() -> None:
        with torch.no_grad():
            model(x, t)

    def step() -> None:
        model.zero_grad()
        model(x, t).sample.pow(2).mean().backward()

    return median_seconds(forward, repeats, warmup=1), median_seconds(step, repeats, warmup=1)


def measure_clip(way: RoundTrip, clip: Clip, source_f0: np.ndarray) -> dict[str, float]:
    start = time.perf_counter()
    decoded = way.run(clip.audio)
    seconds = time.perf_counter() - start
    times, f0 = pyin(decoded, clip.instruments)
    l1, convergence = spectral_distances(clip.audio, decoded)
    return {
        "kept": agreement(source_f0, f0),
        "cents": median_cents(source_f0, f0),
        "vs_notes": score_monophonic(clip, times, f0)["pitch"],
        "l1_db": l1,
        "convergence": convergence,
        "seconds": seconds,
    }


def table(results: dict[str, dict[str, list[dict[str, float]]]], source: dict[str, list[dict[str, float]]],
          ways: list[RoundTrip], unet: dict[str, tuple[float, float]], instruments: tuple[str, ...]) -> str:
    tiny_pixels = np.prod(ways[0].image_shape)
    header = (["round trip", "image", "pixels (x tiny)", "band > semitone below"]
              + [f"pitch kept, {name}" for name in instruments]
              + ["pitch kept, all", "median cents off", "pitch vs notes", "log-mel L1 dB", "spectral conv.",
                 "decode / window", "UNet fwd", "UNet fwd+bwd"])
    every = [row for name in instruments for row in source[name]]
    rows = [["source (no codec)", "", "", ""] + ["1"] * len(instruments)
            + ["1", "0", f"{mean_of(every, 'vs_notes'):.3f}", "0", "0", "", "", ""]]
    for way in ways:
        per = results[way.name]
        clips = [row for name in instruments for row in per[name]]
        geometry = ["", "", "", "", ""]
        if way.image_shape is not None:
            count = int(np.prod(way.image_shape))
            forward, backward = unet[way.name]
            geometry = [f"{way.image_shape[0]} x {way.image_shape[1]}", f"{count} ({count / tiny_pixels:.0f}x)",
                        f"{semitone_limit(way.codec):.0f} Hz", f"{forward * 1e3:.0f} ms", f"{backward * 1e3:.0f} ms"]
        rows.append(
            [way.name, *geometry[:3]] + [f"{mean_of(per[name], 'kept'):.3f}" for name in instruments]
            + [f"{mean_of(clips, 'kept'):.3f}", f"{mean_of(clips, 'cents'):.1f}", f"{mean_of(clips, 'vs_notes'):.3f}",
               f"{mean_of(clips, 'l1_db'):.2f}", f"{mean_of(clips, 'convergence'):.3f}",
               f"{np.median([row['seconds'] for row in clips]) * 1e3:.0f} ms", *geometry[3:]]
        )
    return markdown_table(header, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_clip_arguments(parser)
    parser.add_argument("--unet-repeats", type=int, default=3)
    parser.add_argument("--bundle", default=str(REPO / "models" / "violin.onnx"),
                        help="a bundle whose magnitude-net vocoder gets a row ('none': no such row)")
    parser.add_argument("--ways", default="", help="comma-separated words: keep only the rows naming one (tiny first)")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    instruments = tuple(args.instruments.split(","))
    clips = load_clips(instruments, args.clips, args.seed, Path(args.cache) if args.cache else None)
    ways = round_trips(None if args.bundle == "none" else Path(args.bundle))
    if args.ways:
        words = args.ways.split(",")
        ways = [ways[0]] + [w for w in ways[1:] if any(word in w.name for word in words)]  # the table's sizes are x tiny
    source: dict[str, list[dict[str, float]]] = {}
    source_f0: dict[str, list[np.ndarray]] = {}
    for name in instruments:
        source[name], source_f0[name] = [], []
        for clip in clips[name]:
            times, f0 = pyin(clip.audio, clip.instruments)
            source_f0[name].append(f0)
            source[name].append({"vs_notes": score_monophonic(clip, times, f0)["pitch"]})
    results: dict[str, dict[str, list[dict[str, float]]]] = {}
    for way in ways:
        results[way.name] = {
            name: [measure_clip(way, clip, f0) for clip, f0 in zip(clips[name], source_f0[name])]
            for name in instruments
        }
        print(f"{way.name}: done", flush=True)
    unet = {way.name: unet_seconds(way.image_shape, args.unet_repeats) for way in ways if way.image_shape is not None}
    counts = ", ".join(f"{len(clips[name])} {name}" for name in instruments)
    text = (
        f"## {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC — `python -m bench.codec_resolution` — "
        "mel codec round trip (no model) at several geometries\n\n"
        f"- machine: {machine()}; NumPy/SciPy and torch on one thread\n"
        f"- clips: {counts} windows of 4.46 s (render seed {args.seed}, at most 2 windows per piece, "
        "notes kept); pyin (librosa, hop 512, the instruments' range) on source and decoded audio; "
        f"decode = NNLS ({VOCODER.nnls_iters} iterations) + {VOCODER.griffin_lim_iters} Griffin-Lim iterations "
        f"(the runtime's), seed 0, or the magnitude-net row's network; UNet = `tiny` at batch 1, median of {args.unet_repeats}\n\n"
        + table(results, source, ways, unet, instruments) + "\n"
    )
    append_results(Path(args.out), text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
