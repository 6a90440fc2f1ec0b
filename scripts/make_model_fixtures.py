#!/usr/bin/python3
"""Writes tests/fixtures/model_golden.npz: TinyUNet, DiT and AutoencoderKL outputs from the PyTorch mirrors in
scripts/flowlab_models.py, with fixed hashed weights, for flowlab's golden model test.

Usage: scripts/make_model_fixtures.py   (Debian's python3-torch and python3-numpy)
Every parameter gets hashed_uniform(numel, name_key(name)): scaled by sqrt(3 / fan_in) for
matrices and kernels, by 0.1 for vectors. Inputs: two images from hashed_uniform, times
t = (0.3, 0.8), r = (0.1, 0.5), labels (1, null).
"""
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from flowlab_models import AutoencoderKL, DiT, TimestepEmbedder, TinyUNet, hashed_uniform  # noqa: E402

CLASSES = 4


def name_key(name):
    """A stable integer per parameter name, as tests/golden_models_test.cpp computes it."""
    return sum((i + 1) * ord(c) for i, c in enumerate(name)) % 1000003


def set_hashed_weights(model):
    with torch.no_grad():
        for name, p in model.named_parameters():
            u = hashed_uniform(p.numel(), name_key(name)).reshape(p.shape)
            scale = math.sqrt(3.0 / (p.numel() // p.shape[0])) if p.dim() >= 2 else 0.1
            p.copy_((u * scale).to(p.dtype))


def main():
    torch.set_grad_enabled(False)
    x = hashed_uniform(2 * 3 * 8 * 8, 901).reshape(2, 3, 8, 8).float()
    t = torch.tensor([0.3, 0.8])
    r = torch.tensor([0.1, 0.5])
    y = torch.tensor([1, CLASSES])
    unet = TinyUNet(in_channels=3, image_size=8, base_channels=16, channel_mults=(1, 2), num_res_blocks=1,
                    time_embed_dim=32, num_classes=CLASSES, dropout=0.0, attention_resolutions=(4,),
                    num_heads=2).eval()
    unet.interval_embed = TimestepEmbedder(32, 32)  # the two-time form's second embedder (t, t - r)
    set_hashed_weights(unet)
    dit = DiT("DiT-T/2", in_channels=3, image_size=8, num_classes=CLASSES, two_time=True).eval()
    set_hashed_weights(dit)
    vae = AutoencoderKL(in_channels=3, block_out_channels=(32, 64), layers_per_block=1, latent_channels=4,
                        norm_groups=8).eval()
    set_hashed_weights(vae)
    mean, logvar = vae.encode(x)
    out = {
        "x": x, "t": t, "r": r, "y": y,
        "tiny_unet": unet(x, t, y),
        "tiny_unet_interval": unet.body(x, unet.time_embed(t) + unet.class_embed(y) + unet.interval_embed(t - r)),
        "dit": dit(x, t, y),
        "dit_interval": dit.forward_interval(x, r, t, y),
        "vae_mean": mean, "vae_logvar": logvar, "vae_decoded": vae.decode(mean),
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "model_golden.npz")
    np.savez(path, **{k: v.numpy() for k, v in out.items()})
    for k, v in out.items():
        print(f"{k}: {tuple(v.shape)}, max |v| {v.abs().max().item():.4f}")
    print("wrote", os.path.normpath(path))


if __name__ == "__main__":
    main()
