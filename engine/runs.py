"""Runs of True in a boolean array: the rests, voiced passages and shifted spans the engine finds."""

from __future__ import annotations

import numpy as np


def true_runs(flags: np.ndarray) -> np.ndarray:
    """``(k, 2)`` integer ``[start, stop)`` of each run of True in the 1-D ``flags``, in order."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], np.asarray(flags).astype(np.int8), [0]])))
    return edges.reshape(-1, 2)
