"""Fixtures only (helpers that tests import live in tests/helpers/)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The suite runs TensorFlow (classifiers) and PyTorch (GANs) in one process; workflow jobs never
# load both. With the pinned wheels (tensorflow 2.21.0, torch 2.14.1, triton 3.8.0), importing
# torchvision, or Triton (which torch imports on its first optimiser, through torch._dynamo),
# after TensorFlow segfaults: test_gan_*.py crashed after test_classify_models.py. Both are
# fine when loaded first.
import torch

try:
    import triton  # noqa: F401
except ImportError:  # no Triton (CPU-only torch): nothing to order
    pass

from helpers.study import copy_study, finish, shared_study, start_shared_study
from helpers.workflow import run_workflow


@pytest.fixture
def torch_one_thread():
    """torch on one thread for the test, as the workflow's training jobs run (bit-exact runs)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def workflow(tmp_path):
    """Call as ``workflow(*snakemake_args)`` to run the real workflow in a temporary folder."""

    def _run(*args, **kwargs):
        return run_workflow(tmp_path, *args, **kwargs)

    _run.workdir = tmp_path
    return _run


def _shared_root(tmp_path_factory) -> Path:
    base = tmp_path_factory.getbasetemp()
    # xdist workers have basetemps popen-gw0, popen-gw1, ... in one folder of the session
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "shared"


@pytest.fixture(scope="session", autouse=True)
def _tiny_study_in_background(request, tmp_path_factory):
    """Starts building the shared tiny study as the session starts, when a collected test
    needs it, so the build overlaps the tests that do not."""
    root = _shared_root(tmp_path_factory)
    if os.environ.get("TINY_STUDY"):
        yield
        return
    if any("tiny_study" in item.fixturenames for item in request.session.items):
        start_shared_study(root)
    yield
    finish(root, stopped=bool(request.session.shouldstop or request.session.shouldfail))


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory):
    """The finished tiny study (tests/tiny.yaml, the whole Snakefile), built once per session
    and shared by every xdist worker. Read it only: a test that runs Snakemake in it (other
    than a dry run) or writes into it takes ``tiny_study_copy``.

    ``TINY_STUDY=<folder>`` reads a finished study of an earlier session instead (a developer's
    shortcut while editing these tests; it must be built from the same commit and tests/tiny.yaml:
    run_info records the commit)."""
    if os.environ.get("TINY_STUDY"):
        return Path(os.environ["TINY_STUDY"])
    return shared_study(_shared_root(tmp_path_factory))


@pytest.fixture
def tiny_study_copy(tiny_study, tmp_path):
    """A private copy of the finished tiny study (mtimes and .snakemake kept: it plans nothing)."""
    return copy_study(tiny_study, tmp_path / "study")
