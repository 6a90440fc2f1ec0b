#!/usr/bin/python3
"""Training curves from a run's metrics.jsonl: loss, learning rate and (with training.eval_every)
FID against the step, for users without TensorBoard.

Usage:
    /usr/bin/python3 scripts/plot_metrics.py OUTPUT_DIR/metrics.jsonl OUT.png [--title TEXT]

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
    if len(args) != 2:
        sys.exit(__doc__)
    train, evaluation = read_records(args[0])
    if not train:
        sys.exit(f"{args[0]}: no training records")
    panels = 3 if evaluation else 2
    fig, axes = plt.subplots(1, panels, figsize=(4.2 * panels, 3.4))
    steps = [r["step"] for r in train]
    axes[0].plot(steps, [r["loss"] for r in train], lw=1)
    axes[0].set_yscale("log")
    axes[0].set_title("loss")
    axes[1].plot(steps, [r["lr"] for r in train], lw=1)
    axes[1].set_title("learning rate")
    if evaluation:
        ax = axes[2]
        ax.plot([r["step"] for r in evaluation], [r["fid"] for r in evaluation], "o-", lw=1)
        best = min(evaluation, key=lambda r: r["fid"])
        ax.plot([best["step"]], [best["fid"]], "r*", ms=12, label=f"best {best['fid']:.4g} at step {best['step']} (best.pt)")
        ax.legend(fontsize=8)
        ax.set_title(f"FID ({evaluation[0].get('eval_samples', '?')} samples)")
    for ax in axes:
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(args[1], dpi=100)
    print(f"wrote {args[1]}: {len(train)} training and {len(evaluation)} evaluation records")


if __name__ == "__main__":
    main()
