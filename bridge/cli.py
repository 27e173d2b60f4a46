"""The ``diffband`` command line.

Runtime commands (``models``, ``generate``) live here; training-side commands
(``data``, ``train``, ``export``) are registered by the ``export`` package through
the ``diffband.commands`` entry-point group, so this module never imports torch.
"""

from __future__ import annotations

import argparse
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
    print(f"{'name':<12} {'instrument':<11} {'rate':>6} {'window':>7} {'image':>8} {'steps':>6} {'prec':>4}  schedule")
    for item in found:
        if isinstance(item, BundleInfo):
            s = item.summary()
            shape = "x".join(map(str, s["image_shape"]))
            print(
                f"{s['name']:<12} {s['instrument']:<11} {s['sample_rate']:>6} {s['window_seconds']:>6.2f}s "
                f"{shape:>8} {str(s['train_steps']):>6} {s['precision']:>4}  {s['schedule']}  {s['path']}"
            )
        else:
            path, error = item
            print(f"{path.stem:<12} NOT A BUNDLE: {error}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from engine.generate import generate, images_to_audio
    from engine.model import load_models
    from engine.plots import save_spectrograms

    models = load_models([n for n in args.model.split(",") if n], device=args.device)
    out = Path(args.out)
    images_all, titles = [], []
    for model in models:
        with _StepBar(f"generate {model.name} ({model.provider})") as bar:
            images = generate(model, args.n, args.steps, args.seed, args.eta, bar, args.sampler)
        for i, audio in enumerate(images_to_audio(model, images)):
            _write_audio(out / f"{model.name}_{i}.wav", audio, model.info.sample_rate)
        images_all.extend(images)
        titles.extend(
            f"{model.name} #{i} (seed {args.seed}, {args.steps} {args.sampler.upper()} steps)" for i in range(len(images))
        )
    if args.plot:
        out.mkdir(parents=True, exist_ok=True)
        print(save_spectrograms(images_all, titles, out / "generate.png", models[0].info.codec.window_seconds))
    return 0


def _read_audio(path: str):
    import soundfile as sf

    try:
        audio, rate = sf.read(path, dtype="float32", always_2d=False)
    except Exception as error:
        raise ValueError(f"cannot read audio file {path}: {error}") from None
    return audio, rate


def _write_audio(path: Path, audio, rate: int) -> Path:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio, rate, subtype="FLOAT")
    print(path)
    return path


class _StepBar:
    """A tqdm bar driven by the engine's ``progress(done, total)`` callbacks."""

    def __init__(self, description: str):
        from tqdm import tqdm

        self.bar = tqdm(desc=description, unit="step")

    def __call__(self, done: int, total: int) -> None:
        self.bar.total = total
        self.bar.n = done
        self.bar.refresh()

    def __enter__(self) -> "_StepBar":
        return self

    def __exit__(self, *exc) -> None:
        self.bar.close()


def _plot_audio(path: Path, named_audio: list[tuple[str, object, int]], codec) -> None:
    """Spectrogram PNG of several signals (each encoded with the model's codec, full length)."""
    import numpy as np
    import soxr

    from engine.plots import save_spectrograms

    images, titles = [], []
    for name, audio, rate in named_audio:
        mono = np.asarray(audio, dtype=np.float32)
        mono = mono if mono.ndim == 1 else mono.mean(axis=1)
        if rate != codec.sample_rate:
            mono = soxr.resample(mono, rate, codec.sample_rate)
        images.append(codec.mel_to_image(codec.mel_magnitude(mono)))
        titles.append(name)
    save_spectrograms(images, titles, path, seconds_per_image=len(mono) / codec.sample_rate)
    print(path)


def cmd_cross(args: argparse.Namespace) -> int:
    from engine.cross import cross
    from engine.model import load_models

    audio, rate = _read_audio(args.input)
    names = [args.to] + ([args.invert] if args.invert else [])
    target, *source = load_models(names, device=args.device)
    with _StepBar(f"cross -> {target.name} ({target.provider})") as bar:
        out = cross(
            audio, rate, target, args.strength, args.steps, args.seed, progress=bar,
            invert_with=source[0] if source else None, eta=args.eta, sampler_kind=args.sampler,
        )
    out_path = _write_audio(Path(args.out), out, rate)
    if args.plot:
        _plot_audio(out_path.with_suffix(".png"), [("input", audio, rate), (f"cross -> {target.name}", out, rate)], target.info.codec)
    return 0


