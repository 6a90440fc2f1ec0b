#!/usr/bin/env python3
"""The table of scripts/bench/bench_options.sh: benchmark JSON files DIR/VARIANT_ROUND.json, one row per
measure (matched by position), images/s per variant as the mean over rounds with each round in
brackets, each variant's step time relative to the first variant's, and each variant's utilisation
of the attainable peak (benchmark's FLOPs per image times its mean rate, over the peak it measured).

Usage: scripts/bench/bench_options_table.py DIR ROUNDS COMMAND VARIANT...
"""
import json
import sys

out, rounds, command, variants = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
runs = {v: [json.load(open(f"{out}/{v}_{i}.json")) for i in range(1, rounds + 1)] for v in variants}
first = runs[variants[0]][0]
print(f"`{command}`: device {first['device']}, {first['threads']} threads, batch {first['batch_size']}, "
      f"{first['image_size']}x{first['image_size']} images, {rounds} alternating rounds, each variant in its "
      f"own process. Images/s, mean over the rounds (each round in brackets); the last columns give each "
      f"variant's time per image over {variants[0]}'s (above 1: slower), then the GFLOP/s each reached "
      f"and its share of the attainable peak (fp32; bf16 where the device has it).\n")
print("| measure | " + " | ".join(variants) + " | " +
      " | ".join(f"{v} / {variants[0]}" for v in variants[1:]) + " | " +
      " | ".join(f"{v} GFLOP/s (util.)" for v in variants) + " |")
print("|---|" + "---:|" * (3 * len(variants) - 1))


def utilisation(v, row, mean_rate):
    """GFLOP/s and share of the peak of the variant's precision, "-" where not measured."""
    r = runs[v][0]["results"][row]
    if "gflop_per_image" not in r:
        return "-"
    rate = r["gflop_per_image"] * mean_rate
    key = "peak_tflops_bf16" if runs[v][0].get("precision") == "bf16" else "peak_tflops_fp32"
    peaks = [x[key] for x in runs[v] if key in x]
    return f"{rate:.1f} ({rate / (1000 * sum(peaks) / len(peaks)):.0%})" if peaks else f"{rate:.1f}"

for row in range(len(first["results"])):
    names = {v: runs[v][0]["results"][row]["kind"] + " " + runs[v][0]["results"][row]["name"] for v in variants}
    label = " / ".join(dict.fromkeys(names.values()))  # the distinct names, in variant order
    rates = {v: [r["results"][row]["images_per_sec"] for r in runs[v]] for v in variants}
    mean = {v: sum(rates[v]) / rounds for v in variants}
    cells = [f"{mean[v]:.1f} ({' / '.join(f'{x:.1f}' for x in rates[v])})" for v in variants]
    ratios = [f"{mean[variants[0]] / mean[v]:.2f}" for v in variants[1:]]
    util = [utilisation(v, row, mean[v]) for v in variants]
    print(f"| {label} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " | " + " | ".join(util) + " |")
rss = {v: max(r.get("peak_rss_bytes", 0) for r in runs[v]) / 2**20 for v in variants}
print("| peak RSS (MiB, largest round) | " + " | ".join(f"{rss[v]:.0f}" for v in variants) +
      " |" + " |" * (2 * len(variants) - 1))
