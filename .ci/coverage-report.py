#!/usr/bin/env python3
"""Line coverage per target from `llvm-cov export -summary-only` JSON (read on standard input).

Files are grouped by their target folder (Sources/X, Plugins/X); tests, build products and checked-out
dependencies are left out. Prints a table and the library total (every target but the test support
library StrataTesting, the benchmark and the command line, which are listed on their own).
"""
import json
import os
import sys

root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
data = json.load(sys.stdin)
targets = {}
for export in data["data"]:
    for entry in export["files"]:
        path = os.path.relpath(entry["filename"], root)
        parts = path.split(os.sep)
        if len(parts) < 3 or parts[0] not in ("Sources", "Plugins"):
            continue
        lines = entry["summary"]["lines"]
        functions = entry["summary"]["functions"]
        total = targets.setdefault(parts[1], [0, 0, 0, 0])
        total[0] += lines["covered"]
        total[1] += lines["count"]
        total[2] += functions["covered"]
        total[3] += functions["count"]

outside = {"StrataTesting", "strata", "StrataCommandLine", "CBenchPeak"}
print(f"{'target':<24}{'lines':>16}{'line %':>9}{'functions':>14}{'func %':>9}")
library = [0, 0]
for name in sorted(targets):
    covered, count, fcovered, fcount = targets[name]
    percent = 100.0 * covered / count if count else 100.0
    fpercent = 100.0 * fcovered / fcount if fcount else 100.0
    print(f"{name:<24}{f'{covered}/{count}':>16}{percent:>8.1f}%{f'{fcovered}/{fcount}':>14}{fpercent:>8.1f}%")
    if name not in outside:
        library[0] += covered
        library[1] += count
print(f"{'library (all but ' + ', '.join(sorted(outside)) + ')':<24}")
print(f"{'':<24}{f'{library[0]}/{library[1]}':>16}{100.0 * library[0] / max(library[1], 1):>8.1f}%")
