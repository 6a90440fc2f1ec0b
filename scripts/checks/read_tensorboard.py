#!/usr/bin/env python3
"""Reads a TensorBoard event file independently of flowlab's writer, and prints what it holds.

Checks the TFRecord framing (every length and data CRC-32C, masked as TensorFlow masks it) with
the crc32c package, and parses each record as an Event with Google's protobuf runtime, from the
messages in proto/tensorboard_event.proto compiled by protoc on the fly.

  read_tensorboard.py EVENT_FILE   ->  JSON on stdout:
    {"file_version": ..., "events": N,
     "scalars": {tag: [[step, value], ...]},
     "images": {tag: [[step, width, height, colorspace], ...]}}

Needs Debian's python3-protobuf, python3-crc32c and protobuf-compiler (scripts/setup.sh).
Exits 1 with one line on a broken file.
"""
import importlib
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

import crc32c
from google.protobuf.message import DecodeError

PROTO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto")


def masked(data):
    crc = crc32c.crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def event_class():
    out = tempfile.mkdtemp(prefix="tensorboard_proto_")
    subprocess.run(["protoc", "--proto_path=" + PROTO_DIR, "--python_out=" + out,
                    "tensorboard_event.proto"], check=True)
    sys.path.insert(0, out)
    return importlib.import_module("tensorboard_event_pb2").Event


def records(blob):
    at = 0
    while at < len(blob):
        if at + 12 > len(blob):
            raise ValueError("truncated record header at byte %d" % at)
        header = blob[at:at + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", blob[at + 8:at + 12])
        if masked(header) != length_crc:
            raise ValueError("length CRC mismatch at byte %d" % at)
        data = blob[at + 12:at + 12 + length]
        if len(data) != length or at + 16 + length > len(blob):
            raise ValueError("truncated record at byte %d" % at)
        (data_crc,) = struct.unpack("<I", blob[at + 12 + length:at + 16 + length])
        if masked(data) != data_crc:
            raise ValueError("data CRC mismatch at byte %d" % at)
        yield data
        at += 16 + length


def png_size(png):
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise ValueError("an image that is not a PNG")
    return struct.unpack(">II", png[16:24])


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    Event = event_class()
    with open(sys.argv[1], "rb") as f:
        blob = f.read()
    out = {"file_version": None, "events": 0, "scalars": {}, "images": {}}
    try:
        for data in records(blob):
            event = Event()
            event.ParseFromString(data)
            out["events"] += 1
            if event.HasField("file_version"):
                out["file_version"] = event.file_version
            for value in event.summary.value:
                if value.HasField("simple_value"):
                    out["scalars"].setdefault(value.tag, []).append([event.step, value.simple_value])
                elif value.HasField("image"):
                    image = value.image
                    width, height = png_size(image.encoded_image_string)
                    if (width, height) != (image.width, image.height):
                        raise ValueError("image %s: header says %dx%d, the PNG %dx%d" % (
                            value.tag, image.width, image.height, width, height))
                    out["images"].setdefault(value.tag, []).append(
                        [event.step, image.width, image.height, image.colorspace])
    except (ValueError, DecodeError) as e:
        sys.exit("read_tensorboard: %s: %s" % (sys.argv[1], e))
    # NaN (a logging interval of skipped steps only) is not JSON: null.
    for series in out["scalars"].values():
        for point in series:
            point[1] = None if math.isnan(point[1]) else point[1]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
