#!/usr/bin/python3
"""Checks that a flowlab weight export opens in Python and fits the PyTorch TinyUNet.

Usage: scripts/checks/check_export.py RUN_DIR   (a training output directory with config.yaml and
weights_ema.pt). Needs Debian's python3-torch and python3-yaml.
Loads the weights with torch.load, prints the key count and a few shapes, loads them with
load_state_dict(strict=True) (every name and shape must match), and runs one forward pass.
"""
import os
import sys

import torch
import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pytorch"))
from flowlab_models import tiny_unet_from_config  # noqa: E402


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    run_dir = sys.argv[1]
    with open(os.path.join(run_dir, "config.yaml")) as f:
        config = yaml.safe_load(f)
    weights = torch.load(os.path.join(run_dir, "weights_ema.pt"), weights_only=True)
    if not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor) for v in weights.values()):
        sys.exit("weights_ema.pt is not a {name: tensor} dict")
    print(f"{len(weights)} tensors, {sum(v.numel() for v in weights.values()):,} values")
    for key in ["class_embed.weight", "conv_in.weight", "down.0.res.0.conv1.weight", "out_conv.weight"]:
        print(f"  {key}: {tuple(weights[key].shape)}")
    if config["model"]["type"] != "tiny_unet":
        print(f"model.type {config['model']['type']}: keys and shapes listed, no PyTorch module to load into")
        return
    model = tiny_unet_from_config(config)
    model.load_state_dict(weights, strict=True)
    model.eval()
    size, channels = config["data"]["image_size"], config["model"]["in_channels"]
    with torch.no_grad():
        out = model(torch.randn(2, channels, size, size), torch.tensor([0.3, 0.9]),
                    torch.tensor([0, config["model"]["num_classes"]]))
    print(f"load_state_dict(strict=True) OK; forward output {tuple(out.shape)}, "
          f"{sum(p.numel() for p in model.parameters()):,} parameters")


if __name__ == "__main__":
    main()
