"""The noise schedule and the DDIM sampler agree with diffusers to float tolerance."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler

from diffband.engine.denoise import denoise
from diffband.engine.samplers import DDIMSampler, DDPMSampler
from diffband.engine.schedule import SCHEDULE_TYPES, NoiseSchedule


@pytest.mark.parametrize("kind", SCHEDULE_TYPES)
def test_schedule_matches_diffusers_ddpm(kind):
    ours = NoiseSchedule(kind, 1000)
    theirs = DDPMScheduler(num_train_timesteps=1000, beta_schedule=kind)
    np.testing.assert_allclose(ours.betas, theirs.betas.numpy(), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ours.alphas_cumprod, theirs.alphas_cumprod.numpy(), rtol=2e-6, atol=1e-6)


def test_add_noise_matches_diffusers():
    ours = NoiseSchedule("squaredcos_cap_v2")
    theirs = DDPMScheduler(beta_schedule="squaredcos_cap_v2")
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((3, 1, 8, 8), dtype=np.float32)
    noise = rng.standard_normal(x0.shape, dtype=np.float32)
    t = np.array([0, 500, 999])
    expected = theirs.add_noise(torch.from_numpy(x0), torch.from_numpy(noise), torch.from_numpy(t)).numpy()
    np.testing.assert_allclose(ours.add_noise(x0, noise, t), expected, atol=1e-5)


def test_schedule_refuses_unknown_type():
    with pytest.raises(ValueError, match="unknown noise schedule"):
        NoiseSchedule("sigmoid")


@pytest.mark.parametrize("spacing", ["leading", "trailing"])
@pytest.mark.parametrize("eta", [0.0, 0.6])
@pytest.mark.parametrize("kind", ["linear", "squaredcos_cap_v2"])
def test_ddim_steps_match_diffusers(spacing, eta, kind):
    steps = 20
    schedule = NoiseSchedule(kind)
    ours = DDIMSampler(schedule, eta=eta, spacing=spacing)
    theirs = DDIMScheduler(num_train_timesteps=1000, beta_schedule=kind, timestep_spacing=spacing)
    theirs.set_timesteps(steps)
    np.testing.assert_array_equal(ours.timesteps(steps), theirs.timesteps.numpy())
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 1, 8, 12), dtype=np.float32)
    for t in ours.timesteps(steps):
        eps = rng.standard_normal(x.shape, dtype=np.float32) * 0.9
        noise = rng.standard_normal(x.shape, dtype=np.float32)
        expected = theirs.step(
            torch.from_numpy(eps), int(t), torch.from_numpy(x), eta=eta,
            variance_noise=torch.from_numpy(noise) if eta > 0 else None,
        )
        got, x0 = ours.step(eps, int(t), x, steps, noise if eta > 0 else None)
        np.testing.assert_allclose(got, expected.prev_sample.numpy(), rtol=1e-5, atol=2e-5)
        np.testing.assert_allclose(x0, expected.pred_original_sample.numpy(), rtol=1e-5, atol=2e-5)
        x = got


def test_ddim_run_is_deterministic_for_a_seed():
    schedule = NoiseSchedule()
    sampler = DDIMSampler(schedule, eta=0.5)

    def fake_model(x, t):
        return 0.5 * x

    def run(seed):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((1, 1, 4, 4), dtype=np.float32)
        return denoise(fake_model, sampler, x, 10, rng)

    np.testing.assert_array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))


def test_ddim_refuses_bad_step_count():
    with pytest.raises(ValueError, match="steps must be between"):
        DDIMSampler(NoiseSchedule()).timesteps(0)


@pytest.mark.parametrize("kind", ["linear", "squaredcos_cap_v2"])
@pytest.mark.parametrize("steps", [1000, 25])
def test_ddpm_steps_match_diffusers(kind, steps):
    schedule = NoiseSchedule(kind)
    ours = DDPMSampler(schedule)
    theirs = DDPMScheduler(num_train_timesteps=1000, beta_schedule=kind)
    theirs.set_timesteps(steps)
    np.testing.assert_array_equal(ours.timesteps(steps), theirs.timesteps.numpy())
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 1, 8, 12), dtype=np.float32)
    for i, t in enumerate(ours.timesteps(steps)[-12:]):  # the last steps, down to t = 0
        eps = rng.standard_normal(x.shape, dtype=np.float32) * 0.9
        expected = theirs.step(torch.from_numpy(eps), int(t), torch.from_numpy(x), generator=torch.Generator().manual_seed(i))
        noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(i)).numpy()  # what diffusers drew
        got, x0 = ours.step(eps, int(t), x, steps, noise if ours.needs_noise(int(t)) else None)
        # diffusers forms the coefficients in float32; near t = 0, 1 - abar_t is ~1e-4 and its
        # rounding shows at ~3e-5 (we use float64 scalars), hence 1e-4 here.
        np.testing.assert_allclose(got, expected.prev_sample.numpy(), rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(x0, expected.pred_original_sample.numpy(), rtol=1e-5, atol=1e-4)
        x = got


@pytest.mark.parametrize("make", [lambda s, scale: DDIMSampler(s, eps_scale=scale),
                                  lambda s, scale: DDPMSampler(s, eps_scale=scale)], ids=["ddim", "ddpm"])
def test_eps_scale_divides_the_noise_estimate(make):
    """Epsilon scaling (Ning et al. 2024): a step with eps_scale s is the plain step on eps / s."""
    schedule = NoiseSchedule()
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 1, 8, 12), dtype=np.float32)
    eps = rng.standard_normal(x.shape, dtype=np.float32)
    scaled, plain = make(schedule, 1.02), make(schedule, 1.0)
    for t in scaled.timesteps(50)[[0, 25, 49]]:
        noise = rng.standard_normal(x.shape, dtype=np.float32) if scaled.needs_noise(int(t)) else None
        got = scaled.step(eps, int(t), x, 50, noise)
        expected = plain.step(eps / np.float32(1.02), int(t), x, 50, noise)
        np.testing.assert_allclose(got[0], expected[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got[1], expected[1], rtol=1e-5, atol=1e-6)
        assert not np.allclose(got[0], plain.step(eps, int(t), x, 50, noise)[0])


def test_a_nonpositive_eps_scale_is_refused():
    from diffband.engine.samplers import make_sampler

    with pytest.raises(ValueError, match="eps_scale must be positive"):
        make_sampler(NoiseSchedule(), "ddim", 0.0, 0.0)
