"""``diffband generate|cross|chorus|accompany``: one subcommand per entry of the technique
registry (``engine.techniques``), with its options, defaults and help from there.

Every command validates its input before any work starts (a missing file says
``not found: PATH``; no progress bar is drawn first), runs the technique with a
progress bar, and writes one WAV per layer (and a spectrogram PNG with ``--plot``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from diffband.bridge.audio_files import read_audio, write_audio
from diffband.bridge.cli_options import add_option_flags, option_values
from diffband.engine.techniques import TECHNIQUES, Layer, Technique

#: Older flag names for ``--with`` that the README used before the registry (kept working).
MODEL_FLAG_ALIASES: dict[str, tuple[str, ...]] = {"generate": ("--model",), "cross": ("--to",), "chorus": ("--to",)}
PEAK_NOTE = "Every layer written peaks at or below -1 dBFS (a gain, never clipping)."


class StepBar:
    """A tqdm bar driven by the engine's ``progress(done, total)`` callbacks."""

    def __init__(self, description: str):
        from tqdm import tqdm

        self.bar = tqdm(desc=description, unit="step")

    def __call__(self, done: int, total: int) -> None:
        self.bar.total = total
        self.bar.n = done
        self.bar.refresh()

    def __enter__(self) -> "StepBar":
        return self

    def __exit__(self, *exc) -> None:
        self.bar.close()


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="auto (best available), cpu, cuda, tensorrt, coreml or directml")


def add_technique_commands(sub: argparse._SubParsersAction) -> None:
    """One subcommand per registered technique."""
    for spec in TECHNIQUES.values():
        p = sub.add_parser(spec.name, aliases=list(spec.aliases), help=spec.help, description=f"{spec.help}. {PEAK_NOTE}")
        if spec.input == "audio":
            p.add_argument("input", help="audio file (any rate, length and channels; the layers keep them)")
        elif spec.input == "optional":
            p.add_argument("input", nargs="?", help="audio file to start from (without it: from noise)")
        flags = ("--with", *MODEL_FLAG_ALIASES.get(spec.name, ()))
        p.add_argument(*flags, dest="with_", required=spec.name != "chorus", metavar="MODEL[,MODEL...]",
                       help=f"model name(s) or .onnx path(s), comma-separated: {spec.models_help}")
        if spec.name == "chorus":
            p.add_argument("--from", dest="lead", metavar="MODEL", help="the model of the shared trunk (else the first of --with)")
        if spec.name == "cross":
            p.add_argument("--invert", metavar="SOURCE_MODEL",
                           help="reach t by DDIM inversion with the source's model (DDIB) instead of noising")
        p.add_argument("-o", "--out", required=True,
                       help="output folder (one WAV per layer); a .wav path where the technique makes one layer")
        add_option_flags(p, spec.options)
        p.add_argument("--plot", action="store_true", help="write a spectrogram PNG of the input and every layer")
        add_device(p)
        p.set_defaults(func=run_technique_command, technique=spec.name)


def _model_names(spec: Technique, args: argparse.Namespace) -> list[str]:
    names = [n for n in (args.with_ or "").split(",") if n]
    if spec.name == "chorus" and args.lead:
        names = [args.lead, *names]
    spec.check_models(len(names))
    return names


def run_technique_command(args: argparse.Namespace) -> int:
    from diffband.engine.model import load_models, threads_per_model
    from diffband.engine.techniques import Request, run

    spec = TECHNIQUES[args.technique]
    names = _model_names(spec, args)
    audio = rate = None
    if getattr(args, "input", None):
        audio, rate = read_audio(args.input)  # validated before any model loads or bar appears
    extra = [args.invert] if getattr(args, "invert", None) else []
    models = load_models([*names, *extra], device=args.device, threads=threads_per_model(len(names)))
    models, invert_with = models[: len(names)], (models[-1] if extra else None)
    options = option_values(args, spec.options)
    request = Request(models, options, audio, rate, workers=len(models), invert_with=invert_with)
    with StepBar(f"{spec.name} with {','.join(m.name for m in models)} ({models[0].provider})") as bar:
        request.progress = bar
        layers = run(spec.name, request)
    out = Path(args.out)
    single = out.suffix.lower() == ".wav"
    if single and len(layers) != 1:
        raise ValueError(f"{spec.name} made {len(layers)} layers; give -o a folder, not {out}")
    paths = [write_audio(out if single else out / f"{layer.name}.wav", layer.audio, layer.sample_rate) for layer in layers]
    for path, layer in zip(paths, layers):
        print(f"{path}{layer_placement_text(layer)}")
    if args.plot:
        signals = ([("input", audio, rate)] if audio is not None else []) + [(l.name, l.audio, l.sample_rate) for l in layers]
        picture = out.with_suffix(".png") if single else out / f"{spec.name}.png"
        print(plot_signals(picture, signals, models[0].info.codec))
    return 0


def plot_signals(path: Path, named_audio: list[tuple[str, object, int]], codec) -> Path:
    """Spectrogram PNG of several signals (each encoded with the model's codec, full length)."""
    import numpy as np
    import soxr

    from diffband.evaluation.plots import save_spectrograms

    images, titles = [], []
    for name, audio, rate in named_audio:
        mono = np.asarray(audio, dtype=np.float32)
        mono = mono if mono.ndim == 1 else mono.mean(axis=1)
        if rate != codec.sample_rate:
            mono = soxr.resample(mono, rate, codec.sample_rate)
        images.append(codec.mel_to_image(codec.mel_magnitude(mono)))
        titles.append(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_spectrograms(images, titles, path, seconds_per_image=len(mono) / codec.sample_rate)


def octaves_text(count: int) -> str:
    """'+1 octave', '-2 octaves'."""
    return f"{count:+d} octave{'s' if abs(count) > 1 else ''}"


def layer_placement_text(layer: Layer) -> str:
    """What the register and octave options did to a layer, for the line naming its file ("" for nothing)."""
    parts = [f"grown {octaves_text(layer.octave)} from the input"] if layer.octave else []
    if layer.fitted:
        parts.append(f"grown {octaves_text(layer.fitted)} higher in the instrument's range, then brought back down")
    return f" ({'; '.join(parts)})" if parts else ""
