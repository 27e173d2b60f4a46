"""Fréchet Audio Distance (Kilgour et al., 2019) and FAD-inf (fadtk's extrapolation).

FAD fits a Gaussian to the embeddings of a reference set and of a test set and
returns the Fréchet distance between the two:
``||mu_r - mu_t||^2 + tr(S_r + S_t - 2 (S_r S_t)^(1/2))``.  It is biased upwards
for small sets, so FAD-inf fits FAD against 1/n over random subsets of the test
embeddings and reports the intercept (the value for an infinite set).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg


@dataclass(frozen=True)
class Gaussian:
    mean: np.ndarray
    cov: np.ndarray
    count: int

    @classmethod
    def fit(cls, embeddings: np.ndarray) -> "Gaussian":
        x = np.asarray(embeddings, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] < 2:
            raise ValueError(f"need at least 2 embeddings of shape (n, d), got {x.shape}")
        return cls(x.mean(axis=0), np.cov(x, rowvar=False), x.shape[0])


def frechet_distance(a: Gaussian, b: Gaussian, eps: float = 1e-6) -> float:
    """Fréchet distance of two Gaussians; an ``eps`` ridge when the product is singular."""
    diff = a.mean - b.mean
    covmean = linalg.sqrtm(a.cov @ b.cov)
    if not np.all(np.isfinite(covmean)):
        ridge = np.eye(a.cov.shape[0]) * eps
        covmean = linalg.sqrtm((a.cov + ridge) @ (b.cov + ridge))
    covmean = np.real(covmean)  # imaginary parts are numerical noise
    value = float(diff @ diff + np.trace(a.cov) + np.trace(b.cov) - 2.0 * np.trace(covmean))
    return max(value, 0.0)


def fad(reference: np.ndarray, test: np.ndarray) -> float:
    return frechet_distance(Gaussian.fit(reference), Gaussian.fit(test))


@dataclass(frozen=True)
class FadInf:
    score: float  # extrapolated FAD for an infinite test set
    slope: float
    r2: float
    points: list[tuple[int, float]]  # (subset size, FAD)


def fad_inf(reference: np.ndarray, test: np.ndarray, steps: int = 15, min_n: int | None = None, seed: int = 0) -> FadInf:
    """FAD on random test subsets of growing size, extrapolated linearly in 1/n to n -> inf."""
    base = Gaussian.fit(reference)
    test = np.asarray(test, dtype=np.float64)
    total = test.shape[0]
    min_n = min_n or max(2, total // 4)
    if total < min_n + 1:
        raise ValueError(f"FAD-inf needs more than {min_n} test embeddings, got {total}")
    rng = np.random.default_rng(seed)
    sizes = sorted({int(n) for n in np.linspace(min_n, total, steps)})
    points = []
    for n in sizes:
        subset = test[rng.choice(total, size=n, replace=False)]
        points.append((n, frechet_distance(base, Gaussian.fit(subset))))
    xs = 1.0 / np.array([n for n, _ in points], dtype=np.float64)
    ys = np.array([v for _, v in points])
    slope, intercept = np.polyfit(xs, ys, 1)
    predicted = slope * xs + intercept
    ss_res = float(np.sum((ys - predicted) ** 2))
    ss_tot = float(np.sum((ys - ys.mean()) ** 2)) or 1.0
    return FadInf(float(intercept), float(slope), 1.0 - ss_res / ss_tot, points)
