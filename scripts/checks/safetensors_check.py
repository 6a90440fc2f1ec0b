#!/usr/bin/python3
"""An independent safetensors writer and reader (numpy and json only), for flowlab's tests.

  scripts/checks/safetensors_check.py write FILE   writes one tensor of every dtype (values below)
  scripts/checks/safetensors_check.py read FILE    reads a file flowlab wrote with the same tensors and
                                            exits 0 when every value matches bit for bit

The tensors: "f64", "f32", "f16" hold arange(6).reshape(2, 3) * 0.75 - 1.5 in their dtype;
"bf16" holds those values as bfloat16 (exact: the top 16 bits of their float32); "i64" holds
[-3, 0, 2**40], "i32" [-7, 5], "i16" [-300, 300], "i8" [-128, 127], "u8" [0, 128, 255],
"bool" [True, False, True]; the metadata is {"format": "pt", "source": "flowlab-test"}.
"""
import json
import struct
import sys

import numpy as np

FLOATS = np.arange(6, dtype=np.float64).reshape(2, 3) * 0.75 - 1.5


def expected():
    bf16 = (FLOATS.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
    return {
        "f64": ("F64", FLOATS, None), "f32": ("F32", FLOATS.astype(np.float32), None),
        "f16": ("F16", FLOATS.astype(np.float16), None), "bf16": ("BF16", bf16, (2, 3)),
        "i64": ("I64", np.array([-3, 0, 2**40], np.int64), None), "i32": ("I32", np.array([-7, 5], np.int32), None),
        "i16": ("I16", np.array([-300, 300], np.int16), None), "i8": ("I8", np.array([-128, 127], np.int8), None),
        "u8": ("U8", np.array([0, 128, 255], np.uint8), None), "bool": ("BOOL", np.array([1, 0, 1], np.uint8), None),
    }


def write(path):
    header, blobs, offset = {"__metadata__": {"format": "pt", "source": "flowlab-test"}}, [], 0
    for name, (dtype, array, shape) in sorted(expected().items()):
        blob = array.astype(array.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(shape or array.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    ok = header.get("__metadata__") == {"format": "pt", "source": "flowlab-test"}
    for name, (dtype, array, shape) in expected().items():
        entry = header[name]
        begin, end = entry["data_offsets"]
        stored = data[base + begin:base + end]
        match = entry["dtype"] == dtype and entry["shape"] == list(shape or array.shape) and \
            stored == array.astype(array.dtype.newbyteorder("<")).tobytes()
        if not match:
            print("mismatch:", name)
        ok = ok and match
    print("ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("write", "read"):
        sys.exit(__doc__)
    sys.exit(write(sys.argv[2]) if sys.argv[1] == "write" else read(sys.argv[2]))
