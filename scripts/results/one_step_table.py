#!/usr/bin/python3
"""The one-step comparison's table (docs/results.md) from scripts/results/one_step_routes.sh's
scores: one row per sampled label, with the network evaluations per image, the steps and the CFG
scale (omega), the MNIST classifier's accuracy on the samples, the Frechet distance and KID in its
features against the MNIST test set (KID as is), and FID and KID x10^6 with the Inception weights
the run had (hashed unless a real file was given); KIDs are mean +- std over subsets. The row of
real training digits, where there is one, is the floor.

Usage:
    /usr/bin/python3 scripts/results/one_step_table.py OUT/scores.jsonl
"""
import json
import sys


def distance(scores, key, kid_scale, digits):
    """(distance, KID * kid_scale) of an evaluate_fid report, or blanks where it is missing."""
    if not scores:
        return "", ""
    overall = scores["overall"]
    kid = (f"{kid_scale * overall['kid_mean']:.2f} +- {kid_scale * overall['kid_std']:.2f}"
           if "kid_mean" in overall else "")
    return f"{overall[key]:.{digits}f}", kid


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
    # The real digits first, then the routes in the script's order; within a route, the most
    # network evaluations first, then by CFG scale.
    order = ["real", "cfm", "meanflow", "imf", "mf_from_cfm", "reflow"]
    rows.sort(key=lambda r: (order.index(r["route"]) if r["route"] in order else len(order),
                             -r.get("generation", {}).get("network_evaluations", 0),
                             r.get("generation", {}).get("cfg_scale", 0)))
    print("| route | network evaluations per image | steps | CFG scale | classifier accuracy "
          "| FD (MNIST classifier) | KID (classifier) | FID (Inception) | KID x10^6 (Inception) |")
    print("|---|---:|---:|---:|---:|---:|---|---:|---|")
    for r in rows:
        g = r.get("generation", {})
        accuracy = f"{100 * r['accuracy']['accuracy']:.1f}%" if "accuracy" in r else ""
        fd, fd_kid = distance(r.get("fd_cnn"), "fd", 1, 2)
        fid, fid_kid = distance(r.get("inception"), "fid", 1e6, 4)
        cost = (f"{g['network_evaluations']:g} | {g['steps']} | {g['cfg_scale']:g}" if g else "- | - | -")
        print(f"| {r['label']} | {cost} "
              f"| {accuracy} | {fd} | {fd_kid} | {fid} | {fid_kid} |")


if __name__ == "__main__":
    main()
