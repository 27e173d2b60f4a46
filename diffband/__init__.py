"""diffband: grow instrument layers out of your own audio with diffusion models.

Subpackages: ``diffband.engine`` (runtime: numpy + ONNX Runtime), ``diffband.bridge``
(CLI, OSC server, live audio), ``diffband.export`` (torch side: data, training, export)
and ``diffband.evaluation``.  The repository keeps their folders at its top; an install
maps them here (``pyproject.toml``'s package-dir).  Run from a source checkout without
installing (``python -m diffband.bridge.cli`` in the checkout), this package finds them
beside it.
"""

from pathlib import Path

_checkout = Path(__file__).resolve().parent.parent
if (_checkout / "pyproject.toml").is_file() and (_checkout / "engine" / "__init__.py").is_file():
    __path__.append(str(_checkout))  # noqa: F821 - a package's __path__
