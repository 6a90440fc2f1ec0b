#!/usr/bin/python3
"""Writes tests/fixtures/torch_saved.pt with PyTorch's own torch.save, for flowlab's torch.save
reader (io/torch_file.h), and copies it into fuzz/corpus/torch_file/ as a seed.

Needs Debian's python3-torch. The values (tests/torch_file_test.cpp checks each):
  f32   arange(6).reshape(2, 3) * 0.5 - 1      f16, bf16: the same in half and bfloat16
  i64   [-3, 0, 2**40]                          bool: [True, False, True]
  base  arange(12).reshape(3, 4) as float32   view: base[1:, 1:3].t(), a view of base's storage
  param nn.Parameter(ones(2))
  meta  {"step": 7, "big": 2**40, "neg": -5, "lr": 1e-4, "name": "x", "flag": True, "none": None,
         "list": [1, 2.5, "a"], "tuple": (1, 2)}
  args  argparse.Namespace(model="DiT-XL/2"), a class the reader keeps as an opaque object
  state nn.Linear(2, 3)'s state_dict(), an OrderedDict with _metadata, weight = arange(6) / 10,
        bias = [1, 2, 3]
"""
import argparse
import os
import shutil

import torch

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
values = torch.arange(6, dtype=torch.float32).reshape(2, 3) * 0.5 - 1
base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
linear = torch.nn.Linear(2, 3)
with torch.no_grad():
    linear.weight.copy_(torch.arange(6, dtype=torch.float32).reshape(3, 2) / 10)
    linear.bias.copy_(torch.tensor([1.0, 2.0, 3.0]))
contents = {
    "f32": values, "f16": values.half(), "bf16": values.bfloat16(),
    "i64": torch.tensor([-3, 0, 2**40]), "bool": torch.tensor([True, False, True]),
    "base": base, "view": base[1:, 1:3].t(),
    "param": torch.nn.Parameter(torch.ones(2)),
    "meta": {"step": 7, "big": 2**40, "neg": -5, "lr": 1e-4, "name": "x", "flag": True, "none": None,
             "list": [1, 2.5, "a"], "tuple": (1, 2)},
    "args": argparse.Namespace(model="DiT-XL/2"),
    "state": linear.state_dict(),
}
path = os.path.join(root, "tests", "fixtures", "torch_saved.pt")
torch.save(contents, path)
shutil.copy(path, os.path.join(root, "fuzz", "corpus", "torch_file", "torch_saved.pt"))
print("wrote", path, os.path.getsize(path), "bytes")
