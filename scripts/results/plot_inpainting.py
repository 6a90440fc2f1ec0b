#!/usr/bin/python3
"""Figures from `inpaint evaluate --output results.json`.

Usage:
    /usr/bin/python3 scripts/results/plot_inpainting.py results.json OUT_PREFIX

Writes OUT_PREFIX_bars.png (hole NMSE, PSNR and SSIM per mask type, one bar per model and
replacement: base vs fine-tuned with --compare_to, noised vs clean with --replacement both) and
OUT_PREFIX_heatmap_<model>_<replacement>.png (class x mask type heatmaps of hole PSNR and SSIM).
Needs Debian's python3-matplotlib and python3-numpy.
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

METRICS = [("hole_nmse", "NMSE (filled region)"), ("hole_psnr", "PSNR dB (filled region)"),
           ("hole_ssim", "SSIM (filled region)")]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        rows = json.load(f)["results"]
    prefix = sys.argv[2]
    masks = list(dict.fromkeys(r["mask_type"] for r in rows))
    series = list(dict.fromkeys((r["model"], r["replacement"]) for r in rows))
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    width = 0.8 / len(series)
    for ax, (key, title) in zip(axes, METRICS):
        for i, s in enumerate(series):
            values = [next(r[key] for r in rows if (r["model"], r["replacement"]) == s
                           and r["mask_type"] == m) for m in masks]
            ax.bar(np.arange(len(masks)) + i * width, values, width, label=f"{s[0]} ({s[1]})")
        ax.set_xticks(np.arange(len(masks)) + 0.4 - width / 2)
        ax.set_xticklabels(masks)
        ax.set_title(title)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(prefix + "_bars.png", dpi=120)
    print("wrote", prefix + "_bars.png")

    for s in series:
        chosen = [r for r in rows if (r["model"], r["replacement"]) == s]
        classes = [c["name"] for c in chosen[0]["per_class"]]
        if not classes:
            continue
        fig, axes = plt.subplots(1, 2, figsize=(12, 0.4 * len(classes) + 2))
        for ax, key in zip(axes, ["hole_psnr", "hole_ssim"]):
            grid = np.array([[next(c[key] for c in r["per_class"] if c["name"] == name)
                              for r in chosen] for name in classes])
            image = ax.imshow(grid, cmap="viridis", aspect="auto")
            ax.set_xticks(range(len(chosen)))
            ax.set_xticklabels([r["mask_type"] for r in chosen])
            ax.set_yticks(range(len(classes)))
            ax.set_yticklabels(classes)
            for y in range(grid.shape[0]):
                for x in range(grid.shape[1]):
                    ax.text(x, y, f"{grid[y, x]:.2f}", ha="center", va="center", color="w", fontsize=8)
            ax.set_title(key.replace("hole_", "").upper() + " (filled region)")
            fig.colorbar(image, ax=ax)
        out = f"{prefix}_heatmap_{s[0]}_{s[1]}.png"
        fig.tight_layout()
        fig.savefig(out, dpi=120)
        print("wrote", out)


if __name__ == "__main__":
    main()
