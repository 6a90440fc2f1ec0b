#!/usr/bin/python3
"""Checks that a flowlab run's files load in Python as PyTorch loads by default since 2.6.

Usage: scripts/checks/check_torch_load.py RUN_DIR   (a training output directory). Needs Debian's
python3-torch (1.13 or newer) and numpy.

- weights_ema.pt: torch.load(weights_only=True), with every warning an error, gives a dict of
  tensors equal, tensor for tensor and bit for bit, to weights_ema.safetensors (read here with
  numpy alone).
- last.pt: torch.load(weights_only=True) gives a dict whose "model" and "ema" are state dicts,
  "ema" equal to weights_ema.pt, and whose "config" is the run's config.yaml.
Prints one line per file and exits 0 when every check holds.
"""
import json
import os
import struct
import sys
import warnings

import numpy as np
import torch

DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
          "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    tensors = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        array = np.frombuffer(data[8 + n + begin:8 + n + end], dtype=DTYPES[entry["dtype"]])
        tensors[name] = array.reshape(entry["shape"])
    return tensors


def same(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    run = sys.argv[1]
    warnings.simplefilter("error")  # a warning fails the check
    failures = []

    weights = torch.load(os.path.join(run, "weights_ema.pt"), weights_only=True)
    reference = read_safetensors(os.path.join(run, "weights_ema.safetensors"))
    if not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor) for v in weights.values()):
        failures.append("weights_ema.pt is not a dict of tensors")
    elif sorted(weights) != sorted(reference):
        failures.append("weights_ema.pt and weights_ema.safetensors hold different names")
    else:
        failures += [f"weights_ema.pt: {k} differs from the safetensors file" for k in weights
                     if not same(weights[k].numpy(), reference[k])]
    print(f"weights_ema.pt: {len(weights)} tensors, equal to weights_ema.safetensors: {not failures}")

    checkpoint = torch.load(os.path.join(run, "last.pt"), weights_only=True)
    with open(os.path.join(run, "config.yaml")) as f:
        config = f.read()
    if checkpoint.get("config") != config:
        failures.append("last.pt's config differs from config.yaml")
    for key in ("model", "ema"):
        if not isinstance(checkpoint.get(key), dict):
            failures.append(f"last.pt has no {key} state dict")
    ema = checkpoint.get("ema", {})
    if sorted(ema) != sorted(weights) or not all(torch.equal(ema[k], weights[k]) for k in weights):
        failures.append("last.pt's ema differs from weights_ema.pt")
    print(f"last.pt: format {checkpoint.get('format_version')}, step {checkpoint.get('step')}, "
          f"keys {sorted(checkpoint)}")

    for failure in failures:
        print("FAILED:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
