#!/usr/bin/python3
"""The one-step comparison's table (docs/results.md) from scripts/results/one_step_routes.sh's
scores: one row per scored label, with the network evaluations per image, the steps, the CFG scale
and FID and KID (x1000, mean +- std over subsets) against the reference.

Usage:
    /usr/bin/python3 scripts/results/one_step_table.py OUT/scores.jsonl
"""
import json
import sys


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    rows = []
    with open(sys.argv[1]) as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
    if not rows:
        sys.exit(f"{sys.argv[1]}: no scores")
    print("| route | network evaluations per image | steps | CFG scale | FID | KID x1000 |")
    print("|---|---:|---:|---:|---:|---|")
    for r in rows:
        overall = r["overall"]
        kid = f"{1000 * overall['kid_mean']:.2f} +- {1000 * overall['kid_std']:.2f}" if "kid_mean" in overall else ""
        print(f"| {r['route']} | {r['network_evaluations']:g} | {r['steps']} | {r['cfg_scale']:g} "
              f"| {overall['fid']:.4f} | {kid} |")


if __name__ == "__main__":
    main()
