"""The Kaggle download of the ISIC 2024 training files (credentials needed)."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import zipfile
from collections.abc import Sequence
from pathlib import Path

from isicgan.data.errors import DataError
from isicgan.data.layout import HDF5_NAME, METADATA_NAME
from isicgan.io import atomic_path

log = logging.getLogger(__name__)


def download_kaggle(
    raw_dir: str | Path,
    record: str | Path,
    competition: str = "isic-2024-challenge",
    files: Sequence[str] = (METADATA_NAME, HDF5_NAME),
) -> None:
    """Fetch the training files of the Kaggle competition into ``raw_dir`` (needs credentials).

    Uses the ``kaggle`` command line tool (``~/.kaggle/kaggle.json`` or ``KAGGLE_USERNAME`` /
    ``KAGGLE_KEY``; the competition rules must be accepted on the web site first), unzips what
    arrives zipped, then writes ``record`` (JSON: files and sizes).
    """
    raw = Path(raw_dir)
    raw.mkdir(parents=True, exist_ok=True)
    exe = shutil.which("kaggle")
    if exe is None:
        raise DataError(
            "the `kaggle` command is not installed: pip install kaggle (or use "
            "`snakemake download --use-conda`, env envs/download.yaml)"
        )
    for name in files:
        if (raw / name).is_file():
            log.info("%s already present, not downloaded again", raw / name)
            continue
        cmd = [exe, "competitions", "download", "-c", competition, "-f", name, "-p", str(raw)]
        log.info("running %s", " ".join(cmd))
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise DataError(
                f"kaggle download of {name} failed ({proc.returncode}): "
                f"{(proc.stderr or proc.stdout).strip()[-2000:]}"
            )
        archive = raw / f"{name}.zip"
        if archive.is_file():
            with zipfile.ZipFile(archive) as zf, atomic_path(raw / name) as tmp:
                with zf.open(name) as src, open(tmp, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 24)
            archive.unlink()
        if not (raw / name).is_file():
            raise DataError(f"kaggle reported success but {raw / name} is not there")
    sizes = {name: (raw / name).stat().st_size for name in files}
    with atomic_path(record) as tmp:
        tmp.write_text(
            json.dumps({"competition": competition, "raw_dir": str(raw), "files": sizes}, indent=2)
            + "\n"
        )
