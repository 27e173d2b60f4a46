"""The ``diffband`` command line.

Runtime commands (``models``, ``generate``) live here; training-side commands
(``data``, ``train``, ``export``) are registered by the ``export`` package through
the ``diffband.commands`` entry-point group, so this module never imports torch.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib.metadata import entry_points
from pathlib import Path

from engine import __version__


def _add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="auto (best available), cpu, cuda, tensorrt, coreml or directml")


def cmd_models(args: argparse.Namespace) -> int:
    from engine.bundle import BundleInfo
    from engine.model import list_bundles, model_dirs

    found = list_bundles(Path(args.dir) if args.dir else None)
    if not found:
        where = args.dir or ", ".join(str(d) for d in model_dirs())
        print(f"no bundles found in {where}")
        return 1
    print(f"{'name':<12} {'instrument':<11} {'rate':>6} {'window':>7} {'image':>8} {'steps':>6}  schedule")
    for item in found:
        if isinstance(item, BundleInfo):
            s = item.summary()
            shape = "x".join(map(str, s["image_shape"]))
            print(
                f"{s['name']:<12} {s['instrument']:<11} {s['sample_rate']:>6} {s['window_seconds']:>6.2f}s "
                f"{shape:>8} {str(s['train_steps']):>6}  {s['schedule']}  {s['path']}"
            )
        else:
            path, error = item
            print(f"{path.stem:<12} NOT A BUNDLE: {error}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    import soundfile as sf
    from tqdm import tqdm

    from engine.generate import generate, images_to_audio
    from engine.model import load_models
    from engine.plots import save_spectrograms

    names = [n for n in args.model.split(",") if n]
    models = load_models(names, device=args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    images_all, titles = [], []
    for model in models:
        with tqdm(total=args.steps, desc=f"generate {model.name} ({model.provider})", unit="step") as bar:
            images = generate(model, args.n, args.steps, args.seed, args.eta, progress=lambda i, n: bar.update(1))
        for i, audio in enumerate(images_to_audio(model, images)):
            path = out / f"{model.name}_{i}.wav"
            sf.write(path, audio, model.info.sample_rate, subtype="FLOAT")
            print(path)
        images_all.extend(images)
        titles.extend(f"{model.name} #{i} (seed {args.seed}, {args.steps} DDIM steps)" for i in range(len(images)))
    if args.plot:
        png = save_spectrograms(images_all, titles, out / "generate.png", models[0].info.codec.window_seconds)
        print(png)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="diffband", description="Diffusion instrument layers for your DAW.")
    parser.add_argument("--version", action="version", version=f"diffband {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("models", help="list model bundles and their metadata")
    p.add_argument("dir", nargs="?", help="folder to list (default: $DIFFBAND_MODELS and ./models)")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("generate", help="generate audio from noise with one or more instrument models")
    p.add_argument("--model", required=True, help="model name(s) or .onnx path(s), comma-separated")
    p.add_argument("-n", type=int, default=1, help="clips per model")
    p.add_argument("--steps", type=int, default=50, help="DDIM steps")
    p.add_argument("--eta", type=float, default=0.0, help="DDIM eta (0: deterministic)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--out", required=True, help="output folder")
    p.add_argument("--plot", action="store_true", help="write a spectrogram PNG")
    _add_device(p)
    p.set_defaults(func=cmd_generate)

    for entry in sorted(entry_points(group="diffband.commands"), key=lambda e: e.name):
        entry.load()(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("diffband: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # one readable line; --debug for the traceback
        if args.debug or os.environ.get("DIFFBAND_DEBUG"):
            raise
        print(f"diffband: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
