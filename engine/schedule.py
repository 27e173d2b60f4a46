"""Noise schedule of the DDPM forward process, defined once for training and runtime.

Matches diffusers' ``DDPMScheduler`` betas for ``linear``, ``scaled_linear`` and
``squaredcos_cap_v2`` (the cosine schedule of Nichol & Dhariwal, which the report
uses, section 4.2.2).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np

ScheduleType = Literal["linear", "scaled_linear", "squaredcos_cap_v2"]
SCHEDULE_TYPES: tuple[str, ...] = ("linear", "scaled_linear", "squaredcos_cap_v2")


@dataclass(frozen=True)
class NoiseSchedule:
    """``T`` betas of the forward process and the quantities derived from them."""

    schedule: ScheduleType = "squaredcos_cap_v2"
    num_train_timesteps: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULE_TYPES:
            raise ValueError(f"unknown noise schedule {self.schedule!r}; choose one of {SCHEDULE_TYPES}")
        if self.num_train_timesteps < 2:
            raise ValueError("num_train_timesteps must be at least 2")

    @cached_property
    def betas(self) -> np.ndarray:
        T = self.num_train_timesteps
        if self.schedule == "linear":
            betas = np.linspace(self.beta_start, self.beta_end, T, dtype=np.float32)
        elif self.schedule == "scaled_linear":
            betas = np.linspace(self.beta_start**0.5, self.beta_end**0.5, T, dtype=np.float32) ** 2
        else:
            betas = np.array(_cosine_betas(T), dtype=np.float32)
        betas.setflags(write=False)
        return betas

    @cached_property
    def alphas_cumprod(self) -> np.ndarray:
        """``abar_t`` for t = 0..T-1 (float32 cumulative product, as diffusers computes it)."""
        abar = np.cumprod(1.0 - self.betas, dtype=np.float32)
        abar.setflags(write=False)
        return abar

    def add_noise(self, x0: np.ndarray, noise: np.ndarray, t: np.ndarray | int) -> np.ndarray:
        """Closed-form forward diffusion ``D_t(x0) = sqrt(abar_t) x0 + sqrt(1-abar_t) eps``.

        ``t`` is a scalar or one timestep per batch item (leading axis of ``x0``).
        """
        abar = self.alphas_cumprod[np.asarray(t)]
        abar = abar.reshape(abar.shape + (1,) * (x0.ndim - abar.ndim))
        return (np.sqrt(abar) * x0 + np.sqrt(1.0 - abar) * noise).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "NoiseSchedule":
        known = {"schedule", "num_train_timesteps", "beta_start", "beta_end"}
        return cls(**{k: v for k, v in data.items() if k in known})


def _cosine_betas(T: int, max_beta: float = 0.999) -> list[float]:
    """Betas whose ``abar`` follows cos^2 (diffusers' ``betas_for_alpha_bar``)."""

    def alpha_bar(t: float) -> float:
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

    return [min(1 - alpha_bar((i + 1) / T) / alpha_bar(i / T), max_beta) for i in range(T)]
