"""DDPM training of one instrument's UNet on a prepared mel dataset.

Epsilon prediction, L1 loss by default (report 4.2.4), AdamW, cosine LR with
warm-up (report 4.2.3), EMA weights, gradient clipping, checkpoint + resume.
With ``--condition`` the UNet takes the dataset's melody condition images as a second
channel, replaced by the null condition in a ``--condition-dropout`` share of the
samples (classifier-free guidance: the model also learns to generate without one).
The forward process uses :class:`engine.schedule.NoiseSchedule`, the same
definition the runtime samples with.  ``accelerate`` runs it on CPU, one GPU or
several (``accelerate launch -m diffband.export.train ...``).
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from diffusers import UNet2DModel
from diffusers.optimization import get_cosine_schedule_with_warmup
from diffusers.training_utils import EMAModel
from tqdm import tqdm

from diffband.engine.condition import ConditionSpec, null_conditions
from diffband.engine.denoise import denoise
from diffband.engine.mel import MelCodec
from diffband.evaluation.plots import save_loss_curve, save_spectrograms
from diffband.engine.samplers import DDIMSampler
from diffband.engine.schedule import NoiseSchedule
from diffband.engine.vocoders import decode_image
from diffband.export.data_prepare import load_conditions, load_dataset
from diffband.export.train_config import MIXED_PRECISION, TrainConfig, add_arguments, config_from_args
from diffband.export.unet import build_unet, parameter_count

CHECKPOINT = "checkpoint.pt"
EMA_DIR = "unet_ema"
TRAINING_JSON = "training.json"
LOSSES_CSV = "losses.csv"


def _denoiser(model: torch.nn.Module, device: torch.device, spec: ConditionSpec | None = None):
    """The torch model as an engine denoiser; a conditional one gets the null condition."""
    @torch.no_grad()
    def predict_noise(x: np.ndarray, t: np.ndarray) -> np.ndarray:
        if spec is not None:
            x = np.concatenate([x, null_conditions(spec, x.shape[2:], x.shape[0])], axis=1)
        sample = torch.from_numpy(x).to(device)
        timestep = torch.from_numpy(t.astype(np.float32)).to(device)
        return model(sample, timestep).sample.float().cpu().numpy()

    return predict_noise


def sample_images(
    model: torch.nn.Module, schedule: NoiseSchedule, shape: tuple[int, int], n: int, steps: int, seed: int,
    condition: ConditionSpec | None = None,
) -> np.ndarray:
    """``n`` images from noise with the engine's DDIM sampler and a torch model (unconditioned)."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 1, *shape), dtype=np.float32)
    images = denoise(_denoiser(model, device, condition), DDIMSampler(schedule), x, steps, rng)
    model.train(was_training)
    return images[:, 0]


