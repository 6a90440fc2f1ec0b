#!/usr/bin/python3
"""Golden values for flowlab's FID/KID tests (tests/fixtures/fid_golden.json, *.npz).

Run with Debian's python3-torch, python3-torchvision, python3-scipy, python3-numpy:
    /usr/bin/python3 scripts/make_fid_fixtures.py tests/fixtures

The reference network is torchvision's Inception3 with the FID changes pytorch-fid makes
(average pools without padding in Mixed_5x/6x/7b, a max pool in Mixed_7c's pool branch, 1008
classes). Its weights come from a closed formula that flowlab's C++ side evaluates the same way
(flowlab::set_inception_test_weights), so no 95 MB weight file is committed.
FID follows pytorch-fid (scipy.linalg.sqrtm of S1 S2); KID follows torch-fidelity's unbiased
polynomial MMD with the whole set as one subset, which removes the subset sampling. The Inception
Score follows torch-fidelity's isc_features_to_metric (logits without the classifier's bias,
numpy's RandomState(2020) shuffle, 10 splits, numpy's population std).
"""
import json
import math
import os
import sys

import numpy as np
import scipy.linalg
import torch
import torch.nn.functional as F
from torchvision.models import inception as tv

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from flowlab_models import hashed_uniform  # noqa: E402

def set_test_weights(model):
    state = {k: v for k, v in model.state_dict().items() if "num_batches_tracked" not in k}
    for k, name in enumerate(sorted(state)):
        t = state[name]
        u = hashed_uniform(t.numel(), k).reshape(t.shape)
        if name.endswith("conv.weight"):
            fan_in = t[0].numel()
            value = u * math.sqrt(6.0 / fan_in)
        elif name.endswith("bn.weight"):
            value = 1 + 0.2 * u
        elif name.endswith("bn.bias") or name.endswith("running_mean"):
            value = 0.2 * u
        elif name.endswith("running_var"):
            value = 1 + 0.25 * (u + 1)
        elif name == "fc.weight":
            value = u * math.sqrt(6.0 / t.shape[1])
        elif name == "fc.bias":
            value = 0.2 * u
        else:
            raise SystemExit("unexpected tensor " + name)
        t.copy_(value.to(t.dtype))


class FIDInceptionA(tv.InceptionA):
    def forward(self, x):
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        pool = self.branch_pool(F.avg_pool2d(x, 3, 1, 1, count_include_pad=False))
        return torch.cat([self.branch1x1(x), b5, b3, pool], 1)


class FIDInceptionC(tv.InceptionC):
    def forward(self, x):
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for layer in [self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3,
                      self.branch7x7dbl_4, self.branch7x7dbl_5]:
            d = layer(d)
        pool = self.branch_pool(F.avg_pool2d(x, 3, 1, 1, count_include_pad=False))
        return torch.cat([self.branch1x1(x), b7, d, pool], 1)


class FIDInceptionE(tv.InceptionE):
    def __init__(self, in_channels, max_pool):
        super().__init__(in_channels)
        self.max_pool = max_pool

    def forward(self, x):
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        d = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
        if self.max_pool:
            pooled = F.max_pool2d(x, 3, 1, 1)
        else:
            pooled = F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
        return torch.cat([self.branch1x1(x), b3, d, self.branch_pool(pooled)], 1)


def fid_inception():
    net = tv.Inception3(num_classes=1008, aux_logits=False, init_weights=False)
    net.Mixed_5b = FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = FIDInceptionE(1280, max_pool=False)
    net.Mixed_7c = FIDInceptionE(2048, max_pool=True)
    return net.eval()


def features(net, images):
    """images in [0, 1] -> pool3 and the three earlier block outputs, average-pooled."""
    x = F.interpolate(images, size=(299, 299), mode="bilinear", align_corners=False)
    x = 2 * x - 1
    x = F.max_pool2d(net.Conv2d_2b_3x3(net.Conv2d_2a_3x3(net.Conv2d_1a_3x3(x))), 3, 2)
    b64 = x.mean((2, 3))
    x = F.max_pool2d(net.Conv2d_4a_3x3(net.Conv2d_3b_1x1(x)), 3, 2)
    b192 = x.mean((2, 3))
    for name in ["Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c",
                 "Mixed_6d", "Mixed_6e"]:
        x = getattr(net, name)(x)
    b768 = x.mean((2, 3))
    for name in ["Mixed_7a", "Mixed_7b", "Mixed_7c"]:
        x = getattr(net, name)(x)
    return x.mean((2, 3)), b64, b192, b768


