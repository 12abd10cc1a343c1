"""Bench: the `data` target on a full-size ISIC 2024 layout with the thesis counts at 140 px.

Builds, in a temporary folder, a ``train-metadata.csv`` of 401,059 rows x 55 columns
(1,042 patients, 393 malignant tiles, like the Kaggle file) and a ``train-image.hdf5`` with
as many keys (a handful of synthetic demo JPEGs reused), then runs

    snakemake data --configfile config.yaml configs/thesis.yaml <raw_dir override>

and prints the wall seconds of the whole run, the ingest job's own seconds and peak RSS
(from its benchmark file) and the peak RSS of any process it started.

    .venv/bin/python bench/ingest.py [--keep DIR] [--cores 2] [--png-level 1]

``--png-level N`` also times the same ingest in-process with PNGs written at zlib level N
instead of isicgan.io.save_png's fixed level, to show what the PNG encoder costs.
"""

from __future__ import annotations

import argparse
import io
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from isicgan.demo import make_demo_data  # noqa: E402

N_ROWS, N_PATIENTS, N_MALIGNANT = 401_059, 1_042, 393


def build(raw: Path, seed: int = 0) -> None:
    """Write the full-size metadata CSV and HDF5 into ``raw`` (fast: reused rows and JPEGs)."""
    rng = np.random.default_rng(seed)
    raw.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as small:
        demo = make_demo_data(small, n_patients=20, n_benign=40, n_malignant=8, seed=seed)
        jpegs = [
            (Path(small) / "train-image" / "image" / f"{i}.jpg").read_bytes()
            for i in demo["isic_id"]
        ]
    # the 52 columns after isic_id, target, patient_id, rendered once per template row
    buf = io.StringIO()
    demo.iloc[:, 3:].to_csv(buf, index=False, header=False, lineterminator="\n")
    tails = buf.getvalue().splitlines()

    ids = np.sort(rng.choice(9_000_000, N_ROWS, replace=False) + 1_000_000)
    weights = rng.lognormal(0, 1.2, N_PATIENTS)
    patient = rng.choice(N_PATIENTS, N_ROWS, p=weights / weights.sum())
    patient[:N_PATIENTS] = np.arange(N_PATIENTS)  # every patient has a tile
    target = np.zeros(N_ROWS, np.int8)
    target[rng.choice(N_ROWS, N_MALIGNANT, replace=False)] = 1
    pids = [f"IP_{k:07d}" for k in rng.choice(9_000_000, N_PATIENTS, replace=False) + 1_000_000]
    header = ",".join(demo.columns)
    with open(raw / "train-metadata.csv", "w") as fh:
        fh.write(header + "\n")
        fh.writelines(
            f"ISIC_{ids[r]:07d},{target[r]},{pids[patient[r]]},{tails[r % len(tails)]}\n"
            for r in range(N_ROWS)
        )
    # HDF5: one scalar |S<n> dataset per id; the low-level API makes 401k datasets quickly
    blobs = [np.array(b, dtype=f"S{len(b)}") for b in jpegs]
    types = [h5py.h5t.py_create(b.dtype) for b in blobs]
    space = h5py.h5s.create(h5py.h5s.SCALAR)
    with h5py.File(raw / "train-image.hdf5", "w") as h5:
        for r in range(N_ROWS):
            k = r % len(blobs)
            ds = h5py.h5d.create(h5.id, f"ISIC_{ids[r]:07d}".encode(), types[k], space)
            ds.write(h5py.h5s.ALL, h5py.h5s.ALL, blobs[k])


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--keep", type=Path, help="build (or reuse) the data set here instead of a temp dir"
    )
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument(
        "--png-level", type=int, help="also time an in-process ingest at this zlib level"
    )
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="bench-ingest-")
    base = args.keep or Path(tmp.name)
    raw = base / "raw"
    if not (raw / "train-image.hdf5").is_file():
        t = time.perf_counter()
        build(raw)
        print(
            f"built {raw}: {N_ROWS} rows, {(raw / 'train-metadata.csv').stat().st_size / 2**20:.0f} MiB CSV, "
            f"{(raw / 'train-image.hdf5').stat().st_size / 2**20:.0f} MiB HDF5 in "
            f"{time.perf_counter() - t:.1f} s",
            flush=True,
        )
    work = base / "work"
    cfg = base / "raw.yaml"
    cfg.write_text(yaml.safe_dump({"data": {"source": "isic2024", "raw_dir": str(raw)}}))
    cmd = [
        str(Path(sys.executable).with_name("snakemake")),
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(work),
        "--cores",
        str(args.cores),
        "--forcerun",
        "ingest",
        "--configfile",
        str(REPO / "config.yaml"),
        str(REPO / "configs" / "thesis.yaml"),
        str(cfg),
        "--",
        "data",
    ]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(f"snakemake failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    job = pd.read_csv(work / "benchmarks" / "data" / "ingest.tsv", sep="\t").iloc[-1]
    counts = pd.read_csv(work / "results" / "data" / "counts.csv")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(counts.to_string(index=False))
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else "?"
    print(
        f"load average after the run: {' '.join(load)} (other work on the machine slows the wall time)"
    )
    print(
        f"data target (thesis counts, 140 px, {args.cores} cores): wall {wall:.1f} s; "
        f"ingest job {job['s']:.1f} s wall, {job['cpu_time']:.1f} s CPU, max RSS {job['max_rss']:.0f} MB; "
        f"peak RSS of any child process {peak:.0f} MiB"
    )
    if args.png_level is not None:
        in_process(raw, base / "inproc", args.png_level, args.cores)
    tmp.cleanup()


def in_process(raw: Path, out: Path, level: int, threads: int) -> None:
    """The same ingest called directly, PNGs at zlib ``level`` (pixels identical, bytes not)."""
    from PIL import Image

    import isicgan.data.store as store
    from isicgan.config import load_config
    from isicgan.data import IngestSpec, locate_raw
    from isicgan.data.stage import IngestOutputs, ingest

    def save_png(path, array):
        Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8), mode="RGB").save(
            path, format="PNG", optimize=False, compress_level=level
        )

    store.save_png = save_png
    data = load_config(
        [REPO / "config.yaml", REPO / "configs" / "thesis.yaml"],
        overrides={"data": {"source": "isic2024", "raw_dir": str(raw)}},
    )["data"]
    spec = IngestSpec.from_config(data)
    paths = locate_raw(raw)
    outputs = IngestOutputs(
        out / "manifest.csv",
        out / "counts.csv",
        out / "institutions.csv",
        {s: out / s for s in spec.splits},
        out / "institutions.png",
    )
    t, c = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    ingest(paths["metadata"], paths["images"], outputs, spec, threads=threads)
    r = resource.getrusage(resource.RUSAGE_SELF)
    print(
        f"in-process ingest, PNG zlib level {level}, {threads} threads: wall "
        f"{time.perf_counter() - t:.1f} s, {r.ru_utime + r.ru_stime - c.ru_utime - c.ru_stime:.1f} s CPU, "
        f"peak RSS {r.ru_maxrss / 1024:.0f} MiB"
    )


if __name__ == "__main__":
    main()
