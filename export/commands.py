"""CLI subcommands of the training side: ``data``, ``train``, ``export``.

Registered through the ``diffband.commands`` entry points; registering imports no
torch, and a missing ``[train]`` extra gives one clear line when a command runs.
"""

from __future__ import annotations

import argparse
import importlib
from functools import partial
from pathlib import Path


def _need(module: str):
    """Import a training-side module, or explain which extra is missing."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        raise RuntimeError(
            f"this command needs the training extra ({error.name} is missing): pip install 'diffband[train]'"
        ) from None


# ------------------------------------------------------------------ data
def _render(args: argparse.Namespace) -> int:
    render = _need("diffband.export.data_render")
    from diffband.export.instruments import INSTRUMENTS

    names = list(INSTRUMENTS) if args.instruments == "all" else args.instruments.split(",")
    for name in names:
        pitch_range = parse_pitch_range(args.pitch_range) if args.pitch_range else None
        pieces = render.render_instrument(name, Path(args.out), args.minutes, args.seed, args.split, args.soundfonts, args.augment,
                                          pitch_range)
        seconds = sum(p.seconds for p in pieces)
        print(f"{name}: {len(pieces)} pieces, {seconds / 60:.1f} min -> {Path(args.out) / name}")
    return 0


def _prepare(args: argparse.Namespace) -> int:
    from diffband.engine.mel import preset
    from diffband.export.data_prepare import prepare

    from diffband.engine.condition import ConditionSpec

    given = {"harmonics": args.harmonics, "harmonic_decay": args.harmonic_decay, "placement": args.placement}
    drawing = {k: v for k, v in given.items() if v is not None}  # the rest: ConditionSpec's defaults
    if drawing and not args.condition:
        raise SystemExit("--harmonics, --harmonic-decay and --placement say how the melody condition is drawn: "
                         "add --condition basic-pitch")
    condition = ConditionSpec(kind=args.condition, **drawing) if args.condition else None
    report = prepare(Path(args.audio_dir), Path(args.out), preset(args.preset), args.instrument, args.silence_db,
                     condition=condition)
    print(
        f"{report.windows} windows from {report.files_read} files ({report.seconds_read / 60:.1f} min), "
        f"{report.silent_windows_skipped} silent windows skipped, {len(report.failed)} files failed -> {args.out}"
    )
    for failure in report.failed:
        print(f"  skipped {failure['file']}: {failure['error']}")
    return 0


def register_data(sub: argparse._SubParsersAction) -> None:
    from diffband.engine.condition import CONDITION_KINDS, PLACEMENTS, ConditionSpec
    from diffband.engine.mel import PRESETS
    from diffband.export.instruments import INSTRUMENTS

    data = sub.add_parser("data", help="render offline training audio, or prepare any audio folder")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    p = data_sub.add_parser("render", help="render music21 melodies with FluidSynth, per instrument")
    p.add_argument("--instruments", default="guitar,violin,voice,flute", help=f"comma list of {sorted(INSTRUMENTS)} or 'all'")
    p.add_argument("--minutes", type=float, default=30.0, help="minutes of audio per instrument")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="data/audio", help="folder; one subfolder per instrument")
    p.add_argument("--split", choices=("train", "heldout"),
                   help="draw only corpus pieces of this share (heldout: never drawn by --split train); default any")
    p.add_argument("--soundfonts", choices=("training", "evaluation"), default="training",
                   help="training soundfonts, or one no training render uses (for evaluation)")
    p.add_argument("--augment", action="store_true", help="vary articulation, room (reverb) and EQ per piece")
    p.add_argument("--pitch-range", metavar="LOW:HIGH",
                   help="transpose melodies into this MIDI range instead of the instrument's own (e.g. 40:93, so a model "
                        "also learns notes a source brings from outside its register)")
    p.set_defaults(func=_render)

    p = data_sub.add_parser("prepare", help="audio folder -> mel-image dataset (memory-mapped) + manifest")
    p.add_argument("audio_dir")
    p.add_argument("--out", required=True, help="dataset folder")
    p.add_argument("--preset", default="tiny", choices=sorted(PRESETS), help="mel geometry (image size, window length)")
    p.add_argument("--instrument", help="instrument name (default: the folder's name)")
    p.add_argument("--silence-db", type=float, default=-50.0, help="skip windows quieter than this RMS (dBFS)")
    p.add_argument("--condition", choices=CONDITION_KINDS,
                   help="also store each window's melody condition (for train --condition); default none")
    p.add_argument("--harmonics", type=int,
                   help=f"with --condition: harmonics drawn per pitch, the fundamental included (default {ConditionSpec.harmonics})")
    p.add_argument("--harmonic-decay", type=float,
                   help=f"with --condition: harmonic h drawn at 1/h**DECAY of the fundamental (default {ConditionSpec.harmonic_decay:g})")
    p.add_argument("--placement", choices=PLACEMENTS,
                   help="with --condition: 'filter' (by each mel filter's response) or 'row' (bundles before 2026-11-27); "
                        f"default {ConditionSpec.placement}")
    p.set_defaults(func=_prepare)


# ------------------------------------------------------------------ train
def _train(args: argparse.Namespace) -> int:
    from diffband.export.train_config import config_from_args

    train = _need("diffband.export.train")
    result = train.train(config_from_args(args))
    print(
        f"trained {result['steps']} steps in {result['wall_seconds'] / 60:.1f} min; "
        f"mean loss of the last 100 steps {result['final_loss_mean_last_100']} -> {args.out}"
    )
    return 0


def register_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train one instrument's diffusion UNet on a prepared dataset")
    from diffband.export.train_config import add_arguments

    add_arguments(p)
    p.set_defaults(func=_train)

    from diffband.engine.mel import PRESETS

    v = sub.add_parser("train-vocoder", help="train the magnitude-net vocoder (mel image -> STFT magnitude) on audio "
                                             "and export it to ONNX; name it in a bundle with export --vocoder-network")
    v.add_argument("audio_dirs", nargs="+", metavar="AUDIO_DIR", help="folders of audio (searched recursively)")
    v.add_argument("--out", required=True, help="ONNX file, e.g. models/vocoders/magnitude_net_tiny.onnx")
    v.add_argument("--preset", choices=sorted(PRESETS), default="tiny", help="mel codec geometry of the bundles it serves")
    v.add_argument("--steps", type=int, default=12000)
    v.add_argument("--batch-size", type=int, default=16)
    v.add_argument("--width", type=int, default=384, help="channels of the convolution stack")
    v.add_argument("--dilations", default="1,1,1",
                   help="one residual block per comma-separated entry, its convolution's dilation (e.g. 1,2,4,1,2,4)")
    v.add_argument("--kernel", type=int, default=3, help="odd kernel length (frames) of every convolution")
    v.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (one-cycle)")
    v.add_argument("--threads", type=int, default=2)
    v.add_argument("--seed", type=int, default=0)
    v.add_argument("--fp16", action="store_true", help="store the weights in half precision (half the file)")
    v.set_defaults(func=_train_vocoder)


def _train_vocoder(args: argparse.Namespace) -> int:
    from diffband.engine.mel import preset

    vocoder_train = _need("diffband.export.vocoder_train")
    summary = vocoder_train.train_magnitude_net(
        preset(args.preset), [Path(d) for d in args.audio_dirs], Path(args.out), steps=args.steps,
        batch_size=args.batch_size, width=args.width, dilations=_whole_numbers(args.dilations, "--dilations"),
        kernel=args.kernel, lr=args.lr, threads=args.threads, seed=args.seed, half=args.fp16)
    print(f"trained {summary['steps']} steps on {summary['minutes']:.0f} min of audio in {summary['seconds'] / 60:.1f} min; "
          f"final loss {summary['final_loss']:.4f} -> {args.out}")
    return 0


# ------------------------------------------------------------------ export
def _export(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if args.fp16 and args.int8:
        raise ValueError("choose one of --fp16 and --int8")
    convert = _write_fp16 if args.fp16 else partial(_write_int8, dataset=Path(args.int8)) if args.int8 else None
    onnx_export = _need("diffband.export.onnx_export")
    pitch_range = parse_pitch_range(args.pitch_range) if args.pitch_range else None
    if args.to_diffusers:
        if not args.from_bundle or convert is not None or pitch_range is not None:
            raise ValueError("--to-diffusers recovers the UNet of --from-bundle ONNX into the folder --out; it takes no other option")
        check = _need("diffband.export.recover").write_run(Path(args.from_bundle), out)
        print(f"wrote {out}/unet_ema and {out}/training.json; their noise predictions differ from the bundle's by "
              f"{100 * check['relative_error']:.2f} % (train --init-weights {out}/unet_ema fine-tunes them)")
        return 0
    if args.vocoder_network not in (None, "none"):  # refuse a wrong network before anything is written
        vocoder_train = _need("diffband.export.vocoder_train")
        network = Path(args.vocoder_network)
        if not network.is_file():
            raise FileNotFoundError(f"no vocoder network at {network}")
        if args.from_bundle:
            from diffband.engine.model import read_bundle_info

            vocoder_train.check_network(network, read_bundle_info(Path(args.from_bundle)).codec)
        else:  # the codec is known once the run is exported; set_vocoder_network checks it then
            vocoder_train.network_recipe(network)
    if args.from_bundle:
        if convert is None and pitch_range is None and args.vocoder_network is None:
            raise ValueError("--from-bundle converts a bundle; it needs --fp16, --int8 DATASET, --pitch-range LOW:HIGH "
                             "or --vocoder-network ONNX|none")
        source = Path(args.from_bundle)
        if convert is not None:
            convert(source, out)
            source = out
        if pitch_range is not None:
            info = onnx_export.set_pitch_range(source, out, pitch_range)
            print(f"wrote {out} (pitch range {info.pitch_range[0]}-{info.pitch_range[1]})")
            source = out
        if args.vocoder_network is not None:
            _set_vocoder_network(source, out, args.vocoder_network)
        return 0
    fp32_out = out.with_name(out.stem + ".fp32-staging.onnx") if convert else out
    if args.from_diffusers:
        mel = {k: v for k, v in (("sample_rate", args.sample_rate), ("n_fft", args.n_fft),
                                 ("hop_length", args.hop_length), ("top_db", args.top_db)) if v is not None}
        if not args.instrument:
            raise ValueError("--instrument is required with --from-diffusers")
        result = onnx_export.import_diffusers(Path(args.from_diffusers), fp32_out, args.instrument, mel, args.opset,
                                              pitch_range)
    else:
        if not args.run_dir:
            raise ValueError("give a training run folder, or --from-diffusers DIR")
        result = onnx_export.export_run(Path(args.run_dir), fp32_out, args.instrument, args.opset, pitch_range)
    print(
        f"exported fp32 graph ({result['bytes'] / 1e6:.1f} MB); ONNX Runtime vs torch max abs error "
        f"{result['max_abs_error']:.2e} on {result['provider']}"
    )
    if convert is None:
        print(f"wrote {out}")
    else:
        try:
            convert(fp32_out, out)
        finally:
            fp32_out.unlink(missing_ok=True)
    if args.vocoder_network is not None:
        _set_vocoder_network(out, out, args.vocoder_network)
    return 0


def _set_vocoder_network(source: Path, out: Path, network: str) -> None:
    vocoder_train = _need("diffband.export.vocoder_train")
    info = vocoder_train.set_vocoder_network(source, out, None if network == "none" else Path(network))
    where = f" on {info.vocoder.network}" if info.vocoder.network else ""
    print(f"wrote {out} (vocoder {info.vocoder.name}{where})")


def _whole_numbers(text: str, option: str) -> tuple[int, ...]:
    """``"1,2,4"`` -> ``(1, 2, 4)``; a ValueError naming ``option`` otherwise."""
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"{option} must be comma-separated whole numbers (e.g. 1,2,4), got {text!r}") from None


def parse_pitch_range(text: str) -> tuple[int, int]:
    """``"40:76"`` -> ``(40, 76)``; a ValueError naming the expected form otherwise."""
    low, sep, high = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return int(low), int(high)
    except ValueError:
        raise ValueError(f"--pitch-range must be LOW:HIGH in MIDI notes (e.g. 55:93), got {text!r}") from None


def _write_fp16(src: Path, out: Path) -> int:
    fp16 = _need("diffband.export.fp16")
    result = fp16.convert_bundle_to_fp16(src, out)
    print(
        f"wrote {out} (fp16, {result['bytes'] / 1e6:.1f} MB, was {result['fp32_bytes'] / 1e6:.1f} MB); "
        f"fp16 vs fp32 max abs error {result['max_abs_error']:.2e}"
    )
    return 0


def _write_int8(src: Path, out: Path, dataset: Path) -> int:
    int8 = _need("diffband.export.int8")
    result = int8.quantize_bundle_int8(src, out, dataset)
    print(
        f"wrote {out} (int8 convolutions, {result['bytes'] / 1e6:.1f} MB, was {result['fp32_bytes'] / 1e6:.1f} MB); "
        f"int8 vs fp32 relative eps error {result['relative_error']:.3f} on inputs from {dataset}"
    )
    return 0


def register_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a training run (EMA weights) or a diffusers UNet to an ONNX bundle")
    p.add_argument("run_dir", nargs="?", help="training run folder")
    p.add_argument("--out", required=True, help="bundle path, e.g. models/violin.onnx")
    p.add_argument("--instrument", help="instrument name (default: the run's)")
    p.add_argument("--opset", type=int, default=18)
    p.add_argument("--fp16", action="store_true",
                   help="write a half-precision bundle (float32 inputs/outputs), checked against the fp32 graph")
    p.add_argument("--int8", metavar="DATASET",
                   help="write a bundle with int8 convolutions for CPUs (float32 inputs/outputs), calibrated on the "
                        "instrument's prepared dataset DATASET and checked against the fp32 graph")
    p.add_argument("--from-bundle", metavar="ONNX",
                   help="with --fp16 or --int8: convert an existing fp32 bundle instead of a run; with --pitch-range: "
                        "set its range (the graph is untouched)")
    p.add_argument("--to-diffusers", action="store_true",
                   help="with --from-bundle: write the bundle's UNet as a run folder (--out/unet_ema, a diffusers folder, "
                        "and --out/training.json) to fine-tune it with train --init-weights; int8 weights come back dequantized")
    p.add_argument("--pitch-range", metavar="LOW:HIGH",
                   help="MIDI notes the training melodies were kept within (the register option moves input into "
                        "them); default for a run: the render recipe's range of its instrument")
    p.add_argument("--vocoder-network", metavar="ONNX|none",
                   help="the bundle's vocoder becomes magnitude-net on this network (from train-vocoder; stored as a "
                        "path relative to the bundle, with its SHA-256); none: back to griffin-lim")
    g = p.add_argument_group("import a diffusers UNet2DModel (audio-diffusion layout)")
    g.add_argument("--from-diffusers", metavar="DIR")
    g.add_argument("--sample-rate", type=int)
    g.add_argument("--n-fft", type=int)
    g.add_argument("--hop-length", type=int)
    g.add_argument("--top-db", type=float)
    p.set_defaults(func=_export)