def test_images():
    """Two different 3x32x32 images in [0, 1]: a quasi-random texture and a smooth ramp."""
    texture = (hashed_uniform(3 * 32 * 32, 1000).reshape(3, 32, 32) + 1) / 2
    ramp = torch.stack([torch.linspace(0, 1, 32).expand(32, 32),
                        torch.linspace(0, 1, 32).unsqueeze(1).expand(32, 32),
                        torch.full((32, 32), 0.2)]).double()
    return torch.stack([texture, ramp]).float()


def pytorch_fid(mu1, s1, mu2, s2):
    covmean, _ = scipy.linalg.sqrtm(s1.dot(s2), disp=False)
    covmean = covmean.real
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def inception_score(logits, splits=10):
    n = logits.shape[0]
    x = torch.from_numpy(logits)[np.random.RandomState(2020).permutation(n)].double()
    p, log_p = x.softmax(1), x.log_softmax(1)
    scores = []
    for i in range(splits):
        pc, lc = p[i * n // splits:(i + 1) * n // splits], log_p[i * n // splits:(i + 1) * n // splits]
        kl = pc * (lc - pc.mean(0, keepdim=True).log())
        scores.append(kl.sum(1).mean().exp().item())
    return float(np.mean(scores)), float(np.std(scores))


def kid_one_subset(x, y):
    d = x.shape[1]
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    m = x.shape[0]
    return float((kxx.sum() - np.diag(kxx).sum()) / (m * (m - 1))
                 + (kyy.sum() - np.diag(kyy).sum()) / (m * (m - 1)) - 2 * kxy.mean())


def main(out_dir):
    torch.set_grad_enabled(False)
    net = fid_inception()
    set_test_weights(net)
    images = test_images()
    pool3, b64, b192, b768 = features(net, images)

    rng = np.random.RandomState(0)
    fid_cases = []
    for n, d, name in [(200, 16, "well-conditioned"), (12, 16, "rank-deficient (N < D)"),
                       (64, 8, "shifted and scaled")]:
        a = rng.randn(n, d)
        b = rng.randn(n, d) * (1.5 if "scaled" in name else 1.0) + (0.7 if "shifted" in name else 0.1)
        fid_cases.append({"name": name, "a": a.tolist(), "b": b.tolist(),
                          "fid": pytorch_fid(a.mean(0), np.cov(a, rowvar=False),
                                             b.mean(0), np.cov(b, rowvar=False))})
    kx, ky = rng.randn(30, 8), rng.randn(25, 8) + 0.3
    kid = kid_one_subset(kx[:25], ky)
    # 53 rows: splits of 5 and 6 rows; logits spread enough that the classes differ per row.
    is_logits = rng.randn(53, 12) * 3
    is_mean, is_std = inception_score(is_logits)
    logits_unbiased = pool3 @ net.fc.weight.T

    golden = {
        "inception": {"images": images.tolist(), "pool3": pool3.tolist(), "block64": b64.tolist(),
                      "block192": b192.tolist(), "block768": b768.tolist(),
                      "logits": logits_unbiased.tolist()},
        "inception_score": {"logits": is_logits.tolist(), "mean": is_mean, "std": is_std},
        "fid_cases": fid_cases,
        "kid": {"x": kx[:25].tolist(), "y": ky.tolist(), "mmd2": kid},
    }
    with open(out_dir + "/fid_golden.json", "w") as f:
        json.dump(golden, f)
    mu = np.arange(4, dtype=np.float64)
    sigma = np.arange(16, dtype=np.float64).reshape(4, 4)
    np.savez(out_dir + "/stats_plain.npz", mu=mu, sigma=sigma)
    np.savez_compressed(out_dir + "/stats_compressed.npz", mu=mu.astype(np.float32),
                        sigma=np.asfortranarray(sigma))
    print("wrote", out_dir + "/fid_golden.json, stats_plain.npz, stats_compressed.npz")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures")