def cmd_double(args: argparse.Namespace) -> int:
    from engine.double import double
    from engine.model import load_models

    source, *targets = load_models([args.source, *[n for n in args.to.split(",") if n]], device=args.device)
    with _StepBar(f"double {source.name} -> {','.join(t.name for t in targets)}") as bar:
        layers = double(source, targets, args.steps, args.split, args.seed, args.n, args.eta, bar, args.sampler)
    out = Path(args.out)
    images, titles = [], []
    for index, (name, layer_images) in enumerate(layers):
        label = f"{index}_{name}"
        for i, image in enumerate(layer_images):
            _write_audio(out / f"{label}_{i}.wav", source.decode(image[None])[0], source.info.sample_rate)
            images.append(image)
            titles.append(f"layer {label} #{i} (split {args.split}, {args.steps} steps, seed {args.seed})")
    if args.plot:
        from engine.plots import save_spectrograms

        print(save_spectrograms(images, titles, out / "double.png", source.info.codec.window_seconds))
    return 0


def cmd_accompany(args: argparse.Namespace) -> int:
    from engine.accompany import accompany
    from engine.model import load_models, threads_per_model

    vocals, rate = _read_audio(args.input)
    names = [n for n in args.with_.split(",") if n]
    models = load_models(names, device=args.device, threads=threads_per_model(len(names)))
    with _StepBar(f"accompany with {','.join(m.name for m in models)}") as bar:
        result = accompany(
            vocals, rate, models, args.strength, args.steps, args.seed, args.layer_gain,
            progress=bar, eta=args.eta, sampler_kind=args.sampler, workers=len(models),
        )
    out = Path(args.out)
    for name, layer in result.layers.items():
        _write_audio(out / f"{name}.wav", layer, rate)
    _write_audio(out / "mix.wav", result.mix, rate)
    if args.plot:
        signals = [("vocals", vocals, rate), *[(n, l, rate) for n, l in result.layers.items()], ("mix", result.mix, rate)]
        _plot_audio(out / "accompany.png", signals, models[0].info.codec)
    return 0


def _add_sampling(parser: argparse.ArgumentParser, strength: bool = True) -> None:
    from engine.defaults import DEFAULT_STEPS, DEFAULT_STRENGTH
    from engine.samplers import SAMPLERS

    if strength:
        parser.add_argument("--strength", type=float, default=DEFAULT_STRENGTH, help="t/T the source is diffused to (0 keeps it, 1 ignores it; default from docs/results.md)")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="sampler steps over the whole schedule (default from docs/results.md)")
    parser.add_argument("--sampler", choices=SAMPLERS, default="ddim", help="ddim (deterministic at eta 0) or ddpm (ancestral)")
    parser.add_argument("--eta", type=float, default=0.0, help="DDIM eta (0: deterministic)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", action="store_true", help="write a spectrogram PNG")
    _add_device(parser)


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
    p.add_argument("-o", "--out", required=True, help="output folder")
    _add_sampling(p, strength=False)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("cross", help="style transfer: diffuse INPUT to t and denoise with the target model")
    p.add_argument("input", help="audio file (any rate and channels)")
    p.add_argument("--to", required=True, help="target model name or .onnx path")
    p.add_argument("-o", "--out", required=True, help="output WAV (same rate, length and channels as INPUT)")
    p.add_argument("--invert", metavar="SOURCE_MODEL", help="reach t by DDIM inversion with the source's model (DDIB) instead of noising")
    _add_sampling(p)
    p.set_defaults(func=cmd_cross)

    p = sub.add_parser("double", help="paired layers / chorus: branch one generation into several models")
    p.add_argument("--from", dest="source", required=True, help="model that denoises the shared trunk")
    p.add_argument("--to", required=True, help="target model(s), comma-separated")
    p.add_argument("--split", type=float, default=0.2, help="share of the steps done by the source before branching")
    p.add_argument("-n", type=int, default=1, help="pairs to generate")
    p.add_argument("-o", "--out", required=True, help="output folder")
    _add_sampling(p, strength=False)
    p.set_defaults(func=cmd_double)

    p = sub.add_parser("accompany", help="vocals in: a cleaned, loudness-matched layer per instrument, and the mix")
    p.add_argument("input", help="vocal audio file")
    p.add_argument("--with", dest="with_", required=True, help="instrument model(s), comma-separated")
    p.add_argument("--layer-gain", type=float, default=-3.0, help="layer loudness relative to the vocal, dB")
    p.add_argument("-o", "--out", required=True, help="output folder (one WAV per layer + mix.wav)")
    _add_sampling(p)
    p.set_defaults(func=cmd_accompany)

    from bridge import cli_bridge, cli_eval

    cli_bridge.add_commands(sub)
    cli_eval.add_commands(sub)
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
        from engine.settings import setting

        if args.debug or setting("DIFFBAND_DEBUG"):
            raise
        print(f"diffband: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
