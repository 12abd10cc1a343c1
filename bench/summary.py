"""Gather the workflow's benchmark files into one table per rule (markdown, for the README).

Every heavy rule has a ``benchmark:`` file (Snakemake writes one TSV row per run:
wall seconds ``s``, peak resident memory ``max_rss`` in MB, ...). This script finds
each ``benchmarks/**/*.tsv``, works out which rule wrote it from the ``benchmark:``
patterns in the rule files, and prints per rule: jobs, total and longest wall time,
and the peak ``max_rss`` of any of its jobs.

    python bench/summary.py                    # after `make run` (or any run)
    python bench/summary.py --per-job          # one row per benchmark file
    python bench/summary.py --out bench/summary.md
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RULE_RE = re.compile(r"^(?:rule|checkpoint)\s+(\w+)\s*:", re.M)
BENCH_RE = re.compile(r"^    benchmark:\s*\n?\s*(?:repeat\()?\s*[\"']([^\"']+)[\"']", re.M)
# a path built by a function of the rule files, e.g. classify_job_path("benchmarks/classify")
# + ".tsv": one file per job under that folder (named by the job's wildcards)
BENCH_CALL_RE = re.compile(
    r"^    benchmark:\s*\n?\s*\w+\(\s*[\"']([^\"']+)[\"']\s*\)\s*\+\s*[\"']([^\"']+)[\"']", re.M
)


def benchmark_patterns(rule_files: list[Path]) -> list[tuple[str, re.Pattern]]:
    """(rule, regex) for every ``benchmark:`` declared in the rule files."""
    patterns = []
    for smk in rule_files:
        text = smk.read_text()
        starts = list(RULE_RE.finditer(text))
        for i, m in enumerate(starts):
            body = text[m.end() : starts[i + 1].start() if i + 1 < len(starts) else len(text)]
            b, call = BENCH_RE.search(body), BENCH_CALL_RE.search(body)
            if b:
                path = b.group(1)
            elif call:
                path = f"{call.group(1)}/{{job}}{call.group(2)}"
            else:
                continue
            regex, pos = "", 0
            for w in re.finditer(r"\{([^}]+)\}", path):
                _, _, constraint = w.group(1).partition(",")
                regex += re.escape(path[pos : w.start()]) + f"(?:{constraint or '.+?'})"
                pos = w.end()
            regex += re.escape(path[pos:])
            patterns.append((m.group(1), re.compile(regex + "$")))
    return patterns


def rule_of(path: str, patterns: list[tuple[str, re.Pattern]]) -> str:
    for rule, regex in patterns:
        if regex.match(path):
            return rule
    return f"? {Path(path).parent.name}/{Path(path).stem}"  # no rule declares it (stale file?)


def read_benchmark(path: Path) -> list[dict[str, float]]:
    """The rows of one Snakemake benchmark TSV (several when the rule uses repeat())."""
    with open(path, newline="") as fh:
        rows = []
        for row in csv.DictReader(fh, delimiter="\t"):

            def num(key: str, row: dict = row) -> float:
                try:
                    return float(row.get(key, "nan"))
                except ValueError:
                    return float("nan")

            rows.append({"s": num("s"), "max_rss": num("max_rss"), "cpu_time": num("cpu_time")})
        return rows


def summarize(workdir: Path, rule_files: list[Path]) -> tuple[list[dict], list[dict]]:
    """(per-rule rows, per-job rows) from every ``benchmarks/**/*.tsv`` under ``workdir``."""
    patterns = benchmark_patterns(rule_files)
    jobs = []
    for tsv in sorted((workdir / "benchmarks").rglob("*.tsv")):
        rel = str(tsv.relative_to(workdir))
        rows = read_benchmark(tsv)
        if not rows:
            continue
        jobs.append(
            {
                "rule": rule_of(rel, patterns),
                "file": rel,
                "s": sum(r["s"] for r in rows) / len(rows),
                "max_rss": max(r["max_rss"] for r in rows),
            }
        )
    by_rule: dict[str, list[dict]] = defaultdict(list)
    for job in jobs:
        by_rule[job["rule"]].append(job)
    rules = [
        {
            "rule": rule,
            "jobs": len(js),
            "total_s": sum(j["s"] for j in js),
            "max_s": max(j["s"] for j in js),
            "peak_rss_mb": max(j["max_rss"] for j in js),
        }
        for rule, js in by_rule.items()
    ]
    rules.sort(key=lambda r: -r["total_s"])
    return rules, jobs


def markdown(rules: list[dict], jobs: list[dict], per_job: bool = False) -> str:
    if per_job:
        lines = [
            "| rule | benchmark file | seconds | peak memory (max_rss, MB) |",
            "|---|---|---:|---:|",
        ]
        lines += [
            f"| {j['rule']} | `{j['file']}` | {j['s']:.1f} | {j['max_rss']:.0f} |" for j in jobs
        ]
        return "\n".join(lines)
    lines = [
        "| rule | jobs | seconds (total) | seconds (longest job) | peak memory (max_rss, MB) |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['rule']} | {r['jobs']} | {r['total_s']:.1f} | {r['max_s']:.1f} | {r['peak_rss_mb']:.0f} |"
        for r in rules
    ]
    total = sum(r["total_s"] for r in rules)
    lines.append(
        f"| **all benchmarked jobs** | {sum(r['jobs'] for r in rules)} | {total:.1f} | | |"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--workdir",
        type=Path,
        default=REPO,
        help="the folder the workflow ran in (holds benchmarks/)",
    )
    parser.add_argument("--per-job", action="store_true", help="one row per benchmark file")
    parser.add_argument("--out", type=Path, help="also write the markdown table to this file")
    args = parser.parse_args(argv)
    rule_files = [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]
    rules, jobs = summarize(args.workdir, rule_files)
    if not jobs:
        print(
            f"no benchmark files under {args.workdir / 'benchmarks'}: run the workflow first",
            file=sys.stderr,
        )
        return 1
    table = markdown(rules, jobs, args.per_job)
    print(table)
    if args.out:
        args.out.write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
