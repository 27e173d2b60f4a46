"""Numpy DDPM, DDIM and inverse-DDIM samplers whose step arithmetic follows diffusers'
``DDPMScheduler``, ``DDIMScheduler`` and ``DDIMInverseScheduler``.

The model is any callable ``eps = denoise(x, t)`` on batches ``x: (B, 1, H, W)``
and timesteps ``t: (B,)``; the engine passes an ONNX Runtime session, training
passes a torch UNet.

Both forward samplers take ``eps_scale``, epsilon scaling (Ning et al., "Elucidating the
exposure bias in diffusion models", ICLR 2024): the model's noise estimate is divided by it
at every step, which counters the drift of a sampling chain away from the inputs the model
was trained on (exposure bias); 1 is the plain sampler.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np

from diffband.engine.schedule import NoiseSchedule

Denoiser = Callable[[np.ndarray, np.ndarray], np.ndarray]
Spacing = Literal["leading", "trailing"]


class Sampler:
    """Step arithmetic of a sampler: its timesteps, and one update per timestep.

    The loop that runs them (and picks the numpy or the on-device path) is
    ``engine.denoise``."""

    schedule: NoiseSchedule

    def timesteps(self, num_steps: int) -> np.ndarray:
        raise NotImplementedError

    def step(
        self, eps: np.ndarray, t: int, x: np.ndarray, num_steps: int, noise: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def needs_noise(self, t: int) -> bool:
        raise NotImplementedError


def _leading_timesteps(T: int, num_steps: int, offset: int = 0) -> np.ndarray:
    if not 1 <= num_steps <= T:
        raise ValueError(f"steps must be between 1 and {T}, got {num_steps}")
    ratio = T // num_steps
    return (np.arange(0, num_steps) * ratio).round()[::-1].astype(np.int64) + offset


def _predict_x0(x: np.ndarray, eps: np.ndarray, c_eps: float, c_x: float, clip: float | None) -> np.ndarray:
    """``x0 = (x - c_eps * eps) / c_x`` with ``c_eps = sqrt(1 - alpha_t)``, ``c_x = sqrt(alpha_t)``, clipped."""
    x0 = (x - c_eps * eps) / c_x
    return np.clip(x0, -clip, clip) if clip is not None else x0


@dataclass(frozen=True)
class DDPMSampler(Sampler):
    """Ancestral DDPM (Ho et al. 2020), ``variance_type="fixed_small"``, epsilon prediction.

    Defaults equal diffusers' ``DDPMScheduler`` (``clip_sample=True``, leading spacing).
    """

    schedule: NoiseSchedule
    clip_sample: bool = True
    clip_sample_range: float = 1.0
    eps_scale: float = 1.0

    def timesteps(self, num_steps: int) -> np.ndarray:
        return _leading_timesteps(self.schedule.num_train_timesteps, num_steps)

    def needs_noise(self, t: int) -> bool:
        return t > 0

    def step(
        self, eps: np.ndarray, t: int, x: np.ndarray, num_steps: int, noise: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """One ancestral step from ``t``; returns ``(x_prev, predicted_x0)``."""
        prev_t = t - self.schedule.num_train_timesteps // num_steps
        abar = self.schedule.alphas_cumprod
        alpha_t = float(abar[t])
        alpha_prev = float(abar[prev_t]) if prev_t >= 0 else 1.0
        current_alpha = alpha_t / alpha_prev
        current_beta = 1.0 - current_alpha
        x0 = _predict_x0(x, eps, (1.0 - alpha_t) ** 0.5 / self.eps_scale, alpha_t**0.5,
                         self.clip_sample_range if self.clip_sample else None)
        x0_coeff = alpha_prev**0.5 * current_beta / (1.0 - alpha_t)
        x_coeff = current_alpha**0.5 * (1.0 - alpha_prev) / (1.0 - alpha_t)
        x_prev = x0_coeff * x0 + x_coeff * x
        if t > 0:
            if noise is None:
                raise ValueError("DDPM steps with t > 0 need a noise array")
            variance = max((1.0 - alpha_prev) / (1.0 - alpha_t) * current_beta, 1e-20)
            x_prev = x_prev + variance**0.5 * noise
        return x_prev.astype(np.float32), x0.astype(np.float32)


@dataclass(frozen=True)
class DDIMSampler(Sampler):
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
    eps_scale: float = 1.0

    def timesteps(self, num_steps: int) -> np.ndarray:
        """Descending timesteps of a ``num_steps`` run over the whole schedule."""
        T = self.schedule.num_train_timesteps
        if not 1 <= num_steps <= T:
            raise ValueError(f"steps must be between 1 and {T}, got {num_steps}")
        if self.spacing == "leading":
            steps = _leading_timesteps(T, num_steps, self.steps_offset)
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

    def coefficients(self, t: int, num_steps: int) -> tuple[float, float, float, float, float]:
        """The update from ``t`` as five numbers ``(c_eps, c_x, c_x0, c_dir, std)``:
        ``x0 = clip((x - c_eps * eps) / c_x)``, ``x_prev = c_x0 * x0 + c_dir * eps + std * noise``
        (``eps_scale`` folded into ``c_eps`` and ``c_dir``).
        Shared by :meth:`step` and the on-device loop (``engine.device_loop``)."""
        prev_t = t - self.schedule.num_train_timesteps // num_steps
        alpha_t = self._alpha_prod(t)
        alpha_prev = self._alpha_prod(prev_t)
        beta_t = 1.0 - alpha_t
        variance = (1.0 - alpha_prev) / beta_t * (1.0 - alpha_t / alpha_prev)
        std = self.eta * variance**0.5
        direction = max(1.0 - alpha_prev - std**2, 0.0) ** 0.5
        return beta_t**0.5 / self.eps_scale, alpha_t**0.5, alpha_prev**0.5, direction / self.eps_scale, std

    def step(
        self,
        eps: np.ndarray,
        t: int,
        x: np.ndarray,
        num_steps: int,
        noise: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """One DDIM update from ``t``; returns ``(x_prev, predicted_x0)``."""
        c_eps, c_x, c_x0, c_dir, std = self.coefficients(t, num_steps)
        x0 = _predict_x0(x, eps, c_eps, c_x, self.clip_sample_range if self.clip_sample else None)
        x_prev = c_x0 * x0 + c_dir * eps
        if self.eta > 0:
            if noise is None:
                raise ValueError("eta > 0 needs a noise array")
            x_prev = x_prev + std * noise
        return x_prev.astype(np.float32), x0.astype(np.float32)

    def needs_noise(self, t: int) -> bool:
        return self.eta > 0


@dataclass(frozen=True)
class DDIMInverseSampler(Sampler):
    """Deterministic DDIM inversion (as diffusers' ``DDIMInverseScheduler``): walks clean
    images *up* the DDIM timesteps, ascending, with the model's noise estimate at each."""

    schedule: NoiseSchedule

    def timesteps(self, num_steps: int) -> np.ndarray:
        """The DDIM (leading) timesteps of a ``num_steps`` run, ascending."""
        return _leading_timesteps(self.schedule.num_train_timesteps, num_steps)[::-1].copy()

    def needs_noise(self, t: int) -> bool:
        return False

    def step(
        self, eps: np.ndarray, t: int, x: np.ndarray, num_steps: int, noise: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """From the level below ``t`` (clean below the first) up to ``t``; returns ``(x_t, predicted_x0)``."""
        below = t - self.schedule.num_train_timesteps // num_steps
        alpha_prev = float(self.schedule.alphas_cumprod[below]) if below >= 0 else 1.0
        alpha_t = float(self.schedule.alphas_cumprod[t])
        x0 = (x - (1.0 - alpha_prev) ** 0.5 * eps) / alpha_prev**0.5
        return (alpha_t**0.5 * x0 + (1.0 - alpha_t) ** 0.5 * eps).astype(np.float32), x0


SAMPLERS: tuple[str, ...] = ("ddim", "ddpm")


def make_sampler(schedule: NoiseSchedule, kind: str = "ddim", eta: float = 0.0, eps_scale: float = 1.0) -> Sampler:
    """``"ddim"`` (with ``eta``) or ``"ddpm"`` (ancestral; ``eta`` does not apply), both with ``eps_scale``."""
    if not eps_scale > 0:
        raise ValueError(f"eps_scale must be positive, got {eps_scale}")
    if kind == "ddim":
        return DDIMSampler(schedule, eta=eta, eps_scale=eps_scale)
    if kind == "ddpm":
        return DDPMSampler(schedule, eps_scale=eps_scale)
    raise ValueError(f"unknown sampler {kind!r}; choose one of {SAMPLERS}")
