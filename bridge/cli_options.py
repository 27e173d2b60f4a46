"""Command-line flags made from the option registry (``engine.options``), so every command
that takes technique options shows the same names, ranges, defaults and help."""

from __future__ import annotations

import argparse
from typing import Any, Iterable

from diffband.engine.options import Option, OptionError


def _checked(option: Option):
    """An argparse ``type`` that converts and range-checks with the option itself."""

    def convert(text: str) -> Any:
        try:
            return option.check(option.kind(text))
        except (OptionError, ValueError) as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    convert.__name__ = option.kind.__name__  # argparse names the type in its messages
    return convert


def add_option_flags(
    parser: argparse.ArgumentParser,
    options: Iterable[Option],
    defaults: dict[str, Any] | None = None,
    server_defaults: bool = False,
) -> None:
    """One ``--name`` flag per option, with its range and default in the help.

    ``defaults`` overrides an option's default for this command; with ``server_defaults``
    a flag left out stays None (the server applies the technique's default)."""
    defaults = defaults or {}
    for option in options:
        default = defaults.get(option.name, option.default)
        shown = "the technique's" if server_defaults else default
        parser.add_argument(
            f"--{option.name.replace('_', '-')}" if len(option.name) > 1 else f"-{option.name}",
            dest=option.name,
            type=_checked(option),
            default=None if server_defaults else default,
            metavar=option.name.upper() if not option.choices else "{" + ",".join(option.choices) + "}",
            help=f"{option.help} ({option.range_text}; default {shown})",
        )


def option_values(args: argparse.Namespace, options: Iterable[Option]) -> dict[str, Any]:
    """The parsed values of ``options`` that were given (or defaulted) on the command line."""
    return {o.name: getattr(args, o.name) for o in options if getattr(args, o.name, None) is not None}
