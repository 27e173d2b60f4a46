"""The ``diffband`` command line.

``models`` lives here; the technique commands are made from the technique registry
(``bridge.cli_techniques``); the DAW-facing ones are in ``bridge.cli_bridge``, evaluation
in ``bridge.cli_eval``; training-side commands
(``data``, ``train``, ``export``) are registered by the ``export`` package through
the ``diffband.commands`` entry-point group, so this module never imports torch.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import entry_points
from pathlib import Path

from diffband.bridge.cli_techniques import add_technique_commands
from diffband.engine import __version__


def cmd_models(args: argparse.Namespace) -> int:
    from diffband.engine.bundle import BundleInfo
    from diffband.engine.model import list_bundles, model_dirs

    found = list_bundles(Path(args.dir) if args.dir else None)
    if not found:
        where = args.dir or ", ".join(str(d) for d in model_dirs())
        print(f"no bundles found in {where}")
        return 1
    print(f"{'name':<12} {'instrument':<11} {'rate':>6} {'window':>7} {'image':>8} {'steps':>6} {'prec':>4} {'follow':>6} {'range':>7}  schedule")
    for item in found:
        if isinstance(item, BundleInfo):
            s = item.summary()
            shape = "x".join(map(str, s["image_shape"]))
            notes = "-".join(map(str, s["pitch_range"])) if s["pitch_range"] else "?"
            print(
                f"{s['name']:<12} {s['instrument']:<11} {s['sample_rate']:>6} {s['window_seconds']:>6.2f}s "
                f"{shape:>8} {str(s['train_steps']):>6} {s['precision']:>4} {'notes' if item.condition else 'off':>6} {notes:>7}  "
                f"{s['schedule']}  {s['path']}"
            )
        else:
            path, error = item
            print(f"{path.stem:<12} NOT A BUNDLE: {error}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="diffband", description="Diffusion instrument layers for your DAW.")
    parser.add_argument("--version", action="version", version=f"diffband {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("models", help="list model bundles and their metadata")
    p.add_argument("dir", nargs="?", help="folder to list (default: $DIFFBAND_MODELS and ./models)")
    p.set_defaults(func=cmd_models)

    add_technique_commands(sub)

    from diffband.bridge import cli_bridge, cli_eval

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
        from diffband.engine.settings import setting

        if args.debug or setting("DIFFBAND_DEBUG"):
            raise
        print(f"diffband: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