def write_samples(
    model, cfg: TrainConfig, codec: MelCodec, out: Path, step: int, condition: ConditionSpec | None = None
) -> None:
    """Sample spectrogram PNG and WAV of the current EMA model into ``out/samples``."""
    folder = out / "samples"
    folder.mkdir(exist_ok=True)
    images = sample_images(
        model, cfg.noise_schedule(), codec.image_shape, cfg.num_samples, cfg.sample_steps, cfg.seed, condition
    )
    save_spectrograms(
        images,
        [f"{cfg.instrument} sample {i} (step {step}, DDIM {cfg.sample_steps})" for i in range(len(images))],
        folder / f"samples_step{step:06d}.png",
        seconds_per_image=codec.window_seconds,
    )
    gap = np.zeros(codec.sample_rate // 4, dtype=np.float32)
    audio = np.concatenate([np.concatenate([decode_image(codec, im), gap]) for im in images])
    sf.write(folder / f"samples_step{step:06d}.wav", audio, codec.sample_rate)


class LossLog:
    """Append-only CSV of (step, loss, lr); survives resume."""

    HEADER = "step,loss,lr\n"

    def __init__(self, path: Path):
        self.path = path
        self.rows: list[tuple[int, float, float]] = []
        if path.exists():
            with open(path) as handle:
                self.rows = [(int(r["step"]), float(r["loss"]), float(r["lr"] or 0)) for r in csv.DictReader(handle)]
        else:
            path.write_text(self.HEADER)

    @property
    def steps(self) -> list[int]:
        return [row[0] for row in self.rows]

    @property
    def losses(self) -> list[float]:
        return [row[1] for row in self.rows]

    def truncate(self, step: int) -> None:
        """Drop rows after ``step`` (written after the checkpoint a resume starts from)."""
        self.rows = [row for row in self.rows if row[0] <= step]
        with open(self.path, "w") as handle:
            handle.write(self.HEADER)
            handle.writelines(self._line(*row) for row in self.rows)

    def add(self, step: int, loss: float, lr: float) -> None:
        self.rows.append((step, loss, lr))
        with open(self.path, "a") as handle:
            handle.write(self._line(step, loss, lr))

    @staticmethod
    def _line(step: int, loss: float, lr: float) -> str:
        return f"{step},{loss:.6f},{lr:.3e}\n"


def min_snr_weights(alphas_cumprod: torch.Tensor, gamma: float) -> torch.Tensor:
    """Per-timestep loss weights ``min(SNR, gamma) / SNR`` for epsilon prediction (min-SNR-gamma,
    Hang et al. 2023, as diffusers' training scripts' ``--snr_gamma``): steps with little noise,
    whose SNR exceeds ``gamma``, weigh less; the noisier ones keep weight 1."""
    snr = alphas_cumprod / (1.0 - alphas_cumprod)
    return torch.clamp(snr, max=gamma) / snr


def train(cfg: TrainConfig) -> dict:
    """Train (or resume) and return the provenance written to ``training.json``."""
    if cfg.loss not in ("l1", "mse"):
        raise ValueError(f"loss must be 'l1' or 'mse', got {cfg.loss!r}")
    if cfg.mixed_precision not in MIXED_PRECISION:
        raise ValueError(f"mixed_precision must be one of {MIXED_PRECISION}, got {cfg.mixed_precision!r}")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    images, manifest, codec = load_dataset(Path(cfg.dataset))
    if len(images) < 1:
        raise ValueError(f"dataset {cfg.dataset} is empty")
    schedule = cfg.noise_schedule()
    conditions, spec = _training_conditions(cfg, manifest)

    accelerator = Accelerator()
    torch.manual_seed(cfg.seed)
    model = build_unet(cfg.config, codec.image_shape, conditional=spec is not None)
    if cfg.init_weights:
        load_initial_weights(model, Path(cfg.init_weights))
    ema = EMAModel(  # its average starts at the model's weights, random or given
        model.parameters(),
        decay=cfg.ema_max_decay,
        use_ema_warmup=True,
        power=cfg.ema_power,
        model_cls=UNet2DModel,
        model_config=model.config,
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    lr_schedule = get_cosine_schedule_with_warmup(optimizer, cfg.warmup_steps, cfg.steps)
    generator = torch.Generator().manual_seed(cfg.seed + accelerator.process_index)

    step = 0
    wall_before = 0.0
    checkpoint_path = out / CHECKPOINT
    log = LossLog(out / LOSSES_CSV)
    if checkpoint_path.exists():
        state = torch.load(checkpoint_path, map_location="cpu", weights_only=False)
        if (state["config"]["config"], state["config"]["dataset"], state["config"].get("condition", "")) != (
            cfg.config, cfg.dataset, cfg.condition
        ):
            raise ValueError(f"{checkpoint_path} belongs to another run (config, dataset or condition differ); use a new --out")
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        optimizer.load_state_dict(state["optimizer"])
        lr_schedule.load_state_dict(state["lr_schedule"])
        generator.set_state(state["generator"])
        step = state["step"]
        wall_before = state.get("wall_seconds", 0.0)
        log.truncate(step)
        accelerator.print(f"resumed from {checkpoint_path} at step {step}")

    model, optimizer, lr_schedule = accelerator.prepare(model, optimizer, lr_schedule)
    ema.to(accelerator.device)
    abar = torch.tensor(schedule.alphas_cumprod, dtype=torch.float32)
    loss_fn = F.l1_loss if cfg.loss == "l1" else F.mse_loss
    weights = min_snr_weights(abar, cfg.snr_gamma) if cfg.snr_gamma > 0 else None
    # bf16 autocast of the forward pass (no loss scaling needed); "no" keeps float32 throughout
    autocast = torch.autocast(accelerator.device.type, dtype=torch.bfloat16, enabled=cfg.mixed_precision == "bf16")
    n_params = parameter_count(accelerator.unwrap_model(model))

    def save_checkpoint() -> None:
        if not accelerator.is_main_process:
            return
        state = {
            "model": accelerator.unwrap_model(model).state_dict(),
            "ema": ema.state_dict(),
            "optimizer": optimizer.state_dict(),
            "lr_schedule": lr_schedule.state_dict(),
            "generator": generator.get_state(),
            "step": step,
            "wall_seconds": wall_before + time.monotonic() - started,
            "config": asdict(cfg),
        }
        tmp = checkpoint_path.with_suffix(".tmp")
        torch.save(state, tmp)
        tmp.replace(checkpoint_path)  # atomic: an interrupted save never loses the last checkpoint

    started = time.monotonic()
    model.train()
    bar = tqdm(total=cfg.steps, initial=step, desc=f"train {cfg.instrument}", disable=not accelerator.is_main_process)
    stopped_early = False
    while step < cfg.steps:
        index = np.sort(torch.randint(len(images), (cfg.batch_size,), generator=generator).numpy())
        x0 = torch.from_numpy(np.asarray(images[index]))[:, None].to(accelerator.device)
        noise = torch.randn(x0.shape, generator=generator).to(accelerator.device)
        t = torch.randint(schedule.num_train_timesteps, (x0.shape[0],), generator=generator)
        a = abar[t].view(-1, 1, 1, 1).to(accelerator.device)
        noisy = a.sqrt() * x0 + (1 - a).sqrt() * noise
        if spec is not None:
            noisy = torch.cat([noisy, _dropped(conditions, index, spec, generator).to(accelerator.device)], dim=1)
        with autocast:
            prediction = model(noisy, t.to(accelerator.device)).sample
        if weights is None:
            loss = loss_fn(prediction.float(), noise)
        else:  # per-sample losses weighted by min(SNR, gamma) / SNR (Hang et al. 2023)
            per_sample = loss_fn(prediction.float(), noise, reduction="none").mean(dim=(1, 2, 3))
            loss = (per_sample * weights[t].to(per_sample.device)).mean()
        accelerator.backward(loss)
        if accelerator.sync_gradients:
            accelerator.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        lr_schedule.step()
        optimizer.zero_grad(set_to_none=True)
        ema.step(accelerator.unwrap_model(model).parameters())
        step += 1
        loss_value = float(loss.detach())
        if accelerator.is_main_process:
            log.add(step, loss_value, lr_schedule.get_last_lr()[0])
        bar.update(1)
        bar.set_postfix(loss=f"{loss_value:.4f}", lr=f"{lr_schedule.get_last_lr()[0]:.1e}")
        if cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
            save_checkpoint()
        if cfg.sample_every and step % cfg.sample_every == 0 and accelerator.is_main_process:
            write_samples(_ema_model(ema, accelerator.unwrap_model(model)), cfg, codec, out, step, spec)
        if cfg.max_minutes and (time.monotonic() - started) > cfg.max_minutes * 60:
            stopped_early = step < cfg.steps
            break
    bar.close()
    save_checkpoint()
    wall = wall_before + time.monotonic() - started

    provenance: dict = {}
    if accelerator.is_main_process:
        ema_model = _ema_model(ema, accelerator.unwrap_model(model))
        ema_model.save_pretrained(out / EMA_DIR)
        recent = log.losses[-min(len(log.losses), 100) :]
        provenance = {
            "instrument": cfg.instrument,
            "config": cfg.config,
            "unet_parameters": n_params,
            "steps": step,
            "planned_steps": cfg.steps,
            "stopped_early": stopped_early,
            "batch_size": cfg.batch_size * accelerator.num_processes,
            "loss": cfg.loss,
            "snr_gamma": cfg.snr_gamma,
            "mixed_precision": cfg.mixed_precision,
            "final_loss_mean_last_100": round(float(np.mean(recent)), 5) if recent else None,
            "wall_seconds": round(wall, 1),
            "device": f"{accelerator.device.type} x{accelerator.num_processes}",
            "torch_threads": torch.get_num_threads(),
            "machine": platform.platform(),
            "dataset": {
                "path": cfg.dataset,
                "windows": int(manifest["count"]),
                "seconds": manifest.get("seconds_read"),
                "source": manifest.get("source"),
            },
            "noise_schedule": schedule.to_dict(),
            "codec": codec.to_dict(),
            "train_config": asdict(cfg),
            **({"condition": spec.to_dict()} if spec else {}),
        }
        (out / TRAINING_JSON).write_text(json.dumps(provenance, indent=1))
        save_loss_curve(log.steps, log.losses, out / "loss.png", f"{cfg.instrument} ({cfg.config}), {cfg.loss} loss")
        write_samples(ema_model, cfg, codec, out, step, spec)
    return provenance


def load_initial_weights(model: UNet2DModel, folder: Path) -> None:
    """Copy the UNet weights in the diffusers folder ``folder`` into ``model``; they must be
    the same architecture (UNet size, condition channel), or this says what differs."""
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"--init-weights {folder}: no config.json there (a diffusers UNet folder, e.g. a run's unet_ema)")
    given = UNet2DModel.from_pretrained(folder)
    differs = [k for k in ("in_channels", "out_channels", "block_out_channels", "down_block_types", "up_block_types",
                           "layers_per_block", "sample_size")
               if _as_list(given.config.get(k)) != _as_list(model.config.get(k))]
    if differs:
        raise ValueError(f"--init-weights {folder} is another architecture than this run's (" + ", ".join(
            f"{k}: {given.config.get(k)} vs {model.config.get(k)}" for k in differs) + "); use the same --config and --condition")
    model.load_state_dict(given.state_dict())


def _as_list(value: object) -> object:
    return list(value) if isinstance(value, (list, tuple)) else value


def _training_conditions(cfg: TrainConfig, manifest: dict) -> tuple[np.ndarray | None, ConditionSpec | None]:
    """The dataset's condition images and the spec the bundle will carry (with this run's dropout)."""
    if not cfg.condition:
        return None, None
    stored = load_conditions(Path(cfg.dataset), manifest)
    if stored is None or stored[1].kind != cfg.condition:
        raise ValueError(
            f"dataset {cfg.dataset} has no {cfg.condition!r} condition images; prepare it with that condition "
            "(export.data_prepare.prepare(..., condition=ConditionSpec()))"
        )
    conditions, spec = stored
    return conditions, replace(spec, dropout=cfg.condition_dropout)


def _dropped(conditions: np.ndarray, index: np.ndarray, spec: ConditionSpec, generator: torch.Generator) -> torch.Tensor:
    """The batch's condition images ``(B, 1, H, W)``, each replaced by the null condition with probability ``spec.dropout``."""
    batch = torch.from_numpy(np.asarray(conditions[index]))[:, None]
    drop = torch.rand(len(index), generator=generator) < spec.dropout
    batch[drop] = spec.null_value
    return batch


def _ema_model(ema: EMAModel, model: UNet2DModel) -> UNet2DModel:
    """A copy of ``model`` carrying the EMA weights."""
    copy = UNet2DModel.from_config(model.config)
    copy.load_state_dict(model.state_dict())
    ema.copy_to(copy.parameters())
    return copy.to(next(model.parameters()).device).eval()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m diffband.export.train", description=__doc__)
    add_arguments(parser)
    result = train(config_from_args(parser.parse_args(argv)))
    if result:
        print(f"trained {result['steps']} steps; mean loss of the last 100: {result['final_loss_mean_last_100']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
