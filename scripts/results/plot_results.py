#!/usr/bin/python3
"""Bar charts of evaluate_fid results: overall FID (and KIDx1000) and per-class FID.

Usage:
    /usr/bin/python3 scripts/results/plot_results.py OUT.png results_cfm.json results_meanflow.json ...

Each results.json (evaluate_fid --output) is one bar series, labelled by its file name. The
per-class panel appears when the files hold per-class results (evaluate_fid --per_class).
Needs Debian's python3-matplotlib.
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out, paths = sys.argv[1], sys.argv[2:]
    runs = []
    for path in paths:
        with open(path) as f:
            runs.append((os.path.splitext(os.path.basename(path))[0], json.load(f)))
    has_kid = all("kid_mean" in r["overall"] for _, r in runs)
    has_classes = all(r.get("per_class") for _, r in runs)
    panels = 1 + has_kid + has_classes
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels + (4 if has_classes else 0), 4))
    axes = axes if panels > 1 else [axes]
    names = [n for n, _ in runs]
    axes[0].bar(names, [r["overall"]["fid"] for _, r in runs], color="tab:blue")
    axes[0].set_title("FID (lower is better)")
    if has_kid:
        axes[1].bar(names, [1000 * r["overall"]["kid_mean"] for _, r in runs],
                    yerr=[1000 * r["overall"]["kid_std"] for _, r in runs], color="tab:orange")
        axes[1].set_title("KID x1000")
    if has_classes:
        ax = axes[-1]
        classes = [c["name"] for c in runs[0][1]["per_class"]]
        width = 0.8 / len(runs)
        for i, (name, r) in enumerate(runs):
            ax.bar([k + i * width for k in range(len(classes))],
                   [c["fid"] for c in r["per_class"]], width, label=name)
        ax.set_xticks([k + 0.4 - width / 2 for k in range(len(classes))])
        ax.set_xticklabels(classes, rotation=45, ha="right")
        ax.set_title("per-class FID")
        ax.legend()
    for ax in axes[: 1 + has_kid]:
        ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print("wrote", out)


if __name__ == "__main__":
    main()
