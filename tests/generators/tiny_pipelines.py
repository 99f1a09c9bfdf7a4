"""Tiny randomly initialised diffusers pipelines, saved to a local directory.

They let the tests (and `bench/gpu_bench.py --tiny`) go through the real
`DiffusionPipeline.from_pretrained(dir, local_files_only=True)` loading and generation code on a
CPU in well under a second per call, with nothing downloaded. The component sizes follow
diffusers' own pipeline tests (`get_dummy_components`); the CLIP tokenizer is built from a tiny
vocabulary written to disk, as transformers' CLIP tokenizer tests do, since the usual
`hf-internal-testing/tiny-random-clip` needs the network.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

_VOCAB = [
    "l",
    "o",
    "w",
    "e",
    "r",
    "s",
    "t",
    "i",
    "d",
    "n",
    "lo",
    "l</w>",
    "w</w>",
    "r</w>",
    "t</w>",
    "low</w>",
    "er</w>",
    "lowest</w>",
    "newer</w>",
    "wider",
    "<unk>",
    "<|startoftext|>",
    "<|endoftext|>",
]
_MERGES = "#version: 0.2\nl o\nlo w</w>\ne r</w>\n"


def tiny_tokenizer() -> Any:
    """A CLIP tokenizer from a 23-token vocabulary; pads to 77 like the real one."""
    from transformers import CLIPTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(_VOCAB)}))
        Path(tmp, "merges.txt").write_text(_MERGES)
        return CLIPTokenizer.from_pretrained(tmp, unk_token="<unk>", model_max_length=77)


def _text_encoder(hidden: int, intermediate: int, heads: int, layers: int) -> Any:
    from transformers import CLIPTextConfig, CLIPTextModel

    return CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=0,
            eos_token_id=2,
            pad_token_id=1,
            vocab_size=1000,
            hidden_size=hidden,
            intermediate_size=intermediate,
            num_attention_heads=heads,
            num_hidden_layers=layers,
            layer_norm_eps=1e-05,
        )
    )


def build_tiny_sd(directory: str | os.PathLike[str]) -> Path:
    """Save a tiny StableDiffusionPipeline (64×64 native, VAE scale 2) into `directory`."""
    import torch
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=2,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
    )
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    torch.manual_seed(0)
    vae = AutoencoderKL(
        block_out_channels=[32, 64],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 2,
        up_block_types=["UpDecoderBlock2D"] * 2,
        latent_channels=4,
    )
    torch.manual_seed(0)
    pipe = StableDiffusionPipeline(
        unet=unet,
        scheduler=scheduler,
        vae=vae,
        text_encoder=_text_encoder(32, 37, 4, 5),
        tokenizer=tiny_tokenizer(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(str(directory))
    return Path(directory)


def build_tiny_video(directory: str | os.PathLike[str]) -> Path:
    """Save a tiny TextToVideoSDPipeline (32×32 native, VAE scale 1) into `directory`."""
    import torch
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        TextToVideoSDPipeline,
        UNet3DConditionModel,
    )

    torch.manual_seed(0)
    unet = UNet3DConditionModel(
        block_out_channels=(4, 8),
        layers_per_block=1,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"),
        up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"),
        cross_attention_dim=4,
        attention_head_dim=4,
        norm_num_groups=2,
    )
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    torch.manual_seed(0)
    vae = AutoencoderKL(
        block_out_channels=(8,),
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D"],
        latent_channels=4,
        sample_size=32,
        norm_num_groups=2,
    )
    torch.manual_seed(0)
    pipe = TextToVideoSDPipeline(
        unet=unet,
        scheduler=scheduler,
        vae=vae,
        text_encoder=_text_encoder(4, 16, 2, 2),
        tokenizer=tiny_tokenizer(),
    )
    pipe.save_pretrained(str(directory))
    return Path(directory)
