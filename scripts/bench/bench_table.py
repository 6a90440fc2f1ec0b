#!/usr/bin/env python3
"""Turns N flowlab `benchmark` JSONs and N bench_reference.py JSONs (alternating rounds) into
BENCHMARKS.md's side-by-side table and goal rows: means of the rounds with each round's value in
brackets, the ratio's spread over the rounds, and flowlab's FLOPs per image, TFLOP/s and
utilisation of the attainable peak (both sides run the same networks, so the same FLOPs).

Usage: bench_table.py [--command TEXT] FLOWLAB_1.json ... FLOWLAB_N.json REFERENCE_1.json ... REFERENCE_N.json"""
import argparse
import json
import platform
import statistics


def rows_by_name(report):
    return {(r["kind"], r["name"]): r for r in report["results"] if "images_per_sec" in r}


def memory(report):
    for r in report["results"]:
        if r.get("kind") == "memory":
            return r["value"]
    return report.get("peak_rss_after_training_bytes", report["peak_rss_bytes"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--command", default="scripts/bench/bench.sh")
    ap.add_argument("reports", nargs="+", help="the flowlab JSONs, then as many reference JSONs")
    a = ap.parse_args()
    if len(a.reports) % 2:
        ap.error("give as many reference JSONs as flowlab JSONs")
    half = len(a.reports) // 2
    fl = [json.load(open(p)) for p in a.reports[:half]]
    py = [json.load(open(p)) for p in a.reports[half:]]
    f_rows, p_rows = [rows_by_name(r) for r in fl], [rows_by_name(r) for r in py]

    def speed(runs, key):
        values = [r[key]["images_per_sec"] for r in runs if key in r]
        return (statistics.mean(values), values) if values else (None, [])

    out = []
    head = fl[0]
    peaks = [r["peak_tflops_fp32"] for r in fl if "peak_tflops_fp32" in r]
    peak = statistics.mean(peaks) if peaks else None
    out.append(f"Machine: {platform.processor() or platform.machine()}, {head['threads']} threads; model from "
               f"`{a.command}`: batch {head['batch_size']}, {head['image_size']}x{head['image_size']} images; "
               f"{len(fl)} alternating rounds" + (f"; attainable fp32 peak {peak * 1000:,.0f} GFLOP/s "
               f"(rounds {' / '.join(f'{x * 1000:,.0f}' for x in peaks)})" if peak else "") + ".\n")
    out.append("| measure | flowlab images/s | PyTorch images/s | flowlab / PyTorch (rounds' range) | NFE "
               "| GFLOP/image | flowlab GFLOP/s | utilisation flowlab / PyTorch |")
    out.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for key in f_rows[0]:
        f, fv = speed(f_rows, key)
        p, pv = speed(p_rows, key)
        ratio = "-"
        if p:
            rounds = [x / y for x, y in zip(fv, pv)]
            ratio = f"{f / p:.2f} ({min(rounds):.2f} to {max(rounds):.2f})"
        fmt = lambda m, v: f"{m:,.1f} ({' / '.join(f'{x:,.1f}' for x in v)})" if m else "-"
        gflop = f_rows[0][key].get("gflop_per_image")
        work = rate = util = "-"
        if gflop:
            work, rate = f"{gflop:.3f}", f"{gflop * f:,.1f}"
            if peak:
                util = f"{gflop * f / (peak * 1000):.1%}" + (f" / {gflop * p / (peak * 1000):.1%}" if p else "")
        out.append(f"| {key[0]} {key[1]} | {fmt(f, fv)} | {fmt(p, pv)} | {ratio} | {f_rows[0][key]['nfe'] or ''} "
                   f"| {work} | {rate} | {util} |")

    def fspeed(key):
        return speed(f_rows, key)[0]

    def ratio(key):
        f, p = fspeed(key), speed(p_rows, key)[0]
        return f / p if f and p else None

    goals = []
    for method in ("cfm", "ddpm", "meanflow"):
        model = "tiny_unet_meanflow" if method == "meanflow" else "tiny_unet"
        r = ratio(("train", f"{method} {model}"))
        if r:
            goals.append((f"training images/s, flowlab / PyTorch, {method}", f"{r:.2f}", ">= 1.2", r >= 1.2))
    r = ratio(("sample", "cfm euler 50 cfg"))
    if r:
        goals.append(("sampling images/s, flowlab / PyTorch, CFM 50-step with CFG", f"{r:.2f}", ">= 1.2", r >= 1.2))
    cfm, mf = fspeed(("train", "cfm tiny_unet")), fspeed(("train", "meanflow tiny_unet_meanflow"))
    if cfm and mf:
        goals.append(("MeanFlow / CFM training step time (flowlab)", f"{cfm / mf:.2f}", "<= 2.0", cfm / mf <= 2.0))
    one, cfg50 = fspeed(("sample", "meanflow 1")), fspeed(("sample", "cfm euler 50 cfg"))
    if one and cfg50:
        goals.append(("MeanFlow 1-step / CFM 50-step-with-CFG images/s (flowlab)", f"{one / cfg50:.0f}", ">= 50", one / cfg50 >= 50))
    data = [k for k in f_rows[0] if k[0] == "data"]
    if data and cfm:
        d = fspeed(data[0])
        goals.append((f"data pipeline / CFM training images/s ({data[0][1]})", f"{d / cfm:,.0f}", ">= 20", d / cfm >= 20))
    f_mem = statistics.mean(memory(r) for r in fl) / 2**20
    p_mem = statistics.mean(memory(r) for r in py) / 2**20
    goals.append(("peak RSS while training, flowlab / PyTorch",
                  f"{f_mem:,.0f} / {p_mem:,.0f} MiB = {f_mem / p_mem:.2f}", "<= 1.5", f_mem / p_mem <= 1.5))
    out.append("")
    out.append("| goal | measured | target | met |")
    out.append("| --- | --- | --- | --- |")
    for name, value, target, met in goals:
        out.append(f"| {name} | {value} | {target} | {'yes' if met else '**no**'} |")
    print("\n".join(out))


if __name__ == "__main__":
    main()
