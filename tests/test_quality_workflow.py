"""The quality stage's DAG: reference features once, Inception only when configured, never the test split."""

from __future__ import annotations

import re

from helpers.workflow import REPO, TINY_CONFIG, run_workflow
from isicgan.config import load_config

QUALITY_RULES = (
    "synthesize",
    "quality_reference",
    "train_encoder",
    "reference_classifier",
    "train_gan",
)


def _jobs(stdout: str) -> dict[str, list[str]]:
    """rule name -> the input lines of its jobs in a dry run."""
    jobs: dict[str, list[str]] = {}
    for rule, body in re.findall(r"^rule (\w+):\n((?:    .*\n)+)", stdout, flags=re.M):
        inputs = re.search(r"^    input: (.*)$", body, flags=re.M)
        jobs.setdefault(rule, []).append(inputs.group(1) if inputs else "")
    return jobs


def test_dag_computes_references_once_and_never_reads_test(tmp_path):
    out = run_workflow(tmp_path, "-n", "results/tables/synthesis_quality.csv").stdout
    jobs = _jobs(out)
    assert len(jobs["quality_reference"]) == 1 and len(jobs["train_encoder"]) == 1
    assert len(jobs["reference_classifier"]) == 1
    for inputs in jobs["train_gan"]:  # quality over training: val tiles, encoder, classifier
        assert (
            "results/data/val" in inputs and "results/quality/reference_classifier.json" in inputs
        )
    tiny = load_config([REPO / "config.yaml", TINY_CONFIG])
    # one synthesize job per generator replicate writes all its batches
    assert len(jobs["synthesize"]) == len(tiny["gans"]) * tiny["gan"]["replicates"]
    for rule in QUALITY_RULES:
        for inputs in jobs[rule]:
            assert "results/data/test" not in inputs, (rule, inputs)
            assert "inception" not in inputs, (rule, inputs)


def test_configured_inception_file_is_an_input_of_references_and_batches(tmp_path):
    weights = tmp_path / "resources" / "weights" / "inception-2015-12-05.pt"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"placeholder: a dry run only")
    extra = tmp_path / "inception.yaml"
    extra.write_text("weights:\n  fid_inception: resources/weights/inception-2015-12-05.pt\n")
    jobs = _jobs(
        run_workflow(
            tmp_path, "-n", "results/tables/synthesis_quality.csv", configfiles=[extra]
        ).stdout
    )
    assert "resources/weights/inception-2015-12-05.pt" in jobs["quality_reference"][0]
    for inputs in jobs["synthesize"]:
        assert "results/quality/reference/inception_train.npz" in inputs
        assert "resources/weights/inception-2015-12-05.pt" in inputs
