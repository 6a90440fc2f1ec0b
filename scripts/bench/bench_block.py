#!/usr/bin/env python3
"""Puts a results table into BENCHMARKS.md between <!-- NAME --> and <!-- /NAME --> markers,
replacing what was there, or appends it under HEADING when the markers are not there yet.

Usage: scripts/bench/bench_block.py NAME HEADING TABLE_FILE
"""
import re
import sys

name, heading, table_file = sys.argv[1:4]
table = open(table_file).read()
text = open("BENCHMARKS.md").read()
block = f"<!-- {name} -->\n{table}<!-- /{name} -->"
pattern = re.compile(rf"<!-- {re.escape(name)} -->.*<!-- /{re.escape(name)} -->", re.S)
if pattern.search(text):
    text = pattern.sub(lambda _: block, text)
else:
    text = text.rstrip() + f"\n\n## {heading}\n\n{block}\n"
open("BENCHMARKS.md", "w").write(text)
