#!/usr/bin/python3
"""Exports a feature network as the TorchScript module `evaluate_fid --feature_extractor` takes.

The module maps float (N, 3, H, W) images in [0, 1] to (N, D) features: it resizes them to the
network's input size (bicubic), normalises them with ImageNet's mean and std, and returns the
network's penultimate features (the classifier removed). evaluate_fid names the Frechet distance
in that space FD_<name> (FD_dinov2_vitl14, ...), from the module's feature_name attribute.

Usage (on a machine with the network's weights or internet access):
    /usr/bin/python3 scripts/pytorch/export_feature_extractor.py dinov2_vitl14 dinov2_vitl14.pt
    /usr/bin/python3 scripts/pytorch/export_feature_extractor.py torchvision:resnet50 resnet50.pt
    /usr/bin/python3 scripts/pytorch/export_feature_extractor.py timm:convnext_base convnext_base.pt

  dinov2_*           torch.hub's facebookresearch/dinov2 (vits14, vitb14, vitl14, vitg14), the CLS
                     token, 224 px (Stein et al. 2023 score generative models with dinov2_vitl14)
  torchvision:NAME   a torchvision classification model with its default pretrained weights
  timm:NAME          a timm model (pretrained), num_classes=0

Options: --size N (input size, default 224), --random (no pretrained weights: tests the export
without a download; the features mean nothing). Needs python3-torch (and python3-torchvision
or timm for those sources).
"""
import argparse

import torch
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def without_classifier(net):
    for head in ("fc", "heads", "classifier", "head"):
        if hasattr(net, head):
            setattr(net, head, torch.nn.Identity())
            return net
    raise SystemExit("cannot find the classifier (fc, heads, classifier or head) to remove")


def load(source, random):
    if source.startswith("dinov2_"):
        return torch.hub.load("facebookresearch/dinov2", source, pretrained=not random)
    kind, _, name = source.partition(":")
    if kind == "torchvision":
        import torchvision
        return without_classifier(torchvision.models.get_model(name, weights=None if random else "DEFAULT")
                                  if hasattr(torchvision.models, "get_model")
                                  else getattr(torchvision.models, name)(pretrained=not random))
    if kind == "timm":
        import timm
        return timm.create_model(name, pretrained=not random, num_classes=0)
    raise SystemExit("unknown network " + source + " (dinov2_*, torchvision:NAME or timm:NAME)")


class Features(torch.nn.Module):
    def __init__(self, net, size):
        super().__init__()
        self.net = net
        self.size = size
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, x):
        x = F.interpolate(x, size=(self.size, self.size), mode="bicubic", align_corners=False)
        return self.net((x - self.mean) / self.std).flatten(1)


class Named(torch.nn.Module):
    """The traced network with its name as a string attribute, which tracing alone would drop."""
    feature_name: str

    def __init__(self, traced, name):
        super().__init__()
        self.traced = traced
        self.feature_name = name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.traced(x)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("network")
    parser.add_argument("output")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--random", action="store_true")
    args = parser.parse_args()
    net = load(args.network, args.random).eval()
    name = args.network.split(":")[-1]
    example = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        traced = torch.jit.trace(Features(net, args.size).eval(), example, check_trace=False)
        module = torch.jit.script(Named(traced, name))
        out = module(example)
    if out.dim() != 2:
        raise SystemExit("the network returned shape %s, not (N, D)" % (tuple(out.shape),))
    module.save(args.output)
    print("wrote %s: %s features of dimension %d (FD_%s)" % (args.output, name, out.shape[1], name))


if __name__ == "__main__":
    main()
