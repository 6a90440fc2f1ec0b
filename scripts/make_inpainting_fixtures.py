#!/usr/bin/python3
"""Golden values for flowlab's inpainting metrics (tests/fixtures/inpainting_golden.json).

Run with Debian's python3-skimage and python3-numpy:
    /usr/bin/python3 scripts/make_inpainting_fixtures.py tests/fixtures
Three pairs of 3x32x32 images in [0, 1] (noise against a blurred copy, a smooth image against a
shifted one, an image against itself with a pasted square) with SSIM from
skimage.metrics.structural_similarity (Gaussian window, sigma 1.5, population covariance, data
range 1, per channel), PSNR from skimage.metrics.peak_signal_noise_ratio, and NMSE as
||a - b||^2 / ||b||^2.
"""
import json
import sys

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity


def pairs(rng):
    noise = rng.rand(3, 32, 32)
    blurred = (noise + np.roll(noise, 1, 1) + np.roll(noise, 1, 2)) / 3
    yy, xx = np.mgrid[0:32, 0:32] / 31.0
    smooth = np.stack([xx, yy, 0.5 + 0.4 * np.sin(6 * xx * yy)])
    shifted = np.clip(np.roll(smooth, 2, 2) * 0.9 + 0.05, 0, 1)
    pasted = smooth.copy()
    pasted[:, 8:24, 8:24] = rng.rand(3, 16, 16)
    return [(blurred, noise), (shifted, smooth), (pasted, smooth)]


def main(out_dir):
    rng = np.random.RandomState(0)
    cases = []
    for a, b in pairs(rng):
        ssim = structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False, data_range=1, channel_axis=0)
        cases.append({"a": a.tolist(), "b": b.tolist(), "ssim": float(ssim),
                      "psnr": float(peak_signal_noise_ratio(b, a, data_range=1)),
                      "nmse": float(((a - b) ** 2).sum() / (b ** 2).sum())})
    with open(out_dir + "/inpainting_golden.json", "w") as f:
        json.dump({"cases": cases}, f)
    print("wrote", out_dir + "/inpainting_golden.json")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures")
