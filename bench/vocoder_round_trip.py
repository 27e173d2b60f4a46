"""``python -m bench.vocoder_round_trip``: what each vocoder keeps of held-out audio (issue 13).

No diffusion model: each held-out window (``eval quality``'s windows: one a third of the way
into each piece the project never trained on, rendered through the evaluation soundfont) is
encoded by the shipped codec and decoded by

- ``griffin-lim``: NNLS through the mel basis, then Griffin-Lim (the runtime's iterations);
- each ``magnitude-net`` network given by ``--networks`` (10 NNLS updates from its guess, as the
  shipped bundles run it; the network's recipe is read from its metadata);
- ``STFT magnitude``: Griffin-Lim from the window's true STFT magnitude at the codec's hop, the
  ceiling a vocoder that rebuilds the magnitude exactly would reach.

Per row, scored against the window itself: share of pyin's voiced frames within 50 cents,
note F1 of basic-pitch's transcriptions (100 ms onsets, as ``eval quality``), log-mel L1 in
dB on a common analysis, and the median decode time per window on this machine.  A layer
this vocoder renders scores at most about what its row does.  Appends to ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

import numpy as np

from bench.codec_resolution import REPO, VOCODER, RoundTrip, codec_round_trip, oracle_round_trip, spectral_distances
from bench.engine import RESULTS, append_results, machine
from bench.pitch_truth import markdown_table
from diffband.engine.mel import MelCodec, preset
from diffband.engine.vocoders import MagnitudeNetGriffinLim, VocoderSpec
from diffband.evaluation.notes import f1, transcribe
from diffband.evaluation.quality import ONSET_TOLERANCE, f0, piece_windows, pitch_agreement
from diffband.export.vocoder_train import MEL_CONSISTENCY_ITERS, network_recipe

SHIPPED_NETWORK = REPO / "models" / "vocoders" / "magnitude_net_tiny.onnx"


def network_round_trip(codec: MelCodec, network: Path) -> RoundTrip:
    """``codec`` decoded by the ``magnitude-net`` vocoder on ``network``, as the shipped bundles run it."""
    spec = VocoderSpec("magnitude-net", VOCODER.griffin_lim_iters, MEL_CONSISTENCY_ITERS, str(network))
    decode = MagnitudeNetGriffinLim(codec, spec)
    recipe = network_recipe(network)
    dilations = recipe.get("dilations", [1] * int(recipe["layers"]))  # networks trained before --dilations
    name = (f"magnitude-net `{network.name}` (width {recipe['width']}, dilations {','.join(map(str, dilations))}, "
            f"{recipe['steps']} steps)")
    return RoundTrip(name, lambda audio: decode(codec.encode(audio)[None])[0], codec.image_shape, codec)


def ways(codec: MelCodec, networks: list[Path]) -> list[RoundTrip]:
    """The rows: griffin-lim, every network, the true-magnitude ceiling."""
    return [RoundTrip("griffin-lim (NNLS + Griffin-Lim)", codec_round_trip(codec), codec.image_shape, codec),
            *(network_round_trip(codec, network) for network in networks),
            RoundTrip(f"Griffin-Lim from the true STFT magnitude, hop {codec.hop_length} (no mel)",
                      oracle_round_trip(codec.hop_length, codec.n_fft), None, None)]


def measure(way: RoundTrip, windows: np.ndarray, rate: int, source_f0: list[np.ndarray],
            source_notes: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """Means over the windows of one instrument (decode time: median per window)."""
    kept, voiced, scores, distances, seconds = 0, 0, [], [], []
    for window, reference_f0, reference_notes in zip(windows, source_f0, source_notes):
        start = time.perf_counter()
        decoded = way.run(window)[: window.size]
        seconds.append(time.perf_counter() - start)
        close, count = pitch_agreement(reference_f0, f0(decoded, rate))
        kept, voiced = kept + close, voiced + count
        if len(reference_notes[1]):
            scores.append(f1(reference_notes, transcribe(decoded, rate), ONSET_TOLERANCE)["f1"])
        distances.append(spectral_distances(window, decoded)[0])
    return {"pitch": kept / max(voiced, 1), "f1": float(np.mean(scores)) if scores else float("nan"),
            "l1_db": float(np.mean(distances)), "seconds": float(np.median(seconds))}


def shown(path: Path) -> str:
    """``path`` relative to the repository when it lies inside it."""
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--heldout", default=str(REPO / "data" / "heldout_eval"),
                        help="`data render --split heldout --soundfonts evaluation` output (README)")
    parser.add_argument("--instruments", default="guitar,violin,voice")
    parser.add_argument("--windows", type=int, default=12, help="windows per instrument (one per piece)")
    parser.add_argument("--networks", default=str(SHIPPED_NETWORK),
                        help="comma-separated magnitude-net ONNX files, one row each")
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)

    codec = preset(args.preset)
    rate = codec.sample_rate
    instruments = args.instruments.split(",")
    networks = [Path(p) for p in args.networks.split(",") if p]
    rows = ways(codec, networks)
    results: dict[str, dict[str, dict[str, float]]] = {way.name: {} for way in rows}
    for name in instruments:
        windows = piece_windows(Path(args.heldout) / name, codec.window_samples, rate, args.windows)
        source_f0 = [f0(w, rate) for w in windows]
        source_notes = [transcribe(w, rate) for w in windows]
        for way in rows:
            results[way.name][name] = measure(way, windows, rate, source_f0, source_notes)
            print(f"{name:8s} {way.name}: {results[way.name][name]}", flush=True)

    header = (["round trip"] + [f"pitch within 50 c, {n}" for n in instruments] + ["pitch, mean"]
              + [f"note F1, {n}" for n in instruments] + ["note F1, mean", "log-mel L1 dB", "decode / window"])
    table = []
    for way in rows:
        per = results[way.name]
        table.append([way.name] + [f"{per[n]['pitch']:.3f}" for n in instruments]
                     + [f"{np.mean([per[n]['pitch'] for n in instruments]):.3f}"]
                     + [f"{per[n]['f1']:.3f}" for n in instruments]
                     + [f"{np.nanmean([per[n]['f1'] for n in instruments]):.3f}",
                        f"{np.mean([per[n]['l1_db'] for n in instruments]):.2f}",
                        f"{np.median([per[n]['seconds'] for n in instruments]) * 1e3:.0f} ms"])
    stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    text = (f"## Vocoder round trip on held-out windows ({stamp}, `python -m bench.vocoder_round_trip`)\n\n"
            f"{machine()}; {args.windows} windows per instrument from `{shown(Path(args.heldout))}` (one a third of the way into "
            f"each piece), `{args.preset}` codec, each scored against itself: pyin frames within 50 c, basic-pitch "
            f"note F1 (100 ms onsets), log-mel L1 (128 bands, hop 256).\n\n{markdown_table(header, table)}\n")
    append_results(Path(args.out), text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
