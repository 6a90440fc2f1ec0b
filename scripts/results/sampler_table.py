#!/usr/bin/python3
"""The sampler tables of docs/results.md. For a flow checkpoint: every fixed-step sampler and time grid at
equal NFE, against a tight rk45 solution from the same noise (generate_samples with one seed).
For a DDPM checkpoint (--diffusion): DDIM and DPM-Solver++(2M) at 10 and 20 steps, against DDIM at
1,000 steps (eta 0, the same ODE solved finely; ancestral samples take other paths by design).
For a MeanFlow checkpoint (--meanflow): its sampler on each time grid at NFE steps, against 128
uniform steps (the average velocity over ever shorter intervals tends to the flow's velocity).

Columns: sampler, schedule, NFE per image, images/s (generate_samples' own figure), and the RMS
distance of the samples to the reference solution in pixel units of [0, 1], over all images.
The SDE rows follow another path than the ODE by design; their distance says how far.

Usage: /usr/bin/python3 scripts/results/sampler_table.py CHECKPOINT NFE [NUM_SAMPLES] [extra generate flags]
       /usr/bin/python3 scripts/results/sampler_table.py --diffusion CHECKPOINT [NUM_SAMPLES] [extra generate flags]
       /usr/bin/python3 scripts/results/sampler_table.py --meanflow CHECKPOINT NFE [NUM_SAMPLES] [extra generate flags]
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

args = sys.argv[1:]
mode = args.pop(0)[2:] if args[0] in ("--diffusion", "--meanflow") else "flow"
if mode == "diffusion":
    checkpoint, nfe, rest = args[0], 0, args[1:]
else:
    checkpoint, nfe, rest = args[0], int(args[1]), args[2:]
num_samples = int(rest[0]) if rest else 100
extra = rest[1:]
build = os.environ.get("FLOWLAB_BUILD_DIR", "build")
work = tempfile.mkdtemp(prefix="flowlab_sampler_table_")


def generate(name, flags):
    out = os.path.join(work, name)
    subprocess.run([f"{build}/apps/generate_samples", "--checkpoint", checkpoint, "--num_samples", str(num_samples),
                    "--seed", "0", "--npz", out + ".npz", "--output_dir", out] + flags + extra,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    report = json.load(open(os.path.join(out, "generation.json")))
    return np.load(out + ".npz")["arr_0"].astype(np.float64) / 255.0, report


def table_row(name, flags, schedule):
    images, report = generate(name, flags)
    rms = np.sqrt(np.mean((images - reference) ** 2))
    print(f"| {flags[1]} | {schedule} | {report['nfe']} | {report['images_per_sec']:.1f} | {rms:.4f} |")


command = f"`/usr/bin/python3 scripts/results/sampler_table.py {' '.join(sys.argv[1:])}`: {num_samples} images"
if mode == "meanflow":
    reference, _ = generate("reference", ["--sampler", "meanflow", "--steps", "128"])
    print(f"{command}, reference 128 uniform steps.\n")
    print("| sampler | schedule | NFE | images/s | RMS distance to the reference |")
    print("|---|---|---:|---:|---:|")
    for schedule in ("uniform", "edm", "shift"):
        table_row(f"meanflow_{schedule}", ["--sampler", "meanflow", "--steps", str(nfe), "--schedule", schedule],
                  schedule)
    sys.exit(0)
if mode == "diffusion":
    reference, ref_report = generate("reference", ["--sampler", "ddim", "--steps", "1000", "--set", "ddpm.eta=0"])
    print(f"{command}, reference DDIM at 1,000 steps (eta 0).\n")
    print("| sampler | schedule | NFE | images/s | RMS distance to the reference |")
    print("|---|---|---:|---:|---:|")
    for steps in (10, 20):
        for sampler in ("ddim", "dpmpp_2m"):
            table_row(f"{sampler}_{steps}", ["--sampler", sampler, "--steps", str(steps), "--set", "ddpm.eta=0"],
                      "respaced")
    sys.exit(0)

reference, ref_report = generate("reference", ["--sampler", "rk45", "--set", "sampling.rtol=1e-5",
                                               "--set", "sampling.atol=1e-5"])
print(f"{command}, reference rk45 at rtol = atol = 1e-5 ({ref_report['nfe']} NFE per image).\n")
print("| sampler | schedule | NFE | images/s | RMS distance to the reference |")
print("|---|---|---:|---:|---:|")
for sampler, per_step in (("euler", 1), ("heun", 2), ("sde", 1), ("dpmpp_2m", 1)):
    for schedule in ("uniform", "edm", "shift"):
        table_row(f"{sampler}_{schedule}", ["--sampler", sampler, "--steps", str(nfe // per_step),
                                            "--schedule", schedule], schedule)
