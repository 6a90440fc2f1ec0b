#!/usr/bin/python3
"""Converts pytorch-fid's Inception weights into the file flowlab's evaluate_fid loads.

Usage:
    /usr/bin/python3 scripts/pytorch/convert_inception_weights.py pt_inception-2015-12-05-6726825d.pth \
        weights/inception_fid.pt

The input is pytorch-fid's FID Inception state dict (download it on a machine with internet from
https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth).
Every tensor's name and shape is checked against torchvision's Inception3 with 1008 classes and
no auxiliary head, which is the layout pytorch-fid's FID variant keeps. The output is a
torch.save'd dict {name: float32 tensor}, with the 1008-way classifier (fc.*) that the Inception
Score uses.
Needs Debian's python3-torch and python3-torchvision.
"""
import os
import sys

import torch
from torchvision.models import inception as tv


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    source, target = sys.argv[1], sys.argv[2]
    state = torch.load(source, map_location="cpu")
    if not isinstance(state, dict):
        sys.exit(f"{source}: expected a state dict, got {type(state).__name__}")
    expected = tv.Inception3(num_classes=1008, aux_logits=False, init_weights=False).state_dict()
    expected = {k: v for k, v in expected.items() if "num_batches_tracked" not in k}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(k for k in set(state) - set(expected) if "num_batches_tracked" not in k)
    if missing or unexpected:
        sys.exit(f"{source}: not pytorch-fid's Inception weights: missing {missing[:5]}, "
                 f"unexpected {unexpected[:5]}")
    out = {}
    for name, ref in expected.items():
        if tuple(state[name].shape) != tuple(ref.shape):
            sys.exit(f"{source}: {name} has shape {tuple(state[name].shape)}, "
                     f"expected {tuple(ref.shape)}")
        out[name] = state[name].detach().to(torch.float32).contiguous()
    os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
    torch.save(out, target + ".tmp")
    os.replace(target + ".tmp", target)
    print(f"wrote {target}: {len(out)} tensors, "
          f"{sum(t.numel() for n, t in out.items() if 'running' not in n):,} parameters")


if __name__ == "__main__":
    main()
