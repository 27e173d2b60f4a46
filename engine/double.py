"""double-diffusion (report eqs. 4.2-4.3), generalised to a chorus of N layers.

The source model denoises noise for the first ``split`` share of the DDIM steps;
the intermediate is then finished by the source model (its own layer) and by each
target model.  Every model is called once per step, with all of its layers batched.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from engine.bundle import check_compatible
from engine.model import DiffusionModel
from engine.samplers import make_sampler

Progress = Callable[[int, int], None]


def double(
    source: DiffusionModel,
    targets: list[DiffusionModel],
    steps: int = 50,
    split: float = 0.2,
    seed: int = 0,
    n: int = 1,
    eta: float = 0.0,
    progress: Progress | None = None,
    sampler_kind: str = "ddim",
) -> list[tuple[str, np.ndarray]]:
    """Layers ``[(model name, images (n, n_mels, frames)), ...]``: the source's first, then each target's."""
    if not targets:
        raise ValueError("double-diffusion needs at least one target model")
    if not 0.0 <= split <= 1.0:
        raise ValueError(f"split must be between 0 and 1, got {split}")
    models = [source, *targets]
    check_compatible([m.info for m in models])
    sampler = make_sampler(source.info.schedule, sampler_kind, eta)
    timesteps = sampler.timesteps(steps)
    branch = int(round(split * steps))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 1, *source.info.image_shape), dtype=np.float32)

    trunk_progress = (lambda i, _: progress(i, steps)) if progress else None
    x = sampler.run(source, x, steps, rng, progress=trunk_progress, stop_index=branch)  # eq. 4.2 to the split

    # Each model runs once per step, on all of its layers (rows of ``branches``).
    rows_of: dict[int, list[int]] = {}
    for k, m in enumerate(models):
        rows_of.setdefault(id(m), []).append(k)
    branches = np.repeat(x[None], len(models), axis=0)  # (layers, n, 1, H, W)
    for j, t in enumerate(timesteps[branch:]):
        noise = rng.standard_normal(branches.shape, dtype=np.float32) if sampler.needs_noise(int(t)) else None
        for rows in rows_of.values():
            batch = branches[rows].reshape(-1, *x.shape[1:])
            eps = models[rows[0]](batch, np.full(batch.shape[0], t)).reshape(len(rows), *x.shape)
            for r, k in enumerate(rows):
                branches[k], _ = sampler.step(eps[r], int(t), branches[k], steps, None if noise is None else noise[k])
        if progress:
            progress(branch + j + 1, steps)
    return [(m.name, branches[k][:, 0]) for k, m in enumerate(models)]
