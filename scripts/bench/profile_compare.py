#!/usr/bin/env python3
"""Compares two chrome traces of training steps, written by `benchmark --profile DIR` and
`scripts/bench/bench_reference.py --profile DIR` (both LibTorch's legacy autograd profiler): self time
and calls per step for each operator, flowlab next to the PyTorch reference, largest first.

Usage: scripts/bench/profile_compare.py FLOWLAB_TRACE REFERENCE_TRACE STEPS [--top N]
"""
import argparse
import collections
import json


def self_times(path):
    """{op name: [self microseconds, calls]} over the trace; self = duration less the children's
    on the same thread."""
    data = json.load(open(path))
    events = data["traceEvents"] if isinstance(data, dict) else data
    spans = [e for e in events if e.get("ph") == "X" and "dur" in e]
    totals = collections.defaultdict(lambda: [0.0, 0])
    by_thread = collections.defaultdict(list)
    for e in spans:
        by_thread[e.get("tid")].append(e)
    for thread in by_thread.values():
        thread.sort(key=lambda e: (float(e["ts"]), -float(e["dur"])))
        stack = []  # [end, name, children's time, duration]
        def close(until):
            while stack and stack[-1][0] <= until:
                end, name, child, dur = stack.pop()
                totals[name][0] += dur - child
                totals[name][1] += 1
                if stack:
                    stack[-1][2] += dur
        for e in thread:
            ts, dur = float(e["ts"]), float(e["dur"])
            close(ts)
            stack.append([ts + dur, e["name"], 0.0, dur])
        close(float("inf"))
    return totals


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("flowlab")
    ap.add_argument("reference")
    ap.add_argument("steps", type=int)
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()
    a, b = self_times(args.flowlab), self_times(args.reference)
    per = lambda v: v / args.steps / 1000.0  # ms per step
    names = sorted(set(a) | set(b), key=lambda n: -max(a.get(n, [0, 0])[0], b.get(n, [0, 0])[0]))
    total_a = sum(v[0] for v in a.values())
    total_b = sum(v[0] for v in b.values())
    calls_a = sum(v[1] for v in a.values())
    calls_b = sum(v[1] for v in b.values())
    print(f"| operator | flowlab ms/step | Python ms/step | flowlab calls/step | Python calls/step |")
    print("|---|---:|---:|---:|---:|")
    for n in names[: args.top]:
        fa, fb = a.get(n, [0, 0]), b.get(n, [0, 0])
        print(f"| {n} | {per(fa[0]):.2f} | {per(fb[0]):.2f} | {fa[1] / args.steps:.0f} | {fb[1] / args.steps:.0f} |")
    print(f"| **all operators** | {per(total_a):.2f} | {per(total_b):.2f} | "
          f"{calls_a / args.steps:.0f} | {calls_b / args.steps:.0f} |")


if __name__ == "__main__":
    main()
