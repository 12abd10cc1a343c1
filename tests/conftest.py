"""Fixtures only (helpers that tests import live in tests/helpers/)."""

from __future__ import annotations

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
