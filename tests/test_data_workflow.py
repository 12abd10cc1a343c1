"""The `data` target through the real Snakemake workflow (tests/tiny.yaml sizes).

helpers.workflow.run_workflow puts extra arguments after the --configfile list, so targets follow
"--" here (otherwise Snakemake would read "data" as one more config file).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from helpers.workflow import run_workflow

pytestmark = pytest.mark.slow


def files_of(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def write_config(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump({"data": data}))
    return path


def assert_no_data_outputs(workdir: Path) -> None:
    """Nothing Snakemake could take as done: no manifest, counts or class folders, no temporaries."""
    data = workdir / "results" / "data"
    assert not data.exists() or list(data.iterdir()) == [], list(data.iterdir())


@pytest.fixture
def first_run(tiny_study) -> Path:
    """A finished run of the data target: the session's shared tiny study (read only)."""
    return tiny_study


def test_data_target_builds_manifest_counts_and_class_folders(first_run):
    data = first_run / "results" / "data"
    manifest = pd.read_csv(data / "manifest.csv")
    assert list(manifest.columns) == ["isic_id", "patient_id", "target", "split"]
    assert set(manifest["split"]) == {"train", "val", "test", "source", "external"}
    for split in ["train", "val", "test", "source", "external"]:
        assert (data / split / "0").is_dir() and (data / split / "1").is_dir()
    assert pd.read_csv(data / "counts.csv")["split"].tolist()[-1] == "external"
    institutions = pd.read_csv(data / "institutions.csv")
    assert institutions["isic_id"].tolist() == manifest["isic_id"].tolist()
    assert institutions["attribution"].nunique() == 5
    with Image.open(first_run / "results" / "figures" / "data" / "institutions.png") as im:
        assert im.format == "PNG" and im.size[1] > 300  # one row per institution
    assert (first_run / "resources" / "demo" / "train-image.hdf5").is_file()
    assert (first_run / "logs" / "data" / "ingest.log").is_file()


def test_two_runs_of_the_data_target_are_byte_identical(first_run, tmp_path):
    run_workflow(tmp_path, "--", "data")
    a, b = files_of(first_run / "results" / "data"), files_of(tmp_path / "results" / "data")
    assert a.keys() == b.keys() and len(a) > 50
    assert [k for k in a if a[k] != b[k]] == []


def test_changing_a_data_setting_reruns_ingest_but_not_the_demo_data(first_run, tmp_path):
    cfg = write_config(tmp_path / "seed.yaml", {"seed": 7})
    proc = run_workflow(first_run, "-n", "--", "data", configfiles=[cfg])
    out = proc.stdout + proc.stderr
    assert "ingest" in out and "demo_data" not in out, out


def test_missing_raw_dir_stops_before_any_job_naming_the_key(tmp_path):
    cfg = write_config(
        tmp_path / "real.yaml", {"source": "isic2024", "raw_dir": str(tmp_path / "absent")}
    )
    proc = run_workflow(tmp_path, "--", "data", configfiles=[cfg], check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "data.raw_dir" in out and "absent" in out and "does not exist" in out, out
    assert_no_data_outputs(tmp_path)


def test_corrupt_jpeg_fails_the_ingest_job_and_leaves_no_outputs(first_run, tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    for name in ["train-metadata.csv", "train-image.hdf5"]:
        shutil.copy(first_run / "resources" / "demo" / name, raw / name)
    manifest = pd.read_csv(first_run / "results" / "data" / "manifest.csv")
    victim = manifest.query("split == 'val'")["isic_id"].iat[0]
    with h5py.File(raw / "train-image.hdf5", "a") as h5:
        del h5[victim]
        h5.create_dataset(victim, data=np.bytes_(b"\xff\xd8\xff\xe0 not really a jpeg"))
    cfg = write_config(tmp_path / "real.yaml", {"source": "isic2024", "raw_dir": str(raw)})
    work = tmp_path / "work"
    proc = run_workflow(work, "--", "data", configfiles=[cfg], check=False)
    assert proc.returncode != 0
    log = (work / "logs" / "data" / "ingest.log").read_text()
    assert f"isic_id '{victim}': cannot decode the image" in log, log[-3000:]
    assert_no_data_outputs(work)


def test_unknown_external_attribution_fails_ingest_listing_every_attribution(first_run, tmp_path):
    cfg = tmp_path / "external.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "data": {
                    "external_test": {
                        "attributions": ["St Nowhere Hospital"],
                        "counts": {"benign": 2, "malignant": 2},
                    }
                }
            }
        )
    )
    work = tmp_path / "work"
    shutil.copytree(first_run / "resources", work / "resources")  # the demo data, not redrawn
    proc = run_workflow(work, "--", "data", configfiles=[cfg], check=False)
    assert proc.returncode != 0
    log = (work / "logs" / "data" / "ingest.log").read_text()
    assert "no tile has attribution 'St Nowhere Hospital'" in log, log[-3000:]
    assert "'FNQH Cairns': " in log and "'ACEMID MIA': " in log, log[-3000:]
    assert_no_data_outputs(work)


def test_mistyped_config_value_stops_the_data_target_naming_the_key(tmp_path):
    cfg = write_config(tmp_path / "bad.yaml", {"image_size": "big"})
    proc = run_workflow(tmp_path, "--", "data", configfiles=[cfg], check=False)
    assert proc.returncode != 0
    assert "data.image_size" in proc.stdout + proc.stderr
    assert_no_data_outputs(tmp_path)
