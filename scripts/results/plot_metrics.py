#!/usr/bin/python3
"""Training curves from a run's metrics.jsonl: loss, learning rate and (with training.eval_every)
FID against the step, for users without TensorBoard; several runs overlaid to compare them.

Usage:
    /usr/bin/python3 scripts/results/plot_metrics.py OUTPUT_DIR/metrics.jsonl OUT.png [--title TEXT]
    /usr/bin/python3 scripts/results/plot_metrics.py A/metrics.jsonl=LABEL B/metrics.jsonl=LABEL ... OUT.png

Training records give "loss" and "lr" at each logged step; evaluation records "fid" (and
"kid_mean"). A resumed run's records are all in the one file; where a step appears twice (a run
that died after logging past its last checkpoint), the later record wins.
Needs Debian's python3-matplotlib.
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read_records(path):
    train, evaluation = {}, {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            record = json.loads(line)
            if "fid" in record:
                evaluation[record["step"]] = record
            elif "loss" in record:
                train[record["step"]] = record
    return [train[s] for s in sorted(train)], [evaluation[s] for s in sorted(evaluation)]


def main():
    args = sys.argv[1:]
    title = None
    if "--title" in args:
        i = args.index("--title")
        title = args[i + 1]
        del args[i : i + 2]
    if len(args) < 2:
        sys.exit(__doc__)
    runs = []
    for arg in args[:-1]:
        path, _, label = arg.partition("=")
        train, evaluation = read_records(path)
        if not train:
            sys.exit(f"{path}: no training records")
        runs.append((label or None, train, evaluation))
    panels = 3 if any(r[2] for r in runs) else 2
    fig, axes = plt.subplots(1, panels, figsize=(4.2 * panels, 3.4))
    for label, train, evaluation in runs:
        steps = [r["step"] for r in train]
        axes[0].plot(steps, [r["loss"] for r in train], lw=1, label=label)
        axes[1].plot(steps, [r["lr"] for r in train], lw=1, label=label)
        if evaluation:
            axes[2].plot([r["step"] for r in evaluation], [r["fid"] for r in evaluation], "o-", lw=1, label=label)
            axes[2].set_title(f"FID ({evaluation[0].get('eval_samples', '?')} samples)")
    axes[0].set_yscale("log")
    axes[0].set_title("loss")
    axes[1].set_title("learning rate")
    if len(runs) == 1 and runs[0][2]:
        best = min(runs[0][2], key=lambda r: r["fid"])
        axes[2].plot([best["step"]], [best["fid"]], "r*", ms=12,
                     label=f"best {best['fid']:.4g} at step {best['step']} (best.pt)")
    for ax in axes:
        if ax.get_legend_handles_labels()[1]:
            ax.legend(fontsize=8)
    for ax in axes:
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(args[-1], dpi=100)
    print(f"wrote {args[-1]}: {len(runs)} run(s)")


if __name__ == "__main__":
    main()
