"""Wall time and peak memory of a no-op rerun: ``snakemake -n`` after a finished run.

Every ``snakemake`` call (a dry run, a rerun, each cluster job) parses the workflow first, so
this is the floor of any call. The script runs the study once on the tiny test config
(config.yaml + tests/tiny.yaml) in a temporary folder, or takes a folder where that run
finished (``--workdir``, brought up to date first: run_info follows the commit), then times
``snakemake -n`` ``--reps`` times and prints each run, the median wall time and the peak
resident memory (of the snakemake process and its children), naming the machine and its load.
Measure on an idle machine: other work slows the wall time.

    .venv/bin/python bench/noop.py                        # runs the tiny study first (minutes)
    .venv/bin/python bench/noop.py --keep /tmp/noop       # ... and keeps it there for next time
    .venv/bin/python bench/noop.py --workdir /tmp/noop    # a folder where that run finished

For comparison it also times a dry run of a one-rule workflow (``--floor``, on by default):
what Snakemake itself costs on this machine before the project's Snakefile adds anything.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
CONFIGS = [REPO / "config.yaml", REPO / "tests" / "tiny.yaml"]


def machine() -> str:
    """Host, CPU model, cores, memory and the load average now."""
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{platform.node()}: {cpu}, {os.cpu_count()} cores{mem}, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}; load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


def workflow_cmd(workdir: Path, *args: str) -> list[str]:
    return [
        str(SNAKEMAKE),
        "-s",
        str(REPO / "Snakefile"),
        "--configfile",
        *map(str, CONFIGS),
        "--directory",
        str(workdir),
        *args,
    ]


def timed(cmd: list[str], cwd: Path | None = None) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MiB of the process and its children, stdout + stderr)."""
    with tempfile.TemporaryFile("w+") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{text[-4000:]}")
    return wall, usage.ru_maxrss / 1024, text


def series(
    cmd: list[str], reps: int, label: str, cwd: Path | None = None, expect_noop: bool = True
) -> tuple[float, float]:
    walls, peaks = [], []
    for i in range(reps):
        wall, peak, text = timed(cmd, cwd)
        if expect_noop and "Nothing to be done" not in text:
            sys.exit(
                f"{label}: the dry run plans jobs: the workflow has not finished in this "
                f"folder (or a change since reruns something):\n{text[-3000:]}"
            )
        walls.append(wall)
        peaks.append(peak)
        print(f"  {label} {i + 1}: {wall:.2f} s, peak RSS {peak:.0f} MiB", flush=True)
    return statistics.median(walls), max(peaks)


def planned_jobs(text: str) -> dict[str, int]:
    """Rule -> job count from the "Job stats" table a dry run prints ({} when none)."""
    if "Job stats:" not in text:
        return {}
    table = text.split("Job stats:")[1].split("total")[0]
    rows = (line.split() for line in table.splitlines())
    return {r[0]: int(r[1]) for r in rows if len(r) == 2 and r[1].isdigit()}


def refuse_other_runs(workdir: Path) -> None:
    """Stop before touching a folder whose data the tiny config would remake: bringing it up
    to date would overwrite, say, a finished demo with the tiny study. (A tiny run merely
    behind the code reruns the changed rules, as before.)"""
    _, _, text = timed(workflow_cmd(workdir, "--cores", "1", "-n"))
    redo = {r: n for r, n in planned_jobs(text).items() if r in ("demo_data", "ingest")}
    if redo:
        sys.exit(
            f"{workdir}: not a run of the tiny config (config.yaml + tests/tiny.yaml): with it, "
            f"a dry run would remake the data ({redo}) and every stage after it. Give a folder "
            "where the tiny study ran, or none."
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workdir", type=Path, help="a folder where the tiny study has finished")
    ap.add_argument(
        "--keep", type=Path, help="run the tiny study here (kept) instead of a temp dir"
    )
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--cores", type=int, default=2, help="cores of the one full run")
    ap.add_argument(
        "--no-floor",
        dest="floor",
        action="store_false",
        help="skip the dry runs of a one-rule workflow",
    )
    args = ap.parse_args()
    print(f"machine: {machine()}", flush=True)
    tmp = tempfile.TemporaryDirectory(prefix="bench-noop-")
    work = args.workdir or args.keep or Path(tmp.name) / "work"
    if args.workdir is not None:
        refuse_other_runs(args.workdir)
    # a finished folder may still be behind (run_info follows the commit): bring it up to date
    wall, _, _ = timed(workflow_cmd(work, "--cores", str(args.cores)))
    what = "tiny study run" if args.workdir is None else "brought up to date"
    print(f"{what} in {work}: {wall:.0f} s ({args.cores} cores)", flush=True)
    median, peak = series(workflow_cmd(work, "--cores", "1", "-n"), args.reps, "snakemake -n")
    print(
        f"no-op rerun (snakemake -n after a finished run, tiny config): median of {args.reps} "
        f"{median:.2f} s, peak RSS {peak:.0f} MiB"
    )
    if args.floor:
        floor = Path(tmp.name) / "floor"
        floor.mkdir(parents=True)
        (floor / "Snakefile").write_text('rule a:\n    output: "a"\n    shell: "touch a"\n')
        timed([str(SNAKEMAKE), "--cores", "1", "-q"], cwd=floor)
        fmedian, fpeak = series(
            [str(SNAKEMAKE), "--cores", "1", "-n"], args.reps, "one-rule snakemake -n", cwd=floor
        )
        print(
            f"Snakemake alone (a one-rule workflow, same machine): median {fmedian:.2f} s, "
            f"peak RSS {fpeak:.0f} MiB; the project's parse adds {median - fmedian:.2f} s"
        )
    print(
        f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
        "(other work on the machine slows the wall time)"
    )
    tmp.cleanup()


if __name__ == "__main__":
    main()
