#!/usr/bin/python3
"""The README's sampler table: for one flow checkpoint, every fixed-step sampler and time grid at
equal NFE, against a tight rk45 solution from the same noise (generate_samples with one seed).

Columns: sampler, schedule, NFE per image, images/s (generate_samples' own figure), and the RMS
distance of the samples to the reference solution in pixel units of [0, 1], over all images.
The SDE rows follow another path than the ODE by design; their distance says how far.

Usage: /usr/bin/python3 scripts/sampler_table.py CHECKPOINT NFE [NUM_SAMPLES] [extra generate flags]
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

checkpoint, nfe = sys.argv[1], int(sys.argv[2])
num_samples = int(sys.argv[3]) if len(sys.argv) > 3 else 100
extra = sys.argv[4:]
build = os.environ.get("FLOWLAB_BUILD_DIR", "build")
work = tempfile.mkdtemp(prefix="flowlab_sampler_table_")


def generate(name, flags):
    out = os.path.join(work, name)
    subprocess.run([f"{build}/apps/generate_samples", "--checkpoint", checkpoint, "--num_samples", str(num_samples),
                    "--seed", "0", "--npz", out + ".npz", "--output_dir", out] + flags + extra,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    report = json.load(open(os.path.join(out, "generation.json")))
    return np.load(out + ".npz")["arr_0"].astype(np.float64) / 255.0, report


reference, ref_report = generate("reference", ["--sampler", "rk45", "--set", "sampling.rtol=1e-5",
                                               "--set", "sampling.atol=1e-5"])
print(f"`/usr/bin/python3 scripts/sampler_table.py {' '.join(sys.argv[1:])}`: {num_samples} images, "
      f"reference rk45 at rtol = atol = 1e-5 ({ref_report['nfe']} NFE per image).\n")
print("| sampler | schedule | NFE | images/s | RMS distance to the reference |")
print("|---|---|---:|---:|---:|")
for sampler, per_step in (("euler", 1), ("heun", 2), ("sde", 1)):
    for schedule in ("uniform", "edm", "shift"):
        images, report = generate(f"{sampler}_{schedule}", ["--sampler", sampler, "--steps", str(nfe // per_step),
                                                             "--schedule", schedule])
        rms = np.sqrt(np.mean((images - reference) ** 2))
        print(f"| {sampler} | {schedule} | {report['nfe']} | {report['images_per_sec']:.1f} | {rms:.4f} |")
