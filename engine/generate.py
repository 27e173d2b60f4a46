"""generate: pure noise denoised by one instrument's model."""

from __future__ import annotations

from typing import Callable

import numpy as np

from diffband.engine.model import DiffusionModel
from diffband.engine.denoise import denoise
from diffband.engine.samplers import make_sampler
from diffband.engine.windowing import limit_peak

Progress = Callable[[int, int], None]


def generate(
    model: DiffusionModel,
    n: int = 1,
    steps: int = 50,
    seed: int = 0,
    eta: float = 0.0,
    progress: Progress | None = None,
    sampler_kind: str = "ddim",
    eps_scale: float = 1.0,
) -> np.ndarray:
    """``n`` mel images ``(n, n_mels, frames)`` from noise in ``steps`` sampler steps."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 1, *model.info.image_shape), dtype=np.float32)
    sampler = make_sampler(model.info.schedule, sampler_kind, eta, eps_scale)
    return denoise(model, sampler, x, steps, rng, progress=progress)[:, 0]


def images_to_audio(model: DiffusionModel, images: np.ndarray) -> list[np.ndarray]:
    """Decode each mel image to audio at the model's rate, each peaking at or below -1 dBFS."""
    return [limit_peak(audio) for audio in model.decode(images)]
