"""Numpy DDIM sampler whose step arithmetic follows diffusers' ``DDIMScheduler``.

The model is any callable ``eps = denoise(x, t)`` on batches ``x: (B, 1, H, W)``
and timesteps ``t: (B,)``; the engine passes an ONNX Runtime session, training
passes a torch UNet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np

from engine.schedule import NoiseSchedule

Denoiser = Callable[[np.ndarray, np.ndarray], np.ndarray]
Spacing = Literal["leading", "trailing"]


@dataclass(frozen=True)
class DDIMSampler:
    """DDIM (Song et al. 2021) on a :class:`NoiseSchedule`, epsilon prediction.

    Defaults equal diffusers' ``DDIMScheduler`` defaults (``clip_sample=True``,
    ``set_alpha_to_one=True``, ``steps_offset=0``, ``timestep_spacing="leading"``).
    """

    schedule: NoiseSchedule
    eta: float = 0.0
    spacing: Spacing = "leading"
    clip_sample: bool = True
    clip_sample_range: float = 1.0
    set_alpha_to_one: bool = True
    steps_offset: int = 0

    def timesteps(self, num_steps: int) -> np.ndarray:
        """Descending timesteps of a ``num_steps`` run over the whole schedule."""
        T = self.schedule.num_train_timesteps
        if not 1 <= num_steps <= T:
            raise ValueError(f"steps must be between 1 and {T}, got {num_steps}")
        if self.spacing == "leading":
            ratio = T // num_steps
            steps = (np.arange(0, num_steps) * ratio).round()[::-1].astype(np.int64) + self.steps_offset
        elif self.spacing == "trailing":
            ratio = T / num_steps
            steps = np.round(np.arange(T, 0, -ratio)).astype(np.int64) - 1
        else:
            raise ValueError(f"spacing must be 'leading' or 'trailing', got {self.spacing!r}")
        return steps

    def _alpha_prod(self, t: int) -> float:
        if t >= 0:
            return float(self.schedule.alphas_cumprod[t])
        return 1.0 if self.set_alpha_to_one else float(self.schedule.alphas_cumprod[0])

    def step(
        self,
        eps: np.ndarray,
        t: int,
        x: np.ndarray,
        num_steps: int,
        noise: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """One DDIM update from ``t``; returns ``(x_prev, predicted_x0)``."""
        prev_t = t - self.schedule.num_train_timesteps // num_steps
        alpha_t = self._alpha_prod(t)
        alpha_prev = self._alpha_prod(prev_t)
        beta_t = 1.0 - alpha_t
        x0 = (x - beta_t**0.5 * eps) / alpha_t**0.5
        if self.clip_sample:
            x0 = np.clip(x0, -self.clip_sample_range, self.clip_sample_range)
        variance = (1.0 - alpha_prev) / beta_t * (1.0 - alpha_t / alpha_prev)
        std = self.eta * variance**0.5
        direction = max(1.0 - alpha_prev - std**2, 0.0) ** 0.5 * eps
        x_prev = alpha_prev**0.5 * x0 + direction
        if self.eta > 0:
            if noise is None:
                raise ValueError("eta > 0 needs a noise array")
            x_prev = x_prev + std * noise
        return x_prev.astype(np.float32), x0.astype(np.float32)

    def run(
        self,
        denoise: Denoiser,
        x: np.ndarray,
        num_steps: int,
        rng: np.random.Generator,
        start_index: int = 0,
        progress: Callable[[int, int], None] | None = None,
    ) -> np.ndarray:
        """Denoise ``x`` through ``timesteps(num_steps)[start_index:]``; returns x_0."""
        steps = self.timesteps(num_steps)[start_index:]
        for i, t in enumerate(steps):
            t_batch = np.full((x.shape[0],), t, dtype=np.int64)
            eps = denoise(x, t_batch)
            noise = rng.standard_normal(x.shape, dtype=np.float32) if self.eta > 0 else None
            x, _ = self.step(eps, int(t), x, num_steps, noise)
            if progress is not None:
                progress(i + 1, len(steps))
        return x
