"""Convert torchvggish's ``.pth`` files (weights, PCA parameters) to ``.npz`` for the
torch-free VGGish in ``evaluation.vggish``.

    python -m diffband.export.vggish_weights vggish-10086976.pth vggish.npz
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch


def convert(source: Path | str, target: Path | str) -> Path:
    """Every tensor of the state dict in ``source`` as a float32 array in ``target``."""
    state = torch.load(Path(source), map_location="cpu", weights_only=True)
    arrays = {name: tensor.numpy().astype(np.float32) for name, tensor in state.items()}
    np.savez(Path(target), **arrays)
    return Path(target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", help="torchvggish .pth (weights or PCA parameters)")
    parser.add_argument("target", help=".npz to write")
    args = parser.parse_args(argv)
    print(convert(args.source, args.target))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
