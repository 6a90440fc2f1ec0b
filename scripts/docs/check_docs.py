#!/usr/bin/python3
"""Checks the shell commands in flowlab's Markdown pages against the built programs: each
`build/apps/NAME [SUBCOMMAND]` exists, each `--flag` is in that program's --help, each
`--set section.key=` names a config key, and each `configs/*.yaml` and `scripts/*` path exists.
Relative links to other pages and images must exist too, and configuration.md must name every
config key the programs take.

Usage: scripts/docs/check_docs.py APPS_DIR PAGE.md...   (exit 1 and one line per problem)
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
help_cache = {}


def help_text(apps, program, subcommand):
    key = (program, subcommand)
    if key not in help_cache:
        args = [os.path.join(apps, program)] + ([subcommand] if subcommand else []) + ["--help"]
        run = subprocess.run(args, capture_output=True, text=True)
        help_cache[key] = run.stdout + run.stderr
    return help_cache[key]


def config_keys(text):
    keys = set()
    for section, names in re.findall(r"^\s+([a-z_]+): ([a-z_0-9 ]+)$", text, re.M):
        keys.update(section + "." + n for n in names.split())
    return keys


def commands(markdown):
    """(line number, command) for each command of each fenced block, continuation lines joined."""
    out, fence, pending, start = [], False, "", 0
    for number, line in enumerate(markdown.split("\n"), 1):
        if line.startswith("```"):
            fence = not fence
            continue
        if not fence:
            continue
        if not pending:
            start = number
        pending += line.rstrip("\\").strip() + " "
        if not line.rstrip().endswith("\\"):
            out.append((start, pending.strip()))
            pending = ""
    return out


def check_page(apps, page):
    problems = []
    text = open(page).read()
    where = os.path.relpath(page, ROOT)
    for number, command in commands(text):
        for match in re.finditer(r"build/apps/(\w+)((?:\s+\S+)*)", command):
            program, rest = match.group(1), match.group(2).split()
            if not os.path.exists(os.path.join(apps, program)):
                problems.append(f"{where}:{number}: no program {program}")
                continue
            subcommand = rest[0] if rest and not rest[0].startswith("-") and program == "inpaint" else ""
            helptext = help_text(apps, program, subcommand)
            for flag in re.findall(r"(?<![\w-])--([a-z_0-9]+)", " ".join(rest)):
                if "--" + flag not in helptext:
                    problems.append(f"{where}:{number}: {program} {subcommand} has no --{flag}".replace("  ", " "))
            for key in re.findall(r"--set\s+([a-z_]+\.[a-z_0-9]+)=", " ".join(rest)):
                if key not in config_keys(help_text(apps, "train_cfm", "")):
                    problems.append(f"{where}:{number}: no config key {key}")
        for path in re.findall(r"(?<![\w/])((?:configs|scripts)/[\w./-]+)", command):
            if not os.path.exists(os.path.join(ROOT, path)):
                problems.append(f"{where}:{number}: no file {path}")
    if os.path.basename(page) == "configuration.md":
        for key in sorted(config_keys(help_text(apps, "train_cfm", ""))):
            if "`" + key + "`" not in text:
                problems.append(f"{where}: config key {key} is not described")
    for link in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)|src=\"([^\"]+)\"", text):
        target = link[0] or link[1]
        if target.startswith("http"):
            continue
        if not os.path.exists(os.path.join(os.path.dirname(page), target)):
            problems.append(f"{where}: broken link {target}")
    return problems


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    apps, pages = sys.argv[1], sys.argv[2:]
    problems = [p for page in pages for p in check_page(apps, page)]
    for p in problems:
        print(p)
    print(f"check_docs: {len(pages)} pages, {len(problems)} problems")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
