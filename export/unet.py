"""UNet configurations (diffusers ``UNet2DModel``, one-channel mel images; a conditional UNet
takes the melody condition as a second input channel, concatenated to the noisy sample)."""

from __future__ import annotations

from typing import Any

from diffusers import UNet2DModel

from diffband.export.train_config import UNET_SIZES

#: Named sizes.  ``tiny`` is about 2 M parameters (trains on a 2-core CPU);
#: ``base`` follows audio-diffusion's 256x256 UNet.
UNET_CONFIGS: dict[str, dict[str, Any]] = {
    "tiny": {
        "block_out_channels": (32, 48, 64, 96),
        "layers_per_block": 1,
        "down_block_types": ("DownBlock2D", "DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"),
        "up_block_types": ("AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
        "norm_num_groups": 16,
        "attention_head_dim": 32,
    },
    "small": {
        "block_out_channels": (64, 128, 192, 256),
        "layers_per_block": 2,
        "down_block_types": ("DownBlock2D", "DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"),
        "up_block_types": ("AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
        "norm_num_groups": 32,
        "attention_head_dim": 32,
    },
    "base": {
        "block_out_channels": (128, 128, 256, 256, 512, 512),
        "layers_per_block": 2,
        "down_block_types": ("DownBlock2D",) * 4 + ("AttnDownBlock2D", "DownBlock2D"),
        "up_block_types": ("UpBlock2D", "AttnUpBlock2D") + ("UpBlock2D",) * 4,
        "norm_num_groups": 32,
        "attention_head_dim": 8,
    },
}
# The largest size whose fp16 bundle comes back from a lent GPU machine (under 16 MiB a
# file): small's layout, narrower; 5.88 M parameters, a 13.7 MB fp16 bundle (25.4 MB fp32)
# on the tiny mel preset.
UNET_CONFIGS["compact"] = UNET_CONFIGS["small"] | {"block_out_channels": (48, 64, 96, 128), "norm_num_groups": 16}


assert tuple(UNET_CONFIGS) == UNET_SIZES


def build_unet(config: str | dict[str, Any], image_shape: tuple[int, int], conditional: bool = False) -> UNet2DModel:
    """A UNet2DModel for ``image_shape = (n_mels, frames)``: one channel in and out, two in when ``conditional``."""
    if isinstance(config, str):
        if config not in UNET_CONFIGS:
            raise ValueError(f"unknown config {config!r}; choose one of {sorted(UNET_CONFIGS)}")
        config = UNET_CONFIGS[config]
    factor = 2 ** (len(config["block_out_channels"]) - 1)
    if image_shape[0] % factor or image_shape[1] % factor:
        raise ValueError(
            f"image shape {image_shape} must be divisible by {factor} for this UNet; "
            "prepare the dataset with a matching mel preset"
        )
    return UNet2DModel(sample_size=tuple(image_shape), in_channels=2 if conditional else 1, out_channels=1, **config)


def parameter_count(model) -> int:
    return sum(p.numel() for p in model.parameters())
