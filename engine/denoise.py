"""The one denoising loop: a sampler's steps (``engine.samplers``) run with models.

Samplers are step arithmetic; this loop owns the iteration.  It runs one or more
*lanes* — ``(model, x)`` pairs — through the same timesteps in lockstep: every step
calls each model once on all of its lanes together, and noise (when the sampler
needs it) is drawn once per step for all lanes, lane ``k`` taking slice ``k``.  A
single lane is an ordinary denoise; several lanes are double-diffusion's branches.
When every lane's model has an on-device loop that supports the sampler
(``engine.device_loop``: DDIM at eta 0, no noise, so lanes are independent), each
lane runs there instead; the results agree with the numpy loop to float32 rounding.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from diffband.engine.samplers import Denoiser, Sampler

Progress = Callable[[int, int], None]


def denoise(
    model: Denoiser,
    sampler: Sampler,
    x: np.ndarray,
    num_steps: int,
    rng: np.random.Generator,
    start_index: int = 0,
    stop_index: int | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """Denoise ``x`` through ``sampler.timesteps(num_steps)[start_index:stop_index]`` with ``model``;
    returns the last ``x`` (x_0 when the run goes to the end)."""
    return denoise_lanes([(model, x)], sampler, num_steps, rng, start_index, stop_index, progress)[0]


def _device_loops(lanes: list[tuple[Denoiser, np.ndarray]], sampler: Sampler) -> list | None:
    loops = [getattr(model, "device_loop", None) for model, _ in lanes]
    return loops if all(loop is not None and loop.supports(sampler) for loop in loops) else None


def denoise_lanes(
    lanes: list[tuple[Denoiser, np.ndarray]],
    sampler: Sampler,
    num_steps: int,
    rng: np.random.Generator,
    start_index: int = 0,
    stop_index: int | None = None,
    progress: Progress | None = None,
) -> list[np.ndarray]:
    """Run every ``(model, x)`` lane through the same steps; the lanes' final ``x`` in lane order.

    All ``x`` have one shape.  ``progress(done, total)`` counts steps of the whole run."""
    steps = sampler.timesteps(num_steps)[start_index:stop_index]
    loops = _device_loops(lanes, sampler)
    if loops is not None:
        out = []
        for k, (loop, (_, x)) in enumerate(zip(loops, lanes)):
            def lane_progress(done: int, total: int, k: int = k) -> None:
                if progress is not None:
                    progress(k * total + done, total * len(lanes))

            out.append(loop.run(sampler, x, num_steps, steps, lane_progress))
        return out

    xs = [np.asarray(x, dtype=np.float32) for _, x in lanes]
    shape = xs[0].shape
    groups: dict[int, list[int]] = {}  # a model called once per step on all of its lanes
    for k, (model, _) in enumerate(lanes):
        groups.setdefault(id(model), []).append(k)
    for i, t in enumerate(steps):
        noise = rng.standard_normal((len(lanes), *shape), dtype=np.float32) if sampler.needs_noise(int(t)) else None
        for rows in groups.values():
            batch = np.concatenate([xs[k] for k in rows]) if len(rows) > 1 else xs[rows[0]]
            eps = lanes[rows[0]][0](batch, np.full(batch.shape[0], t, dtype=np.int64)).reshape(len(rows), *shape)
            for r, k in enumerate(rows):
                xs[k], _ = sampler.step(eps[r], int(t), xs[k], num_steps, None if noise is None else noise[k])
        if progress is not None:
            progress(i + 1, len(steps))
    return xs
