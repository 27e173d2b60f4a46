"""Training settings and their command-line flags (no torch import, so the CLI starts fast)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from diffband.engine.condition import CONDITION_KINDS
from diffband.engine.schedule import SCHEDULE_TYPES, NoiseSchedule

#: UNet sizes defined in export.unet (kept here as names so this module stays torch-free).
UNET_SIZES = ("tiny", "small", "base", "compact")
#: Autocast of the training forward pass: "bf16" (a GPU's fast path) or "no" (float32 throughout).
MIXED_PRECISION = ("no", "bf16")


@dataclass
class TrainConfig:
    dataset: str
    instrument: str
    out: str
    config: str = "tiny"
    steps: int = 3000
    batch_size: int = 16
    learning_rate: float = 3e-4
    warmup_steps: int = 200
    weight_decay: float = 1e-6
    loss: str = "l1"
    snr_gamma: float = 0.0
    grad_clip: float = 1.0
    ema_max_decay: float = 0.9999
    ema_power: float = 0.75
    schedule: str = "squaredcos_cap_v2"
    num_train_timesteps: int = 1000
    seed: int = 0
    checkpoint_every: int = 250
    sample_every: int = 0
    num_samples: int = 4
    sample_steps: int = 50
    threads: int = 0
    max_minutes: float = 0.0
    mixed_precision: str = "no"
    condition: str = ""
    condition_dropout: float = 0.15
    init_weights: str = ""
    extra: dict = field(default_factory=dict)

    def noise_schedule(self) -> NoiseSchedule:
        return NoiseSchedule(self.schedule, self.num_train_timesteps)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="a folder made by 'diffband data prepare'")
    parser.add_argument("--instrument", required=True, help="instrument name stored in the bundle")
    parser.add_argument("--config", default="tiny", choices=UNET_SIZES)
    parser.add_argument("--out", required=True, help="run folder (checkpoint, EMA weights, PNGs); resumes if it has a checkpoint")
    parser.add_argument("--steps", type=int, default=TrainConfig.steps)
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    parser.add_argument("--lr", dest="learning_rate", type=float, default=TrainConfig.learning_rate)
    parser.add_argument("--warmup-steps", type=int, default=TrainConfig.warmup_steps)
    parser.add_argument("--loss", choices=("l1", "mse"), default="l1")
    parser.add_argument("--snr-gamma", type=float, default=TrainConfig.snr_gamma,
                        help="weight each step's loss by min(SNR, gamma) / SNR (min-SNR weighting; 0: unweighted)")
    parser.add_argument("--schedule", choices=SCHEDULE_TYPES, default=TrainConfig.schedule)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint-every", type=int, default=TrainConfig.checkpoint_every)
    parser.add_argument("--sample-every", type=int, default=0, help="write sample PNG/WAV every N steps (0: at the end only)")
    parser.add_argument("--num-samples", type=int, default=TrainConfig.num_samples, help="images per sample PNG/WAV")
    parser.add_argument("--sample-steps", type=int, default=TrainConfig.sample_steps, help="DDIM steps of the samples")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--max-minutes", type=float, default=0.0, help="stop (with a checkpoint) after this wall time")
    parser.add_argument("--mixed-precision", choices=MIXED_PRECISION, default=TrainConfig.mixed_precision,
                        help="autocast the forward pass (bf16 on a GPU; 'no' keeps float32)")
    parser.add_argument("--condition", choices=CONDITION_KINDS, default="",
                        help="train a melody-following model on the dataset's condition images "
                        "(made by 'data prepare' with the same extractor); default: unconditional")
    parser.add_argument("--condition-dropout", type=float, default=TrainConfig.condition_dropout,
                        help="share of samples trained with the null condition (classifier-free guidance)")
    parser.add_argument("--init-weights", default="",
                        help="start from these UNet weights (a diffusers folder such as a run's unet_ema or "
                        "models/torch/guitar) instead of random ones: fine-tuning, with a fresh optimizer, LR plan and EMA "
                        "(a run that has a checkpoint resumes from it instead)")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    names = {f for f in TrainConfig.__dataclass_fields__}
    return TrainConfig(**{k: v for k, v in vars(args).items() if k in names})
