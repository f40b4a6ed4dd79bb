#!/usr/bin/env python3
"""Line coverage per target from `llvm-cov export` JSON (read on standard input).

Files are grouped by their target folder (Sources/X, Plugins/X); tests, build products and checked-out
dependencies are left out. Prints a table and the library total (every target but the test support
library StrataTesting, the benchmark and the command line, which are listed on their own).

Two line figures per target:
- `lines`: each source line counted once, covered when any code on it ran. This is what
  `llvm-cov show` marks line by line (and what gcov and Codecov count); the target is measured by it.
- `llvm-cov`: the summary llvm-cov itself prints, which adds up the lines of every function. A Swift
  closure or autoclosure is a function of its own, so a line such as
  `checkArgument(ok, value: "\\(x)")` counts twice, and as missed whenever the check passes (the
  message is never built). Files with many argument checks score lower by it than by their lines.
"""
import json
import os
import sys

root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
data = json.load(sys.stdin)


def line_counts(segments):
    """Each mapped line's execution count, as llvm-cov's LineCoverageIterator gives it.

    A segment is [line, column, count, has count, is region entry, is gap region]. A line is mapped
    when a region starts on it or one that has a count runs through it; its count is the largest of
    the regions starting on it and the one wrapping it.
    """
    segments = sorted(segments, key=lambda s: (s[0], s[1]))
    counts = {}
    if not segments:
        return counts
    index, wrapped = 0, None
    for line in range(segments[0][0], segments[-1][0] + 1):
        on_line = []
        while index < len(segments) and segments[index][0] == line:
            on_line.append(segments[index])
            index += 1
        starts = [s for s in on_line if s[3] and s[4] and not s[5]]
        skipped = bool(on_line) and not on_line[0][3] and on_line[0][4]
        if not skipped and ((wrapped is not None and wrapped[3]) or starts):
            count = wrapped[2] if wrapped is not None else 0
            for segment in starts:
                count = max(count, segment[2])
            counts[line] = count
        if on_line:
            wrapped = on_line[-1]
    return counts


targets = {}
for export in data["data"]:
    for entry in export["files"]:
        path = os.path.relpath(entry["filename"], root)
        parts = path.split(os.sep)
        if len(parts) < 3 or parts[0] not in ("Sources", "Plugins"):
            continue
        counts = line_counts(entry.get("segments", []))
        summary = entry["summary"]
        total = targets.setdefault(parts[1], [0, 0, 0, 0, 0, 0])
        total[0] += sum(1 for c in counts.values() if c > 0)
        total[1] += len(counts)
        total[2] += summary["lines"]["covered"]
        total[3] += summary["lines"]["count"]
        total[4] += summary["functions"]["covered"]
        total[5] += summary["functions"]["count"]

outside = {"StrataTesting", "strata", "StrataCommandLine", "CBenchPeak"}


def percent(covered, count):
    return 100.0 * covered / count if count else 100.0


print(f"{'target':<24}{'lines':>14}{'line %':>9}{'llvm-cov':>16}{'%':>8}{'functions':>12}{'func %':>9}")
library = [0, 0, 0, 0]
for name in sorted(targets):
    covered, count, summed, summed_count, functions, function_count = targets[name]
    print(
        f"{name:<24}{f'{covered}/{count}':>14}{percent(covered, count):>8.1f}%"
        f"{f'{summed}/{summed_count}':>16}{percent(summed, summed_count):>7.1f}%"
        f"{f'{functions}/{function_count}':>12}{percent(functions, function_count):>8.1f}%"
    )
    if name not in outside:
        for k in range(4):
            library[k] += targets[name][k]
print(f"library (all but {', '.join(sorted(outside))})")
print(
    f"{'':<24}{f'{library[0]}/{library[1]}':>14}{percent(library[0], library[1]):>8.1f}%"
    f"{f'{library[2]}/{library[3]}':>16}{percent(library[2], library[3]):>7.1f}%"
)
